package subscription

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/shopspring/decimal"
)

// The events. Each has an In form that runs inside the caller's unit of
// work (a ledger.Update, so that it commits or rolls back with the
// caller's other writes), and a form that takes a context and runs the In
// form in a unit of work of its own (kit.Run). An In form that returns an
// error may have written part of its work to w: the caller returns the
// error from its unit of work, which undoes all of it.

// PublishTiersRequest is a creator publishing or replacing their tiers.
type PublishTiersRequest struct {
	// EventID is the caller's idempotency key of the event.
	EventID string `json:"event_id"`
	// Actor is the creator who publishes their own tiers.
	Actor string `json:"actor"`
	// Tiers are the tiers on offer from now on: 1 to Rules.MaxTiers.
	Tiers []Tier `json:"tiers"`
}

// PublishTiersIn publishes or replaces a creator's tiers, inside the
// caller's unit of work. The creator must be eligible (ErrIneligible or
// ErrCountry, naming the rule; kit.ErrMemberFacts if their birth date is
// unknown) and the tiers valid (ErrInvalidTiers). Existing subscribers
// keep what they paid for until their period ends; the new price and
// perks of their tier apply from their next renewal, and a subscription
// whose tier was removed ends at its period end.
func (p *Program) PublishTiersIn(w *ledger.Writer, req PublishTiersRequest) (Offer, error) {
	if err := kit.CheckEventID(ErrInvalidRequest, req.EventID); err != nil {
		return Offer{}, err
	}
	if err := kit.CheckID(ErrInvalidRequest, "creator", req.Actor); err != nil {
		return Offer{}, err
	}
	if len(req.Tiers) > 16 {
		return Offer{}, fmt.Errorf("%w: %d tiers, at most 16", ErrInvalidTiers, len(req.Tiers))
	}
	for _, t := range req.Tiers {
		if err := kit.CheckDecimal(t.Price); err != nil {
			return Offer{}, fmt.Errorf("%w: tier %q: price: %w", ErrInvalidTiers, t.ID, err)
		}
	}
	creator := req.Actor
	off, replay, err := kit.Once(w, event(req.EventID, "publish", req), func(w *ledger.Writer) (Offer, error) {
		// The rules, the creator's facts and the offer are read after the
		// replay check: a replay answers as the event did, whatever they
		// are now.
		tiers, err := p.validateTiers(req.Tiers)
		if err != nil {
			return Offer{}, err
		}
		m, err := p.members.Member(w.Context(), creator)
		if err != nil {
			return Offer{}, err
		}
		if err := p.checkEligible(m, w.Now()); err != nil {
			return Offer{}, err
		}
		var off Offer
		if err := w.LoadJSON(kindOffer, creator, &off); err != nil && !errors.Is(err, ledger.ErrNotFound) {
			return Offer{}, err
		}
		off.Creator, off.Tiers, off.UpdatedAt = creator, tiers, w.Now()
		off.Version++
		if err := kit.OpenIfMissing(w, EarningsAccount(creator), ledger.Overdraft{}); err != nil {
			return Offer{}, err
		}
		d := tiersPublishedData{Creator: creator, Version: off.Version, Asset: p.rules.Asset.Code}
		for _, t := range tiers {
			d.Tiers = append(d.Tiers, tierData{ID: t.ID, Price: t.Price.StringFixed(p.rules.Asset.Precision)})
		}
		if err := w.Emit(EventTiersPublished, creator, d); err != nil {
			return Offer{}, err
		}
		return off, w.SaveJSON(kindOffer, creator, off)
	})
	off.Replayed = replay
	return off, err
}

// PublishTiers is PublishTiersIn in a unit of work of its own.
func (p *Program) PublishTiers(ctx context.Context, req PublishTiersRequest) (Offer, error) {
	return kit.Run(ctx, p.l, func(w *ledger.Writer) (Offer, error) { return p.PublishTiersIn(w, req) })
}

// SubscribeRequest is a member subscribing to a creator's tier.
type SubscribeRequest struct {
	// EventID is the caller's idempotency key of the event.
	EventID string `json:"event_id"`
	// Actor is the member who subscribes and pays.
	Actor string `json:"actor"`
	// Creator is the creator subscribed to.
	Creator string `json:"creator"`
	// TierID is the ID of the creator's tier subscribed to.
	TierID string `json:"tier_id"`
}

