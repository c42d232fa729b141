package payout

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
)

// TickReport says what Tick did.
type TickReport struct {
	Sent    int // payouts in flight asked about (sent again with their key)
	Settled int // of those, payouts that reached a final status
	// Overdue lists the payouts asked about that are still in flight past
	// their Deadline: their funds stay reserved, and someone should look
	// at them with the provider.
	Overdue []string
	// Lapsed counts payouts rejected because nobody reviewed them by
	// their Deadline (their funds released; the provider was never asked).
	Lapsed       int
	HoldsExpired int // holds of any program the ledger released (ledger.Tick)
	// Failed lists the payouts Tick could not handle, with the payout ID
	// and the cause; they stay due and the next Tick tries them again.
	Failed []kit.ItemError
}

// Tick handles every payout whose time has come, each on its own: it asks
// the provider again about payouts in flight (a timeout, a crash between
// recording "sending" and the answer, a held or unclaimed payment) with
// the same key and records the answer in a unit of work of its own,
// marks those past their Deadline Overdue, and rejects payouts nobody
// reviewed by their Deadline. A payout that fails is reported in
// TickReport.Failed with its ID and the others go on. Then it lets the
// ledger release expired holds (never a payout's, which expire only at the
// end of the ledger's time range). The error is for the run as a whole (a
// store or context that failed). Running it twice at the same time changes
// nothing the second time.
func (p *Program) Tick(ctx context.Context) (TickReport, error) {
	var rep TickReport
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
			if err := p.tickOne(ctx, d.ID, now, &rep); err != nil {
				if ctx.Err() != nil {
					return rep, ctx.Err()
				}
				rep.Failed = append(rep.Failed, kit.ItemError{Kind: kind, ID: d.ID, Err: err})
			}
		}
		if !progressed {
			break
		}
	}
	n, err := p.l.Tick(ctx)
	rep.HoldsExpired = n
	if err != nil {
		return rep, fmt.Errorf("release expired holds: %w", err)
	}
	return rep, nil
}

// tickOne handles one due payout.
func (p *Program) tickOne(ctx context.Context, payoutID string, now time.Time, rep *TickReport) error {
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
			rep.Lapsed++
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
	rep.Sent++
	switch {
	case po.Status.Final():
		rep.Settled++
	case po.Overdue:
		rep.Overdue = append(rep.Overdue, payoutID)
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
		return p.reject(w, &po, "", fmt.Sprintf("not reviewed within hold_for (%s)", time.Duration(p.rules.HoldFor)))
	})
	return lapsed, err
}
