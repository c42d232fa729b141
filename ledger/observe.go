package ledger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/rewardkit/rewardkit/ledger/internal/telemetry"
)

// WithLogger sets the logger the ledger reports to. The ledger returns
// every error it meets to its caller, so it logs little: at Debug, each
// retry of a unit of work that lost a race. The default discards.
func WithLogger(log *slog.Logger) Option { return func(l *Ledger) { l.obs.log = log } }

// WithTracerProvider sets where the spans of units of work go. The
// default is the global provider (otel.SetTracerProvider), followed even
// when it is installed after New; while none is installed no span is
// started at all.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(l *Ledger) { l.obs.tp = tp }
}

// WithMeterProvider sets where the ledger's metrics go. The default is the
// global provider (otel.SetMeterProvider), followed even when it is
// installed after New; while none is installed nothing is measured.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(l *Ledger) { l.obs.mp = mp }
}

// scope is the OpenTelemetry instrumentation scope of the ledger's spans
// and metrics.
const scope = "github.com/rewardkit/rewardkit/ledger"

// Names of the spans, metrics and attributes (see the package doc,
// Observability).
const (
	metricWait     = "rewardkit.ledger.wait.duration"
	metricCommit   = "rewardkit.ledger.commit.duration"
	metricRefusals = "rewardkit.ledger.refusals"
	metricFailures = "rewardkit.ledger.failures"
	metricRetries  = "rewardkit.ledger.retries"

	attrOp           = "rewardkit.op"
	attrCode         = "rewardkit.code"
	attrRule         = "rewardkit.rule"
	attrRetries      = "rewardkit.retries"
	attrBatchSize    = "rewardkit.batch.size"
	attrBatchRefused = "rewardkit.batch.refused"
	attrBatchIndex   = "rewardkit.batch.index"
	eventItemFailed  = "rewardkit.batch.item_failed"
	attrErrorType    = "error.type" // OpenTelemetry's semantic convention
)

