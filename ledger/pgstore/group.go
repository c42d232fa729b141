package pgstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rewardkit/rewardkit/ledger/driver"
)

// committer owns the write connection and runs groups of units of work,
// one database transaction per group.
type committer struct {
	s    *Store
	conn *pgx.Conn
	held *request // a batch request met while gathering a group of Updates

	// Balances as of this store's last commit, valid while the head row's
	// version is still the one that commit wrote (no other writer since).
	version int64
	cache   map[driver.BalanceKey]driver.Balance

	// Accounts and assets never change once stored: what a committed group
	// read or wrote stays true. Both are bounded (cache.go).
	accounts genCache[driver.Account]
	assets   genCache[driver.Asset]
	// Records as of the last commit, valid with the balance cache.
	recs recCache
	// missRuns counts, per record kind, the database reads in a row that
	// found no record; a kind past speculateAfter is taken for missing
	// without a read (see gtx.loadRecord). recHints are records that may
	// exist: those of failed groups, never taken for missing.
	missRuns map[string]int
	recHints *keyCache

	// keys may be in the journal: a hint (see keyCache).
	keys *keyCache
	// lookupGroups is how many more groups look every key up in the
	// database rather than take keys missing from the cache for new: set
	// after a group was rolled back for a key, so that its callers' retries
	// (and whoever joins them) cannot be rolled back for one again.
	lookupGroups int

	next *gtx // a group begun in the last commit's round trip
}

func (c *committer) run() {
	defer close(c.s.done)
	defer c.closeConn()
	c.version = -1
	c.keys = newKeyCache(c.s.opts.keyCache)
	c.recHints = newKeyCache(maxRecordHints)
	c.accounts.max, c.assets.max = c.s.opts.accCache, maxCachedAssets
	if c.s.opts.cacheSize > 0 {
		c.recs.maxBytes = maxCachedRecordBytes
	}
	for {
		first := c.held
		c.held = nil
		if first == nil {
			select {
			case first = <-c.s.queue:
			case <-c.s.quit:
				c.drain()
				return
			}
		}
		group := []*request{first}
		if first.single {
			group = c.gather(group)
		}
		c.runGroup(group)
		for _, r := range group {
			close(r.done)
		}
	}
}

// gather adds queued Updates to the group, waiting up to the window.
func (c *committer) gather(group []*request) []*request {
	var timeout <-chan time.Time
	if c.s.opts.window > 0 {
		t := time.NewTimer(c.s.opts.window)
		defer t.Stop()
		timeout = t.C
	}
	for len(group) < c.s.opts.maxGroup {
		var r *request
		if timeout == nil {
			select {
			case r = <-c.s.queue:
			default:
				return group
			}
		} else {
			select {
			case r = <-c.s.queue:
			case <-timeout:
				return group
			}
		}
		if !r.single {
			c.held = r // a batch runs in a transaction of its own
			return group
		}
		group = append(group, r)
	}
	return group
}

// drain refuses what is still queued when the store closes.
func (c *committer) drain() {
	if c.held != nil {
		c.held.err = driver.ErrClosed
		close(c.held.done)
	}
	for {
		select {
		case r := <-c.s.queue:
			r.err = driver.ErrClosed
			close(r.done)
		default:
			return
		}
	}
}

func (c *committer) closeConn() {
	if c.conn != nil {
		if err := c.conn.Close(context.Background()); err != nil {
			// It is dropped either way; the next group connects anew.
			c.s.obs.logHidden(slog.LevelDebug, "pgstore: close the committer's connection", err)
		}
		c.conn = nil
	}
}

// runGroup runs every unit of work of the group in one database
// transaction and records each one's outcome.
func (c *committer) runGroup(group []*request) {
	defer c.s.obs.endGroup(c.s.ctx, c.s.obs.startGroup(c.s.ctx, group), group)
	g, err := c.begin()
	if err != nil {
		c.dropCache()
		for _, r := range group {
			r.err = err
		}
		return
	}
	g.speculate = c.keys.enabled() && c.lookupGroups == 0
	if c.lookupGroups > 0 {
		c.lookupGroups--
	}
	for _, r := range group {
		if !r.claim() {
			continue // withdrawn by its caller's context: never run
		}
		if g.dbErr == nil && len(group) > 1 && c.s.opts.stmtTime > 0 && time.Since(g.began) > c.s.opts.stmtTime {
			// A unit of work stalled the group: fail it rather than keep
			// the callers of the rest waiting (see WithStatementTimeout).
			g.dbErr = fmt.Errorf("pgstore: group ran longer than %v: %w", c.s.opts.stmtTime, ErrStatementTimeout)
		}
		r.errs = make([]error, len(r.fns))
		for i, fn := range r.fns {
			r.errs[i] = g.runItem(r, fn)
		}
	}
	if len(group) == 1 && !group[0].single {
		// A batch: its context still decides, as in memstore.
		if err := group[0].ctx.Err(); err != nil && g.dbErr == nil {
			g.dbErr = err
		}
	}
	if err := g.commit(); err != nil {
		c.dropCache()
		c.suspectKeys(g)
		c.suspectRecords(g)
		if errors.Is(err, errRecordTaken) {
			c.s.stats.keyRechecks.Add(1)
			c.lookupGroups = keyConflictLookups
			c.s.obs.logHidden(slog.LevelInfo, "pgstore: group rolled back: a record taken for missing exists; its callers retry", err,
				slog.Int("requests", len(group)))
		} else if isKeyConflict(err) {
			c.s.stats.keyRechecks.Add(1)
			c.lookupGroups = keyConflictLookups
			c.s.obs.logHidden(slog.LevelInfo, "pgstore: group rolled back: an idempotency key taken for new was in the journal; its callers retry", err,
				slog.Int("requests", len(group)))
		}
		for _, r := range group {
			r.err = err
		}
		return
	}
	c.s.stats.groups.Add(1)
	c.keepCache(g)
}

