package telemetry_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/internal/telemetry"
	"github.com/rewardkit/rewardkit/ledger/memstore"
)

// TestGlobalProvidersAreFollowed: this test binary installs global
// providers, so it is the only test that may (the ledger's own tests rely
// on none being installed). A tracer of the global provider starts no
// span until one is installed, then records; a ledger made before the
// providers were installed reports to them.
func TestGlobalProvidersAreFollowed(t *testing.T) {
	global := telemetry.NewTracer(nil, "test")
	require.False(t, global.On(), "no provider installed: no span")
	require.False(t, telemetry.NewTracer(noop.NewTracerProvider(), "test").On(), "an explicit no-op provider")
	l := ledger.New(memstore.New())
	ctx := context.Background()
	require.NoError(t, l.DefineAsset(ctx, ledger.EUR))

	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	otel.SetTracerProvider(tp)
	otel.SetMeterProvider(mp)
	t.Cleanup(func() {
		otel.SetTracerProvider(noop.NewTracerProvider())
		_ = tp.Shutdown(ctx)
		_ = mp.Shutdown(ctx)
	})
	require.True(t, global.On(), "a provider installed after the tracer was made")

	_, err := l.Balance(ctx, "member:none", "EUR")
	require.ErrorIs(t, err, ledger.ErrUnknownAccount)
	ended := spans.Ended()
	require.Len(t, ended, 1)
	require.Equal(t, "ledger.View", ended[0].Name())
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(ctx, &rm))
	var names []string
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			names = append(names, m.Name)
		}
	}
	require.Contains(t, names, "rewardkit.ledger.refusals")
	require.Contains(t, names, "rewardkit.ledger.wait.duration")

	otel.SetTracerProvider(noop.NewTracerProvider())
	require.False(t, global.On(), "a global no-op provider")
}
