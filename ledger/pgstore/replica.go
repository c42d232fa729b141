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
)

// defaultMaxLag is the staleness bound of WithReplica when it is given 0.
const defaultMaxLag = time.Second

// replicaBeginTimeout bounds how long a View waits for the replica to
// begin its transaction (a free connection, connecting, BEGIN) before the
// primary serves it instead.
const replicaBeginTimeout = time.Second

// replicaOption is what WithReplica or WithReplicaConfig configured.
type replicaOption struct {
	dsn    string
	cfg    *pgx.ConnConfig
	maxLag time.Duration
}

// WithReplica serves View (every read of ledger.Ledger.View, its Reader
// and Events, and the Ledger's read methods) from a PostgreSQL streaming
// replica of the store's database, named by dsn, as long as the replica
// is proven to be at most maxLag behind the primary (0 means 1 s); a
// View is served by the primary otherwise, and always when its context
// comes from ledger.ReadPrimary. Updates, the reads inside them and
// everything else the store does go to the primary. Open fails on a dsn
// it cannot parse, but not on a replica it cannot reach: reads go to the
// primary until the replica answers. See the package documentation,
// Reads from a replica.
func WithReplica(dsn string, maxLag time.Duration) Option {
	return func(o *options) { o.replica = &replicaOption{dsn: dsn, maxLag: maxLag} }
}

// WithReplicaConfig is WithReplica with a parsed connection
// configuration, which the Store copies. To read from the replica a
// pgxpool.Pool points at, pass pool.Config().ConnConfig; as with New,
// the store dials connections of its own.
func WithReplicaConfig(cfg *pgx.ConnConfig, maxLag time.Duration) Option {
	return func(o *options) { o.replica = &replicaOption{cfg: cfg, maxLag: maxLag} }
}

// replica serves Views from a streaming replica while a probe proves it
// fresh.
//
// The probe runs every maxLag/4 (10 ms to 1 s). Each run notes the time T
// and then reads the primary's flushed WAL position L (every commit that
// returned before T is at or before L), keeps (T, L) as a target, and
// reads the position the replica has replayed. Once the replica has
// replayed L, it holds every commit that returned before T: fresh is T
// then. A View goes to the replica when fresh is at most maxLag old.
type replica struct {
	pool    *connPool
	maxLag  time.Duration
	every   time.Duration
	timeout time.Duration
	base    time.Time // the origin of the times below (monotonic)

	fresh  atomic.Int64  // nanoseconds since base, plus one, of the last proven T; 0: none
	probes atomic.Uint64 // probes run to their end, for tests

	wg       sync.WaitGroup // the probe's goroutine, waited for by Close
	verified bool           // the probe's: the replica was checked to be a copy of the primary
	mu       sync.Mutex     // guards down
	down     bool           // the last news of the replica was bad (for logging changes only)
}

// lsnAt is one target of the probe: the primary's flushed WAL position
// read after the time at.
type lsnAt struct {
	at  int64
	lsn int64
}

// errNotStandby: the server configured as the replica is not in recovery
// (a primary, or a promoted standby whose writes are its own): it is
// never read.
var errNotStandby = errors.New("pgstore: replica: the server is not a standby (pg_is_in_recovery is false)")

// newReplica makes the replica of the store from its option; cfg is the
// primary's connection configuration, whose runtime parameters the
// replica's connections share.
func newReplica(ro *replicaOption, primary *pgx.ConnConfig, conns int) (*replica, error) {
	var cfg *pgx.ConnConfig
	switch {
	case ro.cfg != nil:
		cfg = ro.cfg.Copy()
	case ro.dsn != "":
		c, err := pgx.ParseConfig(ro.dsn)
		if err != nil {
			return nil, fmt.Errorf("pgstore: parse the replica's connection string: %w", err)
		}
		cfg = c
	default:
		return nil, errors.New("pgstore: WithReplica needs a connection string, a configuration or a pool")
	}
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	for _, k := range []string{"search_path", "plan_cache_mode"} {
		if v, ok := primary.RuntimeParams[k]; ok {
			if _, set := cfg.RuntimeParams[k]; !set || k == "search_path" {
				cfg.RuntimeParams[k] = v
			}
		}
	}
	maxLag := ro.maxLag
	if maxLag <= 0 {
		maxLag = defaultMaxLag
	}
	every := min(max(maxLag/4, 10*time.Millisecond), time.Second)
	return &replica{
		pool:    newConnPool(cfg, conns),
		maxLag:  maxLag,
		every:   every,
		timeout: max(2*every, 2*time.Second),
		base:    time.Now(),
	}, nil
}

// now is the time since base, plus one so that it is never 0.
func (rp *replica) now() int64 { return int64(time.Since(rp.base)) + 1 }

// usable reports whether a View beginning now may go to the replica.
func (rp *replica) usable() bool {
	f := rp.fresh.Load()
	return f != 0 && time.Duration(rp.now()-f) <= rp.maxLag
}

// advance records that the replica holds every commit that returned
// before at.
func (rp *replica) advance(s *Store, at int64) {
	for {
		f := rp.fresh.Load()
		if at <= f || rp.fresh.CompareAndSwap(f, at) {
			break
		}
	}
	rp.mu.Lock()
	was := rp.down
	rp.down = false
	rp.mu.Unlock()
	if was {
		s.obs.log.LogAttrs(context.Background(), slog.LevelInfo, "pgstore: replica: caught up; reads go to it again")
	}
}

