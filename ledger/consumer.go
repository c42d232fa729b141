package ledger

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/rewardkit/rewardkit/ledger/driver"
)

// Event pages: Events and Follow return at most maxEventPage events at
// once (0 asks for defaultEventPage). Pages are larger than the other
// listings' because a consumer catching up reads the log whole.
const (
	defaultEventPage = 1000
	maxEventPage     = 10000
)

func eventPage(limit int) int {
	switch {
	case limit <= 0:
		return defaultEventPage
	case limit > maxEventPage:
		return maxEventPage
	}
	return limit
}

// Events returns the events with Seq > after, in Seq order, at most limit
// of them (1 to 10000; 0 means 1000). The last one's Seq is the cursor for
// the next page; fewer than limit means the log ends there for now.
func (r *Reader) Events(after uint64, limit int) ([]Event, error) {
	evs, err := r.rt.Events(after, eventPage(limit))
	if err != nil {
		return nil, err
	}
	if err := r.renderPosted(evs); err != nil {
		return nil, err
	}
	out := make([]Event, len(evs))
	for i := range evs {
		out[i] = r.l.publicEvent(&evs[i])
	}
	return out, nil
}

// Events returns committed events with Seq > after (see Reader.Events).
func (l *Ledger) Events(ctx context.Context, after uint64, limit int) (evs []Event, err error) {
	err = l.View(ctx, func(r *Reader) error { evs, err = r.Events(after, limit); return err })
	return evs, err
}

// Follow returns the committed events with Seq > after (at most 1000), as
// soon as there is at least one: it waits for the next commit that emits
// one. A store that can notify (driver.EventNotifier: memstore in
// process, pgstore across processes through LISTEN/NOTIFY) wakes it at
// once; with another store it polls, backing off from 5 ms to 250 ms. It
// returns an error wrapping ctx.Err() when ctx ends first.
func (l *Ledger) Follow(ctx context.Context, after uint64) ([]Event, error) {
	return l.follow(ctx, after, defaultEventPage)
}

func (l *Ledger) follow(ctx context.Context, after uint64, limit int) ([]Event, error) {
	notifier, _ := l.store.(driver.EventNotifier)
	backoff := 5 * time.Millisecond
	for {
		evs, err := l.Events(ctx, after, limit)
		if err != nil || len(evs) > 0 {
			return evs, err
		}
		if notifier != nil {
			if err := notifier.WaitEvents(ctx, after); err != nil {
				return nil, err
			}
			// The notifier heard of the primary's commits: a replica
			// behind them would answer nothing again and again, so the
			// reads after a wake-up go to the primary (a catch-up read,
			// the first, may be served by a replica).
			ctx = ReadPrimary(ctx)
			continue
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("ledger: following events: %w", ctx.Err())
		}
		backoff = min(2*backoff, 250*time.Millisecond)
	}
}

// consumerKind is the record kind that keeps consumers' positions.
const consumerKind = "ledger.consumer"

// Consumer is a named, durable reader of the event log: its position (the
// Seq of the last event it has handled) is kept in the store, so a
// consumer of the same name on a new Ledger over the same store (after a
// restart, a crash, in another process) resumes where it was committed.
// Delivery is at least once and in order: Next returns the events after
// the committed position, again and again until Commit moves it, so an
// event handled but not committed before a crash is handled again.
// Consumers of different names are independent. A Consumer is safe for
// concurrent use, but two readers of one name each see every event.
type Consumer struct {
	l    *Ledger
	name string
}

// Consumer returns the durable consumer of the given name: 1 to 64 bytes
// of ASCII letters, digits and ._@+- (anything else makes its calls fail
// with ErrInvalidEvent).
func (l *Ledger) Consumer(name string) *Consumer { return &Consumer{l: l, name: name} }

// Name returns the consumer's name.
func (c *Consumer) Name() string { return c.name }

func (c *Consumer) check() error {
	if len(c.name) == 0 || len(c.name) > 64 {
		return fmt.Errorf("%w: consumer name %s must have 1 to 64 bytes", ErrInvalidEvent, clip(c.name))
	}
	for i := 0; i < len(c.name); i++ {
		ch := c.name[i]
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '.' || ch == '_' || ch == '@' || ch == '+' || ch == '-') {
			return fmt.Errorf("%w: consumer name %s: only ASCII letters, digits and ._@+-", ErrInvalidEvent, clip(c.name))
		}
	}
	return nil
}

// position reads the committed position: 0 before the first Commit.
func (c *Consumer) position(rt driver.ReadTx) (uint64, error) {
	b, err := rt.Record(consumerKind, c.name)
	if errors.Is(err, ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	seq, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("ledger: consumer %s: stored position %q: %w", clip(c.name), clip(string(b)), err)
	}
	return seq, nil
}

// Position returns the committed position: the Seq of the last event
// committed as handled, 0 before the first Commit.
func (c *Consumer) Position(ctx context.Context) (seq uint64, err error) {
	if err := c.check(); err != nil {
		return 0, err
	}
	err = c.l.View(ctx, func(r *Reader) error { seq, err = c.position(r.rt); return err })
	return seq, err
}

// Next returns up to max events (1 to 10000; 0 means 1000) after the
// committed position, waiting as Follow does until there is at least one.
// Until Commit moves the position, Next returns the same events again.
func (c *Consumer) Next(ctx context.Context, max int) ([]Event, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	// The position is read on the primary: read on a replica behind the
	// last Commit it would hand the committed events out again.
	pos, err := c.Position(ReadPrimary(ctx))
	if err != nil {
		return nil, err
	}
	return c.l.follow(ctx, pos, max)
}

// Commit records that every event up to seq was handled, in a unit of
// work of its own. Committing the position again is a no-op; moving it
// back, or beyond the last committed event, is ErrInvalidEvent.
func (c *Consumer) Commit(ctx context.Context, seq uint64) error {
	if err := c.check(); err != nil {
		return err
	}
	return c.l.Update(ctx, func(w *Writer) error {
		pos, err := c.position(w.rt)
		if err != nil {
			return err
		}
		switch {
		case seq == pos:
			return nil
		case seq < pos:
			return fmt.Errorf("%w: consumer %s is at %d and cannot go back to %d", ErrInvalidEvent, c.name, pos, seq)
		}
		head, err := w.tx.EventHead()
		if err != nil {
			return err
		}
		if seq > head.Seq {
			return fmt.Errorf("%w: consumer %s cannot commit %d beyond the last event %d", ErrInvalidEvent, c.name, seq, head.Seq)
		}
		return w.PutRecord(consumerKind, c.name, strconv.AppendUint(nil, seq, 10))
	})
}
