package storetest_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/driver"
	"github.com/rewardkit/rewardkit/ledger/memstore"
)

// conflictStore loses every race: each write runs cancel (the caller's
// context ends meanwhile) and reports ledger.ErrConflict.
type conflictStore struct {
	driver.Store
	cancel context.CancelFunc
	calls  int
}

func (s *conflictStore) Update(context.Context, func(driver.Tx) error) error {
	s.calls++
	s.cancel()
	return ledger.ErrConflict
}

func (s *conflictStore) UpdateBatch(context.Context, []func(driver.Tx) error) ([]error, error) {
	s.calls++
	s.cancel()
	return nil, ledger.ErrConflict
}

// TestNoRetryAfterContextEnds: a unit of work that lost a race after its
// caller's context ended is not run again, and its error says both why it
// failed and that the context ended.
func TestNoRetryAfterContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := &conflictStore{Store: memstore.New(), cancel: cancel}
	l := ledger.New(s)

	err := l.Update(ctx, func(*ledger.Writer) error { return nil })
	require.ErrorIs(t, err, ledger.ErrConflict)
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, 1, s.calls, "Update retried after its context ended")

	s.calls = 0
	_, err = l.UpdateBatch(ctx, []func(*ledger.Writer) error{func(*ledger.Writer) error { return nil }})
	require.ErrorIs(t, err, ledger.ErrConflict)
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, 1, s.calls, "UpdateBatch retried after its context ended")
}
