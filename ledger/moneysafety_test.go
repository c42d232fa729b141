package ledger_test

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
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
