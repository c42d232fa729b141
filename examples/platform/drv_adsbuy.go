package main

import (
	"context"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/adsbuy"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/scheduler"
)

// adsRules are the default self-service ads rules.
func adsRules() adsbuy.Rules { return adsbuy.DefaultRules() }

// salesReps are the accounts holding the sales representative role.
var salesReps = []string{"rep-anna", "rep-bruno", "rep-carla"}

// adsbuyDriver: advertisers (one per 2,000 members, at least 3) top up a
// prepaid balance and buy campaigns of 3 to 10 days; a sales
// representative approves most and rejects some; live campaigns report
// deliveries (impressions, clicks) that spend the held budget; a few are
// cancelled; Tick ends campaigns and returns what was not spent. Bad
// inputs: an advertiser outside the allowed countries, budgets under the
// minimums, an advertiser approving its own campaign, a top-up out of
// bounds, replayed delivery reports and racing duplicates.
type adsbuyDriver struct {
	p         *adsbuy.Program
	st        *programStats
	ads       []string
	campaigns []*adCampaign
	seq       int
	charged   decimal.Decimal // what deliveries were charged, in all
}

type adCampaign struct {
	id, advertiser string
	groups         []string
	status         adsbuy.CampaignStatus
	start, end     time.Time
	bid            map[string]decimal.Decimal
	cpm            map[string]bool
}

func (d *adsbuyDriver) Name() string { return "adsbuy" }

func (d *adsbuyDriver) Setup(ctx context.Context, s *sim) error {
	var roles kit.RoleDirectory
	for _, r := range salesReps {
		roles.Grant(r, kit.RoleSalesRep)
	}
	var err error
	d.p, err = adsbuy.New(ctx, s.l, adsRules(), adsbuy.WithRoles(&roles))
	if err != nil {
		return err
	}
	if d.p == nil {
		return fmt.Errorf("adsbuy.New returned no program")
	}
	d.st = s.statsFor(d.Name(),
		errKind{"country", adsbuy.ErrCountry}, errKind{"top-up bounds", adsbuy.ErrTopUpBounds},
		errKind{"budget too low", adsbuy.ErrBudgetTooLow}, errKind{"invalid campaign", adsbuy.ErrInvalidCampaign},
		errKind{"insufficient funds", adsbuy.ErrInsufficientFunds}, errKind{"forbidden", adsbuy.ErrForbidden},
		errKind{"wrong state", adsbuy.ErrWrongState}, errKind{"unknown advertiser", adsbuy.ErrUnknownAdvertiser},
		errKind{"unknown campaign", adsbuy.ErrUnknownCampaign}, errKind{"unknown ad group", adsbuy.ErrUnknownAdGroup},
		errKind{"event id conflict", adsbuy.ErrIdempotencyConflict}, errKind{"invalid request", adsbuy.ErrInvalidRequest})
	s.at(7)
	rng := s.rand()
	countries := []string{"IT", "IT", "IT", "FR", "GB", "US"}
	for i := 0; i < max(3, s.cfg.Members/2000); i++ {
		id := fmt.Sprintf("adv-%04d", i+1)
		country := countries[rng.IntN(len(countries))]
		if i > 0 && rng.Float64() < 0.05 {
			_, err := d.p.OpenAdvertiser(ctx, adsbuy.OpenAdvertiserRequest{Actor: id, Country: "DE"}) // not an allowed country
			d.st.expect(err, adsbuy.ErrCountry)
			continue
		}
		if _, err := d.p.OpenAdvertiser(ctx, adsbuy.OpenAdvertiserRequest{Actor: id, Country: country}); !d.st.observe(err) {
			continue
		}
		d.ads = append(d.ads, id)
		d.topUp(ctx, s, id, decimal.NewFromInt(int64(1000*(1+rng.IntN(20)))))
	}
	_, err = d.p.TopUp(ctx, adsbuy.TopUpRequest{EventID: "topup-tiny", Actor: d.ads[0], Amount: decimal.NewFromInt(5)})
	d.st.expect(err, adsbuy.ErrTopUpBounds)
	return s.sched.Register(d.Name(), d.p)
}