// SubscribeIn starts a member's subscription to a creator's tier, inside
// the caller's unit of work: the first period is charged at once
// (creator share to EarningsAccount, the rest to RevenueAccount) and
// starts now. Refusals: ErrSelfSubscription, ErrUnknownMember, ErrCountry,
// ErrNoOffer, ErrUnknownTier, ErrAlreadySubscribed, ErrInsufficientFunds
// (the member's wallet, opened by whichever program met the member first,
// must hold the price: an overdraft is never credit).
func (p *Program) SubscribeIn(w *ledger.Writer, req SubscribeRequest) (Subscription, error) {
	if err := kit.CheckEventID(ErrInvalidRequest, req.EventID); err != nil {
		return Subscription{}, err
	}
	if err := validatePair(req.Actor, req.Creator); err != nil {
		return Subscription{}, err
	}
	if err := kit.CheckID(ErrInvalidRequest, "tier id", req.TierID); err != nil {
		return Subscription{}, err
	}
	member, creator := req.Actor, req.Creator
	if member == creator {
		return Subscription{}, fmt.Errorf("%w (%s)", ErrSelfSubscription, member)
	}
	s, replay, err := kit.Once(w, event(req.EventID, "subscribe", req), func(w *ledger.Writer) (Subscription, error) {
		// The member's facts are read after the replay check: a replay
		// answers as the event did, whatever the facts are now.
		m, err := p.members.Member(w.Context(), member)
		if err != nil {
			return Subscription{}, err
		}
		if err := p.checkCountry("member", m); err != nil {
			return Subscription{}, err
		}
		off, err := loadOffer(&w.Reader, creator)
		if err != nil {
			return Subscription{}, err
		}
		tier, ok := off.Tier(req.TierID)
		if !ok {
			return Subscription{}, fmt.Errorf("%w: creator %s has no tier %q", ErrUnknownTier, creator, req.TierID)
		}
		now := w.Now()
		old, err := loadSub(&w.Reader, creator, member)
		if err != nil && !errors.Is(err, ErrNotSubscribed) {
			return Subscription{}, err
		}
		if err == nil {
			if _, err := p.lapse(w, &old, now); err != nil {
				return Subscription{}, err
			}
			if old.Status != StatusEnded {
				return Subscription{}, fmt.Errorf("%w: member %s to creator %s is %s until %s", ErrAlreadySubscribed,
					member, creator, old.Status, old.PeriodEnd.Format(time.RFC3339))
			}
		}
		end, err := p.addPeriod(now)
		if err != nil {
			return Subscription{}, err
		}
		s := Subscription{Member: member, Creator: creator, Status: StatusActive, StartedAt: now,
			MonthsPaid: old.MonthsPaid, Charges: old.Charges, Periods: old.Periods}
		if err := p.charge(w, &s, tier, "subscribe", now, end); err != nil {
			return Subscription{}, err
		}
		p.paid(&s, tier, now, end)
		if err := emitSub(w, EventStarted, &s, p.paidData(&s)); err != nil {
			return Subscription{}, err
		}
		if err := w.Schedule(dueRenew, subID(creator, member), end); err != nil {
			return Subscription{}, err
		}
		return s, w.SaveJSON(kindSub, subID(creator, member), s)
	})
	s.Replayed = replay
	return s, err
}

// Subscribe is SubscribeIn in a unit of work of its own.
func (p *Program) Subscribe(ctx context.Context, req SubscribeRequest) (Subscription, error) {
	return kit.Run(ctx, p.l, func(w *ledger.Writer) (Subscription, error) { return p.SubscribeIn(w, req) })
}

// CancelRequest is a member cancelling their subscription to a creator.
type CancelRequest struct {
	// EventID is the caller's idempotency key of the event.
	EventID string `json:"event_id"`
	// Actor is the subscribed member who cancels.
	Actor string `json:"actor"`
	// Creator is the creator subscribed to.
	Creator string `json:"creator"`
}

