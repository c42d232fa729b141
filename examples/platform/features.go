package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
)

// capRules are the rules of the programs' rule sets that are kit caps
// (kit.Cap): a refusal by one of them is a cap refusal.
var capRules = map[string]bool{
	"invites_per_day": true, "device_invites_per_day": true, "daily_earning_cap": true, "weekly_earning_cap": true,
	"country_budgets": true, "daily_spend_limit": true, "daily_maximum": true,
}

// clawTally adds up the clawbacks of one source (gifting chargebacks,
// shop refunds after the window, payout reversals) in one asset, in the
// asset's units: what the member's wallet gave back, what became their
// debt, what was written off.
type clawTally struct {
	Source, Asset           string
	Count                   int64
	WithDebt, WithWriteOff  int64
	Taken, Debt, WrittenOff decimal.Decimal
}

// featureStats counts what the simulation did with the features a
// platform buys a rewards engine for beyond paying rewards: caps, pending
// grants, clawbacks with recovery, payout states and expiry. Drivers add
// to it as their programs report; the end of the run adds what the ledger
// holds (debts outstanding, breakage).
type featureStats struct {
	// Pending grants (kit.Pending) of the shop campaign: granted by a
	// qualifying purchase, released by the nightly run when the return
	// window ended, vetoed by a refund (inside the window, or after it
	// before the release).
	PendingGranted, PendingReleased, PendingVetoed int64
	// Clawbacks by source and asset, in the order first seen.
	Clawbacks []*clawTally
	// PayoutStates counts the payouts that reached each final state
	// (paid, failed, returned, blocked, rejected, reversed).
	PayoutStates map[string]int64
	// Debtors and Debts are the members who owe something at the end
	// (kit.Debts) and what they owe in all, per asset.
	Debtors int
	Debts   map[string]decimal.Decimal
}

// claw adds one clawback of source to the tally.
func (f *featureStats) claw(source, asset string, taken, debt, writtenOff decimal.Decimal) {
	var t *clawTally
	for _, c := range f.Clawbacks {
		if c.Source == source && c.Asset == asset {
			t = c
		}
	}
	if t == nil {
		t = &clawTally{Source: source, Asset: asset}
		f.Clawbacks = append(f.Clawbacks, t)
	}
	t.Count++
	if debt.Sign() > 0 {
		t.WithDebt++
	}
	if writtenOff.Sign() > 0 {
		t.WithWriteOff++
	}
	t.Taken, t.Debt, t.WrittenOff = t.Taken.Add(taken), t.Debt.Add(debt), t.WrittenOff.Add(writtenOff)
}

// payoutState counts one payout that reached a final state.
func (f *featureStats) payoutState(status string) {
	if f.PayoutStates == nil {
		f.PayoutStates = map[string]int64{}
	}
	f.PayoutStates[status]++
}

// capsRefused returns the refusals by a cap rule, "program rule" -> count.
func capsRefused(ps []*programStats) map[string]int64 {
	out := map[string]int64{}
	for _, p := range ps {
		for rule, n := range p.ByRule {
			if capRules[rule] {
				out[p.Name+" "+rule] += n
			}
		}
	}
	return out
}

// readDebts reads what every member owes at the end of the run, page by
// page (kit.Debts).
func (f *featureStats) readDebts(ctx context.Context, l *ledger.Ledger) error {
	f.Debtors, f.Debts = 0, map[string]decimal.Decimal{}
	return l.View(ctx, func(r *ledger.Reader) error {
		after := ""
		owing := map[string]bool{}
		for {
			debts, next, err := kit.Debts(r, after, 1000)
			if err != nil {
				return fmt.Errorf("debts: %w", err)
			}
			for _, d := range debts {
				owing[d.Member] = true
				f.Debts[d.Asset] = f.Debts[d.Asset].Add(d.Amount)
			}
			if next == "" {
				f.Debtors = len(owing)
				return nil
			}
			after = next
		}
	})
}

// featureLine is one line of the features summary: what, and its figures.
type featureLine struct{ What, Figures string }

// featureLines lays the feature counts out for the summary and the
// report.
func featureLines(r *simResult) []featureLine {
	f := r.Features
	if f == nil {
		return nil
	}
	var out []featureLine
	caps := "none"
	if c := capsRefused(r.Programs); len(c) > 0 {
		caps = formatCounters(c)
	}
	out = append(out, featureLine{"caps refused, by program and rule", caps})
	out = append(out, featureLine{"pending grants (shop rewards)", fmt.Sprintf("%s granted, %s released, %s vetoed",
		thousands(f.PendingGranted), thousands(f.PendingReleased), thousands(f.PendingVetoed))})
	for _, c := range f.Clawbacks {
		out = append(out, featureLine{"clawbacks, " + c.Source, fmt.Sprintf("%s (%s with debt, %s with a write-off): %s %s taken back, %s debt, %s written off",
			thousands(c.Count), thousands(c.WithDebt), thousands(c.WithWriteOff), groupDigits(c.Taken.String()), c.Asset,
			groupDigits(c.Debt.String()), groupDigits(c.WrittenOff.String()))})
	}
	out = append(out, featureLine{"debts outstanding (kit.Debts)", fmt.Sprintf("%s members owe %s", thousands(int64(f.Debtors)), formatAmounts(f.Debts))})
	states := "none"
	if len(f.PayoutStates) > 0 {
		states = formatCounters(f.PayoutStates)
	}
	out = append(out, featureLine{"payout final states", states})
	if r.Liability != nil {
		var parts []string
		for _, a := range r.Liability.Assets {
			parts = append(parts, groupDigits(a.Breakage.String())+" "+a.Asset)
		}
		accounts := strings.Join(r.BreakageAccounts, ", ")
		if accounts == "" {
			accounts = "none"
		}
		out = append(out, featureLine{"expiry and breakage to date", fmt.Sprintf("%s balances had lots expire; breakage %s (breakage accounts: %s)",
			thousands(r.Nightly.LotsExpired), strings.Join(parts, ", "), accounts)})
	}
	return out
}

// printFeatures writes the feature counts as text.
func printFeatures(out io.Writer, r *simResult) {
	lines := featureLines(r)
	if len(lines) == 0 {
		return
	}
	fmt.Fprintln(out, "caps, pending grants, clawbacks, payout states, expiry:")
	for _, ln := range lines {
		fmt.Fprintf(out, "  %s: %s\n", ln.What, ln.Figures)
	}
	fmt.Fprintln(out)
}

// formatAmounts renders amounts per asset: "1,000 COIN, 20,000 RUBY".
func formatAmounts(m map[string]decimal.Decimal) string {
	if len(m) == 0 {
		return "nothing"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = groupDigits(m[k].String()) + " " + k
	}
	return strings.Join(parts, ", ")
}
