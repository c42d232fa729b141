// Package teststore opens fresh stores for tests, so that a program's
// tests run on every store the module ships: the in-memory store always,
// and PostgreSQL when REWARDKIT_TEST_POSTGRES holds a connection string.
// In CI (CI set) a missing connection string fails the test instead of
// skipping it, so the PostgreSQL runs cannot be skipped unnoticed.
//
// # Usage
//
//	func TestSomething(t *testing.T) {
//		teststore.Run(t, func(t *testing.T, open teststore.Opener) {
//			l := ledger.New(open(t), ledger.WithClock(clock))
//			...
//		})
//	}
package teststore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/rewardkit/rewardkit/ledger/driver"
	"github.com/rewardkit/rewardkit/ledger/memstore"
	"github.com/rewardkit/rewardkit/ledger/pgstore"
)

// EnvPostgres names the environment variable that holds the PostgreSQL
// connection string of the test database.
const EnvPostgres = "REWARDKIT_TEST_POSTGRES"

// Opener opens a fresh, empty store that is closed (and, on PostgreSQL,
// dropped) when tb ends.
type Opener func(tb testing.TB) driver.Store

// Run runs f as a subtest once per store: "memstore", then "pgstore" when
// the test database is configured (see the package doc).
func Run(t *testing.T, f func(t *testing.T, open Opener)) {
	t.Helper()
	t.Run("memstore", func(t *testing.T) { f(t, Memory) })
	t.Run("pgstore", func(t *testing.T) {
		PostgresDSN(t)
		f(t, Postgres)
	})
}

// Memory opens a fresh in-memory store.
func Memory(tb testing.TB) driver.Store {
	s := memstore.New()
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// PostgresDSN returns the test database's connection string, skips tb when
// none is set, or fails tb when none is set in CI.
func PostgresDSN(tb testing.TB) string {
	tb.Helper()
	dsn := os.Getenv(EnvPostgres)
	if dsn == "" {
		if os.Getenv("CI") != "" {
			tb.Fatalf("CI is set but %s is not: the PostgreSQL tests must run in CI", EnvPostgres)
		}
		tb.Skipf("%s not set: skipping the PostgreSQL run", EnvPostgres)
	}
	return dsn
}

// Postgres opens a PostgreSQL store in a fresh schema of its own, dropped
// when tb ends.
func Postgres(tb testing.TB) driver.Store {
	tb.Helper()
	s, _ := PostgresSchema(tb)
	return s
}

// PostgresSchema is Postgres that also returns the schema's name, for a
// test that opens a second store on the same data (a restart, a second
// process).
func PostgresSchema(tb testing.TB) (*pgstore.Store, string) {
	tb.Helper()
	dsn := PostgresDSN(tb)
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "rktest_" + hex.EncodeToString(b[:])
	tb.Cleanup(func() {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	s, err := pgstore.Open(context.Background(), dsn, pgstore.WithSchema(schema))
	if err != nil {
		tb.Fatalf("open pgstore: %v", err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s, schema
}
