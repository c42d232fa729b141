package adsbuy

import (
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
)

// BidType is how delivery is priced.
type BidType string

// Bid types.
const (
	// CPM: the bid is the price of 1,000 impressions.
	CPM BidType = "CPM"
	// CPC: the bid is the price of one click.
	CPC BidType = "CPC"
)

// UnmarshalJSON reads rules from JSON strictly: a field Rules does not have
// (a typo such as "hold_margn") is an error wrapping ErrInvalidRules that
// names it, never silently ignored. Fields the JSON leaves out keep the
// value they had, as with encoding/json. It does not Validate.
func (r *Rules) UnmarshalJSON(data []byte) error {
	type plain Rules // no methods: decodes without recursing here
	return kit.UnmarshalRules(ErrInvalidRules, data, (*plain)(r))
}

// maxCampaignDays is the longest schedule rules may allow: ledger.MaxDuration.
const maxCampaignDays = int(ledger.MaxDuration / (24 * time.Hour))

// Rules is the self-service ads program as data. See DefaultRules for
// where each default comes from.
type Rules struct {
	// Asset is the money balances, budgets and bids are in.
	Asset ledger.Asset `json:"asset"`
	// Countries where advertisers may open accounts and buy (ISO 3166-1
	// alpha-2; the United Kingdom is GB).
	Countries []string `json:"countries"`
	// MinTopUp and MaxTopUp bound one top-up.
	MinTopUp decimal.Decimal `json:"min_top_up"`
	MaxTopUp decimal.Decimal `json:"max_top_up"`
	// MinCampaignDailyBudget and MinAdGroupDailyBudget are the smallest
	// daily budgets.
	MinCampaignDailyBudget decimal.Decimal `json:"min_campaign_daily_budget"`
	MinAdGroupDailyBudget  decimal.Decimal `json:"min_ad_group_daily_budget"`
	// BidTypes allowed.
	BidTypes []BidType `json:"bid_types"`
	// MaxCampaignDays bounds a campaign's schedule.
	MaxCampaignDays int `json:"max_campaign_days"`
	// HoldMargin is how long after the schedule's end the budget hold
	// expires by itself, should no Tick end the campaign first.
	HoldMargin kit.Duration `json:"hold_margin"`
}

// DefaultRules returns the defaults: countries GB (UK), FR, IT, US (seed
// 004); a campaign daily budget of at least 50 USD and an ad group daily
// budget of at least 20 USD, CPM and CPC bids (industry, PROGRAMS.md).
// This package's own choices: top-ups of 50 to 50,000 USD, campaigns of at
// most 365 days, a 30-day hold margin.
func DefaultRules() Rules {
	return Rules{
		Asset:                  ledger.USD,
		Countries:              []string{"GB", "FR", "IT", "US"},
		MinTopUp:               decimal.NewFromInt(50),
		MaxTopUp:               decimal.NewFromInt(50000),
		MinCampaignDailyBudget: decimal.NewFromInt(50),
		MinAdGroupDailyBudget:  decimal.NewFromInt(20),
		BidTypes:               []BidType{CPM, CPC},
		MaxCampaignDays:        365,
		HoldMargin:             kit.Duration(30 * 24 * time.Hour),
	}
}

// Validate checks the rules and names the first bad field.
func (r Rules) Validate() error {
	if err := r.Asset.Validate(); err != nil {
		return kit.RuleErrorf(ErrInvalidRules, "asset", "%w", err)
	}
	if err := kit.CheckCountryCodes(r.Countries); err != nil {
		return kit.RuleErrorf(ErrInvalidRules, "countries", "%w", err)
	}
	money := []struct {
		field string
		v     decimal.Decimal
	}{
		{"min_top_up", r.MinTopUp}, {"max_top_up", r.MaxTopUp},
		{"min_campaign_daily_budget", r.MinCampaignDailyBudget}, {"min_ad_group_daily_budget", r.MinAdGroupDailyBudget},
	}
	for _, m := range money {
		if err := kit.CheckRuleAmount(r.Asset, m.v); err != nil {
			return kit.RuleErrorf(ErrInvalidRules, m.field, "%w", err)
		}
	}
	if r.MaxTopUp.LessThan(r.MinTopUp) {
		return kit.RuleErrorf(ErrInvalidRules, "max_top_up", "%s is below min_top_up %s", r.MaxTopUp, r.MinTopUp)
	}
	if r.MinAdGroupDailyBudget.GreaterThan(r.MinCampaignDailyBudget) {
		return kit.RuleErrorf(ErrInvalidRules, "min_ad_group_daily_budget", "%s is above min_campaign_daily_budget %s", r.MinAdGroupDailyBudget, r.MinCampaignDailyBudget)
	}
	if len(r.BidTypes) == 0 || len(r.BidTypes) > 2 {
		return kit.RuleErrorf(ErrInvalidRules, "bid_types", "%d bid types, want 1 or 2", len(r.BidTypes))
	}
	for _, b := range r.BidTypes {
		if b != CPM && b != CPC {
			return kit.RuleErrorf(ErrInvalidRules, "bid_types", "unknown bid type %q", b)
		}
	}
	if r.MaxCampaignDays < 1 || r.MaxCampaignDays > maxCampaignDays {
		return kit.RuleErrorf(ErrInvalidRules, "max_campaign_days", "%d, want 1 to %d", r.MaxCampaignDays, maxCampaignDays)
	}
	if r.HoldMargin <= 0 {
		return kit.RuleErrorf(ErrInvalidRules, "hold_margin", "%s must be positive", r.HoldMargin)
	}
	if err := ledger.ValidateDuration("hold_margin", r.HoldMargin.D()); err != nil {
		return kit.RuleErrorf(ErrInvalidRules, "hold_margin", "%w", err)
	}
	return nil
}

// bidTypes writes bid types for a message: "CPM, CPC".
func bidTypes(bs []BidType) string {
	names := make([]string, len(bs))
	for i, b := range bs {
		names[i] = string(b)
	}
	return strings.Join(names, ", ")
}
