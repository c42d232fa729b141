package payout_test

import (
	"context"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
	"github.com/rewardkit/rewardkit/ledger/memstore"
	"github.com/rewardkit/rewardkit/payout"
)

// Payout states as PayPal reports them: a payment nobody claims comes back
// to the member after 30 days (unclaimed_return_after), even before
// PayPal says RETURNED, and once only; a paid payment PayPal later
// reverses is clawed back from the member, the part they no longer have
// left as their debt, which their next reward repays first.
func Example_payoutStates() {
	ctx := context.Background()
	clock := ledgertest.NewClock(time.Date(2020, 6, 8, 9, 0, 0, 0, time.UTC))
	l := ledger.New(memstore.New(), ledger.WithClock(clock))
	paypal := payout.NewMemoryProvider(clock)
	paypal.SetReturnAfter(45 * 24 * time.Hour) // slower than the rule
	p, err := payout.New(ctx, l, payout.DefaultRules(), paypal)
	if err != nil {
		panic(err)
	}
	_, _ = l.OpenAccount(ctx, ledger.AccountSpec{Address: ledger.World, Overdraft: ledger.Overdraft{Unbounded: true}})
	_, _ = l.OpenAccount(ctx, ledger.AccountSpec{Address: "member:giulia"})
	_, _ = l.Transfer(ctx, "rewards", ledger.World, "member:giulia", "RUBY", decimal.NewFromInt(100000))
	_, _ = p.LinkAccount(ctx, payout.LinkAccountRequest{Actor: "giulia", Account: "giulia@example.com"})
	wallet := func() string {
		b, _ := l.Balance(ctx, "member:giulia", "RUBY")
		return fmt.Sprintf("posted %s, available %s", b.Posted, b.Available)
	}

	paypal.Next(payout.LeaveUnclaimed)
	po, _ := p.Withdraw(ctx, payout.WithdrawRequest{PayoutID: "w-1", Actor: "giulia", Amount: decimal.NewFromInt(80000)})
	fmt.Println(po.Status, "|", wallet())
	clock.Advance(30 * 24 * time.Hour)
	rep, _ := p.Tick(ctx)
	po, _ = p.Get(ctx, "w-1")
	fmt.Println(rep.IDs(payout.TickReturned), po.Status, "|", wallet())
	po, _ = p.RecordOutcome(ctx, payout.RecordOutcomeRequest{EventID: "WH-1", Provider: "paypal", PayoutID: "w-1",
		Outcome: payout.OutcomeReturned}) // PayPal's own RETURNED, later: nothing moves
	fmt.Println(po.Status, "|", wallet())

	po, _ = p.Withdraw(ctx, payout.WithdrawRequest{PayoutID: "w-2", Actor: "giulia", Amount: decimal.NewFromInt(80000)})
	fmt.Println(po.Status, "|", wallet())
	_, _ = l.Transfer(ctx, "shop", "member:giulia", ledger.World, "RUBY", decimal.NewFromInt(15000)) // spent
	_ = paypal.Reverse(p.KeyFor("w-2"))
	po, _ = p.RecordOutcome(ctx, payout.RecordOutcomeRequest{EventID: "WH-2", Provider: "paypal", PayoutID: "w-2",
		Outcome: payout.OutcomeReversed})
	fmt.Println(po.Status, "recovered", po.Recovered, "debt", po.Debt, "|", wallet())

	_ = l.Update(ctx, func(w *ledger.Writer) error { // her next reward, through kit.Credit
		res, err := kit.Credit(w, kit.CreditRequest{Program: "referral", Key: "invite-7", Member: "giulia",
			Asset: "RUBY", Amount: decimal.NewFromInt(100000), From: ledger.World})
		fmt.Println("reward: repaid", res.Repaid, "credited", res.Credited)
		return err
	})
	fmt.Println(wallet())
	// Output:
	// unclaimed | posted 100000, available 20000
	// [w-1] returned | posted 100000, available 100000
	// returned | posted 100000, available 100000
	// paid | posted 20000, available 20000
	// reversed recovered 5000 debt 75000 | posted 0, available 0
	// reward: repaid 75000 credited 25000
	// posted 25000, available 25000
}
