package pgstore

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/driver"
)

// TestBigintOverflowIsErrOverflow: issue 10 #1 (the store's part). The
// store does no arithmetic on balances in SQL (the ledger computes every
// balance with checked int64 steps and the store writes the results), but
// should BIGINT arithmetic ever overflow in the database, the error is
// the typed driver.ErrOverflow (ledger.ErrOverflow), not the database's
// bare error.
func TestBigintOverflowIsErrOverflow(t *testing.T) {
	conn := rawConn(t, newSchema(t))
	_, err := conn.Exec(context.Background(), "SELECT $1::bigint + 1", int64(1<<63-1))
	requireSQLState(t, err, codeNumericOutOfRange)
	require.ErrorIs(t, mapErr(err), ledger.ErrOverflow)
	require.NotErrorIs(t, mapErr(err), ledger.ErrConflict)
}

// TestPanicWithErrorKeepsCause: issue 10 #11. A unit of work of a batch
// that panics with an error reports an error that wraps it.
func TestPanicWithErrorKeepsCause(t *testing.T) {
	s := newStore(t)
	cause := errors.New("the cause")
	errs, err := s.UpdateBatch(context.Background(), []func(driver.Tx) error{
		func(driver.Tx) error { panic(cause) },
		func(driver.Tx) error { return nil },
	})
	require.NoError(t, err)
	require.ErrorIs(t, errs[0], cause)
	require.NoError(t, errs[1])
}
