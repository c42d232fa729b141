package kit

import (
	"context"

	"github.com/rewardkit/rewardkit/ledger"
)

// TickDue is the body of a program's Tick: it handles every entry of the
// due kind that is due at the ledger clock's now, each in a unit of work
// of its own (EachDue), and reports what was done. fn handles one entry
// and returns the kinds of what it did to it ("subscription.renewed";
// several when one entry went through more than one step, none when there
// was nothing to do); each becomes an Item with the entry's ID, in the
// order the entries were handled. An entry whose fn fails is reported in
// Failed with its ID and nothing of it in Done, and the others go on. err
// is for the run as a whole (a store that fails, a context that ends); the
// report then holds what committed before it, and nothing of a batch that
// did not commit.
func TickDue(ctx context.Context, l *ledger.Ledger, due string,
	fn func(w *ledger.Writer, e ledger.DueEntry) ([]string, error)) (TickReport, error) {
	var rep TickReport
	_, failed, err := EachDueDo(ctx, l, due, l.Clock().Now(), fn, func(e ledger.DueEntry, kinds []string) {
		for _, kind := range kinds {
			rep.Add(kind, e.ID)
		}
	})
	rep.Failed = failed
	return rep, err
}
