package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/gifting"
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/referral"
)

// liabilityBuckets are the age buckets the report uses: a day, a week, a
// month, a quarter, and older.
var liabilityBuckets = []time.Duration{24 * time.Hour, 7 * 24 * time.Hour, 30 * 24 * time.Hour, 90 * 24 * time.Hour}

// liabilityQuery is the liability the platform reports: the rubies,
// coins and diamonds its members and creators hold, valued at the rules
// the platform runs —
//   - rubies at the payout rule members cash them out by (seed 000:
//     10,000 rubies = 1 EUR), before the provider's fee;
//   - diamonds at gifting's cash value (0.005 USD each), the rule the
//     creators' payout is built from;
//   - coins at the list price of the smallest pack in the first pack's
//     currency (Italy: 70 coins for 1.09 EUR): coins were paid for and
//     not yet spent, so the platform owes the gifts they buy;
//
// and the breakage accounts given (what expired unspent).
func liabilityQuery(at time.Time, breakage []string) (kit.LiabilityQuery, error) {
	pr, gr := rubyPayoutRules(), giftingRules()
	coin, err := coinPrice(gr)
	if err != nil {
		return kit.LiabilityQuery{}, err
	}
	return kit.LiabilityQuery{
		Assets:  []string{pr.From.Code, gr.CoinAsset, gr.DiamondAsset},
		Holders: []string{kit.WalletAccount(""), "creator:"},
		Buckets: liabilityBuckets,
		At:      at,
		Values: map[string]ledger.ConversionRule{
			pr.From.Code:    pr.Conversion(),
			gr.DiamondAsset: gr.CashValue(),
			gr.CoinAsset:    coin,
		},
		Breakage: breakage,
	}, nil
}

// coinPrice is a coin's value: the price per coin of the smallest pack in
// the currency of the first pack listed.
func coinPrice(gr gifting.Rules) (ledger.ConversionRule, error) {
	var best *gifting.Pack
	for i, p := range gr.Packs {
		if p.Currency == gr.Packs[0].Currency && (best == nil || p.Coins < best.Coins) {
			best = &gr.Packs[i]
		}
	}
	if best == nil {
		return ledger.ConversionRule{}, fmt.Errorf("gifting rules list no coin pack")
	}
	rate, err := ledger.ParseRate(fmt.Sprintf("%s/%d", best.Price, best.Coins))
	if err != nil {
		return ledger.ConversionRule{}, fmt.Errorf("coin price of pack %s: %w", best.ID, err)
	}
	return ledger.ConversionRule{Name: "coin-list-price", From: gr.CoinAsset, To: best.Currency, Rate: rate, Rounding: ledger.RoundDown}, nil
}

// breakageAccounts are the accounts the platform's rules book breakage
// to, by name: each referral campaign with a reward_validity moves what
// its members let expire to referral.BreakageAccount of the campaign.
func breakageAccounts() []string {
	var out []string
	for _, r := range []referral.Rules{referralRules(), shopRules()} {
		if r.RewardValidity > 0 {
			out = append(out, referral.BreakageAccount(r.Campaign))
		}
	}
	return out
}

// platformLiability reports the platform's liability at the ledger
// clock's now.
func platformLiability(ctx context.Context, l *ledger.Ledger, breakage []string) (kit.LiabilityReport, error) {
	q, err := liabilityQuery(l.Clock().Now(), breakage)
	if err != nil {
		return kit.LiabilityReport{}, err
	}
	rep, err := kit.Liability(ctx, l, q)
	if err != nil {
		return kit.LiabilityReport{}, fmt.Errorf("liability: %w", err)
	}
	return rep, nil
}

// bucketLabel names an age bucket: "under 1d", "7d to 30d", "90d or more".
func bucketLabel(b kit.LiabilityBucket) string {
	days := func(d time.Duration) string { return fmt.Sprintf("%dd", int(d/(24*time.Hour))) }
	switch {
	case b.MinAge == 0 && b.MaxAge == 0:
		return "any age"
	case b.MinAge == 0:
		return "under " + days(b.MaxAge)
	case b.MaxAge == 0:
		return days(b.MinAge) + " or more"
	}
	return days(b.MinAge) + " to " + days(b.MaxAge)
}

// printLiability writes the liability as text, one line per asset.
func printLiability(out io.Writer, rep *kit.LiabilityReport) {
	if rep == nil {
		return
	}
	fmt.Fprintf(out, "liability at %s (outstanding by age, first in first out):\n", rep.At.Format(time.RFC3339))
	for _, a := range rep.Assets {
		var parts []string
		for _, b := range a.Buckets {
			parts = append(parts, fmt.Sprintf("%s %s", bucketLabel(b), groupDigits(b.Amount.String())))
		}
		value := "unvalued"
		if a.Money.Code != "" {
			value = money(a.Money, a.Value)
		}
		fmt.Fprintf(out, "  %-8s %s held by %s accounts (%s); worth %s; breakage %s\n", a.Asset,
			groupDigits(a.Outstanding.String()), thousands(int64(a.Holders)), strings.Join(parts, ", "), value, groupDigits(a.Breakage.String()))
	}
}

// money formats an amount of money with its asset's decimals: "1,234.50 EUR".
func money(a ledger.Asset, d decimal.Decimal) string {
	return groupDigits(d.StringFixed(a.Precision)) + " " + a.Code
}
