package ledger_test

import (
	"context"
	"fmt"
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

const benchAccounts = 10000

// benchLedger returns a memstore ledger with benchAccounts funded member
// accounts ("m:0" ...) holding 1,000,000,000 COIN each, and the accounts a
// RUBY->EUR conversion needs.
func benchLedger(tb testing.TB, opts ...ledger.Option) (*ledger.Ledger, []string) {
	tb.Helper()
	ctx := context.Background()
	clock := ledgertest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	l := ledger.New(memstore.New(), append([]ledger.Option{ledger.WithClock(clock)}, opts...)...)
	addrs := make([]string, benchAccounts)
	err := l.Update(ctx, func(w *ledger.Writer) error {
		for _, a := range []ledger.Asset{ledger.COIN, ledger.RUBY, ledger.EUR} {
			if err := w.DefineAsset(a); err != nil {
				return err
			}
		}
		for _, s := range []ledger.AccountSpec{
			{Address: ledger.World, Overdraft: ledger.Overdraft{Unbounded: true}},
			{Address: "exchange:RUBY:EUR", Overdraft: ledger.Overdraft{Unbounded: true}},
			{Address: "remainder:RUBY"}, {Address: "fees:EUR"},
		} {
			if _, err := w.OpenAccount(s); err != nil {
				return err
			}
		}
		for i := range addrs {
			addrs[i] = "m:" + strconv.Itoa(i)
			if _, err := w.OpenAccount(ledger.AccountSpec{Address: addrs[i]}); err != nil {
				return err
			}
			if _, err := w.Post(ledger.TransferRequest{Postings: []ledger.Posting{
				{From: ledger.World, To: addrs[i], Asset: "COIN", Amount: decimal.NewFromInt(1_000_000_000)},
				{From: ledger.World, To: addrs[i], Asset: "RUBY", Amount: decimal.NewFromInt(1_000_000_000)},
			}}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return l, addrs
}

// BenchmarkTransfer: one two-sided posting per transaction, with an
// idempotency key, from one goroutine.
func BenchmarkTransfer(b *testing.B) { benchTransfer(b) }

// BenchmarkTransferLedgerEvents: BenchmarkTransfer with the ledger's own
// events on (one ledger.transaction.posted per transfer), to measure what
// emitting them costs.
func BenchmarkTransferLedgerEvents(b *testing.B) { benchTransfer(b, ledger.WithLedgerEvents(true)) }

func benchTransfer(b *testing.B, opts ...ledger.Option) {
	l, addrs := benchLedger(b, opts...)
	ctx := context.Background()
	one := decimal.NewFromInt(1)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		from, to := addrs[i%benchAccounts], addrs[(i*7+1)%benchAccounts]
		if from == to {
			to = addrs[(i+1)%benchAccounts]
		}
		if _, err := l.Transfer(ctx, "t"+strconv.Itoa(i), from, to, "COIN", one); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "transfers/s")
}

// BenchmarkEventsCost: what the ledger's own events cost a memstore
// transfer, as a ratio measured in one run: two ledgers, one with the
// ledger's events off and one with them on, take turns in blocks of 1,000
// transfers, so a machine that slows down slows both alike. It reports
// events_cost_pct, the time with events over the time without, minus 1,
// in percent (the target is at most 15).
func BenchmarkEventsCost(b *testing.B) {
	off, addrsOff := benchLedger(b)
	on, addrsOn := benchLedger(b, ledger.WithLedgerEvents(true))
	ctx := context.Background()
	one := decimal.NewFromInt(1)
	var spent [2]time.Duration
	const block = 1000
	b.ResetTimer()
	for done := 0; done < b.N; done += block {
		for k, l := range []*ledger.Ledger{off, on} {
			addrs := [][]string{addrsOff, addrsOn}[k]
			start := time.Now()
			for i := done; i < done+block && i < b.N; i++ {
				from, to := addrs[i%benchAccounts], addrs[(i*7+1)%benchAccounts]
				if from == to {
					to = addrs[(i+1)%benchAccounts]
				}
				if _, err := l.Transfer(ctx, "t"+strconv.Itoa(i), from, to, "COIN", one); err != nil {
					b.Fatal(err)
				}
			}
			spent[k] += time.Since(start)
		}
	}
	b.ReportMetric(float64(spent[0].Nanoseconds())/float64(b.N), "ns/transfer_off")
	b.ReportMetric(float64(spent[1].Nanoseconds())/float64(b.N), "ns/transfer_on")
	b.ReportMetric(100*(float64(spent[1])/float64(spent[0])-1), "events_cost_pct")
}

// BenchmarkTransferParallel: the same from GOMAXPROCS goroutines.
func BenchmarkTransferParallel(b *testing.B) {
	l, addrs := benchLedger(b)
	ctx := context.Background()
	one := decimal.NewFromInt(1)
	var mu sync.Mutex
	next := 0
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		mu.Lock()
		g := next
		next++
		mu.Unlock()
		i := 0
		for pb.Next() {
			i++
			from, to := addrs[(g*7919+i)%benchAccounts], addrs[(g*7919+i*13+1)%benchAccounts]
			if from == to {
				continue
			}
			if _, err := l.Transfer(ctx, fmt.Sprintf("p%d-%d", g, i), from, to, "COIN", one); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "transfers/s")
}

// BenchmarkPostBatch100: batches of 100 independent transfers in one unit
// of work, each isolated.
func BenchmarkPostBatch100(b *testing.B) {
	l, addrs := benchLedger(b)
	ctx := context.Background()
	one := decimal.NewFromInt(1)
	reqs := make([]ledger.TransferRequest, 100)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range reqs {
			k := i*100 + j
			from, to := addrs[k%benchAccounts], addrs[(k*7+1)%benchAccounts]
			if from == to {
				to = addrs[(k+1)%benchAccounts]
			}
			reqs[j] = ledger.TransferRequest{Key: "b" + strconv.Itoa(k),
				Postings: []ledger.Posting{{From: from, To: to, Asset: "COIN", Amount: one}}}
		}
		res, err := l.PostBatch(ctx, reqs)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range res {
			if r.Err != nil {
				b.Fatal(r.Err)
			}
		}
	}
	b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "transfers/s")
}

// BenchmarkHoldCapture: reserve, then capture in full to one destination.
func BenchmarkHoldCapture(b *testing.B) {
	l, addrs := benchLedger(b)
	ctx := context.Background()
	one := decimal.NewFromInt(1)
	exp := l.Clock().Now().Add(time.Hour)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		from, to := addrs[i%benchAccounts], addrs[(i+1)%benchAccounts]
		k := strconv.Itoa(i)
		h, err := l.Hold(ctx, ledger.HoldRequest{Key: "h" + k, Account: from, Asset: "COIN", Amount: one, ExpiresAt: exp})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := l.Capture(ctx, ledger.CaptureRequest{Key: "c" + k, Hold: h.ID,
			Destinations: []ledger.Leg{{To: to, Amount: one}}}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "holds+captures/s")
}

// BenchmarkConvert: 12,345 RUBY to EUR at 1/10000 with a 4% fee.
func BenchmarkConvert(b *testing.B) {
	l, addrs := benchLedger(b)
	ctx := context.Background()
	rule := ledger.ConversionRule{From: "RUBY", To: "EUR", Rate: ledger.MustRate("1/10000"),
		Rounding: ledger.RoundDown, FeeRate: decimal.RequireFromString("0.04"), FeeRounding: ledger.RoundHalfUp,
		Exchange: "exchange:RUBY:EUR", Remainder: "remainder:RUBY", FeeAccount: "fees:EUR"}
	amount := decimal.NewFromInt(12345)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a := addrs[i%benchAccounts]
		if _, err := l.Convert(ctx, ledger.ConversionRequest{Key: "x" + strconv.Itoa(i), Rule: rule,
			From: a, To: a, Amount: amount}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "conversions/s")
}

var (
	millionOnce   sync.Once
	millionLedger *ledger.Ledger
	millionBytes  float64
)

// millionTransactions builds a ledger of 1,000,000 keyed transfers (plus
// the 10,000 funding ones) once, measuring the heap they retain.
func millionTransactions(b *testing.B) *ledger.Ledger {
	millionOnce.Do(func() {
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		l, addrs := benchLedger(b)
		ctx := context.Background()
		one := decimal.NewFromInt(1)
		const n = 1_000_000
		reqs := make([]ledger.TransferRequest, 1000)
		for i := 0; i < n; i += len(reqs) {
			for j := range reqs {
				k := i + j
				from, to := addrs[k%benchAccounts], addrs[(k*7+1)%benchAccounts]
				if from == to {
					to = addrs[(k+1)%benchAccounts]
				}
				reqs[j] = ledger.TransferRequest{Key: "t" + strconv.Itoa(k),
					Postings: []ledger.Posting{{From: from, To: to, Asset: "COIN", Amount: one}}}
			}
			if _, err := l.PostBatch(ctx, reqs); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		millionLedger = l
		millionBytes = float64(after.HeapAlloc-before.HeapAlloc) / (n + benchAccounts)
	})
	return millionLedger
}

// BenchmarkRetainedMemory reports the heap retained per transaction after
// 1,000,000 keyed two-sided transfers (everything: journal, history,
// idempotency index, balances).
func BenchmarkRetainedMemory(b *testing.B) {
	millionTransactions(b)
	for i := 0; i < b.N; i++ {
	}
	b.ReportMetric(millionBytes, "bytes/tx")
}

// BenchmarkVerify1M replays and checks a journal of 1,010,000 transactions
// (20,002 balances, no holds). live-MB is the most Verify held at once.
func BenchmarkVerify1M(b *testing.B) {
	l := millionTransactions(b)
	ctx := context.Background()
	verify := func() {
		rep, err := l.Verify(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if rep.Transactions != 1_010_000 || rep.Balances != 20_002 {
			b.Fatalf("verified %d transactions and %d balances", rep.Transactions, rep.Balances)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		verify()
	}
	b.StopTimer()
	b.ReportMetric(1_010_000*float64(b.N)/b.Elapsed().Seconds(), "tx/s")
	// Outside the timed loop: see verifyLiveHeap.
	b.ReportMetric(float64(verifyLiveHeap(verify))/(1<<20), "live-MB")
}

// BenchmarkUnits: the conversion every amount goes through, for the
// amounts a person types (12.50 EUR, 1500 JPY); it must not allocate.
func BenchmarkUnits(b *testing.B) {
	amounts := []decimal.Decimal{decimal.RequireFromString("12.50"), decimal.NewFromInt(1500), decimal.New(125, -1)}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := ledger.EUR.Units(amounts[i%len(amounts)]); err != nil {
			b.Fatal(err)
		}
	}
}
