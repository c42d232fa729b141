package memstore_test

import (
	"context"
	"fmt"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/memstore"
)

// A ledger on the in-memory store: everything lives in this process and is
// gone when it exits.
func Example() {
	ctx := context.Background()
	l := ledger.New(memstore.New())
	err := l.Update(ctx, func(w *ledger.Writer) error {
		if err := w.DefineAsset(ledger.COIN); err != nil {
			return err
		}
		if _, err := w.OpenAccount(ledger.AccountSpec{Address: ledger.World, Overdraft: ledger.Overdraft{Unbounded: true}}); err != nil {
			return err
		}
		_, err := w.OpenAccount(ledger.AccountSpec{Address: "member:1"})
		return err
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := l.Transfer(ctx, "pack-70", ledger.World, "member:1", "COIN", decimal.NewFromInt(70)); err != nil {
		fmt.Println(err)
		return
	}
	b, _ := l.Balance(ctx, "member:1", "COIN")
	rep, _ := l.Verify(ctx)
	fmt.Println(b.Available, rep.Transactions, rep.Totals["COIN"])
	// Output: 70 1 0
}
