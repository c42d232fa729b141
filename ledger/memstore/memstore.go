package memstore

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/google/btree"

	"github.com/rewardkit/rewardkit/ledger/driver"
)

// Compile-time checks that Store and its transaction implement the store
// interface of package driver.
var (
	_ driver.Store         = (*Store)(nil)
	_ driver.Tx            = (*tx)(nil)
	_ driver.EventNotifier = (*Store)(nil)
)

const chunkSize = 8192 // transactions per chunk; chunks never move, so no copy on growth

type histItem struct {
	id      uint64
	after   int64
	posting int32
}

type balance struct {
	state driver.Balance
	hist  []histItem
}

type recordItem struct {
	kind, id string
	data     []byte
}

type dueItem struct {
	kind string
	at   int64
	id   string
}

type kindID struct{ kind, id string }

// Store is an in-memory driver.Store. It keeps everything in maps and
// B-trees behind one lock and loses everything when the process exits:
// use it for tests, examples and embedded use where durability comes from
// elsewhere. Updates are serialised (one writer at a time, readers in
// parallel with each other); a failed or panicking update is undone from an
// undo log, so readers never see half of one. A caller's context ends its
// wait for the lock.
type Store struct {
	mu     *rwLock // context-aware: a caller's deadline ends its wait
	closed bool

	assets    map[string]driver.Asset
	accounts  map[string]*driver.Account
	balances  map[string][]*balance // by address; an account holds few assets
	nbal      int
	balOrder  *btree.BTreeG[*balance]
	chunks    [][]driver.Transaction
	ntx       uint64
	keys      map[string]uint64
	reversals map[uint64]uint64
	holds     []driver.Hold
	holdKeys  map[string]uint64
	records   *btree.BTreeG[recordItem]
	due       *btree.BTreeG[dueItem]
	dueAt     map[kindID]int64
	head      driver.Head
	evChunks  [][]driver.Event // the event log in chunks that never move, like the journal
	nev       uint64           // events in the log; event Seq i is at eventAt(i)
	evArena   []byte           // the block event data is copied into (keepEventData)

	// Followers of the event log wait on evChanged, which a commit that
	// appended events closes and replaces; evCommitted is the committed
	// event head. Both are guarded by evMu, not by the store's lock, so a
	// follower never waits behind a writer.
	evMu        sync.Mutex
	evCommitted uint64
	evChanged   chan struct{}
	evWaiters   int // followers waiting on evChanged: with none, a commit makes no channel

	tx tx // the one writer's transaction, reused
}

// New returns an empty in-memory store.
func New() *Store {
	s := &Store{
		mu:        newRWLock(),
		assets:    map[string]driver.Asset{},
		accounts:  map[string]*driver.Account{},
		balances:  map[string][]*balance{},
		balOrder:  btree.NewG(32, balanceLess),
		keys:      map[string]uint64{},
		reversals: map[uint64]uint64{},
		holdKeys:  map[string]uint64{},
		records:   btree.NewG(32, recordLess),
		due:       btree.NewG(32, dueLess),
		dueAt:     map[kindID]int64{},
		evChanged: make(chan struct{}),
	}
	s.tx = tx{reader: reader{s}, s: s}
	return s
}

// lookup finds a balance with one string hash and a scan of the account's
// few assets.
func (s *Store) lookup(addr, asset string) *balance {
	for _, b := range s.balances[addr] {
		if b.state.Asset == asset {
			return b
		}
	}
	return nil
}

