package gifting_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/gifting"
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/teststore"
)

// TestRefusedGiftLeavesCallersUnitUsable: a gift refused for want of
// coins is a refusal that "writes nothing", so a caller composing events
// in one unit of work may handle it (send a cheaper gift instead) and
// commit. SendGiftIn opens the creator's earnings account before it
// checks the viewer's coins, so for a creator's first gift the refusal
// comes after a write and Writer.Atomic dooms the caller's unit.
func TestRefusedGiftLeavesCallersUnitUsable(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		e := newEnv(t, open, gifting.DefaultRules())
		e.buy(t, "pay-1", "ann", "it-app-350")
		err := e.l.Update(e.ctx, func(w *ledger.Writer) error {
			_, err := e.p.SendGiftIn(w, gifting.SendGiftRequest{EventID: "g-big", Actor: "ann", Creator: "dan", Gift: "galaxy", Count: 1})
			require.ErrorIs(t, err, gifting.ErrInsufficientCoins)
			// Handled: a cheaper gift instead.
			_, err = e.p.SendGiftIn(w, gifting.SendGiftRequest{EventID: "g-small", Actor: "ann", Creator: "dan", Gift: "rose", Count: 1})
			return err
		})
		require.NoError(t, err, "a refused gift doomed the caller's unit of work")
	})
}
