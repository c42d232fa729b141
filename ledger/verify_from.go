package ledger

import (
	"context"
	"fmt"
	"sort"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger/driver"
)

// VerifyFrom checks, on one snapshot, only what came after a checkpoint: the
// Checkpoint of an earlier Verify's or VerifyFrom's report, which an
// auditor kept. It checks that the checkpoint's transaction is still
// there with the checkpoint's hash and time and that its content still
// hashes to it (so the journal up to it was not rewritten, even with the
// chain recomputed); that every later transaction follows as Verify
// checks (dense IDs, hash chain, time, well-formed postings) and its
// running balances follow from each balance's last posting at or before
// the checkpoint; that the event log continues from the checkpoint's event
// likewise; that every hold the later events or captures touch is what
// those events say, as far as they tell, and has captured after the
// checkpoint what the journal's captures after it add up to; that each
// balance the journal moved after the checkpoint is stored and equals its
// last running amount; that every asset sums to zero; and that no account
// is below its limit. A checkpoint beyond the journal's head or the event
// log's is a break too: the history it vouched for is gone (or the
// checkpoint is another ledger's). It returns the first break found,
// wrapping ErrVerify.
//
// Its cost is proportional to what came after the checkpoint plus the
// number of balances (it reads every balance, for the totals). It leaves
// to Verify what is older or untouched: an edit before the checkpoint
// that did not recompute the chain, a hold or a held amount nothing
// changed since. So an auditor runs VerifyFrom often, keeping each
// report's Checkpoint for the next run, and Verify now and then. The
// report counts the transactions and events after the checkpoint, the
// holds it checked (UnchainedHolds: those with no creation event after the
// checkpoint) and every balance.
func (l *Ledger) VerifyFrom(ctx context.Context, cp Checkpoint) (VerifyReport, error) {
	var rep VerifyReport
	err := l.View(ctx, func(r *Reader) error {
		var err error
		rep, err = r.VerifyFrom(ctx, cp)
		return err
	})
	return rep, err
}

// VerifyFrom checks the snapshot r reads from a checkpoint (see
// Ledger.VerifyFrom).
func (r *Reader) VerifyFrom(ctx context.Context, cp Checkpoint) (VerifyReport, error) {
	rep := VerifyReport{Totals: map[string]decimal.Decimal{}}
	head, err := r.rt.Head()
	if err != nil {
		return rep, err
	}
	if cp.Head.ID > head.ID {
		return rep, fmt.Errorf("%w: the checkpoint is at transaction %d but the journal ends at %d (transactions were removed, or the checkpoint is another ledger's)",
			ErrVerify, cp.Head.ID, head.ID)
	}
	eventHead, err := r.rt.EventHead()
	if err != nil {
		return rep, err
	}
	if cp.EventHead.Seq > eventHead.Seq {
		return rep, fmt.Errorf("%w: the checkpoint is at event %d but the event log ends at %d (events were removed, or the checkpoint is another ledger's)",
			ErrVerify, cp.EventHead.Seq, eventHead.Seq)
	}
	w, err := r.replayAfter(ctx, cp.Head, &rep)
	if err != nil {
		return rep, err
	}
	audit, err := r.eventsAfter(ctx, rep.Head.ID, cp.EventHead)
	if err != nil {
		return rep, err
	}
	rep.Events, rep.EventHead, rep.UnchainedEvents = audit.events, EventHead(audit.head), audit.unhashed
	if err := r.checkHoldsAfter(&w, &audit, cp.EventHead.Hash != [32]byte{}, &rep); err != nil {
		return rep, err
	}
	totals := map[string]*int128{}
	if err := r.checkBalancesAfter(ctx, w.posted, totals, &rep); err != nil {
		return rep, err
	}
	return rep, r.checkTotals(totals, &rep)
}

// window is what VerifyFrom learns from the journal after the checkpoint.
type window struct {
	posted   map[BalanceKey]int64 // each balance moved: its last running amount
	captures []windowCapture
}

// windowCapture is a capture transaction after the checkpoint.
type windowCapture struct {
	hold, tx    uint64
	units, time int64
}