// CancelIn cancels a subscription with no refund, inside the caller's unit
// of work. An active one keeps its perks until the paid period ends and is
// not renewed; one in grace ends at once. Cancelling one already cancelled
// or ended (or whose grace period is over) is ErrWrongState.
func (p *Program) CancelIn(w *ledger.Writer, req CancelRequest) (Subscription, error) {
	if err := kit.CheckEventID(ErrInvalidRequest, req.EventID); err != nil {
		return Subscription{}, err
	}
	if err := validatePair(req.Actor, req.Creator); err != nil {
		return Subscription{}, err
	}
	member, creator := req.Actor, req.Creator
	s, replay, err := kit.Once(w, event(req.EventID, "cancel", req), func(w *ledger.Writer) (Subscription, error) {
		s, err := loadSub(&w.Reader, creator, member)
		if err != nil {
			return Subscription{}, err
		}
		now := w.Now()
		if _, err := p.lapse(w, &s, now); err != nil {
			return Subscription{}, err
		}
		switch s.Status {
		case StatusActive:
			p.recordGrace(&s, now) // a late Tick may have left grace access running
			s.Status, s.NextTier = StatusCanceled, ""
			end := s.PeriodEnd
			if err := emitSub(w, EventCancelled, &s, subData{Tier: s.Tier.ID, PeriodEnd: &end}); err != nil {
				return Subscription{}, err
			}
		case StatusGrace:
			p.recordGrace(&s, now)
			if err := emitSub(w, EventCancelled, &s, subData{Tier: s.Tier.ID}); err != nil {
				return Subscription{}, err
			}
			if err := p.end(w, &s, now, "canceled in grace"); err != nil {
				return Subscription{}, err
			}
		default:
			return Subscription{}, fmt.Errorf("%w: cannot cancel a %s subscription (member %s, creator %s)", ErrWrongState, s.Status, member, creator)
		}
		return s, w.SaveJSON(kindSub, subID(creator, member), s)
	})
	s.Replayed = replay
	return s, err
}

// Cancel is CancelIn in a unit of work of its own.
func (p *Program) Cancel(ctx context.Context, req CancelRequest) (Subscription, error) {
	return kit.Run(ctx, p.l, func(w *ledger.Writer) (Subscription, error) { return p.CancelIn(w, req) })
}

// ChangeTierRequest is a member choosing another of the creator's tiers.
type ChangeTierRequest struct {
	// EventID is the caller's idempotency key of the event.
	EventID string `json:"event_id"`
	// Actor is the subscribed member who changes tier.
	Actor string `json:"actor"`
	// Creator is the creator subscribed to.
	Creator string `json:"creator"`
	// TierID is the ID of the tier the next renewal charges and grants.
	TierID string `json:"tier_id"`
}

// ChangeTierIn moves an active subscription to another of the creator's
// tiers, inside the caller's unit of work. The change, its price and its
// perks start at the next renewal; until then the member keeps the tier
// paid for (no proration, no refund). Choosing the current tier undoes a
// pending change; if the creator withdraws the chosen tier before the
// renewal, the current tier renews instead.
func (p *Program) ChangeTierIn(w *ledger.Writer, req ChangeTierRequest) (Subscription, error) {
	if err := kit.CheckEventID(ErrInvalidRequest, req.EventID); err != nil {
		return Subscription{}, err
	}
	if err := validatePair(req.Actor, req.Creator); err != nil {
		return Subscription{}, err
	}
	member, creator := req.Actor, req.Creator
	s, replay, err := kit.Once(w, event(req.EventID, "change_tier", req), func(w *ledger.Writer) (Subscription, error) {
		s, err := loadSub(&w.Reader, creator, member)
		if err != nil {
			return Subscription{}, err
		}
		if s.Status != StatusActive {
			return Subscription{}, fmt.Errorf("%w: cannot change the tier of a %s subscription", ErrWrongState, s.Status)
		}
		off, err := loadOffer(&w.Reader, creator)
		if err != nil {
			return Subscription{}, err
		}
		if _, ok := off.Tier(req.TierID); !ok {
			return Subscription{}, fmt.Errorf("%w: creator %s has no tier %q", ErrUnknownTier, creator, req.TierID)
		}
		s.NextTier = req.TierID
		if req.TierID == s.Tier.ID {
			s.NextTier = ""
		}
		if err := emitSub(w, EventTierChanged, &s, subData{Tier: s.Tier.ID, NextTier: req.TierID}); err != nil {
			return Subscription{}, err
		}
		return s, w.SaveJSON(kindSub, subID(creator, member), s)
	})
	s.Replayed = replay
	return s, err
}

// ChangeTier is ChangeTierIn in a unit of work of its own.
func (p *Program) ChangeTier(ctx context.Context, req ChangeTierRequest) (Subscription, error) {
	return kit.Run(ctx, p.l, func(w *ledger.Writer) (Subscription, error) { return p.ChangeTierIn(w, req) })
}

// RefundRequest is staff refunding the last payment of a member's
// subscription to a creator.
type RefundRequest struct {
	// EventID is the caller's idempotency key of the event.
	EventID string `json:"event_id"`
	// Actor is the staff member who records the refund: a holder of
	// kit.RoleRiskOfficer, neither the member nor the creator.
	Actor string `json:"actor"`
	// Member and Creator name the subscription.
	Member  string `json:"member"`
	Creator string `json:"creator"`
	// Reason is why, for the record (a dispute, a complaint upheld).
	Reason string `json:"reason,omitempty"`
}

