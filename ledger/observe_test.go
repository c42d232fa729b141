package ledger_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/driver"
	"github.com/rewardkit/rewardkit/ledger/memstore"
	"github.com/rewardkit/rewardkit/ledger/teststore"
)

// sink collects what a ledger emits: spans in a recorder, metrics in a
// manual reader, logs in a recorder.
type sink struct {
	spans  *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
	reader *sdkmetric.ManualReader
	mp     *sdkmetric.MeterProvider
	logs   *logRecorder
}

func newSink(tb testing.TB) *sink {
	tb.Helper()
	s := &sink{spans: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader(), logs: &logRecorder{}}
	s.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(s.spans))
	s.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(s.reader))
	tb.Cleanup(func() {
		_ = s.tp.Shutdown(context.Background())
		_ = s.mp.Shutdown(context.Background())
	})
	return s
}

func (s *sink) options() []ledger.Option {
	return []ledger.Option{ledger.WithTracerProvider(s.tp), ledger.WithMeterProvider(s.mp), ledger.WithLogger(slog.New(s.logs))}
}

// ended returns the ended spans named name.
func (s *sink) ended(name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, sp := range s.spans.Ended() {
		if sp.Name() == name {
			out = append(out, sp)
		}
	}
	return out
}

// metric returns the collected metric named name; one with no data
// point yet is not collected at all.
func (s *sink) metric(tb testing.TB, name string) (metricdata.Metrics, bool) {
	tb.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(tb, s.reader.Collect(context.Background(), &rm))
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				return m, true
			}
		}
	}
	return metricdata.Metrics{}, false
}

// count returns a counter's value for exactly the attributes given (0 if
// it has no such data point).
func (s *sink) count(tb testing.TB, name string, attrs ...attribute.KeyValue) int64 {
	tb.Helper()
	m, found := s.metric(tb, name)
	if !found {
		return 0
	}
	sum, ok := m.Data.(metricdata.Sum[int64])
	require.True(tb, ok, "%s is an int64 counter", name)
	want := attribute.NewSet(attrs...)
	for _, dp := range sum.DataPoints {
		if dp.Attributes.Equals(&want) {
			return dp.Value
		}
	}
	return 0
}

// observations returns how many values a histogram holds for exactly the
// attributes given.
func (s *sink) observations(tb testing.TB, name string, attrs ...attribute.KeyValue) uint64 {
	tb.Helper()
	m, found := s.metric(tb, name)
	if !found {
		return 0
	}
	h, ok := m.Data.(metricdata.Histogram[float64])
	require.True(tb, ok, "%s is a float64 histogram", name)
	want := attribute.NewSet(attrs...)
	for _, dp := range h.DataPoints {
		if dp.Attributes.Equals(&want) {
			return dp.Count
		}
	}
	return 0
}

// attr returns a span's attribute, or an empty value.
func attr(sp sdktrace.ReadOnlySpan, key string) attribute.Value {
	for _, kv := range sp.Attributes() {
		if string(kv.Key) == key {
			return kv.Value
		}
	}
	return attribute.Value{}
}

// logRecorder is a slog.Handler that keeps every record at Debug and up.
type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *logRecorder) WithGroup(string) slog.Handler            { return h }
func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, r.Clone())
	return nil
}

// matching returns the records at level whose message contains msg.
func (h *logRecorder) matching(level slog.Level, msg string) []slog.Record {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []slog.Record
	for _, r := range h.records {
		if r.Level == level && strings.Contains(r.Message, msg) {
			out = append(out, r)
		}
	}
	return out
}

var (
	opUpdate      = attribute.String("rewardkit.op", "update")
	opUpdateBatch = attribute.String("rewardkit.op", "update_batch")
	opView        = attribute.String("rewardkit.op", "view")
	codeFailed    = attribute.String("rewardkit.code", string(ledger.CodeFailedPrecondition))
	codeUnavail   = attribute.String("rewardkit.code", string(ledger.CodeUnavailable))
)

// observedLedger sets up, on store, EUR, World and alice (10 EUR) and bob
// (empty) through an unobserved ledger, and returns a ledger on the same
// store that reports to a new sink.
func observedLedger(t *testing.T, store driver.Store, opts ...ledger.Option) (*ledger.Ledger, *sink) {
	t.Helper()
	ctx := context.Background()
	setup := ledger.New(store)
	require.NoError(t, setup.DefineAsset(ctx, ledger.EUR))
	for _, spec := range []ledger.AccountSpec{{Address: ledger.World, Overdraft: ledger.Overdraft{Unbounded: true}}, {Address: alice}, {Address: bob}} {
		_, err := setup.OpenAccount(ctx, spec)
		require.NoError(t, err)
	}
	_, err := setup.Transfer(ctx, "fund", ledger.World, alice, "EUR", dec("10"))
	require.NoError(t, err)
	s := newSink(t)
	return ledger.New(store, append(s.options(), opts...)...), s
}

