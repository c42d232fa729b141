package ledger

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rewardkit/rewardkit/ledger/driver"
)

// Ledger is the double-entry ledger: it applies the rules (limits, holds,
// idempotency, conversions, the hash chain) and keeps everything in a
// store (a driver.Store: ledger/memstore, ledger/pgstore). A Ledger is
// safe for concurrent use.
type Ledger struct {
	store   driver.Store
	clock   Clock
	retries int
	obs     observer // logger, tracer and metrics (observe.go)

	eventSource string // WithEventSource
	ownEvents   bool   // WithLedgerEvents(true)

	monitorsMu sync.Mutex                 // serialises AddMonitor
	monitors   atomic.Pointer[[]*monitor] // nil until AddMonitor: no cost without monitors

	// Bounded caches of committed assets and accounts, which never change
	// once committed (cache.go).
	assets   assetCache
	accounts accountCache
}

// writerPool recycles Writers across units of work and across ledgers. It
// is shared, not a field of each Ledger, and a pooled Writer refers to no
// ledger: the runtime keeps a used pool (and whatever it points into) alive
// for two collections, so a pool per Ledger kept every short-lived ledger
// and its store alive that long, and a program (or a fuzzer) that opened
// many of them grew its heap without bound.
var writerPool = sync.Pool{New: func() any {
	w := &Writer{}
	// Bound once per pooled writer, so a unit of work allocates no
	// closure for the store.
	w.run = func(tx driver.Tx) error {
		if err := w.begin(w.owner, tx); err != nil {
			return err
		}
		return w.flushEvents(w.checkDoomed(w.fn(w)))
	}
	return w
}}

// Option configures a Ledger.
type Option func(*Ledger)

// WithClock sets the clock the ledger reads once per unit of work. The
// default is SystemClock.
func WithClock(c Clock) Option { return func(l *Ledger) { l.clock = c } }

// WithRetries sets how many times Update retries a unit of work that lost a
// race (ErrConflict) before giving up. The default is 8.
func WithRetries(n int) Option { return func(l *Ledger) { l.retries = n } }

// New returns a ledger over store, which keeps its data: memstore.New()
// in memory, or a pgstore.Store on PostgreSQL.
func New(store driver.Store, opts ...Option) *Ledger {
	l := &Ledger{store: store, clock: SystemClock{}, retries: 8}
	l.assets.max, l.accounts.max = maxCachedAssets, defaultAccountCache
	for _, o := range opts {
		o(l)
	}
	l.obs.init()
	return l
}

func (l *Ledger) cachedAsset(code string) (Asset, bool) { return l.assets.get(code) }

func (l *Ledger) cacheAsset(a Asset) { l.assets.put(a) }

func (l *Ledger) cachedAccount(addr string) (*Account, bool) { return l.accounts.get(addr) }

func (l *Ledger) cacheAccount(a *Account) { l.accounts.put(a) }

func (l *Ledger) getWriter() *Writer {
	w := writerPool.Get().(*Writer)
	w.owner = l
	return w
}

func (l *Ledger) putWriter(w *Writer) {
	w.owner = nil
	w.fn = nil
	w.req = TransferRequest{}
	w.one = [1]Posting{}
	w.out = Transaction{}
	writerPool.Put(w)
}

// Store returns the store the ledger keeps its data in.
func (l *Ledger) Store() driver.Store { return l.store }

// Clock returns the ledger's clock.
func (l *Ledger) Clock() Clock { return l.clock }

// Update runs fn in one all-or-nothing unit of work: every transaction,
// hold and record fn writes through w commits together, or none does if fn
// returns an error or panics. Time is read from the clock once, before fn.
// If the unit of work loses a race with another writer, Update runs fn
// again (a bounded number of times), so fn must have no effect outside w.
// w must not be used after fn returns. ctx bounds the wait: once it ends,
// fn is not run again, and a store that has not started fn returns an
// error wrapping ctx.Err() with nothing committed.
func (l *Ledger) Update(ctx context.Context, fn func(w *Writer) error) error {
	w := l.getWriter()
	defer l.putWriter(w)
	return l.updateWith(ctx, w, fn)
}

