package gifting_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/gifting"
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/driver"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
	"github.com/rewardkit/rewardkit/ledger/pgstore"
	"github.com/rewardkit/rewardkit/ledger/teststore"
)

// What BenchmarkLIVE runs.
const (
	liveViewers     = 1000
	liveCallers     = 16
	liveGift        = "perfume" // 20 coins in DefaultRules
	liveViewerCoins = 1_000_000_000
	refAccounts     = 10_000
	refBatch        = 100
	refWindow       = time.Second
)

// BenchmarkLIVE is the LIVE benchmark: liveCallers goroutines send
// 20-coin gifts (perfume, DefaultRules) from liveViewers pre-funded viewers
// to one creator in one LIVE, each gift one SendGift call with an event ID
// of its own. Beside it, in the same run, the reference the gift rate is
// judged against: on memstore the store's own single-transfer rate
// (Ledger.Transfer, 16 callers, random pairs of 10,000 accounts); on
// PostgreSQL raw batched SQL (16 connections, each committing 100
// transfers per SQL transaction: an INSERT of the transfer and an UPDATE of
// each of its two balance rows). Figures move from day to day on the
// shared machine; pct_of_ref is the one to compare.
//
//	go test -run '^$' -bench LIVE -benchtime 20000x ./gifting/
//
// (pgstore too when REWARDKIT_TEST_POSTGRES is set).
func BenchmarkLIVE(b *testing.B) {
	b.Run("memstore", func(b *testing.B) {
		benchLIVE(b, teststore.Memory, refLedgerTransfers(b, teststore.Memory(b)))
	})
	b.Run("pgstore", func(b *testing.B) {
		benchLIVE(b, teststore.Postgres, refRawSQL(b, teststore.PostgresDSN(b)))
	})
}

// reference measures the reference workload for d and returns how many
// transfers it did and in how long.
type reference func(d time.Duration) (n int64, elapsed time.Duration)

