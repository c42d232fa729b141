package adsbuy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
)

// Record kinds and the due-entry kind the program keeps in the store.
const (
	kindAdvertiser = "adsbuy.advertiser" // id: advertiser
	kindCampaign   = "adsbuy.campaign"   // id: campaign
	kindDelivery   = "adsbuy.delivery"   // id: campaign "/" 8-digit sequence
	kindEvent      = "adsbuy.event"      // id: event id
	kindOpenEvent  = "adsbuy.open"       // id: advertiser (OpenAdvertiser's event)
	dueEnd         = "adsbuy.end"        // id: campaign
)

// RevenueAccount is the account that receives every captured spend.
const RevenueAccount = "platform:ads:revenue"

// AdvertiserAccount is an advertiser's prepaid balance. It is the
// advertiser's own, not a member's wallet (kit.WalletAccount): money paid
// for ads stays apart from the money members spend in the other programs.
func AdvertiserAccount(advertiser string) string { return "advertiser:" + advertiser }

// Advertiser is an advertiser account.
type Advertiser struct {
	ID string `json:"id"`
	// Country is where the advertiser is established (ISO 3166-1
	// alpha-2), one of Rules.Countries when the account was opened.
	Country  string    `json:"country"`
	OpenedAt time.Time `json:"opened_at"`
	// Replayed is set when OpenAdvertiser found the account already open.
	Replayed bool `json:"-"`
}

// TopUp is a credited top-up.
type TopUp struct {
	Reference   string          `json:"reference"`
	Advertiser  string          `json:"advertiser"`
	Amount      decimal.Decimal `json:"amount"`
	Transaction uint64          `json:"transaction"`
	// Replayed is set on a replay of a top-up already credited.
	Replayed bool `json:"-"`
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
	Budget   decimal.Decimal `json:"budget"` // daily budget × days
	Spent    decimal.Decimal `json:"spent"`
	DaySpent decimal.Decimal `json:"day_spent"` // on Campaign.Day
	// Carry is what was delivered within the budgets but not yet charged:
	// less than one minor unit (a cent), the part of the exact cost at the
	// bid that a charge in whole cents could not take yet. The next
	// delivery's charge takes it; what is left when the campaign ends is
	// never charged.
	Carry       decimal.Decimal `json:"carry"`
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
	// PausedBy is who paused the campaign, while it is paused. A campaign a
	// sales representative paused is resumed only by one.
	PausedBy  string    `json:"paused_by,omitempty"`
	EndedAt   time.Time `json:"ended_at,omitzero"`
	EndReason string    `json:"end_reason,omitempty"`
	// Replayed is set on the result of an event (BuyCampaign, Approve,
	// Reject, Pause, Resume, Cancel) that replays one already done: the
	// campaign is as that event left it, not as it is now.
	Replayed bool `json:"-"`
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
	// Cost is the delivery at the bid, exact (3 impressions at a 2.50 CPM
	// cost 0.0075). Charged is what was captured: whole minor units of Cost
	// plus the ad group's carry, so that the total charged does not depend
	// on how deliveries are split into reports; less when a budget ran out
	// (Truncated: what lay beyond the budget is not charged, nor carried).
	Cost    decimal.Decimal `json:"cost"`
	Charged decimal.Decimal `json:"charged"`
	// Carry is the ad group's uncharged remainder after this report (less
	// than one minor unit).
	Carry       decimal.Decimal `json:"carry"`
	Truncated   bool            `json:"truncated,omitempty"`
	Transaction uint64          `json:"transaction,omitempty"`
	// Replayed is set on a replay of a report already recorded.
	Replayed bool `json:"-"`
}

// Program runs self-service ad buying over a ledger. It is safe for
// concurrent use.
type Program struct {
	l     *ledger.Ledger
	rules Rules
	roles kit.Roles
}

// New validates the rules and sets up the ledger (kit.SetUpLedger: the
// asset, ledger.World and RevenueAccount, idempotently). Give it the role
// directory with WithRoles: without one nobody may review a campaign.
func New(ctx context.Context, l *ledger.Ledger, rules Rules, opts ...Option) (*Program, error) {
	if err := rules.Validate(); err != nil {
		return nil, err
	}
	if l == nil {
		return nil, fmt.Errorf("%w: New needs a ledger", ErrInvalidRequest)
	}
	rules.Countries = slices.Clone(rules.Countries)
	rules.BidTypes = slices.Clone(rules.BidTypes)
	if err := kit.SetUpLedger(ctx, l, rules.Asset, RevenueAccount); err != nil {
		return nil, err
	}
	p := &Program{l: l, rules: rules}
	for _, o := range opts {
		o(p)
	}
	return p, nil
}

