package adsbuy

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/teststore"
	"github.com/stretchr/testify/require"
)

func TestRulesValidate(t *testing.T) {
	require.NoError(t, DefaultRules().Validate())
	cases := []struct {
		field string
		edit  func(r *Rules)
	}{
		{"asset", func(r *Rules) { r.Asset = ledger.Asset{Code: "", Precision: 2} }},
		{"countries", func(r *Rules) { r.Countries = nil }},
		{"countries", func(r *Rules) { r.Countries = []string{"UK", "uk"} }},
		{"countries", func(r *Rules) { r.Countries = []string{"GB", "GB"} }},
		{"min_top_up", func(r *Rules) { r.MinTopUp = dec("0") }},
		{"max_top_up", func(r *Rules) { r.MaxTopUp = dec("10") }},
		{"max_top_up", func(r *Rules) { r.MaxTopUp = dec("100.001") }},
		{"min_campaign_daily_budget", func(r *Rules) { r.MinCampaignDailyBudget = dec("-1") }},
		{"min_ad_group_daily_budget", func(r *Rules) { r.MinAdGroupDailyBudget = dec("60") }},
		{"bid_types", func(r *Rules) { r.BidTypes = nil }},
		{"bid_types", func(r *Rules) { r.BidTypes = []BidType{"CPV"} }},
		{"max_campaign_days", func(r *Rules) { r.MaxCampaignDays = 0 }},
		{"hold_margin", func(r *Rules) { r.HoldMargin = 0 }},
	}
	for _, c := range cases {
		t.Run(c.field, func(t *testing.T) {
			r := DefaultRules()
			c.edit(&r)
			err := r.Validate()
			require.ErrorIs(t, err, ErrInvalidRules)
			require.Contains(t, err.Error(), c.field)
			_, err = New(t.Context(), ledger.New(nil), r)
			require.ErrorIs(t, err, ErrInvalidRules)
		})
	}
	b, err := json.Marshal(DefaultRules())
	require.NoError(t, err)
	var back Rules
	require.NoError(t, json.Unmarshal(b, &back))
	require.NoError(t, back.Validate())
	require.Equal(t, DefaultRules().HoldMargin, back.HoldMargin)
}

func TestOpenAdvertiserChecksCountry(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open(t), DefaultRules())
		for _, country := range []string{"GB", "FR", "IT", "US"} {
			a, err := f.p.OpenAdvertiser(f.ctx, OpenAdvertiserRequest{Actor: "adv-" + country, Country: country})
			require.NoError(t, err)
			require.Equal(t, country, a.Country)
		}
		for _, country := range []string{"DE", "CN", "UK", ""} {
			before := f.snapshot(t)
			_, err := f.p.OpenAdvertiser(f.ctx, OpenAdvertiserRequest{Actor: "adv-x", Country: country})
			require.ErrorIs(t, err, ErrCountry, country)
			require.Contains(t, err.Error(), "countries")
			require.Equal(t, "countries", ledger.RuleOf(err))
			require.Equal(t, before, f.snapshot(t))
		}
		again, err := f.p.OpenAdvertiser(f.ctx, OpenAdvertiserRequest{Actor: "adv-GB", Country: "GB"})
		require.NoError(t, err)
		require.Equal(t, t0, again.OpenedAt)
		before := f.snapshot(t)
		_, err = f.p.OpenAdvertiser(f.ctx, OpenAdvertiserRequest{Actor: "adv-GB", Country: "FR"})
		require.ErrorIs(t, err, ErrIdempotencyConflict)
		require.Equal(t, before, f.snapshot(t))
	})
}

