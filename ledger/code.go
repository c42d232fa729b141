package ledger

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// Code classifies an error of the library in a small set a service maps to
// a status, as gRPC codes and go-cloud's gcerrors do. ErrorCode returns
// the code of any error; each code names the HTTP status it maps to.
type Code string

// The codes. Each refusal of the ledger and of every program has one of
// them; anything the library does not know is CodeInternal.
const (
	// CodeOK: no error (HTTP 200).
	CodeOK Code = "ok"
	// CodeInvalidArgument: the request is malformed or out of the range a
	// rule allows, whatever the state (HTTP 400 Bad Request).
	CodeInvalidArgument Code = "invalid_argument"
	// CodeNotFound: something the request names does not exist: an
	// account, an asset, a member, a record (HTTP 404 Not Found).
	CodeNotFound Code = "not_found"
	// CodeConflict: it already exists: an idempotency key or event ID
	// reused for a different request, a record or definition made twice,
	// a reward already granted (HTTP 409 Conflict). Retrying the same
	// request does not help.
	CodeConflict Code = "conflict"
	// CodeFailedPrecondition: the request is well formed, but the state
	// refuses it: too few funds, a hold closed, an order in the wrong
	// state, a member a rule makes ineligible (HTTP 422 Unprocessable
	// Content, kept apart from 409 so that a client can tell a refusal by
	// the rules from a reused key).
	CodeFailedPrecondition Code = "failed_precondition"
	// CodePermissionDenied: the actor may not do this: it lacks the role,
	// or is a party to what it would decide (HTTP 403 Forbidden).
	CodePermissionDenied Code = "permission_denied"
	// CodeResourceExhausted: a cap, a daily limit or a budget is used up;
	// the same request may succeed in a later period (HTTP 429 Too Many
	// Requests).
	CodeResourceExhausted Code = "resource_exhausted"
	// CodeUnavailable: the request could not be completed now and
	// retrying it whole is safe: a lost race with another writer
	// (ErrConflict), a closed store, a provider that did not answer, or
	// the caller's context cancelled or past its deadline (HTTP 503
	// Service Unavailable).
	CodeUnavailable Code = "unavailable"
	// CodeInternal: a broken invariant (ErrVerify) or an error the
	// library does not classify, such as a database failure (HTTP 500
	// Internal Server Error).
	CodeInternal Code = "internal"
)

