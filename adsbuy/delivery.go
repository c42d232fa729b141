package adsbuy

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/shopspring/decimal"
)

func minDecimal(first decimal.Decimal, rest ...decimal.Decimal) decimal.Decimal {
	m := first
	for _, d := range rest {
		if d.LessThan(m) {
			m = d
		}
	}
	return m
}

// cost prices a delivery at the ad group's bid, rounded down to the asset's
// precision (the advertiser never pays for a fraction of a cent).
func (p *Program) cost(g *AdGroup, impressions, clicks int64) decimal.Decimal {
	var c decimal.Decimal
	switch g.BidType {
	case CPM:
		c = g.Bid.Mul(decimal.NewFromInt(impressions)).Shift(-3)
	case CPC:
		c = g.Bid.Mul(decimal.NewFromInt(clicks))
	}
	return c.RoundDown(p.rules.Asset.Precision)
}

// ReportDelivery records what an ad group delivered (impressions and
// clicks) and captures its cost at the bid from the campaign's budget hold
// into PlatformRevenue. Spend never goes beyond any budget: the campaign's
// total and its daily budget, the ad group's total (daily budget × days)
// and its daily budget; a report that would cross one is charged up to it
// and marked Truncated. Days are counted in 24-hour steps from the
// schedule's start. When the campaign's budget is spent the campaign ends.
//
// Deliveries count only while the campaign is live and inside its
// schedule (ErrWrongState otherwise: under review, paused, rejected, before
// Start or after End). reportID is the idempotency key (ledger key
// "adsbuy:spend:<reportID>").
func (p *Program) ReportDelivery(ctx context.Context, reportID, campaignID, adGroupID string, impressions, clicks int64) (Delivery, error) {
	if err := validateEventID(reportID); err != nil {
		return Delivery{}, err
	}
	if err := validateID("campaign", campaignID); err != nil {
		return Delivery{}, err
	}
	if err := validateID("ad group", adGroupID); err != nil {
		return Delivery{}, err
	}
	if impressions < 0 || clicks < 0 || impressions > 1e12 || clicks > 1e12 {
		return Delivery{}, fmt.Errorf("%w: impressions %d and clicks %d must be 0 to 10^12", ErrInvalidRequest, impressions, clicks)
	}
	req := struct {
		Campaign, AdGroup   string
		Impressions, Clicks int64
	}{campaignID, adGroupID, impressions, clicks}
	return runEvent(ctx, p.l, reportID, "report", req, func(w *ledger.Writer) (Delivery, error) {
		c, err := loadCampaign(&w.Reader, campaignID)
		if err != nil {
			return Delivery{}, err
		}
		g, ok := c.AdGroup(adGroupID)
		if !ok {
			return Delivery{}, fmt.Errorf("%w: campaign %s has no ad group %q", ErrUnknownAdGroup, campaignID, adGroupID)
		}
		now := w.Now()
		switch {
		case c.Status != StatusLive:
			return Delivery{}, fmt.Errorf("%w: campaign %s is %s: deliveries count only while live", ErrWrongState, campaignID, c.Status)
		case now.Before(c.Start):
			return Delivery{}, fmt.Errorf("%w: campaign %s starts at %s", ErrWrongState, campaignID, c.Start.Format(time.RFC3339))
		case !now.Before(c.End):
			return Delivery{}, fmt.Errorf("%w: campaign %s's schedule ended at %s", ErrWrongState, campaignID, c.End.Format(time.RFC3339))
		}
		if day := int(now.Sub(c.Start) / (24 * time.Hour)); day != c.Day {
			c.Day, c.DaySpent = day, decimal.Zero
			for i := range c.AdGroups {
				c.AdGroups[i].DaySpent = decimal.Zero
			}
		}
		cost := p.cost(g, impressions, clicks)
		charge := minDecimal(cost, c.Budget.Sub(c.Spent), c.DailyBudget.Sub(c.DaySpent), g.Budget.Sub(g.Spent), g.DailyBudget.Sub(g.DaySpent))
		if charge.IsNegative() {
			charge = decimal.Zero
		}
		c.Deliveries++
		d := Delivery{Report: reportID, Seq: c.Deliveries, AdGroup: adGroupID, At: now, Impressions: impressions, Clicks: clicks,
			Cost: cost, Charged: charge, Truncated: charge.LessThan(cost)}
		if charge.Sign() > 0 {
			tx, err := w.Capture(ledger.CaptureRequest{
				Key: "adsbuy:spend:" + reportID, Hold: c.Hold,
				Destinations: []ledger.Leg{{To: PlatformRevenue, Amount: charge}},
				Metadata:     map[string]string{"program": "adsbuy", "event": "spend", "campaign": c.ID, "ad_group": adGroupID, "report": reportID},
			})
			if err != nil {
				return Delivery{}, err
			}
			d.Transaction = tx.ID
		}
		g.Spent, g.DaySpent = g.Spent.Add(charge), g.DaySpent.Add(charge)
		g.Impressions += impressions
		g.Clicks += clicks
		c.Spent, c.DaySpent = c.Spent.Add(charge), c.DaySpent.Add(charge)
		if err := w.CreateJSON(kindDelivery, fmt.Sprintf("%s/%08d", c.ID, d.Seq), d); err != nil {
			return Delivery{}, err
		}
		if c.Spent.Equal(c.Budget) {
			return d, p.closeCampaign(w, &c, StatusEnded, "budget spent")
		}
		return d, w.SaveJSON(kindCampaign, c.ID, c)
	})
}