func TestTopUp(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open(t), DefaultRules())
		f.advertiser(t, "acme", "GB", "")
		cases := []struct {
			name, ref, adv, amount string
			want                   error
			rule                   string
		}{
			{"below min", "r1", "acme", "49.99", ErrTopUpBounds, "min_top_up"},
			{"above max", "r2", "acme", "50000.01", ErrTopUpBounds, "max_top_up"},
			{"sub-cent", "r3", "acme", "60.001", ErrInvalidRequest, ""},
			{"unknown advertiser", "r4", "nobody", "60", ErrUnknownAdvertiser, ""},
			{"bad reference", "", "acme", "60", ErrInvalidRequest, ""},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				before := f.snapshot(t)
				_, err := f.p.TopUp(f.ctx, TopUpRequest{EventID: c.ref, Actor: c.adv, Amount: dec(c.amount)})
				require.ErrorIs(t, err, c.want)
				require.Equal(t, c.rule, ledger.RuleOf(err))
				require.Equal(t, before, f.snapshot(t))
			})
		}
		_, err := f.p.TopUp(f.ctx, TopUpRequest{EventID: "pay-1", Actor: "acme", Amount: dec("50")})
		require.NoError(t, err)
		_, err = f.p.TopUp(f.ctx, TopUpRequest{EventID: "pay-2", Actor: "acme", Amount: dec("50000")})
		require.NoError(t, err)
		before := f.snapshot(t)
		_, err = f.p.TopUp(f.ctx, TopUpRequest{EventID: "pay-1", Actor: "acme", Amount: dec("50")})
		require.NoError(t, err, "a replayed payment reference")
		require.Equal(t, before, f.snapshot(t), "credits once")
		_, err = f.p.TopUp(f.ctx, TopUpRequest{EventID: "pay-1", Actor: "acme", Amount: dec("70")})
		require.ErrorIs(t, err, ErrIdempotencyConflict)
		require.Equal(t, before, f.snapshot(t))
		requireAmount(t, "50050", f.balance(t, "acme").Posted)
		f.verify(t)
	})
}

func TestCountryWithdrawnRefusesTopUpAndBuy(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open(t), DefaultRules())
		f.advertiser(t, "acme", "GB", "500")
		r := DefaultRules()
		r.Countries = []string{"US"}
		p2, err := New(f.ctx, f.l, r, WithRoles(f.roles))
		require.NoError(t, err)
		before := f.snapshot(t)
		_, err = p2.TopUp(f.ctx, TopUpRequest{EventID: "pay-9", Actor: "acme", Amount: dec("100")})
		require.ErrorIs(t, err, ErrCountry)
		_, err = p2.BuyCampaign(f.ctx, BuyCampaignRequest{CampaignID: "c1", Actor: "acme", Spec: f.spec(2, "60")})
		require.ErrorIs(t, err, ErrCountry)
		require.Equal(t, before, f.snapshot(t))
	})
}

func TestBuyCampaignHoldsBudget(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open(t), DefaultRules())
		f.advertiser(t, "acme", "GB", "500")
		c, err := f.p.BuyCampaign(f.ctx, BuyCampaignRequest{CampaignID: "c1", Actor: "acme", Spec: f.spec(3, "60")})
		require.NoError(t, err)
		require.Equal(t, StatusPendingReview, c.Status)
		require.Equal(t, 3, c.Days)
		requireAmount(t, "180", c.Budget)
		requireAmount(t, "120", c.AdGroups[0].Budget)
		b := f.balance(t, "acme")
		requireAmount(t, "500", b.Posted)
		requireAmount(t, "180", b.Held)
		requireAmount(t, "320", b.Available)
		h, err := f.l.HoldByID(f.ctx, c.Hold)
		require.NoError(t, err)
		require.Equal(t, c.End.Add(30*day), h.ExpiresAt)

		// A partial day counts as a day.
		s := f.spec(1, "50")
		s.End = s.Start.Add(25 * time.Hour)
		s.AdGroups = s.AdGroups[:1]
		c2, err := f.p.BuyCampaign(f.ctx, BuyCampaignRequest{CampaignID: "c2", Actor: "acme", Spec: s})
		require.NoError(t, err)
		require.Equal(t, 2, c2.Days)
		requireAmount(t, "100", c2.Budget)

		before := f.snapshot(t)
		again, err := f.p.BuyCampaign(f.ctx, BuyCampaignRequest{CampaignID: "c1", Actor: "acme", Spec: f.spec(3, "60")})
		require.NoError(t, err)
		require.True(t, again.Replayed)
		again.Replayed = false
		require.Equal(t, c, again)
		require.Equal(t, before, f.snapshot(t), "a replayed purchase holds once")
		_, err = f.p.BuyCampaign(f.ctx, BuyCampaignRequest{CampaignID: "c1", Actor: "acme", Spec: f.spec(3, "70")})
		require.ErrorIs(t, err, ErrIdempotencyConflict)
		require.Equal(t, before, f.snapshot(t))
		f.verify(t)
	})
}

