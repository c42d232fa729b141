package referral_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/teststore"
	"github.com/rewardkit/rewardkit/referral"
)

func TestPresetsValidateAndCarrySeedNumbers(t *testing.T) {
	it := referral.DefaultRules()
	require.NoError(t, it.Validate())
	require.Equal(t, "RUBY", it.Asset.Code)
	require.Equal(t, "IT", it.Country)
	require.Equal(t, 18, it.MinAge)
	require.True(t, it.RequirePayoutLinked && it.ExcludeEmployees && it.RequireProfile && it.SameCountry)
	require.True(t, it.SignupReward.Equal(d(20000)))
	require.True(t, it.RetentionReward.Equal(d(6000)))
	require.Equal(t, 5, it.RetentionDays)
	want := map[string]int64{"profile_photo": 1000, "watch_10_minutes": 500, "publish_video": 900, "follow_2_profiles": 100}
	require.Len(t, it.Tasks, len(want))
	for _, task := range it.Tasks {
		require.True(t, task.Reward.Equal(d(want[task.ID])), task.ID)
	}
	require.Equal(t, 0, it.InvitesPerDay, "seed 000: no limit on invites")

	shop := referral.ShopRules()
	require.NoError(t, shop.Validate())
	require.True(t, shop.RequirePurchase)
	require.True(t, shop.SignupReward.Equal(d(50)))
	total := decimal.Zero
	for _, tier := range shop.Tiers {
		total = total.Add(tier.Bonus)
	}
	require.True(t, total.Equal(d(350)) && shop.MaxTierBonus.Equal(d(350)))
}

func TestRulesJSONRoundTrip(t *testing.T) {
	for _, r := range []referral.Rules{referral.DefaultRules(), referral.ShopRules()} {
		b, err := json.Marshal(r)
		require.NoError(t, err)
		var back referral.Rules
		require.NoError(t, json.Unmarshal(b, &back))
		require.NoError(t, back.Validate())
		b2, err := json.Marshal(back)
		require.NoError(t, err)
		require.JSONEq(t, string(b), string(b2))
	}
	var r referral.Rules
	require.ErrorIs(t, json.Unmarshal([]byte(`{"return_window":"ten days"}`), &r), referral.ErrInvalidRules)
}

func TestValidateNamesTheBadField(t *testing.T) {
	cases := []struct {
		field string
		edit  func(r *referral.Rules)
	}{
		{"campaign", func(r *referral.Rules) { r.Campaign = "" }},
		{"campaign", func(r *referral.Rules) { r.Campaign = "a:b" }},
		{"asset", func(r *referral.Rules) { r.Asset = ledger.Asset{Code: "ruby"} }},
		{"min_age", func(r *referral.Rules) { r.MinAge = -1 }},
		{"signup_reward", func(r *referral.Rules) { r.SignupReward = d(-1) }},
		{"signup_reward", func(r *referral.Rules) { r.SignupReward = decimal.RequireFromString("0.5") }},
		{"retention_days", func(r *referral.Rules) { r.RetentionDays = 0 }},
		{"timezone", func(r *referral.Rules) { r.Timezone = "Mars/Olympus" }},
		{"tasks[0].id", func(r *referral.Rules) { r.Tasks[0].ID = "" }},
		{"tasks[1].id", func(r *referral.Rules) { r.Tasks[1].ID = r.Tasks[0].ID }},
		{"tasks[0].reward", func(r *referral.Rules) { r.Tasks[0].Reward = decimal.Zero }},
		{"tasks[0].period", func(r *referral.Rules) { r.Tasks[0].Period = "hourly" }},
		{"tiers[0].invitees", func(r *referral.Rules) { r.Tiers = []referral.Tier{{Invitees: 0, Bonus: d(1)}} }},
		{"tiers[1].invitees", func(r *referral.Rules) {
			r.Tiers = []referral.Tier{{Invitees: 3, Bonus: d(1)}, {Invitees: 3, Bonus: d(1)}}
		}},
		{"invites_per_day", func(r *referral.Rules) { r.InvitesPerDay = -1 }},
		{"max_rewarded_invitees", func(r *referral.Rules) { r.MaxRewardedInvitees = -1 }},
		{"daily_earning_cap", func(r *referral.Rules) { r.DailyEarningCap = d(-5) }},
		{"weekly_earning_cap", func(r *referral.Rules) { r.WeeklyEarningCap = decimal.RequireFromString("0.5") }},
		{"device_invites_per_day", func(r *referral.Rules) { r.DeviceInvitesPerDay = -1 }},
		{`country_budgets["IT"]`, func(r *referral.Rules) { r.CountryBudgets = map[string]decimal.Decimal{"FR": d(1), "IT": d(-1)} }},
		{`country_budgets[""]`, func(r *referral.Rules) { r.CountryBudgets = map[string]decimal.Decimal{"": d(1)} }},
		{"end", func(r *referral.Rules) { r.Start = t0; r.End = t0 }},
		{"budget", func(r *referral.Rules) { r.Budget = d(-1) }},
		{"disabled_countries[0]", func(r *referral.Rules) { r.DisabledCountries = []string{""} }},
		{"return_window", func(r *referral.Rules) {
			r.RequirePurchase = true
			r.ReturnWindow = 0
			r.HoldMargin = kit.Duration(time.Hour)
		}},
		{"hold_margin", func(r *referral.Rules) { r.RequirePurchase = true; r.ReturnWindow = kit.Duration(time.Hour) }},
	}
	for _, c := range cases {
		t.Run(c.field, func(t *testing.T) {
			r := referral.DefaultRules()
			c.edit(&r)
			err := r.Validate()
			require.ErrorIs(t, err, referral.ErrInvalidRules)
			require.Contains(t, err.Error(), c.field)
		})
	}
}

