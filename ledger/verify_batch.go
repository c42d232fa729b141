package ledger

import (
	"fmt"

	"github.com/rewardkit/rewardkit/ledger/driver"
)

// balanceBatch is the run of stored balances one pass of Verify checks:
// those whose keys are in (lo, hi], hi being the last one loaded, with
// what the pass learns of each. The runs of successive passes tile the
// whole key space (the first has no lower bound, the last no upper one),
// so every key the journal or a hold names belongs to exactly one pass,
// and a key in a run that is not stored is a break.
type balanceBatch struct {
	stored []driver.Balance
	at     map[BalanceKey]int // index in stored
	posted []int64            // replayed from the journal
	held   []int64            // what pending holds reserve

	lo      BalanceKey
	started bool
	first   bool // no lower bound
	last    bool // no upper bound: no balance is stored after this run
	done    bool // the run before was the last: this pass has none
}

// next loads the run after the current one, at most n balances.
func (b *balanceBatch) next(rt driver.ReadTx, n int) error {
	b.first, b.started = !b.started, true
	if b.last {
		b.done = true
	}
	if len(b.stored) > 0 {
		last := &b.stored[len(b.stored)-1]
		b.lo = BalanceKey{last.Address, last.Asset}
	}
	b.stored = b.stored[:0]
	if b.at == nil {
		b.at = map[BalanceKey]int{}
	}
	clear(b.at)
	if b.done {
		return nil
	}
	after := b.lo
	for len(b.stored) < n {
		want := min(verifyPage, n-len(b.stored))
		bs, err := rt.Balances(driver.BalanceKey(after), want)
		if err != nil {
			return err
		}
		for i := range bs {
			k := BalanceKey{bs[i].Address, bs[i].Asset}
			if (!b.first || len(b.stored) > 0) && !keyLess(after, k) {
				return fmt.Errorf("%w: the store returns balance %s %s after %s %s, out of order", ErrVerify, k.Address, k.Asset, after.Address, after.Asset)
			}
			b.at[k] = len(b.stored)
			b.stored = append(b.stored, bs[i])
			after = k
		}
		if len(bs) < want {
			b.last = true
			break
		}
	}
	if !b.last {
		more, err := rt.Balances(driver.BalanceKey(after), 1)
		if err != nil {
			return err
		}
		b.last = len(more) == 0
	}
	b.posted = zeroed(b.posted, len(b.stored))
	b.held = zeroed(b.held, len(b.stored))
	return nil
}

// in says whether k belongs to this pass's run.
func (b *balanceBatch) in(k BalanceKey) bool {
	switch {
	case b.done:
		return false
	case !b.first && !keyLess(b.lo, k):
		return false
	case !b.last:
		hi := &b.stored[len(b.stored)-1]
		return !keyLess(BalanceKey{hi.Address, hi.Asset}, k)
	}
	return true
}

// replay applies posting j of t to the balances in hand it moves and
// checks the running balances the journal gives against the replay.
func (b *balanceBatch) replay(t *driver.Transaction, j int) error {
	p := &t.Postings[j]
	sides := [2]struct {
		k            BalanceKey
		delta, after int64
	}{{BalanceKey{p.From, p.Asset}, -p.Units, p.FromAfter}, {BalanceKey{p.To, p.Asset}, p.Units, p.ToAfter}}
	for _, s := range sides {
		i, ok := b.at[s.k]
		if !ok {
			if b.in(s.k) {
				return fmt.Errorf("%w: transaction %d posting %d: %s %s has no stored balance", ErrVerify, t.ID, j, s.k.Address, s.k.Asset)
			}
			continue
		}
		// Checked: a replay that wraps int64 could match running balances
		// forged to wrap with it.
		v, ok := addUnits(b.posted[i], s.delta)
		if !ok {
			return fmt.Errorf("%w: transaction %d posting %d: a balance leaves the int64 range", ErrVerify, t.ID, j)
		}
		b.posted[i] = v
		if v != s.after {
			return fmt.Errorf("%w: transaction %d posting %d: running balances differ from the replay", ErrVerify, t.ID, j)
		}
	}
	return nil
}

