package kit_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/driver"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/teststore"
)

const (
	kindLetter = "test.letter"
	dueLetter  = "test.letter.due"
	itemSent   = "test.sent"
	itemFailed = "test.send"
)

// letter is the record an outbox entry stands for. Recorded counts the
// units of work that recorded it sent: it must end at 1 however often it
// was delivered.
type letter struct {
	Sent     bool `json:"sent"`
	Recorded int  `json:"recorded"`
}

var errWireDown = errors.New("wire down")

// wire is the outside world: idempotent on the letter's ID, as a
// messenger or a provider must be. It counts calls per ID and can fail,
// for every ID or one, or run a hook inside a call.
type wire struct {
	mu        sync.Mutex
	down      bool
	failID    string
	calls     map[string]int
	delivered map[string]int
	during    func(id string) // called inside a call, without the lock
}

func newWire() *wire { return &wire{calls: map[string]int{}, delivered: map[string]int{}} }

func (x *wire) call(id string) error {
	x.mu.Lock()
	x.calls[id]++
	during := x.during
	if x.down || id == x.failID {
		x.mu.Unlock()
		return errWireDown
	}
	if x.delivered[id] == 0 {
		x.delivered[id] = 1
	}
	x.mu.Unlock()
	if during != nil {
		during(id)
	}
	return nil
}

func (x *wire) count(id string) (calls, delivered int) {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.calls[id], x.delivered[id]
}

// letters is a tiny program with an outbox: post queues a letter in the
// caller's unit of work, send delivers one.
type letters struct {
	l   *ledger.Ledger
	w   *wire
	box kit.Outbox[letter]
}

func newLetters(t *testing.T, open teststore.Opener) *letters {
	l, _ := newLedger(t, open)
	p := &letters{l: l, w: newWire()}
	p.box = kit.Outbox[letter]{Ledger: l, Due: dueLetter, Failed: itemFailed, Send: p.send}
	return p
}

// post records a letter and queues it, at at, in w.
func (p *letters) post(w *ledger.Writer, id string, at time.Time) error {
	if err := w.CreateJSON(kindLetter, id, letter{}); err != nil {
		return err
	}
	return p.box.Put(w, id, at)
}

// send is the outbox's Send: read, call outside any unit of work, record.
func (p *letters) send(ctx context.Context, id string) (letter, string, error) {
	var m letter
	err := p.l.View(ctx, func(r *ledger.Reader) error { return r.LoadJSON(kindLetter, id, &m) })
	if errors.Is(err, ledger.ErrNotFound) {
		return letter{}, "", fmt.Errorf("letter %s: %w", id, kit.ErrGone)
	}
	if err != nil || m.Sent {
		return m, "", err
	}
	if err := p.w.call(id); err != nil {
		return m, "", fmt.Errorf("letter %s: %w", id, err)
	}
	did := ""
	err = p.l.Update(ctx, func(w *ledger.Writer) error {
		did = ""
		if err := w.LoadJSON(kindLetter, id, &m); err != nil {
			return err
		}
		if m.Sent {
			return nil // another delivery recorded it first
		}
		m.Sent, did = true, itemSent
		m.Recorded++
		if err := w.SaveJSON(kindLetter, id, m); err != nil {
			return err
		}
		return p.box.Done(w, id)
	})
	return m, did, err
}

func (p *letters) letter(t *testing.T, id string) letter {
	t.Helper()
	var m letter
	require.NoError(t, p.l.View(context.Background(), func(r *ledger.Reader) error { return r.LoadJSON(kindLetter, id, &m) }))
	return m
}

func (p *letters) due(t *testing.T) []string {
	t.Helper()
	var ids []string
	require.NoError(t, p.l.View(context.Background(), func(r *ledger.Reader) error {
		due, err := r.Due(dueLetter, ledger.MaxTime.Add(-time.Nanosecond), 1000)
		for _, e := range due {
			ids = append(ids, e.ID)
		}
		return err
	}))
	return ids
}

func (p *letters) drain(t *testing.T) kit.TickReport {
	t.Helper()
	return p.drainAt(t, t0)
}

func (p *letters) drainAt(t *testing.T, now time.Time) kit.TickReport {
	t.Helper()
	var rep kit.TickReport
	require.NoError(t, p.box.Drain(context.Background(), now, &rep))
	return rep
}