// Rules returns the program's rules.
func (p *Program) Rules() Rules { return p.rules }

// event names an event of this program for kit.Once.
func event(id, op string, req any) kit.Event {
	return kit.Event{Kind: kindEvent, ID: id, Op: op, Request: req}
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

// checkCountry refuses a country that is not one where ads may be bought.
func (p *Program) checkCountry(advertiser, country string) error {
	if !slices.Contains(p.rules.Countries, country) {
		return ledger.Refuse(ErrCountry, "countries", "advertiser %s is in %q; ads may be bought in %s",
			advertiser, country, strings.Join(p.rules.Countries, ", "))
	}
	return nil
}

// OpenAdvertiserRequest is an advertiser opening its account.
type OpenAdvertiserRequest struct {
	// Actor is the advertiser who opens its account: the account's ID,
	// and the idempotency key of the event.
	Actor string `json:"actor"`
	// Country is where the advertiser is established (ISO 3166-1 alpha-2).
	Country string `json:"country"`
}

// OpenAdvertiserIn opens an advertiser account in a country, which must be
// allowed (ErrCountry), inside the caller's unit of work. The advertiser
// ID is the idempotency key: opening it again in the same country returns
// the account (Replayed set); in another country it is
// ErrIdempotencyConflict.
func (p *Program) OpenAdvertiserIn(w *ledger.Writer, req OpenAdvertiserRequest) (Advertiser, error) {
	advertiser, country := req.Actor, req.Country
	if err := kit.CheckID(ErrInvalidRequest, "advertiser", advertiser); err != nil {
		return Advertiser{}, err
	}
	if len(country) > 8 {
		return Advertiser{}, fmt.Errorf("%w: country %q is not an ISO 3166-1 alpha-2 code", ErrCountry, country)
	}
	ev := kit.Event{Kind: kindOpenEvent, ID: advertiser, Op: "open_advertiser", Request: req}
	a, replay, err := kit.Once(w, ev, func(w *ledger.Writer) (Advertiser, error) {
		if err := p.checkCountry(advertiser, country); err != nil {
			return Advertiser{}, err
		}
		old, err := loadAdvertiser(&w.Reader, advertiser)
		if err == nil { // opened before events were kept for it
			if old.Country != country {
				return Advertiser{}, fmt.Errorf("%w: advertiser %s is open in %s", ErrIdempotencyConflict, advertiser, old.Country)
			}
			return old, nil
		}
		if !errors.Is(err, ErrUnknownAdvertiser) {
			return Advertiser{}, err
		}
		if err := kit.OpenIfMissing(w, AdvertiserAccount(advertiser), ledger.Overdraft{}); err != nil {
			return Advertiser{}, err
		}
		a := Advertiser{ID: advertiser, Country: country, OpenedAt: w.Now()}
		if err := w.Emit(EventAdvertiserOpened, advertiser, advertiserData{Advertiser: advertiser, Country: country}); err != nil {
			return Advertiser{}, err
		}
		return a, w.CreateJSON(kindAdvertiser, advertiser, a)
	})
	a.Replayed = replay
	return a, err
}

// OpenAdvertiser is OpenAdvertiserIn in a unit of work of its own.
func (p *Program) OpenAdvertiser(ctx context.Context, req OpenAdvertiserRequest) (Advertiser, error) {
	return kit.Run(ctx, p.l, func(w *ledger.Writer) (Advertiser, error) { return p.OpenAdvertiserIn(w, req) })
}

// TopUpRequest is a payment an advertiser made to its prepaid balance.
type TopUpRequest struct {
	// EventID is the payment's reference, the idempotency key of the
	// event: a payment delivered twice is credited once.
	EventID string `json:"event_id"`
	// Actor is the advertiser who paid, whose balance is credited.
	Actor string `json:"actor"`
	// Amount is what was paid, in the program's asset.
	Amount decimal.Decimal `json:"amount"`
}

// TopUpIn credits an advertiser's prepaid balance with a payment, inside
// the caller's unit of work (ledger key "adsbuy:topup:<EventID>").
// Refusals: ErrTopUpBounds (rules min_top_up, max_top_up),
// ErrUnknownAdvertiser, ErrCountry.
func (p *Program) TopUpIn(w *ledger.Writer, req TopUpRequest) (TopUp, error) {
	reference, advertiser, amount := req.EventID, req.Actor, req.Amount
	if err := kit.CheckEventID(ErrInvalidRequest, reference); err != nil {
		return TopUp{}, err
	}
	if err := kit.CheckID(ErrInvalidRequest, "advertiser", advertiser); err != nil {
		return TopUp{}, err
	}
	if err := kit.CheckDecimal(amount); err != nil {
		return TopUp{}, fmt.Errorf("%w: top-up amount: %w", ErrInvalidRequest, err)
	}
	tu, replay, err := kit.Once(w, event(reference, "topup", req), func(w *ledger.Writer) (TopUp, error) {
		if _, err := p.rules.Asset.Units(amount); err != nil {
			return TopUp{}, fmt.Errorf("%w: top-up amount: %w", ErrInvalidRequest, err)
		}
		if amount.LessThan(p.rules.MinTopUp) {
			return TopUp{}, ledger.Refuse(ErrTopUpBounds, "min_top_up", "a top-up of %s, at least %s %s", amount, p.rules.MinTopUp, p.rules.Asset.Code)
		}
		if amount.GreaterThan(p.rules.MaxTopUp) {
			return TopUp{}, ledger.Refuse(ErrTopUpBounds, "max_top_up", "a top-up of %s, at most %s %s", amount, p.rules.MaxTopUp, p.rules.Asset.Code)
		}
		a, err := loadAdvertiser(&w.Reader, advertiser)
		if err != nil {
			return TopUp{}, err
		}
		if err := p.checkCountry(a.ID, a.Country); err != nil {
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
		if err := w.Emit(EventToppedUp, advertiser, topUpData{Advertiser: advertiser, Reference: reference,
			Amount: p.amount(amount), Asset: p.rules.Asset.Code}); err != nil {
			return TopUp{}, err
		}
		return TopUp{Reference: reference, Advertiser: advertiser, Amount: amount, Transaction: tx.ID}, nil
	})
	tu.Replayed = replay
	return tu, err
}

// TopUp is TopUpIn in a unit of work of its own.
func (p *Program) TopUp(ctx context.Context, req TopUpRequest) (TopUp, error) {
	return kit.Run(ctx, p.l, func(w *ledger.Writer) (TopUp, error) { return p.TopUpIn(w, req) })
}

// days returns how many (started) days a schedule spans. Both times are in
// the ledger's range, so end - start fits a time.Duration.
func days(start, end time.Time) int {
	d := end.Sub(start)
	n := int(d / (24 * time.Hour))
	if d%(24*time.Hour) != 0 {
		n++
	}
	return n
}

// checkSpecInput checks what a campaign spec brings from outside before
// anything is done with it (even fingerprinting it for kit.Once): times in
// the ledger's range, decimals of sane size, bounded lengths.
func checkSpecInput(spec CampaignSpec) error {
	if err := ledger.ValidateTime("start", spec.Start); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidCampaign, err)
	}
	if err := ledger.ValidateTime("end", spec.End); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidCampaign, err)
	}
	if len(spec.Name) > 128 {
		return fmt.Errorf("%w: name longer than 128 bytes", ErrInvalidCampaign)
	}
	if len(spec.AdGroups) == 0 || len(spec.AdGroups) > 20 {
		return fmt.Errorf("%w: %d ad groups, want 1 to 20", ErrInvalidCampaign, len(spec.AdGroups))
	}
	if err := kit.CheckDecimal(spec.DailyBudget); err != nil {
		return fmt.Errorf("%w: daily budget: %w", ErrInvalidRequest, err)
	}
	for _, g := range spec.AdGroups {
		if err := kit.CheckID(ErrInvalidRequest, "ad group id", g.ID); err != nil {
			return err
		}
		if len(g.Name) > 128 {
			return fmt.Errorf("%w: ad group %s: name longer than 128 bytes", ErrInvalidCampaign, g.ID)
		}
		if err := kit.CheckDecimal(g.DailyBudget); err != nil {
			return fmt.Errorf("%w: ad group %s daily budget: %w", ErrInvalidRequest, g.ID, err)
		}
		if err := kit.CheckDecimal(g.Bid); err != nil {
			return fmt.Errorf("%w: ad group %s bid: %w", ErrInvalidRequest, g.ID, err)
		}
	}
	return nil
}

