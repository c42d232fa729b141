package ledger

import (
	"encoding/json"
	"fmt"
	"math/big"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger/driver"
)

// Rate is an exact, positive rational exchange rate: how many whole units
// of the target asset one whole unit of the source asset is worth. It
// reads and writes as "1/10000" or as a decimal "0.0001".
type Rate struct{ r *big.Rat }

// ParseRate reads a rate from "p/q" (integers or decimals on either side)
// or a plain decimal. Zero, negative and malformed rates are ErrInvalidRule.
func ParseRate(s string) (Rate, error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 80 {
		return Rate{}, fmt.Errorf("%w: rate %s", ErrInvalidRule, clip(s))
	}
	num, den := s, "1"
	if i := strings.IndexByte(s, '/'); i >= 0 {
		num, den = s[:i], s[i+1:]
	}
	n, err1 := parsePlainDecimal(num)
	d, err2 := parsePlainDecimal(den)
	if err1 != nil || err2 != nil || n.Sign() <= 0 || d.Sign() <= 0 {
		return Rate{}, fmt.Errorf("%w: rate %s must be a positive decimal or p/q", ErrInvalidRule, clip(s))
	}
	return Rate{r: new(big.Rat).Quo(n.Rat(), d.Rat())}, nil
}

func parsePlainDecimal(s string) (decimal.Decimal, error) { return parseDecimal(s) }

// MustRate is ParseRate for constants; it panics on a bad rate.
func MustRate(s string) Rate {
	r, err := ParseRate(s)
	if err != nil {
		panic(err)
	}
	return r
}

// NewRate returns the rate num/den. If either is not positive it returns
// the zero Rate, which every rule that needs a rate refuses
// (ConversionRule.Validate: ErrInvalidRule), rather than panicking.
func NewRate(num, den int64) Rate {
	if num <= 0 || den <= 0 {
		return Rate{}
	}
	return Rate{r: big.NewRat(num, den)}
}

// Rat returns the rate as a new big.Rat (nil for the zero Rate).
func (r Rate) Rat() *big.Rat {
	if r.r == nil {
		return nil
	}
	return new(big.Rat).Set(r.r)
}

// IsZero reports whether the rate is unset.
func (r Rate) IsZero() bool { return r.r == nil }

// String writes the rate as "p/q" in lowest terms (or "p" when q is 1).
func (r Rate) String() string {
	if r.r == nil {
		return ""
	}
	return r.r.RatString()
}

// MarshalJSON writes the rate as a string.
func (r Rate) MarshalJSON() ([]byte, error) { return json.Marshal(r.String()) }

// UnmarshalJSON reads the rate from a string.
func (r *Rate) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("%w: rate must be a string: %w", ErrInvalidRule, err)
	}
	v, err := ParseRate(s)
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// Rounding says how an amount with too many decimals becomes one with few
// enough. It is always declared, never implied.
type Rounding string

// Rounding modes, for positive amounts.
const (
	RoundDown     Rounding = "down"      // toward zero: never pays out more than the exact value
	RoundUp       Rounding = "up"        // away from zero
	RoundHalfUp   Rounding = "half_up"   // nearest, ties away from zero
	RoundHalfEven Rounding = "half_even" // nearest, ties to even (banker's)
)

// Validate reports whether the mode is one of the defined ones.
func (m Rounding) Validate() error {
	switch m {
	case RoundDown, RoundUp, RoundHalfUp, RoundHalfEven:
		return nil
	}
	return fmt.Errorf("%w: rounding %s", ErrInvalidRule, clip(string(m)))
}

// divRound returns num/den rounded by mode, for num >= 0 and den > 0.
func divRound(num, den *big.Int, mode Rounding) *big.Int {
	q, r := new(big.Int).QuoRem(num, den, new(big.Int))
	if r.Sign() == 0 {
		return q
	}
	up := false
	switch mode {
	case RoundUp:
		up = true
	case RoundHalfUp, RoundHalfEven:
		c := new(big.Int).Lsh(r, 1).Cmp(den)
		up = c > 0 || (c == 0 && (mode == RoundHalfUp || q.Bit(0) == 1))
	}
	if up {
		q.Add(q, big.NewInt(1))
	}
	return q
}

// ConversionRule converts one asset into another at an exact rate, with a
// declared rounding and an optional fee, through an exchange account:
//
//	source  -> exchange   the source units the output is worth
//	source  -> remainder  what rounding left unconverted (or remainder ->
//	                      exchange when rounding up took more than given)
//	exchange -> target    the output less the fee
//	exchange -> fee       the fee
//
// Each posting is in one asset, so every asset still sums to zero; the
// exchange account holds the position (it must be opened Unbounded).
type ConversionRule struct {
	Name     string   `json:"name,omitempty"`
	From     string   `json:"from"`
	To       string   `json:"to"`
	Rate     Rate     `json:"rate"`
	Rounding Rounding `json:"rounding"`
	// FeeRate is the fee as a fraction of the converted amount (0.04 is 4%),
	// in [0, 1) with at most 18 decimals; FixedFee an amount of the target
	// asset added to it ("1.5% + 0.10"), with no more decimals than the
	// target allows.
	FeeRate     decimal.Decimal `json:"fee_rate,omitempty"`
	FixedFee    decimal.Decimal `json:"fixed_fee,omitempty"`
	FeeRounding Rounding        `json:"fee_rounding,omitempty"`
	// Exchange, Remainder and FeeAccount are account addresses. FeeAccount
	// may be empty when the rule has no fee.
	Exchange   string `json:"exchange"`
	Remainder  string `json:"remainder"`
	FeeAccount string `json:"fee_account,omitempty"`
}

