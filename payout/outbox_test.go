package payout_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/teststore"
	"github.com/rewardkit/rewardkit/payout"
)

// TestTickDropsAnEntryWithNoPayout: provider calls go through the
// programs' one outbox (kit.Outbox); an entry whose payout is not there
// (or whose ID no payout could have) is dropped, neither reported nor
// sent, beside a payout that is sent as usual.
func TestTickDropsAnEntryWithNoPayout(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open, payout.DefaultRules())
		f.fund(t, "m", 50000)
		f.prov.Next(payout.TimeoutBeforePaying)
		po, err := f.p.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: "w1", Actor: "m", Amount: d("50000")})
		require.NoError(t, err)
		require.Equal(t, payout.StatusSending, po.Status, "the lost request stays due")
		require.NoError(t, f.l.Update(f.ctx, func(w *ledger.Writer) error {
			for _, id := range []string{"ghost", "not/an/id"} {
				if err := w.Schedule("payout.retry:paypal", id, t0); err != nil {
					return err
				}
			}
			return nil
		}))
		calls := f.prov.Calls()
		rep := f.tick(t, time.Duration(f.rules.RetryEvery))
		require.Equal(t, kit.TickReport{Done: []kit.Item{{Kind: payout.TickPaid, ID: "w1"}}}, rep)
		require.Equal(t, calls+1, f.prov.Calls(), "only w1 was sent")
		require.NoError(t, f.l.View(f.ctx, func(r *ledger.Reader) error {
			due, err := r.Due("payout.retry:paypal", ledger.MaxTime.Add(-time.Second), 10)
			require.Empty(t, due)
			return err
		}))
	})
}
