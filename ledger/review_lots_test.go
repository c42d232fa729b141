package ledger_test

import (
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/teststore"
)

// A hold reserves the balance's soonest-expiring lots first (its capture
// consumes them first), so money that arrives while an expired lot is held
// is the member's: a Tick must not move it to breakage in the held lot's
// name.
func TestReviewLotsHeldExpiredLotDoesNotTakeNewMoney(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newLotFixture(t, open(t))
		g := f.grant(t, lotMember, 100, day)
		h, err := f.l.Hold(f.ctx, ledger.HoldRequest{Account: lotMember, Asset: "RUBY", Amount: decimal.NewFromInt(100), ExpiresAt: t0.Add(3 * day)})
		require.NoError(t, err)
		f.clock.Set(t0.Add(2 * day))
		n, err := f.l.Tick(f.ctx)
		require.NoError(t, err)
		require.Zero(t, n, "all of the lot is held")

		f.grant(t, lotMember, 50, 0) // never expires
		n, err = f.l.Tick(f.ctx)
		require.NoError(t, err)
		require.Zero(t, n, "the new money is not the expired lot's")
		require.EqualValues(t, 0, f.posted(t, lotBreakage))
		require.Equal(t, []lotView{{100, day, g.ID}, {50, -1, 0}}, f.lots(t, lotMember))

		_, err = f.l.Capture(f.ctx, ledger.CaptureRequest{Hold: h.ID, Destinations: []ledger.Leg{{To: lotShop, Amount: decimal.NewFromInt(100)}}})
		require.NoError(t, err)
		require.EqualValues(t, 50, f.posted(t, lotMember))
		require.Equal(t, []lotView{{50, -1, 0}}, f.lots(t, lotMember))
		f.verify(t)
	})
}
