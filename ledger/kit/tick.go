package kit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rewardkit/rewardkit/ledger"
)

// ItemError is one due item that a Tick could not handle: which kind, which
// ID, and why. The item stays due and is tried again by the next Tick.
type ItemError struct {
	Kind string
	ID   string
	Err  error
}

// Error names the item and the cause.
func (e ItemError) Error() string { return fmt.Sprintf("%s %s: %v", e.Kind, e.ID, e.Err) }

// Unwrap returns the cause, for errors.Is.
func (e ItemError) Unwrap() error { return e.Err }

// dueBatch is how many due items EachDue handles per store transaction.
const dueBatch = 64

// EachDue handles every entry of kind due at or before now, each in a unit
// of work of its own (a savepoint of a batch, so one durable commit serves
// many): fn must take the entry off the schedule (Unschedule) or move it
// later. An entry whose fn fails has its writes undone and is reported in
// failed with its ID, and the others go on; each entry is tried at most
// once per call, so an entry fn leaves due is not run again. err is for
// the run as a whole (a store that fails, a context that ends); done
// counts the entries handled.
//
// The entries of a batch are read inside the batch's own store
// transaction, so a batch that is run again (a lost race, a commit whose
// reply was lost) reads them again and never hands fn an entry an earlier
// run already took off the schedule.
func EachDue(ctx context.Context, l *ledger.Ledger, kind string, now time.Time,
	fn func(w *ledger.Writer, e ledger.DueEntry) error) (done int, failed []ItemError, err error) {
	return EachDueDo(ctx, l, kind, now, func(w *ledger.Writer, e ledger.DueEntry) (struct{}, error) {
		return struct{}{}, fn(w, e)
	}, nil)
}

// EachDueDo is EachDue for an fn that returns what it did to each entry:
// committed, if not nil, is called with each entry and its value once the
// batch that handled it has committed, in the order they were handled —
// never for an entry whose writes were undone, nor for one whose batch did
// not commit (a run that ends with err reports only what committed before
// it). A report built in committed never names work that was not kept.
func EachDueDo[T any](ctx context.Context, l *ledger.Ledger, kind string, now time.Time,
	fn func(w *ledger.Writer, e ledger.DueEntry) (T, error), committed func(e ledger.DueEntry, v T)) (done int, failed []ItemError, err error) {
	if err := ledger.ValidateTime("tick time", now); err != nil {
		return 0, nil, err
	}
	seen := map[string]bool{}
	pick := func(due []ledger.DueEntry) []ledger.DueEntry {
		var out []ledger.DueEntry
		for _, e := range due {
			if !seen[e.ID] && len(out) < dueBatch {
				out = append(out, e)
			}
		}
		return out
	}
	for {
		if err := ctx.Err(); err != nil {
			return done, failed, err
		}
		// A look outside the batch sizes it; the batch reads again.
		var peek []ledger.DueEntry
		err := l.View(ctx, func(r *ledger.Reader) error {
			due, err := r.Due(kind, now, dueBatch+len(seen))
			peek = pick(due)
			return err
		})
		if err != nil {
			return done, failed, err
		}
		if len(peek) == 0 {
			return done, failed, nil
		}
		var batch []ledger.DueEntry
		// vals holds what fn returned for each entry of this run of the
		// batch; a batch run again (a lost race) starts it afresh.
		var vals []T
		fns := make([]func(w *ledger.Writer) error, 1+len(peek))
		fns[0] = func(w *ledger.Writer) error {
			due, err := w.Due(kind, now, dueBatch+len(seen))
			batch = pick(due)
			vals = make([]T, len(batch))
			return err
		}
		for i := range peek {
			i := i
			fns[1+i] = func(w *ledger.Writer) error {
				if i >= len(batch) {
					return nil // gone since the look: handled elsewhere
				}
				v, err := fn(w, batch[i])
				vals[i] = v
				return err
			}
		}
		errs, err := l.UpdateBatch(ctx, fns)
		if err != nil {
			return done, failed, err
		}
		if errs[0] != nil {
			return done, failed, errs[0]
		}
		if len(batch) == 0 {
			return done, failed, nil
		}
		for i, e := range batch {
			if i+1 >= len(errs) {
				break // more due than the look saw: the next round takes them
			}
			seen[e.ID] = true
			if errs[i+1] != nil {
				failed = append(failed, ItemError{Kind: kind, ID: e.ID, Err: errs[i+1]})
				continue
			}
			done++
			if committed != nil {
				committed(e, vals[i])
			}
		}
	}
}

// Failures joins item errors into one error (nil if there are none), for
// a caller that wants a single error out of a Tick's report.
func Failures(items []ItemError) error {
	errs := make([]error, len(items))
	for i := range items {
		errs[i] = items[i]
	}
	return errors.Join(errs...)
}
