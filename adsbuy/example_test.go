package adsbuy_test

import (
	"context"
	"fmt"
	"time"

	"github.com/rewardkit/rewardkit/adsbuy"
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
	"github.com/rewardkit/rewardkit/ledger/memstore"
	"github.com/shopspring/decimal"
)

func Example() {
	ctx := context.Background()
	start := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	clock := ledgertest.NewClock(start)
	l := ledger.New(memstore.New(), ledger.WithClock(clock))
	roles := &kit.RoleDirectory{}
	roles.Grant("rita", kit.RoleSalesRep)
	p, err := adsbuy.New(ctx, l, adsbuy.DefaultRules(), adsbuy.WithRoles(roles))
	if err != nil {
		panic(err)
	}
	must := func(_ any, err error) {
		if err != nil {
			panic(err)
		}
	}
	balance := func() string {
		b, _ := p.Balance(ctx, "pizzeria")
		return fmt.Sprintf("posted %s held %s available %s", b.Posted.StringFixed(2), b.Held.StringFixed(2), b.Available.StringFixed(2))
	}

	must(p.OpenAdvertiser(ctx, adsbuy.OpenAdvertiserRequest{Actor: "pizzeria", Country: "IT"}))
	must(p.TopUp(ctx, adsbuy.TopUpRequest{EventID: "pay-001", Actor: "pizzeria", Amount: decimal.NewFromInt(300)}))
	_, err = p.OpenAdvertiser(ctx, adsbuy.OpenAdvertiserRequest{Actor: "brauhaus", Country: "DE"})
	fmt.Println(err)

	must(p.BuyCampaign(ctx, adsbuy.BuyCampaignRequest{CampaignID: "pizza-week", Actor: "pizzeria", Spec: adsbuy.CampaignSpec{
		Start: start, End: start.AddDate(0, 0, 3), DailyBudget: decimal.NewFromInt(50),
		AdGroups: []adsbuy.AdGroupSpec{
			{ID: "video", DailyBudget: decimal.NewFromInt(40), BidType: adsbuy.CPM, Bid: decimal.RequireFromString("2.50")},
			{ID: "search", DailyBudget: decimal.NewFromInt(20), BidType: adsbuy.CPC, Bid: decimal.RequireFromString("0.40")},
		},
	}}))
	fmt.Println("bought:", balance())
	_, err = p.Approve(ctx, adsbuy.ApproveRequest{EventID: "review-0", Actor: "pizzeria", CampaignID: "pizza-week"})
	fmt.Println(err)
	must(p.Approve(ctx, adsbuy.ApproveRequest{EventID: "review-1", Actor: "rita", CampaignID: "pizza-week"}))

	clock.Advance(6 * time.Hour)
	d, _ := p.ReportDelivery(ctx, adsbuy.ReportDeliveryRequest{EventID: "report-1", CampaignID: "pizza-week", AdGroupID: "video", Impressions: 6000, Clicks: 40})
	fmt.Println("video:", d.Cost, "charged", d.Charged)
	d, _ = p.ReportDelivery(ctx, adsbuy.ReportDeliveryRequest{EventID: "report-2", CampaignID: "pizza-week", AdGroupID: "search", Impressions: 0, Clicks: 60})
	fmt.Println("search:", d.Cost, "charged", d.Charged, "truncated", d.Truncated)

	clock.Set(start.AddDate(0, 0, 3))
	rep, _ := p.Tick(ctx)
	fmt.Println("tick:", rep.Done)
	fmt.Println("after:", balance())
	st, _ := p.Statement(ctx, "pizza-week")
	fmt.Println("statement:", st.Campaign.Status, "budget", st.Campaign.Budget, "spent", st.Campaign.Spent,
		"released", st.Campaign.Released, "deliveries", len(st.Deliveries))
	if _, err := l.Verify(ctx); err != nil {
		panic(err)
	}
	// Output:
	// adsbuy: country not allowed: advertiser brauhaus is in "DE"; ads may be bought in GB, FR, IT, US (rule countries)
	// bought: posted 300.00 held 150.00 available 150.00
	// ledger: forbidden: "pizzeria" is a party to this decision (approve campaign pizza-week)
	// video: 15 charged 15
	// search: 24 charged 20 truncated true
	// tick: [{adsbuy.ended pizza-week}]
	// after: posted 265.00 held 0.00 available 265.00
	// statement: ended budget 150 spent 35 released 115 deliveries 2
}
