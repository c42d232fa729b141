package pgstore

import (
	"context"
	"errors"
	"log/slog"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/internal/telemetry"
)

// WithLogger sets the logger the store reports to what it handles
// without returning it to any caller: a connection found dead and
// replaced (Warn), a BEGIN sent with a COMMIT that failed while the
// COMMIT stood (Warn), a ROLLBACK that failed (Warn, the connection is
// then closed), a group rolled back because a key taken for new was in
// the journal (Info; its callers retry), a connection that failed to
// close (Debug). The default discards.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithTracerProvider sets where the spans of group commits go: one span
// "pgstore.group" per group, linked to the span of each caller's unit of
// work (a group serves many callers, so it is the child of none). The
// default is the global provider, followed even when it is installed
// after Open; while none is installed no span is started.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(o *options) { o.tp = tp }
}

// WithMeterProvider sets where the store's metrics go: the histogram of
// units of work per durable commit and Stats as observable counters. The
// default is the global provider, followed even when it is installed
// after Open.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(o *options) { o.mp = mp }
}

// scope is the OpenTelemetry instrumentation scope of the store.
const scope = "github.com/rewardkit/rewardkit/ledger/pgstore"

// Names of the store's span, metrics and attributes (see the package doc,
// Observability).
const (
	spanGroup = "pgstore.group"

	metricGroupSize    = "rewardkit.pgstore.group.size"
	metricGroups       = "rewardkit.pgstore.groups"
	metricKeyRechecks  = "rewardkit.pgstore.key_rechecks"
	metricBeginRetries = "rewardkit.pgstore.begin_retries"
	metricReadRetries  = "rewardkit.pgstore.read_retries"
	metricLateBegins   = "rewardkit.pgstore.late_begin_failures"
	metricQueue        = "rewardkit.pgstore.queue.length"
	metricReplicaReads = "rewardkit.pgstore.replica.reads"
	metricReplicaSkips = "rewardkit.pgstore.replica.skips"

	attrGroupSize     = "rewardkit.group.size"
	attrGroupRequests = "rewardkit.group.requests"
	attrCode          = "rewardkit.code"
)

// groupSizeBuckets are the boundaries advised for the group size: powers
// of two up to the default WithMaxGroup.
var groupSizeBuckets = []float64{1, 2, 4, 8, 16, 32, 64, 128, 256}

// observer is a Store's logger, tracer and instruments.
type observer struct {
	log       *slog.Logger
	tracer    telemetry.Tracer
	groupSize metric.Int64Histogram
	reg       metric.Registration // the Stats callback; unregistered by Close
}

