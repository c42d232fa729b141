// Command gifting tells the story of a LIVE (seed 002): viewers in Italy buy
// coin packs from the 2022 price list, send gifts to a creator during her
// LIVE, the creator's diamonds grow by her share and the platform books the
// rest as revenue; a payment is charged back. It prints every balance
// change and ends by verifying the whole ledger.
//
//	go run ./examples/gifting
//	go run ./examples/gifting -postgres 'postgres://user:pass@localhost/rewardkit'
//
// The ledger is in memory (ledger/memstore) unless -postgres names a
// database (ledger/pgstore; use a fresh database: the story's ids are
// fixed, so a second run only replays the first).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/examples/internal/exampledb"
	"github.com/rewardkit/rewardkit/gifting"
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/driver"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
)

func main() { exampledb.Main("gifting", run) }

// story prints balance changes: each line shows an account's change since
// it was last shown.
type story struct {
	ctx  context.Context
	out  io.Writer
	l    *ledger.Ledger
	last map[string]decimal.Decimal
}

func (s *story) show(account, asset, why string) error {
	b, err := s.l.Balance(s.ctx, account, asset)
	if err != nil {
		return err
	}
	k := account + "/" + asset
	delta := b.Posted.Sub(s.last[k])
	s.last[k] = b.Posted
	sign := "+"
	if delta.Sign() < 0 {
		sign = ""
	}
	fmt.Fprintf(s.out, "    %-26s %8s %-7s -> %9s  (%s)\n", account, sign+delta.String(), asset, b.Posted.String(), why)
	return nil
}

