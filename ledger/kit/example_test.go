package kit_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/memstore"
)

// A program's event runs once per event ID: a retry replays the first
// result and pays nothing.
func ExampleOnce() {
	ctx := context.Background()
	l := ledger.New(memstore.New())
	_ = l.DefineAsset(ctx, ledger.RUBY)
	_, _ = l.OpenAccount(ctx, ledger.AccountSpec{Address: ledger.World, Overdraft: ledger.Overdraft{Unbounded: true}})

	type signup struct{ Member string }
	reward := func(member string) (uint64, bool, error) {
		var id uint64
		var replay bool
		err := l.Update(ctx, func(w *ledger.Writer) error {
			var err error
			ev := kit.Event{Kind: "example.event", ID: "signup-" + member, Op: "signup", Request: signup{member}}
			id, replay, err = kit.Once(w, ev, func(w *ledger.Writer) (uint64, error) {
				wallet, err := kit.OpenWallet(w, kit.WalletPolicy{}, member)
				if err != nil {
					return 0, err
				}
				t, err := w.Post(ledger.TransferRequest{Postings: []ledger.Posting{
					{From: ledger.World, To: wallet, Asset: "RUBY", Amount: decimal.NewFromInt(20000)}}})
				return t.ID, err
			})
			return err
		})
		return id, replay, err
	}
	fmt.Println(reward("42"))
	fmt.Println(reward("42"))
	b, _ := l.Balance(ctx, kit.WalletAccount("42"), "RUBY")
	fmt.Println(b.Posted)
	// Output:
	// 1 false <nil>
	// 1 true <nil>
	// 20000
}

// Privileged actions name their actor, who must hold the role and be no
// party to the decision.
func ExampleAuthorize() {
	var roles kit.RoleDirectory
	roles.Grant("mod-1", kit.RoleReviewer)
	ctx := context.Background()
	fmt.Println(kit.Authorize(ctx, &roles, "mod-1", kit.RoleReviewer, "creator-7", "fan-9"))
	fmt.Println(kit.Authorize(ctx, &roles, "creator-7", kit.RoleReviewer, "creator-7", "fan-9"))
	// Output:
	// <nil>
	// ledger: forbidden: "creator-7" is a party to this decision
}

// A call to the outside world (here a mail server that is down at first)
// is queued in the unit of work that pays for it and made after the
// commit: at once by Deliver, and by Drain, from a Tick, until it goes
// through. The mail server keeps each message once by ID.
func ExampleOutbox() {
	ctx := context.Background()
	l := ledger.New(memstore.New())
	down := true
	mailed := map[string]bool{}
	type receipt struct{ Mailed bool }
	var box kit.Outbox[receipt]
	box = kit.Outbox[receipt]{Ledger: l, Due: "example.mail", Failed: "example.mail",
		Send: func(ctx context.Context, id string) (receipt, string, error) {
			var r receipt
			if err := l.View(ctx, func(rd *ledger.Reader) error { return rd.LoadJSON("example.receipt", id, &r) }); err != nil {
				return r, "", err
			}
			if r.Mailed {
				return r, "", nil
			}
			if down {
				return r, "", errors.New("mail server down")
			}
			mailed[id] = true // outside any unit of work
			r.Mailed = true
			return r, "example.mailed", l.Update(ctx, func(w *ledger.Writer) error {
				if err := w.SaveJSON("example.receipt", id, r); err != nil {
					return err
				}
				return box.Done(w, id)
			})
		}}

	_ = l.Update(ctx, func(w *ledger.Writer) error {
		// ... the payment the receipt is for, in the same unit of work ...
		if err := w.CreateJSON("example.receipt", "order-1", receipt{}); err != nil {
			return err
		}
		return box.Put(w, "order-1", w.Now())
	})
	_, err := box.Deliver(ctx, "order-1") // right after the commit
	fmt.Println("at once:", err)

	down = false
	var rep kit.TickReport
	_ = box.Drain(ctx, l.Clock().Now(), &rep) // a later Tick
	fmt.Println("tick:", rep.Done, mailed)
	// Output:
	// at once: mail server down
	// tick: [{example.mailed order-1}] map[order-1:true]
}

// A cap of three invites per member per day, counted in the member's time
// zone in the unit of work of the grant: the fourth is refused by the
// rule, and the member's next local day starts afresh.
func ExampleTake() {
	ctx := context.Background()
	l := ledger.New(memstore.New())
	errCap := errors.New("example: cap reached")
	invites := kit.Cap{Kind: "example.cap", Scope: "it-2020", Name: "invites_per_day", Err: errCap,
		Period: kit.PeriodDay, MaxCount: 3}
	rome, _ := time.LoadLocation("Europe/Rome")
	at := time.Date(2026, 3, 1, 22, 30, 0, 0, time.UTC) // 23:30 in Rome
	invite := func(at time.Time) error {
		return l.Update(ctx, func(w *ledger.Writer) error {
			_, err := kit.Take(w, invites, kit.Use{Subject: "ann", At: at, Loc: rome, Count: 1})
			return err // a grant would follow here, in the same unit of work
		})
	}
	for i := 0; i < 4; i++ {
		err := invite(at)
		fmt.Printf("%v %v %q\n", err == nil, errors.Is(err, errCap), ledger.RuleOf(err))
	}
	fmt.Println(invite(at.Add(time.Hour))) // 00:30 in Rome: a new day
	_ = l.View(ctx, func(r *ledger.Reader) error {
		u, _ := kit.UsageOf(r, invites, "ann", at, rome)
		fmt.Println(u.Period, u.Count, u.RemainingCount, u.Resets.UTC())
		return nil
	})
	// Output:
	// true false ""
	// true false ""
	// true false ""
	// false true "invites_per_day"
	// <nil>
	// 2026-03-01 3 0 2026-03-01 23:00:00 +0000 UTC
}
