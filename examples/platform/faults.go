package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	storedriver "github.com/rewardkit/rewardkit/ledger/driver"
	"github.com/rewardkit/rewardkit/ledger/scheduler"
)

// A faultStore is a storedriver.Store that injects faults, drawn from a PRNG
// seeded from the simulation's seed, into the store it wraps — the faults
// a service meets against a real database:
//
//   - a unit of work that fails before its commit: Update runs fn and
//     then aborts, so nothing is written (UpdateBatch fails at BEGIN,
//     before running anything, since one item cannot abort a batch);
//   - a lost reply: the unit of work commits, then the caller gets an
//     error as if the connection died before the reply came back;
//   - a slow commit: the commit is delayed by a short real sleep (at most
//     maxSlowCommit) while the unit of work still holds what it locked;
//   - a re-run read: a View runs fn, loses the answer and reads again, so
//     fn runs twice on two snapshots.
//
// The errors wrap storedriver.ErrConflict (the value of ledger.ErrConflict), so
// ledger.Update and UpdateBatch run the whole unit of work again, as a
// service retries an event with the same event ID after a timeout. (A real
// store cannot tell whether a commit whose reply it lost went through, so it
// returns some other error and the service retries the call; wrapping
// ErrConflict makes the ledger do that retry in place, without touching the
// callers.) A fault never changes an outcome, it only forces a retry: after
// a lost reply the retry meets an event already done, and the program's
// event-once must replay it without writing anything. The store checks
// exactly that: a unit of work re-run after a lost reply that writes again
// (a transaction, a hold, a capture, a new or changed record) is reported,
// with the program function that ran it, by DoubleWrites. The simulation
// counts money written twice as a broken invariant and state written twice
// as a note.
//
// A batch whose reply was lost is run again whole, each item with the
// arguments it had: a kit.EachDue batch re-runs its items on the due
// entries read before the first run, exactly as a second service instance
// whose Tick read the same entries before the first one committed. An
// item must therefore check that its entry is still due.
//
// ledger.View does not retry, and a read has no effect to lose, so a read
// fault is retried here, by running fn again, as a service retries a
// failed query: what it checks is that every read fn can run twice.
//
// Bound: never more than maxFaultRun of the faults that force a retry
// among any faultWindow consecutive store calls, so a unit of work never
// exhausts ledger.WithRetries (8 by default), even when two goroutines
// deliver the same event at once (a call and its racing duplicate make
// far fewer than faultWindow store calls between them). Slow commits are
// not bounded: they force nothing.
//
// Determinism: the draws happen in the order the store is called. Where
// the simulation races two goroutines the order of their calls varies, so
// which call gets which fault — and the counts — may vary from run to run;
// the end state does not, since no fault changes an outcome.
type faultStore struct {
	inner storedriver.Store
	rate  float64

	mu     sync.Mutex
	rng    *rand.Rand
	script []fault           // for tests: the faults of the next calls, before any draw
	recent [faultWindow]bool // which of the last calls got a retry-forcing fault
	next   int               // index in recent of the oldest decision
	inRun  int               // retry-forcing faults in recent
	counts map[string]int64  // injected faults by kind
	// pending maps the call stack of a unit of work whose reply was lost
	// to the program function that ran it; the next commit from the same
	// stack is its retry (or its racing duplicate), which must write
	// nothing.
	pending map[string]string
	doubles map[string]*doubleWrite
}

// doubleWrite is what re-runs of one program function wrote after their
// reply was lost.
type doubleWrite struct {
	Caller       string
	Runs         int64 // re-runs that wrote
	Transactions int64
	Holds        int64 // holds created or changed (captured, voided)
	Records      int64 // records created or changed
}

func (d *doubleWrite) String() string {
	return fmt.Sprintf("%s wrote again when re-run after a lost reply (%d re-runs: %d transactions, %d holds, %d records)",
		d.Caller, d.Runs, d.Transactions, d.Holds, d.Records)
}

