package pgstore

import (
	"context"
	"math/rand/v2"
	"sort"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
)

// BenchmarkStoredBytes: the room a transfer takes on disk, tables and
// indexes. It posts b.N transfers between random accounts of 10,000
// (Ledger.PostBatch, 100 per call, each with a 36-byte idempotency key)
// into a fresh schema, and reports the growth of pg_total_relation_size
// over every table of the schema (heap, indexes and TOAST) divided by b.N:
// bytes/transfer after a plain VACUUM of each table (the room a running
// database keeps: index pages split while the keys came in stay as they
// are) and bytes/transfer_full after VACUUM FULL (tables and indexes
// rewritten packed). Before the transfers the schema is VACUUM FULLed, so
// that neither figure counts the accounts. Run with -v, it logs the
// growth of each table, heap and indexes apart.
//
//	go test -run '^$' -bench StoredBytes -benchtime 100000x -count 3 ./ledger/pgstore/
//
// pgstore has the ledger's events off and on (one event per transfer);
// rawsql is the raw-SQL reference's tables (rawsql_bench_test.go), the
// same rows without what the store adds.
func BenchmarkStoredBytes(b *testing.B) {
	b.Run("pgstore", func(b *testing.B) { benchStoredBytesStore(b, false) })
	b.Run("pgstore_events", func(b *testing.B) { benchStoredBytesStore(b, true) })
	b.Run("rawsql", func(b *testing.B) {
		raw := newRawRef(b, 10_000, 1)
		benchStoredBytes(b, raw.schema, func() error {
			_, err := raw.round(context.Background(), rawOnce, 1, b.N, 1, anyPair)
			return err
		})
	})
}

// benchStoredBytesStore measures a store's bytes per transfer, with the
// ledger's own events on or off.
func benchStoredBytesStore(b *testing.B, events bool) {
	schema := newSchema(b)
	l, addrs := benchLedgerOn(b, openStore(b, schema), 10_000, ledger.WithLedgerEvents(events))
	benchStoredBytes(b, schema, func() error {
		var seq atomic.Int64
		_, err := postBatches(context.Background(), l, addrs, b.N, rand.New(rand.NewPCG(1, 2)), &seq, anyPair)
		return err
	})
}

// benchStoredBytes measures the growth of schema while post writes b.N
// transfers.
func benchStoredBytes(b *testing.B, schema string, post func() error) {
	// Each figure is the growth between two sizes taken after the same
	// kind of VACUUM: a plain VACUUM adds each table's free space and
	// visibility maps, which VACUUM FULL drops.
	beforeFull := schemaSizes(b, schema, true)
	beforePlain := schemaSizes(b, schema, false)
	b.ResetTimer()
	require.NoError(b, post())
	b.StopTimer()
	plain := schemaSizes(b, schema, false)
	full := schemaSizes(b, schema, true)
	per := func(before, after map[string]relSize) float64 {
		var grew int64
		for t, s := range after {
			grew += s.total - before[t].total
		}
		return float64(grew) / float64(b.N)
	}
	b.ReportMetric(per(beforePlain, plain), "bytes/transfer")
	b.ReportMetric(per(beforeFull, full), "bytes/transfer_full")
	if b.N < 1000 {
		return // the first run, with b.N 1: pages, not transfers
	}
	tables := make([]string, 0, len(full))
	for t := range full {
		tables = append(tables, t)
	}
	sort.Strings(tables)
	for _, t := range tables {
		p, f, sp, sf := plain[t], full[t], beforePlain[t], beforeFull[t]
		if p.total == sp.total && f.total == sf.total {
			continue
		}
		b.Logf("%-12s per transfer: VACUUM heap %6.1f indexes %6.1f; VACUUM FULL heap %6.1f indexes %6.1f", t,
			float64(p.heap-sp.heap)/float64(b.N), float64(p.indexes-sp.indexes)/float64(b.N),
			float64(f.heap-sf.heap)/float64(b.N), float64(f.indexes-sf.indexes)/float64(b.N))
	}
}

// relSize is one table's size in bytes: its heap (and TOAST), its
// indexes, and both.
type relSize struct{ heap, indexes, total int64 }

// schemaSizes vacuums every table of schema (VACUUM FULL if full) and
// returns their sizes by name.
func schemaSizes(tb testing.TB, schema string, full bool) map[string]relSize {
	tb.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testDSN(tb))
	require.NoError(tb, err)
	defer conn.Close(ctx)
	const list = `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relkind = 'r' ORDER BY c.relname`
	rows, err := conn.Query(ctx, list, schema)
	require.NoError(tb, err)
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(tb, err)
	vacuum := "VACUUM "
	if full {
		vacuum = "VACUUM FULL "
	}
	for _, t := range tables {
		_, err := conn.Exec(ctx, vacuum+pgx.Identifier{schema, t}.Sanitize())
		require.NoError(tb, err)
	}
	rows, err = conn.Query(ctx, `SELECT c.relname, pg_table_size(c.oid), pg_indexes_size(c.oid), pg_total_relation_size(c.oid)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relkind = 'r'`, schema)
	require.NoError(tb, err)
	out := make(map[string]relSize, len(tables))
	var name string
	var s relSize
	_, err = pgx.ForEachRow(rows, []any{&name, &s.heap, &s.indexes, &s.total}, func() error {
		out[name] = s
		return nil
	})
	require.NoError(tb, err)
	return out
}
