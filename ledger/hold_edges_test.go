package ledger_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/driver"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
	"github.com/rewardkit/rewardkit/ledger/memstore"
)

// TestTickPastStaleDueEntries: more stale hold-expiry entries than one
// batch (holds already closed) lie before a hold that has really expired;
// Tick must still release it.
func TestTickPastStaleDueEntries(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := ledgertest.NewClock(start)
	l := ledger.New(memstore.New(), ledger.WithClock(clock))
	require.NoError(t, l.DefineAsset(ctx, ledger.COIN))
	_, err := l.OpenAccount(ctx, ledger.AccountSpec{Address: ledger.World, Overdraft: ledger.Overdraft{Unbounded: true}})
	require.NoError(t, err)
	_, err = l.OpenAccount(ctx, ledger.AccountSpec{Address: "m:1"})
	require.NoError(t, err)
	_, err = l.Transfer(ctx, "fund", ledger.World, "m:1", "COIN", decimal.NewFromInt(1000))
	require.NoError(t, err)
	one := decimal.NewFromInt(1)
	var voided []uint64
	err = l.Update(ctx, func(w *ledger.Writer) error {
		voided = voided[:0]
		for i := 0; i < 300; i++ {
			h, err := w.Hold(ledger.HoldRequest{Account: "m:1", Asset: "COIN", Amount: one, ExpiresAt: start.Add(time.Minute)})
			if err != nil {
				return err
			}
			if _, err := w.Void(h.ID); err != nil {
				return err
			}
			voided = append(voided, h.ID)
		}
		return nil
	})
	require.NoError(t, err)
	// Leave stale entries behind, as a store that lost an unschedule would
	// (written to the store directly: the ledger keeps its own due kind to
	// itself).
	err = l.Store().Update(ctx, func(tx driver.Tx) error {
		for _, id := range voided {
			if err := tx.Schedule(driver.DueEntry{Kind: ledger.DueHoldExpiry, ID: fmt.Sprintf("%020d", id), At: start.Add(time.Minute)}); err != nil {
				return err
			}
		}
		return nil
	})
	require.NoError(t, err)
	live, err := l.Hold(ctx, ledger.HoldRequest{Account: "m:1", Asset: "COIN", Amount: one, ExpiresAt: start.Add(2 * time.Minute)})
	require.NoError(t, err)

	clock.Advance(time.Hour)
	n, err := l.Tick(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	h, err := l.HoldByID(ctx, live.ID)
	require.NoError(t, err)
	require.Equal(t, ledger.HoldExpired, h.Status)
	_, err = l.Verify(ctx)
	require.NoError(t, err)
}

// TestCaptureReplayFinalMismatch: a retry of a partial capture that now
// says Final would be told the rest was released when it was not; it is
// an idempotency conflict instead. The faithful retry replays.
func TestCaptureReplayFinalMismatch(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := ledger.New(memstore.New(), ledger.WithClock(ledgertest.NewClock(start)))
	require.NoError(t, l.DefineAsset(ctx, ledger.COIN))
	for _, s := range []ledger.AccountSpec{{Address: ledger.World, Overdraft: ledger.Overdraft{Unbounded: true}}, {Address: "fan"}, {Address: "creator"}} {
		_, err := l.OpenAccount(ctx, s)
		require.NoError(t, err)
	}
	_, err := l.Transfer(ctx, "fund", ledger.World, "fan", "COIN", decimal.NewFromInt(100))
	require.NoError(t, err)
	h, err := l.Hold(ctx, ledger.HoldRequest{Account: "fan", Asset: "COIN", Amount: decimal.NewFromInt(100), ExpiresAt: start.Add(time.Hour)})
	require.NoError(t, err)
	req := ledger.CaptureRequest{Key: "cap-1", Hold: h.ID, Destinations: []ledger.Leg{{To: "creator", Amount: decimal.NewFromInt(30)}}}
	first, err := l.Capture(ctx, req)
	require.NoError(t, err)

	final := req
	final.Final = true
	_, err = l.Capture(ctx, final)
	require.ErrorIs(t, err, ledger.ErrIdempotencyConflict)
	again, err := l.Capture(ctx, req)
	require.NoError(t, err)
	require.Equal(t, first.ID, again.ID)
	b, err := l.Balance(ctx, "fan", "COIN")
	require.NoError(t, err)
	require.Equal(t, "70", b.Held.String(), "nothing was released")

	// Once the hold is closed by a final capture, its replay is faithful.
	closeReq := ledger.CaptureRequest{Key: "cap-2", Hold: h.ID, Final: true, Destinations: []ledger.Leg{{To: "creator", Amount: decimal.NewFromInt(10)}}}
	closed, err := l.Capture(ctx, closeReq)
	require.NoError(t, err)
	replayed, err := l.Capture(ctx, closeReq)
	require.NoError(t, err)
	require.Equal(t, closed.ID, replayed.ID)
}
