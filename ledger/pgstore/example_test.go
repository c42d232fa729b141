package pgstore_test

import (
	"context"
	"fmt"
	"os"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/pgstore"
)

// Example opens a PostgreSQL-backed ledger and posts a transfer. It needs
// a database (REWARDKIT_TEST_POSTGRES), so it is compiled but not run.
func Example() {
	ctx := context.Background()
	s, err := pgstore.Open(ctx, os.Getenv("REWARDKIT_TEST_POSTGRES"), pgstore.WithSchema("rewards"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	l := ledger.New(s)
	if err := l.DefineAsset(ctx, ledger.EUR); err != nil {
		fmt.Println(err)
		return
	}
	for _, spec := range []ledger.AccountSpec{
		{Address: ledger.World, Overdraft: ledger.Overdraft{Unbounded: true}},
		{Address: "member:1"},
	} {
		if _, err := l.OpenAccount(ctx, spec); err != nil {
			fmt.Println(err)
			return
		}
	}
	// Concurrent callers' transfers share one durable commit.
	tr, err := l.Transfer(ctx, "topup-1", ledger.World, "member:1", "EUR", decimal.RequireFromString("10.00"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("posted transaction", tr.ID)
}

// Example_batch posts many transfers in one database transaction; each
// is refused or kept on its own.
func Example_batch() {
	ctx := context.Background()
	s, err := pgstore.Open(ctx, os.Getenv("REWARDKIT_TEST_POSTGRES"), pgstore.WithSchema("rewards"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	l := ledger.New(s)
	reqs := []ledger.TransferRequest{
		{Key: "grant-1", Postings: []ledger.Posting{{From: ledger.World, To: "member:1", Asset: "EUR", Amount: decimal.RequireFromString("1.00")}}},
		{Key: "grant-2", Postings: []ledger.Posting{{From: "member:1", To: "member:2", Asset: "EUR", Amount: decimal.RequireFromString("1000.00")}}},
	}
	res, err := l.PostBatch(ctx, reqs)
	if err != nil {
		fmt.Println(err)
		return
	}
	for i, r := range res {
		fmt.Println(i, r.Err)
	}
}
