package main

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/scheduler"
	"github.com/rewardkit/rewardkit/referral"
)

// nightOf is a report of a run that ran the given results.
func nightOf(results ...scheduler.Result) scheduler.Report {
	return scheduler.Report{Ran: true, Results: results}
}

// TestNightlyRunCountsTheLedgersHoldExpiry: the sim counts the holds the
// nightly run released, and anything the hold expiry could not do breaks
// the run, as an unexpected error of a program does.
func TestNightlyRunCountsTheLedgersHoldExpiry(t *testing.T) {
	expired := kit.TickReport{}
	expired.Add(scheduler.KindHoldExpired, "7")
	expired.Add(scheduler.KindHoldExpired, "9")
	sound := nightOf(scheduler.Result{Name: scheduler.HoldsName, Report: expired}, scheduler.Result{Name: "referral"})

	var n nightlyStats
	n.count(sound)
	n.count(sound)
	require.Equal(t, int64(2), n.Runs)
	require.Equal(t, int64(4), n.HoldsExpired)
	require.Equal(t, []string{scheduler.HoldsName, "referral"}, n.Tickers)
	require.Empty(t, n.Unexpected)
	r := &simResult{Nightly: n}
	r.check()
	require.NoError(t, r.Err())

	stuck := kit.TickReport{Failed: []kit.ItemError{{Kind: scheduler.KindHoldExpired, ID: "3", Err: errors.New("store closed")}}}
	for name, night := range map[string]scheduler.Report{
		"a hold not released": nightOf(scheduler.Result{Name: scheduler.HoldsName, Report: stuck}),
		"hold expiry failed":  nightOf(scheduler.Result{Name: scheduler.HoldsName, Err: scheduler.ErrLeaseLost}),
		"no hold expiry":      nightOf(scheduler.Result{Name: "referral"}),
	} {
		t.Run(name, func(t *testing.T) {
			var n nightlyStats
			n.count(night)
			require.Len(t, n.Unexpected, 1)
			r := &simResult{Nightly: n}
			r.check()
			require.ErrorIs(t, r.Err(), errInvariant)
			require.Contains(t, r.Err().Error(), "nightly run")
		})
	}
}

// TestDriversReadTheirResultsFromTheNightlyRun: a driver finds its
// program's result by the name it registered; a Tick that failed or
// panicked, or no result at all, is an unexpected error of that program,
// and referral's withheld rewards are not.
func TestDriversReadTheirResultsFromTheNightlyRun(t *testing.T) {
	ctx := context.Background()
	withheld := kit.ItemError{Kind: referral.ItemWithheld, ID: "r-1", Err: referral.ErrCountryDisabled}
	stuck := kit.ItemError{Kind: referral.ItemRelease, ID: "r-2", Err: errors.New("store closed")}
	for _, tc := range []struct {
		name       string
		night      scheduler.Report
		unexpected int64
	}{
		{"withheld rewards", nightOf(scheduler.Result{Name: "referral", Report: kit.TickReport{Failed: []kit.ItemError{withheld}}}), 0},
		{"a release failed", nightOf(scheduler.Result{Name: "referral", Report: kit.TickReport{Failed: []kit.ItemError{withheld, stuck}}}), 1},
		{"the tick panicked", nightOf(scheduler.Result{Name: "referral", Err: scheduler.ErrPanicked}), 1},
		{"not run", nightOf(scheduler.Result{Name: "shoutout"}), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &referralDriver{st: newProgramStats("referral")}
			require.NoError(t, d.Night(ctx, nil, tc.night))
			require.Equal(t, tc.unexpected, d.st.unexpectedTotal(), d.st.Unexpected)
		})
	}
}