// ruleNames are the JSON names of the rules whose refusals name them
// (ledger.RuleOf).
var ruleNames = map[string]bool{"countries": true, "min_top_up": true, "max_top_up": true, "min_campaign_daily_budget": true,
	"min_ad_group_daily_budget": true, "bid_types": true, "max_campaign_days": true}

func TestBuyCampaignRefusals(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		cases := []struct {
			name string
			edit func(s *CampaignSpec)
			adv  string
			want error
			rule string
		}{
			{"campaign daily under 50", func(s *CampaignSpec) { s.DailyBudget = dec("49.99") }, "acme", ErrBudgetTooLow, "min_campaign_daily_budget"},
			{"ad group daily under 20", func(s *CampaignSpec) { s.AdGroups[1].DailyBudget = dec("19.99") }, "acme", ErrBudgetTooLow, "min_ad_group_daily_budget"},
			{"ad group above campaign", func(s *CampaignSpec) { s.AdGroups[0].DailyBudget = dec("60.01") }, "acme", ErrInvalidCampaign, "above the campaign"},
			{"bid type", func(s *CampaignSpec) { s.AdGroups[0].BidType = "CPV" }, "acme", ErrInvalidCampaign, "bid_types"},
			{"zero bid", func(s *CampaignSpec) { s.AdGroups[0].Bid = dec("0") }, "acme", ErrInvalidCampaign, "positive"},
			{"sub-cent budget", func(s *CampaignSpec) { s.DailyBudget = dec("60.005") }, "acme", ErrInvalidRequest, "decimals"},
			{"start in the past", func(s *CampaignSpec) { s.Start = s.Start.Add(-time.Minute) }, "acme", ErrInvalidCampaign, "before now"},
			{"end before start", func(s *CampaignSpec) { s.End = s.Start }, "acme", ErrInvalidCampaign, "not after start"},
			{"too long", func(s *CampaignSpec) { s.End = s.Start.Add(366 * day) }, "acme", ErrInvalidCampaign, "max_campaign_days"},
			{"no ad groups", func(s *CampaignSpec) { s.AdGroups = nil }, "acme", ErrInvalidCampaign, "ad groups"},
			{"duplicate ad group", func(s *CampaignSpec) { s.AdGroups[1].ID = "video" }, "acme", ErrInvalidCampaign, "twice"},
			{"balance short", func(s *CampaignSpec) { s.End = s.Start.Add(9 * day) }, "acme", ErrInsufficientFunds, "acme"},
			{"unknown advertiser", nil, "nobody", ErrUnknownAdvertiser, "nobody"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				f := newFixture(t, open(t), DefaultRules())
				f.advertiser(t, "acme", "GB", "500")
				s := f.spec(3, "60")
				if c.edit != nil {
					c.edit(&s)
				}
				before := f.snapshot(t)
				_, err := f.p.BuyCampaign(f.ctx, BuyCampaignRequest{CampaignID: "c1", Actor: c.adv, Spec: s})
				require.ErrorIs(t, err, c.want)
				require.Contains(t, err.Error(), c.rule)
				if ruleNames[c.rule] {
					require.Equal(t, c.rule, ledger.RuleOf(err), "the rule is data")
				}
				require.Equal(t, before, f.snapshot(t), "a refusal changes nothing")
			})
		}
	})
}

