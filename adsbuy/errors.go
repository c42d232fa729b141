package adsbuy

import "github.com/rewardkit/rewardkit/ledger"

// Sentinel errors. Every refusal wraps one of them (check with errors.Is)
// with the rule, field or account that refused, and keeps its cause in the
// chain (a budget refused for funds matches both ErrInsufficientFunds and
// ledger.ErrInsufficientFunds); a refused event writes nothing. A refusal
// by a rule of Rules is a *ledger.Refusal whose Rule is the rule's JSON
// name (ledger.RuleOf: "min_top_up", "countries"). Times outside the
// ledger's range are ledger.ErrInvalidTime, amounts beyond any the ledger
// keeps ledger.ErrInvalidAmount or ledger.ErrOverflow.
//
// Each has a code (ledger.ErrorCode) in its constructor: amounts out of
// bounds and budgets under a minimum are invalid arguments; ErrCountry and
// ErrInsufficientFunds are failed preconditions.
var (
	// ErrInvalidRules: a Rules value failed Validate; the message names the
	// field.
	ErrInvalidRules = ledger.NewError(ledger.CodeInvalidArgument, "adsbuy: invalid rules")
	// ErrInvalidRequest: an event's arguments are malformed (an empty id,
	// a negative count, an amount with too many decimals).
	ErrInvalidRequest = ledger.NewError(ledger.CodeInvalidArgument, "adsbuy: invalid request")
	// ErrCountry: the advertiser's country is not one where ads may be
	// bought (rule "countries").
	ErrCountry = ledger.NewError(ledger.CodeFailedPrecondition, "adsbuy: country not allowed")
	// ErrUnknownAdvertiser: no advertiser account has that id.
	ErrUnknownAdvertiser = ledger.NewError(ledger.CodeNotFound, "adsbuy: unknown advertiser")
	// ErrTopUpBounds: a top-up is below min_top_up or above max_top_up.
	ErrTopUpBounds = ledger.NewError(ledger.CodeInvalidArgument, "adsbuy: top-up out of bounds")
	// ErrBudgetTooLow: a campaign's or an ad group's daily budget is under
	// its minimum (rules min_campaign_daily_budget, min_ad_group_daily_budget).
	ErrBudgetTooLow = ledger.NewError(ledger.CodeInvalidArgument, "adsbuy: budget under the minimum")
	// ErrInvalidCampaign: a campaign breaks another rule (schedule, bid
	// type, an ad group budget above the campaign's).
	ErrInvalidCampaign = ledger.NewError(ledger.CodeInvalidArgument, "adsbuy: invalid campaign")
	// ErrInsufficientFunds: the advertiser's available balance cannot hold
	// the campaign's budget.
	ErrInsufficientFunds = ledger.NewError(ledger.CodeFailedPrecondition, "adsbuy: insufficient funds")
	// ErrForbidden: the actor may not do this: a review by an actor
	// without kit.RoleSalesRep, an advertiser reviewing its own campaign,
	// someone who is neither the owner nor a sales representative pausing,
	// resuming or cancelling, or the owner resuming a campaign staff
	// paused. It is ledger.ErrForbidden, which kit.Authorize returns, so
	// either matches with errors.Is.
	ErrForbidden = ledger.ErrForbidden
	// ErrWrongState: the event does not apply to the campaign's state
	// (approving a live campaign, a delivery before approval or after the
	// end).
	ErrWrongState = ledger.NewError(ledger.CodeFailedPrecondition, "adsbuy: wrong state")
	// ErrUnknownCampaign: no campaign has that id.
	ErrUnknownCampaign = ledger.NewError(ledger.CodeNotFound, "adsbuy: unknown campaign")
	// ErrUnknownAdGroup: the campaign has no ad group with that id.
	ErrUnknownAdGroup = ledger.NewError(ledger.CodeNotFound, "adsbuy: unknown ad group")
	// ErrIdempotencyConflict: an event id (payment reference, campaign id,
	// report id) was used before for a different request. It is
	// ledger.ErrIdempotencyConflict, which kit.Once returns, so either
	// matches with errors.Is.
	ErrIdempotencyConflict = ledger.ErrIdempotencyConflict
)
