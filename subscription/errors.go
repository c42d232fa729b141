package subscription

import (
	"errors"

	"github.com/rewardkit/rewardkit/ledger"
)

// Sentinel errors. Every refusal wraps one of them (check with errors.Is)
// together with the rule or field that refused, and keeps its cause in the
// chain (a charge refused for funds matches both ErrInsufficientFunds and
// ledger.ErrInsufficientFunds); a refused event writes nothing. Times
// outside the ledger's range are ledger.ErrInvalidTime, amounts beyond
// any the ledger keeps ledger.ErrInvalidAmount or ledger.ErrOverflow.
var (
	// ErrInvalidRules: a Rules value failed Validate; the message names the
	// field.
	ErrInvalidRules = errors.New("subscription: invalid rules")
	// ErrInvalidRequest: an event's arguments are malformed (an empty or
	// badly spelled id, an unknown perk name).
	ErrInvalidRequest = errors.New("subscription: invalid request")
	// ErrInvalidTiers: a creator's tiers break a rule (too many, a price out
	// of bounds, a tier without perks, a duplicate id).
	ErrInvalidTiers = errors.New("subscription: invalid tiers")
	// ErrIneligible: the creator does not meet an eligibility rule (age,
	// followers, views in the last month); the message names the rule.
	ErrIneligible = errors.New("subscription: creator not eligible")
	// ErrRegion: the member's country is not one where subscriptions are
	// offered (rule "regions").
	ErrRegion = errors.New("subscription: region not offered")
	// ErrUnknownMember: the member directory does not know the id.
	ErrUnknownMember = errors.New("subscription: unknown member")
	// ErrNoOffer: the creator has published no tiers.
	ErrNoOffer = errors.New("subscription: creator offers no subscription")
	// ErrUnknownTier: the creator's offer has no tier with that id.
	ErrUnknownTier = errors.New("subscription: unknown tier")
	// ErrSelfSubscription: a creator may not subscribe to themself.
	ErrSelfSubscription = errors.New("subscription: creator may not subscribe to themself")
	// ErrAlreadySubscribed: the member already has a subscription to the
	// creator that has not ended.
	ErrAlreadySubscribed = errors.New("subscription: already subscribed")
	// ErrNotSubscribed: the member has no subscription to the creator.
	ErrNotSubscribed = errors.New("subscription: not subscribed")
	// ErrWrongState: the event does not apply to the subscription's state
	// (cancelling an ended subscription, changing the tier in grace).
	ErrWrongState = errors.New("subscription: wrong state")
	// ErrInsufficientFunds: the member's wallet cannot pay the price.
	ErrInsufficientFunds = errors.New("subscription: insufficient funds")
	// ErrIdempotencyConflict: an event id was used before for a different
	// event or different arguments. It is ledger.ErrIdempotencyConflict,
	// which kit.Once returns, so either matches with errors.Is.
	ErrIdempotencyConflict = ledger.ErrIdempotencyConflict
	// ErrForbidden: the actor of a privileged action (Refund) does not
	// hold the role it needs or is a party to it. It is
	// ledger.ErrForbidden, which kit.Authorize returns, so either matches
	// with errors.Is.
	ErrForbidden = ledger.ErrForbidden
	// ErrNoAccess: MayUse's answer is no; the error also wraps the reason
	// (ErrNotSubscribed, ErrNotCovered or ErrPerkNotIncluded).
	ErrNoAccess = errors.New("subscription: no access")
	// ErrNotCovered: no paid period (nor a grace window that grants access)
	// covers the time asked about.
	ErrNotCovered = errors.New("subscription: no paid period covers the time")
	// ErrPerkNotIncluded: the subscription's tier does not include the perk.
	ErrPerkNotIncluded = errors.New("subscription: perk not included in the tier")
)
