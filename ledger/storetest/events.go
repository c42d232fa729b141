package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/driver"
)

// eventHead reads the committed event head.
func (e *env) eventHead() uint64 { return e.eventHeadWithHash().Seq }

// eventHeadWithHash reads the committed event head with its hash.
func (e *env) eventHeadWithHash() driver.EventHead {
	e.t.Helper()
	var head driver.EventHead
	require.NoError(e.t, e.store.View(e.ctx, func(r driver.ReadTx) (err error) { head, err = r.EventHead(); return err }))
	return head
}

// eventsAfter reads every committed event after a Seq, checking that the
// sequence numbers follow on from it with no gap.
func (e *env) eventsAfter(after uint64) []ledger.Event {
	e.t.Helper()
	var out []ledger.Event
	for {
		evs, err := e.l.Events(e.ctx, after, 0)
		require.NoError(e.t, err)
		if len(evs) == 0 {
			return out
		}
		for _, ev := range evs {
			require.Equal(e.t, after+1, ev.Seq, "event sequence numbers have no gap")
			after = ev.Seq
		}
		out = append(out, evs...)
	}
}

func eventTypes(evs []ledger.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.Type + "/" + ev.Subject
	}
	return out
}

// testEventsAllOrNothing: a unit of work that fails, panics or is refused
// emits nothing; one that commits emits exactly its events, in order,
// numbered with no gap, with the time and transaction they go with.
func testEventsAllOrNothing(t *testing.T, e *env) {
	e.openAll("member:a", "member:b")
	e.fund("member:a", "EUR", "10")
	head := e.eventHead()

	err := e.l.Update(e.ctx, func(w *ledger.Writer) error {
		require.NoError(t, w.Emit("test.thing.happened", "a", map[string]int{"n": 1}))
		return errBoom
	})
	require.ErrorIs(t, err, errBoom)
	require.Panics(t, func() {
		_ = e.l.Update(e.ctx, func(w *ledger.Writer) error {
			require.NoError(t, w.Emit("test.thing.happened", "a", nil))
			panic("storetest: panic after Emit")
		})
	})
	err = e.l.Update(e.ctx, func(w *ledger.Writer) error {
		require.NoError(t, w.Emit("test.thing.happened", "a", nil))
		_, err := w.Post(ledger.TransferRequest{Postings: []ledger.Posting{{From: "member:a", To: "member:b", Asset: "EUR", Amount: dec("11")}}})
		return err
	})
	require.ErrorIs(t, err, ledger.ErrInsufficientFunds)
	require.Equal(t, head, e.eventHead(), "a unit of work that failed emitted events")
	require.Empty(t, e.eventsAfter(head))

	// Committed: exactly its events, in order. A refused Atomic step's
	// event is dropped with the step, the rest commit.
	var txID uint64
	require.NoError(t, e.l.Update(e.ctx, func(w *ledger.Writer) error {
		if err := w.Emit("test.order.placed", "order-1", map[string]string{"order": "order-1"}); err != nil {
			return err
		}
		tr, err := w.Post(ledger.TransferRequest{Postings: []ledger.Posting{{From: "member:a", To: "member:b", Asset: "EUR", Amount: dec("2.50")}}})
		if err != nil {
			return err
		}
		txID = tr.ID
		refused := w.Atomic(func(w *ledger.Writer) error {
			if err := w.Emit("test.order.refused", "order-2", nil); err != nil {
				return err
			}
			return errBoom
		})
		require.ErrorIs(t, refused, errBoom)
		return w.Emit("test.order.paid", "order-1", nil)
	}))
	evs := e.eventsAfter(head)
	require.Equal(t, []string{"test.order.placed/order-1", ledger.EventTransactionPosted + "/" + fmt.Sprint(txID), "test.order.paid/order-1"}, eventTypes(evs))
	require.Zero(t, evs[0].TxID, "an event emitted before any posting goes with no transaction")
	require.Equal(t, txID, evs[1].TxID)
	require.Equal(t, txID, evs[2].TxID, "an event goes with the transaction its unit of work posted last")
	require.JSONEq(t, `{"order":"order-1"}`, string(evs[0].Data))
	require.Nil(t, evs[2].Data)
	var posted struct {
		Kind     string `json:"kind"`
		Postings []struct{ From, To, Asset, Amount string }
	}
	require.NoError(t, json.Unmarshal(evs[1].Data, &posted))
	require.Equal(t, "transfer", posted.Kind)
	require.Equal(t, []struct{ From, To, Asset, Amount string }{{"member:a", "member:b", "EUR", "2.50"}}, posted.Postings)
	ids := map[string]bool{}
	for _, ev := range evs {
		require.True(t, ev.Time.Equal(e.clock.Now()), "an event's time is its unit of work's")
		require.Equal(t, byte(7), ev.ID[6]>>4, "event IDs are UUIDv7")
		ids[ev.ID.String()] = true
	}
	require.Len(t, ids, len(evs), "event IDs are unique")
}

