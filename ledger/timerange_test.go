package ledger_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
)

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
