package payout

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
)

// MemberPlaceholder stands for the member's ID in a Source's account
// template ("creator:{member}:diamonds").
const MemberPlaceholder = "{member}"

// Source is an account members cash out from besides their wallet: an
// earnings account another program pays a creator into, such as gifting's
// diamonds (gifting.EarningsAccount, "creator:{member}:diamonds") or
// shoutout's coins ("creator:{member}:shoutouts"). Declaring it here is
// what makes it the member's: Withdraw accepts a source only if it is the
// wallet or one of these templates with the member's ID in place of
// {member}.
type Source struct {
	// Account is the address template; {member} appears once, as a whole
	// segment, and the first segment is not "payout" (the program's own
	// accounts).
	Account string `json:"account"`
	// Asset is the asset withdrawn from it, with its precision.
	Asset ledger.Asset `json:"asset"`
	// Value is what one unit of Asset is worth in Rules.To: a conversion
	// rule from Asset to To of which payout takes the rate and the
	// rounding, and books the conversion through its own accounts with the
	// rules' fee (so Value names no accounts and no fee). The program that
	// pays into the account owns this figure: build the source from its
	// rule (gifting's Rules.CashValue) so that the value is configured
	// once, there. A source of From may leave Value zero: it converts at
	// Rate and Rounding. Every source of one asset converts it at the same
	// value.
	Value ledger.ConversionRule `json:"value,omitzero"`
	// Minimum is the smallest withdrawal from this source, in Asset.
	Minimum decimal.Decimal `json:"minimum"`
}

// Rules is a payout program, as data: what is withdrawn (From) and paid
// (To), the conversion, the limits and the provider's fee. Every number
// is a rule; DefaultRules is seed 000.
type Rules struct {
	// Provider names the payment provider ("paypal"); it is part of the
	// program's account addresses.
	Provider string `json:"provider"`
	// From is the reward asset members withdraw from their wallet (RUBY),
	// To the money they receive (EUR).
	From ledger.Asset `json:"from"`
	To   ledger.Asset `json:"to"`
	// Rate is how many units of To one unit of From is worth (1/10000),
	// Rounding how the converted amount is rounded to To's precision; the
	// source units rounding leaves over are booked to the remainder account.
	Rate     ledger.Rate     `json:"rate"`
	Rounding ledger.Rounding `json:"rounding"`
	// Minimum is the smallest withdrawal, in From.
	Minimum decimal.Decimal `json:"minimum"`
	// Sources are the accounts other than the wallet that members may cash
	// out from (none by default), each with the value of what it holds.
	Sources []Source `json:"sources,omitempty"`
	// MaxPerPeriod withdrawals per member in any Period (1 a week).
	Period       kit.Duration `json:"period"`
	MaxPerPeriod int          `json:"max_per_period"`
	// DailyMaximum caps the money (To, before the fee) one member
	// withdraws in any DailyWindow (0 = no cap).
	DailyMaximum decimal.Decimal `json:"daily_maximum"`
	DailyWindow  kit.Duration    `json:"daily_window"`
	// The provider's fee on the converted amount: FeeRate (0.04 = 4%) plus
	// FixedFee in To ("1.5% + 0.10"), rounded by FeeRounding.
	FeeRate     decimal.Decimal `json:"fee_rate"`
	FixedFee    decimal.Decimal `json:"fixed_fee"`
	FeeRounding ledger.Rounding `json:"fee_rounding"`
	// ReviewAbove sends withdrawals worth more than this (To, before the
	// fee) to manual review (0 = never).
	ReviewAbove decimal.Decimal `json:"review_above"`
	// HoldFor is how long a payout may wait before it needs attention; it
	// never releases funds the provider may still pay. A payout still in
	// review after HoldFor is rejected (the provider was never asked) and
	// its funds released; one still in flight after HoldFor is marked
	// Overdue and reported by every Tick that asks the provider about it,
	// its funds reserved until the provider's final answer.
	HoldFor kit.Duration `json:"hold_for"`
	// RetryEvery is how soon Tick asks the provider again about a payout in
	// flight (a timeout, a held or unclaimed payment).
	RetryEvery kit.Duration `json:"retry_every"`
	// UnclaimedReturnAfter is how long a payment may stay unclaimed,
	// counted from the first report that it is, before the program gives
	// the funds back to the member without waiting for the provider's
	// RETURNED (30 days, PayPal's period; 0 = only on the provider's
	// report). It should be no shorter than the provider's own period.
	UnclaimedReturnAfter kit.Duration `json:"unclaimed_return_after"`
	// ReversalRecovery is what a reversal after success does with the
	// part of the payout the member no longer has (kit.RecoveryPolicy):
	// "recover" makes it the member's debt, up to max (in the source
	// asset), repaid from their next rewards before those can be spent,
	// the rest beyond max written off to loss_account; "write_off" books
	// it all to loss_account. Empty (a rule file from before the rule)
	// means the default: recover up to 10,000,000 (1,000 EUR of rubies at
	// the default rate), the rest written off to ReversalLossAccount.
	ReversalRecovery kit.RecoveryPolicy `json:"reversal_recovery,omitzero"`
}

