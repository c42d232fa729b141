package ledger

import (
	"errors"

	"github.com/rewardkit/rewardkit/ledger/driver"
)

// Sentinel errors. Every error the ledger returns wraps one of these, with
// the context that helps (which account, which asset, which rule); check
// them with errors.Is. A call that returns one of them wrote nothing.
// Those a store returns too (ErrUnknownAsset, ErrUnknownAccount,
// ErrNotFound, ErrDuplicate, ErrOverflow, ErrConflict, ErrClosed) are the
// values package driver declares, so a store's error matches them.
var (
	// ErrInvalidAmount: an amount is zero, negative, not a number, or too
	// large to keep.
	ErrInvalidAmount = errors.New("ledger: invalid amount")
	// ErrPrecision: an amount has more decimals than its asset allows. The
	// ledger never rounds an amount silently.
	ErrPrecision = errors.New("ledger: amount has more decimals than the asset allows")
	// ErrUnknownAsset: the asset code was never defined.
	ErrUnknownAsset = driver.ErrUnknownAsset
	// ErrInvalidAsset: an asset code or precision is malformed.
	ErrInvalidAsset = errors.New("ledger: invalid asset")
	// ErrAssetConflict: an asset was defined again with another precision.
	ErrAssetConflict = errors.New("ledger: asset already defined differently")
	// ErrUnknownAccount: the address was never opened as an account.
	ErrUnknownAccount = driver.ErrUnknownAccount
	// ErrInvalidAddress: an account address is malformed.
	ErrInvalidAddress = errors.New("ledger: invalid account address")
	// ErrAccountConflict: an account was opened again with another policy.
	ErrAccountConflict = errors.New("ledger: account already open with another policy")
	// ErrInsufficientFunds: a posting would take an account below its limit.
	ErrInsufficientFunds = errors.New("ledger: insufficient funds")
	// ErrInvalidTransaction: a transaction request is malformed (no
	// postings, a posting from an account to itself, bad metadata).
	ErrInvalidTransaction = errors.New("ledger: invalid transaction")
	// ErrIdempotencyConflict: an idempotency key was used before for a
	// different request.
	ErrIdempotencyConflict = errors.New("ledger: idempotency key reused for a different request")
	// ErrNotFound: no transaction, hold or record has that id or key.
	ErrNotFound = driver.ErrNotFound
	// ErrDuplicate: a record with that kind and id already exists.
	ErrDuplicate = driver.ErrDuplicate
	// ErrHoldClosed: the hold was already captured in full, voided or
	// expired, so nothing remains to capture.
	ErrHoldClosed = errors.New("ledger: hold is closed")
	// ErrHoldExpired: the hold's expiry has passed. Its funds stay
	// reserved until Ledger.Tick sweeps it or a Void releases it; a caller
	// that wants them back calls Void in the same unit of work.
	ErrHoldExpired = errors.New("ledger: hold expired")
	// ErrCaptureExceedsHold: a capture asks for more than the hold has left.
	ErrCaptureExceedsHold = errors.New("ledger: capture exceeds what the hold has left")
	// ErrAlreadyReversed: the transaction was already reversed.
	ErrAlreadyReversed = errors.New("ledger: transaction already reversed")
	// ErrInvalidRule: a conversion rule is malformed.
	ErrInvalidRule = errors.New("ledger: invalid conversion rule")
	// ErrOverflow: an amount, a balance or a sum of them would leave the
	// int64 range of minor units the ledger keeps.
	ErrOverflow = driver.ErrOverflow
	// ErrConflict: the unit of work lost a race with another writer and was
	// rolled back whole. Retrying it is safe; Ledger.Update does so itself a
	// bounded number of times. Stores return it for serialisation failures,
	// deadlocks and racing unique keys.
	ErrConflict = driver.ErrConflict
	// ErrVerify: Verify found a break in the journal, a balance or the hash
	// chain.
	ErrVerify = errors.New("ledger: verification failed")
	// ErrForbidden: the actor asking for a privileged action (a review, an
	// approval, a kill switch, a rule change) does not hold the role it
	// needs, or is a party to what it would decide.
	ErrForbidden = errors.New("ledger: forbidden")
	// ErrInvalidTime: a time is outside the range the ledger keeps
	// (MinTime to MaxTime), or a duration would carry one past it.
	ErrInvalidTime = errors.New("ledger: time out of range")
	// ErrClosed: the store was closed.
	ErrClosed = driver.ErrClosed
	// ErrInvalidEvent: an event given to Emit is malformed (its type,
	// subject or data), or a consumer's name or committed position is.
	ErrInvalidEvent = errors.New("ledger: invalid event")
	// ErrInvalidMonitor: a balance monitor given to AddMonitor is malformed
	// (its name, account pattern, asset, field or threshold) or its name is
	// taken.
	ErrInvalidMonitor = errors.New("ledger: invalid balance monitor")
)
