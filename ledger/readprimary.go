package ledger

import (
	"context"

	"github.com/rewardkit/rewardkit/ledger/driver"
)

// ReadPrimary returns a copy of ctx whose reads (View, and the Ledger's
// read methods: Balance, History, Events, ...) go to the store's primary
// database even when the store serves reads from a replica
// (ledger/pgstore's WithReplica). Such a read sees every Update that
// returned before it began: use it to read your own writes, or when a
// decision must not rest on a stale balance. On a store without a replica
// every read already does, and ReadPrimary changes nothing.
//
// Reads inside Update (a Writer's) always go to the primary, with or
// without it. The ledger's own reads that lead to writes or wake-ups
// (Tick, a Consumer's position, Follow after a wake-up) use the primary
// too.
func ReadPrimary(ctx context.Context) context.Context { return driver.WithPrimary(ctx) }