// newObserver makes the store's observer from its options and registers
// the callback that reports Stats.
func newObserver(s *Store, o options) *observer {
	ob := &observer{log: telemetry.Logger(o.log), tracer: telemetry.NewTracer(o.tp, scope)}
	mp := o.mp
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	m := mp.Meter(scope)
	var errs []error
	check := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	var err error
	ob.groupSize, err = m.Int64Histogram(metricGroupSize, metric.WithUnit("{unit}"),
		metric.WithDescription("Units of work made durable by one COMMIT (a group commit, or one UpdateBatch's functions)."),
		metric.WithExplicitBucketBoundaries(groupSizeBuckets...))
	check(err)
	counter := func(name, desc string) metric.Int64ObservableCounter {
		c, err := m.Int64ObservableCounter(name, metric.WithDescription(desc))
		check(err)
		return c
	}
	groups := counter(metricGroups, "Groups committed (Stats.Groups).")
	rechecks := counter(metricKeyRechecks, "Groups rolled back because a key taken for new was in the journal (Stats.KeyRechecks).")
	begins := counter(metricBeginRetries, "BEGINs sent again on a new connection (Stats.BeginRetries).")
	reads := counter(metricReadRetries, "Views begun again on another connection (Stats.ReadRetries).")
	lates := counter(metricLateBegins, "BEGINs sent with a COMMIT that stood and failed (Stats.LateBeginFailures).")
	replicaReads := counter(metricReplicaReads, "Views served by the replica (Stats.ReplicaReads).")
	replicaSkips := counter(metricReplicaSkips, "Views served by the primary because the replica was not proven fresh (Stats.ReplicaSkips).")
	queue, err := m.Int64ObservableGauge(metricQueue, metric.WithUnit("{request}"),
		metric.WithDescription("Units of work waiting for the committer."))
	check(err)
	ob.reg, err = m.RegisterCallback(func(_ context.Context, obs metric.Observer) error {
		st := s.Stats()
		obs.ObserveInt64(groups, int64(st.Groups))
		obs.ObserveInt64(rechecks, int64(st.KeyRechecks))
		obs.ObserveInt64(begins, int64(st.BeginRetries))
		obs.ObserveInt64(reads, int64(st.ReadRetries))
		obs.ObserveInt64(lates, int64(st.LateBeginFailures))
		obs.ObserveInt64(replicaReads, int64(st.ReplicaReads))
		obs.ObserveInt64(replicaSkips, int64(st.ReplicaSkips))
		obs.ObserveInt64(queue, int64(len(s.queue)))
		return nil
	}, groups, rechecks, begins, reads, lates, replicaReads, replicaSkips, queue)
	check(err)
	if len(errs) > 0 {
		// What was made still works (unusable instruments are no-ops);
		// the error goes where OpenTelemetry sends its own.
		otel.Handle(errors.Join(errs...))
	}
	return ob
}

// close unregisters the Stats callback, so that a meter provider that
// outlives the store does not keep it.
func (ob *observer) close() {
	if ob.reg == nil {
		return
	}
	if err := ob.reg.Unregister(); err != nil {
		ob.log.LogAttrs(context.Background(), slog.LevelWarn, "pgstore: unregister the metrics callback", slog.Any("error", err))
	}
}

// startGroup starts the span of a group, linked to each caller's span,
// or returns nil when spans are not recorded.
func (ob *observer) startGroup(ctx context.Context, group []*request) trace.Span {
	if !ob.tracer.On() {
		return nil
	}
	links := make([]trace.Link, 0, len(group))
	for _, r := range group {
		if l := trace.LinkFromContext(r.ctx); l.SpanContext.IsValid() {
			links = append(links, l)
		}
	}
	_, span := ob.tracer.Start(ctx, spanGroup, trace.WithLinks(links...), trace.WithSpanKind(trace.SpanKindClient))
	return span
}

// endGroup records a group's outcome: its size (the units of work it ran)
// in the histogram if it committed, on its span, and on the span of each
// caller whose unit of work it ran. A group that failed gave every
// request its error (runGroup).
func (ob *observer) endGroup(ctx context.Context, span trace.Span, group []*request) {
	err := group[0].err
	units, requests := 0, 0
	for _, r := range group {
		if r.state.Load() == requestClaimed {
			units += len(r.fns)
			requests++
		}
	}
	if err == nil && units > 0 && ob.groupSize.Enabled(ctx) {
		ob.groupSize.Record(ctx, int64(units))
	}
	for _, r := range group {
		if cs := trace.SpanFromContext(r.ctx); r.state.Load() == requestClaimed && cs.IsRecording() {
			cs.SetAttributes(attribute.Int(attrGroupSize, units))
		}
	}
	if span == nil {
		return
	}
	span.SetAttributes(attribute.Int(attrGroupSize, units), attribute.Int(attrGroupRequests, requests))
	if err != nil {
		span.SetAttributes(attribute.String(attrCode, string(ledger.ErrorCode(err))))
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// logHidden logs at level an error the store handled without returning it
// to a caller.
func (ob *observer) logHidden(level slog.Level, msg string, err error, attrs ...slog.Attr) {
	ctx := context.Background()
	if !ob.log.Enabled(ctx, level) {
		return
	}
	ob.log.LogAttrs(ctx, level, msg, append(attrs, slog.Any("error", err))...)
}
