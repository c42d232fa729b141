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
	// TickReturned also reports an unclaimed payout given back after
	// Rules.UnclaimedReturnAfter.
	TickPaid     = "payout.paid"
	TickFailed   = "payout.failed"
	TickReturned = "payout.returned"
	// TickBlocked: the provider, asked again, blocked the payment; its
	// funds were released. TickReversed: it reports the payment paid and
	// reversed since; the payout settled paid and was reversed.
	TickBlocked  = "payout.blocked"
	TickReversed = "payout.reversed"
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
// reporting each as TickPaid, TickFailed, TickReturned, TickBlocked,
// TickReversed, TickPending or TickOverdue (an unclaimed payout past
// Rules.UnclaimedReturnAfter is given back, TickReturned, whatever the
// provider answers short of paid); and it rejects payouts nobody reviewed by their Deadline
// (TickLapsed). These are the entries due in the program's outbox
// (kit.Outbox.Drain), in due order. A payout that fails is reported in
// TickReport.Failed with its ID and stays due, and the others go on. The
// error is for the run as a whole (a store or context that failed).
// Running it twice at the same time changes nothing the second time. It
// does not tick the ledger (expired holds are the scheduler's,
// ledger.Tick): a payout's hold never expires by time alone.
func (p *Program) Tick(ctx context.Context) (kit.TickReport, error) {
	var rep kit.TickReport
	now := p.l.Clock().Now()
	if err := ledger.ValidateTime("tick time", now); err != nil {
		return rep, err
	}
	err := p.sends.Drain(ctx, now, &rep)
	return rep, err
}

// deliver is the outbox's delivery of one due payout (kit.Outbox.Send),
// outside any unit of work: a payout in flight is sent (drive) and
// reported by what the provider answered; one in review is lapsed if its
// Deadline has passed; a settled one leaves the outbox. A payout that is
// not there is kit.ErrGone, and its entry is dropped.
func (p *Program) deliver(ctx context.Context, payoutID string) (Payout, string, error) {
	po, err := p.Get(ctx, payoutID)
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrInvalidRequest) {
		return Payout{}, "", fmt.Errorf("%w: %w", err, kit.ErrGone)
	}
	if err != nil {
		return Payout{}, "", err
	}
	if po.Status == StatusReview {
		return p.lapse(ctx, payoutID)
	}
	asked := po.Status.inFlight()
	po, err = p.drive(ctx, po) // takes a settled payout off the outbox
	if err != nil || !asked {
		return po, "", err
	}
	switch {
	case po.Status == StatusPaid:
		return po, TickPaid, nil
	case po.Status == StatusFailed:
		return po, TickFailed, nil
	case po.Status == StatusReturned:
		return po, TickReturned, nil
	case po.Status == StatusBlocked:
		return po, TickBlocked, nil
	case po.Status == StatusReversed:
		return po, TickReversed, nil
	case po.Overdue:
		return po, TickOverdue, nil
	}
	return po, TickPending, nil
}

// lapse rejects a payout still in review at its Deadline: nobody decided,
// the provider was never asked, so its funds can go back (TickLapsed).
// One not due yet goes back in the outbox at its Deadline.
func (p *Program) lapse(ctx context.Context, payoutID string) (Payout, string, error) {
	var po Payout
	did := ""
	err := p.l.Update(ctx, func(w *ledger.Writer) error {
		did = ""
		if err := w.LoadJSON(kindPayout, p.id(payoutID), &po); err != nil {
			return err
		}
		switch {
		case po.Status != StatusReview:
			return nil // decided meanwhile; its own schedule applies
		case po.Deadline.IsZero():
			return p.sends.Done(w, payoutID)
		case w.Now().Before(po.Deadline):
			return p.sends.Put(w, payoutID, po.Deadline)
		}
		did = TickLapsed
		return p.reject(w, &po, "", fmt.Sprintf("not reviewed within hold_for (%s)", p.rules.HoldFor))
	})
	if err != nil {
		return Payout{}, "", err
	}
	return po, did, nil
}
