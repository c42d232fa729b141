package ledger_test

import (
	"context"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
	"github.com/rewardkit/rewardkit/ledger/memstore"
)

// verifyLiveHeap runs verify once and returns the most it held at once:
// the live heap (after a full collection) at the point of each pass where
// Verify holds the most (see ledger.SetVerifyFullHook), less the live heap
// before it. A page of rows being read (at most 10,000) comes on top.
func verifyLiveHeap(verify func()) uint64 {
	live := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	base := live()
	var peak uint64
	defer ledger.SetVerifyFullHook(func() { peak = max(peak, live()) })()
	verify()
	if peak < base {
		return 0
	}
	return peak - base
}

// manyBalancesLedger builds, once, a ledger whose balances and holds
// outnumber what Verify keeps in hand at once: 300,000 member accounts,
// each funded by one transfer, and a pending hold on every third.
func manyBalancesLedger(b *testing.B) *ledger.Ledger {
	manyOnce.Do(func() {
		ctx := context.Background()
		clock := ledgertest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		l := ledger.New(memstore.New(), ledger.WithClock(clock))
		one := decimal.NewFromInt(1)
		err := l.Update(ctx, func(w *ledger.Writer) error {
			if err := w.DefineAsset(ledger.COIN); err != nil {
				return err
			}
			_, err := w.OpenAccount(ledger.AccountSpec{Address: ledger.World, Overdraft: ledger.Overdraft{Unbounded: true}})
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		const members, step = 300_000, 1000
		for i := 0; i < members; i += step {
			err := l.Update(ctx, func(w *ledger.Writer) error {
				for j := i; j < i+step; j++ {
					addr := "m:" + strconv.Itoa(j)
					if _, err := w.OpenAccount(ledger.AccountSpec{Address: addr}); err != nil {
						return err
					}
					if _, err := w.Post(ledger.TransferRequest{Postings: []ledger.Posting{{From: ledger.World, To: addr, Asset: "COIN", Amount: one}}}); err != nil {
						return err
					}
					if j%3 == 0 {
						if _, err := w.Hold(ledger.HoldRequest{Account: addr, Asset: "COIN", Amount: one, ExpiresAt: clock.Now().Add(time.Hour)}); err != nil {
							return err
						}
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		manyLedger = l
	})
	return manyLedger
}

var (
	manyOnce   sync.Once
	manyLedger *ledger.Ledger
)

// BenchmarkVerifyManyBalances verifies a ledger of 300,001 balances and
// 100,000 holds (see manyBalancesLedger). live-MB is the most Verify held
// at once (see verifyLiveHeap).
func BenchmarkVerifyManyBalances(b *testing.B) {
	l := manyBalancesLedger(b)
	ctx := context.Background()
	verify := func() {
		rep, err := l.Verify(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if rep.Balances != 300_001 || rep.Holds != 100_000 {
			b.Fatalf("verified %d balances and %d holds", rep.Balances, rep.Holds)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		verify()
	}
	b.StopTimer()
	b.ReportMetric(float64(verifyLiveHeap(verify))/(1<<20), "live-MB")
}
