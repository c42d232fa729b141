package gifting_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/rewardkit/rewardkit/gifting"
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
	"github.com/rewardkit/rewardkit/ledger/memstore"
	"github.com/shopspring/decimal"
)

// sentinels are the errors a public function may return, wrapped.
var sentinels = []error{
	gifting.ErrInvalidRules, gifting.ErrIneligible, gifting.ErrUnknownMember, gifting.ErrUnknownPack,
	gifting.ErrUnknownGift, gifting.ErrInvalidRequest, gifting.ErrInsufficientCoins, gifting.ErrDailyLimit,
	gifting.ErrIdempotencyConflict, gifting.ErrNotFound, kit.ErrMemberFacts,
	ledger.ErrInvalidAmount, ledger.ErrPrecision, ledger.ErrUnknownAsset, ledger.ErrInvalidAsset,
	ledger.ErrAssetConflict, ledger.ErrUnknownAccount, ledger.ErrInvalidAddress, ledger.ErrAccountConflict,
	ledger.ErrInsufficientFunds, ledger.ErrInvalidTransaction, ledger.ErrIdempotencyConflict, ledger.ErrNotFound,
	ledger.ErrInvalidRule, ledger.ErrOverflow, ledger.ErrForbidden, ledger.ErrInvalidTime,
}

