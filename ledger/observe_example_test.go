package ledger_test

import (
	"context"
	"fmt"

	"github.com/shopspring/decimal"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/memstore"
)

// Tracing and metrics with the OpenTelemetry SDK: a span per unit of work
// under the caller's span, and a refusal counted by its code. A service
// installs its exporting providers the same way (or globally, with
// otel.SetTracerProvider and otel.SetMeterProvider); here an in-memory
// recorder and a manual reader stand in for them.
func ExampleWithTracerProvider() {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	l := ledger.New(memstore.New(), ledger.WithTracerProvider(tp), ledger.WithMeterProvider(mp))

	ctx, request := tp.Tracer("shop").Start(context.Background(), "POST /gifts")
	_ = l.DefineAsset(ctx, ledger.EUR)
	_, _ = l.OpenAccount(ctx, ledger.AccountSpec{Address: ledger.World, Overdraft: ledger.Overdraft{Unbounded: true}})
	_, _ = l.OpenAccount(ctx, ledger.AccountSpec{Address: "member:1"})
	_, err := l.Transfer(ctx, "gift-1", "member:1", ledger.World, "EUR", decimal.RequireFromString("5.00"))
	fmt.Println(ledger.ErrorCode(err))
	request.End()

	for _, s := range spans.Ended() {
		if s.Parent().SpanID() != request.SpanContext().SpanID() {
			continue
		}
		fmt.Print(s.Name(), " status=", s.Status().Code)
		for _, kv := range s.Attributes() {
			if kv.Key == "rewardkit.code" {
				fmt.Print(" code=", kv.Value.AsString())
			}
		}
		fmt.Println()
	}
	var rm metricdata.ResourceMetrics
	_ = reader.Collect(context.Background(), &rm)
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if sum, ok := m.Data.(metricdata.Sum[int64]); ok && m.Name == "rewardkit.ledger.refusals" {
				for _, dp := range sum.DataPoints {
					code, _ := dp.Attributes.Value("rewardkit.code")
					fmt.Println(m.Name, code.AsString(), dp.Value)
				}
			}
		}
	}
	// Output:
	// failed_precondition
	// ledger.Update status=Unset
	// ledger.Update status=Unset
	// ledger.Update status=Unset
	// ledger.Update status=Unset code=failed_precondition
	// rewardkit.ledger.refusals failed_precondition 1
}
