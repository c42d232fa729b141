package adsbuy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/shopspring/decimal"
)

// Record kinds and the due-entry kind the program keeps in the store.
const (
	kindAdvertiser = "adsbuy.advertiser" // id: advertiser
	kindCampaign   = "adsbuy.campaign"   // id: campaign
	kindDelivery   = "adsbuy.delivery"   // id: campaign "/" 8-digit sequence
	kindEvent      = "adsbuy.event"      // id: event id
	dueEnd         = "adsbuy.end"        // id: campaign
)

// PlatformRevenue is the account that receives every captured spend.
const PlatformRevenue = "platform:ads:revenue"

// AdvertiserAccount is an advertiser's prepaid balance.
func AdvertiserAccount(advertiser string) string { return "advertiser:" + advertiser }

// Advertiser is an advertiser account.
type Advertiser struct {
	ID       string    `json:"id"`
	Region   string    `json:"region"`
	OpenedAt time.Time `json:"opened_at"`
}

// TopUp is a credited top-up.
type TopUp struct {
	Reference   string          `json:"reference"`
	Advertiser  string          `json:"advertiser"`
	Amount      decimal.Decimal `json:"amount"`
	Transaction uint64          `json:"transaction"`
}

// AdGroupSpec is one ad group of a campaign as bought.
type AdGroupSpec struct {
	ID          string          `json:"id"`
	Name        string          `json:"name,omitempty"`
	DailyBudget decimal.Decimal `json:"daily_budget"`
	BidType     BidType         `json:"bid_type"`
	// Bid is the price of 1,000 impressions (CPM) or of one click (CPC).
	Bid decimal.Decimal `json:"bid"`
}

// CampaignSpec is what an advertiser buys.
type CampaignSpec struct {
	Name        string          `json:"name,omitempty"`
	Start       time.Time       `json:"start"`
	End         time.Time       `json:"end"`
	DailyBudget decimal.Decimal `json:"daily_budget"`
	AdGroups    []AdGroupSpec   `json:"ad_groups"`
}

// CampaignStatus is where a campaign is in its life.
type CampaignStatus string

// Campaign statuses. Rejected, Canceled and Ended are final: the unspent
// budget has gone back to the balance.
const (
	StatusPendingReview CampaignStatus = "pending_review"
	StatusLive          CampaignStatus = "live" // approved; delivers between Start and End
	StatusPaused        CampaignStatus = "paused"
	StatusRejected      CampaignStatus = "rejected"
	StatusCanceled      CampaignStatus = "canceled"
	StatusEnded         CampaignStatus = "ended" // schedule over or budget spent
)

// Final reports whether the campaign is over.
func (s CampaignStatus) Final() bool {
	return s == StatusRejected || s == StatusCanceled || s == StatusEnded
}

// AdGroup is an ad group with what it has delivered.
type AdGroup struct {
	AdGroupSpec
	Budget      decimal.Decimal `json:"budget"` // daily budget × days
	Spent       decimal.Decimal `json:"spent"`
	DaySpent    decimal.Decimal `json:"day_spent"` // on Campaign.Day
	Impressions int64           `json:"impressions"`
	Clicks      int64           `json:"clicks"`
}

// Campaign is a bought campaign.
type Campaign struct {
	ID          string          `json:"id"`
	Advertiser  string          `json:"advertiser"`
	Name        string          `json:"name,omitempty"`
	Start       time.Time       `json:"start"`
	End         time.Time       `json:"end"`
	Days        int             `json:"days"`
	DailyBudget decimal.Decimal `json:"daily_budget"`
	// Budget is DailyBudget × Days, held from the balance when bought.
	Budget   decimal.Decimal `json:"budget"`
	Hold     uint64          `json:"hold"`
	Status   CampaignStatus  `json:"status"`
	AdGroups []AdGroup       `json:"ad_groups"`
	// Spent is what deliveries captured; Released is what went back to the
	// balance when the campaign ended (Budget - Spent).
	Spent      decimal.Decimal `json:"spent"`
	Released   decimal.Decimal `json:"released"`
	Day        int             `json:"day"` // schedule day DaySpent counts, from 0
	DaySpent   decimal.Decimal `json:"day_spent"`
	Deliveries int             `json:"deliveries"`
	BoughtAt   time.Time       `json:"bought_at"`
	ReviewedBy string          `json:"reviewed_by,omitempty"`
	ReviewedAt time.Time       `json:"reviewed_at,omitzero"`
	Reason     string          `json:"reason,omitempty"` // rejection reason
	EndedAt    time.Time       `json:"ended_at,omitzero"`
	EndReason  string          `json:"end_reason,omitempty"`
}

