package subscription

import (
	"fmt"
	"strings"
	"time"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/shopspring/decimal"
)

// Perk names a benefit a tier grants. The standard perks are the constants
// below; a creator names their own as "custom:<name>" (CustomPerk).
type Perk = string

// The standard perks (seed 003).
const (
	PerkPrivateChat         Perk = "private_chat"
	PerkDirectMessages      Perk = "direct_messages"
	PerkSubscriberVideos    Perk = "subscriber_videos"
	PerkBadge               Perk = "badge"
	PerkStickers            Perk = "stickers"
	PerkPerformanceRequests Perk = "performance_requests"
	PerkDiscordRole         Perk = "discord_role"
)

// StandardPerks lists the standard perks.
var StandardPerks = []Perk{PerkPrivateChat, PerkDirectMessages, PerkSubscriberVideos, PerkBadge,
	PerkStickers, PerkPerformanceRequests, PerkDiscordRole}

const customPrefix = "custom:"

// CustomPerk returns the perk name of a benefit the creator defines.
func CustomPerk(name string) Perk { return customPrefix + name }

// ValidatePerk checks a perk name: a standard perk, or "custom:" followed by
// 1 to 48 printable characters.
func ValidatePerk(p Perk) error {
	for _, s := range StandardPerks {
		if p == s {
			return nil
		}
	}
	name, ok := strings.CutPrefix(p, customPrefix)
	if !ok {
		return fmt.Errorf("%w: unknown perk %q (standard perks or %q+name)", ErrInvalidRequest, p, customPrefix)
	}
	if len(name) == 0 || len(name) > 48 {
		return fmt.Errorf("%w: custom perk %q needs a name of 1 to 48 bytes", ErrInvalidRequest, p)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w: custom perk %q has a control character", ErrInvalidRequest, p)
		}
	}
	return nil
}

// Duration is a time.Duration written in JSON as a Go duration string
// ("72h", "30m").
type Duration time.Duration

// MarshalText writes the duration as "72h0m0s".
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
// (a typo such as "grace_perod") is an error wrapping ErrInvalidRules that
// names it, never silently ignored. Fields the JSON leaves out keep the
// value they had, as with encoding/json. It does not Validate.
func (r *Rules) UnmarshalJSON(data []byte) error {
	type plain Rules // no methods: decodes without recursing here
	if err := kit.DecodeRules(data, (*plain)(r)); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidRules, err)
	}
	return nil
}

// Rules is the subscription program as data. Every number is a default an
// integrator may change; see DefaultRules for where each comes from.
type Rules struct {
	// Asset is what subscriptions are priced and paid in: a money asset
	// (USD, EUR) by default; COIN works the same way.
	Asset ledger.Asset `json:"asset"`
	// MinCreatorAge, MinFollowers and MinViewsLastMonth are the creator
	// eligibility rules checked when tiers are published or changed.
	MinCreatorAge     int   `json:"min_creator_age"`
	MinFollowers      int64 `json:"min_followers"`
	MinViewsLastMonth int64 `json:"min_views_last_month"`
	// Regions are the countries (ISO 3166-1 alpha-2) where subscriptions
	// are offered: a creator publishes and a member subscribes only from one.
	Regions []string `json:"regions"`
	// MaxTiers is how many tiers a creator may offer.
	MaxTiers int `json:"max_tiers"`
	// MinPrice and MaxPrice bound a tier's price per period.
	MinPrice decimal.Decimal `json:"min_price"`
	MaxPrice decimal.Decimal `json:"max_price"`
	// PeriodMonths is the billing period in calendar months.
	PeriodMonths int `json:"period_months"`
	// CreatorShare is the creator's part of each payment (0 to 1); the rest
	// is platform revenue. The creator's part is rounded down to the
	// asset's precision, so rounding favours the platform by under a cent.
	CreatorShare decimal.Decimal `json:"creator_share"`
	// GracePeriod is how long after a failed renewal the charge is retried
	// before the subscription ends; 0 ends it at the first failure.
	GracePeriod Duration `json:"grace_period"`
	// RetryEvery is how often a failed renewal is retried within the grace
	// period.
	RetryEvery Duration `json:"retry_every"`
	// GraceAccess keeps the perks during the grace period. When false (the
	// default) perks need a paid period, and a renewal recovered in grace
	// starts a new period when it is paid; when true the recovered period
	// starts where the last one ended, so it covers the grace days.
	GraceAccess bool `json:"grace_access"`
	// BadgeMonths are the months subscribed at which the badge reaches
	// level 1, 2, 3, ... (strictly increasing).
	BadgeMonths []int `json:"badge_months"`
}

