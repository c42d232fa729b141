package pgstore

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// TestKeyFilterNoFalseNegatives: every key added is reported as maybe
// present, whatever the keys.
func TestKeyFilterNoFalseNegatives(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		f := newKeyFilter(rapid.IntRange(1, 64).Draw(t, "capacity"))
		keys := rapid.SliceOf(rapid.String()).Draw(t, "keys")
		for _, k := range keys {
			f.add(k)
		}
		for _, k := range keys {
			require.True(t, f.mayContain(k), "key %q", k)
		}
	})
}

// TestKeyFilterSelective: at capacity, few absent keys look present.
func TestKeyFilterSelective(t *testing.T) {
	const n = 20000
	f := newKeyFilter(n)
	for i := 0; i < n; i++ {
		f.add(fmt.Sprintf("in-%d", i))
	}
	require.False(t, f.full())
	fp := 0
	for i := 0; i < n; i++ {
		if f.mayContain(fmt.Sprintf("out-%d", i)) {
			fp++
		}
	}
	require.Less(t, fp, n/50, "false positives under 2%%")
}

// TestKeyFilterGrows posts more keyed transfers than the filter was sized
// for, from concurrent callers (so groups begin inside the previous
// commit): the filter is rebuilt larger, and replays still find their
// transactions while new keys still post.
func TestKeyFilterGrows(t *testing.T) {
	s := newStore(t)
	l := newLedger(t, s, 0, "member:a")
	ctx := context.Background()
	s.keyFilterCap(64)
	const n = 300
	var wg sync.WaitGroup
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 6 {
				_, err := l.Transfer(ctx, fmt.Sprintf("grow-%d", i), ledger.World, "member:a", "EUR", decimal.NewFromInt(1))
				require.NoError(t, err)
			}
		}()
	}
	wg.Wait()
	for i := 0; i < n; i += 7 {
		tr, err := l.Transfer(ctx, fmt.Sprintf("grow-%d", i), ledger.World, "member:a", "EUR", decimal.NewFromInt(1))
		require.NoError(t, err, "replay %d", i)
		require.NotZero(t, tr.ID)
	}
	b, err := l.Balance(ctx, "member:a", "EUR")
	require.NoError(t, err)
	require.True(t, b.Posted.Equal(decimal.NewFromInt(n)), "replays post nothing: %s", b.Posted)
	_, err = l.Verify(ctx)
	require.NoError(t, err)
}

// TestKeyFilterLoadsLongJournal: a second store opened on a journal of
// more keys than one catch-up page reads them all, so a replay of a late
// key finds its transaction instead of posting again.
func TestKeyFilterLoadsLongJournal(t *testing.T) {
	schema := newSchema(t)
	l := newLedger(t, openStore(t, schema), 0, "member:a")
	ctx := context.Background()
	const n = 2500
	for lo := 0; lo < n; lo += 500 {
		reqs := make([]ledger.TransferRequest, 500)
		for i := range reqs {
			reqs[i] = ledger.TransferRequest{Key: fmt.Sprintf("long-%d", lo+i), Postings: []ledger.Posting{{From: ledger.World, To: "member:a", Asset: "EUR", Amount: decimal.NewFromInt(1)}}}
		}
		res, err := l.PostBatch(ctx, reqs)
		require.NoError(t, err)
		for _, r := range res {
			require.NoError(t, r.Err)
		}
	}
	l2 := ledger.New(openStore(t, schema))
	want, err := l2.TransactionByKey(ctx, "long-2400")
	require.NoError(t, err)
	got, err := l2.Transfer(ctx, "long-2400", ledger.World, "member:a", "EUR", decimal.NewFromInt(1))
	require.NoError(t, err)
	require.Equal(t, want.ID, got.ID, "the replay returns the original")
	b, err := l2.Balance(ctx, "member:a", "EUR")
	require.NoError(t, err)
	require.True(t, b.Posted.Equal(decimal.NewFromInt(n)), "nothing posted twice: %s", b.Posted)
}
