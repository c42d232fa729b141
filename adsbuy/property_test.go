package adsbuy

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/driver"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/kit/kittest"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// The property test drives the program with random events (top-ups,
// purchases, reviews by anyone, pauses, cancellations, delivery reports)
// and clock moves, and checks after every step, against the ledger's
// journal:
//   - conservation: every asset sums to zero (Verify); each advertiser's
//     posted balance is its top-ups minus the captures of its campaigns,
//     and its held amount is exactly the unspent budget of its open
//     campaigns; platform revenue is the sum of all captures;
//   - no campaign spends beyond its budget (total, daily, per ad group),
//     before approval (every capture is after ReviewedAt, by an account
//     holding the role that is not the advertiser), or outside its
//     schedule;
//   - every campaign that ended returns exactly its unspent budget
//     (Released = Budget - Spent, the hold closed);
//   - the statement's deliveries add up to what was spent;
//   - refused events, replays and a second Tick change nothing.

var propAdvertisers = []string{"acme", "bolt"}

type capture struct {
	at      time.Time
	amount  decimal.Decimal
	adGroup string
}

type adsMachine struct {
	f         *fixture
	topUps    map[string]decimal.Decimal
	campaigns []string
	refs      map[string]bool // payment references credited
	lastCall  func() error
}

func (m *adsMachine) captures(t *rapid.T) map[uint64][]capture {
	out := map[uint64][]capture{}
	err := m.f.l.View(m.f.ctx, func(r *ledger.Reader) error {
		for after := uint64(0); ; {
			txs, next, err := r.Transactions(after, 1000)
			if err != nil {
				return err
			}
			for _, tx := range txs {
				if tx.Kind != ledger.KindCapture {
					continue
				}
				require.Len(t, tx.Postings, 1)
				require.Equal(t, RevenueAccount, tx.Postings[0].To)
				out[tx.Hold] = append(out[tx.Hold], capture{tx.Time, tx.Postings[0].Amount, tx.Metadata["ad_group"]})
			}
			if next == 0 {
				return nil
			}
			after = next
		}
	})
	require.NoError(t, err)
	return out
}

func (m *adsMachine) Check(t *rapid.T) {
	f := m.f
	f.verify(t)
	caps := m.captures(t)
	posted := map[string]decimal.Decimal{}
	held := map[string]decimal.Decimal{}
	revenue := decimal.Zero
	for _, adv := range propAdvertisers {
		posted[adv], held[adv] = m.topUps[adv], decimal.Zero
	}
	for _, id := range m.campaigns {
		st, err := f.p.Statement(f.ctx, id)
		require.NoError(t, err)
		c := st.Campaign
		spent := decimal.Zero
		perDay := map[int]decimal.Decimal{}
		perGroupDay := map[string]decimal.Decimal{}
		for _, cp := range caps[c.Hold] {
			spent = spent.Add(cp.amount)
			require.False(t, c.ReviewedAt.IsZero() || cp.at.Before(c.ReviewedAt), "%s spent at %s before approval %s", id, cp.at, c.ReviewedAt)
			require.False(t, cp.at.Before(c.Start) || !cp.at.Before(c.End), "%s spent outside its schedule", id)
			d := int(cp.at.Sub(c.Start) / day)
			perDay[d] = perDay[d].Add(cp.amount)
			k := fmt.Sprintf("%s/%d", cp.adGroup, d)
			perGroupDay[k] = perGroupDay[k].Add(cp.amount)
		}
		if len(caps[c.Hold]) > 0 {
			require.NotEqual(t, StatusRejected, c.Status)
			ok, _ := f.roles.HasRole(f.ctx, c.ReviewedBy, kit.RoleSalesRep)
			require.True(t, ok, "%s approved by %q", id, c.ReviewedBy)
			require.NotEqual(t, c.Advertiser, c.ReviewedBy)
		}
		requireAmount(t, spent.String(), c.Spent, id, " spent")
		require.False(t, c.Spent.GreaterThan(c.Budget), "%s spent %s of %s", id, c.Spent, c.Budget)
		for d, s := range perDay {
			require.False(t, s.GreaterThan(c.DailyBudget), "%s spent %s on day %d", id, s, d)
		}
		for _, g := range c.AdGroups {
			require.False(t, g.Spent.GreaterThan(g.Budget), "%s/%s over budget", id, g.ID)
			for d := 0; d < c.Days; d++ {
				s := perGroupDay[fmt.Sprintf("%s/%d", g.ID, d)]
				require.False(t, s.GreaterThan(g.DailyBudget), "%s/%s spent %s on day %d", id, g.ID, s, d)
			}
		}
		charged := decimal.Zero
		for _, d := range st.Deliveries {
			charged = charged.Add(d.Charged)
		}
		requireAmount(t, c.Spent.String(), charged, id, " statement")
		h, err := f.l.HoldByID(f.ctx, c.Hold)
		require.NoError(t, err)
		if c.Status.Final() {
			requireAmount(t, c.Budget.Sub(c.Spent).String(), c.Released, id, " released")
			require.NotEqual(t, ledger.HoldPending, h.Status, id)
			requireAmount(t, "0", st.Held)
		} else {
			require.Equal(t, ledger.HoldPending, h.Status, id)
			requireAmount(t, c.Budget.Sub(c.Spent).String(), h.Remaining, id, " held")
			held[c.Advertiser] = held[c.Advertiser].Add(h.Remaining)
		}
		posted[c.Advertiser] = posted[c.Advertiser].Sub(c.Spent)
		revenue = revenue.Add(c.Spent)
	}
	for _, adv := range propAdvertisers {
		b := f.balance(t, adv)
		requireAmount(t, posted[adv].String(), b.Posted, adv, " posted")
		requireAmount(t, held[adv].String(), b.Held, adv, " held")
	}
	requireAmount(t, revenue.String(), f.revenue(t), "revenue")
}

