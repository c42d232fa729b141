package ledger_test

import (
	"encoding/json"
	"math"
	"math/big"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/rewardkit/rewardkit/ledger"
)

func TestParseRate(t *testing.T) {
	tests := []struct {
		in   string
		want string // lowest terms; "" means refused
	}{
		{"1/10000", "1/10000"},
		{"0.0001", "1/10000"},
		{"0.00001", "1/100000"},
		{"1", "1"},
		{"3/2", "3/2"},
		{"6/4", "3/2"},
		{"1.5/3", "1/2"},
		{"0.5/0.25", "2"},
		{" 2 ", "2"},
		{"162.35", "3247/20"},
		{"007/0014", "1/2"},
		{"", ""},
		{"  ", ""},
		{"0", ""},
		{"0.000", ""},
		{"0/1", ""},
		{"1/0", ""},
		{"-1", ""},
		{"-1/2", ""},
		{"1/-2", ""},
		{"+1", ""},
		{"1e-4", ""},
		{"1E4", ""},
		{"abc", ""},
		{"1/2/3", ""},
		{"/2", ""},
		{"2/", ""},
		{"1//2", ""},
		{"1,5", ""},
		{"0x10", ""},
		{"NaN", ""},
		{"Inf", ""},
		{"1/" + strings.Repeat("1", 79), ""}, // 81 characters
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := ledger.ParseRate(tt.in)
			if tt.want == "" {
				require.ErrorIs(t, err, ledger.ErrInvalidRule)
				require.True(t, r.IsZero())
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, r.String())
			require.True(t, r.Rat().Sign() > 0)
			back, err := ledger.ParseRate(r.String())
			require.NoError(t, err)
			require.Equal(t, 0, back.Rat().Cmp(r.Rat()), "String re-parses to the same rate")
		})
	}
}

func TestRateConstructors(t *testing.T) {
	require.Equal(t, "1/10000", ledger.NewRate(2, 20000).String())
	require.Equal(t, "1/10000", ledger.MustRate("0.0001").String())
	// A rate that is not positive is the zero Rate, which rules refuse;
	// no public constructor but MustRate (for constants) panics.
	require.True(t, ledger.NewRate(0, 1).IsZero())
	require.True(t, ledger.NewRate(1, -1).IsZero())
	rule := ledger.ConversionRule{From: "RUBY", To: "EUR", Rate: ledger.NewRate(1, 0)}
	require.ErrorIs(t, rule.Validate(), ledger.ErrInvalidRule)
	require.Panics(t, func() { ledger.MustRate("0") })
	var zero ledger.Rate
	require.True(t, zero.IsZero())
	require.True(t, zero.Rat() == nil)
	require.Equal(t, "", zero.String())

	// Rat returns a copy: changing it does not change the rate.
	r := ledger.MustRate("1/3")
	r.Rat().SetInt64(5)
	require.Equal(t, "1/3", r.String())
}

func TestRateJSON(t *testing.T) {
	for _, s := range []string{"1/10000", "0.0001", "3/2", "162.35"} {
		r := ledger.MustRate(s)
		b, err := json.Marshal(r)
		require.NoError(t, err)
		require.Equal(t, `"`+r.String()+`"`, string(b))
		var back ledger.Rate
		require.NoError(t, json.Unmarshal(b, &back))
		require.Equal(t, 0, back.Rat().Cmp(r.Rat()))
	}
	for _, bad := range []string{`1`, `0.5`, `null`, `""`, `"0"`, `"-1/2"`, `"1e3"`, `{}`, `["1"]`, `"1/0"`} {
		var r ledger.Rate
		err := json.Unmarshal([]byte(bad), &r)
		require.ErrorIs(t, err, ledger.ErrInvalidRule, "input %s", bad)
		require.True(t, r.IsZero(), "a refused rate leaves the value alone")
	}
}

func TestRoundingValidate(t *testing.T) {
	for _, m := range []ledger.Rounding{ledger.RoundDown, ledger.RoundUp, ledger.RoundHalfUp, ledger.RoundHalfEven} {
		require.NoError(t, m.Validate())
	}
	for _, m := range []ledger.Rounding{"", "DOWN", "nearest", "half_down", "ceil"} {
		require.ErrorIs(t, m.Validate(), ledger.ErrInvalidRule)
	}
}

