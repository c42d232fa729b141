package memstore

import (
	"fmt"

	"github.com/rewardkit/rewardkit/ledger/driver"
)

type undoOp uint8

const (
	undoAsset undoOp = iota + 1
	undoAccount
	undoBalanceNew
	undoBalanceSet
	undoTx
	undoHoldInsert
	undoHoldUpdate
	undoRecord
	undoDue
	undoEvents
)

// undo is one step of the undo log: enough to put back what a write
// changed. Entries are plain values in a reused slice, so the hot path of
// an update allocates nothing for its rollback.
type undo struct {
	op      undoOp
	existed bool
	b       *balance
	// posted and held: undoBalanceSet. posted is also the index into
	// oldHolds (undoHoldUpdate) or into names (records, due entries,
	// assets, accounts), and held the old due time.
	posted, held int64
}

// undoName is the rarer, larger part of an undo entry: names and data.
type undoName struct {
	s1, s2 string
	data   []byte
}

// tx is the store's single writer. It writes straight into the store's maps
// (the store is write-locked) and logs how to undo each write.
type tx struct {
	reader
	s        *Store
	undo     []undo
	oldHolds []driver.Hold // hold values before UpdateHold, for undo
	names    []undoName    // names and data of undo entries
	locked   []*balance    // balances LockBalances returned, most recent first to look up
	states   []driver.Balance
	active   bool
}

// logName logs an undo entry whose names or data live in t.names.
func (t *tx) logName(u undo, n undoName) {
	u.posted = int64(len(t.names))
	t.names = append(t.names, n)
	t.undo = append(t.undo, u)
}

func (t *tx) begin() *tx {
	t.names = t.names[:0]
	t.undo = t.undo[:0]
	t.oldHolds = t.oldHolds[:0]
	t.locked = t.locked[:0]
	t.active = true
	return t
}

func (t *tx) end(committed bool) {
	t.active = false
	if !committed {
		t.rollbackTo(0)
	}
	clear(t.undo) // drop references so the log does not retain old data
	t.undo = t.undo[:0]
	clear(t.names)
	t.names = t.names[:0]
	t.oldHolds = t.oldHolds[:0]
	clear(t.locked)
	t.locked = t.locked[:0]
}

func (t *tx) check() {
	if !t.active {
		panic("memstore: Tx used after its Update returned")
	}
}

// rollbackTo undoes every write logged after mark, newest first.
func (t *tx) rollbackTo(mark int) {
	s := t.s
	for i := len(t.undo) - 1; i >= mark; i-- {
		u := &t.undo[i]
		var n undoName
		switch u.op {
		case undoAsset, undoAccount, undoRecord, undoDue:
			n = t.names[u.posted]
			t.names = t.names[:u.posted]
		}
		switch u.op {
		case undoAsset:
			delete(s.assets, n.s1)
		case undoAccount:
			delete(s.accounts, n.s1)
		case undoBalanceNew:
			s.removeBalance(u.b)
		case undoBalanceSet:
			u.b.state.Posted, u.b.state.Held = u.posted, u.held
		case undoTx:
			last := s.txAt(s.ntx)
			// Its postings entered two histories each; take them out
			// newest first.
			for j := len(last.Postings) - 1; j >= 0; j-- {
				p := &last.Postings[j]
				for _, addr := range [2]string{p.To, p.From} {
					if b := s.lookup(addr, p.Asset); b != nil && len(b.hist) > 0 {
						b.hist = b.hist[:len(b.hist)-1]
					}
				}
			}
			if last.Key != "" {
				delete(s.keys, last.Key)
			}
			if last.Reverses != 0 {
				delete(s.reversals, last.Reverses)
			}
			*last = driver.Transaction{}
			s.ntx--
			s.head = driver.Head{}
			if s.ntx > 0 {
				prev := s.txAt(s.ntx)
				s.head = driver.Head{ID: prev.ID, Hash: prev.Hash, Time: prev.Time}
			}
		case undoHoldInsert:
			h := s.holds[len(s.holds)-1]
			if h.Key != "" {
				delete(s.holdKeys, h.Key)
			}
			s.holds = s.holds[:len(s.holds)-1]
		case undoHoldUpdate:
			h := t.oldHolds[u.posted]
			s.holds[h.ID-1] = h
			t.oldHolds = t.oldHolds[:u.posted]
		case undoRecord:
			if u.existed {
				s.records.ReplaceOrInsert(recordItem{kind: n.s1, id: n.s2, data: n.data})
			} else {
				s.records.Delete(recordItem{kind: n.s1, id: n.s2})
			}
		case undoEvents:
			for ; u.posted > 0; u.posted-- {
				*s.eventAt(s.nev) = driver.Event{} // drop the data it retains
				s.nev--
			}
		case undoDue:
			k := kindID{n.s1, n.s2}
			if at, ok := s.dueAt[k]; ok {
				s.due.Delete(dueItem{kind: n.s1, at: at, id: n.s2})
				delete(s.dueAt, k)
			}
			if u.existed {
				s.due.ReplaceOrInsert(dueItem{kind: n.s1, at: u.held, id: n.s2})
				s.dueAt[k] = u.held
			}
		}
		*u = undo{}
	}
	t.undo = t.undo[:mark]
}

