package referral_test

import (
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger/teststore"
	"github.com/rewardkit/rewardkit/referral"
)

// A held shop reward counted in the referrer's country budget, refunded
// after the referrer moved to another country: the give-back must go to
// the budget that counted it. Given back to the new country, that budget
// loses a use it did count (and can then pay past its limit) while the old
// one keeps a reward that was never kept.
func TestReviewRefundGivesBackToTheCountryThatCounted(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := shopFixture(t, open, func(r *referral.Rules) {
			r.Country, r.SameCountry = "", false
			r.CountryBudgets = map[string]decimal.Decimal{"US": d(1000), "CA": d(1000)}
		})
		ref := f.member("ref")
		ref.Country = "US"
		f.members.Put(ref)
		f.invite(t, "amy")
		_, err := f.p.RecordPurchase(f.ctx, referral.RecordPurchaseRequest{EventID: "p1", Member: "amy", PurchaseID: "order-1"})
		require.NoError(t, err)
		require.Equal(t, int64(5000), f.capsOf(t, "ref")["country_budgets"].Units)

		// A Canadian referrer earns a held reward too: CA counts 50.
		cal := f.member("cal")
		cal.Country = "CA"
		f.members.Put(cal)
		f.member("bea")
		_, err = f.p.Signup(f.ctx, referral.SignupRequest{EventID: "signup-bea", Invitee: "bea", Code: f.code(t, "cal")})
		require.NoError(t, err)
		_, err = f.p.RecordPurchase(f.ctx, referral.RecordPurchaseRequest{EventID: "p2", Member: "bea", PurchaseID: "order-2"})
		require.NoError(t, err)
		require.Equal(t, int64(5000), f.capsOf(t, "cal")["country_budgets"].Units)

		// ref moves to Canada; amy's purchase is refunded in the window.
		ref.Country = "CA"
		f.members.Put(ref)
		f.clock.Advance(time.Hour)
		res, err := f.p.RecordRefund(f.ctx, referral.RecordRefundRequest{EventID: "r1", Actor: riskOfficer, PurchaseID: "order-1"})
		require.NoError(t, err)
		require.True(t, res.Cancelled)

		require.Equal(t, int64(5000), f.capsOf(t, "cal")["country_budgets"].Units, "CA gave back a use it never counted")
		us := f.member("usa")
		us.Country = "US"
		f.members.Put(us)
		require.Equal(t, int64(0), f.capsOf(t, "usa")["country_budgets"].Units, "US kept a refunded reward")
		f.verify(t)
	})
}
