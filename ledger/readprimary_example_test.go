package ledger_test

import (
	"context"
	"fmt"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger"
)

// A caller that has just posted reads its own write with ReadPrimary: on
// a store that serves reads from a replica (pgstore.WithReplica) the read
// goes to the primary, which has the transfer; on any other store (here
// memstore) it reads as always.
func ExampleReadPrimary() {
	ctx := context.Background()
	l, _ := exampleLedger(ctx, []ledger.Asset{ledger.EUR}, []string{"member:1"}, nil)

	if _, err := l.Transfer(ctx, "topup-1", ledger.World, "member:1", "EUR", decimal.RequireFromString("10.00")); err != nil {
		fmt.Println(err)
		return
	}
	b, err := l.Balance(ledger.ReadPrimary(ctx), "member:1", "EUR")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("balance:", b.Posted.StringFixed(2))
	// Output:
	// balance: 10.00
}