// testEventsBatch: events of a batch item that fails vanish with it and
// leave no gap, whether the item failed before its events reached the
// store or after the store had sent them (a read after the append).
func testEventsBatch(t *testing.T, e *env) {
	head := e.eventHead()
	errs, err := e.l.UpdateBatch(e.ctx, []func(*ledger.Writer) error{
		func(w *ledger.Writer) error {
			if err := w.Emit("test.item.one", "0", nil); err != nil {
				return err
			}
			return w.Emit("test.item.two", "0", nil)
		},
		func(w *ledger.Writer) error {
			if err := w.Emit("test.item.one", "1", nil); err != nil {
				return err
			}
			return errBoom
		},
		func(w *ledger.Writer) error { return w.Emit("test.item.one", "2", nil) },
	})
	require.NoError(t, err)
	require.NoError(t, errs[0])
	require.ErrorIs(t, errs[1], errBoom)
	require.NoError(t, errs[2])
	require.Equal(t, []string{"test.item.one/0", "test.item.two/0", "test.item.one/2"}, eventTypes(e.eventsAfter(head)))

	// Through the store: the first item appends, reads the log (so a store
	// that buffers writes has sent the events) and fails; the next item
	// finds the head where it was and takes the same Seq.
	// The store keeps each event's hash as given and reports the last as
	// the head's; a rolled-back item leaves the head's hash as it was.
	headH := e.eventHeadWithHash()
	head = headH.Seq
	ev := func(seq uint64, typ string) driver.Event {
		return driver.Event{Seq: seq, ID: [16]byte{byte(seq), 1}, Type: typ, Subject: "s", Time: epoch.UnixNano(),
			Hash: [32]byte{byte(seq), byte(seq >> 8), 7, 31: byte(len(typ))}}
	}
	errs, err = e.store.UpdateBatch(e.ctx, []func(driver.Tx) error{
		func(tx driver.Tx) error {
			h, err := tx.EventHead()
			if err != nil {
				return err
			}
			if err := tx.AppendEvents([]driver.Event{ev(h.Seq+1, "test.item.undone"), ev(h.Seq+2, "test.item.undone")}); err != nil {
				return err
			}
			got, err := tx.Events(h.Seq, 10)
			if err != nil {
				return err
			}
			if len(got) != 2 {
				return fmt.Errorf("a unit of work sees %d of the 2 events it appended", len(got))
			}
			return errBoom
		},
		func(tx driver.Tx) error {
			h, err := tx.EventHead()
			if err != nil {
				return err
			}
			if h != headH {
				return fmt.Errorf("event head %d (hash %x) after a rolled-back item, want %d (hash %x)", h.Seq, h.Hash[:4], headH.Seq, headH.Hash[:4])
			}
			return tx.AppendEvents([]driver.Event{ev(h.Seq+1, "test.item.kept")})
		},
	})
	require.NoError(t, err)
	require.ErrorIs(t, errs[0], errBoom)
	require.NoError(t, errs[1])
	evs := e.eventsAfter(head)
	require.Equal(t, []string{"test.item.kept/s"}, eventTypes(evs))
	require.Equal(t, driver.EventHead{Seq: head + 1, Hash: ev(head+1, "test.item.kept").Hash}, e.eventHeadWithHash())
	require.NoError(t, e.store.View(e.ctx, func(r driver.ReadTx) error {
		got, err := r.Events(head, 1)
		require.NoError(t, err)
		require.Len(t, got, 1)
		require.Equal(t, ev(head+1, "test.item.kept"), got[0], "an event comes back as it was appended, hash and all")
		return nil
	}))

	// A Seq taken is a conflict; one that skips ahead is refused; neither
	// keeps anything.
	head = e.eventHead()
	err = e.store.Update(e.ctx, func(tx driver.Tx) error { return tx.AppendEvents([]driver.Event{ev(head, "test.item.taken")}) })
	require.ErrorIs(t, err, driver.ErrConflict)
	err = e.store.Update(e.ctx, func(tx driver.Tx) error { return tx.AppendEvents([]driver.Event{ev(head+2, "test.item.skipped")}) })
	require.Error(t, err)
	require.Equal(t, head, e.eventHead())
}

