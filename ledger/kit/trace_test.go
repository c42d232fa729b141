package kit_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/memstore"
)

// TestOnceNamesTheEventInTheSpan: a traced unit of work shows which
// program event ran in it, and whether it was a replay or refused.
func TestOnceNamesTheEventInTheSpan(t *testing.T) {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	l := ledger.New(memstore.New(), ledger.WithTracerProvider(tp))
	ctx := context.Background()
	ev := kit.Event{Kind: "test.event", ID: "e1", Op: "grant", Request: "ann"}
	run := func(ev kit.Event) error {
		_, _, err := kit.RunOnce(ctx, l, ev, func(w *ledger.Writer) (string, error) { return "done", nil })
		return err
	}
	require.NoError(t, run(ev))
	require.NoError(t, run(ev))
	ev.Op = "revoke"
	require.ErrorIs(t, run(ev), ledger.ErrIdempotencyConflict)

	type seen struct {
		op, code string
		replay   bool
	}
	var got []seen
	for _, s := range spans.Ended() {
		require.Equal(t, "ledger.Update", s.Name())
		for _, e := range s.Events() {
			require.Equal(t, "rewardkit.event", e.Name)
			set := attribute.NewSet(e.Attributes...)
			kind, _ := set.Value("rewardkit.event.kind")
			id, _ := set.Value("rewardkit.event.id")
			require.Equal(t, "test.event", kind.AsString())
			require.Equal(t, "e1", id.AsString())
			op, _ := set.Value("rewardkit.event.op")
			code, _ := set.Value("rewardkit.code")
			replay, _ := set.Value("rewardkit.event.replay")
			got = append(got, seen{op.AsString(), code.AsString(), replay.AsBool()})
		}
	}
	require.Equal(t, []seen{{"grant", "ok", false}, {"grant", "ok", true}, {"revoke", "conflict", false}}, got)
}
