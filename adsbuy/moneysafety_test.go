package adsbuy

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/driver"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/teststore"
)

// The regression tests of issue 10 ("money safety") that concern this
// package. Each names the finding it covers.

// liveCampaign buys and approves a campaign of acme's from now, with one
// CPM ad group "video" (daily 40, bid cpm) and one CPC ad group "search"
// (daily 20, bid cpc), under a campaign daily budget of 60.
func (f *fixture) liveCampaign(tb testT, id string, days int, cpm, cpc string) Campaign {
	tb.Helper()
	now := f.clock.Now()
	_, err := f.p.BuyCampaign(f.ctx, BuyCampaignRequest{CampaignID: id, Actor: "acme", Spec: CampaignSpec{Start: now, End: now.Add(time.Duration(days) * day), DailyBudget: dec("60"),
		AdGroups: []AdGroupSpec{
			{ID: "video", DailyBudget: dec("40"), BidType: CPM, Bid: dec(cpm)},
			{ID: "search", DailyBudget: dec("20"), BidType: CPC, Bid: dec(cpc)},
		}}})
	require.NoError(tb, err)
	c, err := f.p.Approve(f.ctx, ApproveRequest{EventID: "approve-" + id, Actor: "rita", CampaignID: id})
	require.NoError(tb, err)
	return c
}

// issue 10 #17: each report was rounded down to the cent and the fraction
// dropped: 1,000 reports of 3 impressions at a 2.50 CPM (worth 7.50) were
// charged 0.00. The fraction is carried per ad group.
func TestCPMFractionsAreCarriedNotLost(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open(t), DefaultRules())
		f.advertiser(t, "acme", "GB", "500")
		f.liveCampaign(t, "c1", 3, "2.50", "0.35")
		charged := decimal.Zero
		for i := 0; i < 1000; i++ {
			d, err := f.p.ReportDelivery(f.ctx, ReportDeliveryRequest{EventID: fmt.Sprintf("rep-%d", i), CampaignID: "c1", AdGroupID: "video", Impressions: 3, Clicks: 0})
			require.NoError(t, err)
			requireAmount(t, "0.0075", d.Cost)
			charged = charged.Add(d.Charged)
		}
		requireAmount(t, "7.50", charged)
		requireAmount(t, "7.50", f.revenue(t))
		c, err := f.p.Campaign(f.ctx, "c1")
		require.NoError(t, err)
		requireAmount(t, "7.50", c.Spent)
		requireAmount(t, "0", c.AdGroups[0].Carry)
		require.Equal(t, int64(3000), c.AdGroups[0].Impressions)

		// The same deliveries in one report are charged the same.
		f.liveCampaign(t, "c2", 3, "2.50", "0.35")
		d, err := f.p.ReportDelivery(f.ctx, ReportDeliveryRequest{EventID: "rep-all", CampaignID: "c2", AdGroupID: "video", Impressions: 3000, Clicks: 0})
		require.NoError(t, err)
		requireAmount(t, "7.50", d.Charged)
		f.verify(t)
	})
}

