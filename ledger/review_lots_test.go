package ledger_test

import (
	"errors"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/teststore"
)

// A hold reserves the balance's soonest-expiring lots first (its capture
// consumes them first), so money that arrives while an expired lot is held
// is the member's: a Tick must not move it to breakage in the held lot's
// name.
func TestReviewLotsHeldExpiredLotDoesNotTakeNewMoney(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newLotFixture(t, open(t))
		g := f.grant(t, lotMember, 100, day)
		h, err := f.l.Hold(f.ctx, ledger.HoldRequest{Account: lotMember, Asset: "RUBY", Amount: decimal.NewFromInt(100), ExpiresAt: t0.Add(3 * day)})
		require.NoError(t, err)
		f.clock.Set(t0.Add(2 * day))
		n, err := f.l.Tick(f.ctx)
		require.NoError(t, err)
		require.Zero(t, n, "all of the lot is held")

		f.grant(t, lotMember, 50, 0) // never expires
		n, err = f.l.Tick(f.ctx)
		require.NoError(t, err)
		require.Zero(t, n, "the new money is not the expired lot's")
		require.EqualValues(t, 0, f.posted(t, lotBreakage))
		require.Equal(t, []lotView{{100, day, g.ID}, {50, -1, 0}}, f.lots(t, lotMember))

		_, err = f.l.Capture(f.ctx, ledger.CaptureRequest{Hold: h.ID, Destinations: []ledger.Leg{{To: lotShop, Amount: decimal.NewFromInt(100)}}})
		require.NoError(t, err)
		require.EqualValues(t, 50, f.posted(t, lotMember))
		require.Equal(t, []lotView{{50, -1, 0}}, f.lots(t, lotMember))
		f.verify(t)
	})
}

// A grant spent in its own transaction, with the member debited between
// two credits, and its reversal: the lots follow the running balances and
// Verify replays them.
func TestReviewLotsMultiPostingGrantSpendAndReversal(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newLotFixture(t, open(t))
		f.grant(t, lotMember, 10, 0)
		rub := func(n int64) decimal.Decimal { return decimal.NewFromInt(n) }
		tr, err := f.l.Post(f.ctx, ledger.TransferRequest{Postings: []ledger.Posting{
			with(ledger.Posting{From: ledger.World, To: lotMember, Asset: "RUBY", Amount: rub(40)}, t0.Add(2*day), lotBreakage),
			{From: lotMember, To: lotShop, Asset: "RUBY", Amount: rub(30)},
			with(ledger.Posting{From: ledger.World, To: lotMember, Asset: "RUBY", Amount: rub(5)}, t0.Add(day), lotBreakage),
			{From: lotMember, To: lotOther, Asset: "RUBY", Amount: rub(7)},
		}})
		require.NoError(t, err)
		require.EqualValues(t, 18, f.posted(t, lotMember))
		require.Equal(t, []lotView{{8, 2 * day, tr.ID}, {10, -1, 0}}, f.lots(t, lotMember))
		f.verify(t)
		_, err = f.l.Reverse(f.ctx, ledger.ReversalRequest{ID: tr.ID})
		require.NoError(t, err)
		require.EqualValues(t, 10, f.posted(t, lotMember))
		require.Equal(t, []lotView{{10, -1, 0}}, f.lots(t, lotMember))
		f.clock.Set(t0.Add(3 * day))
		n, err := f.l.Tick(f.ctx)
		require.NoError(t, err)
		require.Zero(t, n)
		require.EqualValues(t, 0, f.posted(t, lotBreakage))
		f.verify(t)
	})
}

// A batch item that fails after granting a lot, or after spending one,
// leaves no lot change behind; its neighbours keep theirs.
func TestReviewLotsFailedBatchItemUndoesItsLots(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newLotFixture(t, open(t))
		g := f.grant(t, lotMember, 20, day)
		boom := errors.New("boom")
		p := with(ledger.Posting{From: ledger.World, To: lotMember, Asset: "RUBY", Amount: decimal.NewFromInt(5)}, t0.Add(2*day), lotBreakage)
		errs, err := f.l.UpdateBatch(f.ctx, []func(w *ledger.Writer) error{
			func(w *ledger.Writer) error {
				if _, err := w.Post(ledger.TransferRequest{Postings: []ledger.Posting{p}}); err != nil {
					return err
				}
				if _, err := w.Post(ledger.TransferRequest{Postings: []ledger.Posting{{From: lotMember, To: lotShop, Asset: "RUBY", Amount: decimal.NewFromInt(12)}}}); err != nil {
					return err
				}
				return boom
			},
			func(w *ledger.Writer) error {
				_, err := w.Post(ledger.TransferRequest{Postings: []ledger.Posting{{From: lotMember, To: lotShop, Asset: "RUBY", Amount: decimal.NewFromInt(3)}}})
				return err
			},
		})
		require.NoError(t, err)
		require.ErrorIs(t, errs[0], boom)
		require.NoError(t, errs[1])
		require.Equal(t, []lotView{{17, day, g.ID}}, f.lots(t, lotMember))
		f.verify(t)
	})
}

// Reversing an expiry transaction gives the member the money back; the
// next Tick must not expire the same lot a second time.
func TestReviewLotsReversedExpiryDoesNotExpireAgain(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newLotFixture(t, open(t))
		f.grant(t, lotMember, 100, day)
		f.clock.Set(t0.Add(2 * day))
		n, err := f.l.Tick(f.ctx)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		txs, _, err := f.l.Transactions(f.ctx, 0, 10)
		require.NoError(t, err)
		e := txs[len(txs)-1]
		require.Contains(t, e.Metadata, "ledger.lot.expired")
		_, err = f.l.Reverse(f.ctx, ledger.ReversalRequest{ID: e.ID})
		require.NoError(t, err)
		n, err = f.l.Tick(f.ctx)
		require.NoError(t, err)
		require.Zero(t, n, "the lot was settled once")
		require.EqualValues(t, 100, f.posted(t, lotMember))
		require.EqualValues(t, 0, f.posted(t, lotBreakage))
		require.Equal(t, []lotView{{100, -1, 0}}, f.lots(t, lotMember))
		f.verify(t)
	})
}
