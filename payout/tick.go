package payout

import (
	"context"
	"errors"
	"fmt"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
)

// The kinds of the items Tick reports (kit.TickReport), one item per due
// payout handled, by its payout ID.
const (
	// TickPaid, TickFailed and TickReturned: the provider, asked again,
	// gave a final answer, and the payout settled so.
	TickPaid     = "payout.paid"
	TickFailed   = "payout.failed"
	TickReturned = "payout.returned"
	// TickPending: asked again, still in flight; asked again after
	// Rules.RetryEvery.
	TickPending = "payout.pending"
	// TickOverdue: asked again, still in flight past its Deadline. Its
	// funds stay reserved; someone should look at it with the provider.
	TickOverdue = "payout.overdue"
	// TickLapsed: nobody reviewed it by its Deadline; it was rejected and
	// its funds released (the provider was never asked).
	TickLapsed = "payout.lapsed"
	// tickItem is the kind of a payout Tick could not handle
	// (TickReport.Failed).
	tickItem = "payout.retry"
)

var _ kit.Ticker = (*Program)(nil)

// Tick handles every payout whose time has come, each on its own: it asks
// the provider again about payouts in flight (a payout recorded by
// WithdrawIn or ApproveIn and never sent, a timeout, a crash between
// recording "sending" and the answer, a held or unclaimed payment) with
// the same key and records the answer in a unit of work of its own,
// reporting each as TickPaid, TickFailed, TickReturned, TickPending or
// TickOverdue; and it rejects payouts nobody reviewed by their Deadline
// (TickLapsed). A payout that fails is reported in TickReport.Failed with
// its ID and the others go on. The error is for the run as a whole (a
// store or context that failed). Running it twice at the same time
// changes nothing the second time. It does not tick the ledger (expired
// holds are the scheduler's, ledger.Tick): a payout's hold never expires
// by time alone.
func (p *Program) Tick(ctx context.Context) (kit.TickReport, error) {
	var rep kit.TickReport
	now := p.l.Clock().Now()
	if err := ledger.ValidateTime("tick time", now); err != nil {
		return rep, err
	}
	kind := dueRetry + p.rules.Provider
	seen := map[string]bool{}
	for {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		var due []ledger.DueEntry
		err := p.l.View(ctx, func(r *ledger.Reader) (err error) {
			due, err = r.Due(kind, now, 64+len(seen))
			return err
		})
		if err != nil {
			return rep, err
		}
		progressed := false
		for _, d := range due {
			if seen[d.ID] {
				continue // failed earlier in this run; left for the next Tick
			}
			seen[d.ID], progressed = true, true
			if err := p.tickOne(ctx, d.ID, &rep); err != nil {
				if ctx.Err() != nil {
					return rep, ctx.Err()
				}
				rep.Failed = append(rep.Failed, kit.ItemError{Kind: tickItem, ID: d.ID, Err: err})
			}
		}
		if !progressed {
			return rep, nil
		}
	}
}

// tickOne handles one due payout.
func (p *Program) tickOne(ctx context.Context, payoutID string, rep *kit.TickReport) error {
	po, err := p.Get(ctx, payoutID)
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrInvalidRequest) {
		// A due entry with no payout behind it: drop it.
		return p.l.Update(ctx, func(w *ledger.Writer) error { return w.Unschedule(dueRetry+p.rules.Provider, payoutID) })
	}
	if err != nil {
		return err
	}
	if po.Status == StatusReview {
		lapsed, err := p.lapse(ctx, payoutID)
		if lapsed {
			rep.Add(TickLapsed, payoutID)
		}
		return err
	}
	if !po.Status.inFlight() {
		_, err := p.drive(ctx, payoutID) // unschedules a settled payout
		return err
	}
	po, err = p.drive(ctx, payoutID)
	if err != nil {
		return err
	}
	switch {
	case po.Status == StatusPaid:
		rep.Add(TickPaid, payoutID)
	case po.Status == StatusFailed:
		rep.Add(TickFailed, payoutID)
	case po.Status == StatusReturned:
		rep.Add(TickReturned, payoutID)
	case po.Overdue:
		rep.Add(TickOverdue, payoutID)
	default:
		rep.Add(TickPending, payoutID)
	}
	return nil
}

// lapse rejects a payout still in review at its Deadline: nobody decided,
// the provider was never asked, so its funds can go back.
func (p *Program) lapse(ctx context.Context, payoutID string) (bool, error) {
	lapsed := false
	err := p.l.Update(ctx, func(w *ledger.Writer) error {
		lapsed = false
		var po Payout
		if err := w.LoadJSON(kindPayout, p.id(payoutID), &po); err != nil {
			return err
		}
		if po.Status != StatusReview {
			return nil // decided meanwhile; its own schedule applies
		}
		if po.Deadline.IsZero() || w.Now().Before(po.Deadline) {
			if po.Deadline.IsZero() {
				return w.Unschedule(dueRetry+p.rules.Provider, payoutID)
			}
			return w.Schedule(dueRetry+p.rules.Provider, payoutID, po.Deadline)
		}
		lapsed = true
		return p.reject(w, &po, "", fmt.Sprintf("not reviewed within hold_for (%s)", p.rules.HoldFor))
	})
	return lapsed, err
}
