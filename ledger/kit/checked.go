package kit

import (
	"fmt"
	"math"
	"math/bits"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger"
)

// Add returns a+b, or an error wrapping ledger.ErrOverflow if the sum
// leaves the int64 range. what names the sum in the error. Programs use it
// for every counter and total they keep (spend, earnings, budgets, caps).
func Add(what string, a, b int64) (int64, error) {
	c := a + b
	if (b > 0 && c < a) || (b < 0 && c > a) {
		return 0, fmt.Errorf("%w: %s: %d + %d", ledger.ErrOverflow, what, a, b)
	}
	return c, nil
}

// Mul returns a*b, or an error wrapping ledger.ErrOverflow if the product
// leaves the int64 range (a price times a count, say).
func Mul(what string, a, b int64) (int64, error) {
	if a == 0 || b == 0 {
		return 0, nil
	}
	neg := (a < 0) != (b < 0)
	hi, lo := bits.Mul64(absU(a), absU(b))
	limit := uint64(math.MaxInt64)
	if neg {
		limit++ // |MinInt64|
	}
	if hi != 0 || lo > limit {
		return 0, fmt.Errorf("%w: %s: %d × %d", ledger.ErrOverflow, what, a, b)
	}
	if neg {
		return int64(-lo), nil //nolint:gosec // lo <= 2^63 checked above
	}
	return int64(lo), nil
}

func absU(v int64) uint64 {
	if v < 0 {
		return uint64(-(v + 1)) + 1
	}
	return uint64(v)
}

// MaxDecimalExponent bounds the exponent of any decimal a program takes
// from outside (an amount, a price, a share, a bid) before it compares,
// multiplies or prints it: shopspring/decimal panics when exponents near
// the int32 limits are multiplied or shifted, and a huge exponent costs
// unbounded work to compare. No amount a program keeps needs more.
const MaxDecimalExponent = 30

// CheckDecimal refuses, with an error wrapping ledger.ErrInvalidAmount, a
// decimal whose exponent is beyond ±MaxDecimalExponent or whose
// coefficient has more than 2×MaxDecimalExponent digits.
func CheckDecimal(d decimal.Decimal) error {
	if e := d.Exponent(); e < -MaxDecimalExponent || e > MaxDecimalExponent || d.NumDigits() > 2*MaxDecimalExponent {
		return fmt.Errorf("%w: %d digits with exponent %d", ledger.ErrInvalidAmount, d.NumDigits(), e)
	}
	return nil
}