// testEventsConcurrent: units of work racing to emit get distinct,
// consecutive sequence numbers, and each one's events stay together and
// in order.
func testEventsConcurrent(t *testing.T, e *env) {
	head := e.eventHead()
	const workers, units = 4, 8
	var wg sync.WaitGroup
	errc := make(chan error, workers*units)
	for g := 0; g < workers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := 0; u < units; u++ {
				errc <- e.l.Update(e.ctx, func(w *ledger.Writer) error {
					for k := 0; k <= u%3; k++ {
						if err := w.Emit("test.worker.step", fmt.Sprintf("w%d", g), map[string]int{"unit": u, "k": k}); err != nil {
							return err
						}
					}
					return nil
				})
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		require.NoError(t, err)
	}
	evs := e.eventsAfter(head) // checks: no gap
	want := 0
	for u := 0; u < units; u++ {
		want += workers * (u%3 + 1)
	}
	require.Len(t, evs, want)
	type step struct{ Unit, K int }
	last := map[string]step{}
	ids := map[string]bool{}
	for i, ev := range evs {
		var s step
		require.NoError(t, json.Unmarshal(ev.Data, &s))
		if prev, ok := last[ev.Subject]; ok {
			next := step{prev.Unit, prev.K + 1}
			if prev.K == prev.Unit%3 {
				next = step{prev.Unit + 1, 0}
			}
			require.Equal(t, next, s, "event %d of %s", i, ev.Subject)
			if s.K > 0 {
				require.Equal(t, ev.Subject, evs[i-1].Subject, "a unit of work's events are consecutive")
			}
		}
		last[ev.Subject] = s
		ids[ev.ID.String()] = true
	}
	require.Len(t, ids, len(evs), "no event is duplicated")
}

// testEventsPaging: reading the log page by page, at the store and
// through the ledger, gives the same events as reading it at once.
func testEventsPaging(t *testing.T, e *env) {
	head := e.eventHead()
	require.NoError(t, e.l.Update(e.ctx, func(w *ledger.Writer) error {
		for i := 0; i < 25; i++ {
			if err := w.Emit("test.page.item", fmt.Sprint(i), nil); err != nil {
				return err
			}
		}
		return nil
	}))
	all, err := e.l.Events(e.ctx, head, 100)
	require.NoError(t, err)
	require.Len(t, all, 25)
	var paged []ledger.Event
	for after := head; ; {
		evs, err := e.l.Events(e.ctx, after, 7)
		require.NoError(t, err)
		require.LessOrEqual(t, len(evs), 7)
		if len(evs) == 0 {
			break
		}
		paged = append(paged, evs...)
		after = evs[len(evs)-1].Seq
	}
	require.Equal(t, all, paged)
	require.NoError(t, e.store.View(e.ctx, func(r driver.ReadTx) error {
		evs, err := r.Events(head+20, 100)
		require.NoError(t, err)
		require.Len(t, evs, 5)
		require.Equal(t, head+21, evs[0].Seq)
		evs, err = r.Events(head+25, 100)
		require.NoError(t, err)
		require.Empty(t, evs, "nothing after the head")
		evs, err = r.Events(head, 0)
		require.NoError(t, err)
		require.Empty(t, evs, "a limit of 0 reads nothing")
		got, err := r.EventHead()
		require.NoError(t, err)
		require.Equal(t, head+25, got.Seq)
		return nil
	}))
	_, err = e.l.Consumer("paging").Position(e.ctx)
	require.NoError(t, err)
	err = e.l.Consumer("paging").Commit(e.ctx, head+26)
	require.ErrorIs(t, err, ledger.ErrInvalidEvent, "a consumer cannot commit beyond the log")
	require.NoError(t, e.l.Consumer("paging").Commit(e.ctx, head+20))
	err = e.l.Consumer("paging").Commit(e.ctx, head+19)
	require.True(t, errors.Is(err, ledger.ErrInvalidEvent), "a consumer's position never goes back: %v", err)
}