// AdGroup returns the ad group with the id.
func (c *Campaign) AdGroup(id string) (*AdGroup, bool) {
	for i := range c.AdGroups {
		if c.AdGroups[i].ID == id {
			return &c.AdGroups[i], true
		}
	}
	return nil, false
}

// Delivery is one delivery report and what it cost.
type Delivery struct {
	Report      string    `json:"report"`
	Seq         int       `json:"seq"`
	AdGroup     string    `json:"ad_group"`
	At          time.Time `json:"at"`
	Impressions int64     `json:"impressions"`
	Clicks      int64     `json:"clicks"`
	// Cost is the delivery at the bid (rounded down to the cent); Charged is
	// what was captured, less when a budget ran out (Truncated).
	Cost        decimal.Decimal `json:"cost"`
	Charged     decimal.Decimal `json:"charged"`
	Truncated   bool            `json:"truncated,omitempty"`
	Transaction uint64          `json:"transaction,omitempty"`
}

// Program runs self-service ad buying over a ledger. It is safe for
// concurrent use.
type Program struct {
	l     *ledger.Ledger
	rules Rules
	roles Roles
}

// New validates the rules, defines the asset and opens ledger.World and
// PlatformRevenue (idempotently).
func New(ctx context.Context, l *ledger.Ledger, rules Rules, roles Roles) (*Program, error) {
	if err := rules.Validate(); err != nil {
		return nil, err
	}
	if l == nil || roles == nil {
		return nil, fmt.Errorf("%w: New needs a ledger and a role directory", ErrInvalidRequest)
	}
	rules.Regions = slices.Clone(rules.Regions)
	rules.BidTypes = slices.Clone(rules.BidTypes)
	err := l.Update(ctx, func(w *ledger.Writer) error {
		if err := w.DefineAsset(rules.Asset); err != nil {
			return err
		}
		if _, err := w.OpenAccount(ledger.AccountSpec{Address: ledger.World, Overdraft: ledger.Overdraft{Unbounded: true}}); err != nil {
			return err
		}
		_, err := w.OpenAccount(ledger.AccountSpec{Address: PlatformRevenue})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("adsbuy: setting up the ledger: %w", err)
	}
	return &Program{l: l, rules: rules, roles: roles}, nil
}

// Rules returns the program's rules.
func (p *Program) Rules() Rules { return p.rules }

func validateID(field, id string) error {
	if len(id) == 0 || len(id) > 64 {
		return fmt.Errorf("%w: %s %q must have 1 to 64 characters", ErrInvalidRequest, field, id)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == '@' || c == '+') {
			return fmt.Errorf("%w: %s %q may hold only letters, digits and _-.@+", ErrInvalidRequest, field, id)
		}
	}
	return nil
}

func validateEventID(id string) error {
	if len(id) == 0 || len(id) > 200 {
		return fmt.Errorf("%w: event id of %d bytes, want 1 to 200", ErrInvalidRequest, len(id))
	}
	return nil
}

// runEvent runs fn once per event id (ledger.Once) and reports a reused
// event id as this package's ErrIdempotencyConflict, joined with the
// ledger's.
func runEvent[T any](ctx context.Context, l *ledger.Ledger, eventID, op string, req any, fn func(w *ledger.Writer) (T, error)) (T, error) {
	out, err := ledger.Once(ctx, l, kindEvent, eventID, op, req, fn)
	if errors.Is(err, ledger.ErrIdempotencyConflict) && !errors.Is(err, ErrIdempotencyConflict) {
		err = fmt.Errorf("%w: %w", ErrIdempotencyConflict, err)
	}
	return out, err
}

func loadAdvertiser(r *ledger.Reader, id string) (Advertiser, error) {
	var a Advertiser
	if err := r.LoadJSON(kindAdvertiser, id, &a); err != nil {
		if errors.Is(err, ledger.ErrNotFound) {
			return Advertiser{}, fmt.Errorf("%w: %q", ErrUnknownAdvertiser, id)
		}
		return Advertiser{}, err
	}
	return a, nil
}