// Validate checks the rule's own fields (not that its assets and accounts
// exist, which the ledger checks when it is used).
func (c ConversionRule) Validate() error {
	if err := ValidateAssetCode(c.From); err != nil {
		return wrapAs(ErrInvalidRule, "from", err)
	}
	if err := ValidateAssetCode(c.To); err != nil {
		return wrapAs(ErrInvalidRule, "to", err)
	}
	if c.From == c.To {
		return fmt.Errorf("%w: converts %s to itself", ErrInvalidRule, c.From)
	}
	if c.Rate.IsZero() {
		return fmt.Errorf("%w: rate is missing", ErrInvalidRule)
	}
	if err := c.Rounding.Validate(); err != nil {
		return err
	}
	for name, a := range map[string]string{"exchange": c.Exchange, "remainder": c.Remainder} {
		if err := ValidateAddress(a); err != nil {
			return wrapAs(ErrInvalidRule, name+" account", err)
		}
	}
	if _, err := c.feeRate(); err != nil {
		return err
	}
	if c.FixedFee.Sign() < 0 {
		return fmt.Errorf("%w: fixed_fee %s is negative", ErrInvalidRule, describeDecimal(c.FixedFee))
	}
	if c.hasFee() {
		if err := c.FeeRounding.Validate(); err != nil {
			return fmt.Errorf("fee_rounding: %w", err)
		}
		if err := ValidateAddress(c.FeeAccount); err != nil {
			return wrapAs(ErrInvalidRule, "fee account", err)
		}
	}
	return nil
}

func (c ConversionRule) hasFee() bool { return c.FeeRate.Sign() > 0 || c.FixedFee.Sign() > 0 }

// feeRatePrecision is how many decimals a fee rate may have: 0.000000000000000001
// is the finest fee a rule can set.
const feeRatePrecision = 18

// feeRate returns FeeRate in units of 10^-feeRatePrecision, or
// ErrInvalidRule if it is negative, 1 or more, or finer than that. The
// check reads the decimal's exponent and size first (Asset.Units), so a
// fee rate such as 1e-2147483648 costs nothing to refuse.
func (c ConversionRule) feeRate() (int64, error) {
	u, err := (Asset{Code: "fee_rate", Precision: feeRatePrecision}).Units(c.FeeRate)
	if err != nil || u < 0 || u >= pow10[feeRatePrecision] {
		return 0, fmt.Errorf("%w: fee_rate %s must be in [0, 1) with at most %d decimals", ErrInvalidRule,
			describeDecimal(c.FeeRate), feeRatePrecision)
	}
	return u, nil
}

// Quote is the arithmetic of one conversion, in minor units.
type Quote struct {
	In        int64 // source units taken from the payer
	Used      int64 // source units the gross output is worth (to exchange)
	Remainder int64 // In - Used: left unconverted (negative if rounding up took more)
	Gross     int64 // target units before the fee
	Fee       int64 // target units to the fee account
	Net       int64 // Gross - Fee: target units to the payee
}

// Quote computes a conversion of in minor units of from into to, without
// touching any store. Gross = round(in × rate) at the target's precision;
// Used is the fewest source units worth at least Gross, so for RoundDown
// Used <= In and value never grows; Fee = round(Gross × FeeRate) + FixedFee.
func (c ConversionRule) Quote(from, to Asset, in int64) (Quote, error) {
	if err := c.Validate(); err != nil {
		return Quote{}, err
	}
	if err := from.Validate(); err != nil {
		return Quote{}, err
	}
	if err := to.Validate(); err != nil {
		return Quote{}, err
	}
	if from.Code != c.From || to.Code != c.To {
		return Quote{}, fmt.Errorf("%w: rule converts %s to %s, not %s to %s", ErrInvalidRule, c.From, c.To, from.Code, to.Code)
	}
	if in <= 0 {
		return Quote{}, fmt.Errorf("%w: conversion of %d units must be positive", ErrInvalidAmount, in)
	}
	// target minor units per source minor unit = rate × 10^to.prec / 10^from.prec
	num := new(big.Int).Mul(c.Rate.r.Num(), big.NewInt(pow10[to.Precision]))
	den := new(big.Int).Mul(c.Rate.r.Denom(), big.NewInt(pow10[from.Precision]))
	gross := divRound(new(big.Int).Mul(big.NewInt(in), num), den, c.Rounding)
	if !gross.IsInt64() {
		return Quote{}, fmt.Errorf("%w: conversion output", ErrOverflow)
	}
	if gross.Sign() == 0 {
		return Quote{}, fmt.Errorf("%w: %s %s is worth less than one unit of %s", ErrInvalidAmount, from.Format(in), from.Code, to.Code)
	}
	used := divRound(new(big.Int).Mul(gross, den), num, RoundUp)
	if !used.IsInt64() {
		return Quote{}, fmt.Errorf("%w: conversion input", ErrOverflow)
	}
	q := Quote{In: in, Used: used.Int64(), Gross: gross.Int64()}
	q.Remainder = q.In - q.Used // both in [1, MaxInt64]: the difference fits
	if c.hasFee() {
		fr, err := c.feeRate()
		if err != nil {
			return Quote{}, err
		}
		fee := divRound(new(big.Int).Mul(gross, big.NewInt(fr)), big.NewInt(pow10[feeRatePrecision]), c.FeeRounding)
		fixed, err := to.Units(c.FixedFee)
		if err != nil {
			return Quote{}, fmt.Errorf("fixed_fee: %w", err)
		}
		fee.Add(fee, big.NewInt(fixed))
		if !fee.IsInt64() || fee.Int64() >= q.Gross {
			return Quote{}, fmt.Errorf("%w: a fee of %s minor units of %s leaves nothing of %s %s", ErrInvalidAmount,
				fee.String(), to.Code, to.Format(q.Gross), to.Code)
		}
		q.Fee = fee.Int64()
	}
	q.Net = q.Gross - q.Fee
	return q, nil
}