func (l *Ledger) updateWith(ctx context.Context, w *Writer, fn func(w *Writer) error) (err error) {
	ctx, u := l.obs.start(ctx, opUpdate, 0)
	defer u.done(&err)
	run := observed(u, w.run)
	w.fn = fn
	w.ctx = ctx
	defer func() { w.ctx = nil }()
	for attempt := 0; ; attempt++ {
		err := l.store.Update(ctx, run)
		if err == nil {
			w.publish()
		}
		w.release()
		if err == nil {
			return nil
		}
		if errors.Is(err, ErrConflict) && attempt < l.retries {
			if cerr := ctx.Err(); cerr != nil {
				return notRetried(err, cerr)
			}
			u.retry(err)
			continue
		}
		return err
	}
}

// notRetried is the error of a unit of work that lost a race after its
// caller's context ended: it is not run again (retries never outlive the
// caller's deadline; they do not sleep either), and the error wraps both
// the conflict and the context's error, so errors.Is(err,
// context.DeadlineExceeded) holds. Nothing of it was committed.
func notRetried(err, ctxErr error) error {
	return fmt.Errorf("%w (not retried: %w)", err, ctxErr)
}

// UpdateBatch runs many independent units of work in one store
// transaction (one durable commit): each fn is isolated, so one that fails
// is undone alone and reported at its index in errs while the rest commit.
// err is non-nil only when the batch as a whole failed, and then nothing
// was kept. A batch that lost a race is retried whole, like Update.
func (l *Ledger) UpdateBatch(ctx context.Context, fns []func(w *Writer) error) (errs []error, err error) {
	ctx, u := l.obs.start(ctx, opUpdateBatch, len(fns))
	defer u.doneBatch(&errs, &err)
	w := l.getWriter()
	defer l.putWriter(w)
	w.ctx = ctx
	defer func() { w.ctx = nil }()
	// One writer serves every item, reset before each so that its cached
	// head never outlives a rolled-back neighbour; assets and accounts an
	// item creates are published only if that item committed.
	type created struct {
		assets   []Asset
		accounts []*Account
	}
	var made map[int]created
	sfns := make([]func(driver.Tx) error, len(fns))
	for i := range fns {
		i := i
		sfns[i] = func(tx driver.Tx) error {
			if err := w.begin(l, tx); err != nil {
				return err
			}
			err := w.flushEvents(w.checkDoomed(fns[i](w)))
			if err == nil && (len(w.newAssets) > 0 || len(w.newAccounts) > 0) {
				var c created
				for _, a := range w.newAssets {
					c.assets = append(c.assets, a)
				}
				for _, a := range w.newAccounts {
					c.accounts = append(c.accounts, a)
				}
				if made == nil {
					made = map[int]created{}
				}
				made[i] = c
			}
			return err
		}
	}
	sfns = observedAll(u, sfns)
	for attempt := 0; ; attempt++ {
		made = nil
		errs, err = l.store.UpdateBatch(ctx, sfns)
		w.release()
		if err == nil {
			for i, c := range made {
				if errs[i] != nil {
					continue
				}
				for _, a := range c.assets {
					l.cacheAsset(a)
				}
				for _, a := range c.accounts {
					l.cacheAccount(a)
				}
			}
			return errs, nil
		}
		if errors.Is(err, ErrConflict) && attempt < l.retries {
			if cerr := ctx.Err(); cerr != nil {
				return nil, notRetried(err, cerr)
			}
			u.retry(err)
			continue
		}
		return nil, err
	}
}

// BatchResult is the outcome of one request of a batch.
type BatchResult struct {
	Transaction Transaction
	Err         error
}

