package ledgertest

import (
	"fmt"

	"github.com/shopspring/decimal"
	"pgregory.net/rapid"

	"github.com/rewardkit/rewardkit/ledger"
)

// MaxGenPrecision is the largest precision Asset generates. Real assets
// use 0 to 3 decimals; 6 keeps generated amounts readable and far from
// the int64 range.
const MaxGenPrecision = 6

// Asset generates valid assets: a code of 1 to 8 characters (an upper-case
// letter, then upper-case letters and digits) and a precision from 0 to
// MaxGenPrecision. Codes may repeat; callers that need distinct assets
// deduplicate or suffix them.
func Asset() *rapid.Generator[ledger.Asset] {
	return rapid.Custom(func(t *rapid.T) ledger.Asset {
		return ledger.Asset{
			Code:      rapid.StringMatching(`[A-Z][A-Z0-9]{0,7}`).Draw(t, "code"),
			Precision: rapid.Int32Range(0, MaxGenPrecision).Draw(t, "precision"),
		}
	})
}

// Units generates a positive number of minor units from 1 to max.
func Units(max int64) *rapid.Generator[int64] {
	if max < 1 {
		panic(fmt.Sprintf("ledgertest: Units(%d): max must be positive", max))
	}
	return rapid.Int64Range(1, max)
}

// Amount generates valid amounts of asset a: positive, with no more
// decimals than a's precision, worth 1 to maxUnits minor units. The same
// value comes in different spellings (12.50 and 12.5), which the ledger
// must treat alike.
func Amount(a ledger.Asset, maxUnits int64) *rapid.Generator[decimal.Decimal] {
	return rapid.Custom(func(t *rapid.T) decimal.Decimal {
		u := Units(maxUnits).Draw(t, "units")
		d := decimal.New(u, -a.Precision)
		if rapid.Bool().Draw(t, "trim") {
			d = decimal.RequireFromString(d.String()) // drops trailing zeros
		}
		return d
	})
}

// InvalidAmount generates amounts the ledger must refuse for asset a: zero,
// negative, or (when the precision allows it) with more decimals than a
// allows. Whether an amount is refused as ErrInvalidAmount (not positive)
// or ErrPrecision (too many decimals) is for the caller to judge from its
// sign: the ledger checks the sign first.
func InvalidAmount(a ledger.Asset) *rapid.Generator[decimal.Decimal] {
	gens := []*rapid.Generator[decimal.Decimal]{
		rapid.Just(decimal.Zero),
		rapid.Map(rapid.Int64Range(0, 1_000_000), func(u int64) decimal.Decimal {
			return decimal.New(-u, -a.Precision)
		}),
	}
	if a.Precision < ledger.MaxPrecision {
		gens = append(gens, rapid.Custom(func(t *rapid.T) decimal.Decimal {
			// u/10^extra minor units, with u not a multiple of 10, so the
			// last decimal is always beyond the asset's precision.
			extra := rapid.Int32Range(1, ledger.MaxPrecision-a.Precision).Draw(t, "extra")
			u := rapid.Int64Range(1, 1_000_000).Filter(func(u int64) bool { return u%10 != 0 }).Draw(t, "units")
			return decimal.New(u, -(a.Precision + extra))
		}))
	}
	return rapid.OneOf(gens...)
}

// Posting generates a valid posting between two different accounts of
// accounts, in one of assets, of 1 to maxUnits minor units. accounts needs
// at least two distinct addresses and assets at least one asset.
func Posting(accounts []string, assets []ledger.Asset, maxUnits int64) *rapid.Generator[ledger.Posting] {
	if len(accounts) < 2 || len(assets) == 0 {
		panic("ledgertest: Posting needs two accounts and an asset")
	}
	return rapid.Custom(func(t *rapid.T) ledger.Posting {
		from := rapid.SampledFrom(accounts).Draw(t, "from")
		to := rapid.SampledFrom(accounts).Filter(func(s string) bool { return s != from }).Draw(t, "to")
		a := rapid.SampledFrom(assets).Draw(t, "asset")
		return ledger.Posting{From: from, To: to, Asset: a.Code, Amount: Amount(a, maxUnits).Draw(t, "amount")}
	})
}

// Postings generates 1 to maxLen valid postings (see Posting).
func Postings(accounts []string, assets []ledger.Asset, maxUnits int64, maxLen int) *rapid.Generator[[]ledger.Posting] {
	return rapid.SliceOfN(Posting(accounts, assets, maxUnits), 1, maxLen)
}
