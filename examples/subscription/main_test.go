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
	"github.com/rewardkit/rewardkit/ledger/memstore"
	"github.com/rewardkit/rewardkit/ledger/pgstore"
	"github.com/stretchr/testify/require"
)

func TestStory(t *testing.T) {
	store := memstore.New()
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out, store), out.String())
	require.Contains(t, out.String(), "the hash chain is intact")
	// Told again on the same ledger, the story runs under fresh ids.
	require.NoError(t, run(context.Background(), io.Discard, store))
}

func TestStoryPostgres(t *testing.T) {
	dsn := os.Getenv("REWARDKIT_TEST_POSTGRES")
	if dsn == "" {
		t.Skip("REWARDKIT_TEST_POSTGRES not set: skipping the PostgreSQL run")
	}
	ctx := context.Background()
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "rkexsub_" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	store, err := pgstore.Open(ctx, dsn, pgstore.WithSchema(schema))
	require.NoError(t, err)
	defer store.Close()
	var out bytes.Buffer
	require.NoError(t, run(ctx, &out, store), out.String())
	require.NoError(t, run(ctx, io.Discard, store), "told again on the same database")
}