// DefaultRules returns the defaults: eligibility 18+, 10,000 followers and
// 100,000 views in the last month (seed 003); up to three tiers with
// monthly billing (seed 003 and PROGRAMS.md); a 50% creator share
// (industry base, PROGRAMS.md). The rest are industry-style choices of this
// package: prices 0.99 to 99.99 USD, regions US, GB, FR, IT, DE (the seed
// only says "selected regions"), a 3-day grace period retried daily
// without access, badge levels at 1, 2, 3, 6, 12 and 24 months.
func DefaultRules() Rules {
	return Rules{
		Asset:             ledger.USD,
		MinCreatorAge:     18,
		MinFollowers:      10000,
		MinViewsLastMonth: 100000,
		Regions:           []string{"US", "GB", "FR", "IT", "DE"},
		MaxTiers:          3,
		MinPrice:          decimal.RequireFromString("0.99"),
		MaxPrice:          decimal.RequireFromString("99.99"),
		PeriodMonths:      1,
		CreatorShare:      decimal.RequireFromString("0.5"),
		GracePeriod:       Duration(72 * time.Hour),
		RetryEvery:        Duration(24 * time.Hour),
		BadgeMonths:       []int{1, 2, 3, 6, 12, 24},
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
	if r.MinCreatorAge < 0 {
		return bad("min_creator_age", "%d is negative", r.MinCreatorAge)
	}
	if r.MinFollowers < 0 {
		return bad("min_followers", "%d is negative", r.MinFollowers)
	}
	if r.MinViewsLastMonth < 0 {
		return bad("min_views_last_month", "%d is negative", r.MinViewsLastMonth)
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
	if r.MaxTiers < 1 || r.MaxTiers > 16 {
		return bad("max_tiers", "%d, want 1 to 16", r.MaxTiers)
	}
	for _, f := range []struct {
		field string
		v     decimal.Decimal
	}{{"min_price", r.MinPrice}, {"max_price", r.MaxPrice}} {
		if err := kit.CheckDecimal(f.v); err != nil {
			return badErr(f.field, err)
		}
		if f.v.Sign() <= 0 {
			return bad(f.field, "%s must be positive", f.v)
		}
		if _, err := r.Asset.Units(f.v); err != nil {
			return badErr(f.field, err)
		}
	}
	if r.MaxPrice.LessThan(r.MinPrice) {
		return bad("max_price", "%s is below min_price %s", r.MaxPrice, r.MinPrice)
	}
	if r.PeriodMonths < 1 || r.PeriodMonths > 12 {
		return bad("period_months", "%d, want 1 to 12", r.PeriodMonths)
	}
	if err := kit.CheckDecimal(r.CreatorShare); err != nil {
		return badErr("creator_share", err)
	}
	if r.CreatorShare.IsNegative() || r.CreatorShare.GreaterThan(decimal.NewFromInt(1)) {
		return bad("creator_share", "%s is not between 0 and 1", r.CreatorShare)
	}
	if err := ledger.ValidateDuration("grace_period", time.Duration(r.GracePeriod)); err != nil {
		return badErr("grace_period", err)
	}
	if err := ledger.ValidateDuration("retry_every", time.Duration(r.RetryEvery)); err != nil {
		return badErr("retry_every", err)
	}
	if r.GracePeriod > 0 && r.RetryEvery <= 0 {
		return bad("retry_every", "%s must be positive when there is a grace period", time.Duration(r.RetryEvery))
	}
	if len(r.BadgeMonths) > 32 {
		return bad("badge_months", "%d levels, at most 32", len(r.BadgeMonths))
	}
	for i, m := range r.BadgeMonths {
		if m < 1 || (i > 0 && m <= r.BadgeMonths[i-1]) {
			return bad("badge_months", "must be positive and strictly increasing, got %v", r.BadgeMonths)
		}
	}
	return nil
}

func (r Rules) offeredIn(country string) bool {
	for _, c := range r.Regions {
		if c == country {
			return true
		}
	}
	return false
}

// BadgeLevel returns the badge level a member reaches after months
// subscribed: how many BadgeMonths thresholds months has reached.
func (r Rules) BadgeLevel(months int) int {
	n := 0
	for _, m := range r.BadgeMonths {
		if months >= m {
			n++
		}
	}
	return n
}