// keyConflictLookups is how many groups after one rolled back for a key
// look every key up in the database.
const keyConflictLookups = 8

// suspectKeys adds to the key cache every key a failed group answered
// "new" without asking the database, and every key it appended (its
// COMMIT may have stood though its answer was lost): whoever retries them
// finds them looked up in the database.
func (c *committer) suspectKeys(g *gtx) {
	for k := range g.assumed {
		c.keys.add(k)
	}
	for k := range g.txKeys {
		c.keys.add(k)
	}
}

// suspectRecords puts in the hints every record a failed group took for
// missing without a read, and every record it wrote (its COMMIT may have
// stood though its answer was lost), and stops taking their kinds for
// missing until reads find them missing again: whoever retries reads them.
func (c *committer) suspectRecords(g *gtx) {
	for _, k := range g.assumedRecs {
		c.recHints.add(hintKey(k))
		delete(c.missRuns, k.kind)
	}
	for k := range g.recs {
		c.recHints.add(hintKey(k))
	}
}

// hintKey is a record's key in recHints. Two records may share one (a
// kind with a NUL in it): a hint only ever costs a read.
func hintKey(k kindID) string { return k.kind + "\x00" + k.id }

// speculateAfter is how many reads in a row of a kind must find no
// record before records of that kind missing from the caches are taken
// for missing without a read. maxRecordHints bounds recHints;
// maxMissKinds bounds missRuns.
const (
	speculateAfter = 256
	maxRecordHints = 4096
	maxMissKinds   = 1024
)

// countRead keeps missRuns up to date with a database read of a record.
func (c *committer) countRead(kind string, found bool) {
	if found {
		delete(c.missRuns, kind)
		return
	}
	if c.missRuns == nil || len(c.missRuns) >= maxMissKinds {
		c.missRuns = map[string]int{}
	}
	if n := c.missRuns[kind]; n < speculateAfter {
		c.missRuns[kind] = n + 1
	}
}

func (c *committer) dropCache() {
	c.version = -1
	clear(c.cache)
	c.recs.clear()
}

func (c *committer) keepCache(g *gtx) {
	c.version = g.version
	for k := range g.txKeys {
		c.keys.add(k)
	}
	for k, a := range g.accounts {
		c.accounts.put(k, a)
	}
	for k, a := range g.assets {
		c.assets.put(k, a)
	}
	for k, v := range g.recs {
		if v.ok {
			c.recs.put(k, v.data)
		} else {
			c.recs.del(k)
		}
	}
	if c.s.opts.cacheSize == 0 {
		return
	}
	if c.cache == nil {
		c.cache = make(map[driver.BalanceKey]driver.Balance)
	}
	if len(c.cache)+len(g.bal) > c.s.opts.cacheSize {
		clear(c.cache)
	}
	for k, b := range g.bal {
		// A group with more balances than the bound leaves some out; one
		// already cached is always replaced, never left stale.
		if _, ok := c.cache[k]; ok || len(c.cache) < c.s.opts.cacheSize {
			c.cache[k] = b
		}
	}
}

const lockHeadSQL = `SELECT tx_id, hash, time, hold_id, version, event_seq, event_hash FROM ledger_head WHERE id = 1 FOR UPDATE`

// beginRetries bounds how many times a group's BEGIN is sent again on a
// new connection after the connection it was sent on died.
const beginRetries = 2

// begin opens the group's transaction and locks the head row, which
// serialises this group against every other writer, in this process or
// another: they all lock it first, so there is one lock order and no
// deadlock. Under the lock nothing another writer changes can move.
//
// A BEGIN that fails because the connection died (a terminated backend, a
// server restart: the committer's connection may have been idle for long)
// has written nothing, since no unit of work of the group has run yet, so
// the group begins again on a new connection.
func (c *committer) begin() (*gtx, error) {
	g := c.next
	c.next = nil
	for attempt := 0; g == nil; attempt++ {
		var err error
		g, err = c.beginOnce()
		if err == nil {
			break
		}
		if attempt >= beginRetries || !errors.Is(err, errConnLost) || c.s.ctx.Err() != nil {
			return nil, err
		}
		c.s.stats.beginRetries.Add(1)
		c.s.stats.hide(err)
		c.s.obs.logHidden(slog.LevelWarn, "pgstore: the committer's connection was lost at BEGIN; beginning again on a new connection", err,
			slog.Int("attempt", attempt+1))
	}
	if g.version == c.version && c.version >= 0 {
		g.cache = c.cache
		g.recCached = true
	} else {
		clear(c.cache)
		c.recs.clear()
	}
	g.baseVersion = g.version
	g.began = time.Now()
	g.reader = reader{q: g.query, head: g.Head}
	return g, nil
}

// errConnLost marks a BEGIN that failed because its connection died.
var errConnLost = errors.New("connection lost")

// beginOnce connects if need be and sends BEGIN and the head lock.
func (c *committer) beginOnce() (*gtx, error) {
	ctx := c.s.ctx
	if c.conn == nil || c.conn.IsClosed() {
		c.closeConn()
		conn, err := pgx.ConnectConfig(ctx, c.s.cfg)
		if err != nil {
			return nil, fmt.Errorf("pgstore: connect: %w", err)
		}
		c.conn = conn
		c.s.writerPID.Store(conn.PgConn().PID())
	}
	b := &pgx.Batch{}
	c.queueBegin(b)
	br := c.conn.SendBatch(ctx, b)
	g, err := c.readBegin(br)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		return g, nil
	}
	c.abort()
	if c.conn == nil || c.conn.IsClosed() {
		c.closeConn()
		return nil, fmt.Errorf("pgstore: begin: %w: %w", errConnLost, mapErr(err))
	}
	return nil, fmt.Errorf("pgstore: begin: %w", mapErr(err))
}

