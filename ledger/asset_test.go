package ledger_test

import (
	"math"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/rewardkit/rewardkit/ledger"
)

func TestValidateAssetCode(t *testing.T) {
	tests := []struct {
		code string
		ok   bool
	}{
		{"EUR", true},
		{"RUBY", true},
		{"A", true},
		{"X9", true},
		{"GIFT_CARD", true},
		{"ABCDEFGHIJKLMNOP", true}, // 16 characters
		{"", false},
		{"ABCDEFGHIJKLMNOPQ", false}, // 17 characters
		{"eur", false},
		{"Eur", false},
		{"9EUR", false},
		{"_EUR", false},
		{"EU R", false},
		{"EUR-2", false},
		{"EUR.", false},
		{"ÉUR", false},
		{"EUR\x00", false},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			err := ledger.ValidateAssetCode(tt.code)
			if tt.ok {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ledger.ErrInvalidAsset)
		})
	}
}

func TestAssetValidate(t *testing.T) {
	tests := []struct {
		name  string
		asset ledger.Asset
		ok    bool
	}{
		{"eur", ledger.EUR, true},
		{"jpy", ledger.JPY, true},
		{"max precision", ledger.Asset{Code: "WEI", Precision: ledger.MaxPrecision}, true},
		{"precision too large", ledger.Asset{Code: "WEI", Precision: ledger.MaxPrecision + 1}, false},
		{"negative precision", ledger.Asset{Code: "EUR", Precision: -1}, false},
		{"bad code", ledger.Asset{Code: "eur", Precision: 2}, false},
		{"empty", ledger.Asset{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.asset.Validate()
			if tt.ok {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ledger.ErrInvalidAsset)
		})
	}
}

func TestValidateAddress(t *testing.T) {
	tests := []struct {
		addr string
		ok   bool
	}{
		{"world", true},
		{"member:42", true},
		{"creator:7:earnings", true},
		{"user@example.com:wallet", true},
		{"a+b-c_d.e", true},
		{"X", true},
		{strings.Repeat("a", 128), true},
		{"", false},
		{strings.Repeat("a", 129), false},
		{":member", false},
		{"member:", false},
		{"member::42", false},
		{":", false},
		{"member 42", false},
		{"member/42", false},
		{"membér", false},
		{"member\n", false},
		{"member:4#2", false},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			err := ledger.ValidateAddress(tt.addr)
			if tt.ok {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ledger.ErrInvalidAddress)
		})
	}
}

func TestParseAmount(t *testing.T) {
	wei := ledger.Asset{Code: "WEI", Precision: 18}
	tests := []struct {
		name  string
		asset ledger.Asset
		in    string
		units int64
		err   error
	}{
		{"two decimals", ledger.EUR, "12.50", 1250, nil},
		{"one decimal", ledger.EUR, "12.5", 1250, nil},
		{"whole", ledger.EUR, "12", 1200, nil},
		{"trailing zeros beyond precision", ledger.EUR, "12.500", 1250, nil},
		{"many trailing zeros", ledger.EUR, "0.10000000", 10, nil},
		{"leading zeros", ledger.EUR, "007.01", 701, nil},
		{"surrounding space", ledger.EUR, " 3.00 ", 300, nil},
		{"zero", ledger.EUR, "0", 0, nil},
		{"negative", ledger.EUR, "-1.25", -125, nil},
		{"jpy whole", ledger.JPY, "1500", 1500, nil},
		{"jpy with zero decimals", ledger.JPY, "1500.0", 1500, nil},
		{"jpy fraction", ledger.JPY, "1500.5", 0, ledger.ErrPrecision},
		{"too many decimals", ledger.EUR, "12.505", 0, ledger.ErrPrecision},
		{"one minor unit too fine", ledger.EUR, "0.001", 0, ledger.ErrPrecision},
		{"ruby fraction", ledger.RUBY, "0.5", 0, ledger.ErrPrecision},
		{"max int64 units", ledger.EUR, "92233720368547758.07", math.MaxInt64, nil},
		{"one past max", ledger.EUR, "92233720368547758.08", 0, ledger.ErrOverflow},
		{"min int64 units", ledger.EUR, "-92233720368547758.08", math.MinInt64, nil},
		{"one past min", ledger.EUR, "-92233720368547758.09", 0, ledger.ErrOverflow},
		{"huge", ledger.JPY, "123456789012345678901234567890", 0, ledger.ErrOverflow},
		{"18 decimals", wei, "1.000000000000000001", 1000000000000000001, nil},
		{"18 decimals too large", wei, "10", 0, ledger.ErrOverflow},
		{"exponent", ledger.EUR, "1e2", 0, ledger.ErrInvalidAmount},
		{"exponent upper", ledger.EUR, "1E2", 0, ledger.ErrInvalidAmount},
		{"negative exponent", ledger.EUR, "125e-2", 0, ledger.ErrInvalidAmount},
		{"plus sign", ledger.EUR, "+1", 0, ledger.ErrInvalidAmount},
		{"double minus", ledger.EUR, "--1", 0, ledger.ErrInvalidAmount},
		{"minus only", ledger.EUR, "-", 0, ledger.ErrInvalidAmount},
		{"empty", ledger.EUR, "", 0, ledger.ErrInvalidAmount},
		{"blank", ledger.EUR, "   ", 0, ledger.ErrInvalidAmount},
		{"leading dot", ledger.EUR, ".5", 0, ledger.ErrInvalidAmount},
		{"trailing dot", ledger.EUR, "5.", 0, ledger.ErrInvalidAmount},
		{"minus dot", ledger.EUR, "-.5", 0, ledger.ErrInvalidAmount},
		{"two dots", ledger.EUR, "1.2.3", 0, ledger.ErrInvalidAmount},
		{"comma", ledger.EUR, "1,50", 0, ledger.ErrInvalidAmount},
		{"thousands separator", ledger.EUR, "1,000.00", 0, ledger.ErrInvalidAmount},
		{"inner space", ledger.EUR, "1 000", 0, ledger.ErrInvalidAmount},
		{"currency sign", ledger.EUR, "€5", 0, ledger.ErrInvalidAmount},
		{"NaN", ledger.EUR, "NaN", 0, ledger.ErrInvalidAmount},
		{"Inf", ledger.EUR, "Inf", 0, ledger.ErrInvalidAmount},
		{"hex", ledger.EUR, "0x10", 0, ledger.ErrInvalidAmount},
		{"too long", ledger.EUR, "1." + strings.Repeat("0", 63), 0, ledger.ErrInvalidAmount},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := tt.asset.ParseAmount(tt.in)
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				require.True(t, d.IsZero(), "a refused amount comes back as zero")
				return
			}
			require.NoError(t, err)
			u, err := tt.asset.Units(d)
			require.NoError(t, err)
			require.Equal(t, tt.units, u)
			require.True(t, tt.asset.Amount(u).Equal(d), "Amount(Units(%s)) = %s", d, tt.asset.Amount(u))
		})
	}
}

