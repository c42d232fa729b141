package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/driver"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
)

// Run runs the whole conformance suite against the store open returns.
// open must return a new, empty store each time it is called (once per
// subtest); Run closes it when the subtest ends. Subtests run in parallel,
// at most a few at a time, so open may be called concurrently.
func Run(t *testing.T, open func(t *testing.T) driver.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, e *env)
	}{
		{"AllOrNothingOnError", testAllOrNothingOnError},
		{"AllOrNothingOnPanic", testAllOrNothingOnPanic},
		{"RefusedInsideCommittedUpdate", testRefusedInsideCommittedUpdate},
		{"UpdateBatchIsolation", testUpdateBatchIsolation},
		{"PostBatch", testPostBatch},
		{"Transfers", testTransfers},
		{"Limits", testLimits},
		{"RefusedRequests", testRefusedRequests},
		{"Idempotency", testIdempotency},
		{"Holds", testHolds},
		{"HoldExpiry", testHoldExpiry},
		{"Conversions", testConversions},
		{"Reversals", testReversals},
		{"Queries", testQueries},
		{"History", testHistory},
		{"BalanceAt", testBalanceAt},
		{"Records", testRecords},
		{"DueEntries", testDueEntries},
		{"StoreContract", testStoreContract},
		{"StoreReads", testStoreReads},
		{"VerifyDetectsBadHash", tamperHash},
		{"VerifyDetectsUnappliedTransaction", tamperUnapplied},
		{"VerifyDetectsBadRunningBalance", tamperRunning},
		{"VerifyDetectsEditedBalance", tamperBalance},
		{"VerifyDetectsUnexplainedHeld", tamperHeld},
		{"Concurrency", testConcurrency},
		{"DeadlineWhileWaiting", testDeadlineWhileWaiting},
		{"EventsAllOrNothing", testEventsAllOrNothing},
		{"EventsBatch", testEventsBatch},
		{"EventsConcurrent", testEventsConcurrent},
		{"EventsPaging", testEventsPaging},
		{"StateMachine", testStateMachine},
	}
	// The subtests run in parallel inside one group, so Run returns only when
	// all have finished; at most maxOpen stores are open at once.
	sem := make(chan struct{}, maxOpen)
	t.Run("suite", func(t *testing.T) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				sem <- struct{}{}
				t.Cleanup(func() { <-sem }) // runs last, after the store is closed
				tc.fn(t, newEnv(t, open))
			})
		}
	})
}

// maxOpen bounds the stores open at once (a PostgreSQL store holds
// connections and a schema each).
const maxOpen = 4

// epoch is where every subtest's clock starts.
var epoch = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// env is one subtest's world: a fresh store, a manual clock and a ledger
// over them with the assets EUR, USD and COIN defined and World opened.
type env struct {
	t     *testing.T
	ctx   context.Context
	store driver.Store
	clock *ledgertest.Clock
	l     *ledger.Ledger

	openStore func(t *testing.T) driver.Store // for tests that need more stores
}

func newEnv(t *testing.T, open func(t *testing.T) driver.Store) *env {
	t.Helper()
	e := openEnv(t, open, ledgertest.NewClock(epoch))
	t.Cleanup(func() { _ = e.store.Close() })
	return e
}

// openEnv is newEnv without closing the store at the end of the test: the
// caller closes it.
func openEnv(t *testing.T, open func(t *testing.T) driver.Store, clock *ledgertest.Clock) *env {
	t.Helper()
	s := open(t)
	require.NotNil(t, s, "open returned no store")
	e := &env{t: t, ctx: context.Background(), store: s, clock: clock, l: ledger.New(s, ledger.WithClock(clock), ledger.WithLedgerEvents(true)), openStore: open}
	for _, a := range []ledger.Asset{ledger.EUR, ledger.USD, ledger.COIN} {
		require.NoError(t, e.l.DefineAsset(e.ctx, a))
	}
	e.open(ledger.World, ledger.Overdraft{Unbounded: true})
	return e
}

// dec reads a decimal constant.
func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// open opens an account with a policy.
func (e *env) open(addr string, od ledger.Overdraft) {
	e.t.Helper()
	_, err := e.l.OpenAccount(e.ctx, ledger.AccountSpec{Address: addr, Overdraft: od})
	require.NoError(e.t, err, "open %s", addr)
}

// openAll opens accounts with the default policy (nothing below zero).
func (e *env) openAll(addrs ...string) {
	e.t.Helper()
	for _, a := range addrs {
		e.open(a, ledger.Overdraft{})
	}
}

// fund moves amount of asset from World to addr.
func (e *env) fund(addr, asset, amount string) ledger.Transaction {
	e.t.Helper()
	tr, err := e.l.Transfer(e.ctx, "", ledger.World, addr, asset, dec(amount))
	require.NoError(e.t, err, "fund %s %s %s", addr, amount, asset)
	return tr
}

