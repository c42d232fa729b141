package referral

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
)

// PurchaseResult is what recording a purchase did.
type PurchaseResult struct {
	// Qualifying: this was the invitee's first purchase and the reward is
	// now held until ReleaseAt.
	Qualifying bool      `json:"qualifying"`
	HoldID     uint64    `json:"hold_id,omitempty"`
	ReleaseAt  time.Time `json:"release_at,omitempty"`
	Invite     *Invite   `json:"invite,omitempty"`
	// Replayed: the event was processed before; this is its result as it
	// was then, and nothing changed now.
	Replayed bool `json:"-"`
}

type purchaseRequest struct {
	Member   string `json:"member"`
	Purchase string `json:"purchase"`
}

// RecordPurchase records a member's purchase. With Rules.RequirePurchase,
// an invitee's first purchase earns the referrer the signup reward: it is
// held on the campaign budget until the return window ends (Tick pays it)
// and a refund inside the window cancels it. The reward counts against
// the referrer's daily earning cap on the day of the purchase. Other
// purchases, and purchases of members who were not invited, change
// nothing.
func (p *Program) RecordPurchase(ctx context.Context, eventID, memberID, purchaseID string) (PurchaseResult, error) {
	if err := checkIDs("event id", eventID, "member", memberID, "purchase", purchaseID); err != nil {
		return PurchaseResult{}, err
	}
	req := purchaseRequest{Member: memberID, Purchase: purchaseID}
	res, replayed, err := run(ctx, p, "purchase", eventID, req, func(w *ledger.Writer) (PurchaseResult, error) {
		return p.purchase(ctx, w, memberID, purchaseID)
	})
	if err != nil {
		return PurchaseResult{}, fmt.Errorf("purchase %s of %s: %w", purchaseID, memberID, err)
	}
	res.Replayed = replayed
	return res, nil
}

func (p *Program) purchase(ctx context.Context, w *ledger.Writer, memberID, purchaseID string) (PurchaseResult, error) {
	if !p.rules.RequirePurchase {
		return PurchaseResult{}, nil
	}
	inv, err := p.loadInvite(w, memberID)
	if errors.Is(err, ErrNotInvited) {
		return PurchaseResult{}, nil
	}
	if err != nil {
		return PurchaseResult{}, err
	}
	if inv.Status != StatusAwaitingPurchase {
		return PurchaseResult{}, nil
	}
	if err := p.mayPayFor(ctx, w, inv, true); err != nil {
		return PurchaseResult{}, err
	}
	var rs referrerState
	if _, err := loadJSON(w, kindReferrer, p.id(inv.Referrer), &rs); err != nil {
		return PurchaseResult{}, err
	}
	if p.rules.MaxRewardedInvitees > 0 && rs.Rewarded >= p.rules.MaxRewardedInvitees {
		return PurchaseResult{}, fmt.Errorf("%w: rule max_rewarded_invitees: %s was rewarded for %d invitees", ErrCapReached, inv.Referrer, rs.Rewarded)
	}
	if err := p.checkGrant(w, inv.Referrer, RewardSignup, memberID, p.rules.SignupReward, true); err != nil {
		return PurchaseResult{}, err
	}
	now := w.Now()
	release, err := ledger.AddDuration("end of the return window", now, time.Duration(p.rules.ReturnWindow))
	if err != nil {
		return PurchaseResult{}, err
	}
	expires, err := ledger.AddDuration("hold expiry", release, time.Duration(p.rules.HoldMargin))
	if err != nil {
		return PurchaseResult{}, err
	}
	if err := w.InsertRecord(kindPurchase, p.id(purchaseID), []byte(strconv.Quote(memberID))); err != nil {
		if errors.Is(err, ledger.ErrDuplicate) {
			return PurchaseResult{}, fmt.Errorf("%w: purchase %s was recorded by another event", ErrEventConflict, purchaseID)
		}
		return PurchaseResult{}, err
	}
	if err := w.InsertRecord(kindReward, p.id(RewardSignup, inv.Referrer, memberID), []byte("{}")); err != nil {
		return PurchaseResult{}, err
	}
	h, err := w.Hold(ledger.HoldRequest{
		Key: "referral:" + p.id("hold", memberID), Account: p.budget, Asset: p.rules.Asset.Code,
		Amount: p.rules.SignupReward, ExpiresAt: expires, Metadata: p.meta(RewardSignup, inv.Referrer, memberID),
	})
	if err != nil {
		if errors.Is(err, ledger.ErrInsufficientFunds) {
			return PurchaseResult{}, fmt.Errorf("%w: %w", ErrBudgetExhausted, err)
		}
		return PurchaseResult{}, err
	}
	day := p.day(now)
	if err := p.addEarned(w, inv.Referrer, day, p.units(p.rules.SignupReward)); err != nil {
		return PurchaseResult{}, err
	}
	rs.Rewarded++
	if err := w.SaveJSON(kindReferrer, p.id(inv.Referrer), rs); err != nil {
		return PurchaseResult{}, err
	}
	inv.Status, inv.Purchase, inv.HoldID, inv.ReleaseAt, inv.CountedOn = StatusHeld, purchaseID, h.ID, release, day
	if err := w.SaveJSON(kindInvite, p.id(memberID), inv); err != nil {
		return PurchaseResult{}, err
	}
	if err := w.Schedule(dueRelease+p.rules.Campaign, memberID, release); err != nil {
		return PurchaseResult{}, err
	}
	return PurchaseResult{Qualifying: true, HoldID: h.ID, ReleaseAt: release, Invite: &inv}, nil
}

