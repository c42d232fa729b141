package ledger_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
	"github.com/rewardkit/rewardkit/ledger/teststore"
)

// envBenchLarge switches BenchmarkSoak to its full size.
const envBenchLarge = "REWARDKIT_BENCH_LARGE"

// soakMember is the address of the i-th member account of the soak.
func soakMember(i int) string { return "member:" + strconv.Itoa(i) }

// openSoakAccounts opens n member accounts of the soak, each holding
// 1,000,000.00 EUR, with bulk SQL in the store's schema: opening a
// million accounts through the ledger would take longer than the soak.
// (The balances have no journal behind them: Verify would refuse them.)
func openSoakAccounts(b *testing.B, schema string, n int) {
	b.Helper()
	ctx := context.Background()
	cfg, err := pgx.ParseConfig(teststore.PostgresDSN(b))
	if err != nil {
		b.Fatal(err)
	}
	cfg.RuntimeParams["search_path"] = pgx.Identifier{schema}.Sanitize()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO assets (code, precision) VALUES ('EUR', 2)`, nil},
		{`INSERT INTO accounts (address, unbounded, created_at) SELECT 'member:' || m, false, 0 FROM generate_series(0, $1::bigint - 1) m`, []any{n}},
		{`INSERT INTO balances (address, asset, posted, held) SELECT 'member:' || m, 'EUR', 100000000, 0 FROM generate_series(0, $1::bigint - 1) m`, []any{n}},
		{`ANALYZE`, nil},
	} {
		if _, err := conn.Exec(ctx, q.sql, q.args...); err != nil {
			b.Fatalf("%s: %v", q.sql, err)
		}
	}
}

// liveHeapMB returns the live heap after a full collection, in MB.
func liveHeapMB() float64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapAlloc) / 1e6
}

// BenchmarkSoak posts transfers between random member accounts of a
// ledger on pgstore, each with its own idempotency key, and measures the
// live heap after a collection at each tenth of them (printed to stderr
// as it goes; heap-MB-10%, heap-MB-50% and heap-MB-100% are reported) and
// how many accounts the ledger caches at the end (cached-accounts). The store keeps its data in PostgreSQL, so the heap
// is the ledger's and the store's client side: caches, buffers,
// connections. It must stay flat: every cache has a bound, and at 10% the
// caches are full already. (The ledger's account cache used to keep every
// account it ever read: about 135 bytes an account, 135 MB for a million.)
//
// The default is 4*10^5 transfers over 2*10^5 accounts, more than the
// ledger's and the store's account caches hold (minutes); with
// REWARDKIT_BENCH_LARGE set it is 10^7 transfers over 10^6 accounts
// (hours: most account lookups miss the caches and cost the committer a
// round trip). Each iteration is one whole soak, so -benchtime 1x runs it
// once.
func BenchmarkSoak(b *testing.B) {
	accounts, transfers := 200_000, 400_000
	if os.Getenv(envBenchLarge) != "" {
		accounts, transfers = 1_000_000, 10_000_000
	}
	const callers, batch = 2, 500
	for range b.N {
		b.StopTimer()
		store, schema := teststore.PostgresSchema(b)
		openSoakAccounts(b, schema, accounts)
		l := ledger.New(store, ledger.WithClock(ledgertest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))))
		ctx := context.Background()
		one := decimal.NewFromInt(1)
		var next atomic.Int64 // transfers handed out
		var heap [10]float64  // after each tenth of the transfers
		var cached int
		var posting time.Duration // the phases' time, without the collections between them
		b.StartTimer()
		for phase := range heap {
			upto := transfers * (phase + 1) / len(heap)
			phaseStart := time.Now()
			var wg sync.WaitGroup
			errs := make(chan error, callers)
			for c := range callers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := rand.New(rand.NewPCG(uint64(phase), uint64(c)))
					reqs := make([]ledger.TransferRequest, 0, batch)
					for {
						hi := next.Add(batch)
						lo := hi - batch
						if lo >= int64(upto) {
							return
						}
						reqs = reqs[:0]
						for i := lo; i < min(hi, int64(upto)); i++ {
							from := r.IntN(accounts)
							to := (from + 1 + r.IntN(accounts-1)) % accounts
							reqs = append(reqs, ledger.TransferRequest{Key: "soak-" + strconv.FormatInt(i, 10),
								Postings: []ledger.Posting{{From: soakMember(from), To: soakMember(to), Asset: "EUR", Amount: one}}})
						}
						res, err := l.PostBatch(ctx, reqs)
						if err == nil {
							for _, x := range res {
								if x.Err != nil {
									err = x.Err
									break
								}
							}
						}
						if err != nil {
							errs <- err
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				b.Fatal(err)
			}
			next.Store(int64(upto))
			posting += time.Since(phaseStart)
			b.StopTimer()
			heap[phase] = liveHeapMB()
			cached = ledger.CachedAccounts(l)
			// Printed as it goes: a soak of hours cut short still shows it.
			fmt.Fprintf(os.Stderr, "BenchmarkSoak: %d transfers over %d accounts: live heap %.1f MB, %d accounts cached by the ledger, posting for %v\n",
				upto, accounts, heap[phase], cached, posting.Round(time.Second))
			b.StartTimer()
		}
		b.StopTimer()
		b.ReportMetric(heap[0], "heap-MB-10%")
		b.ReportMetric(heap[4], "heap-MB-50%")
		b.ReportMetric(heap[9], "heap-MB-100%")
		b.ReportMetric(float64(cached), "cached-accounts")
		b.ReportMetric(float64(transfers)/posting.Seconds(), "transfers/s")
	}
}
