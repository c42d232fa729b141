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

	"github.com/rewardkit/rewardkit/ledger"
)

// BenchmarkEventsCost16Callers: what the ledger's own events cost
// PostgreSQL transfers, as a ratio measured in one run. Two ledgers over
// two schemas of the same server, one with the ledger's events off and one
// with them on, take turns in rounds of 2,000 transfers by 16 callers
// between random accounts of 10,000, so a machine that slows down slows
// both alike. It reports events_cost_pct: the time with events over the
// time without, minus 1, in percent (the target is at most 10).
func BenchmarkEventsCost16Callers(b *testing.B) {
	off, addrsOff := benchLedger(b, 10_000)
	on, addrsOn := benchLedgerOn(b, newStore(b), 10_000, ledger.WithLedgerEvents(true))
	ctx := context.Background()
	one := decimal.NewFromInt(1)
	const callers, round = 16, 2000
	var spent [2]time.Duration
	var seq atomic.Int64
	b.ResetTimer()
	for done := 0; done < b.N; done += round {
		n := min(round, b.N-done)
		for k, l := range []*ledger.Ledger{off, on} {
			addrs := [][]string{addrsOff, addrsOn}[k]
			var next atomic.Int64
			var wg sync.WaitGroup
			var failed atomic.Value
			start := time.Now()
			for c := 0; c < callers; c++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := rand.New(rand.NewPCG(uint64(done), uint64(c)))
					for next.Add(1) <= int64(n) {
						i := r.IntN(len(addrs))
						j := (i + 1 + r.IntN(len(addrs)-1)) % len(addrs)
						if _, err := l.Transfer(ctx, fmt.Sprintf("ev-%d", seq.Add(1)), addrs[i], addrs[j], "EUR", one); err != nil {
							failed.Store(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			spent[k] += time.Since(start)
			if err, _ := failed.Load().(error); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N)/spent[0].Seconds(), "transfers/s_off")
	b.ReportMetric(float64(b.N)/spent[1].Seconds(), "transfers/s_on")
	b.ReportMetric(100*(float64(spent[1])/float64(spent[0])-1), "events_cost_pct")
}