// setDown makes reads go to the primary until the probe proves the
// replica fresh again, and logs the first bad news after good.
func (rp *replica) setDown(s *Store, err error) {
	rp.fresh.Store(0)
	rp.mu.Lock()
	was := rp.down
	rp.down = true
	rp.mu.Unlock()
	s.stats.hide(err)
	if !was {
		s.obs.logHidden(slog.LevelWarn, "pgstore: replica: unusable; reads go to the primary", err)
	}
}

// start runs the probe until the store closes.
func (rp *replica) start(s *Store) {
	rp.wg.Add(1)
	go func() {
		defer rp.wg.Done()
		t := time.NewTicker(rp.every)
		defer t.Stop()
		var targets []lsnAt
		for {
			var stop bool
			targets, stop = rp.probe(s, targets)
			rp.probes.Add(1)
			if stop {
				return
			}
			select {
			case <-t.C:
			case <-s.quit:
				return
			}
		}
	}()
}

// maxTargets bounds the targets the probe keeps (they are also dropped
// once older than maxLag, when reaching them would prove too little).
const maxTargets = 64

// probe runs once (see replica); stop is true when the replica must never
// be read (it is not a copy of the primary).
func (rp *replica) probe(s *Store, targets []lsnAt) (_ []lsnAt, stop bool) {
	ctx, cancel := context.WithTimeout(s.ctx, rp.timeout)
	defer cancel()
	at := rp.now()
	if lsn, err := rp.primaryLSN(ctx, s); err == nil {
		targets = append(targets, lsnAt{at: at, lsn: lsn})
	} else if ctx.Err() == nil {
		s.obs.logHidden(slog.LevelDebug, "pgstore: replica: probe the primary", err)
	}
	now := rp.now()
	cut := 0
	for cut < len(targets) && (time.Duration(now-targets[cut].at) > rp.maxLag || len(targets)-cut > maxTargets) {
		cut++
	}
	targets = targets[cut:]
	if !rp.verified {
		same, err := rp.sameDatabase(ctx, s)
		switch {
		case err != nil:
			if ctx.Err() == nil {
				rp.setDown(s, err)
			}
			return targets, false
		case !same:
			rp.setDown(s, errors.New("pgstore: replica: not a copy of the primary"))
			s.obs.log.LogAttrs(context.Background(), slog.LevelError,
				"pgstore: replica: the server is not a copy of the primary's database (its system identifier or database name differs); it is never read")
			return targets, true
		}
		rp.verified = true
	}
	replay, err := rp.replayLSN(ctx)
	if err != nil {
		if ctx.Err() == nil || errors.Is(err, errNotStandby) {
			rp.setDown(s, err)
		}
		return targets, false
	}
	n := 0
	for n < len(targets) && targets[n].lsn <= replay {
		n++
	}
	if n > 0 {
		rp.advance(s, targets[n-1].at)
		targets = targets[n:]
	}
	return targets, false
}

// primaryLSN returns the primary's flushed WAL position: every commit that
// returned is at or before it.
func (rp *replica) primaryLSN(ctx context.Context, s *Store) (int64, error) {
	conn, err := s.reads.getLive(ctx)
	if err != nil {
		return 0, err
	}
	var lsn int64
	err = conn.QueryRow(ctx, `SELECT (pg_current_wal_flush_lsn() - '0/0'::pg_lsn)::int8`).Scan(&lsn)
	s.reads.put(conn, err)
	return lsn, err
}

// replayLSN returns the WAL position the replica has replayed, or
// errNotStandby.
func (rp *replica) replayLSN(ctx context.Context) (int64, error) {
	conn, err := rp.pool.getLive(ctx)
	if err != nil {
		return 0, fmt.Errorf("pgstore: replica: %w", err)
	}
	var (
		standby bool
		lsn     int64
	)
	err = conn.QueryRow(ctx, `SELECT pg_is_in_recovery(), COALESCE((pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::int8, -1)`).Scan(&standby, &lsn)
	rp.pool.put(conn, err)
	if err != nil {
		return 0, fmt.Errorf("pgstore: replica: %w", err)
	}
	if !standby {
		return 0, errNotStandby
	}
	return lsn, nil
}

// identitySQL names the cluster (its system identifier, which a streaming
// replica shares with its primary) and the database. A role that may not
// read pg_control_system() gets an empty identifier, and then only the
// database names are compared.
const identitySQL = `SELECT current_database(),
	CASE WHEN has_function_privilege('pg_control_system()', 'EXECUTE')
	THEN (SELECT system_identifier::text FROM pg_control_system()) ELSE '' END`

// sameDatabase reports whether the replica is a copy of the primary's
// database.
func (rp *replica) sameDatabase(ctx context.Context, s *Store) (bool, error) {
	var pdb, psys, rdb, rsys string
	conn, err := s.reads.getLive(ctx)
	if err != nil {
		return false, err
	}
	err = conn.QueryRow(ctx, identitySQL).Scan(&pdb, &psys)
	s.reads.put(conn, err)
	if err != nil {
		return false, err
	}
	rconn, err := rp.pool.getLive(ctx)
	if err != nil {
		return false, fmt.Errorf("pgstore: replica: %w", err)
	}
	err = rconn.QueryRow(ctx, identitySQL).Scan(&rdb, &rsys)
	rp.pool.put(rconn, err)
	if err != nil {
		return false, fmt.Errorf("pgstore: replica: %w", err)
	}
	if pdb != rdb {
		return false, nil
	}
	return psys == "" || rsys == "" || psys == rsys, nil
}

// lost reports whether err, returned by a read on conn, means the
// connection (and perhaps the server) is gone rather than the statement
// refused: pgx closes a connection whose network failed.
func lost(conn *pgx.Conn, err error) bool {
	return err != nil && conn.IsClosed()
}
