package referral_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/teststore"
	"github.com/rewardkit/rewardkit/referral"
)

// TestRefundAfterReleaseClawsBack: with rule refund_clawback, a refund
// after the reward was paid takes it back under the recovery policy: what
// the referrer's wallet still has, then a debt up to max, then a
// write-off; the debt is repaid from the referrer's next released reward
// before it is spendable. Nothing is lost silently and the budget gets
// the whole reward back.
func TestRefundAfterReleaseClawsBack(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		policy := kit.Recover(d(30), "platform:referral-losses")
		f := shopFixture(t, open, func(r *referral.Rules) { r.RefundClawback, r.Tiers = &policy, nil })
		f.purchaseAll(t, "amy", "bob")
		f.clock.Advance(f.rules.ReturnWindow.D())
		rep, _ := f.tick(t)
		require.Equal(t, 2, rep.Count(referral.ItemReleased))
		require.True(t, f.wallet(t, "ref").Equal(d(100)))
		// The referrer spends 80 of it.
		_, err := f.l.Transfer(f.ctx, "spent", referral.MemberAccount("ref"), ledger.World, "USD", d(80))
		require.NoError(t, err)
		_, seq := f.events(t, 0)

		res, err := f.p.RecordRefund(f.ctx, referral.RecordRefundRequest{EventID: "r-amy", Actor: riskOfficer, PurchaseID: "o-amy"})
		require.NoError(t, err)
		require.True(t, res.Cancelled)
		require.NotNil(t, res.Clawback)
		require.Equal(t, "20", res.Clawback.Taken.String())
		require.Equal(t, "30", res.Clawback.Debt.String())
		require.True(t, res.Clawback.WrittenOff.IsZero())
		require.Equal(t, referral.StatusClawedBack, f.status(t, "amy"))
		f.expectEvents(t, seq, event{"referral.clawback.recorded", "ref"}, event{referral.EventRewardClawedBack, "ref"})
		_, seq = f.events(t, 0)

		// A replay changes nothing; another refund of it finds it settled
		// and moves no money.
		wallet, debt := f.wallet(t, "ref"), f.balance(t, kit.DebtAccount("ref"))
		again, err := f.p.RecordRefund(f.ctx, referral.RecordRefundRequest{EventID: "r-amy", Actor: riskOfficer, PurchaseID: "o-amy"})
		require.NoError(t, err)
		require.True(t, again.Replayed)
		other, err := f.p.RecordRefund(f.ctx, referral.RecordRefundRequest{EventID: "r-amy-2", Actor: riskOfficer, PurchaseID: "o-amy"})
		require.NoError(t, err)
		require.False(t, other.Cancelled)
		require.Equal(t, "reward already clawed_back", other.Reason)
		require.True(t, wallet.Equal(f.wallet(t, "ref")) && debt.Equal(f.balance(t, kit.DebtAccount("ref"))))
		f.noEventsSince(t, seq)

		// bob's refund: the wallet is empty and the debt at its bound, so
		// all of it is written off, never dropped.
		res, err = f.p.RecordRefund(f.ctx, referral.RecordRefundRequest{EventID: "r-bob", Actor: riskOfficer, PurchaseID: "o-bob"})
		require.NoError(t, err)
		require.Equal(t, "50", res.Clawback.WrittenOff.String())
		require.True(t, f.balance(t, "platform:referral-losses").Equal(d(-50)))
		_, seq = f.expectEvents(t, seq, event{"referral.clawback.recorded", "ref"}, event{"referral.loss.written_off", "ref"},
			event{referral.EventRewardClawedBack, "ref"})
		b := f.budget(t)
		require.True(t, b.Spent.IsZero(), "the budget has both rewards back: %+v", b)

		// The next reward repays the debt first.
		f.purchaseAll(t, "cat")
		require.True(t, f.balance(t, kit.PendingAccount("ref")).Equal(d(50)))
		f.clock.Advance(f.rules.ReturnWindow.D())
		rep, _ = f.tick(t)
		require.Equal(t, []string{"cat"}, rep.IDs(referral.ItemReleased))
		require.True(t, f.wallet(t, "ref").Equal(d(20)), f.wallet(t, "ref").String())
		require.True(t, f.balance(t, kit.DebtAccount("ref")).IsZero())
		f.expectEvents(t, seq, event{referral.EventSignupRecorded, "ref"}, event{referral.EventRewardHeld, "ref"}, event{"referral.debt.recovered", "ref"}, event{referral.EventRewardReleased, "ref"})
		f.verify(t)
	})
}

// Without rule refund_clawback (the default), a refund after the window
// leaves the paid reward, as before.
func TestRefundClawbackRule(t *testing.T) {
	r := referral.ShopRules()
	require.Nil(t, r.RefundClawback)
	bad := kit.WriteOff("")
	r.RefundClawback = &bad
	require.ErrorIs(t, r.Validate(), referral.ErrInvalidRules)
}