// ConversionRequest converts Amount of the rule's source asset from the
// account From into the rule's target asset for the account To.
type ConversionRequest struct {
	Key      string            `json:"key,omitempty"`
	Rule     ConversionRule    `json:"rule"`
	From     string            `json:"from"`
	To       string            `json:"to"`
	Amount   decimal.Decimal   `json:"amount"`
	Metadata map[string]string `json:"metadata,omitempty"`
}

// Conversion is a posted conversion: its transaction and its arithmetic
// as decimal amounts.
type Conversion struct {
	Transaction Transaction
	In          decimal.Decimal // source taken from the payer
	Remainder   decimal.Decimal // source left unconverted, booked to the remainder account
	Gross       decimal.Decimal // target before the fee
	Fee         decimal.Decimal // target to the fee account
	Net         decimal.Decimal // target to the payee
}

// Convert posts a conversion as one transaction (Kind KindConversion).
func (w *Writer) Convert(req ConversionRequest) (Conversion, error) {
	if err := validateKey(req.Key); err != nil {
		return Conversion{}, err
	}
	if err := validateMetadata(req.Metadata); err != nil {
		return Conversion{}, err
	}
	rule := req.Rule
	if err := rule.Validate(); err != nil {
		return Conversion{}, err
	}
	from, err := w.Asset(rule.From)
	if err != nil {
		return Conversion{}, err
	}
	to, err := w.Asset(rule.To)
	if err != nil {
		return Conversion{}, err
	}
	if req.Amount.Sign() <= 0 {
		return Conversion{}, fmt.Errorf("%w: conversion of %s %s must be positive", ErrInvalidAmount, describeDecimal(req.Amount), from.Code)
	}
	in, err := from.Units(req.Amount)
	if err != nil {
		return Conversion{}, err
	}
	q, err := rule.Quote(from, to, in)
	if err != nil {
		return Conversion{}, err
	}
	// Every account the rule names must exist, whether or not this
	// particular conversion posts to it: a misspelt remainder account must
	// fail the first conversion, not the first one that leaves a remainder.
	named := []string{rule.Exchange, rule.Remainder}
	if rule.hasFee() {
		named = append(named, rule.FeeAccount)
	}
	for _, a := range named {
		if _, err := w.account(a); err != nil {
			return Conversion{}, fmt.Errorf("conversion rule %s: %w", clip(rule.Name), err)
		}
	}
	ps := w.posting[:0]
	add := func(a, b, code string, u int64) error {
		if u == 0 {
			return nil
		}
		p, err := w.unitPosting(a, b, code, u)
		if err != nil {
			return err
		}
		ps = append(ps, p)
		return nil
	}
	steps := []struct {
		from, to, code string
		units          int64
	}{
		{req.From, rule.Exchange, from.Code, min(q.Used, q.In)},
		{req.From, rule.Remainder, from.Code, max(q.Remainder, 0)},
		{rule.Remainder, rule.Exchange, from.Code, max(-q.Remainder, 0)},
		{rule.Exchange, req.To, to.Code, q.Net},
		{rule.Exchange, rule.FeeAccount, to.Code, q.Fee},
	}
	for _, s := range steps {
		if err := add(s.from, s.to, s.code, s.units); err != nil {
			return Conversion{}, err
		}
	}
	w.posting = ps
	t := driver.Transaction{Key: req.Key, Kind: driver.KindConversion, Metadata: req.Metadata}
	tr, err := w.commit(&t, ps)
	if err != nil {
		return Conversion{}, err
	}
	return Conversion{
		Transaction: tr, In: from.Amount(q.In), Remainder: from.Amount(q.Remainder),
		Gross: to.Amount(q.Gross), Fee: to.Amount(q.Fee), Net: to.Amount(q.Net),
	}, nil
}
