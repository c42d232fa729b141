package shoutout

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/shopspring/decimal"
)

// Duration is a time.Duration that reads and writes JSON as "72h0m0s".
type Duration time.Duration

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a duration string ("72h").
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("%w: duration must be a string: %v", ErrInvalidRules, err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%w: duration %q: %v", ErrInvalidRules, s, err)
	}
	*d = Duration(v)
	return nil
}

// Rules is the shoutout program's rule set. Every number is data; see
// DefaultRules for the defaults and where they come from.
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
	AcceptWindow Duration `json:"accept_window"`
	// DeliveryWindow is how long after accepting the creator has to submit
	// a video (and any new video after a rejection).
	DeliveryWindow Duration `json:"delivery_window"`
	// ReviewWindow is how long moderators have to review a submitted video;
	// an order still unreviewed then is refunded.
	ReviewWindow Duration `json:"review_window"`
	// HoldMargin is added to the latest possible deadline to get the hold's
	// expiry, so a hold never expires while its order is open.
	HoldMargin Duration `json:"hold_margin"`
	// PlatformShare is the platform's fraction of the price; the creator
	// gets the rest, rounded by CreatorRounding (the platform takes what
	// rounding leaves).
	PlatformShare   decimal.Decimal `json:"platform_share"`
	CreatorRounding ledger.Rounding `json:"creator_rounding"`
	// MaxResubmissions is how many review rejections a creator may answer
	// with a new video; the rejection after that is final.
	MaxResubmissions int `json:"max_resubmissions"`
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
		AcceptWindow:     Duration(3 * day),
		DeliveryWindow:   Duration(7 * day),
		ReviewWindow:     Duration(3 * day),
		HoldMargin:       Duration(day),
		PlatformShare:    decimal.RequireFromString("0.25"),
		CreatorRounding:  ledger.RoundDown,
		MaxResubmissions: 1,
	}
}

func invalid(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidRules, field, fmt.Sprintf(format, args...))
}

// Validate checks the rule set and names the first bad field.
func (r Rules) Validate() error {
	if err := ledger.ValidateAssetCode(r.CoinAsset); err != nil {
		return invalid("coin_asset", "%v", err)
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
	if r.MaxPrice < r.MinPrice || r.MaxPrice > 1e12 {
		return invalid("max_price", "%d not in min_price..1e12", r.MaxPrice)
	}
	for f, d := range map[string]Duration{"accept_window": r.AcceptWindow, "delivery_window": r.DeliveryWindow,
		"review_window": r.ReviewWindow} {
		if d < Duration(time.Minute) || d > Duration(366*24*time.Hour) {
			return invalid(f, "%s not in 1m..366d", time.Duration(d))
		}
	}
	if r.HoldMargin < Duration(time.Minute) || r.HoldMargin > Duration(366*24*time.Hour) {
		return invalid("hold_margin", "%s not in 1m..366d", time.Duration(r.HoldMargin))
	}
	if r.PlatformShare.Sign() < 0 || r.PlatformShare.GreaterThan(decimal.NewFromInt(1)) {
		return invalid("platform_share", "%s not in [0, 1]", r.PlatformShare)
	}
	if err := r.CreatorRounding.Validate(); err != nil {
		return invalid("creator_rounding", "%v", err)
	}
	if r.MaxResubmissions < 0 || r.MaxResubmissions > 100 {
		return invalid("max_resubmissions", "%d not in 0..100", r.MaxResubmissions)
	}
	return nil
}

// holdLife is how long after a request its hold lives: past every
// deadline the order can reach (accept, deliver, review) plus the margin.
func (r Rules) holdLife() time.Duration {
	return time.Duration(r.AcceptWindow + r.DeliveryWindow + r.ReviewWindow + r.HoldMargin)
}

// split divides a price into the creator's and the platform's shares.
func (r Rules) split(price int64) (creator, platform int64) {
	c := decimal.NewFromInt(price).Mul(decimal.NewFromInt(1).Sub(r.PlatformShare))
	switch r.CreatorRounding {
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

// validID reports whether s can be embedded in an account address and a
// record id: one address segment, at most 64 characters.
func validID(s string) bool {
	return len(s) <= 64 && !strings.ContainsRune(s, ':') && ledger.ValidateAddress(s) == nil
}