// rubyRule is the seed rule: 10,000 rubies are 1 EUR, rounding down.
func rubyRule() ledger.ConversionRule {
	return ledger.ConversionRule{Name: "ruby-eur", From: "RUBY", To: "EUR", Rate: ledger.MustRate("1/10000"),
		Rounding: ledger.RoundDown, Exchange: exchange, Remainder: remainder}
}

// withFee adds "feeRate + fixed" to a rule.
func withFee(c ledger.ConversionRule, feeRate, fixed string, m ledger.Rounding) ledger.ConversionRule {
	c.FeeRate, c.FixedFee, c.FeeRounding, c.FeeAccount = dec(feeRate), dec(fixed), m, fees
	return c
}

func TestConversionRuleValidate(t *testing.T) {
	require.NoError(t, rubyRule().Validate())
	require.NoError(t, withFee(rubyRule(), "0.04", "0", ledger.RoundHalfUp).Validate())
	require.NoError(t, withFee(rubyRule(), "0", "0.10", ledger.RoundDown).Validate())
	require.NoError(t, withFee(rubyRule(), "0.9999", "0", ledger.RoundDown).Validate())

	bad := map[string]func(*ledger.ConversionRule){
		"from empty":           func(c *ledger.ConversionRule) { c.From = "" },
		"from lowercase":       func(c *ledger.ConversionRule) { c.From = "ruby" },
		"to empty":             func(c *ledger.ConversionRule) { c.To = "" },
		"to malformed":         func(c *ledger.ConversionRule) { c.To = "E-UR" },
		"to itself":            func(c *ledger.ConversionRule) { c.To = c.From },
		"rate missing":         func(c *ledger.ConversionRule) { c.Rate = ledger.Rate{} },
		"rounding missing":     func(c *ledger.ConversionRule) { c.Rounding = "" },
		"rounding unknown":     func(c *ledger.ConversionRule) { c.Rounding = "nearest" },
		"exchange missing":     func(c *ledger.ConversionRule) { c.Exchange = "" },
		"exchange malformed":   func(c *ledger.ConversionRule) { c.Exchange = "exchange::x" },
		"remainder missing":    func(c *ledger.ConversionRule) { c.Remainder = "" },
		"remainder malformed":  func(c *ledger.ConversionRule) { c.Remainder = "rem ainder" },
		"fee rate negative":    func(c *ledger.ConversionRule) { *c = withFee(*c, "-0.01", "0", ledger.RoundDown) },
		"fee rate 100%":        func(c *ledger.ConversionRule) { *c = withFee(*c, "1", "0", ledger.RoundDown) },
		"fee rate above 100%":  func(c *ledger.ConversionRule) { *c = withFee(*c, "1.5", "0", ledger.RoundDown) },
		"fixed fee negative":   func(c *ledger.ConversionRule) { *c = withFee(*c, "0", "-0.10", ledger.RoundDown) },
		"fee rounding missing": func(c *ledger.ConversionRule) { *c = withFee(*c, "0.04", "0", "") },
		"fee rounding unknown": func(c *ledger.ConversionRule) { *c = withFee(*c, "0.04", "0", "bankers") },
		"fee account missing": func(c *ledger.ConversionRule) {
			*c = withFee(*c, "0", "0.10", ledger.RoundDown)
			c.FeeAccount = ""
		},
		"fee account malformed": func(c *ledger.ConversionRule) {
			*c = withFee(*c, "0.04", "0", ledger.RoundDown)
			c.FeeAccount = "fees:"
		},
	}
	for name, mutate := range bad {
		t.Run(name, func(t *testing.T) {
			c := rubyRule()
			mutate(&c)
			require.ErrorIs(t, c.Validate(), ledger.ErrInvalidRule)
			_, err := c.Quote(ledger.RUBY, ledger.EUR, 20000)
			require.ErrorIs(t, err, ledger.ErrInvalidRule, "Quote validates the rule too")
		})
	}
}

