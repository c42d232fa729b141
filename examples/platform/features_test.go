package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/gifting"
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/memstore"
	"github.com/rewardkit/rewardkit/payout"
	"github.com/rewardkit/rewardkit/referral"
)

// featureConfig is the run the features are asserted on: the command's
// default simulation (2,000 members over 14 days, seed 1).
func featureConfig() config {
	return config{Simulate: true, Members: 2000, Days: 14, Seed: 1}
}

// The default simulation exercises every feature its rules turn on, and
// what it counts agrees with the ledger: each cap refuses something, shop
// rewards are granted pending, released and vetoed, each source of
// clawbacks takes back, leaves debt and writes off, and what it wrote off
// is its loss account's balance; members owe something at the end, no
// more than the clawbacks left them to owe; every final payout state
// occurs; rewards expire to the named breakage account; the ledger
// verifies and every asset sums to zero.
func TestSimulationExercisesEveryFeature(t *testing.T) {
	ctx := context.Background()
	store := memstore.New()
	res, err := simulate(ctx, io.Discard, store, featureConfig())
	require.NoError(t, err)
	checkSimulation(t, res)
	f := res.Features
	require.NotNil(t, f)

	caps := capsRefused(res.Programs)
	for _, want := range []string{"referral invites_per_day", "referral daily_earning_cap", "gifting daily_spend_limit", "payout daily_maximum"} {
		require.Positive(t, caps[want], "no refusal by %s: %v", want, caps)
	}

	require.Positive(t, f.PendingGranted)
	require.Positive(t, f.PendingReleased)
	require.Positive(t, f.PendingVetoed)
	require.LessOrEqual(t, f.PendingReleased+f.PendingVetoed, f.PendingGranted, "a pending grant settles once")

	l := ledger.New(store)
	lossOf := func(account, asset string) decimal.Decimal {
		b, err := l.Balance(ctx, account, asset)
		if errors.Is(err, ledger.ErrUnknownAccount) {
			return decimal.Zero
		}
		require.NoError(t, err)
		return b.Posted.Neg()
	}
	losses := map[string]struct{ account, asset string }{
		"gifting chargebacks": {gifting.ChargebackLossAccount, ledger.COIN.Code},
		"shop refunds":        {shopRefundLosses, ledger.RUBY.Code},
		"payout reversals":    {payout.ReversalLossAccount(rubyPayoutRules().Provider), ledger.RUBY.Code},
	}
	incurred := map[string]decimal.Decimal{}
	for _, c := range f.Clawbacks {
		want, ok := losses[c.Source]
		require.True(t, ok, "unknown clawback source %q", c.Source)
		delete(losses, c.Source)
		require.Equal(t, want.asset, c.Asset)
		require.Positive(t, c.Count, c.Source)
		require.Positive(t, c.WithDebt, "%s: no clawback left a debt", c.Source)
		require.Positive(t, c.WithWriteOff, "%s: no clawback wrote off", c.Source)
		require.True(t, c.Taken.IsPositive(), c.Source)
		require.True(t, c.WrittenOff.Equal(lossOf(want.account, want.asset)), "%s: written off %s, loss account %s holds %s",
			c.Source, c.WrittenOff, want.account, lossOf(want.account, want.asset).Neg())
		incurred[c.Asset] = incurred[c.Asset].Add(c.Debt)
	}
	require.Empty(t, losses, "sources that clawed nothing back")

	require.Positive(t, f.Debtors)
	for asset, owed := range f.Debts {
		require.True(t, owed.IsPositive(), asset)
		require.True(t, owed.LessThanOrEqual(incurred[asset]), "%s: members owe %s, more than clawbacks left owing (%s)", asset, owed, incurred[asset])
	}

	for _, st := range []payout.Status{payout.StatusPaid, payout.StatusFailed, payout.StatusReturned, payout.StatusBlocked, payout.StatusReversed} {
		require.Positive(t, f.PayoutStates[string(st)], "no payout ended %s: %v", st, f.PayoutStates)
	}

	// Rewards expire (reward_validity): the nightly runs moved expired
	// lots to the campaign's breakage account, named in the liability,
	// whose breakage is that account's balance.
	require.Positive(t, res.Nightly.LotsExpired, "no reward expired")
	breakage := referral.BreakageAccount(referralRules().Campaign)
	require.Equal(t, []string{breakage}, res.BreakageAccounts)
	b, err := l.Balance(ctx, breakage, ledger.RUBY.Code)
	require.NoError(t, err)
	require.True(t, b.Posted.IsPositive(), "nothing was booked to %s", breakage)
	require.Equal(t, ledger.RUBY.Code, res.Liability.Assets[0].Asset)
	require.True(t, res.Liability.Assets[0].Breakage.Equal(b.Posted), "liability breakage %s, %s holds %s",
		res.Liability.Assets[0].Breakage, breakage, b.Posted)

	var buf bytes.Buffer
	require.NoError(t, writeReport(&buf, res))
	page := buf.String()
	require.Contains(t, page, "<h2>Caps, pending grants, clawbacks, payout states</h2>")
	require.Contains(t, page, "referral invites_per_day")
	require.Contains(t, page, "breakage to date")
	require.Contains(t, page, breakage)
}