// uncount takes a held reward that was not kept (refunded, or never
// funded) out of the daily earning count of the day it was counted on, and
// out of the referrer's rewarded invitees.
func (p *Program) uncount(w *ledger.Writer, inv Invite) error {
	if inv.CountedOn != "" {
		if err := p.addEarned(w, inv.Referrer, inv.CountedOn, -p.units(p.rules.SignupReward)); err != nil {
			return err
		}
	}
	var rs referrerState
	if err := w.LoadJSON(kindReferrer, p.id(inv.Referrer), &rs); err != nil {
		return err
	}
	rs.Rewarded = max(rs.Rewarded-1, 0)
	return w.SaveJSON(kindReferrer, p.id(inv.Referrer), rs)
}

// RefundResult is what recording a refund did.
type RefundResult struct {
	// Cancelled: the refund fell inside the return window of the purchase
	// that earned a held reward, and the reward is cancelled.
	Cancelled bool    `json:"cancelled"`
	Reason    string  `json:"reason,omitempty"` // why nothing was cancelled
	Invite    *Invite `json:"invite,omitempty"`
	// Replayed: the event was processed before; this is its result as it
	// was then, and nothing changed now.
	Replayed bool `json:"-"`
}

type refundRequest struct {
	Purchase string `json:"purchase"`
}

// RecordRefund records, on behalf of actor, a refund of a purchase. A
// refund inside the return window of the purchase that earned a held
// reward voids the hold, cancels the reward and takes it out of the
// referrer's daily earning count (the cap counts only what is kept); after
// the window the reward stands.
//
// Cancelling a reward is a privileged action: actor (the staff member or
// the shop's service account that records refunds) must hold
// kit.RoleRiskOfficer, checked on every call, and be neither the referrer
// nor the invitee; otherwise the call is ledger.ErrForbidden and changes
// nothing. A retry under the same event id replays the first result.
func (p *Program) RecordRefund(ctx context.Context, eventID, actor, purchaseID string) (RefundResult, error) {
	if err := checkIDs("event id", eventID, "purchase", purchaseID); err != nil {
		return RefundResult{}, err
	}
	if err := kit.Authorize(ctx, p.roles, actor, kit.RoleRiskOfficer); err != nil {
		return RefundResult{}, fmt.Errorf("refund of %s: %w", purchaseID, err)
	}
	res, replayed, err := run(ctx, p, "refund", eventID, refundRequest{Purchase: purchaseID}, func(w *ledger.Writer) (RefundResult, error) {
		return p.refund(ctx, w, actor, purchaseID)
	})
	if err != nil {
		return RefundResult{}, fmt.Errorf("refund of %s: %w", purchaseID, err)
	}
	res.Replayed = replayed
	return res, nil
}

