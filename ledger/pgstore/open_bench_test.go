package pgstore

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
)

// envBenchLarge switches on the benchmarks over journals of millions of
// transactions, which take minutes to build the first time.
const envBenchLarge = "REWARDKIT_BENCH_LARGE"

// benchJournalStart is the time of the first transaction of a bulk-built
// journal; transaction i is i microseconds later.
var benchJournalStart = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// benchJournal returns the schema of a journal of n transfers of 1.00 EUR
// from World to n/10 member accounts (at least 10), each with its own
// idempotency key, built with bulk SQL the first time and reused after
// (drop the rkbench_open_* schemas to build them again). The rows are
// what the store writes, balances and head included; the hash chain is not
// computed (sha256 of each ID stands in), so Verify fails on it, and
// nothing that Open or a transfer reads depends on it.
func benchJournal(b *testing.B, n int) string {
	b.Helper()
	schema := "rkbench_open_" + strconv.Itoa(n)
	conn := rawConn(b, schema)
	ctx := context.Background()
	var ok bool
	err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM ledger_head WHERE id = 1 AND version > 0 AND tx_id >= $1)`, n).Scan(&ok)
	if err == nil && ok {
		return schema // built by an earlier run (which may have appended)
	}
	start := time.Now()
	_, err = conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
	require.NoError(b, err)
	s, err := Open(ctx, testDSN(b), WithSchema(schema)) // applies the migrations
	require.NoError(b, err)
	require.NoError(b, s.Close())

	members := max(n/10, 10)
	t0 := benchJournalStart.UnixNano()
	tx, err := conn.Begin(ctx)
	require.NoError(b, err)
	defer func() { _ = tx.Rollback(ctx) }()
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO assets (code, precision) VALUES ('EUR', 2)`, nil},
		{`INSERT INTO accounts (address, unbounded, created_at) VALUES ('world', true, $1)`, []any{t0}},
		{`INSERT INTO accounts (address, unbounded, created_at)
			SELECT 'member:' || m, false, $2 FROM generate_series(0, $1::bigint - 1) m`, []any{members, t0}},
		// Transfer i pays member (i-1) % members; its running balances.
		{`INSERT INTO postings (tx_id, idx, src, dst, asset, amount, src_after, dst_after)
			SELECT i, 0, 'world', 'member:' || ((i - 1) % $2), 'EUR', 100, -100 * i, 100 * ((i - 1) / $2 + 1)
			FROM generate_series(1, $1::bigint) i`, []any{n, members}},
		{`INSERT INTO transactions (id, key, kind, time, hash)
			SELECT i, convert_to('bench-' || i, 'UTF8'), 1, $2 + i * 1000, sha256(int8send(i))
			FROM generate_series(1, $1::bigint) i`, []any{n, t0}},
		{`INSERT INTO balances (address, asset, posted, held) VALUES ('world', 'EUR', -100 * $1::bigint, 0)`, []any{n}},
		{`INSERT INTO balances (address, asset, posted, held)
			SELECT 'member:' || m, 'EUR', 100 * ($1::bigint / $2 + CASE WHEN m < $1::bigint % $2 THEN 1 ELSE 0 END), 0
			FROM generate_series(0, $2::bigint - 1) m`, []any{n, members}},
		{`UPDATE ledger_head SET tx_id = $1, hash = sha256(int8send($1::bigint)), time = $2 + $1::bigint * 1000, version = 1 WHERE id = 1`, []any{n, t0}},
	} {
		_, err := tx.Exec(ctx, q.sql, q.args...)
		require.NoError(b, err, q.sql)
	}
	require.NoError(b, tx.Commit(ctx))
	_, err = conn.Exec(ctx, "ANALYZE")
	require.NoError(b, err)
	b.Logf("built a journal of %d transactions over %d accounts in schema %s in %v", n, members, schema, time.Since(start).Round(time.Second))
	return schema
}

// BenchmarkOpen opens a store over a journal of 0, 10^6 and 10^7
// transactions (the large ones only with REWARDKIT_BENCH_LARGE set; they
// are built once, which takes minutes, and reused) and posts one keyed
// transfer, the first thing a service does. It reports how long Open took
// (open-ms), how long until that transfer committed (first-ms, Open
// included) and how many rows the two read from the database (rows): all
// three the same whatever the journal's length. (Before issue 10 #7 the
// first group read every idempotency key of the journal.) Each iteration
// closes its store; the transfers it posts stay in the journal.
func BenchmarkOpen(b *testing.B) {
	for _, n := range []int{0, 1_000_000, 10_000_000} {
		b.Run(fmt.Sprintf("tx=%d", n), func(b *testing.B) {
			if n > 0 && os.Getenv(envBenchLarge) == "" {
				b.Skipf("set %s=1 to open journals of millions of transactions (built once, in minutes)", envBenchLarge)
			}
			schema := benchJournal(b, n)
			cfg, err := pgx.ParseConfig(testDSN(b))
			require.NoError(b, err)
			rc := &rowCounter{}
			cfg.Tracer = rc
			ctx := context.Background()
			clock := ledgertest.NewClock(time.Now().UTC())
			var open, first time.Duration
			run := time.Now().UnixNano() // keys of this run
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				start := time.Now()
				s, err := OpenConfig(ctx, cfg, WithSchema(schema))
				require.NoError(b, err)
				open += time.Since(start)
				l := ledger.New(s, ledger.WithClock(clock))
				_, err = l.Transfer(ctx, fmt.Sprintf("open-%d-%d", run, i), ledger.World, "member:1", "EUR", decimal.NewFromInt(1))
				require.NoError(b, err)
				first += time.Since(start)
				require.NoError(b, s.Close())
			}
			b.StopTimer()
			b.ReportMetric(float64(open.Microseconds())/1e3/float64(b.N), "open-ms")
			b.ReportMetric(float64(first.Microseconds())/1e3/float64(b.N), "first-ms")
			b.ReportMetric(float64(rc.rows.Load())/float64(b.N), "rows")
		})
	}
}
