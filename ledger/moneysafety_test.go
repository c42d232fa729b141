package ledger_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/driver"
	"github.com/rewardkit/rewardkit/ledger/teststore"
)

// TestOverflowingDebitsAreRefused: two debits whose sum wraps int64 from an
// account with no overdraft that holds 1 unit. The old check summed the
// net change in an int64, saw a positive wrap and skipped the floor check:
// the account ended at -2^63 and the receivers held 2^63+1 units. Issue 10
// #1, on both stores, through Post and PostBatch.
func TestOverflowingDebitsAreRefused(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixtureOn(t, open(t))
		f.transfer(t, "", ledger.World, bob, "JPY", "1")
		req := ledger.TransferRequest{Key: "wrap", Postings: []ledger.Posting{
			{From: bob, To: carol, Asset: "JPY", Amount: decimal.NewFromInt(math.MaxInt64)},
			{From: bob, To: alice, Asset: "JPY", Amount: decimal.NewFromInt(2)},
		}}
		before := f.snapshot(t)
		_, err := f.l.Post(f.ctx, req)
		require.Error(t, err)
		require.True(t, errorIsOneOf(err, ledger.ErrInsufficientFunds, ledger.ErrOverflow), "got %v", err)
		f.requireUnchanged(t, before)

		res, err := f.l.PostBatch(f.ctx, []ledger.TransferRequest{req})
		require.NoError(t, err)
		require.Error(t, res[0].Err)
		require.True(t, errorIsOneOf(res[0].Err, ledger.ErrInsufficientFunds, ledger.ErrOverflow), "got %v", res[0].Err)
		f.requireUnchanged(t, before)
		require.Equal(t, "1", f.posted(t, bob, "JPY"))
		f.requireSound(t)
	})
}

// TestIncludeHeldReachesEscrowedFunds: a transfer with IncludeHeld may take
// funds a pending hold reserves (a chargeback reaching coins escrowed for
// an open order, issue 10 #13), never the posted amount below the floor;
// the hold it leaves unfunded can be voided but not captured.
func TestIncludeHeldReachesEscrowedFunds(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixtureOn(t, open(t))
		f.transfer(t, "", ledger.World, bob, "JPY", "350")
		h, err := f.l.Hold(f.ctx, ledger.HoldRequest{Key: "order", Account: bob, Asset: "JPY",
			Amount: dec("300"), ExpiresAt: t0.Add(72 * time.Hour)})
		require.NoError(t, err)

		// Without IncludeHeld only the 50 available can go.
		before := f.snapshot(t)
		_, err = f.l.Post(f.ctx, ledger.TransferRequest{Postings: []ledger.Posting{posting(bob, ledger.World, "JPY", "350")}})
		require.ErrorIs(t, err, ledger.ErrInsufficientFunds)
		f.requireUnchanged(t, before)

		// With it, the whole posted amount, and not one unit more.
		_, err = f.l.Post(f.ctx, ledger.TransferRequest{IncludeHeld: true, Postings: []ledger.Posting{posting(bob, ledger.World, "JPY", "351")}})
		require.ErrorIs(t, err, ledger.ErrInsufficientFunds)
		f.requireUnchanged(t, before)
		_, err = f.l.Post(f.ctx, ledger.TransferRequest{Key: "chargeback", IncludeHeld: true, Postings: []ledger.Posting{posting(bob, ledger.World, "JPY", "350")}})
		require.NoError(t, err)
		b, err := f.l.Balance(f.ctx, bob, "JPY")
		require.NoError(t, err)
		require.Equal(t, "0", b.Posted.String())
		require.Equal(t, "300", b.Held.String())
		require.Equal(t, "-300", b.Available.String())
		f.requireSound(t)

		// The unfunded hold cannot be captured: that would take bob below zero.
		before = f.snapshot(t)
		_, err = f.l.Capture(f.ctx, ledger.CaptureRequest{Hold: h.ID, Destinations: []ledger.Leg{{To: alice, Amount: dec("1")}}})
		require.ErrorIs(t, err, ledger.ErrInsufficientFunds)
		f.requireUnchanged(t, before)

		// Voiding it gives nothing back: the coins are gone.
		_, err = f.l.Void(f.ctx, h.ID)
		require.NoError(t, err)
		b, err = f.l.Balance(f.ctx, bob, "JPY")
		require.NoError(t, err)
		require.Equal(t, "0", b.Available.String())
		require.Equal(t, "0", b.Held.String())
		f.requireSound(t)
	})
}

