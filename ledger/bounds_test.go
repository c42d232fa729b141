package ledger_test

import (
	"encoding/json"
	"math"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/teststore"
)

// maxMessage bounds every error message of the tests below: a refusal
// names what it refused, never at the length of a hostile input.
const maxMessage = 300

// extremeDecimals are decimals no person types but any caller can build
// (decimal.New, decimal.NewFromBigInt, arithmetic): exponents at the ends
// of int32 and near 10^7, and coefficients of millions of digits.
func extremeDecimals() map[string]decimal.Decimal {
	tenMB := new(big.Int).Lsh(big.NewInt(1), 80_000_000) // 2^80,000,000: 10 MB, 24 million digits
	tenMB.Sub(tenMB, big.NewInt(1))
	pow := func(n int64) *big.Int { return new(big.Int).Exp(big.NewInt(10), big.NewInt(n), nil) }
	return map[string]decimal.Decimal{
		"1e2147483647":            decimal.New(1, math.MaxInt32),
		"-1e2147483647":           decimal.New(-1, math.MaxInt32),
		"1e-2147483648":           decimal.New(1, math.MinInt32),
		"-1e-2147483648":          decimal.New(-1, math.MinInt32),
		"1e10000000":              decimal.New(1, 10_000_000),
		"1e-10000000":             decimal.New(1, -10_000_000),
		"MaxInt64e2147483647":     decimal.New(math.MaxInt64, math.MaxInt32),
		"10MB coefficient":        decimal.NewFromBigInt(tenMB, 0),
		"10MB coefficient e-2^31": decimal.NewFromBigInt(tenMB, math.MinInt32),
		"10MB coefficient e2^31":  decimal.NewFromBigInt(tenMB, math.MaxInt32),
		"10MB of trailing zeros":  decimal.NewFromBigInt(new(big.Int).Lsh(big.NewInt(5), 80_000_000), -24_000_000),
		"10^5000 e-5000":          decimal.NewFromBigInt(pow(5000), -5000),
	}
}

// TestUnitsOfExtremeDecimals: Asset.Units computed the exponent in int32
// and called decimal.Shift, which panicked for exponents near MaxInt32 and
// took ~28 s (and a 10 MB error string) near 10^7. Now every decimal is
// judged from its exponent and size first: a typed error, at once, in a
// short message. Issue 10 #2.
func TestUnitsOfExtremeDecimals(t *testing.T) {
	assets := []ledger.Asset{ledger.EUR, ledger.JPY, {Code: "WEI", Precision: 18},
		{Code: "BAD_HIGH", Precision: math.MaxInt32}, {Code: "BAD_LOW", Precision: math.MinInt32}}
	for name, d := range extremeDecimals() {
		for _, a := range assets {
			start := time.Now()
			u, err := a.Units(d)
			took := time.Since(start)
			require.Error(t, err, "%s %s = %d", name, a.Code, u)
			require.True(t, errorIsOneOf(err, ledger.ErrOverflow, ledger.ErrPrecision), "%s %s: %v", name, a.Code, err)
			require.Less(t, len(err.Error()), maxMessage, "%s %s: %.300s", name, a.Code, err)
			require.Less(t, took, 2*time.Second, "%s %s took %s", name, a.Code, took)
		}
	}
	// The exact answers at the edges.
	tests := []struct {
		name  string
		asset ledger.Asset
		d     decimal.Decimal
		units int64
		err   error
	}{
		{"2^31 decimals", ledger.EUR, decimal.New(1, math.MinInt32), 0, ledger.ErrPrecision},
		{"exponent 2^31-1", ledger.EUR, decimal.New(1, math.MaxInt32), 0, ledger.ErrOverflow},
		{"zero at exponent 2^31-1", ledger.EUR, decimal.New(0, math.MaxInt32), 0, nil},
		{"zero at exponent -2^31", ledger.EUR, decimal.New(0, math.MinInt32), 0, nil},
		{"1000 trailing zeros", ledger.JPY, decimal.NewFromBigInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(1000), nil), -1000), 1, nil},
		{"1000 zeros and a 7", ledger.JPY, decimal.NewFromBigInt(new(big.Int).Add(new(big.Int).Exp(big.NewInt(10), big.NewInt(1000), nil), big.NewInt(7)), -1000), 0, ledger.ErrPrecision},
		{"big coefficient, exact", ledger.EUR, decimal.NewFromBigInt(new(big.Int).Mul(big.NewInt(math.MaxInt64), big.NewInt(1e18)), -20), math.MaxInt64, nil},
		{"big coefficient, one past", ledger.EUR, decimal.NewFromBigInt(new(big.Int).Mul(new(big.Int).Lsh(big.NewInt(1), 63), big.NewInt(1e18)), -20), 0, ledger.ErrOverflow},
		{"min int64 through a big coefficient", ledger.EUR, decimal.NewFromBigInt(new(big.Int).Mul(big.NewInt(math.MinInt64), big.NewInt(1e18)), -20), math.MinInt64, nil},
		{"exponent 37", ledger.JPY, decimal.New(1, 37), 0, ledger.ErrOverflow},
		{"exponent -37", ledger.JPY, decimal.New(1, -37), 0, ledger.ErrPrecision},
		{"negative precision", ledger.Asset{Code: "K", Precision: -3}, decimal.New(5000, 0), 5, nil},
		{"negative precision, too fine", ledger.Asset{Code: "K", Precision: -3}, decimal.New(5001, 0), 0, ledger.ErrPrecision},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := tt.asset.Units(tt.d)
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.units, u)
		})
	}
}

