package ledger_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/teststore"
)

var year2300 = time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)

// TestHoldExpiringIn2300IsRefused: times were kept as int64 Unix
// nanoseconds without a check, so a hold asked to expire in 2300 was
// stored as expiring in 1715, reported created, and released by the next
// Tick. An expiry outside [MinTime, MaxTime) is now ErrInvalidTime and
// writes nothing; the last instant in range is kept exactly. Issue 10 #3,
// on both stores.
func TestHoldExpiringIn2300IsRefused(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixtureOn(t, open(t))
		before := f.snapshot(t)
		for _, at := range []time.Time{year2300, ledger.MaxTime, {}, ledger.MinTime.Add(-time.Nanosecond),
			time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)} {
			_, err := f.l.Hold(f.ctx, ledger.HoldRequest{Key: "h", Account: alice, Asset: "EUR", Amount: dec("10"), ExpiresAt: at})
			require.ErrorIs(t, err, ledger.ErrInvalidTime, "expiry %s", at)
			f.requireUnchanged(t, before)
		}
		last := ledger.MaxTime.Add(-time.Nanosecond)
		h, err := f.l.Hold(f.ctx, ledger.HoldRequest{Key: "h", Account: alice, Asset: "EUR", Amount: dec("10"), ExpiresAt: last})
		require.NoError(t, err)
		require.True(t, h.ExpiresAt.Equal(last), "stored as %s", h.ExpiresAt)
		f.clock.Advance(24 * time.Hour)
		n, err := f.l.Tick(f.ctx)
		require.NoError(t, err)
		require.Zero(t, n, "a hold expiring in 2199 was released")
		got, err := f.l.HoldByID(f.ctx, h.ID)
		require.NoError(t, err)
		require.Equal(t, ledger.HoldPending, got.Status)
		require.True(t, got.ExpiresAt.Equal(last))
	})
}

// TestBalanceAtBeyondRangeIsRefused: BalanceAt(2300) read the balance as
// of 1715 (zero); a time outside [MinTime, MaxTime) is now ErrInvalidTime.
// Issue 10 #3, on both stores.
func TestBalanceAtBeyondRangeIsRefused(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixtureOn(t, open(t))
		for _, at := range []time.Time{year2300, ledger.MaxTime, {}, ledger.MinTime.Add(-time.Nanosecond)} {
			_, err := f.l.BalanceAt(f.ctx, alice, "EUR", at)
			require.ErrorIs(t, err, ledger.ErrInvalidTime, "at %s", at)
		}
		got, err := f.l.BalanceAt(f.ctx, alice, "EUR", ledger.MaxTime.Add(-time.Nanosecond))
		require.NoError(t, err)
		require.Equal(t, "100", got.String())
		got, err = f.l.BalanceAt(f.ctx, alice, "EUR", ledger.MinTime)
		require.NoError(t, err)
		require.True(t, got.IsZero())
	})
}

// TestClockOutsideRangeFailsTheUnitOfWork: a clock that reads a time the
// ledger cannot keep (2300, the zero time, before 1970) fails every unit
// of work with ErrInvalidTime before anything is written, instead of
// stamping a wrapped time on the journal; each request of a batch is
// refused alike, and Tick does nothing. Issue 10 #3, on both stores.
func TestClockOutsideRangeFailsTheUnitOfWork(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixtureOn(t, open(t))
		h := f.hold(t, "", alice, "EUR", "10", time.Hour)
		before := f.snapshot(t)
		for _, at := range []time.Time{year2300, {}, ledger.MinTime.Add(-time.Second)} {
			f.clock.Set(at)
			_, err := f.l.Transfer(f.ctx, "k", alice, bob, "EUR", dec("1"))
			require.ErrorIs(t, err, ledger.ErrInvalidTime, "clock %s", at)
			ran := false
			err = f.l.Update(f.ctx, func(w *ledger.Writer) error { ran = true; return nil })
			require.ErrorIs(t, err, ledger.ErrInvalidTime)
			require.False(t, ran, "the unit of work ran at %s", at)
			res, err := f.l.PostBatch(f.ctx, []ledger.TransferRequest{{Postings: []ledger.Posting{posting(alice, bob, "EUR", "1")}}})
			require.NoError(t, err)
			require.ErrorIs(t, res[0].Err, ledger.ErrInvalidTime)
			n, err := f.l.Tick(f.ctx)
			require.ErrorIs(t, err, ledger.ErrInvalidTime)
			require.Zero(t, n)
			f.requireUnchanged(t, before)
		}
		f.clock.Set(t0.Add(2 * time.Hour))
		n, err := f.l.Tick(f.ctx)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		got, err := f.l.HoldByID(f.ctx, h.ID)
		require.NoError(t, err)
		require.Equal(t, ledger.HoldExpired, got.Status)
	})
}

