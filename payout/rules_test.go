package payout_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/teststore"
	"github.com/rewardkit/rewardkit/payout"
)

func TestDefaultRulesCarrySeedNumbers(t *testing.T) {
	r := payout.DefaultRules()
	require.NoError(t, r.Validate())
	require.Equal(t, "RUBY", r.From.Code)
	require.Equal(t, "EUR", r.To.Code)
	require.Equal(t, "1/10000", r.Rate.String())
	require.Equal(t, ledger.RoundDown, r.Rounding)
	eq(t, "8000", r.Minimum)
	eq(t, "0.04", r.FeeRate)
	require.Equal(t, 1, r.MaxPerPeriod)
	require.Equal(t, kit.Duration(7*24*time.Hour), r.Period)
}

func TestRulesJSONRoundTrip(t *testing.T) {
	creator := payout.CreatorRules(diamondValue)
	creator.Sources = append(creator.Sources, payout.Source{Account: "creator:{member}:shoutouts", Asset: ledger.COIN,
		Value: ledger.ConversionRule{From: "COIN", To: "USD", Rate: ledger.NewRate(1, 100), Rounding: ledger.RoundDown}, Minimum: d("500")})
	wallet := payout.DefaultRules()
	wallet.Sources = []payout.Source{{Account: "creator:{member}:rubies", Asset: ledger.RUBY, Minimum: d("100")}} // at Rate
	for _, r := range []payout.Rules{payout.DefaultRules(), creator, wallet} {
		require.NoError(t, r.Validate())
		b, err := json.Marshal(r)
		require.NoError(t, err)
		var back payout.Rules
		require.NoError(t, json.Unmarshal(b, &back))
		require.NoError(t, back.Validate())
		b2, err := json.Marshal(back)
		require.NoError(t, err)
		require.JSONEq(t, string(b), string(b2))
		parsed, err := payout.ParseRules(b)
		require.NoError(t, err)
		b3, err := json.Marshal(parsed)
		require.NoError(t, err)
		require.JSONEq(t, string(b), string(b3))
	}
}

