package ledger_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/shopspring/decimal"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/rewardkit/rewardkit/ledger"
)

// BenchmarkPostDefault and BenchmarkPostObserved are a pair: Ledger.Post
// with the default options (no provider installed: the instrumentation
// must cost nothing, the allocations per Post are those of the ledger
// before it had any) and with the OpenTelemetry SDK recording every span
// and metric (what observing costs).
func BenchmarkPostDefault(b *testing.B) {
	benchmarkPost(b)
}

func BenchmarkPostObserved(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	b.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	benchmarkPost(b, ledger.WithTracerProvider(tp), ledger.WithMeterProvider(mp))
}

func benchmarkPost(b *testing.B, opts ...ledger.Option) {
	setup, addrs := benchLedger(b)
	l := ledger.New(setup.Store(), opts...)
	ctx := context.Background()
	one := decimal.NewFromInt(1)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		from, to := addrs[i%benchAccounts], addrs[(i*7+1)%benchAccounts]
		if from == to {
			to = addrs[(i+1)%benchAccounts]
		}
		if _, err := l.Post(ctx, ledger.TransferRequest{Key: "t" + strconv.Itoa(i), Postings: []ledger.Posting{{From: from, To: to, Asset: "COIN", Amount: one}}}); err != nil {
			b.Fatal(err)
		}
	}
}