func (s *Store) removeBalance(b *balance) {
	list := s.balances[b.state.Address]
	for i, x := range list {
		if x == b {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(s.balances, b.state.Address)
	} else {
		s.balances[b.state.Address] = list
	}
	s.balOrder.Delete(b)
	s.nbal--
}

func balanceLess(a, b *balance) bool {
	if a.state.Address != b.state.Address {
		return a.state.Address < b.state.Address
	}
	return a.state.Asset < b.state.Asset
}

func recordLess(a, b recordItem) bool {
	if a.kind != b.kind {
		return a.kind < b.kind
	}
	return a.id < b.id
}

func dueLess(a, b dueItem) bool {
	if a.kind != b.kind {
		return a.kind < b.kind
	}
	if a.at != b.at {
		return a.at < b.at
	}
	return a.id < b.id
}

// Update runs fn as one all-or-nothing unit of work.
func (s *Store) Update(ctx context.Context, fn func(driver.Tx) error) (err error) {
	if err := s.mu.lock(ctx); err != nil {
		return fmt.Errorf("memstore: waiting for the writer lock: %w", err)
	}
	defer s.mu.unlock()
	if s.closed {
		return driver.ErrClosed
	}
	t := s.tx.begin()
	committed := false
	defer func() { t.end(committed) }()
	if err := fn(t); err != nil {
		return err
	}
	// A context cancelled during fn abandons the update, like a database
	// that never got the commit.
	if err := ctx.Err(); err != nil {
		return err
	}
	committed = true
	s.eventsCommitted()
	return nil
}

// UpdateBatch runs each fn in its own savepoint (a mark in the undo log)
// and commits the survivors together.
func (s *Store) UpdateBatch(ctx context.Context, fns []func(driver.Tx) error) (errs []error, err error) {
	if err := s.mu.lock(ctx); err != nil {
		return nil, fmt.Errorf("memstore: waiting for the writer lock: %w", err)
	}
	defer s.mu.unlock()
	if s.closed {
		return nil, driver.ErrClosed
	}
	t := s.tx.begin()
	committed := false
	defer func() { t.end(committed) }()
	errs = make([]error, len(fns))
	for i, fn := range fns {
		mark := len(t.undo)
		if errs[i] = runIsolated(t, fn); errs[i] != nil {
			t.rollbackTo(mark)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	committed = true
	s.eventsCommitted()
	return errs, nil
}

// eventsCommitted wakes the followers of the event log if the unit of
// work that is committing appended events. The writer lock is held.
func (s *Store) eventsCommitted() {
	head := s.nev
	s.evMu.Lock()
	defer s.evMu.Unlock()
	if head == s.evCommitted {
		return
	}
	s.evCommitted = head
	if s.evWaiters > 0 {
		close(s.evChanged)
		s.evChanged = make(chan struct{})
	}
}

// WaitEvents returns once a committed event has a Seq beyond after, or
// when ctx ends (an error wrapping ctx.Err()) or the store closes
// (driver.ErrClosed). A commit wakes it at once: there is no polling.
func (s *Store) WaitEvents(ctx context.Context, after uint64) error {
	for {
		s.evMu.Lock()
		head, ch, closed := s.evCommitted, s.evChanged, s.closed
		if !closed && head <= after {
			s.evWaiters++
		}
		s.evMu.Unlock()
		switch {
		case closed:
			return driver.ErrClosed
		case head > after:
			return nil
		}
		var err error
		select {
		case <-ch:
		case <-ctx.Done():
			err = fmt.Errorf("memstore: waiting for events: %w", ctx.Err())
		}
		s.evMu.Lock()
		s.evWaiters--
		s.evMu.Unlock()
		if err != nil {
			return err
		}
	}
}

// runIsolated runs fn, turning a panic into an error.
func runIsolated(t *tx, fn func(driver.Tx) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("memstore: batch item panicked: %v", r)
		}
	}()
	return fn(t)
}

// View runs fn with the store read-locked.
func (s *Store) View(ctx context.Context, fn func(driver.ReadTx) error) error {
	if err := s.mu.rlock(ctx); err != nil {
		return fmt.Errorf("memstore: waiting for the read lock: %w", err)
	}
	defer s.mu.runlock()
	if s.closed {
		return driver.ErrClosed
	}
	return fn(reader{s})
}

// Close drops everything the store holds.
func (s *Store) Close() error {
	_ = s.mu.lock(context.Background())
	defer s.mu.unlock()
	s.evMu.Lock()
	s.closed = true // read by WaitEvents under evMu
	close(s.evChanged)
	s.evChanged = make(chan struct{})
	s.evMu.Unlock()
	return nil
}

// reader implements driver.ReadTx over the store; the caller holds a lock.
type reader struct{ s *Store }

func (r reader) Asset(code string) (driver.Asset, error) {
	a, ok := r.s.assets[code]
	if !ok {
		return driver.Asset{}, driver.ErrUnknownAsset
	}
	return a, nil
}

func (r reader) Assets() ([]driver.Asset, error) {
	out := make([]driver.Asset, 0, len(r.s.assets))
	for _, a := range r.s.assets {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Code < out[j].Code })
	return out, nil
}