// queueBegin queues what opens a group: BEGIN, the statement timeout and
// the head lock (which the timeout already bounds).
func (c *committer) queueBegin(b *pgx.Batch) {
	b.Queue("BEGIN")
	if d := c.s.opts.stmtTime; d > 0 {
		b.Queue(fmt.Sprintf("SET LOCAL statement_timeout = %d", max(d.Milliseconds(), 1)))
	}
	b.Queue(lockHeadSQL)
}

// readBegin reads what queueBegin queued into a new group.
func (c *committer) readBegin(br pgx.BatchResults) (*gtx, error) {
	g := &gtx{c: c, ctx: c.s.ctx, conn: c.conn, bal: map[driver.BalanceKey]driver.Balance{}}
	if _, err := br.Exec(); err != nil {
		return nil, err
	}
	if c.s.opts.stmtTime > 0 {
		if _, err := br.Exec(); err != nil {
			return nil, err
		}
	}
	var id, holdID, evSeq int64
	var hash, evHash []byte
	if err := br.QueryRow().Scan(&id, &hash, &g.head.Time, &holdID, &g.version, &evSeq, &evHash); err != nil {
		return nil, err
	}
	g.head.ID, g.holdSeq, g.ev.Seq, g.baseEvSeq = uint64(id), uint64(holdID), uint64(evSeq), uint64(evSeq)
	copy(g.head.Hash[:], hash)
	copy(g.ev.Hash[:], evHash)
	return g, nil
}

// abort rolls back whatever the connection has open; a connection that
// cannot is closed, and the next group opens a new one.
func (c *committer) abort() {
	if c.conn == nil || c.conn.IsClosed() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.conn.Exec(ctx, "ROLLBACK"); err != nil {
		// Closing the connection rolls back on the server; the next
		// group connects anew.
		c.s.obs.logHidden(slog.LevelWarn, "pgstore: ROLLBACK failed; closing the committer's connection", err)
		c.closeConn()
	}
}

// gtx is the Tx every unit of work of a group sees. Writes are buffered
// in a log and sent to the database in one pipelined batch when a read
// needs them there, or at commit: a unit of work that posts a transfer
// usually costs no round trip of its own beyond the reads the ledger
// makes. Each unit of work is isolated: its buffered writes are dropped
// if it fails, and if it had to send some of them early (a read after a
// write), they went after a SAVEPOINT that is rolled back.
type gtx struct {
	reader
	c     *committer
	ctx   context.Context // the group's; while an item runs, linked to its caller's (itemContext)
	conn  *pgx.Conn
	began time.Time // when the group's BEGIN was read

	head        driver.Head
	holdSeq     uint64           // last hold ID
	ev          driver.EventHead // last event
	baseEvSeq   uint64           // last event Seq when the group began
	version     int64            // head row version
	baseVersion int64
	cache       map[driver.BalanceKey]driver.Balance // committed, read-only; nil if stale
	bal         map[driver.BalanceKey]driver.Balance // this group's balances (locked)
	speculate   bool                                 // keys missing from the key cache are taken for new
	absentKeys  map[string]bool                      // transaction keys the database said were unused
	assumed     map[string]bool                      // transaction keys answered "new" without asking the database
	txKeys      map[string]uint64                    // transaction keys appended by this group

	accounts map[string]driver.Account // read or created by this group
	assets   map[string]driver.Asset
	// recs is every record this group read or wrote, as the database
	// holds it under the head lock with the group's writes applied: no
	// other writer can change a record while the group holds the lock, so
	// a record read once (found or missing) is answered from here for the
	// rest of the group, and a record not here was never written by the
	// group, so the database answers for it without the buffered writes.
	recs      map[kindID]recView
	recCached bool // the committer's record cache is valid for this group
	// assumedRecs are the records taken for missing without a read, in
	// order; those from recsChecked on are not yet checked in the
	// database (checkRecordsSQL, sent before any write).
	assumedRecs []kindID
	recsChecked int
	recCheckAt  int // index of checkRecordsSQL in the batch queueWrites filled, or -1

	direct   bool // the running read cannot see buffered writes
	log      writeLog
	pre      []string // RELEASE / ROLLBACK TO statements for the next send
	wrote    bool     // anything was written: the commit bumps the version
	itemMark logMark  // where the running item's writes start in log
	saved    bool     // the running item sent writes after a SAVEPOINT
	active   bool     // an item is running
	undo     []undoEntry
	itemHead driver.Head
	itemHold uint64
	itemEv   driver.EventHead
}

type undoEntry struct {
	key     driver.BalanceKey
	old     driver.Balance
	existed bool
	txKey   string // non-empty: remove from txKeys
	account string // non-empty: remove from accounts
	asset   string // non-empty: remove from assets
	rec     bool   // restore recs[recKey] to recOld (or remove it if !recHad)
	recKey  kindID
	recOld  recView
	recHad  bool
}

// recView is a record as a group sees it: its data, or missing (!ok).
type recView struct {
	data []byte
	ok   bool
}

// readDirect runs f with direct reads (see query).
func (g *gtx) readDirect(f func() error) error {
	g.direct = true
	defer func() { g.direct = false }()
	return f()
}

const savepoint = "SAVEPOINT rk_item"

