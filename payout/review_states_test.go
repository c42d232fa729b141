package payout_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger/teststore"
	"github.com/rewardkit/rewardkit/payout"
)

// A reversal of one payout while another of the member's payouts is in
// flight (held by the provider): the clawback must not take the funds held
// for the payout in flight. Taken, that payout, once the provider pays it,
// finds its reservation gone and is paid from the platform's shortfall
// account, while the member owes nothing: the reversal's recovery policy
// (a bounded debt, repaid from the next rewards) is bypassed.
func TestReviewReversalLeavesFundsHeldForAPayoutInFlight(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open, statesRules())
		f.fund(t, "r", 160000)
		po, err := f.p.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: "w-a", Actor: "r", Amount: d("80000")})
		require.NoError(t, err)
		require.Equal(t, payout.StatusPaid, po.Status)
		f.prov.Next(payout.HoldPayment)
		po, err = f.p.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: "w-b", Actor: "r", Amount: d("80000")})
		require.NoError(t, err)
		require.Equal(t, payout.StatusHeld, po.Status)

		require.NoError(t, f.prov.Reverse(f.p.KeyFor("w-a")))
		po, err = f.p.RecordOutcome(f.ctx, withEventID("rev-1", note(f, "w-a", payout.OutcomeReversed, f.clock.Now())))
		require.NoError(t, err)
		require.Equal(t, payout.StatusReversed, po.Status)
		eq(t, "0", po.Recovered)
		eq(t, "80000", po.Debt)
		eq(t, "80000", f.wallet(t, "r").Held)

		require.NoError(t, f.prov.Resolve(f.p.KeyFor("w-b"), payout.OutcomeSucceeded))
		po, err = f.p.RecordOutcome(f.ctx, withEventID("ok-b", note(f, "w-b", payout.OutcomeSucceeded, f.clock.Now())))
		require.NoError(t, err)
		require.Equal(t, payout.StatusPaid, po.Status)
		require.True(t, po.Shortfall.IsZero(), "w-b paid from the shortfall account: %s", po.Shortfall)
		eq(t, "0", f.bal(t, payout.ShortfallAccount("paypal"), "RUBY").Posted)
		eq(t, "0", f.wallet(t, "r").Posted)
		f.verify(t)
	})
}
