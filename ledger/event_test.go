package ledger_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/memstore"
)

func TestOnce(t *testing.T) {
	ctx := context.Background()
	l := ledger.New(memstore.New())
	require.NoError(t, l.DefineAsset(ctx, ledger.EUR))
	_, err := l.OpenAccount(ctx, ledger.AccountSpec{Address: ledger.World, Overdraft: ledger.Overdraft{Unbounded: true}})
	require.NoError(t, err)
	_, err = l.OpenAccount(ctx, ledger.AccountSpec{Address: "m:1"})
	require.NoError(t, err)

	type result struct{ TxID uint64 }
	var runs atomic.Int32
	pay := func(amount string) func(w *ledger.Writer) (result, error) {
		return func(w *ledger.Writer) (result, error) {
			runs.Add(1)
			tr, err := w.Post(ledger.TransferRequest{Postings: []ledger.Posting{
				{From: ledger.World, To: "m:1", Asset: "EUR", Amount: decimal.RequireFromString(amount)}}})
			return result{TxID: tr.ID}, err
		}
	}
	balance := func() string {
		b, err := l.Balance(ctx, "m:1", "EUR")
		require.NoError(t, err)
		return b.Posted.StringFixed(2)
	}

	first, err := ledger.Once(ctx, l, "test.event", "e1", "pay", "1.00", pay("1.00"))
	require.NoError(t, err)
	again, err := ledger.Once(ctx, l, "test.event", "e1", "pay", "1.00", pay("1.00"))
	require.NoError(t, err)
	require.Equal(t, first, again)
	require.EqualValues(t, 1, runs.Load(), "a replay must not run fn")
	require.Equal(t, "1.00", balance())

	_, err = ledger.Once(ctx, l, "test.event", "e1", "pay", "2.00", pay("2.00"))
	require.ErrorIs(t, err, ledger.ErrIdempotencyConflict)
	_, err = ledger.Once(ctx, l, "test.event", "e1", "refund", "1.00", pay("1.00"))
	require.ErrorIs(t, err, ledger.ErrIdempotencyConflict)
	require.Equal(t, "1.00", balance())

	// A refused event writes neither money nor its claim, so it may be
	// retried with the same id.
	boom := errors.New("boom")
	_, err = ledger.Once(ctx, l, "test.event", "e2", "pay", "5.00", func(w *ledger.Writer) (result, error) {
		if _, err := pay("5.00")(w); err != nil {
			return result{}, err
		}
		return result{}, boom
	})
	require.ErrorIs(t, err, boom)
	require.Equal(t, "1.00", balance())
	_, err = ledger.Once(ctx, l, "test.event", "e2", "pay", "5.00", pay("5.00"))
	require.NoError(t, err)
	require.Equal(t, "6.00", balance())

	// Racing first calls of one event pay once.
	var wg sync.WaitGroup
	results := make([]result, 8)
	for i := range results {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r, err := ledger.Once(ctx, l, "test.event", "e3", "pay", "0.50", pay("0.50"))
			require.NoError(t, err)
			results[i] = r
		}(i)
	}
	wg.Wait()
	for _, r := range results {
		require.Equal(t, results[0], r)
	}
	require.Equal(t, "6.50", balance())
	_, err = l.Verify(ctx)
	require.NoError(t, err)
}

// hidingStore hides records from reads while hide > 0, so an update sees
// an event as unclaimed although a claim exists: what a racing writer on a
// store that does not serialise whole updates would see.
type hidingStore struct {
	*memstore.Store
	hide atomic.Int32
}

func (s *hidingStore) Update(ctx context.Context, fn func(ledger.Tx) error) error {
	return s.Store.Update(ctx, func(tx ledger.Tx) error { return fn(hidingTx{Tx: tx, s: s}) })
}

type hidingTx struct {
	ledger.Tx
	s *hidingStore
}

func (t hidingTx) Record(kind, id string) ([]byte, error) {
	if t.s.hide.Add(-1) >= 0 {
		return nil, ledger.ErrNotFound
	}
	return t.Tx.Record(kind, id)
}

// TestOnceLostClaimReplays: a call that runs fn but then finds the event
// already claimed is rolled back and retried, and returns the winner's
// result instead of an error, paying nothing.
func TestOnceLostClaimReplays(t *testing.T) {
	ctx := context.Background()
	s := &hidingStore{Store: memstore.New()}
	l := ledger.New(s)
	require.NoError(t, l.DefineAsset(ctx, ledger.EUR))
	_, err := l.OpenAccount(ctx, ledger.AccountSpec{Address: ledger.World, Overdraft: ledger.Overdraft{Unbounded: true}})
	require.NoError(t, err)
	_, err = l.OpenAccount(ctx, ledger.AccountSpec{Address: "m:1"})
	require.NoError(t, err)
	pay := func(w *ledger.Writer) (uint64, error) {
		tr, err := w.Post(ledger.TransferRequest{Postings: []ledger.Posting{
			{From: ledger.World, To: "m:1", Asset: "EUR", Amount: decimal.RequireFromString("1.00")}}})
		return tr.ID, err
	}
	first, err := ledger.Once(ctx, l, "test.event", "e1", "pay", 1, pay)
	require.NoError(t, err)

	s.hide.Store(1) // the next read misses the claim, as a racing loser's would
	again, err := ledger.Once(ctx, l, "test.event", "e1", "pay", 1, pay)
	require.NoError(t, err)
	require.Equal(t, first, again)
	b, err := l.Balance(ctx, "m:1", "EUR")
	require.NoError(t, err)
	require.Equal(t, "1.00", b.Posted.StringFixed(2), "the loser's payment was undone")
	_, err = l.Verify(ctx)
	require.NoError(t, err)
}