func TestUnitsOfDecimals(t *testing.T) {
	tests := []struct {
		name  string
		asset ledger.Asset
		d     decimal.Decimal
		units int64
		err   error
	}{
		// decimal.Decimal values can carry exponents that ParseAmount would
		// refuse as text (JSON input); Units must still judge them exactly.
		{"positive exponent", ledger.EUR, decimal.New(5, 3), 500000, nil},
		{"trailing zeros in coefficient", ledger.EUR, decimal.New(12500, -3), 1250, nil},
		{"too fine", ledger.EUR, decimal.New(12505, -3), 0, ledger.ErrPrecision},
		{"zero with large exponent", ledger.EUR, decimal.New(0, 40), 0, nil},
		{"zero with small exponent", ledger.EUR, decimal.New(0, -40), 0, nil},
		{"exponent beyond int64", ledger.JPY, decimal.New(1, 19), 0, ledger.ErrOverflow},
		{"large coefficient", ledger.JPY, decimal.RequireFromString("1" + strings.Repeat("0", 30)), 0, ledger.ErrOverflow},
		{"negative overflow", ledger.EUR, decimal.New(-1, 18), 0, ledger.ErrOverflow},
		{"fraction of a tiny exponent", ledger.JPY, decimal.New(1, -30), 0, ledger.ErrPrecision},
		{"zero value", ledger.EUR, decimal.Decimal{}, 0, nil},
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

func TestFormat(t *testing.T) {
	tests := []struct {
		asset ledger.Asset
		units int64
		want  string
	}{
		{ledger.EUR, 1250, "12.50"},
		{ledger.EUR, 5, "0.05"},
		{ledger.EUR, 0, "0.00"},
		{ledger.EUR, -125, "-1.25"},
		{ledger.JPY, 1500, "1500"},
		{ledger.RUBY, 20000, "20000"},
		{ledger.Asset{Code: "BTC", Precision: 8}, 1, "0.00000001"},
		{ledger.EUR, math.MaxInt64, "92233720368547758.07"},
		{ledger.EUR, math.MinInt64, "-92233720368547758.08"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			require.Equal(t, tt.want, tt.asset.Format(tt.units))
			back, err := tt.asset.ParseAmount(tt.want)
			require.NoError(t, err)
			u, err := tt.asset.Units(back)
			require.NoError(t, err)
			require.Equal(t, tt.units, u, "Format's output parses back to the same units")
		})
	}
}

// TestUnitsRoundTripProperty: for every precision and every int64, Amount
// and Units are inverse, Format re-parses to the same units, and one more
// decimal than allowed is always ErrPrecision.
func TestUnitsRoundTripProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a := ledger.Asset{Code: "X", Precision: rapid.Int32Range(0, ledger.MaxPrecision).Draw(t, "precision")}
		u := rapid.Int64().Draw(t, "units")
		d := a.Amount(u)
		got, err := a.Units(d)
		require.NoError(t, err)
		require.Equal(t, u, got)

		s := a.Format(u)
		parsed, err := a.ParseAmount(s)
		require.NoError(t, err, "Format(%d) = %q", u, s)
		require.True(t, parsed.Equal(d), "ParseAmount(%q) = %s, want %s", s, parsed, d)

		// A non-zero digit one place past the precision is refused.
		finer := d.Add(decimal.New(rapid.Int64Range(1, 9).Draw(t, "digit"), -a.Precision-1))
		_, err = a.Units(finer)
		require.ErrorIs(t, err, ledger.ErrPrecision)
	})
}
