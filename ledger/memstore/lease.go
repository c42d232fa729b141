package memstore

import (
	"context"
	"fmt"
	"sync"

	"github.com/rewardkit/rewardkit/ledger/driver"
)

// Compile-time check that Store offers leases in the shape
// ledger/scheduler looks for (its Leaser interface, spelled out here so
// that the store does not import the scheduler).
var _ interface {
	TryLease(ctx context.Context, name string) (held context.Context, release func() error, ok bool, err error)
} = (*Store)(nil)

// leaseKey names one lease of one store.
type leaseKey struct {
	s    *Store
	name string
}

// leases are the leases held in this process. An entry lives only while
// its lease is held, so the table stays as small as the leases in use and
// keeps no closed store alive.
var leases = struct {
	mu   sync.Mutex
	held map[leaseKey]bool
}{held: map[leaseKey]bool{}}

// TryLease takes the lease called name on this store if no one holds it,
// without waiting: ok is false (and err nil) while another holder has it.
// A lease is per store and per name; everything that shares the store
// shares it, which with an in-memory store means one process.
//
// When ok, held is a context derived from ctx for the holder's work: it
// ends when ctx does or when release is called (an in-process lease is
// never lost otherwise). release gives the lease up; it must be called
// once the work is done, and later calls do nothing. A closed store
// refuses with driver.ErrClosed.
func (s *Store) TryLease(ctx context.Context, name string) (held context.Context, release func() error, ok bool, err error) {
	if err := s.mu.rlock(ctx); err != nil {
		return nil, nil, false, fmt.Errorf("memstore: lease %q: waiting for the read lock: %w", name, err)
	}
	closed := s.closed
	s.mu.runlock()
	if closed {
		return nil, nil, false, driver.ErrClosed
	}
	key := leaseKey{s, name}
	leases.mu.Lock()
	taken := leases.held[key]
	if !taken {
		leases.held[key] = true
	}
	leases.mu.Unlock()
	if taken {
		return nil, nil, false, nil
	}
	held, cancel := context.WithCancel(ctx)
	release = sync.OnceValue(func() error {
		cancel()
		leases.mu.Lock()
		delete(leases.held, key)
		leases.mu.Unlock()
		return nil
	})
	return held, release, true, nil
}