func TestReviewOnlyBySalesRepNeverTheAdvertiser(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open(t), DefaultRules())
		f.advertiser(t, "acme", "GB", "500")
		f.roles.Grant("acme", kit.RoleSalesRep) // even holding the role, acme may not review its own campaign
		_, err := f.p.BuyCampaign(f.ctx, BuyCampaignRequest{CampaignID: "c1", Actor: "acme", Spec: f.spec(3, "60")})
		require.NoError(t, err)
		cases := []struct {
			name, reviewer string
			approve        bool
			want           error
		}{
			{"no role approves", "mallory", true, ErrForbidden},
			{"no role rejects", "mallory", false, ErrForbidden},
			{"advertiser approves", "acme", true, ErrForbidden},
			{"advertiser rejects", "acme", false, ErrForbidden},
			{"unknown campaign", "rita", true, ErrUnknownCampaign},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				campaign := "c1"
				if c.want == ErrUnknownCampaign {
					campaign = "c9"
				}
				before := f.snapshot(t)
				var err error
				if c.approve {
					_, err = f.p.Approve(f.ctx, ApproveRequest{EventID: "rev-x", Actor: c.reviewer, CampaignID: campaign})
				} else {
					_, err = f.p.Reject(f.ctx, RejectRequest{EventID: "rev-x", Actor: c.reviewer, CampaignID: campaign, Reason: "no"})
				}
				require.ErrorIs(t, err, c.want)
				require.Equal(t, before, f.snapshot(t))
			})
		}
		f.roles.Revoke("acme", kit.RoleSalesRep)
		f.clock.Advance(time.Hour)
		c, err := f.p.Approve(f.ctx, ApproveRequest{EventID: "rev-1", Actor: "rita", CampaignID: "c1"})
		require.NoError(t, err)
		require.Equal(t, StatusLive, c.Status)
		require.Equal(t, "rita", c.ReviewedBy)
		require.Equal(t, t0.Add(time.Hour), c.ReviewedAt)
		before := f.snapshot(t)
		_, err = f.p.Approve(f.ctx, ApproveRequest{EventID: "rev-2", Actor: "rita", CampaignID: "c1"})
		require.ErrorIs(t, err, ErrWrongState)
		_, err = f.p.Reject(f.ctx, RejectRequest{EventID: "rev-3", Actor: "rita", CampaignID: "c1", Reason: "late"})
		require.ErrorIs(t, err, ErrWrongState)
		require.Equal(t, before, f.snapshot(t))
	})
}

func TestRejectReturnsWholeBudget(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open(t), DefaultRules())
		f.advertiser(t, "acme", "GB", "500")
		_, err := f.p.BuyCampaign(f.ctx, BuyCampaignRequest{CampaignID: "c1", Actor: "acme", Spec: f.spec(3, "60")})
		require.NoError(t, err)
		c, err := f.p.Reject(f.ctx, RejectRequest{EventID: "rev-1", Actor: "rita", CampaignID: "c1", Reason: "misleading claims"})
		require.NoError(t, err)
		require.Equal(t, StatusRejected, c.Status)
		requireAmount(t, "180", c.Released)
		b := f.balance(t, "acme")
		requireAmount(t, "500", b.Available)
		requireAmount(t, "0", b.Held)
		_, err = f.p.ReportDelivery(f.ctx, ReportDeliveryRequest{EventID: "rep-1", CampaignID: "c1", AdGroupID: "video", Impressions: 1000, Clicks: 0})
		require.ErrorIs(t, err, ErrWrongState)
		f.verify(t)
	})
}

