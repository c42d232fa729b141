package shoutout_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/shoutout"
)

// TestTicksAtOnceRecordEachMessageOnce: direct messages go through the
// programs' one outbox (kit.Outbox). Ticks running at the same time may
// both send a message (the messenger keeps it once by ID), but the order
// records it once: one shoutout.order.delivered event per order, and one
// ItemMessageSent between the Ticks' reports.
func TestTicksAtOnceRecordEachMessageOnce(t *testing.T) {
	both(t, shoutout.DefaultRules(), func(t *testing.T, e *env) {
		e.fund(t, "ann", 5000)
		const n = 6
		ids := make([]string, n)
		for i := range ids {
			ids[i] = fmt.Sprintf("o-%d", i)
			e.offerAndRequest(t, ids[i], "ann", 500)
		}
		e.msgr.setDown(true)
		for _, id := range ids {
			require.False(t, deliver(t, e, id).DMSent)
		}
		e.msgr.setDown(false)
		_, seq := e.events(t, 0)

		reps := make([]kit.TickReport, 3)
		errs := make([]error, len(reps))
		var wg sync.WaitGroup
		for i := range reps {
			wg.Add(1)
			go func() {
				defer wg.Done()
				reps[i], errs[i] = e.p.Tick(e.ctx)
			}()
		}
		wg.Wait()
		sent := map[string]int{}
		for i, rep := range reps {
			require.NoError(t, errs[i])
			require.Empty(t, rep.Failed)
			for _, id := range rep.IDs(shoutout.ItemMessageSent) {
				sent[id]++
			}
		}
		delivered := map[string]int{}
		evs, _ := e.events(t, seq)
		for _, ev := range evs {
			require.Equal(t, shoutout.EventOrderDelivered, ev.Type)
			delivered[ev.Subject]++
		}
		for _, id := range ids {
			require.Equal(t, 1, sent[id], id)
			require.Equal(t, 1, delivered[id], id)
			o, err := e.p.Order(e.ctx, id)
			require.NoError(t, err)
			require.True(t, o.DMSent, id)
		}
		require.Len(t, e.msgr.Messages("ann"), n)
	})
}

// TestMessageOfAVanishedOrderIsDropped: an outbox entry with no order
// behind it is dropped by Tick, not reported as a failure on every Tick.
func TestMessageOfAVanishedOrderIsDropped(t *testing.T) {
	both(t, shoutout.DefaultRules(), func(t *testing.T, e *env) {
		require.NoError(t, e.l.Update(e.ctx, func(w *ledger.Writer) error { return w.Schedule("shoutout.dm", "ghost", start) }))
		require.Equal(t, tickResult{}, e.tick(t))
		require.NoError(t, e.l.View(e.ctx, func(r *ledger.Reader) error {
			due, err := r.Due("shoutout.dm", start, 10)
			require.Empty(t, due)
			return err
		}))
		require.Zero(t, e.msgr.sends, "nothing was sent")
	})
}