func (m *adsMachine) do(t *rapid.T, call func() error, allowed ...error) {
	if kittest.RefusedOrDone(t, func() string { return m.f.snapshot(t) }, call, allowed...) {
		m.lastCall = call
	}
}

func (m *adsMachine) eventID(t *rapid.T) string {
	return fmt.Sprintf("e%d", rapid.IntRange(0, 1<<30).Draw(t, "event"))
}

func (m *adsMachine) campaign(t *rapid.T) string {
	if len(m.campaigns) == 0 || rapid.IntRange(0, 9).Draw(t, "unknown campaign") == 0 {
		return "c-none"
	}
	// Mostly the newest campaigns: they are the ones still running.
	i := len(m.campaigns) - 1 - rapid.IntRange(0, min(2, len(m.campaigns)-1)).Draw(t, "campaign")
	return m.campaigns[i]
}

func (m *adsMachine) TopUp(t *rapid.T) {
	adv := rapid.SampledFrom(propAdvertisers).Draw(t, "advertiser")
	amount := dec(rapid.SampledFrom([]string{"400", "120.50", "50", "20", "60000"}).Draw(t, "amount"))
	ref := m.eventID(t)
	credited := false
	m.do(t, func() error {
		_, err := m.f.p.TopUp(m.f.ctx, TopUpRequest{EventID: ref, Actor: adv, Amount: amount})
		credited = err == nil
		return err
	}, ErrTopUpBounds, ErrIdempotencyConflict)
	if credited && !m.refs[ref] { // a successful replay of a reference credits nothing
		m.refs[ref] = true
		m.topUps[adv] = m.topUps[adv].Add(amount)
	}
}

