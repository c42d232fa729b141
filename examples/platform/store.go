package main

import (
	"context"
	"fmt"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/memstore"
	"github.com/rewardkit/rewardkit/ledger/pgstore"
)

// openStore opens the in-memory store, or the PostgreSQL store when dsn is
// set.
func openStore(ctx context.Context, dsn string) (ledger.Store, func() error, error) {
	if dsn == "" {
		s := memstore.New()
		return s, s.Close, nil
	}
	s, err := pgstore.Open(ctx, dsn)
	if err != nil {
		return nil, nil, fmt.Errorf("open PostgreSQL store: %w", err)
	}
	return s, s.Close, nil
}