func (t *tx) PutAsset(a driver.Asset) error {
	t.check()
	if _, ok := t.s.assets[a.Code]; ok {
		return fmt.Errorf("%w: asset %s exists", driver.ErrDuplicate, a.Code)
	}
	t.s.assets[a.Code] = a
	t.logName(undo{op: undoAsset}, undoName{s1: a.Code})
	return nil
}

func (t *tx) PutAccount(a driver.Account) error {
	t.check()
	if _, ok := t.s.accounts[a.Address]; ok {
		return fmt.Errorf("%w: account %s exists", driver.ErrDuplicate, a.Address)
	}
	t.s.accounts[a.Address] = &a
	t.logName(undo{op: undoAccount}, undoName{s1: a.Address})
	return nil
}

func (t *tx) balance(k driver.BalanceKey) *balance {
	if b := t.s.lookup(k.Address, k.Asset); b != nil {
		return b
	}
	b := &balance{state: driver.Balance{Address: k.Address, Asset: k.Asset}}
	t.s.balances[k.Address] = append(t.s.balances[k.Address], b)
	t.s.nbal++
	t.s.balOrder.ReplaceOrInsert(b)
	t.undo = append(t.undo, undo{op: undoBalanceNew, b: b})
	return b
}

// LockBalances returns the balances' states. The whole store is
// write-locked for the update, so there is nothing more to lock; it creates
// missing balances (undone with the update if it fails) and remembers them,
// so that PutBalances and AppendTransaction find them without a map lookup.
// The returned slice is reused by the next call: the ledger never keeps it.
func (t *tx) LockBalances(keys []driver.BalanceKey) ([]driver.Balance, error) {
	t.check()
	t.locked = t.locked[:0]
	out := t.states[:0]
	for _, k := range keys {
		b := t.balance(k)
		t.locked = append(t.locked, b)
		out = append(out, b.state)
	}
	t.states = out
	return out, nil
}

// find returns the balance of (addr, asset), trying the ones locked last.
func (t *tx) find(addr, asset string) *balance {
	for _, b := range t.locked {
		if b.state.Address == addr && b.state.Asset == asset {
			return b
		}
	}
	return t.balance(driver.BalanceKey{Address: addr, Asset: asset})
}

func (t *tx) PutBalances(bs []driver.Balance) error {
	t.check()
	for i := range bs {
		st := &bs[i]
		b := t.find(st.Address, st.Asset)
		t.undo = append(t.undo, undo{op: undoBalanceSet, b: b, posted: b.state.Posted, held: b.state.Held})
		b.state.Posted, b.state.Held = st.Posted, st.Held
	}
	return nil
}

func (t *tx) AppendTransaction(st *driver.Transaction) error {
	t.check()
	s := t.s
	if st.ID != s.ntx+1 {
		return fmt.Errorf("memstore: transaction %d does not follow head %d", st.ID, s.ntx)
	}
	if st.Key != "" {
		if _, ok := s.keys[st.Key]; ok {
			return fmt.Errorf("%w: idempotency key %q taken", driver.ErrConflict, st.Key)
		}
	}
	if st.Reverses != 0 {
		if _, ok := s.reversals[st.Reverses]; ok {
			return fmt.Errorf("%w: transaction %d already reversed", driver.ErrConflict, st.Reverses)
		}
	}
	i := s.ntx
	if i/chunkSize == uint64(len(s.chunks)) {
		s.chunks = append(s.chunks, make([]driver.Transaction, chunkSize))
	}
	s.chunks[i/chunkSize][i%chunkSize] = *st
	s.ntx++
	t.undo = append(t.undo, undo{op: undoTx})
	s.head = driver.Head{ID: st.ID, Hash: st.Hash, Time: st.Time}
	if st.Key != "" {
		s.keys[st.Key] = st.ID
	}
	if st.Reverses != 0 {
		s.reversals[st.Reverses] = st.ID
	}
	for i := range st.Postings {
		p := &st.Postings[i]
		for _, side := range [2]struct {
			addr  string
			after int64
		}{{p.From, p.FromAfter}, {p.To, p.ToAfter}} {
			b := t.find(side.addr, p.Asset)
			b.hist = append(b.hist, histItem{id: st.ID, after: side.after, posting: int32(i)})
		}
	}
	return nil
}

