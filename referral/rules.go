package referral

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"
	_ "time/tzdata" // the rules name a time zone; embed the database so it loads on any host

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
)

// Period says how often a task pays.
type Period string

// Task periods.
const (
	PeriodOnce   Period = "once"   // once ever
	PeriodDaily  Period = "daily"  // once per calendar day in Rules.Timezone
	PeriodWeekly Period = "weekly" // once per ISO week in Rules.Timezone
)

// Task is an engagement task a member is rewarded for once per Period.
type Task struct {
	ID     string          `json:"id"`
	Reward decimal.Decimal `json:"reward"`
	Period Period          `json:"period"`
}

// Tier is a bonus paid to a referrer once Invitees of their invitees have
// earned them the signup reward.
type Tier struct {
	Invitees int             `json:"invitees"`
	Bonus    decimal.Decimal `json:"bonus"`
}

// Newness says when an invitee counts as new to the platform.
type Newness struct {
	// RejectPriorAccount refuses an invitee who ever had an account (or,
	// in other markets, whose device saw the app installed before):
	// kit.Member.PriorAccount.
	RejectPriorAccount bool `json:"reject_prior_account"`
	// MaxAccountAge refuses an invitee whose account was registered
	// (kit.Member.RegisteredAt) longer ago than this when they sign up
	// with a code; 0 means no limit. A registration time outside the
	// ledger's range (the zero time included) makes the invitee not new.
	MaxAccountAge kit.Duration `json:"max_account_age"`
}