func (m *adsMachine) Buy(t *rapid.T) {
	adv := rapid.SampledFrom(propAdvertisers).Draw(t, "advertiser")
	now := m.f.clock.Now()
	start := now.Add(time.Duration(rapid.SampledFrom([]int{0, 0, 0, 6}).Draw(t, "start hours")) * time.Hour)
	n := rapid.IntRange(1, 4).Draw(t, "days")
	spec := CampaignSpec{Start: start, End: start.Add(time.Duration(n) * day),
		DailyBudget: dec(rapid.SampledFrom([]string{"50", "80", "45"}).Draw(t, "daily"))}
	groups := []AdGroupSpec{
		{ID: "video", BidType: CPM, Bid: dec(rapid.SampledFrom([]string{"0.75", "2.50", "9"}).Draw(t, "cpm"))},
		{ID: "search", BidType: CPC, Bid: dec(rapid.SampledFrom([]string{"0.35", "1.10"}).Draw(t, "cpc"))},
	}
	for i := range groups {
		groups[i].DailyBudget = dec(rapid.SampledFrom([]string{"20", "40", "15"}).Draw(t, "group daily"))
	}
	spec.AdGroups = groups[:rapid.IntRange(1, 2).Draw(t, "groups")]
	id := fmt.Sprintf("c%d", rapid.IntRange(0, 1<<20).Draw(t, "campaign id"))
	m.do(t, func() error {
		_, err := m.f.p.BuyCampaign(m.f.ctx, BuyCampaignRequest{CampaignID: id, Actor: adv, Spec: spec})
		return err
	}, ErrBudgetTooLow, ErrInvalidCampaign, ErrInsufficientFunds, ErrIdempotencyConflict)
	if _, err := m.f.p.Campaign(m.f.ctx, id); err == nil && !m.has(id) {
		m.campaigns = append(m.campaigns, id)
	}
}

func (m *adsMachine) has(id string) bool {
	for _, c := range m.campaigns {
		if c == id {
			return true
		}
	}
	return false
}

// BuyApproved is the happy path in one step: a top-up, a purchase and a
// sales representative's approval, so that most runs have live campaigns.
func (m *adsMachine) BuyApproved(t *rapid.T) {
	adv := rapid.SampledFrom(propAdvertisers).Draw(t, "advertiser")
	ref := "happy-" + m.eventID(t)
	if !m.refs[ref] {
		_, err := m.f.p.TopUp(m.f.ctx, TopUpRequest{EventID: ref, Actor: adv, Amount: dec("400")})
		require.NoError(t, err)
		m.refs[ref] = true
		m.topUps[adv] = m.topUps[adv].Add(dec("400"))
	}
	now := m.f.clock.Now()
	n := rapid.IntRange(1, 3).Draw(t, "days")
	spec := CampaignSpec{Start: now, End: now.Add(time.Duration(n) * day), DailyBudget: dec("50"), AdGroups: []AdGroupSpec{
		{ID: "video", DailyBudget: dec("40"), BidType: CPM, Bid: dec("2.50")},
		{ID: "search", DailyBudget: dec("20"), BidType: CPC, Bid: dec("0.35")},
	}}
	id := fmt.Sprintf("h%d", len(m.campaigns))
	if _, err := m.f.p.BuyCampaign(m.f.ctx, BuyCampaignRequest{CampaignID: id, Actor: adv, Spec: spec}); errors.Is(err, ErrInsufficientFunds) {
		return
	} else {
		require.NoError(t, err)
	}
	m.campaigns = append(m.campaigns, id)
	_, err := m.f.p.Approve(m.f.ctx, ApproveRequest{EventID: "approve-" + id, Actor: "rita", CampaignID: id})
	require.NoError(t, err)
}

func (m *adsMachine) Review(t *rapid.T) {
	who := rapid.SampledFrom([]string{"rita", "rita", "acme", "bolt", "mallory"}).Draw(t, "reviewer")
	id := m.campaign(t)
	approve := rapid.IntRange(0, 3).Draw(t, "approve") > 0
	ev := m.eventID(t)
	m.do(t, func() error {
		var err error
		if approve {
			_, err = m.f.p.Approve(m.f.ctx, ApproveRequest{EventID: ev, Actor: who, CampaignID: id})
		} else {
			_, err = m.f.p.Reject(m.f.ctx, RejectRequest{EventID: ev, Actor: who, CampaignID: id, Reason: "policy"})
		}
		return err
	}, ErrForbidden, ErrWrongState, ErrUnknownCampaign, ErrIdempotencyConflict)
}

func (m *adsMachine) OwnerAction(t *rapid.T) {
	who := rapid.SampledFrom([]string{"acme", "bolt", "rita"}).Draw(t, "who")
	id := m.campaign(t)
	op := rapid.SampledFrom([]string{"pause", "resume", "cancel"}).Draw(t, "op")
	ev := m.eventID(t)
	m.do(t, func() error {
		var err error
		switch op {
		case "pause":
			_, err = m.f.p.Pause(m.f.ctx, PauseRequest{EventID: ev, Actor: who, CampaignID: id})
		case "resume":
			_, err = m.f.p.Resume(m.f.ctx, ResumeRequest{EventID: ev, Actor: who, CampaignID: id})
		default:
			_, err = m.f.p.Cancel(m.f.ctx, CancelRequest{EventID: ev, Actor: who, CampaignID: id})
		}
		return err
	}, ErrForbidden, ErrWrongState, ErrUnknownCampaign, ErrIdempotencyConflict)
}

