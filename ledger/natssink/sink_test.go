package natssink

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/teststore"
)

// Events committed in the ledger arrive in the stream in order, once
// each, as their CloudEvents, whether published by RunOnce or by Run as
// they are committed; the consumer's position follows.
func TestPublishesInOrderOnce(t *testing.T) {
	js := connect(t)
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		st, subject := testStream(t, js)
		l := ledger.New(open(t))
		evs := emit(t, l, 25)

		sink := New(l, js, WithSubject(subject), WithBatch(7))
		require.NoError(t, sink.RunOnce(ctx))
		requireStreamHolds(t, st, subject, evs)
		pos, err := sink.Consumer().Position(ctx)
		require.NoError(t, err)
		require.Equal(t, evs[len(evs)-1].Seq, pos)

		// Nothing new: RunOnce publishes nothing.
		require.NoError(t, sink.RunOnce(ctx))
		requireStreamHolds(t, st, subject, evs)

		// Run publishes events as they are committed, then stops with ctx.
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- sink.Run(runCtx) }()
		evs = append(evs, emit(t, l, 9)...)
		require.Eventually(t, func() bool {
			p, err := sink.Consumer().Position(ctx)
			return err == nil && p == evs[len(evs)-1].Seq
		}, 10*time.Second, 10*time.Millisecond)
		cancel()
		require.ErrorIs(t, <-done, context.Canceled)
		requireStreamHolds(t, st, subject, evs)
	})
}

// A crash between the publish and the commit: the restarted sink
// publishes the same events again, the stream drops them by Nats-Msg-Id,
// and it holds each event once.
func TestCrashBeforeCommitRepublishesWithoutDuplicates(t *testing.T) {
	js := connect(t)
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		st, subject := testStream(t, js)
		l := ledger.New(open(t))
		evs := emit(t, l, 12)

		// The first process publishes everything and dies before its
		// commit lands.
		crashed := New(l, js, WithSubject(subject), WithBatch(5))
		errCrash := errors.New("process killed")
		crashed.commit = func(context.Context, uint64) error { return errCrash }
		require.ErrorIs(t, crashed.RunOnce(ctx), errCrash)
		pos, err := crashed.Consumer().Position(ctx)
		require.NoError(t, err)
		require.Zero(t, pos, "nothing was committed")
		requireStreamHolds(t, st, subject, evs[:5])

		// The restart republishes from the committed position (0).
		counting := &countingJS{JetStream: js}
		restarted := New(l, counting, WithSubject(subject), WithBatch(5))
		require.NoError(t, restarted.RunOnce(ctx))
		require.EqualValues(t, 12, counting.published.Load())
		require.EqualValues(t, 5, counting.duplicates.Load(), "the first batch was republished and dropped")
		requireStreamHolds(t, st, subject, evs)
		pos, err = restarted.Consumer().Position(ctx)
		require.NoError(t, err)
		require.Equal(t, evs[len(evs)-1].Seq, pos)
	})
}

// Run retries a batch whose commit failed: the events are published
// again, dropped by the stream as duplicates, and committed in the end.
func TestRunRetriesFailedCommit(t *testing.T) {
	js := connect(t)
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		st, subject := testStream(t, js)
		l := ledger.New(open(t))
		evs := emit(t, l, 6)

		counting := &countingJS{JetStream: js}
		logs := &logRecords{}
		sink := New(l, counting, WithSubject(subject), WithBackoff(time.Millisecond, 4*time.Millisecond), WithLogger(slog.New(logs)))
		var fails atomic.Int32
		sink.commit = func(ctx context.Context, seq uint64) error {
			if fails.Add(1) <= 2 {
				return errors.New("store unavailable")
			}
			return sink.consumer.Commit(ctx, seq)
		}
		done := make(chan error, 1)
		runCtx, stop := context.WithCancel(ctx)
		go func() { done <- sink.Run(runCtx) }()
		require.Eventually(t, func() bool {
			p, err := sink.Consumer().Position(ctx)
			return err == nil && p == evs[len(evs)-1].Seq
		}, 10*time.Second, 5*time.Millisecond)
		stop()
		require.ErrorIs(t, <-done, context.Canceled)

		require.EqualValues(t, 18, counting.published.Load(), "three attempts at six events")
		require.EqualValues(t, 12, counting.duplicates.Load())
		require.Len(t, logs.warnings(), 2)
		requireStreamHolds(t, st, subject, evs)
	})
}