// runItem runs one fn in its own isolation and returns its error.
func (g *gtx) runItem(r *request, fn func(driver.Tx) error) (err error) {
	if g.dbErr != nil {
		return g.dbErr
	}
	if err := r.ctx.Err(); err != nil {
		return err
	}
	g.itemMark = g.log.mark()
	g.saved = false
	g.undo = g.undo[:0]
	g.itemHead, g.itemHold, g.itemEv = g.head, g.holdSeq, g.ev
	g.active = true
	g.closed = false
	wroteBefore := g.wrote
	groupCtx := g.ctx
	g.ctx = itemContext{Context: groupCtx, values: r.ctx}
	defer func() {
		g.ctx = groupCtx
		g.active = false
		p := recover()
		if p != nil {
			if r.single {
				r.panicked, r.panicVal = true, p
			}
			if e, ok := p.(error); ok {
				err = fmt.Errorf("pgstore: unit of work panicked: %w", e)
			} else {
				err = fmt.Errorf("pgstore: unit of work panicked: %v", p)
			}
		}
		if err == nil && r.single {
			err = r.ctx.Err() // cancelled while fn ran: abandon it, like a commit never sent
		}
		if err == nil && g.dbErr != nil {
			err = g.dbErr
		}
		if err != nil {
			g.rollbackItem()
			g.wrote = wroteBefore
			return
		}
		if g.saved {
			g.pre = append(g.pre, "RELEASE "+savepoint)
		}
	}()
	return fn(g)
}

// itemContext is the context of the queries a unit of work sends: the
// group's deadline and cancellation (a caller that gives up must not
// cancel a statement its group's neighbours depend on), with the caller's
// values, so that a pgx tracer sees each query under the caller's span.
type itemContext struct {
	context.Context
	values context.Context
}

func (c itemContext) Value(key any) any { return c.values.Value(key) }

// rollbackItem undoes the running item's writes: the buffered ones are
// dropped, the sent ones rolled back to the item's savepoint, and the
// group's view of balances, keys and the head restored.
func (g *gtx) rollbackItem() {
	g.log.truncate(g.itemMark)
	if g.saved {
		g.pre = append(g.pre, "ROLLBACK TO "+savepoint, "RELEASE "+savepoint)
	}
	for i := len(g.undo) - 1; i >= 0; i-- {
		u := g.undo[i]
		switch {
		case u.txKey != "":
			delete(g.txKeys, u.txKey)
			continue
		case u.account != "":
			delete(g.accounts, u.account)
			continue
		case u.asset != "":
			delete(g.assets, u.asset)
			continue
		case u.rec:
			if u.recHad {
				g.recs[u.recKey] = u.recOld
			} else {
				delete(g.recs, u.recKey)
			}
			continue
		}
		if u.existed {
			g.bal[u.key] = u.old
		} else {
			delete(g.bal, u.key)
		}
	}
	g.undo = g.undo[:0]
	g.head, g.holdSeq, g.ev = g.itemHead, g.itemHold, g.itemEv
}

