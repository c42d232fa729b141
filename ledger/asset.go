package ledger

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"
)

// MaxPrecision is the largest number of decimals an asset may have. Amounts
// are kept as int64 minor units, so 18 decimals still leave room for 9
// whole units; real currencies use 0 to 3.
const MaxPrecision = 18

// Asset is a unit of value the ledger keeps: a code and the number of
// decimals an amount of it may have (EUR 2, JPY 0, COIN 0).
type Asset struct {
	Code      string `json:"code"`
	Precision int32  `json:"precision"`
}

// Common assets of the default programs.
var (
	RUBY    = Asset{Code: "RUBY", Precision: 0}
	COIN    = Asset{Code: "COIN", Precision: 0}
	DIAMOND = Asset{Code: "DIAMOND", Precision: 0}
	EUR     = Asset{Code: "EUR", Precision: 2}
	USD     = Asset{Code: "USD", Precision: 2}
	JPY     = Asset{Code: "JPY", Precision: 0}
)

// Validate reports whether the asset's code and precision are acceptable:
// 1 to 16 characters of A-Z, 0-9 and '_', starting with a letter, and a
// precision from 0 to MaxPrecision.
func (a Asset) Validate() error {
	if err := ValidateAssetCode(a.Code); err != nil {
		return err
	}
	if a.Precision < 0 || a.Precision > MaxPrecision {
		return fmt.Errorf("%w: %s precision %d not in 0..%d", ErrInvalidAsset, a.Code, a.Precision, MaxPrecision)
	}
	return nil
}

// ValidateAssetCode checks an asset code's spelling.
func ValidateAssetCode(code string) error {
	if len(code) == 0 || len(code) > 16 {
		return fmt.Errorf("%w: code %s must have 1 to 16 characters", ErrInvalidAsset, clip(code))
	}
	for i := 0; i < len(code); i++ {
		c := code[i]
		switch {
		case c >= 'A' && c <= 'Z':
		case (c >= '0' && c <= '9') || c == '_':
			if i == 0 {
				return fmt.Errorf("%w: code %s must start with a letter", ErrInvalidAsset, clip(code))
			}
		default:
			return fmt.Errorf("%w: code %s may hold only A-Z, 0-9 and _", ErrInvalidAsset, clip(code))
		}
	}
	return nil
}

// ParseAmount reads a decimal amount of the asset from outside input
// ("12.50"). It refuses empty strings, exponents, signs other than a
// leading '-', more decimals than the asset allows and amounts too large to
// keep; it does not refuse zero or negative amounts, which are judged where
// they are used.
func (a Asset) ParseAmount(s string) (decimal.Decimal, error) {
	d, err := parseDecimal(s)
	if err != nil {
		return decimal.Decimal{}, err
	}
	if _, err := a.Units(d); err != nil {
		return decimal.Decimal{}, err
	}
	return d, nil
}

// parseDecimal reads a plain decimal: optional '-', digits, optional '.'
// followed by digits. No exponents, no '+', no spaces inside, at most 64
// characters.
func parseDecimal(s string) (decimal.Decimal, error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 64 {
		return decimal.Decimal{}, fmt.Errorf("%w: %s", ErrInvalidAmount, clip(s))
	}
	digits, dot := 0, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !dot && i > 0 && i < len(s)-1 && s[i-1] != '-':
			dot = true
		case c == '-' && i == 0:
		default:
			return decimal.Decimal{}, fmt.Errorf("%w: %s is not a plain decimal", ErrInvalidAmount, clip(s))
		}
	}
	if digits == 0 {
		return decimal.Decimal{}, fmt.Errorf("%w: %s is not a plain decimal", ErrInvalidAmount, clip(s))
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return decimal.Decimal{}, fmt.Errorf("%w: %s: %w", ErrInvalidAmount, clip(s), err)
	}
	return d, nil
}

// Units converts an amount of the asset to integer minor units (12.50 EUR
// is 1250). An amount with more decimals than the asset allows is
// ErrPrecision; one beyond the int64 range is ErrOverflow (an amount with
// both faults may report either). Zero and negative amounts convert;
// callers judge them.
//
// Units decides from the decimal's exponent and the size of its
// coefficient before any arithmetic that grows with them, so no decimal —
// 1e2147483647, 1e-2147483648, a coefficient of millions of digits — costs
// more than a copy of its coefficient. A coefficient of more than 4,096
// bits (about 1,233 digits) whose value is not plainly beyond the int64
// range is refused unread as ErrPrecision: such an amount is written with
// over a thousand decimal places.
func (a Asset) Units(d decimal.Decimal) (int64, error) {
	if u, err, ok := a.fastUnits(d); ok {
		return u, err
	}
	return a.slowUnits(d)
}

// fastExponent bounds the decimal exponents fastUnits handles: those of
// every amount the ledger writes and of every plain decimal a person types.
const fastExponent = 36

// coefficientBounds[e+fastExponent] holds MinInt64 and MaxInt64 at exponent
// e: a decimal with exponent e compares with them by coefficient alone,
// which is how fastUnits tells an int64 coefficient without copying it.
var coefficientBounds = func() (b [2*fastExponent + 1][2]decimal.Decimal) {
	for i := range b {
		e := int32(i - fastExponent)
		b[i] = [2]decimal.Decimal{decimal.New(math.MinInt64, e), decimal.New(math.MaxInt64, e)}
	}
	return b
}()

