package pgstore

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rewardkit/rewardkit/ledger"
)

// PostgreSQL error codes the store translates.
const (
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
	codeUniqueViolation      = "23505"
)

// mapErr translates a database error: a serialisation failure, a
// deadlock or a unique violation (two writers racing for one idempotency
// key) means the unit of work lost a race and may be retried whole, so it
// wraps ledger.ErrConflict. Anything else is returned as it is.
func mapErr(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case codeSerializationFailure, codeDeadlockDetected, codeUniqueViolation:
			return fmt.Errorf("%w: %w", ledger.ErrConflict, err)
		}
	}
	return err
}
