package scheduler_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/driver"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
	"github.com/rewardkit/rewardkit/ledger/memstore"
	"github.com/rewardkit/rewardkit/ledger/pgstore"
	"github.com/rewardkit/rewardkit/ledger/scheduler"
	"github.com/rewardkit/rewardkit/ledger/teststore"
)

// Both stores can hold the scheduler's lease.
var (
	_ scheduler.Leaser = (*memstore.Store)(nil)
	_ scheduler.Leaser = (*pgstore.Store)(nil)
)

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

var errBoom = errors.New("boom")

// tickerFunc turns a function into a kit.Ticker.
type tickerFunc func(ctx context.Context) (kit.TickReport, error)

func (f tickerFunc) Tick(ctx context.Context) (kit.TickReport, error) { return f(ctx) }

// done is a ticker that handles the given items of kind and fails none.
func done(kind string, ids ...string) kit.Ticker {
	return tickerFunc(func(context.Context) (kit.TickReport, error) {
		var rep kit.TickReport
		for _, id := range ids {
			rep.Add(kind, id)
		}
		return rep, nil
	})
}

// newLedger opens a ledger on store with a manual clock, an asset and a
// funded member account.
func newLedger(t *testing.T, store driver.Store) (*ledger.Ledger, *ledgertest.Clock) {
	t.Helper()
	clock := ledgertest.NewClock(t0)
	l := ledger.New(store, ledger.WithClock(clock))
	err := l.Update(context.Background(), func(w *ledger.Writer) error {
		if err := w.DefineAsset(ledger.EUR); err != nil {
			return err
		}
		if _, err := w.OpenAccount(ledger.AccountSpec{Address: ledger.World, Overdraft: ledger.Overdraft{Unbounded: true}}); err != nil {
			return err
		}
		if _, err := w.OpenAccount(ledger.AccountSpec{Address: "member:ann"}); err != nil {
			return err
		}
		_, err := w.Post(ledger.TransferRequest{Key: "fund-ann", Postings: []ledger.Posting{{From: ledger.World, To: "member:ann", Asset: "EUR", Amount: decimal.NewFromInt(100)}}})
		return err
	})
	require.NoError(t, err)
	return l, clock
}

// hold reserves amount of ann's EUR until ttl from now, and returns the
// hold's ID as the scheduler reports it.
func hold(t *testing.T, l *ledger.Ledger, clock *ledgertest.Clock, amount int64, ttl time.Duration) string {
	t.Helper()
	h, err := l.Hold(context.Background(), ledger.HoldRequest{Account: "member:ann", Asset: "EUR", Amount: decimal.NewFromInt(amount), ExpiresAt: clock.Now().Add(ttl)})
	require.NoError(t, err)
	return strconv.FormatUint(h.ID, 10)
}

func names(rep scheduler.Report) []string {
	var out []string
	for _, res := range rep.Results {
		out = append(out, res.Name)
	}
	return out
}

