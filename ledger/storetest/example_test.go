package storetest_test

import (
	"testing"

	"github.com/rewardkit/rewardkit/ledger/driver"
	"github.com/rewardkit/rewardkit/ledger/memstore"
	"github.com/rewardkit/rewardkit/ledger/storetest"
)

// A store joins the conformance suite with one line in its own tests; open
// returns a new, empty store for each subtest.
func ExampleRun() {
	_ = func(t *testing.T) {
		storetest.Run(t, func(*testing.T) driver.Store { return memstore.New() })
	}
}
