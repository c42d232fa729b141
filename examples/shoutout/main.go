// Command shoutout tells the story of seed 002's Shoutouts: a creator with
// enough followers offers personalised videos for coins; three fans order
// one. The first is accepted, reviewed (by a moderator holding the
// reviewer role: the creator may not approve her own video), approved and
// delivered by direct message, and the creator and the platform are paid
// into her earnings account and the platform's revenue; the second is
// declined; the third gets no answer within three days and Tick refunds
// it. Coins are held, never spent, until an order is paid. It prints every
// balance change and ends by verifying the whole ledger.
//
//	go run ./examples/shoutout
//	go run ./examples/shoutout -postgres 'postgres://user:pass@localhost/rewardkit'
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
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/driver"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
	"github.com/rewardkit/rewardkit/shoutout"
)

func main() { exampledb.Main("shoutout", run) }

// story prints balance changes: each line shows an account's posted and
// held coins and the change since it was last shown.
type story struct {
	ctx  context.Context
	out  io.Writer
	l    *ledger.Ledger
	last map[string]decimal.Decimal
}

func (s *story) show(account, why string) error {
	b, err := s.l.Balance(s.ctx, account, "COIN")
	if err != nil {
		return err
	}
	k := account + "/held"
	dp, dh := b.Posted.Sub(s.last[account]), b.Held.Sub(s.last[k])
	s.last[account], s.last[k] = b.Posted, b.Held
	fmt.Fprintf(s.out, "    %-26s posted %6s (%5s)  held %4s (%5s)  (%s)\n", account,
		b.Posted, signed(dp), b.Held, signed(dh), why)
	return nil
}

// signed writes a change with its sign ("+750", "-1000", "0").
func signed(d decimal.Decimal) string {
	if d.Sign() > 0 {
		return "+" + d.String()
	}
	return d.String()
}