// TestRunOnceIsolatesTickers: a ticker that fails and one that panics
// are each reported under their name, and every other ticker runs, in
// registration order after the ledger's holds; the report carries the
// IDs each handled and the items that failed, and the log says what
// failed. On both stores.
func TestRunOnceIsolatesTickers(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		l, clock := newLedger(t, open(t))
		var logs bytes.Buffer
		s, err := scheduler.New(l, scheduler.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
		require.NoError(t, err)

		lastCtx := make(chan error, 1)
		require.NoError(t, s.Register("first", done("first.sent", "a-1", "a-2")))
		require.NoError(t, s.Register("failing", tickerFunc(func(context.Context) (kit.TickReport, error) {
			var rep kit.TickReport
			rep.Add("failing.renewed", "sub-1")
			rep.Failed = append(rep.Failed, kit.ItemError{Kind: "failing.renewed", ID: "sub-2", Err: ledger.ErrInsufficientFunds})
			return rep, errBoom
		})))
		require.NoError(t, s.Register("panicking", tickerFunc(func(context.Context) (kit.TickReport, error) {
			panic("out of cheese")
		})))
		require.NoError(t, s.Register("last", tickerFunc(func(ctx context.Context) (kit.TickReport, error) {
			lastCtx <- ctx.Err()
			return done("last.refunded", "b-1").Tick(ctx)
		})))
		expired := []string{hold(t, l, clock, 10, time.Hour), hold(t, l, clock, 20, time.Hour)}
		hold(t, l, clock, 30, 3*time.Hour)
		clock.Advance(2 * time.Hour)

		rep, err := s.RunOnce(context.Background())
		require.NoError(t, err, "ticker failures are in the report, not the run's error")
		require.True(t, rep.Ran)
		require.Equal(t, []string{scheduler.HoldsName, "first", "failing", "panicking", "last"}, names(rep))

		holds, ok := rep.Result(scheduler.HoldsName)
		require.True(t, ok)
		require.NoError(t, holds.Err)
		require.Equal(t, expired, holds.Report.IDs(scheduler.KindHoldExpired))
		require.Empty(t, holds.Report.Failed)

		first, _ := rep.Result("first")
		require.NoError(t, first.Err)
		require.Equal(t, []string{"a-1", "a-2"}, first.Report.IDs("first.sent"))

		failing, _ := rep.Result("failing")
		require.ErrorIs(t, failing.Err, errBoom)
		require.Equal(t, []string{"sub-1"}, failing.Report.IDs("failing.renewed"))
		require.Len(t, failing.Report.Failed, 1)
		require.Equal(t, "sub-2", failing.Report.Failed[0].ID)

		panicking, _ := rep.Result("panicking")
		require.ErrorIs(t, panicking.Err, scheduler.ErrPanicked)
		require.ErrorContains(t, panicking.Err, "out of cheese")
		require.Empty(t, panicking.Report.Done)

		last, _ := rep.Result("last")
		require.NoError(t, last.Err)
		require.Equal(t, []string{"b-1"}, last.Report.IDs("last.refunded"))
		require.NoError(t, <-lastCtx, "the ticker after a panic ran with a live context")

		all := rep.Err()
		require.ErrorIs(t, all, errBoom)
		require.ErrorIs(t, all, scheduler.ErrPanicked)
		require.ErrorIs(t, all, ledger.ErrInsufficientFunds)
		require.ErrorContains(t, all, "failing: failing.renewed sub-2: ")
		require.Equal(t, ledger.CodeInternal, ledger.ErrorCode(panicking.Err))

		out := logs.String()
		require.Contains(t, out, "ticker=failing")
		require.Contains(t, out, "id=sub-2")
		require.Contains(t, out, "ticker=panicking")
		require.Contains(t, out, "stack=", "a panic is logged with its stack")
		require.NotContains(t, out, "ticker=first")

		// Nothing is due any more: the next run handles nothing.
		rep, err = s.RunOnce(context.Background())
		require.NoError(t, err)
		holds, _ = rep.Result(scheduler.HoldsName)
		require.Empty(t, holds.Report.Done)
	})
}

// TestHoldsExpireThroughScheduler: the scheduler releases the ledger's
// expired holds (and only those) before any ticker runs, so a ticker
// sees the released funds.
func TestHoldsExpireThroughScheduler(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		l, clock := newLedger(t, open(t))
		s, err := scheduler.New(l)
		require.NoError(t, err)
		var seen decimal.Decimal
		require.NoError(t, s.Register("reader", tickerFunc(func(ctx context.Context) (kit.TickReport, error) {
			b, err := l.Balance(ctx, "member:ann", "EUR")
			seen = b.Available
			return kit.TickReport{}, err
		})))
		gone := hold(t, l, clock, 40, time.Minute)
		kept := hold(t, l, clock, 25, time.Hour)
		clock.Advance(10 * time.Minute)

		rep, err := s.RunOnce(context.Background())
		require.NoError(t, err)
		require.NoError(t, rep.Err())
		holds, _ := rep.Result(scheduler.HoldsName)
		require.Equal(t, []string{gone}, holds.Report.IDs(scheduler.KindHoldExpired))
		require.Equal(t, "75", seen.String(), "the ticker ran after the expired hold was released")
		for id, want := range map[string]ledger.HoldStatus{gone: ledger.HoldExpired, kept: ledger.HoldPending} {
			n, err := strconv.ParseUint(id, 10, 64)
			require.NoError(t, err)
			h, err := l.HoldByID(context.Background(), n)
			require.NoError(t, err)
			require.Equal(t, want, h.Status, "hold %s", id)
		}
		rep2, err := l.Verify(context.Background())
		require.NoError(t, err)
		require.True(t, rep2.Totals["EUR"].IsZero())
	})
}