// durationBuckets are the histogram boundaries advised for the latency
// metrics, in seconds: from 50 µs (memstore) to 10 s (a stalled group).
var durationBuckets = []float64{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// unitOp is a kind of unit of work: its span name and its attribute.
type unitOp struct {
	span string
	attr attribute.KeyValue
	set  metric.MeasurementOption // just attr
}

func newUnitOp(span, name string) *unitOp {
	a := attribute.String(attrOp, name)
	return &unitOp{span: span, attr: a, set: metric.WithAttributeSet(attribute.NewSet(a))}
}

var (
	opUpdate      = newUnitOp("ledger.Update", "update")
	opUpdateBatch = newUnitOp("ledger.UpdateBatch", "update_batch")
	opView        = newUnitOp("ledger.View", "view")
)

// observer is a Ledger's logger, tracer and instruments.
type observer struct {
	log    *slog.Logger
	tp     trace.TracerProvider // nil: the global one
	mp     metric.MeterProvider // nil: the global one
	tracer telemetry.Tracer
	m      *instruments
}

// init completes the observer once the options are applied.
func (o *observer) init() {
	o.log = telemetry.Logger(o.log)
	o.tracer = telemetry.NewTracer(o.tp, scope)
	o.m = instrumentsOf(o.mp)
}

type instruments struct {
	wait, commit                metric.Float64Histogram
	refusals, failures, retries metric.Int64Counter
}

// globalInstruments are the instruments of the global meter provider,
// made once: the global provider's instruments follow the provider
// installed later, so every Ledger of the default options shares them.
var globalInstruments = sync.OnceValue(func() *instruments { return newInstruments(otel.GetMeterProvider()) })

func instrumentsOf(mp metric.MeterProvider) *instruments {
	if mp == nil {
		return globalInstruments()
	}
	return newInstruments(mp)
}

func newInstruments(mp metric.MeterProvider) *instruments {
	m := mp.Meter(scope)
	var in instruments
	var errs [5]error
	in.wait, errs[0] = m.Float64Histogram(metricWait, metric.WithUnit("s"),
		metric.WithDescription("Time from the call of a unit of work until the store first runs it: the wait for the store's lock or group."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	in.commit, errs[1] = m.Float64Histogram(metricCommit, metric.WithUnit("s"),
		metric.WithDescription("Time from the return of a committed unit of work's function until its store returned: the commit."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	in.refusals, errs[2] = m.Int64Counter(metricRefusals, metric.WithUnit("{refusal}"),
		metric.WithDescription("Units of work (and batch items) refused by a rule, by error code and rule."))
	in.failures, errs[3] = m.Int64Counter(metricFailures, metric.WithUnit("{failure}"),
		metric.WithDescription("Units of work (and batch items) that ended in an error of code internal or unavailable."))
	in.retries, errs[4] = m.Int64Counter(metricRetries, metric.WithUnit("{retry}"),
		metric.WithDescription("Units of work run again after losing a race with another writer."))
	if err := errors.Join(errs[:]...); err != nil {
		// The instruments returned are still usable (no-ops); the error
		// goes where OpenTelemetry sends its own.
		otel.Handle(err)
	}
	return &in
}

// systemError reports whether an error of code c is the system's (worth
// an Error status on a span) rather than a refusal of the request.
func systemError(c Code) bool { return c == CodeInternal || c == CodeUnavailable }

// unit observes one unit of work. A nil *unit observes nothing: it is what
// start returns when no span, metric or log would be kept, and every
// method is then a no-op that allocates nothing.
type unit struct {
	o     *observer
	op    *unitOp
	ctx   context.Context
	span  trace.Span // nil when not tracing
	timed bool       // a latency histogram is enabled

	start    time.Time // the call
	ran      time.Time // the store first ran the function
	returned time.Time // the function last returned
	retries  int
}

// start begins observing a unit of work of op (batch: how many functions
// an UpdateBatch runs) and returns the context to run it in, which
// carries its span.
func (o *observer) start(ctx context.Context, op *unitOp, batch int) (context.Context, *unit) {
	tracing := o.tracer.On()
	timed := o.m.wait.Enabled(ctx) || o.m.commit.Enabled(ctx)
	if !tracing && !timed && !o.m.refusals.Enabled(ctx) && !o.m.failures.Enabled(ctx) &&
		!o.m.retries.Enabled(ctx) && !o.log.Enabled(ctx, slog.LevelDebug) {
		return ctx, nil
	}
	u := &unit{o: o, op: op, timed: timed}
	if tracing {
		ctx, u.span = o.tracer.Start(ctx, op.span)
		if op == opUpdateBatch {
			u.span.SetAttributes(attribute.Int(attrBatchSize, batch))
		}
	}
	u.ctx = ctx
	if timed {
		u.start = time.Now()
	}
	return ctx, u
}

// observed returns fn, timed when u measures latency: the first time the
// store runs it ends the wait, its last return starts the commit.
func observed[T any](u *unit, fn func(T) error) func(T) error {
	if u == nil || !u.timed {
		return fn
	}
	return func(tx T) error {
		if u.ran.IsZero() {
			u.ran = time.Now()
		}
		err := fn(tx)
		u.returned = time.Now()
		return err
	}
}

// observedAll is observed for every function of a batch.
func observedAll[T any](u *unit, fns []func(T) error) []func(T) error {
	if u == nil || !u.timed {
		return fns
	}
	out := make([]func(T) error, len(fns))
	for i, fn := range fns {
		out[i] = observed(u, fn)
	}
	return out
}

// retry notes that the unit of work lost a race (err) and runs again.
func (u *unit) retry(err error) {
	if u == nil {
		return
	}
	u.retries++
	u.o.log.LogAttrs(u.ctx, slog.LevelDebug, "ledger: unit of work lost a race; running it again",
		slog.String(attrOp, u.op.attr.Value.AsString()), slog.Int("retry", u.retries), slog.Any("error", err))
}

// done ends the observation of an Update or View when it returns err or
// panics. It must be deferred itself (not called by a deferred function)
// to see the panic, which it records as an internal error and raises
// again: a unit of work that panicked must not look like a success.
func (u *unit) done(err *error) {
	if u == nil {
		return
	}
	if p := recover(); p != nil {
		u.end(panicError(p))
		panic(p)
	}
	u.end(*err)
}

// doneBatch is done for an UpdateBatch.
func (u *unit) doneBatch(errs *[]error, err *error) {
	if u == nil {
		return
	}
	if p := recover(); p != nil {
		u.endBatch(nil, panicError(p))
		panic(p)
	}
	u.endBatch(*errs, *err)
}

// errPanicked marks a unit of work that panicked: a bug, so internal,
// whatever the value it panicked with wraps.
var errPanicked = NewError(CodeInternal, "ledger: unit of work panicked")

// panicError is what a panic is recorded as.
func panicError(p any) error {
	if err, ok := p.(error); ok {
		return fmt.Errorf("%w: %w", errPanicked, err)
	}
	return fmt.Errorf("%w: %v", errPanicked, p)
}

// end ends the observation of an Update or View that returned err.
func (u *unit) end(err error) {
	u.finish(err)
	if err != nil {
		u.count(err)
	}
	if u.span != nil {
		u.span.End()
	}
}

// endBatch ends the observation of an UpdateBatch: err for the batch as a
// whole, errs per item.
func (u *unit) endBatch(errs []error, err error) {
	u.finish(err)
	refused := 0
	for i, e := range errs {
		if e == nil {
			continue
		}
		refused++
		u.count(e)
		if u.span != nil {
			// Which item, and why; the span's own status stays unset
			// (the batch committed the rest).
			u.span.AddEvent(eventItemFailed, trace.WithAttributes(u.errorAttrs(e, attribute.Int(attrBatchIndex, i))...))
		}
	}
	if err != nil {
		u.count(err)
	}
	if u.span != nil {
		u.span.SetAttributes(attribute.Int(attrBatchRefused, refused))
		u.span.End()
	}
}

// finish records the latencies, the retries and the span's outcome.
func (u *unit) finish(err error) {
	ctx, m := u.ctx, u.o.m
	if u.timed && !u.ran.IsZero() {
		now := time.Now()
		m.wait.Record(ctx, u.ran.Sub(u.start).Seconds(), u.op.set)
		if err == nil && u.op != opView {
			m.commit.Record(ctx, now.Sub(u.returned).Seconds(), u.op.set)
		}
	}
	if u.retries > 0 {
		m.retries.Add(ctx, int64(u.retries), u.op.set)
	}
	if u.span == nil {
		return
	}
	u.span.SetAttributes(attribute.Int(attrRetries, u.retries))
	if err == nil {
		return
	}
	code := ErrorCode(err)
	u.span.SetAttributes(attribute.String(attrCode, string(code)))
	if rule := RuleOf(err); rule != "" {
		u.span.SetAttributes(attribute.String(attrRule, rule))
	}
	if systemError(code) {
		u.span.SetAttributes(attribute.String(attrErrorType, string(code)))
		u.span.RecordError(err)
		u.span.SetStatus(codes.Error, err.Error())
	}
}

// count adds err to the refusals or the failures.
func (u *unit) count(err error) {
	code := ErrorCode(err)
	c := u.o.m.refusals
	if systemError(code) {
		c = u.o.m.failures
	}
	if !c.Enabled(u.ctx) {
		return
	}
	c.Add(u.ctx, 1, metric.WithAttributes(u.errorAttrs(err, u.op.attr)...))
}

// errorAttrs returns first followed by err's code and rule (if any).
func (u *unit) errorAttrs(err error, first attribute.KeyValue) []attribute.KeyValue {
	attrs := []attribute.KeyValue{first, attribute.String(attrCode, string(ErrorCode(err)))}
	if rule := RuleOf(err); rule != "" {
		attrs = append(attrs, attribute.String(attrRule, rule))
	}
	return attrs
}
