package ledger_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/teststore"
)

// TestAtomicStepThatFailsHalfWayDoomsTheUnitOfWork: a step run with
// Writer.Atomic that fails after it wrote cannot be committed, even by a
// caller who ignores its error; one that fails before writing leaves the
// unit of work free to go on. Batch items obey the same rule. On both
// stores.
func TestAtomicStepThatFailsHalfWayDoomsTheUnitOfWork(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixtureOn(t, open(t))
		refused := ledger.NewError(ledger.CodeFailedPrecondition, "test: refused")
		pay := func(w *ledger.Writer, key, amount string) error {
			_, err := w.Post(ledger.TransferRequest{Key: key, Postings: []ledger.Posting{{From: alice, To: bob, Asset: "EUR", Amount: dec(amount)}}})
			return err
		}
		halfWay := func(w *ledger.Writer) error {
			if err := pay(w, "half-1", "10"); err != nil {
				return err
			}
			return refused // after writing
		}
		before := f.snapshot(t)

		// The caller swallows the step's error: nothing commits.
		err := f.l.Update(f.ctx, func(w *ledger.Writer) error {
			if err := pay(w, "caller-1", "1"); err != nil {
				return err
			}
			stepErr := w.Atomic(halfWay)
			require.ErrorIs(t, stepErr, refused)
			return nil // ignores it
		})
		require.ErrorIs(t, err, refused)
		require.Equal(t, ledger.CodeFailedPrecondition, ledger.ErrorCode(err))
		f.requireUnchanged(t, before)

		// A step refused before writing: the caller goes on and commits.
		err = f.l.Update(f.ctx, func(w *ledger.Writer) error {
			stepErr := w.Atomic(func(w *ledger.Writer) error { return refused })
			require.ErrorIs(t, stepErr, refused)
			return pay(w, "caller-2", "2")
		})
		require.NoError(t, err)
		require.Equal(t, "2.00", f.posted(t, bob, "EUR"))

		// A step whose own write is refused by the ledger writes nothing
		// either (the ledger's operations are atomic): the caller may go on.
		err = f.l.Update(f.ctx, func(w *ledger.Writer) error {
			stepErr := w.Atomic(func(w *ledger.Writer) error { return pay(w, "too-much", "1000") })
			require.ErrorIs(t, stepErr, ledger.ErrInsufficientFunds)
			return pay(w, "caller-3", "3")
		})
		require.NoError(t, err)
		require.Equal(t, "5.00", f.posted(t, bob, "EUR"))

		// Opening an account is idempotent and moves nothing: a step
		// refused after opening the account it would pay into is a
		// refusal, and the caller goes on (the account stays, empty).
		err = f.l.Update(f.ctx, func(w *ledger.Writer) error {
			stepErr := w.Atomic(func(w *ledger.Writer) error {
				if _, err := w.OpenAccount(ledger.AccountSpec{Address: "member:dave"}); err != nil {
					return err
				}
				return refused
			})
			require.ErrorIs(t, stepErr, refused)
			return pay(w, "caller-4", "0.5")
		})
		require.NoError(t, err)
		require.Equal(t, "5.50", f.posted(t, bob, "EUR"))
		require.Equal(t, "0.00", f.posted(t, "member:dave", "EUR"))

		// A record refused as a duplicate wrote nothing: the step that met
		// it is a refusal, and the caller goes on.
		require.NoError(t, f.l.Update(f.ctx, func(w *ledger.Writer) error { return w.InsertRecord("claim", "c1", []byte("{}")) }))
		err = f.l.Update(f.ctx, func(w *ledger.Writer) error {
			stepErr := w.Atomic(func(w *ledger.Writer) error { return w.InsertRecord("claim", "c1", []byte("{}")) })
			require.ErrorIs(t, stepErr, ledger.ErrDuplicate)
			return w.InsertRecord("claim", "c2", []byte("{}"))
		})
		require.NoError(t, err)

		// In a batch, the doomed item alone is undone and reported.
		errs, err := f.l.UpdateBatch(f.ctx, []func(*ledger.Writer) error{
			func(w *ledger.Writer) error { _ = w.Atomic(halfWay); return nil },
			func(w *ledger.Writer) error { return pay(w, "batch-ok", "4") },
		})
		require.NoError(t, err)
		require.ErrorIs(t, errs[0], refused)
		require.NoError(t, errs[1])
		require.Equal(t, "9.50", f.posted(t, bob, "EUR"))
		_, err = f.l.TransactionByKey(f.ctx, "half-1")
		require.True(t, errors.Is(err, ledger.ErrNotFound), "the half-way step's posting was kept: %v", err)
		f.requireSound(t)
	})
}
