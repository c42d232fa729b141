package pgstore

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
)

// TestFollowerOfQuietSchemaWaits: two stores on two schemas chosen by the
// connection's search_path (in the DSN, not WithSchema) are two ledgers.
// Events committed in one must not wake, again and again, a follower of
// the other: WaitEvents on the quiet store must block until its fallback,
// not return at once forever (a Follow there would spin, querying the
// database in a busy loop).
func TestFollowerOfQuietSchemaWaits(t *testing.T) {
	ctx := context.Background()
	open := func() *Store {
		schema := newSchema(t)
		conn, err := pgx.Connect(ctx, testDSN(t))
		require.NoError(t, err)
		_, err = conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize())
		require.NoError(t, err)
		require.NoError(t, conn.Close(ctx))
		cfg, err := pgx.ParseConfig(testDSN(t))
		require.NoError(t, err)
		cfg.RuntimeParams["search_path"] = pgx.Identifier{schema}.Sanitize()
		s, err := OpenConfig(ctx, cfg)
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	busy, quiet := open(), open()
	lb := ledger.New(busy)
	require.NoError(t, lb.Update(ctx, func(w *ledger.Writer) error { return w.Emit("test.thing.happened", "a", nil) }))

	// Start the quiet store's listener, then commit more in the busy one.
	wctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	_ = quiet.WaitEvents(wctx, 0)
	cancel()
	for i := 0; i < 3; i++ {
		require.NoError(t, lb.Update(ctx, func(w *ledger.Writer) error { return w.Emit("test.thing.happened", "a", nil) }))
	}
	time.Sleep(100 * time.Millisecond) // let the notifications arrive

	// The quiet store has no event: a wait for one beyond 0 has nothing to
	// return for but its one-second fallback.
	wakes := 0
	deadline := time.Now().Add(500 * time.Millisecond)
	for time.Now().Before(deadline) && wakes < 1000 {
		wctx, cancel := context.WithDeadline(ctx, deadline)
		if quiet.WaitEvents(wctx, 0) == nil {
			wakes++
		}
		cancel()
	}
	evs, err := ledger.New(quiet).Events(ctx, 0, 0)
	require.NoError(t, err)
	require.Empty(t, evs, "the quiet schema has no events")
	require.LessOrEqual(t, wakes, 1, "the quiet store's follower woke %d times in 0.5 s for another schema's events", wakes)
}
