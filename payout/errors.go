package payout

import "github.com/rewardkit/rewardkit/ledger"

// Sentinel errors. Every refusal wraps one of them (or a ledger sentinel:
// ledger.ErrForbidden for an actor without the right, ledger.ErrInvalidTime
// for a time out of range, ledger.ErrOverflow for a sum that would not
// fit) with the rule or field that refused, and keeps the ledger's cause in
// the chain; check them with errors.Is. A refusal by a rule of the rule set
// is a *ledger.Refusal whose Rule is the rule's JSON name (ledger.RuleOf:
// "minimum", "max_per_period", "daily_maximum"). A refused call changed
// nothing.
//
// Each has a code (ledger.ErrorCode) in its constructor: ErrBelowMinimum
// is an invalid argument; ErrTooFrequent and ErrDailyMaximum are resource
// exhausted; ErrUnknownSource (someone else's account) is permission
// denied; ErrNoPayoutAccount is a failed precondition; ErrProviderTimeout
// is unavailable (a retry with the same key is safe).
var (
	// ErrInvalidRules: a Rules value is malformed; the message names the field.
	ErrInvalidRules = ledger.NewError(ledger.CodeInvalidArgument, "payout: invalid rules")
	// ErrInvalidRequest: a call's arguments are malformed (empty id,
	// non-positive amount, too many decimals).
	ErrInvalidRequest = ledger.NewError(ledger.CodeInvalidArgument, "payout: invalid request")
	// ErrIdempotencyConflict: a payout ID (or a notification's event ID)
	// was used before for a different request (it also wraps
	// ledger.ErrIdempotencyConflict).
	ErrIdempotencyConflict = ledger.NewError(ledger.CodeConflict, "payout: id reused for a different request")
	// ErrNotFound: no payout has that id.
	ErrNotFound = ledger.NewError(ledger.CodeNotFound, "payout: not found")
	// ErrNoPayoutAccount: the member has not linked a payout account.
	ErrNoPayoutAccount = ledger.NewError(ledger.CodeFailedPrecondition, "payout: no linked payout account")
	// ErrBelowMinimum: the amount is under the rule minimum, or worth
	// nothing once converted and charged the fee.
	ErrBelowMinimum = ledger.NewError(ledger.CodeInvalidArgument, "payout: amount below minimum")
	// ErrTooFrequent: the member already withdrew as often as the rules
	// allow in the period (rules period, max_per_period).
	ErrTooFrequent = ledger.NewError(ledger.CodeResourceExhausted, "payout: too many withdrawals in the period")
	// ErrDailyMaximum: the withdrawal would take the member above the daily
	// maximum (rules daily_maximum, daily_window).
	ErrDailyMaximum = ledger.NewError(ledger.CodeResourceExhausted, "payout: daily maximum reached")
	// ErrInsufficientFunds: the member's available balance is too small
	// (it also wraps ledger.ErrInsufficientFunds when the ledger refused).
	ErrInsufficientFunds = ledger.NewError(ledger.CodeFailedPrecondition, "payout: insufficient funds")
	// ErrUnknownSource: the account named to withdraw from is neither the
	// member's wallet nor one of the rules' sources with the member's ID
	// (someone else's account, or nobody's). It also wraps
	// ledger.ErrForbidden.
	ErrUnknownSource = ledger.NewError(ledger.CodePermissionDenied, "payout: not one of the member's payout sources")
	// ErrWrongState: the payout is not in a state that allows the call
	// (approving a rejected payout).
	ErrWrongState = ledger.NewError(ledger.CodeFailedPrecondition, "payout: wrong state")
	// ErrOutcomeContradiction: a provider's notification (RecordOutcome)
	// contradicts the final state already recorded: failed, returned or
	// blocked after paid or reversed; paid or reversed after failed,
	// returned, blocked or rejected. Nothing moved;
	// it also wraps ErrWrongState. Someone should reconcile it with the
	// provider by hand.
	ErrOutcomeContradiction = ledger.NewError(ledger.CodeConflict, "payout: provider outcome contradicts the recorded one")
	// ErrReversalUnsupported was returned for a reversal when payout had
	// no reversal flow.
	//
	// Deprecated: reversals are recorded (StatusReversed); nothing returns
	// it any more.
	ErrReversalUnsupported = ledger.NewError(ledger.CodeFailedPrecondition, "payout: provider reversals are not supported")
	// ErrProviderTimeout: the provider did not answer; the outcome is
	// unknown and a retry with the same key is safe.
	ErrProviderTimeout = ledger.NewError(ledger.CodeUnavailable, "payout: provider timed out")
	// ErrProviderConflict: a provider got the same idempotency key for a
	// different payment.
	ErrProviderConflict = ledger.NewError(ledger.CodeConflict, "payout: provider key reused for a different payment")
)

// sentinels are the errors above, whose messages carry the package prefix.
var sentinels = []error{ErrInvalidRules, ErrInvalidRequest, ErrIdempotencyConflict, ErrNotFound, ErrNoPayoutAccount,
	ErrBelowMinimum, ErrTooFrequent, ErrDailyMaximum, ErrInsufficientFunds, ErrUnknownSource, ErrWrongState,
	ErrOutcomeContradiction, ErrReversalUnsupported, ErrProviderTimeout, ErrProviderConflict}
