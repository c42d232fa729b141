// Command platform runs the whole creator economy on one ledger: the six
// reward programs (referral, gifting, shoutout, subscription, adsbuy,
// payout) composed by the caller, as an integrating service would.
//
// With no flags it tells a short story on the in-memory store and ends with
// a balance sheet per asset and Verify:
//
//	go run ./examples/platform
//
// With -simulate it drives every program through its public API for many
// seeded members over many days, with bad inputs mixed in (ineligible
// members, replayed and racing duplicate events, payment provider
// failures), prints progress, throughput and a summary per program, runs
// Verify and exits non-zero if any invariant broke:
//
//	go run ./examples/platform -simulate -members 100000 -days 30 -seed 1
//	go run ./examples/platform -simulate -report /tmp/report.html
//
// -faults RATE runs the simulation over a store that injects faults into
// that share of its calls, drawn from the seed: a unit of work that fails
// before its commit, one that commits and loses its reply, a slow commit, a
// read run twice. The programs retry as a service would (ledger.Update runs
// the unit of work again) and the run must end as it ends without faults,
// with the same journal head:
//
//	go run ./examples/platform -simulate -faults 0.02
//
// -whatif RULES.json asks, once the simulation is done, what its period
// would have cost under candidate rules: the recorded referral and gifting
// inputs are re-run with them on a scratch in-memory store, and the
// summary and the report show each program's cost per asset, actual
// against candidate (whatif.go):
//
//	echo '{"referral": {"signup_reward": "10000"}}' > half.json
//	go run ./examples/platform -simulate -whatif half.json -report sim.html
//
// -postgres DSN runs either on the PostgreSQL store instead of memory. Use
// a fresh database (or a fresh schema, "...&search_path=demo"): the same
// seed gives the same journal on a fresh store, and telling the story a
// second time only replays its events (every event has a fixed id). On
// PostgreSQL the simulation sends one event at a time (one commit each) to
// stay deterministic, so keep -members small there.
//
// Figures on the development machine (2 cores, in memory): 100,000 members
// over 30 days are about 520,000 events and 245,000 ledger transactions,
// simulated and verified in 13 to 25 seconds depending on the load.
//
// Programs never import each other: this command composes them (referral
// rubies and gifting diamonds are cashed out through payout).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/rewardkit/rewardkit/examples/internal/exampledb"
	storedriver "github.com/rewardkit/rewardkit/ledger/driver"
)

// config is what the flags ask for.
type config struct {
	Simulate bool
	Members  int
	Days     int
	Seed     uint64
	Report   string // path of the HTML report, "" for none
	Postgres string // DSN, "" for the in-memory store
	// Faults is the probability, from 0 to 1, that a store call of the
	// simulation gets a fault (see faultStore); 0 for none.
	Faults float64
	// WhatIf is the path of a candidate rule set (whatif.go) to replay
	// over the simulated period once the run is done, "" for none.
	WhatIf string
	// Progress receives a line per simulated day (os.Stderr in the
	// command; nil for none).
	Progress io.Writer
}

// errInvariant marks a run whose ledger broke an invariant: the command
// exits with status 2 for it (1 for any other failure).
var errInvariant = errors.New("invariant broken")

func main() {
	var cfg config
	flag.BoolVar(&cfg.Simulate, "simulate", false, "run the seeded simulation instead of the story")
	flag.IntVar(&cfg.Members, "members", 2000, "simulated members (with -simulate)")
	flag.IntVar(&cfg.Days, "days", 14, "simulated days (with -simulate)")
	flag.Uint64Var(&cfg.Seed, "seed", 1, "random seed: the same seed gives the same result on the same (fresh) store")
	flag.StringVar(&cfg.Report, "report", "", "write a self-contained HTML report of the simulation to `FILE.html` (implies -simulate)")
	flag.StringVar(&cfg.Postgres, "postgres", "", "run on the PostgreSQL store at `DSN` instead of in memory")
	flag.Float64Var(&cfg.Faults, "faults", 0, "inject seeded store faults (failed commits, lost replies, slow commits, re-run reads) into `RATE` of the store calls (implies -simulate)")
	flag.StringVar(&cfg.WhatIf, "whatif", "", "after the simulation, replay its recorded referral and gifting inputs with the candidate rules in `RULES.json` ({\"referral\": {...}, \"gifting\": {...}}, fields left out as they ran) on a scratch in-memory ledger and report the cost difference per program and asset (implies -simulate)")
	flag.Parse()
	if cfg.Report != "" || cfg.Faults != 0 || cfg.WhatIf != "" {
		cfg.Simulate = true
	}
	cfg.Progress = os.Stderr

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	store, err := exampledb.Open(ctx, cfg.Postgres)
	if err != nil {
		fmt.Fprintln(os.Stderr, "platform:", err)
		os.Exit(1)
	}
	err = run(ctx, os.Stdout, store, cfg)
	if cerr := store.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "platform:", err)
		if errors.Is(err, errInvariant) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// run tells the story, or runs the simulation, on store and writes what
// happens to out.
func run(ctx context.Context, out io.Writer, store storedriver.Store, cfg config) error {
	if !cfg.Simulate {
		return story(ctx, out, store)
	}
	res, err := simulate(ctx, out, store, cfg)
	if err != nil {
		return err
	}
	if cfg.Report != "" {
		if err := writeReportFile(cfg.Report, res); err != nil {
			return err
		}
		fmt.Fprintf(out, "\nreport written to %s\n", cfg.Report)
	}
	return res.Err()
}
