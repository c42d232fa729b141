package storetest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
)

// testConcurrency has many goroutines move money between random accounts
// at once, some racing each other with the same idempotency keys, some
// holding and capturing. Afterwards the journal must hold exactly what the
// callers were told was posted, each key once, every asset summing to
// zero and no account below its limit.
func testConcurrency(t *testing.T, e *env) {
	const members = 10
	workers, perWorker := 8, 150
	if testing.Short() {
		perWorker = 40
	}
	addrs := make([]string, members)
	limits := map[string]int64{}
	for i := range addrs {
		addrs[i] = fmt.Sprintf("member:%d", i)
		if i%3 == 0 {
			e.open(addrs[i], ledger.Overdraft{Limits: map[string]decimal.Decimal{"EUR": dec("20")}})
			limits[addrs[i]] = 2000
		} else {
			e.open(addrs[i], ledger.Overdraft{})
		}
		e.fund(addrs[i], "EUR", "100")
	}
	funding := e.head().ID

	// A duplicate key always comes with the same request, whoever sends it.
	dupRequest := func(k int) (from, to string, amount decimal.Decimal) {
		f, d := k%members, (k*7+3)%members
		if f == d {
			d = (d + 1) % members
		}
		return addrs[f], addrs[d], decimal.New(int64(100+(k*37)%5000), -2)
	}
	type result struct {
		txs     []ledger.Transaction
		dup     map[string][]uint64
		refused int
		err     error
	}
	results := make([]result, workers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			res := &results[w]
			res.dup = map[string][]uint64{}
			rng := rand.New(rand.NewPCG(uint64(w), 0x5eed))
			// ok sorts an error: nil is a success, a refusal the race may
			// cause is counted, anything else stops the worker.
			ok := func(err error, what string) bool {
				switch {
				case err == nil:
					return true
				case errors.Is(err, ledger.ErrInsufficientFunds), errors.Is(err, ledger.ErrConflict):
					res.refused++
					return false
				}
				res.err = fmt.Errorf("worker %d: %s: %w", w, what, err)
				return false
			}
			<-start
			for i := 0; i < perWorker && res.err == nil; i++ {
				switch r := rng.IntN(10); {
				case r < 3: // a key other workers send too
					k := rng.IntN(perWorker / 2)
					key := fmt.Sprintf("dup-%d", k)
					from, to, amount := dupRequest(k)
					tr, err := e.l.Transfer(e.ctx, key, from, to, "EUR", amount)
					if ok(err, key) {
						res.dup[key] = append(res.dup[key], tr.ID)
						res.txs = append(res.txs, tr)
					}
				case r < 4: // hold, then capture or void
					from := addrs[rng.IntN(members)]
					units := int64(1 + rng.IntN(3000))
					h, err := e.l.Hold(e.ctx, ledger.HoldRequest{Account: from, Asset: "EUR", Amount: decimal.New(units, -2), ExpiresAt: epoch.Add(time.Hour)})
					if !ok(err, "hold") {
						continue
					}
					if rng.IntN(3) == 0 {
						_, err = e.l.Void(e.ctx, h.ID)
						ok(err, "void")
						continue
					}
					to := addrs[(rng.IntN(members-1)+1+indexOf(addrs, from))%members]
					tr, err := e.l.Capture(e.ctx, ledger.CaptureRequest{Hold: h.ID, Final: true,
						Destinations: []ledger.Leg{{To: to, Amount: decimal.New(1+rng.Int64N(units), -2)}}})
					if err != nil {
						res.err = fmt.Errorf("worker %d: capture of its own hold: %w", w, err)
						continue
					}
					res.txs = append(res.txs, tr)
				default: // a unique transfer
					from := rng.IntN(members)
					to := (from + 1 + rng.IntN(members-1)) % members
					tr, err := e.l.Transfer(e.ctx, fmt.Sprintf("w%d-%d", w, i), addrs[from], addrs[to], "EUR", decimal.New(1+rng.Int64N(6000), -2))
					if ok(err, "transfer") {
						res.txs = append(res.txs, tr)
					}
				}
			}
		}(w)
	}
	close(start)
	wg.Wait()

	seen := map[uint64]ledger.Transaction{}
	dupIDs := map[string]uint64{}
	refused := 0
	for _, res := range results {
		require.NoError(t, res.err)
		refused += res.refused
		for _, tr := range res.txs {
			if old, dup := seen[tr.ID]; dup {
				require.Equal(t, old.Hash, tr.Hash, "two callers got different transactions under ID %d", tr.ID)
			}
			seen[tr.ID] = tr
		}
		for key, ids := range res.dup {
			for _, id := range ids {
				if first, ok := dupIDs[key]; ok {
					require.Equal(t, first, id, "key %s posted twice", key)
				}
				dupIDs[key] = id
			}
		}
	}
	t.Logf("%d transactions posted, %d refusals", len(seen), refused)
	require.NotEmpty(t, dupIDs)

	// The journal holds exactly the funding and what callers were told.
	s := e.snap()
	require.Len(t, s.Txs, int(funding)+len(seen), "the journal holds transactions no caller was told about, or lost some")
	keys := map[string]uint64{}
	for _, st := range s.Txs {
		if st.ID <= funding {
			continue
		}
		tr, ok := seen[st.ID]
		require.True(t, ok, "transaction %d in the journal was never returned", st.ID)
		require.Equal(t, tr.Hash, st.Hash)
		if st.Key != "" {
			_, twice := keys[st.Key]
			require.False(t, twice, "key %s appears twice in the journal", st.Key)
			keys[st.Key] = st.ID
		}
	}
	for key, id := range dupIDs {
		require.Equal(t, id, keys[key], "key %s", key)
	}

	// Balances: the funding plus what the callers were told, nothing held,
	// every asset sums to zero, nobody below the limit.
	want := map[string]decimal.Decimal{ledger.World: dec("-1000")}
	for _, a := range addrs {
		want[a] = dec("100")
	}
	for _, tr := range seen {
		for _, p := range tr.Postings {
			want[p.From] = want[p.From].Sub(p.Amount)
			want[p.To] = want[p.To].Add(p.Amount)
		}
	}
	sum := decimal.Zero
	for addr, w := range want {
		b, err := e.l.Balance(e.ctx, addr, "EUR")
		require.NoError(t, err)
		require.True(t, w.Equal(b.Posted), "%s: want %s, got %s", addr, w, b.Posted)
		require.True(t, b.Held.IsZero(), "%s holds %s", addr, b.Held)
		if addr != ledger.World {
			require.True(t, b.Posted.GreaterThanOrEqual(decimal.New(-limits[addr], -2)), "%s is below its limit: %s", addr, b.Posted)
		}
		sum = sum.Add(b.Posted)
	}
	require.True(t, sum.IsZero(), "EUR sums to %s", sum)
	rep := e.verify()
	require.Equal(t, len(s.Txs), rep.Transactions)
}

func indexOf(xs []string, x string) int {
	for i := range xs {
		if xs[i] == x {
			return i
		}
	}
	return -1
}
