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
func EachDue(ctx context.Context, l *ledger.Ledger, kind string, now time.Time,
	fn func(w *ledger.Writer, e ledger.DueEntry) error) (done int, failed []ItemError, err error) {
	if err := ledger.ValidateTime("tick time", now); err != nil {
		return 0, nil, err
	}
	seen := map[string]bool{}
	for {
		if err := ctx.Err(); err != nil {
			return done, failed, err
		}
		var due []ledger.DueEntry
		err := l.View(ctx, func(r *ledger.Reader) error {
			var err error
			due, err = r.Due(kind, now, dueBatch+len(seen))
			return err
		})
		if err != nil {
			return done, failed, err
		}
		batch := due[:0:0]
		for _, e := range due {
			if !seen[e.ID] && len(batch) < dueBatch {
				batch = append(batch, e)
			}
		}
		if len(batch) == 0 {
			return done, failed, nil
		}
		fns := make([]func(w *ledger.Writer) error, len(batch))
		for i, e := range batch {
			e := e
			seen[e.ID] = true
			fns[i] = func(w *ledger.Writer) error { return fn(w, e) }
		}
		errs, err := l.UpdateBatch(ctx, fns)
		if err != nil {
			return done, failed, err
		}
		for i, e := range batch {
			if errs[i] != nil {
				failed = append(failed, ItemError{Kind: kind, ID: e.ID, Err: errs[i]})
				continue
			}
			done++
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