// Rules is one referral campaign, as data. Every number is a rule; the
// presets are DefaultRules (seed 000) and ShopRules (seed 001). Amounts
// are in Asset; zero caps mean "no cap".
type Rules struct {
	// Campaign names the campaign; it is part of every account address,
	// record and idempotency key the program writes.
	Campaign string `json:"campaign"`
	// Asset is what rewards are paid in (RUBY, USD).
	Asset ledger.Asset `json:"asset"`

	// Country is where a member must reside to earn ("" = anywhere).
	Country string `json:"country"`
	// MinAge is the minimum age to earn, in whole years at the event's
	// time on the calendar of the member's time zone (kit.Member.AtLeast:
	// a member with no birth date is refused with kit.ErrMemberFacts); 0
	// means no age rule.
	MinAge int `json:"min_age"`
	// RequireProfile: only members with a profile earn.
	RequireProfile bool `json:"require_profile"`
	// RequirePayoutLinked: only members with a linked payout account earn.
	RequirePayoutLinked bool `json:"require_payout_linked"`
	// ExcludeEmployees: members with ties to the company never earn.
	ExcludeEmployees bool `json:"exclude_employees"`
	// SameCountry: the invitee must reside in the referrer's country.
	SameCountry bool `json:"same_country"`
	// Newness says who counts as a new invitee.
	Newness Newness `json:"newness"`

	// SignupReward is paid to the referrer per invitee who signs up with
	// the code (or, with RequirePurchase, who also makes a first purchase).
	SignupReward decimal.Decimal `json:"signup_reward"`
	// RequirePurchase: the signup reward is earned only on the invitee's
	// first purchase, held on the budget until ReturnWindow ends and
	// cancelled by a refund inside it.
	RequirePurchase bool `json:"require_purchase"`
	// ReturnWindow is how long a purchase may be refunded.
	ReturnWindow kit.Duration `json:"return_window"`
	// HoldMargin was how much longer than the return window a budget hold
	// lived. The reward is now a kit.Pending grant, which does not expire,
	// so it is no longer used; still validated, so rule files keep working.
	HoldMargin kit.Duration `json:"hold_margin"`
	// RefundClawback, if set, makes a refund after the return window undo
	// the signup reward too: one not paid yet (withheld, or before the
	// Tick) is vetoed, one already paid is clawed back under this recovery
	// policy
	// (kit.Claw: what the referrer's wallet cannot give becomes their debt
	// up to max, recovered from their next pending reward, or a write-off
	// to its loss account). Unset (the default): after the return window
	// the reward stands, as before.
	RefundClawback *kit.RecoveryPolicy `json:"refund_clawback,omitempty"`

	// RetentionReward is paid to the referrer once the invitee has been
	// active on RetentionDays days (0 = no retention bonus).
	RetentionReward decimal.Decimal `json:"retention_reward"`
	// RetentionDays is how many active days earn the retention reward.
	RetentionDays int `json:"retention_days"`
	// RetentionConsecutive: the active days must be consecutive calendar
	// days; otherwise any distinct days count.
	RetentionConsecutive bool `json:"retention_consecutive"`
	// RetentionWithin limits the days that count to this long after the
	// signup (0 = no limit). Like every duration in the rules, at most
	// ledger.MaxDuration.
	RetentionWithin kit.Duration `json:"retention_within"`
	// Timezone is where calendar days are counted (IANA name).
	Timezone string `json:"timezone"`
	// RewardValidity makes every reward paid to a member expire this long
	// after it is paid (0, the default: rewards never expire, as the seeds
	// say nothing of expiry). Each reward is then a lot of the member's
	// balance (ledger: "Lots and expiry"): spending takes the soonest to
	// expire first, and the ledger's Tick moves what is left of an expired
	// reward to BreakageAccount(campaign).
	RewardValidity kit.Duration `json:"reward_validity"`

	// Tasks are the engagement tasks.
	Tasks []Task `json:"tasks"`
	// Tiers are bonuses for referrers with several rewarded invitees, in
	// increasing order of Invitees.
	Tiers []Tier `json:"tiers"`
	// MaxTierBonus caps the tier bonuses one referrer earns in all (0 = no cap).
	MaxTierBonus decimal.Decimal `json:"max_tier_bonus"`

	// InvitesPerDay caps the signups per referrer per day.
	InvitesPerDay int `json:"invites_per_day"`
	// MaxRewardedInvitees caps the invitees a referrer is rewarded for.
	MaxRewardedInvitees int `json:"max_rewarded_invitees"`
	// DailyEarningCap caps what one member earns per day (in Timezone):
	// rewards paid that day, and shop rewards held on the day of the
	// purchase that earned them. A held reward refunded, or never funded,
	// leaves its day's count again: the cap counts what is kept.
	DailyEarningCap decimal.Decimal `json:"daily_earning_cap"`
	// WeeklyEarningCap caps what one member earns per ISO week (Monday to
	// Sunday in Timezone), counted as DailyEarningCap is (0 = no cap).
	WeeklyEarningCap decimal.Decimal `json:"weekly_earning_cap,omitzero"`
	// DeviceInvitesPerDay caps the signups per day credited to referrers
	// on one device (kit.Member.Device of the referrer), whatever account
	// they use: several accounts of one person share a device (0 = no
	// cap; a referrer whose device is unknown is not counted).
	DeviceInvitesPerDay int `json:"device_invites_per_day,omitempty"`
	// CountryBudgets caps what the campaign pays, over its whole life, to
	// members residing in a country (ISO code -> amount; a country not
	// listed has no cap of its own): rewards paid and shop rewards held,
	// tier bonuses included; a held reward refunded or never funded
	// leaves it again. A grant past it is ErrBudgetExhausted.
	CountryBudgets map[string]decimal.Decimal `json:"country_budgets,omitempty"`

	// Start and End bound the campaign window (zero = open).
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Budget is funded from ledger.World when the program is set up (0 =
	// fund it with Program.Fund).
	Budget decimal.Decimal `json:"budget"`
	// DisabledCountries start with the kill switch on (see
	// Program.SetKillSwitch to change it at run time).
	DisabledCountries []string `json:"disabled_countries"`
}

// rulesJSON is Rules without its methods, so that UnmarshalJSON can decode
// into it without calling itself.
type rulesJSON Rules

// UnmarshalJSON decodes rules strictly: a field Rules does not have (a typo
// such as "signup_rewrd"), at any depth, is an error wrapping
// ErrInvalidRules that names it, and so is anything after the rules. It
// applies no defaults: a field left out is its zero value. It does not
// validate; ParseRules does both.
func (r *Rules) UnmarshalJSON(data []byte) error {
	var v rulesJSON
	if err := kit.DecodeRules(data, &v); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidRules, err)
	}
	*r = Rules(v)
	return nil
}