const (
	// faultWindow and maxFaultRun bound the retry-forcing faults: at most
	// maxFaultRun of any faultWindow consecutive store calls.
	faultWindow = 32
	maxFaultRun = 3
	// maxSlowCommit bounds the sleep of a slow commit.
	maxSlowCommit = time.Millisecond
	// faultSeedSalt separates the fault PRNG from the simulation's, so
	// turning faults on changes none of the simulation's own draws.
	faultSeedSalt = 0xfa017fa017fa017f
)

// Fault kinds, as counted and printed.
const (
	faultBeforeCommit      = "failed before commit"
	faultLostReply         = "reply lost after commit"
	faultSlowCommit        = "slow commit"
	faultBatchBeforeCommit = "batch failed before commit"
	faultBatchLostReply    = "batch reply lost after commit"
	faultBatchSlowCommit   = "slow batch commit"
	faultReadAgain         = "read run again"
)

// errInjected marks the errors a faultStore injects. They wrap
// storedriver.ErrConflict too.
var errInjected = errors.New("injected fault")

// faultError is an injected fault: errors.Is matches errInjected and
// storedriver.ErrConflict.
type faultError struct{ kind string }

func (e *faultError) Error() string {
	return fmt.Sprintf("%v: %s: %v", errInjected, e.kind, storedriver.ErrConflict)
}

func (e *faultError) Is(target error) bool {
	return target == errInjected || target == storedriver.ErrConflict
}

// Compile-time checks that the wrappers implement the store interface,
// and that the fault store offers the scheduler its lease.
var (
	_ storedriver.Store = (*faultStore)(nil)
	_ storedriver.Tx    = (*countingTx)(nil)
	_ scheduler.Leaser  = (*faultStore)(nil)
)

// newFaultStore wraps inner. rate is the probability that a store call
// gets a fault, from 0 to 1; the bound on retry-forcing faults caps what
// it can reach (maxFaultRun in faultWindow calls).
func newFaultStore(inner storedriver.Store, seed uint64, rate float64) (*faultStore, error) {
	if math.IsNaN(rate) || rate < 0 || rate > 1 {
		return nil, fmt.Errorf("fault rate must be from 0 to 1, got %v", rate)
	}
	return &faultStore{
		inner:   inner,
		rate:    rate,
		rng:     rand.New(rand.NewPCG(seed, seed^faultSeedSalt)),
		counts:  map[string]int64{},
		pending: map[string]string{},
		doubles: map[string]*doubleWrite{},
	}, nil
}

// fault is one decision.
type fault int

const (
	noFault fault = iota
	beforeCommit
	lostReply
	slowCommit
	readAgain
)

// decide draws whether the next call gets a fault, and which; a slow
// commit comes with its sleep.
func (s *faultStore) decide(write bool) (fault, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := noFault
	var sleep time.Duration
	if len(s.script) > 0 {
		f, s.script = s.script[0], s.script[1:]
		if f == slowCommit {
			sleep = maxSlowCommit
		}
	} else if s.rng.Float64() < s.rate {
		f = readAgain
		if write {
			f = fault(1 + s.rng.IntN(3))
		}
		switch {
		case f == slowCommit:
			sleep = time.Duration(1 + s.rng.Int64N(int64(maxSlowCommit)))
		case f != readAgain && s.inRun >= maxFaultRun:
			f = noFault
		}
	}
	forcing := f == beforeCommit || f == lostReply
	if s.recent[s.next] {
		s.inRun--
	}
	s.recent[s.next] = forcing
	if forcing {
		s.inRun++
	}
	s.next = (s.next + 1) % faultWindow
	return f, sleep
}

func (s *faultStore) count(kind string) {
	s.mu.Lock()
	s.counts[kind]++
	s.mu.Unlock()
}

// Counts returns the faults injected so far, by kind.
func (s *faultStore) Counts() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int64, len(s.counts))
	for k, v := range s.counts {
		out[k] = v
	}
	return out
}

