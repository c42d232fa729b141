package gifting

import "errors"

// Sentinel errors. Every refusal wraps one of these together with the rule,
// field or account that refused; check them with errors.Is. A call that
// returns one of them changed nothing.
var (
	// ErrInvalidRules: a rule set is malformed; the message names the field.
	ErrInvalidRules = errors.New("gifting: invalid rules")
	// ErrIneligible: a member may not do this (age, account kind, region,
	// a gift to oneself); the message names the rule.
	ErrIneligible = errors.New("gifting: ineligible")
	// ErrUnknownMember: the member directory does not know the member.
	ErrUnknownMember = errors.New("gifting: unknown member")
	// ErrUnknownPack: no coin pack has that id.
	ErrUnknownPack = errors.New("gifting: unknown coin pack")
	// ErrUnknownGift: the gift catalogue has no gift with that id.
	ErrUnknownGift = errors.New("gifting: unknown gift")
	// ErrInvalidRequest: an argument is missing or out of range (an empty
	// id, a count of zero).
	ErrInvalidRequest = errors.New("gifting: invalid request")
	// ErrInsufficientCoins: the viewer has fewer available coins than the
	// gifts cost.
	ErrInsufficientCoins = errors.New("gifting: insufficient coins")
	// ErrDailyLimit: the gifts would take the viewer over the daily spend
	// limit.
	ErrDailyLimit = errors.New("gifting: daily spend limit reached")
	// ErrIdempotencyConflict: an event id (payment reference, gift event id)
	// was used before with different arguments. It also wraps
	// ledger.ErrIdempotencyConflict.
	ErrIdempotencyConflict = errors.New("gifting: event id reused with different arguments")
	// ErrNotFound: no purchase or LIVE has that id.
	ErrNotFound = errors.New("gifting: not found")
)

// sentinels are the errors above, whose messages carry the package prefix.
var sentinels = []error{ErrInvalidRules, ErrIneligible, ErrUnknownMember, ErrUnknownPack, ErrUnknownGift,
	ErrInvalidRequest, ErrInsufficientCoins, ErrDailyLimit, ErrIdempotencyConflict, ErrNotFound}
