package ledgertest_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
)

func TestAssetIsValid(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a := ledgertest.Asset().Draw(t, "asset")
		require.NoError(t, a.Validate())
		require.LessOrEqual(t, a.Precision, int32(ledgertest.MaxGenPrecision))
	})
}

func TestAmountIsValid(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a := ledgertest.Asset().Draw(t, "asset")
		max := rapid.Int64Range(1, 1_000_000).Draw(t, "max")
		d := ledgertest.Amount(a, max).Draw(t, "amount")
		require.Positive(t, d.Sign())
		u, err := a.Units(d)
		require.NoError(t, err)
		require.GreaterOrEqual(t, u, int64(1))
		require.LessOrEqual(t, u, max)
		// It reads back through the ledger's own parser.
		p, err := a.ParseAmount(d.String())
		require.NoError(t, err)
		require.True(t, p.Equal(d), "%s parses as %s", d, p)
	})
}

func TestInvalidAmountIsRefused(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a := ledgertest.Asset().Draw(t, "asset")
		d := ledgertest.InvalidAmount(a).Draw(t, "amount")
		if d.Sign() <= 0 {
			return // refused as ErrInvalidAmount wherever it is used
		}
		_, err := a.Units(d)
		require.True(t, errors.Is(err, ledger.ErrPrecision), "%s %s: %v", d, a.Code, err)
	})
}

func TestInvalidAmountCoversEveryKind(t *testing.T) {
	a := ledger.EUR
	var zero, negative, precision bool
	rapid.Check(t, func(t *rapid.T) {
		d := ledgertest.InvalidAmount(a).Draw(t, "amount")
		switch d.Sign() {
		case 0:
			zero = true
		case -1:
			negative = true
		default:
			precision = true
		}
	})
	require.True(t, zero && negative && precision, "zero %v negative %v precision %v", zero, negative, precision)
}

func TestPostingsAreValid(t *testing.T) {
	accounts := []string{"a", "b", "c"}
	assets := []ledger.Asset{ledger.EUR, ledger.COIN}
	rapid.Check(t, func(t *rapid.T) {
		ps := ledgertest.Postings(accounts, assets, 500, 4).Draw(t, "postings")
		require.NotEmpty(t, ps)
		require.LessOrEqual(t, len(ps), 4)
		for _, p := range ps {
			require.NotEqual(t, p.From, p.To)
			require.Contains(t, accounts, p.From)
			require.Contains(t, accounts, p.To)
			var asset ledger.Asset
			for _, a := range assets {
				if a.Code == p.Asset {
					asset = a
				}
			}
			require.NotEmpty(t, asset.Code, "asset %q", p.Asset)
			u, err := asset.Units(p.Amount)
			require.NoError(t, err)
			require.True(t, u >= 1 && u <= 500, "units %d", u)
		}
	})
}

// Generators plug into rapid property tests; Example draws values outside
// one, here to show what they promise.
func ExampleAmount() {
	g := ledgertest.Amount(ledger.EUR, 10_000) // 0.01 to 100.00 EUR
	for seed := 0; seed < 3; seed++ {
		d := g.Example(seed)
		u, err := ledger.EUR.Units(d)
		fmt.Println(err == nil && u >= 1 && u <= 10_000)
	}
	// Output:
	// true
	// true
	// true
}

func ExampleInvalidAmount() {
	g := ledgertest.InvalidAmount(ledger.EUR)
	for seed := 0; seed < 3; seed++ {
		d := g.Example(seed)
		_, err := ledger.EUR.Units(d)
		fmt.Println(d.Sign() <= 0 || errors.Is(err, ledger.ErrPrecision))
	}
	// Output:
	// true
	// true
	// true
}

func ExamplePostings() {
	accounts := []string{ledger.World, "member:1", "member:2"}
	ps := ledgertest.Postings(accounts, []ledger.Asset{ledger.EUR, ledger.COIN}, 500, 3).Example(1)
	fmt.Println(len(ps) >= 1 && len(ps) <= 3)
	fmt.Println(ps[0].From != ps[0].To)
	// Output:
	// true
	// true
}
