package scheduler

import (
	"errors"
	"fmt"

	"github.com/rewardkit/rewardkit/ledger/kit"
)

// Report is what one RunOnce did.
type Report struct {
	// Ran is false when the run did not take place because another run
	// held the lease (another replica's, or another RunOnce of the same
	// Scheduler); Results is then empty.
	Ran bool
	// Results has one entry per ticker of the run, in the order they ran:
	// HoldsName first, then the registered tickers.
	Results []Result
}

// Result is what one ticker did in a run.
type Result struct {
	// Name is the name the ticker was registered under.
	Name string
	// Report lists the items the ticker handled (Done, with their IDs)
	// and those it could not (Failed, each with its cause); a failed item
	// stays due for the next run.
	Report kit.TickReport
	// Err is the ticker's error for its run as a whole: what its Tick
	// returned, ErrPanicked if it panicked, or why it was not run (the
	// lease lost, the context ended). nil if it ran to the end.
	Err error
}

// Result returns the result of the ticker registered under name, and
// whether the run has one.
func (r Report) Result(name string) (Result, bool) {
	for _, res := range r.Results {
		if res.Name == name {
			return res, true
		}
	}
	return Result{}, false
}

// Err joins everything the run could not do into one error, nil if
// there is nothing: each ticker's error and each failed item, prefixed by
// the ticker's name ("payout: payout.settled po-7: ..."). Each joined
// error wraps its cause, for errors.Is.
func (r Report) Err() error {
	var errs []error
	for _, res := range r.Results {
		if res.Err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", res.Name, res.Err))
		}
		for _, f := range res.Report.Failed {
			errs = append(errs, fmt.Errorf("%s: %w", res.Name, f))
		}
	}
	return errors.Join(errs...)
}
