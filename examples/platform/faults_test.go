package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"sync/atomic"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	storedriver "github.com/rewardkit/rewardkit/ledger/driver"
	"github.com/rewardkit/rewardkit/ledger/memstore"
	"github.com/rewardkit/rewardkit/ledger/teststore"
)

// faultConfig is smallConfig with faults in 5% of the store calls.
func faultConfig(seed uint64) config {
	cfg := smallConfig(seed)
	cfg.Faults = 0.05
	return cfg
}

// TestSimulationWithFaultsEndsAsWithout: the simulation over a store that
// fails units of work before their commit, loses replies after it, commits
// slowly and reads twice ends with every invariant holding and with the
// journal head of the same seed without faults: the programs retried every
// fault and no retry moved money twice (issue 10, "Faults in the
// simulation").
func TestSimulationWithFaultsEndsAsWithout(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		cfg := faultConfig(7)
		// Without faults on memstore: the same seed writes the same
		// journal on every store (and one PostgreSQL run fewer).
		plain, err := simulate(ctx, io.Discard, memstore.New(), smallConfig(cfg.Seed))
		require.NoError(t, err)
		checkSimulation(t, plain)

		var out bytes.Buffer
		res, err := simulate(ctx, &out, open(t), cfg)
		require.NoError(t, err, out.String())
		checkSimulation(t, res)
		require.Equal(t, plain.Head, res.Head, "faults must not change the journal:\n%s", out.String())
		require.Equal(t, plain.Sheet, res.Sheet)
		for i, p := range res.Programs {
			require.Equal(t, plain.Programs[i].Done, p.Done, p.Name)
			require.Equal(t, plain.Programs[i].Refused, p.Refused, p.Name)
		}
		for _, kind := range []string{faultBeforeCommit, faultLostReply, faultSlowCommit, faultReadAgain} {
			require.Positivef(t, res.Faults[kind], "no %q fault was injected: %v", kind, res.Faults)
		}
		require.Contains(t, out.String(), "faults injected: ")
		require.Contains(t, out.String(), faultLostReply)
	})
}

func TestFaultRateOutOfRangeIsRefused(t *testing.T) {
	for _, rate := range []float64{-0.1, 1.5, math.NaN()} {
		cfg := smallConfig(1)
		cfg.Faults = rate
		_, err := simulate(context.Background(), io.Discard, memstore.New(), cfg)
		require.ErrorContains(t, err, "fault rate")
	}
}

// scripted wraps a fresh store in a faultStore that injects nothing but
// the faults given, in order, to its next calls.
func scripted(t *testing.T, open teststore.Opener, faults ...fault) *faultStore {
	t.Helper()
	fs, err := newFaultStore(open(t), 1, 0)
	require.NoError(t, err)
	fs.script = faults
	return fs
}

func record(id string) storedriver.Record {
	return storedriver.Record{Kind: "fault-test", ID: id, Data: []byte(`{"n":1}`)}
}

func hasRecord(t *testing.T, s storedriver.Store, id string) bool {
	t.Helper()
	var found bool
	require.NoError(t, s.View(context.Background(), func(tx storedriver.ReadTx) error {
		_, err := tx.Record("fault-test", id)
		if errors.Is(err, ledger.ErrNotFound) {
			return nil
		}
		found = err == nil
		return err
	}))
	return found
}

func TestFaultStoreLostReplyCommitsAndFailedCommitWritesNothing(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		fs := scripted(t, open, lostReply, beforeCommit, slowCommit)

		err := fs.Update(ctx, func(tx storedriver.Tx) error { return tx.PutRecord(record("lost")) })
		require.ErrorIs(t, err, errInjected)
		require.ErrorIs(t, err, ledger.ErrConflict, "a lost reply is retried by ledger.Update")
		require.True(t, hasRecord(t, fs.inner, "lost"), "a lost reply comes after the commit")

		ran := false
		err = fs.Update(ctx, func(tx storedriver.Tx) error { ran = true; return tx.PutRecord(record("failed")) })
		require.ErrorIs(t, err, errInjected)
		require.ErrorIs(t, err, ledger.ErrConflict)
		require.True(t, ran, "a unit of work that fails before its commit ran first")
		require.False(t, hasRecord(t, fs.inner, "failed"), "a failed commit writes nothing")

		require.NoError(t, fs.Update(ctx, func(tx storedriver.Tx) error { return tx.PutRecord(record("slow")) }))
		require.True(t, hasRecord(t, fs.inner, "slow"))

		require.Equal(t, map[string]int64{faultLostReply: 1, faultBeforeCommit: 1, faultSlowCommit: 1}, fs.Counts())
	})
}

