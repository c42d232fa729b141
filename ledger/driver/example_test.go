package driver_test

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/driver"
	"github.com/rewardkit/rewardkit/ledger/memstore"
)

// countingStore wraps any store and counts the units of work Update
// committed, as a metrics or tracing layer around a store would; the
// methods it does not override are the wrapped store's.
type countingStore struct {
	driver.Store
	commits atomic.Int64 // Update is called from many goroutines
}

var _ driver.Store = (*countingStore)(nil)

func (s *countingStore) Update(ctx context.Context, fn func(driver.Tx) error) error {
	err := s.Store.Update(ctx, fn)
	if err == nil {
		s.commits.Add(1)
	}
	return err
}

// A ledger runs over anything that implements driver.Store.
func Example() {
	ctx := context.Background()
	s := &countingStore{Store: memstore.New()}
	defer s.Close()
	l := ledger.New(s)
	if err := l.DefineAsset(ctx, ledger.COIN); err != nil {
		panic(err)
	}
	for _, spec := range []ledger.AccountSpec{
		{Address: ledger.World, Overdraft: ledger.Overdraft{Unbounded: true}},
		{Address: "member:1"},
	} {
		if _, err := l.OpenAccount(ctx, spec); err != nil {
			panic(err)
		}
	}
	if _, err := l.Transfer(ctx, "pack-1", ledger.World, "member:1", "COIN", decimal.NewFromInt(70)); err != nil {
		panic(err)
	}
	fmt.Println("units of work committed:", s.commits.Load())
	// Output: units of work committed: 4
}
