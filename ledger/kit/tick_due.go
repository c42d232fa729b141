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
// report then holds what was handled before it.
func TickDue(ctx context.Context, l *ledger.Ledger, due string,
	fn func(w *ledger.Writer, e ledger.DueEntry) ([]string, error)) (TickReport, error) {
	var order []string
	did := map[string][]string{}
	_, failed, err := EachDue(ctx, l, due, l.Clock().Now(), func(w *ledger.Writer, e ledger.DueEntry) error {
		kinds, err := fn(w, e)
		if err != nil {
			return err
		}
		if _, seen := did[e.ID]; !seen {
			order = append(order, e.ID)
		}
		did[e.ID] = kinds // a batch run again after a lost race runs this again
		return nil
	})
	rep := TickReport{Failed: failed}
	failedIDs := make(map[string]bool, len(failed))
	for _, f := range failed {
		failedIDs[f.ID] = true
	}
	for _, id := range order {
		if failedIDs[id] {
			continue
		}
		for _, kind := range did[id] {
			rep.Add(kind, id)
		}
	}
	return rep, err
}