func (p *Program) refund(ctx context.Context, w *ledger.Writer, actor, purchaseID string) (RefundResult, error) {
	var res RefundResult
	var invitee string
	if ok, err := loadJSON(w, kindPurchase, p.id(purchaseID), &invitee); err != nil {
		return res, err
	} else if !ok {
		res.Reason = "purchase earned no reward"
		return res, nil
	}
	inv, err := p.loadInvite(w, invitee)
	if err != nil {
		return res, err
	}
	if err := kit.Authorize(ctx, p.roles, actor, kit.RoleRiskOfficer, inv.Referrer, inv.Invitee); err != nil {
		return res, err
	}
	switch {
	case inv.Status != StatusHeld:
		res.Reason = "reward already " + string(inv.Status)
	case !w.Now().Before(inv.ReleaseAt):
		res.Reason = "return window over"
	default:
		if _, err := w.Void(inv.HoldID); err != nil {
			return res, err
		}
		if err := w.Unschedule(dueRelease+p.rules.Campaign, invitee); err != nil {
			return res, err
		}
		if err := p.uncount(w, inv); err != nil {
			return res, err
		}
		inv.Status = StatusCancelled
		if err := w.SaveJSON(kindInvite, p.id(invitee), inv); err != nil {
			return res, err
		}
		res.Cancelled = true
	}
	res.Invite = &inv
	return res, nil
}

// TickReport says what Tick did.
type TickReport struct {
	Released int     // held rewards paid because their return window ended
	Grants   []Grant // rewards and tier bonuses paid
	// Refused lists tier bonuses and late rewards the budget could not
	// pay (such an invite ends StatusUnfunded).
	Refused []string
	// Withheld lists held rewards whose return window has ended but which
	// were not paid because the kill switch is on for the referrer's or
	// the invitee's country, or the referrer is not eligible to earn (or
	// no longer known). They stay held and due, and every Tick tries them
	// again; once the switch is off (and the referrer eligible) they are
	// paid, from the hold while it lasts and from the budget after it
	// expired.
	Withheld []string
	// Failed lists releases that failed for another reason; their writes
	// were undone and the next Tick tries them again.
	Failed       []kit.ItemError
	HoldsExpired int // holds the ledger released (ledger.Tick)
}

// releaseOutcome is what one release did.
type releaseOutcome struct {
	released bool
	withheld string
	grants   []Grant
	refused  []string
}

// Tick pays the held rewards whose return window has ended (with the tier
// bonuses they reach), each in a unit of work of its own, then lets the
// ledger release expired holds. A reward the kill switch or the referrer's
// eligibility keeps from being paid is withheld (TickReport.Withheld); one
// whose release fails is reported in TickReport.Failed; the others go on.
// The order of the releases and the ledger's Tick does not matter: a hold
// found expired but not yet released is voided and the reward paid from
// the budget. Running Tick twice at the same time changes nothing the
// second time. err is for the run as a whole (the store, the context, a
// clock out of range); then the report may be incomplete and a later Tick
// goes on.
func (p *Program) Tick(ctx context.Context) (TickReport, error) {
	var rep TickReport
	outcomes := map[string]releaseOutcome{}
	_, failed, err := kit.EachDue(ctx, p.l, dueRelease+p.rules.Campaign, p.l.Clock().Now(), func(w *ledger.Writer, e ledger.DueEntry) error {
		out, err := p.release(ctx, w, e.ID)
		if err != nil {
			return err
		}
		outcomes[e.ID] = out // a batch retried whole runs this again: keep the last
		return nil
	})
	rep.Failed = failed
	for _, f := range failed {
		delete(outcomes, f.ID)
	}
	ids := make([]string, 0, len(outcomes))
	for id := range outcomes {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		out := outcomes[id]
		if out.released {
			rep.Released++
		}
		rep.Grants = append(rep.Grants, out.grants...)
		rep.Refused = append(rep.Refused, out.refused...)
		if out.withheld != "" {
			rep.Withheld = append(rep.Withheld, out.withheld)
		}
	}
	if err != nil {
		return rep, fmt.Errorf("tick: %w", err)
	}
	n, err := p.l.Tick(ctx)
	rep.HoldsExpired = n
	if err != nil {
		return rep, fmt.Errorf("tick: %w", err)
	}
	return rep, nil
}

