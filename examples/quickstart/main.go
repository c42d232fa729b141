// Command quickstart walks through the ledger on the in-memory store: an
// asset, accounts, a transfer and its idempotent retry, a refused
// overdraft, a hold and its capture, a conversion of rubies to euros with a
// fee, a reversal, history with running balances, and Verify.
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/driver"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
	"github.com/rewardkit/rewardkit/ledger/memstore"
)

func main() {
	if err := run(context.Background(), os.Stdout, memstore.New()); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer, store driver.Store) error {
	clock := ledgertest.NewClock(time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC))
	l := ledger.New(store, ledger.WithClock(clock))
	dec := decimal.RequireFromString
	say := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }
	show := func(account, asset string) error {
		b, err := l.Balance(ctx, account, asset)
		if err != nil {
			return err
		}
		say("    %-22s %-4s posted %10s  held %8s  available %10s", account, asset, b.Posted, b.Held, b.Available)
		return nil
	}

	say("1. Assets and accounts")
	err := l.Update(ctx, func(w *ledger.Writer) error {
		for _, a := range []ledger.Asset{ledger.RUBY, ledger.EUR} {
			if err := w.DefineAsset(a); err != nil {
				return err
			}
		}
		for _, spec := range []ledger.AccountSpec{
			{Address: ledger.World, Overdraft: ledger.Overdraft{Unbounded: true}},
			{Address: "exchange:RUBY:EUR", Overdraft: ledger.Overdraft{Unbounded: true}},
			{Address: "remainder:RUBY"}, {Address: "fees:paypal"},
			{Address: "member:giulia"}, {Address: "member:marco"},
		} {
			if _, err := w.OpenAccount(spec); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	say("    RUBY (0 decimals), EUR (2 decimals); world is the unbounded issuing account")

	say("2. A referral reward of 20,000 rubies, retried with the same key")
	t1, err := l.Transfer(ctx, "signup:marco", ledger.World, "member:giulia", "RUBY", dec("20000"))
	if err != nil {
		return err
	}
	t2, err := l.Transfer(ctx, "signup:marco", ledger.World, "member:giulia", "RUBY", dec("20000"))
	if err != nil {
		return err
	}
	say("    first call posted transaction %d; the retry returned transaction %d and posted nothing", t1.ID, t2.ID)
	if err := show("member:giulia", "RUBY"); err != nil {
		return err
	}

	say("3. Refusals write nothing")
	_, err = l.Transfer(ctx, "", "member:marco", "member:giulia", "RUBY", dec("5"))
	say("    marco has no rubies:          %v", err)
	_, err = l.Transfer(ctx, "", ledger.World, "member:giulia", "EUR", dec("0.001"))
	say("    0.001 EUR:                    %v", err)
	_, err = l.Transfer(ctx, "signup:marco", ledger.World, "member:giulia", "RUBY", dec("6000"))
	say("    same key, other amount:       %v", err)
	if !errors.Is(err, ledger.ErrIdempotencyConflict) {
		return fmt.Errorf("expected an idempotency conflict, got %v", err)
	}

	say("4. A hold of 8,000 rubies, captured in part")
	h, err := l.Hold(ctx, ledger.HoldRequest{Key: "hold:1", Account: "member:giulia", Asset: "RUBY",
		Amount: dec("8000"), ExpiresAt: clock.Now().Add(72 * time.Hour)})
	if err != nil {
		return err
	}
	if err := show("member:giulia", "RUBY"); err != nil {
		return err
	}
	if _, err := l.Capture(ctx, ledger.CaptureRequest{Key: "capture:1", Hold: h.ID, Final: true,
		Destinations: []ledger.Leg{{To: "member:marco", Amount: dec("3000")}}}); err != nil {
		return err
	}
	say("    captured 3,000 to marco with Final: the other 5,000 are released")
	for _, a := range []string{"member:giulia", "member:marco"} {
		if err := show(a, "RUBY"); err != nil {
			return err
		}
	}

	say("5. Giulia converts 12,345 rubies to euros: 10,000 rubies = 1 EUR, round down, PayPal fee 4%%")
	c, err := l.Convert(ctx, ledger.ConversionRequest{Key: "convert:1", From: "member:giulia", To: "member:giulia",
		Amount: dec("12345"), Rule: ledger.ConversionRule{
			From: "RUBY", To: "EUR", Rate: ledger.MustRate("1/10000"), Rounding: ledger.RoundDown,
			FeeRate: dec("0.04"), FeeRounding: ledger.RoundHalfUp,
			Exchange: "exchange:RUBY:EUR", Remainder: "remainder:RUBY", FeeAccount: "fees:paypal",
		}})
	if err != nil {
		return err
	}
	say("    in %s RUBY -> gross %s EUR, fee %s EUR, net %s EUR; %s RUBY left over went to remainder:RUBY",
		c.In, c.Gross.StringFixed(2), c.Fee.StringFixed(2), c.Net.StringFixed(2), c.Remainder)
	if err := show("member:giulia", "EUR"); err != nil {
		return err
	}

	say("6. The capture to marco is reversed")
	clock.Advance(time.Hour)
	capture, err := l.TransactionByKey(ctx, "capture:1")
	if err != nil {
		return err
	}
	rev, err := l.Reverse(ctx, ledger.ReversalRequest{Key: "reverse:1", ID: capture.ID})
	if err != nil {
		return err
	}
	_, again := l.Reverse(ctx, ledger.ReversalRequest{ID: capture.ID})
	say("    transaction %d reverses %d; reversing again: %v", rev.ID, rev.Reverses, again)

	say("7. Giulia's ruby history, three entries a page")
	for cursor := uint64(0); ; {
		page, err := l.History(ctx, ledger.HistoryQuery{Account: "member:giulia", Asset: "RUBY", After: cursor, Limit: 3})
		if err != nil {
			return err
		}
		for _, e := range page.Entries {
			say("    tx %-3d %s  change %7s  balance %6s", e.Transaction, e.Time.Format("15:04"), e.Change, e.Balance)
		}
		if page.Next == 0 {
			break
		}
		cursor = page.Next
	}

	say("8. Verify")
	rep, err := l.Verify(ctx)
	if err != nil {
		return err
	}
	say("    %d transactions, %d balances, hash chain intact; totals per asset:", rep.Transactions, rep.Balances)
	for _, code := range []string{"EUR", "RUBY"} {
		say("    %-4s sums to %s", code, rep.Totals[code])
	}
	return nil
}
