package pgstore

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
)

// The raw-SQL reference: what PostgreSQL itself does with the store's
// transfers when they are written by hand, batched, with none of the
// ledger's guarantees beyond the rows. pgstore's figures are ratios to it,
// measured in the same run, because absolute figures on these shared
// machines move by 3× from day to day.
//
// Per transfer it does what the store does at the least: it inserts a
// journal row (an id, an idempotency key under a unique index, a kind, a
// time, a 32-byte hash) and the transfer's posting row (source,
// destination, amount and both running balances, as the store's postings
// carry them), and moves the two balances. Its tables have the store's
// shape (migrations/0001_init.sql) and the indexes a ledger needs (the
// key's, the journal's time, postings by source and by destination),
// without triggers, without the head row (no hash chain: its hashes only
// take the room the store's do) and without an overdraft rule beyond "the
// source has the amount". Each SQL transaction carries rawBatch
// transfers in plain statements, pipelined, and locks its balance rows
// in address order (so that concurrent batches cannot deadlock) after its
// journal rows are in, which lock nothing another batch wants.
//
// Two plain forms, and neither is faster everywhere, so the benchmarks
// measure both and take the faster as the reference:
//
//   - rawEach, one round trip: each posting moves its two balances with
//     UPDATE ... RETURNING in the statement that inserts it. Fewer
//     statements, but an account in many transfers of a batch is updated
//     once for each (a hot account a hundred times per transaction);
//   - rawOnce, two round trips: the balances are read as they are locked,
//     the running balances computed by the caller, and each balance row
//     updated once per batch.

// rawBatch is the number of transfers per SQL transaction of the reference.
const rawBatch = 100

// benchAmount is every benchmark transfer's amount: 1.00 EUR, 100 minor units.
var benchAmount = decimal.NewFromInt(1)

// benchKey is the idempotency key of the id-th transfer of a run: 36
// bytes, the length of a UUID in text.
func benchKey(id int64) string {
	return fmt.Sprintf("00000000-0000-4000-8000-%012d", id)
}

// pickFunc picks a transfer's source and destination among n accounts.
type pickFunc func(r *rand.Rand, n int) (from, to int)

// anyPair picks two distinct accounts at random.
func anyPair(r *rand.Rand, n int) (int, int) {
	i := r.IntN(n)
	return i, (i + 1 + r.IntN(n-1)) % n
}

// hotPair pays from account 0 to any other.
func hotPair(r *rand.Rand, n int) (int, int) { return 0, 1 + r.IntN(n-1) }

// rawRef is the raw-SQL reference over its own tables in a fresh schema,
// with the accounts member:0 .. member:n-1 holding 1,000,000.00 EUR each,
// as benchLedger's do.
type rawRef struct {
	pool   *pgxpool.Pool
	schema string
	addrs  []string
	ids    atomic.Int64
	// The statements of a batch: lock and journal for both forms,
	// moveInsert for rawEach, insert and update for rawOnce.
	lock, journal, moveInsert, insert, update string
}

// rawForm is one way of writing a batch of transfers in plain SQL.
type rawForm int

const (
	rawEach rawForm = iota // one round trip, balances moved per posting
	rawOnce                // two round trips, each balance updated once
)