// TickReport says what a Tick did.
type TickReport struct {
	Ended        int             // campaigns whose schedule ended
	Released     decimal.Decimal // unspent budget returned by them
	HoldsExpired int             // holds the ledger released by expiry
}

// Tick ends every campaign whose schedule is over (End <= now) and is not
// already final: its unspent budget goes back to the balance. A campaign
// still under review at its end is ended unreviewed. Then it lets the
// ledger release expired holds. Running it twice changes nothing the
// second time.
func (p *Program) Tick(ctx context.Context) (TickReport, error) {
	rep := TickReport{Released: decimal.Zero}
	for {
		n := 0
		released := decimal.Zero
		ended := 0
		err := p.l.Update(ctx, func(w *ledger.Writer) error {
			released, ended = decimal.Zero, 0
			due, err := w.Due(dueEnd, w.Now(), 128)
			if err != nil {
				return err
			}
			n = len(due)
			for _, d := range due {
				c, err := loadCampaign(&w.Reader, d.ID)
				if err != nil {
					return fmt.Errorf("adsbuy: tick %s: %w", d.ID, err)
				}
				if c.Status.Final() {
					if err := w.Unschedule(dueEnd, d.ID); err != nil {
						return err
					}
					continue
				}
				reason := "schedule ended"
				if c.Status == StatusPendingReview {
					reason = "schedule ended before review"
				}
				if err := p.closeCampaign(w, &c, StatusEnded, reason); err != nil {
					return fmt.Errorf("adsbuy: tick %s: %w", d.ID, err)
				}
				ended++
				released = released.Add(c.Released)
			}
			return nil
		})
		if err != nil {
			return rep, err
		}
		rep.Ended += ended
		rep.Released = rep.Released.Add(released)
		if n == 0 {
			break
		}
	}
	n, err := p.l.Tick(ctx)
	rep.HoldsExpired = n
	return rep, err
}

// Statement is a campaign's account: its budget, what each delivery cost
// and was charged, what is still held and what went back to the balance.
type Statement struct {
	Campaign   Campaign
	Deliveries []Delivery
	Held       decimal.Decimal // still reserved for the campaign
}

// Statement returns a campaign's statement, read on one snapshot.
func (p *Program) Statement(ctx context.Context, campaignID string) (Statement, error) {
	if err := validateID("campaign", campaignID); err != nil {
		return Statement{}, err
	}
	var st Statement
	err := p.l.View(ctx, func(r *ledger.Reader) error {
		c, err := loadCampaign(r, campaignID)
		if err != nil {
			return err
		}
		h, err := r.HoldByID(c.Hold)
		if err != nil {
			return err
		}
		st = Statement{Campaign: c, Held: h.Remaining}
		prefix := c.ID + "/"
		for after := prefix; ; {
			recs, err := r.Records(kindDelivery, after, 1000)
			if err != nil {
				return err
			}
			for _, rec := range recs {
				if !strings.HasPrefix(rec.ID, prefix) {
					return nil
				}
				var d Delivery
				if err := r.LoadJSON(kindDelivery, rec.ID, &d); err != nil {
					return err
				}
				st.Deliveries = append(st.Deliveries, d)
			}
			if len(recs) < 1000 {
				return nil
			}
			after = recs[len(recs)-1].ID
		}
	})
	return st, err
}

// Campaign returns a campaign, or ErrUnknownCampaign.
func (p *Program) Campaign(ctx context.Context, campaignID string) (Campaign, error) {
	var c Campaign
	err := p.l.View(ctx, func(r *ledger.Reader) (err error) { c, err = loadCampaign(r, campaignID); return err })
	return c, err
}

// Balance returns an advertiser's balance: Posted is the prepaid money,
// Held what campaign budgets reserve, Available what new campaigns may use.
func (p *Program) Balance(ctx context.Context, advertiser string) (ledger.Balance, error) {
	if err := validateID("advertiser", advertiser); err != nil {
		return ledger.Balance{}, err
	}
	var b ledger.Balance
	err := p.l.View(ctx, func(r *ledger.Reader) error {
		if _, err := loadAdvertiser(r, advertiser); err != nil {
			return err
		}
		var err error
		b, err = r.Balance(AdvertiserAccount(advertiser), p.rules.Asset.Code)
		return err
	})
	return b, err
}