// PostBatch posts many transfer requests in one store transaction, each
// isolated from the others: a refused request (insufficient funds, a key
// conflict) is reported in its result and does not fail its neighbours.
// The error is for the batch as a whole.
func (l *Ledger) PostBatch(ctx context.Context, reqs []TransferRequest) ([]BatchResult, error) {
	out := make([]BatchResult, len(reqs))
	fns := make([]func(*Writer) error, len(reqs))
	for i := range reqs {
		i := i
		fns[i] = func(w *Writer) error {
			t, err := w.Post(reqs[i])
			out[i].Transaction = t
			return err
		}
	}
	errs, err := l.UpdateBatch(ctx, fns)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Err = errs[i]
		if errs[i] != nil {
			out[i].Transaction = Transaction{}
		}
	}
	return out, nil
}

// View runs fn on a consistent snapshot of the ledger.
func (l *Ledger) View(ctx context.Context, fn func(r *Reader) error) (err error) {
	ctx, u := l.obs.start(ctx, opView, 0)
	defer u.done(&err)
	return l.store.View(ctx, observed(u, func(rt driver.ReadTx) error {
		r := &Reader{l: l, rt: rt, ctx: ctx}
		return fn(r)
	}))
}

// Reader reads the ledger inside View or Update.
type Reader struct {
	l   *Ledger
	rt  driver.ReadTx
	w   *Writer         // set inside Update, for uncommitted assets and accounts
	ctx context.Context // the context View or Update was called with
}

// Context returns the context of the View or Update the reader runs in,
// for work done inside a unit of work that needs one (a program looking
// a member up, a trace). It is never nil.
func (r *Reader) Context() context.Context {
	if r.ctx == nil {
		return context.Background()
	}
	return r.ctx
}

// Writer writes to the ledger inside Update. Everything it writes commits
// together.
type Writer struct {
	Reader
	owner *Ledger // the ledger that took the writer from the pool
	ctx   context.Context
	fn    func(*Writer) error
	run   func(driver.Tx) error

	// Request and result of the ledger-level shortcuts (Ledger.Post,
	// Ledger.Transfer), kept here so they allocate no closure.
	req TransferRequest
	one [1]Posting
	out Transaction

	stx      driver.Transaction // the transaction being built; the store copies it
	accCache [8]*Account        // accounts seen in this unit of work
	accN     int

	tx         driver.Tx
	now        time.Time
	head       driver.Head
	headLoaded bool

	writes uint64 // calls that asked the store to write, in this unit of work
	doomed error  // set by Atomic: a step failed after writing

	events []driver.Event // emitted in this unit of work, appended when it ends
	evBuf  []byte         // data of the ledger's own events
	lastTx uint64         // the transaction this unit of work posted last

	newAssets   map[string]Asset
	newAccounts map[string]*Account

	keys    []driver.BalanceKey
	before  []driver.Balance
	buf     []byte
	posting []driver.Posting
}

// begin prepares w for a unit of work in tx at the clock's time. A clock
// outside [MinTime, MaxTime) fails the unit of work with ErrInvalidTime
// before anything is written: a time the ledger cannot keep must not reach
// the journal.
func (w *Writer) begin(l *Ledger, tx driver.Tx) error {
	now := l.clock.Now()
	w.reset(l, tx, now)
	w.Reader.ctx = w.ctx
	return ValidateTime("clock reading", now)
}

func (w *Writer) reset(l *Ledger, tx driver.Tx, now time.Time) {
	w.Reader = Reader{l: l, rt: tx, w: w}
	w.accN = 0
	w.tx = tx
	w.now = now.UTC()
	w.head = driver.Head{}
	w.headLoaded = false
	w.writes = 0
	w.doomed = nil
	clear(w.events)
	w.events = w.events[:0]
	w.evBuf = w.evBuf[:0]
	w.lastTx = 0
	w.newAssets = clearPooled(w.newAssets)
	w.newAccounts = clearPooled(w.newAccounts)
}

