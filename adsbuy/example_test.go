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

	must(p.OpenAdvertiser(ctx, "pizzeria", "IT"))
	must(p.TopUp(ctx, "pay-001", "pizzeria", decimal.NewFromInt(300)))
	_, err = p.OpenAdvertiser(ctx, "brauhaus", "DE")
	fmt.Println(err)

	must(p.BuyCampaign(ctx, "pizza-week", "pizzeria", adsbuy.CampaignSpec{
		Start: start, End: start.AddDate(0, 0, 3), DailyBudget: decimal.NewFromInt(50),
		AdGroups: []adsbuy.AdGroupSpec{
			{ID: "video", DailyBudget: decimal.NewFromInt(40), BidType: adsbuy.CPM, Bid: decimal.RequireFromString("2.50")},
			{ID: "search", DailyBudget: decimal.NewFromInt(20), BidType: adsbuy.CPC, Bid: decimal.RequireFromString("0.40")},
		},
	}))
	fmt.Println("bought:", balance())
	_, err = p.Approve(ctx, "review-0", "pizzeria", "pizza-week")
	fmt.Println(err)
	must(p.Approve(ctx, "review-1", "rita", "pizza-week"))

	clock.Advance(6 * time.Hour)
	d, _ := p.ReportDelivery(ctx, "report-1", "pizza-week", "video", 6000, 40)
	fmt.Println("video:", d.Cost, "charged", d.Charged)
	d, _ = p.ReportDelivery(ctx, "report-2", "pizza-week", "search", 0, 60)
	fmt.Println("search:", d.Cost, "charged", d.Charged, "truncated", d.Truncated)

	clock.Set(start.AddDate(0, 0, 3))
	rep, _ := p.Tick(ctx)
	fmt.Println("ended:", rep.Ended, "released", rep.Released)
	fmt.Println("after:", balance())
	st, _ := p.Statement(ctx, "pizza-week")
	fmt.Println("statement:", st.Campaign.Status, "budget", st.Campaign.Budget, "spent", st.Campaign.Spent,
		"released", st.Campaign.Released, "deliveries", len(st.Deliveries))
	if _, err := l.Verify(ctx); err != nil {
		panic(err)
	}
	// Output:
	// adsbuy: region not allowed: rule regions: "DE" is not in [GB FR IT US]
	// bought: posted 300.00 held 150.00 available 150.00
	// approve campaign pizza-week of pizzeria: ledger: forbidden: "pizzeria" is a party to this decision
	// video: 15 charged 15
	// search: 24 charged 20 truncated true
	// ended: 1 released 115
	// after: posted 265.00 held 0.00 available 265.00
	// statement: ended budget 150 spent 35 released 115 deliveries 2
}
