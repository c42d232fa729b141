package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
	"github.com/rewardkit/rewardkit/ledger/teststore"
)

// cacheMember is the address of the i-th account of the cache tests.
func cacheMember(i int) string { return "member:" + strconv.Itoa(i) }

// openCacheMembers opens n member accounts, in units of work of 50: every
// third may go 5.00 EUR below zero, and each has its number as metadata.
func openCacheMembers(t *testing.T, l *ledger.Ledger, n int) {
	t.Helper()
	ctx := context.Background()
	for lo := 0; lo < n; lo += 50 {
		err := l.Update(ctx, func(w *ledger.Writer) error {
			for i := lo; i < min(lo+50, n); i++ {
				spec := ledger.AccountSpec{Address: cacheMember(i), Metadata: map[string]string{"n": strconv.Itoa(i)}}
				if i%3 == 0 {
					spec.Overdraft.Limits = map[string]decimal.Decimal{"EUR": decimal.NewFromInt(5)}
				}
				if _, err := w.OpenAccount(spec); err != nil {
					return err
				}
			}
			return nil
		})
		require.NoError(t, err)
	}
}

// requireCacheMember reads the i-th member account and checks it is the
// one openCacheMembers opened.
func requireCacheMember(t *testing.T, l *ledger.Ledger, i int) {
	t.Helper()
	var a ledger.Account
	err := l.View(context.Background(), func(r *ledger.Reader) (err error) {
		a, err = r.Account(cacheMember(i))
		return err
	})
	require.NoError(t, err)
	require.Equal(t, cacheMember(i), a.Address)
	require.Equal(t, strconv.Itoa(i), a.Metadata["n"])
	if i%3 == 0 {
		require.Equal(t, int64(500), a.Limits["EUR"], "account %d", i)
	} else {
		require.Empty(t, a.Limits, "account %d", i)
	}
}

// TestAccountCacheBounded: the ledger cached every account it ever read,
// so a long-lived service grew with every account it saw. Now a ledger
// that reads many more accounts than its bound caches at most the bound,
// keeps the account every transfer uses, and answers for the accounts it
// dropped exactly as for cached ones: a miss reads the store, and the
// limit of a dropped account still holds. Issue 13 #1.
func TestAccountCacheBounded(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		const bound, n = 64, 300
		ctx := context.Background()
		l := ledger.New(open(t), ledger.WithClock(ledgertest.NewClock(t0)), ledger.WithAccountCache(bound))
		require.NoError(t, l.DefineAsset(ctx, ledger.EUR))
		_, err := l.OpenAccount(ctx, ledger.AccountSpec{Address: ledger.World, Overdraft: ledger.Overdraft{Unbounded: true}})
		require.NoError(t, err)
		openCacheMembers(t, l, n)
		require.LessOrEqual(t, ledger.CachedAccounts(l), bound, "after opening")

		one := decimal.NewFromInt(1)
		for i := 0; i < n; i++ {
			if i%2 == 0 {
				_, err = l.Transfer(ctx, "fund-"+strconv.Itoa(i), ledger.World, cacheMember(i), "EUR", one)
				require.NoError(t, err)
			} else { // through UpdateBatch, which caches what its items read once they commit
				res, err := l.PostBatch(ctx, []ledger.TransferRequest{{Key: "fund-" + strconv.Itoa(i),
					Postings: []ledger.Posting{{From: ledger.World, To: cacheMember(i), Asset: "EUR", Amount: one}}}})
				require.NoError(t, err)
				require.NoError(t, res[0].Err)
			}
			require.LessOrEqual(t, ledger.CachedAccounts(l), bound, "after funding %d", i)
		}
		require.True(t, ledger.AccountCached(l, ledger.World), "the account every transfer uses stays cached")
		require.Greater(t, ledger.CachedAccounts(l), bound/2, "the cache is used")

		for i := n - 1; i >= 0; i-- {
			requireCacheMember(t, l, i)
			require.LessOrEqual(t, ledger.CachedAccounts(l), bound, "after reading %d", i)
			if i%10 == 0 {
				// An account read every few lookups is never dropped: a hit
				// in the previous generation moves it to the current one.
				require.True(t, ledger.AccountCached(l, ledger.World), "before reading the world account again, at %d", i)
				require.NoError(t, l.View(ctx, func(r *ledger.Reader) error { _, err := r.Account(ledger.World); return err }))
			}
		}
		for i := 0; i < n; i++ { // every account again, from the other end
			requireCacheMember(t, l, i)
		}

		// Accounts 0 and 1 were read first of the last pass: dropped since.
		for _, i := range []int{0, 1} {
			require.False(t, ledger.AccountCached(l, cacheMember(i)), "account %d was evicted", i)
		}
		// member:0 holds 1.00 and may go 5.00 below zero; member:1 may not.
		_, err = l.Transfer(ctx, "over-0", cacheMember(0), cacheMember(2), "EUR", decimal.NewFromInt(7))
		require.ErrorIs(t, err, ledger.ErrInsufficientFunds, "the limit of an evicted account holds")
		_, err = l.Transfer(ctx, "over-1", cacheMember(1), cacheMember(2), "EUR", decimal.NewFromInt(2))
		require.ErrorIs(t, err, ledger.ErrInsufficientFunds, "an evicted account without overdraft")
		_, err = l.Transfer(ctx, "to-limit-0", cacheMember(0), cacheMember(2), "EUR", decimal.NewFromInt(6))
		require.NoError(t, err, "down to the limit of an evicted account")
		b, err := l.Balance(ctx, cacheMember(0), "EUR")
		require.NoError(t, err)
		require.True(t, b.Posted.Equal(decimal.NewFromInt(-5)), "member:0 %s", b.Posted)
		_, err = l.Verify(ctx)
		require.NoError(t, err)
	})
}

