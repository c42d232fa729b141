package payout

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger"
)

// kindOutstanding is the record of what a member still owes for reversed
// payouts: <provider>:<member> -> OutstandingRecovery.
const kindOutstanding = "payout.outstanding_recovery"

// ReversalAccount receives what reversed payouts took back from their
// members (see StatusReversed).
func ReversalAccount(provider string) string { return "payout:" + provider + ":reversals" }

// settleReleased settles a payout the provider did not pay — failed,
// returned (by the provider's report or after Rules.UnclaimedReturnAfter)
// or blocked: the hold is voided, so the funds are the member's again,
// and the event of the outcome is emitted. reason says why the program
// decided it itself ("" when the provider reported it).
func (p *Program) settleReleased(w *ledger.Writer, po *Payout, o Outcome, now time.Time, reason string) error {
	if err := p.release(w, po); err != nil {
		return err
	}
	status, typ := StatusFailed, EventFailed
	switch o {
	case OutcomeReturned:
		status, typ = StatusReturned, EventReturned
	case OutcomeBlocked:
		status, typ = StatusBlocked, EventBlocked
	}
	po.Status, po.SettledAt = status, now
	if reason != "" {
		po.Reason = reason
	}
	return p.emitPayout(w, typ, po, false, payoutData{Reference: po.Reference, Reason: reason})
}

// unclaimedReturnAt is when an unclaimed payout is given back without the
// provider's report: Rules.UnclaimedReturnAfter after it was first
// reported unclaimed. ok is false when the rule is off or the payout is
// not unclaimed.
func (p *Program) unclaimedReturnAt(po *Payout) (at time.Time, ok bool, err error) {
	after := p.rules.UnclaimedReturnAfter.D()
	if after <= 0 || po.Status != StatusUnclaimed || po.UnclaimedAt.IsZero() {
		return time.Time{}, false, nil
	}
	at, err = ledger.AddDuration("unclaimed return time", po.UnclaimedAt, after)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("rule unclaimed_return_after: %w", err)
	}
	return at, true, nil
}

// returnUnclaimed gives an unclaimed payout's funds back to the member
// once Rules.UnclaimedReturnAfter has passed since it was first reported
// unclaimed, whatever the provider answers meanwhile (still unclaimed, or
// nothing): the provider returns such a payment by then (PayPal after 30
// days). The payout is "returned", as if the provider had said so, and a
// RETURNED reported later changes nothing.
func (p *Program) returnUnclaimed(w *ledger.Writer, po *Payout, now time.Time) (Payout, error) {
	reason := fmt.Sprintf("not claimed within unclaimed_return_after (%s)", p.rules.UnclaimedReturnAfter)
	if err := p.settleReleased(w, po, OutcomeReturned, now, reason); err != nil {
		return Payout{}, err
	}
	if err := p.sends.Done(w, po.ID); err != nil {
		return Payout{}, err
	}
	return *po, w.SaveJSON(kindPayout, p.id(po.ID), *po)
}

// recordAfterSettled records a pushed outcome for a payout already
// settled. A reversal of a paid payout is the one change left; anything
// else either repeats what is recorded (a late earlier state, the same
// side of paid and not paid) and changes nothing, or contradicts it and is
// ErrOutcomeContradiction, with nothing written.
func (p *Program) recordAfterSettled(w *ledger.Writer, po *Payout, n RecordOutcomeRequest) (Payout, error) {
	contradiction := func() (Payout, error) {
		return Payout{}, fmt.Errorf("%w: %w: payout %s is %s; the provider reports %s", ErrOutcomeContradiction, ErrWrongState, po.ID, po.Status, n.Outcome)
	}
	paidSide := po.Status == StatusPaid || po.Status == StatusReversed
	switch {
	case n.Outcome == OutcomeReversed && po.Status == StatusPaid:
		now, err := clockNow(w)
		if err != nil {
			return Payout{}, err
		}
		po.UpdatedAt, po.ReportedAt = now, now
		if !n.At.IsZero() {
			po.ReportedAt = n.At
		}
		if n.Reference != "" {
			po.Reference = n.Reference
		}
		if err := p.reverse(w, po, now); err != nil {
			return Payout{}, err
		}
		return *po, w.SaveJSON(kindPayout, p.id(po.ID), *po)
	case !n.Outcome.final():
		return *po, nil // an earlier state delivered late
	case po.Status == StatusRejected:
		return contradiction() // never sent
	case n.Outcome.paid() == paidSide:
		// Paid again, a late success after a reversal, a reversal
		// delivered twice, or one refusal after another.
		return *po, nil
	}
	return contradiction()
}