// units converts an amount of the program's asset to minor units; what
// names it in the error (ErrInvalidRequest wrapping the ledger's cause).
func (p *Program) units(what string, d decimal.Decimal) (int64, error) {
	u, err := p.rules.Asset.Units(d)
	if err != nil {
		return 0, fmt.Errorf("%w: %s: %w", ErrInvalidRequest, what, err)
	}
	return u, nil
}

// validateSpec checks a campaign spec against the rules at now and returns
// it with its amounts in canonical form (the asset's decimals).
func (p *Program) validateSpec(spec CampaignSpec, now time.Time) (CampaignSpec, error) {
	r := p.rules
	a := r.Asset
	if spec.Start.Before(now) {
		return spec, fmt.Errorf("%w: start %s is before now %s", ErrInvalidCampaign, spec.Start.Format(time.RFC3339), now.Format(time.RFC3339))
	}
	if !spec.End.After(spec.Start) {
		return spec, fmt.Errorf("%w: end %s is not after start %s", ErrInvalidCampaign, spec.End.Format(time.RFC3339), spec.Start.Format(time.RFC3339))
	}
	if n := days(spec.Start, spec.End); n > r.MaxCampaignDays {
		return spec, ledger.Refuse(ErrInvalidCampaign, "max_campaign_days", "%d days, at most %d", n, r.MaxCampaignDays)
	}
	daily, err := p.units("daily budget", spec.DailyBudget)
	if err != nil {
		return spec, err
	}
	spec.DailyBudget = a.Amount(daily)
	if spec.DailyBudget.LessThan(r.MinCampaignDailyBudget) {
		return spec, ledger.Refuse(ErrBudgetTooLow, "min_campaign_daily_budget", "campaign daily budget %s, at least %s %s",
			spec.DailyBudget, r.MinCampaignDailyBudget, a.Code)
	}
	spec.AdGroups = slices.Clone(spec.AdGroups)
	ids := map[string]bool{}
	for i, g := range spec.AdGroups {
		if ids[g.ID] {
			return spec, fmt.Errorf("%w: ad group id %q is used twice", ErrInvalidCampaign, g.ID)
		}
		ids[g.ID] = true
		u, err := p.units("ad group "+g.ID+" daily budget", g.DailyBudget)
		if err != nil {
			return spec, err
		}
		g.DailyBudget = a.Amount(u)
		if g.DailyBudget.LessThan(r.MinAdGroupDailyBudget) {
			return spec, ledger.Refuse(ErrBudgetTooLow, "min_ad_group_daily_budget", "ad group %s daily budget %s, at least %s %s",
				g.ID, g.DailyBudget, r.MinAdGroupDailyBudget, a.Code)
		}
		if g.DailyBudget.GreaterThan(spec.DailyBudget) {
			return spec, fmt.Errorf("%w: ad group %s daily budget %s is above the campaign's %s", ErrInvalidCampaign, g.ID, g.DailyBudget, spec.DailyBudget)
		}
		if !slices.Contains(r.BidTypes, g.BidType) {
			return spec, ledger.Refuse(ErrInvalidCampaign, "bid_types", "ad group %s bids %q; %s allowed", g.ID, g.BidType, bidTypes(r.BidTypes))
		}
		if g.Bid.Sign() <= 0 {
			return spec, fmt.Errorf("%w: ad group %s bid %s must be positive", ErrInvalidCampaign, g.ID, g.Bid)
		}
		bid, err := p.units("ad group "+g.ID+" bid", g.Bid)
		if err != nil {
			return spec, err
		}
		g.Bid = a.Amount(bid)
		spec.AdGroups[i] = g
	}
	return spec, nil
}