func (d *adsbuyDriver) topUp(ctx context.Context, s *sim, adv string, amount decimal.Decimal) {
	d.seq++
	ref := fmt.Sprintf("topup-%d", d.seq)
	if _, err := d.p.TopUp(ctx, adsbuy.TopUpRequest{EventID: ref, Actor: adv, Amount: amount}); d.st.observe(err) {
		d.st.add("top-ups", 1)
	}
}

func (d *adsbuyDriver) Day(ctx context.Context, s *sim, day int) error {
	rng := s.rand()
	now := s.clock.Now()
	tomorrow := simStart.AddDate(0, 0, day+1)
	// New campaigns.
	for _, adv := range d.ads {
		if rng.Float64() > 0.15 {
			continue
		}
		d.seq++
		id := fmt.Sprintf("cmp-%d", d.seq)
		c := &adCampaign{id: id, advertiser: adv, start: tomorrow, end: tomorrow.AddDate(0, 0, 3+rng.IntN(8)),
			bid: map[string]decimal.Decimal{}, cpm: map[string]bool{}}
		daily := decimal.NewFromInt(int64(50 + 10*rng.IntN(46)))
		spec := adsbuy.CampaignSpec{Name: "spring sale", Start: c.start, End: c.end, DailyBudget: daily}
		for g := 0; g < 1+rng.IntN(3); g++ {
			gid := fmt.Sprintf("g%d", g+1)
			gs := adsbuy.AdGroupSpec{ID: gid, DailyBudget: decimal.NewFromInt(20 + int64(rng.IntN(31))), BidType: adsbuy.CPM,
				Bid: decimal.New(int64(200+rng.IntN(800)), -2)}
			if rng.IntN(3) == 0 {
				gs.BidType, gs.Bid = adsbuy.CPC, decimal.New(int64(10+rng.IntN(90)), -2)
			}
			spec.AdGroups = append(spec.AdGroups, gs)
			c.groups = append(c.groups, gid)
			c.bid[gid], c.cpm[gid] = gs.Bid, gs.BidType == adsbuy.CPM
		}
		if rng.Float64() < 0.03 {
			low := spec
			low.DailyBudget = decimal.NewFromInt(30)
			_, err := d.p.BuyCampaign(ctx, adsbuy.BuyCampaignRequest{CampaignID: id + "-low", Actor: adv, Spec: low})
			d.st.expect(err, adsbuy.ErrBudgetTooLow)
		}
		var err error
		if rng.Float64() < 0.02 {
			if !d.st.race(func() error {
				_, err := d.p.BuyCampaign(ctx, adsbuy.BuyCampaignRequest{CampaignID: id, Actor: adv, Spec: spec})
				return err
			}) {
				continue
			}
		} else if _, err = d.p.BuyCampaign(ctx, adsbuy.BuyCampaignRequest{CampaignID: id, Actor: adv, Spec: spec}); !d.st.observe(err) {
			if b, berr := d.p.Balance(ctx, adv); berr == nil && b.Available.LessThan(decimal.NewFromInt(5000)) {
				d.topUp(ctx, s, adv, decimal.NewFromInt(int64(2000*(1+rng.IntN(10)))))
			}
			continue
		}
		c.status = adsbuy.StatusPendingReview
		d.campaigns = append(d.campaigns, c)
		d.st.add("campaigns bought", 1)
	}
	// Reviews, deliveries, cancellations.
	still := d.campaigns[:0]
	for _, c := range d.campaigns {
		ev := fmt.Sprintf("%s-d%d", c.id, day)
		switch {
		case c.status == adsbuy.StatusPendingReview:
			rep := salesReps[rng.IntN(len(salesReps))]
			if rng.Float64() < 0.03 {
				_, err := d.p.Approve(ctx, adsbuy.ApproveRequest{EventID: ev + "-self", Actor: c.advertiser, CampaignID: c.id})
				d.st.expect(err, adsbuy.ErrForbidden)
			}
			var cmp adsbuy.Campaign
			var err error
			if rng.Float64() < 0.88 {
				cmp, err = d.p.Approve(ctx, adsbuy.ApproveRequest{EventID: ev + "-review", Actor: rep, CampaignID: c.id})
				if err == nil {
					d.st.add("approved by a sales rep", 1)
				}
			} else {
				cmp, err = d.p.Reject(ctx, adsbuy.RejectRequest{EventID: ev + "-review", Actor: rep, CampaignID: c.id, Reason: "creative breaks the ad policy"})
				if err == nil {
					d.st.add("rejected by a sales rep", 1)
				}
			}
			if d.st.observe(err) {
				c.status = cmp.Status
			}
		case c.status == adsbuy.StatusLive && !now.Before(c.start) && now.Before(c.end):
			if rng.Float64() < 0.02 {
				cmp, err := d.p.Cancel(ctx, adsbuy.CancelRequest{EventID: ev + "-cancel", Actor: c.advertiser, CampaignID: c.id})
				if d.st.observe(err) {
					c.status = cmp.Status
					d.st.add("cancelled by the advertiser", 1)
				}
				break
			}
			for _, g := range c.groups {
				// A day's delivery, sized near the group's daily budget.
				var imps, clicks int64
				if c.cpm[g] {
					imps = int64(float64(40*1000) / c.bid[g].InexactFloat64() * (0.5 + rng.Float64()))
					clicks = imps / 100
				} else {
					clicks = int64(40 / c.bid[g].InexactFloat64() * (0.5 + rng.Float64()))
					imps = clicks * 80
				}
				report := ev + "-" + g
				dl, err := d.p.ReportDelivery(ctx, adsbuy.ReportDeliveryRequest{EventID: report, CampaignID: c.id, AdGroupID: g, Impressions: imps, Clicks: clicks})
				if !d.st.observe(err) {
					continue
				}
				d.st.add("impressions", imps)
				d.charged = d.charged.Add(dl.Charged)
				if dl.Truncated {
					d.st.add("deliveries capped by a budget", 1)
				}
				if rng.Float64() < 0.02 {
					_, err := d.p.ReportDelivery(ctx, adsbuy.ReportDeliveryRequest{EventID: report, CampaignID: c.id, AdGroupID: g, Impressions: imps, Clicks: clicks}) // the ad server resends its report
					d.st.replay(err)
				}
			}
		}
		if !c.status.Final() {
			still = append(still, c)
		}
	}
	d.campaigns = still
	return nil
}

