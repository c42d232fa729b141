package payout_test

import (
	"context"
	"errors"
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

// A creator cashes out the diamonds gifting paid into creator:<id>:diamonds:
// CreatorRules declares that account hers and a diamond's value (0.005
// USD); another creator's account is refused.
func ExampleProgram_WithdrawFrom() {
	ctx := context.Background()
	clock := ledgertest.NewClock(time.Date(2020, 6, 8, 9, 0, 0, 0, time.UTC))
	l := ledger.New(memstore.New(), ledger.WithClock(clock))
	paypal := payout.NewMemoryProvider(clock)
	p, err := payout.New(ctx, l, payout.CreatorRules(), paypal)
	if err != nil {
		panic(err)
	}
	_, _ = l.OpenAccount(ctx, ledger.AccountSpec{Address: ledger.World, Overdraft: ledger.Overdraft{Unbounded: true}})
	_, _ = l.OpenAccount(ctx, ledger.AccountSpec{Address: "creator:giulia:diamonds"})
	_, _ = l.Transfer(ctx, "gifts", ledger.World, "creator:giulia:diamonds", "DIAMOND", decimal.NewFromInt(10000))
	_ = p.LinkAccount(ctx, "giulia", "giulia@example.com")

	po, _ := p.WithdrawFrom(ctx, "cashout-1", "giulia", "creator:giulia:diamonds", decimal.NewFromInt(10000))
	fmt.Println(po.Status, po.Amount, "DIAMOND:", po.Gross.StringFixed(2), "USD, fee", po.Fee.StringFixed(2), "net", po.Net.StringFixed(2))

	_, err = p.WithdrawFrom(ctx, "cashout-2", "marco", "creator:giulia:diamonds", decimal.NewFromInt(2000))
	fmt.Println(errors.Is(err, payout.ErrUnknownSource), errors.Is(err, ledger.ErrForbidden))
	// Output:
	// paid 10000 DIAMOND: 50.00 USD, fee 0.85 net 49.15
	// true true
}