func loadCampaign(r *ledger.Reader, id string) (Campaign, error) {
	var c Campaign
	if err := r.LoadJSON(kindCampaign, id, &c); err != nil {
		if errors.Is(err, ledger.ErrNotFound) {
			return Campaign{}, fmt.Errorf("%w: %q", ErrUnknownCampaign, id)
		}
		return Campaign{}, err
	}
	return c, nil
}

func (p *Program) checkRegion(a Advertiser) error {
	if !p.rules.allowsRegion(a.Region) {
		return fmt.Errorf("%w: rule regions: advertiser %s is in %q, allowed %v", ErrRegion, a.ID, a.Region, p.rules.Regions)
	}
	return nil
}

// OpenAdvertiser opens an advertiser account in a region, which must be
// allowed (ErrRegion). The advertiser id is the idempotency key: opening
// it again in the same region returns the account; in another region it is
// ErrIdempotencyConflict.
func (p *Program) OpenAdvertiser(ctx context.Context, advertiser, region string) (Advertiser, error) {
	if err := validateID("advertiser", advertiser); err != nil {
		return Advertiser{}, err
	}
	if !p.rules.allowsRegion(region) {
		return Advertiser{}, fmt.Errorf("%w: rule regions: %q is not in %v", ErrRegion, region, p.rules.Regions)
	}
	var out Advertiser
	err := p.l.Update(ctx, func(w *ledger.Writer) error {
		old, err := loadAdvertiser(&w.Reader, advertiser)
		if err == nil {
			if old.Region != region {
				return fmt.Errorf("%w: advertiser %s is open in %s", ErrIdempotencyConflict, advertiser, old.Region)
			}
			out = old
			return nil
		}
		if !errors.Is(err, ErrUnknownAdvertiser) {
			return err
		}
		if _, err := w.OpenAccount(ledger.AccountSpec{Address: AdvertiserAccount(advertiser)}); err != nil {
			return err
		}
		out = Advertiser{ID: advertiser, Region: region, OpenedAt: w.Now()}
		return w.CreateJSON(kindAdvertiser, advertiser, out)
	})
	if err != nil {
		return Advertiser{}, err
	}
	return out, nil
}

// TopUp credits an advertiser's prepaid balance with a payment received
// under reference, which is the idempotency key (ledger key
// "adsbuy:topup:<reference>"). Refusals: ErrTopUpBounds,
// ErrUnknownAdvertiser, ErrRegion.
func (p *Program) TopUp(ctx context.Context, reference, advertiser string, amount decimal.Decimal) (TopUp, error) {
	if err := validateEventID(reference); err != nil {
		return TopUp{}, err
	}
	if err := validateID("advertiser", advertiser); err != nil {
		return TopUp{}, err
	}
	if _, err := p.rules.Asset.Units(amount); err != nil {
		return TopUp{}, fmt.Errorf("%w: top-up amount: %w", ErrInvalidRequest, err)
	}
	if amount.LessThan(p.rules.MinTopUp) || amount.GreaterThan(p.rules.MaxTopUp) {
		return TopUp{}, fmt.Errorf("%w: rule min_top_up/max_top_up: %s not in %s..%s %s", ErrTopUpBounds,
			amount, p.rules.MinTopUp, p.rules.MaxTopUp, p.rules.Asset.Code)
	}
	req := struct {
		Advertiser string
		Amount     string
	}{advertiser, amount.String()}
	return runEvent(ctx, p.l, reference, "topup", req, func(w *ledger.Writer) (TopUp, error) {
		a, err := loadAdvertiser(&w.Reader, advertiser)
		if err != nil {
			return TopUp{}, err
		}
		if err := p.checkRegion(a); err != nil {
			return TopUp{}, err
		}
		tx, err := w.Post(ledger.TransferRequest{
			Key:      "adsbuy:topup:" + reference,
			Postings: []ledger.Posting{{From: ledger.World, To: AdvertiserAccount(advertiser), Asset: p.rules.Asset.Code, Amount: amount}},
			Metadata: map[string]string{"program": "adsbuy", "event": "topup", "advertiser": advertiser, "reference": reference},
		})
		if err != nil {
			return TopUp{}, err
		}
		return TopUp{Reference: reference, Advertiser: advertiser, Amount: amount, Transaction: tx.ID}, nil
	})
}

