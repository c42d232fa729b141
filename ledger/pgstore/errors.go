package pgstore

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/driver"
)

// ErrInvalidSchema: the name given to WithSchema is not one PostgreSQL
// keeps as it is (see WithSchema). Open returns an error wrapping it and
// touches nothing.
var ErrInvalidSchema = ledger.NewError(ledger.CodeInvalidArgument, "pgstore: invalid schema name")

// ErrStatementTimeout: a statement of a writing group ran longer than
// WithStatementTimeout allows (waiting for a row lock another connection
// holds, typically), or the group as a whole did. The group was rolled
// back: nothing of it was committed, and every caller of it gets an error
// wrapping ErrStatementTimeout. Its code is unavailable (503): nothing was
// committed, so the same request may be retried.
var ErrStatementTimeout = ledger.NewError(ledger.CodeUnavailable, "pgstore: statement timeout")

// PostgreSQL error codes the store translates.
const (
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
	codeUniqueViolation      = "23505"
	codeNumericOutOfRange    = "22003"
	codeDivisionByZero       = "22012" // only checkKeysSQL divides
	codeQueryCanceled        = "57014" // statement_timeout, or a cancel request
)

// mapErr translates a database error: a serialisation failure, a
// deadlock or a unique violation (two writers racing for one idempotency
// key) means the unit of work lost a race and may be retried whole, so it
// wraps driver.ErrConflict; a number out of its column's range (BIGINT
// arithmetic that would overflow) wraps driver.ErrOverflow; a statement
// cancelled by the server (statement_timeout, see WithStatementTimeout)
// wraps ErrStatementTimeout. Anything else is returned as it is.
func mapErr(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case codeSerializationFailure, codeDeadlockDetected, codeUniqueViolation:
			return fmt.Errorf("%w: %w", driver.ErrConflict, err)
		case codeNumericOutOfRange:
			return fmt.Errorf("%w: %w", driver.ErrOverflow, err)
		case codeQueryCanceled:
			return fmt.Errorf("%w: %w", ErrStatementTimeout, err)
		}
	}
	return err
}