func TestDeliveryCapturesAtTheBidOnlyAfterApproval(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open(t), DefaultRules())
		f.advertiser(t, "acme", "GB", "500")
		_, err := f.p.BuyCampaign(f.ctx, BuyCampaignRequest{CampaignID: "c1", Actor: "acme", Spec: f.spec(3, "60")})
		require.NoError(t, err)

		before := f.snapshot(t)
		_, err = f.p.ReportDelivery(f.ctx, ReportDeliveryRequest{EventID: "rep-0", CampaignID: "c1", AdGroupID: "video", Impressions: 1000, Clicks: 0})
		require.ErrorIs(t, err, ErrWrongState, "no spend before approval")
		require.Equal(t, before, f.snapshot(t))

		_, err = f.p.Approve(f.ctx, ApproveRequest{EventID: "rev-1", Actor: "rita", CampaignID: "c1"})
		require.NoError(t, err)
		cases := []struct {
			report, group       string
			impressions, clicks int64
			cost, charged       string
		}{
			{"rep-1", "video", 4000, 12, "10.00", "10.00"}, // CPM 2.50: clicks are free
			{"rep-2", "search", 90000, 7, "2.45", "2.45"},  // CPC 0.35: impressions are free
			{"rep-3", "video", 333, 0, "0.8325", "0.83"},   // 0.0025 carried to the next report
			{"rep-4", "video", 0, 0, "0", "0"},
		}
		spent := dec("0")
		for _, c := range cases {
			d, err := f.p.ReportDelivery(f.ctx, ReportDeliveryRequest{EventID: c.report, CampaignID: "c1", AdGroupID: c.group, Impressions: c.impressions, Clicks: c.clicks})
			require.NoError(t, err, c.report)
			requireAmount(t, c.cost, d.Cost, c.report)
			requireAmount(t, c.charged, d.Charged, c.report)
			require.False(t, d.Truncated)
			spent = spent.Add(d.Charged)
		}
		requireAmount(t, spent.String(), f.revenue(t))
		b := f.balance(t, "acme")
		requireAmount(t, dec("500").Sub(spent).String(), b.Posted)
		requireAmount(t, dec("180").Sub(spent).String(), b.Held)

		for name, call := range map[string]func() error{
			"negative": func() error {
				_, err := f.p.ReportDelivery(f.ctx, ReportDeliveryRequest{EventID: "rep-5", CampaignID: "c1", AdGroupID: "video", Impressions: -1, Clicks: 0})
				return err
			},
			"ad group": func() error {
				_, err := f.p.ReportDelivery(f.ctx, ReportDeliveryRequest{EventID: "rep-5", CampaignID: "c1", AdGroupID: "audio", Impressions: 1, Clicks: 0})
				return err
			},
			"campaign": func() error {
				_, err := f.p.ReportDelivery(f.ctx, ReportDeliveryRequest{EventID: "rep-5", CampaignID: "c7", AdGroupID: "video", Impressions: 1, Clicks: 0})
				return err
			},
			"conflict": func() error {
				_, err := f.p.ReportDelivery(f.ctx, ReportDeliveryRequest{EventID: "rep-1", CampaignID: "c1", AdGroupID: "video", Impressions: 4001, Clicks: 12})
				return err
			},
			"reused by op": func() error {
				_, err := f.p.Pause(f.ctx, PauseRequest{EventID: "rep-1", Actor: "acme", CampaignID: "c1"})
				return err
			},
		} {
			before := f.snapshot(t)
			err := call()
			require.Error(t, err, name)
			require.True(t, errors.Is(err, ErrInvalidRequest) || errors.Is(err, ErrUnknownAdGroup) ||
				errors.Is(err, ErrUnknownCampaign) || errors.Is(err, ErrIdempotencyConflict), "%s: %v", name, err)
			require.Equal(t, before, f.snapshot(t), name)
		}
		before = f.snapshot(t)
		d, err := f.p.ReportDelivery(f.ctx, ReportDeliveryRequest{EventID: "rep-1", CampaignID: "c1", AdGroupID: "video", Impressions: 4000, Clicks: 12})
		require.NoError(t, err)
		requireAmount(t, "10", d.Charged)
		require.Equal(t, before, f.snapshot(t), "a replayed report is charged once")
		f.verify(t)
	})
}

func TestDeliveryNeverBeyondBudgets(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open(t), DefaultRules())
		f.advertiser(t, "acme", "GB", "500")
		_, err := f.p.BuyCampaign(f.ctx, BuyCampaignRequest{CampaignID: "c1", Actor: "acme", Spec: f.spec(2, "50")}) // budget 100; video 40/day, search 20/day
		require.NoError(t, err)
		_, err = f.p.Approve(f.ctx, ApproveRequest{EventID: "rev-1", Actor: "rita", CampaignID: "c1"})
		require.NoError(t, err)

		steps := []struct {
			advance             time.Duration
			group               string
			impressions, clicks int64
			charged             string
			truncated           bool
		}{
			{0, "video", 20000, 0, "40", true},   // 50 at the bid, ad group daily 40
			{0, "video", 1000, 0, "0", true},     // ad group's day is spent
			{0, "search", 0, 20, "7", false},     // 7 of the campaign's remaining 10 today
			{0, "search", 0, 20, "3", true},      // campaign daily 50 reached
			{day, "video", 4000, 0, "10", false}, // a new day
			{0, "search", 0, 100, "20", true},    // ad group daily 20
			{0, "video", 100000, 0, "20", true},  // campaign total 100 reached
		}
		for i, s := range steps {
			f.clock.Advance(s.advance)
			d, err := f.p.ReportDelivery(f.ctx, ReportDeliveryRequest{EventID: fmt.Sprintf("rep-%d", i), CampaignID: "c1", AdGroupID: s.group, Impressions: s.impressions, Clicks: s.clicks})
			require.NoError(t, err, i)
			requireAmount(t, s.charged, d.Charged, "step ", i)
			require.Equal(t, s.truncated, d.Truncated, i)
		}
		c, err := f.p.Campaign(f.ctx, "c1")
		require.NoError(t, err)
		require.Equal(t, StatusEnded, c.Status, "budget spent ends the campaign")
		require.Equal(t, "budget spent", c.EndReason)
		requireAmount(t, "100", c.Spent)
		requireAmount(t, "0", c.Released)
		_, err = f.p.ReportDelivery(f.ctx, ReportDeliveryRequest{EventID: "rep-x", CampaignID: "c1", AdGroupID: "video", Impressions: 1, Clicks: 0})
		require.ErrorIs(t, err, ErrWrongState)
		b := f.balance(t, "acme")
		requireAmount(t, "400", b.Posted)
		requireAmount(t, "0", b.Held)
		f.verify(t)
	})
}