func (r reader) Account(addr string) (driver.Account, error) {
	a, ok := r.s.accounts[addr]
	if !ok {
		return driver.Account{}, driver.ErrUnknownAccount
	}
	return *a, nil
}

func (r reader) Balance(k driver.BalanceKey) (driver.Balance, error) {
	if b := r.s.lookup(k.Address, k.Asset); b != nil {
		return b.state, nil
	}
	return driver.Balance{Address: k.Address, Asset: k.Asset}, nil
}

func (r reader) AccountBalances(addr string) ([]driver.Balance, error) {
	var out []driver.Balance
	pivot := &balance{state: driver.Balance{Address: addr}}
	r.s.balOrder.AscendGreaterOrEqual(pivot, func(b *balance) bool {
		if b.state.Address != addr {
			return false
		}
		out = append(out, b.state)
		return true
	})
	return out, nil
}

func (r reader) Balances(after driver.BalanceKey, limit int) ([]driver.Balance, error) {
	var out []driver.Balance
	pivot := &balance{state: driver.Balance{Address: after.Address, Asset: after.Asset}}
	r.s.balOrder.AscendGreaterOrEqual(pivot, func(b *balance) bool {
		if b.state.Address == after.Address && b.state.Asset == after.Asset {
			return true
		}
		if len(out) >= limit {
			return false
		}
		out = append(out, b.state)
		return true
	})
	return out, nil
}

func (r reader) Head() (driver.Head, error) { return r.s.head, nil }

func (s *Store) txAt(id uint64) *driver.Transaction {
	i := id - 1
	return &s.chunks[i/chunkSize][i%chunkSize]
}

func (r reader) Transaction(id uint64) (driver.Transaction, error) {
	if id == 0 || id > r.s.ntx {
		return driver.Transaction{}, driver.ErrNotFound
	}
	return *r.s.txAt(id), nil
}

func (r reader) TransactionByKey(key string) (driver.Transaction, error) {
	id, ok := r.s.keys[key]
	if !ok || key == "" {
		return driver.Transaction{}, driver.ErrNotFound
	}
	return *r.s.txAt(id), nil
}

func (r reader) Transactions(after uint64, limit int) ([]driver.Transaction, error) {
	var out []driver.Transaction
	for id := after + 1; id <= r.s.ntx && len(out) < limit; id++ {
		out = append(out, *r.s.txAt(id))
	}
	return out, nil
}

func (r reader) ReversalOf(id uint64) (uint64, error) {
	rid, ok := r.s.reversals[id]
	if !ok {
		return 0, driver.ErrNotFound
	}
	return rid, nil
}

func (r reader) History(k driver.BalanceKey, after uint64, limit int) ([]driver.HistoryItem, error) {
	b := r.s.lookup(k.Address, k.Asset)
	if b == nil {
		return nil, nil
	}
	i := sort.Search(len(b.hist), func(i int) bool { return b.hist[i].id > after })
	var out []driver.HistoryItem
	for ; i < len(b.hist) && len(out) < limit; i++ {
		h := b.hist[i]
		t := r.s.txAt(h.id)
		p := &t.Postings[h.posting]
		delta := p.Units
		if p.From == k.Address {
			delta = -delta
		}
		out = append(out, driver.HistoryItem{ID: h.id, Time: t.Time, Posting: int(h.posting), Delta: delta, After: h.after})
	}
	return out, nil
}