// ParseRules reads rules from JSON strictly (see Rules.UnmarshalJSON; data
// after the rules is an error too) and validates them.
func ParseRules(data []byte) (Rules, error) {
	var r Rules
	if err := kit.DecodeRules(data, &r); err != nil {
		if errors.Is(err, ErrInvalidRules) {
			return Rules{}, err
		}
		return Rules{}, fmt.Errorf("%w: %w", ErrInvalidRules, err)
	}
	if err := r.Validate(); err != nil {
		return Rules{}, err
	}
	return r, nil
}

// DefaultRules is the Italian program of seed 000: rewards in RUBY, 20,000
// per invitee who signs up with the code and 6,000 more once the invitee
// has been active 5 days; tasks (profile photo 1,000 once, 10 minutes of
// watching 500 a day, publish a video 900, follow 2 recommended profiles
// 100); earners reside in Italy, are 18+, have a profile and a linked
// PayPal and no tie to the company; no limit on invites. Integrator
// choices, not from the seed: the budget (1,000,000,000 rubies = 100,000
// EUR), an invitee counts as new if they never had an account and
// registered within the last 24 hours, active days are distinct calendar
// days in Europe/Rome within 30 days of the signup, and publish-a-video and
// follow-2-profiles pay once.
func DefaultRules() Rules {
	return Rules{
		Campaign:            "it-2020",
		Asset:               ledger.RUBY,
		Country:             "IT",
		MinAge:              18,
		RequireProfile:      true,
		RequirePayoutLinked: true,
		ExcludeEmployees:    true,
		SameCountry:         true,
		Newness:             Newness{RejectPriorAccount: true, MaxAccountAge: kit.Duration(24 * time.Hour)},
		SignupReward:        decimal.NewFromInt(20000),
		RetentionReward:     decimal.NewFromInt(6000),
		RetentionDays:       5,
		RetentionWithin:     kit.Duration(30 * 24 * time.Hour),
		Timezone:            "Europe/Rome",
		Tasks: []Task{
			{ID: "profile_photo", Reward: decimal.NewFromInt(1000), Period: PeriodOnce},
			{ID: "watch_10_minutes", Reward: decimal.NewFromInt(500), Period: PeriodDaily},
			{ID: "publish_video", Reward: decimal.NewFromInt(900), Period: PeriodOnce},
			{ID: "follow_2_profiles", Reward: decimal.NewFromInt(100), Period: PeriodOnce},
		},
		Budget: decimal.NewFromInt(1_000_000_000),
	}
}

// ShopRules is the shop program of seed 001: about 50 USD per invitee who
// signs up and makes a first purchase, held until the purchase's return
// window ends and cancelled by a refund inside it; tier bonuses for
// several invitees, up to 350 USD in all. Integrator choices, not from the
// seed: the country (US), a 30-day return window with a 7-day hold margin,
// tiers at 3, 5 and 10 invitees (50 + 100 + 200 = 350 USD) and a
// 100,000 USD budget.
func ShopRules() Rules {
	return Rules{
		Campaign:         "shop-2024",
		Asset:            ledger.USD,
		Country:          "US",
		MinAge:           18,
		ExcludeEmployees: true,
		SameCountry:      true,
		Newness:          Newness{RejectPriorAccount: true},
		SignupReward:     decimal.NewFromInt(50),
		RequirePurchase:  true,
		ReturnWindow:     kit.Duration(30 * 24 * time.Hour),
		HoldMargin:       kit.Duration(7 * 24 * time.Hour),
		Timezone:         "America/New_York",
		Tiers: []Tier{
			{Invitees: 3, Bonus: decimal.NewFromInt(50)},
			{Invitees: 5, Bonus: decimal.NewFromInt(100)},
			{Invitees: 10, Bonus: decimal.NewFromInt(200)},
		},
		MaxTierBonus: decimal.NewFromInt(350),
		Budget:       decimal.NewFromInt(100_000),
	}
}