// store returns the store's unit of work for a write, and counts the
// write for Atomic. Defining an asset and opening an account are not
// counted: both are idempotent and move nothing, so a step refused after
// opening the account it would pay into (a first gift to a creator) is a
// refusal, not a half-done step, and the caller may go on; if the caller
// commits, the account stays open and empty, as the step would have left
// it had it succeeded.
func (w *Writer) store() driver.Tx {
	w.writes++
	return w.tx
}

// Atomic runs fn as one all-or-nothing step of the unit of work, without a
// savepoint. Events fn emitted are dropped with it when it fails, except
// ledger.account.opened, since the accounts it opened stay open. If fn succeeds, so does Atomic. If fn fails before it wrote
// anything but open accounts or define assets, Atomic returns its error
// and the unit of work goes on as if fn had not run: the caller may handle
// a refusal and do something else. If fn fails after it wrote, the unit
// of work is doomed: Atomic returns the error, and Update (or the batch
// item) fails with it even if the caller's function returns nil, so a
// caller who ignores the error can never commit half a step.
//
// Every program event's In method runs as such a step (kit.Once uses
// Atomic), so a caller composing several programs in one unit of work
// either commits each event whole or commits nothing.
func (w *Writer) Atomic(fn func(w *Writer) error) error {
	before, events := w.writes, len(w.events)
	err := fn(w)
	if err != nil && w.writes != before && w.doomed == nil {
		w.doomed = err
	}
	if err != nil && w.doomed == nil {
		w.dropEvents(events)
	}
	return err
}

// checkDoomed returns the error of a unit of work whose function returned
// nil although a step of it failed half-way (Atomic).
func (w *Writer) checkDoomed(err error) error {
	if err == nil && w.doomed != nil {
		return fmt.Errorf("%w (the unit of work was not committed: this step failed after writing, and its error was not returned)", w.doomed)
	}
	return err
}

func (w *Writer) publish() {
	for _, a := range w.newAssets {
		w.l.cacheAsset(a)
	}
	for _, a := range w.newAccounts {
		w.l.cacheAccount(a)
	}
}

func (w *Writer) release() {
	w.Reader = Reader{}
	w.accCache = [8]*Account{}
	w.accN = 0
	w.stx = driver.Transaction{}
	w.tx = nil
	w.posting = w.posting[:0]
	clear(w.events)
	w.events = w.events[:0]
	if cap(w.events) > maxPooledEntries {
		w.events = nil // a pooled writer keeps no large buffer
	}
	if cap(w.evBuf) > 64<<10 {
		w.evBuf = nil // a pooled writer keeps no large buffer
	}
	w.evBuf = w.evBuf[:0]
	w.newAssets = clearPooled(w.newAssets)
	w.newAccounts = clearPooled(w.newAccounts)
}

// Now is the time of this unit of work, read once from the clock.
func (w *Writer) Now() time.Time { return w.now }

// DefineAsset defines an asset. Defining it again with the same precision
// is a no-op; with another precision it is ErrAssetConflict.
func (w *Writer) DefineAsset(a Asset) error {
	if err := a.Validate(); err != nil {
		return err
	}
	old, err := w.Asset(a.Code)
	switch {
	case err == nil:
		if old.Precision != a.Precision {
			return fmt.Errorf("%w: %s has precision %d, not %d", ErrAssetConflict, a.Code, old.Precision, a.Precision)
		}
		return nil
	case !errors.Is(err, ErrUnknownAsset):
		return err
	}
	if err := w.tx.PutAsset(driver.Asset(a)); err != nil {
		return err
	}
	if w.newAssets == nil {
		w.newAssets = map[string]Asset{}
	}
	w.newAssets[a.Code] = a
	return nil
}

