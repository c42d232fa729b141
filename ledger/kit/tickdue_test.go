package kit_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/teststore"
)

// TestTickDueReportsOnlyCommittedItems: a TickReport's Done lists what
// was done. When the run fails as a whole after the items of a batch ran
// (here the context ends while the batch runs, as a deadline would, and
// the batch is not committed), TickDue still reports those items as done,
// although nothing of them was kept and they are still due.
func TestTickDueReportsOnlyCommittedItems(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		l, _ := newLedger(t, open)
		bg := context.Background()
		require.NoError(t, l.Update(bg, func(w *ledger.Writer) error { return w.Schedule("test.due", "a", t0) }))
		ctx, cancel := context.WithCancel(bg)
		defer cancel()
		rep, err := kit.TickDue(ctx, l, "test.due", func(w *ledger.Writer, e ledger.DueEntry) ([]string, error) {
			cancel() // the caller's deadline passes while the item runs
			return []string{"test.done"}, w.Unschedule("test.due", e.ID)
		})
		var still []ledger.DueEntry
		require.NoError(t, l.View(bg, func(r *ledger.Reader) (err error) {
			still, err = r.Due("test.due", t0, 10)
			return err
		}))
		committed := len(still) == 0
		reported := len(rep.IDs("test.done")) == 1
		require.Equal(t, committed, reported, "item reported done: %v, its unit of work committed: %v (run error: %v)", reported, committed, err)
	})
}