func TestConversionRuleJSON(t *testing.T) {
	c := withFee(rubyRule(), "0.015", "0.10", ledger.RoundHalfEven)
	b, err := json.Marshal(c)
	require.NoError(t, err)
	require.Contains(t, string(b), `"rate":"1/10000"`)
	var back ledger.ConversionRule
	require.NoError(t, json.Unmarshal(b, &back))
	require.NoError(t, back.Validate())
	require.Equal(t, c.Rate.String(), back.Rate.String())
	require.True(t, c.FeeRate.Equal(back.FeeRate) && c.FixedFee.Equal(back.FixedFee))
	q1, err := c.Quote(ledger.RUBY, ledger.EUR, 1234567)
	require.NoError(t, err)
	q2, err := back.Quote(ledger.RUBY, ledger.EUR, 1234567)
	require.NoError(t, err)
	require.Equal(t, q1, q2)

	var fromText ledger.ConversionRule
	require.NoError(t, json.Unmarshal([]byte(`{"from":"RUBY","to":"EUR","rate":"0.0001","rounding":"down",
		"fee_rate":"0.04","fee_rounding":"half_up","exchange":"exchange:ruby-eur","remainder":"exchange:remainder","fee_account":"platform:fees"}`), &fromText))
	q, err := fromText.Quote(ledger.RUBY, ledger.EUR, 20000)
	require.NoError(t, err)
	require.Equal(t, ledger.Quote{In: 20000, Used: 20000, Gross: 200, Fee: 8, Net: 192}, q)

	err = json.Unmarshal([]byte(`{"from":"RUBY","to":"EUR","rate":0.0001}`), &fromText)
	require.ErrorIs(t, err, ledger.ErrInvalidRule, "a rate must be a string, never a float")
}

