// Command adsbuy tells the story of self-service ad buying on the rewardkit
// ledger: advertisers in allowed countries top up a prepaid balance, buy
// campaigns whose budget is held, a sales representative approves or
// rejects them, deliveries spend the budget at the bid, and what is not
// spent goes back to the balance; the ledger's Verify closes the story.
//
//	go run ./examples/adsbuy                      # in memory
//	go run ./examples/adsbuy -postgres "$DSN"     # on PostgreSQL
//
// On a database that already holds a ledger, every id of this run gets a
// prefix of its own, so the story can be told again.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/rewardkit/rewardkit/adsbuy"
	"github.com/rewardkit/rewardkit/examples/internal/exampledb"
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/driver"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
	"github.com/shopspring/decimal"
)

func main() { exampledb.Main("adsbuy", run) }

// story carries what every step needs and prints balance changes.
type story struct {
	ctx    context.Context
	out    io.Writer
	l      *ledger.Ledger
	p      *adsbuy.Program
	id     func(string) string
	last   map[string][2]decimal.Decimal // posted, held
	labels map[string]string
}

func (s *story) say(format string, args ...any) { fmt.Fprintf(s.out, format+"\n", args...) }

// money prints every watched balance that changed since the last call.
func (s *story) money() error {
	addrs := make([]string, 0, len(s.labels))
	for a := range s.labels {
		addrs = append(addrs, a)
	}
	sort.Strings(addrs)
	for _, a := range addrs {
		b, err := s.l.Balance(s.ctx, a, "USD")
		if errors.Is(err, ledger.ErrUnknownAccount) {
			continue
		} else if err != nil {
			return err
		}
		old := s.last[a]
		if !old[0].Equal(b.Posted) || !old[1].Equal(b.Held) {
			s.say("    %-22s posted %8s -> %8s   held %7s -> %7s USD", s.labels[a],
				old[0].StringFixed(2), b.Posted.StringFixed(2), old[1].StringFixed(2), b.Held.StringFixed(2))
			s.last[a] = [2]decimal.Decimal{b.Posted, b.Held}
		}
	}
	return nil
}

func (s *story) refused(what string, err, want error) error {
	if !errors.Is(err, want) {
		return fmt.Errorf("%s: want %v, got %v", what, want, err)
	}
	s.say("  refused, as it should be: %s\n    %v", what, err)
	return nil
}

func (s *story) report(report, campaign, group string, impressions, clicks int64) error {
	d, err := s.p.ReportDelivery(s.ctx, adsbuy.ReportDeliveryRequest{EventID: s.id(report), CampaignID: s.id(campaign), AdGroupID: group, Impressions: impressions, Clicks: clicks})
	if err != nil {
		return err
	}
	note := ""
	if d.Truncated {
		note = " (truncated at a budget)"
	}
	if d.Carry.Sign() > 0 {
		note += fmt.Sprintf(" (%s carried to the next report)", d.Carry)
	}
	s.say("  %s %s/%s: %d impressions, %d clicks cost %s, charged %s%s", d.At.Format("2 Jan 15:04"), campaign, group,
		impressions, clicks, fmtAmount(d.Cost), d.Charged.StringFixed(2), note)
	return nil
}

// fmtAmount prints an amount with two decimals, or with all of its decimals when
// it has more (a delivery's exact cost may be a fraction of a cent).
func fmtAmount(d decimal.Decimal) string {
	if d.Exponent() >= -2 || d.Equal(d.Round(2)) {
		return d.StringFixed(2)
	}
	return d.String()
}