// budget is daily × n days, in minor units checked for overflow, as an
// amount of the asset.
func (p *Program) budget(what string, daily decimal.Decimal, n int) (decimal.Decimal, error) {
	u, err := p.units(what, daily)
	if err != nil {
		return decimal.Decimal{}, err
	}
	total, err := kit.Mul(what, u, int64(n))
	if err != nil {
		return decimal.Decimal{}, fmt.Errorf("%w: %w", ErrInvalidCampaign, err)
	}
	return p.rules.Asset.Amount(total), nil
}

// BuyCampaignRequest is an advertiser buying a campaign.
type BuyCampaignRequest struct {
	// CampaignID is the new campaign's ID, the idempotency key of the
	// event.
	CampaignID string `json:"campaign_id"`
	// Actor is the advertiser who buys and owns the campaign.
	Actor string `json:"actor"`
	// Spec is what is bought.
	Spec CampaignSpec `json:"spec"`
}

// BuyCampaignIn buys a campaign, inside the caller's unit of work: the
// whole budget (daily budget × days of the schedule) is held from the
// advertiser's balance and the campaign waits for a sales
// representative's review. The campaign ID is the idempotency key (hold
// key "adsbuy:budget:<campaign>"); the budget hold expires by itself
// HoldMargin after the schedule ends. Times outside the ledger's range
// (ledger.MinTime to ledger.MaxTime) are ErrInvalidCampaign wrapping
// ledger.ErrInvalidTime. Refusals: ErrBudgetTooLow, ErrInvalidCampaign,
// ErrUnknownAdvertiser, ErrCountry, ErrInsufficientFunds.
func (p *Program) BuyCampaignIn(w *ledger.Writer, req BuyCampaignRequest) (Campaign, error) {
	campaignID, advertiser := req.CampaignID, req.Actor
	if err := kit.CheckID(ErrInvalidRequest, "campaign", campaignID); err != nil {
		return Campaign{}, err
	}
	if err := kit.CheckID(ErrInvalidRequest, "advertiser", advertiser); err != nil {
		return Campaign{}, err
	}
	if err := checkSpecInput(req.Spec); err != nil {
		return Campaign{}, err
	}
	req.Spec.Start, req.Spec.End = req.Spec.Start.UTC(), req.Spec.End.UTC()
	req.Spec.AdGroups = slices.Clone(req.Spec.AdGroups)
	c, replay, err := kit.Once(w, event(campaignID, "buy", req), func(w *ledger.Writer) (Campaign, error) {
		now := w.Now()
		spec, err := p.validateSpec(req.Spec, now)
		if err != nil {
			return Campaign{}, err
		}
		a, err := loadAdvertiser(&w.Reader, advertiser)
		if err != nil {
			return Campaign{}, err
		}
		if err := p.checkCountry(a.ID, a.Country); err != nil {
			return Campaign{}, err
		}
		if _, err := w.Record(kindCampaign, campaignID); err == nil {
			return Campaign{}, fmt.Errorf("%w: campaign %q exists", ErrIdempotencyConflict, campaignID)
		}
		expires, err := ledger.AddDuration("budget hold expiry", spec.End, p.rules.HoldMargin.D())
		if err != nil {
			return Campaign{}, fmt.Errorf("%w: %w", ErrInvalidCampaign, err)
		}
		n := days(spec.Start, spec.End)
		budget, err := p.budget("campaign budget", spec.DailyBudget, n)
		if err != nil {
			return Campaign{}, err
		}
		c := Campaign{
			ID: campaignID, Advertiser: advertiser, Name: spec.Name, Start: spec.Start, End: spec.End, Days: n,
			DailyBudget: spec.DailyBudget, Budget: budget, Status: StatusPendingReview,
			Spent: decimal.Zero, Released: decimal.Zero, DaySpent: decimal.Zero, BoughtAt: now,
		}
		for _, g := range spec.AdGroups {
			gb, err := p.budget("ad group "+g.ID+" budget", g.DailyBudget, n)
			if err != nil {
				return Campaign{}, err
			}
			c.AdGroups = append(c.AdGroups, AdGroup{AdGroupSpec: g, Budget: gb, Spent: decimal.Zero, DaySpent: decimal.Zero, Carry: decimal.Zero})
		}
		h, err := w.Hold(ledger.HoldRequest{
			Key: "adsbuy:budget:" + campaignID, Account: AdvertiserAccount(advertiser), Asset: p.rules.Asset.Code,
			Amount: c.Budget, ExpiresAt: expires,
			Metadata: map[string]string{"program": "adsbuy", "campaign": campaignID, "advertiser": advertiser},
		})
		if err != nil {
			if errors.Is(err, ledger.ErrInsufficientFunds) {
				return Campaign{}, fmt.Errorf("%w: advertiser %s cannot hold a budget of %s %s (%w)", ErrInsufficientFunds,
					advertiser, c.Budget, p.rules.Asset.Code, err)
			}
			return Campaign{}, err
		}
		c.Hold = h.ID
		if err := p.emitCampaign(w, EventCampaignBought, &c, campaignData{Budget: p.amount(c.Budget), Hold: c.Hold,
			Start: &c.Start, End: &c.End}); err != nil {
			return Campaign{}, err
		}
		if err := w.Schedule(dueEnd, campaignID, spec.End); err != nil {
			return Campaign{}, err
		}
		return c, w.SaveJSON(kindCampaign, campaignID, c)
	})
	c.Replayed = replay
	return c, err
}