func (t *tx) InsertHold(h *driver.Hold) (uint64, error) {
	t.check()
	s := t.s
	if h.Key != "" {
		if _, ok := s.holdKeys[h.Key]; ok {
			return 0, fmt.Errorf("%w: hold key %q taken", driver.ErrConflict, h.Key)
		}
	}
	id := uint64(len(s.holds)) + 1
	c := *h
	c.ID = id
	s.holds = append(s.holds, c)
	if h.Key != "" {
		s.holdKeys[h.Key] = id
	}
	t.undo = append(t.undo, undo{op: undoHoldInsert})
	return id, nil
}

func (t *tx) UpdateHold(h *driver.Hold) error {
	t.check()
	s := t.s
	if h.ID == 0 || h.ID > uint64(len(s.holds)) {
		return fmt.Errorf("%w: hold %d", driver.ErrNotFound, h.ID)
	}
	old := s.holds[h.ID-1]
	t.undo = append(t.undo, undo{op: undoHoldUpdate, posted: int64(len(t.oldHolds))})
	t.oldHolds = append(t.oldHolds, old)
	old.Captured, old.Status, old.ClosedAt = h.Captured, h.Status, h.ClosedAt
	s.holds[h.ID-1] = old
	return nil
}

func (t *tx) putRecord(r driver.Record) {
	old, existed := t.s.records.ReplaceOrInsert(recordItem{kind: r.Kind, id: r.ID, data: r.Data})
	t.logName(undo{op: undoRecord, existed: existed}, undoName{s1: r.Kind, s2: r.ID, data: old.data})
}

func (t *tx) PutRecord(r driver.Record) error {
	t.check()
	t.putRecord(r)
	return nil
}

func (t *tx) InsertRecord(r driver.Record) error {
	t.check()
	if t.s.records.Has(recordItem{kind: r.Kind, id: r.ID}) {
		return fmt.Errorf("%w: record %s/%s", driver.ErrDuplicate, r.Kind, r.ID)
	}
	t.putRecord(r)
	return nil
}

func (t *tx) DeleteRecord(kind, id string) error {
	t.check()
	old, existed := t.s.records.Delete(recordItem{kind: kind, id: id})
	if existed {
		t.logName(undo{op: undoRecord, existed: true}, undoName{s1: kind, s2: id, data: old.data})
	}
	return nil
}

func (t *tx) Schedule(e driver.DueEntry) error {
	t.check()
	k := kindID{e.Kind, e.ID}
	at, existed := t.s.dueAt[k]
	t.logName(undo{op: undoDue, existed: existed, held: at}, undoName{s1: e.Kind, s2: e.ID})
	if existed {
		t.s.due.Delete(dueItem{kind: e.Kind, at: at, id: e.ID})
	}
	n := e.At.UnixNano()
	t.s.due.ReplaceOrInsert(dueItem{kind: e.Kind, at: n, id: e.ID})
	t.s.dueAt[k] = n
	return nil
}

func (t *tx) Unschedule(kind, id string) error {
	t.check()
	k := kindID{kind, id}
	at, existed := t.s.dueAt[k]
	if !existed {
		return nil
	}
	t.logName(undo{op: undoDue, existed: true, held: at}, undoName{s1: kind, s2: id})
	t.s.due.Delete(dueItem{kind: kind, at: at, id: id})
	delete(t.s.dueAt, k)
	return nil
}

func (t *tx) AppendEvents(evs []driver.Event) error {
	t.check()
	if len(evs) == 0 {
		return nil
	}
	s := t.s
	head := s.nev
	for i := range evs {
		if seq := evs[i].Seq; seq != head+uint64(i)+1 {
			if seq <= head {
				return fmt.Errorf("%w: event sequence %d taken", driver.ErrConflict, seq)
			}
			return fmt.Errorf("memstore: event %d does not follow event head %d", seq, head+uint64(i))
		}
	}
	for _, e := range evs {
		if len(e.Data) > 0 {
			e.Data = s.keepEventData(e.Data)
		} else {
			e.Data = nil
		}
		if s.nev/chunkSize == uint64(len(s.evChunks)) {
			s.evChunks = append(s.evChunks, make([]driver.Event, chunkSize))
		}
		*s.eventAt(s.nev + 1) = e
		s.nev++
	}
	t.undo = append(t.undo, undo{op: undoEvents, posted: int64(len(evs))})
	return nil
}

// eventArenaBlock is the size of the blocks event data is copied into.
const eventArenaBlock = 64 << 10

// keepEventData copies an event's data into the store's arena: one
// allocation per 64 KiB of events rather than one per event. The copy's
// capacity ends at its length, so nothing appended to it can reach the
// next event's bytes. Data of events rolled back stays in the block,
// unused.
func (s *Store) keepEventData(d []byte) []byte {
	if len(d) > eventArenaBlock/4 {
		return append([]byte(nil), d...)
	}
	if cap(s.evArena)-len(s.evArena) < len(d) {
		s.evArena = make([]byte, 0, eventArenaBlock)
	}
	start := len(s.evArena)
	s.evArena = append(s.evArena, d...)
	return s.evArena[start:len(s.evArena):len(s.evArena)]
}