// newRawRef creates the reference's tables with n accounts, used through
// at most conns connections; the schema is dropped when tb ends.
func newRawRef(tb testing.TB, n, conns int) *rawRef {
	tb.Helper()
	ctx := context.Background()
	schema := newSchema(tb)
	cfg, err := pgxpool.ParseConfig(testDSN(tb))
	require.NoError(tb, err)
	cfg.MaxConns = int32(conns)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(tb, err)
	tb.Cleanup(pool.Close)
	q := pgx.Identifier{schema}.Sanitize()
	for _, stmt := range []string{
		`CREATE SCHEMA ` + q,
		`CREATE TABLE ` + q + `.balances (
			address TEXT COLLATE "C" NOT NULL,
			asset   TEXT COLLATE "C" NOT NULL,
			posted  BIGINT NOT NULL,
			PRIMARY KEY (address, asset)
		) WITH (fillfactor = 50)`,
		`CREATE TABLE ` + q + `.transactions (
			id   BIGINT   PRIMARY KEY,
			key  BYTEA    NOT NULL,
			kind SMALLINT NOT NULL,
			time BIGINT   NOT NULL,
			hash BYTEA    NOT NULL
		)`,
		`CREATE UNIQUE INDEX ON ` + q + `.transactions (key)`,
		`CREATE INDEX ON ` + q + `.transactions (time, id)`,
		`CREATE TABLE ` + q + `.postings (
			tx_id     BIGINT NOT NULL,
			idx       INT    NOT NULL,
			src       TEXT COLLATE "C" NOT NULL,
			dst       TEXT COLLATE "C" NOT NULL,
			asset     TEXT COLLATE "C" NOT NULL,
			amount    BIGINT NOT NULL CHECK (amount > 0),
			src_after BIGINT NOT NULL,
			dst_after BIGINT NOT NULL,
			PRIMARY KEY (tx_id, idx),
			CHECK (src <> dst)
		)`,
		`CREATE INDEX ON ` + q + `.postings (src, asset, tx_id, idx)`,
		`CREATE INDEX ON ` + q + `.postings (dst, asset, tx_id, idx)`,
		fmt.Sprintf(`INSERT INTO %s.balances SELECT 'member:' || g, 'EUR', 100000000 FROM generate_series(0, %d) g`, q, n-1),
		`VACUUM ANALYZE ` + q + `.balances`,
	} {
		_, err := pool.Exec(ctx, stmt)
		require.NoError(tb, err, stmt)
	}
	addrs := make([]string, n)
	for i := range addrs {
		addrs[i] = fmt.Sprintf("member:%d", i)
	}
	return &rawRef{
		pool: pool, schema: schema, addrs: addrs,
		lock: `SELECT address, posted FROM ` + q + `.balances WHERE asset = 'EUR' AND address = ANY($1::text[])
			ORDER BY address FOR UPDATE`,
		journal: `INSERT INTO ` + q + `.transactions (id, key, kind, time, hash) VALUES ($1, $2, 1, $3, $4)`,
		// Both updates run once whatever the insert reads; it takes the
		// running balances from them. A source short of the amount
		// updates no row, and the insert then inserts none.
		moveInsert: `WITH s AS (UPDATE ` + q + `.balances SET posted = posted - $4
				WHERE address = $2 AND asset = 'EUR' AND posted >= $4 RETURNING posted),
			d AS (UPDATE ` + q + `.balances SET posted = posted + $4
				WHERE address = $3 AND asset = 'EUR' RETURNING posted)
			INSERT INTO ` + q + `.postings (tx_id, idx, src, dst, asset, amount, src_after, dst_after)
			SELECT $1, 0, $2, $3, 'EUR', $4, s.posted, d.posted FROM s, d`,
		insert: `INSERT INTO ` + q + `.postings (tx_id, idx, src, dst, asset, amount, src_after, dst_after)
			VALUES ($1, 0, $2, $3, 'EUR', $4, $5, $6)`,
		update: `UPDATE ` + q + `.balances SET posted = $2 WHERE address = $1 AND asset = 'EUR'`,
	}
}