// TestOutboxCommitsWithItsUnitOfWork: an entry put in a unit of work that
// rolls back is not there, and nothing is ever sent for it; one that
// commits is delivered by Deliver, once, and a Drain after finds nothing
// to do.
func TestOutboxCommitsWithItsUnitOfWork(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		p := newLetters(t, open)
		ctx := context.Background()
		refused := errors.New("refused after the put")
		err := p.l.Update(ctx, func(w *ledger.Writer) error {
			if err := p.post(w, "rolled-back", t0); err != nil {
				return err
			}
			return refused
		})
		require.ErrorIs(t, err, refused)
		require.Empty(t, p.due(t))
		require.Equal(t, kit.TickReport{}, p.drain(t))
		calls, _ := p.w.count("rolled-back")
		require.Zero(t, calls)

		require.NoError(t, p.l.Update(ctx, func(w *ledger.Writer) error { return p.post(w, "a", t0) }))
		require.Equal(t, []string{"a"}, p.due(t))
		m, err := p.box.Deliver(ctx, "a")
		require.NoError(t, err)
		require.Equal(t, letter{Sent: true, Recorded: 1}, m)
		require.Empty(t, p.due(t))
		require.Equal(t, kit.TickReport{}, p.drain(t))
		_, err = p.box.Deliver(ctx, "a") // a retry of the plain form
		require.NoError(t, err)
		calls, delivered := p.w.count("a")
		require.Equal(t, 1, calls, "the recorded delivery is not made again")
		require.Equal(t, 1, delivered)
		require.Equal(t, letter{Sent: true, Recorded: 1}, p.letter(t, "a"))
	})
}

// TestOutboxFailedDeliveryStaysDue: a delivery that fails leaves its
// entry queued; Drain reports it by ID under the outbox's Failed kind,
// with the cause, goes on with the others, and puts it back RetryAfter
// later, when a Drain delivers it.
func TestOutboxFailedDeliveryStaysDue(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		p := newLetters(t, open)
		ctx := context.Background()
		require.NoError(t, p.l.Update(ctx, func(w *ledger.Writer) error {
			// Put out of order: Drain goes by due time.
			for _, e := range []struct {
				id string
				at time.Time
			}{{"b", t0.Add(-time.Minute)}, {"c", t0}, {"a", t0.Add(-2 * time.Minute)}, {"later", t0.Add(time.Second)}} {
				if err := p.post(w, e.id, e.at); err != nil {
					return err
				}
			}
			return nil
		}))
		p.w.down = true
		_, err := p.box.Deliver(ctx, "a")
		require.ErrorIs(t, err, errWireDown)
		require.Equal(t, []string{"a", "b", "c", "later"}, p.due(t))

		p.w.down, p.w.failID = false, "b"
		rep := p.drain(t)
		require.Equal(t, []string{"a", "c"}, rep.IDs(itemSent), "in due order; the one not yet due is left")
		require.Len(t, rep.Failed, 1)
		require.Equal(t, itemFailed, rep.Failed[0].Kind)
		require.Equal(t, "b", rep.Failed[0].ID)
		require.ErrorIs(t, rep.Failed[0], errWireDown)
		require.Equal(t, []string{"later", "b"}, p.due(t), "the failed one waits behind what was queued since")

		p.w.failID = ""
		require.Equal(t, kit.TickReport{}, p.drain(t), "not again before RetryAfter")
		rep = p.drainAt(t, t0.Add(kit.DefaultOutboxRetry))
		require.Equal(t, kit.TickReport{Done: []kit.Item{{Kind: itemSent, ID: "later"}, {Kind: itemSent, ID: "b"}}}, rep)
		for _, id := range []string{"a", "b", "c"} {
			require.Equal(t, letter{Sent: true, Recorded: 1}, p.letter(t, id), id)
		}
		require.Empty(t, p.due(t))
	})
}

// TestOutboxFailuresDoNotStarveTheQueue: more failing entries than the
// ledger reads at once, queued ahead of a good one: each failure moves
// behind what was queued since, so the good one is delivered by the next
// Drain rather than never.
func TestOutboxFailuresDoNotStarveTheQueue(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		p := newLetters(t, open)
		ctx := context.Background()
		const failing = 1100
		require.NoError(t, p.l.Update(ctx, func(w *ledger.Writer) error {
			for i := range failing {
				if err := p.box.Put(w, fmt.Sprintf("bad%04d", i), t0.Add(-time.Hour)); err != nil {
					return err
				}
			}
			return p.post(w, "good", t0.Add(time.Minute/2))
		}))
		box := p.box
		box.Send = func(ctx context.Context, id string) (letter, string, error) {
			if id != "good" {
				return letter{}, "", errWireDown
			}
			return p.send(ctx, id)
		}
		for _, at := range []time.Time{t0, t0.Add(time.Minute)} {
			var rep kit.TickReport
			require.NoError(t, box.Drain(ctx, at, &rep))
			if at.Equal(t0) {
				require.Empty(t, rep.Done, "the good one is not due yet")
			}
		}
		require.Equal(t, letter{Sent: true, Recorded: 1}, p.letter(t, "good"))
	})
}