// issue 10 #17, as a property: any split of the same impressions (or
// clicks) into reports charges the same total as one report, which is the
// exact cost rounded down to the cent, capped by the budgets; the sub-cent
// rest stays in the ad group's Carry (and is never charged if nothing more
// is delivered); nothing is ever charged beyond a budget.
func TestPropertyChargesDoNotDependOnBatching(t *testing.T) {
	checkOnStores(t, func(t *rapid.T, store driver.Store) {
		f := newFixture(t, store, DefaultRules())
		f.advertiser(t, "acme", "GB", "1000")
		cpm := decimal.New(rapid.Int64Range(1, 2000).Draw(t, "cpm cents"), -2)
		cpc := decimal.New(rapid.Int64Range(1, 300).Draw(t, "cpc cents"), -2)
		group := rapid.SampledFrom([]string{"video", "search"}).Draw(t, "ad group")
		total := rapid.Int64Range(0, 30000).Draw(t, "total delivered")
		if group == "search" {
			total /= 100
		}
		cuts := rapid.SliceOfN(rapid.Int64Range(0, total), 0, 25).Draw(t, "cuts")
		parts := split(total, cuts)

		// One report of everything, and the same deliveries in parts.
		f.liveCampaign(t, "whole", 2, cpm.String(), cpc.String())
		f.liveCampaign(t, "parts", 2, cpm.String(), cpc.String())
		report := func(c, id string, n int64) Delivery {
			imps, clicks := n, int64(0)
			if group == "search" {
				imps, clicks = 0, n
			}
			d, err := f.p.ReportDelivery(f.ctx, ReportDeliveryRequest{EventID: id, CampaignID: c, AdGroupID: group, Impressions: imps, Clicks: clicks})
			require.NoError(t, err)
			return d
		}
		whole := report("whole", "w", total)
		charged, exact := decimal.Zero, decimal.Zero
		for i, n := range parts {
			d := report("parts", fmt.Sprintf("p%d", i), n)
			charged, exact = charged.Add(d.Charged), exact.Add(d.Cost)
		}
		requireAmount(t, whole.Charged.String(), charged, "split ", parts)
		requireAmount(t, whole.Cost.String(), exact)

		// The total is the exact cost rounded down to the cent, capped
		// by the tightest budget of the day; what is not charged is
		// carried only when no budget capped it.
		bid, room := cpm.Shift(-3), dec("40")
		if group == "search" {
			bid, room = cpc, dec("20")
		}
		owed := bid.Mul(decimal.NewFromInt(total))
		want := decimal.Min(owed.RoundDown(2), room)
		requireAmount(t, want.String(), charged)
		c, err := f.p.Campaign(f.ctx, "parts")
		require.NoError(t, err)
		g, _ := c.AdGroup(group)
		if owed.GreaterThan(room) {
			requireAmount(t, "0", g.Carry, "nothing beyond a budget is carried")
		} else {
			requireAmount(t, owed.Sub(charged).String(), g.Carry)
			require.True(t, g.Carry.LessThan(dec("0.01")))
		}
		require.False(t, g.Spent.GreaterThan(g.DailyBudget))
		require.False(t, c.Spent.GreaterThan(c.DailyBudget))
		f.verify(t)
	})
}

// split cuts total into the parts between the sorted cut points.
func split(total int64, cuts []int64) []int64 {
	pts := append([]int64{0}, cuts...)
	pts = append(pts, total)
	for i := 1; i < len(pts); i++ { // insertion sort: few points
		for j := i; j > 0 && pts[j] < pts[j-1]; j-- {
			pts[j], pts[j-1] = pts[j-1], pts[j]
		}
	}
	parts := make([]int64, 0, len(pts)-1)
	for i := 1; i < len(pts); i++ {
		parts = append(parts, pts[i]-pts[i-1])
	}
	return parts
}

// issue 10 #4: reviews and every other privileged action go through
// kit.Authorize against the program's kit.Roles (WithRoles): an actor
// without kit.RoleSalesRep, or the campaign's own advertiser, is
// ErrForbidden (ledger.ErrForbidden) and writes nothing. Staff may pause
// (a takedown only staff can lift) and end a campaign they do not own.
func TestPrivilegedActionsAreAuthorized(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open(t), DefaultRules())
		f.advertiser(t, "acme", "GB", "500")
		f.roles.Grant("acme", kit.RoleSalesRep)
		_, err := f.p.BuyCampaign(f.ctx, BuyCampaignRequest{CampaignID: "c1", Actor: "acme", Spec: f.spec(3, "60")})
		require.NoError(t, err)
		before := f.snapshot(t)
		for _, who := range []string{"", "mallory", "acme"} {
			_, err := f.p.Approve(f.ctx, ApproveRequest{EventID: "rev-" + who, Actor: who, CampaignID: "c1"})
			require.ErrorIs(t, err, ledger.ErrForbidden, who)
			require.ErrorIs(t, err, ErrForbidden, who)
			_, err = f.p.Reject(f.ctx, RejectRequest{EventID: "rej-" + who, Actor: who, CampaignID: "c1", Reason: "no"})
			require.ErrorIs(t, err, ledger.ErrForbidden, who)
		}
		require.Equal(t, before, f.snapshot(t), "refusals write nothing")

		// A program given no role directory lets nobody review.
		bare, err := New(f.ctx, f.l, DefaultRules())
		require.NoError(t, err)
		_, err = bare.Approve(f.ctx, ApproveRequest{EventID: "rev-bare", Actor: "rita", CampaignID: "c1"})
		require.ErrorIs(t, err, ledger.ErrForbidden)
		require.Equal(t, before, f.snapshot(t))

		c, err := f.p.Approve(f.ctx, ApproveRequest{EventID: "rev-1", Actor: "rita", CampaignID: "c1"})
		require.NoError(t, err)
		require.Equal(t, StatusLive, c.Status)

		// Staff take a live campaign down; the owner cannot lift it.
		before = f.snapshot(t)
		_, err = f.p.Pause(f.ctx, PauseRequest{EventID: "p-m", Actor: "mallory", CampaignID: "c1"})
		require.ErrorIs(t, err, ledger.ErrForbidden)
		require.Equal(t, before, f.snapshot(t))
		c, err = f.p.Pause(f.ctx, PauseRequest{EventID: "p-1", Actor: "rita", CampaignID: "c1"})
		require.NoError(t, err)
		require.Equal(t, StatusPaused, c.Status)
		require.Equal(t, "rita", c.PausedBy)
		before = f.snapshot(t)
		_, err = f.p.Resume(f.ctx, ResumeRequest{EventID: "r-acme", Actor: "acme", CampaignID: "c1"})
		require.ErrorIs(t, err, ledger.ErrForbidden, "a takedown is lifted by staff only")
		require.Equal(t, before, f.snapshot(t))
		_, err = f.p.Resume(f.ctx, ResumeRequest{EventID: "r-1", Actor: "rita", CampaignID: "c1"})
		require.NoError(t, err)

		// Staff end a campaign: the unspent budget goes back.
		_, err = f.p.Cancel(f.ctx, CancelRequest{EventID: "x-m", Actor: "mallory", CampaignID: "c1"})
		require.ErrorIs(t, err, ledger.ErrForbidden)
		c, err = f.p.Cancel(f.ctx, CancelRequest{EventID: "x-1", Actor: "rita", CampaignID: "c1"})
		require.NoError(t, err)
		require.Equal(t, StatusCanceled, c.Status)
		require.Contains(t, c.EndReason, "rita")
		requireAmount(t, "180", c.Released)
		requireAmount(t, "500", f.balance(t, "acme").Available)

		// The owner's own pause is the owner's to lift.
		_, err = f.p.BuyCampaign(f.ctx, BuyCampaignRequest{CampaignID: "c2", Actor: "acme", Spec: f.spec(3, "60")})
		require.NoError(t, err)
		_, err = f.p.Approve(f.ctx, ApproveRequest{EventID: "rev-2", Actor: "rita", CampaignID: "c2"})
		require.NoError(t, err)
		_, err = f.p.Pause(f.ctx, PauseRequest{EventID: "p-2", Actor: "acme", CampaignID: "c2"})
		require.NoError(t, err)
		c, err = f.p.Resume(f.ctx, ResumeRequest{EventID: "r-2", Actor: "acme", CampaignID: "c2"})
		require.NoError(t, err)
		require.Equal(t, StatusLive, c.Status)
		f.verify(t)
	})
}

