package ledger_test

import (
	"context"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
	"github.com/rewardkit/rewardkit/ledger/memstore"
)

// Rubies granted with an expiry are lots of the member's balance: spending
// takes the soonest to expire first, and Tick moves what is left of an
// expired lot to its breakage account.
func ExampleReader_Lots() {
	ctx := context.Background()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := ledgertest.NewClock(start)
	l := ledger.New(memstore.New(), ledger.WithClock(clock))
	_ = l.Update(ctx, func(w *ledger.Writer) error {
		_ = w.DefineAsset(ledger.RUBY)
		_, _ = w.OpenAccount(ledger.AccountSpec{Address: ledger.World, Overdraft: ledger.Overdraft{Unbounded: true}})
		_, _ = w.OpenAccount(ledger.AccountSpec{Address: "member:1"})
		_, _ = w.OpenAccount(ledger.AccountSpec{Address: "shop"})
		_, err := w.OpenAccount(ledger.AccountSpec{Address: "breakage"})
		return err
	})
	grant := func(n int64, ttl time.Duration) {
		p := ledger.Posting{From: ledger.World, To: "member:1", Asset: "RUBY", Amount: decimal.NewFromInt(n)}
		if ttl > 0 {
			p.ExpiresAt, p.Breakage = clock.Now().Add(ttl), "breakage"
		}
		if _, err := l.Post(ctx, ledger.TransferRequest{Postings: []ledger.Posting{p}}); err != nil {
			panic(err)
		}
	}
	grant(100, 30*24*time.Hour)
	grant(50, 7*24*time.Hour)
	grant(20, 0) // never expires
	if _, err := l.Transfer(ctx, "", "member:1", "shop", "RUBY", decimal.NewFromInt(60)); err != nil {
		panic(err)
	}
	show := func() {
		lots, _ := l.Lots(ctx, "member:1", "RUBY")
		for _, lot := range lots {
			when := "never"
			if !lot.ExpiresAt.IsZero() {
				when = lot.ExpiresAt.Format("Jan 2")
			}
			fmt.Println(lot.Amount, "expires", when)
		}
	}
	show()
	clock.Advance(31 * 24 * time.Hour)
	n, _ := l.Tick(ctx)
	b, _ := l.Balance(ctx, "breakage", "RUBY")
	fmt.Println("lots expired:", n, "breakage:", b.Posted)
	show()
	// Output:
	// 90 expires Jan 31
	// 20 expires never
	// lots expired: 1 breakage: 90
	// 20 expires never
}