// TestObservedUnitsOfWork: on both stores, every unit of work (Update
// through a one-call shortcut, UpdateBatch through PostBatch, View
// through Balance) is a span, child of the caller's span, with its
// outcome; refusals are counted by code and rule without marking the span
// an error; wait and commit latencies are recorded per unit of work.
func TestObservedUnitsOfWork(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		l, s := observedLedger(t, open(t))
		ctx, parent := s.tp.Tracer("test").Start(context.Background(), "request")

		_, err := l.Transfer(ctx, "ok", alice, bob, "EUR", dec("1"))
		require.NoError(t, err)
		for i := 0; i < 3; i++ {
			_, err := l.Transfer(ctx, "", bob, alice, "EUR", dec("100"))
			require.ErrorIs(t, err, ledger.ErrInsufficientFunds)
		}
		err = l.Update(ctx, func(w *ledger.Writer) error {
			return ledger.Refuse(ledger.ErrInsufficientFunds, "daily_spend_limit", "over the day's limit")
		})
		require.ErrorIs(t, err, ledger.ErrInsufficientFunds)
		res, err := l.PostBatch(ctx, []ledger.TransferRequest{
			{Postings: []ledger.Posting{posting(alice, bob, "EUR", "1")}},
			{Postings: []ledger.Posting{posting(bob, alice, "EUR", "100")}},
			{Postings: []ledger.Posting{posting(bob, alice, "EUR", "200")}},
		})
		require.NoError(t, err)
		require.NoError(t, res[0].Err)
		_, err = l.Balance(ctx, bob, "EUR")
		require.NoError(t, err)
		parent.End()

		// One span per unit of work, each a child of the caller's.
		updates, batches, views := s.ended("ledger.Update"), s.ended("ledger.UpdateBatch"), s.ended("ledger.View")
		require.Len(t, updates, 5)
		require.Len(t, batches, 1)
		require.Len(t, views, 1)
		for _, sp := range append(append(updates, batches...), views...) {
			require.Equal(t, parent.SpanContext().SpanID(), sp.Parent().SpanID(), "%s is a child of the caller's span", sp.Name())
			require.Equal(t, parent.SpanContext().TraceID(), sp.SpanContext().TraceID())
			require.Equal(t, int64(0), attr(sp, "rewardkit.retries").AsInt64(), "%s: no race lost", sp.Name())
			require.Equal(t, codes.Unset, sp.Status().Code, "%s: a refusal is not a system error", sp.Name())
		}
		require.Equal(t, attribute.INVALID, attr(updates[0], "rewardkit.code").Type(), "a committed unit of work has no code")
		for _, sp := range updates[1:4] {
			require.Equal(t, "failed_precondition", attr(sp, "rewardkit.code").AsString())
			require.Equal(t, attribute.INVALID, attr(sp, "rewardkit.rule").Type(), "no named rule refused")
		}
		require.Equal(t, "failed_precondition", attr(updates[4], "rewardkit.code").AsString())
		require.Equal(t, "daily_spend_limit", attr(updates[4], "rewardkit.rule").AsString())
		b := batches[0]
		require.Equal(t, int64(3), attr(b, "rewardkit.batch.size").AsInt64())
		require.Equal(t, int64(2), attr(b, "rewardkit.batch.refused").AsInt64())
		var failed []int64
		for _, ev := range b.Events() {
			if ev.Name == "rewardkit.batch.item_failed" {
				for _, kv := range ev.Attributes {
					if kv.Key == "rewardkit.batch.index" {
						failed = append(failed, kv.Value.AsInt64())
					}
				}
			}
		}
		require.Equal(t, []int64{1, 2}, failed, "the refused items, by index")

		// Refusals by code (and rule), per kind of unit of work.
		require.Equal(t, int64(3), s.count(t, "rewardkit.ledger.refusals", opUpdate, codeFailed))
		require.Equal(t, int64(1), s.count(t, "rewardkit.ledger.refusals", opUpdate, codeFailed, attribute.String("rewardkit.rule", "daily_spend_limit")))
		require.Equal(t, int64(2), s.count(t, "rewardkit.ledger.refusals", opUpdateBatch, codeFailed))
		require.Equal(t, int64(0), s.count(t, "rewardkit.ledger.failures", opUpdate, codeUnavail))

		// A wait for every unit of work; a commit for each that committed.
		require.Equal(t, uint64(5), s.observations(t, "rewardkit.ledger.wait.duration", opUpdate))
		require.Equal(t, uint64(1), s.observations(t, "rewardkit.ledger.wait.duration", opUpdateBatch))
		require.Equal(t, uint64(1), s.observations(t, "rewardkit.ledger.wait.duration", opView))
		require.Equal(t, uint64(1), s.observations(t, "rewardkit.ledger.commit.duration", opUpdate))
		require.Equal(t, uint64(1), s.observations(t, "rewardkit.ledger.commit.duration", opUpdateBatch))
	})
}