// TestOutboxDrainPages: more entries than a page, failing ones first (more
// than a page of them) and more among the rest: every entry is tried
// exactly once in the run, however many pages it takes and although the
// failures stay due at the head of the index.
func TestOutboxDrainPages(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		p := newLetters(t, open)
		ctx := context.Background()
		const n = 150
		fail := map[string]bool{}
		require.NoError(t, p.l.Update(ctx, func(w *ledger.Writer) error {
			for i := range n {
				id := fmt.Sprintf("l%03d", i)
				if i < 70 || i%10 == 3 {
					fail[id] = true
				}
				if err := p.post(w, id, t0.Add(-time.Duration(n-i)*time.Second)); err != nil {
					return err
				}
			}
			return nil
		}))
		failing := kit.Outbox[letter]{Ledger: p.l, Due: dueLetter, Failed: itemFailed,
			Send: func(ctx context.Context, id string) (letter, string, error) {
				if fail[id] {
					p.w.mu.Lock()
					p.w.calls[id]++
					p.w.mu.Unlock()
					return letter{}, "", errWireDown
				}
				return p.send(ctx, id)
			}}
		var rep kit.TickReport
		require.NoError(t, failing.Drain(ctx, t0, &rep))
		require.Len(t, rep.Done, n-len(fail))
		require.Len(t, rep.Failed, len(fail))
		for i := range n {
			id := fmt.Sprintf("l%03d", i)
			calls, _ := p.w.count(id)
			require.Equal(t, 1, calls, id)
		}
		require.Len(t, p.due(t), len(fail))
	})
}

// TestOutboxEntryPutBackDueIsTriedOncePerDrain: a Send that puts its entry
// back at a time already due (a retry "at once") does not make a Drain
// run for ever: each entry is tried once per Drain.
func TestOutboxEntryPutBackDueIsTriedOncePerDrain(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		p := newLetters(t, open)
		ctx := context.Background()
		require.NoError(t, p.l.Update(ctx, func(w *ledger.Writer) error { return p.post(w, "a", t0) }))
		tries := 0
		ctx, stop := context.WithCancel(ctx)
		defer stop()
		var box kit.Outbox[letter]
		box = kit.Outbox[letter]{Ledger: p.l, Due: dueLetter, Failed: itemFailed,
			Send: func(ctx context.Context, id string) (letter, string, error) {
				if tries++; tries > 3 {
					stop() // a Drain that would run for ever
				}
				return letter{}, "test.again", p.l.Update(ctx, func(w *ledger.Writer) error { return box.Put(w, id, w.Now()) })
			}}
		var rep kit.TickReport
		require.NoError(t, box.Drain(ctx, t0, &rep))
		require.Equal(t, 1, tries)
		require.Equal(t, []string{"a"}, rep.IDs("test.again"))
		require.Equal(t, []string{"a"}, p.due(t))
	})
}

// TestOutboxDropsAnEntryWhoseRecordIsGone: an entry with no record behind
// it is dropped, neither reported done nor failed, and never tried again.
func TestOutboxDropsAnEntryWhoseRecordIsGone(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		p := newLetters(t, open)
		ctx := context.Background()
		require.NoError(t, p.l.Update(ctx, func(w *ledger.Writer) error {
			if err := p.post(w, "a", t0); err != nil {
				return err
			}
			if err := p.post(w, "b", t0); err != nil {
				return err
			}
			return p.box.Put(w, "ghost", t0.Add(-time.Minute))
		}))
		require.NoError(t, p.l.Update(ctx, func(w *ledger.Writer) error { return w.DeleteRecord(kindLetter, "b") }))
		_, err := p.box.Deliver(ctx, "ghost")
		require.ErrorIs(t, err, kit.ErrGone)
		require.Equal(t, []string{"a", "b"}, p.due(t), "Deliver dropped the ghost")

		rep := p.drain(t)
		require.Equal(t, kit.TickReport{Done: []kit.Item{{Kind: itemSent, ID: "a"}}}, rep)
		require.Empty(t, p.due(t))
		for _, id := range []string{"ghost", "b"} {
			calls, _ := p.w.count(id)
			require.Zero(t, calls, id)
		}
	})
}

// TestOutboxSecondDrainFindsItDone: a second Drain runs while the first
// is inside its call for "a", before the first has recorded the answer.
// Both call the outside world (at least once), the world keeps the letter
// once, and the letter is recorded sent once: the first Drain, back from
// its call, finds it recorded and reports nothing for it.
func TestOutboxSecondDrainFindsItDone(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		p := newLetters(t, open)
		ctx := context.Background()
		require.NoError(t, p.l.Update(ctx, func(w *ledger.Writer) error { return p.post(w, "a", t0) }))
		var second kit.TickReport
		p.w.during = func(id string) {
			p.w.mu.Lock()
			p.w.during = nil // the second Drain's own call goes through
			p.w.mu.Unlock()
			require.NoError(t, p.box.Drain(ctx, t0, &second))
		}
		first := p.drain(t)
		require.Equal(t, kit.TickReport{Done: []kit.Item{{Kind: itemSent, ID: "a"}}}, second)
		require.Equal(t, kit.TickReport{}, first, "the first finds it done")
		calls, delivered := p.w.count("a")
		require.Equal(t, 2, calls)
		require.Equal(t, 1, delivered)
		require.Equal(t, letter{Sent: true, Recorded: 1}, p.letter(t, "a"))
		require.Empty(t, p.due(t))
	})
}