// issue 10 #6: a retried review was refused when the reviewer's role had
// been revoked since, and a retried top-up when the rules had changed; the
// replay check now comes first and the result says it was a replay.
func TestReplayComesBeforeRolesAndRules(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open(t), DefaultRules())
		f.advertiser(t, "acme", "GB", "")
		tu, err := f.p.TopUp(f.ctx, TopUpRequest{EventID: "pay-1", Actor: "acme", Amount: dec("60")})
		require.NoError(t, err)
		require.False(t, tu.Replayed)
		_, err = f.p.BuyCampaign(f.ctx, BuyCampaignRequest{CampaignID: "c1", Actor: "acme", Spec: f.spec(1, "50")})
		require.NoError(t, err)
		c1, err := f.p.Approve(f.ctx, ApproveRequest{EventID: "rev-1", Actor: "rita", CampaignID: "c1"})
		require.NoError(t, err)
		require.False(t, c1.Replayed)

		f.roles.Revoke("rita", kit.RoleSalesRep)
		r := DefaultRules()
		r.MinTopUp = dec("100")
		r.Countries = []string{"US"}
		p2, err := New(f.ctx, f.l, r, WithRoles(f.roles))
		require.NoError(t, err)
		before := f.snapshot(t)
		c2, err := p2.Approve(f.ctx, ApproveRequest{EventID: "rev-1", Actor: "rita", CampaignID: "c1"})
		require.NoError(t, err, "a retry of a review that went through")
		require.True(t, c2.Replayed)
		c2.Replayed = false
		require.Equal(t, c1, c2)
		tu2, err := p2.TopUp(f.ctx, TopUpRequest{EventID: "pay-1", Actor: "acme", Amount: dec("60")})
		require.NoError(t, err, "a retry of a top-up that went through")
		require.True(t, tu2.Replayed)
		require.Equal(t, tu.Transaction, tu2.Transaction)
		a, err := p2.OpenAdvertiser(f.ctx, OpenAdvertiserRequest{Actor: "acme", Country: "GB"})
		require.NoError(t, err)
		require.True(t, a.Replayed)
		require.Equal(t, before, f.snapshot(t), "replays change nothing")

		// New events are judged as things are now.
		_, err = p2.TopUp(f.ctx, TopUpRequest{EventID: "pay-2", Actor: "acme", Amount: dec("60")})
		require.ErrorIs(t, err, ErrTopUpBounds)
		_, err = p2.Reject(f.ctx, RejectRequest{EventID: "rev-2", Actor: "rita", CampaignID: "c1", Reason: "late"})
		require.ErrorIs(t, err, ErrForbidden)
		require.Equal(t, before, f.snapshot(t))
	})
}