func TestQuote(t *testing.T) {
	yen := ledger.ConversionRule{From: "EUR", To: "JPY", Rate: ledger.MustRate("162.35"), Rounding: ledger.RoundDown, Exchange: exchange, Remainder: remainder}
	withRounding := func(c ledger.ConversionRule, m ledger.Rounding) ledger.ConversionRule { c.Rounding = m; return c }
	withRate := func(c ledger.ConversionRule, r string) ledger.ConversionRule { c.Rate = ledger.MustRate(r); return c }
	type q = ledger.Quote
	tests := []struct {
		name     string
		rule     ledger.ConversionRule
		from, to ledger.Asset
		in       int64
		want     q
		err      error
	}{
		// The seed numbers: 10,000 rubies = 1 EUR.
		{"20,000 RUBY = 2 EUR", rubyRule(), ledger.RUBY, ledger.EUR, 20000, q{In: 20000, Used: 20000, Gross: 200, Net: 200}, nil},
		{"6,000 RUBY = 0.60 EUR", rubyRule(), ledger.RUBY, ledger.EUR, 6000, q{In: 6000, Used: 6000, Gross: 60, Net: 60}, nil},
		{"another market: 6,000 RUBY = 0.06 EUR", withRate(rubyRule(), "0.00001"), ledger.RUBY, ledger.EUR, 6000, q{In: 6000, Used: 6000, Gross: 6, Net: 6}, nil},

		// Rounding: 12345 RUBY are worth 1.2345 EUR.
		{"down keeps the remainder", rubyRule(), ledger.RUBY, ledger.EUR, 12345, q{In: 12345, Used: 12300, Remainder: 45, Gross: 123, Net: 123}, nil},
		{"up takes from the remainder", withRounding(rubyRule(), ledger.RoundUp), ledger.RUBY, ledger.EUR, 12345, q{In: 12345, Used: 12400, Remainder: -55, Gross: 124, Net: 124}, nil},
		{"half_up below half", withRounding(rubyRule(), ledger.RoundHalfUp), ledger.RUBY, ledger.EUR, 12349, q{In: 12349, Used: 12300, Remainder: 49, Gross: 123, Net: 123}, nil},
		{"half_up tie goes up", withRounding(rubyRule(), ledger.RoundHalfUp), ledger.RUBY, ledger.EUR, 12250, q{In: 12250, Used: 12300, Remainder: -50, Gross: 123, Net: 123}, nil},
		{"half_even tie to even (down)", withRounding(rubyRule(), ledger.RoundHalfEven), ledger.RUBY, ledger.EUR, 12250, q{In: 12250, Used: 12200, Remainder: 50, Gross: 122, Net: 122}, nil},
		{"half_even tie to even (up)", withRounding(rubyRule(), ledger.RoundHalfEven), ledger.RUBY, ledger.EUR, 12350, q{In: 12350, Used: 12400, Remainder: -50, Gross: 124, Net: 124}, nil},
		{"half_even above half", withRounding(rubyRule(), ledger.RoundHalfEven), ledger.RUBY, ledger.EUR, 12251, q{In: 12251, Used: 12300, Remainder: -49, Gross: 123, Net: 123}, nil},
		{"up turns dust into a cent", withRounding(rubyRule(), ledger.RoundUp), ledger.RUBY, ledger.EUR, 1, q{In: 1, Used: 100, Remainder: -99, Gross: 1, Net: 1}, nil},
		{"down refuses dust", rubyRule(), ledger.RUBY, ledger.EUR, 99, q{}, ledger.ErrInvalidAmount},
		{"half_up refuses less than half a cent", withRounding(rubyRule(), ledger.RoundHalfUp), ledger.RUBY, ledger.EUR, 49, q{}, ledger.ErrInvalidAmount},

		// Into an asset without decimals, at a decimal rate.
		{"EUR to JPY down", yen, ledger.EUR, ledger.JPY, 1000, q{In: 1000, Used: 1000, Gross: 1623, Net: 1623}, nil},
		{"EUR to JPY half_even", withRounding(yen, ledger.RoundHalfEven), ledger.EUR, ledger.JPY, 1000, q{In: 1000, Used: 1001, Remainder: -1, Gross: 1624, Net: 1624}, nil},
		{"one cent in yen", yen, ledger.EUR, ledger.JPY, 1, q{In: 1, Used: 1, Gross: 1, Net: 1}, nil},
		{"99 cents in yen", yen, ledger.EUR, ledger.JPY, 99, q{In: 99, Used: 99, Gross: 160, Net: 160}, nil},

		// Fees.
		{"4% fee", withFee(rubyRule(), "0.04", "0", ledger.RoundHalfUp), ledger.RUBY, ledger.EUR, 20000, q{In: 20000, Used: 20000, Gross: 200, Fee: 8, Net: 192}, nil},
		{"1.5% + 0.10 on 100 EUR", withFee(rubyRule(), "0.015", "0.10", ledger.RoundDown), ledger.RUBY, ledger.EUR, 1000000, q{In: 1000000, Used: 1000000, Gross: 10000, Fee: 160, Net: 9840}, nil},
		{"1.5% + 0.10 on 12.34 fee down", withFee(rubyRule(), "0.015", "0.10", ledger.RoundDown), ledger.RUBY, ledger.EUR, 123400, q{In: 123400, Used: 123400, Gross: 1234, Fee: 28, Net: 1206}, nil},
		{"1.5% + 0.10 on 12.34 fee up", withFee(rubyRule(), "0.015", "0.10", ledger.RoundUp), ledger.RUBY, ledger.EUR, 123400, q{In: 123400, Used: 123400, Gross: 1234, Fee: 29, Net: 1205}, nil},
		{"1.5% + 0.10 on 12.34 fee half_up", withFee(rubyRule(), "0.015", "0.10", ledger.RoundHalfUp), ledger.RUBY, ledger.EUR, 123400, q{In: 123400, Used: 123400, Gross: 1234, Fee: 29, Net: 1205}, nil},
		{"0.5% of 1 EUR half_up", withFee(rubyRule(), "0.005", "0", ledger.RoundHalfUp), ledger.RUBY, ledger.EUR, 10000, q{In: 10000, Used: 10000, Gross: 100, Fee: 1, Net: 99}, nil},
		{"0.5% of 1 EUR half_even", withFee(rubyRule(), "0.005", "0", ledger.RoundHalfEven), ledger.RUBY, ledger.EUR, 10000, q{In: 10000, Used: 10000, Gross: 100, Fee: 0, Net: 100}, nil},
		{"0.5% of 3 EUR half_even", withFee(rubyRule(), "0.005", "0", ledger.RoundHalfEven), ledger.RUBY, ledger.EUR, 30000, q{In: 30000, Used: 30000, Gross: 300, Fee: 2, Net: 298}, nil},
		{"0.5% of 5 EUR half_even", withFee(rubyRule(), "0.005", "0", ledger.RoundHalfEven), ledger.RUBY, ledger.EUR, 50000, q{In: 50000, Used: 50000, Gross: 500, Fee: 2, Net: 498}, nil},
		{"fixed fee leaving one cent", withFee(rubyRule(), "0", "0.59", ledger.RoundDown), ledger.RUBY, ledger.EUR, 6000, q{In: 6000, Used: 6000, Gross: 60, Fee: 59, Net: 1}, nil},
		{"fixed fee eating everything", withFee(rubyRule(), "0", "0.60", ledger.RoundDown), ledger.RUBY, ledger.EUR, 6000, q{}, ledger.ErrInvalidAmount},
		{"fee rounding up eating everything", withFee(rubyRule(), "0.5", "0", ledger.RoundUp), ledger.RUBY, ledger.EUR, 100, q{}, ledger.ErrInvalidAmount},
		{"fixed fee too precise", withFee(rubyRule(), "0", "0.001", ledger.RoundDown), ledger.RUBY, ledger.EUR, 6000, q{}, ledger.ErrPrecision},

		// Refusals.
		{"zero in", rubyRule(), ledger.RUBY, ledger.EUR, 0, q{}, ledger.ErrInvalidAmount},
		{"negative in", rubyRule(), ledger.RUBY, ledger.EUR, -20000, q{}, ledger.ErrInvalidAmount},
		{"wrong source asset", rubyRule(), ledger.COIN, ledger.EUR, 20000, q{}, ledger.ErrInvalidRule},
		{"wrong target asset", rubyRule(), ledger.RUBY, ledger.USD, 20000, q{}, ledger.ErrInvalidRule},
		{"output overflows", withRate(rubyRule(), "1000000"), ledger.RUBY, ledger.EUR, math.MaxInt64, q{}, ledger.ErrOverflow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.rule.Quote(tt.from, tt.to, tt.in)
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

// TestQuoteProperty checks Quote against exact rational arithmetic for
// random rules and amounts.
func TestQuoteProperty(t *testing.T) {
	modes := []ledger.Rounding{ledger.RoundDown, ledger.RoundUp, ledger.RoundHalfUp, ledger.RoundHalfEven}
	rapid.Check(t, func(t *rapid.T) {
		from := ledger.Asset{Code: "SRC", Precision: rapid.Int32Range(0, 8).Draw(t, "fromPrecision")}
		to := ledger.Asset{Code: "DST", Precision: rapid.Int32Range(0, 8).Draw(t, "toPrecision")}
		rule := ledger.ConversionRule{
			From: from.Code, To: to.Code,
			Rate:     ledger.NewRate(rapid.Int64Range(1, 1_000_000).Draw(t, "num"), rapid.Int64Range(1, 1_000_000).Draw(t, "den")),
			Rounding: rapid.SampledFrom(modes).Draw(t, "rounding"),
			Exchange: exchange, Remainder: remainder,
		}
		if rapid.Bool().Draw(t, "fee") {
			rule.FeeRate = decimal.New(rapid.Int64Range(0, 9999).Draw(t, "feeBasisPoints"), -4)
			rule.FixedFee = to.Amount(rapid.Int64Range(0, 1000).Draw(t, "fixedFeeUnits"))
			rule.FeeRounding = rapid.SampledFrom(modes).Draw(t, "feeRounding")
			rule.FeeAccount = fees
		}
		in := rapid.Int64Range(1, 1_000_000_000_000).Draw(t, "in")

		// perUnit: target minor units one source minor unit is worth.
		perUnit := new(big.Rat).Mul(rule.Rate.Rat(), new(big.Rat).SetFrac(pow10(to.Precision), pow10(from.Precision)))
		exact := new(big.Rat).Mul(new(big.Rat).SetInt64(in), perUnit)
		wantGross := roundRat(exact, rule.Rounding)

		got, err := rule.Quote(from, to, in)
		if err != nil {
			switch {
			case !wantGross.IsInt64():
				require.ErrorIs(t, err, ledger.ErrOverflow)
			case wantGross.Sign() == 0:
				require.ErrorIs(t, err, ledger.ErrInvalidAmount)
			default:
				// Only a fee that leaves nothing may refuse a quote whose
				// output fits.
				require.ErrorIs(t, err, ledger.ErrInvalidAmount)
				fee := new(big.Int).Add(roundRat(new(big.Rat).Mul(new(big.Rat).SetInt(wantGross), rule.FeeRate.Rat()), rule.FeeRounding),
					new(big.Rat).Mul(rule.FixedFee.Rat(), new(big.Rat).SetInt(pow10(to.Precision))).Num())
				require.True(t, fee.Cmp(wantGross) >= 0, "refused although fee %s < gross %s: %v", fee, wantGross, err)
			}
			return
		}
		require.Equal(t, 0, wantGross.Cmp(big.NewInt(got.Gross)), "gross %d, exact %s rounded %s is %s", got.Gross, exact.RatString(), rule.Rounding, wantGross)

		// Bookkeeping identities.
		require.Equal(t, got.In, in)
		require.Equal(t, got.In, got.Used+got.Remainder, "In = Used + Remainder")
		require.Equal(t, got.Gross, got.Net+got.Fee, "Gross = Net + Fee")
		require.True(t, got.Fee >= 0 && got.Fee < got.Gross, "0 <= Fee < Gross: %+v", got)
		require.True(t, got.Net > 0)

		// Used is the fewest source units worth at least Gross.
		gross := new(big.Rat).SetInt64(got.Gross)
		usedWorth := new(big.Rat).Mul(new(big.Rat).SetInt64(got.Used), perUnit)
		require.True(t, usedWorth.Cmp(gross) >= 0, "Used %d is worth %s < Gross %d", got.Used, usedWorth.RatString(), got.Gross)
		lessWorth := new(big.Rat).Mul(new(big.Rat).SetInt64(got.Used-1), perUnit)
		require.True(t, lessWorth.Cmp(gross) < 0, "Used %d is not minimal", got.Used)

		diff := new(big.Rat).Sub(gross, exact) // rounding error in target units
		switch rule.Rounding {
		case ledger.RoundDown:
			// No value is created: the output is worth no more than the
			// input, and the source taken for it no more than given.
			require.True(t, gross.Cmp(exact) <= 0, "Gross %d > In×rate %s", got.Gross, exact.RatString())
			require.True(t, got.Used <= got.In)
			require.True(t, got.Remainder >= 0)
			require.True(t, diff.Cmp(big.NewRat(-1, 1)) > 0)
		case ledger.RoundUp:
			require.True(t, gross.Cmp(exact) >= 0, "Gross %d < In×rate %s", got.Gross, exact.RatString())
			require.True(t, diff.Cmp(big.NewRat(1, 1)) < 0)
		default:
			require.True(t, new(big.Rat).Abs(diff).Cmp(big.NewRat(1, 2)) <= 0, "nearest rounding is off by %s", diff.RatString())
		}

		// The fee: FeeRate of Gross rounded by FeeRounding, plus FixedFee.
		fixed, err := to.Units(rule.FixedFee)
		require.NoError(t, err)
		wantFee := int64(0)
		if rule.FeeAccount != "" {
			pct := roundRat(new(big.Rat).Mul(gross, rule.FeeRate.Rat()), rule.FeeRounding)
			wantFee = pct.Int64() + fixed
		}
		require.Equal(t, wantFee, got.Fee)
	})
}

func pow10(n int32) *big.Int { return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil) }

// roundRat rounds a non-negative rational to an integer: the reference
// model for the ledger's rounding modes.
func roundRat(x *big.Rat, m ledger.Rounding) *big.Int {
	q, r := new(big.Int).QuoRem(x.Num(), x.Denom(), new(big.Int))
	if r.Sign() == 0 {
		return q
	}
	frac := new(big.Rat).SetFrac(r, x.Denom()) // in (0, 1)
	half := big.NewRat(1, 2)
	up := false
	switch m {
	case ledger.RoundUp:
		up = true
	case ledger.RoundHalfUp:
		up = frac.Cmp(half) >= 0
	case ledger.RoundHalfEven:
		c := frac.Cmp(half)
		up = c > 0 || (c == 0 && q.Bit(0) == 1)
	}
	if up {
		q.Add(q, big.NewInt(1))
	}
	return q
}

func TestConvert(t *testing.T) {
	tests := []struct {
		name   string
		rule   ledger.ConversionRule
		amount string
		// want are the balances after, in RUBY then EUR, of alice,
		// exchange, remainder and fees.
		in, remainder, gross, fee, net string
		postings                       []ledger.Posting
	}{
		{"20,000 RUBY = 2 EUR", rubyRule(), "20000", "20000", "0", "2", "0", "2",
			[]ledger.Posting{posting(alice, exchange, "RUBY", "20000"), posting(exchange, alice, "EUR", "2.00")}},
		{"6,000 RUBY = 0.60 EUR", rubyRule(), "6000", "6000", "0", "0.6", "0", "0.6",
			[]ledger.Posting{posting(alice, exchange, "RUBY", "6000"), posting(exchange, alice, "EUR", "0.60")}},
		{"rounding down books the remainder", rubyRule(), "12345", "12345", "45", "1.23", "0", "1.23",
			[]ledger.Posting{posting(alice, exchange, "RUBY", "12300"), posting(alice, remainder, "RUBY", "45"), posting(exchange, alice, "EUR", "1.23")}},
		{"rounding up draws on the remainder", func() ledger.ConversionRule { c := rubyRule(); c.Rounding = ledger.RoundUp; return c }(), "12345", "12345", "-55", "1.24", "0", "1.24",
			[]ledger.Posting{posting(alice, exchange, "RUBY", "12345"), posting(remainder, exchange, "RUBY", "55"), posting(exchange, alice, "EUR", "1.24")}},
		{"4% fee", withFee(rubyRule(), "0.04", "0", ledger.RoundHalfUp), "20000", "20000", "0", "2", "0.08", "1.92",
			[]ledger.Posting{posting(alice, exchange, "RUBY", "20000"), posting(exchange, alice, "EUR", "1.92"), posting(exchange, fees, "EUR", "0.08")}},
		{"1.5% + 0.10", withFee(rubyRule(), "0.015", "0.10", ledger.RoundDown), "100000", "100000", "0", "10", "0.25", "9.75",
			[]ledger.Posting{posting(alice, exchange, "RUBY", "100000"), posting(exchange, alice, "EUR", "9.75"), posting(exchange, fees, "EUR", "0.25")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			c, err := f.l.Convert(f.ctx, ledger.ConversionRequest{Rule: tt.rule, From: alice, To: alice, Amount: dec(tt.amount)})
			require.NoError(t, err)
			require.Equal(t, ledger.KindConversion, c.Transaction.Kind)
			for _, p := range []struct{ got, want string }{
				{c.In.String(), tt.in}, {c.Remainder.String(), tt.remainder}, {c.Gross.String(), tt.gross},
				{c.Fee.String(), tt.fee}, {c.Net.String(), tt.net},
			} {
				require.True(t, dec(p.got).Equal(dec(p.want)), "got %s, want %s", p.got, p.want)
			}
			require.Equal(t, tt.postings, c.Transaction.Postings)
			require.True(t, dec(f.posted(t, alice, "EUR")).Equal(dec("100").Add(c.Net)))
			require.True(t, dec(f.posted(t, alice, "RUBY")).Equal(dec("100000").Sub(c.In)))
			require.True(t, dec(f.posted(t, remainder, "RUBY")).Equal(c.Remainder))
			require.True(t, dec(f.posted(t, fees, "EUR")).Equal(c.Fee))
			// The exchange holds the position: what it took in one asset
			// against what it paid in the other.
			require.True(t, dec(f.posted(t, exchange, "EUR")).Equal(c.Gross.Neg()))
			require.True(t, dec(f.posted(t, exchange, "RUBY")).Equal(c.In.Sub(c.Remainder)))
			f.requireSound(t)
		})
	}
}

func TestConvertRefusedChangesNothing(t *testing.T) {
	f := newFixture(t)
	_, err := f.l.Convert(f.ctx, ledger.ConversionRequest{Key: "conv-taken", Rule: rubyRule(), From: alice, To: alice, Amount: dec("20000")})
	require.NoError(t, err)
	ruleWith := func(mut func(*ledger.ConversionRule)) ledger.ConversionRule { c := rubyRule(); mut(&c); return c }
	tests := []struct {
		name string
		req  ledger.ConversionRequest
		want error
	}{
		{"no rubies", ledger.ConversionRequest{Rule: rubyRule(), From: bob, To: bob, Amount: dec("20000")}, ledger.ErrInsufficientFunds},
		{"more than held", ledger.ConversionRequest{Rule: rubyRule(), From: alice, To: alice, Amount: dec("80001")}, ledger.ErrInsufficientFunds},
		{"zero", ledger.ConversionRequest{Rule: rubyRule(), From: alice, To: alice, Amount: dec("0")}, ledger.ErrInvalidAmount},
		{"negative", ledger.ConversionRequest{Rule: rubyRule(), From: alice, To: alice, Amount: dec("-20000")}, ledger.ErrInvalidAmount},
		{"fractional ruby", ledger.ConversionRequest{Rule: rubyRule(), From: alice, To: alice, Amount: dec("20000.5")}, ledger.ErrPrecision},
		{"worth less than a cent", ledger.ConversionRequest{Rule: rubyRule(), From: alice, To: alice, Amount: dec("99")}, ledger.ErrInvalidAmount},
		{"invalid rule", ledger.ConversionRequest{Rule: ruleWith(func(c *ledger.ConversionRule) { c.Rate = ledger.Rate{} }), From: alice, To: alice, Amount: dec("20000")}, ledger.ErrInvalidRule},
		{"unknown source asset", ledger.ConversionRequest{Rule: ruleWith(func(c *ledger.ConversionRule) { c.From = "GBP" }), From: alice, To: alice, Amount: dec("1")}, ledger.ErrUnknownAsset},
		{"unknown target asset", ledger.ConversionRequest{Rule: ruleWith(func(c *ledger.ConversionRule) { c.To = "GBP" }), From: alice, To: alice, Amount: dec("20000")}, ledger.ErrUnknownAsset},
		{"unknown payer", ledger.ConversionRequest{Rule: rubyRule(), From: "member:nobody", To: alice, Amount: dec("20000")}, ledger.ErrUnknownAccount},
		{"unknown payee", ledger.ConversionRequest{Rule: rubyRule(), From: alice, To: "member:nobody", Amount: dec("20000")}, ledger.ErrUnknownAccount},
		{"unknown exchange", ledger.ConversionRequest{Rule: ruleWith(func(c *ledger.ConversionRule) { c.Exchange = "exchange:none" }), From: alice, To: alice, Amount: dec("20000")}, ledger.ErrUnknownAccount},
		{"unknown remainder", ledger.ConversionRequest{Rule: ruleWith(func(c *ledger.ConversionRule) { c.Remainder = "exchange:none" }), From: alice, To: alice, Amount: dec("12345")}, ledger.ErrUnknownAccount},
		{"unknown fee account", ledger.ConversionRequest{Rule: ruleWith(func(c *ledger.ConversionRule) {
			*c = withFee(*c, "0.04", "0", ledger.RoundDown)
			c.FeeAccount = "platform:none"
		}), From: alice, To: alice, Amount: dec("20000")}, ledger.ErrUnknownAccount},
		{"bounded exchange", ledger.ConversionRequest{Rule: ruleWith(func(c *ledger.ConversionRule) { c.Exchange = bob }), From: alice, To: alice, Amount: dec("20000")}, ledger.ErrInsufficientFunds},
		{"fee eats everything", ledger.ConversionRequest{Rule: withFee(rubyRule(), "0", "0.60", ledger.RoundDown), From: alice, To: alice, Amount: dec("6000")}, ledger.ErrInvalidAmount},
		{"key reused", ledger.ConversionRequest{Key: "conv-taken", Rule: rubyRule(), From: alice, To: alice, Amount: dec("30000")}, ledger.ErrIdempotencyConflict},
		{"key reused at another rate", ledger.ConversionRequest{Key: "conv-taken", Rule: withRateRule("1/5000"), From: alice, To: alice, Amount: dec("20000")}, ledger.ErrIdempotencyConflict},
		{"bad metadata", ledger.ConversionRequest{Rule: rubyRule(), From: alice, To: alice, Amount: dec("20000"), Metadata: map[string]string{"": "x"}}, ledger.ErrInvalidTransaction},
		{"key too long", ledger.ConversionRequest{Key: strings.Repeat("k", 257), Rule: rubyRule(), From: alice, To: alice, Amount: dec("20000")}, ledger.ErrInvalidTransaction},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.snapshot(t)
			_, err := f.l.Convert(f.ctx, tt.req)
			require.ErrorIs(t, err, tt.want)
			f.requireUnchanged(t, before)
		})
	}
	f.requireSound(t)
}

func withRateRule(r string) ledger.ConversionRule {
	c := rubyRule()
	c.Rate = ledger.MustRate(r)
	return c
}

func TestConvertIdempotency(t *testing.T) {
	f := newFixture(t)
	req := ledger.ConversionRequest{Key: "cashout-1", Rule: withFee(rubyRule(), "0.04", "0", ledger.RoundHalfUp),
		From: alice, To: alice, Amount: dec("20000"), Metadata: map[string]string{"member": "alice"}}
	first, err := f.l.Convert(f.ctx, req)
	require.NoError(t, err)
	before := f.snapshot(t)
	again, err := f.l.Convert(f.ctx, req)
	require.NoError(t, err)
	require.Equal(t, first.Transaction, again.Transaction)
	require.True(t, first.Net.Equal(again.Net) && first.Fee.Equal(again.Fee))
	f.requireUnchanged(t, before)
	byKey, err := f.l.TransactionByKey(f.ctx, "cashout-1")
	require.NoError(t, err)
	require.Equal(t, first.Transaction.ID, byKey.ID)
	require.Equal(t, "101.92", f.posted(t, alice, "EUR"), "paid once")
	require.Equal(t, "0.08", f.posted(t, fees, "EUR"), "fee charged once")
}