func (d *adsbuyDriver) Night(ctx context.Context, s *sim, night scheduler.Report) error {
	rep := nightResult(d.st, night, d.Name())
	d.st.failed("tick item", rep.Err())
	d.st.add("campaigns ended", int64(rep.Count(adsbuy.TickEnded)))
	// Campaigns Tick ended leave the driver's list.
	still := d.campaigns[:0]
	for _, c := range d.campaigns {
		if !c.end.After(s.clock.Now()) {
			cmp, err := d.p.Campaign(ctx, c.id)
			if err != nil {
				d.st.failed("campaign lookup", err)
				continue
			}
			c.status = cmp.Status
		}
		if !c.status.Final() {
			still = append(still, c)
		}
	}
	d.campaigns = still
	return nil
}

// Check reconciles the platform's ad revenue on the ledger with what the
// delivery reports were charged.
func (d *adsbuyDriver) Check(ctx context.Context, s *sim) ([]string, error) {
	b, err := s.l.Balance(ctx, adsbuy.RevenueAccount, adsRules().Asset.Code)
	if err != nil {
		return nil, err
	}
	if !b.Posted.Equal(d.charged) {
		return []string{fmt.Sprintf("ad revenue is %s but deliveries were charged %s", b.Posted, d.charged)}, nil
	}
	return nil, nil
}
