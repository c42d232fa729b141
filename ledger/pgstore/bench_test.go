package pgstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
)

// benchLedger opens a ledger in a fresh schema with EUR, World and n
// member accounts holding 1,000,000.00 EUR each.
func benchLedger(b *testing.B, n int, opts ...Option) (*ledger.Ledger, []string) {
	b.Helper()
	return benchLedgerOn(b, newStore(b, opts...), n)
}

// benchLedgerOn is benchLedger over the store s, with ledger options.
func benchLedgerOn(b *testing.B, s *Store, n int, lopts ...ledger.Option) (*ledger.Ledger, []string) {
	b.Helper()
	ctx := context.Background()
	l := ledger.New(s, append([]ledger.Option{ledger.WithClock(ledgertest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)))}, lopts...)...)
	require.NoError(b, l.DefineAsset(ctx, ledger.EUR))
	_, err := l.OpenAccount(ctx, ledger.AccountSpec{Address: ledger.World, Overdraft: ledger.Overdraft{Unbounded: true}})
	require.NoError(b, err)
	addrs := make([]string, n)
	for i := range addrs {
		addrs[i] = fmt.Sprintf("member:%d", i)
	}
	for lo := 0; lo < n; lo += 500 {
		hi := min(lo+500, n)
		fns := make([]func(*ledger.Writer) error, 0, hi-lo)
		reqs := make([]ledger.TransferRequest, 0, hi-lo)
		for _, a := range addrs[lo:hi] {
			fns = append(fns, func(w *ledger.Writer) error {
				_, err := w.OpenAccount(ledger.AccountSpec{Address: a})
				return err
			})
			reqs = append(reqs, ledger.TransferRequest{Postings: []ledger.Posting{{From: ledger.World, To: a, Asset: "EUR", Amount: decimal.NewFromInt(1_000_000)}}})
		}
		errs, err := l.UpdateBatch(ctx, fns)
		require.NoError(b, err)
		for _, e := range errs {
			require.NoError(b, e)
		}
		res, err := l.PostBatch(ctx, reqs)
		require.NoError(b, err)
		for _, r := range res {
			require.NoError(b, r.Err)
		}
	}
	return l, addrs
}

// runCallers has callers goroutines post b.N transfers between them, each
// call one l.Transfer with its own idempotency key, and reports transfers
// per second.
func runCallers(b *testing.B, l *ledger.Ledger, callers int, pick func(r *rand.Rand) (from, to string)) {
	ctx := context.Background()
	one := decimal.NewFromInt(1)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	b.ResetTimer()
	for c := 0; c < callers; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(c), 7))
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				from, to := pick(r)
				if _, err := l.Transfer(ctx, fmt.Sprintf("bench-%d", i), from, to, "EUR", one); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	elapsed := b.Elapsed()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "transfers/s")
}

// BenchmarkTransfers16Callers10kAccounts: 16 concurrent callers, one
// transfer per call, between random accounts of 10,000.
func BenchmarkTransfers16Callers10kAccounts(b *testing.B) {
	l, addrs := benchLedger(b, 10_000)
	runCallers(b, l, 16, func(r *rand.Rand) (string, string) {
		i := r.IntN(len(addrs))
		j := (i + 1 + r.IntN(len(addrs)-1)) % len(addrs)
		return addrs[i], addrs[j]
	})
}

// BenchmarkTransfers16CallersHotAccount: 16 concurrent callers, every
// transfer from one hot (limited) account to one of 10,000.
func BenchmarkTransfers16CallersHotAccount(b *testing.B) {
	l, addrs := benchLedger(b, 10_000)
	hot := addrs[0]
	runCallers(b, l, 16, func(r *rand.Rand) (string, string) {
		return hot, addrs[1+r.IntN(len(addrs)-1)]
	})
}

// BenchmarkPostBatch100: one caller posting batches of 100 transfers with
// Ledger.PostBatch.
func BenchmarkPostBatch100(b *testing.B) {
	l, addrs := benchLedger(b, 10_000)
	ctx := context.Background()
	one := decimal.NewFromInt(1)
	r := rand.New(rand.NewPCG(1, 2))
	const size = 100
	reqs := make([]ledger.TransferRequest, size)
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		for k := range reqs {
			i := r.IntN(len(addrs))
			j := (i + 1 + r.IntN(len(addrs)-1)) % len(addrs)
			reqs[k] = ledger.TransferRequest{
				Key:      fmt.Sprintf("batch-%d-%d", n, k),
				Postings: []ledger.Posting{{From: addrs[i], To: addrs[j], Asset: "EUR", Amount: one}},
			}
		}
		res, err := l.PostBatch(ctx, reqs)
		require.NoError(b, err)
		for _, x := range res {
			require.NoError(b, x.Err)
		}
	}
	b.StopTimer()
	elapsed := b.Elapsed()
	b.ReportMetric(float64(b.N*size)/elapsed.Seconds(), "transfers/s")
}