// release settles one held reward whose return window has ended.
func (p *Program) release(ctx context.Context, w *ledger.Writer, invitee string) (releaseOutcome, error) {
	var out releaseOutcome
	inv, err := p.loadInvite(w, invitee)
	if err != nil {
		return out, err
	}
	if inv.Status != StatusHeld {
		return out, w.Unschedule(dueRelease+p.rules.Campaign, invitee)
	}
	if w.Now().Before(inv.ReleaseAt) {
		return out, nil // the clock stepped back; the entry stays due
	}
	// Nothing is paid to or for a member the kill switch covers, nor to a
	// referrer who may not earn now (the campaign window does not apply:
	// the reward was earned inside it). The reward stays held and due.
	if err := p.mayPayFor(ctx, w, inv, false); err != nil {
		if !refusal(err) {
			return out, err
		}
		out.withheld = fmt.Sprintf("%s's reward for %s: %v", inv.Referrer, invitee, err)
		return out, nil
	}
	amount := p.rules.SignupReward
	to, err := kit.OpenWallet(w, p.wallets, inv.Referrer)
	if err != nil {
		return out, err
	}
	rid := p.id(RewardSignup, inv.Referrer, invitee)
	meta := p.meta(RewardSignup, inv.Referrer, invitee)
	t, err := w.Capture(ledger.CaptureRequest{Key: "referral:" + rid, Hold: inv.HoldID, Final: true,
		Destinations: []ledger.Leg{{To: to, Amount: amount}}, Metadata: meta})
	if errors.Is(err, ledger.ErrHoldExpired) {
		// Past its expiry but not yet released by the ledger's Tick: the
		// hold still counts against the budget until released, so release
		// it now, in this unit of work, and pay from the budget below.
		if _, verr := w.Void(inv.HoldID); verr != nil {
			return out, verr
		}
		err = ledger.ErrHoldClosed
	}
	if errors.Is(err, ledger.ErrHoldClosed) {
		// The hold went back to the budget: pay from the budget if it
		// still can.
		b, berr := w.Balance(p.budget, p.rules.Asset.Code)
		if berr != nil {
			return out, berr
		}
		if b.Available.LessThan(amount) {
			inv.Status = StatusUnfunded
			out.refused = append(out.refused, fmt.Sprintf("%v: late release of %s's reward for %s: %s has %s available",
				ErrBudgetExhausted, inv.Referrer, invitee, p.budget, b.Available))
			if err := p.uncount(w, inv); err != nil {
				return out, err
			}
			if err := w.SaveJSON(kindInvite, p.id(invitee), inv); err != nil {
				return out, err
			}
			return out, w.Unschedule(dueRelease+p.rules.Campaign, invitee)
		}
		t, err = w.Post(ledger.TransferRequest{Key: "referral:" + rid,
			Postings: []ledger.Posting{{From: p.budget, To: to, Asset: p.rules.Asset.Code, Amount: amount}}, Metadata: meta})
	}
	if err != nil {
		return out, err
	}
	if err := p.addSpent(w, p.units(amount)); err != nil {
		return out, err
	}
	out.grants = append(out.grants, Grant{Kind: RewardSignup, Member: inv.Referrer, Subject: invitee, Amount: amount, Transaction: t.ID})
	var rs referrerState
	if err := w.LoadJSON(kindReferrer, p.id(inv.Referrer), &rs); err != nil {
		return out, err
	}
	rs.Paid++
	tiers, refused, err := p.tierGrants(w, inv.Referrer, &rs, false)
	if err != nil {
		return out, err
	}
	out.grants = append(out.grants, tiers...)
	out.refused = append(out.refused, refused...)
	if err := w.SaveJSON(kindReferrer, p.id(inv.Referrer), rs); err != nil {
		return out, err
	}
	inv.Status = StatusPaid
	if err := w.SaveJSON(kindInvite, p.id(invitee), inv); err != nil {
		return out, err
	}
	out.released = true
	return out, w.Unschedule(dueRelease+p.rules.Campaign, invitee)
}