func (r reader) PostedAt(k driver.BalanceKey, id uint64) (int64, error) {
	b := r.s.lookup(k.Address, k.Asset)
	if b == nil {
		return 0, nil
	}
	i := sort.Search(len(b.hist), func(i int) bool { return b.hist[i].id > id })
	if i == 0 {
		return 0, nil
	}
	return b.hist[i-1].after, nil
}

func (r reader) LastIDAt(t int64) (uint64, error) {
	n := int(r.s.ntx)
	i := sort.Search(n, func(i int) bool { return r.s.txAt(uint64(i+1)).Time > t })
	return uint64(i), nil
}

func (r reader) Hold(id uint64) (driver.Hold, error) {
	if id == 0 || id > uint64(len(r.s.holds)) {
		return driver.Hold{}, driver.ErrNotFound
	}
	return r.s.holds[id-1], nil
}

func (r reader) HoldByKey(key string) (driver.Hold, error) {
	id, ok := r.s.holdKeys[key]
	if !ok || key == "" {
		return driver.Hold{}, driver.ErrNotFound
	}
	return r.s.holds[id-1], nil
}

func (r reader) Holds(after uint64, limit int) ([]driver.Hold, error) {
	var out []driver.Hold
	for id := after + 1; id <= uint64(len(r.s.holds)) && len(out) < limit; id++ {
		out = append(out, r.s.holds[id-1])
	}
	return out, nil
}

func (r reader) Record(kind, id string) ([]byte, error) {
	it, ok := r.s.records.Get(recordItem{kind: kind, id: id})
	if !ok {
		return nil, driver.ErrNotFound
	}
	return append([]byte(nil), it.data...), nil
}

func (r reader) Records(kind, after string, limit int) ([]driver.Record, error) {
	var out []driver.Record
	r.s.records.AscendGreaterOrEqual(recordItem{kind: kind, id: after}, func(it recordItem) bool {
		if it.kind != kind || len(out) >= limit {
			return false
		}
		if it.id == after {
			return true
		}
		out = append(out, driver.Record{Kind: it.kind, ID: it.id, Data: append([]byte(nil), it.data...)})
		return true
	})
	return out, nil
}

func (r reader) Due(kind string, at time.Time, limit int) ([]driver.DueEntry, error) {
	var out []driver.DueEntry
	max := at.UnixNano()
	r.s.due.AscendGreaterOrEqual(dueItem{kind: kind, at: -1 << 63}, func(it dueItem) bool {
		if it.kind != kind || it.at > max || len(out) >= limit {
			return false
		}
		out = append(out, driver.DueEntry{Kind: it.kind, ID: it.id, At: time.Unix(0, it.at).UTC()})
		return true
	})
	return out, nil
}

func (s *Store) eventAt(seq uint64) *driver.Event {
	i := seq - 1
	return &s.evChunks[i/chunkSize][i%chunkSize]
}

func (r reader) EventHead() (driver.EventHead, error) {
	if r.s.nev == 0 {
		return driver.EventHead{}, nil
	}
	return driver.EventHead{Seq: r.s.nev, Hash: r.s.eventAt(r.s.nev).Hash}, nil
}

func (r reader) Events(after uint64, limit int) ([]driver.Event, error) {
	n := r.s.nev
	if limit <= 0 || after >= n {
		return nil, nil
	}
	end := n
	if uint64(limit) < n-after {
		end = after + uint64(limit)
	}
	out := make([]driver.Event, end-after)
	for i := range out {
		e := *r.s.eventAt(after + uint64(i) + 1)
		e.Data = append([]byte(nil), e.Data...)
		out[i] = e
	}
	return out, nil
}

// String describes the store's size, for logs.
func (s *Store) String() string {
	_ = s.mu.rlock(context.Background())
	defer s.mu.runlock()
	return fmt.Sprintf("memstore: %d transactions, %d balances, %d holds", s.ntx, s.nbal, len(s.holds))
}
