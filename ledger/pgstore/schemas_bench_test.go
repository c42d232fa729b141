package pgstore

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rewardkit/rewardkit/ledger"
)

// BenchmarkTwoLedgers: what a second, independent ledger on the same
// server adds. One ledger serialises its writers on its head row; two
// ledgers in two schemas (two Stores, two journals, two committers) share
// nothing but the server. Three ways of posting take turns in rounds of
// 3,200 transfers each (the one going first rotates), between random
// accounts of 10,000 per ledger:
//
//   - one16: one ledger, 16 callers;
//   - one32: the same ledger, 32 callers;
//   - two: two ledgers, 16 callers each, drawing from one count so that
//     both work until the round's last transfer.
//
// It reports each one's combined transfers/s, two_vs_one32_pct (two
// ledgers over one with as many callers: the fair comparison, the same
// offered load), two_vs_one16_pct (over one ledger with 16 callers, the
// figure BenchmarkTransfers16Callers10kAccounts measures), and the
// transfers per committed group with 32 callers on one ledger and with
// two ledgers:
//
//	go test -run '^$' -bench TwoLedgers -benchtime 32000x -count 3 ./ledger/pgstore/
func BenchmarkTwoLedgers(b *testing.B) {
	const accounts, round = 10_000, 3200
	ctx := context.Background()
	s0, s1, s2 := newStore(b), newStore(b), newStore(b)
	one, addrsOne := benchLedgerOn(b, s0, accounts)
	l1, addrs1 := benchLedgerOn(b, s1, accounts)
	l2, addrs2 := benchLedgerOn(b, s2, accounts)
	ways := []struct {
		ss      []*Store
		ls      []*ledger.Ledger
		addrs   [][]string
		callers int
	}{
		{[]*Store{s0}, []*ledger.Ledger{one}, [][]string{addrsOne}, 16},
		{[]*Store{s0}, []*ledger.Ledger{one}, [][]string{addrsOne}, 32},
		{[]*Store{s1, s2}, []*ledger.Ledger{l1, l2}, [][]string{addrs1, addrs2}, 16},
	}
	groups := func(ss []*Store) (n uint64) {
		for _, s := range ss {
			n += s.Stats().Groups
		}
		return n
	}
	var spent [3]time.Duration
	var grouped [3]uint64
	var seq atomic.Int64
	b.ResetTimer()
	for done, turn := 0, 0; done < b.N; done, turn = done+round, turn+1 {
		n := min(round, b.N-done)
		for k := range ways {
			w := (k + turn) % len(ways)
			g := groups(ways[w].ss)
			d, err := storeRound(ctx, ways[w].ls, ways[w].addrs, ways[w].callers, n, uint64(turn), &seq, anyPair)
			if err != nil {
				b.Fatal(err)
			}
			spent[w] += d
			grouped[w] += groups(ways[w].ss) - g
		}
	}
	b.StopTimer()
	rate := func(d time.Duration) float64 { return float64(b.N) / d.Seconds() }
	b.ReportMetric(rate(spent[0]), "one16_transfers/s")
	b.ReportMetric(rate(spent[1]), "one32_transfers/s")
	b.ReportMetric(rate(spent[2]), "two_transfers/s")
	b.ReportMetric(100*rate(spent[2])/rate(spent[1]), "two_vs_one32_pct")
	b.ReportMetric(100*rate(spent[2])/rate(spent[0]), "two_vs_one16_pct")
	b.ReportMetric(float64(b.N)/float64(grouped[1]), "one32_per_group")
	b.ReportMetric(float64(b.N)/float64(grouped[2]), "two_per_group")
}
