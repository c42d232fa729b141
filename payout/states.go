package payout

import (
	"errors"
	"fmt"
	"time"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
)

// ReversalAccount receives what reversed payouts took back from their
// members (see StatusReversed).
func ReversalAccount(provider string) string { return "payout:" + provider + ":reversals" }

// ReversalLossAccount is where the default Rules.ReversalRecovery writes
// off what a reversal could neither take back nor leave as the member's
// debt: its balance (below zero) is what reversals cost the platform.
func ReversalLossAccount(provider string) string { return "payout:" + provider + ":reversal-losses" }

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
// records it paid or a later one, exactly once (the caller saw it paid;
// the clawback's key is the payout's, kit.Claw runs once per key): the
// provider took the payment back and the platform bears it, so the
// program takes what was paid out (Amount, in the source asset) back from
// the member into ReversalAccount. A source other than the wallet (a
// creator's earnings) gives first, as far as it has the amount available;
// the wallet gives the rest (kit.Claw: down to its floor, funds held for
// other payouts included); what neither has is handled by
// Rules.ReversalRecovery: the member's debt (kit.DebtAccount), repaid from
// their next rewards, or written off to the policy's loss account. The
// caller saves the payout.
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
	key := "payout:" + p.id("reverse:"+po.ID)
	meta := map[string]string{"program": "payout", "payout": po.ID, "member": po.Member, "reason": "reversed"}
	to := ReversalAccount(p.rules.Provider)
	var fromSource []ledger.Posting
	taken := int64(0)
	if src := po.source(); src != MemberAccount(po.Member) {
		b, err := w.Balance(src, code)
		if err != nil && !errors.Is(err, ledger.ErrUnknownAccount) {
			return err
		}
		if err == nil {
			avail, err := a.Units(b.Available)
			if err != nil {
				return err
			}
			taken = min(max(avail, 0), want)
		}
		if taken > 0 {
			fromSource = []ledger.Posting{{From: src, To: to, Asset: code, Amount: a.Amount(taken)}}
		}
	}
	var res kit.ClawResult
	if rest := want - taken; rest > 0 {
		res, err = kit.Claw(w, kit.ClawRequest{Program: "payout", Key: key, Member: po.Member, Asset: code, Amount: a.Amount(rest),
			To: to, Policy: p.rules.reversalRecovery(), Reason: "reversed", Postings: fromSource, Metadata: meta})
		if err != nil {
			return err
		}
	} else if _, err := w.Post(ledger.TransferRequest{Key: key, Postings: fromSource, Metadata: meta}); err != nil {
		return err
	}
	po.Status, po.ReversedAt, po.UpdatedAt = StatusReversed, now, now
	po.Recovered = a.Amount(taken).Add(res.Taken)
	po.Debt, po.WrittenOff = res.Debt, res.WrittenOff
	d := payoutData{Reference: po.Reference, Recovered: po.Recovered.StringFixed(a.Precision)}
	if po.Debt.Sign() > 0 {
		d.Debt = po.Debt.StringFixed(a.Precision)
	}
	if po.WrittenOff.Sign() > 0 {
		d.WrittenOff = po.WrittenOff.StringFixed(a.Precision)
	}
	return p.emitPayout(w, EventReversed, po, false, d)
}