// TestOutboxConcurrentDrains: Drains at the same time over the same
// entries deliver every one, record each sent once, and between them
// report each done once.
func TestOutboxConcurrentDrains(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		p := newLetters(t, open)
		ctx := context.Background()
		const n = 30
		require.NoError(t, p.l.Update(ctx, func(w *ledger.Writer) error {
			for i := range n {
				if err := p.post(w, fmt.Sprintf("l%02d", i), t0); err != nil {
					return err
				}
			}
			return nil
		}))
		reps := make([]kit.TickReport, 3)
		errs := make([]error, len(reps))
		var wg sync.WaitGroup
		for i := range reps {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = p.box.Drain(ctx, t0, &reps[i])
			}()
		}
		wg.Wait()
		done := map[string]int{}
		for i, rep := range reps {
			require.NoError(t, errs[i])
			require.Empty(t, rep.Failed)
			for _, id := range rep.IDs(itemSent) {
				done[id]++
			}
		}
		require.Len(t, done, n)
		for i := range n {
			id := fmt.Sprintf("l%02d", i)
			require.Equal(t, 1, done[id], id)
			_, delivered := p.w.count(id)
			require.Equal(t, 1, delivered, id)
			require.Equal(t, letter{Sent: true, Recorded: 1}, p.letter(t, id), id)
		}
		require.Empty(t, p.due(t))
	})
}

// TestOutboxDrainHonoursTheContext: a Drain whose context has ended
// calls nothing; one whose context ends during a call does not report
// that entry and starts no other.
func TestOutboxDrainHonoursTheContext(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		p := newLetters(t, open)
		bg := context.Background()
		require.NoError(t, p.l.Update(bg, func(w *ledger.Writer) error {
			if err := p.post(w, "a", t0.Add(-time.Minute)); err != nil {
				return err
			}
			return p.post(w, "b", t0)
		}))
		ctx, cancel := context.WithCancel(bg)
		cancel()
		var rep kit.TickReport
		require.ErrorIs(t, p.box.Drain(ctx, t0, &rep), context.Canceled)
		require.Equal(t, kit.TickReport{}, rep)
		calls, _ := p.w.count("a")
		require.Zero(t, calls)

		ctx, cancel = context.WithCancel(bg)
		defer cancel()
		cutShort := kit.Outbox[letter]{Ledger: p.l, Due: dueLetter, Failed: itemFailed,
			Send: func(ctx context.Context, id string) (letter, string, error) {
				err := p.w.call(id)
				cancel() // the deadline passes during the call
				return letter{}, "", errors.Join(err, ctx.Err())
			}}
		require.ErrorIs(t, cutShort.Drain(ctx, t0, &rep), context.Canceled)
		require.Equal(t, kit.TickReport{}, rep, "the call cut short is not reported")
		calls, _ = p.w.count("a")
		require.Equal(t, 1, calls)
		calls, _ = p.w.count("b")
		require.Zero(t, calls, "no call starts after the context ended")
		require.Equal(t, []string{"a", "b"}, p.due(t))
	})
}

// TestOutboxSendsReadThePrimary: Deliver and Drain hand Send a context
// marked to read the primary. With a replica configured, a Send reading
// its record from a replica behind the commit that Put the entry would
// find it missing, answer ErrGone, and drop an entry whose call was never
// made.
func TestOutboxSendsReadThePrimary(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		p := newLetters(t, open)
		var unmarked []string
		send := p.box.Send
		p.box.Send = func(ctx context.Context, id string) (letter, string, error) {
			if !driver.PrimaryRequested(ctx) {
				unmarked = append(unmarked, id)
			}
			return send(ctx, id)
		}
		ctx := context.Background()
		require.NoError(t, p.l.Update(ctx, func(w *ledger.Writer) error { return p.post(w, "a", t0) }))
		require.NoError(t, p.l.Update(ctx, func(w *ledger.Writer) error { return p.post(w, "b", t0) }))
		_, err := p.box.Deliver(ctx, "a")
		require.NoError(t, err)
		rep := p.drain(t)
		require.Equal(t, []string{"b"}, rep.IDs(itemSent))
		require.Empty(t, unmarked, "Send was called without ledger.ReadPrimary")
	})
}