// blocker is a ticker that, once started, waits until released.
type blocker struct {
	started chan struct{}
	proceed chan struct{}
}

func newBlocker() *blocker {
	return &blocker{started: make(chan struct{}), proceed: make(chan struct{})}
}

func (b *blocker) Tick(ctx context.Context) (kit.TickReport, error) {
	close(b.started)
	select {
	case <-b.proceed:
		return kit.TickReport{}, nil
	case <-ctx.Done():
		return kit.TickReport{}, ctx.Err()
	}
}

// requireOneAtATime: while a run of first holds the lease, a run of
// second (another scheduler on the same data) and another run of first
// do not run and say so, with no error; a scheduler with another lease
// name does run; once first's run ends, second runs.
func requireOneAtATime(t *testing.T, first, second, elsewhere *scheduler.Scheduler, b *blocker) {
	t.Helper()
	ctx := context.Background()
	type result struct {
		rep scheduler.Report
		err error
	}
	firstDone := make(chan result, 1)
	go func() {
		rep, err := first.RunOnce(ctx)
		firstDone <- result{rep, err}
	}()
	<-b.started

	rep, err := second.RunOnce(ctx)
	require.NoError(t, err)
	require.False(t, rep.Ran, "the other scheduler holds the lease")
	require.Empty(t, rep.Results)
	rep, err = first.RunOnce(ctx)
	require.NoError(t, err)
	require.False(t, rep.Ran, "a run of this scheduler is under way")
	rep, err = elsewhere.RunOnce(ctx)
	require.NoError(t, err)
	require.True(t, rep.Ran, "another lease name is another lease")

	close(b.proceed)
	r := <-firstDone
	require.NoError(t, r.err)
	require.True(t, r.rep.Ran)
	require.NoError(t, r.rep.Err())
	rep, err = second.RunOnce(ctx)
	require.NoError(t, err)
	require.True(t, rep.Ran, "the lease was given up at the end of the run")
}

// TestSecondSchedulerWaitsForLease: two schedulers on one store (one
// process, memstore) or on two stores opened on one schema (pgstore) run
// one at a time.
func TestSecondSchedulerWaitsForLease(t *testing.T) {
	build := func(t *testing.T, a, b driver.Store) {
		la, _ := newLedger(t, a)
		lb := ledger.New(b)
		bl := newBlocker()
		first, err := scheduler.New(la)
		require.NoError(t, err)
		require.NoError(t, first.Register("blocker", bl))
		second, err := scheduler.New(lb)
		require.NoError(t, err)
		elsewhere, err := scheduler.New(lb, scheduler.WithLeaseName("other-lease"))
		require.NoError(t, err)
		requireOneAtATime(t, first, second, elsewhere, bl)
	}
	t.Run("memstore", func(t *testing.T) {
		s := memstore.New()
		build(t, s, s)
	})
	t.Run("pgstore", func(t *testing.T) {
		a, schema := teststore.PostgresSchema(t)
		b, err := pgstore.Open(context.Background(), teststore.PostgresDSN(t), pgstore.WithSchema(schema))
		require.NoError(t, err)
		t.Cleanup(func() { _ = b.Close() })
		build(t, a, b)
	})
}

// noLeaseStore is a store without the lease capability.
type noLeaseStore struct{ driver.Store }