// OpenAccount opens an account. Opening it again with the same overdraft
// policy returns the existing account; with another policy it is
// ErrAccountConflict (policies never change once opened).
func (w *Writer) OpenAccount(spec AccountSpec) (Account, error) {
	if err := ValidateAddress(spec.Address); err != nil {
		return Account{}, err
	}
	acc := Account{Address: spec.Address, Unbounded: spec.Overdraft.Unbounded, Metadata: copyMetadata(spec.Metadata), CreatedAt: w.now}
	if spec.Overdraft.Unbounded && len(spec.Overdraft.Limits) > 0 {
		return Account{}, fmt.Errorf("%w: %s: an unbounded account has no limits", ErrInvalidTransaction, spec.Address)
	}
	for code, lim := range spec.Overdraft.Limits {
		asset, err := w.Asset(code)
		if err != nil {
			return Account{}, err
		}
		u, err := asset.Units(lim)
		if err != nil {
			return Account{}, fmt.Errorf("%s limit: %w", spec.Address, err)
		}
		if u < 0 {
			return Account{}, fmt.Errorf("%w: %s limit %s %s must not be negative", ErrInvalidAmount, spec.Address, describeDecimal(lim), asset.Code)
		}
		if u > 0 {
			if acc.Limits == nil {
				acc.Limits = map[string]int64{}
			}
			acc.Limits[code] = u
		}
	}
	if err := validateMetadata(spec.Metadata); err != nil {
		return Account{}, err
	}
	old, err := w.account(spec.Address)
	switch {
	case err == nil:
		if !samePolicy(old, &acc) {
			return Account{}, fmt.Errorf("%w: %s", ErrAccountConflict, spec.Address)
		}
		return *old, nil
	case !errors.Is(err, ErrUnknownAccount):
		return Account{}, err
	}
	if err := w.tx.PutAccount(driver.Account(acc)); err != nil {
		return Account{}, err
	}
	if err := w.accountOpened(&acc); err != nil {
		return Account{}, err
	}
	if w.newAccounts == nil {
		w.newAccounts = map[string]*Account{}
	}
	w.newAccounts[acc.Address] = &acc
	return acc, nil
}

// Asset returns a defined asset, or ErrUnknownAsset.
func (r *Reader) Asset(code string) (Asset, error) {
	if r.w != nil {
		if a, ok := r.w.newAssets[code]; ok {
			return a, nil
		}
	}
	if a, ok := r.l.cachedAsset(code); ok {
		return a, nil
	}
	if ValidateAssetCode(code) != nil {
		// No such asset can have been defined: spare the store the lookup.
		return Asset{}, fmt.Errorf("%w: %s", ErrUnknownAsset, clip(code))
	}
	da, err := r.rt.Asset(code)
	if err != nil {
		if errors.Is(err, ErrUnknownAsset) || errors.Is(err, ErrNotFound) {
			return Asset{}, fmt.Errorf("%w: %s", ErrUnknownAsset, clip(code))
		}
		return Asset{}, err
	}
	a := Asset(da)
	if r.w == nil {
		r.l.cacheAsset(a) // committed: seen from a snapshot
	} else {
		// Seen inside a unit of work: it may be a batch neighbour's, not yet
		// committed, so it is cached only once this unit of work commits.
		if r.w.newAssets == nil {
			r.w.newAssets = map[string]Asset{}
		}
		r.w.newAssets[code] = a
	}
	return a, nil
}

