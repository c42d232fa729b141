package storetest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/driver"
)

// waitDeadline is the deadline of the callers that wait behind a stalled
// unit of work, and deadlineSlack how late past it they may return. The
// target is 50 ms; the bound is generous so that a loaded test machine
// does not fail it, and the measured figure is logged.
const (
	waitDeadline  = 300 * time.Millisecond
	deadlineSlack = 250 * time.Millisecond
)

// testDeadlineWhileWaiting holds the store with a unit of work that blocks
// and has other callers, with a 300 ms deadline, wait behind it: each must
// return soon after its deadline with an error wrapping
// context.DeadlineExceeded, and a writer must have written nothing, even
// after the blocking unit of work finished and committed.
func testDeadlineWhileWaiting(t *testing.T, e *env) {
	e.openAll("member:holder", "member:waiter", "member:batch")
	started, release := make(chan struct{}), make(chan struct{})
	held := make(chan error, 1)
	go func() {
		held <- e.l.Update(e.ctx, func(w *ledger.Writer) error {
			close(started)
			<-release
			return nil
		})
	}()
	<-started
	var releaseOnce sync.Once
	unblock := func() { releaseOnce.Do(func() { close(release) }) }
	defer unblock()
	// A store that ignores deadlines must fail the bounds below, not hang.
	backstop := time.AfterFunc(3*waitDeadline+3*deadlineSlack, unblock)
	defer backstop.Stop()

	late := func(name string, call func(ctx context.Context) error) error {
		t.Helper()
		ctx, cancel := context.WithTimeout(e.ctx, waitDeadline)
		defer cancel()
		deadline, _ := ctx.Deadline()
		err := call(ctx)
		past := time.Since(deadline)
		t.Logf("%s: returned %v after its deadline (negative: before it) with %v", name, past.Round(time.Microsecond), err)
		require.LessOrEqual(t, past, deadlineSlack, "%s returned %v after its deadline", name, past)
		return err
	}

	err := late("Transfer", func(ctx context.Context) error {
		_, err := e.l.Transfer(ctx, "waiter-1", ledger.World, "member:waiter", "EUR", dec("5"))
		return err
	})
	require.ErrorIs(t, err, context.DeadlineExceeded)

	var ran atomic.Bool
	err = late("UpdateBatch", func(ctx context.Context) error {
		_, err := e.l.UpdateBatch(ctx, []func(*ledger.Writer) error{func(w *ledger.Writer) error {
			ran.Store(true)
			_, err := w.Post(ledger.TransferRequest{Key: "batch-1", Postings: []ledger.Posting{
				{From: ledger.World, To: "member:batch", Asset: "EUR", Amount: dec("5")},
			}})
			return err
		}})
		return err
	})
	require.ErrorIs(t, err, context.DeadlineExceeded)

	// A read may not have to wait at all (a store with snapshot reads);
	// if it does, its deadline ends the wait.
	err = late("Balance", func(ctx context.Context) error {
		_, err := e.l.Balance(ctx, "member:holder", "EUR")
		return err
	})
	if err != nil {
		require.ErrorIs(t, err, context.DeadlineExceeded)
	}

	unblock()
	require.NoError(t, <-held)
	require.False(t, ran.Load(), "a batch withdrawn by its deadline ran")
	e.requireBalance("member:waiter", "EUR", "0", "0")
	e.requireBalance("member:batch", "EUR", "0", "0")
	require.NoError(t, e.store.View(e.ctx, func(rt driver.ReadTx) error {
		for _, k := range []string{"waiter-1", "batch-1"} {
			_, err := rt.TransactionByKey(k)
			require.True(t, errors.Is(err, ledger.ErrNotFound), "key %s: %v", k, err)
		}
		return nil
	}))
	// The store serves the next caller as usual.
	e.transfer("after-1", ledger.World, "member:waiter", "EUR", "1")
	e.requireBalance("member:waiter", "EUR", "1", "0")
}