func invalid(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidRules, field, fmt.Sprintf(format, args...))
}

// invalidErr is invalid with the cause kept in the chain.
func invalidErr(field string, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrInvalidRules, field, err)
}

// amount checks a non-negative amount with the asset's precision.
func (r Rules) amount(field string, d decimal.Decimal) error {
	u, err := units(r.Asset, d) // first: bounds d before it is printed
	if err != nil {
		return invalidErr(field, err)
	}
	if u < 0 {
		return invalid(field, "%s is negative", d)
	}
	return nil
}

// duration checks a rule's duration: from 0 to ledger.MaxDuration.
func duration(field string, d kit.Duration) error {
	if err := ledger.ValidateDuration(field, d.D()); err != nil {
		return invalidErr(field, err)
	}
	return nil
}

// Bounds on a decimal's shape checked before any arithmetic on it, so a
// hostile amount ("1e2147483647", a million digits) costs nothing and
// cannot panic.
const (
	maxDigits   = 40
	maxExponent = 40
)

// units converts an amount to the asset's minor units after bounding its
// digits and exponent: too large is ledger.ErrOverflow, too many decimals
// ledger.ErrPrecision, both wrapped.
func units(a ledger.Asset, d decimal.Decimal) (int64, error) {
	if d.IsZero() {
		return 0, nil
	}
	if e := d.Exponent(); e > maxExponent {
		return 0, fmt.Errorf("%w: amount with exponent %d is too large for %s", ledger.ErrOverflow, e, a.Code)
	} else if e < -maxExponent {
		return 0, fmt.Errorf("%w: amount with exponent %d has more decimals than %s allows", ledger.ErrPrecision, e, a.Code)
	}
	if n := d.NumDigits(); n > maxDigits {
		return 0, fmt.Errorf("%w: amount with %d digits is too large for %s", ledger.ErrOverflow, n, a.Code)
	}
	return a.Units(d)
}