// TestScheduleAndDueTimesAreChecked: a program's due times are kept like
// the ledger's own: one outside [MinTime, MaxTime) is ErrInvalidTime, and
// the ledger's own due kind is not the caller's to change. Issue 10 #3.
func TestScheduleAndDueTimesAreChecked(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixtureOn(t, open(t))
		before := f.snapshot(t)
		err := f.l.Update(f.ctx, func(w *ledger.Writer) error { return w.Schedule("order", "1", year2300) })
		require.ErrorIs(t, err, ledger.ErrInvalidTime)
		err = f.l.Update(f.ctx, func(w *ledger.Writer) error { return w.Schedule(ledger.DueHoldExpiry, "1", t0) })
		require.ErrorIs(t, err, ledger.ErrInvalidTransaction)
		err = f.l.Update(f.ctx, func(w *ledger.Writer) error { return w.Unschedule(ledger.DueHoldExpiry, "1") })
		require.ErrorIs(t, err, ledger.ErrInvalidTransaction)
		f.requireUnchanged(t, before)
		err = f.l.View(f.ctx, func(r *ledger.Reader) error { _, err := r.Due("order", year2300, 10); return err })
		require.ErrorIs(t, err, ledger.ErrInvalidTime)

		last := ledger.MaxTime.Add(-time.Nanosecond)
		require.NoError(t, f.l.Update(f.ctx, func(w *ledger.Writer) error { return w.Schedule("order", "1", last) }))
		err = f.l.View(f.ctx, func(r *ledger.Reader) error {
			due, err := r.Due("order", last, 10)
			require.NoError(t, err)
			require.Len(t, due, 1)
			require.True(t, due[0].At.Equal(last))
			return nil
		})
		require.NoError(t, err)
	})
}

func TestTimeRange(t *testing.T) {
	require.NoError(t, ledger.ValidateTime("t", ledger.MinTime))
	require.NoError(t, ledger.ValidateTime("t", ledger.MaxTime.Add(-time.Nanosecond)))
	for _, bad := range []time.Time{{}, ledger.MinTime.Add(-time.Nanosecond), ledger.MaxTime,
		time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), time.Unix(0, 1<<63-1)} {
		require.ErrorIs(t, ledger.ValidateTime("t", bad), ledger.ErrInvalidTime, bad.String())
	}
	require.NoError(t, ledger.ValidateDuration("d", ledger.MaxDuration))
	require.ErrorIs(t, ledger.ValidateDuration("d", ledger.MaxDuration+1), ledger.ErrInvalidTime)
	require.ErrorIs(t, ledger.ValidateDuration("d", -1), ledger.ErrInvalidTime)

	// A time in range plus MaxDuration never wraps int64 nanoseconds.
	end, err := ledger.AddDuration("d", ledger.MinTime, ledger.MaxDuration)
	require.NoError(t, err)
	require.Equal(t, ledger.MinTime.Add(ledger.MaxDuration).UnixNano(), end.UnixNano())
	_, err = ledger.AddDuration("d", ledger.MaxTime.Add(-time.Hour), 2*time.Hour)
	require.ErrorIs(t, err, ledger.ErrInvalidTime)
	_, err = ledger.AddDuration("d", time.Now(), 236*365*24*time.Hour) // payout's hold_for of 236 years
	require.ErrorIs(t, err, ledger.ErrInvalidTime)
	require.Less(t, ledger.MaxTime.Add(ledger.MaxDuration).Year(), 2262)
}
