package pgstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/rewardkit/rewardkit/ledger/driver"
)

// Compile-time checks that Store and its transactions satisfy the
// ledger's interfaces.
var (
	_ driver.Store  = (*Store)(nil)
	_ driver.Tx     = (*gtx)(nil)
	_ driver.ReadTx = (*reader)(nil)
)

// Store is a driver.Store in PostgreSQL. It is safe for concurrent use,
// from many goroutines and from many processes sharing one database.
//
// Writes go through one committer goroutine per Store that owns one
// connection: concurrent Update calls are gathered into a group, run one
// after another inside a single database transaction (each isolated, so
// one that fails is undone alone) and made durable by one COMMIT. Reads
// (View) use a small pool of other connections.
type Store struct {
	cfg    *pgx.ConnConfig
	opts   options
	reads  *connPool
	rep    *replica // nil without WithReplica (replica.go)
	queue  chan *request
	quit   chan struct{}
	done   chan struct{}
	ctx    context.Context // the committer's; cancelled by Close
	cancel context.CancelFunc

	writerPID atomic.Uint32  // the committer connection's backend, for tests
	listen    listener       // followers of the event log (notify.go)
	listenWG  sync.WaitGroup // the listener's goroutine, waited for by Close
	stats     stats
	obs       *observer // logger, tracer and metrics (observe.go)

	// hookLateBegin, when set (by tests, before the first Update), is
	// called after a COMMIT that stood and before the next group's BEGIN
	// sent with it is read; an error it returns fails that BEGIN.
	hookLateBegin func() error

	closeOnce sync.Once
	mu        sync.RWMutex // guards closed against enqueueing
	closed    bool
}

type options struct {
	schema    string
	readConns int
	maxGroup  int
	window    time.Duration
	cacheSize int
	keyCache  int
	accCache  int
	stmtTime  time.Duration
	log       *slog.Logger
	tp        trace.TracerProvider
	mp        metric.MeterProvider
	replica   *replicaOption
}

// Option configures a Store.
type Option func(*options)

// WithSchema keeps every table in the named schema, created if missing.
// Without it the tables live in the connection's default schema (public).
// Tests use it to isolate each store.
//
// The name must be 1 to 63 bytes of lower-case ASCII letters, digits and
// underscores, not starting with a digit, and must not start with "pg_"
// or be "information_schema" (PostgreSQL's own). Such a name is the same
// quoted or not and is never truncated: PostgreSQL cuts identifiers to 63
// bytes, so two longer names sharing those bytes would share one journal.
// Open refuses any other name with an error wrapping ErrInvalidSchema.
func WithSchema(name string) Option { return func(o *options) { o.schema = name } }

// WithReadConns sets how many connections View may use at once (default 4).
func WithReadConns(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.readConns = n
		}
	}
}

// WithMaxGroup bounds how many units of work one group commit gathers
// (default 256). 1 turns group commit off: one database transaction per
// Update.
func WithMaxGroup(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.maxGroup = n
		}
	}
}

// WithGroupWindow makes the committer wait up to d after the first unit of
// work of a group for others to join it (default 0: a group is whatever
// is queued when the previous one commits, which already coalesces
// concurrent callers without adding latency when there is only one).
func WithGroupWindow(d time.Duration) Option { return func(o *options) { o.window = d } }

// WithBalanceCache bounds how many balances the committer keeps between
// groups (default 65536; 0 keeps none, and no records either: see the
// package doc, "Records"). The cache is used only while no
// other writer has committed since this store's last commit, which the
// head row's version number proves.
func WithBalanceCache(n int) Option {
	return func(o *options) {
		if n >= 0 {
			o.cacheSize = n
		}
	}
}

// WithKeyCache bounds how many idempotency keys the committer remembers
// (default 65536): keys it committed recently, and keys of groups that
// failed. The cache is only a hint; the journal's unique index decides.
// A key in the cache is looked up in the database, so that a retry of a
// recent request finds its transaction in one round trip; a key not in it
// is taken for new without a round trip and checked by the database before
// the group commits (a key taken for new that was in the journal rolls its
// group back with driver.ErrConflict, which Ledger retries, and the retry
// looks the key up). 0 turns the cache off: every key is looked up before
// it is used. Memory is bounded by n keys whatever the journal's length
// (the ledger's keys are at most 256 bytes: 65536 of them take at most
// about 20 MB, a few MB for typical keys).
func WithKeyCache(n int) Option {
	return func(o *options) {
		if n >= 0 {
			o.keyCache = n
		}
	}
}

