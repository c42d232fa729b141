package pgstore

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
)

// newLedger opens a ledger over a store in a fresh schema with EUR, World
// (unbounded) and the given accounts, each funded with funds EUR (if > 0).
func newLedger(t *testing.T, s *Store, funds int64, addrs ...string) *ledger.Ledger {
	t.Helper()
	ctx := context.Background()
	l := ledger.New(s, ledger.WithClock(ledgertest.NewClock(epoch)))
	require.NoError(t, l.DefineAsset(ctx, ledger.EUR))
	_, err := l.OpenAccount(ctx, ledger.AccountSpec{Address: ledger.World, Overdraft: ledger.Overdraft{Unbounded: true}})
	require.NoError(t, err)
	for _, a := range addrs {
		_, err := l.OpenAccount(ctx, ledger.AccountSpec{Address: a})
		require.NoError(t, err)
		if funds > 0 {
			_, err = l.Transfer(ctx, "fund-"+a, ledger.World, a, "EUR", decimal.NewFromInt(funds))
			require.NoError(t, err)
		}
	}
	return l
}

// requireSQLState checks that err is a PostgreSQL error with the code.
func requireSQLState(t *testing.T, err error, code string, msgAndArgs ...any) {
	t.Helper()
	var pe *pgconn.PgError
	require.True(t, errors.As(err, &pe), append([]any{"want SQLSTATE %s, got %v: "}, code, err, msgAndArgs)...)
	require.Equal(t, code, pe.Code, msgAndArgs...)
}

// journalCounts reads how many rows the journal and holds tables have.
func journalCounts(t *testing.T, conn *pgx.Conn) [3]int64 {
	t.Helper()
	var c [3]int64
	require.NoError(t, conn.QueryRow(context.Background(),
		`SELECT (SELECT count(*) FROM transactions), (SELECT count(*) FROM postings), (SELECT count(*) FROM holds)`).Scan(&c[0], &c[1], &c[2]))
	return c
}

// TestDatabaseRefusesBadRows writes what must never be there straight
// into the tables, bypassing the ledger, and sees the database refuse
// each, with nothing changed.
func TestDatabaseRefusesBadRows(t *testing.T) {
	schema := newSchema(t)
	s := openStore(t, schema)
	ctx := context.Background()
	l := newLedger(t, s, 100, "member:a", "member:b")
	tr, err := l.Transfer(ctx, "pay-1", "member:a", "member:b", "EUR", decimal.NewFromInt(5))
	require.NoError(t, err)
	_, err = l.Reverse(ctx, ledger.ReversalRequest{Key: "undo-1", ID: tr.ID})
	require.NoError(t, err)
	_, err = l.Hold(ctx, ledger.HoldRequest{Key: "hold-1", Account: "member:a", Asset: "EUR", Amount: decimal.NewFromInt(1), ExpiresAt: epoch.Add(3600e9)})
	require.NoError(t, err)
	conn := rawConn(t, schema)
	before := journalCounts(t, conn)
	next := before[0] + 1
	hash := make([]byte, 32)

	tests := []struct {
		name string
		sql  string
		args []any
		code string
	}{
		{"zero posting", `INSERT INTO postings VALUES ($1, 0, 'member:a', 'member:b', 'EUR', 0, 0, 0)`, []any{next}, "23514"},
		{"negative posting", `INSERT INTO postings VALUES ($1, 0, 'member:a', 'member:b', 'EUR', -5, 0, 0)`, []any{next}, "23514"},
		{"posting to itself", `INSERT INTO postings VALUES ($1, 0, 'member:a', 'member:a', 'EUR', 5, 0, 0)`, []any{next}, "23514"},
		{"duplicate transaction key", `INSERT INTO transactions (id, key, kind, time, hash) VALUES ($1, 'pay-1', 1, 0, $2)`, []any{next, hash}, "23505"},
		{"second reversal", `INSERT INTO transactions (id, kind, time, reverses, hash) VALUES ($1, 4, 0, $2, $3)`, []any{next, int64(tr.ID), hash}, "23505"},
		{"transaction without postings", `INSERT INTO transactions (id, kind, time, hash) VALUES ($1, 1, 0, $2)`, []any{next, hash}, "23000"},
		{"duplicate hold key", `INSERT INTO holds VALUES (99, 'hold-1', 'member:a', 'EUR', 1, 0, 1, 0, 1, 0, NULL)`, nil, "23505"},
		{"capture beyond hold", `UPDATE holds SET captured = units + 1`, nil, "23514"},
		{"negative held", `UPDATE balances SET held = -1`, nil, "23514"},
		{"edit a transaction", `UPDATE transactions SET time = time + 1`, nil, "23000"},
		{"edit a posting", `UPDATE postings SET amount = amount + 1`, nil, "23000"},
		{"delete a transaction", `DELETE FROM transactions WHERE id = $1`, []any{int64(tr.ID)}, "23000"},
		{"delete a posting", `DELETE FROM postings`, nil, "23000"},
		{"truncate the journal", `TRUNCATE postings`, nil, "23000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := conn.Exec(ctx, tc.sql, tc.args...)
			requireSQLState(t, err, tc.code, tc.name)
			require.Equal(t, before, journalCounts(t, conn), "nothing changed")
		})
	}
	_, err = l.Verify(ctx)
	require.NoError(t, err)
}

// TestMigrateTwiceAndConcurrently opens one schema from several stores at
// once and migrates again: every migration is recorded exactly once.
func TestMigrateTwiceAndConcurrently(t *testing.T) {
	schema := newSchema(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	stores := make([]*Store, 4)
	errs := make([]error, len(stores))
	for i := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stores[i], errs[i] = Open(ctx, testDSN(t), WithSchema(schema))
		}()
	}
	wg.Wait()
	for i, s := range stores {
		require.NoError(t, errs[i])
		t.Cleanup(func() { _ = s.Close() })
	}
	require.NoError(t, stores[0].Migrate(ctx))
	ms, err := migrations()
	require.NoError(t, err)
	var n, distinct int
	require.NoError(t, rawConn(t, schema).QueryRow(ctx, `SELECT count(*), count(DISTINCT version) FROM schema_migrations`).Scan(&n, &distinct))
	require.Equal(t, len(ms), n)
	require.Equal(t, len(ms), distinct)
	// The stores work on the one schema.
	l := newLedger(t, stores[1], 10, "member:a")
	_, err = l.Transfer(ctx, "", "member:a", ledger.World, "EUR", decimal.NewFromInt(10))
	require.NoError(t, err)
	_, err = ledger.New(stores[2]).Verify(ctx)
	require.NoError(t, err)
}