// TestStoreWithoutLease: New refuses a store that cannot hold a lease,
// unless the caller says it runs a single replica; SingleReplica takes no
// lease even where the store has one.
func TestStoreWithoutLease(t *testing.T) {
	ms := memstore.New()
	_, err := scheduler.New(ledger.New(noLeaseStore{ms}))
	require.ErrorIs(t, err, scheduler.ErrNoLease)
	require.Equal(t, ledger.CodeFailedPrecondition, ledger.ErrorCode(err))

	s, err := scheduler.New(ledger.New(noLeaseStore{ms}), scheduler.SingleReplica())
	require.NoError(t, err)
	rep, err := s.RunOnce(context.Background())
	require.NoError(t, err)
	require.True(t, rep.Ran)

	_, release, ok, err := ms.TryLease(context.Background(), scheduler.DefaultLeaseName)
	require.NoError(t, err)
	require.True(t, ok)
	defer func() { require.NoError(t, release()) }()
	leased, err := scheduler.New(ledger.New(ms))
	require.NoError(t, err)
	rep, err = leased.RunOnce(context.Background())
	require.NoError(t, err)
	require.False(t, rep.Ran, "the lease is held")
	single, err := scheduler.New(ledger.New(ms), scheduler.SingleReplica())
	require.NoError(t, err)
	rep, err = single.RunOnce(context.Background())
	require.NoError(t, err)
	require.True(t, rep.Ran, "SingleReplica takes no lease")
}

// TestRegisterValidates: names are checked, unique, and the ledger's own
// is taken; nothing invalid is registered.
func TestRegisterValidates(t *testing.T) {
	_, err := scheduler.New(nil)
	require.ErrorIs(t, err, scheduler.ErrInvalid)
	l := ledger.New(memstore.New())
	_, err = scheduler.New(l, scheduler.WithLeaseName("no spaces"))
	require.ErrorIs(t, err, scheduler.ErrInvalid)
	s, err := scheduler.New(l)
	require.NoError(t, err)
	tk := done("x.done")
	for _, name := range []string{"", "a b", "sub/scription", strings.Repeat("x", 65)} {
		require.ErrorIs(t, s.Register(name, tk), scheduler.ErrInvalid, "name %q", name)
	}
	require.ErrorIs(t, s.Register("nil", nil), scheduler.ErrInvalid)
	require.ErrorIs(t, s.Register(scheduler.HoldsName, tk), scheduler.ErrDuplicate)
	require.NoError(t, s.Register("subscription", tk))
	err = s.Register("subscription", tk)
	require.ErrorIs(t, err, scheduler.ErrDuplicate)
	require.Equal(t, ledger.CodeConflict, ledger.ErrorCode(err))
	rep, err := s.RunOnce(context.Background())
	require.NoError(t, err)
	require.Equal(t, []string{scheduler.HoldsName, "subscription"}, names(rep))
}

// lossyStore is a memstore whose lease the test can make lost.
type lossyStore struct {
	*memstore.Store
	mu       sync.Mutex
	lose     context.CancelCauseFunc
	released bool
}

func (s *lossyStore) TryLease(ctx context.Context, name string) (context.Context, func() error, bool, error) {
	held, cancel := context.WithCancelCause(ctx)
	s.mu.Lock()
	s.lose = cancel
	s.mu.Unlock()
	return held, func() error {
		cancel(nil)
		s.mu.Lock()
		s.released = true
		s.mu.Unlock()
		return nil
	}, true, nil
}

var errConnectionGone = errors.New("connection gone")

// TestLeaseLostStopsRun: the lease is lost during a ticker: that
// ticker's context ends with the cause, the tickers after it are not run
// and say why, RunOnce returns ErrLeaseLost, and the lease is released.
func TestLeaseLostStopsRun(t *testing.T) {
	store := &lossyStore{Store: memstore.New()}
	s, err := scheduler.New(ledger.New(store))
	require.NoError(t, err)
	ran := false
	require.NoError(t, s.Register("loser", tickerFunc(func(ctx context.Context) (kit.TickReport, error) {
		store.mu.Lock()
		store.lose(errConnectionGone)
		store.mu.Unlock()
		<-ctx.Done()
		return kit.TickReport{}, context.Cause(ctx)
	})))
	require.NoError(t, s.Register("after", tickerFunc(func(context.Context) (kit.TickReport, error) {
		ran = true
		return kit.TickReport{}, nil
	})))
	rep, err := s.RunOnce(context.Background())
	require.ErrorIs(t, err, scheduler.ErrLeaseLost)
	require.ErrorIs(t, err, errConnectionGone)
	require.Equal(t, ledger.CodeUnavailable, ledger.ErrorCode(err))
	require.True(t, rep.Ran)
	require.False(t, ran, "no ticker runs once the lease is lost")
	after, ok := rep.Result("after")
	require.True(t, ok)
	require.ErrorIs(t, after.Err, errConnectionGone)
	require.ErrorContains(t, after.Err, "scheduler: not run")
	require.True(t, store.released, "a lost lease is still released")
}