// DefaultRules is seed 000: rubies to euros through PayPal at 10,000
// rubies = 1 EUR, rounded down to the cent; at least 8,000 rubies, one
// withdrawal a week; PayPal's fee 4% (rounded half up to the cent).
// Industry figures: a daily maximum of 1,000 (in EUR). Integrator choices:
// manual review above 100 EUR, attention after 90 days, retries every
// 15 minutes; an unclaimed payment given back after 30 days (PayPal's
// period).
func DefaultRules() Rules {
	return Rules{
		Provider:     "paypal",
		From:         ledger.RUBY,
		To:           ledger.EUR,
		Rate:         ledger.NewRate(1, 10000),
		Rounding:     ledger.RoundDown,
		Minimum:      decimal.NewFromInt(8000),
		Period:       kit.Duration(7 * 24 * time.Hour),
		MaxPerPeriod: 1,
		DailyMaximum: decimal.NewFromInt(1000),
		DailyWindow:  kit.Duration(24 * time.Hour),
		FeeRate:      decimal.RequireFromString("0.04"),
		FeeRounding:  ledger.RoundHalfUp,
		ReviewAbove:  decimal.NewFromInt(100),
		HoldFor:      kit.Duration(90 * 24 * time.Hour),
		RetryEvery:   kit.Duration(15 * time.Minute),
		// PayPal returns an unclaimed payout after 30 days.
		UnclaimedReturnAfter: kit.Duration(30 * 24 * time.Hour),
		ReversalRecovery:     kit.Recover(defaultReversalDebt, ReversalLossAccount("paypal")),
	}
}

// defaultReversalDebt bounds the debt a reversal leaves a member with by
// default: 10,000,000 units of the source asset, 1,000 EUR of rubies at
// the default rate (the daily maximum).
var defaultReversalDebt = decimal.NewFromInt(10_000_000)

// reversalRecovery is the rule with its default (rules written before it
// leave it empty).
func (r Rules) reversalRecovery() kit.RecoveryPolicy {
	if r.ReversalRecovery.Mode == "" {
		return kit.Recover(defaultReversalDebt, ReversalLossAccount(r.Provider))
	}
	return r.ReversalRecovery
}

// CreatorRules cashes out creators' earnings in dollars at the value the
// program that pays them configures: value is that program's rule for
// what one unit of its asset is worth in USD — gifting's Rules.CashValue,
// DIAMOND to USD at 0.005 USD a diamond (PROGRAMS.md) by default — so that
// the value is configured once, there:
//
//	payout.CreatorRules(giftRules.CashValue())
//
// Creators withdraw from creator:{member}:diamonds (gifting's
// EarningsAccount) or from their wallet, in whole units of value.From at
// value's rate and rounding: at least 2,000 (10 USD at the default value),
// one withdrawal a week, PayPal's other terms (1.5% + 0.10 USD), a daily
// maximum of 1,000 USD, manual review above 500 USD, a reversal's
// unrecovered rest the creator's debt up to 200,000 (1,000 USD at the
// default value), the rest written off. Provider
// "paypal-creators", so that it runs beside DefaultRules on one ledger. A
// value in another currency than USD, or with no rate, fails Validate.
func CreatorRules(value ledger.ConversionRule) Rules {
	r := DefaultRules()
	r.Provider = "paypal-creators"
	r.ReversalRecovery = kit.Recover(decimal.NewFromInt(200_000), ReversalLossAccount(r.Provider)) // 1,000 USD at 0.005
	r.From, r.To = ledger.Asset{Code: value.From}, ledger.USD
	r.Rate, r.Rounding = value.Rate, value.Rounding
	r.Minimum = decimal.NewFromInt(2000)
	r.FeeRate = decimal.RequireFromString("0.015")
	r.FixedFee = decimal.RequireFromString("0.10")
	r.ReviewAbove = decimal.NewFromInt(500)
	r.Sources = []Source{{Account: "creator:" + MemberPlaceholder + ":diamonds", Asset: r.From, Value: value, Minimum: r.Minimum}}
	return r
}