// WithAccountCache bounds how many accounts the committer keeps between
// groups (default 131,072; 0 keeps none). Accounts never change once
// opened, so a cached one is always right; one not cached is read from
// the database. A cached account takes about 200 bytes with a short
// address and no limits or metadata: the default takes about 25 MB for
// such accounts (metadata adds up to about 8 KB an account).
func WithAccountCache(n int) Option {
	return func(o *options) {
		if n >= 0 {
			o.accCache = n
		}
	}
}

// WithStatementTimeout bounds how long any one statement of a writing
// group may run on the server, waits for row locks included (default 5 s;
// 0 leaves the server's setting). It is set with SET LOCAL
// statement_timeout in each group's transaction, so it touches neither
// the connection's other transactions nor reads. A group whose statement
// runs out of time is rolled back whole: every caller of the group gets an
// error wrapping ErrStatementTimeout and nothing of the group is
// committed. The same bound limits a group of Updates in time: once a
// group has run longer than d, its remaining units of work are not run
// and the group is rolled back the same way, so one slow unit of work
// (a row lock held by another process, a function that blocks) stalls the
// callers behind it for about d at most. A single UpdateBatch is not
// bounded as a whole, only statement by statement: it is one caller's.
func WithStatementTimeout(d time.Duration) Option {
	return func(o *options) {
		if d >= 0 {
			o.stmtTime = d
		}
	}
}

// Open connects to the database named by dsn (a PostgreSQL URL or
// key=value string), applies the migrations and starts the committer.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("pgstore: parse connection string: %w", err)
	}
	return OpenConfig(ctx, cfg, opts...)
}

// OpenConfig is Open with a parsed connection configuration, which the
// Store copies.
func OpenConfig(ctx context.Context, cfg *pgx.ConnConfig, opts ...Option) (*Store, error) {
	o := options{readConns: 4, maxGroup: 256, cacheSize: 1 << 16, keyCache: 1 << 16, accCache: 1 << 17, stmtTime: defaultStatementTimeout}
	for _, f := range opts {
		f(&o)
	}
	if err := validSchema(o.schema); err != nil {
		return nil, err
	}
	cfg = cfg.Copy()
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	if o.schema != "" {
		cfg.RuntimeParams["search_path"] = pgx.Identifier{o.schema}.Sanitize()
	}
	// Statements are prepared once per connection, often while the tables
	// are still small; a generic plan chosen then (sequential scans) would
	// stay when they have grown. Plan each execution for its parameters.
	if _, ok := cfg.RuntimeParams["plan_cache_mode"]; !ok {
		cfg.RuntimeParams["plan_cache_mode"] = "force_custom_plan"
	}
	s := &Store{
		cfg:   cfg,
		opts:  o,
		queue: make(chan *request, 1024),
		quit:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	if o.replica != nil {
		rp, err := newReplica(o.replica, cfg, o.readConns)
		if err != nil {
			return nil, err
		}
		s.rep = rp
	}
	s.obs = newObserver(s, o)
	s.reads = newConnPool(cfg, o.readConns)
	s.reads.log = s.obs.log
	if err := s.Migrate(ctx); err != nil {
		s.reads.close()
		s.obs.close()
		return nil, err
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	c := &committer{s: s}
	go c.run()
	if s.rep != nil {
		s.rep.pool.log = s.obs.log
		s.rep.start(s)
	}
	return s, nil
}

// defaultStatementTimeout is WithStatementTimeout's default: far above
// any healthy statement, far below what a caller waits for an answer.
const defaultStatementTimeout = 5 * time.Second

// Migrate applies the embedded migrations that the database lacks, each
// in its own transaction, under a transaction-scoped advisory lock so that
// two processes opening one database at once apply each migration once.
// Running it again changes nothing.
func (s *Store) Migrate(ctx context.Context) error {
	conn, err := s.reads.getLive(ctx)
	if err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	err = migrate(ctx, conn, s.opts.schema, s.obs.log)
	s.reads.put(conn, err)
	return err
}

// Close stops the committer after the group it is running and closes
// every connection. Updates queued or started after Close return
// driver.ErrClosed.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		close(s.quit)
		<-s.done
		s.cancel()
		s.listenWG.Wait() // the listener's connection is closed before Close returns
		if s.rep != nil {
			s.rep.wg.Wait() // the probe stops at quit, or when cancel ends its query
			s.rep.pool.close()
		}
		s.reads.close()
		s.obs.close()
	})
	return nil
}

