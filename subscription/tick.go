package subscription

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
)

// The kinds of the items a Tick reports (kit.TickReport), each with the
// subscription's ID, "<creator>/<member>".
const (
	// TickRenewed: a period was charged and started.
	TickRenewed = "subscription.renewed"
	// TickGraceStarted: a renewal failed for funds and the subscription
	// entered grace.
	TickGraceStarted = "subscription.grace_started"
	// TickRetried: a retry in grace failed and will be tried again.
	TickRetried = "subscription.retried"
	// TickEnded: the subscription ended (cancelled, lapsed, tier withdrawn).
	TickEnded = "subscription.ended"
)

var _ kit.Ticker = (*Program)(nil)

// Tick does what time makes happen, for everything due at the ledger
// clock's time: renewals (charged at the creator's current price of the
// subscription's tier, or its NextTier), retries in grace, and the end of
// cancelled or lapsed subscriptions. Each subscription is handled in a
// unit of work of its own (kit.TickDue) and reported as items of the kinds
// TickRenewed, TickGraceStarted, TickRetried and TickEnded; one that fails
// is reported in Failed with its ID and the others go on. The error is for
// the run as a whole (a store that fails, a context that ends); the report
// then holds what was handled before it. Running Tick twice at the same
// time changes nothing the second time. Tick does not tick the ledger
// (expired holds): ledger/scheduler, which runs the programs' Ticks, does
// that once.
func (p *Program) Tick(ctx context.Context) (kit.TickReport, error) {
	return kit.TickDue(ctx, p.l, dueRenew, func(w *ledger.Writer, e ledger.DueEntry) ([]string, error) {
		return p.renew(w, e.ID)
	})
}

// renew handles one due subscription and returns the kinds of what it did.
func (p *Program) renew(w *ledger.Writer, id string) ([]string, error) {
	var did []string
	err := p.renewOne(w, id, func(kind string) { did = append(did, kind) })
	return did, err
}

func (p *Program) renewOne(w *ledger.Writer, id string, did func(kind string)) error {
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
		did(TickEnded)
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
		did(TickEnded)
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
		if err := emitSub(w, EventRenewed, &s, p.paidData(&s)); err != nil {
			return err
		}
		did(TickRenewed)
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
			if err := emitSub(w, EventRenewalFailed, &s, subData{Tier: tier.ID, Amount: tier.Price.StringFixed(p.rules.Asset.Precision),
				Asset: p.rules.Asset.Code, GraceUntil: &until}); err != nil {
				return err
			}
			did(TickGraceStarted)
		}
		if !now.Before(s.GraceUntil) {
			p.recordGrace(&s, now)
			if err := p.end(w, &s, s.GraceUntil, "renewal failed"); err != nil {
				return err
			}
			did(TickEnded)
			break
		}
		next := s.GraceUntil
		if retry := p.rules.RetryEvery.D(); retry < s.GraceUntil.Sub(now) {
			next = now.Add(retry)
		}
		if err := scheduleAfter(w, id, next, now); err != nil {
			return err
		}
		if !started {
			did(TickRetried)
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
