package kit

import (
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/rewardkit/rewardkit/ledger"
)

// eventName is the name of the span event Once adds to the unit of work's
// span: a program's operation, so that a trace of a unit of work shows
// which events ran in it (a cross-program flow runs several).
const eventName = "rewardkit.event"

// traceEvent adds ev to the span of w's unit of work, if one is recorded
// (see the ledger's Observability): its kind, ID and operation, whether it
// was a replay, and whether it failed. It costs nothing when the unit of
// work is not traced.
func traceEvent(w *ledger.Writer, ev Event, replay bool, err error) {
	span := trace.SpanFromContext(w.Context())
	if !span.IsRecording() {
		return
	}
	span.AddEvent(eventName, trace.WithAttributes(
		attribute.String("rewardkit.event.kind", ev.Kind),
		attribute.String("rewardkit.event.id", ev.ID),
		attribute.String("rewardkit.event.op", ev.Op),
		attribute.Bool("rewardkit.event.replay", replay),
		attribute.String("rewardkit.code", string(ledger.ErrorCode(err))),
	))
}
