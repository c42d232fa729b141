package payout_test

import (
	"context"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
	"github.com/rewardkit/rewardkit/ledger/memstore"
	"github.com/rewardkit/rewardkit/payout"
)

// A member withdraws 75,000 rubies to PayPal; the provider's answer is
// lost once, and the retry pays once.
func Example() {
	ctx := context.Background()
	clock := ledgertest.NewClock(time.Date(2020, 6, 8, 9, 0, 0, 0, time.UTC))
	l := ledger.New(memstore.New(), ledger.WithClock(clock))
	paypal := payout.NewMemoryProvider(clock)
	p, err := payout.New(ctx, l, payout.DefaultRules(), paypal)
	if err != nil {
		panic(err)
	}
	_, _ = l.OpenAccount(ctx, ledger.AccountSpec{Address: ledger.World, Overdraft: ledger.Overdraft{Unbounded: true}})
	_, _ = l.OpenAccount(ctx, ledger.AccountSpec{Address: "member:giulia"})
	_, _ = l.Transfer(ctx, "rewards", ledger.World, "member:giulia", "RUBY", decimal.NewFromInt(75000))
	_ = p.LinkAccount(ctx, "giulia", "giulia@example.com")

	paypal.Next(payout.TimeoutAfterPaying)
	po, _ := p.Withdraw(ctx, "w-1", "giulia", decimal.NewFromInt(75000))
	fmt.Println(po.Status, "gross", po.Gross.StringFixed(2), "fee", po.Fee.StringFixed(2), "net", po.Net.StringFixed(2))

	po, _ = p.Retry(ctx, "w-1")
	fmt.Println(po.Status, "paid by PayPal:", paypal.Paid("EUR").StringFixed(2), "in", len(paypal.Payments()), "payment")
	// Output:
	// sending gross 7.50 fee 0.30 net 7.20
	// paid paid by PayPal: 7.20 in 1 payment
}
