package pgstore_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/pgstore"
)

// Example_replica serves reads from a streaming replica that is at most a
// second behind the primary, and reads a balance that must be current
// from the primary. It needs a database and a replica, so it is compiled
// but not run.
func Example_replica() {
	ctx := context.Background()
	s, err := pgstore.Open(ctx, os.Getenv("REWARDKIT_TEST_POSTGRES"), pgstore.WithSchema("rewards"),
		pgstore.WithReplica(os.Getenv("REWARDS_REPLICA_DSN"), time.Second))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	l := ledger.New(s)

	// A listing for a page: the replica, up to a second stale.
	page, err := l.History(ctx, ledger.HistoryQuery{Account: "member:1", Asset: "EUR"})
	if err != nil {
		fmt.Println(err)
		return
	}
	// A balance a decision rests on: the primary.
	b, err := l.Balance(ledger.ReadPrimary(ctx), "member:1", "EUR")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(page.Entries), b.Posted, s.Stats().ReplicaReads)
}
