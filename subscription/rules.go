package subscription

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
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
// 1 to 48 printable characters. A bad name is ErrInvalidRequest.
func ValidatePerk(p Perk) error {
	if err := checkPerk(p); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	return nil
}

// checkPerk is ValidatePerk's judgement with no sentinel: the caller says
// whose request it refuses (ErrInvalidRequest, ErrInvalidTiers).
func checkPerk(p Perk) error {
	if slices.Contains(StandardPerks, p) {
		return nil
	}
	name, ok := strings.CutPrefix(p, customPrefix)
	if !ok {
		return fmt.Errorf("unknown perk %q (standard perks or %q+name)", p, customPrefix)
	}
	if len(name) == 0 || len(name) > 48 {
		return fmt.Errorf("custom perk %q needs a name of 1 to 48 bytes", p)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("custom perk %q has a control character", p)
		}
	}
	return nil
}

// UnmarshalJSON reads rules from JSON strictly: a field Rules does not have
// (a typo such as "grace_perod") is an error wrapping ErrInvalidRules that
// names it, never silently ignored. Fields the JSON leaves out keep the
// value they had, as with encoding/json. It does not Validate.
func (r *Rules) UnmarshalJSON(data []byte) error {
	type plain Rules // no methods: decodes without recursing here
	return kit.UnmarshalRules(ErrInvalidRules, data, (*plain)(r))
}

// Rules is the subscription program as data. Every number is a default an
// integrator may change; see DefaultRules for where each comes from.
type Rules struct {
	// Asset is what subscriptions are priced and paid in: a money asset
	// (USD, EUR) by default; COIN works the same way.
	Asset ledger.Asset `json:"asset"`
	// MinCreatorAge, MinFollowers and MinViewsLastMonth are the creator
	// eligibility rules checked when tiers are published or changed. The
	// age is the creator's on their own calendar at the time of the event
	// (kit.Member.AtLeast): the 18th birthday counts from local midnight.
	MinCreatorAge     int   `json:"min_creator_age"`
	MinFollowers      int64 `json:"min_followers"`
	MinViewsLastMonth int64 `json:"min_views_last_month"`
	// Countries are where subscriptions are offered (ISO 3166-1 alpha-2,
	// kit.Member.Country): a creator publishes and a member subscribes only
	// from one.
	Countries []string `json:"countries"`
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
	GracePeriod kit.Duration `json:"grace_period"`
	// RetryEvery is how often a failed renewal is retried within the grace
	// period.
	RetryEvery kit.Duration `json:"retry_every"`
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
// package: prices 0.99 to 99.99 USD, countries US, GB, FR, IT, DE (the
// seed only says "selected regions"), a 3-day grace period retried daily
// without access, badge levels at 1, 2, 3, 6, 12 and 24 months.
func DefaultRules() Rules {
	return Rules{
		Asset:             ledger.USD,
		MinCreatorAge:     18,
		MinFollowers:      10000,
		MinViewsLastMonth: 100000,
		Countries:         []string{"US", "GB", "FR", "IT", "DE"},
		MaxTiers:          3,
		MinPrice:          decimal.RequireFromString("0.99"),
		MaxPrice:          decimal.RequireFromString("99.99"),
		PeriodMonths:      1,
		CreatorShare:      decimal.RequireFromString("0.5"),
		GracePeriod:       kit.Duration(72 * time.Hour),
		RetryEvery:        kit.Duration(24 * time.Hour),
		BadgeMonths:       []int{1, 2, 3, 6, 12, 24},
	}
}

// Validate checks the rules and names the first bad field.
func (r Rules) Validate() error {
	if err := r.Asset.Validate(); err != nil {
		return kit.RuleErrorf(ErrInvalidRules, "asset", "%w", err)
	}
	if r.MinCreatorAge < 0 {
		return kit.RuleErrorf(ErrInvalidRules, "min_creator_age", "%d is negative", r.MinCreatorAge)
	}
	if r.MinFollowers < 0 {
		return kit.RuleErrorf(ErrInvalidRules, "min_followers", "%d is negative", r.MinFollowers)
	}
	if r.MinViewsLastMonth < 0 {
		return kit.RuleErrorf(ErrInvalidRules, "min_views_last_month", "%d is negative", r.MinViewsLastMonth)
	}
	if err := kit.CheckCountryCodes(r.Countries); err != nil {
		return kit.RuleErrorf(ErrInvalidRules, "countries", "%w", err)
	}
	if r.MaxTiers < 1 || r.MaxTiers > 16 {
		return kit.RuleErrorf(ErrInvalidRules, "max_tiers", "%d, want 1 to 16", r.MaxTiers)
	}
	if err := kit.CheckRuleAmount(r.Asset, r.MinPrice); err != nil {
		return kit.RuleErrorf(ErrInvalidRules, "min_price", "%w", err)
	}
	if err := kit.CheckRuleAmount(r.Asset, r.MaxPrice); err != nil {
		return kit.RuleErrorf(ErrInvalidRules, "max_price", "%w", err)
	}
	if r.MaxPrice.LessThan(r.MinPrice) {
		return kit.RuleErrorf(ErrInvalidRules, "max_price", "%s is below min_price %s", r.MaxPrice, r.MinPrice)
	}
	if r.PeriodMonths < 1 || r.PeriodMonths > 12 {
		return kit.RuleErrorf(ErrInvalidRules, "period_months", "%d, want 1 to 12", r.PeriodMonths)
	}
	if err := kit.CheckDecimal(r.CreatorShare); err != nil {
		return kit.RuleErrorf(ErrInvalidRules, "creator_share", "%w", err)
	}
	if r.CreatorShare.IsNegative() || r.CreatorShare.GreaterThan(decimal.NewFromInt(1)) {
		return kit.RuleErrorf(ErrInvalidRules, "creator_share", "%s is not between 0 and 1", r.CreatorShare)
	}
	if err := ledger.ValidateDuration("grace_period", r.GracePeriod.D()); err != nil {
		return kit.RuleErrorf(ErrInvalidRules, "grace_period", "%w", err)
	}
	if err := ledger.ValidateDuration("retry_every", r.RetryEvery.D()); err != nil {
		return kit.RuleErrorf(ErrInvalidRules, "retry_every", "%w", err)
	}
	if r.GracePeriod > 0 && r.RetryEvery <= 0 {
		return kit.RuleErrorf(ErrInvalidRules, "retry_every", "%s must be positive when there is a grace period", r.RetryEvery)
	}
	if len(r.BadgeMonths) > 32 {
		return kit.RuleErrorf(ErrInvalidRules, "badge_months", "%d levels, at most 32", len(r.BadgeMonths))
	}
	for i, m := range r.BadgeMonths {
		if m < 1 || (i > 0 && m <= r.BadgeMonths[i-1]) {
			return kit.RuleErrorf(ErrInvalidRules, "badge_months", "must be positive and strictly increasing (%d at level %d)", m, i+1)
		}
	}
	return nil
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
