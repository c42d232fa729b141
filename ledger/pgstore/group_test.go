package pgstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger/driver"
)

// defaultTestWindow is long enough for concurrent test callers to share
// a group.
const defaultTestWindow = 100 * time.Millisecond

var errRefused = errors.New("refused by the test")

// TestGroupIsolation runs callers in shared groups where some fail, some
// panic and some fail after a read forced their writes out early (the
// savepoint path): only the successful callers' records are kept, and
// each caller gets its own outcome.
func TestGroupIsolation(t *testing.T) {
	s := newStore(t, WithGroupWindow(defaultTestWindow))
	ctx := context.Background()
	const callers = 24
	type outcome struct {
		err      error
		panicked any
	}
	out := make([]outcome, callers)
	var wg sync.WaitGroup
	for i := 0; i < callers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { out[i].panicked = recover() }()
			out[i].err = s.Update(ctx, func(tx driver.Tx) error {
				id := fmt.Sprintf("%02d", i)
				if err := tx.PutRecord(driver.Record{Kind: "order", ID: id, Data: []byte(id)}); err != nil {
					return err
				}
				if err := tx.Schedule(driver.DueEntry{Kind: "deadline", ID: id, At: epoch}); err != nil {
					return err
				}
				switch i % 4 {
				case 1:
					return errRefused
				case 2:
					// A read after a write sends this caller's writes early.
					rs, err := tx.Records("order", "", 100)
					if err != nil {
						return err
					}
					if !containsRecord(rs, id) {
						return fmt.Errorf("caller %s does not see its own record: %v", id, rs)
					}
					if i%8 == 2 {
						return errRefused
					}
				case 3:
					if i%8 == 3 {
						panic("boom " + id)
					}
				}
				return nil
			})
		}()
	}
	wg.Wait()
	want := 0
	for i, o := range out {
		switch {
		case i%4 == 1 || i%8 == 2:
			require.ErrorIs(t, o.err, errRefused, "caller %d", i)
		case i%8 == 3:
			require.Equal(t, fmt.Sprintf("boom %02d", i), o.panicked, "caller %d: the panic is re-raised", i)
		default:
			require.NoError(t, o.err, "caller %d", i)
			require.Nil(t, o.panicked, "caller %d", i)
			want++
		}
	}
	require.NoError(t, s.View(ctx, func(rt driver.ReadTx) error {
		rs, err := rt.Records("order", "", 100)
		require.NoError(t, err)
		ds, err := rt.Due("deadline", epoch, 100)
		require.NoError(t, err)
		require.Len(t, rs, want)
		require.Len(t, ds, want)
		for k, r := range rs {
			var i int
			_, err := fmt.Sscanf(r.ID, "%d", &i)
			require.NoError(t, err)
			require.False(t, i%4 == 1 || i%8 == 2 || i%8 == 3, "record of failed caller %d kept", i)
			require.Equal(t, r.ID, ds[k].ID)
		}
		return nil
	}))
}

// TestGroupCommitFailureFailsEveryone makes one caller of a shared group
// write a row the database refuses only at commit (a negative held
// amount): every caller of that group gets an error, and nothing of any
// of them is kept.
func TestGroupCommitFailureFailsEveryone(t *testing.T) {
	s := newStore(t, WithGroupWindow(defaultTestWindow))
	ctx := context.Background()
	const callers = 8
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := 0; i < callers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.Update(ctx, func(tx driver.Tx) error {
				if i == 0 {
					return tx.PutBalances([]driver.Balance{{Address: "member:x", Asset: "EUR", Held: -1}})
				}
				return tx.PutRecord(driver.Record{Kind: "order", ID: fmt.Sprint(i), Data: []byte("x")})
			})
		}()
	}
	wg.Wait()
	var kept []driver.Record
	require.NoError(t, s.View(ctx, func(rt driver.ReadTx) (err error) {
		kept, err = rt.Records("order", "", 100)
		return err
	}))
	require.Error(t, errs[0])
	for i, err := range errs {
		if err == nil {
			// A caller may only succeed in a group without the bad row.
			require.Contains(t, kept, driver.Record{Kind: "order", ID: fmt.Sprint(i), Data: []byte("x")}, "caller %d told success", i)
		} else {
			require.NotContains(t, kept, driver.Record{Kind: "order", ID: fmt.Sprint(i), Data: []byte("x")}, "caller %d told failure", i)
		}
	}
	require.Less(t, len(kept), callers-1, "the bad row's group failed with others in it")
}

// TestClosedStore refuses work after Close.
func TestClosedStore(t *testing.T) {
	s := newStore(t)
	require.NoError(t, s.Close())
	ctx := context.Background()
	require.ErrorIs(t, s.Update(ctx, func(driver.Tx) error { return nil }), driver.ErrClosed)
	_, err := s.UpdateBatch(ctx, []func(driver.Tx) error{func(driver.Tx) error { return nil }})
	require.ErrorIs(t, err, driver.ErrClosed)
	require.ErrorIs(t, s.View(ctx, func(driver.ReadTx) error { return nil }), driver.ErrClosed)
}

func containsRecord(rs []driver.Record, id string) bool {
	for _, r := range rs {
		if r.ID == id {
			return true
		}
	}
	return false
}
