package kit

import (
	"errors"
	"math"
	"math/big"
	"testing"

	"pgregory.net/rapid"

	"github.com/rewardkit/rewardkit/ledger"
)

func TestCheckedArithmeticMatchesBigInts(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		gen := rapid.OneOf(rapid.Int64(), rapid.SampledFrom([]int64{0, 1, -1, 2, -2, math.MaxInt64, math.MinInt64, math.MaxInt32, math.MinInt32 - 1}))
		a, b := gen.Draw(t, "a"), gen.Draw(t, "b")
		check := func(name string, got int64, err error, want *big.Int) {
			if want.IsInt64() {
				if err != nil || got != want.Int64() {
					t.Fatalf("%s(%d, %d) = %d, %v; want %s", name, a, b, got, err, want)
				}
				return
			}
			if !errors.Is(err, ledger.ErrOverflow) {
				t.Fatalf("%s(%d, %d) = %d, %v; want ErrOverflow", name, a, b, got, err)
			}
		}
		s, err := Add("sum", a, b)
		check("Add", s, err, new(big.Int).Add(big.NewInt(a), big.NewInt(b)))
		p, err := Mul("product", a, b)
		check("Mul", p, err, new(big.Int).Mul(big.NewInt(a), big.NewInt(b)))
	})
}