// days returns how many (started) days a schedule spans.
func days(start, end time.Time) int {
	d := end.Sub(start)
	n := int(d / (24 * time.Hour))
	if d%(24*time.Hour) != 0 {
		n++
	}
	return n
}

func (p *Program) validateSpec(spec CampaignSpec, now time.Time) error {
	r := p.rules
	a := r.Asset
	if len(spec.Name) > 128 {
		return fmt.Errorf("%w: name longer than 128 bytes", ErrInvalidCampaign)
	}
	if spec.Start.Before(now) {
		return fmt.Errorf("%w: start %s is before now %s", ErrInvalidCampaign, spec.Start.Format(time.RFC3339), now.Format(time.RFC3339))
	}
	if !spec.End.After(spec.Start) {
		return fmt.Errorf("%w: end %s is not after start %s", ErrInvalidCampaign, spec.End.Format(time.RFC3339), spec.Start.Format(time.RFC3339))
	}
	if n := days(spec.Start, spec.End); n > r.MaxCampaignDays {
		return fmt.Errorf("%w: rule max_campaign_days: %d days, at most %d", ErrInvalidCampaign, n, r.MaxCampaignDays)
	}
	if _, err := a.Units(spec.DailyBudget); err != nil {
		return fmt.Errorf("%w: daily budget: %w", ErrInvalidRequest, err)
	}
	if spec.DailyBudget.LessThan(r.MinCampaignDailyBudget) {
		return fmt.Errorf("%w: rule min_campaign_daily_budget: campaign daily budget %s, at least %s %s", ErrBudgetTooLow,
			spec.DailyBudget, r.MinCampaignDailyBudget, a.Code)
	}
	if len(spec.AdGroups) == 0 || len(spec.AdGroups) > 20 {
		return fmt.Errorf("%w: %d ad groups, want 1 to 20", ErrInvalidCampaign, len(spec.AdGroups))
	}
	ids := map[string]bool{}
	for _, g := range spec.AdGroups {
		if err := validateID("ad group id", g.ID); err != nil {
			return err
		}
		if ids[g.ID] {
			return fmt.Errorf("%w: ad group id %q is used twice", ErrInvalidCampaign, g.ID)
		}
		ids[g.ID] = true
		if _, err := a.Units(g.DailyBudget); err != nil {
			return fmt.Errorf("%w: ad group %s daily budget: %w", ErrInvalidRequest, g.ID, err)
		}
		if g.DailyBudget.LessThan(r.MinAdGroupDailyBudget) {
			return fmt.Errorf("%w: rule min_ad_group_daily_budget: ad group %s daily budget %s, at least %s %s", ErrBudgetTooLow,
				g.ID, g.DailyBudget, r.MinAdGroupDailyBudget, a.Code)
		}
		if g.DailyBudget.GreaterThan(spec.DailyBudget) {
			return fmt.Errorf("%w: ad group %s daily budget %s is above the campaign's %s", ErrInvalidCampaign, g.ID, g.DailyBudget, spec.DailyBudget)
		}
		if !r.allowsBid(g.BidType) {
			return fmt.Errorf("%w: rule bid_types: ad group %s bid type %q, allowed %v", ErrInvalidCampaign, g.ID, g.BidType, r.BidTypes)
		}
		if g.Bid.Sign() <= 0 {
			return fmt.Errorf("%w: ad group %s bid %s must be positive", ErrInvalidCampaign, g.ID, g.Bid)
		}
		if _, err := a.Units(g.Bid); err != nil {
			return fmt.Errorf("%w: ad group %s bid: %w", ErrInvalidRequest, g.ID, err)
		}
	}
	return nil
}