// RefundIn gives a member back the last payment of their subscription to a
// creator, as staff record it, inside the caller's unit of work. The actor
// must hold kit.RoleRiskOfficer in the program's role directory
// (WithRoles) and be neither the member nor the creator (kit.Authorize):
// otherwise ErrForbidden. The payment is reversed — the creator's and the
// platform's parts go back to the member's wallet — and the subscription
// ends at once: perks stop now, the refunded months no longer count
// towards the badge, and nothing renews. Other refusals: ErrNotSubscribed,
// ErrWrongState (no payment to refund, or the last one refunded already),
// ErrInsufficientFunds (the creator's earnings no longer hold their part).
func (p *Program) RefundIn(w *ledger.Writer, req RefundRequest) (Subscription, error) {
	if err := kit.CheckEventID(ErrInvalidRequest, req.EventID); err != nil {
		return Subscription{}, err
	}
	if err := validatePair(req.Member, req.Creator); err != nil {
		return Subscription{}, err
	}
	if len(req.Actor) > 128 || len(req.Reason) > 512 {
		return Subscription{}, fmt.Errorf("%w: actor or reason too long", ErrInvalidRequest)
	}
	member, creator := req.Member, req.Creator
	s, replay, err := kit.Once(w, event(req.EventID, "refund", req), func(w *ledger.Writer) (Subscription, error) {
		if err := kit.Authorize(w.Context(), p.roles, req.Actor, kit.RoleRiskOfficer, member, creator); err != nil {
			return Subscription{}, fmt.Errorf("%w (refund of %s's subscription to %s)", err, member, creator)
		}
		s, err := loadSub(&w.Reader, creator, member)
		if err != nil {
			return Subscription{}, err
		}
		if s.Charges == 0 || s.Refunded == s.Charges {
			return Subscription{}, fmt.Errorf("%w: member %s has no payment to %s left to refund", ErrWrongState, member, creator)
		}
		charge, err := w.TransactionByKey(chargeKey(creator, member, s.Charges))
		if err != nil {
			return Subscription{}, err
		}
		_, err = w.Reverse(ledger.ReversalRequest{
			Key: fmt.Sprintf("subscription:refund:%s:%s:%d", creator, member, s.Charges), ID: charge.ID,
			Metadata: map[string]string{"program": "subscription", "event": "refund", "creator": creator, "member": member,
				"actor": req.Actor, "reason": req.Reason},
		})
		if err != nil {
			if errors.Is(err, ledger.ErrInsufficientFunds) {
				return Subscription{}, fmt.Errorf("%w: refund of payment %d (%w)", ErrInsufficientFunds, s.Charges, err)
			}
			return Subscription{}, err
		}
		a := p.rules.Asset
		refunded := decimal.Zero
		for _, ps := range charge.Postings {
			refunded = refunded.Add(ps.Amount)
		}
		if err := emitSub(w, EventRefunded, &s, subData{Tier: s.Tier.ID, Amount: refunded.StringFixed(a.Precision),
			Asset: a.Code, Reason: req.Reason}); err != nil {
			return Subscription{}, err
		}
		now := w.Now()
		if s.Status != StatusEnded {
			p.recordGrace(&s, now)
			if err := p.end(w, &s, now, "refunded by "+req.Actor); err != nil {
				return Subscription{}, err
			}
		}
		s.Refunded = s.Charges
		s.MonthsPaid = max(0, s.MonthsPaid-p.rules.PeriodMonths)
		s.BadgeLevel = p.rules.BadgeLevel(s.MonthsPaid)
		// Perks stop now: the access history ends here.
		kept := s.Periods[:0]
		for _, pd := range s.Periods {
			if pd.Start.Before(now) {
				if pd.End.After(now) {
					pd.End = now
				}
				kept = append(kept, pd)
			}
		}
		s.Periods = kept
		return s, w.SaveJSON(kindSub, subID(creator, member), s)
	})
	s.Replayed = replay
	return s, err
}

// Refund is RefundIn in a unit of work of its own.
func (p *Program) Refund(ctx context.Context, req RefundRequest) (Subscription, error) {
	return kit.Run(ctx, p.l, func(w *ledger.Writer) (Subscription, error) { return p.RefundIn(w, req) })
}
