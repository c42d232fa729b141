package ledger

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/rewardkit/rewardkit/ledger/driver"
)

// holdTrail is a hold as its events in the chained log tell it: what
// Verify holds each stored hold to.
type holdTrail struct {
	key, account, asset string
	units, captured     int64
	expiresAt           int64
	createdAt, closedAt int64
	status              driver.HoldStatus
	// capturedByEvents is what its captured events add up to: VerifyFrom
	// holds the journal's captures after a checkpoint to it.
	capturedByEvents int64
	// legacy: the hold was created before the log was chained, so its
	// trail starts at a later change and says nothing of its amount.
	legacy bool
}

// holdEventData is the data of the ledger's hold events (EventHoldCreated
// and the others), as Verify reads it back.
type holdEventData struct {
	Hold      uint64 `json:"hold"`
	Key       string `json:"key"`
	Account   string `json:"account"`
	Asset     string `json:"asset"`
	Amount    string `json:"amount"`
	ExpiresAt string `json:"expires_at"`
	Captured  string `json:"captured"`
	Closed    bool   `json:"closed"`
	Released  string `json:"released"`
}

// eventAudit is what Verify learns from the event log.
type eventAudit struct {
	events   int
	head     driver.EventHead
	unhashed int   // events written before the log was chained (a prefix)
	chainAt  int64 // time of the first chained event, 0 if none
	holds    map[uint64]*holdTrail
	lastHold uint64 // highest hold ID with a trail
	// firstHold is the lowest hold ID created on the chain, 0 if none:
	// holds are numbered in the order they are made, so a hold from before
	// the chain has a lower ID.
	firstHold uint64
	// keep, when set, says which holds to keep trails of: Verify checks
	// holds a batch at a time, so that memory stays bounded.
	keep func(hold uint64) bool
}

// verifyEvents walks the event log: its Seqs are dense from 1, each hash
// chains to the one before (events a store kept from before the chain, with
// no hash, are accepted as a prefix only), the store's head is the last
// event, every event's transaction is in the journal (lastTx is its
// head), and the hold events replay into one trail per hold (per hold
// keep accepts, when keep is not nil), each change following the one
// before.
func (r *Reader) verifyEvents(ctx context.Context, lastTx uint64, keep func(uint64) bool) (eventAudit, error) {
	return r.verifyEventsFrom(ctx, lastTx, eventAudit{holds: map[uint64]*holdTrail{}, keep: keep}, driver.EventHead{})
}

// verifyEventsFrom is verifyEvents for the events after prev, starting
// from what a says of the log up to prev.
func (r *Reader) verifyEventsFrom(ctx context.Context, lastTx uint64, a eventAudit, prev driver.EventHead) (eventAudit, error) {
	var buf []byte
	const page = 10000
	for {
		if err := ctx.Err(); err != nil {
			return a, err
		}
		evs, err := r.rt.Events(prev.Seq, page)
		if err != nil {
			return a, err
		}
		for i := range evs {
			e := &evs[i]
			if e.Seq != prev.Seq+1 {
				return a, fmt.Errorf("%w: event %d follows %d: the event log has a gap", ErrVerify, e.Seq, prev.Seq)
			}
			if e.TxID > lastTx {
				return a, fmt.Errorf("%w: event %d goes with transaction %d, beyond the journal's last, %d", ErrVerify, e.Seq, e.TxID, lastTx)
			}
			switch {
			case e.Hash == [32]byte{} && a.chainAt == 0:
				a.unhashed++ // before the chain began (pgstore migration 0005)
			default:
				var h [32]byte
				h, buf = driver.EventChainHash(prev.Hash, e, buf)
				if h != e.Hash {
					return a, fmt.Errorf("%w: event %d: hash does not chain (edited, or an earlier one changed)", ErrVerify, e.Seq)
				}
				if a.chainAt == 0 {
					a.chainAt = e.Time
				}
				if err := r.replayHoldEvent(&a, e); err != nil {
					return a, err
				}
			}
			prev = driver.EventHead{Seq: e.Seq, Hash: e.Hash}
			a.events++
		}
		if len(evs) < page {
			break
		}
	}
	head, err := r.rt.EventHead()
	if err != nil {
		return a, err
	}
	switch {
	case head.Seq != prev.Seq:
		return a, fmt.Errorf("%w: the event head is event %d but the log ends at %d", ErrVerify, head.Seq, prev.Seq)
	case head.Hash != prev.Hash:
		return a, fmt.Errorf("%w: the event head's hash is not event %d's (the log was rewritten)", ErrVerify, head.Seq)
	}
	// Inside a unit of work the snapshot holds the holds it wrote, but their
	// events are still in the Writer, appended when its function returns:
	// they are replayed where flushEvents will chain them.
	if r.w != nil {
		for i := range r.w.events {
			e := r.w.events[i]
			e.Seq = prev.Seq + 1
			e.Hash, buf = driver.EventChainHash(prev.Hash, &e, buf)
			if a.chainAt == 0 {
				a.chainAt = e.Time
			}
			if err := r.replayHoldEvent(&a, &e); err != nil {
				return a, err
			}
			prev = driver.EventHead{Seq: e.Seq, Hash: e.Hash}
			a.events++
		}
	}
	a.head = prev
	return a, nil
}

