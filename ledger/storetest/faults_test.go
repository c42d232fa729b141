package storetest_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/driver"
	"github.com/rewardkit/rewardkit/ledger/memstore"
	"github.com/rewardkit/rewardkit/ledger/storetest"
)

// faults maps each broken store below to a subtest that must catch it.
var faults = map[string]string{
	"commit-on-error":     "AllOrNothingOnError",
	"swallow-panic":       "AllOrNothingOnPanic",
	"batch-not-isolated":  "UpdateBatchIsolation",
	"keys-forgotten":      "Idempotency",
	"empty-key-found":     "StoreReads",
	"due-ignores-cutoff":  "DueEntries",
	"history-skips-first": "History",
	"records-reversed":    "Records",
	"held-not-stored":     "Holds",
	"lost-update":         "StateMachine",
	"cancel-ignored":      "StoreContract",
	"hold-update-lost":    "HoldExpiry",
	"wait-ignores-ctx":    "DeadlineWhileWaiting",
}

const faultEnv = "STORETEST_FAULT"

// TestSuiteCatchesFaults runs the suite against deliberately broken stores
// (memstore with one fault each) in a child process and requires the
// subtest meant to catch each fault to fail: a suite that passes a broken
// store proves nothing.
func TestSuiteCatchesFaults(t *testing.T) {
	if fault := os.Getenv(faultEnv); fault != "" {
		storetest.Run(t, func(*testing.T) driver.Store { return &faultyStore{Store: memstore.New(), fault: fault} })
		return
	}
	if testing.Short() {
		t.Skip("runs the suite once per fault")
	}
	names := make([]string, 0, len(faults))
	for f := range faults {
		names = append(names, f)
	}
	slices.Sort(names)
	for _, fault := range names {
		subtest := faults[fault]
		t.Run(fault, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestSuiteCatchesFaults$/^suite$/^"+subtest+"$",
				"-test.count=1", "-rapid.nofailfile", "-rapid.shrinktime=1s")
			cmd.Env = append(os.Environ(), faultEnv+"="+fault)
			out, err := cmd.CombinedOutput()
			require.Error(t, err, "the suite passed a store with fault %s:\n%s", fault, out)
			require.Contains(t, string(out), "--- FAIL: TestSuiteCatchesFaults/suite/"+subtest, "%s", out)
		})
	}
}

// faultyStore is a memstore with one fault.
type faultyStore struct {
	driver.Store
	fault  string
	puts   int
	serial sync.Mutex // wait-ignores-ctx: writers wait here, deaf to their contexts
}

func (s *faultyStore) Update(ctx context.Context, fn func(driver.Tx) error) error {
	wrap := func(tx driver.Tx) error { return fn(&faultyTx{Tx: tx, s: s}) }
	switch s.fault {
	case "wait-ignores-ctx":
		s.serial.Lock()
		defer s.serial.Unlock()
	case "cancel-ignored":
		return s.Store.Update(context.WithoutCancel(ctx), wrap)
	case "commit-on-error":
		var ferr error
		if err := s.Store.Update(ctx, func(tx driver.Tx) error { ferr = wrap(tx); return nil }); err != nil {
			return err
		}
		return ferr
	case "swallow-panic":
		return s.Store.Update(ctx, func(tx driver.Tx) (err error) {
			defer func() {
				if r := recover(); r != nil {
					err = errors.New("recovered")
				}
			}()
			return wrap(tx)
		})
	}
	return s.Store.Update(ctx, wrap)
}

func (s *faultyStore) UpdateBatch(ctx context.Context, fns []func(driver.Tx) error) ([]error, error) {
	if s.fault == "batch-not-isolated" {
		// Runs every item in one go, keeping the writes of failed ones.
		errs := make([]error, len(fns))
		err := s.Store.Update(ctx, func(tx driver.Tx) error {
			for i, fn := range fns {
				func() {
					defer func() {
						if r := recover(); r != nil {
							errs[i] = errors.New("panicked")
						}
					}()
					errs[i] = fn(&faultyTx{Tx: tx, s: s})
				}()
			}
			return nil
		})
		return errs, err
	}
	wrapped := make([]func(driver.Tx) error, len(fns))
	for i, fn := range fns {
		wrapped[i] = func(tx driver.Tx) error { return fn(&faultyTx{Tx: tx, s: s}) }
	}
	return s.Store.UpdateBatch(ctx, wrapped)
}