// BuyCampaign buys a campaign: the whole budget (daily budget × days of the
// schedule) is held from the advertiser's balance and the campaign waits
// for a sales representative's review. The campaign id is the idempotency
// key (hold key "adsbuy:budget:<campaign>"). Refusals: ErrBudgetTooLow,
// ErrInvalidCampaign, ErrUnknownAdvertiser, ErrRegion,
// ErrInsufficientBalance.
func (p *Program) BuyCampaign(ctx context.Context, campaignID, advertiser string, spec CampaignSpec) (Campaign, error) {
	if err := validateID("campaign", campaignID); err != nil {
		return Campaign{}, err
	}
	if err := validateID("advertiser", advertiser); err != nil {
		return Campaign{}, err
	}
	spec.Start, spec.End = spec.Start.UTC(), spec.End.UTC()
	spec.AdGroups = slices.Clone(spec.AdGroups)
	req := struct {
		Advertiser string
		Spec       CampaignSpec
	}{advertiser, spec}
	return runEvent(ctx, p.l, campaignID, "buy", req, func(w *ledger.Writer) (Campaign, error) {
		now := w.Now()
		if err := p.validateSpec(spec, now); err != nil {
			return Campaign{}, err
		}
		a, err := loadAdvertiser(&w.Reader, advertiser)
		if err != nil {
			return Campaign{}, err
		}
		if err := p.checkRegion(a); err != nil {
			return Campaign{}, err
		}
		if _, err := w.Record(kindCampaign, campaignID); err == nil {
			return Campaign{}, fmt.Errorf("%w: campaign %q exists", ErrIdempotencyConflict, campaignID)
		}
		n := days(spec.Start, spec.End)
		nd := decimal.NewFromInt(int64(n))
		c := Campaign{
			ID: campaignID, Advertiser: advertiser, Name: spec.Name, Start: spec.Start, End: spec.End, Days: n,
			DailyBudget: spec.DailyBudget, Budget: spec.DailyBudget.Mul(nd), Status: StatusPendingReview,
			Spent: decimal.Zero, Released: decimal.Zero, DaySpent: decimal.Zero, BoughtAt: now,
		}
		for _, g := range spec.AdGroups {
			c.AdGroups = append(c.AdGroups, AdGroup{AdGroupSpec: g, Budget: g.DailyBudget.Mul(nd), Spent: decimal.Zero, DaySpent: decimal.Zero})
		}
		h, err := w.Hold(ledger.HoldRequest{
			Key: "adsbuy:budget:" + campaignID, Account: AdvertiserAccount(advertiser), Asset: p.rules.Asset.Code,
			Amount: c.Budget, ExpiresAt: spec.End.Add(time.Duration(p.rules.HoldMargin)),
			Metadata: map[string]string{"program": "adsbuy", "campaign": campaignID, "advertiser": advertiser},
		})
		if err != nil {
			if errors.Is(err, ledger.ErrInsufficientFunds) {
				return Campaign{}, fmt.Errorf("%w: advertiser %s cannot hold a budget of %s %s: %w", ErrInsufficientBalance,
					advertiser, c.Budget, p.rules.Asset.Code, err)
			}
			return Campaign{}, err
		}
		c.Hold = h.ID
		if err := w.Schedule(dueEnd, campaignID, spec.End); err != nil {
			return Campaign{}, err
		}
		return c, w.SaveJSON(kindCampaign, campaignID, c)
	})
}

// closeCampaign moves a campaign to a final status and releases its
// unspent budget (the hold's remainder) to the advertiser's balance.
func (p *Program) closeCampaign(w *ledger.Writer, c *Campaign, status CampaignStatus, reason string) error {
	h, err := w.HoldByID(c.Hold)
	if err != nil {
		return err
	}
	if h.Status == ledger.HoldPending {
		if _, err := w.Void(c.Hold); err != nil {
			return err
		}
	}
	// Whatever was not captured is free again: voided now, or expired by
	// the ledger if no Tick came before the hold margin ran out.
	c.Status, c.EndedAt, c.EndReason = status, w.Now(), reason
	c.Released = c.Budget.Sub(c.Spent)
	if err := w.Unschedule(dueEnd, c.ID); err != nil {
		return err
	}
	return w.SaveJSON(kindCampaign, c.ID, c)
}

func (p *Program) requireRep(ctx context.Context, reviewer string) error {
	if err := validateID("reviewer", reviewer); err != nil {
		return err
	}
	ok, err := p.roles.HasRole(ctx, reviewer, RoleSalesRep)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: rule sales representative review: %s does not hold the %s role", ErrForbidden, reviewer, RoleSalesRep)
	}
	return nil
}

