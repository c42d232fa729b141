package gifting

import (
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
)

// Sentinel errors. Every refusal wraps one of these together with the rule,
// field or account that refused; check them with errors.Is. A refusal by a
// rule of the rule set is a *ledger.Refusal whose Rule is the rule's JSON
// name (ledger.RuleOf: "min_age_send", "daily_spend_limit"). A call that
// returns one of them changed nothing.
//
// Each has a code (ledger.ErrorCode) in its constructor: ErrIneligible (a
// rule about the member, not a missing role) and ErrInsufficientCoins are
// failed preconditions, ErrDailyLimit is resource exhausted.
var (
	// ErrInvalidRules: a rule set is malformed; the message names the field.
	ErrInvalidRules = ledger.NewError(ledger.CodeInvalidArgument, "gifting: invalid rules")
	// ErrIneligible: a member may not do this (age, account kind, country,
	// a gift to oneself); the message names the rule.
	ErrIneligible = ledger.NewError(ledger.CodeFailedPrecondition, "gifting: ineligible")
	// ErrUnknownMember: the member directory does not know the member. It
	// is kit.ErrUnknownMember, the same value in every program.
	ErrUnknownMember = kit.ErrUnknownMember
	// ErrUnknownPack: no coin pack has that id.
	ErrUnknownPack = ledger.NewError(ledger.CodeNotFound, "gifting: unknown coin pack")
	// ErrUnknownGift: the gift catalogue has no gift with that id.
	ErrUnknownGift = ledger.NewError(ledger.CodeNotFound, "gifting: unknown gift")
	// ErrInvalidRequest: an argument is missing or out of range (an empty
	// id, a count of zero).
	ErrInvalidRequest = ledger.NewError(ledger.CodeInvalidArgument, "gifting: invalid request")
	// ErrInsufficientCoins: the viewer has fewer available coins than the
	// gifts cost.
	ErrInsufficientCoins = ledger.NewError(ledger.CodeFailedPrecondition, "gifting: insufficient coins")
	// ErrDailyLimit: the gifts would take the viewer over the daily spend
	// limit.
	ErrDailyLimit = ledger.NewError(ledger.CodeResourceExhausted, "gifting: daily spend limit reached")
	// ErrIdempotencyConflict: an event id (payment reference, gift event id)
	// was used before with different arguments. It also wraps
	// ledger.ErrIdempotencyConflict.
	ErrIdempotencyConflict = ledger.NewError(ledger.CodeConflict, "gifting: event id reused with different arguments")
	// ErrNotFound: no purchase or LIVE has that id.
	ErrNotFound = ledger.NewError(ledger.CodeNotFound, "gifting: not found")
)

// sentinels are the errors above whose messages carry the package prefix
// (ErrUnknownMember, kit's, does not).
var sentinels = []error{ErrInvalidRules, ErrIneligible, ErrUnknownPack, ErrUnknownGift,
	ErrInvalidRequest, ErrInsufficientCoins, ErrDailyLimit, ErrIdempotencyConflict, ErrNotFound}