// query is the reader's queryFunc inside a group: it sends the buffered
// writes and the query in one round trip, unless the read is direct: one
// the buffered writes cannot change (a balance not in the group's view, a
// key the group did not append), which runs alone so that a group's
// writes go to the database together.
func (g *gtx) query(sql string, args []any, scan func(pgx.Rows) error) error {
	if !g.active {
		panic("pgstore: Tx used after its Update returned")
	}
	b := &pgx.Batch{}
	n := 0
	if !g.direct || len(g.pre) > 0 {
		n = g.queueWrites(b)
	}
	if n == 0 {
		rows, err := g.conn.Query(g.ctx, sql, args...)
		if err != nil {
			return err
		}
		return scanAll(rows, scan)
	}
	b.Queue(sql, args...)
	br := g.conn.SendBatch(g.ctx, b)
	for i := 0; i < n; i++ {
		if _, err := br.Exec(); err != nil {
			err = g.checkFailed(i, err)
			if cerr := br.Close(); cerr != nil {
				// err, the first failure, is returned; this follows from it.
				g.c.s.obs.logHidden(slog.LevelDebug, "pgstore: close a batch after a failed statement", cerr)
			}
			return err
		}
	}
	rows, err := br.Query()
	if err == nil {
		err = scanAll(rows, scan)
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return err
}

// queueWrites moves the pending statements and buffered writes into b and
// returns how many statements it queued. Writes of the running item go
// after a SAVEPOINT, so they can still be undone alone.
func (g *gtx) queueWrites(b *pgx.Batch) int {
	n := 0
	for _, s := range g.pre {
		b.Queue(s)
		n++
	}
	g.pre = g.pre[:0]
	g.recCheckAt = -1
	if unchecked := g.assumedRecs[g.recsChecked:]; len(unchecked) > 0 {
		kinds, ids := make([][]byte, len(unchecked)), make([][]byte, len(unchecked))
		for i, k := range unchecked {
			kinds[i], ids[i] = []byte(k.kind), []byte(k.id)
		}
		b.Queue(checkRecordsSQL, kinds, ids)
		g.recCheckAt = n
		g.recsChecked = len(g.assumedRecs)
		n++
	}
	end := g.log.mark()
	if g.active && !g.saved && end != g.itemMark {
		n += g.log.queue(b, logMark{}, g.itemMark)
		b.Queue(savepoint)
		n++
		g.saved = true
		n += g.log.queue(b, g.itemMark, end)
	} else {
		n += g.log.queue(b, logMark{}, end)
	}
	g.log.truncate(logMark{})
	g.itemMark = logMark{}
	return n
}

// checkKeysSQL fails (division by zero) if any of the keys is in the
// journal. It checks, inside the group's transaction and under the head
// lock, the keys the group answered "new" without asking the database and
// did not append (those it appended, the unique index checks).
const checkKeysSQL = `SELECT 1 / (CASE WHEN count(*) = 0 THEN 1 ELSE 0 END) FROM transactions WHERE key = ANY($1::bytea[])`

// checkRecordsSQL fails (division by zero) if any of the records exists.
// It checks, inside the group's transaction and under the head lock, the
// records the group took for missing without a read, before the group
// writes any record.
const checkRecordsSQL = `SELECT 1 / (CASE WHEN count(*) = 0 THEN 1 ELSE 0 END) FROM records
	WHERE (kind, id) IN (SELECT * FROM unnest($1::bytea[], $2::bytea[]))`

// errRecordTaken marks a group rolled back because a record it took for
// missing without a read exists.
var errRecordTaken = errors.New("a record taken for missing exists")

// checkFailed translates the error of statement i of a batch queueWrites
// began: the failure of checkRecordsSQL is a conflict to retry.
func (g *gtx) checkFailed(i int, err error) error {
	var pe *pgconn.PgError
	if i == g.recCheckAt && errors.As(err, &pe) && pe.Code == codeDivisionByZero {
		return fmt.Errorf("%w: %w: %w", driver.ErrConflict, errRecordTaken, err)
	}
	return err
}

// errKeyTaken marks a group rolled back because a key it answered "new"
// without asking the database was in the journal.
var errKeyTaken = errors.New("an idempotency key taken for new is in the journal")

// isKeyConflict reports whether a group failed because a key it took for
// new was in the journal: found by checkKeysSQL or by the unique index.
func isKeyConflict(err error) bool {
	var pe *pgconn.PgError
	return errors.Is(err, errKeyTaken) ||
		errors.As(err, &pe) && pe.Code == codeUniqueViolation && pe.ConstraintName == "transactions_key"
}

// commit sends what is left with the head row and COMMIT, in one round
// trip. If anything failed before, it rolls back instead.
//
// A COMMIT whose answer is lost (the connection died after sending it)
// has an unknown outcome: it is never sent again. Every caller of the
// group gets the error, which is not ErrConflict, so Ledger does not retry
// it blindly; a caller that retries with the same idempotency key gets
// the original transaction if the COMMIT stood (the key is looked up in
// the database, never taken for new on the cache's word) and posts it
// otherwise.
func (g *gtx) commit() error {
	c := g.c
	if g.dbErr != nil {
		c.abort()
		return g.dbErr
	}
	b := &pgx.Batch{}
	n := g.queueWrites(b)
	check := -1
	if unchecked := g.uncheckedKeys(); len(unchecked) > 0 {
		check = n
		b.Queue(checkKeysSQL, unchecked)
		n++
	}
	if g.wrote {
		g.version++
		b.Queue(`UPDATE ledger_head SET tx_id = $1, hash = $2, time = $3, hold_id = $4, version = $5, event_seq = $6, event_hash = $7 WHERE id = 1`,
			int64(g.head.ID), g.head.Hash[:], g.head.Time, int64(g.holdSeq), g.version, int64(g.ev.Seq), g.ev.Hash[:])
		n++
	}
	if g.ev.Seq != g.baseEvSeq {
		// Delivered to listeners when, and only if, this commits.
		b.Queue(`SELECT pg_notify($1, $2)`, c.s.eventChannel(), strconv.FormatUint(g.ev.Seq, 10))
		n++
	}
	b.Queue("COMMIT")
	// When callers are already waiting, the next group's BEGIN and head
	// lock ride in this round trip too. (Never when idle: the head lock
	// would then keep other processes waiting for nothing.)
	next := len(c.s.queue) > 0 || c.held != nil
	if next {
		c.queueBegin(b)
	}
	br := g.conn.SendBatch(g.ctx, b)
	var err error
	for i := 0; i < n && err == nil; i++ {
		var pe *pgconn.PgError
		if _, err = br.Exec(); i == check && errors.As(err, &pe) && pe.Code == codeDivisionByZero {
			err = fmt.Errorf("%w: %w", errKeyTaken, err)
		} else if err != nil {
			err = g.checkFailed(i, err)
		}
	}
	if err == nil {
		var tag, terr = br.Exec()
		err = terr
		// COMMIT of a transaction that had failed answers ROLLBACK.
		if err == nil && tag.String() != "COMMIT" {
			err = fmt.Errorf("pgstore: commit answered %q", tag.String())
		}
	}
	if err == nil && next {
		var ng *gtx
		var nerr error
		if h := c.s.hookLateBegin; h != nil {
			nerr = h()
		}
		if nerr == nil {
			ng, nerr = c.readBegin(br)
		}
		if cerr := br.Close(); nerr == nil {
			nerr = cerr
		}
		if nerr != nil {
			// The commit stands; the next group begins on its own. No
			// caller sees this error: it is counted instead.
			c.abort()
			c.s.stats.lateBegins.Add(1)
			c.s.stats.hide(fmt.Errorf("pgstore: begin sent with a commit: %w", nerr))
			c.s.obs.logHidden(slog.LevelWarn, "pgstore: the next group's BEGIN, sent with a COMMIT that stood, failed; the commit is kept and the next group begins on its own", nerr)
			return nil
		}
		c.next = ng
		return nil
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		c.abort()
		if errors.Is(err, errKeyTaken) {
			return fmt.Errorf("pgstore: commit: %w: %w", driver.ErrConflict, err)
		}
		if errors.Is(err, errRecordTaken) {
			return fmt.Errorf("pgstore: commit: %w", err) // wraps driver.ErrConflict
		}
		// The outcome of a COMMIT whose answer was lost is unknown, so a
		// lost connection is not reported as a conflict to retry.
		return fmt.Errorf("pgstore: commit: %w", mapErr(err))
	}
	return nil
}

// uncheckedKeys returns the keys the group answered "new" without asking
// the database and did not append.
func (g *gtx) uncheckedKeys() [][]byte {
	var out [][]byte
	for k := range g.assumed {
		if _, ok := g.txKeys[k]; !ok {
			out = append(out, []byte(k))
		}
	}
	return out
}

// Head returns the head locked at the group's start, moved by what the
// group appended.
func (g *gtx) Head() (driver.Head, error) {
	g.check()
	return g.head, nil
}

func (g *gtx) check() {
	if !g.active {
		panic("pgstore: Tx used after its Update returned")
	}
}

// balance returns the group's view of one balance, if it has one.
func (g *gtx) balance(k driver.BalanceKey) (driver.Balance, bool) {
	if b, ok := g.bal[k]; ok {
		return b, true
	}
	if g.cache != nil {
		if b, ok := g.cache[k]; ok {
			return b, true
		}
	}
	return driver.Balance{}, false
}

func (g *gtx) Balance(k driver.BalanceKey) (driver.Balance, error) {
	g.check()
	if b, ok := g.balance(k); ok {
		return b, nil
	}
	return g.reader.Balance(k)
}

// LockBalances returns balances from the group's view when it has them
// (they are locked already, or unchanged since this store's last commit
// under the head lock) and locks the rest with SELECT ... FOR UPDATE in
// (address, asset) order.
func (g *gtx) LockBalances(keys []driver.BalanceKey) ([]driver.Balance, error) {
	g.check()
	out := make([]driver.Balance, len(keys))
	var missA, missB []string
	for i, k := range keys {
		if b, ok := g.balance(k); ok {
			out[i] = b
			continue
		}
		if !storable(k.Address) || !storable(k.Asset) {
			return nil, fmt.Errorf("pgstore: balance %q/%q cannot be stored", k.Address, k.Asset)
		}
		missA, missB = append(missA, k.Address), append(missB, k.Asset)
	}
	if len(missA) == 0 {
		return out, nil
	}
	found := map[driver.BalanceKey]driver.Balance{}
	g.direct = true // every buffered balance is in the group's view
	defer func() { g.direct = false }()
	err := g.reader.query(`SELECT b.address, b.asset, b.posted, b.held FROM balances b
		WHERE (b.address, b.asset) IN (SELECT * FROM unnest($1::text[], $2::text[]))
		ORDER BY b.address, b.asset FOR UPDATE OF b`, []any{missA, missB},
		func(rows pgx.Rows) error {
			b, err := scanBalance(rows)
			found[driver.BalanceKey{Address: b.Address, Asset: b.Asset}] = b
			return err
		})
	if err != nil {
		return nil, err
	}
	for i, k := range keys {
		if _, ok := g.balance(k); ok {
			out[i], _ = g.balance(k)
			continue
		}
		b, ok := found[k]
		if !ok {
			b = driver.Balance{Address: k.Address, Asset: k.Asset}
		}
		g.bal[k] = b // loaded, not written: nothing to undo
		out[i] = b
	}
	return out, nil
}

func (g *gtx) PutBalances(bs []driver.Balance) error {
	g.check()
	for _, b := range bs {
		k := driver.BalanceKey{Address: b.Address, Asset: b.Asset}
		if !storable(k.Address) || !storable(k.Asset) {
			return fmt.Errorf("pgstore: balance %q/%q cannot be stored", k.Address, k.Asset)
		}
		old, existed := g.bal[k]
		g.undo = append(g.undo, undoEntry{key: k, old: old, existed: existed})
		g.bal[k] = b
		g.log.bals = append(g.log.bals, b)
	}
	g.wrote = true
	return nil
}

func (g *gtx) PutAsset(a driver.Asset) error {
	g.check()
	if !storable(a.Code) {
		return fmt.Errorf("pgstore: asset code %q cannot be stored", a.Code)
	}
	if _, err := g.Asset(a.Code); err == nil {
		return fmt.Errorf("%w: asset %s exists", driver.ErrDuplicate, a.Code)
	} else if !errors.Is(err, driver.ErrUnknownAsset) {
		return err
	}
	g.log.assets = append(g.log.assets, a)
	g.cacheAsset(a)
	g.wrote = true
	return nil
}

func (g *gtx) PutAccount(a driver.Account) error {
	g.check()
	if !storable(a.Address) {
		return fmt.Errorf("pgstore: address %q cannot be stored", a.Address)
	}
	if _, err := g.Account(a.Address); err == nil {
		return fmt.Errorf("%w: account %s exists", driver.ErrDuplicate, a.Address)
	} else if !errors.Is(err, driver.ErrUnknownAccount) {
		return err
	}
	g.log.accounts = append(g.log.accounts, a)
	g.cacheAccount(a)
	g.wrote = true
	return nil
}

// Asset reads an asset through the group's cache. Assets never change
// once stored, so what one group read stays true for the next.
func (g *gtx) Asset(code string) (driver.Asset, error) {
	g.check()
	if a, ok := g.assets[code]; ok {
		return a, nil
	}
	if a, ok := g.c.assets.get(code); ok {
		return a, nil
	}
	var a driver.Asset
	err := g.readDirect(func() (err error) { a, err = g.reader.Asset(code); return err })
	if err == nil {
		g.cacheAsset(a)
	}
	return a, err
}

// Account reads an account through the group's cache (accounts never
// change once opened).
func (g *gtx) Account(addr string) (driver.Account, error) {
	g.check()
	if a, ok := g.accounts[addr]; ok {
		return a, nil
	}
	if a, ok := g.c.accounts.get(addr); ok {
		return a, nil
	}
	var a driver.Account
	err := g.readDirect(func() (err error) { a, err = g.reader.Account(addr); return err })
	if err == nil {
		g.cacheAccount(a)
	}
	return a, err
}

func (g *gtx) cacheAsset(a driver.Asset) {
	if g.assets == nil {
		g.assets = map[string]driver.Asset{}
	}
	g.assets[a.Code] = a
	g.undo = append(g.undo, undoEntry{asset: a.Code})
}

func (g *gtx) cacheAccount(a driver.Account) {
	if g.accounts == nil {
		g.accounts = map[string]driver.Account{}
	}
	g.accounts[a.Address] = a
	g.undo = append(g.undo, undoEntry{account: a.Address})
}

// TransactionByKey answers from the database, except for a key that is
// neither appended by this group nor in the committer's key cache: that
// one is answered "not found" without a round trip (nearly every key a
// request carries is new). The answer is then checked before the group
// commits: if the group appends the key, by the journal's unique index;
// otherwise by checkKeysSQL. A wrong answer rolls the whole group back
// with driver.ErrConflict and puts the key in the cache, so the retry
// asks the database. No answer is ever kept on the cache's word alone.
func (g *gtx) TransactionByKey(key string) (driver.Transaction, error) {
	g.check()
	if key == "" {
		return driver.Transaction{}, driver.ErrNotFound
	}
	if _, appended := g.txKeys[key]; appended {
		return g.reader.TransactionByKey(key) // sends the group's writes first
	}
	if g.absentKeys[key] || g.assumed[key] {
		return driver.Transaction{}, driver.ErrNotFound
	}
	if g.speculate && !g.c.keys.has(key) {
		if g.assumed == nil {
			g.assumed = map[string]bool{}
		}
		g.assumed[key] = true
		return driver.Transaction{}, driver.ErrNotFound
	}
	return g.lookupKey(key)
}

// lookupKey asks the database for the transaction of a key the group did
// not append. An absent key stays absent for the rest of the group: under
// the head lock no other writer can add it.
func (g *gtx) lookupKey(key string) (driver.Transaction, error) {
	var t driver.Transaction
	err := g.readDirect(func() (err error) { t, err = g.reader.TransactionByKey(key); return err })
	if errors.Is(err, driver.ErrNotFound) {
		if g.absentKeys == nil {
			g.absentKeys = map[string]bool{}
		}
		g.absentKeys[key] = true
	}
	return t, err
}

func (g *gtx) AppendTransaction(t *driver.Transaction) error {
	g.check()
	if t.ID != g.head.ID+1 {
		return fmt.Errorf("pgstore: transaction %d does not follow head %d", t.ID, g.head.ID)
	}
	if t.ID > 1<<63-1 || t.Reverses > 1<<63-1 || t.Hold > 1<<63-1 {
		return fmt.Errorf("%w: transaction %d: an ID is beyond what BIGINT keeps", driver.ErrOverflow, t.ID)
	}
	if len(t.Postings) == 0 {
		return fmt.Errorf("pgstore: transaction %d has no postings", t.ID)
	}
	for i := range t.Postings {
		p := &t.Postings[i]
		if !storable(p.From) || !storable(p.To) || !storable(p.Asset) {
			return fmt.Errorf("pgstore: transaction %d posting %d cannot be stored", t.ID, i)
		}
	}
	if t.Key != "" {
		if _, ok := g.txKeys[t.Key]; ok {
			return fmt.Errorf("%w: idempotency key %q taken", driver.ErrConflict, t.Key)
		}
		// A key TransactionByKey answered is checked at commit (see
		// there); one it was never asked about is asked now.
		if !g.absentKeys[t.Key] && !g.assumed[t.Key] {
			if _, err := g.lookupKey(t.Key); err == nil {
				return fmt.Errorf("%w: idempotency key %q taken", driver.ErrConflict, t.Key)
			} else if !errors.Is(err, driver.ErrNotFound) {
				return err
			}
		}
	}
	if t.Reverses != 0 {
		if _, err := g.reader.ReversalOf(t.Reverses); err == nil {
			return fmt.Errorf("%w: transaction %d already reversed", driver.ErrConflict, t.Reverses)
		} else if !errors.Is(err, driver.ErrNotFound) {
			return err
		}
	}
	if t.Key != "" {
		if g.txKeys == nil {
			g.txKeys = map[string]uint64{}
		}
		g.txKeys[t.Key] = t.ID
		g.undo = append(g.undo, undoEntry{txKey: t.Key})
	}
	// Keep a copy: the ledger reuses the value it passed.
	c := *t
	c.Postings = append([]driver.Posting(nil), t.Postings...)
	g.log.txs = append(g.log.txs, &c)
	g.head = driver.Head{ID: t.ID, Hash: t.Hash, Time: t.Time}
	g.wrote = true
	return nil
}

func (g *gtx) InsertHold(h *driver.Hold) (uint64, error) {
	g.check()
	if !storable(h.Account) || !storable(h.Asset) {
		return 0, fmt.Errorf("pgstore: hold on %q/%q cannot be stored", h.Account, h.Asset)
	}
	if h.Key != "" {
		if _, err := g.reader.HoldByKey(h.Key); err == nil {
			return 0, fmt.Errorf("%w: hold key %q taken", driver.ErrConflict, h.Key)
		} else if !errors.Is(err, driver.ErrNotFound) {
			return 0, err
		}
	}
	if g.holdSeq >= 1<<63-1 {
		return 0, fmt.Errorf("%w: hold IDs are exhausted", driver.ErrOverflow)
	}
	g.holdSeq++
	c := *h
	c.ID = g.holdSeq
	g.log.holdIns = append(g.log.holdIns, c)
	g.wrote = true
	return c.ID, nil
}

func (g *gtx) UpdateHold(h *driver.Hold) error {
	g.check()
	if h.ID == 0 || h.ID > g.holdSeq {
		return fmt.Errorf("%w: hold %d", driver.ErrNotFound, h.ID)
	}
	g.log.holdUpd = append(g.log.holdUpd, driver.Hold{ID: h.ID, Captured: h.Captured, Status: h.Status, ClosedAt: h.ClosedAt})
	g.wrote = true
	return nil
}

// Record answers from the group's view of records (see gtx.recs), then
// from the committer's record cache, and reads the database only for a
// record neither holds, without sending the buffered writes first (none
// of them is to that record).
func (g *gtx) Record(kind, id string) ([]byte, error) {
	g.check()
	v, err := g.loadRecord(kindID{kind, id})
	if err != nil {
		return nil, err
	}
	if !v.ok {
		return nil, driver.ErrNotFound
	}
	return append([]byte(nil), v.data...), nil // empty data reads as nil, like memstore
}

// loadRecord returns the group's view of a record, reading it from the
// database if the group has none.
func (g *gtx) loadRecord(k kindID) (recView, error) {
	if v, ok := g.recs[k]; ok {
		return v, nil
	}
	if g.recCached {
		if d, ok := g.c.recs.get(k); ok {
			return recView{data: d, ok: true}, nil
		}
	}
	if g.recs == nil {
		g.recs = map[kindID]recView{}
	}
	c := g.c
	if g.speculate && c.missRuns[k.kind] >= speculateAfter && !c.recHints.has(hintKey(k)) {
		// Records of this kind are nearly always new (event IDs): take
		// this one for missing and check it before the group writes
		// anything (queueWrites) or commits. If it exists the group rolls
		// back with driver.ErrConflict and the retry reads it.
		g.assumedRecs = append(g.assumedRecs, k)
		g.recs[k] = recView{}
		return recView{}, nil
	}
	var data []byte
	err := g.readDirect(func() (err error) { data, err = g.reader.Record(k.kind, k.id); return err })
	if err != nil && !errors.Is(err, driver.ErrNotFound) {
		return recView{}, err
	}
	v := recView{data: data, ok: err == nil}
	c.countRead(k.kind, v.ok)
	// What the database holds under the head lock: true for the rest of
	// the group whatever becomes of this item, so nothing to undo.
	g.recs[k] = v
	return v, nil
}

// writeRecord puts a record's new state in the group's view, undone with
// the item.
func (g *gtx) writeRecord(k kindID, v recView) {
	if g.recs == nil {
		g.recs = map[kindID]recView{}
	}
	old, had := g.recs[k]
	g.undo = append(g.undo, undoEntry{rec: true, recKey: k, recOld: old, recHad: had})
	g.recs[k] = v
}

func (g *gtx) PutRecord(r driver.Record) error {
	g.check()
	data := append([]byte(nil), r.Data...)
	g.writeRecord(kindID{r.Kind, r.ID}, recView{data: data, ok: true})
	g.log.recs = append(g.log.recs, recOp{kind: r.Kind, id: r.ID, data: data})
	g.wrote = true
	return nil
}

// InsertRecord asks the database only if the group's view and the record
// cache do not know the record: under Once, the load before it has
// already put the record's absence in the view.
func (g *gtx) InsertRecord(r driver.Record) error {
	g.check()
	v, err := g.loadRecord(kindID{r.Kind, r.ID})
	if err != nil {
		return err
	}
	if v.ok {
		return fmt.Errorf("%w: record %s/%s", driver.ErrDuplicate, r.Kind, r.ID)
	}
	return g.PutRecord(r)
}

func (g *gtx) DeleteRecord(kind, id string) error {
	g.check()
	g.writeRecord(kindID{kind, id}, recView{})
	g.log.recs = append(g.log.recs, recOp{kind: kind, id: id, del: true})
	g.wrote = true
	return nil
}

func (g *gtx) Schedule(e driver.DueEntry) error {
	g.check()
	g.log.dues = append(g.log.dues, dueOp{kind: e.Kind, id: e.ID, at: e.At.UnixNano()})
	g.wrote = true
	return nil
}

// EventHead returns the event head locked at the group's start, moved by
// what the group appended.
func (g *gtx) EventHead() (driver.EventHead, error) {
	g.check()
	return g.ev, nil
}

func (g *gtx) AppendEvents(evs []driver.Event) error {
	g.check()
	for i := range evs {
		e := &evs[i]
		if seq := e.Seq; seq != g.ev.Seq+uint64(i)+1 {
			if seq <= g.ev.Seq {
				return fmt.Errorf("%w: event sequence %d taken", driver.ErrConflict, seq)
			}
			return fmt.Errorf("pgstore: event %d does not follow event head %d", seq, g.ev.Seq+uint64(i))
		}
		if e.Seq > 1<<63-1 || e.TxID > 1<<63-1 {
			return fmt.Errorf("%w: event %d: an ID is beyond what BIGINT keeps", driver.ErrOverflow, e.Seq)
		}
		if !storable(e.Type) {
			return fmt.Errorf("pgstore: event %d: type %q cannot be stored", e.Seq, e.Type)
		}
	}
	for _, e := range evs {
		e.Data = append([]byte(nil), e.Data...) // the ledger may reuse its buffer
		g.log.events = append(g.log.events, e)
	}
	if len(evs) > 0 {
		last := &evs[len(evs)-1]
		g.ev = driver.EventHead{Seq: last.Seq, Hash: last.Hash}
		g.wrote = true
	}
	return nil
}

func (g *gtx) Unschedule(kind, id string) error {
	g.check()
	g.log.dues = append(g.log.dues, dueOp{kind: kind, id: id, del: true})
	g.wrote = true
	return nil
}
