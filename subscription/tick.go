package subscription

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
)

// TickReport says what a Tick did.
type TickReport struct {
	Renewed      int // periods charged and started
	GraceStarted int // renewals that failed and entered grace
	Retried      int // failed retries in grace that will be tried again
	Ended        int // subscriptions ended (cancelled, lapsed, tier withdrawn)
	// Failed lists the subscriptions ("<creator>/<member>") Tick could not
	// handle, with why; each stays due and is tried again by the next Tick,
	// and the others were handled as usual.
	Failed []kit.ItemError
}

func (r *TickReport) add(o TickReport) {
	r.Renewed += o.Renewed
	r.GraceStarted += o.GraceStarted
	r.Retried += o.Retried
	r.Ended += o.Ended
}

// Tick does what time makes happen, for everything due at the clock's
// time: renewals (charged at the creator's current price of the
// subscription's tier, or its NextTier), retries in grace, and the end of
// cancelled or lapsed subscriptions. Each subscription is handled in a unit
// of work of its own (kit.EachDue): one that fails is reported in Failed
// and the others go on. The error is for the run as a whole (a store that
// fails, a context that ends); the report then counts what was handled
// before it. Running Tick twice at the same time changes nothing the
// second time.
func (p *Program) Tick(ctx context.Context) (TickReport, error) {
	outcomes := map[string]TickReport{}
	_, failed, err := kit.EachDue(ctx, p.l, dueRenew, p.l.Clock().Now(), func(w *ledger.Writer, e ledger.DueEntry) error {
		var one TickReport
		if err := p.renew(w, e.ID, &one); err != nil {
			return err
		}
		outcomes[e.ID] = one // a batch retried after a conflict runs this again
		return nil
	})
	failedIDs := make(map[string]bool, len(failed))
	for _, f := range failed {
		failedIDs[f.ID] = true
	}
	var rep TickReport
	for id, o := range outcomes {
		if !failedIDs[id] {
			rep.add(o)
		}
	}
	rep.Failed = failed
	return rep, err
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
	if s.Status == StatusEnded {
		return w.Unschedule(dueRenew, id)
	}
	// A cancelled subscription past its period, or one whose grace period
	// is over, ends: no charge, however much the wallet holds now.
	if ended, err := p.lapse(w, &s, now); err != nil {
		return err
	} else if ended {
		rep.Ended++
		return w.SaveJSON(kindSub, id, s)
	}
	if s.Status == StatusCanceled { // not yet at its period end: not due
		return scheduleAfter(w, id, s.PeriodEnd, now)
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
	end, err := p.addPeriod(start)
	if err != nil {
		return err
	}
	if !end.After(now) { // the whole period is already past: start afresh
		start = now
		if end, err = p.addPeriod(now); err != nil {
			return err
		}
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
			until, err := p.graceUntil(&s)
			if err != nil {
				return err
			}
			s.Status, s.GraceUntil = StatusGrace, until
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
		next := s.GraceUntil
		if retry := time.Duration(p.rules.RetryEvery); retry < s.GraceUntil.Sub(now) {
			next = now.Add(retry)
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

// scheduleAfter moves a renewal's due entry, refusing a time not after
// now: an entry left due would be handled again by every Tick at this time.
func scheduleAfter(w *ledger.Writer, id string, at, now time.Time) error {
	if !at.After(now) {
		return fmt.Errorf("internal error: %s rescheduled at %s, not after %s", id, at.Format(time.RFC3339Nano), now.Format(time.RFC3339Nano))
	}
	return w.Schedule(dueRenew, id, at)
}