// UnmarshalJSON reads rules strictly: a field Rules does not have (a typo
// such as "review_abve") is an error wrapping ErrInvalidRules that names
// it, never silently ignored. It does not validate; ParseRules does both.
func (r *Rules) UnmarshalJSON(b []byte) error {
	type plain Rules // no methods: no recursion
	var v plain
	if err := decodeStrict(b, &v); err != nil {
		return err
	}
	*r = Rules(v)
	return nil
}

// ParseRules reads rules from JSON strictly (unknown fields and trailing
// data are ErrInvalidRules naming them) and validates them.
func ParseRules(data []byte) (Rules, error) {
	var r Rules
	if err := decodeStrict(data, &r); err != nil {
		return Rules{}, err
	}
	if err := r.Validate(); err != nil {
		return Rules{}, err
	}
	return r, nil
}

// decodeStrict decodes with kit.DecodeRules and wraps its error with
// ErrInvalidRules. kit.DecodeRules rebuilds error messages as new errors,
// which drops the chain of an error a nested decoder returned (a rate's
// ledger.ErrInvalidRule); on that path the error is taken from a plain
// strict decode instead, chain intact.
func decodeStrict(data []byte, v any) error {
	err := kit.DecodeRules(data, v)
	if err == nil {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if raw := dec.Decode(v); raw != nil && wraps(raw) {
		err = raw
	}
	if errors.Is(err, ErrInvalidRules) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrInvalidRules, err)
}

func invalid(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidRules, field, fmt.Sprintf(format, args...))
}

func invalidCause(field string, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrInvalidRules, field, err)
}

func amountOK(a ledger.Asset, field string, d decimal.Decimal) error {
	if err := kit.CheckDecimal(d); err != nil {
		return invalidCause(field, err)
	}
	if d.Sign() < 0 {
		return invalid(field, "%s is negative", d)
	}
	if _, err := a.Units(d); err != nil {
		return invalidCause(field, err)
	}
	return nil
}

func durationOK(field string, d kit.Duration) error {
	if d <= 0 {
		return invalid(field, "must be positive")
	}
	if err := ledger.ValidateDuration(field, time.Duration(d)); err != nil {
		return invalidCause(field, err)
	}
	return nil
}

// Validate checks the rules and names the first bad field. A duration
// longer than ledger.MaxDuration also wraps ledger.ErrInvalidTime.
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
		return invalidCause("from", err)
	}
	if err := r.To.Validate(); err != nil {
		return invalidCause("to", err)
	}
	if r.From.Code == r.To.Code {
		return invalid("to", "%s is also from", r.To.Code)
	}
	if r.Rate.IsZero() {
		return invalid("rate", "missing")
	}
	if err := r.Rounding.Validate(); err != nil {
		return invalidCause("rounding", err)
	}
	if err := amountOK(r.From, "minimum", r.Minimum); err != nil {
		return err
	}
	if err := durationOK("period", r.Period); err != nil {
		return err
	}
	if r.MaxPerPeriod <= 0 {
		return invalid("max_per_period", "%d must be positive", r.MaxPerPeriod)
	}
	if err := amountOK(r.To, "daily_maximum", r.DailyMaximum); err != nil {
		return err
	}
	if err := durationOK("daily_window", r.DailyWindow); err != nil {
		return err
	}
	if err := kit.CheckDecimal(r.FeeRate); err != nil {
		return invalidCause("fee_rate", err)
	}
	if r.FeeRate.Sign() < 0 || r.FeeRate.GreaterThanOrEqual(decimal.NewFromInt(1)) {
		return invalid("fee_rate", "%s must be in [0, 1)", r.FeeRate)
	}
	if err := amountOK(r.To, "fixed_fee", r.FixedFee); err != nil {
		return err
	}
	if r.FeeRate.Sign() > 0 || r.FixedFee.Sign() > 0 {
		if err := r.FeeRounding.Validate(); err != nil {
			return invalidCause("fee_rounding", err)
		}
	}
	if err := amountOK(r.To, "review_above", r.ReviewAbove); err != nil {
		return err
	}
	if err := durationOK("hold_for", r.HoldFor); err != nil {
		return err
	}
	if err := durationOK("retry_every", r.RetryEvery); err != nil {
		return err
	}
	if r.RetryEvery >= r.HoldFor {
		return invalid("retry_every", "must be shorter than hold_for")
	}
	if r.UnclaimedReturnAfter != 0 {
		if err := durationOK("unclaimed_return_after", r.UnclaimedReturnAfter); err != nil {
			return err
		}
	}
	if err := r.reversalRecovery().Validate(); err != nil {
		return invalidCause("reversal_recovery", err)
	}
	if err := r.Conversion().Validate(); err != nil {
		return invalidCause("conversion", err)
	}
	return r.validateSources()
}

