package main

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger/kit"
)

// reportPage is what the HTML template shows.
type reportPage struct {
	Title      string
	Config     config
	Store      string
	Elapsed    string
	Events     string
	Txs        string
	EventsPS   string
	TxsPS      string
	Population string
	Programs   []reportProgram
	Sections   []reportSection
	Sheet      []reportSheet
	// Features are the caps, pending grants, clawbacks, debts, payout
	// states and breakage the run counted (features.go).
	Features []featureLine
	// Liability is the liability section: one table per asset.
	Liability   []reportLiability
	LiabilityAt string
	// Breakage names the breakage accounts the liability counts.
	Breakage string
	// WhatIf is the what-if section, nil without -whatif.
	WhatIf   *reportWhatIf
	Verify   string
	Problems []string
	Notes    []string
}

type reportProgram struct {
	Name, Events, Done, Refused, Replays, Races, Unexpected, Kinds, Counters string
}

type reportSection struct {
	Heading string
	Text    string
	Charts  []template.HTML
}

type reportSheet struct {
	Asset string
	Rows  []reportSheetRow
	Total string
}

type reportSheetRow struct{ Holder, Accounts, Amount string }

// reportLiability is one asset's liability table.
type reportLiability struct {
	Asset, Holders, Outstanding, Value, Receivable, Breakage string
	Rows                                                     []reportLiabilityRow
}

type reportLiabilityRow struct{ Age, Amount, Value string }

// reportWhatIf is the what-if replay's table.
type reportWhatIf struct {
	Period   string
	Rows     []reportWhatIfRow
	Programs []reportWhatIfProgram
	Skipped  string
}

type reportWhatIfRow struct{ Program, Asset, Actual, Candidate, Difference, Money string }

type reportWhatIfProgram struct{ Name, Replayed, Refused string }

