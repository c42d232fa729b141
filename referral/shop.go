package referral

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
)

// PurchaseResult is what recording a purchase did.
type PurchaseResult struct {
	// Qualifying: this was the invitee's first purchase and the reward is
	// now pending until ReleaseAt.
	Qualifying bool `json:"qualifying"`
	// HoldID is no longer set: the reward is a kit.Pending grant (Pending),
	// not a hold on the budget. Kept for callers that read it.
	HoldID uint64 `json:"hold_id,omitempty"`
	// Pending is the kit.Pending grant ID of the reward.
	Pending   string    `json:"pending,omitempty"`
	ReleaseAt time.Time `json:"release_at,omitempty"`
	Invite    *Invite   `json:"invite,omitempty"`
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
	if err := w.InsertRecord(kindPurchase, p.id(purchaseID), []byte(strconv.Quote(memberID))); err != nil {
		if errors.Is(err, ledger.ErrDuplicate) {
			return PurchaseResult{}, fmt.Errorf("%w: purchase %s was recorded by another event: %w", ErrIdempotencyConflict, purchaseID, ledger.ErrIdempotencyConflict)
		}
		return PurchaseResult{}, err
	}
	if err := w.InsertRecord(kindReward, p.id(RewardSignup, inv.Referrer, memberID), []byte("{}")); err != nil {
		return PurchaseResult{}, err
	}
	// The reward is a kit.Pending grant: it leaves the budget now for the
	// referrer's pending account (visible, not spendable) and is released
	// by Tick when the return window ends, or vetoed by a refund inside it.
	g, err := p.shopPending().Grant(w, kit.PendingGrant{ID: p.pendingID(memberID), Member: inv.Referrer, Asset: p.rules.Asset.Code,
		Amount: p.rules.SignupReward, From: p.budget, MaturesAt: release, Metadata: p.meta(RewardSignup, inv.Referrer, memberID)})
	if err != nil {
		if errors.Is(err, ledger.ErrInsufficientFunds) {
			return PurchaseResult{}, fmt.Errorf("%w: signup reward of %s %s: %w", ErrBudgetExhausted, p.rules.SignupReward, p.rules.Asset.Code, err)
		}
		return PurchaseResult{}, err
	}
	if err := p.addPending(w, p.units(p.rules.SignupReward)); err != nil {
		return PurchaseResult{}, err
	}
	day := p.day(now)
	country, err := p.countEarned(w, inv.Referrer, p.units(p.rules.SignupReward), true)
	if err != nil {
		return PurchaseResult{}, err
	}
	rs.Rewarded++
	if err := w.SaveJSON(kindReferrer, p.id(inv.Referrer), rs); err != nil {
		return PurchaseResult{}, err
	}
	inv.Status, inv.Purchase, inv.Pending, inv.ReleaseAt, inv.CountedOn, inv.CountedIn = StatusHeld, purchaseID, g.ID, release, day, country
	if err := w.SaveJSON(kindInvite, p.id(memberID), inv); err != nil {
		return PurchaseResult{}, err
	}
	if err := p.emitReward(w, EventRewardHeld, inv.heldReward(p.rules.SignupReward)); err != nil {
		return PurchaseResult{}, err
	}
	return PurchaseResult{Qualifying: true, Pending: g.ID, ReleaseAt: release, Invite: &inv}, nil
}

// clawMeta marks a reward's metadata as its clawback's.
func clawMeta(m map[string]string) map[string]string {
	m["clawback"] = "refund"
	return m
}

// shopPending is the shop variant's maturation: one kit.Pending per
// campaign, whose events are the program's own (referral.reward.held,
// .released, .clawed_back).
func (p *Program) shopPending() kit.Pending {
	return kit.Pending{Program: "referral", Scope: p.rules.Campaign, OwnEvents: true, Wallets: p.wallets,
		Expiry: p.expiry}
}

// pendingID is the kit.Pending grant ID of an invitee's held signup reward.
func (p *Program) pendingID(invitee string) string { return p.id("shop", invitee) }

