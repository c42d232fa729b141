package referral_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/teststore"
	"github.com/rewardkit/rewardkit/referral"
)

// TestSignupRefusedForTierBudgetLeavesCallersUnitUsable: a signup whose
// reward fits the budget but whose tier bonus does not is refused by the
// budget rule (a refusal, nothing of it kept), so a caller composing it in
// one unit of work may handle the refusal and commit the rest. Signup pays
// the signup reward before it judges the tier bonus, so the refusal comes
// after a write and Writer.Atomic dooms the caller's unit.
func TestSignupRefusedForTierBudgetLeavesCallersUnitUsable(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		rules := referral.DefaultRules()
		rules.Budget = d(25000)
		rules.Tiers = []referral.Tier{{Invitees: 1, Bonus: d(10000)}}
		f := newFixture(t, open, rules)
		f.member("giulia")
		f.member("marco")
		code := f.code(t, "giulia")
		_, err := f.l.OpenAccount(f.ctx, ledger.AccountSpec{Address: "shop:sales"})
		require.NoError(t, err)
		err = f.l.Update(f.ctx, func(w *ledger.Writer) error {
			_, err := f.p.SignupIn(w, referral.SignupRequest{EventID: "s1", Invitee: "marco", Code: code})
			require.ErrorIs(t, err, referral.ErrBudgetExhausted)
			require.Equal(t, "budget", ledger.RuleOf(err))
			// Handled: the caller's own write goes on.
			_, err = w.Post(ledger.TransferRequest{Key: "shop:o1",
				Postings: []ledger.Posting{{From: ledger.World, To: "shop:sales", Asset: "RUBY", Amount: d(1)}}})
			return err
		})
		require.NoError(t, err, "a refused signup doomed the caller's unit of work")
	})
}
