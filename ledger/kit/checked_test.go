package kit

import (
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
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

func TestCheckDecimalBoundsBeforeWork(t *testing.T) {
	for _, ok := range []decimal.Decimal{decimal.Zero, decimal.RequireFromString("12.50"), decimal.New(1, MaxDecimalExponent), decimal.New(-7, -MaxDecimalExponent)} {
		if err := CheckDecimal(ok); err != nil {
			t.Fatalf("%s: %v", ok, err)
		}
	}
	for _, bad := range []decimal.Decimal{decimal.New(1, math.MaxInt32), decimal.New(1, math.MinInt32), decimal.New(1, MaxDecimalExponent+1),
		decimal.RequireFromString("1" + strings.Repeat("0", 2*MaxDecimalExponent) + ".5")} {
		if err := CheckDecimal(bad); !errors.Is(err, ledger.ErrInvalidAmount) {
			t.Fatalf("%s: %v, want ErrInvalidAmount", bad.String()[:min(20, len(bad.String()))], err)
		}
	}
}
