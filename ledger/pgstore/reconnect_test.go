package pgstore

import (
	"context"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger/driver"
)

// terminate ends the given backends from another connection and waits
// until they are gone.
func terminate(t *testing.T, pids ...uint32) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testDSN(t))
	require.NoError(t, err)
	defer conn.Close(ctx)
	for _, pid := range pids {
		var ok bool
		require.NoError(t, conn.QueryRow(ctx, "SELECT pg_terminate_backend($1, 10000)", int32(pid)).Scan(&ok))
		require.True(t, ok, "backend %d terminated", pid)
	}
}

// idlePIDs returns the backends of the pool's idle connections.
func (p *connPool) idlePIDs() []uint32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []uint32
	for _, c := range p.idle {
		out = append(out, c.PgConn().PID())
	}
	return out
}

// TestUpdateAfterIdleWriterKilled: issue 10 #12. The committer's backend
// dies while idle (a server restart, an administrator): the next Update's
// BEGIN fails on the dead connection, which wrote nothing, so the store
// begins again on a new connection and the Update succeeds.
func TestUpdateAfterIdleWriterKilled(t *testing.T) {
	s := newStore(t)
	l := newLedger(t, s, 100, "member:a", "member:b")
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		old := s.writerPID.Load()
		terminate(t, old)
		_, err := l.Transfer(ctx, "after-kill-"+string(rune('0'+i)), "member:a", "member:b", "EUR", decimal.NewFromInt(1))
		require.NoError(t, err, "the update after the kill")
		require.NotEqual(t, old, s.writerPID.Load(), "a new connection")
	}
	require.Equal(t, uint64(3), s.Stats().BeginRetries)
	require.Error(t, s.Stats().LastHiddenError)
	b, err := l.Balance(ctx, "member:b", "EUR")
	require.NoError(t, err)
	require.True(t, b.Posted.Equal(decimal.NewFromInt(103)), "each transfer posted once: %s", b.Posted)
	_, err = l.Verify(ctx)
	require.NoError(t, err)
}

// TestViewAfterIdleReadersKilled: issue 10 #12. Every idle read
// connection dies (as after a server restart): the next Views begin again
// on new connections instead of failing once per dead connection.
func TestViewAfterIdleReadersKilled(t *testing.T) {
	s := newStore(t, WithReadConns(4))
	l := newLedger(t, s, 100, "member:a")
	ctx := context.Background()
	// Fill the pool: four Views at once leave four idle connections.
	var wg, in sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < 4; i++ {
		wg.Add(1)
		in.Add(1)
		go func() {
			defer wg.Done()
			require.NoError(t, s.View(ctx, func(driver.ReadTx) error { in.Done(); <-start; return nil }))
		}()
	}
	in.Wait()
	close(start)
	wg.Wait()
	pids := s.reads.idlePIDs()
	require.Len(t, pids, 4)
	terminate(t, pids...)
	for i := 0; i < 2*len(pids); i++ {
		b, err := l.Balance(ctx, "member:a", "EUR")
		require.NoError(t, err, "view %d after the kill", i)
		require.True(t, b.Posted.Equal(decimal.NewFromInt(100)))
	}
	require.NotZero(t, s.Stats().ReadRetries)
	terminate(t, s.reads.idlePIDs()...)
	require.NoError(t, s.Migrate(ctx), "Migrate also gets a live connection")
}