// benchLIVE sends b.N gifts on a fresh store, with the reference measured
// for refWindow just before and just after them (so that a change in the
// machine's load during the run weighs on both), and reports gifts/s, the
// p50 and p99 latency of one SendGift, the reference's transfers/s and
// the gift rate as a percentage of it; on pgstore also gifts/group, how
// many gifts shared each durable commit.
func benchLIVE(b *testing.B, open teststore.Opener, ref reference) {
	ctx := context.Background()
	store := open(b)
	p, viewers := liveProgram(b, store)
	pg, _ := store.(*pgstore.Store)
	var groups0 uint64
	if pg != nil {
		groups0 = pg.Stats().Groups
	}
	n1, d1 := ref(refWindow)
	var next atomic.Int64
	lat := make([][]time.Duration, liveCallers)
	errs := make(chan error, liveCallers)
	var wg sync.WaitGroup
	b.ResetTimer()
	for c := range liveCallers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := mrand.New(mrand.NewPCG(uint64(c), 13))
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				req := gifting.SendGiftRequest{EventID: "g-" + strconv.FormatInt(i, 10), Actor: viewers[r.IntN(len(viewers))],
					Creator: "star", Gift: liveGift, Count: 1, Live: "live-1"}
				t0 := time.Now()
				if _, err := p.SendGift(ctx, req); err != nil {
					errs <- err
					return
				}
				lat[c] = append(lat[c], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	elapsed := b.Elapsed()
	if pg != nil {
		// How many gifts share a durable commit: what a gift's round trips
		// and the commit's cost are divided by.
		b.ReportMetric(float64(b.N)/float64(max(pg.Stats().Groups-groups0, 1)), "gifts/group")
	}
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	n2, d2 := ref(refWindow)
	all := slices.Concat(lat...)
	slices.Sort(all)
	gps := float64(b.N) / elapsed.Seconds()
	refRate := float64(n1+n2) / (d1 + d2).Seconds()
	b.ReportMetric(gps, "gifts/s")
	b.ReportMetric(float64(quantile(all, 0.50).Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(quantile(all, 0.99).Microseconds())/1000, "p99_ms")
	b.ReportMetric(refRate, "ref_transfers/s")
	b.ReportMetric(100*gps/refRate, "pct_of_ref")
}

func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}

// liveProgram runs gifting with DefaultRules on store, with one creator
// ("star") and liveViewers viewers holding liveViewerCoins coins each.
func liveProgram(b testing.TB, store driver.Store) (*gifting.Program, []string) {
	b.Helper()
	ctx := context.Background()
	clock := ledgertest.NewClock(start)
	ms := []kit.Member{{ID: "star", BirthDate: born(25), Kind: "creator", Country: "IT"}}
	viewers := make([]string, liveViewers)
	for i := range viewers {
		viewers[i] = fmt.Sprintf("viewer-%04d", i)
		ms = append(ms, kit.Member{ID: viewers[i], BirthDate: born(30), Kind: "personal", Country: "IT"})
	}
	l := ledger.New(store, ledger.WithClock(clock))
	p, err := gifting.New(ctx, l, gifting.DefaultRules(), kit.NewDirectory(ms...))
	if err != nil {
		b.Fatal(err)
	}
	fns := make([]func(*ledger.Writer) error, 0, len(viewers))
	for _, v := range viewers {
		fns = append(fns, func(w *ledger.Writer) error {
			wallet, err := kit.OpenWallet(w, kit.WalletPolicy{}, v)
			if err != nil {
				return err
			}
			_, err = w.Post(ledger.TransferRequest{Postings: []ledger.Posting{{From: ledger.World, To: wallet,
				Asset: ledger.COIN.Code, Amount: decimal.NewFromInt(liveViewerCoins)}}})
			return err
		})
	}
	mustBatch(b, l, fns)
	return p, viewers
}

func mustBatch(b testing.TB, l *ledger.Ledger, fns []func(*ledger.Writer) error) {
	b.Helper()
	for lo := 0; lo < len(fns); lo += 500 {
		errs, err := l.UpdateBatch(context.Background(), fns[lo:min(lo+500, len(fns))])
		if err != nil {
			b.Fatal(err)
		}
		for _, err := range errs {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}

// refLedgerTransfers is the store's single-transfer rate: liveCallers
// goroutines calling Ledger.Transfer (one posting, an idempotency key of
// its own) between random pairs of refAccounts accounts.
func refLedgerTransfers(tb testing.TB, store driver.Store) reference {
	tb.Helper()
	ctx := context.Background()
	l := ledger.New(store, ledger.WithClock(ledgertest.NewClock(start)))
	if err := l.DefineAsset(ctx, ledger.COIN); err != nil {
		tb.Fatal(err)
	}
	if _, err := l.OpenAccount(ctx, ledger.AccountSpec{Address: ledger.World, Overdraft: ledger.Overdraft{Unbounded: true}}); err != nil {
		tb.Fatal(err)
	}
	addrs := make([]string, refAccounts)
	fns := make([]func(*ledger.Writer) error, 0, refAccounts)
	for i := range addrs {
		addrs[i] = "m:" + strconv.Itoa(i)
		fns = append(fns, func(w *ledger.Writer) error {
			if _, err := w.OpenAccount(ledger.AccountSpec{Address: addrs[i]}); err != nil {
				return err
			}
			_, err := w.Post(ledger.TransferRequest{Postings: []ledger.Posting{{From: ledger.World, To: addrs[i],
				Asset: ledger.COIN.Code, Amount: decimal.NewFromInt(liveViewerCoins)}}})
			return err
		})
	}
	mustBatch(tb, l, fns)
	one := decimal.NewFromInt(1)
	var keys atomic.Int64
	return func(d time.Duration) (int64, time.Duration) {
		return runFor(tb, d, func(r *mrand.Rand) (int64, error) {
			i := r.IntN(refAccounts)
			j := (i + 1 + r.IntN(refAccounts-1)) % refAccounts
			key := "ref-" + strconv.FormatInt(keys.Add(1), 10)
			_, err := l.Transfer(ctx, key, addrs[i], addrs[j], ledger.COIN.Code, one)
			return 1, err
		})
	}
}

// runFor runs op in liveCallers goroutines for d and returns the sum of
// what the calls returned and how long they took.
func runFor(tb testing.TB, d time.Duration, op func(r *mrand.Rand) (int64, error)) (int64, time.Duration) {
	var done atomic.Int64
	errs := make(chan error, liveCallers)
	var wg sync.WaitGroup
	t0 := time.Now()
	stop := t0.Add(d)
	for c := range liveCallers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := mrand.New(mrand.NewPCG(uint64(c), uint64(t0.UnixNano())))
			for time.Now().Before(stop) {
				n, err := op(r)
				if err != nil {
					errs <- err
					return
				}
				done.Add(n)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(t0)
	close(errs)
	for err := range errs {
		tb.Fatal(err)
	}
	return done.Load(), elapsed
}

// refRawSQL is what PostgreSQL itself does with transfers: liveCallers
// connections, each committing refBatch transfers per SQL transaction (an
// INSERT of the transfer row and an UPDATE of each of its two balance
// rows, the updates in account order so that no two transactions
// deadlock, all in one pipelined round trip), between random pairs of
// refAccounts accounts in a scratch schema dropped when tb ends.
func refRawSQL(tb testing.TB, dsn string) reference {
	tb.Helper()
	ctx := context.Background()
	var rb [6]byte
	_, _ = rand.Read(rb[:])
	schema := pgx.Identifier{"rkbench_" + hex.EncodeToString(rb[:])}.Sanitize()
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if _, err := admin.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); err != nil {
			tb.Error(err)
		}
		_ = admin.Close(ctx)
	})
	for _, q := range []string{
		"CREATE SCHEMA " + schema,
		"CREATE TABLE " + schema + ".balances (id int PRIMARY KEY, posted bigint NOT NULL) WITH (fillfactor = 70)",
		"CREATE TABLE " + schema + ".transfers (id bigint PRIMARY KEY, src int NOT NULL, dst int NOT NULL, amount bigint NOT NULL)",
		"INSERT INTO " + schema + ".balances SELECT g, " + strconv.Itoa(liveViewerCoins) + " FROM generate_series(0, " + strconv.Itoa(refAccounts-1) + ") g",
	} {
		if _, err := admin.Exec(ctx, q); err != nil {
			tb.Fatal(err)
		}
	}
	conns := make(chan *pgx.Conn, liveCallers)
	for range liveCallers {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { _ = conn.Close(ctx) })
		conns <- conn
	}
	insert := "INSERT INTO " + schema + ".transfers (id, src, dst, amount) VALUES ($1, $2, $3, $4)"
	update := "UPDATE " + schema + ".balances SET posted = posted + $2 WHERE id = $1"
	type upd struct{ id, delta int }
	var ids atomic.Int64
	return func(d time.Duration) (int64, time.Duration) {
		return runFor(tb, d, func(r *mrand.Rand) (int64, error) {
			conn := <-conns
			defer func() { conns <- conn }()
			batch := &pgx.Batch{}
			batch.Queue("BEGIN")
			ups := make([]upd, 0, 2*refBatch)
			for range refBatch {
				i := r.IntN(refAccounts)
				j := (i + 1 + r.IntN(refAccounts-1)) % refAccounts
				batch.Queue(insert, ids.Add(1), i, j, 1)
				ups = append(ups, upd{i, -1}, upd{j, 1})
			}
			sort.Slice(ups, func(x, y int) bool { return ups[x].id < ups[y].id })
			for _, u := range ups {
				batch.Queue(update, u.id, u.delta)
			}
			batch.Queue("COMMIT")
			if err := conn.SendBatch(ctx, batch).Close(); err != nil {
				return 0, err
			}
			return refBatch, nil
		})
	}
}