func TestValidateNamesTheBadField(t *testing.T) {
	cases := []struct {
		field string
		edit  func(r *payout.Rules)
	}{
		{"provider", func(r *payout.Rules) { r.Provider = "" }},
		{"provider", func(r *payout.Rules) { r.Provider = "Pay:Pal" }},
		{"from", func(r *payout.Rules) { r.From = ledger.Asset{Code: "x"} }},
		{"to", func(r *payout.Rules) { r.To = r.From }},
		{"rate", func(r *payout.Rules) { r.Rate = ledger.Rate{} }},
		{"rounding", func(r *payout.Rules) { r.Rounding = "sideways" }},
		{"minimum", func(r *payout.Rules) { r.Minimum = d("-1") }},
		{"minimum", func(r *payout.Rules) { r.Minimum = d("0.5") }},
		{"period", func(r *payout.Rules) { r.Period = 0 }},
		{"max_per_period", func(r *payout.Rules) { r.MaxPerPeriod = 0 }},
		{"daily_maximum", func(r *payout.Rules) { r.DailyMaximum = d("0.001") }},
		{"daily_window", func(r *payout.Rules) { r.DailyWindow = 0 }},
		{"fee_rate", func(r *payout.Rules) { r.FeeRate = d("1") }},
		{"fixed_fee", func(r *payout.Rules) { r.FixedFee = d("-0.10") }},
		{"fee_rounding", func(r *payout.Rules) { r.FeeRounding = "" }},
		{"review_above", func(r *payout.Rules) { r.ReviewAbove = d("-1") }},
		{"hold_for", func(r *payout.Rules) { r.HoldFor = 0 }},
		{"retry_every", func(r *payout.Rules) { r.RetryEvery = r.HoldFor }},
		{"sources[0].account", func(r *payout.Rules) { r.Sources = []payout.Source{{Account: "creator:diamonds", Asset: ledger.RUBY}} }},
		{"sources[0].account", func(r *payout.Rules) {
			r.Sources = []payout.Source{{Account: "creator:x{member}:diamonds", Asset: ledger.RUBY}}
		}},
		{"sources[0].account", func(r *payout.Rules) { r.Sources = []payout.Source{{Account: "member:{member}", Asset: ledger.RUBY}} }},
		{"sources[1].account", func(r *payout.Rules) {
			r.Sources = []payout.Source{{Account: "a:{member}", Asset: ledger.RUBY}, {Account: "a:{member}", Asset: ledger.RUBY}}
		}},
		{"sources[0].asset", func(r *payout.Rules) {
			r.Sources = []payout.Source{{Account: "a:{member}", Asset: ledger.Asset{Code: "x"}}}
		}},
		{"sources[0].asset", func(r *payout.Rules) { r.Sources = []payout.Source{{Account: "a:{member}", Asset: ledger.EUR}} }},
		{"sources[0].value", func(r *payout.Rules) {
			r.Sources = []payout.Source{{Account: "creator:{member}:diamonds", Asset: ledger.DIAMOND}} // no value
		}},
		{"sources[0].value", func(r *payout.Rules) { // a value in dollars for a program that pays euros
			r.Sources = []payout.Source{{Account: "creator:{member}:diamonds", Asset: ledger.DIAMOND, Value: diamondValue}}
		}},
		{"sources[0].value.rounding", func(r *payout.Rules) {
			v := eurValue(ledger.NewRate(1, 200))
			v.Rounding = ""
			r.Sources = []payout.Source{{Account: "creator:{member}:diamonds", Asset: ledger.DIAMOND, Value: v}}
		}},
		{"sources[0].value", func(r *payout.Rules) { // payout books through its own accounts
			v := eurValue(ledger.NewRate(1, 200))
			v.Exchange = "gifting:exchange"
			r.Sources = []payout.Source{{Account: "creator:{member}:diamonds", Asset: ledger.DIAMOND, Value: v}}
		}},
		{"sources[0].value", func(r *payout.Rules) { // RUBY is worth r.Rate
			r.Sources = []payout.Source{{Account: "a:{member}", Asset: ledger.RUBY, Value: eurValue(ledger.NewRate(1, 200))}}
		}},
		{"sources[1].value", func(r *payout.Rules) { // one asset, two values
			r.Sources = []payout.Source{
				{Account: "a:{member}", Asset: ledger.DIAMOND, Value: eurValue(ledger.NewRate(1, 200))},
				{Account: "b:{member}", Asset: ledger.DIAMOND, Value: eurValue(ledger.NewRate(1, 100))}}
		}},
		{"sources[0].minimum", func(r *payout.Rules) {
			r.Sources = []payout.Source{{Account: "a:{member}", Asset: ledger.DIAMOND, Value: eurValue(ledger.NewRate(1, 200)), Minimum: d("-1")}}
		}},
		{"minimum", func(r *payout.Rules) { r.Minimum = decimal.New(1, 2147483647) }},
		{"fee_rate", func(r *payout.Rules) { r.FeeRate = decimal.New(1, -2147483647) }},
	}
	for _, c := range cases {
		t.Run(c.field, func(t *testing.T) {
			r := payout.DefaultRules()
			c.edit(&r)
			err := r.Validate()
			require.ErrorIs(t, err, payout.ErrInvalidRules)
			require.Contains(t, err.Error(), c.field)
		})
	}
}

// TestFeeShapes: "4%" and "1.5% + 0.10" are both rules, with the rounding
// declared; the quote shows gross, fee, net and the booked remainder.
func TestFeeShapes(t *testing.T) {
	cases := []struct {
		name                       string
		edit                       func(r *payout.Rules)
		amount                     string
		gross, fee, net, remainder string
	}{
		{"seed 000: 4%", nil, "75000", "7.50", "0.30", "7.20", "0"},
		{"4% rounds half up", nil, "81250", "8.12", "0.32", "7.80", "50"},
		{"1.5% + 0.10 USD", func(r *payout.Rules) {
			r.To = ledger.USD
			r.FeeRate, r.FixedFee = d("0.015"), d("0.10")
		}, "200000", "20.00", "0.40", "19.60", "0"},
		{"flat 2.90 bank fee", func(r *payout.Rules) {
			r.FeeRate, r.FixedFee = d("0"), d("2.90")
		}, "100000", "10.00", "2.90", "7.10", "0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := payout.DefaultRules()
			if c.edit != nil {
				c.edit(&r)
			}
			f := newFixture(t, teststore.Memory, r)
			q, err := f.p.Quote(payout.WithdrawRequest{Amount: d(c.amount)})
			require.NoError(t, err)
			eq(t, c.gross, r.To.Amount(q.Gross))
			eq(t, c.fee, r.To.Amount(q.Fee))
			eq(t, c.net, r.To.Amount(q.Net))
			eq(t, c.remainder, r.From.Amount(q.Remainder))
		})
	}
}

// eurValue is a diamond's value in euros, for a source of rules that pay
// euros.
func eurValue(rate ledger.Rate) ledger.ConversionRule {
	return ledger.ConversionRule{From: "DIAMOND", To: "EUR", Rate: rate, Rounding: ledger.RoundDown}
}
