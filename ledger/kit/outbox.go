package kit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rewardkit/rewardkit/ledger"
)

// ErrGone is what an Outbox's Send returns, wrapped, when the record an
// entry stands for is gone for good: there is nothing left to deliver, and
// the outbox drops the entry instead of trying it again for ever.
var ErrGone = ledger.NewError(ledger.CodeNotFound, "nothing left to deliver")

// outboxPage is how many new entries a Drain reads at a time.
const outboxPage = 64

// Outbox is a program's queue of calls to the world outside the ledger —
// a direct message, a payment provider's Send — and the one way a program
// makes them. Such a call is never made inside a unit of work: one that
// rolls back would leave a message or a payment nobody paid for, and one
// that runs again (a lost race) would make the call twice. So the program
// Puts an entry in its unit of work, with the money and records the call
// goes with, so that it commits with them or not at all; the call is made
// after the commit, outside any unit of work, by Deliver (an event's
// plain form, at once) or by Drain (the program's Tick, for every entry
// that is due, including those a caller's unit of work Put and those whose
// earlier attempt failed).
//
// Delivery is at least once: a crash between the call and the record of
// its answer, or two Drains at the same time, make the call again. The
// call must therefore be idempotent on the entry's ID (a message ID, a
// provider's idempotency key derived from it), and Send must record its
// answer so that a second answer changes nothing.
//
// The entries are the ledger's due index under the kind Due, one per ID,
// at the time it is due: they are durable, and a Drain finds them without
// scanning the program's records. An Outbox is a value with no state of
// its own; the fields are set once, when the program is made.
type Outbox[T any] struct {
	// Ledger keeps the entries (its due index) and runs the units of work
	// the outbox needs of its own (dropping an entry whose record is gone).
	Ledger *ledger.Ledger
	// Due is the due-index kind the entries are kept under ("shoutout.dm").
	Due string
	// Failed is the kind under which Drain reports a delivery that failed
	// (an ItemError in TickReport.Failed).
	Failed string
	// Send makes one delivery of id. It is called outside any unit of
	// work: it reads the record id stands for, makes the call, and records
	// the answer in a unit of work of its own, in which it takes the entry
	// off (Done) or puts it back for later (Put). It returns the record as
	// the delivery left it, the kind of item Drain reports for it ("" for
	// none: there was nothing left to do), and an error if the delivery
	// failed: the entry then stays due and the next Drain tries it again.
	// An error wrapping ErrGone says the record is gone: the entry is
	// dropped. Send is given a context marked ledger.ReadPrimary, so that
	// its reads never come from a replica behind the commit that Put the
	// entry: a record read as missing there would drop an entry whose
	// call was never made.
	Send func(ctx context.Context, id string) (v T, did string, err error)
	// RetryAfter is how long an entry whose delivery failed in a Drain
	// waits before a Drain tries it again (DefaultOutboxRetry if 0). Drain
	// puts it back that much later, behind the entries queued since, so
	// that deliveries which keep failing never hold up the ones behind
	// them.
	RetryAfter time.Duration
}

// DefaultOutboxRetry is how long a failed delivery waits for the next try
// unless Outbox.RetryAfter says otherwise.
const DefaultOutboxRetry = time.Minute

// Put queues id for delivery at at (the unit of work's time, for at once)
// in the caller's unit of work w: the entry commits with w's other writes
// or not at all. Putting an ID already queued moves its entry to at, which
// is how Send puts an entry back for a later try.
func (o *Outbox[T]) Put(w *ledger.Writer, id string, at time.Time) error {
	return w.Schedule(o.Due, id, at)
}

// Done takes id off the outbox in the caller's unit of work w, once it is
// delivered or there is nothing left to deliver; an ID not queued is left
// as it is.
func (o *Outbox[T]) Done(w *ledger.Writer, id string) error {
	return w.Unschedule(o.Due, id)
}