// replayAfter checks the checkpoint's transaction and the journal after
// it, replaying each balance moved from its running amount at the
// checkpoint, and sets rep.Head.
func (r *Reader) replayAfter(ctx context.Context, cp Head, rep *VerifyReport) (window, error) {
	w := window{posted: map[BalanceKey]int64{}}
	prev, err := r.checkpointTx(cp)
	if err != nil {
		return w, err
	}
	var buf []byte
	for after := cp.ID; ; {
		if err := ctx.Err(); err != nil {
			return w, err
		}
		ts, err := r.rt.Transactions(after, verifyPage)
		if err != nil {
			return w, err
		}
		for i := range ts {
			t := &ts[i]
			if buf, err = checkLink(prev, t, buf); err != nil {
				return w, err
			}
			for j := range t.Postings {
				if err := r.replaySince(&w, cp.ID, t, j); err != nil {
					return w, err
				}
			}
			if t.Hold != 0 {
				c := windowCapture{hold: t.Hold, tx: t.ID, time: t.Time}
				for j := range t.Postings {
					var ok bool
					if c.units, ok = addUnits(c.units, t.Postings[j].Units); !ok {
						return w, fmt.Errorf("%w: transaction %d: captures of hold %d leave the int64 range", ErrVerify, t.ID, t.Hold)
					}
				}
				w.captures = append(w.captures, c)
			}
			prev = driver.Head{ID: t.ID, Hash: t.Hash, Time: t.Time}
			rep.Transactions++
		}
		if len(ts) < verifyPage {
			break
		}
		after = ts[len(ts)-1].ID
	}
	head, err := r.rt.Head()
	if err != nil {
		return w, err
	}
	switch {
	case head.ID != prev.ID:
		return w, fmt.Errorf("%w: head is transaction %d but the journal ends at %d", ErrVerify, head.ID, prev.ID)
	case head != prev:
		return w, fmt.Errorf("%w: the head's hash or time is not transaction %d's (the journal was rewritten)", ErrVerify, head.ID)
	}
	rep.Head = Head(head)
	return w, nil
}

// checkpointTx checks that the checkpoint's transaction is still in the
// journal with the checkpoint's hash and time, and that its content still
// hashes to that hash from the one before it: a journal rewritten up to
// the checkpoint, even with the chain recomputed, cannot keep both. It
// returns the checkpoint as the journal's head there.
func (r *Reader) checkpointTx(cp Head) (driver.Head, error) {
	if cp.ID == 0 {
		if cp != (Head{}) {
			return driver.Head{}, fmt.Errorf("%w: the checkpoint is at no transaction but has a hash or a time", ErrVerify)
		}
		return driver.Head{}, nil
	}
	// The checkpoint's transaction and the one before it, if any.
	from := cp.ID - min(cp.ID, 2)
	ts, err := r.rt.Transactions(from, int(cp.ID-from))
	if err != nil {
		return driver.Head{}, err
	}
	if len(ts) != int(cp.ID-from) || ts[len(ts)-1].ID != cp.ID {
		return driver.Head{}, fmt.Errorf("%w: the journal lacks transaction %d, the checkpoint's, or the one before it", ErrVerify, cp.ID)
	}
	t := &ts[len(ts)-1]
	var before [32]byte
	if len(ts) == 2 {
		before = ts[0].Hash
	}
	h, _ := driver.ChainHash(before, t, nil)
	if h != t.Hash || t.Hash != cp.Hash || t.Time != cp.Time {
		return driver.Head{}, fmt.Errorf("%w: transaction %d is not the checkpoint's (the journal up to the checkpoint was rewritten)", ErrVerify, cp.ID)
	}
	return driver.Head{ID: t.ID, Hash: t.Hash, Time: t.Time}, nil
}

// replaySince applies posting j of t to the balances it moves. A balance
// first moved after the checkpoint starts from its running amount at the
// checkpoint, as the store's history of it gives it: the journal up to the
// checkpoint was verified when the checkpoint was made.
func (r *Reader) replaySince(w *window, cpID uint64, t *driver.Transaction, j int) error {
	p := &t.Postings[j]
	sides := [2]struct {
		k            BalanceKey
		delta, after int64
	}{{BalanceKey{p.From, p.Asset}, -p.Units, p.FromAfter}, {BalanceKey{p.To, p.Asset}, p.Units, p.ToAfter}}
	for _, s := range sides {
		v, ok := w.posted[s.k]
		if !ok {
			var err error
			if v, err = r.rt.PostedAt(driver.BalanceKey(s.k), cpID); err != nil {
				return err
			}
		}
		if v, ok = addUnits(v, s.delta); !ok {
			return fmt.Errorf("%w: transaction %d posting %d: a balance leaves the int64 range", ErrVerify, t.ID, j)
		}
		w.posted[s.k] = v
		if v != s.after {
			return fmt.Errorf("%w: transaction %d posting %d: running balances differ from the replay", ErrVerify, t.ID, j)
		}
	}
	return nil
}

// eventsAfter checks the checkpoint's event and walks the log after it
// (see verifyEvents). A hold whose trail after the checkpoint has no
// creation event is accepted if it was created by the checkpoint's event's
// time: before the checkpoint, when its history was verified.
func (r *Reader) eventsAfter(ctx context.Context, lastTx uint64, cp EventHead) (eventAudit, error) {
	a := eventAudit{holds: map[uint64]*holdTrail{}}
	if cp.Seq == 0 {
		if cp.Hash != [32]byte{} {
			return a, fmt.Errorf("%w: the checkpoint is at no event but has an event hash", ErrVerify)
		}
		return r.verifyEventsFrom(ctx, lastTx, a, driver.EventHead{})
	}
	from := cp.Seq - min(cp.Seq, 2)
	evs, err := r.rt.Events(from, int(cp.Seq-from))
	if err != nil {
		return a, err
	}
	if len(evs) != int(cp.Seq-from) || evs[len(evs)-1].Seq != cp.Seq {
		return a, fmt.Errorf("%w: the event log lacks event %d, the checkpoint's, or the one before it", ErrVerify, cp.Seq)
	}
	e := &evs[len(evs)-1]
	rewritten := fmt.Errorf("%w: event %d is not the checkpoint's (the event log up to the checkpoint was rewritten)", ErrVerify, cp.Seq)
	if e.Hash != cp.Hash {
		return a, rewritten
	}
	if e.Hash != [32]byte{} {
		var before [32]byte
		if len(evs) == 2 {
			before = evs[0].Hash
		}
		if h, _ := driver.EventChainHash(before, e, nil); h != e.Hash {
			return a, rewritten
		}
		// The chain had begun by the checkpoint: every later event must
		// chain, and a trail with no creation event is a hold's from before.
		a.chainAt = max(e.Time+1, 1)
	}
	return r.verifyEventsFrom(ctx, lastTx, a, driver.EventHead{Seq: e.Seq, Hash: e.Hash})
}