func (r Rules) validateSources() error {
	// values maps each asset a source holds to its value, written out
	// ("precision rate rounding"), so that an asset has one value.
	describe := func(a ledger.Asset, rate ledger.Rate, rounding ledger.Rounding) string {
		return fmt.Sprintf("%s at %s, rounding %s, precision %d", a.Code, rate, rounding, a.Precision)
	}
	values := map[string]string{r.From.Code: describe(r.From, r.Rate, r.Rounding)}
	seen := map[string]bool{}
	for i, s := range r.Sources {
		field := fmt.Sprintf("sources[%d]", i)
		if err := validateTemplate(s.Account); err != nil {
			return invalidCause(field+".account", err)
		}
		if s.Account == walletTemplate || seen[s.Account] {
			return invalid(field+".account", "%q is declared twice (the wallet %q is always a source)", s.Account, walletTemplate)
		}
		seen[s.Account] = true
		if err := s.Asset.Validate(); err != nil {
			return invalidCause(field+".asset", err)
		}
		if s.Asset.Code == r.To.Code {
			return invalid(field+".asset", "%s is what the program pays", s.Asset.Code)
		}
		rate, rounding := r.valueOf(s)
		if !(s.Value.Rate.IsZero() && s.Asset.Code == r.From.Code) {
			if err := r.checkValue(field+".value", s); err != nil {
				return err
			}
		}
		v := describe(s.Asset, rate, rounding)
		if old, ok := values[s.Asset.Code]; ok && old != v {
			return invalid(field+".value", "%s, but %s elsewhere in the rules: an asset has one value", v, old)
		}
		values[s.Asset.Code] = v
		if err := amountOK(s.Asset, field+".minimum", s.Minimum); err != nil {
			return err
		}
		if err := r.conversionOf(s.Asset.Code, rate, rounding).Validate(); err != nil {
			return invalidCause(field+".value", err)
		}
	}
	return nil
}

// valueOf is the rate and rounding a source converts at: its Value's, or
// the rules' for a source of From that leaves Value zero.
func (r Rules) valueOf(s Source) (ledger.Rate, ledger.Rounding) {
	if s.Value.Rate.IsZero() && s.Asset.Code == r.From.Code {
		return r.Rate, r.Rounding
	}
	return s.Value.Rate, s.Value.Rounding
}

// checkValue checks a source's value: from its asset to To, with a rate
// and a rounding, and nothing payout books itself (accounts, fee).
func (r Rules) checkValue(field string, s Source) error {
	v := s.Value
	if v.From != s.Asset.Code || v.To != r.To.Code {
		return invalid(field, "converts %s to %s; the source holds %s and the program pays %s", v.From, v.To, s.Asset.Code, r.To.Code)
	}
	if v.Rate.IsZero() {
		return invalid(field+".rate", "missing")
	}
	if err := v.Rounding.Validate(); err != nil {
		return invalidCause(field+".rounding", err)
	}
	if v.Exchange != "" || v.Remainder != "" || v.FeeAccount != "" || v.FeeRate.Sign() != 0 || v.FixedFee.Sign() != 0 || v.FeeRounding != "" {
		return invalid(field, "names accounts or a fee; payout books through its own accounts with the rules' fee")
	}
	return nil
}

// wraps reports whether err carries a chain (one cause or several).
func wraps(err error) bool {
	switch err.(type) {
	case interface{ Unwrap() error }, interface{ Unwrap() []error }:
		return true
	}
	return false
}

