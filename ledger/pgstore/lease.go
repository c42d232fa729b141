package pgstore

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rewardkit/rewardkit/ledger/driver"
)

// Compile-time check that Store offers leases in the shape
// ledger/scheduler looks for (its Leaser interface, spelled out here so
// that the store does not import the scheduler).
var _ interface {
	TryLease(ctx context.Context, name string) (held context.Context, release func() error, ok bool, err error)
} = (*Store)(nil)

// leaseCloseTimeout bounds how long release waits for the server to
// confirm the unlock; past it the connection is closed, which frees the
// lock as surely (the server drops a session's locks when it ends).
const leaseCloseTimeout = 5 * time.Second

// errLeaseReleased tells the lease's watcher that release stopped it.
var errLeaseReleased = errors.New("pgstore: lease released")

// TryLease takes the lease called name if no one holds it, without
// waiting: ok is false (and err nil) while another session holds it, in
// this process or any other. The lease is a PostgreSQL session advisory
// lock (pg_try_advisory_lock) on a 64-bit hash of the store's schema and
// name, taken on a connection of its own that TryLease opens with the
// store's connection settings and keeps until release; the group-commit
// and read connections are not touched. Leases of stores on different
// schemas are distinct; the advisory lock space is the database's, shared
// with anything else that takes advisory locks in it.
//
// When ok, held is a context derived from ctx for the holder's work. It
// ends when ctx does, when release is called, or when the lease is lost:
// its connection broke (a network failure, a server restart, a backend
// terminated by an operator) or the store was closed. The server frees a
// session's locks when the session ends, so another holder may then take
// the lease: the holder must stop, and context.Cause(held) says why. A
// break is noticed as soon as the connection reports it (the watcher
// blocks on it reading); a network partition is noticed only when TCP
// gives up, and until then the server keeps the session and the lock.
// release unlocks and closes the connection; it must be called once the
// work is done, even after a loss, and later calls do nothing.
//
// A session lock needs a session: behind a pooler in transaction mode
// (PgBouncer) the lease would not hold.
func (s *Store) TryLease(ctx context.Context, name string) (held context.Context, release func() error, ok bool, err error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, false, err
	}
	if s.isClosed() {
		return nil, nil, false, driver.ErrClosed
	}
	cfg := s.cfg.Copy()
	if _, set := cfg.RuntimeParams["application_name"]; !set {
		cfg.RuntimeParams["application_name"] = "rewardkit lease"
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, nil, false, fmt.Errorf("pgstore: lease %q: connect: %w", name, err)
	}
	key := leaseKey(s.opts.schema, name)
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&ok); err != nil || !ok {
		closeConn(conn)
		if err != nil {
			return nil, nil, false, fmt.Errorf("pgstore: lease %q: %w", name, mapErr(err))
		}
		return nil, nil, false, nil
	}

	held, lose := context.WithCancelCause(ctx)
	watch, stopWatch := context.WithCancelCause(s.ctx) // s.ctx ends with Close
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			err := conn.PgConn().WaitForNotification(watch)
			if err == nil {
				continue // a notification, though the connection listens to none
			}
			if errors.Is(context.Cause(watch), errLeaseReleased) {
				return // release unlocks and closes
			}
			if s.ctx.Err() != nil {
				lose(fmt.Errorf("pgstore: lease %q: the store closed: %w", name, driver.ErrClosed))
			} else {
				lose(fmt.Errorf("pgstore: lease %q lost with its connection: %w", name, err))
			}
			closeConn(conn) // frees the lock if the session still stands
			return
		}
	}()
	release = sync.OnceValue(func() error {
		lose(nil)
		stopWatch(errLeaseReleased)
		<-watched
		if conn.IsClosed() {
			return nil // lost: the session, and its lock, are gone
		}
		defer closeConn(conn)
		ctx, cancel := context.WithTimeout(context.Background(), leaseCloseTimeout)
		defer cancel()
		var unlocked bool
		if err := conn.QueryRow(ctx, "SELECT pg_advisory_unlock($1)", key).Scan(&unlocked); err != nil {
			return fmt.Errorf("pgstore: lease %q: unlock (closing its connection frees it): %w", name, err)
		}
		if !unlocked {
			return fmt.Errorf("pgstore: lease %q: the lock was no longer held at release", name)
		}
		return nil
	})
	return held, release, true, nil
}

// leaseKey is the advisory lock key of the lease called name on a
// schema. The prefix keeps it apart from migrationLockKey's.
func leaseKey(schema, name string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte("rewardkit/ledger/pgstore/lease:" + schema + "\x00" + name))
	return int64(h.Sum64())
}

// closeConn closes a lease's connection, waiting a bounded time for the
// server to hear it.
func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), leaseCloseTimeout)
	defer cancel()
	_ = conn.Close(ctx)
}