// transfer moves amount of asset between two accounts and requires success.
func (e *env) transfer(key, from, to, asset, amount string) ledger.Transaction {
	e.t.Helper()
	tr, err := e.l.Transfer(e.ctx, key, from, to, asset, dec(amount))
	require.NoError(e.t, err, "transfer %s %s from %s to %s", amount, asset, from, to)
	return tr
}

// requireBalance checks an account's posted and held amounts (available
// follows from them).
func (e *env) requireBalance(addr, asset, posted, held string) {
	e.t.Helper()
	b, err := e.l.Balance(e.ctx, addr, asset)
	require.NoError(e.t, err)
	requireDec(e.t, posted, b.Posted, "%s %s posted", addr, asset)
	requireDec(e.t, held, b.Held, "%s %s held", addr, asset)
	requireDec(e.t, dec(posted).Sub(dec(held)).String(), b.Available, "%s %s available", addr, asset)
}

// requireDec compares decimals by value (12.5 equals 12.50).
func requireDec(t require.TestingT, want string, got decimal.Decimal, msgAndArgs ...any) {
	if h, ok := t.(interface{ Helper() }); ok {
		h.Helper()
	}
	what := ""
	if len(msgAndArgs) > 0 {
		if f, ok := msgAndArgs[0].(string); ok {
			what = fmt.Sprintf(f, msgAndArgs[1:]...)
		}
	}
	require.True(t, dec(want).Equal(got), "%s: want %s, got %s", what, want, got.String())
}

// verify runs Verify and requires a sound ledger.
func (e *env) verify() ledger.VerifyReport {
	e.t.Helper()
	rep, err := e.l.Verify(e.ctx)
	require.NoError(e.t, err)
	return rep
}

// head returns the end of the journal.
func (e *env) head() driver.Head {
	e.t.Helper()
	var h driver.Head
	require.NoError(e.t, e.store.View(e.ctx, func(rt driver.ReadTx) (err error) {
		h, err = rt.Head()
		return err
	}))
	return h
}

// snapshot is everything a store shows: the journal, balances, holds, and
// the records and due entries of the kinds snapshotKinds lists.
type snapshot struct {
	Head     driver.Head
	Assets   []driver.Asset
	Txs      []driver.Transaction
	Balances []driver.Balance
	Holds    []driver.Hold
	Records  []driver.Record
	Due      []driver.DueEntry
}

var snapshotKinds = []string{"order", "claim", "deadline", ledger.DueHoldExpiry}

// snap reads a snapshot of the whole store.
func (e *env) snap() snapshot {
	e.t.Helper()
	var s snapshot
	far := epoch.AddDate(100, 0, 0)
	require.NoError(e.t, e.store.View(e.ctx, func(rt driver.ReadTx) error {
		var err error
		if s.Head, err = rt.Head(); err != nil {
			return err
		}
		if s.Assets, err = rt.Assets(); err != nil {
			return err
		}
		for after := uint64(0); ; {
			ts, err := rt.Transactions(after, 500)
			if err != nil {
				return err
			}
			s.Txs = append(s.Txs, ts...)
			if len(ts) < 500 {
				break
			}
			after = ts[len(ts)-1].ID
		}
		for after := (driver.BalanceKey{}); ; {
			bs, err := rt.Balances(after, 500)
			if err != nil {
				return err
			}
			s.Balances = append(s.Balances, bs...)
			if len(bs) < 500 {
				break
			}
			after = driver.BalanceKey{Address: bs[len(bs)-1].Address, Asset: bs[len(bs)-1].Asset}
		}
		for after := uint64(0); ; {
			hs, err := rt.Holds(after, 500)
			if err != nil {
				return err
			}
			s.Holds = append(s.Holds, hs...)
			if len(hs) < 500 {
				break
			}
			after = hs[len(hs)-1].ID
		}
		for _, k := range snapshotKinds {
			rs, err := rt.Records(k, "", 1000)
			if err != nil {
				return err
			}
			s.Records = append(s.Records, rs...)
			ds, err := rt.Due(k, far, 1000)
			if err != nil {
				return err
			}
			for i := range ds {
				ds[i].At = ds[i].At.UTC() // compare instants, not locations
			}
			s.Due = append(s.Due, ds...)
		}
		return nil
	}))
	// A balance row that exists at zero and one that was never written
	// read the same through the API; stores may keep either after a
	// rollback, so zero rows do not count.
	nz := s.Balances[:0]
	for _, b := range s.Balances {
		if b.Posted != 0 || b.Held != 0 {
			nz = append(nz, b)
		}
	}
	s.Balances = nz
	return s
}

// requireUnchanged checks that nothing the store shows changed since before.
func (e *env) requireUnchanged(before snapshot, msgAndArgs ...any) {
	e.t.Helper()
	require.Equal(e.t, before, e.snap(), msgAndArgs...)
}