// walletTemplate is the wallet as a source template (kit.WalletAccount).
const walletTemplate = "member:" + MemberPlaceholder

// validateTemplate checks a source account template: one {member}, a whole
// segment, outside the program's own namespace, and a valid address for
// the longest member ID.
func validateTemplate(t string) error {
	if strings.Count(t, MemberPlaceholder) != 1 {
		return fmt.Errorf("%q must hold %s exactly once", t, MemberPlaceholder)
	}
	segs := strings.Split(t, ":")
	whole := false
	for _, s := range segs {
		if s == MemberPlaceholder {
			whole = true
		}
	}
	if !whole {
		return fmt.Errorf("%q must hold %s as a whole segment (\"creator:%s:diamonds\")", t, MemberPlaceholder, MemberPlaceholder)
	}
	if segs[0] == "payout" {
		return fmt.Errorf("%q is in the program's own namespace payout:", t)
	}
	longest := strings.Repeat("m", kit.MaxIDLen)
	if err := ledger.ValidateAddress(strings.Replace(t, MemberPlaceholder, longest, 1)); err != nil {
		return fmt.Errorf("%q with a member ID of %d characters: %w", t, kit.MaxIDLen, err)
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

// ShortfallAccount (opened Unbounded) supplies the reward units of a paid
// payout that could not be taken from the member (see Payout.Shortfall):
// its negative balance is what members owe the platform. It stays at zero
// unless a payout's reservation lapsed before the provider paid.
func ShortfallAccount(provider string) string { return "payout:" + provider + ":shortfall" }

// MemberAccount is a member's wallet, shared by every program
// (kit.WalletAccount).
func MemberAccount(id string) string { return kit.WalletAccount(id) }

// Conversion is the ledger conversion rule of From to To the rules
// describe.
func (r Rules) Conversion() ledger.ConversionRule {
	return r.conversionOf(r.From.Code, r.Rate, r.Rounding)
}

func (r Rules) conversionOf(from string, rate ledger.Rate, rounding ledger.Rounding) ledger.ConversionRule {
	name := "payout:" + r.Provider
	if from != r.From.Code {
		name += ":" + from
	}
	return ledger.ConversionRule{
		Name: name, From: from, To: r.To.Code, Rate: rate, Rounding: rounding,
		FeeRate: r.FeeRate, FixedFee: r.FixedFee, FeeRounding: r.FeeRounding,
		Exchange: ExchangeAccount(r.Provider), Remainder: RemainderAccount(r.Provider), FeeAccount: FeeAccount(r.Provider),
	}
}

// source is one account a member may withdraw from, resolved.
type source struct {
	account string
	asset   ledger.Asset
	minimum decimal.Decimal
	conv    ledger.ConversionRule
	// minimumRule and rateRule name the rules a refusal of this source's
	// minimum or conversion cites.
	minimumRule, rateRule string
}

// sourceFor resolves the account a member names: their wallet, or a
// declared Source with their ID in place of {member}. Anything else is
// someone else's or nobody's: ErrUnknownSource, which also wraps
// ledger.ErrForbidden.
func (r Rules) sourceFor(member, account string) (source, error) {
	if account == kit.WalletAccount(member) {
		return r.wallet(account), nil
	}
	for _, s := range r.Sources {
		if strings.Replace(s.Account, MemberPlaceholder, member, 1) != account {
			continue
		}
		rate, rounding := r.valueOf(s)
		return source{account: account, asset: s.Asset, minimum: s.Minimum, minimumRule: "sources.minimum", rateRule: "sources.value",
			conv: r.conversionOf(s.Asset.Code, rate, rounding)}, nil
	}
	return source{}, fmt.Errorf("%w: %w: %q is not %s's wallet nor one of the rules' sources", ErrUnknownSource, ledger.ErrForbidden, account, member)
}

// wallet is a member's wallet (at account) as a source: From at Rate.
func (r Rules) wallet(account string) source {
	return source{account: account, asset: r.From, minimum: r.Minimum, minimumRule: "minimum", rateRule: "rate", conv: r.Conversion()}
}

// assets lists every asset the rules withdraw or pay.
func (r Rules) assets() []ledger.Asset {
	out := []ledger.Asset{r.From, r.To}
	for _, s := range r.Sources {
		out = append(out, s.Asset)
	}
	return out
}