// issue 10 #3: a campaign starting in 2300 was bought, and its budget hold
// (expiring in 2300, stored as 1715) released by the next Tick. Times from
// input and the hold expiry computed from them stay in the ledger's range.
func TestCampaignTimesOutsideTheLedgerRange(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open(t), DefaultRules())
		f.advertiser(t, "acme", "GB", "500")
		before := f.snapshot(t)
		for name, spec := range map[string]CampaignSpec{
			"start in 2300": func() CampaignSpec {
				s := f.spec(3, "60")
				s.Start = time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)
				s.End = s.Start.Add(3 * day)
				return s
			}(),
			"end in 2300": func() CampaignSpec {
				s := f.spec(3, "60")
				s.End = time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)
				return s
			}(),
			"zero start": func() CampaignSpec { s := f.spec(3, "60"); s.Start = time.Time{}; return s }(),
			"hold past max": func() CampaignSpec {
				s := f.spec(3, "60")
				s.Start = ledger.MaxTime.Add(-5 * day)
				s.End = s.Start.Add(day)
				return s
			}(),
		} {
			if name == "hold past max" {
				f.clock.Set(ledger.MaxTime.Add(-6 * day))
			}
			_, err := f.p.BuyCampaign(f.ctx, BuyCampaignRequest{CampaignID: "c-" + strings.ReplaceAll(name, " ", "-"), Actor: "acme", Spec: spec})
			require.ErrorIs(t, err, ledger.ErrInvalidTime, name)
			require.ErrorIs(t, err, ErrInvalidCampaign, name)
			f.clock.Set(t0)
		}
		require.Equal(t, before, f.snapshot(t), "nothing held")
		_, expired := f.tick(t)
		require.Zero(t, expired)
		requireAmount(t, "500", f.balance(t, "acme").Available)
	})
}

// issue 10 #1: the delivery counters were plain int64 sums that wrapped;
// now an overflow is ledger.ErrOverflow and writes nothing. Budgets (daily
// × days) are checked products too.
func TestCountersAndBudgetsDoNotOverflow(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open(t), DefaultRules())
		f.advertiser(t, "acme", "GB", "500")
		f.liveCampaign(t, "c1", 3, "2.50", "0.35")
		require.NoError(t, f.l.Update(f.ctx, func(w *ledger.Writer) error {
			var c Campaign
			if err := w.LoadJSON(kindCampaign, "c1", &c); err != nil {
				return err
			}
			c.AdGroups[1].Clicks = math.MaxInt64 - 5 // as after a long life of clicks
			return w.SaveJSON(kindCampaign, "c1", c)
		}))
		before := f.snapshot(t)
		_, err := f.p.ReportDelivery(f.ctx, ReportDeliveryRequest{EventID: "rep-1", CampaignID: "c1", AdGroupID: "search", Impressions: 0, Clicks: 10})
		require.ErrorIs(t, err, ledger.ErrOverflow)
		require.Equal(t, before, f.snapshot(t))

		r := DefaultRules()
		r.MaxTopUp = dec("90000000000000000")
		r.MinCampaignDailyBudget = dec("50000000000000000") // 5e18 cents a day
		p2, err := New(f.ctx, f.l, r, WithRoles(f.roles))
		require.NoError(t, err)
		_, err = p2.BuyCampaign(f.ctx, BuyCampaignRequest{CampaignID: "c-huge", Actor: "acme", Spec: CampaignSpec{Start: t0, End: t0.Add(2 * day),
			DailyBudget: dec("50000000000000000"), AdGroups: []AdGroupSpec{{ID: "g", DailyBudget: dec("20"), BidType: CPM, Bid: dec("1")}}}})
		require.ErrorIs(t, err, ledger.ErrOverflow, "5e18 cents x 2 days")
		require.Equal(t, before, f.snapshot(t))
	})
}