// replayHoldEvent applies one chained event to the hold trails if it is
// one of the hold events; any other event is left alone.
func (r *Reader) replayHoldEvent(a *eventAudit, e *driver.Event) error {
	switch e.Type {
	case EventHoldCreated, EventHoldCaptured, EventHoldVoided, EventHoldExpired:
	default:
		return nil
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: event %d (%s): %s", ErrVerify, e.Seq, e.Type, fmt.Sprintf(format, args...))
	}
	var d holdEventData
	if err := json.Unmarshal(e.Data, &d); err != nil {
		return bad("data: %v", err)
	}
	if e.Type == EventHoldCreated && (a.firstHold == 0 || d.Hold < a.firstHold) {
		a.firstHold = d.Hold // over every hold, not only the batch kept
	}
	if a.keep != nil && !a.keep(d.Hold) {
		return nil
	}
	asset, err := r.Asset(d.Asset)
	if err != nil {
		return bad("asset %s: %v", clip(d.Asset), err)
	}
	units := func(field, s string) (int64, error) {
		amt, err := asset.ParseAmount(s)
		if err != nil {
			return 0, bad("%s %s: %v", field, clip(s), err)
		}
		u, err := asset.Units(amt)
		if err != nil {
			return 0, bad("%s %s: %v", field, clip(s), err)
		}
		return u, nil
	}
	t := a.holds[d.Hold]
	if e.Type == EventHoldCreated {
		if t != nil {
			return bad("hold %d created twice", d.Hold)
		}
		u, err := units("amount", d.Amount)
		if err != nil {
			return err
		}
		exp, err := time.Parse(time.RFC3339Nano, d.ExpiresAt)
		if err != nil {
			return bad("expires_at: %v", err)
		}
		a.holds[d.Hold] = &holdTrail{key: d.Key, account: d.Account, asset: d.Asset, units: u,
			expiresAt: exp.UnixNano(), createdAt: e.Time, status: driver.HoldPending}
		a.lastHold = max(a.lastHold, d.Hold)
		return nil
	}
	if t == nil {
		// Created before the chain began (its creation has no event): the
		// trail starts here, and checkHold accepts it only for a hold
		// created before the first chained event.
		t = &holdTrail{account: d.Account, asset: d.Asset, status: driver.HoldPending, legacy: true, captured: -1}
		a.holds[d.Hold] = t
	}
	if t.status != driver.HoldPending {
		return bad("hold %d changes after it closed", d.Hold)
	}
	if d.Account != t.account || d.Asset != t.asset {
		return bad("hold %d of %s %s names %s %s", d.Hold, t.account, t.asset, clip(d.Account), clip(d.Asset))
	}
	switch e.Type {
	case EventHoldCaptured:
		amount, err := units("amount", d.Amount)
		if err != nil {
			return err
		}
		captured, err := units("captured", d.Captured)
		if err != nil {
			return err
		}
		if t.captured < 0 {
			t.captured = captured - amount // what a legacy hold had captured before the chain
		}
		if amount <= 0 || captured != t.captured+amount || (!t.legacy && captured > t.units) {
			return bad("hold %d: captured %d after %d and a capture of %d, of %d", d.Hold, captured, t.captured, amount, t.units)
		}
		t.captured = captured
		t.capturedByEvents += amount
		if d.Closed || captured == t.units {
			t.status, t.closedAt = driver.HoldCaptured, e.Time
		}
	default:
		released, err := units("released", d.Released)
		if err != nil {
			return err
		}
		if !t.legacy && released != t.units-t.captured {
			return bad("hold %d released %d, it had %d left", d.Hold, released, t.units-t.captured)
		}
		t.status, t.closedAt = driver.HoldVoided, e.Time
		if e.Type == EventHoldExpired {
			t.status = driver.HoldExpired
		}
	}
	return nil
}

// checkHold holds a stored hold to its trail in the event log and to the
// captures the journal holds for it (captured: the sum of its capture
// transactions' postings). A hold with no trail is accepted only if it
// was created before the log was chained, and counted as unchained.
func (a *eventAudit) checkHold(h *driver.Hold, captured int64, unchained *int) error {
	if captured != h.Captured {
		return fmt.Errorf("%w: hold %d: captured %d, the journal's captures of it add up to %d", ErrVerify, h.ID, h.Captured, captured)
	}
	t := a.holds[h.ID]
	if t == nil || t.legacy {
		if a.chainAt != 0 && h.CreatedAt >= a.chainAt || a.firstHold != 0 && h.ID > a.firstHold {
			return fmt.Errorf("%w: hold %d has no %s event in the chained event log", ErrVerify, h.ID, EventHoldCreated)
		}
		*unchained++
		if t == nil {
			return nil
		}
	}
	delete(a.holds, h.ID) // what is left at the end has events but no hold
	if t.legacy {
		if h.Account != t.account || h.Asset != t.asset || (t.captured >= 0 && h.Captured != t.captured) ||
			h.Status != t.status || h.ClosedAt != t.closedAt {
			return fmt.Errorf("%w: hold %d (from before the chain or the checkpoint) is %s with %d captured, its events say %s with %d", ErrVerify, h.ID,
				HoldStatus(h.Status), h.Captured, HoldStatus(t.status), t.captured)
		}
		return nil
	}
	if loggedString(h.Key) != t.key || h.Account != t.account || h.Asset != t.asset || h.Units != t.units ||
		h.ExpiresAt != t.expiresAt || h.CreatedAt != t.createdAt {
		return fmt.Errorf("%w: hold %d differs from its %s event", ErrVerify, h.ID, EventHoldCreated)
	}
	if h.Captured != t.captured || h.Status != t.status || h.ClosedAt != t.closedAt {
		return fmt.Errorf("%w: hold %d is %s with %d captured, its events say %s with %d", ErrVerify, h.ID,
			HoldStatus(h.Status), h.Captured, HoldStatus(t.status), t.captured)
	}
	return nil
}

// loggedString is s as it reads back from an event's JSON data: the same
// string, but for bytes that are not UTF-8 (an idempotency key may hold
// any), which JSON carries as U+FFFD.
func loggedString(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var out string
	_ = json.Unmarshal(appendJSONString(nil, s), &out) // a marshalled string always unmarshals
	return out
}
