package ledger_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/memstore"
)

// TestLedgerIsCollectedAfterUse: each Ledger kept its Writers in a
// sync.Pool of its own, and the runtime keeps a used pool alive for two
// collections, so a ledger and its store outlived their last use by two
// GC cycles. A program that opened many short-lived ledgers (one per
// tenant request, one per test or fuzz execution) saw its heap double
// each cycle: FuzzLedgerPublicAPI's workers grew past 10 GB and were
// killed. Writers now come from one shared pool and refer to no ledger
// once returned, so one collection frees a ledger no one holds.
func TestLedgerIsCollectedAfterUse(t *testing.T) {
	collected := make(chan struct{})
	func() {
		ctx := context.Background()
		store := memstore.New()
		runtime.AddCleanup(store, func(ch chan struct{}) { close(ch) }, collected)
		l := ledger.New(store)
		require.NoError(t, l.DefineAsset(ctx, ledger.COIN))
		for _, a := range []ledger.AccountSpec{{Address: ledger.World, Overdraft: ledger.Overdraft{Unbounded: true}}, {Address: "member:1"}} {
			_, err := l.OpenAccount(ctx, a)
			require.NoError(t, err)
		}
		_, err := l.Transfer(ctx, "k", ledger.World, "member:1", "COIN", decimal.NewFromInt(5))
		require.NoError(t, err)
		_, err = l.PostBatch(ctx, []ledger.TransferRequest{{Postings: []ledger.Posting{{From: ledger.World, To: "member:1", Asset: "COIN", Amount: decimal.NewFromInt(1)}}}})
		require.NoError(t, err)
	}()
	runtime.GC()
	select {
	case <-collected:
	case <-time.After(5 * time.Second):
		t.Fatal("a ledger no one holds survived a collection")
	}
}
