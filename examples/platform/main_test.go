package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/memstore"
	"github.com/rewardkit/rewardkit/ledger/scheduler"
)

// smallConfig is a simulation small enough for the race detector.
func smallConfig(seed uint64) config {
	return config{Simulate: true, Members: 600, Days: 6, Seed: seed}
}

// checkSimulation asserts the invariants of a finished simulation.
func checkSimulation(t *testing.T, res *simResult) {
	t.Helper()
	require.NoError(t, res.Err())
	require.Empty(t, res.Problems)
	require.NoError(t, res.VerifyErr)
	require.Positive(t, res.Transactions)
	for code, total := range res.Verify.Totals {
		require.Truef(t, total.IsZero(), "%s sums to %s", code, total)
	}
	require.NotEmpty(t, res.Sheet)
	for _, a := range res.Sheet {
		require.Zerof(t, a.Total, "%s sums to %d units", a.Asset.Code, a.Total)
	}
	names := map[string]bool{}
	var refused int64
	for _, p := range res.Programs {
		names[p.Name] = true
		require.Positivef(t, p.Events, "%s got no events", p.Name)
		require.Positivef(t, p.Done, "%s did nothing", p.Name)
		require.Zerof(t, p.unexpectedTotal(), "%s: unexpected errors %v", p.Name, p.Unexpected)
		refused += p.refusedTotal()
	}
	for _, d := range simDrivers() {
		require.Truef(t, names[d.Name()], "program %s was not simulated", d.Name())
	}
	require.Positive(t, refused, "bad inputs are mixed in, so some events must be refused")
	require.Len(t, res.Metrics.Days, res.Config.Days)
	// One scheduler ran every night: the ledger's hold expiry, then each
	// program's Tick under the name its driver registered.
	require.Equal(t, int64(res.Config.Days), res.Nightly.Runs)
	require.Equal(t, []string{scheduler.HoldsName, "referral", "shoutout", "subscription", "adsbuy", "payout.rubies", "payout.diamonds", "referral.shop"},
		res.Nightly.Tickers)
	require.Empty(t, res.Nightly.Unexpected)
}

func TestSimulationMemstoreKeepsInvariants(t *testing.T) {
	var out bytes.Buffer
	res, err := simulate(context.Background(), &out, memstore.New(), smallConfig(7))
	require.NoError(t, err, out.String())
	checkSimulation(t, res)
	for _, want := range []string{"throughput:", "events/s", "balance sheet", "all invariants hold"} {
		require.Contains(t, out.String(), want)
	}
	var races, replays int64
	for _, p := range res.Programs {
		races += p.Races
		replays += p.Replays
	}
	require.Positive(t, races+replays, "duplicates are mixed in")
}

func TestSimulationSameSeedSameJournal(t *testing.T) {
	ctx := context.Background()
	a, err := simulate(ctx, io.Discard, memstore.New(), smallConfig(3))
	require.NoError(t, err)
	b, err := simulate(ctx, io.Discard, memstore.New(), smallConfig(3))
	require.NoError(t, err)
	c, err := simulate(ctx, io.Discard, memstore.New(), smallConfig(4))
	require.NoError(t, err)
	require.Equal(t, a.Head, b.Head, "the same seed must write the same journal")
	require.Equal(t, a.Events, b.Events)
	require.NotEqual(t, a.Head.Hash, c.Head.Hash, "another seed writes another journal")
}

func TestStoryPrintsBalanceSheetAndVerifies(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), &out, memstore.New(), config{})
	require.NoError(t, err, out.String())
	s := out.String()
	for _, want := range []string{
		"Members join through referrals", "gift giulia during a LIVE", "A fan buys a shoutout",
		"Members subscribe to giulia", "An advertiser buys a campaign that a sales rep approves", "giulia and marco cash out",
		"Balance sheet: every asset sums to zero", "hash chain is intact",
		// The one scheduler's nightly run settles the payout PayPal held.
		"the nightly run asks PayPal again and settles it: paid", "it handled payout.paid cashout-giulia-1 (payout.diamonds)",
	} {
		require.Contains(t, s, want)
	}
	// Every asset's "sum" line of the balance sheet is zero.
	sums := regexp.MustCompile(`(?m)^\s+sum\s+(\S+)$`).FindAllStringSubmatch(s, -1)
	require.GreaterOrEqual(t, len(sums), 4)
	for _, m := range sums {
		require.Regexp(t, `^0(\.0+)?$`, m[1])
	}
}

func TestStoryIsIdempotentOnTheSameStore(t *testing.T) {
	// Every event of the story has an id: telling it again on the same
	// store replays them and moves nothing.
	ctx := context.Background()
	store := memstore.New()
	require.NoError(t, run(ctx, io.Discard, store, config{}))
	before, err := balanceSheet(ctx, ledger.New(store))
	require.NoError(t, err)
	require.NoError(t, run(ctx, io.Discard, store, config{}))
	after, err := balanceSheet(ctx, ledger.New(store))
	require.NoError(t, err)
	require.Equal(t, before, after)
}