func isSentinel(err error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// FuzzGiftingPublicAPI drives the public API with extreme values — pack
// sizes and prices, gift costs, counts, creator shares and wallet
// overdrafts from the int64 and decimal extremes (exponents near ±2^31),
// clocks from before 1970 to past 2262, empty, malformed and very long
// ids, unknown members and actors, and arbitrary rule JSON — and checks
// after every call: no panic, every error wraps a sentinel, and the
// ledger verifies with every asset summing to zero (issue 10 #2).
func FuzzGiftingPublicAPI(f *testing.F) {
	long := strings.Repeat("x", 300)
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7}, int64(350), int64(549), int32(-2), int64(100), 1, int64(5), int32(-1), int64(0), int64(1772388000), "ann", officer, []byte(`{}`))
	f.Add([]byte{0, 0, 1, 1, 2, 2}, int64(math.MaxInt64), int64(1), int32(0), int64(1e9), 10000, int64(1), int32(0), int64(math.MaxInt64), int64(0), "", "", []byte(`{"creator_share":"1e-2147483647"}`))
	f.Add([]byte{0, 1, 2, 8, 0, 1}, int64(-1), int64(1), int32(math.MaxInt32), int64(-5), -1, int64(1), int32(-math.MaxInt32), int64(-1), int64(10_000_000_000), long, "ann", []byte(`{"coin_overdraft":5}`))
	f.Add([]byte{8, 0, 1, 2, 9}, int64(1), int64(math.MaxInt64), int32(-18), int64(1), 99, int64(math.MaxInt64), int32(-18), int64(50), int64(-62135596800), "a:b", "mallory", []byte(`{"packs":[{"price":1e2147483647}]}`))
	f.Add([]byte{0, 3, 2, 2, 2, 4, 5, 6, 7, 8, 9}, int64(7000), int64(10999), int32(-2), int64(44999), 99, int64(1), int32(0), int64(20), int64(ledger.MaxTime.Unix()-1), "cat", "rita", []byte(`[]`))
	f.Add([]byte{0, 1, 8, 0, 1}, int64(70), int64(109), int32(-2), int64(1), 1, int64(1), int32(-1), int64(0), int64(10413792000), "bob", "rita", []byte("{\"gifts\":[{\"id\":\"x\",\"coins\":1e400}]}"))

	f.Fuzz(func(t *testing.T, ops []byte, packCoins, priceCoef int64, priceExp int32, giftCoins int64, count int,
		shareCoef int64, shareExp int32, overdraft, clockSec int64, id, actor string, rulesJSON []byte) {
		if len(ops) > 24 {
			ops = ops[:24]
		}
		ctx := context.Background()
		check := func(what string, err error) {
			t.Helper()
			if err != nil && !isSentinel(err) {
				t.Fatalf("%s: error wraps no sentinel: %v", what, err)
			}
		}
		if _, err := gifting.ParseRules(rulesJSON); err != nil {
			if !errors.Is(err, gifting.ErrInvalidRules) {
				t.Fatalf("ParseRules: %v", err)
			}
		}

		rules := gifting.DefaultRules()
		rules.Packs = append(rules.Packs, gifting.Pack{ID: "fuzz-pack", Country: "IT", Channel: "app", Coins: packCoins,
			Price: decimal.New(priceCoef, priceExp), Currency: "EUR"})
		rules.Gifts = append(rules.Gifts, gifting.Gift{ID: "fuzz-gift", Name: "Fuzz", Coins: giftCoins})
		rules.CreatorShare = decimal.New(shareCoef, shareExp)
		rules.DailySpendLimit = max(overdraft, 0)
		if err := rules.Validate(); err != nil {
			check("Validate", err)
			if !errors.Is(err, gifting.ErrInvalidRules) {
				t.Fatalf("Validate: %v", err)
			}
			rules = gifting.DefaultRules()
		}
		clock := ledgertest.NewClock(start)
		l := ledger.New(memstore.New(), ledger.WithClock(clock))
		roles := &kit.RoleDirectory{}
		roles.Grant(officer, kit.RoleRiskOfficer)
		roles.Grant("ann", kit.RoleRiskOfficer)
		dir := kit.NewDirectory(members()...)
		wallets := kit.WalletPolicy{Overdraft: map[string]decimal.Decimal{"COIN": decimal.NewFromInt(overdraft)}}
		p, err := gifting.New(ctx, l, rules, dir, gifting.WithRoles(roles), gifting.WithWallets(wallets))
		if err != nil {
			check("New", err)
			p, err = gifting.New(ctx, l, rules, dir, gifting.WithRoles(roles))
			if err != nil {
				t.Fatalf("New with valid rules: %v", err)
			}
		}
		verify := func(what string) {
			t.Helper()
			rep, err := l.Verify(ctx)
			if err != nil {
				t.Fatalf("after %s: verify: %v", what, err)
			}
			for asset, total := range rep.Totals {
				if !total.IsZero() {
					t.Fatalf("after %s: %s sums to %s", what, asset, total)
				}
			}
		}

		people := []string{"ann", "bob", "cat", "kid", "joe", "pol", "nobody", id}
		packs := []string{"it-app-350", "fuzz-pack", "it-app-7000", id}
		gifts := []string{"hand-hearts", "fuzz-gift", "universe", id}
		times := []time.Time{start, time.Unix(clockSec, 0), ledger.MinTime, ledger.MaxTime.Add(-time.Nanosecond), ledger.MaxTime,
			time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), {}}
		refs := []string{"pay-0", "pay-1", id}
		for i, op := range ops {
			pick := func(n int) int { return int(op>>4) % n }
			var err error
			what := fmt.Sprintf("op %d (%d)", i, op%10)
			switch op % 10 {
			case 0:
				_, err = p.BuyPack(ctx, gifting.BuyPackRequest{PaymentRef: refs[pick(len(refs))], Actor: people[pick(len(people))], Pack: packs[pick(len(packs))]})
			case 1, 2:
				c := count
				if op%10 == 1 {
					c = 1 + pick(5)
				}
				_, err = p.SendGift(ctx, gifting.SendGiftRequest{EventID: fmt.Sprintf("g-%d", i%4), Actor: people[pick(len(people))],
					Creator: people[(pick(len(people))+2)%len(people)], Gift: gifts[pick(len(gifts))], Count: c, Live: id})
			case 3:
				a := []string{officer, actor, "ann", ""}[pick(4)]
				_, err = p.Chargeback(ctx, gifting.ChargebackRequest{Actor: a, PaymentRef: refs[pick(len(refs))]})
			case 4:
				_, err = p.Live(ctx, id)
				if errors.Is(err, gifting.ErrNotFound) {
					err = nil
				}
			case 5:
				_, err = p.TopGifters(ctx, id, int(priceExp))
			case 6:
				_, err = p.CreatorEarnings(ctx, people[pick(len(people))])
			case 7:
				_, err = p.PurchaseByRef(ctx, refs[pick(len(refs))])
			case 8:
				clock.Set(times[pick(len(times))])
			case 9:
				h, herr := l.Hold(ctx, ledger.HoldRequest{Key: fmt.Sprintf("order-%d", i), Account: gifting.MemberAccount("ann"),
					Asset: "COIN", Amount: decimal.NewFromInt(int64(op) + 1), ExpiresAt: ledger.MaxTime.Add(-time.Hour)})
				if herr == nil && op&0x80 != 0 {
					_, herr = l.Void(ctx, h.ID)
				}
				err = herr
			}
			check(what, err)
			verify(what)
		}
	})
}
