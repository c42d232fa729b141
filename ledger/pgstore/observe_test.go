package pgstore

import (
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
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/driver"
)

// sink collects what a store emits: spans, metrics and logs.
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

func (s *sink) options() []Option {
	return []Option{WithTracerProvider(s.tp), WithMeterProvider(s.mp), WithLogger(slog.New(s.logs))}
}

// metric returns the collected metric named name, or fails.
func (s *sink) metric(tb testing.TB, name string) metricdata.Aggregation {
	tb.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(tb, s.reader.Collect(context.Background(), &rm))
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				return m.Data
			}
		}
	}
	tb.Fatalf("no metric %s", name)
	return nil
}

// counter returns the value of an observable counter with one data point.
func (s *sink) counter(tb testing.TB, name string) int64 {
	tb.Helper()
	sum, ok := s.metric(tb, name).(metricdata.Sum[int64])
	require.True(tb, ok, "%s is an int64 counter", name)
	require.Len(tb, sum.DataPoints, 1)
	return sum.DataPoints[0].Value
}

func spanAttr(sp sdktrace.ReadOnlySpan, key string) attribute.Value {
	for _, kv := range sp.Attributes() {
		if string(kv.Key) == key {
			return kv.Value
		}
	}
	return attribute.Value{}
}

// logRecorder is a slog.Handler that keeps every record.
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

// errorOf returns the "error" attribute of the first record at level
// whose message contains msg, or nil.
func (h *logRecorder) errorOf(level slog.Level, msg string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.records {
		if r.Level != level || !strings.Contains(r.Message, msg) {
			continue
		}
		var found error
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "error" {
				found, _ = a.Value.Any().(error)
			}
			return true
		})
		return found
	}
	return nil
}

// TestObservedGroupCommits: the size of every committed group is
// recorded (the histogram's sum is every unit of work run), each group
// is a span linked to the span of every caller it served, each caller's
// span carries its group's size, and Stats is exported.
func TestObservedGroupCommits(t *testing.T) {
	obs := newSink(t)
	s := newStore(t, obs.options()...)
	newLedger(t, s, 100, "member:a", "member:b") // 6 units of work, untraced
	traced := ledger.New(s, ledger.WithTracerProvider(obs.tp))
	tracer := obs.tp.Tracer("test")

	const callers = 16
	var wg sync.WaitGroup
	requests := make([]trace.SpanContext, callers)
	for i := 0; i < callers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, span := tracer.Start(context.Background(), "request")
			defer span.End()
			requests[i] = span.SpanContext()
			_, err := traced.Transfer(ctx, "k"+strconv.Itoa(i), "member:a", "member:b", "EUR", decimal.NewFromInt(1))
			require.NoError(t, err)
		}()
	}
	wg.Wait()
	reqs := make([]ledger.TransferRequest, 5)
	for i := range reqs {
		reqs[i] = ledger.TransferRequest{Postings: []ledger.Posting{{From: "member:b", To: "member:a", Asset: "EUR", Amount: decimal.NewFromInt(1000)}}}
	}
	res, err := traced.PostBatch(context.Background(), reqs)
	require.NoError(t, err)
	for _, r := range res {
		require.ErrorIs(t, r.Err, ledger.ErrInsufficientFunds, "a refused unit of work still counts in its group")
	}

	const units = 6 + callers + 5
	st := s.Stats()
	h, ok := obs.metric(t, "rewardkit.pgstore.group.size").(metricdata.Histogram[int64])
	require.True(t, ok)
	require.Len(t, h.DataPoints, 1)
	require.Equal(t, st.Groups, h.DataPoints[0].Count, "one size per committed group")
	require.Equal(t, int64(units), h.DataPoints[0].Sum, "every unit of work in one committed group")
	require.Equal(t, int64(st.Groups), obs.counter(t, "rewardkit.pgstore.groups"))
	require.Equal(t, int64(0), obs.counter(t, "rewardkit.pgstore.late_begin_failures"))

	linked := map[trace.SpanID]int64{} // caller span -> size of the group that served it
	groupUnits := int64(0)
	groups := 0
	for _, sp := range obs.spans.Ended() {
		if sp.Name() != "pgstore.group" {
			continue
		}
		groups++
		size := spanAttr(sp, "rewardkit.group.size").AsInt64()
		groupUnits += size
		for _, ln := range sp.Links() {
			linked[ln.SpanContext.SpanID()] = size
		}
	}
	require.Equal(t, int(st.Groups), groups, "a span per group")
	require.Equal(t, int64(units), groupUnits)
	updates := 0
	for _, sp := range obs.spans.Ended() {
		switch sp.Name() {
		case "ledger.Update", "ledger.UpdateBatch":
			updates++
			size, ok := linked[sp.SpanContext().SpanID()]
			require.True(t, ok, "%s is linked from its group's span", sp.Name())
			require.Equal(t, size, spanAttr(sp, "rewardkit.group.size").AsInt64(), "the caller's span knows its group's size")
			if sp.Name() == "ledger.UpdateBatch" {
				require.Equal(t, int64(5), size, "a batch is a group of its own")
			}
		}
	}
	require.Equal(t, callers+1, updates)
}

// TestLateBeginFailureIsLogged: the error pgstore handles without telling
// any caller (the next group's BEGIN, sent with a COMMIT that stood,
// fails) reaches the logger at Warn, and the counter.
func TestLateBeginFailureIsLogged(t *testing.T) {
	obs := newSink(t)
	s := newStore(t, obs.options()...)
	l := newLedger(t, s, 0, "member:a")
	ctx := context.Background()
	armed := false
	s.hookLateBegin = func() error {
		if armed {
			armed = false
			return errInjected
		}
		return nil
	}
	late := make(chan error, 1)
	require.NoError(t, s.Update(ctx, func(tx driver.Tx) error {
		// Have another caller queue, so that this group's COMMIT carries
		// the next BEGIN, and fail that BEGIN.
		go func() {
			_, err := l.Transfer(ctx, "late", ledger.World, "member:a", "EUR", decimal.NewFromInt(1))
			late <- err
		}()
		for len(s.queue) == 0 {
			time.Sleep(time.Millisecond)
		}
		armed = true
		return nil
	}))
	require.NoError(t, <-late, "no caller sees the failure")
	err := obs.logs.errorOf(slog.LevelWarn, "BEGIN, sent with a COMMIT that stood, failed")
	require.True(t, errors.Is(err, errInjected), "logged: %v", err)
	require.Equal(t, int64(1), obs.counter(t, "rewardkit.pgstore.late_begin_failures"))
}
