package payout

import "errors"

// Sentinel errors. Every refusal wraps one of them (or a ledger sentinel:
// ledger.ErrForbidden for an actor without the right, ledger.ErrInvalidTime
// for a time out of range, ledger.ErrOverflow for a sum that would not
// fit) with the rule or field that refused, and keeps the ledger's cause in
// the chain; check them with errors.Is. A refused call changed nothing.
var (
	// ErrInvalidRules: a Rules value is malformed; the message names the field.
	ErrInvalidRules = errors.New("payout: invalid rules")
	// ErrInvalidRequest: a call's arguments are malformed (empty id,
	// non-positive amount, too many decimals).
	ErrInvalidRequest = errors.New("payout: invalid request")
	// ErrEventConflict: a payout id was used before for a different request
	// (it also wraps ledger.ErrIdempotencyConflict).
	ErrEventConflict = errors.New("payout: payout id reused for a different request")
	// ErrNotFound: no payout has that id.
	ErrNotFound = errors.New("payout: not found")
	// ErrNoPayoutAccount: the member has not linked a payout account.
	ErrNoPayoutAccount = errors.New("payout: no linked payout account")
	// ErrBelowMinimum: the amount is under the rule minimum, or worth
	// nothing once converted and charged the fee.
	ErrBelowMinimum = errors.New("payout: amount below minimum")
	// ErrTooFrequent: the member already withdrew as often as the rules
	// allow in the period (rules period, max_per_period).
	ErrTooFrequent = errors.New("payout: too many withdrawals in the period")
	// ErrDailyMaximum: the withdrawal would take the member above the daily
	// maximum (rules daily_maximum, daily_window).
	ErrDailyMaximum = errors.New("payout: daily maximum reached")
	// ErrInsufficientFunds: the member's available balance is too small
	// (it also wraps ledger.ErrInsufficientFunds when the ledger refused).
	ErrInsufficientFunds = errors.New("payout: insufficient funds")
	// ErrUnknownSource: the account named to withdraw from is neither the
	// member's wallet nor one of the rules' sources with the member's ID
	// (someone else's account, or nobody's). It also wraps
	// ledger.ErrForbidden.
	ErrUnknownSource = errors.New("payout: not one of the member's payout sources")
	// ErrWrongState: the payout is not in a state that allows the call
	// (approving a rejected payout).
	ErrWrongState = errors.New("payout: wrong state")
	// ErrOutcomeContradiction: a provider's notification (RecordOutcome)
	// contradicts the final state already recorded: failed or returned
	// after paid, paid after failed, returned or rejected. Nothing moved;
	// it also wraps ErrWrongState. Someone should reconcile it with the
	// provider by hand.
	ErrOutcomeContradiction = errors.New("payout: provider outcome contradicts the recorded one")
	// ErrReversalUnsupported: the provider reports a paid payment reversed
	// (PayPal's REVERSED). payout has no reversal flow yet, so the
	// notification is refused and nothing moves; it also wraps
	// ErrWrongState.
	ErrReversalUnsupported = errors.New("payout: provider reversals are not supported")
	// ErrProviderTimeout: the provider did not answer; the outcome is
	// unknown and a retry with the same key is safe.
	ErrProviderTimeout = errors.New("payout: provider timed out")
	// ErrProviderConflict: a provider got the same idempotency key for a
	// different payment.
	ErrProviderConflict = errors.New("payout: provider key reused for a different payment")
)