// TestAccountCacheOff: WithAccountCache(0) caches no account, and every
// answer is the same.
func TestAccountCacheOff(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		l := ledger.New(open(t), ledger.WithClock(ledgertest.NewClock(t0)), ledger.WithAccountCache(0))
		require.NoError(t, l.DefineAsset(ctx, ledger.EUR))
		_, err := l.OpenAccount(ctx, ledger.AccountSpec{Address: ledger.World, Overdraft: ledger.Overdraft{Unbounded: true}})
		require.NoError(t, err)
		openCacheMembers(t, l, 10)
		for i := 0; i < 10; i++ {
			_, err = l.Transfer(ctx, "fund-"+strconv.Itoa(i), ledger.World, cacheMember(i), "EUR", decimal.NewFromInt(1))
			require.NoError(t, err)
			requireCacheMember(t, l, i)
		}
		require.Zero(t, ledger.CachedAccounts(l))
		_, err = l.Transfer(ctx, "over-3", cacheMember(3), cacheMember(4), "EUR", decimal.NewFromInt(7))
		require.ErrorIs(t, err, ledger.ErrInsufficientFunds)
		_, err = l.Transfer(ctx, "over-4", cacheMember(4), cacheMember(3), "EUR", decimal.NewFromInt(2))
		require.ErrorIs(t, err, ledger.ErrInsufficientFunds)
		_, err = l.Verify(ctx)
		require.NoError(t, err)
	})
}

// TestAssetCacheBounded: the asset cache is bounded too, keeps the asset
// in use, and a dropped asset is read from the store.
func TestAssetCacheBounded(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		const bound, n = 4, 20
		ctx := context.Background()
		l := ledger.New(open(t), ledger.WithClock(ledgertest.NewClock(t0)))
		ledger.SetAssetCache(l, bound)
		require.NoError(t, l.DefineAsset(ctx, ledger.EUR))
		_, err := l.OpenAccount(ctx, ledger.AccountSpec{Address: ledger.World, Overdraft: ledger.Overdraft{Unbounded: true}})
		require.NoError(t, err)
		openCacheMembers(t, l, 1)
		code := func(i int) string { return fmt.Sprintf("A%02d", i) }
		for i := 0; i < n; i++ {
			require.NoError(t, l.DefineAsset(ctx, ledger.Asset{Code: code(i), Precision: int32(i % 7)}))
			_, err = l.Transfer(ctx, "eur-"+strconv.Itoa(i), ledger.World, cacheMember(0), "EUR", decimal.NewFromInt(1))
			require.NoError(t, err)
			require.LessOrEqual(t, ledger.CachedAssets(l), bound, "after asset %d", i)
		}
		for i := 0; i < n; i++ {
			err := l.View(ctx, func(r *ledger.Reader) error {
				a, err := r.Asset(code(i))
				if err != nil {
					return err
				}
				if a.Precision != int32(i%7) {
					return errors.New(a.Code + ": wrong precision " + strconv.Itoa(int(a.Precision)))
				}
				return nil
			})
			require.NoError(t, err)
			require.LessOrEqual(t, ledger.CachedAssets(l), bound, "after reading asset %d", i)
		}
		// A00 (precision 0) was dropped: a fraction of it is still refused.
		_, err = l.Transfer(ctx, "a00", ledger.World, cacheMember(0), code(0), decimal.RequireFromString("0.5"))
		require.ErrorIs(t, err, ledger.ErrPrecision)
		_, err = l.Transfer(ctx, "a01", ledger.World, cacheMember(0), code(1), decimal.RequireFromString("0.5"))
		require.NoError(t, err)
	})
}