// BuyCampaign is BuyCampaignIn in a unit of work of its own.
func (p *Program) BuyCampaign(ctx context.Context, req BuyCampaignRequest) (Campaign, error) {
	return kit.Run(ctx, p.l, func(w *ledger.Writer) (Campaign, error) { return p.BuyCampaignIn(w, req) })
}

// closeCampaign moves a campaign to a final status and releases its
// unspent budget (the hold's remainder) to the advertiser's balance. The
// actor is who closed it ("" when time or the budget did).
func (p *Program) closeCampaign(w *ledger.Writer, c *Campaign, status CampaignStatus, actor, reason string) error {
	h, err := w.HoldByID(c.Hold)
	if err != nil {
		return err
	}
	if h.Status == ledger.HoldPending {
		// Voiding a hold past its expiry that no ledger Tick has released
		// yet releases it at once, like any other.
		if _, err := w.Void(c.Hold); err != nil {
			return err
		}
	}
	// Whatever was not captured is free again: voided now, or expired by
	// the ledger if no Tick came before the hold margin ran out.
	c.Status, c.EndedAt, c.EndReason, c.PausedBy = status, w.Now(), reason, ""
	c.Released = c.Budget.Sub(c.Spent)
	typ := EventCampaignEnded
	switch status {
	case StatusRejected:
		typ = EventCampaignRejected
	case StatusCanceled:
		typ = EventCampaignCancelled
	}
	if err := p.emitCampaign(w, typ, c, campaignData{Actor: actor, Reason: reason, Spent: p.amount(c.Spent),
		Released: p.amount(c.Released)}); err != nil {
		return err
	}
	if err := w.Unschedule(dueEnd, c.ID); err != nil {
		return err
	}
	return w.SaveJSON(kindCampaign, c.ID, c)
}