func errorIsOneOf(err error, targets ...error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}

// maxJPY is the largest amount of JPY the ledger keeps: 2^63-1 yen.
var maxJPY = decimal.NewFromInt(math.MaxInt64)

// TestAvailableBeyondInt64: an account allowed to go 2^63-1 yen below
// zero holds 10 yen and then gives up every posted yen through a transfer
// that reaches held funds. Posted - Held is then -2^63-9, which an int64
// cannot hold: Balance wrapped it to +2^63-9 and called the account rich.
// Issue 10 #1 (running balances), on both stores.
func TestAvailableBeyondInt64(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixtureOn(t, open(t))
		const deep = "member:deep"
		_, err := f.l.OpenAccount(f.ctx, ledger.AccountSpec{Address: deep, Overdraft: ledger.Overdraft{Limits: map[string]decimal.Decimal{"JPY": maxJPY}}})
		require.NoError(t, err)
		_, err = f.l.Hold(f.ctx, ledger.HoldRequest{Account: deep, Asset: "JPY", Amount: dec("10"), ExpiresAt: t0.Add(time.Hour)})
		require.NoError(t, err)
		_, err = f.l.Post(f.ctx, ledger.TransferRequest{IncludeHeld: true, Postings: []ledger.Posting{
			{From: deep, To: bob, Asset: "JPY", Amount: maxJPY}}})
		require.NoError(t, err)

		b, err := f.l.Balance(f.ctx, deep, "JPY")
		require.NoError(t, err)
		require.Equal(t, "-9223372036854775807", b.Posted.String())
		require.Equal(t, "10", b.Held.String())
		require.Equal(t, "-9223372036854775817", b.Available.String(), "available wrapped")
		f.requireSound(t)

		// Not one yen more, held or not.
		before := f.snapshot(t)
		_, err = f.l.Post(f.ctx, ledger.TransferRequest{IncludeHeld: true, Postings: []ledger.Posting{posting(deep, bob, "JPY", "1")}})
		require.True(t, errorIsOneOf(err, ledger.ErrInsufficientFunds, ledger.ErrOverflow), "got %v", err)
		f.requireUnchanged(t, before)
	})
}

// TestCaptureLegsBeyondInt64: a capture whose destinations add up beyond
// 2^63-1 is refused as an overflow and writes nothing. Issue 10 #1
// (capture totals).
func TestCaptureLegsBeyondInt64(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixtureOn(t, open(t))
		f.transfer(t, "", ledger.World, bob, "JPY", maxJPY.String())
		h, err := f.l.Hold(f.ctx, ledger.HoldRequest{Account: bob, Asset: "JPY", Amount: maxJPY, ExpiresAt: t0.Add(time.Hour)})
		require.NoError(t, err)
		before := f.snapshot(t)
		_, err = f.l.Capture(f.ctx, ledger.CaptureRequest{Hold: h.ID, Destinations: []ledger.Leg{
			{To: alice, Amount: maxJPY}, {To: carol, Amount: dec("2")}}})
		require.ErrorIs(t, err, ledger.ErrOverflow)
		f.requireUnchanged(t, before)
		_, err = f.l.Capture(f.ctx, ledger.CaptureRequest{Hold: h.ID, Final: true, Destinations: []ledger.Leg{
			{To: alice, Amount: maxJPY.Sub(dec("1"))}, {To: carol, Amount: dec("1")}}})
		require.NoError(t, err)
		require.Equal(t, "0", f.posted(t, bob, "JPY"))
		f.requireSound(t)
	})
}