func TestFaultStoreBatchFaults(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		fs := scripted(t, open, lostReply, beforeCommit, slowCommit)
		batch := func(ids ...string) []func(storedriver.Tx) error {
			fns := make([]func(storedriver.Tx) error, len(ids))
			for i, id := range ids {
				fns[i] = func(tx storedriver.Tx) error { return tx.PutRecord(record(id)) }
			}
			return fns
		}

		_, err := fs.UpdateBatch(ctx, batch("b1", "b2"))
		require.ErrorIs(t, err, errInjected)
		require.ErrorIs(t, err, ledger.ErrConflict)
		require.True(t, hasRecord(t, fs.inner, "b1"), "a lost reply comes after the commit")
		require.True(t, hasRecord(t, fs.inner, "b2"))

		_, err = fs.UpdateBatch(ctx, batch("b3"))
		require.ErrorIs(t, err, ledger.ErrConflict)
		require.False(t, hasRecord(t, fs.inner, "b3"), "a failed batch writes nothing")

		errs, err := fs.UpdateBatch(ctx, append(batch("b4"), func(storedriver.Tx) error { return ledger.ErrNotFound }))
		require.NoError(t, err)
		require.NoError(t, errs[0])
		require.ErrorIs(t, errs[1], ledger.ErrNotFound, "a slow batch still reports each item")
		require.True(t, hasRecord(t, fs.inner, "b4"))

		require.Equal(t, map[string]int64{faultBatchLostReply: 1, faultBatchBeforeCommit: 1, faultBatchSlowCommit: 1}, fs.Counts())
	})
}

func TestFaultStoreReadRunsTwice(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		fs := scripted(t, open, readAgain)
		var runs atomic.Int32
		require.NoError(t, fs.View(context.Background(), func(storedriver.ReadTx) error { runs.Add(1); return nil }))
		require.Equal(t, int32(2), runs.Load())
		require.Equal(t, map[string]int64{faultReadAgain: 1}, fs.Counts())
	})
}

// openAccounts defines COIN and opens world and member:a.
func openAccounts(t *testing.T, l *ledger.Ledger) {
	t.Helper()
	require.NoError(t, l.Update(context.Background(), func(w *ledger.Writer) error {
		if err := w.DefineAsset(ledger.COIN); err != nil {
			return err
		}
		if _, err := w.OpenAccount(ledger.AccountSpec{Address: ledger.World, Overdraft: ledger.Overdraft{Unbounded: true}}); err != nil {
			return err
		}
		_, err := w.OpenAccount(ledger.AccountSpec{Address: "member:a"})
		return err
	}))
}

// TestLedgerRetriesFaultsAndKeysReplay: through ledger.Update, every fault
// is retried; a keyed transfer whose reply was lost replays and is posted
// once.
func TestLedgerRetriesFaultsAndKeysReplay(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		fs := scripted(t, open)
		l := ledger.New(fs)
		openAccounts(t, l)
		fs.script = []fault{lostReply, beforeCommit, lostReply}
		var tx ledger.Transaction
		require.NoError(t, l.Update(ctx, func(w *ledger.Writer) (err error) {
			tx, err = w.Post(ledger.TransferRequest{Key: "pay-1", Postings: []ledger.Posting{
				{From: ledger.World, To: "member:a", Asset: "COIN", Amount: decimal.NewFromInt(5)}}})
			return err
		}))
		b, err := l.Balance(ctx, "member:a", "COIN")
		require.NoError(t, err)
		require.Equal(t, "5", b.Posted.String(), "paid once")
		require.Equal(t, uint64(1), tx.ID)
		money, state := fs.DoubleWrites()
		require.Empty(t, money)
		require.Empty(t, state)
	})
}

// TestFaultStoreReportsDoubleWrites: a unit of work with no event-once (a
// key-less transfer) re-run after a lost reply pays twice, and the store
// names the function that did.
func TestFaultStoreReportsDoubleWrites(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		fs := scripted(t, open)
		l := ledger.New(fs)
		openAccounts(t, l)
		fs.script = []fault{lostReply}
		require.NoError(t, l.Update(ctx, func(w *ledger.Writer) error {
			_, err := w.Post(ledger.TransferRequest{Postings: []ledger.Posting{
				{From: ledger.World, To: "member:a", Asset: "COIN", Amount: decimal.NewFromInt(5)}}})
			return err
		}))
		b, err := l.Balance(ctx, "member:a", "COIN")
		require.NoError(t, err)
		require.Equal(t, "10", b.Posted.String(), "a key-less transfer re-run after a lost reply pays twice")
		money, _ := fs.DoubleWrites()
		require.Len(t, money, 1)
		require.Contains(t, money[0], "TestFaultStoreReportsDoubleWrites")
		require.Contains(t, money[0], "1 transactions")

		// A record rewritten with other data is a double write of state.
		fs = scripted(t, open, lostReply)
		l = ledger.New(fs)
		n := 0
		require.NoError(t, l.Update(ctx, func(w *ledger.Writer) error {
			n++
			return w.SaveJSON("fault-test", "counter", n)
		}))
		_, state := fs.DoubleWrites()
		require.Len(t, state, 1)
		require.Contains(t, state[0], "1 records")
	})
}

// TestFaultsNeverExhaustRetries: at a rate of 1 the bound still leaves
// every unit of work room to commit within ledger.Update's retries.
func TestFaultsNeverExhaustRetries(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		fs, err := newFaultStore(open(t), 42, 1)
		require.NoError(t, err)
		l := ledger.New(fs, ledger.WithRetries(maxFaultRun))
		for i := 0; i < 50; i++ {
			require.NoError(t, l.Update(ctx, func(w *ledger.Writer) error {
				return w.SaveJSON("fault-test", "x", i)
			}))
		}
		c := fs.Counts()
		require.Positive(t, c[faultBeforeCommit]+c[faultLostReply])
		var run int
		for _, forced := range fs.recent {
			if forced {
				run++
			}
		}
		require.LessOrEqual(t, run, maxFaultRun)
	})
}