func run(ctx context.Context, out io.Writer, store driver.Store) error {
	start := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	clock := ledgertest.NewClock(start)
	l := ledger.New(store, ledger.WithClock(clock))
	prefix := ""
	if rep, err := l.Verify(ctx); err != nil {
		return err
	} else if rep.Head.ID > 0 {
		prefix = fmt.Sprintf("run%d-", rep.Head.ID) // a store used before: ids of this run's own
	}
	id := func(name string) string { return prefix + name }
	usd := decimal.RequireFromString

	roles := &kit.RoleDirectory{}
	roles.Grant(id("rita"), kit.RoleSalesRep)
	p, err := adsbuy.New(ctx, l, adsbuy.DefaultRules(), adsbuy.WithRoles(roles))
	if err != nil {
		return err
	}
	s := &story{ctx: ctx, out: out, l: l, p: p, id: id, last: map[string][2]decimal.Decimal{}, labels: map[string]string{
		adsbuy.AdvertiserAccount(id("pizzeria")): "pizzeria's balance", adsbuy.AdvertiserAccount(id("bakery")): "bakery's balance",
		adsbuy.RevenueAccount: "platform ads revenue",
	}}
	for a := range s.labels {
		if b, err := l.Balance(ctx, a, "USD"); err == nil {
			s.last[a] = [2]decimal.Decimal{b.Posted, b.Held}
		}
	}
	r := p.Rules()
	bids := make([]string, len(r.BidTypes))
	for i, b := range r.BidTypes {
		bids[i] = string(b)
	}
	s.say("Self-service ads, %s. Countries %s; top-ups %s to %s USD; campaign daily budget at least %s, ad group %s; bids %s.",
		start.Format("2 Jan 2006"), strings.Join(r.Countries, ", "), r.MinTopUp, r.MaxTopUp, r.MinCampaignDailyBudget, r.MinAdGroupDailyBudget, strings.Join(bids, ", "))

	s.say("\n1. Advertiser accounts and top-ups")
	for _, a := range []struct{ who, country string }{{"pizzeria", "IT"}, {"bakery", "GB"}} {
		if _, err := p.OpenAdvertiser(ctx, adsbuy.OpenAdvertiserRequest{Actor: id(a.who), Country: a.country}); err != nil {
			return err
		}
		s.say("  %s opens an account in %s", a.who, a.country)
	}
	_, err = p.OpenAdvertiser(ctx, adsbuy.OpenAdvertiserRequest{Actor: id("brauhaus"), Country: "DE"})
	if err := s.refused("brauhaus opens an account in Germany", err, adsbuy.ErrCountry); err != nil {
		return err
	}
	for _, t := range []struct{ ref, who, amount string }{{"pay-001", "pizzeria", "500.00"}, {"pay-002", "bakery", "200.00"}, {"pay-001", "pizzeria", "500.00"}} {
		if _, err := p.TopUp(ctx, adsbuy.TopUpRequest{EventID: id(t.ref), Actor: id(t.who), Amount: usd(t.amount)}); err != nil {
			return err
		}
		s.say("  %s tops up %s USD (payment %s)", t.who, t.amount, t.ref)
		if err := s.money(); err != nil {
			return err
		}
	}
	s.say("  (payment pay-001 arrived twice and was credited once)")
	_, err = p.TopUp(ctx, adsbuy.TopUpRequest{EventID: id("pay-003"), Actor: id("bakery"), Amount: usd("20")})
	if err := s.refused("a top-up of 20 USD", err, adsbuy.ErrTopUpBounds); err != nil {
		return err
	}

	s.say("\n2. Buying campaigns: the whole budget is held, the campaign waits for review")
	pizza := adsbuy.CampaignSpec{Name: "pizza week", Start: start, End: start.AddDate(0, 0, 7), DailyBudget: usd("60"),
		AdGroups: []adsbuy.AdGroupSpec{
			{ID: "video", Name: "Rome foodies", DailyBudget: usd("40"), BidType: adsbuy.CPM, Bid: usd("2.50")},
			{ID: "search", Name: "pizza near me", DailyBudget: usd("20"), BidType: adsbuy.CPC, Bid: usd("0.40")},
		}}
	c, err := p.BuyCampaign(ctx, adsbuy.BuyCampaignRequest{CampaignID: id("pizza-week"), Actor: id("pizzeria"), Spec: pizza})
	if err != nil {
		return err
	}
	s.say("  pizzeria buys %q: %d days x %s = %s USD held, %s", c.Name, c.Days, c.DailyBudget, c.Budget, c.Status)
	if err := s.money(); err != nil {
		return err
	}
	cheap := pizza
	cheap.DailyBudget = usd("40")
	_, err = p.BuyCampaign(ctx, adsbuy.BuyCampaignRequest{CampaignID: id("cheap"), Actor: id("pizzeria"), Spec: cheap})
	if err := s.refused("a campaign with a daily budget of 40 USD", err, adsbuy.ErrBudgetTooLow); err != nil {
		return err
	}
	bread := adsbuy.CampaignSpec{Name: "fresh bread", Start: start, End: start.AddDate(0, 0, 3), DailyBudget: usd("50"),
		AdGroups: []adsbuy.AdGroupSpec{{ID: "video", DailyBudget: usd("50"), BidType: adsbuy.CPM, Bid: usd("3")}}}
	big := bread
	big.End = start.AddDate(0, 0, 30)
	_, err = p.BuyCampaign(ctx, adsbuy.BuyCampaignRequest{CampaignID: id("bread-month"), Actor: id("bakery"), Spec: big})
	if err := s.refused("bakery buys 30 days x 50 USD with 200 USD", err, adsbuy.ErrInsufficientFunds); err != nil {
		return err
	}
	if _, err := p.BuyCampaign(ctx, adsbuy.BuyCampaignRequest{CampaignID: id("fresh-bread"), Actor: id("bakery"), Spec: bread}); err != nil {
		return err
	}
	s.say("  bakery buys \"fresh bread\": 3 days x 50 = 150 USD held")
	if err := s.money(); err != nil {
		return err
	}
	_, err = p.ReportDelivery(ctx, adsbuy.ReportDeliveryRequest{EventID: id("early"), CampaignID: id("pizza-week"), AdGroupID: "video", Impressions: 1000, Clicks: 0})
	if err := s.refused("a delivery before approval", err, adsbuy.ErrWrongState); err != nil {
		return err
	}

	s.say("\n3. Review: only a sales representative, never the advertiser")
	_, err = p.Approve(ctx, adsbuy.ApproveRequest{EventID: id("review-0"), Actor: id("pizzeria"), CampaignID: id("pizza-week")})
	if err := s.refused("pizzeria (no role) approves its own campaign", err, adsbuy.ErrForbidden); err != nil {
		return err
	}
	roles.Grant(id("bakery"), kit.RoleSalesRep)
	_, err = p.Approve(ctx, adsbuy.ApproveRequest{EventID: id("review-00"), Actor: id("bakery"), CampaignID: id("fresh-bread")})
	if err := s.refused("bakery, holding the role too, approves its own campaign", err, adsbuy.ErrForbidden); err != nil {
		return err
	}
	roles.Revoke(id("bakery"), kit.RoleSalesRep)
	clock.Advance(2 * time.Hour)
	if _, err := p.Approve(ctx, adsbuy.ApproveRequest{EventID: id("review-1"), Actor: id("rita"), CampaignID: id("pizza-week")}); err != nil {
		return err
	}
	s.say("  rita (sales representative) approves pizza week: live")
	if _, err := p.Reject(ctx, adsbuy.RejectRequest{EventID: id("review-2"), Actor: id("rita"), CampaignID: id("fresh-bread"), Reason: "health claims without evidence"}); err != nil {
		return err
	}
	s.say("  rita rejects fresh bread: its whole budget goes back")
	if err := s.money(); err != nil {
		return err
	}

	s.say("\n4. Deliveries spend the held budget at the bid, never beyond a budget")
	if err := s.report("r1", "pizza-week", "video", 9000, 120); err != nil {
		return err
	}
	if err := s.report("r2", "pizza-week", "search", 0, 35); err != nil {
		return err
	}
	if err := s.report("r3", "pizza-week", "video", 8000, 60); err != nil {
		return err
	}
	if err := s.report("r1", "pizza-week", "video", 9000, 120); err != nil {
		return err
	}
	s.say("  (report r1 arrived twice and was charged once)")
	if err := s.money(); err != nil {
		return err
	}
	clock.Advance(24 * time.Hour)
	if err := s.report("r4", "pizza-week", "search", 0, 80); err != nil {
		return err
	}
	if _, err := p.Pause(ctx, adsbuy.PauseRequest{EventID: id("pause-1"), Actor: id("pizzeria"), CampaignID: id("pizza-week")}); err != nil {
		return err
	}
	s.say("  pizzeria pauses the campaign")
	_, err = p.ReportDelivery(ctx, adsbuy.ReportDeliveryRequest{EventID: id("r5"), CampaignID: id("pizza-week"), AdGroupID: "video", Impressions: 5000, Clicks: 10})
	if err := s.refused("a delivery while paused", err, adsbuy.ErrWrongState); err != nil {
		return err
	}
	clock.Advance(24 * time.Hour)
	if _, err := p.Resume(ctx, adsbuy.ResumeRequest{EventID: id("resume-1"), Actor: id("pizzeria"), CampaignID: id("pizza-week")}); err != nil {
		return err
	}
	s.say("  pizzeria resumes it")
	if err := s.report("r6", "pizza-week", "video", 12000, 40); err != nil {
		return err
	}
	s.say("  an ad server reporting every few impressions: fractions of a cent are carried, never lost")
	for i := 1; i <= 4; i++ {
		if err := s.report(fmt.Sprintf("r6-%d", i), "pizza-week", "video", 3, 0); err != nil {
			return err
		}
	}
	if err := s.money(); err != nil {
		return err
	}

	s.say("\n5. The schedule ends: Tick returns what was not spent")
	clock.Set(pizza.End)
	rep, err := p.Tick(ctx)
	if err != nil {
		return err
	}
	for _, it := range rep.Done {
		c, err := p.Campaign(ctx, it.ID)
		if err != nil {
			return err
		}
		s.say("  %s: tick ended %s, released %s USD", clock.Now().Format("2 Jan 15:04"), it.ID, c.Released.StringFixed(2))
	}
	if err := rep.Err(); err != nil {
		return err
	}
	if err := s.money(); err != nil {
		return err
	}

	s.say("\n6. Statement of pizza week")
	st, err := p.Statement(ctx, id("pizza-week"))
	if err != nil {
		return err
	}
	cm := st.Campaign
	s.say("  status %s (%s), reviewed by %s", cm.Status, cm.EndReason, cm.ReviewedBy)
	for _, d := range st.Deliveries {
		s.say("  %2d  %s  %-6s %6d impr %4d clicks  cost %6s  charged %6s", d.Seq, d.At.Format("2 Jan 15:04"), d.AdGroup,
			d.Impressions, d.Clicks, fmtAmount(d.Cost), d.Charged.StringFixed(2))
	}
	for _, g := range cm.AdGroups {
		s.say("  ad group %-6s %s %s: %d impressions, %d clicks, spent %s of %s", g.ID, g.BidType, g.Bid.StringFixed(2),
			g.Impressions, g.Clicks, g.Spent.StringFixed(2), g.Budget.StringFixed(2))
	}
	s.say("  budget %s = spent %s + released %s; still held %s", cm.Budget.StringFixed(2), cm.Spent.StringFixed(2),
		cm.Released.StringFixed(2), st.Held.StringFixed(2))
	if !cm.Spent.Add(cm.Released).Equal(cm.Budget) {
		return fmt.Errorf("statement does not add up")
	}

	s.say("\n7. Verify")
	vr, err := l.Verify(ctx)
	if err != nil {
		return err
	}
	for asset, total := range vr.Totals {
		if !total.IsZero() {
			return fmt.Errorf("asset %s sums to %s", asset, total)
		}
	}
	s.say("  %d transactions and %d holds replayed, every asset sums to zero, the hash chain is intact", vr.Transactions, vr.Holds)
	return nil
}