func (s *faultyStore) View(ctx context.Context, fn func(driver.ReadTx) error) error {
	return s.Store.View(ctx, func(rt driver.ReadTx) error { return fn(&faultyRead{ReadTx: rt, s: s}) })
}

// faultyRead breaks reads.
type faultyRead struct {
	driver.ReadTx
	s *faultyStore
}

func (r *faultyRead) TransactionByKey(key string) (driver.Transaction, error) {
	return transactionByKey(r.ReadTx, r.s, key)
}

func (r *faultyRead) Due(kind string, at time.Time, limit int) ([]driver.DueEntry, error) {
	return due(r.ReadTx, r.s, kind, at, limit)
}

func (r *faultyRead) History(k driver.BalanceKey, after uint64, limit int) ([]driver.HistoryItem, error) {
	return history(r.ReadTx, r.s, k, after, limit)
}

func (r *faultyRead) Records(kind, after string, limit int) ([]driver.Record, error) {
	return records(r.ReadTx, r.s, kind, after, limit)
}

// faultyTx breaks reads and writes inside an update.
type faultyTx struct {
	driver.Tx
	s *faultyStore
}

func (t *faultyTx) TransactionByKey(key string) (driver.Transaction, error) {
	return transactionByKey(t.Tx, t.s, key)
}

func (t *faultyTx) Due(kind string, at time.Time, limit int) ([]driver.DueEntry, error) {
	return due(t.Tx, t.s, kind, at, limit)
}

func (t *faultyTx) History(k driver.BalanceKey, after uint64, limit int) ([]driver.HistoryItem, error) {
	return history(t.Tx, t.s, k, after, limit)
}

func (t *faultyTx) Records(kind, after string, limit int) ([]driver.Record, error) {
	return records(t.Tx, t.s, kind, after, limit)
}

func (t *faultyTx) UpdateHold(h *driver.Hold) error {
	if t.s.fault == "hold-update-lost" && h.Status == driver.HoldExpired {
		return nil
	}
	return t.Tx.UpdateHold(h)
}

func (t *faultyTx) PutBalances(bs []driver.Balance) error {
	switch t.s.fault {
	case "held-not-stored":
		for i := range bs {
			bs[i].Held = 0
		}
	case "lost-update":
		t.s.puts++
		if t.s.puts%50 == 0 {
			return nil // every 50th balance write is lost
		}
	}
	return t.Tx.PutBalances(bs)
}

func transactionByKey(rt driver.ReadTx, s *faultyStore, key string) (driver.Transaction, error) {
	switch s.fault {
	case "keys-forgotten":
		return driver.Transaction{}, ledger.ErrNotFound
	case "empty-key-found":
		if key == "" {
			return rt.Transaction(1)
		}
	}
	return rt.TransactionByKey(key)
}

func due(rt driver.ReadTx, s *faultyStore, kind string, at time.Time, limit int) ([]driver.DueEntry, error) {
	if s.fault == "due-ignores-cutoff" {
		at = at.Add(time.Minute)
	}
	return rt.Due(kind, at, limit)
}

func history(rt driver.ReadTx, s *faultyStore, k driver.BalanceKey, after uint64, limit int) ([]driver.HistoryItem, error) {
	items, err := rt.History(k, after, limit)
	if s.fault == "history-skips-first" && after > 0 && len(items) > 0 {
		items = items[1:]
	}
	return items, err
}

func records(rt driver.ReadTx, s *faultyStore, kind, after string, limit int) ([]driver.Record, error) {
	rs, err := rt.Records(kind, after, limit)
	if s.fault == "records-reversed" {
		slices.Reverse(rs)
	}
	return rs, err
}
