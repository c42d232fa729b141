package pgstore

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
)

// leaseHolder returns the backend that holds the lease called name on
// schema, or 0 when none does.
func leaseHolder(t *testing.T, schema, name string) uint32 {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testDSN(t))
	require.NoError(t, err)
	defer conn.Close(ctx)
	key := uint64(leaseKey(schema, name))
	var pid int32
	err = conn.QueryRow(ctx, `SELECT pid FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND objsubid = 1
		  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
		  AND classid = $1::bigint::oid AND objid = $2::bigint::oid`,
		int64(key>>32), int64(key&0xffffffff)).Scan(&pid)
	if err == pgx.ErrNoRows {
		return 0
	}
	require.NoError(t, err)
	return uint32(pid)
}

// tryLeaseUntil tries the lease until it is taken or a few seconds pass:
// the server frees a closed session's locks a moment after the close.
func tryLeaseUntil(t *testing.T, s *Store, name string) func() error {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, release, ok, err := s.TryLease(context.Background(), name)
		require.NoError(t, err)
		if ok {
			return release
		}
		require.True(t, time.Now().Before(deadline), "lease %q not free after 5 s", name)
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLeaseAcrossStores: two stores on one schema (two processes, as far
// as PostgreSQL can tell: two sessions) share a lease, which one holds at
// a time; a store on another schema, or another name, is another lease.
// release unlocks at once.
func TestLeaseAcrossStores(t *testing.T) {
	schema := newSchema(t)
	a, b := openStore(t, schema), openStore(t, schema)
	other := newStore(t)
	ctx := context.Background()

	held, release, ok, err := a.TryLease(ctx, "sched")
	require.NoError(t, err)
	require.True(t, ok)
	require.NotZero(t, leaseHolder(t, schema, "sched"), "an advisory lock in pg_locks")
	_, _, ok, err = b.TryLease(ctx, "sched")
	require.NoError(t, err)
	require.False(t, ok, "held by the other store")
	_, _, ok, err = a.TryLease(ctx, "sched")
	require.NoError(t, err)
	require.False(t, ok, "held, also for the holder's own store: each lease has a session of its own")

	_, releaseOther, ok, err := other.TryLease(ctx, "sched")
	require.NoError(t, err)
	require.True(t, ok, "another schema is another lease")
	require.NoError(t, releaseOther())
	_, releaseName, ok, err := b.TryLease(ctx, "other")
	require.NoError(t, err)
	require.True(t, ok, "another name is another lease")
	require.NoError(t, releaseName())

	require.NoError(t, release())
	require.ErrorIs(t, held.Err(), context.Canceled)
	require.NoError(t, release(), "a second release does nothing")
	require.Zero(t, leaseHolder(t, schema, "sched"), "unlocked by release")
	_, releaseB, ok, err := b.TryLease(ctx, "sched")
	require.NoError(t, err)
	require.True(t, ok, "free at once after release")
	require.NoError(t, releaseB())
}

// TestLeaseLostWithConnection: the lease's backend is terminated (an
// operator, a failover): the server frees the lock, and the holder's
// context ends at once with a cause that says so, so that the holder
// stops before another takes the lease.
func TestLeaseLostWithConnection(t *testing.T) {
	schema := newSchema(t)
	a, b := openStore(t, schema), openStore(t, schema)
	held, release, ok, err := a.TryLease(context.Background(), "sched")
	require.NoError(t, err)
	require.True(t, ok)
	pid := leaseHolder(t, schema, "sched")
	require.NotZero(t, pid)

	terminate(t, pid)
	select {
	case <-held.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the holder's context did not end when the lease's connection died")
	}
	require.ErrorContains(t, context.Cause(held), `pgstore: lease "sched" lost with its connection`)
	releaseB := tryLeaseUntil(t, b, "sched")
	require.NoError(t, release(), "release after a loss has nothing to unlock")
	require.NoError(t, releaseB())
}

// TestLeaseEndsWithStore: closing the store ends its leases (the holder's
// context, with ledger.ErrClosed as the cause) and frees them; a closed
// store takes none.
func TestLeaseEndsWithStore(t *testing.T) {
	schema := newSchema(t)
	a, b := openStore(t, schema), openStore(t, schema)
	held, release, ok, err := a.TryLease(context.Background(), "sched")
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, a.Close())
	select {
	case <-held.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the holder's context did not end when the store closed")
	}
	require.ErrorIs(t, context.Cause(held), ledger.ErrClosed)
	releaseB := tryLeaseUntil(t, b, "sched")
	require.NoError(t, release())
	require.NoError(t, releaseB())

	_, _, ok, err = a.TryLease(context.Background(), "sched")
	require.ErrorIs(t, err, ledger.ErrClosed)
	require.False(t, ok)
}