// HTTPStatus returns the HTTP status the code maps to; an unknown code
// maps to 500.
func (c Code) HTTPStatus() int {
	switch c {
	case CodeOK:
		return http.StatusOK
	case CodeInvalidArgument:
		return http.StatusBadRequest
	case CodeNotFound:
		return http.StatusNotFound
	case CodeConflict:
		return http.StatusConflict
	case CodeFailedPrecondition:
		return http.StatusUnprocessableEntity
	case CodePermissionDenied:
		return http.StatusForbidden
	case CodeResourceExhausted:
		return http.StatusTooManyRequests
	case CodeUnavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// NewError returns a new sentinel error with the message msg whose code is
// code. Like errors.New, each call returns a distinct error (a pointer),
// matched with errors.Is. Programs declare their sentinels with it so
// that ErrorCode knows them: a program's sentinel wrapping a ledger
// sentinel decides the code, being outer.
func NewError(code Code, msg string) error {
	return &codedError{code: code, msg: msg}
}

type codedError struct {
	code Code
	msg  string
}

func (e *codedError) Error() string   { return e.msg }
func (e *codedError) ErrorCode() Code { return e.code }

// ErrorCode returns the code of err: CodeOK for nil; else the code of the
// first error in err's chain (in the order errors.Is visits it) with an
// ErrorCode() Code method, such as the sentinels NewError makes; else the
// code of the first ledger sentinel (or context.Canceled or
// context.DeadlineExceeded, CodeUnavailable) in the chain; else
// CodeInternal.
//
// The ledger's sentinels map as follows. ErrOverflow is an invalid
// argument: an amount too large to keep is the request's. ErrConflict and
// ErrClosed are unavailable: the unit of work may be retried whole.
//
//	CodeInvalidArgument     ErrInvalidAmount, ErrPrecision, ErrInvalidAsset, ErrInvalidAddress,
//	                        ErrInvalidTransaction, ErrInvalidRule, ErrInvalidTime, ErrInvalidEvent,
//	                        ErrInvalidMonitor, ErrOverflow
//	CodeNotFound            ErrUnknownAsset, ErrUnknownAccount, ErrNotFound
//	CodeConflict            ErrIdempotencyConflict, ErrDuplicate, ErrAssetConflict,
//	                        ErrAccountConflict, ErrAlreadyReversed
//	CodeFailedPrecondition  ErrInsufficientFunds, ErrHoldClosed, ErrHoldExpired, ErrCaptureExceedsHold
//	CodePermissionDenied    ErrForbidden
//	CodeUnavailable         ErrConflict, ErrClosed
//	CodeInternal            ErrVerify
func ErrorCode(err error) Code {
	if err == nil {
		return CodeOK
	}
	var coded interface{ ErrorCode() Code }
	if errors.As(err, &coded) {
		return coded.ErrorCode()
	}
	if c, ok := sentinelCode(err); ok {
		return c
	}
	return CodeInternal
}

// sentinelCodes are the codes of the ledger's sentinels and the context's
// errors, in the order ErrorCode tries them on each error of a chain.
var sentinelCodes = []struct {
	err  error
	code Code
}{
	{ErrInvalidAmount, CodeInvalidArgument},
	{ErrPrecision, CodeInvalidArgument},
	{ErrInvalidAsset, CodeInvalidArgument},
	{ErrInvalidAddress, CodeInvalidArgument},
	{ErrInvalidTransaction, CodeInvalidArgument},
	{ErrInvalidRule, CodeInvalidArgument},
	{ErrInvalidTime, CodeInvalidArgument},
	{ErrInvalidEvent, CodeInvalidArgument},
	{ErrInvalidMonitor, CodeInvalidArgument},
	{ErrOverflow, CodeInvalidArgument},
	{ErrUnknownAsset, CodeNotFound},
	{ErrUnknownAccount, CodeNotFound},
	{ErrNotFound, CodeNotFound},
	{ErrIdempotencyConflict, CodeConflict},
	{ErrDuplicate, CodeConflict},
	{ErrAssetConflict, CodeConflict},
	{ErrAccountConflict, CodeConflict},
	{ErrAlreadyReversed, CodeConflict},
	{ErrInsufficientFunds, CodeFailedPrecondition},
	{ErrHoldClosed, CodeFailedPrecondition},
	{ErrHoldExpired, CodeFailedPrecondition},
	{ErrCaptureExceedsHold, CodeFailedPrecondition},
	{ErrForbidden, CodePermissionDenied},
	{ErrConflict, CodeUnavailable},
	{ErrClosed, CodeUnavailable},
	{ErrVerify, CodeInternal},
	{context.Canceled, CodeUnavailable},
	{context.DeadlineExceeded, CodeUnavailable},
}

// sentinelCode walks err's chain depth first, as errors.Is does, and
// returns the code of the first error that is one of sentinelCodes (or
// whose Is method says so).
func sentinelCode(err error) (Code, bool) {
	for err != nil {
		is, hasIs := err.(interface{ Is(error) bool })
		for _, s := range sentinelCodes {
			// Every sentinel's type is comparable, so == cannot panic.
			if err == s.err || hasIs && is.Is(s.err) {
				return s.code, true
			}
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if c, ok := sentinelCode(e); ok {
					return c, true
				}
			}
			return "", false
		default:
			return "", false
		}
	}
	return "", false
}

// Refusal is a refusal by a named rule. Err is the sentinel (which decides
// the code), Rule the rule's name as the rule set spells it in JSON
// ("min_age", "daily_spend_limit"), and Detail what was found, in words
// safe to show the user who made the request. A service reads the rule
// with RuleOf, as data, rather than from the message.
type Refusal struct {
	Err    error
	Rule   string
	Detail string
}

// Refuse returns a Refusal of sentinel by rule, with a detail made from
// format and args as fmt.Sprintf does.
func Refuse(sentinel error, rule, format string, args ...any) error {
	return &Refusal{Err: sentinel, Rule: rule, Detail: fmt.Sprintf(format, args...)}
}

// Error is the sentinel's message, the detail, and the rule's name:
// "gifting: ineligible: under 18 (rule min_age)".
func (r *Refusal) Error() string {
	msg := r.Err.Error()
	if r.Detail != "" {
		msg += ": " + r.Detail
	}
	if r.Rule != "" {
		msg += " (rule " + r.Rule + ")"
	}
	return msg
}

// Unwrap returns the sentinel, for errors.Is and ErrorCode.
func (r *Refusal) Unwrap() error { return r.Err }

// RuleOf returns the name of the rule that refused err (the first
// Refusal in its chain), or "" if no named rule did.
func RuleOf(err error) string {
	var r *Refusal
	if errors.As(err, &r) {
		return r.Rule
	}
	return ""
}