func (r *Reader) account(addr string) (*Account, error) {
	if w := r.w; w != nil {
		for _, a := range w.accCache[:w.accN] {
			if a.Address == addr {
				return a, nil
			}
		}
		if a, ok := w.newAccounts[addr]; ok {
			return a, nil
		}
		if acc, ok := r.l.cachedAccount(addr); ok {
			if w.accN < len(w.accCache) {
				w.accCache[w.accN] = acc
				w.accN++
			}
			return acc, nil
		}
	} else if a, ok := r.l.cachedAccount(addr); ok {
		return a, nil
	}
	if ValidateAddress(addr) != nil {
		// No such account can have been opened: spare the store the lookup.
		return nil, fmt.Errorf("%w: %s", ErrUnknownAccount, clip(addr))
	}
	da, err := r.rt.Account(addr)
	if err != nil {
		if errors.Is(err, ErrUnknownAccount) || errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("%w: %s", ErrUnknownAccount, clip(addr))
		}
		return nil, err
	}
	a := Account(da)
	if r.w == nil {
		r.l.cacheAccount(&a)
	} else {
		// As for assets: cached once this unit of work commits.
		if r.w.newAccounts == nil {
			r.w.newAccounts = map[string]*Account{}
		}
		r.w.newAccounts[addr] = &a
	}
	return &a, nil
}

// Account returns an opened account, or ErrUnknownAccount.
func (r *Reader) Account(addr string) (Account, error) {
	a, err := r.account(addr)
	if err != nil {
		return Account{}, err
	}
	return *a, nil
}

func validateMetadata(m map[string]string) error {
	if len(m) > maxMetadataEntries {
		return fmt.Errorf("%w: %d metadata entries, at most %d", ErrInvalidTransaction, len(m), maxMetadataEntries)
	}
	n := 0
	for k, v := range m {
		if k == "" {
			return fmt.Errorf("%w: empty metadata key", ErrInvalidTransaction)
		}
		n += len(k) + len(v)
	}
	if n > maxMetadataBytes {
		return fmt.Errorf("%w: metadata of %d bytes, at most %d", ErrInvalidTransaction, n, maxMetadataBytes)
	}
	return validateLotMetadata(m)
}

func validateKey(key string) error {
	if len(key) > maxKeyLength {
		return fmt.Errorf("%w: idempotency key of %d bytes, at most %d", ErrInvalidTransaction, len(key), maxKeyLength)
	}
	return nil
}

// loadHead reads (and, in stores that lock, locks) the journal's head once
// per unit of work.
func (w *Writer) loadHead() error {
	if w.headLoaded {
		return nil
	}
	h, err := w.tx.Head()
	if err != nil {
		return err
	}
	w.head, w.headLoaded = h, true
	return nil
}

// Post posts one atomic transaction. See TransferRequest for idempotency.
// Every posting's amount must be positive with no more decimals than its
// asset allows, between opened accounts; no account may end below its
// limit. A refused request writes nothing.
func (w *Writer) Post(req TransferRequest) (Transaction, error) {
	if err := validateKey(req.Key); err != nil {
		return Transaction{}, err
	}
	if err := validateMetadata(req.Metadata); err != nil {
		return Transaction{}, err
	}
	if len(req.Postings) == 0 || len(req.Postings) > maxPostings {
		return Transaction{}, fmt.Errorf("%w: %d postings, want 1 to %d", ErrInvalidTransaction, len(req.Postings), maxPostings)
	}
	ps := w.posting[:0]
	for i := range req.Postings {
		p := &req.Postings[i]
		sp, err := w.storedPosting(p.From, p.To, p.Asset, p.Amount)
		if err != nil {
			return Transaction{}, fmt.Errorf("posting %d: %w", i, err)
		}
		ps = append(ps, sp)
	}
	w.posting = ps
	md, past, err := w.lotMetadata(ps, func(i int) (time.Time, string) {
		return req.Postings[i].ExpiresAt, req.Postings[i].Breakage
	}, req.Metadata)
	if err != nil {
		return Transaction{}, err
	}
	w.stx = driver.Transaction{Key: req.Key, Kind: driver.KindTransfer, Metadata: md}
	if past != nil {
		return w.replayOrRefuse(&w.stx, ps, past)
	}
	return w.commitWithHold(&w.stx, ps, nil, 0, req.IncludeHeld)
}