// review approves (op "approve") or rejects a campaign under review for
// the request req.
func (p *Program) review(w *ledger.Writer, req any, eventID, reviewer, campaignID, op, reason string) (Campaign, error) {
	if err := kit.CheckEventID(ErrInvalidRequest, eventID); err != nil {
		return Campaign{}, err
	}
	if err := kit.CheckID(ErrInvalidRequest, "campaign", campaignID); err != nil {
		return Campaign{}, err
	}
	if len(reviewer) > 128 || len(reason) > 512 {
		return Campaign{}, fmt.Errorf("%w: reviewer or reason too long", ErrInvalidRequest)
	}
	c, replay, err := kit.Once(w, event(eventID, op, req), func(w *ledger.Writer) (Campaign, error) {
		c, err := loadCampaign(&w.Reader, campaignID)
		if err != nil {
			return Campaign{}, err
		}
		// A sales representative, never the campaign's own advertiser
		// (even one that holds the role).
		if err := p.authorizeStaff(w, reviewer, op, &c); err != nil {
			return Campaign{}, err
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
			if err := p.emitCampaign(w, EventCampaignApproved, &c, campaignData{Actor: reviewer}); err != nil {
				return Campaign{}, err
			}
			return c, w.SaveJSON(kindCampaign, c.ID, c)
		}
		c.Reason = reason
		return c, p.closeCampaign(w, &c, StatusRejected, reviewer, "rejected: "+reason)
	})
	c.Replayed = replay
	return c, err
}

