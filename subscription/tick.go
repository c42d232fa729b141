package subscription

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rewardkit/rewardkit/ledger"
)

// TickReport says what a Tick did.
type TickReport struct {
	Renewed      int // periods charged and started
	GraceStarted int // renewals that failed and entered grace
	Retried      int // failed retries in grace that will be tried again
	Ended        int // subscriptions ended (cancelled, lapsed, tier withdrawn)
}

// Tick does what time makes happen, for everything due at the clock's
// time: renewals (charged at the creator's current price of the
// subscription's tier, or its NextTier), retries in grace, and the end of
// cancelled or lapsed subscriptions. Running it twice at the same time
// changes nothing the second time.
func (p *Program) Tick(ctx context.Context) (TickReport, error) {
	var total TickReport
	for {
		var rep TickReport
		n := 0
		err := p.l.Update(ctx, func(w *ledger.Writer) error {
			rep = TickReport{}
			due, err := w.Due(dueRenew, w.Now(), 128)
			if err != nil {
				return err
			}
			n = len(due)
			for _, d := range due {
				if err := p.renew(w, d.ID, &rep); err != nil {
					return fmt.Errorf("subscription: tick %s: %w", d.ID, err)
				}
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		total.Renewed += rep.Renewed
		total.GraceStarted += rep.GraceStarted
		total.Retried += rep.Retried
		total.Ended += rep.Ended
		if n == 0 {
			return total, nil
		}
	}
}

func (p *Program) renew(w *ledger.Writer, id string, rep *TickReport) error {
	var s Subscription
	if err := w.LoadJSON(kindSub, id, &s); err != nil {
		if errors.Is(err, ledger.ErrNotFound) {
			return w.Unschedule(dueRenew, id)
		}
		return err
	}
	now := w.Now()
	switch s.Status {
	case StatusEnded:
		return w.Unschedule(dueRenew, id)
	case StatusCanceled:
		if err := p.end(w, &s, s.PeriodEnd, "canceled"); err != nil {
			return err
		}
		rep.Ended++
		return w.SaveJSON(kindSub, id, s)
	}
	off, err := loadOffer(&w.Reader, s.Creator)
	if err != nil {
		return err
	}
	// The tier chosen with ChangeTier, or the current one if there is no
	// change or the chosen tier was withdrawn since.
	tier, ok := off.Tier(s.NextTier)
	if !ok {
		tier, ok = off.Tier(s.Tier.ID)
	}
	if !ok {
		p.recordGrace(&s, now)
		at := s.PeriodEnd
		if s.Status == StatusGrace {
			at = now
		}
		if err := p.end(w, &s, at, "tier withdrawn"); err != nil {
			return err
		}
		rep.Ended++
		return w.SaveJSON(kindSub, id, s)
	}
	start := s.PeriodEnd
	if s.Status == StatusGrace && !p.rules.GraceAccess {
		start = now // no access in grace: the recovered period starts when paid
	}
	end := p.addPeriod(start)
	if !end.After(now) { // the whole period is already past: start afresh
		start, end = now, p.addPeriod(now)
	}
	err = p.charge(w, &s, tier, "renewal", start, end)
	switch {
	case err == nil:
		p.recordGrace(&s, start)
		s.Status, s.GraceUntil = StatusActive, time.Time{}
		p.paid(&s, tier, start, end)
		rep.Renewed++
		if err := scheduleAfter(w, id, end, now); err != nil {
			return err
		}
	case errors.Is(err, ErrInsufficientFunds):
		started := s.Status == StatusActive
		if started {
			s.Status, s.GraceUntil = StatusGrace, p.graceEnd(&s)
			rep.GraceStarted++
		}
		if !now.Before(s.GraceUntil) {
			p.recordGrace(&s, now)
			if err := p.end(w, &s, s.GraceUntil, "renewal failed"); err != nil {
				return err
			}
			rep.Ended++
			break
		}
		next := now.Add(time.Duration(p.rules.RetryEvery))
		if next.After(s.GraceUntil) {
			next = s.GraceUntil
		}
		if err := scheduleAfter(w, id, next, now); err != nil {
			return err
		}
		if !started {
			rep.Retried++
		}
	default:
		return err
	}
	return w.SaveJSON(kindSub, id, s)
}

// scheduleAfter moves a renewal's due entry, refusing a time not after now:
// Tick loops until nothing is due, so a due entry left at or before now
// would never let it finish.
func scheduleAfter(w *ledger.Writer, id string, at, now time.Time) error {
	if !at.After(now) {
		return fmt.Errorf("subscription: internal error: %s rescheduled at %s, not after %s", id, at.Format(time.RFC3339Nano), now.Format(time.RFC3339Nano))
	}
	return w.Schedule(dueRenew, id, at)
}
