package main

import (
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/adsbuy"
	"github.com/rewardkit/rewardkit/ledger/kit"
)

// storyAds is the advertiser's chapter of the story: a prepaid balance, a
// campaign whose budget is held until a sales representative approves it,
// deliveries that spend it, and the unspent rest returned.
func storyAds(t *teller) error {
	ctx, clock := t.ctx, t.clock
	t.chapter("An advertiser buys a campaign that a sales rep approves")
	var roles kit.RoleDirectory
	roles.Grant("rep-bruno", kit.RoleSalesRep)
	ads, err := adsbuy.New(ctx, t.l, adsRules(), adsbuy.WithRoles(&roles))
	if err != nil {
		return err
	}
	if err := t.night.Register("adsbuy", ads); err != nil {
		return err
	}
	if _, err := ads.OpenAdvertiser(ctx, adsbuy.OpenAdvertiserRequest{Actor: "pizzeria-roma", Country: "IT"}); err != nil {
		return err
	}
	if _, err := ads.TopUp(ctx, adsbuy.TopUpRequest{EventID: "wire-2026-001", Actor: "pizzeria-roma", Amount: decimal.NewFromInt(500)}); err != nil {
		return err
	}
	t.say("pizzeria-roma (Italy) opens an advertiser account and tops it up with 500 USD")
	if err := t.changes(); err != nil {
		return err
	}
	_, err = ads.OpenAdvertiser(ctx, adsbuy.OpenAdvertiserRequest{Actor: "kebab-berlin", Country: "DE"})
	if err := t.refused("an advertiser in Germany", err, adsbuy.ErrCountry); err != nil {
		return err
	}
	start := clock.Now().Truncate(24*time.Hour).AddDate(0, 0, 1)
	spec := adsbuy.CampaignSpec{Name: "pizza week", Start: start, End: start.AddDate(0, 0, 7),
		DailyBudget: decimal.NewFromInt(60),
		AdGroups: []adsbuy.AdGroupSpec{{ID: "rome-foodies", DailyBudget: decimal.NewFromInt(40), BidType: adsbuy.CPM,
			Bid: decimal.RequireFromString("5.00")}}}
	low := spec
	low.DailyBudget = decimal.NewFromInt(30)
	_, err = ads.BuyCampaign(ctx, adsbuy.BuyCampaignRequest{CampaignID: "pizza-week-cheap", Actor: "pizzeria-roma", Spec: low})
	if err := t.refused("a 30 USD daily budget", err, adsbuy.ErrBudgetTooLow); err != nil {
		return err
	}
	c, err := ads.BuyCampaign(ctx, adsbuy.BuyCampaignRequest{CampaignID: "pizza-week", Actor: "pizzeria-roma", Spec: spec})
	if err != nil {
		return err
	}
	t.say("it buys \"pizza week\": 7 days x 60 USD = %s USD held from its balance, %s", c.Budget.StringFixed(2), c.Status)
	b, err := ads.Balance(ctx, "pizzeria-roma")
	if err != nil {
		return err
	}
	t.say("advertiser balance: posted %s, held %s, available %s USD", b.Posted.StringFixed(2), b.Held.StringFixed(2), b.Available.StringFixed(2))
	_, err = ads.Approve(ctx, adsbuy.ApproveRequest{EventID: "review-self", Actor: "pizzeria-roma", CampaignID: "pizza-week"})
	if err := t.refused("the advertiser approves its own campaign", err, adsbuy.ErrForbidden); err != nil {
		return err
	}
	c, err = ads.Approve(ctx, adsbuy.ApproveRequest{EventID: "review-1", Actor: "rep-bruno", CampaignID: "pizza-week"})
	if err != nil {
		return err
	}
	t.say("rep-bruno, a sales representative, approves it: %s", c.Status)
	for day, imps := range []int64{6000, 10000} {
		clock.Set(start.AddDate(0, 0, day).Add(20 * time.Hour))
		d, err := ads.ReportDelivery(ctx, adsbuy.ReportDeliveryRequest{EventID: fmt.Sprintf("adserver-%d", day+1), CampaignID: "pizza-week", AdGroupID: "rome-foodies", Impressions: imps, Clicks: imps / 100})
		if err != nil {
			return err
		}
		capped := ""
		if d.Truncated {
			capped = " (capped by the ad group's 40 USD daily budget)"
		}
		t.say("day %d: %d impressions at 5 USD CPM cost %s USD, charged %s%s", day+1, imps, d.Cost.StringFixed(2), d.Charged.StringFixed(2), capped)
	}
	if err := t.changes(); err != nil {
		return err
	}
	c, err = ads.Cancel(ctx, adsbuy.CancelRequest{EventID: "cancel-1", Actor: "pizzeria-roma", CampaignID: "pizza-week"})
	if err != nil {
		return err
	}
	t.say("the pizzeria stops the campaign: %s spent, %s USD back to its balance", c.Spent.StringFixed(2), c.Released.StringFixed(2))
	b, err = ads.Balance(ctx, "pizzeria-roma")
	if err != nil {
		return err
	}
	t.say("advertiser balance: posted %s, held %s, available %s USD", b.Posted.StringFixed(2), b.Held.StringFixed(2), b.Available.StringFixed(2))
	return t.changes()
}