// ApproveRequest is a sales representative approving a campaign.
type ApproveRequest struct {
	// EventID is the caller's idempotency key of the review.
	EventID string `json:"event_id"`
	// Actor is the reviewer: a holder of kit.RoleSalesRep, never the
	// campaign's advertiser.
	Actor string `json:"actor"`
	// CampaignID is the campaign under review.
	CampaignID string `json:"campaign_id"`
}

// ApproveIn puts a campaign under review live, inside the caller's unit of
// work. Only an actor holding kit.RoleSalesRep may approve, never the
// campaign's advertiser (ErrForbidden, checked with kit.Authorize).
func (p *Program) ApproveIn(w *ledger.Writer, req ApproveRequest) (Campaign, error) {
	return p.review(w, req, req.EventID, req.Actor, req.CampaignID, "approve", "")
}

// Approve is ApproveIn in a unit of work of its own.
func (p *Program) Approve(ctx context.Context, req ApproveRequest) (Campaign, error) {
	return kit.Run(ctx, p.l, func(w *ledger.Writer) (Campaign, error) { return p.ApproveIn(w, req) })
}

// RejectRequest is a sales representative rejecting a campaign.
type RejectRequest struct {
	// EventID is the caller's idempotency key of the review.
	EventID string `json:"event_id"`
	// Actor is the reviewer, as for ApproveRequest.
	Actor string `json:"actor"`
	// CampaignID is the campaign under review.
	CampaignID string `json:"campaign_id"`
	// Reason is why, kept on the campaign for its advertiser to read.
	Reason string `json:"reason"`
}

// RejectIn rejects a campaign under review, inside the caller's unit of
// work; its whole budget goes back to the balance. Same permission as
// Approve.
func (p *Program) RejectIn(w *ledger.Writer, req RejectRequest) (Campaign, error) {
	return p.review(w, req, req.EventID, req.Actor, req.CampaignID, "reject", req.Reason)
}

// Reject is RejectIn in a unit of work of its own.
func (p *Program) Reject(ctx context.Context, req RejectRequest) (Campaign, error) {
	return kit.Run(ctx, p.l, func(w *ledger.Writer) (Campaign, error) { return p.RejectIn(w, req) })
}

// manage runs an action on a campaign by its owner or by staff: an actor
// that is not the campaign's advertiser must hold kit.RoleSalesRep
// (kit.Authorize); apply gets whether the actor acts as staff.
func (p *Program) manage(w *ledger.Writer, req any, eventID, actor, campaignID, op string, from []CampaignStatus,
	apply func(w *ledger.Writer, c *Campaign, staff bool) error) (Campaign, error) {
	if err := kit.CheckEventID(ErrInvalidRequest, eventID); err != nil {
		return Campaign{}, err
	}
	if err := kit.CheckID(ErrInvalidRequest, "campaign", campaignID); err != nil {
		return Campaign{}, err
	}
	if len(actor) > 128 {
		return Campaign{}, fmt.Errorf("%w: actor of %d bytes", ErrInvalidRequest, len(actor))
	}
	c, replay, err := kit.Once(w, event(eventID, op, req), func(w *ledger.Writer) (Campaign, error) {
		c, err := loadCampaign(&w.Reader, campaignID)
		if err != nil {
			return Campaign{}, err
		}
		staff := actor != c.Advertiser
		if staff {
			if err := p.authorizeStaff(w, actor, op, &c); err != nil {
				return Campaign{}, err
			}
		}
		if !slices.Contains(from, c.Status) {
			return Campaign{}, fmt.Errorf("%w: cannot %s campaign %s: it is %s", ErrWrongState, op, campaignID, c.Status)
		}
		return c, apply(w, &c, staff)
	})
	c.Replayed = replay
	return c, err
}

// PauseRequest is an owner or a sales representative pausing a campaign.
type PauseRequest struct {
	// EventID is the caller's idempotency key of the event.
	EventID string `json:"event_id"`
	// Actor is the campaign's advertiser, or a holder of kit.RoleSalesRep.
	Actor string `json:"actor"`
	// CampaignID is the campaign paused.
	CampaignID string `json:"campaign_id"`
}