// TestObservedRetries: on both stores, a unit of work that lost races is
// retried, and says so: the span's retries, the retries counter, a Debug
// log per retry; one that runs out of retries is a system error
// (unavailable): span status Error and the failures counter.
func TestObservedRetries(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		l, s := observedLedger(t, open(t), ledger.WithRetries(3))
		ctx := context.Background()

		attempts := 0
		require.NoError(t, l.Update(ctx, func(w *ledger.Writer) error {
			attempts++
			if attempts <= 2 {
				return fmt.Errorf("lost: %w", ledger.ErrConflict)
			}
			_, err := w.Post(ledger.TransferRequest{Postings: []ledger.Posting{posting(alice, bob, "EUR", "1")}})
			return err
		}))
		err := l.Update(ctx, func(w *ledger.Writer) error { return fmt.Errorf("lost: %w", ledger.ErrConflict) })
		require.ErrorIs(t, err, ledger.ErrConflict)

		sp := s.ended("ledger.Update")
		require.Len(t, sp, 2)
		require.Equal(t, int64(2), attr(sp[0], "rewardkit.retries").AsInt64())
		require.Equal(t, codes.Unset, sp[0].Status().Code)
		require.Equal(t, attribute.INVALID, attr(sp[0], "rewardkit.code").Type())
		require.Equal(t, int64(3), attr(sp[1], "rewardkit.retries").AsInt64())
		require.Equal(t, "unavailable", attr(sp[1], "rewardkit.code").AsString())
		require.Equal(t, "unavailable", attr(sp[1], "error.type").AsString())
		require.Equal(t, codes.Error, sp[1].Status().Code, "a unit of work that could not be completed is a system error")

		require.Equal(t, int64(5), s.count(t, "rewardkit.ledger.retries", opUpdate))
		require.Equal(t, int64(1), s.count(t, "rewardkit.ledger.failures", opUpdate, codeUnavail))
		require.Equal(t, int64(0), s.count(t, "rewardkit.ledger.refusals", opUpdate, codeUnavail), "a lost race is no refusal")
		require.Len(t, s.logs.matching(slog.LevelDebug, "lost a race"), 5)
		require.Equal(t, uint64(1), s.observations(t, "rewardkit.ledger.commit.duration", opUpdate))
	})
}

// TestUnobservedLedgerStartsNoSpan: with the default options and no global
// provider installed (none is, in this test binary), a unit of work runs
// in its caller's own context: no span, no context is made for it.
func TestUnobservedLedgerStartsNoSpan(t *testing.T) {
	l := ledger.New(memstore.New())
	type key struct{}
	ctx := context.WithValue(context.Background(), key{}, "caller")
	require.NoError(t, l.Update(ctx, func(w *ledger.Writer) error {
		require.True(t, w.Context() == ctx, "the caller's context, not one wrapping it")
		return nil
	}))
	require.NoError(t, l.View(ctx, func(r *ledger.Reader) error {
		require.True(t, r.Context() == ctx)
		require.False(t, trace.SpanFromContext(r.Context()).SpanContext().IsValid())
		return nil
	}))
}

// TestObservedPanic: a unit of work whose function panics is an internal
// error on its span and in the failures counter, and the panic still
// reaches the caller.
func TestObservedPanic(t *testing.T) {
	l, s := observedLedger(t, memstore.New())
	ctx := context.Background()
	require.PanicsWithValue(t, "boom", func() {
		_ = l.Update(ctx, func(w *ledger.Writer) error { panic("boom") })
	})
	require.PanicsWithError(t, ledger.ErrInsufficientFunds.Error(), func() {
		_ = l.View(ctx, func(r *ledger.Reader) error { panic(ledger.ErrInsufficientFunds) })
	})
	for _, sp := range s.spans.Ended() {
		require.Equal(t, codes.Error, sp.Status().Code, sp.Name())
		require.Equal(t, "internal", attr(sp, "rewardkit.code").AsString(), "%s: a panic is a bug, whatever its value", sp.Name())
	}
	require.Len(t, s.spans.Ended(), 2)
	codeInternal := attribute.String("rewardkit.code", "internal")
	require.Equal(t, int64(1), s.count(t, "rewardkit.ledger.failures", opUpdate, codeInternal))
	require.Equal(t, int64(1), s.count(t, "rewardkit.ledger.failures", opView, codeInternal))
}
