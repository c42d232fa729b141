package ledger_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/teststore"
)

// TestTickEachTellsEveryHold: TickEach tells each, in order, the ID of
// every hold it released and of the one it could not, with the cause; the
// failure goes to each alone, so the returned error is nil when the run as
// a whole succeeded. A hold not yet expired is not told. On both stores.
func TestTickEachTellsEveryHold(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		store := &failHoldStore{Store: open(t)}
		f := newFixtureOn(t, store)
		var ids []string
		for _, amount := range []string{"10", "20", "30"} {
			ids = append(ids, strconv.FormatUint(f.hold(t, "", alice, "EUR", amount, time.Hour).ID, 10))
		}
		later := f.hold(t, "", alice, "EUR", "5", 3*time.Hour)
		first, err := strconv.ParseUint(ids[0], 10, 64)
		require.NoError(t, err)
		store.fail.Store(first)
		f.clock.Advance(2 * time.Hour)

		var released, failed []string
		n, err := f.l.TickEach(f.ctx, func(hold string, err error) {
			if err != nil {
				require.ErrorIs(t, err, errInjected)
				failed = append(failed, hold)
				return
			}
			released = append(released, hold)
		})
		require.NoError(t, err)
		require.Equal(t, 2, n)
		require.Equal(t, ids[1:], released)
		require.Equal(t, ids[:1], failed)
		h, err := f.l.HoldByID(f.ctx, later.ID)
		require.NoError(t, err)
		require.Equal(t, ledger.HoldPending, h.Status)
		f.requireSound(t)

		// The run as a whole failing is the returned error.
		ctx, cancel := context.WithCancel(f.ctx)
		cancel()
		_, err = f.l.TickEach(ctx, func(string, error) { t.Error("nothing is told when the run cannot start") })
		require.True(t, errors.Is(err, context.Canceled), "%v", err)
	})
}
