package adsbuy

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/shopspring/decimal"
)

// maxCount bounds the impressions and clicks of one report.
const maxCount = 1e12

func minDecimal(first decimal.Decimal, rest ...decimal.Decimal) decimal.Decimal {
	m := first
	for _, d := range rest {
		if d.LessThan(m) {
			m = d
		}
	}
	return m
}

// cost prices a delivery at the ad group's bid, exactly: a CPM bid is the
// price of 1,000 impressions, so a few impressions cost a fraction of a
// cent. The bid has the asset's decimals and the counts are at most
// maxCount, so the result has at most precision+3 decimals.
func cost(g *AdGroup, impressions, clicks int64) decimal.Decimal {
	switch g.BidType {
	case CPM:
		return g.Bid.Mul(decimal.NewFromInt(impressions)).Shift(-3)
	case CPC:
		return g.Bid.Mul(decimal.NewFromInt(clicks))
	}
	return decimal.Zero
}

// ReportDeliveryRequest is an ad server's report of what an ad group
// delivered.
type ReportDeliveryRequest struct {
	// EventID is the report's ID, the idempotency key of the event: a
	// report sent twice is charged once.
	EventID string `json:"event_id"`
	// CampaignID and AdGroupID name the ad group that delivered.
	CampaignID string `json:"campaign_id"`
	AdGroupID  string `json:"ad_group_id"`
	// Impressions and Clicks are what it delivered since the last report:
	// 0 to 10^12 each.
	Impressions int64 `json:"impressions"`
	Clicks      int64 `json:"clicks"`
}

// ReportDeliveryIn records what an ad group delivered (impressions and
// clicks) and captures its cost at the bid from the campaign's budget hold
// into RevenueAccount, inside the caller's unit of work.
//
// Charges are in whole minor units (cents) and lose nothing to rounding:
// the exact cost plus the ad group's Carry (what earlier reports delivered
// but could not yet charge, under a cent) is charged rounded down, and the
// sub-cent rest is carried to the next report. So the total charged for
// the same deliveries does not depend on how they are split into reports:
// 1,000 reports of 3 impressions at a 2.50 CPM are charged 7.50, like one
// report of 3,000. What an ad group carries when the campaign ends, under
// one cent, is never charged.
//
// Spend never goes beyond any budget: the campaign's total and its daily
// budget, the ad group's total (daily budget × days) and its daily budget;
// a report that would cross one is charged up to it and marked Truncated,
// and what lay beyond it is neither charged nor carried. Days are counted
// in 24-hour steps from the schedule's start. When the campaign's budget is
// spent the campaign ends.
//
// Deliveries count only while the campaign is live and inside its
// schedule (ErrWrongState otherwise: under review, paused, rejected, before
// Start or after End). The report's EventID is the idempotency key (ledger
// key "adsbuy:spend:<EventID>"); a replay returns the delivery as
// recorded, Replayed set.
func (p *Program) ReportDeliveryIn(w *ledger.Writer, req ReportDeliveryRequest) (Delivery, error) {
	reportID, campaignID, adGroupID := req.EventID, req.CampaignID, req.AdGroupID
	impressions, clicks := req.Impressions, req.Clicks
	if err := kit.CheckEventID(ErrInvalidRequest, reportID); err != nil {
		return Delivery{}, err
	}
	if err := kit.CheckID(ErrInvalidRequest, "campaign", campaignID); err != nil {
		return Delivery{}, err
	}
	if err := kit.CheckID(ErrInvalidRequest, "ad group", adGroupID); err != nil {
		return Delivery{}, err
	}
	if impressions < 0 || clicks < 0 || impressions > maxCount || clicks > maxCount {
		return Delivery{}, fmt.Errorf("%w: impressions %d and clicks %d must be 0 to 10^12", ErrInvalidRequest, impressions, clicks)
	}
	d, replay, err := kit.Once(w, event(reportID, "report", req), func(w *ledger.Writer) (Delivery, error) {
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
		exact := cost(g, impressions, clicks)
		owed := exact.Add(g.Carry) // delivered and not yet charged
		room := minDecimal(c.Budget.Sub(c.Spent), c.DailyBudget.Sub(c.DaySpent), g.Budget.Sub(g.Spent), g.DailyBudget.Sub(g.DaySpent))
		if room.IsNegative() {
			room = decimal.Zero
		}
		charge, carry, truncated := owed.RoundDown(p.rules.Asset.Precision), decimal.Zero, false
		if owed.GreaterThan(room) {
			// Beyond a budget: charge up to it, drop the rest.
			charge, truncated = room, true
		} else {
			carry = owed.Sub(charge)
		}
		c.Deliveries++
		d := Delivery{Report: reportID, Seq: c.Deliveries, AdGroup: adGroupID, At: now, Impressions: impressions, Clicks: clicks,
			Cost: exact, Charged: charge, Carry: carry, Truncated: truncated}
		if charge.Sign() > 0 {
			tx, err := w.Capture(ledger.CaptureRequest{
				Key: "adsbuy:spend:" + reportID, Hold: c.Hold,
				Destinations: []ledger.Leg{{To: RevenueAccount, Amount: charge}},
				Metadata:     map[string]string{"program": "adsbuy", "event": "spend", "campaign": c.ID, "ad_group": adGroupID, "report": reportID},
			})
			if err != nil {
				return Delivery{}, err
			}
			d.Transaction = tx.ID
		}
		// Spend stays within the budgets (charge <= room), and the counts
		// are checked sums.
		g.Spent, g.DaySpent, g.Carry = g.Spent.Add(charge), g.DaySpent.Add(charge), carry
		if g.Impressions, err = kit.Add("impressions", g.Impressions, impressions); err != nil {
			return Delivery{}, err
		}
		if g.Clicks, err = kit.Add("clicks", g.Clicks, clicks); err != nil {
			return Delivery{}, err
		}
		c.Spent, c.DaySpent = c.Spent.Add(charge), c.DaySpent.Add(charge)
		if err := w.CreateJSON(kindDelivery, fmt.Sprintf("%s/%08d", c.ID, d.Seq), d); err != nil {
			return Delivery{}, err
		}
		if charge.Sign() > 0 {
			if err := p.emitCampaign(w, EventCampaignSpent, &c, campaignData{Report: reportID, AdGroup: adGroupID,
				Impressions: &impressions, Clicks: &clicks, Charged: p.amount(charge), Truncated: truncated,
				Spent: p.amount(c.Spent)}); err != nil {
				return Delivery{}, err
			}
		}
		if c.Spent.Equal(c.Budget) {
			return d, p.closeCampaign(w, &c, StatusEnded, "", "budget spent")
		}
		return d, w.SaveJSON(kindCampaign, c.ID, c)
	})
	d.Replayed = replay
	return d, err
}