// holdBatch is the run of stored holds one pass of Verify checks: those
// with IDs in (lo, hi], hi being the last one loaded, as balanceBatch is
// for balances. Only their IDs are kept (a hold's metadata can be large);
// the pass reads the holds again to check them.
type holdBatch struct {
	ids      []uint64
	at       map[uint64]int // index in ids
	captured []int64        // what the journal's captures add up to

	lo      uint64
	started bool
	first   bool // no lower bound
	last    bool // no upper bound: no hold is stored after this run
	done    bool // the run before was the last: this pass has none

	// The first hold in this run's range that the journal captures from,
	// or that has events, but is not stored.
	capturedUnstored, eventsUnstored firstID
}

// next loads the run after the current one, at most n holds.
func (h *holdBatch) next(rt driver.ReadTx, n int) error {
	h.first, h.started = !h.started, true
	if h.last {
		h.done = true
	}
	if len(h.ids) > 0 {
		h.lo = h.ids[len(h.ids)-1]
	}
	h.ids = h.ids[:0]
	if h.at == nil {
		h.at = map[uint64]int{}
	}
	clear(h.at)
	h.capturedUnstored, h.eventsUnstored = firstID{}, firstID{}
	if h.done {
		return nil
	}
	after := h.lo
	for len(h.ids) < n {
		want := min(verifyPage, n-len(h.ids))
		hs, err := rt.Holds(after, want)
		if err != nil {
			return err
		}
		for i := range hs {
			id := hs[i].ID
			if (!h.first || len(h.ids) > 0) && id <= after {
				return fmt.Errorf("%w: the store returns hold %d after %d, out of order", ErrVerify, id, after)
			}
			h.at[id] = len(h.ids)
			h.ids = append(h.ids, id)
			after = id
		}
		if len(hs) < want {
			h.last = true
			break
		}
	}
	if !h.last {
		more, err := rt.Holds(after, 1)
		if err != nil {
			return err
		}
		h.last = len(more) == 0
	}
	h.captured = zeroed(h.captured, len(h.ids))
	return nil
}

// in says whether a hold ID belongs to this pass's run.
func (h *holdBatch) in(id uint64) bool {
	switch {
	case h.done:
		return false
	case !h.first && id <= h.lo:
		return false
	case !h.last:
		return id <= h.ids[len(h.ids)-1]
	}
	return true
}

// capture adds a capture transaction's postings to its hold's captures,
// if the hold is in hand.
func (h *holdBatch) capture(t *driver.Transaction) error {
	i, ok := h.at[t.Hold]
	if !ok {
		if h.in(t.Hold) {
			h.capturedUnstored.note(t.Hold)
		}
		return nil
	}
	for j := range t.Postings {
		c, ok := addUnits(h.captured[i], t.Postings[j].Units)
		if !ok {
			return fmt.Errorf("%w: transaction %d: captures of hold %d leave the int64 range", ErrVerify, t.ID, t.Hold)
		}
		h.captured[i] = c
	}
	return nil
}

// keep says whether to replay a hold's events in this pass: only a hold
// in hand's (see eventAudit.keep).
func (h *holdBatch) keep(id uint64) bool {
	if _, ok := h.at[id]; ok {
		return true
	}
	if h.in(id) {
		h.eventsUnstored.note(id)
	}
	return false
}

// firstID remembers the first ID noted.
type firstID struct {
	id  uint64
	set bool
}

func (f *firstID) note(id uint64) {
	if !f.set {
		f.id, f.set = id, true
	}
}

func (f *firstID) get() (uint64, bool) { return f.id, f.set }

// keyLess orders balance keys as the store does: by address, then asset,
// byte-wise.
func keyLess(a, b BalanceKey) bool {
	return a.Address < b.Address || a.Address == b.Address && a.Asset < b.Asset
}

// zeroed returns s resized to n, all zero, reusing its memory.
func zeroed(s []int64, n int) []int64 {
	if cap(s) < n {
		return make([]int64, n)
	}
	s = s[:n]
	clear(s)
	return s
}
