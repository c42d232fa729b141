package memstore_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/memstore"
)

// TestLease: a lease is held by one holder at a time per store and name;
// release frees it and ends the holder's context; another name or another
// store is another lease.
func TestLease(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	held, release, ok, err := s.TryLease(ctx, "sched")
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, held.Err())

	_, _, ok, err = s.TryLease(ctx, "sched")
	require.NoError(t, err)
	require.False(t, ok, "held by the first holder")

	_, releaseOther, ok, err := s.TryLease(ctx, "other")
	require.NoError(t, err)
	require.True(t, ok, "another name is another lease")
	require.NoError(t, releaseOther())
	_, releaseElsewhere, ok, err := memstore.New().TryLease(ctx, "sched")
	require.NoError(t, err)
	require.True(t, ok, "another store is another lease")
	require.NoError(t, releaseElsewhere())

	require.NoError(t, release())
	require.ErrorIs(t, held.Err(), context.Canceled, "release ends the holder's context")
	require.NoError(t, release(), "a second release does nothing")

	held2, release2, ok, err := s.TryLease(ctx, "sched")
	require.NoError(t, err)
	require.True(t, ok, "free again after release")
	require.NoError(t, held2.Err())
	require.NoError(t, release2())
}

// TestLeaseRefusals: a cancelled context and a closed store take no lease.
func TestLeaseRefusals(t *testing.T) {
	s := memstore.New()
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, ok, err := s.TryLease(cancelled, "sched")
	require.ErrorIs(t, err, context.Canceled)
	require.False(t, ok)

	require.NoError(t, s.Close())
	_, _, ok, err = s.TryLease(context.Background(), "sched")
	require.ErrorIs(t, err, ledger.ErrClosed)
	require.False(t, ok)
}

// TestLeaseHeldContextFollowsCaller: the holder's context ends with the
// caller's; the lease stays held until release.
func TestLeaseHeldContextFollowsCaller(t *testing.T) {
	s := memstore.New()
	ctx, cancel := context.WithCancel(context.Background())
	held, release, ok, err := s.TryLease(ctx, "sched")
	require.NoError(t, err)
	require.True(t, ok)
	cancel()
	<-held.Done()
	_, _, ok, err = s.TryLease(context.Background(), "sched")
	require.NoError(t, err)
	require.False(t, ok, "still held until release")
	require.NoError(t, release())
}