func TestPauseResumeCancelByTheOwner(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open(t), DefaultRules())
		f.advertiser(t, "acme", "GB", "500")
		f.advertiser(t, "bolt", "US", "500")
		_, err := f.p.BuyCampaign(f.ctx, BuyCampaignRequest{CampaignID: "c1", Actor: "acme", Spec: f.spec(3, "60")})
		require.NoError(t, err)
		before := f.snapshot(t)
		_, err = f.p.Pause(f.ctx, PauseRequest{EventID: "p-0", Actor: "acme", CampaignID: "c1"})
		require.ErrorIs(t, err, ErrWrongState, "only a live campaign pauses")
		require.Equal(t, before, f.snapshot(t))
		_, err = f.p.Approve(f.ctx, ApproveRequest{EventID: "rev-1", Actor: "rita", CampaignID: "c1"})
		require.NoError(t, err)
		for _, who := range []string{"bolt", "mallory"} { // neither the owner nor a sales representative
			before := f.snapshot(t)
			_, err = f.p.Pause(f.ctx, PauseRequest{EventID: "p-1", Actor: who, CampaignID: "c1"})
			require.ErrorIs(t, err, ErrForbidden)
			_, err = f.p.Cancel(f.ctx, CancelRequest{EventID: "x-1", Actor: who, CampaignID: "c1"})
			require.ErrorIs(t, err, ErrForbidden)
			require.Equal(t, before, f.snapshot(t))
		}
		c, err := f.p.Pause(f.ctx, PauseRequest{EventID: "p-1", Actor: "acme", CampaignID: "c1"})
		require.NoError(t, err)
		require.Equal(t, StatusPaused, c.Status)
		before = f.snapshot(t)
		_, err = f.p.ReportDelivery(f.ctx, ReportDeliveryRequest{EventID: "rep-1", CampaignID: "c1", AdGroupID: "video", Impressions: 1000, Clicks: 0})
		require.ErrorIs(t, err, ErrWrongState, "a paused campaign does not spend")
		require.Equal(t, before, f.snapshot(t))
		_, err = f.p.Resume(f.ctx, ResumeRequest{EventID: "r-1", Actor: "acme", CampaignID: "c1"})
		require.NoError(t, err)
		d, err := f.p.ReportDelivery(f.ctx, ReportDeliveryRequest{EventID: "rep-1", CampaignID: "c1", AdGroupID: "video", Impressions: 1000, Clicks: 0})
		require.NoError(t, err)
		requireAmount(t, "2.50", d.Charged)
		c, err = f.p.Cancel(f.ctx, CancelRequest{EventID: "x-1", Actor: "acme", CampaignID: "c1"})
		require.NoError(t, err)
		require.Equal(t, StatusCanceled, c.Status)
		requireAmount(t, "177.50", c.Released)
		b := f.balance(t, "acme")
		requireAmount(t, "497.50", b.Posted)
		requireAmount(t, "0", b.Held)
		_, err = f.p.Cancel(f.ctx, CancelRequest{EventID: "x-2", Actor: "acme", CampaignID: "c1"})
		require.ErrorIs(t, err, ErrWrongState)
		f.verify(t)
	})
}