// A new Ledger over the same store (a restart, another process on
// pgstore) resumes from the committed position: it publishes only the
// events after it.
func TestResumesFromCommittedPosition(t *testing.T) {
	js := connect(t)
	for _, pg := range []bool{false, true} {
		name := map[bool]string{false: "memstore", true: "pgstore"}[pg]
		t.Run(name, func(t *testing.T) {
			if pg {
				teststore.PostgresDSN(t)
			}
			ctx := context.Background()
			st, subject := testStream(t, js)
			s, reopen := reopenable(t, teststore.Memory, pg)
			l := ledger.New(s)
			evs := emit(t, l, 10)
			require.NoError(t, New(l, js, WithSubject(subject), WithBatch(4)).RunOnce(ctx))
			evs = append(evs, emit(t, l, 5)...)

			l2 := ledger.New(reopen())
			counting := &countingJS{JetStream: js}
			sink := New(l2, counting, WithSubject(subject), WithBatch(4))
			pos, err := sink.Consumer().Position(ctx)
			require.NoError(t, err)
			require.Equal(t, evs[9].Seq, pos)
			require.NoError(t, sink.RunOnce(ctx))
			require.EqualValues(t, 5, counting.published.Load(), "only the events after the position")
			require.Zero(t, counting.duplicates.Load())
			requireStreamHolds(t, st, subject, evs)
		})
	}
}

// With the server unreachable, Run backs off (growing waits, with jitter,
// capped) and commits nothing; when the server answers again it
// publishes everything, once, and commits.
func TestUnreachableServerBacksOffWithoutCommitting(t *testing.T) {
	js := connect(t)
	st, subject := testStream(t, js)
	u, err := url.Parse(natsURL())
	require.NoError(t, err)
	proxy := newFlakyProxy(t, u.Host)

	nc, err := nats.Connect(proxy.URL(), nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1),
		nats.ReconnectWait(20*time.Millisecond), nats.ReconnectJitter(0, 0))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	down, err := jetstream.New(nc)
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l := ledger.New(teststore.Memory(t))
	evs := emit(t, l, 8)
	logs := &logRecords{}
	lo, hi := 10*time.Millisecond, 80*time.Millisecond
	sink := New(l, down, WithSubject(subject), WithPublishTimeout(50*time.Millisecond),
		WithBackoff(lo, hi), WithLogger(slog.New(logs)))
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- sink.Run(runCtx) }()

	require.Eventually(t, func() bool { return len(logs.warnings()) >= 6 }, 10*time.Second, 5*time.Millisecond)
	for i, r := range logs.warnings()[:6] {
		require.EqualValues(t, i+1, r.attrs["attempt"].Int64())
		want := min(lo<<i, hi)
		got := r.attrs["backoff"].Duration()
		require.GreaterOrEqual(t, got, want/2, "attempt %d", i+1)
		require.LessOrEqual(t, got, want, "attempt %d", i+1)
	}
	pos, err := sink.Consumer().Position(ctx)
	require.NoError(t, err)
	require.Zero(t, pos, "nothing is committed while the server is unreachable")
	require.Empty(t, storedMessages(t, st))

	proxy.up.Store(true)
	require.Eventually(t, func() bool {
		p, err := sink.Consumer().Position(ctx)
		return err == nil && p == evs[len(evs)-1].Seq
	}, 15*time.Second, 10*time.Millisecond)
	stop()
	require.ErrorIs(t, <-done, context.Canceled)
	requireStreamHolds(t, st, subject, evs)
}

// An invalid consumer name is a configuration error: Run returns it at
// once instead of retrying forever.
func TestRunRefusesInvalidConsumer(t *testing.T) {
	l := ledger.New(teststore.Memory(t))
	err := New(l, nil, WithConsumer("no spaces")).Run(context.Background())
	require.ErrorIs(t, err, ledger.ErrInvalidEvent)
}

// The wait after n failures doubles from the first wait up to the cap,
// drawn at random in the upper half of its value.
func TestBackoffGrowsWithJitterUpToTheCap(t *testing.T) {
	s := &Sink{}
	WithBackoff(10*time.Millisecond, 75*time.Millisecond)(s)
	for failures, want := range map[int]time.Duration{1: 10, 2: 20, 3: 40, 4: 75, 9: 75, 200: 75} {
		want *= time.Millisecond
		seen := map[time.Duration]bool{}
		for range 50 {
			got := s.backoff(failures)
			require.GreaterOrEqual(t, got, want/2, "after %d failures", failures)
			require.LessOrEqual(t, got, want, "after %d failures", failures)
			seen[got] = true
		}
		require.Greater(t, len(seen), 1, "jitter: waits after %d failures differ", failures)
	}
	// A cap below the first wait is raised to it.
	WithBackoff(time.Second, time.Millisecond)(s)
	require.Equal(t, time.Second, s.maxWait)
}