// DoubleWrites describes every program function that wrote again when
// re-run after a lost reply, sorted: in money those that posted a
// transaction or created or changed a hold again (money moved twice for
// one event), in state those that only created or changed a record
// (program state counted twice, such as an attempt counter). Both are nil
// if none did.
func (s *faultStore) DoubleWrites() (money, state []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.doubles {
		if d.Transactions+d.Holds > 0 {
			money = append(money, d.String())
		} else {
			state = append(state, d.String())
		}
	}
	sort.Strings(money)
	sort.Strings(state)
	return money, state
}

// Update implements storedriver.Store.
func (s *faultStore) Update(ctx context.Context, fn func(storedriver.Tx) error) error {
	f, sleep := s.decide(true)
	stack, caller, watch := s.watch(f == lostReply)
	var w writeCount
	run := fn
	if watch || f == beforeCommit || f == slowCommit {
		run = func(tx storedriver.Tx) error {
			if watch {
				w = writeCount{}
				tx = &countingTx{Tx: tx, n: &w}
			}
			if err := fn(tx); err != nil {
				return err
			}
			switch f {
			case beforeCommit:
				return &faultError{faultBeforeCommit}
			case slowCommit:
				time.Sleep(sleep)
			}
			return nil
		}
	}
	err := s.inner.Update(ctx, run)
	switch {
	case f == beforeCommit && errors.Is(err, errInjected):
		s.count(faultBeforeCommit)
	case f == slowCommit && err == nil:
		s.count(faultSlowCommit)
	}
	if err != nil {
		return err
	}
	s.committed(stack, caller, watch, f == lostReply, w)
	if f == lostReply {
		s.count(faultLostReply)
		return &faultError{faultLostReply}
	}
	return nil
}

// UpdateBatch implements storedriver.Store.
func (s *faultStore) UpdateBatch(ctx context.Context, fns []func(storedriver.Tx) error) ([]error, error) {
	f, sleep := s.decide(true)
	if f == slowCommit && len(fns) == 0 {
		f = noFault
	}
	if f == beforeCommit {
		s.count(faultBatchBeforeCommit)
		return nil, &faultError{faultBatchBeforeCommit}
	}
	stack, caller, watch := s.watch(f == lostReply)
	run := fns
	var items []writeCount
	if watch || f == slowCommit {
		run = make([]func(storedriver.Tx) error, len(fns))
		items = make([]writeCount, len(fns))
		for i, fn := range fns {
			last := i == len(fns)-1
			run[i] = func(tx storedriver.Tx) error {
				if watch {
					items[i] = writeCount{}
					tx = &countingTx{Tx: tx, n: &items[i]}
				}
				err := fn(tx)
				if last && f == slowCommit {
					time.Sleep(sleep)
				}
				return err
			}
		}
	}
	errs, err := s.inner.UpdateBatch(ctx, run)
	if err != nil {
		return nil, err
	}
	if f == slowCommit {
		s.count(faultBatchSlowCommit)
	}
	var w writeCount
	for i := range items {
		if errs[i] == nil {
			w.add(items[i])
		}
	}
	s.committed(stack, caller, watch, f == lostReply, w)
	if f == lostReply {
		s.count(faultBatchLostReply)
		return nil, &faultError{faultBatchLostReply}
	}
	return errs, nil
}

// View implements storedriver.Store.
func (s *faultStore) View(ctx context.Context, fn func(storedriver.ReadTx) error) error {
	f, _ := s.decide(false)
	if f == noFault {
		return s.inner.View(ctx, fn)
	}
	if err := s.inner.View(ctx, fn); err != nil {
		return err
	}
	s.count(faultReadAgain)
	return s.inner.View(ctx, fn)
}

// Close implements storedriver.Store.
func (s *faultStore) Close() error { return s.inner.Close() }

// TryLease takes the scheduler's lease from the wrapped store, with no
// fault: the lease is the promise that one replica ticks at a time, not a
// unit of work the programs retry, and the simulation's scheduler must
// take it on the store every replica would share.
func (s *faultStore) TryLease(ctx context.Context, name string) (context.Context, func() error, bool, error) {
	leaser, ok := s.inner.(scheduler.Leaser)
	if !ok {
		return nil, nil, false, scheduler.ErrNoLease
	}
	return leaser.TryLease(ctx, name)
}