func TestEndOfScheduleReturnsUnspent(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open(t), DefaultRules())
		f.advertiser(t, "acme", "GB", "500")
		f.advertiser(t, "bolt", "US", "500")
		c1, err := f.p.BuyCampaign(f.ctx, BuyCampaignRequest{CampaignID: "c1", Actor: "acme", Spec: f.spec(2, "60")})
		require.NoError(t, err)
		_, err = f.p.BuyCampaign(f.ctx, BuyCampaignRequest{CampaignID: "c2", Actor: "bolt", Spec: f.spec(2, "60")}) // never reviewed
		require.NoError(t, err)
		_, err = f.p.Approve(f.ctx, ApproveRequest{EventID: "rev-1", Actor: "rita", CampaignID: "c1"})
		require.NoError(t, err)
		_, err = f.p.ReportDelivery(f.ctx, ReportDeliveryRequest{EventID: "rep-1", CampaignID: "c1", AdGroupID: "video", Impressions: 8000, Clicks: 0})
		require.NoError(t, err)

		f.clock.Set(c1.End.Add(-time.Nanosecond))
		rep, err := f.p.Tick(f.ctx)
		require.NoError(t, err)
		require.Equal(t, 0, rep.Count(TickEnded))
		f.clock.Set(c1.End)
		_, err = f.p.ReportDelivery(f.ctx, ReportDeliveryRequest{EventID: "rep-2", CampaignID: "c1", AdGroupID: "video", Impressions: 8000, Clicks: 0})
		require.ErrorIs(t, err, ErrWrongState, "no delivery after the end")
		rep, err = f.p.Tick(f.ctx)
		require.NoError(t, err)
		require.Equal(t, 2, rep.Count(TickEnded))
		require.ElementsMatch(t, []string{"c1", "c2"}, rep.IDs(TickEnded))
		require.Empty(t, rep.Failed)
		requireAmount(t, "220", f.released(t, rep), "100 of c1 and 120 of c2")
		before := f.snapshot(t)
		rep, err = f.p.Tick(f.ctx)
		require.NoError(t, err)
		require.Equal(t, kit.TickReport{}, rep)
		requireAmount(t, "0", f.released(t, rep))
		require.Equal(t, before, f.snapshot(t), "a second tick changes nothing")

		st, err := f.p.Statement(f.ctx, "c1")
		require.NoError(t, err)
		require.Equal(t, StatusEnded, st.Campaign.Status)
		requireAmount(t, "20", st.Campaign.Spent)
		requireAmount(t, "100", st.Campaign.Released)
		requireAmount(t, "0", st.Held)
		c2, err := f.p.Campaign(f.ctx, "c2")
		require.NoError(t, err)
		require.Equal(t, "schedule ended before review", c2.EndReason)
		requireAmount(t, "480", f.balance(t, "acme").Available)
		requireAmount(t, "500", f.balance(t, "bolt").Available)
		f.verify(t)
	})
}

func TestHoldExpiredBeforeTickStillSettles(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open(t), DefaultRules())
		f.advertiser(t, "acme", "GB", "500")
		c, err := f.p.BuyCampaign(f.ctx, BuyCampaignRequest{CampaignID: "c1", Actor: "acme", Spec: f.spec(1, "60")})
		require.NoError(t, err)
		_, err = f.p.Approve(f.ctx, ApproveRequest{EventID: "rev-1", Actor: "rita", CampaignID: "c1"})
		require.NoError(t, err)
		_, err = f.p.ReportDelivery(f.ctx, ReportDeliveryRequest{EventID: "rep-1", CampaignID: "c1", AdGroupID: "search", Impressions: 0, Clicks: 10})
		require.NoError(t, err)
		f.clock.Set(c.End.Add(31 * day))
		n, err := f.l.Tick(f.ctx) // the ledger alone releases the expired hold first
		require.NoError(t, err)
		require.Equal(t, 1, n)
		rep, err := f.p.Tick(f.ctx)
		require.NoError(t, err)
		require.Equal(t, 1, rep.Count(TickEnded))
		requireAmount(t, "56.50", f.released(t, rep))
		b := f.balance(t, "acme")
		requireAmount(t, "496.50", b.Available)
		requireAmount(t, "0", b.Held)
		f.verify(t)
	})
}

func TestStatement(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open(t), DefaultRules())
		f.advertiser(t, "acme", "GB", "500")
		f.advertiser(t, "acme2", "GB", "500") // a neighbour whose ids sort next to acme's
		for _, id := range []string{"c1", "c10", "c1-b"} {
			adv := "acme"
			if id != "c1" {
				adv = "acme2"
			}
			_, err := f.p.BuyCampaign(f.ctx, BuyCampaignRequest{CampaignID: id, Actor: adv, Spec: f.spec(2, "60")})
			require.NoError(t, err)
			_, err = f.p.Approve(f.ctx, ApproveRequest{EventID: "rev-" + id, Actor: "rita", CampaignID: id})
			require.NoError(t, err)
			_, err = f.p.ReportDelivery(f.ctx, ReportDeliveryRequest{EventID: "rep-" + id, CampaignID: id, AdGroupID: "video", Impressions: 1000, Clicks: 0})
			require.NoError(t, err)
		}
		_, err := f.p.ReportDelivery(f.ctx, ReportDeliveryRequest{EventID: "rep-2", CampaignID: "c1", AdGroupID: "search", Impressions: 0, Clicks: 3})
		require.NoError(t, err)
		st, err := f.p.Statement(f.ctx, "c1")
		require.NoError(t, err)
		require.Len(t, st.Deliveries, 2)
		require.Equal(t, "rep-c1", st.Deliveries[0].Report)
		require.Equal(t, "rep-2", st.Deliveries[1].Report)
		sum := dec("0")
		for _, d := range st.Deliveries {
			sum = sum.Add(d.Charged)
		}
		requireAmount(t, sum.String(), st.Campaign.Spent)
		requireAmount(t, st.Campaign.Budget.Sub(sum).String(), st.Held)
		require.Equal(t, int64(1000), st.Campaign.AdGroups[0].Impressions)
		require.Equal(t, int64(3), st.Campaign.AdGroups[1].Clicks)
	})
}

