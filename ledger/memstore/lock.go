package memstore

import (
	"context"
	"sync"
)

// rwLock is a readers-writer lock whose waits end when the waiter's
// context does, so that a caller's deadline bounds the time it spends
// queued behind a slow unit of work. Writers first take a one-slot
// semaphore, which orders them among themselves without waking each
// other; the one writer holding it then waits for readers to leave.
// Readers wait while a writer holds or is waiting for the lock, as with
// sync.RWMutex, so a steady stream of readers cannot starve writers.
type rwLock struct {
	writers chan struct{} // one slot: the writer that holds or is next to take the lock

	mu      sync.Mutex
	readers int
	writer  bool          // a writer holds the semaphore: waiting for readers, or holding the lock
	changed chan struct{} // closed, and replaced, whenever a waiter may now proceed
	waiters int           // goroutines waiting on changed: with none, nothing is closed or made
}

func newRWLock() *rwLock {
	return &rwLock{writers: make(chan struct{}, 1), changed: make(chan struct{})}
}

// broadcast wakes every waiter; l.mu is held.
func (l *rwLock) broadcast() {
	if l.waiters == 0 {
		return // the uncontended path allocates nothing
	}
	close(l.changed)
	l.changed = make(chan struct{})
}

// lock takes the lock for writing, or returns ctx.Err() if ctx ends
// first; then it holds nothing.
func (l *rwLock) lock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err // not a coin toss with a free slot
	}
	select {
	case l.writers <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	l.mu.Lock()
	l.writer = true
	for l.readers > 0 {
		ch := l.changed
		l.waiters++
		l.mu.Unlock()
		select {
		case <-ch:
			l.mu.Lock()
			l.waiters--
		case <-ctx.Done():
			l.mu.Lock()
			l.waiters--
			l.writer = false
			l.broadcast() // readers held back by this writer may go
			l.mu.Unlock()
			<-l.writers
			return ctx.Err()
		}
	}
	l.mu.Unlock()
	return nil
}

func (l *rwLock) unlock() {
	l.mu.Lock()
	l.writer = false
	l.broadcast()
	l.mu.Unlock()
	<-l.writers
}

// rlock takes the lock for reading, or returns ctx.Err() if ctx ends first.
func (l *rwLock) rlock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l.mu.Lock()
	for l.writer {
		ch := l.changed
		l.waiters++
		l.mu.Unlock()
		select {
		case <-ch:
			l.mu.Lock()
			l.waiters--
		case <-ctx.Done():
			l.mu.Lock()
			l.waiters--
			l.mu.Unlock()
			return ctx.Err()
		}
	}
	l.readers++
	l.mu.Unlock()
	return nil
}

func (l *rwLock) runlock() {
	l.mu.Lock()
	l.readers--
	if l.readers == 0 && l.writer {
		l.broadcast()
	}
	l.mu.Unlock()
}
