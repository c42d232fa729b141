package shoutout

import (
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
)

// Rules is the shoutout program's rule set. Every number is data; see
// DefaultRules for the defaults and where they come from.
//
// The rules that govern an order once it is placed (the windows, the
// split, the resubmissions) are copied into the order as its Terms, so a
// program restarted with other rules changes new orders only.
type Rules struct {
	// CoinAsset is what fans pay in.
	CoinAsset string `json:"coin_asset"`
	// MinFollowers is the follower threshold for offering shoutouts.
	MinFollowers int64 `json:"min_followers"`
	// MinCreatorAge and MinFanAge are minimum ages in years.
	MinCreatorAge int `json:"min_creator_age"`
	MinFanAge     int `json:"min_fan_age"`
	// MinPrice and MaxPrice bound an offer's price, in coins.
	MinPrice int64 `json:"min_price"`
	MaxPrice int64 `json:"max_price"`
	// AcceptWindow is how long the creator has to accept a request.
	AcceptWindow kit.Duration `json:"accept_window"`
	// DeliveryWindow is how long after accepting the creator has to submit
	// a video (and any new video after a rejection).
	DeliveryWindow kit.Duration `json:"delivery_window"`
	// ReviewWindow is how long reviewers have to review a submitted video;
	// an order still unreviewed then is refunded.
	ReviewWindow kit.Duration `json:"review_window"`
	// HoldMargin is added to the latest possible deadline to get the hold's
	// expiry, so a hold never expires while its order is open.
	HoldMargin kit.Duration `json:"hold_margin"`
	// PlatformShare is the platform's fraction of the price; the creator
	// gets the rest, rounded by CreatorRounding (the platform takes what
	// rounding leaves).
	PlatformShare   decimal.Decimal `json:"platform_share"`
	CreatorRounding ledger.Rounding `json:"creator_rounding"`
	// MaxResubmissions is how many review rejections a creator may answer
	// with a new video; the rejection after that is final.
	MaxResubmissions int `json:"max_resubmissions"`
}

// UnmarshalJSON decodes rules strictly: a field Rules does not have (a
// typo) or anything after the rules is an error wrapping ErrInvalidRules
// that names it. Fields the JSON leaves out keep the value they had, so
// decoding onto DefaultRules() changes only what the JSON sets.
func (r *Rules) UnmarshalJSON(b []byte) error {
	type plain Rules // no methods: no recursion
	if err := kit.DecodeRules(b, (*plain)(r)); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidRules, err)
	}
	return nil
}

// ParseRules reads rules from JSON onto DefaultRules (fields left out keep
// their defaults), strictly, and validates them.
func ParseRules(b []byte) (Rules, error) {
	r := DefaultRules()
	if err := r.UnmarshalJSON(b); err != nil {
		return Rules{}, err
	}
	if err := r.Validate(); err != nil {
		return Rules{}, err
	}
	return r, nil
}

// DefaultRules is the preset from PROGRAMS.md (shoutout, seed 002): 3 days
// to accept (seed), 7 days to deliver and a 25% platform share (industry:
// the talent keeps 75%). The rest are options this package picks, not
// facts from the seed: 10,000 followers to offer shoutouts, 18+ creators
// and fans (the age to buy coins), prices from 100 to 100,000 coins,
// 3 days of review, a 1-day hold margin, one new video after a rejection.
func DefaultRules() Rules {
	const day = 24 * time.Hour
	return Rules{
		CoinAsset:        ledger.COIN.Code,
		MinFollowers:     10000,
		MinCreatorAge:    18,
		MinFanAge:        18,
		MinPrice:         100,
		MaxPrice:         100000,
		AcceptWindow:     kit.Duration(3 * day),
		DeliveryWindow:   kit.Duration(7 * day),
		ReviewWindow:     kit.Duration(3 * day),
		HoldMargin:       kit.Duration(day),
		PlatformShare:    decimal.RequireFromString("0.25"),
		CreatorRounding:  ledger.RoundDown,
		MaxResubmissions: 1,
	}
}

func invalid(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidRules, field, fmt.Sprintf(format, args...))
}

// maxPrice bounds max_price: prices stay far inside int64, so no sum or
// product of prices this package computes can overflow.
const maxPrice = 1_000_000_000_000

// maxWindow bounds every window and the hold margin (well inside
// ledger.MaxDuration: the four together stay under 4 years).
const maxWindow = 366 * 24 * time.Hour

