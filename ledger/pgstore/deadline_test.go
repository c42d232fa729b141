package pgstore

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
)

// TestStatementTimeoutBoundsStalledGroup has another connection hold the
// head row's lock, which every group takes first: a caller without a
// deadline gets ErrStatementTimeout once the statement timeout has run
// out, a caller with a shorter deadline gets context.DeadlineExceeded at
// its deadline, and neither wrote anything.
func TestStatementTimeoutBoundsStalledGroup(t *testing.T) {
	const timeout = 300 * time.Millisecond
	ctx := context.Background()
	schema := newSchema(t)
	s := openStore(t, schema, WithStatementTimeout(timeout))
	l := ledger.New(s)
	require.NoError(t, l.DefineAsset(ctx, ledger.EUR))
	_, err := l.OpenAccount(ctx, ledger.AccountSpec{Address: ledger.World, Overdraft: ledger.Overdraft{Unbounded: true}})
	require.NoError(t, err)
	_, err = l.OpenAccount(ctx, ledger.AccountSpec{Address: "member:a"})
	require.NoError(t, err)

	cfg, err := pgx.ParseConfig(testDSN(t))
	require.NoError(t, err)
	cfg.RuntimeParams["search_path"] = pgx.Identifier{schema}.Sanitize()
	other, err := pgx.ConnectConfig(ctx, cfg)
	require.NoError(t, err)
	defer other.Close(ctx)
	_, err = other.Exec(ctx, "BEGIN")
	require.NoError(t, err)
	_, err = other.Exec(ctx, "SELECT 1 FROM ledger_head FOR UPDATE")
	require.NoError(t, err)

	five := decimal.NewFromInt(5)
	stalled := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := l.Transfer(ctx, "stalled-1", ledger.World, "member:a", "EUR", five)
		stalled <- err
	}()
	time.Sleep(20 * time.Millisecond) // let it reach the lock

	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	deadline, _ := short.Deadline()
	_, err = l.Transfer(short, "short-1", ledger.World, "member:a", "EUR", five)
	past := time.Since(deadline)
	t.Logf("caller with a 100 ms deadline: returned %v after it (%v)", past.Round(time.Microsecond), err)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.LessOrEqual(t, past, 250*time.Millisecond)

	err = <-stalled
	past = time.Since(start.Add(timeout))
	t.Logf("caller without a deadline: returned %v after the statement timeout (%v)", past.Round(time.Microsecond), err)
	require.ErrorIs(t, err, ErrStatementTimeout)
	require.False(t, errors.Is(err, ledger.ErrConflict), "a timed-out group is not a race to retry")
	require.LessOrEqual(t, past, 250*time.Millisecond)

	_, err = other.Exec(ctx, "ROLLBACK")
	require.NoError(t, err)
	_, err = l.Transfer(ctx, "after-1", ledger.World, "member:a", "EUR", five)
	require.NoError(t, err)
	b, err := l.Balance(ctx, "member:a", "EUR")
	require.NoError(t, err)
	require.True(t, b.Posted.Equal(five), "only the transfer after the lock was released posted: %s", b.Posted)
}

type traceKey struct{}

// writerTracer records the trace value of every query and batch the
// committer's connection sends.
type writerTracer struct {
	s    *Store
	mu   sync.Mutex
	seen map[any]int
}

