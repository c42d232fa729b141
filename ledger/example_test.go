package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
	"github.com/rewardkit/rewardkit/ledger/memstore"
)

// exampleLedger returns an in-memory ledger on a manual clock with the
// given assets, World (the issuing account) and the given member accounts
// opened, each member funded with the amounts given per asset.
func exampleLedger(ctx context.Context, assets []ledger.Asset, accounts []string, funding map[string]string) (*ledger.Ledger, *ledgertest.Clock) {
	clock := ledgertest.NewClock(time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC))
	l := ledger.New(memstore.New(), ledger.WithClock(clock))
	err := l.Update(ctx, func(w *ledger.Writer) error {
		for _, a := range assets {
			if err := w.DefineAsset(a); err != nil {
				return err
			}
		}
		if _, err := w.OpenAccount(ledger.AccountSpec{Address: ledger.World, Overdraft: ledger.Overdraft{Unbounded: true}}); err != nil {
			return err
		}
		for _, addr := range accounts {
			spec := ledger.AccountSpec{Address: addr}
			if addr == "exchange:ruby-eur" || addr == "exchange:remainder" {
				spec.Overdraft.Unbounded = true // exchange accounts hold a position
			}
			if _, err := w.OpenAccount(spec); err != nil {
				return err
			}
		}
		for asset, amount := range funding {
			if _, err := w.Post(ledger.TransferRequest{Postings: []ledger.Posting{
				{From: ledger.World, To: accounts[0], Asset: asset, Amount: decimal.RequireFromString(amount)}}}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		panic(err)
	}
	return l, clock
}

// A transfer with an idempotency key: the client's retry after a timeout
// returns the first transaction and posts nothing; reusing the key for a
// different request is refused.
func ExampleLedger_Transfer() {
	ctx := context.Background()
	l, _ := exampleLedger(ctx, []ledger.Asset{ledger.EUR}, []string{"member:1"}, nil)

	amount := decimal.RequireFromString("10.00")
	first, err := l.Transfer(ctx, "topup-1", ledger.World, "member:1", "EUR", amount)
	if err != nil {
		fmt.Println(err)
		return
	}
	retry, err := l.Transfer(ctx, "topup-1", ledger.World, "member:1", "EUR", amount)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("first:", first.ID, "retry:", retry.ID)

	b, err := l.Balance(ctx, "member:1", "EUR")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("balance:", b.Posted.StringFixed(2))

	_, err = l.Transfer(ctx, "topup-1", ledger.World, "member:1", "EUR", decimal.RequireFromString("20.00"))
	fmt.Println("same key, other amount:", errors.Is(err, ledger.ErrIdempotencyConflict))
	// Output:
	// first: 1 retry: 1
	// balance: 10.00
	// same key, other amount: true
}

// A hold reserves a fan's money for a shoutout; when the video arrives,
// part of it is captured to the creator and the platform, and the rest is
// released.
func ExampleLedger_Capture() {
	ctx := context.Background()
	l, clock := exampleLedger(ctx, []ledger.Asset{ledger.EUR},
		[]string{"member:fan", "creator:7", "platform:revenue"}, map[string]string{"EUR": "50.00"})

	h, err := l.Hold(ctx, ledger.HoldRequest{Key: "shoutout-1", Account: "member:fan", Asset: "EUR",
		Amount: decimal.RequireFromString("30.00"), ExpiresAt: clock.Now().Add(72 * time.Hour)})
	if err != nil {
		fmt.Println(err)
		return
	}
	show := func(when string) {
		b, err := l.Balance(ctx, "member:fan", "EUR")
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%-9s posted %s held %s available %s\n", when, b.Posted.StringFixed(2), b.Held.StringFixed(2), b.Available.StringFixed(2))
	}
	show("held:")

	clock.Advance(24 * time.Hour)
	_, err = l.Capture(ctx, ledger.CaptureRequest{Key: "shoutout-1-capture", Hold: h.ID, Final: true, Destinations: []ledger.Leg{
		{To: "creator:7", Amount: decimal.RequireFromString("20.00")},
		{To: "platform:revenue", Amount: decimal.RequireFromString("5.00")},
	}})
	if err != nil {
		fmt.Println(err)
		return
	}
	show("captured:")

	h, err = l.HoldByID(ctx, h.ID)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("hold %s: %s captured, %s left\n", h.Status, h.Captured.StringFixed(2), h.Remaining.StringFixed(2))
	// Output:
	// held:     posted 50.00 held 30.00 available 20.00
	// captured: posted 25.00 held 0.00 available 25.00
	// hold captured: 25.00 captured, 0.00 left
}

// Rubies are converted to euros at 10,000 RUBY = 1 EUR with a 4% fee; the
// exchange account takes the rubies and pays out the euros, the fee goes
// to the platform.
func ExampleLedger_Convert() {
	ctx := context.Background()
	l, _ := exampleLedger(ctx, []ledger.Asset{ledger.RUBY, ledger.EUR},
		[]string{"member:1", "exchange:ruby-eur", "exchange:remainder", "platform:fees"}, map[string]string{"RUBY": "25000"})

	rule := ledger.ConversionRule{
		Name: "ruby-cashout", From: "RUBY", To: "EUR",
		Rate:     ledger.MustRate("1/10000"),
		Rounding: ledger.RoundDown,
		FeeRate:  decimal.RequireFromString("0.04"), FeeRounding: ledger.RoundHalfUp,
		Exchange: "exchange:ruby-eur", Remainder: "exchange:remainder", FeeAccount: "platform:fees",
	}
	c, err := l.Convert(ctx, ledger.ConversionRequest{Key: "cashout-1", Rule: rule,
		From: "member:1", To: "member:1", Amount: decimal.RequireFromString("20000")})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("rubies in:", c.In, "gross:", c.Gross.StringFixed(2), "fee:", c.Fee.StringFixed(2), "net:", c.Net.StringFixed(2))
	for _, p := range c.Transaction.Postings {
		fmt.Printf("  %-17s -> %-17s %6s %s\n", p.From, p.To, p.Amount, p.Asset)
	}
	bs, err := l.Balances(ctx, "member:1")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, b := range bs {
		fmt.Println("member:1", b.Asset, b.Posted)
	}
	// Output:
	// rubies in: 20000 gross: 2.00 fee: 0.08 net: 1.92
	//   member:1          -> exchange:ruby-eur  20000 RUBY
	//   exchange:ruby-eur -> member:1            1.92 EUR
	//   exchange:ruby-eur -> platform:fees       0.08 EUR
	// member:1 EUR 1.92
	// member:1 RUBY 5000
}

// An account's history is read a page at a time, oldest first, each entry
// with the running balance after it; Next is the cursor for the next page.
func ExampleLedger_History() {
	ctx := context.Background()
	l, clock := exampleLedger(ctx, []ledger.Asset{ledger.EUR}, []string{"member:1", "member:2"}, map[string]string{"EUR": "100.00"})
	for _, amount := range []string{"1.50", "2.25", "10.00", "0.05"} {
		clock.Advance(time.Hour)
		if _, err := l.Transfer(ctx, "", "member:1", "member:2", "EUR", decimal.RequireFromString(amount)); err != nil {
			fmt.Println(err)
			return
		}
	}

	q := ledger.HistoryQuery{Account: "member:1", Asset: "EUR", Limit: 2}
	for page := 1; ; page++ {
		p, err := l.History(ctx, q)
		if err != nil {
			fmt.Println(err)
			return
		}
		for _, e := range p.Entries {
			fmt.Printf("page %d: tx %d at %s %7s -> %6s\n", page, e.Transaction, e.Time.Format("15:04"), e.Change.StringFixed(2), e.Balance.StringFixed(2))
		}
		if p.Next == 0 {
			break
		}
		q.After = p.Next
	}
	// Output:
	// page 1: tx 1 at 09:00  100.00 -> 100.00
	// page 1: tx 2 at 10:00   -1.50 ->  98.50
	// page 2: tx 3 at 11:00   -2.25 ->  96.25
	// page 2: tx 4 at 12:00  -10.00 ->  86.25
	// page 3: tx 5 at 13:00   -0.05 ->  86.20
}

// Verify replays the journal: the hash chain, every running and stored
// balance, held amounts, limits, and that every asset sums to zero.
func ExampleLedger_Verify() {
	ctx := context.Background()
	l, _ := exampleLedger(ctx, []ledger.Asset{ledger.EUR, ledger.RUBY}, []string{"member:1", "member:2"},
		map[string]string{"EUR": "100.00", "RUBY": "500"})
	if _, err := l.Transfer(ctx, "gift-1", "member:1", "member:2", "RUBY", decimal.RequireFromString("120")); err != nil {
		fmt.Println(err)
		return
	}
	rep, err := l.Verify(ctx)
	if err != nil {
		fmt.Println("broken:", err)
		return
	}
	fmt.Println("transactions:", rep.Transactions, "balances:", rep.Balances, "head:", rep.Head.ID)
	fmt.Println("EUR sums to", rep.Totals["EUR"], "and RUBY to", rep.Totals["RUBY"])
	// Output:
	// transactions: 3 balances: 5 head: 3
	// EUR sums to 0 and RUBY to 0
}
