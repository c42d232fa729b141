package pgstore

import (
	"context"
	"fmt"
	"strconv"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/driver"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
)

// cacheSizes is what the committer caches between groups.
type cacheSizes struct{ accounts, assets, balances, keys int }

// onCommitter runs f on the committer's goroutine (inside an Update that
// writes nothing), where its caches may be read. f must not fail t: a
// FailNow there would end the committer's goroutine, not the test's.
func onCommitter(t *testing.T, s *Store, f func(c *committer)) {
	t.Helper()
	require.NoError(t, s.Update(context.Background(), func(tx driver.Tx) error {
		f(tx.(*gtx).c)
		return nil
	}))
}

func sizesOf(t *testing.T, s *Store) cacheSizes {
	t.Helper()
	var z cacheSizes
	onCommitter(t, s, func(c *committer) {
		z = cacheSizes{c.accounts.len(), c.assets.len(), len(c.cache), c.keys.len()}
	})
	return z
}

// TestCachesBounded: the committer's caches of accounts, assets,
// balances and idempotency keys each hold at most their bound, however
// many the store reads, even when one group reads more than the bound;
// and a store that dropped an account, an asset, a balance or a key
// answers as if it had it: a miss reads the database. (The account cache
// was dropped whole at 131,072 accounts and could not be configured; the
// asset cache had no bound; a group with more balances than the balance
// cache's bound left all of them in it.) Issue 13 #1.
func TestCachesBounded(t *testing.T) {
	const accBound, balBound, keyBound, assetBound, n = 40, 50, 30, 3, 200
	s := newStore(t, WithAccountCache(accBound), WithBalanceCache(balBound), WithKeyCache(keyBound))
	// The ledger caches no account, so every unit of work asks the store.
	l := ledger.New(s, ledger.WithClock(ledgertest.NewClock(epoch)), ledger.WithAccountCache(0))
	ctx := context.Background()
	requireBounded := func(when string) {
		t.Helper()
		z := sizesOf(t, s)
		require.LessOrEqual(t, z.accounts, accBound, when)
		require.LessOrEqual(t, z.assets, assetBound, when)
		require.LessOrEqual(t, z.balances, balBound, when)
		require.LessOrEqual(t, z.keys, keyBound, when)
	}
	onCommitter(t, s, func(c *committer) { c.assets.max = assetBound })
	require.NoError(t, l.DefineAsset(ctx, ledger.EUR))
	_, err := l.OpenAccount(ctx, ledger.AccountSpec{Address: ledger.World, Overdraft: ledger.Overdraft{Unbounded: true}})
	require.NoError(t, err)
	member := func(i int) string { return "member:" + strconv.Itoa(i) }
	for lo := 0; lo < n; lo += 50 {
		require.NoError(t, l.Update(ctx, func(w *ledger.Writer) error {
			for i := lo; i < lo+50; i++ {
				spec := ledger.AccountSpec{Address: member(i)}
				if i%3 == 0 {
					spec.Overdraft.Limits = map[string]decimal.Decimal{"EUR": decimal.NewFromInt(5)}
				}
				if _, err := w.OpenAccount(spec); err != nil {
					return err
				}
			}
			return nil
		}))
		requireBounded(fmt.Sprintf("after opening %d accounts", lo+50))
	}

	one := decimal.NewFromInt(1)
	for i := 0; i < n; i++ {
		_, err := l.Transfer(ctx, "fund-"+strconv.Itoa(i), ledger.World, member(i), "EUR", one)
		require.NoError(t, err)
		if i%10 == 0 {
			requireBounded(fmt.Sprintf("after funding %d", i))
		}
	}
	// One group of 100 transfers: 101 balances, more than the bound.
	reqs := make([]ledger.TransferRequest, 100)
	for i := range reqs {
		reqs[i] = ledger.TransferRequest{Key: "batch-" + strconv.Itoa(i),
			Postings: []ledger.Posting{{From: ledger.World, To: member(i), Asset: "EUR", Amount: one}}}
	}
	res, err := l.PostBatch(ctx, reqs)
	require.NoError(t, err)
	for _, r := range res {
		require.NoError(t, r.Err)
	}
	requireBounded("after a batch of 100 transfers")
	require.Positive(t, sizesOf(t, s).balances, "the balance cache is used")

	code := func(i int) string { return fmt.Sprintf("A%02d", i) }
	for i := 0; i < 10; i++ {
		require.NoError(t, l.DefineAsset(ctx, ledger.Asset{Code: code(i), Precision: int32(i % 3)}))
		_, err := l.Transfer(ctx, "asset-"+strconv.Itoa(i), ledger.World, member(150), code(i), one)
		require.NoError(t, err)
		requireBounded(fmt.Sprintf("after asset %d", i))
	}

	// A group caches what it read in no set order: read more accounts one
	// group at a time, so that member:0 is dropped whatever the batch's.
	for i := 100; i < 100+accBound; i++ {
		require.NoError(t, l.Update(ctx, func(w *ledger.Writer) error { _, err := w.Account(member(i)); return err }))
	}
	requireBounded("after reading accounts one at a time")
	// Dropped from the store's caches by now: account member:0, asset A00
	// and key fund-0.
	var accCached, assetCached, keyCached bool
	onCommitter(t, s, func(c *committer) {
		_, inCur := c.accounts.cur[member(0)]
		_, inPrev := c.accounts.prev[member(0)]
		accCached = inCur || inPrev
		_, inCur = c.assets.cur[code(0)]
		_, inPrev = c.assets.prev[code(0)]
		assetCached = inCur || inPrev
		keyCached = c.keys.has("fund-0")
	})
	require.False(t, accCached, "member:0 was evicted")
	require.False(t, assetCached, "A00 was evicted")
	require.False(t, keyCached, "fund-0 was evicted")
	// member:0 holds 2.00 and may go 5.00 below zero; member:1 holds 2.00
	// and may not go below zero.
	_, err = l.Transfer(ctx, "over-0", member(0), member(2), "EUR", decimal.NewFromInt(8))
	require.ErrorIs(t, err, ledger.ErrInsufficientFunds, "the limit of an evicted account holds")
	_, err = l.Transfer(ctx, "over-1", member(1), member(2), "EUR", decimal.NewFromInt(3))
	require.ErrorIs(t, err, ledger.ErrInsufficientFunds, "an evicted account without overdraft")
	_, err = l.Transfer(ctx, "to-limit-0", member(0), member(2), "EUR", decimal.NewFromInt(7))
	require.NoError(t, err, "down to the limit of an evicted account")
	// A fresh ledger caches no asset either: A00 (no decimals) is read
	// from the database, and a fraction of it refused.
	_, err = ledger.New(s).Transfer(ctx, "a00", ledger.World, member(150), code(0), decimal.RequireFromString("0.5"))
	require.ErrorIs(t, err, ledger.ErrPrecision)
	// The retry of an evicted key replays.
	want, err := l.TransactionByKey(ctx, "fund-0")
	require.NoError(t, err)
	got, err := l.Transfer(ctx, "fund-0", ledger.World, member(0), "EUR", one)
	require.NoError(t, err)
	require.Equal(t, want.ID, got.ID, "the retry of an evicted key returns the original")

	for i, want := range map[int]int64{0: -5, 1: 2, 2: 9, 150: 1, 199: 1} {
		b, err := l.Balance(ctx, member(i), "EUR")
		require.NoError(t, err)
		require.True(t, b.Posted.Equal(decimal.NewFromInt(want)), "member:%d: %s, want %d", i, b.Posted, want)
	}
	_, err = l.Verify(ctx)
	require.NoError(t, err)
	requireBounded("at the end")
}

// TestGenCache: the generic cache holds at most its bound, keeps the
// recent entries and the ones in use, and with a bound of 0 holds none.
func TestGenCache(t *testing.T) {
	for _, size := range []int{1, 2, 3, 64, 1000} {
		c := genCache[int]{max: size}
		for i := 0; i < 10*size; i++ {
			c.put(strconv.Itoa(i), i)
			v, ok := c.get(strconv.Itoa(i))
			require.True(t, ok, "size %d: the entry just added", size)
			require.Equal(t, i, v)
			require.LessOrEqual(t, c.len(), size, "size %d", size)
		}
		_, ok := c.get("0")
		require.False(t, ok, "size %d: the oldest entry was dropped", size)
	}
	hot := genCache[int]{max: 10}
	hot.put("hot", 1)
	for i := 0; i < 1000; i++ {
		hot.put(strconv.Itoa(i), i)
		_, ok := hot.get("hot")
		require.True(t, ok, "an entry in use stays, at %d", i)
	}
	off := genCache[int]{}
	off.put("k", 1)
	_, ok := off.get("k")
	require.False(t, ok)
	require.Zero(t, off.len())
}
