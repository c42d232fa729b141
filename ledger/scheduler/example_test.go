package scheduler_test

import (
	"context"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
	"github.com/rewardkit/rewardkit/ledger/memstore"
	"github.com/rewardkit/rewardkit/ledger/scheduler"
)

// reminders stands for a program: anything with a Tick that returns a
// kit.TickReport is a kit.Ticker (every program of rewardkit is one).
type reminders struct{}

func (reminders) Tick(ctx context.Context) (kit.TickReport, error) {
	var rep kit.TickReport
	rep.Add("reminders.sent", "member-7")
	rep.Failed = append(rep.Failed, kit.ItemError{Kind: "reminders.sent", ID: "member-9", Err: ledger.ErrUnknownAccount})
	return rep, nil
}

// One run of a scheduler on the in-memory store: the ledger's expired
// hold is released first, then the registered ticker runs; the report
// names what each handled and what failed. In a service, every replica
// calls s.Run(ctx, time.Minute) instead, and the lease lets one run at a
// time.
func Example() {
	ctx := context.Background()
	clock := ledgertest.NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	l := ledger.New(memstore.New(), ledger.WithClock(clock))
	err := l.Update(ctx, func(w *ledger.Writer) error {
		if err := w.DefineAsset(ledger.COIN); err != nil {
			return err
		}
		if _, err := w.OpenAccount(ledger.AccountSpec{Address: ledger.World, Overdraft: ledger.Overdraft{Unbounded: true}}); err != nil {
			return err
		}
		if _, err := w.OpenAccount(ledger.AccountSpec{Address: "member:1"}); err != nil {
			return err
		}
		if _, err := w.Post(ledger.TransferRequest{Key: "pack-70", Postings: []ledger.Posting{{From: ledger.World, To: "member:1", Asset: "COIN", Amount: decimal.NewFromInt(70)}}}); err != nil {
			return err
		}
		_, err := w.Hold(ledger.HoldRequest{Account: "member:1", Asset: "COIN", Amount: decimal.NewFromInt(30), ExpiresAt: clock.Now().Add(time.Hour)})
		return err
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	s, err := scheduler.New(l) // memstore holds the lease in-process
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := s.Register("reminders", reminders{}); err != nil {
		fmt.Println(err)
		return
	}
	clock.Advance(2 * time.Hour)
	rep, err := s.RunOnce(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, res := range rep.Results {
		fmt.Println(res.Name, res.Report.Done, len(res.Report.Failed), res.Err)
	}
	fmt.Println(rep.Err())
	b, _ := l.Balance(ctx, "member:1", "COIN")
	fmt.Println("available:", b.Available)
	// Output:
	// ledger.holds [{ledger.hold_expired 1}] 0 <nil>
	// reminders [{reminders.sent member-7}] 1 <nil>
	// reminders: reminders.sent member-9: ledger: unknown account
	// available: 70
}