func run(ctx context.Context, out io.Writer, store driver.Store) error {
	clock := ledgertest.NewClock(time.Date(2022, 11, 18, 21, 0, 0, 0, time.UTC))
	l := ledger.New(store, ledger.WithClock(clock))
	s := &story{ctx: ctx, out: out, l: l, last: map[string]decimal.Decimal{}}
	dir := gifting.NewMemberDirectory(
		gifting.Member{ID: "chiara", Age: 26, Kind: "creator", Region: "IT"},
		gifting.Member{ID: "anna", Age: 31, Kind: "personal", Region: "IT"},
		gifting.Member{ID: "bruno", Age: 44, Kind: "personal", Region: "IT"},
		gifting.Member{ID: "carla", Age: 19, Kind: "personal", Region: "IT"},
		gifting.Member{ID: "dario", Age: 15, Kind: "personal", Region: "IT"},
		gifting.Member{ID: "senator", Age: 60, Kind: "political", Region: "IT"},
	)
	staff := &kit.RoleDirectory{}
	staff.Grant("rita", kit.RoleRiskOfficer) // the risk desk records chargebacks
	rules := gifting.DefaultRules()
	p, err := gifting.New(ctx, l, rules, dir, gifting.WithRoles(staff))
	if err != nil {
		return err
	}
	const live = "live-chiara-1"
	fmt.Fprintf(out, "Chiara goes LIVE (%s). Coin packs on sale in Italy, in the app:\n", live)
	for _, pk := range p.Packs("IT", "app") {
		fmt.Fprintf(out, "    %5d coins  %6s %s\n", pk.Coins, pk.Price.StringFixed(2), pk.Currency)
	}

	fmt.Fprintln(out, "\nViewers buy coins:")
	for _, b := range []struct{ ref, viewer, pack string }{
		{"pay-anna-1", "anna", "it-app-350"}, {"pay-bruno-1", "bruno", "it-app-1400"}, {"pay-carla-1", "carla", "it-app-70"},
	} {
		pu, err := p.BuyPack(ctx, b.ref, b.viewer, b.pack)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "  %s pays %s %s for %d coins (payment %s)\n", b.viewer, pu.Price.StringFixed(2), pu.Currency, pu.Coins, pu.PaymentRef)
		if err := s.show(gifting.MemberAccount(b.viewer), rules.CoinAsset, "coins issued"); err != nil {
			return err
		}
		if err := s.show(gifting.CoinSalesAccount, pu.Currency, "money in"); err != nil {
			return err
		}
	}
	fmt.Fprintln(out, "  The payment provider retries anna's payment; the reference makes it a no-op:")
	if pu, err := p.BuyPack(ctx, "pay-anna-1", "anna", "it-app-350"); err != nil {
		return err
	} else if !pu.Replayed {
		return fmt.Errorf("the retry of pay-anna-1 should be a replay")
	}
	if err := s.show(gifting.MemberAccount("anna"), rules.CoinAsset, "unchanged"); err != nil {
		return err
	}
	_, err = p.BuyPack(ctx, "pay-dario-1", "dario", "it-app-70")
	if !errors.Is(err, gifting.ErrIneligible) {
		return fmt.Errorf("dario (15) should be refused, got %v", err)
	}
	fmt.Fprintf(out, "  dario, 15, is refused: %v\n", err)

	fmt.Fprintln(out, "\nGifts during the LIVE:")
	gifts := []struct {
		id, viewer, gift string
		count            int
	}{
		{"g-1", "carla", "rose", 1},
		{"g-2", "anna", "hand-hearts", 1},
		{"g-3", "bruno", "galaxy", 1},
		{"g-4", "anna", "finger-heart", 5},
		{"g-5", "carla", "rose", 3},
	}
	for _, g := range gifts {
		clock.Advance(3 * time.Minute)
		res, err := p.SendGift(ctx, g.id, gifting.GiftRequest{Viewer: g.viewer, Creator: "chiara", Gift: g.gift, Count: g.count, Live: live})
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "  %s sends %d x %s (%d coins): %d diamonds to chiara, %d coins to the platform\n",
			g.viewer, g.count, g.gift, res.Coins, res.Diamonds, res.PlatformCoins)
		for _, c := range []struct{ acc, asset, why string }{
			{gifting.MemberAccount(g.viewer), rules.CoinAsset, "coins spent"},
			{gifting.DiamondAccount("chiara"), rules.DiamondAsset, "creator's share"},
			{gifting.RevenueAccount, rules.CoinAsset, "platform's share"},
		} {
			if err := s.show(c.acc, c.asset, c.why); err != nil {
				return err
			}
		}
	}
	_, err = p.SendGift(ctx, "g-6", gifting.GiftRequest{Viewer: "bruno", Creator: "senator", Gift: "rose", Count: 1})
	if !errors.Is(err, gifting.ErrIneligible) {
		return fmt.Errorf("a gift to a political account should be refused, got %v", err)
	}
	fmt.Fprintf(out, "  bruno tries a rose for a politician: %v\n", err)

	fmt.Fprintln(out, "\ncarla's bank charges her payment back; rita of the risk desk records it and carla's remaining coins are clawed back:")
	_, err = p.Chargeback(ctx, "chiara", "pay-carla-1")
	if !errors.Is(err, ledger.ErrForbidden) {
		return fmt.Errorf("chiara holds no risk officer role and should be refused, got %v", err)
	}
	fmt.Fprintf(out, "  chiara tries to record it herself: %v\n", err)
	pu, err := p.Chargeback(ctx, "rita", "pay-carla-1")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "  %d coins clawed back, %d already spent (unrecovered)\n", pu.ClawedBack, pu.Unrecovered)
	if err := s.show(gifting.MemberAccount("carla"), rules.CoinAsset, "clawed back"); err != nil {
		return err
	}
	if err := s.show(gifting.CoinSalesAccount, pu.Currency, "money returned"); err != nil {
		return err
	}

	fmt.Fprintln(out, "\nAfter the LIVE:")
	ls, err := p.Live(ctx, live)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "  %d gifts from %d viewers, %d coins, %d diamonds\n", ls.Gifts, ls.Gifters, ls.Coins, ls.Diamonds)
	top, err := p.TopGifters(ctx, live, 3)
	if err != nil {
		return err
	}
	for i, g := range top {
		fmt.Fprintf(out, "  #%d %-6s %5d coins in %d gifts\n", i+1, g.Viewer, g.Coins, g.Gifts)
	}
	e, err := p.CreatorEarnings(ctx, "chiara")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "  chiara has %s diamonds in %s, worth %s %s at %s %s each (payout withdraws from that account)\n",
		e.Diamonds, gifting.DiamondAccount("chiara"), e.CashValue.StringFixed(2), e.Currency,
		rules.DiamondValue.Amount, rules.DiamondValue.Currency)
	rev, err := l.Balance(ctx, gifting.RevenueAccount, rules.CoinAsset)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "  platform revenue: %s coins\n", rev.Posted)

	rep, err := l.Verify(ctx)
	if err != nil {
		return err
	}
	for asset, total := range rep.Totals {
		if !total.IsZero() {
			return fmt.Errorf("%s sums to %s", asset, total)
		}
	}
	fmt.Fprintf(out, "\nVerify: %d transactions, every asset sums to zero, hash chain intact.\n", rep.Transactions)
	return nil
}