// addPending counts what the campaign's pending grants hold (Budget.Held).
func (p *Program) addPending(w *ledger.Writer, u int64) error {
	var c campaignState
	if _, err := loadJSON(w, kindCampaign, p.rules.Campaign, &c); err != nil {
		return err
	}
	pending, err := kit.Add("campaign pending", c.Pending, u)
	if err != nil {
		return err
	}
	c.Pending = pending
	return w.SaveJSON(kindCampaign, p.rules.Campaign, c)
}

// uncount takes a held reward that was not kept (refunded, or never
// funded) out of the daily earning count of the day it was counted on, and
// out of the referrer's rewarded invitees.
func (p *Program) uncount(w *ledger.Writer, inv Invite) error {
	if inv.CountedOn != "" {
		if err := p.giveEarned(w, inv.Referrer, inv.CountedOn, inv.CountedIn, p.units(p.rules.SignupReward)); err != nil {
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
	Cancelled bool   `json:"cancelled"`
	Reason    string `json:"reason,omitempty"` // why nothing was cancelled
	// Clawback is set when the refund came after the reward was released
	// and rule refund_clawback took it back (kit.Claw): what the wallet
	// gave, what became the referrer's debt, what was written off.
	Clawback *kit.ClawResult `json:"clawback,omitempty"`
	Invite   *Invite         `json:"invite,omitempty"`
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
// reward vetoes its kit.Pending grant (back to the budget), cancels the
// reward and takes it out of the referrer's daily earning count (the cap
// counts only what is kept); after the window the reward stands, unless
// rule refund_clawback is set: then a reward not paid yet is vetoed the
// same way, and one already paid is clawed back under the rule's
// recovery policy (kit.Claw; RefundResult.Clawback).
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
	case inv.Status == StatusPaid && p.rules.RefundClawback != nil:
		// Refunded after the reward was released: it is clawed back under
		// the rule's recovery policy (kit.Claw), whatever the referrer
		// already spent or cashed out.
		c, err := kit.Claw(w, kit.ClawRequest{Program: "referral", Key: "referral:" + p.id("clawback", RewardSignup, invitee),
			Member: inv.Referrer, Asset: p.rules.Asset.Code, Amount: p.rules.SignupReward, To: p.budget,
			Policy: *p.rules.RefundClawback, Reason: "refund", Metadata: clawMeta(p.meta(RewardSignup, inv.Referrer, invitee))})
		if err != nil {
			return res, err
		}
		if err := p.addSpent(w, -p.units(p.rules.SignupReward)); err != nil {
			return res, err
		}
		if err := p.refunded(w, &inv, StatusClawedBack, actor); err != nil {
			return res, err
		}
		res.Cancelled, res.Clawback = true, &c
	case inv.Status != StatusHeld:
		res.Reason = "reward already " + string(inv.Status)
	case !w.Now().Before(inv.ReleaseAt) && p.rules.RefundClawback == nil:
		// Past the window a reward stands; with refund_clawback one not
		// paid yet (withheld, or before the Tick) is vetoed below rather
		// than paid and clawed back.
		res.Reason = "return window over"
	default:
		if _, err := p.shopPending().Veto(w, inv.Pending, "refund"); err != nil {
			return res, err
		}
		if err := p.addPending(w, -p.units(p.rules.SignupReward)); err != nil {
			return res, err
		}
		if err := p.uncount(w, inv); err != nil {
			return res, err
		}
		if err := p.refunded(w, &inv, StatusCancelled, actor); err != nil {
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
	// from the budget. No longer reported: a held reward is a kit.Pending
	// grant whose amount left the budget when it was earned, so it cannot
	// be found unfunded. Kept for reports read from before.
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
	// stays pending; once the switch is off (and the referrer eligible) it
	// is paid. The ID is the invitee.
	ItemWithheld = "referral.withheld"
	// ItemRelease: a release failed for another reason (the store, a
	// damaged record); its writes were undone. The ID is the invitee.
	ItemRelease = "referral.release"
)

// releaseOutcome is what one release did.
type releaseOutcome struct {
	invitee  string
	released bool
	withheld error
	report   kit.TickReport // tier bonuses paid and unfunded
}

// Tick pays the pending signup rewards whose return window has ended
// (with the tier bonuses they reach), each in a unit of work of its own,
// at the ledger clock's now. It reports each item by kind (ItemReleased,
// ItemTierBonus, ItemTierUnfunded) and ID; a reward the kill switch or the
// referrer's eligibility keeps from being paid is in Failed as
// ItemWithheld with the refusal, one whose release failed as ItemRelease;
// the others go on. A withheld reward stays pending (its amount already
// left the budget, so it is never found unfunded) and is paid by the
// first Tick after the switch is off. It does not tick the ledger.
// Running Tick twice at the same time changes nothing the second time.
// err is for the run as a whole (the store, the context, a clock out of
// range); then the report may be incomplete and a later Tick goes on.
func (p *Program) Tick(ctx context.Context) (kit.TickReport, error) {
	var rep kit.TickReport
	pend := p.shopPending()
	// Only releases whose batch committed are reported (kit.EachDueDo).
	_, failed, err := kit.EachDueDo(ctx, p.l, pend.Kind(), p.l.Clock().Now(), func(w *ledger.Writer, e ledger.DueEntry) (releaseOutcome, error) {
		return p.release(w, pend, e.ID)
	}, func(e ledger.DueEntry, out releaseOutcome) {
		switch {
		case out.released:
			rep.Add(ItemReleased, out.invitee)
		case out.withheld != nil:
			rep.Failed = append(rep.Failed, kit.ItemError{Kind: ItemWithheld, ID: out.invitee, Err: out.withheld})
		}
		rep.Merge(out.report)
	})
	for _, f := range failed {
		invitee := strings.TrimPrefix(f.ID, p.pendingID(""))
		rep.Failed = append(rep.Failed, kit.ItemError{Kind: ItemRelease, ID: invitee, Err: fail(f.Err, "release of %s's reward", invitee)})
	}
	if err != nil {
		return rep, fail(err, "tick")
	}
	return rep, nil
}

// release settles one pending signup reward whose return window has
// ended.
func (p *Program) release(w *ledger.Writer, pend kit.Pending, id string) (releaseOutcome, error) {
	var out releaseOutcome
	rec, err := pend.Lookup(&w.Reader, id)
	if err != nil {
		return out, err
	}
	invitee := rec.Metadata["subject"]
	out.invitee = invitee
	if rec.State != kit.StatePending {
		return out, w.Unschedule(pend.Kind(), id)
	}
	if w.Now().Before(rec.MaturesAt) {
		return out, nil // the clock stepped back; the entry stays due
	}
	inv, err := p.loadInvite(w, invitee)
	if err != nil {
		return out, err
	}
	// Nothing is paid to or for a member the kill switch covers, nor to a
	// referrer who may not earn now (the campaign window does not apply:
	// the reward was earned inside it). The reward stays pending and due.
	if err := p.mayPayFor(w, inv, false); err != nil {
		if !refusal(err) {
			return out, err
		}
		out.withheld = fail(err, "%s's reward for %s", inv.Referrer, invitee)
		return out, nil
	}
	amount := rec.Amount
	if _, err := pend.Release(w, id); err != nil {
		return out, err
	}
	if err := p.addPending(w, -p.units(amount)); err != nil {
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
	return out, nil
}

// refunded records what a refund did to an invite's reward (cancelled
// before it was paid, or clawed back after) and reports it with
// EventRewardClawedBack, naming the actor.
func (p *Program) refunded(w *ledger.Writer, inv *Invite, status InviteStatus, actor string) error {
	inv.Status = status
	if err := w.SaveJSON(kindInvite, p.id(inv.Invitee), *inv); err != nil {
		return err
	}
	d := inv.heldReward(p.rules.SignupReward)
	d.Actor = actor
	return p.emitReward(w, EventRewardClawedBack, d)
}
