package referral

import (
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
)

// Sentinel errors. Every refusal wraps one of them together with the rule
// or field that refused; check them with errors.Is. A call that returns one
// of them changed nothing: no money moved and no record was written. A
// refusal by a rule of the rule set is a *ledger.Refusal naming the rule
// by its JSON name (ledger.RuleOf(err) == "min_age"). Messages begin with
// "referral: " once and name members only by their IDs: they are safe to
// show the member.
//
// Each has a code (ledger.ErrorCode) in its constructor. The rules'
// refusals of a member or an invite (ErrIneligible, ErrSelfReferral,
// ErrReferralLoop, ErrNotNew, ErrDuplicateSignal, ErrNotInvited,
// ErrCampaignClosed, ErrCountryDisabled) are failed preconditions, not
// permission denied: no role is missing, the rules refuse the event. A
// referral or reward granted before is a conflict; caps and the budget
// are resource exhausted.
var (
	// ErrInvalidRules: a Rules value is malformed; the message names the field.
	ErrInvalidRules = ledger.NewError(ledger.CodeInvalidArgument, "referral: invalid rules")
	// ErrInvalidRequest: a request's fields are malformed (an empty or
	// too long id, a bad amount); the message names the field.
	ErrInvalidRequest = ledger.NewError(ledger.CodeInvalidArgument, "referral: invalid request")
	// ErrIdempotencyConflict: an event id (or a fund's event id) was used
	// before for a different event, or a purchase was recorded under
	// another event id. It comes wrapped together with
	// ledger.ErrIdempotencyConflict.
	ErrIdempotencyConflict = ledger.NewError(ledger.CodeConflict, "referral: event id reused for a different event")
	// ErrUnknownMember: the member directory does not know the member. It
	// is kit.ErrUnknownMember, the same value in every program.
	ErrUnknownMember = kit.ErrUnknownMember
	// ErrUnknownCode: no member holds that invite code.
	ErrUnknownCode = ledger.NewError(ledger.CodeNotFound, "referral: unknown invite code")
	// ErrUnknownTask: the rules define no task with that id.
	ErrUnknownTask = ledger.NewError(ledger.CodeNotFound, "referral: unknown task")
	// ErrNotInvited: the member did not sign up with an invite code.
	ErrNotInvited = ledger.NewError(ledger.CodeFailedPrecondition, "referral: member was not invited")
	// ErrIneligible: a member fails an eligibility rule (country, min_age,
	// require_profile, require_payout_linked, exclude_employees,
	// same_country). A member whose facts the min_age rule cannot read (no
	// birth date) is refused with kit.ErrMemberFacts instead.
	ErrIneligible = ledger.NewError(ledger.CodeFailedPrecondition, "referral: member not eligible")
	// ErrSelfReferral: the invitee is the referrer, or shares the referrer's
	// device or payment instrument.
	ErrSelfReferral = ledger.NewError(ledger.CodeFailedPrecondition, "referral: self-referral")
	// ErrReferralLoop: the invitee already belongs to the campaign's
	// referral graph as a referrer: they hold an invite code (so they may
	// have invited others, the referrer among them or the referrer's own
	// referrer). Accepting them as an invitee could close a loop of any
	// length, so they are refused whether or not it would.
	ErrReferralLoop = ledger.NewError(ledger.CodeFailedPrecondition, "referral: referral loop")
	// ErrNotNew: the invitee is not new to the platform (rule newness).
	ErrNotNew = ledger.NewError(ledger.CodeFailedPrecondition, "referral: invitee is not new")
	// ErrAlreadyReferred: the invitee already signed up with a code.
	ErrAlreadyReferred = ledger.NewError(ledger.CodeConflict, "referral: invitee already referred")
	// ErrDuplicateSignal: another invitee already signed up from the same
	// device or payment instrument.
	ErrDuplicateSignal = ledger.NewError(ledger.CodeFailedPrecondition, "referral: device or payment instrument already used by another invitee")
	// ErrCapReached: a cap (invites_per_day, max_rewarded_invitees,
	// daily_earning_cap) is reached.
	ErrCapReached = ledger.NewError(ledger.CodeResourceExhausted, "referral: cap reached")
	// ErrBudgetExhausted: the campaign budget cannot pay the reward.
	ErrBudgetExhausted = ledger.NewError(ledger.CodeResourceExhausted, "referral: campaign budget exhausted")
	// ErrCampaignClosed: the event falls outside the campaign window.
	ErrCampaignClosed = ledger.NewError(ledger.CodeFailedPrecondition, "referral: campaign closed")
	// ErrCountryDisabled: the kill switch is on for the member's country.
	ErrCountryDisabled = ledger.NewError(ledger.CodeFailedPrecondition, "referral: program disabled in country")
	// ErrAlreadyRewarded: the reward was already granted for that period.
	ErrAlreadyRewarded = ledger.NewError(ledger.CodeConflict, "referral: already rewarded")
)