// fastUnits converts a decimal whose coefficient fits an int64 and whose
// exponent is small, without allocating; ok is false for any other.
func (a Asset) fastUnits(d decimal.Decimal) (u int64, err error, ok bool) {
	dexp := d.Exponent()
	if dexp < -fastExponent || dexp > fastExponent || a.Precision < 0 || a.Precision > MaxPrecision {
		return 0, nil, false
	}
	// Equal exponents: Cmp compares the coefficients, without scaling.
	switch b := &coefficientBounds[dexp+fastExponent]; d.Sign() {
	case 0:
		return 0, nil, true
	case 1:
		if d.Cmp(b[1]) > 0 {
			return 0, nil, false
		}
	default:
		if d.Cmp(b[0]) < 0 {
			return 0, nil, false
		}
	}
	v := d.CoefficientInt64()
	switch exp := int(dexp) + int(a.Precision); {
	case exp > 18:
		return 0, a.overflow(d), true
	case exp >= 0:
		p := pow10[exp]
		if (v > 0 && v <= math.MaxInt64/p) || (v < 0 && v >= math.MinInt64/p) {
			return v * p, nil, true
		}
		return 0, a.overflow(d), true
	case exp < -18:
		return 0, a.precision(d), true // |v| < 10^19 <= 10^-exp
	default:
		p := pow10[-exp]
		if v%p != 0 {
			return 0, a.precision(d), true
		}
		return v / p, nil, true
	}
}

// maxCoefficientBits bounds the coefficient Units divides: a longer one is
// refused before any division (see Units).
const maxCoefficientBits = 4096

// log2of10 is log2(10).
const log2of10 = 3.321928094887362

var bigTen = big.NewInt(10)

// slowUnits is Units for every decimal fastUnits does not handle. Its
// work is bounded by a copy of the coefficient: every decision before the
// division reads only the exponent, the coefficient's bit length and its
// trailing zero bits.
func (a Asset) slowUnits(d decimal.Decimal) (int64, error) {
	if d.Sign() == 0 {
		return 0, nil
	}
	v := d.Coefficient()
	e := int64(d.Exponent()) + int64(a.Precision)
	if e >= 0 {
		if e > 18 || !v.IsInt64() {
			return 0, a.overflow(d) // |v| >= 1 and 10^e >= 10^19, or |v| >= 2^63
		}
		x, p := v.Int64(), pow10[e]
		if (x > 0 && x <= math.MaxInt64/p) || (x < 0 && x >= math.MinInt64/p) {
			return x * p, nil
		}
		return 0, a.overflow(d)
	}
	k := -e
	bits := v.BitLen()
	// |d| in minor units is at least 2^(bits-1) / 10^k.
	if float64(bits-1)-float64(k)*log2of10 >= 64 {
		return 0, a.overflow(d)
	}
	// 10^k divides v only if 2^k does.
	if uint64(v.TrailingZeroBits()) < uint64(k) {
		return 0, a.precision(d)
	}
	if bits > maxCoefficientBits {
		return 0, fmt.Errorf("%w: %s %s: a coefficient of more than %d bits is not read", ErrPrecision, describeDecimal(d), shortCode(a.Code), maxCoefficientBits)
	}
	// Here k < bits <= maxCoefficientBits, so 10^k is small.
	q, r := new(big.Int).QuoRem(v, new(big.Int).Exp(bigTen, big.NewInt(k), nil), new(big.Int))
	if !q.IsInt64() {
		return 0, a.overflow(d)
	}
	if r.Sign() != 0 {
		return 0, a.precision(d)
	}
	return q.Int64(), nil
}

func (a Asset) overflow(d decimal.Decimal) error {
	return fmt.Errorf("%w: %s %s", ErrOverflow, describeDecimal(d), shortCode(a.Code))
}

func (a Asset) precision(d decimal.Decimal) error {
	return fmt.Errorf("%w: %s %s allows %d decimals", ErrPrecision, describeDecimal(d), shortCode(a.Code), a.Precision)
}

// Amount converts integer minor units back to a decimal amount.
func (a Asset) Amount(units int64) decimal.Decimal {
	return decimal.New(units, -a.Precision)
}

// Format writes minor units as a fixed-point string with the asset's
// decimals ("12.50"), without the code. An asset whose precision is
// outside 0..MaxPrecision (one that Validate refuses) is written exactly
// in exponent form ("125e-40").
func (a Asset) Format(units int64) string {
	if a.Precision <= 0 || a.Precision > MaxPrecision {
		s := strconv.FormatInt(units, 10)
		if a.Precision != 0 {
			s += "e" + strconv.FormatInt(-int64(a.Precision), 10)
		}
		return s
	}
	u := uint64(units)
	if units < 0 {
		u = -u
	}
	s := strconv.FormatUint(u, 10)
	p := int(a.Precision)
	if len(s) <= p {
		s = zeros[:p-len(s)+1] + s
	}
	s = s[:len(s)-p] + "." + s[len(s)-p:]
	if units < 0 {
		s = "-" + s
	}
	return s
}

const zeros = "0000000000000000000"

var pow10 = func() [19]int64 {
	var p [19]int64
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// addUnits adds with overflow detection.
func addUnits(a, b int64) (int64, bool) {
	c := a + b
	if (b > 0 && c < a) || (b < 0 && c > a) {
		return 0, false
	}
	return c, true
}