func TestReportIsSelfContainedWellFormedHTML(t *testing.T) {
	res, err := simulate(context.Background(), io.Discard, memstore.New(), smallConfig(5))
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, writeReport(&buf, res))
	page := buf.String()

	dec := xml.NewDecoder(strings.NewReader(page))
	dec.Strict = true
	var titles, svgs, headings int
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err, "the report must be well-formed")
		if se, ok := tok.(xml.StartElement); ok {
			switch se.Name.Local {
			case "title":
				titles++
			case "svg":
				svgs++
			case "h1", "h2":
				headings++
			}
		}
	}
	require.Positive(t, titles)
	require.GreaterOrEqual(t, svgs, 5, "events, refusals, flows, balances and payouts are charted")
	require.GreaterOrEqual(t, headings, 5)
	require.NotRegexp(t, `https?://`, page, "the page must need no network")
	require.NotContains(t, page, "<script")
	require.NotContains(t, page, "<link")
	for _, want := range []string{"Money in and out", "Balances per asset", "Payouts by outcome", "<polyline", "<rect"} {
		require.Contains(t, page, want)
	}
}

func TestProblemsFailTheRun(t *testing.T) {
	st := newProgramStats("demo")
	known := errors.New("demo: refused")
	st.kinds = []errKind{{"refused", known}}

	st.observe(nil)
	st.observe(known)
	require.Equal(t, int64(2), st.Events)
	require.Equal(t, int64(1), st.Done)
	require.Equal(t, map[string]int64{"refused": 1}, st.Refused)
	require.Zero(t, st.unexpectedTotal())

	tests := []struct {
		name string
		act  func(*programStats)
	}{
		{"unknown error kind", func(p *programStats) { p.observe(errors.New("boom")) }},
		{"bad input accepted", func(p *programStats) { p.expect(nil, known) }},
		{"wrong refusal", func(p *programStats) { p.expect(errors.New("other"), known) }},
		{"racing duplicates disagree", func(p *programStats) {
			n := 0
			var mu = make(chan struct{}, 1)
			mu <- struct{}{}
			p.race(func() error {
				<-mu
				defer func() { mu <- struct{}{} }()
				n++
				if n == 1 {
					return nil
				}
				return known
			})
		}},
		{"tick failed", func(p *programStats) { p.failed("tick", errors.New("store closed")) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newProgramStats("demo")
			p.kinds = []errKind{{"refused", known}}
			tc.act(p)
			require.Equal(t, int64(1), p.unexpectedTotal())
			r := &simResult{Programs: []*programStats{p}}
			r.check()
			require.ErrorIs(t, r.Err(), errInvariant)
		})
	}

	t.Run("asset not summing to zero", func(t *testing.T) {
		r := &simResult{Sheet: []assetSheet{{Asset: ledger.COIN, Total: 5}}}
		r.check()
		require.ErrorIs(t, r.Err(), errInvariant)
		require.Contains(t, r.Err().Error(), "COIN sums to 5")
	})
	t.Run("verify failed", func(t *testing.T) {
		r := &simResult{VerifyErr: ledger.ErrVerify}
		r.check()
		require.ErrorIs(t, r.Err(), errInvariant)
	})
	t.Run("sound run", func(t *testing.T) {
		r := &simResult{Programs: []*programStats{st}, Sheet: []assetSheet{{Asset: ledger.COIN}}}
		r.check()
		require.NoError(t, r.Err())
	})
}

func TestThousands(t *testing.T) {
	for _, tc := range []struct {
		in   int64
		want string
	}{{0, "0"}, {999, "999"}, {1000, "1,000"}, {1234567, "1,234,567"}, {-45000, "-45,000"}} {
		require.Equal(t, tc.want, thousands(tc.in))
	}
}

func TestGroupDigits(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"0", "0"}, {"0.00", "0.00"}, {"999.99", "999.99"}, {"1000", "1,000"}, {"-1234567.50", "-1,234,567.50"}, {"123456", "123,456"},
	} {
		require.Equal(t, tc.want, groupDigits(tc.in))
	}
}

func TestNiceTicksCoverTheRange(t *testing.T) {
	for _, tc := range []struct{ lo, hi float64 }{{0, 1}, {0, 1234}, {-5000, 120000}, {0, 0}, {3, 3}, {0, 0.07}} {
		ticks := niceTicks(tc.lo, tc.hi)
		require.GreaterOrEqual(t, len(ticks), 2)
		require.LessOrEqual(t, ticks[0], tc.lo)
		require.GreaterOrEqual(t, ticks[len(ticks)-1], tc.hi)
	}
}