// TestPostBatchOverflowIsolated: in one batch, a transfer that would carry
// a balance past 2^63-1 is refused as an overflow while its neighbours
// commit, and the ledger still verifies. Issue 10 #1, through PostBatch on
// both stores.
func TestPostBatchOverflowIsolated(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixtureOn(t, open(t))
		res, err := f.l.PostBatch(f.ctx, []ledger.TransferRequest{
			{Key: "fill", Postings: []ledger.Posting{{From: ledger.World, To: bob, Asset: "JPY", Amount: maxJPY}}},
			{Key: "past", Postings: []ledger.Posting{posting(ledger.World, bob, "JPY", "1")}},
			{Key: "past-two", Postings: []ledger.Posting{posting(ledger.World, carol, "JPY", "5"), posting(ledger.World, bob, "JPY", "1")}},
			{Key: "other", Postings: []ledger.Posting{posting(alice, carol, "RUBY", "7")}},
		})
		require.NoError(t, err)
		require.NoError(t, res[0].Err)
		require.ErrorIs(t, res[1].Err, ledger.ErrOverflow)
		require.ErrorIs(t, res[2].Err, ledger.ErrOverflow)
		require.NoError(t, res[3].Err)
		require.Equal(t, maxJPY.String(), f.posted(t, bob, "JPY"))
		require.Equal(t, "7", f.posted(t, carol, "RUBY"))
		require.Equal(t, "0", f.posted(t, carol, "JPY"))
		_, err = f.l.TransactionByKey(f.ctx, "past-two")
		require.ErrorIs(t, err, ledger.ErrNotFound)
		f.requireSound(t)
	})
}

// TestVerifyTotalsBeyondInt64: two issuers each put 2^63-1 yen into
// circulation; the balances' partial sums leave the int64 range although
// every asset sums to zero. Verify sums in 128 bits and reports zero.
// Issue 10 #1 (Verify's totals).
func TestVerifyTotalsBeyondInt64(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixtureOn(t, open(t))
		_, err := f.l.OpenAccount(f.ctx, ledger.AccountSpec{Address: "mint", Overdraft: ledger.Overdraft{Unbounded: true}})
		require.NoError(t, err)
		f.transfer(t, "", ledger.World, alice, "JPY", maxJPY.String())
		f.transfer(t, "", "mint", bob, "JPY", maxJPY.String())
		rep := f.requireSound(t)
		require.True(t, rep.Totals["JPY"].IsZero())
	})
}

// TestVerifyRefusesWrappingJournal: a journal forged so that a balance
// wraps past 2^63-1 (two credits of 2^63-1 and 2, the running balances
// written as the wrapped values, the hash chain recomputed) and whose
// stored balances wrap the same way. Summed in int64 the replay matched
// every running balance and the asset summed to zero, so Verify passed;
// checked, it is a break. Issue 10 #1 (Verify cannot be fooled), on both
// stores.
func TestVerifyRefusesWrappingJournal(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		store := open(t)
		ctx := context.Background()
		max := int64(math.MaxInt64)
		wrapped := func(a, b int64) int64 { return int64(uint64(a) + uint64(b)) }
		err := store.Update(ctx, func(tx driver.Tx) error {
			if err := tx.PutAsset(driver.Asset(ledger.JPY)); err != nil {
				return err
			}
			for _, a := range []string{ledger.World, "member:rich"} {
				if err := tx.PutAccount(driver.Account{Address: a, Unbounded: true, CreatedAt: t0}); err != nil {
					return err
				}
			}
			var head driver.Head
			world, rich := int64(0), int64(0)
			for i, u := range []int64{max, 2} {
				world, rich = wrapped(world, -u), wrapped(rich, u)
				st := &driver.Transaction{ID: uint64(i + 1), Kind: driver.KindTransfer, Time: t0.UnixNano(),
					Postings: []driver.Posting{{From: ledger.World, To: "member:rich", Asset: "JPY", Units: u, FromAfter: world, ToAfter: rich}}}
				st.Hash, _ = driver.ChainHash(head.Hash, st, nil)
				if err := tx.AppendTransaction(st); err != nil {
					return err
				}
				head = driver.Head{ID: st.ID, Hash: st.Hash, Time: st.Time}
			}
			keys := []driver.BalanceKey{{Address: ledger.World, Asset: "JPY"}, {Address: "member:rich", Asset: "JPY"}}
			if _, err := tx.LockBalances(keys); err != nil {
				return err
			}
			return tx.PutBalances([]driver.Balance{
				{Address: ledger.World, Asset: "JPY", Posted: world}, {Address: "member:rich", Asset: "JPY", Posted: rich}})
		})
		require.NoError(t, err)
		_, err = ledger.New(store).Verify(ctx)
		require.ErrorIs(t, err, ledger.ErrVerify)
		require.Contains(t, err.Error(), "int64 range")
	})
}