// reverse records the reversal of a paid payout, in the unit of work that
// records it paid or a later one, exactly once (the caller saw it paid):
// the provider took the payment back, and the program takes what was paid
// out (Amount, in the source asset) back from the source: as far as the
// source has it available, to ReversalAccount, never into an overdraft;
// the rest is Outstanding, added to the member's OutstandingRecovery.
// The caller saves the payout.
func (p *Program) reverse(w *ledger.Writer, po *Payout, now time.Time) error {
	code := po.Rule.From
	a, err := w.Asset(code)
	if err != nil {
		return err
	}
	want, err := a.Units(po.Amount)
	if err != nil {
		return err
	}
	take := int64(0)
	b, err := w.Balance(po.source(), code)
	switch {
	case errors.Is(err, ledger.ErrUnknownAccount):
	case err != nil:
		return err
	default:
		avail, err := a.Units(b.Available)
		if err != nil {
			return err
		}
		take = min(max(avail, 0), want)
	}
	if take > 0 {
		_, err := w.Post(ledger.TransferRequest{Key: "payout:" + p.id("reverse:"+po.ID),
			Postings: []ledger.Posting{{From: po.source(), To: ReversalAccount(p.rules.Provider), Asset: code, Amount: a.Amount(take)}},
			Metadata: map[string]string{"program": "payout", "payout": po.ID, "member": po.Member, "reason": "reversed"}})
		if err != nil {
			return err
		}
	}
	po.Status, po.ReversedAt, po.UpdatedAt = StatusReversed, now, now
	po.Recovered, po.Outstanding = a.Amount(take), a.Amount(want-take)
	if want > take {
		if err := p.addOutstanding(w, po, now); err != nil {
			return err
		}
	}
	d := payoutData{Reference: po.Reference, Recovered: po.Recovered.StringFixed(a.Precision)}
	if po.Outstanding.Sign() > 0 {
		d.Outstanding = po.Outstanding.StringFixed(a.Precision)
	}
	return p.emitPayout(w, EventReversed, po, false, d)
}

// OutstandingRecovery is what a member still owes for reversed payouts:
// the part of each that the source no longer held when the reversal was
// recorded. Nothing recovers it automatically yet; it is the list a
// finance team works from.
type OutstandingRecovery struct {
	Member string `json:"member"`
	// Items lists each reversed payout's outstanding amount, oldest first.
	Items []OutstandingItem `json:"items"`
}

// OutstandingItem is one reversed payout's outstanding amount.
type OutstandingItem struct {
	PayoutID string          `json:"payout"`
	Asset    string          `json:"asset"`
	Amount   decimal.Decimal `json:"amount"`
	At       time.Time       `json:"at"`
}

// Total returns the outstanding amount of an asset.
func (o OutstandingRecovery) Total(asset string) decimal.Decimal {
	sum := decimal.Zero
	for _, it := range o.Items {
		if it.Asset == asset {
			sum = sum.Add(it.Amount)
		}
	}
	return sum
}

func (p *Program) addOutstanding(w *ledger.Writer, po *Payout, now time.Time) error {
	var o OutstandingRecovery
	if _, err := load(w, kindOutstanding, p.id(po.Member), &o); err != nil {
		return err
	}
	o.Member = po.Member
	o.Items = append(o.Items, OutstandingItem{PayoutID: po.ID, Asset: po.Rule.From, Amount: po.Outstanding, At: now})
	return w.SaveJSON(kindOutstanding, p.id(po.Member), o)
}

// Outstanding returns what a member still owes for reversed payouts (no
// items when nothing).
func (p *Program) Outstanding(ctx context.Context, memberID string) (OutstandingRecovery, error) {
	if err := checkID("member", memberID); err != nil {
		return OutstandingRecovery{}, err
	}
	o := OutstandingRecovery{Member: memberID}
	err := p.l.View(ctx, func(r *ledger.Reader) error {
		err := r.LoadJSON(kindOutstanding, p.id(memberID), &o)
		if errors.Is(err, ledger.ErrNotFound) {
			return nil
		}
		return err
	})
	return o, err
}
