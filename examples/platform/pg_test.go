package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger/memstore"
	"github.com/rewardkit/rewardkit/ledger/pgstore"
)

// pgStore opens a PostgreSQL store in a fresh schema of its own, dropped
// when t ends, or skips t when REWARDKIT_TEST_POSTGRES is not set.
func pgStore(t *testing.T) *pgstore.Store {
	t.Helper()
	dsn := os.Getenv("REWARDKIT_TEST_POSTGRES")
	if dsn == "" {
		t.Skip("REWARDKIT_TEST_POSTGRES not set: skipping the PostgreSQL runs")
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "rkplatform_" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), dsn)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	s, err := pgstore.Open(context.Background(), dsn, pgstore.WithSchema(schema))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestSimulationPostgresKeepsInvariants(t *testing.T) {
	store := pgStore(t)
	ctx := context.Background()
	cfg := smallConfig(11)
	var out bytes.Buffer
	res, err := simulate(ctx, &out, store, cfg)
	require.NoError(t, err, out.String())
	checkSimulation(t, res)

	// The same seed gives the same result on the in-memory store.
	mem, err := simulate(ctx, io.Discard, memstore.New(), cfg)
	require.NoError(t, err)
	require.Equal(t, mem.Events, res.Events)
	require.Equal(t, mem.Transactions, res.Transactions)
	for i, p := range res.Programs {
		require.Equal(t, mem.Programs[i].Done, p.Done, p.Name)
		require.Equal(t, mem.Programs[i].Refused, p.Refused, p.Name)
	}
	require.Equal(t, mem.Sheet, res.Sheet)
}

func TestStoryPostgres(t *testing.T) {
	store := pgStore(t)
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out, store, config{}), out.String())
	require.Contains(t, out.String(), "hash chain is intact")
	// Told again on the same database, every event is a replay.
	require.NoError(t, run(context.Background(), io.Discard, store, config{}))
}
