package payout

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger"
)

// Duration is a time.Duration that reads and writes JSON as a string
// ("168h").
type Duration time.Duration

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a duration string.
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

// Rules is a payout program, as data: what is withdrawn (From) and paid
// (To), the conversion, the limits and the provider's fee. Every number
// is a rule; DefaultRules is seed 000.
type Rules struct {
	// Provider names the payment provider ("paypal"); it is part of the
	// program's account addresses.
	Provider string `json:"provider"`
	// From is the reward asset members withdraw (RUBY), To the money they
	// receive (EUR).
	From ledger.Asset `json:"from"`
	To   ledger.Asset `json:"to"`
	// Rate is how many units of To one unit of From is worth (1/10000),
	// Rounding how the converted amount is rounded to To's precision; the
	// source units rounding leaves over are booked to the remainder account.
	Rate     ledger.Rate     `json:"rate"`
	Rounding ledger.Rounding `json:"rounding"`
	// Minimum is the smallest withdrawal, in From.
	Minimum decimal.Decimal `json:"minimum"`
	// MaxPerPeriod withdrawals per member in any Period (1 a week).
	Period       Duration `json:"period"`
	MaxPerPeriod int      `json:"max_per_period"`
	// DailyMaximum caps the money (To, before the fee) one member
	// withdraws in any DailyWindow (0 = no cap).
	DailyMaximum decimal.Decimal `json:"daily_maximum"`
	DailyWindow  Duration        `json:"daily_window"`
	// The provider's fee on the converted amount: FeeRate (0.04 = 4%) plus
	// FixedFee in To ("1.5% + 0.10"), rounded by FeeRounding.
	FeeRate     decimal.Decimal `json:"fee_rate"`
	FixedFee    decimal.Decimal `json:"fixed_fee"`
	FeeRounding ledger.Rounding `json:"fee_rounding"`
	// ReviewAbove sends withdrawals worth more than this (To, before the
	// fee) to manual review (0 = never).
	ReviewAbove decimal.Decimal `json:"review_above"`
	// HoldFor is how long the withdrawn funds stay reserved at most; it
	// must outlive the provider's longest pending or unclaimed period.
	HoldFor Duration `json:"hold_for"`
	// RetryEvery is how soon Tick asks the provider again about a payout in
	// flight (a timeout, a held or unclaimed payment).
	RetryEvery Duration `json:"retry_every"`
}

// DefaultRules is seed 000: rubies to euros through PayPal at 10,000
// rubies = 1 EUR, rounded down to the cent; at least 8,000 rubies, one
// withdrawal a week; PayPal's fee 4% (rounded half up to the cent).
// Industry figures: a daily maximum of 1,000 (in EUR). Integrator choices:
// manual review above 100 EUR, funds held at most 90 days, retries every
// 15 minutes.
func DefaultRules() Rules {
	return Rules{
		Provider:     "paypal",
		From:         ledger.RUBY,
		To:           ledger.EUR,
		Rate:         ledger.NewRate(1, 10000),
		Rounding:     ledger.RoundDown,
		Minimum:      decimal.NewFromInt(8000),
		Period:       Duration(7 * 24 * time.Hour),
		MaxPerPeriod: 1,
		DailyMaximum: decimal.NewFromInt(1000),
		DailyWindow:  Duration(24 * time.Hour),
		FeeRate:      decimal.RequireFromString("0.04"),
		FeeRounding:  ledger.RoundHalfUp,
		ReviewAbove:  decimal.NewFromInt(100),
		HoldFor:      Duration(90 * 24 * time.Hour),
		RetryEvery:   Duration(15 * time.Minute),
	}
}

func invalid(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidRules, field, fmt.Sprintf(format, args...))
}

func amountOK(a ledger.Asset, field string, d decimal.Decimal) error {
	if d.Sign() < 0 {
		return invalid(field, "%s is negative", d)
	}
	if _, err := a.Units(d); err != nil {
		return invalid(field, "%v", err)
	}
	return nil
}