// View runs fn in a read-only, repeatable-read transaction: one snapshot
// that sees every committed Update and nothing half-written. With a
// replica (WithReplica), the snapshot may be the replica's, which sees
// every Update that returned at least the replica's bound before View was
// called; a ctx from ledger.ReadPrimary (driver.WithPrimary) reads the
// primary.
//
// A connection that died while idle in the pool (a server restart, a
// terminated backend) fails at BEGIN, before fn runs; View then begins on
// another connection. A connection lost while fn runs is fn's error.
func (s *Store) View(ctx context.Context, fn func(driver.ReadTx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.isClosed() {
		return driver.ErrClosed
	}
	if rp := s.rep; rp != nil && !driver.PrimaryRequested(ctx) {
		if rp.usable() {
			// A replica that cannot begin soon (a network partition
			// where connecting hangs, every connection busy) must not
			// hold the read up: the primary serves it.
			bctx, cancel := context.WithTimeout(ctx, replicaBeginTimeout)
			conn, err := s.beginRead(bctx, rp.pool)
			slow := bctx.Err() != nil
			cancel()
			if err == nil {
				s.stats.replicaReads.Add(1)
				return s.runView(ctx, rp.pool, conn, fn, func(err error) {
					// The replica's connection died under fn: fn's error
					// is the answer, and reads go to the primary until
					// the probe finds the replica fresh again.
					if ctx.Err() == nil && lost(conn, err) {
						rp.setDown(s, err)
					}
				})
			}
			switch {
			case ctx.Err() != nil:
				return err
			case !slow:
				// Too slow is no proof the replica is down: the probe
				// decides. Anything else is.
				rp.setDown(s, err)
			}
		}
		s.stats.replicaSkips.Add(1)
	}
	conn, err := s.beginRead(ctx, s.reads)
	if err != nil {
		return err
	}
	return s.runView(ctx, s.reads, conn, fn, nil)
}

// runView runs fn on conn, where View's transaction has begun, ends the
// transaction and gives conn back to pool. failed, if not nil, is told a
// database error before conn goes back.
func (s *Store) runView(ctx context.Context, pool *connPool, conn *pgx.Conn, fn func(driver.ReadTx) error, failed func(error)) error {
	var fnErr, dbErr error
	r := &reader{q: directQuery(ctx, conn)}
	defer func() {
		if dbErr == nil {
			dbErr = r.dbErr
		}
		if dbErr != nil && failed != nil {
			failed(dbErr)
		}
		pool.put(conn, dbErr)
	}()
	func() {
		defer func() {
			if p := recover(); p != nil {
				if _, err := conn.Exec(context.Background(), "ROLLBACK"); err != nil {
					// The connection is not idle, so put closes it.
					s.obs.logHidden(slog.LevelWarn, "pgstore: view: ROLLBACK after a panic failed", err)
				}
				r.closed = true
				panic(p)
			}
		}()
		fnErr = fn(r)
	}()
	r.closed = true
	if _, err := conn.Exec(ctx, "COMMIT"); err != nil {
		dbErr = err
		if fnErr == nil {
			return fmt.Errorf("pgstore: view: end: %w", mapErr(err))
		}
		// fn's error is the answer; the connection is closed after this.
		s.obs.logHidden(slog.LevelDebug, "pgstore: view: end after an error", err)
	}
	if fnErr != nil {
		return fnErr
	}
	return nil
}

// beginRead takes a connection from pool (the primary's read connections
// or the replica's) and begins View's transaction on it. A BEGIN that
// fails on a connection taken from the idle pool because the connection
// is dead is sent again on another one: nothing ran on it.
func (s *Store) beginRead(ctx context.Context, pool *connPool) (*pgx.Conn, error) {
	for attempt := 0; ; attempt++ {
		conn, reused, err := pool.get(ctx)
		if err != nil {
			return nil, fmt.Errorf("pgstore: view: %w", err)
		}
		_, err = conn.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
		if err == nil {
			return conn, nil
		}
		dead := conn.IsClosed()
		pool.put(conn, err)
		if reused && dead && ctx.Err() == nil && attempt <= cap(pool.sem) {
			s.stats.readRetries.Add(1)
			s.stats.hide(fmt.Errorf("pgstore: view: begin on an idle connection: %w", err))
			s.obs.logHidden(slog.LevelWarn, "pgstore: view: an idle connection was dead at BEGIN; beginning again on another", err)
			continue
		}
		return nil, fmt.Errorf("pgstore: view: begin: %w", mapErr(err))
	}
}

func (s *Store) isClosed() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.closed
}

// enqueue hands a request to the committer, or reports the store closed,
// or gives up when ctx ends while the queue is full.
func (s *Store) enqueue(ctx context.Context, r *request) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return driver.ErrClosed
	}
	select {
	case s.queue <- r:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("pgstore: waiting for the committer: %w", ctx.Err())
	}
}

