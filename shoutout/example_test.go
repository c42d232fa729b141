package shoutout_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
	"github.com/rewardkit/rewardkit/ledger/memstore"
	"github.com/rewardkit/rewardkit/shoutout"
	"github.com/shopspring/decimal"
)

func Example() {
	ctx := context.Background()
	clock := ledgertest.NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	l := ledger.New(memstore.New(), ledger.WithClock(clock))
	members := kit.NewDirectory(
		kit.Member{ID: "ann", BirthDate: kit.NewDate(1996, time.February, 11), TimeZone: "Europe/Rome"},
		kit.Member{ID: "cat", BirthDate: kit.NewDate(2000, time.October, 30), TimeZone: "America/New_York", Followers: 120000},
	)
	inbox := shoutout.NewInbox()
	reviewers := &kit.RoleDirectory{}
	reviewers.Grant("mod-1", kit.RoleReviewer)
	p, err := shoutout.New(ctx, l, shoutout.DefaultRules(), members, inbox, shoutout.WithRoles(reviewers))
	if err != nil {
		panic(err)
	}
	// Ann already has 1,000 coins (bought in the coin shop).
	_, _ = l.OpenAccount(ctx, ledger.AccountSpec{Address: shoutout.MemberAccount("ann")})
	_, _ = l.Transfer(ctx, "coins-ann", ledger.World, shoutout.MemberAccount("ann"), "COIN", decimal.NewFromInt(1000))

	show := func(what string) {
		b, _ := l.Balance(ctx, shoutout.MemberAccount("ann"), "COIN")
		fmt.Printf("%-22s ann: %s available, %s held\n", what, b.Available, b.Held)
	}
	_, _ = p.SetOffer(ctx, shoutout.SetOfferRequest{Creator: "cat", Price: 400})
	o, err := p.Request(ctx, shoutout.RequestRequest{OrderID: "order-1", Fan: "ann", Creator: "cat", Price: 400, Note: "happy birthday to Bea"})
	if err != nil {
		panic(err)
	}
	show("requested:")
	_, _ = p.Accept(ctx, shoutout.AcceptRequest{EventID: "ev-1", OrderID: "order-1", Actor: "cat"})
	clock.Advance(48 * time.Hour)
	_, _ = p.Submit(ctx, shoutout.SubmitRequest{EventID: "ev-2", OrderID: "order-1", Actor: "cat", Video: "video://bea"})
	if _, err := p.Cancel(ctx, shoutout.CancelRequest{EventID: "ev-3", OrderID: "order-1", Actor: "ann"}); err != nil {
		fmt.Println("cancel refused:", err != nil)
	}
	if _, err := p.Approve(ctx, shoutout.ApproveRequest{EventID: "ev-4", OrderID: "order-1", Actor: "cat"}); errors.Is(err, ledger.ErrForbidden) {
		fmt.Println("cat approving her own video: forbidden")
	}
	o, _ = p.Approve(ctx, shoutout.ApproveRequest{EventID: "ev-5", OrderID: "order-1", Actor: "mod-1"})
	show("delivered:")
	earned, _ := l.Balance(ctx, shoutout.EarningsAccount("cat"), "COIN")
	fmt.Printf("order %s: %s, cat earned %s, platform %d\n", o.ID, o.Outcome, earned.Posted, o.PlatformShare)
	fmt.Println("ann's inbox:", inbox.Messages("ann")[0].Video)

	_, _ = p.Request(ctx, shoutout.RequestRequest{OrderID: "order-2", Fan: "ann", Creator: "cat", Price: 400, Note: "one more"})
	show("second request:")
	clock.Advance(72 * time.Hour) // cat never answers
	rep, _ := p.Tick(ctx)
	o, _ = p.Order(ctx, "order-2")
	fmt.Printf("tick refunded %d: order %s %s (%s)\n", rep.Count(shoutout.ItemRefunded), o.ID, o.Outcome, o.Reason)
	show("after refund:")
	_, err = l.Verify(ctx)
	fmt.Println("verify:", err)
	// Output:
	// requested:             ann: 600 available, 400 held
	// cancel refused: true
	// cat approving her own video: forbidden
	// delivered:             ann: 600 available, 0 held
	// order order-1: paid, cat earned 300, platform 100
	// ann's inbox: video://bea
	// second request:        ann: 200 available, 400 held
	// tick refunded 1: order order-2 refunded (accept_window)
	// after refund:          ann: 600 available, 0 held
	// verify: <nil>
}