// issue 10 #9: one campaign that could not be ended (here: its record
// cannot be read) stopped the whole Tick; now it is reported with its ID
// and the others end.
func TestTickIsolatesAFailingCampaign(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open(t), DefaultRules())
		f.advertiser(t, "acme", "GB", "500")
		for _, id := range []string{"a1", "b2", "c3"} {
			_, err := f.p.BuyCampaign(f.ctx, BuyCampaignRequest{CampaignID: id, Actor: "acme", Spec: f.spec(1, "60")})
			require.NoError(t, err)
		}
		require.NoError(t, f.l.Update(f.ctx, func(w *ledger.Writer) error {
			return w.PutRecord(kindCampaign, "a1", []byte(`{"id":`)) // a broken record
		}))
		f.clock.Set(t0.Add(day))
		rep, err := f.p.Tick(f.ctx)
		require.NoError(t, err, "one broken item is not a failed run")
		require.Equal(t, 2, rep.Count(TickEnded))
		requireAmount(t, "120", f.released(t, rep))
		require.Len(t, rep.Failed, 1)
		require.Equal(t, "a1", rep.Failed[0].ID)
		require.Equal(t, dueEnd, rep.Failed[0].Kind)
		requireAmount(t, "60", f.balance(t, "acme").Held, "a1's budget stays held until it is ended")
		rep, err = f.p.Tick(f.ctx)
		require.NoError(t, err)
		require.Len(t, rep.Failed, 1, "still due, tried again")
		f.verify(t)
	})
}

// issue 10 #10: rules were decoded with plain encoding/json, so a misspelt
// field was silently ignored.
func TestRulesJSONRefusesUnknownFields(t *testing.T) {
	for _, bad := range []string{
		`{"hold_margn":"1h"}`,
		`{"countries":["US"],"min_top_upp":"10"}`,
		`{"asset":{"code":"USD","precision":2,"precison":3}}`,
	} {
		r := DefaultRules()
		err := json.Unmarshal([]byte(bad), &r)
		require.ErrorIs(t, err, ErrInvalidRules, bad)
	}
	r := DefaultRules()
	require.ErrorIs(t, r.UnmarshalJSON([]byte(`{"max_campaign_days":3} []`)), ErrInvalidRules, "trailing data")
	err := json.Unmarshal([]byte(`{"hold_margn":"1h"}`), &r)
	require.ErrorContains(t, err, "hold_margn", "the error names the field")
	r = DefaultRules()
	require.NoError(t, json.Unmarshal([]byte(`{"countries":["US"],"hold_margin":"48h"}`), &r))
	require.NoError(t, r.Validate())
	require.Equal(t, []string{"US"}, r.Countries)
	require.Equal(t, kit.Duration(48*time.Hour), r.HoldMargin)
	requireAmount(t, "50", r.MinTopUp, "fields left out keep the value they had")

	r = DefaultRules()
	r.HoldMargin = kit.Duration(ledger.MaxDuration + time.Hour)
	require.ErrorIs(t, r.Validate(), ledger.ErrInvalidTime, "issue 10 #3: durations are bounded")
}

// issue 10 #2 and #11: decimals with exponents near the int32 limits made
// shopspring/decimal panic; now they are refused with a typed error that
// keeps its cause in the chain (Validate wrapped causes with %v).
func TestHugeExponentsAreRefusedNotPanics(t *testing.T) {
	r := DefaultRules()
	r.Asset = ledger.Asset{Code: "", Precision: 2}
	require.ErrorIs(t, r.Validate(), ledger.ErrInvalidAsset)
	r = DefaultRules()
	r.MaxTopUp = decimal.New(1, 2147483647)
	require.ErrorIs(t, r.Validate(), ErrInvalidRules)
	require.ErrorIs(t, r.Validate(), ledger.ErrInvalidAmount)

	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open(t), DefaultRules())
		f.advertiser(t, "acme", "GB", "500")
		before := f.snapshot(t)
		for _, huge := range []decimal.Decimal{decimal.New(1, 2147483647), decimal.New(1, -2147483647), decimal.New(25, -2147483600)} {
			_, err := f.p.TopUp(f.ctx, TopUpRequest{EventID: "pay-huge", Actor: "acme", Amount: huge})
			require.ErrorIs(t, err, ErrInvalidRequest)
			s := f.spec(3, "60")
			s.AdGroups[0].Bid = huge
			_, err = f.p.BuyCampaign(f.ctx, BuyCampaignRequest{CampaignID: "c-huge", Actor: "acme", Spec: s})
			require.ErrorIs(t, err, ledger.ErrInvalidAmount)
			s = f.spec(3, "60")
			s.DailyBudget = huge
			_, err = f.p.BuyCampaign(f.ctx, BuyCampaignRequest{CampaignID: "c-huge", Actor: "acme", Spec: s})
			require.True(t, errors.Is(err, ErrInvalidRequest), err)
		}
		require.Equal(t, before, f.snapshot(t))
	})
}
