package referral

import (
	"context"
	"errors"
	"fmt"
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

// RecordPurchaseRequest reports a member's purchase in the shop.
type RecordPurchaseRequest struct {
	// EventID makes the report idempotent: a retry replays the result.
	EventID string `json:"event_id"`
	// Member made the purchase (the actor).
	Member string `json:"member"`
	// PurchaseID is the shop's ID of the purchase; a refund names it.
	PurchaseID string `json:"purchase_id"`
}

// RecordPurchase records a member's purchase. With Rules.RequirePurchase,
// an invitee's first purchase earns the referrer the signup reward: it is
// held on the campaign budget until the return window ends (Tick pays it)
// and a refund inside the window cancels it. The reward counts against
// the referrer's daily earning cap on the day of the purchase. Other
// purchases, and purchases of members who were not invited, change
// nothing. A purchase recorded under another event ID is
// ErrIdempotencyConflict.
func (p *Program) RecordPurchase(ctx context.Context, req RecordPurchaseRequest) (PurchaseResult, error) {
	return kit.Run(ctx, p.l, func(w *ledger.Writer) (PurchaseResult, error) { return p.RecordPurchaseIn(w, req) })
}

// RecordPurchaseIn is RecordPurchase inside the caller's unit of work w, so
// that the shop's own writes for the purchase (its payment, its order) and
// the referral reward it earns are one all-or-nothing unit: if the reward
// is refused, the caller returns the error and nothing of the purchase is
// kept either (see the package doc, "Units of work").
func (p *Program) RecordPurchaseIn(w *ledger.Writer, req RecordPurchaseRequest) (PurchaseResult, error) {
	memberID, purchaseID := req.Member, req.PurchaseID
	if err := checkIDs("event id", req.EventID, "member", memberID, "purchase", purchaseID); err != nil {
		return PurchaseResult{}, err
	}
	args := purchaseRequest{Member: memberID, Purchase: purchaseID}
	res, replayed, err := once(w, p, "purchase", req.EventID, args, func(w *ledger.Writer) (PurchaseResult, error) {
		return p.purchase(w, memberID, purchaseID)
	})
	if err != nil {
		return PurchaseResult{}, fail(err, "purchase %s of %s", purchaseID, memberID)
	}
	res.Replayed = replayed
	return res, nil
}

func (p *Program) purchase(w *ledger.Writer, memberID, purchaseID string) (PurchaseResult, error) {
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
	if err := p.mayPayFor(w, inv, true); err != nil {
		return PurchaseResult{}, err
	}
	var rs referrerState
	if _, err := loadJSON(w, kindReferrer, p.id(inv.Referrer), &rs); err != nil {
		return PurchaseResult{}, err
	}
	if p.rules.MaxRewardedInvitees > 0 && rs.Rewarded >= p.rules.MaxRewardedInvitees {
		return PurchaseResult{}, ledger.Refuse(ErrCapReached, "max_rewarded_invitees", "%s was rewarded for %d invitees", inv.Referrer, rs.Rewarded)
	}
	if err := p.checkGrant(w, inv.Referrer, RewardSignup, memberID, p.rules.SignupReward, true); err != nil {
		return PurchaseResult{}, err
	}
	now := w.Now()
	release, err := ledger.AddDuration("end of the return window", now, p.rules.ReturnWindow.D())
	if err != nil {
		return PurchaseResult{}, err
	}
	expires, err := ledger.AddDuration("hold expiry", release, p.rules.HoldMargin.D())
	if err != nil {
		return PurchaseResult{}, err
	}
	if err := w.InsertRecord(kindPurchase, p.id(purchaseID), []byte(strconv.Quote(memberID))); err != nil {
		if errors.Is(err, ledger.ErrDuplicate) {
			return PurchaseResult{}, fmt.Errorf("%w: purchase %s was recorded by another event: %w", ErrIdempotencyConflict, purchaseID, ledger.ErrIdempotencyConflict)
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
			return PurchaseResult{}, fmt.Errorf("%w: signup reward of %s %s: %w", ErrBudgetExhausted, p.rules.SignupReward, p.rules.Asset.Code, err)
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
	if err := p.emitReward(w, EventRewardHeld, inv.heldReward(p.rules.SignupReward)); err != nil {
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

// RecordRefundRequest reports a refund of a purchase.
type RecordRefundRequest struct {
	// EventID makes the report idempotent: a retry replays the result.
	EventID string `json:"event_id"`
	// Actor records the refund: the staff member or the shop's service
	// account, who must hold kit.RoleRiskOfficer.
	Actor string `json:"actor"`
	// PurchaseID is the refunded purchase, as RecordPurchase named it.
	PurchaseID string `json:"purchase_id"`
}

// RecordRefund records, on behalf of the actor, a refund of a purchase. A
// refund inside the return window of the purchase that earned a held
// reward voids the hold, cancels the reward and takes it out of the
// referrer's daily earning count (the cap counts only what is kept); after
// the window the reward stands.
//
// Cancelling a reward is a privileged action: the actor must hold
// kit.RoleRiskOfficer, checked on every call, and be neither the referrer
// nor the invitee; otherwise the call is ledger.ErrForbidden and changes
// nothing. A retry under the same event id replays the first result.
func (p *Program) RecordRefund(ctx context.Context, req RecordRefundRequest) (RefundResult, error) {
	return kit.Run(ctx, p.l, func(w *ledger.Writer) (RefundResult, error) { return p.RecordRefundIn(w, req) })
}

// RecordRefundIn is RecordRefund inside the caller's unit of work w (see
// the package doc, "Units of work").
func (p *Program) RecordRefundIn(w *ledger.Writer, req RecordRefundRequest) (RefundResult, error) {
	purchaseID := req.PurchaseID
	if err := checkIDs("event id", req.EventID, "purchase", purchaseID); err != nil {
		return RefundResult{}, err
	}
	if err := kit.Authorize(w.Context(), p.roles, req.Actor, kit.RoleRiskOfficer); err != nil {
		return RefundResult{}, fail(err, "refund of %s", purchaseID)
	}
	res, replayed, err := once(w, p, "refund", req.EventID, refundRequest{Purchase: purchaseID}, func(w *ledger.Writer) (RefundResult, error) {
		return p.refund(w, req.Actor, purchaseID)
	})
	if err != nil {
		return RefundResult{}, fail(err, "refund of %s", purchaseID)
	}
	res.Replayed = replayed
	return res, nil
}

func (p *Program) refund(w *ledger.Writer, actor, purchaseID string) (RefundResult, error) {
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
	if err := kit.Authorize(w.Context(), p.roles, actor, kit.RoleRiskOfficer, inv.Referrer, inv.Invitee); err != nil {
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
		d := inv.heldReward(p.rules.SignupReward)
		d.Actor = actor
		if err := p.emitReward(w, EventRewardClawedBack, d); err != nil {
			return res, err
		}
		res.Cancelled = true
	}
	res.Invite = &inv
	return res, nil
}

// Kinds of the items Tick reports (kit.TickReport). Done items:
const (
	// ItemReleased: a held signup reward was paid to the referrer; the ID
	// is the invitee.
	ItemReleased = "referral.released"
	// ItemUnfunded: a held reward whose hold had expired could not be paid
	// from the budget; the invite ends StatusUnfunded, never silently. The
	// ID is the invitee.
	ItemUnfunded = "referral.unfunded"
	// ItemTierBonus: a tier bonus a release reached was paid; the ID is
	// "<referrer>:<invitees of the tier>".
	ItemTierBonus = "referral.tier_bonus"
	// ItemTierUnfunded: a tier bonus a release reached could not be paid
	// from the budget; the tier is settled unpaid. The ID is as for
	// ItemTierBonus.
	ItemTierUnfunded = "referral.tier_unfunded"
)

// Kinds of the items Tick could not handle (kit.TickReport.Failed). Each
// stays due and every Tick tries it again.
const (
	// ItemWithheld: a held reward whose return window has ended was not
	// paid because the kill switch is on for the referrer's or the
	// invitee's country, or the referrer is not eligible to earn (or no
	// longer known): the error is the refusal (ErrCountryDisabled,
	// ErrIneligible, ErrUnknownMember, kit.ErrMemberFacts). The reward
	// stays held; once the switch is off (and the referrer eligible) it is
	// paid, from the hold while it lasts and from the budget after it
	// expired. The ID is the invitee.
	ItemWithheld = "referral.withheld"
	// ItemRelease: a release failed for another reason (the store, a
	// damaged record); its writes were undone. The ID is the invitee.
	ItemRelease = "referral.release"
)

// releaseOutcome is what one release did.
type releaseOutcome struct {
	released bool
	unfunded bool
	withheld error
	report   kit.TickReport // tier bonuses paid and unfunded
}

// Tick pays the held rewards whose return window has ended (with the tier
// bonuses they reach), each in a unit of work of its own, at the ledger
// clock's now. It reports each item by kind (ItemReleased, ItemUnfunded,
// ItemTierBonus, ItemTierUnfunded) and ID; a reward the kill switch or the
// referrer's eligibility keeps from being paid is in Failed as
// ItemWithheld with the refusal, one whose release failed as ItemRelease;
// the others go on. It does not tick the ledger (the scheduler that runs
// the programs does, once): the order of the two does not matter, since a
// hold found expired but not yet released is voided and the reward paid
// from the budget. Running Tick twice at the same time changes nothing the
// second time. err is for the run as a whole (the store, the context, a
// clock out of range); then the report may be incomplete and a later Tick
// goes on.
func (p *Program) Tick(ctx context.Context) (kit.TickReport, error) {
	var rep kit.TickReport
	// Only releases whose batch committed are reported (kit.EachDueDo).
	_, failed, err := kit.EachDueDo(ctx, p.l, dueRelease+p.rules.Campaign, p.l.Clock().Now(), func(w *ledger.Writer, e ledger.DueEntry) (releaseOutcome, error) {
		return p.release(w, e.ID)
	}, func(e ledger.DueEntry, out releaseOutcome) {
		switch {
		case out.released:
			rep.Add(ItemReleased, e.ID)
		case out.unfunded:
			rep.Add(ItemUnfunded, e.ID)
		case out.withheld != nil:
			rep.Failed = append(rep.Failed, kit.ItemError{Kind: ItemWithheld, ID: e.ID, Err: out.withheld})
		}
		rep.Merge(out.report)
	})
	for _, f := range failed {
		rep.Failed = append(rep.Failed, kit.ItemError{Kind: ItemRelease, ID: f.ID, Err: fail(f.Err, "release of %s's reward", f.ID)})
	}
	if err != nil {
		return rep, fail(err, "tick")
	}
	return rep, nil
}

// release settles one held reward whose return window has ended.
func (p *Program) release(w *ledger.Writer, invitee string) (releaseOutcome, error) {
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
	if err := p.mayPayFor(w, inv, false); err != nil {
		if !refusal(err) {
			return out, err
		}
		out.withheld = fail(err, "%s's reward for %s", inv.Referrer, invitee)
		return out, nil
	}
	amount := p.rules.SignupReward
	to, err := kit.OpenWallet(w, p.wallets, inv.Referrer)
	if err != nil {
		return out, err
	}
	rid := p.id(RewardSignup, inv.Referrer, invitee)
	meta := p.meta(RewardSignup, inv.Referrer, invitee)
	leg, err := p.expiringLeg(w, ledger.Leg{To: to, Amount: amount})
	if err != nil {
		return out, err
	}
	_, err = w.Capture(ledger.CaptureRequest{Key: "referral:" + rid, Hold: inv.HoldID, Final: true,
		Destinations: []ledger.Leg{leg}, Metadata: meta})
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
			out.unfunded = true
			if err := p.uncount(w, inv); err != nil {
				return out, err
			}
			if err := w.SaveJSON(kindInvite, p.id(invitee), inv); err != nil {
				return out, err
			}
			if err := p.emitReward(w, EventRewardUnfunded, inv.heldReward(amount)); err != nil {
				return out, err
			}
			return out, w.Unschedule(dueRelease+p.rules.Campaign, invitee)
		}
		reward, perr := p.expiring(w, ledger.Posting{From: p.budget, To: to, Asset: p.rules.Asset.Code, Amount: amount})
		if perr != nil {
			return out, perr
		}
		_, err = w.Post(ledger.TransferRequest{Key: "referral:" + rid, Postings: []ledger.Posting{reward}, Metadata: meta})
	}
	if err != nil {
		return out, err
	}
	if err := p.addSpent(w, p.units(amount)); err != nil {
		return out, err
	}
	// Emitted before the tier bonuses the release reaches: TxID is the
	// reward's payment.
	if err := p.emitReward(w, EventRewardReleased, inv.heldReward(amount)); err != nil {
		return out, err
	}
	var rs referrerState
	if err := w.LoadJSON(kindReferrer, p.id(inv.Referrer), &rs); err != nil {
		return out, err
	}
	rs.Paid++
	tiers, refused, err := p.tierGrants(w, inv.Referrer, &rs, false)
	if err != nil {
		return out, err
	}
	for _, g := range tiers {
		out.report.Add(ItemTierBonus, inv.Referrer+":"+g.Subject)
	}
	for _, tier := range refused {
		out.report.Add(ItemTierUnfunded, inv.Referrer+":"+tier)
	}
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