// Validate checks the rules and names the first bad field.
func (r Rules) Validate() error {
	if len(r.Campaign) == 0 || len(r.Campaign) > 32 {
		return invalid("campaign", "%q must have 1 to 32 characters", r.Campaign)
	}
	if err := ledger.ValidateAddress(r.Campaign); err != nil || containsColon(r.Campaign) {
		return invalid("campaign", "%q may hold only letters, digits and _-.@+", r.Campaign)
	}
	if err := r.Asset.Validate(); err != nil {
		return invalidErr("asset", err)
	}
	if r.MinAge < 0 || r.MinAge > 150 {
		return invalid("min_age", "%d not in 0..150", r.MinAge)
	}
	if err := duration("newness.max_account_age", r.Newness.MaxAccountAge); err != nil {
		return err
	}
	if err := r.amount("signup_reward", r.SignupReward); err != nil {
		return err
	}
	if r.RequirePurchase {
		if r.SignupReward.Sign() <= 0 {
			return invalid("signup_reward", "must be positive when require_purchase is set")
		}
		if r.ReturnWindow <= 0 {
			return invalid("return_window", "must be positive when require_purchase is set")
		}
		if r.HoldMargin <= 0 {
			return invalid("hold_margin", "must be positive when require_purchase is set")
		}
	}
	if err := duration("return_window", r.ReturnWindow); err != nil {
		return err
	}
	if err := duration("hold_margin", r.HoldMargin); err != nil {
		return err
	}
	if r.RefundClawback != nil {
		if err := r.amount("refund_clawback.max", r.RefundClawback.Max); err != nil {
			return err
		}
		if err := r.RefundClawback.Validate(); err != nil {
			return invalidErr("refund_clawback", err)
		}
	}
	if err := r.amount("retention_reward", r.RetentionReward); err != nil {
		return err
	}
	if r.RetentionReward.Sign() > 0 && r.RetentionDays <= 0 {
		return invalid("retention_days", "must be positive when retention_reward is set")
	}
	if r.RetentionDays < 0 || r.RetentionDays > 366 {
		return invalid("retention_days", "%d not in 0..366", r.RetentionDays)
	}
	if err := duration("retention_within", r.RetentionWithin); err != nil {
		return err
	}
	if err := duration("reward_validity", r.RewardValidity); err != nil {
		return err
	}
	if _, err := time.LoadLocation(r.Timezone); err != nil || r.Timezone == "" || r.Timezone == "Local" {
		return invalid("timezone", "%q is not an IANA time zone", r.Timezone)
	}
	seen := map[string]bool{}
	for i, t := range r.Tasks {
		f := fmt.Sprintf("tasks[%d]", i)
		if t.ID == "" || len(t.ID) > 64 || containsColon(t.ID) {
			return invalid(f+".id", "%q must have 1 to 64 characters and no ':'", t.ID)
		}
		if seen[t.ID] {
			return invalid(f+".id", "%q appears twice", t.ID)
		}
		seen[t.ID] = true
		if err := r.amount(f+".reward", t.Reward); err != nil {
			return err
		}
		if t.Reward.Sign() <= 0 {
			return invalid(f+".reward", "must be positive")
		}
		switch t.Period {
		case PeriodOnce, PeriodDaily, PeriodWeekly:
		default:
			return invalid(f+".period", "%q is not once, daily or weekly", t.Period)
		}
	}
	prev := 0
	for i, t := range r.Tiers {
		f := fmt.Sprintf("tiers[%d]", i)
		if t.Invitees <= prev {
			return invalid(f+".invitees", "%d must be above the previous tier's %d", t.Invitees, prev)
		}
		prev = t.Invitees
		if err := r.amount(f+".bonus", t.Bonus); err != nil {
			return err
		}
		if t.Bonus.Sign() <= 0 {
			return invalid(f+".bonus", "must be positive")
		}
	}
	if err := r.amount("max_tier_bonus", r.MaxTierBonus); err != nil {
		return err
	}
	if r.InvitesPerDay < 0 {
		return invalid("invites_per_day", "negative")
	}
	if r.MaxRewardedInvitees < 0 {
		return invalid("max_rewarded_invitees", "negative")
	}
	if err := r.amount("daily_earning_cap", r.DailyEarningCap); err != nil {
		return err
	}
	if err := r.amount("weekly_earning_cap", r.WeeklyEarningCap); err != nil {
		return err
	}
	if r.DeviceInvitesPerDay < 0 {
		return invalid("device_invites_per_day", "negative")
	}
	for _, c := range slices.Sorted(maps.Keys(r.CountryBudgets)) {
		b, f := r.CountryBudgets[c], fmt.Sprintf("country_budgets[%q]", c)
		if c == "" || len(c) > 16 || containsColon(c) {
			return invalid(f, "a country is 1 to 16 bytes without ':'")
		}
		if err := r.amount(f, b); err != nil {
			return err
		}
	}
	if !r.Start.IsZero() {
		if err := ledger.ValidateTime("start", r.Start); err != nil {
			return invalidErr("start", err)
		}
	}
	if !r.End.IsZero() {
		if err := ledger.ValidateTime("end", r.End); err != nil {
			return invalidErr("end", err)
		}
	}
	if !r.Start.IsZero() && !r.End.IsZero() && !r.End.After(r.Start) {
		return invalid("end", "%s is not after start %s", r.End.Format(time.RFC3339), r.Start.Format(time.RFC3339))
	}
	if err := r.amount("budget", r.Budget); err != nil {
		return err
	}
	for i, c := range r.DisabledCountries {
		if c == "" {
			return invalid(fmt.Sprintf("disabled_countries[%d]", i), "empty")
		}
	}
	return nil
}

func containsColon(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == ':' {
			return true
		}
	}
	return false
}