// wait waits for the committer to finish with r. If ctx ends first and
// none of r's functions has started, r is withdrawn (the committer will
// skip it: nothing of it is ever run or committed) and wait returns an
// error wrapping ctx.Err(). If a function of r has started, the group it
// belongs to may still commit, so wait waits for its outcome, which the
// statement timeout bounds (see WithStatementTimeout).
func (s *Store) wait(ctx context.Context, r *request) error {
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
	}
	if r.state.CompareAndSwap(requestQueued, requestWithdrawn) {
		return fmt.Errorf("pgstore: waiting for the committer: %w", ctx.Err())
	}
	<-r.done
	return nil
}

// Update runs fn as one all-or-nothing unit of work, committed together
// with whatever other Updates are waiting (group commit). fn runs on the
// committer's goroutine while the caller waits; it must not call the
// Store's Update or UpdateBatch itself. A panic in fn is re-raised in the
// caller's goroutine after fn's writes are undone.
func (s *Store) Update(ctx context.Context, fn func(driver.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &request{ctx: ctx, fns: []func(driver.Tx) error{fn}, single: true, done: make(chan struct{})}
	if err := s.enqueue(ctx, r); err != nil {
		return err
	}
	if err := s.wait(ctx, r); err != nil {
		return err
	}
	if r.panicked {
		panic(r.panicVal)
	}
	if r.err != nil && errors.Is(r.err, driver.ErrConflict) {
		// The group lost a race (or took a used key for new): what fn saw
		// may not have been true, so even its own error is not the answer.
		// The whole unit of work may be retried.
		return r.err
	}
	if len(r.errs) > 0 && r.errs[0] != nil {
		return r.errs[0] // fn's own error: nothing it wrote was kept either way
	}
	return r.err
}

// UpdateBatch runs fns in one database transaction of their own, each
// isolated (see driver.Store).
func (s *Store) UpdateBatch(ctx context.Context, fns []func(driver.Tx) error) ([]error, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r := &request{ctx: ctx, fns: fns, done: make(chan struct{})}
	if err := s.enqueue(ctx, r); err != nil {
		return nil, err
	}
	if err := s.wait(ctx, r); err != nil {
		return nil, err
	}
	if r.err != nil {
		return nil, r.err
	}
	return r.errs, nil
}

// request is one Update or UpdateBatch waiting for the committer.
type request struct {
	ctx    context.Context
	fns    []func(driver.Tx) error
	single bool // an Update: may share a group, panics are re-raised

	// state is requestQueued until the committer claims the request to
	// run it (requestClaimed) or its caller withdraws it (requestWithdrawn);
	// whichever compare-and-swap comes first wins.
	state atomic.Int32

	// Results, written by the committer before done is closed.
	errs     []error
	err      error // the unit of work as a whole
	panicked bool
	panicVal any
	done     chan struct{}
}

const (
	requestQueued int32 = iota
	requestClaimed
	requestWithdrawn
)

// claim marks r as running, unless its caller withdrew it.
func (r *request) claim() bool {
	return r.state.CompareAndSwap(requestQueued, requestClaimed)
}

// connPool is a small pool of connections for reads and migrations. (The
// pgx module's pgxpool needs a module this repository does not require.)
type connPool struct {
	cfg  *pgx.ConnConfig
	log  *slog.Logger // set by OpenConfig
	sem  chan struct{}
	mu   sync.Mutex
	idle []*pgx.Conn
	shut bool
}

func newConnPool(cfg *pgx.ConnConfig, n int) *connPool {
	return &connPool{cfg: cfg, sem: make(chan struct{}, n)}
}

// get returns a connection, and whether it was idle in the pool (and may
// have died there) rather than new.
func (p *connPool) get(ctx context.Context) (*pgx.Conn, bool, error) {
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
	p.mu.Lock()
	if p.shut {
		p.mu.Unlock()
		<-p.sem
		return nil, false, driver.ErrClosed
	}
	for len(p.idle) > 0 {
		c := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if !c.IsClosed() {
			p.mu.Unlock()
			return c, true, nil
		}
	}
	p.mu.Unlock()
	c, err := pgx.ConnectConfig(ctx, p.cfg)
	if err != nil {
		<-p.sem
		return nil, false, err
	}
	return c, false, nil
}

// getLive is get for a rare caller (Migrate): an idle connection is pinged
// first, and replaced by a new one if it died.
func (p *connPool) getLive(ctx context.Context) (*pgx.Conn, error) {
	for attempt := 0; ; attempt++ {
		c, reused, err := p.get(ctx)
		if err != nil || !reused {
			return c, err
		}
		err = c.Ping(ctx)
		if err == nil {
			return c, nil
		}
		p.put(c, err)
		if attempt >= cap(p.sem) || ctx.Err() != nil {
			return nil, err
		}
	}
}

// put returns a connection; one whose last use failed is closed instead,
// since it may be in an unknown state.
func (p *connPool) put(c *pgx.Conn, lastErr error) {
	defer func() { <-p.sem }()
	p.mu.Lock()
	defer p.mu.Unlock()
	if lastErr != nil || p.shut || c.IsClosed() || c.PgConn().TxStatus() != 'I' {
		p.closeConn(c)
		return
	}
	p.idle = append(p.idle, c)
}

func (p *connPool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.shut = true
	for _, c := range p.idle {
		p.closeConn(c)
	}
	p.idle = nil
}

// closeConn closes a read connection the pool drops. Its error changes
// nothing (the connection is gone either way), so it is only logged.
func (p *connPool) closeConn(c *pgx.Conn) {
	if err := c.Close(context.Background()); err != nil && p.log != nil {
		p.log.LogAttrs(context.Background(), slog.LevelDebug, "pgstore: close a read connection", slog.Any("error", err))
	}
}

// Stats counts what a Store handled without returning it to any caller.
// None of it is an error a caller must act on; a steady rise of one is
// worth a look (a flaky network, another process racing for keys).
type Stats struct {
	// Groups is how many groups committed.
	Groups uint64
	// KeyRechecks is how many groups rolled back because an idempotency
	// key they took for new (it was not in the key cache) was in the
	// journal: a retry of a request this store did not see recently
	// (another process posted it, or the cache forgot it). Their callers
	// got driver.ErrConflict, which Ledger retries; the retry found the
	// key. It also counts groups rolled back because a record they took
	// for missing without a read existed (see the package doc, "Records").
	KeyRechecks uint64
	// BeginRetries is how many times a group's BEGIN was sent again on a
	// new connection because the committer's connection had died.
	BeginRetries uint64
	// ReadRetries is how many times View began again on another
	// connection because the one taken from the idle pool had died.
	ReadRetries uint64
	// LateBeginFailures is how many times the next group's BEGIN, sent in
	// the round trip of a COMMIT that stood, failed; the commit was kept
	// and the next group began on its own.
	LateBeginFailures uint64
	// ReplicaReads is how many Views the replica served (WithReplica).
	ReplicaReads uint64
	// ReplicaSkips is how many Views the primary served although a
	// replica is configured and the context did not ask for the primary:
	// the replica was not proven within its bound (behind, unreachable,
	// not a standby, not probed yet), or it failed to begin the View's
	// transaction or took more than a second to.
	ReplicaSkips uint64
	// LastHiddenError is the error behind the last BeginRetries,
	// ReadRetries or LateBeginFailures event, or the last time the
	// replica was found unusable, or nil.
	LastHiddenError error
}

// Stats returns the store's counters since Open.
func (s *Store) Stats() Stats {
	return Stats{
		Groups:            s.stats.groups.Load(),
		KeyRechecks:       s.stats.keyRechecks.Load(),
		BeginRetries:      s.stats.beginRetries.Load(),
		ReadRetries:       s.stats.readRetries.Load(),
		LateBeginFailures: s.stats.lateBegins.Load(),
		ReplicaReads:      s.stats.replicaReads.Load(),
		ReplicaSkips:      s.stats.replicaSkips.Load(),
		LastHiddenError:   s.stats.last(),
	}
}

type stats struct {
	groups, keyRechecks, beginRetries, readRetries, lateBegins atomic.Uint64
	replicaReads, replicaSkips                                 atomic.Uint64

	mu         sync.Mutex
	lastHidden error
}

// hide records an error the store handled without returning it.
func (st *stats) hide(err error) {
	st.mu.Lock()
	st.lastHidden = err
	st.mu.Unlock()
}

func (st *stats) last() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.lastHidden
}

// New opens a store on the database an existing pool points at, with the
// pool's connection settings (host, credentials, TLS, runtime parameters).
// The store dials connections of its own rather than borrowing the pool's:
// its committer keeps one session for the life of the store (it holds the
// journal's head lock across group commits) and must not compete with the
// pool's other users for it. Closing the store leaves the pool open.
func New(ctx context.Context, pool *pgxpool.Pool, opts ...Option) (*Store, error) {
	if pool == nil {
		return nil, errors.New("pgstore: New needs a pool")
	}
	return OpenConfig(ctx, pool.Config().ConnConfig.Copy(), opts...)
}