func TestConcurrency(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open(t), DefaultRules())
		f.advertiser(t, "acme", "GB", "500")
		_, err := f.p.BuyCampaign(f.ctx, BuyCampaignRequest{CampaignID: "c1", Actor: "acme", Spec: f.spec(3, "60")})
		require.NoError(t, err)
		_, err = f.p.Approve(f.ctx, ApproveRequest{EventID: "rev-1", Actor: "rita", CampaignID: "c1"})
		require.NoError(t, err)
		var wg sync.WaitGroup
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				d, err := f.p.ReportDelivery(f.ctx, ReportDeliveryRequest{EventID: "rep-1", CampaignID: "c1", AdGroupID: "video", Impressions: 4000, Clicks: 0})
				assertNoErrorAndAmount(t, err, "10", d.Charged)
			}()
		}
		wg.Wait()
		requireAmount(t, "10", f.revenue(t), "the same report racing is charged once")

		// Eight campaigns racing for a balance that holds two of them.
		var mu sync.Mutex
		won, short := 0, 0
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := f.p.BuyCampaign(f.ctx, BuyCampaignRequest{CampaignID: fmt.Sprintf("race-%d", i), Actor: "acme", Spec: f.spec(2, "70")})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					won++
				case errors.Is(err, ErrInsufficientFunds):
					short++
				default:
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		require.Equal(t, 2, won, "320 available holds two budgets of 140")
		require.Equal(t, 6, short)
		b := f.balance(t, "acme")
		requireAmount(t, "40", b.Available)
		f.verify(t)
	})
}

func assertNoErrorAndAmount(t *testing.T, err error, want string, got interface{ String() string }) {
	if err != nil {
		t.Error(err)
		return
	}
	if !dec(want).Equal(dec(got.String())) {
		t.Errorf("want %s, got %s", want, got)
	}
}

// The In forms run inside the caller's unit of work: a payment and the
// campaign it pays for commit together, and a refusal the caller returns
// undoes the payment too.
func TestTopUpAndBuyInOneUnitOfWork(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open(t), DefaultRules())
		f.advertiser(t, "acme", "GB", "")
		payAndBuy := func(ref, campaign string, spec CampaignSpec) error {
			return f.l.Update(f.ctx, func(w *ledger.Writer) error {
				if _, err := f.p.TopUpIn(w, TopUpRequest{EventID: ref, Actor: "acme", Amount: dec("180")}); err != nil {
					return err
				}
				_, err := f.p.BuyCampaignIn(w, BuyCampaignRequest{CampaignID: campaign, Actor: "acme", Spec: spec})
				return err
			})
		}
		before := f.snapshot(t)
		err := payAndBuy("pay-1", "c1", f.spec(4, "60")) // 240 does not fit in 180
		require.ErrorIs(t, err, ErrInsufficientFunds)
		require.ErrorIs(t, err, ledger.ErrInsufficientFunds)
		require.Equal(t, before, f.snapshot(t), "the refused purchase undid the payment")

		require.NoError(t, payAndBuy("pay-1", "c1", f.spec(3, "60")))
		b := f.balance(t, "acme")
		requireAmount(t, "180", b.Posted)
		requireAmount(t, "180", b.Held)
		before = f.snapshot(t)
		require.NoError(t, payAndBuy("pay-1", "c1", f.spec(3, "60")), "both replay")
		require.Equal(t, before, f.snapshot(t))
		f.verify(t)
	})
}
