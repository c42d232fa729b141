package adsbuy

import (
	"fmt"
	"time"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/shopspring/decimal"
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

// Duration is a time.Duration written in JSON as a Go duration string
// ("720h").
type Duration time.Duration

// MarshalText writes the duration as "720h0m0s".
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText reads a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// UnmarshalJSON reads rules from JSON strictly: a field Rules does not have
// (a typo such as "hold_margn") is an error wrapping ErrInvalidRules that
// names it, never silently ignored. Fields the JSON leaves out keep the
// value they had, as with encoding/json. It does not Validate.
func (r *Rules) UnmarshalJSON(data []byte) error {
	type plain Rules // no methods: decodes without recursing here
	if err := kit.DecodeRules(data, (*plain)(r)); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidRules, err)
	}
	return nil
}

// maxCampaignDays is the longest schedule rules may allow: ledger.MaxDuration.
const maxCampaignDays = int(ledger.MaxDuration / (24 * time.Hour))

// Rules is the self-service ads program as data. See DefaultRules for
// where each default comes from.
type Rules struct {
	// Asset is the money balances, budgets and bids are in.
	Asset ledger.Asset `json:"asset"`
	// Regions where advertisers may open accounts and buy (ISO 3166-1
	// alpha-2; the United Kingdom is GB).
	Regions []string `json:"regions"`
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
	HoldMargin Duration `json:"hold_margin"`
}

// DefaultRules returns the defaults: regions GB (UK), FR, IT, US (seed
// 004); a campaign daily budget of at least 50 USD and an ad group daily
// budget of at least 20 USD, CPM and CPC bids (industry, PROGRAMS.md).
// This package's own choices: top-ups of 50 to 50,000 USD, campaigns of at
// most 365 days, a 30-day hold margin.
func DefaultRules() Rules {
	return Rules{
		Asset:                  ledger.USD,
		Regions:                []string{"GB", "FR", "IT", "US"},
		MinTopUp:               decimal.NewFromInt(50),
		MaxTopUp:               decimal.NewFromInt(50000),
		MinCampaignDailyBudget: decimal.NewFromInt(50),
		MinAdGroupDailyBudget:  decimal.NewFromInt(20),
		BidTypes:               []BidType{CPM, CPC},
		MaxCampaignDays:        365,
		HoldMargin:             Duration(30 * 24 * time.Hour),
	}
}

// Validate checks the rules and names the first bad field.
func (r Rules) Validate() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrInvalidRules, field, fmt.Sprintf(format, args...))
	}
	badErr := func(field string, err error) error {
		return fmt.Errorf("%w: %s: %w", ErrInvalidRules, field, err)
	}
	if err := r.Asset.Validate(); err != nil {
		return badErr("asset", err)
	}
	if len(r.Regions) == 0 {
		return bad("regions", "at least one region is needed")
	}
	seen := map[string]bool{}
	for _, c := range r.Regions {
		if len(c) != 2 || c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' || c[1] > 'Z' {
			return bad("regions", "%q is not an ISO 3166-1 alpha-2 code", c)
		}
		if seen[c] {
			return bad("regions", "%q is listed twice", c)
		}
		seen[c] = true
	}
	money := []struct {
		field string
		v     decimal.Decimal
	}{
		{"min_top_up", r.MinTopUp}, {"max_top_up", r.MaxTopUp},
		{"min_campaign_daily_budget", r.MinCampaignDailyBudget}, {"min_ad_group_daily_budget", r.MinAdGroupDailyBudget},
	}
	for _, m := range money {
		if err := kit.CheckDecimal(m.v); err != nil {
			return badErr(m.field, err)
		}
		if m.v.Sign() <= 0 {
			return bad(m.field, "%s must be positive", m.v)
		}
		if _, err := r.Asset.Units(m.v); err != nil {
			return badErr(m.field, err)
		}
	}
	if r.MaxTopUp.LessThan(r.MinTopUp) {
		return bad("max_top_up", "%s is below min_top_up %s", r.MaxTopUp, r.MinTopUp)
	}
	if r.MinAdGroupDailyBudget.GreaterThan(r.MinCampaignDailyBudget) {
		return bad("min_ad_group_daily_budget", "%s is above min_campaign_daily_budget %s", r.MinAdGroupDailyBudget, r.MinCampaignDailyBudget)
	}
	if len(r.BidTypes) == 0 || len(r.BidTypes) > 2 {
		return bad("bid_types", "%d bid types, want 1 or 2", len(r.BidTypes))
	}
	for _, b := range r.BidTypes {
		if b != CPM && b != CPC {
			return bad("bid_types", "unknown bid type %q", b)
		}
	}
	if r.MaxCampaignDays < 1 || r.MaxCampaignDays > maxCampaignDays {
		return bad("max_campaign_days", "%d, want 1 to %d", r.MaxCampaignDays, maxCampaignDays)
	}
	if r.HoldMargin <= 0 {
		return bad("hold_margin", "%s must be positive", time.Duration(r.HoldMargin))
	}
	if err := ledger.ValidateDuration("hold_margin", time.Duration(r.HoldMargin)); err != nil {
		return badErr("hold_margin", err)
	}
	return nil
}

func (r Rules) allowsRegion(c string) bool {
	for _, x := range r.Regions {
		if x == c {
			return true
		}
	}
	return false
}

func (r Rules) allowsBid(b BidType) bool {
	for _, x := range r.BidTypes {
		if x == b {
			return true
		}
	}
	return false
}
