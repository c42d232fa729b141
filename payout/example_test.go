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
	_, _ = p.LinkAccount(ctx, payout.LinkAccountRequest{Actor: "giulia", Account: "giulia@example.com"})

	paypal.Next(payout.TimeoutAfterPaying)
	po, _ := p.Withdraw(ctx, payout.WithdrawRequest{PayoutID: "w-1", Actor: "giulia", Amount: decimal.NewFromInt(75000)})
	fmt.Println(po.Status, "gross", po.Gross.StringFixed(2), "fee", po.Fee.StringFixed(2), "net", po.Net.StringFixed(2))

	po, _ = p.Retry(ctx, payout.RetryRequest{PayoutID: "w-1"})
	fmt.Println(po.Status, "paid by PayPal:", paypal.Paid("EUR").StringFixed(2), "in", len(paypal.Payments()), "payment")
	// Output:
	// sending gross 7.50 fee 0.30 net 7.20
	// paid paid by PayPal: 7.20 in 1 payment
}

// A creator cashes out the diamonds gifting paid into creator:<id>:diamonds,
// straight from there: CreatorRules declares that account hers, at the
// diamond's value gifting configures (gifting's Rules.CashValue, 0.005
// USD); another creator's account is refused.
func ExampleProgram_Withdraw() {
	ctx := context.Background()
	clock := ledgertest.NewClock(time.Date(2020, 6, 8, 9, 0, 0, 0, time.UTC))
	l := ledger.New(memstore.New(), ledger.WithClock(clock))
	paypal := payout.NewMemoryProvider(clock)
	// What gifting.DefaultRules().CashValue() returns.
	diamond := ledger.ConversionRule{From: "DIAMOND", To: "USD", Rate: ledger.NewRate(1, 200), Rounding: ledger.RoundDown}
	p, err := payout.New(ctx, l, payout.CreatorRules(diamond), paypal)
	if err != nil {
		panic(err)
	}
	_, _ = l.OpenAccount(ctx, ledger.AccountSpec{Address: ledger.World, Overdraft: ledger.Overdraft{Unbounded: true}})
	_, _ = l.OpenAccount(ctx, ledger.AccountSpec{Address: "creator:giulia:diamonds"})
	_, _ = l.Transfer(ctx, "gifts", ledger.World, "creator:giulia:diamonds", "DIAMOND", decimal.NewFromInt(10000))
	_, _ = p.LinkAccount(ctx, payout.LinkAccountRequest{Actor: "giulia", Account: "giulia@example.com"})

	po, _ := p.Withdraw(ctx, payout.WithdrawRequest{PayoutID: "cashout-1", Actor: "giulia",
		Source: "creator:giulia:diamonds", Amount: decimal.NewFromInt(10000)})
	fmt.Println(po.Status, po.Amount, "DIAMOND:", po.Gross.StringFixed(2), "USD, fee", po.Fee.StringFixed(2), "net", po.Net.StringFixed(2))

	_, err = p.Withdraw(ctx, payout.WithdrawRequest{PayoutID: "cashout-2", Actor: "marco",
		Source: "creator:giulia:diamonds", Amount: decimal.NewFromInt(2000)})
	fmt.Println(errors.Is(err, payout.ErrUnknownSource), errors.Is(err, ledger.ErrForbidden))
	// Output:
	// paid 10000 DIAMOND: 50.00 USD, fee 0.85 net 49.15
	// true true
}

