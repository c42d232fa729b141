package ledger

import (
	"fmt"
	"math"
	"math/big"
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
		return fmt.Errorf("%w: code %q must have 1 to 16 characters", ErrInvalidAsset, code)
	}
	for i := 0; i < len(code); i++ {
		c := code[i]
		switch {
		case c >= 'A' && c <= 'Z':
		case (c >= '0' && c <= '9') || c == '_':
			if i == 0 {
				return fmt.Errorf("%w: code %q must start with a letter", ErrInvalidAsset, code)
			}
		default:
			return fmt.Errorf("%w: code %q may hold only A-Z, 0-9 and _", ErrInvalidAsset, code)
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
		return decimal.Decimal{}, fmt.Errorf("%w: %q", ErrInvalidAmount, s)
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
			return decimal.Decimal{}, fmt.Errorf("%w: %q is not a plain decimal", ErrInvalidAmount, s)
		}
	}
	if digits == 0 {
		return decimal.Decimal{}, fmt.Errorf("%w: %q is not a plain decimal", ErrInvalidAmount, s)
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return decimal.Decimal{}, fmt.Errorf("%w: %q: %v", ErrInvalidAmount, s, err)
	}
	return d, nil
}

var (
	bigMaxInt64 = big.NewInt(math.MaxInt64)
	bigMinInt64 = big.NewInt(math.MinInt64)
)

// Units converts an amount of the asset to integer minor units (12.50 EUR
// is 1250). An amount with more decimals than the asset allows is
// ErrPrecision; one beyond the int64 range is ErrOverflow. Zero and
// negative amounts convert; callers judge them.
func (a Asset) Units(d decimal.Decimal) (int64, error) {
	exp := d.Exponent() + a.Precision
	if exp >= 0 && exp <= 18 && d.NumDigits() <= 18 {
		// Fast path: coefficient * 10^exp, checking for overflow. NumDigits
		// and CoefficientInt64 read the coefficient without copying it.
		v := d.CoefficientInt64()
		if v == 0 {
			return 0, nil
		}
		p := pow10[exp]
		if (v > 0 && v <= math.MaxInt64/p) || (v < 0 && v >= math.MinInt64/p) {
			return v * p, nil
		}
		return 0, fmt.Errorf("%w: %s %s", ErrOverflow, d.String(), a.Code)
	}
	shifted := d.Shift(a.Precision)
	if !shifted.IsInteger() {
		return 0, fmt.Errorf("%w: %s %s allows %d decimals", ErrPrecision, d.String(), a.Code, a.Precision)
	}
	bi := shifted.BigInt()
	if bi.Cmp(bigMaxInt64) > 0 || bi.Cmp(bigMinInt64) < 0 {
		return 0, fmt.Errorf("%w: %s %s", ErrOverflow, d.String(), a.Code)
	}
	return bi.Int64(), nil
}

// Amount converts integer minor units back to a decimal amount.
func (a Asset) Amount(units int64) decimal.Decimal {
	return decimal.New(units, -a.Precision)
}

// Format writes minor units as a fixed-point string with the asset's
// decimals ("12.50"), without the code.
func (a Asset) Format(units int64) string {
	return a.Amount(units).StringFixed(a.Precision)
}

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