// checkHoldsAfter checks each hold the events or the journal's captures
// after the checkpoint touch against its trail after the checkpoint, and
// those captures against the trail's: every capture must have its event,
// unless it was made before the event log was chained (chained: it was by
// the checkpoint).
func (r *Reader) checkHoldsAfter(w *window, audit *eventAudit, chained bool, rep *VerifyReport) error {
	withEvents := map[uint64]int64{} // what the journal captured, with events to tell of it
	for _, c := range w.captures {
		sum := withEvents[c.hold]
		if chained || audit.chainAt != 0 && c.time >= audit.chainAt {
			var ok bool
			if sum, ok = addUnits(sum, c.units); !ok {
				return fmt.Errorf("%w: transaction %d: captures of hold %d leave the int64 range", ErrVerify, c.tx, c.hold)
			}
		}
		withEvents[c.hold] = sum
	}
	ids := make([]uint64, 0, len(audit.holds)+len(withEvents))
	for id := range audit.holds {
		ids = append(ids, id)
	}
	for id := range withEvents {
		if audit.holds[id] == nil {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		t := audit.holds[id]
		var hs []driver.Hold
		if id != 0 {
			var err error
			if hs, err = r.rt.Holds(id-1, 1); err != nil {
				return err
			}
		}
		if len(hs) == 0 || hs[0].ID != id {
			if t != nil {
				return fmt.Errorf("%w: hold %d has events but is not stored", ErrVerify, id)
			}
			return fmt.Errorf("%w: the journal captures from hold %d, which is not stored", ErrVerify, id)
		}
		h := &hs[0]
		if h.Units <= 0 || h.Captured < 0 || h.Captured > h.Units {
			return fmt.Errorf("%w: hold %d captured %d of %d", ErrVerify, h.ID, h.Captured, h.Units)
		}
		rep.Holds++
		if t == nil {
			if withEvents[id] != 0 {
				return fmt.Errorf("%w: hold %d: the journal captures %d from it after the checkpoint, and no event tells of it", ErrVerify, id, withEvents[id])
			}
			rep.UnchainedHolds++ // captured before the log was chained: nothing to hold it to
			continue
		}
		// What it captured in all is held to its trail; what the journal
		// captured after the checkpoint, to what the trail's events capture.
		if err := audit.checkHold(h, h.Captured, &rep.UnchainedHolds); err != nil {
			return err
		}
		if withEvents[id] != t.capturedByEvents {
			return fmt.Errorf("%w: hold %d: its events capture %d after the checkpoint, the journal's captures of it add up to %d",
				ErrVerify, id, t.capturedByEvents, withEvents[id])
		}
	}
	return nil
}

// checkBalancesAfter reads every balance: each the journal moved after the
// checkpoint must equal its last running amount; each is checked against
// its limit and added to the totals.
func (r *Reader) checkBalancesAfter(ctx context.Context, posted map[BalanceKey]int64, totals map[string]*int128, rep *VerifyReport) error {
	for after := (BalanceKey{}); ; {
		if err := ctx.Err(); err != nil {
			return err
		}
		bs, err := r.rt.Balances(driver.BalanceKey(after), verifyPage)
		if err != nil {
			return err
		}
		for i := range bs {
			b := &bs[i]
			k := BalanceKey{b.Address, b.Asset}
			if v, ok := posted[k]; ok {
				if b.Posted != v {
					return fmt.Errorf("%w: %s %s: stored balance %d, journal says %d", ErrVerify, b.Address, b.Asset, b.Posted, v)
				}
				delete(posted, k)
			}
			if err := r.checkBalance(b, totals); err != nil {
				return err
			}
			rep.Balances++
		}
		if len(bs) < verifyPage {
			break
		}
		after = BalanceKey{bs[len(bs)-1].Address, bs[len(bs)-1].Asset}
	}
	if len(posted) > 0 {
		keys := make([]BalanceKey, 0, len(posted))
		for k := range posted {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return keyLess(keys[i], keys[j]) })
		return fmt.Errorf("%w: %s %s: the journal moves it after the checkpoint but no balance is stored", ErrVerify, keys[0].Address, keys[0].Asset)
	}
	return nil
}
