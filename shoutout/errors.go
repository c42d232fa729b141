package shoutout

import (
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
)

// Sentinel errors. Every refusal wraps one of these with the rule, field or
// state that refused; check them with errors.Is. Refusals from the ledger
// and the kit come wrapped with their own sentinels intact
// (ledger.ErrForbidden for a reviewer without the right,
// ledger.ErrInvalidTime for a clock outside the ledger's range,
// ledger.ErrInsufficientFunds, ...). An event or offer call that returns
// an error changed nothing (a direct message that fails after an approval
// is not an error of Approve: see Order.DMError). A refusal by a rule of
// the rule set is a *ledger.Refusal naming the rule by its JSON name
// (ledger.RuleOf(err) == "min_fan_age"). Messages begin with "shoutout: "
// once and name orders and members only by their IDs: they are safe to
// show the member.
//
// Each has a code (ledger.ErrorCode) in its constructor:
// ErrPriceOutOfBounds is an invalid argument (the price breaks a rule
// whatever the state); ErrNoOffer and ErrPriceChanged are failed
// preconditions (the creator exists, the offer's state refuses the order:
// not a 404); ErrNotParty is permission denied.
var (
	// ErrInvalidRules: a rule set is malformed; the message names the field.
	ErrInvalidRules = ledger.NewError(ledger.CodeInvalidArgument, "shoutout: invalid rules")
	// ErrIneligible: a member may not do this (follower threshold, age, an
	// order to oneself); the refusal names the rule. A member whose facts
	// an age rule cannot read (no birth date) is refused with
	// kit.ErrMemberFacts instead.
	ErrIneligible = ledger.NewError(ledger.CodeFailedPrecondition, "shoutout: ineligible")
	// ErrUnknownMember: the member directory does not know the member. It
	// is kit.ErrUnknownMember, the same value in every program.
	ErrUnknownMember = kit.ErrUnknownMember
	// ErrInvalidRequest: an argument is missing or malformed.
	ErrInvalidRequest = ledger.NewError(ledger.CodeInvalidArgument, "shoutout: invalid request")
	// ErrPriceOutOfBounds: an offer's price is outside min_price..max_price
	// (the refusal names the bound).
	ErrPriceOutOfBounds = ledger.NewError(ledger.CodeInvalidArgument, "shoutout: price out of bounds")
	// ErrNoOffer: the creator has no offer open.
	ErrNoOffer = ledger.NewError(ledger.CodeFailedPrecondition, "shoutout: no offer")
	// ErrPriceChanged: the price the fan agreed to is not the offer's price.
	ErrPriceChanged = ledger.NewError(ledger.CodeFailedPrecondition, "shoutout: price changed")
	// ErrInsufficientCoins: the fan has fewer available coins than the price.
	ErrInsufficientCoins = ledger.NewError(ledger.CodeFailedPrecondition, "shoutout: insufficient coins")
	// ErrWrongState: the event does not apply to the order in its state
	// (accepting twice, approving before a video, cancelling after
	// delivery).
	ErrWrongState = ledger.NewError(ledger.CodeFailedPrecondition, "shoutout: event not allowed in the order's state")
	// ErrDeadlinePassed: the window for the event has closed (the refusal
	// names it: accept_window, delivery_window, review_window); Tick
	// refunds the order.
	ErrDeadlinePassed = ledger.NewError(ledger.CodeFailedPrecondition, "shoutout: deadline passed")
	// ErrNotParty: the member acting is not the order's fan or creator.
	ErrNotParty = ledger.NewError(ledger.CodePermissionDenied, "shoutout: not a party to the order")
	// ErrNotFound: no order has that id.
	ErrNotFound = ledger.NewError(ledger.CodeNotFound, "shoutout: not found")
	// ErrIdempotencyConflict: an event or order id was used before for
	// something else. It also wraps ledger.ErrIdempotencyConflict.
	ErrIdempotencyConflict = ledger.NewError(ledger.CodeConflict, "shoutout: id reused with different arguments")
)
