package subscription

import (
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
)

// Sentinel errors. Every refusal wraps one of them (check with errors.Is)
// together with the rule or field that refused, and keeps its cause in the
// chain (a charge refused for funds matches both ErrInsufficientFunds and
// ledger.ErrInsufficientFunds); a refused event writes nothing. A refusal
// by a rule of Rules is a *ledger.Refusal whose Rule is the rule's JSON
// name (ledger.RuleOf: "min_followers", "countries"). Times outside the
// ledger's range are ledger.ErrInvalidTime, amounts beyond any the ledger
// keeps ledger.ErrInvalidAmount or ledger.ErrOverflow; member facts a rule
// needs but cannot read (no birth date) are kit.ErrMemberFacts.
//
// Each has a code (ledger.ErrorCode) in its constructor: ErrNoAccess and
// its reasons (ErrNotCovered, ErrPerkNotIncluded) are permission denied,
// and ErrNoAccess, being outer, decides for ErrNotSubscribed too, which
// alone (no subscription to cancel) is not found; ErrIneligible,
// ErrCountry, ErrSelfSubscription and ErrNoOffer are failed preconditions;
// ErrAlreadySubscribed is a conflict.
var (
	// ErrInvalidRules: a Rules value failed Validate; the message names the
	// field.
	ErrInvalidRules = ledger.NewError(ledger.CodeInvalidArgument, "subscription: invalid rules")
	// ErrInvalidRequest: an event's arguments are malformed (an empty or
	// badly spelled id, an unknown perk name).
	ErrInvalidRequest = ledger.NewError(ledger.CodeInvalidArgument, "subscription: invalid request")
	// ErrInvalidTiers: a creator's tiers break a rule (too many, a price out
	// of bounds, a tier without perks, a duplicate id).
	ErrInvalidTiers = ledger.NewError(ledger.CodeInvalidArgument, "subscription: invalid tiers")
	// ErrIneligible: the creator does not meet an eligibility rule (age,
	// followers, views in the last month); the message names the rule.
	ErrIneligible = ledger.NewError(ledger.CodeFailedPrecondition, "subscription: creator not eligible")
	// ErrCountry: the member's country is not one where subscriptions are
	// offered (rule "countries").
	ErrCountry = ledger.NewError(ledger.CodeFailedPrecondition, "subscription: country not offered")
	// ErrUnknownMember: the member directory does not know the id. It is
	// kit.ErrUnknownMember, which every program's directory returns, so
	// either matches with errors.Is.
	ErrUnknownMember = kit.ErrUnknownMember
	// ErrNoOffer: the creator has published no tiers.
	ErrNoOffer = ledger.NewError(ledger.CodeFailedPrecondition, "subscription: creator offers no subscription")
	// ErrUnknownTier: the creator's offer has no tier with that id.
	ErrUnknownTier = ledger.NewError(ledger.CodeNotFound, "subscription: unknown tier")
	// ErrSelfSubscription: a creator may not subscribe to themself.
	ErrSelfSubscription = ledger.NewError(ledger.CodeFailedPrecondition, "subscription: creator may not subscribe to themself")
	// ErrAlreadySubscribed: the member already has a subscription to the
	// creator that has not ended.
	ErrAlreadySubscribed = ledger.NewError(ledger.CodeConflict, "subscription: already subscribed")
	// ErrNotSubscribed: the member has no subscription to the creator.
	ErrNotSubscribed = ledger.NewError(ledger.CodeNotFound, "subscription: not subscribed")
	// ErrWrongState: the event does not apply to the subscription's state
	// (cancelling an ended subscription, changing the tier in grace).
	ErrWrongState = ledger.NewError(ledger.CodeFailedPrecondition, "subscription: wrong state")
	// ErrInsufficientFunds: the member's wallet cannot pay the price.
	ErrInsufficientFunds = ledger.NewError(ledger.CodeFailedPrecondition, "subscription: insufficient funds")
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
	ErrNoAccess = ledger.NewError(ledger.CodePermissionDenied, "subscription: no access")
	// ErrNotCovered: no paid period (nor a grace window that grants access)
	// covers the time asked about.
	ErrNotCovered = ledger.NewError(ledger.CodePermissionDenied, "subscription: no paid period covers the time")
	// ErrPerkNotIncluded: the subscription's tier does not include the perk.
	ErrPerkNotIncluded = ledger.NewError(ledger.CodePermissionDenied, "subscription: perk not included in the tier")
)