// Deliver makes the delivery of id at once, with Send: an event's plain
// form calls it right after the unit of work that Put the entry has
// committed. It returns what Send returned; a delivery that fails leaves
// the entry due, for Drain.
func (o *Outbox[T]) Deliver(ctx context.Context, id string) (T, error) {
	v, _, err := o.Send(ledger.ReadPrimary(ctx), id)
	if errors.Is(err, ErrGone) {
		if derr := o.drop(ctx, id); derr != nil {
			err = fmt.Errorf("%w (and dropping its entry: %w)", err, derr)
		}
	}
	return v, err
}

// Drain delivers every entry due at now, in due order, one at a time with
// Send, and adds each to rep: under the kind Send names, or, if the
// delivery failed, in rep.Failed under o.Failed with its ID, and the
// others go on. An entry whose record is gone (ErrGone) is dropped and
// not reported. An entry whose delivery failed is put back RetryAfter
// after now, so it waits behind what was queued since. Each entry is
// tried at most once per Drain, so one that Send puts back at a time
// already due waits for the next. The error is for the run as a whole: a store that fails, or ctx
// ending (no delivery starts after it has ended, and the one it cut short
// is not reported).
//
// Two Drains at the same time may both deliver an entry (see Outbox):
// Send's record of the first answer makes the second change nothing.
func (o *Outbox[T]) Drain(ctx context.Context, now time.Time, rep *TickReport) error {
	// An entry tried in this run may still be due (Send put it back at a
	// time already due, or putting a failed one back failed), so each page
	// is read from the start of the index and skips what this run has
	// tried. Failed entries move RetryAfter ahead, so they cannot pile up
	// at the front of the index and starve the entries behind them.
	tried := map[string]bool{}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		var due []ledger.DueEntry
		// On the primary (ledger.ReadPrimary): a replica behind the last
		// Drain would list the entries it delivered, and Send would make
		// those calls again.
		if err := o.Ledger.View(ledger.ReadPrimary(ctx), func(r *ledger.Reader) (err error) {
			due, err = r.Due(o.Due, now, outboxPage+len(tried))
			return err
		}); err != nil {
			return err
		}
		fresh := 0
		for _, e := range due {
			if tried[e.ID] {
				continue
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			tried[e.ID] = true
			fresh++
			_, did, err := o.Send(ledger.ReadPrimary(ctx), e.ID)
			switch {
			case err == nil:
				if did != "" {
					rep.Add(did, e.ID)
				}
				continue
			case ctx.Err() != nil:
				return ctx.Err()
			case errors.Is(err, ErrGone):
				derr := o.drop(ctx, e.ID)
				if derr == nil {
					continue
				}
				err = fmt.Errorf("%w (and dropping its entry: %w)", err, derr)
			default:
				if perr := o.putBack(ctx, e.ID, now); perr != nil {
					err = fmt.Errorf("%w (and putting it back for later: %w)", err, perr)
				}
			}
			rep.Failed = append(rep.Failed, ItemError{Kind: o.Failed, ID: e.ID, Err: err})
		}
		if fresh == 0 {
			return nil
		}
	}
}

// putBack moves the entry of a failed delivery RetryAfter after now, in a
// unit of work of its own. A Send that fails has recorded nothing that
// moved the entry (its record of the answer is what failed, or it leaves
// a failed call where it was), so the entry is where Drain found it.
func (o *Outbox[T]) putBack(ctx context.Context, id string, now time.Time) error {
	wait := o.RetryAfter
	if wait <= 0 {
		wait = DefaultOutboxRetry
	}
	at, err := ledger.AddDuration("outbox retry time", now, wait)
	if err != nil {
		return err
	}
	return o.Ledger.Update(ctx, func(w *ledger.Writer) error { return o.Put(w, id, at) })
}

// drop takes the entry of id off in a unit of work of its own.
func (o *Outbox[T]) drop(ctx context.Context, id string) error {
	return o.Ledger.Update(ctx, func(w *ledger.Writer) error { return o.Done(w, id) })
}