// post commits the transfers pairs (indexes of accounts) in one SQL
// transaction written in form f.
func (r *rawRef) post(ctx context.Context, f rawForm, pairs [][2]int) error {
	conn, err := r.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	touched := make([]string, 0, 2*len(pairs))
	ids := make([]int64, len(pairs))
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	now := time.Now().UnixNano()
	for k, p := range pairs {
		ids[k] = r.ids.Add(1)
		key := []byte(benchKey(ids[k]))
		h := sha256.Sum256(key)
		b.Queue(r.journal, ids[k], key, now, h[:])
		touched = append(touched, r.addrs[p[0]], r.addrs[p[1]])
	}
	b.Queue(r.lock, touched)
	if f == rawEach {
		for k, p := range pairs {
			b.Queue(r.moveInsert, ids[k], r.addrs[p[0]], r.addrs[p[1]], int64(100))
		}
		b.Queue("COMMIT")
		br := conn.SendBatch(ctx, b)
		for i := 0; i < b.Len(); i++ {
			tag, err := br.Exec()
			if err == nil && i > len(pairs)+1 && i < b.Len()-1 && tag.RowsAffected() != 1 {
				err = fmt.Errorf("%d postings inserted, not 1 (source short of funds?)", tag.RowsAffected())
			}
			if err != nil {
				_ = br.Close()
				return fmt.Errorf("raw batch: statement %d: %w", i, err)
			}
		}
		return br.Close()
	}
	// rawOnce: the first round trip ends with the lock, which reads.
	bal := make(map[string]int64, len(touched))
	br := conn.SendBatch(ctx, b)
	for i := 0; i < b.Len()-1; i++ {
		if _, err := br.Exec(); err != nil {
			_ = br.Close()
			return fmt.Errorf("raw batch: statement %d: %w", i, err)
		}
	}
	rows, err := br.Query()
	if err == nil {
		var addr string
		var posted int64
		_, err = pgx.ForEachRow(rows, []any{&addr, &posted}, func() error {
			bal[addr] = posted
			return nil
		})
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("raw batch: lock: %w", err)
	}
	b = &pgx.Batch{}
	for k, p := range pairs {
		src, dst := r.addrs[p[0]], r.addrs[p[1]]
		if bal[src] < 100 {
			return fmt.Errorf("raw batch: %s is short of funds", src)
		}
		bal[src] -= 100
		bal[dst] += 100
		b.Queue(r.insert, ids[k], src, dst, int64(100), bal[src], bal[dst])
	}
	sort.Strings(touched)
	for k, a := range touched {
		if k == 0 || a != touched[k-1] {
			b.Queue(r.update, a, bal[a])
		}
	}
	b.Queue("COMMIT")
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("raw batch: %w", err)
	}
	return nil
}

