// Package telemetry holds what the ledger and its stores share to emit
// traces, metrics and logs through the OpenTelemetry API and log/slog at
// no cost when nobody listens.
//
// The OpenTelemetry API is no-op until an integrator installs a provider,
// but not free: a span started from the global provider before one is
// installed still allocates (a non-recording span and a context). Tracer
// therefore starts no span at all while the global provider is the
// API's own placeholder, and metrics are recorded only when an
// instrument's Enabled says so; a hot path that nobody observes costs a
// few atomic loads.
package telemetry

import (
	"context"
	"log/slog"
	"reflect"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// placeholder is the global tracer provider the API installs before any
// SetTracerProvider: a delegating provider whose spans record nothing
// until a real one is set. It is nil if a provider was set before this
// package's initialisation (another package's init): then the global
// provider is real and always traced.
var placeholder = func() trace.TracerProvider {
	tp := otel.GetTracerProvider()
	if t := reflect.TypeOf(tp); t.Kind() == reflect.Pointer && t.Elem().PkgPath() == "go.opentelemetry.io/otel/internal/global" {
		return tp
	}
	return nil
}()

// Tracer starts spans from an explicit provider, or from the global one
// once an integrator has installed it.
type Tracer struct {
	tracer   trace.Tracer
	explicit bool // from a provider given as an option (not a no-op one)
	off      bool // an explicit no-op provider
}

// NewTracer returns a Tracer of the instrumentation scope named scope
// from tp, or from the global provider if tp is nil. A tracer from the
// global provider follows it: spans start once SetTracerProvider has been
// called, even after NewTracer.
func NewTracer(tp trace.TracerProvider, scope string) Tracer {
	if tp == nil {
		return Tracer{tracer: otel.GetTracerProvider().Tracer(scope)}
	}
	if _, ok := tp.(noop.TracerProvider); ok {
		return Tracer{off: true}
	}
	return Tracer{tracer: tp.Tracer(scope), explicit: true}
}

// On reports whether a span started now could be recorded: the provider
// was given explicitly, or a global one other than a no-op has been
// installed.
func (t Tracer) On() bool {
	if t.explicit {
		return true
	}
	if t.off || t.tracer == nil {
		return false
	}
	tp := otel.GetTracerProvider()
	if _, noOp := tp.(noop.TracerProvider); noOp {
		return false
	}
	return placeholder == nil || tp != placeholder
}

// Start starts a span; call it only when On.
func (t Tracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	return t.tracer.Start(ctx, name, opts...)
}

// Logger returns l, or a logger that discards everything if l is nil.
func Logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}