// Validate checks the rules and names the first bad field.
func (r Rules) Validate() error {
	if r.Provider == "" || len(r.Provider) > 32 {
		return invalid("provider", "%q must have 1 to 32 characters", r.Provider)
	}
	for i := 0; i < len(r.Provider); i++ {
		if c := r.Provider[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return invalid("provider", "%q may hold only a-z, 0-9, _ and -", r.Provider)
		}
	}
	if err := r.From.Validate(); err != nil {
		return invalid("from", "%v", err)
	}
	if err := r.To.Validate(); err != nil {
		return invalid("to", "%v", err)
	}
	if r.From.Code == r.To.Code {
		return invalid("to", "%s is also from", r.To.Code)
	}
	if r.Rate.IsZero() {
		return invalid("rate", "missing")
	}
	if err := r.Rounding.Validate(); err != nil {
		return invalid("rounding", "%v", err)
	}
	if err := amountOK(r.From, "minimum", r.Minimum); err != nil {
		return err
	}
	if r.Period <= 0 {
		return invalid("period", "must be positive")
	}
	if r.MaxPerPeriod <= 0 {
		return invalid("max_per_period", "%d must be positive", r.MaxPerPeriod)
	}
	if err := amountOK(r.To, "daily_maximum", r.DailyMaximum); err != nil {
		return err
	}
	if r.DailyWindow <= 0 {
		return invalid("daily_window", "must be positive")
	}
	if r.FeeRate.Sign() < 0 || r.FeeRate.GreaterThanOrEqual(decimal.NewFromInt(1)) {
		return invalid("fee_rate", "%s must be in [0, 1)", r.FeeRate)
	}
	if err := amountOK(r.To, "fixed_fee", r.FixedFee); err != nil {
		return err
	}
	if r.FeeRate.Sign() > 0 || r.FixedFee.Sign() > 0 {
		if err := r.FeeRounding.Validate(); err != nil {
			return invalid("fee_rounding", "%v", err)
		}
	}
	if err := amountOK(r.To, "review_above", r.ReviewAbove); err != nil {
		return err
	}
	if r.HoldFor <= 0 {
		return invalid("hold_for", "must be positive")
	}
	if r.RetryEvery <= 0 || r.RetryEvery >= r.HoldFor {
		return invalid("retry_every", "must be positive and shorter than hold_for")
	}
	if err := r.Conversion().Validate(); err != nil {
		return invalid("conversion", "%v", err)
	}
	return nil
}

// Accounts the program books to, per provider.

// ClearingAccount receives the captured reward asset of a paid payout
// and converts it; it is empty between units of work.
func ClearingAccount(provider string) string { return "payout:" + provider + ":clearing" }

// ExchangeAccount holds the conversion position (opened Unbounded).
func ExchangeAccount(provider string) string { return "payout:" + provider + ":exchange" }

// RemainderAccount receives what rounding leaves unconverted.
func RemainderAccount(provider string) string { return "payout:" + provider + ":remainder" }

// FeeAccount receives the provider's fees.
func FeeAccount(provider string) string { return "payout:" + provider + ":fees" }

// SettlementAccount receives the money sent to members through the provider.
func SettlementAccount(provider string) string { return "payout:" + provider + ":settlement" }

// MemberAccount is a member's wallet, shared by every program.
func MemberAccount(id string) string { return "member:" + id }

// Conversion is the ledger conversion rule the rules describe.
func (r Rules) Conversion() ledger.ConversionRule {
	return ledger.ConversionRule{
		Name: "payout:" + r.Provider, From: r.From.Code, To: r.To.Code, Rate: r.Rate, Rounding: r.Rounding,
		FeeRate: r.FeeRate, FixedFee: r.FixedFee, FeeRounding: r.FeeRounding,
		Exchange: ExchangeAccount(r.Provider), Remainder: RemainderAccount(r.Provider), FeeAccount: FeeAccount(r.Provider),
	}
}