var reportTemplate = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8"/>
<meta name="viewport" content="width=device-width, initial-scale=1"/>
<title>{{.Title}}</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 24px auto; max-width: 1000px; color: #222; }
h1 { font-size: 26px; margin-bottom: 4px; }
h2 { font-size: 20px; margin-top: 36px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
h3 { font-size: 16px; margin: 18px 0 6px; }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0; }
th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: right; }
th { background: #f4f4f4; }
td.l, th.l { text-align: left; }
.ok { color: #1a7f37; font-weight: bold; }
.bad { color: #cf222e; font-weight: bold; }
.muted { color: #666; font-size: 13px; }
svg { display: block; margin: 10px 0; border: 1px solid #eee; max-width: 100%; height: auto; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<p class="muted">{{.Config.Members}} members over {{.Config.Days}} days, seed {{.Config.Seed}}, {{.Store}} store. {{.Population}}.</p>
<p>{{.Events}} events and {{.Txs}} ledger transactions in {{.Elapsed}}: <b>{{.EventsPS}} events/s</b>, {{.TxsPS}} transactions/s.</p>
{{if .Problems}}<p class="bad">Invariants broken:</p><ul>{{range .Problems}}<li>{{.}}</li>{{end}}</ul>{{else}}<p class="ok">All invariants hold: {{.Verify}}</p>{{end}}

<h2>Summary per program</h2>
<table>
<tr><th class="l">program</th><th>events</th><th>done</th><th>refused</th><th>replays</th><th>races</th><th>unexpected</th><th class="l">refusals by kind</th></tr>
{{range .Programs}}<tr><td class="l">{{.Name}}</td><td>{{.Events}}</td><td>{{.Done}}</td><td>{{.Refused}}</td><td>{{.Replays}}</td><td>{{.Races}}</td><td>{{.Unexpected}}</td><td class="l">{{.Kinds}}</td></tr>
{{end}}</table>
<table>
<tr><th class="l">program</th><th class="l">figures</th></tr>
{{range .Programs}}{{if .Counters}}<tr><td class="l">{{.Name}}</td><td class="l">{{.Counters}}</td></tr>
{{end}}{{end}}</table>
{{range .Notes}}<p class="muted">Note: {{.}}</p>
{{end}}
{{range .Sections}}<h2>{{.Heading}}</h2>
{{if .Text}}<p class="muted">{{.Text}}</p>{{end}}
{{range .Charts}}{{.}}
{{end}}{{end}}
{{if .Features}}<h2>Caps, pending grants, clawbacks, payout states</h2>
<p class="muted">What the rules the simulation runs did beyond paying rewards: refusals by each cap rule (ledger.RuleOf), the shop campaign's rewards pending for the return window, clawbacks under each recovery policy (what the wallet gave back, what became the member's debt, what was written off), what members still owe at the end, the payouts' final states and the breakage to date.</p>
<table>
{{range .Features}}<tr><td class="l">{{.What}}</td><td class="l">{{.Figures}}</td></tr>
{{end}}</table>
{{end}}{{if .Liability}}<h2>Liability</h2>
<p class="muted">What members and creators hold at {{.LiabilityAt}}: outstanding balances by age, first in, first out (what a holder spent came out of their oldest credits, so what is left is their most recent ones), valued in money at the rules the platform runs: rubies at the payout rate before the provider's fee, diamonds at gifting's cash value, coins at the smallest pack's list price. Breakage is what expired unspent to date, the balance of the breakage accounts ({{.Breakage}}); receivable is what holders owe (negative balances), in no bucket.</p>
{{range .Liability}}<h3>{{.Asset}}</h3>
<table>
<tr><th class="l">age</th><th>outstanding</th><th>value</th></tr>
{{range .Rows}}<tr><td class="l">{{.Age}}</td><td>{{.Amount}}</td><td>{{.Value}}</td></tr>
{{end}}<tr><th class="l">total, {{.Holders}} holders</th><th>{{.Outstanding}}</th><th>{{.Value}}</th></tr>
<tr><td class="l">breakage to date</td><td>{{.Breakage}}</td><td></td></tr>
<tr><td class="l">receivable</td><td>{{.Receivable}}</td><td></td></tr>
</table>
{{end}}{{end}}{{with .WhatIf}}<h2>What-if replay</h2>
<p class="muted">The candidate rules of -whatif, run over the inputs the programs recorded from {{.Period}}: each recorded signup, task, active day, pack purchase, gift and chargeback re-run at its recorded time on a scratch in-memory ledger. Cost is what each program granted: referral's rewards, gifting's coins issued and diamonds credited; the difference in money is at the liability's rules. The log holds what the programs accepted, so a candidate that would accept more is credited with nothing more (its figure is a lower bound).</p>
<table>
<tr><th class="l">program</th><th class="l">asset</th><th>actual</th><th>candidate</th><th>difference</th><th>in money</th></tr>
{{range .Rows}}<tr><td class="l">{{.Program}}</td><td class="l">{{.Asset}}</td><td>{{.Actual}}</td><td>{{.Candidate}}</td><td>{{.Difference}}</td><td>{{.Money}}</td></tr>
{{end}}</table>
<table>
<tr><th class="l">program</th><th>inputs replayed</th><th class="l">refused by the candidate</th></tr>
{{range .Programs}}<tr><td class="l">{{.Name}}</td><td>{{.Replayed}}</td><td class="l">{{.Refused}}</td></tr>
{{end}}</table>
{{if .Skipped}}<p class="muted">Not replayed: {{.Skipped}}.</p>{{end}}
{{end}}
<h2>Balance sheet at the end</h2>
<p class="muted">Posted balances summed per kind of holder (the address's first segment). Every asset sums to zero: what world issued is held somewhere else.</p>
{{range .Sheet}}<h3>{{.Asset}}</h3>
<table>
<tr><th class="l">holder</th><th>accounts</th><th>balance</th></tr>
{{range .Rows}}<tr><td class="l">{{.Holder}}</td><td>{{.Accounts}}</td><td>{{.Amount}}</td></tr>
{{end}}<tr><th class="l">sum</th><th></th><th>{{.Total}}</th></tr>
</table>
{{end}}
<p class="muted">Generated by examples/platform. This page needs no network: the charts are inline SVG.</p>
</body>
</html>
`))

// writeReportFile writes the HTML report of a simulation to path.
func writeReportFile(path string, r *simResult) error {
	var buf bytes.Buffer
	if err := writeReport(&buf, r); err != nil {
		return err
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// writeReport renders the HTML report of a simulation.
func writeReport(w io.Writer, r *simResult) error {
	secs := r.Elapsed.Seconds()
	if secs <= 0 {
		secs = 1e-9
	}
	page := reportPage{
		Title:    "rewardkit: the creator economy, simulated",
		Config:   r.Config,
		Store:    storeName(r.Config),
		Elapsed:  r.Elapsed.Round(10 * time.Millisecond).String(),
		Events:   thousands(r.Events),
		Txs:      thousands(int64(r.Transactions)),
		EventsPS: thousands(int64(float64(r.Events) / secs)),
		TxsPS:    thousands(int64(float64(r.Transactions) / secs)),
		Problems: r.Problems,
		Notes:    r.Notes,
	}
	if r.Population != nil {
		page.Population = r.Population.describe()
	}
	if r.VerifyErr == nil {
		page.Verify = fmt.Sprintf("Verify replayed %s transactions, %s holds and %s balances; the hash chain is intact and every asset sums to zero.",
			thousands(int64(r.Verify.Transactions)), thousands(int64(r.Verify.Holds)), thousands(int64(r.Verify.Balances)))
	}
	for _, p := range r.Programs {
		page.Programs = append(page.Programs, reportProgram{
			Name: p.Name, Events: thousands(p.Events), Done: thousands(p.Done), Refused: thousands(p.refusedTotal()),
			Replays: thousands(p.Replays), Races: thousands(p.Races), Unexpected: thousands(p.unexpectedTotal()),
			Kinds: formatCounters(p.Refused), Counters: formatCounters(p.Counters),
		})
	}
	page.Sections = reportSections(r)
	if w := r.WhatIf; w != nil {
		rw := &reportWhatIf{Period: w.From.Format("Jan 2, 2006 15:04") + " to " + w.To.Format("Jan 2, 2006 15:04 MST")}
		for _, ln := range w.Lines {
			rw.Rows = append(rw.Rows, reportWhatIfRow{Program: ln.Program, Asset: ln.Asset, Actual: groupDigits(ln.Actual.String()),
				Candidate: groupDigits(ln.Candidate.String()), Difference: signed(ln.Difference), Money: ln.moneyDifference()})
		}
		for _, p := range sortedKeys(w.Replayed) {
			rw.Programs = append(rw.Programs, reportWhatIfProgram{Name: p, Replayed: thousands(int64(w.Replayed[p])), Refused: formatRefusals(w.Refused[p])})
		}
		if len(w.Skipped) > 0 {
			rw.Skipped = formatRefusals(w.Skipped)
		}
		page.WhatIf = rw
	}
	if r.Liability != nil {
		page.LiabilityAt = r.Liability.At.Format("Jan 2, 2006 15:04 MST")
		page.Liability = reportLiabilities(r.Liability)
		page.Breakage = "none"
		if len(r.BreakageAccounts) > 0 {
			page.Breakage = strings.Join(r.BreakageAccounts, ", ")
		}
	}
	page.Features = featureLines(r)
	for _, a := range r.Sheet {
		if len(a.Lines) == 0 {
			continue
		}
		sums, counts := map[string]int64{}, map[string]int{}
		for _, ln := range a.Lines {
			h := holderOf(ln.Address)
			sums[h] += ln.Units
			counts[h]++
		}
		rs := reportSheet{Asset: a.Asset.Code, Total: a.amount(a.Total)}
		for _, h := range sortedKeys(sums) {
			rs.Rows = append(rs.Rows, reportSheetRow{Holder: h, Accounts: thousands(int64(counts[h])), Amount: a.amount(sums[h])})
		}
		page.Sheet = append(page.Sheet, rs)
	}
	if err := reportTemplate.Execute(w, page); err != nil {
		return fmt.Errorf("render report: %w", err)
	}
	return nil
}

// reportSections builds the charts from the daily samples.
func reportSections(r *simResult) []reportSection {
	m := r.Metrics
	if m == nil || len(m.Days) == 0 {
		return nil
	}
	labels := make([]string, len(m.Days))
	for i, d := range m.Days {
		labels[i] = d.Date.Format("Jan 2")
	}
	names := make([]string, 0, len(r.Programs))
	for _, p := range r.Programs {
		names = append(names, p.Name)
	}
	perProgram := func(get func(daySample) map[string]int64) []series {
		var ss []series
		for _, n := range names {
			s := series{Name: n, Values: make([]float64, len(m.Days)), Color: programColors[n]}
			for i, d := range m.Days {
				s.Values[i] = float64(get(d)[n])
			}
			ss = append(ss, s)
		}
		return ss
	}
	activity := reportSection{Heading: "Activity per day",
		Text: "Events sent to each program per simulated day, and the events each refused (ineligible members, rules, conflicting replays: bad inputs are mixed in on purpose)."}
	activity.Charts = append(activity.Charts,
		template.HTML(stackedBarChart("Events per day, by program", "events", labels, perProgram(func(d daySample) map[string]int64 { return d.Events }))),
		template.HTML(stackedBarChart("Refused events per day, by program", "events", labels, perProgram(func(d daySample) map[string]int64 { return d.Refused }))))

	flows := reportSection{Heading: "Money in and out per program per day",
		Text: "Per asset and program: what users (members, creators, advertisers, and for money the outside world) paid the platform (solid lines: money for coins, coins for gifts and shoutouts, currency cashed out) and what the platform paid users (dashed lines: coins delivered, rewards, diamonds, refunds, money paid out)."}
	for _, code := range m.assetCodes() {
		var ss []series
		progs := append(append([]string{}, programNames...), "other")
		for _, out := range []bool{false, true} {
			for _, p := range progs {
				s := series{Name: fmt.Sprintf("%s %s", p, map[bool]string{false: "in", true: "out"}[out]), Dashed: out, Values: make([]float64, len(m.Days)), Color: programColors[p]}
				any := false
				for i, d := range m.Days {
					u := d.Flows[flowKey{p, code, out}]
					s.Values[i] = m.value(code, u)
					any = any || u != 0
				}
				if any {
					ss = append(ss, s)
				}
			}
		}
		if len(ss) > 0 {
			flows.Charts = append(flows.Charts, template.HTML(lineChart(code+" in and out per day", code, labels, ss)))
		}
	}

	balances := reportSection{Heading: "Balances per asset",
		Text: "Posted balances at the end of each day, summed per kind of holder. world is the issuing account: it is the negative of everything in circulation, so the lines of each chart sum to zero every day."}
	for _, code := range m.assetCodes() {
		holders := map[string]bool{}
		for _, d := range m.Days {
			for k, v := range d.Holdings {
				if k.Asset == code && v != 0 {
					holders[k.Holder] = true
				}
			}
		}
		var ss []series
		for _, h := range sortedKeys(holders) {
			s := series{Name: h, Values: make([]float64, len(m.Days))}
			for i, d := range m.Days {
				s.Values[i] = m.value(code, d.Holdings[holderKey{h, code}])
			}
			ss = append(ss, s)
		}
		if len(ss) > 0 {
			balances.Charts = append(balances.Charts, template.HTML(lineChart(code+" balances per kind of holder", code, labels, ss)))
		}
	}

	payouts := reportSection{Heading: "Payouts by outcome",
		Text: "Cash-outs settled per day by what the simulated payment provider answered; each outcome settles the reserved funds and none loses or doubles money."}
	outcomes := map[string]bool{}
	for _, d := range m.Days {
		for k := range d.Payouts {
			outcomes[k] = true
		}
	}
	keys := sortedKeys(outcomes)
	sort.SliceStable(keys, func(i, j int) bool { return outcomeRank(keys[i]) < outcomeRank(keys[j]) })
	var ps []series
	for _, k := range keys {
		s := series{Name: k, Values: make([]float64, len(m.Days))}
		for i, d := range m.Days {
			s.Values[i] = float64(d.Payouts[k])
		}
		ps = append(ps, s)
	}
	if len(ps) > 0 {
		payouts.Charts = append(payouts.Charts, template.HTML(stackedBarChart("Payouts per day, by outcome", "payouts", labels, ps)))
	} else {
		payouts.Text = "No payout was settled in this run."
	}
	return []reportSection{activity, flows, balances, payouts}
}

// outcomeRank orders payout outcomes from the happy path to the rest.
func outcomeRank(o string) int {
	for i, k := range []string{"paid", "succeeded", "held", "failed", "returned", "unclaimed", "refused"} {
		if o == k {
			return i
		}
	}
	return 100
}

// reportLiabilities lays the liability report out as one table per asset.
func reportLiabilities(rep *kit.LiabilityReport) []reportLiability {
	var out []reportLiability
	for _, a := range rep.Assets {
		value := func(d decimal.Decimal) string {
			if a.Money.Code == "" {
				return "unvalued"
			}
			return money(a.Money, d)
		}
		rl := reportLiability{Asset: a.Asset, Holders: thousands(int64(a.Holders)), Outstanding: groupDigits(a.Outstanding.String()),
			Value: value(a.Value), Receivable: groupDigits(a.Receivable.String()), Breakage: groupDigits(a.Breakage.String())}
		for _, b := range a.Buckets {
			rl.Rows = append(rl.Rows, reportLiabilityRow{Age: bucketLabel(b), Amount: groupDigits(b.Amount.String()), Value: value(b.Value)})
		}
		out = append(out, rl)
	}
	return out
}