func run(ctx context.Context, out io.Writer, store driver.Store) error {
	clock := ledgertest.NewClock(time.Date(2022, 4, 4, 10, 0, 0, 0, time.UTC))
	l := ledger.New(store, ledger.WithClock(clock))
	s := &story{ctx: ctx, out: out, l: l, last: map[string]decimal.Decimal{}}
	members := kit.NewDirectory(
		kit.Member{ID: "daria", BirthDate: kit.NewDate(1994, time.November, 3), TimeZone: "Europe/Rome", Followers: 480000},
		kit.Member{ID: "newbie", BirthDate: kit.NewDate(1999, time.July, 19), Followers: 900},
		kit.Member{ID: "luca", BirthDate: kit.NewDate(1998, time.December, 24), TimeZone: "Europe/Rome"},
		kit.Member{ID: "marta", BirthDate: kit.NewDate(1986, time.May, 8), TimeZone: "Europe/Madrid"},
		kit.Member{ID: "nico", BirthDate: kit.NewDate(1992, time.September, 1)},
	)
	inbox := shoutout.NewInbox()
	rules := shoutout.DefaultRules()
	// Reviews are staff decisions: mod-12 holds the reviewer role.
	reviewers := &kit.RoleDirectory{}
	reviewers.Grant("mod-12", kit.RoleReviewer)
	p, err := shoutout.New(ctx, l, rules, members, inbox, shoutout.WithRoles(reviewers))
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Rules: %d+ followers to offer, %s to accept, %s to deliver, %s%% to the platform.\n",
		rules.MinFollowers, rules.AcceptWindow, rules.DeliveryWindow, rules.PlatformShare.Shift(2))

	// The fans bought coins in the coin shop (the gifting program); here
	// they are simply issued.
	fmt.Fprintln(out, "\nThe fans have coins:")
	for _, fan := range []string{"luca", "marta", "nico"} {
		if _, err := l.OpenAccount(ctx, ledger.AccountSpec{Address: shoutout.MemberAccount(fan)}); err != nil {
			return err
		}
		if _, err := l.Transfer(ctx, "coins-"+fan, ledger.World, shoutout.MemberAccount(fan), "COIN", decimal.NewFromInt(1400)); err != nil {
			return err
		}
		if err := s.show(shoutout.MemberAccount(fan), "coins bought earlier"); err != nil {
			return err
		}
	}

	const price = 1000
	if _, err := p.SetOffer(ctx, shoutout.SetOfferRequest{Creator: "daria", Price: price}); err != nil {
		return err
	}
	fmt.Fprintf(out, "\ndaria (480k followers) offers shoutouts for %d coins.\n", price)
	if _, err := p.SetOffer(ctx, shoutout.SetOfferRequest{Creator: "newbie", Price: price}); errors.Is(err, shoutout.ErrIneligible) {
		fmt.Fprintf(out, "newbie cannot: %v\n", err)
	} else {
		return fmt.Errorf("newbie's offer should be refused, got %v", err)
	}

	fmt.Fprintln(out, "\nThree fans order a shoutout; each pays up front, and the coins are held:")
	for _, o := range []struct{ id, fan, note string }{
		{"order-luca", "luca", "happy birthday to my sister Bea"},
		{"order-marta", "marta", "sing our wedding song"},
		{"order-nico", "nico", "say hi to my football team"},
	} {
		if _, err := p.Request(ctx, shoutout.RequestRequest{OrderID: o.id, Fan: o.fan, Creator: "daria", Price: price, Note: o.note}); err != nil {
			return err
		}
		if err := s.show(shoutout.MemberAccount(o.fan), o.id+" requested"); err != nil {
			return err
		}
	}

	fmt.Fprintln(out, "\nDay 1: daria accepts luca's order and declines marta's:")
	clock.Advance(24 * time.Hour)
	if _, err := p.Accept(ctx, shoutout.AcceptRequest{EventID: "ev-1", OrderID: "order-luca", Actor: "daria"}); err != nil {
		return err
	}
	if _, err := p.Decline(ctx, shoutout.DeclineRequest{EventID: "ev-2", OrderID: "order-marta", Actor: "daria"}); err != nil {
		return err
	}
	if err := s.show(shoutout.MemberAccount("marta"), "declined: every coin back"); err != nil {
		return err
	}
	if _, err := p.Accept(ctx, shoutout.AcceptRequest{EventID: "ev-3", OrderID: "order-luca", Actor: "daria"}); errors.Is(err, shoutout.ErrWrongState) {
		fmt.Fprintf(out, "  accepting luca's order twice is refused: %v\n", err)
	} else {
		return fmt.Errorf("a second accept should be refused, got %v", err)
	}

	fmt.Fprintln(out, "\nDay 3: daria submits a video; a moderator rejects it, she submits another, it is approved:")
	clock.Advance(48 * time.Hour)
	steps := []func() (shoutout.Order, error){
		func() (shoutout.Order, error) {
			return p.Submit(ctx, shoutout.SubmitRequest{EventID: "ev-4", OrderID: "order-luca", Actor: "daria", Video: "video://luca-1"})
		},
		func() (shoutout.Order, error) {
			return p.Reject(ctx, shoutout.RejectRequest{EventID: "ev-5", OrderID: "order-luca", Actor: "mod-12", Reason: "background music is copyrighted"})
		},
		func() (shoutout.Order, error) {
			return p.Submit(ctx, shoutout.SubmitRequest{EventID: "ev-6", OrderID: "order-luca", Actor: "daria", Video: "video://luca-2"})
		},
		func() (shoutout.Order, error) {
			return p.Approve(ctx, shoutout.ApproveRequest{EventID: "ev-7", OrderID: "order-luca", Actor: "mod-12"})
		},
	}
	for i, step := range steps {
		if i == len(steps)-1 {
			if _, err := p.Approve(ctx, shoutout.ApproveRequest{EventID: "ev-7-daria", OrderID: "order-luca", Actor: "daria"}); errors.Is(err, ledger.ErrForbidden) {
				fmt.Fprintf(out, "  daria approving her own video is refused: %v\n", err)
			} else {
				return fmt.Errorf("daria's own approval should be forbidden, got %v", err)
			}
		}
		o, err := step()
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "  order-luca is %s\n", o.Status)
	}
	again, err := p.Approve(ctx, shoutout.ApproveRequest{EventID: "ev-7", OrderID: "order-luca", Actor: "mod-12"})
	if err != nil || !again.Replayed {
		return fmt.Errorf("a retried approval should replay, got %v, %v", again.Replayed, err)
	}
	fmt.Fprintf(out, "  the moderator's client retries the approval: a replay (%s), nothing paid twice\n", again.Status)
	o, err := p.Order(ctx, "order-luca")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "  paid: %d coins to daria's earnings account, %d to the platform\n", o.CreatorShare, o.PlatformShare)
	fmt.Fprintf(out, "  (to cash out, the service has the payout program withdraw from %s)\n", shoutout.EarningsAccount("daria"))
	for _, a := range []struct{ acc, why string }{
		{shoutout.MemberAccount("luca"), "hold captured"},
		{shoutout.EarningsAccount("daria"), "creator's share"},
		{shoutout.RevenueAccount, "platform's share"},
	} {
		if err := s.show(a.acc, a.why); err != nil {
			return err
		}
	}
	for _, m := range inbox.Messages("luca") {
		fmt.Fprintf(out, "  luca's inbox: %q from %s: %s\n", m.Text, m.From, m.Video)
	}

	fmt.Fprintln(out, "\nDay 3 and a bit: nico's order has had no answer for three days; Tick refunds it:")
	clock.Advance(time.Hour)
	rep, err := p.Tick(ctx)
	if err != nil {
		return err
	}
	o, err = p.Order(ctx, "order-nico")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "  tick refunded %v: order-nico is %s, %s (%s)\n", rep.IDs(shoutout.ItemRefunded), o.Status, o.Outcome, o.Reason)
	if err := s.show(shoutout.MemberAccount("nico"), "expired: every coin back"); err != nil {
		return err
	}

	rv, err := l.Verify(ctx)
	if err != nil {
		return err
	}
	for asset, total := range rv.Totals {
		if !total.IsZero() {
			return fmt.Errorf("%s sums to %s", asset, total)
		}
	}
	fmt.Fprintf(out, "\nVerify: %d transactions, %d holds, every asset sums to zero, hash chain intact.\n", rv.Transactions, rv.Holds)
	return nil
}