func (p *Program) review(ctx context.Context, eventID, reviewer, campaignID, op, reason string) (Campaign, error) {
	if err := validateEventID(eventID); err != nil {
		return Campaign{}, err
	}
	if err := p.requireRep(ctx, reviewer); err != nil {
		return Campaign{}, err
	}
	return runEvent(ctx, p.l, eventID, op, [3]string{reviewer, campaignID, reason}, func(w *ledger.Writer) (Campaign, error) {
		c, err := loadCampaign(&w.Reader, campaignID)
		if err != nil {
			return Campaign{}, err
		}
		if reviewer == c.Advertiser {
			return Campaign{}, fmt.Errorf("%w: advertiser %s may not review its own campaign %s", ErrForbidden, reviewer, campaignID)
		}
		if c.Status != StatusPendingReview {
			return Campaign{}, fmt.Errorf("%w: campaign %s is %s, not %s", ErrWrongState, campaignID, c.Status, StatusPendingReview)
		}
		now := w.Now()
		if !now.Before(c.End) {
			return Campaign{}, fmt.Errorf("%w: campaign %s's schedule ended at %s", ErrWrongState, campaignID, c.End.Format(time.RFC3339))
		}
		c.ReviewedBy, c.ReviewedAt = reviewer, now
		if op == "approve" {
			c.Status = StatusLive
			return c, w.SaveJSON(kindCampaign, c.ID, c)
		}
		c.Reason = reason
		return c, p.closeCampaign(w, &c, StatusRejected, "rejected: "+reason)
	})
}

// Approve puts a campaign under review live. Only an account holding
// RoleSalesRep may approve, never the campaign's advertiser (ErrForbidden).
func (p *Program) Approve(ctx context.Context, eventID, reviewer, campaignID string) (Campaign, error) {
	return p.review(ctx, eventID, reviewer, campaignID, "approve", "")
}

// Reject rejects a campaign under review; its whole budget goes back to the
// balance. Same permission as Approve.
func (p *Program) Reject(ctx context.Context, eventID, reviewer, campaignID, reason string) (Campaign, error) {
	return p.review(ctx, eventID, reviewer, campaignID, "reject", reason)
}

func (p *Program) ownerEvent(ctx context.Context, eventID, advertiser, campaignID, op string, from []CampaignStatus,
	apply func(w *ledger.Writer, c *Campaign) error) (Campaign, error) {
	if err := validateEventID(eventID); err != nil {
		return Campaign{}, err
	}
	return runEvent(ctx, p.l, eventID, op, [2]string{advertiser, campaignID}, func(w *ledger.Writer) (Campaign, error) {
		c, err := loadCampaign(&w.Reader, campaignID)
		if err != nil {
			return Campaign{}, err
		}
		if c.Advertiser != advertiser {
			return Campaign{}, fmt.Errorf("%w: %s is not the owner of campaign %s", ErrForbidden, advertiser, campaignID)
		}
		if !slices.Contains(from, c.Status) {
			return Campaign{}, fmt.Errorf("%w: cannot %s campaign %s: it is %s", ErrWrongState, op, campaignID, c.Status)
		}
		return c, apply(w, &c)
	})
}

// Pause stops a live campaign's delivery (reports are refused until
// Resume). Only the owner may pause.
func (p *Program) Pause(ctx context.Context, eventID, advertiser, campaignID string) (Campaign, error) {
	return p.ownerEvent(ctx, eventID, advertiser, campaignID, "pause", []CampaignStatus{StatusLive},
		func(w *ledger.Writer, c *Campaign) error {
			c.Status = StatusPaused
			return w.SaveJSON(kindCampaign, c.ID, c)
		})
}

// Resume makes a paused campaign live again. Only the owner may resume.
func (p *Program) Resume(ctx context.Context, eventID, advertiser, campaignID string) (Campaign, error) {
	return p.ownerEvent(ctx, eventID, advertiser, campaignID, "resume", []CampaignStatus{StatusPaused},
		func(w *ledger.Writer, c *Campaign) error {
			c.Status = StatusLive
			return w.SaveJSON(kindCampaign, c.ID, c)
		})
}

// Cancel ends a campaign that is under review, live or paused; what it has
// not spent goes back to the balance. Only the owner may cancel.
func (p *Program) Cancel(ctx context.Context, eventID, advertiser, campaignID string) (Campaign, error) {
	return p.ownerEvent(ctx, eventID, advertiser, campaignID, "cancel", []CampaignStatus{StatusPendingReview, StatusLive, StatusPaused},
		func(w *ledger.Writer, c *Campaign) error {
			return p.closeCampaign(w, c, StatusCanceled, "canceled by the advertiser")
		})
}
