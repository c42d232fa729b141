package kit

import (
	"fmt"
	"math"
	"math/bits"

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