// ReportDelivery is ReportDeliveryIn in a unit of work of its own.
func (p *Program) ReportDelivery(ctx context.Context, req ReportDeliveryRequest) (Delivery, error) {
	return kit.Run(ctx, p.l, func(w *ledger.Writer) (Delivery, error) { return p.ReportDeliveryIn(w, req) })
}

// TickEnded is the kind of the items a Tick reports (kit.TickReport), each
// with the ID of a campaign whose schedule was over and which Tick ended.
const TickEnded = "adsbuy.ended"

var _ kit.Ticker = (*Program)(nil)

// Tick ends every campaign whose schedule is over (End <= now) and is not
// already final: its unspent budget goes back to the balance (the
// campaign's Released says how much). A campaign still under review at its
// end is ended unreviewed. Each campaign is ended in a unit of work of its
// own (kit.TickDue) and reported as an item of kind TickEnded; one that
// fails is reported in Failed with its ID and the others go on. The error
// is for the run as a whole (a store that fails, a context that ends).
// Running it twice changes nothing the second time. Tick does not tick the
// ledger: ledger/scheduler, which runs the programs' Ticks, releases
// expired holds once (a budget hold left by a campaign no Tick ended,
// HoldMargin after its end), and a campaign whose hold expired first is
// ended all the same.
func (p *Program) Tick(ctx context.Context) (kit.TickReport, error) {
	return kit.TickDue(ctx, p.l, dueEnd, func(w *ledger.Writer, e ledger.DueEntry) ([]string, error) {
		c, err := loadCampaign(&w.Reader, e.ID)
		if err != nil {
			return nil, err
		}
		if c.Status.Final() {
			return nil, w.Unschedule(dueEnd, e.ID)
		}
		reason := "schedule ended"
		if c.Status == StatusPendingReview {
			reason = "schedule ended before review"
		}
		if err := p.closeCampaign(w, &c, StatusEnded, "", reason); err != nil {
			return nil, err
		}
		return []string{TickEnded}, nil
	})
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
	if err := kit.CheckID(ErrInvalidRequest, "campaign", campaignID); err != nil {
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
	if err := kit.CheckID(ErrInvalidRequest, "campaign", campaignID); err != nil {
		return Campaign{}, err
	}
	var c Campaign
	err := p.l.View(ctx, func(r *ledger.Reader) (err error) { c, err = loadCampaign(r, campaignID); return err })
	return c, err
}

// Balance returns an advertiser's balance: Posted is the prepaid money,
// Held what campaign budgets reserve, Available what new campaigns may use.
func (p *Program) Balance(ctx context.Context, advertiser string) (ledger.Balance, error) {
	if err := kit.CheckID(ErrInvalidRequest, "advertiser", advertiser); err != nil {
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