// watch says whether this call must be watched: it is about to lose its
// reply (its stack is remembered), or it comes from a stack whose reply
// was lost (its writes are counted). It names the program function.
func (s *faultStore) watch(losing bool) (stack, caller string, watched bool) {
	s.mu.Lock()
	waiting := len(s.pending) > 0
	s.mu.Unlock()
	if !losing && !waiting {
		return "", "", false
	}
	stack, caller = callStack()
	s.mu.Lock()
	_, watched = s.pending[stack]
	s.mu.Unlock()
	return stack, caller, watched
}

// committed notes a commit: if it re-ran a unit of work whose reply was
// lost, whatever it wrote is a double write; if its own reply is being
// lost, the next commit from its stack is judged.
func (s *faultStore) committed(stack, caller string, watched, losing bool, w writeCount) {
	if !watched && !losing {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if watched && w.any() {
		d := s.doubles[caller]
		if d == nil {
			d = &doubleWrite{Caller: caller}
			s.doubles[caller] = d
		}
		d.Runs++
		d.Transactions += w.transactions
		d.Holds += w.holds
		d.Records += w.records
	}
	if losing {
		s.pending[stack] = caller
	} else {
		delete(s.pending, stack)
	}
}

// callStack returns the caller's stack (program counters, as a map key)
// and the name of the first function outside the ledger, its kit and this
// file: the program's method that ran the unit of work.
func callStack() (stack, caller string) {
	var pcs [48]uintptr
	n := runtime.Callers(3, pcs[:])
	var b strings.Builder
	for _, pc := range pcs[:n] {
		fmt.Fprintf(&b, "%x,", pc)
	}
	frames := runtime.CallersFrames(pcs[:n])
	for {
		fr, more := frames.Next()
		name := fr.Function
		if !strings.HasPrefix(name, "github.com/rewardkit/rewardkit/ledger") &&
			!strings.Contains(name, ".(*faultStore).") {
			caller = strings.TrimPrefix(name, "github.com/rewardkit/rewardkit/")
			break
		}
		if !more {
			break
		}
	}
	return b.String(), caller
}

// writeCount counts what a unit of work wrote that a replay must not.
type writeCount struct {
	transactions, holds, records int64
}

func (w writeCount) any() bool { return w.transactions+w.holds+w.records > 0 }

func (w *writeCount) add(o writeCount) {
	w.transactions += o.transactions
	w.holds += o.holds
	w.records += o.records
}

// countingTx counts the writes of a unit of work re-run after a lost
// reply. Rewriting a record with the data it has is not counted, nor is
// scheduling (moving a due entry to where it is is a no-op).
type countingTx struct {
	storedriver.Tx
	n *writeCount
}

func (t *countingTx) AppendTransaction(st *storedriver.Transaction) error {
	err := t.Tx.AppendTransaction(st)
	if err == nil {
		t.n.transactions++
	}
	return err
}

func (t *countingTx) InsertHold(h *storedriver.Hold) (uint64, error) {
	id, err := t.Tx.InsertHold(h)
	if err == nil {
		t.n.holds++
	}
	return id, err
}

func (t *countingTx) UpdateHold(h *storedriver.Hold) error {
	err := t.Tx.UpdateHold(h)
	if err == nil {
		t.n.holds++
	}
	return err
}

func (t *countingTx) PutRecord(r storedriver.Record) error {
	old, err := t.Tx.Record(r.Kind, r.ID)
	same := err == nil && bytes.Equal(old, r.Data)
	if err := t.Tx.PutRecord(r); err != nil {
		return err
	}
	if !same {
		t.n.records++
	}
	return nil
}

func (t *countingTx) InsertRecord(r storedriver.Record) error {
	err := t.Tx.InsertRecord(r)
	if err == nil {
		t.n.records++
	}
	return err
}
