package pgstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/driver"
	"github.com/rewardkit/rewardkit/ledger/storetest"
)

// epoch is where every test ledger's clock starts.
var epoch = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// TestMain runs the child processes of TestSeveralProcesses when asked.
func TestMain(m *testing.M) {
	if schema := os.Getenv(childEnv); schema != "" {
		os.Exit(childMain(schema, os.Getenv(childEnv+"_NAME")))
	}
	os.Exit(m.Run())
}

// testDSN returns the test database's connection string, or skips t. In
// CI (CI set) a missing connection string fails instead, so the PostgreSQL
// tests can never be skipped there unnoticed.
func testDSN(tb testing.TB) string {
	tb.Helper()
	dsn := os.Getenv("REWARDKIT_TEST_POSTGRES")
	if dsn == "" {
		if os.Getenv("CI") != "" {
			tb.Fatal("CI is set but REWARDKIT_TEST_POSTGRES is not: the PostgreSQL tests must run in CI")
		}
		tb.Skip("REWARDKIT_TEST_POSTGRES not set: skipping PostgreSQL tests")
	}
	return dsn
}

// newSchema returns a fresh schema name, dropped when tb ends.
func newSchema(tb testing.TB) string {
	tb.Helper()
	dsn := testDSN(tb)
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "rktest_" + hex.EncodeToString(b[:])
	tb.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), dsn)
		if err != nil {
			tb.Errorf("drop schema %s: %v", name, err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", name, err)
		}
	})
	return name
}

// openStore opens a store in schema, closed when tb ends.
func openStore(tb testing.TB, schema string, opts ...Option) *Store {
	tb.Helper()
	s, err := Open(context.Background(), testDSN(tb), append([]Option{WithSchema(schema)}, opts...)...)
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// newStore opens a store in a fresh schema of its own.
func newStore(tb testing.TB, opts ...Option) *Store {
	tb.Helper()
	return openStore(tb, newSchema(tb), opts...)
}

// rawConn connects to the test database with search_path set to schema.
func rawConn(tb testing.TB, schema string) *pgx.Conn {
	tb.Helper()
	cfg, err := pgx.ParseConfig(testDSN(tb))
	require.NoError(tb, err)
	cfg.RuntimeParams["search_path"] = pgx.Identifier{schema}.Sanitize()
	conn, err := pgx.ConnectConfig(context.Background(), cfg)
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

func TestConformance(t *testing.T) {
	testDSN(t)
	storetest.Run(t, func(t *testing.T) driver.Store { return newStore(t) })
}

// TestNewFromPool opens a store from an existing pgxpool's settings and
// shows it works while the pool stays usable after the store closes.
func TestNewFromPool(t *testing.T) {
	dsn := testDSN(t)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	s, err := New(ctx, pool, WithSchema(newSchema(t)))
	if err != nil {
		t.Fatal(err)
	}
	l := ledger.New(s)
	if err := l.DefineAsset(ctx, ledger.EUR); err != nil {
		t.Fatal(err)
	}
	if _, err := l.OpenAccount(ctx, ledger.AccountSpec{Address: ledger.World, Overdraft: ledger.Overdraft{Unbounded: true}}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.OpenAccount(ctx, ledger.AccountSpec{Address: "m:1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Transfer(ctx, "k", ledger.World, "m:1", "EUR", decimal.RequireFromString("1.50")); err != nil {
		t.Fatal(err)
	}
	b, err := l.Balance(ctx, "m:1", "EUR")
	if err != nil || b.Posted.String() != "1.5" {
		t.Fatalf("balance %v, %v", b.Posted, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	var one int
	if err := pool.QueryRow(ctx, "select 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("pool unusable after the store closed: %v", err)
	}
	if _, err := New(ctx, nil); err == nil {
		t.Fatal("New(nil) succeeded")
	}
}
