package pgstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/driver"
)

// state is what the ledger shows: the head and two balances.
type state struct {
	head driver.Head
	a, b decimal.Decimal
}

func readState(t *testing.T, l *ledger.Ledger) state {
	t.Helper()
	ctx := context.Background()
	var st state
	require.NoError(t, l.Store().View(ctx, func(rt driver.ReadTx) (err error) {
		st.head, err = rt.Head()
		return err
	}))
	a, err := l.Balance(ctx, "member:a", "EUR")
	require.NoError(t, err)
	b, err := l.Balance(ctx, "member:b", "EUR")
	require.NoError(t, err)
	st.a, st.b = a.Posted, b.Posted
	return st
}

// requireNoneKept checks that nothing of the failed update is there and
// that the ledger is sound and still takes writes.
func requireNoneKept(t *testing.T, l *ledger.Ledger, before state, keys ...string) {
	t.Helper()
	ctx := context.Background()
	after := readState(t, l)
	require.Equal(t, before.head, after.head, "no transaction of the update is kept")
	require.True(t, before.a.Equal(after.a) && before.b.Equal(after.b), "no balance of the update is kept")
	for _, k := range keys {
		_, err := l.TransactionByKey(ctx, k)
		require.ErrorIs(t, err, ledger.ErrNotFound, "key %s", k)
	}
	_, err := l.Verify(ctx)
	require.NoError(t, err)
	_, err = l.Transfer(ctx, "after", "member:a", "member:b", "EUR", decimal.NewFromInt(1))
	require.NoError(t, err, "the store recovers")
	_, err = l.Verify(ctx)
	require.NoError(t, err)
}

func two(w *ledger.Writer, k1, k2 string) error {
	if _, err := w.Post(ledger.TransferRequest{Key: k1, Postings: []ledger.Posting{{From: "member:a", To: "member:b", Asset: "EUR", Amount: decimal.NewFromInt(3)}}}); err != nil {
		return err
	}
	_, err := w.Post(ledger.TransferRequest{Key: k2, Postings: []ledger.Posting{{From: "member:b", To: "member:a", Asset: "EUR", Amount: decimal.NewFromInt(1)}}})
	return err
}

// TestCancelMidUpdate cancels the caller's context between two postings of
// one update: the update fails with the context's error and keeps neither.
func TestCancelMidUpdate(t *testing.T) {
	l := newLedger(t, newStore(t), 100, "member:a", "member:b")
	before := readState(t, l)
	ctx, cancel := context.WithCancel(context.Background())
	err := l.Update(ctx, func(w *ledger.Writer) error {
		if _, err := w.Post(ledger.TransferRequest{Key: "c1", Postings: []ledger.Posting{{From: "member:a", To: "member:b", Asset: "EUR", Amount: decimal.NewFromInt(3)}}}); err != nil {
			return err
		}
		cancel()
		_, err := w.Post(ledger.TransferRequest{Key: "c2", Postings: []ledger.Posting{{From: "member:b", To: "member:a", Asset: "EUR", Amount: decimal.NewFromInt(1)}}})
		return err
	})
	require.ErrorIs(t, err, context.Canceled)
	requireNoneKept(t, l, before, "c1", "c2")
}

// terminateWriter kills the committer's backend from another connection.
func terminateWriter(t *testing.T, s *Store) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), testDSN(t))
	require.NoError(t, err)
	defer conn.Close(context.Background())
	var ok bool
	require.NoError(t, conn.QueryRow(context.Background(), "SELECT pg_terminate_backend($1)", int32(s.writerPID.Load())).Scan(&ok))
	require.True(t, ok, "backend terminated")
}

// TestKillBackendMidUpdate terminates the committer's own backend in the
// middle of an update, then lets the update go on: it fails, keeps none of
// its writes, and the store reconnects for the next one.
func TestKillBackendMidUpdate(t *testing.T) {
	for _, tc := range []struct {
		name string
		then func(w *ledger.Writer) error
	}{
		// The next read finds the connection gone.
		{"read after kill", func(w *ledger.Writer) error {
			_, err := w.Post(ledger.TransferRequest{Key: "k2", Postings: []ledger.Posting{{From: "member:b", To: "member:a", Asset: "EUR", Amount: decimal.NewFromInt(1)}}})
			return err
		}},
		// Nothing more is read: the COMMIT finds the connection gone, and
		// the caller is told so, not "success".
		{"commit after kill", func(w *ledger.Writer) error { return nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			l := newLedger(t, s, 100, "member:a", "member:b")
			before := readState(t, l)
			err := l.Update(context.Background(), func(w *ledger.Writer) error {
				if _, err := w.Post(ledger.TransferRequest{Key: "k1", Postings: []ledger.Posting{{From: "member:a", To: "member:b", Asset: "EUR", Amount: decimal.NewFromInt(3)}}}); err != nil {
					return err
				}
				terminateWriter(t, s)
				return tc.then(w)
			})
			require.Error(t, err)
			require.NotErrorIs(t, err, ledger.ErrConflict, "a lost connection is not a conflict to retry")
			requireNoneKept(t, l, before, "k1", "k2")
		})
	}
}

// TestKillBackendWithGroupInFlight kills the committer's backend while
// other callers' transfers share its group: every caller told success
// finds its transfer, every caller told failure finds none, and the
// ledger is sound.
func TestKillBackendWithGroupInFlight(t *testing.T) {
	s := newStore(t, WithGroupWindow(defaultTestWindow))
	l := newLedger(t, s, 1000, "member:a", "member:b")
	ctx := context.Background()
	const callers = 12
	results := make([]error, callers)
	var wg sync.WaitGroup
	for i := 0; i < callers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = l.Update(ctx, func(w *ledger.Writer) error {
				_, err := w.Post(ledger.TransferRequest{Key: fmt.Sprintf("g%d", i), Postings: []ledger.Posting{{From: "member:a", To: "member:b", Asset: "EUR", Amount: decimal.NewFromInt(1)}}})
				if err == nil && i == callers/2 {
					terminateWriter(t, s)
				}
				return err
			})
		}()
	}
	wg.Wait()
	failed := 0
	for i, err := range results {
		_, found := l.TransactionByKey(ctx, fmt.Sprintf("g%d", i))
		if err == nil {
			require.NoError(t, found, "caller %d was told success", i)
		} else {
			failed++
			require.True(t, errors.Is(found, ledger.ErrNotFound), "caller %d was told failure (%v)", i, err)
		}
	}
	require.NotZero(t, failed, "the killer's group failed")
	_, err := l.Verify(ctx)
	require.NoError(t, err)
}