func (tr *writerTracer) note(ctx context.Context, conn *pgx.Conn) {
	if tr.s == nil || conn.PgConn().PID() != tr.s.writerPID.Load() {
		return
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.seen[ctx.Value(traceKey{})]++
}

func (tr *writerTracer) TraceQueryStart(ctx context.Context, conn *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	tr.note(ctx, conn)
	return ctx
}
func (tr *writerTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (tr *writerTracer) TraceBatchStart(ctx context.Context, conn *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	tr.note(ctx, conn)
	return ctx
}
func (tr *writerTracer) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (tr *writerTracer) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}

// TestQueriesCarryCallersContext: the queries a unit of work sends on the
// committer's connection carry its caller's context values, so that a
// pgx tracer can link them to the caller's request.
func TestQueriesCarryCallersContext(t *testing.T) {
	ctx := context.Background()
	cfg, err := pgx.ParseConfig(testDSN(t))
	require.NoError(t, err)
	tr := &writerTracer{seen: map[any]int{}}
	cfg.Tracer = tr
	s, err := OpenConfig(ctx, cfg, WithSchema(newSchema(t)), WithBalanceCache(0))
	require.NoError(t, err)
	defer s.Close()
	tr.mu.Lock()
	tr.s = s
	tr.mu.Unlock()
	l := ledger.New(s)
	require.NoError(t, l.DefineAsset(ctx, ledger.EUR))
	_, err = l.OpenAccount(ctx, ledger.AccountSpec{Address: ledger.World, Overdraft: ledger.Overdraft{Unbounded: true}})
	require.NoError(t, err)
	_, err = l.OpenAccount(ctx, ledger.AccountSpec{Address: "member:a"})
	require.NoError(t, err)

	reqCtx := context.WithValue(ctx, traceKey{}, "request-1")
	_, err = l.Transfer(reqCtx, "traced-1", ledger.World, "member:a", "EUR", decimal.NewFromInt(5))
	require.NoError(t, err)
	tr.mu.Lock()
	defer tr.mu.Unlock()
	require.Positive(t, tr.seen["request-1"], "no query of the unit of work carried its caller's context: %v", tr.seen)
}

// TestStalledUnitOfWorkFailsItsGroup has a unit of work block inside a
// group (a function that sleeps, which no statement timeout can cut
// short): the group is rolled back once that function returns, so its
// neighbour without a deadline waits about as long as the function ran
// and no longer; a neighbour with a deadline is withdrawn at it; nothing
// is committed.
func TestStalledUnitOfWorkFailsItsGroup(t *testing.T) {
	const timeout, sleep = 200 * time.Millisecond, 600 * time.Millisecond
	ctx := context.Background()
	s := newStore(t, WithStatementTimeout(timeout), WithGroupWindow(200*time.Millisecond))
	l := ledger.New(s)
	require.NoError(t, l.DefineAsset(ctx, ledger.EUR))
	_, err := l.OpenAccount(ctx, ledger.AccountSpec{Address: ledger.World, Overdraft: ledger.Overdraft{Unbounded: true}})
	require.NoError(t, err)
	_, err = l.OpenAccount(ctx, ledger.AccountSpec{Address: "member:a"})
	require.NoError(t, err)
	five := decimal.NewFromInt(5)

	start := time.Now()
	slow := make(chan error, 1)
	go func() {
		slow <- l.Update(ctx, func(w *ledger.Writer) error {
			time.Sleep(sleep)
			_, err := w.Post(ledger.TransferRequest{Key: "slow-1", Postings: []ledger.Posting{
				{From: ledger.World, To: "member:a", Asset: "EUR", Amount: five},
			}})
			return err
		})
	}()
	time.Sleep(20 * time.Millisecond) // inside the group window: the next two join the group
	neighbour := make(chan error, 1)
	go func() {
		_, err := l.Transfer(ctx, "neighbour-1", ledger.World, "member:a", "EUR", five)
		neighbour <- err
	}()
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	deadline, _ := short.Deadline()
	_, err = l.Transfer(short, "short-1", ledger.World, "member:a", "EUR", five)
	past := time.Since(deadline)
	t.Logf("caller with a 300 ms deadline behind a stalled unit of work: returned %v after it (%v)", past.Round(time.Microsecond), err)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.LessOrEqual(t, past, 250*time.Millisecond)

	err = <-neighbour
	took := time.Since(start)
	t.Logf("neighbour without a deadline: returned after %v (%v)", took.Round(time.Millisecond), err)
	require.ErrorIs(t, err, ErrStatementTimeout)
	require.Less(t, took, sleep+time.Second)
	require.ErrorIs(t, <-slow, ErrStatementTimeout)

	b, err := l.Balance(ctx, "member:a", "EUR")
	require.NoError(t, err)
	require.True(t, b.Posted.IsZero(), "a stalled group committed: %s", b.Posted)
	_, err = l.Transfer(ctx, "after-1", ledger.World, "member:a", "EUR", five)
	require.NoError(t, err)
}
