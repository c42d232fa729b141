// Package exampledb opens the store an example runs on: the in-memory store
// by default, PostgreSQL when the example is given -postgres DSN. Shared by
// the commands under examples/ so each of them is only its story.
package exampledb

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/rewardkit/rewardkit/ledger/driver"
	"github.com/rewardkit/rewardkit/ledger/memstore"
	"github.com/rewardkit/rewardkit/ledger/pgstore"
)

// Open returns the in-memory store when dsn is empty, and the PostgreSQL
// store at dsn otherwise. The caller closes it.
func Open(ctx context.Context, dsn string) (driver.Store, error) {
	if dsn == "" {
		return memstore.New(), nil
	}
	s, err := pgstore.Open(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("open PostgreSQL store: %w", err)
	}
	return s, nil
}

// Main is an example's main: it reads the -postgres flag, runs run on the
// store it names (printing to standard output), closes the store, and
// exits with status 1 and "<name> example: <error>" if anything failed.
func Main(name string, run func(ctx context.Context, out io.Writer, store driver.Store) error) {
	dsn := flag.String("postgres", "", "PostgreSQL connection string (default: the in-memory store)")
	flag.Parse()
	ctx := context.Background()
	store, err := Open(ctx, *dsn)
	if err == nil {
		err = run(ctx, os.Stdout, store)
		if cerr := store.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s example: %v\n", name, err)
		os.Exit(1)
	}
}