func TestNewRefusesInvalidRulesAndWritesNothing(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open, referral.DefaultRules())
		before := f.snapshot(t)
		bad := referral.DefaultRules()
		bad.Campaign = "other"
		bad.MinAge = -3
		_, err := referral.New(f.ctx, f.l, bad, f.members)
		require.ErrorIs(t, err, referral.ErrInvalidRules)
		require.Equal(t, before, f.snapshot(t))
		_, err = referral.New(f.ctx, f.l, referral.DefaultRules(), nil)
		require.ErrorIs(t, err, referral.ErrInvalidRules)
	})
}

func TestSetupIsIdempotentAndFundsOnce(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open, referral.DefaultRules())
		_, err := referral.New(f.ctx, f.l, f.rules, f.members)
		require.NoError(t, err)
		b, err := f.p.Budget(f.ctx)
		require.NoError(t, err)
		require.True(t, b.Funded.Equal(f.rules.Budget), b.Funded.String())
		require.True(t, f.balance(t, referral.BudgetAccount(f.rules.Campaign)).Equal(f.rules.Budget))

		changed := f.rules
		changed.Budget = f.rules.Budget.Add(d(1))
		_, err = referral.New(f.ctx, f.l, changed, f.members)
		require.True(t, errors.Is(err, referral.ErrIdempotencyConflict), "%v", err)

		res, err := f.p.Fund(f.ctx, referral.FundRequest{Actor: admin, EventID: "topup-1", Amount: d(500)})
		require.NoError(t, err)
		require.False(t, res.Replayed)
		require.True(t, f.budget(t).Funded.Equal(f.rules.Budget.Add(d(500))))
		again, err := f.p.Fund(f.ctx, referral.FundRequest{Actor: admin, EventID: "topup-1", Amount: d(500)})
		require.NoError(t, err)
		require.True(t, again.Replayed)
		require.Equal(t, res.Transaction, again.Transaction)
		require.True(t, f.budget(t).Funded.Equal(f.rules.Budget.Add(d(500))), "replayed top-up funds once")
		_, err = f.p.Fund(f.ctx, referral.FundRequest{Actor: admin, EventID: "topup-1", Amount: d(501)})
		require.ErrorIs(t, err, referral.ErrIdempotencyConflict)
		_, err = f.p.Fund(f.ctx, referral.FundRequest{Actor: admin, EventID: "topup-2", Amount: d(0)})
		require.ErrorIs(t, err, referral.ErrInvalidRequest)
		f.verify(t)
	})
}