// Validate checks the rule set and names the first bad field.
func (r Rules) Validate() error {
	if err := ledger.ValidateAssetCode(r.CoinAsset); err != nil {
		return fmt.Errorf("%w: coin_asset: %w", ErrInvalidRules, err)
	}
	if r.MinFollowers < 0 {
		return invalid("min_followers", "%d is negative", r.MinFollowers)
	}
	if r.MinCreatorAge < 0 || r.MinCreatorAge > 150 {
		return invalid("min_creator_age", "%d not in 0..150", r.MinCreatorAge)
	}
	if r.MinFanAge < 0 || r.MinFanAge > 150 {
		return invalid("min_fan_age", "%d not in 0..150", r.MinFanAge)
	}
	if r.MinPrice < 1 {
		return invalid("min_price", "%d must be at least 1", r.MinPrice)
	}
	if r.MaxPrice < r.MinPrice || r.MaxPrice > maxPrice {
		return invalid("max_price", "%d not in min_price..1e12", r.MaxPrice)
	}
	for _, f := range []struct {
		name string
		d    kit.Duration
	}{{"accept_window", r.AcceptWindow}, {"delivery_window", r.DeliveryWindow},
		{"review_window", r.ReviewWindow}, {"hold_margin", r.HoldMargin}} {
		if f.d < kit.Duration(time.Minute) || f.d > kit.Duration(maxWindow) {
			return invalid(f.name, "%s not in 1m..366d", f.d)
		}
	}
	if err := validShare(r.PlatformShare); err != nil {
		return invalid("platform_share", "%s", err.Error())
	}
	if err := r.CreatorRounding.Validate(); err != nil {
		return fmt.Errorf("%w: creator_rounding: %w", ErrInvalidRules, err)
	}
	if r.MaxResubmissions < 0 || r.MaxResubmissions > 100 {
		return invalid("max_resubmissions", "%d not in 0..100", r.MaxResubmissions)
	}
	return nil
}

// validShare checks a fraction in [0, 1] with at most 18 decimals. The
// exponent and digits are bounded before any comparison: comparing a
// decimal such as 1e2147483647 with 1 would have to build a number with
// two billion digits.
func validShare(s decimal.Decimal) error {
	if e := s.Exponent(); e < -18 || e > 0 {
		return fmt.Errorf("%s: at most 18 decimals and no exponent above 0", abbreviate(s))
	}
	if s.Coefficient().BitLen() > 64 {
		return fmt.Errorf("%s: too many digits", abbreviate(s))
	}
	if s.Sign() < 0 || s.GreaterThan(decimal.NewFromInt(1)) {
		return fmt.Errorf("%s not in [0, 1]", s)
	}
	return nil
}

// abbreviate writes a decimal for an error message without expanding its
// exponent.
func abbreviate(d decimal.Decimal) string {
	c := d.Coefficient().String()
	if len(c) > 24 {
		c = c[:20] + "..."
	}
	return fmt.Sprintf("%se%d", c, d.Exponent())
}

// holdLife is how long after a request its hold lives: past every
// deadline the order can reach (accept, deliver, review) plus the margin.
// At most 4 × 366 days (Validate), so well inside ledger.MaxDuration.
func (r Rules) holdLife() time.Duration {
	return (r.AcceptWindow + r.DeliveryWindow + r.ReviewWindow + r.HoldMargin).D()
}

// Terms are the rules an order lives by. They are copied from the
// program's Rules when the order is requested and travel with it: a
// program restarted with other rules (longer windows, another split)
// applies them to new orders only, and an open order keeps the deadlines
// its hold was sized for.
type Terms struct {
	AcceptWindow     kit.Duration    `json:"accept_window"`
	DeliveryWindow   kit.Duration    `json:"delivery_window"`
	ReviewWindow     kit.Duration    `json:"review_window"`
	PlatformShare    decimal.Decimal `json:"platform_share"`
	CreatorRounding  ledger.Rounding `json:"creator_rounding"`
	MaxResubmissions int             `json:"max_resubmissions"`
}

// Terms returns the part of the rules an order keeps for its whole life.
func (r Rules) Terms() Terms {
	return Terms{AcceptWindow: r.AcceptWindow, DeliveryWindow: r.DeliveryWindow, ReviewWindow: r.ReviewWindow,
		PlatformShare: r.PlatformShare, CreatorRounding: r.CreatorRounding, MaxResubmissions: r.MaxResubmissions}
}

// split divides a price into the creator's and the platform's shares.
// The price is at most max_price (1e12) and the share at most 1 with 18
// decimals, so the product is exact and small.
func (t Terms) split(price int64) (creator, platform int64) {
	c := decimal.NewFromInt(price).Mul(decimal.NewFromInt(1).Sub(t.PlatformShare))
	switch t.CreatorRounding {
	case ledger.RoundUp:
		c = c.Ceil()
	case ledger.RoundHalfUp:
		c = c.Round(0)
	case ledger.RoundHalfEven:
		c = c.RoundBank(0)
	default:
		c = c.Floor()
	}
	creator = min(max(c.IntPart(), 0), price)
	return creator, price - creator
}