// WithdrawIn records a cash-out inside the caller's unit of work: refused,
// it leaves the diamonds where they were; committed, it reserves them, and
// Retry sends the payment once the unit of work has committed.
func ExampleProgram_WithdrawIn() {
	ctx := context.Background()
	clock := ledgertest.NewClock(time.Date(2020, 6, 8, 9, 0, 0, 0, time.UTC))
	l := ledger.New(memstore.New(), ledger.WithClock(clock))
	paypal := payout.NewMemoryProvider(clock)
	diamond := ledger.ConversionRule{From: "DIAMOND", To: "USD", Rate: ledger.NewRate(1, 200), Rounding: ledger.RoundDown}
	p, err := payout.New(ctx, l, payout.CreatorRules(diamond), paypal)
	if err != nil {
		panic(err)
	}
	_, _ = l.OpenAccount(ctx, ledger.AccountSpec{Address: ledger.World, Overdraft: ledger.Overdraft{Unbounded: true}})
	_, _ = l.OpenAccount(ctx, ledger.AccountSpec{Address: "creator:giulia:diamonds"})
	_, _ = l.Transfer(ctx, "gifts", ledger.World, "creator:giulia:diamonds", "DIAMOND", decimal.NewFromInt(4000))
	cashOut := func(id string) (payout.Payout, error) {
		var po payout.Payout
		err := l.Update(ctx, func(w *ledger.Writer) error {
			var err error
			po, err = p.WithdrawIn(w, payout.WithdrawRequest{PayoutID: id, Actor: "giulia",
				Source: "creator:giulia:diamonds", Amount: decimal.NewFromInt(4000)})
			return err // and the caller's own writes, all or nothing
		})
		return po, err
	}
	diamonds := func() decimal.Decimal {
		b, _ := l.Balance(ctx, "creator:giulia:diamonds", "DIAMOND")
		return b.Available
	}

	_, err = cashOut("cashout-1")
	fmt.Println(errors.Is(err, payout.ErrNoPayoutAccount), "diamonds available:", diamonds())

	_, _ = p.LinkAccount(ctx, payout.LinkAccountRequest{Actor: "giulia", Account: "giulia@example.com"})
	po, _ := cashOut("cashout-2")
	fmt.Println(po.Status, "diamonds available:", diamonds(), "PayPal asked:", paypal.Calls())
	po, _ = p.Retry(ctx, payout.RetryRequest{PayoutID: po.ID}) // after the commit
	fmt.Println(po.Status, "net", po.Net.StringFixed(2), "USD")
	// Output:
	// true diamonds available: 4000
	// sending diamonds available: 0 PayPal asked: 0
	// paid net 19.60 USD
}

// PayPal holds a payment, then tells the platform by webhook that it
// paid: the handler records the pushed outcome under the delivery's ID.
// The delivery repeats (a replay), a late "held" changes nothing, and the
// next poll finds the payout settled.
func ExampleProgram_RecordOutcome() {
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
	_, _ = p.LinkAccount(ctx, payout.LinkAccountRequest{Actor: "giulia", Account: "giulia@example.com"})

	paypal.Next(payout.HoldPayment)
	po, _ := p.Withdraw(ctx, payout.WithdrawRequest{PayoutID: "w-1", Actor: "giulia", Amount: decimal.NewFromInt(75000)})
	fmt.Println(po.Status)

	_ = paypal.Resolve(p.KeyFor("w-1"), payout.OutcomeSucceeded) // PayPal releases it
	// The webhook: PayPal echoes the key the program sent (sender_item_id).
	paid := payout.RecordOutcomeRequest{Provider: "paypal", Key: p.KeyFor("w-1"), Reference: "PP-1",
		Outcome: payout.OutcomeSucceeded, At: clock.Now()}
	paid.EventID = "WH-1" // the delivery's ID
	po, _ = p.RecordOutcome(ctx, paid)
	fmt.Println(po.Status, po.Reference, "replayed:", po.Replayed)
	po, _ = p.RecordOutcome(ctx, paid)
	fmt.Println(po.Status, "replayed:", po.Replayed)

	late := payout.RecordOutcomeRequest{EventID: "WH-0", Provider: "paypal", PayoutID: "w-1", Outcome: payout.OutcomeHeld, At: clock.Now().Add(-time.Minute)}
	po, _ = p.RecordOutcome(ctx, late)
	fmt.Println(po.Status)

	_, err = p.RecordOutcome(ctx, payout.RecordOutcomeRequest{EventID: "WH-2", Provider: "paypal", PayoutID: "w-1", Outcome: payout.OutcomeFailed})
	fmt.Println(errors.Is(err, payout.ErrOutcomeContradiction)) // failed after paid: reconciled by hand
	po, _ = p.Retry(ctx, payout.RetryRequest{PayoutID: "w-1"})  // a poll: settled already, nothing moves
	b, _ := l.Balance(ctx, "member:giulia", "RUBY")
	s, _ := l.Balance(ctx, payout.SettlementAccount("paypal"), "EUR")
	fmt.Println(po.Status, "giulia:", b.Posted, "RUBY; settled", s.Posted.StringFixed(2), "EUR; PayPal paid", paypal.Paid("EUR").StringFixed(2))
	// Output:
	// held
	// paid PP-1 replayed: false
	// paid replayed: true
	// paid
	// true
	// paid giulia: 0 RUBY; settled 7.20 EUR; PayPal paid 7.20
}