func (m *adsMachine) Report(t *rapid.T) {
	id := m.campaign(t)
	var live []string
	for _, c := range m.campaigns {
		if got, err := m.f.p.Campaign(m.f.ctx, c); err == nil && got.Status == StatusLive {
			live = append(live, c)
		}
	}
	if len(live) > 0 && rapid.IntRange(0, 4).Draw(t, "pick live") > 0 {
		id = rapid.SampledFrom(live).Draw(t, "live campaign")
	}
	group := rapid.SampledFrom([]string{"video", "video", "search", "banner"}).Draw(t, "ad group")
	// Sampled scales, because rapid draws integers biased towards small values.
	impressions := rapid.SampledFrom([]int64{0, 400, 4000, 20000, 150000}).Draw(t, "impressions") + rapid.Int64Range(0, 999).Draw(t, "more impressions")
	clicks := rapid.SampledFrom([]int64{0, 3, 30, 200}).Draw(t, "clicks") + rapid.Int64Range(0, 9).Draw(t, "more clicks")
	ev := m.eventID(t)
	m.do(t, func() error {
		_, err := m.f.p.ReportDelivery(m.f.ctx, ReportDeliveryRequest{EventID: ev, CampaignID: id, AdGroupID: group, Impressions: impressions, Clicks: clicks})
		return err
	}, ErrWrongState, ErrUnknownAdGroup, ErrUnknownCampaign, ErrIdempotencyConflict)
}

func (m *adsMachine) Replay(t *rapid.T) {
	if m.lastCall == nil {
		t.Skip("nothing to replay")
	}
	before := m.f.snapshot(t)
	require.NoError(t, m.lastCall())
	require.Equal(t, before, m.f.snapshot(t), "a replay changes nothing")
}

// Advance moves the clock without a Tick: events then meet campaigns whose
// schedule is over but which no Tick has ended yet.
func (m *adsMachine) Advance(t *rapid.T) {
	m.f.clock.Advance(time.Duration(rapid.SampledFrom([]int64{1, 3, 6, 24, 49}).Draw(t, "advance hours")) * time.Hour)
}

func (m *adsMachine) AdvanceAndTick(t *rapid.T) {
	m.Advance(t)
	m.f.tick(t)
	before := m.f.snapshot(t)
	rep, expired := m.f.tick(t)
	require.Zero(t, rep.Count(TickEnded)+expired)
	require.Equal(t, before, m.f.snapshot(t), "a second tick changes nothing")
}

// actions weights the events so that campaigns get bought, approved and
// delivered often enough for the invariants to bite.
func (m *adsMachine) actions() map[string]func(*rapid.T) {
	return map[string]func(*rapid.T){
		"": m.Check, "TopUp": m.TopUp, "Buy": m.Buy, "BuyApproved": m.BuyApproved, "Review": m.Review, "Review2": m.Review,
		"OwnerAction": m.OwnerAction, "Report": m.Report, "Report2": m.Report, "Report3": m.Report, "Report4": m.Report,
		"Replay": m.Replay, "Advance": m.Advance, "AdvanceAndTick": m.AdvanceAndTick,
	}
}

func TestPropertyAdsbuy(t *testing.T) {
	checkOnStores(t, func(t *rapid.T, store driver.Store) {
		f := newFixture(t, store, DefaultRules())
		for _, adv := range propAdvertisers {
			_, err := f.p.OpenAdvertiser(f.ctx, OpenAdvertiserRequest{Actor: adv, Country: map[string]string{"acme": "GB", "bolt": "US"}[adv]})
			require.NoError(t, err)
		}
		m := &adsMachine{f: f, topUps: map[string]decimal.Decimal{}, refs: map[string]bool{}}
		t.Repeat(m.actions())
	})
}