// TestRunOnceContextEnds: a context that ends during a run stops it: the
// tickers after are not run, and the run's error says so.
func TestRunOnceContextEnds(t *testing.T) {
	s, err := scheduler.New(ledger.New(memstore.New()))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, s.Register("canceller", tickerFunc(func(context.Context) (kit.TickReport, error) {
		cancel()
		return kit.TickReport{}, nil
	})))
	require.NoError(t, s.Register("after", done("after.done", "x")))
	rep, err := s.RunOnce(ctx)
	require.ErrorIs(t, err, context.Canceled)
	after, _ := rep.Result("after")
	require.ErrorIs(t, after.Err, context.Canceled)
	require.Empty(t, after.Report.Done)

	rep, err = s.RunOnce(ctx)
	require.ErrorIs(t, err, context.Canceled, "an ended context runs nothing")
	require.False(t, rep.Ran)
}

// TestRun: Run runs at its interval until its context ends, and returns
// the context's error; a failing run does not stop it; a non-positive
// interval is refused.
func TestRun(t *testing.T) {
	var logs syncBuffer
	s, err := scheduler.New(ledger.New(memstore.New()), scheduler.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	require.NoError(t, err)
	require.ErrorIs(t, s.Run(context.Background(), 0), scheduler.ErrInvalid)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runs := 0
	var at []time.Time
	require.NoError(t, s.Register("counter", tickerFunc(func(context.Context) (kit.TickReport, error) {
		runs++
		at = append(at, time.Now())
		if runs == 3 {
			cancel()
		}
		return kit.TickReport{}, errBoom
	})))
	const every = 20 * time.Millisecond
	err = s.Run(ctx, every)
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, 3, runs, "failing runs did not stop the loop")
	for i := 1; i < len(at); i++ {
		require.GreaterOrEqual(t, at[i].Sub(at[i-1]), every, "runs are an interval apart")
	}
	require.Contains(t, logs.String(), "boom")
}

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestLotsExpireThroughScheduler: a run settles the ledger's expired lots
// too, reporting each balance under HoldsName, once.
func TestLotsExpireThroughScheduler(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		l, clock := newLedger(t, open(t))
		ctx := context.Background()
		_, err := l.OpenAccount(ctx, ledger.AccountSpec{Address: "breakage"})
		require.NoError(t, err)
		_, err = l.Post(ctx, ledger.TransferRequest{Postings: []ledger.Posting{{From: ledger.World, To: "member:ann", Asset: "EUR",
			Amount: decimal.NewFromInt(5), ExpiresAt: clock.Now().Add(time.Hour), Breakage: "breakage"}}})
		require.NoError(t, err)
		s, err := scheduler.New(l)
		require.NoError(t, err)
		clock.Advance(time.Hour)
		rep, err := s.RunOnce(ctx)
		require.NoError(t, err)
		holds, _ := rep.Result(scheduler.HoldsName)
		require.Equal(t, []string{"member:ann|EUR"}, holds.Report.IDs(scheduler.KindLotsExpired))
		b, err := l.Balance(ctx, "breakage", "EUR")
		require.NoError(t, err)
		require.Equal(t, "5", b.Posted.String())
		rep, err = s.RunOnce(ctx)
		require.NoError(t, err)
		holds, _ = rep.Result(scheduler.HoldsName)
		require.Empty(t, holds.Report.IDs(scheduler.KindLotsExpired))
	})
}
