package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger/memstore"
)

// The liability of a simulated run agrees with its balance sheet: each
// asset's outstanding amount is the sum of the members' and creators'
// positive balances, its buckets add up to it, its value is worth what
// the rule says, and the HTML report shows a table per asset.
func TestSimulationLiabilityMatchesBalanceSheet(t *testing.T) {
	res, err := simulate(context.Background(), io.Discard, memstore.New(), smallConfig(5))
	require.NoError(t, err)
	require.NotNil(t, res.Liability)
	rep := res.Liability
	require.Len(t, rep.Assets, 3)
	held := map[string]int64{}
	holders := map[string]int{}
	for _, a := range res.Sheet {
		for _, ln := range a.Lines {
			if ln.Units > 0 && (strings.HasPrefix(ln.Address, "member:") || strings.HasPrefix(ln.Address, "creator:")) {
				held[a.Asset.Code] += ln.Units
				holders[a.Asset.Code]++
			}
		}
	}
	for _, a := range rep.Assets {
		require.True(t, decimal.NewFromInt(held[a.Asset]).Equal(a.Outstanding), "%s: sheet %d, liability %s", a.Asset, held[a.Asset], a.Outstanding)
		require.Equal(t, holders[a.Asset], a.Holders, a.Asset)
		require.Positive(t, a.Outstanding.Sign(), "%s: the run leaves some outstanding", a.Asset)
		sum, value := decimal.Zero, decimal.Zero
		for _, b := range a.Buckets {
			sum, value = sum.Add(b.Amount), value.Add(b.Value)
		}
		require.True(t, sum.Equal(a.Outstanding), a.Asset)
		require.True(t, value.Equal(a.Value), a.Asset)
		require.NotEmpty(t, a.Money.Code, "%s is valued", a.Asset)
	}
	// Rubies at 10,000 = 1 EUR, rounded down per bucket: within a cent per
	// bucket of the exact figure.
	ruby := rep.Assets[0]
	require.Equal(t, "RUBY", ruby.Asset)
	exact := ruby.Outstanding.Div(decimal.NewFromInt(10000))
	require.True(t, ruby.Value.LessThanOrEqual(exact))
	require.True(t, exact.Sub(ruby.Value).LessThan(decimal.RequireFromString("0.01").Mul(decimal.NewFromInt(int64(len(ruby.Buckets))))))

	var buf bytes.Buffer
	require.NoError(t, writeReport(&buf, res))
	page := buf.String()
	require.Contains(t, page, "<h2>Liability</h2>")
	for _, a := range rep.Assets {
		require.Contains(t, page, "<h3>"+a.Asset+"</h3>")
	}
	require.Contains(t, page, "under 1d")
	require.Contains(t, page, "90d or more")
	require.Contains(t, page, money(ruby.Money, ruby.Value))
}