// TestFormatOfInvalidPrecision: Format of an asset Validate refuses does
// not ask decimal for 2^31 places (which would never return).
func TestFormatOfInvalidPrecision(t *testing.T) {
	require.Equal(t, "125e-2147483647", ledger.Asset{Code: "X", Precision: math.MaxInt32}.Format(125))
	require.Equal(t, "125e2147483648", ledger.Asset{Code: "X", Precision: math.MinInt32}.Format(125))
	require.Equal(t, "-125e-19", ledger.Asset{Code: "X", Precision: 19}.Format(-125))
}

// TestExtremeDecimalsThroughTheAPI: every public function that takes a
// decimal refuses the extreme ones with a typed error, quickly, in a short
// message, and writes nothing: transfers, holds, capture legs, overdraft
// limits, conversions (amount, fee rate, fixed fee) and quotes. Before,
// most of them panicked inside decimal.Shift. Issue 10 #2, on both stores.
func TestExtremeDecimalsThroughTheAPI(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixtureOn(t, open(t))
		h := f.hold(t, "", alice, "EUR", "10", time.Hour)
		before := f.snapshot(t)
		check := func(what string, err error, sentinels ...error) {
			t.Helper()
			require.Error(t, err, what)
			require.True(t, errorIsOneOf(err, sentinels...), "%s: %v", what, err)
			require.Less(t, len(err.Error()), maxMessage, "%s: %.300s", what, err)
			f.requireUnchanged(t, before)
		}
		amountErrs := []error{ledger.ErrOverflow, ledger.ErrPrecision, ledger.ErrInvalidAmount}
		for name, d := range extremeDecimals() {
			_, err := f.l.Transfer(f.ctx, "", alice, bob, "EUR", d)
			check("transfer "+name, err, amountErrs...)
			_, err = f.l.Hold(f.ctx, ledger.HoldRequest{Account: alice, Asset: "EUR", Amount: d, ExpiresAt: t0.Add(time.Hour)})
			check("hold "+name, err, amountErrs...)
			_, err = f.l.Capture(f.ctx, ledger.CaptureRequest{Hold: h.ID, Destinations: []ledger.Leg{{To: bob, Amount: dec("1")}, {To: carol, Amount: d}}})
			check("capture "+name, err, amountErrs...)
			_, err = f.l.OpenAccount(f.ctx, ledger.AccountSpec{Address: "member:new", Overdraft: ledger.Overdraft{Limits: map[string]decimal.Decimal{"EUR": d}}})
			check("limit "+name, err, amountErrs...)
			_, err = f.l.Convert(f.ctx, ledger.ConversionRequest{Rule: rubyRule(), From: alice, To: alice, Amount: d})
			check("convert "+name, err, amountErrs...)
			rule := rubyRule()
			rule.FeeRate, rule.FeeRounding, rule.FeeAccount = d, ledger.RoundDown, fees
			check("fee rate "+name, rule.Validate(), ledger.ErrInvalidRule)
			_, err = f.l.Convert(f.ctx, ledger.ConversionRequest{Rule: rule, From: alice, To: alice, Amount: dec("20000")})
			check("convert with fee rate "+name, err, ledger.ErrInvalidRule)
			rule = withFee(rubyRule(), "0", "0", ledger.RoundDown)
			rule.FixedFee = d
			_, err = rule.Quote(ledger.RUBY, ledger.EUR, 20000)
			check("quote with fixed fee "+name, err, append(amountErrs, ledger.ErrInvalidRule)...)
			_, err = f.l.Convert(f.ctx, ledger.ConversionRequest{Rule: rule, From: alice, To: alice, Amount: dec("20000")})
			check("convert with fixed fee "+name, err, append(amountErrs, ledger.ErrInvalidRule)...)
		}
		f.requireSound(t)
	})
}

// TestHostileStringsMakeShortErrors: a 10 MB account address, asset code,
// amount string, rate, rule name, record kind or idempotency key is
// refused in a message of a few hundred bytes. Issue 10 #2 ("never print
// a 10 MB number").
func TestHostileStringsMakeShortErrors(t *testing.T) {
	f := newFixture(t)
	big := strings.Repeat("9", 10<<20)
	before := f.snapshot(t)
	errs := map[string]error{}
	_, errs["ParseAmount"] = ledger.EUR.ParseAmount(big)
	_, errs["ParseRate"] = ledger.ParseRate(big)
	var r ledger.Rate
	errs["Rate JSON"] = json.Unmarshal([]byte(`"`+big+`"`), &r)
	errs["ValidateAddress"] = ledger.ValidateAddress(big)
	errs["ValidateAssetCode"] = ledger.ValidateAssetCode(big)
	errs["Rounding"] = ledger.Rounding(big).Validate()
	_, errs["transfer to a long address"] = f.l.Transfer(f.ctx, "", alice, big, "EUR", dec("1"))
	_, errs["transfer of a long asset"] = f.l.Transfer(f.ctx, "", alice, bob, big, dec("1"))
	_, errs["long key"] = f.l.Transfer(f.ctx, big, alice, bob, "EUR", dec("1"))
	_, errs["balance of a long address"] = f.l.Balance(f.ctx, big, "EUR")
	_, errs["transaction by a long key"] = f.l.TransactionByKey(f.ctx, big)
	errs["record"] = f.l.Update(f.ctx, func(w *ledger.Writer) error { return w.PutRecord(big, big, nil) })
	rule := rubyRule()
	rule.Name, rule.Exchange = big, "exchange:none"
	_, errs["rule name"] = f.l.Convert(f.ctx, ledger.ConversionRequest{Rule: rule, From: alice, To: alice, Amount: dec("20000")})
	rule = rubyRule()
	rule.From = big
	errs["rule from"] = rule.Validate()
	for what, err := range errs {
		require.Error(t, err, what)
		require.Less(t, len(err.Error()), maxMessage, "%s: %.300s", what, err)
	}
	f.requireUnchanged(t, before)
}