// round has conns goroutines commit n transfers picked by pick in
// batches of rawBatch written in form f, and returns how long they took.
func (r *rawRef) round(ctx context.Context, f rawForm, conns, n int, seed uint64, pick pickFunc) (time.Duration, error) {
	var next atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for c := 0; c < conns; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(c)))
			pairs := make([][2]int, 0, rawBatch)
			for {
				lo := int(next.Add(rawBatch)) - rawBatch
				if lo >= n {
					return
				}
				pairs = pairs[:0]
				for k := lo; k < min(lo+rawBatch, n); k++ {
					i, j := pick(rng, len(r.addrs))
					pairs = append(pairs, [2]int{i, j})
				}
				if err := r.post(ctx, f, pairs); err != nil {
					failed.Store(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err, _ := failed.Load().(error); err != nil {
		return 0, err
	}
	return elapsed, nil
}

// storeRound has callers goroutines per ledger of ls post n transfers in
// all (drawn from one count, so that every ledger works until the last
// transfer), each one Ledger.Transfer with a key of its own between
// accounts of addrs[k] picked by pick, and returns how long they took.
func storeRound(ctx context.Context, ls []*ledger.Ledger, addrs [][]string, callers, n int, seed uint64, seq *atomic.Int64, pick pickFunc) (time.Duration, error) {
	var next atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for k, l := range ls {
		as := addrs[k]
		for c := 0; c < callers; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(seed, uint64(k*callers+c)))
				for next.Add(1) <= int64(n) {
					i, j := pick(rng, len(as))
					if _, err := l.Transfer(ctx, benchKey(seq.Add(1)), as[i], as[j], "EUR", benchAmount); err != nil {
						failed.Store(err)
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err, _ := failed.Load().(error); err != nil {
		return 0, err
	}
	return elapsed, nil
}

// postBatches posts n transfers on l from one caller, in Ledger.PostBatch
// calls of rawBatch transfers, and returns how long they took.
func postBatches(ctx context.Context, l *ledger.Ledger, addrs []string, n int, rng *rand.Rand, seq *atomic.Int64, pick pickFunc) (time.Duration, error) {
	reqs := make([]ledger.TransferRequest, 0, rawBatch)
	start := time.Now()
	for lo := 0; lo < n; lo += rawBatch {
		reqs = reqs[:0]
		for k := lo; k < min(lo+rawBatch, n); k++ {
			i, j := pick(rng, len(addrs))
			reqs = append(reqs, ledger.TransferRequest{
				Key:      benchKey(seq.Add(1)),
				Postings: []ledger.Posting{{From: addrs[i], To: addrs[j], Asset: "EUR", Amount: benchAmount}},
			})
		}
		res, err := l.PostBatch(ctx, reqs)
		if err != nil {
			return 0, err
		}
		for _, x := range res {
			if x.Err != nil {
				return 0, x.Err
			}
		}
	}
	return time.Since(start), nil
}

// BenchmarkVsRawSQL: pgstore through the public ledger API beside the
// raw-SQL reference, in one run, on the three workloads of the
// performance targets, over 10,000 accounts:
//
//   - callers16_10k: 16 concurrent callers of Ledger.Transfer between
//     random accounts, beside 16 connections of raw batches;
//   - callers16_hot: the same, every transfer paid from one account;
//   - postbatch100: one caller of Ledger.PostBatch with 100 transfers per
//     call, beside one connection of raw batches.
//
// The store and the reference's two forms take turns in rounds of 3,200
// transfers each (the one going first rotates), so a machine that slows
// down slows all alike. It reports the store's transfers/s, each form's,
// raw_transfers/s (the faster form's) and pct_of_raw, the store's rate as
// a percentage of the faster form's:
//
//	go test -run '^$' -bench VsRawSQL -benchtime 32000x -count 3 ./ledger/pgstore/
func BenchmarkVsRawSQL(b *testing.B) {
	b.Run("callers16_10k", func(b *testing.B) { benchVsRaw(b, 16, anyPair) })
	b.Run("callers16_hot", func(b *testing.B) { benchVsRaw(b, 16, hotPair) })
	b.Run("postbatch100", func(b *testing.B) { benchVsRaw(b, 0, anyPair) })
}

// benchVsRaw runs b.N transfers on a store and b.N in each form of the
// reference; callers 0 means one caller of Ledger.PostBatch.
func benchVsRaw(b *testing.B, callers int, pick pickFunc) {
	const accounts, round = 10_000, 3200
	ctx := context.Background()
	l, addrs := benchLedger(b, accounts)
	raw := newRawRef(b, accounts, max(callers, 1))
	rng := rand.New(rand.NewPCG(1, 2))
	var seq atomic.Int64
	var spent [3]time.Duration // the store, rawEach, rawOnce
	b.ResetTimer()
	for done, turn := 0, 0; done < b.N; done, turn = done+round, turn+1 {
		n := min(round, b.N-done)
		for k := range 3 {
			side := (k + turn) % 3
			var d time.Duration
			var err error
			switch {
			case side > 0:
				d, err = raw.round(ctx, rawForm(side-1), max(callers, 1), n, uint64(turn), pick)
			case callers == 0:
				d, err = postBatches(ctx, l, addrs, n, rng, &seq, pick)
			default:
				d, err = storeRound(ctx, []*ledger.Ledger{l}, [][]string{addrs}, callers, n, uint64(turn), &seq, pick)
			}
			if err != nil {
				b.Fatal(err)
			}
			spent[side] += d
		}
	}
	b.StopTimer()
	rate := func(d time.Duration) float64 { return float64(b.N) / d.Seconds() }
	best := max(rate(spent[1]), rate(spent[2]))
	b.ReportMetric(rate(spent[0]), "transfers/s")
	b.ReportMetric(rate(spent[1]), "raw_each_transfers/s")
	b.ReportMetric(rate(spent[2]), "raw_once_transfers/s")
	b.ReportMetric(best, "raw_transfers/s")
	b.ReportMetric(100*rate(spent[0])/best, "pct_of_raw")
}