// PauseIn stops a live campaign's delivery (reports are refused until
// Resume), inside the caller's unit of work. The owner may pause, and so
// may a sales representative (a takedown): a campaign staff paused is
// resumed only by staff.
func (p *Program) PauseIn(w *ledger.Writer, req PauseRequest) (Campaign, error) {
	return p.manage(w, req, req.EventID, req.Actor, req.CampaignID, "pause", []CampaignStatus{StatusLive},
		func(w *ledger.Writer, c *Campaign, _ bool) error {
			c.Status, c.PausedBy = StatusPaused, req.Actor
			if err := p.emitCampaign(w, EventCampaignPaused, c, campaignData{Actor: req.Actor}); err != nil {
				return err
			}
			return w.SaveJSON(kindCampaign, c.ID, c)
		})
}

// Pause is PauseIn in a unit of work of its own.
func (p *Program) Pause(ctx context.Context, req PauseRequest) (Campaign, error) {
	return kit.Run(ctx, p.l, func(w *ledger.Writer) (Campaign, error) { return p.PauseIn(w, req) })
}

// ResumeRequest is an owner or a sales representative resuming a paused
// campaign.
type ResumeRequest struct {
	// EventID is the caller's idempotency key of the event.
	EventID string `json:"event_id"`
	// Actor is the campaign's advertiser (unless staff paused it), or a
	// holder of kit.RoleSalesRep.
	Actor string `json:"actor"`
	// CampaignID is the campaign resumed.
	CampaignID string `json:"campaign_id"`
}

// ResumeIn makes a paused campaign live again, inside the caller's unit of
// work: the owner, unless a sales representative paused it, or a sales
// representative.
func (p *Program) ResumeIn(w *ledger.Writer, req ResumeRequest) (Campaign, error) {
	return p.manage(w, req, req.EventID, req.Actor, req.CampaignID, "resume", []CampaignStatus{StatusPaused},
		func(w *ledger.Writer, c *Campaign, staff bool) error {
			if !staff && c.PausedBy != "" && c.PausedBy != c.Advertiser {
				return fmt.Errorf("%w: campaign %s was paused by %s (staff); only a sales representative may resume it",
					ErrForbidden, c.ID, c.PausedBy)
			}
			c.Status, c.PausedBy = StatusLive, ""
			if err := p.emitCampaign(w, EventCampaignResumed, c, campaignData{Actor: req.Actor}); err != nil {
				return err
			}
			return w.SaveJSON(kindCampaign, c.ID, c)
		})
}

// Resume is ResumeIn in a unit of work of its own.
func (p *Program) Resume(ctx context.Context, req ResumeRequest) (Campaign, error) {
	return kit.Run(ctx, p.l, func(w *ledger.Writer) (Campaign, error) { return p.ResumeIn(w, req) })
}

// CancelRequest is an owner or a sales representative ending a campaign.
type CancelRequest struct {
	// EventID is the caller's idempotency key of the event.
	EventID string `json:"event_id"`
	// Actor is the campaign's advertiser, or a holder of kit.RoleSalesRep
	// (ending a campaign that breaks the ad policy).
	Actor string `json:"actor"`
	// CampaignID is the campaign ended.
	CampaignID string `json:"campaign_id"`
}

// CancelIn ends a campaign that is under review, live or paused, inside
// the caller's unit of work; what it has not spent goes back to the
// balance. The owner may cancel, and so may a sales representative.
func (p *Program) CancelIn(w *ledger.Writer, req CancelRequest) (Campaign, error) {
	return p.manage(w, req, req.EventID, req.Actor, req.CampaignID, "cancel", []CampaignStatus{StatusPendingReview, StatusLive, StatusPaused},
		func(w *ledger.Writer, c *Campaign, staff bool) error {
			reason := "canceled by the advertiser"
			if staff {
				reason = "canceled by " + req.Actor + " (sales representative)"
			}
			return p.closeCampaign(w, c, StatusCanceled, req.Actor, reason)
		})
}

// Cancel is CancelIn in a unit of work of its own.
func (p *Program) Cancel(ctx context.Context, req CancelRequest) (Campaign, error) {
	return kit.Run(ctx, p.l, func(w *ledger.Writer) (Campaign, error) { return p.CancelIn(w, req) })
}
