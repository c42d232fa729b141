package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rewardkit/rewardkit/ledger"
	storedriver "github.com/rewardkit/rewardkit/ledger/driver"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
	"github.com/rewardkit/rewardkit/ledger/scheduler"
)

// simStart is the simulated first day: February 1st, so that the monthly
// renewals of the first subscriptions (March 1st, 28 days later) fall
// inside a 30-day run.
var simStart = time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)

// driver drives one program through its public API during a simulation.
// Drivers never import one another's program packages' internals; a
// driver that composes two programs (payout of referral rubies) does so
// only through their public APIs, as an integrating service would.
type driver interface {
	// Name is the program's name, used in the summary and report.
	Name() string
	// Setup creates the program and whatever it needs before day 0, and
	// registers with the run's scheduler (s.sched) whatever of it time
	// makes happen: each program's Tick, under a name of the driver's.
	Setup(ctx context.Context, s *sim) error
	// Day runs one simulated day's events. It returns only errors that
	// make the simulation meaningless (a closed store, a cancelled
	// context); refusals and unexpected errors are counted in the stats.
	Day(ctx context.Context, s *sim, day int) error
	// Night reads what the nightly run (the scheduler's one RunOnce at
	// the end of each day) did for the driver's programs, by the names it
	// registered them under, and does the driver's accounting: failures
	// counted, outcomes followed. The driver never ticks anything itself.
	Night(ctx context.Context, s *sim, night scheduler.Report) error
}

// wall is the wall clock, read only to measure throughput: simulated time
// comes from the manual clock.
var wall ledger.Clock = ledger.SystemClock{}

// checker is a driver that can reconcile its program's own figures with the
// ledger at the end of a run (what a provider paid against what the
// ledger settled, say). Each returned string is a broken invariant.
type checker interface {
	Check(ctx context.Context, s *sim) ([]string, error)
}

// sim is the state of one seeded simulation run.
type sim struct {
	cfg     config
	l       *ledger.Ledger
	clock   *ledgertest.Clock
	rng     *rand.Rand
	pop     *population
	drivers []driver
	// sched is the run's one scheduler: the ledger's hold expiry, then
	// the Tick of every program the drivers register in Setup, run once
	// at the end of each simulated day.
	sched *scheduler.Scheduler
	// nightly counts what the nightly runs did for the ledger itself.
	nightly nightlyStats
	// wallets is the platform's one wallet policy (platformWallets),
	// given to every program that opens members' wallets.
	wallets kit.WalletPolicy
	stats   map[string]*programStats
	names   []string
	metrics *metrics
	day     int
	// coinHolders are members who bought coins (gifting), fans for
	// shoutouts; earners are members with an invite code (referral) who may
	// cash out rubies (payout). Drivers share them; programs never do.
	coinHolders []*person
	earners     []*person
	// cashOut are earners who cash their rubies out on the next day's
	// payout round, whatever the draw (a refund fraud, shop driver).
	cashOut []*person
	// features counts what the drivers did with caps, pending grants,
	// clawbacks and payout states (features.go).
	features featureStats
	// notes are things the run wants to say once (a composition left out
	// and why), printed with the summary.
	notes []string
}

// rand returns the simulation's random source. Every draw happens on the
// simulation's goroutine, in program order, so the same seed makes the
// same draws.
func (s *sim) rand() *rand.Rand { return s.rng }

// at moves the clock to the given hour of the current simulated day.
func (s *sim) at(hour float64) time.Time {
	t := simStart.AddDate(0, 0, s.day).Add(time.Duration(hour * float64(time.Hour)))
	if t.Before(s.clock.Now()) {
		return s.clock.Now()
	}
	s.clock.Set(t)
	return t
}

// note records something to say once in the summary.
func (s *sim) note(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	for _, n := range s.notes {
		if n == msg {
			return
		}
	}
	s.notes = append(s.notes, msg)
}

// statsFor returns (creating) the counters of a program.
func (s *sim) statsFor(name string, kinds ...errKind) *programStats {
	st, ok := s.stats[name]
	if !ok {
		st = newProgramStats(name)
		s.stats[name] = st
		s.names = append(s.names, name)
	}
	st.kinds = append(st.kinds, kinds...)
	return st
}

// nightlyStats counts the nightly runs and what they did for the ledger
// itself (scheduler.HoldsName); what they did for each program is its
// driver's to count.
type nightlyStats struct {
	// Runs counts the nightly runs, one a simulated day.
	Runs int64
	// Tickers are the names the runs reported, in the order they ran.
	Tickers []string
	// HoldsExpired counts the holds the ledger released because their
	// expiry passed.
	HoldsExpired int64
	// LotsExpired counts the balances whose expired lots the ledger moved
	// to their breakage accounts, one per balance and night.
	LotsExpired int64
	// Unexpected counts what the hold expiry could not do, by message.
	// Any makes the run fail.
	Unexpected map[string]int64
}

// count adds one nightly run's report.
func (n *nightlyStats) count(night scheduler.Report) {
	n.Runs++
	n.Tickers = n.Tickers[:0]
	for _, r := range night.Results {
		n.Tickers = append(n.Tickers, r.Name)
	}
	holds, ok := night.Result(scheduler.HoldsName)
	if !ok {
		n.failed(fmt.Errorf("the run has no result for %s", scheduler.HoldsName))
		return
	}
	n.HoldsExpired += int64(holds.Report.Count(scheduler.KindHoldExpired))
	n.LotsExpired += int64(holds.Report.Count(scheduler.KindLotsExpired))
	n.failed(errors.Join(holds.Err, holds.Report.Err()))
}

// failed counts something the hold expiry could not do.
func (n *nightlyStats) failed(err error) {
	if err == nil {
		return
	}
	if n.Unexpected == nil {
		n.Unexpected = map[string]int64{}
	}
	n.Unexpected[scheduler.HoldsName+": "+err.Error()]++
}

// nightResult returns what the nightly run did for the ticker registered
// under name, counting in st what went wrong with the ticker as a whole
// (its Tick failed or panicked, or the run has no result for it). Its
// failed items are left to the caller: which of them are failures of the
// run is the program's to say (referral's withheld rewards are not).
func nightResult(st *programStats, night scheduler.Report, name string) kit.TickReport {
	res, ok := night.Result(name)
	if !ok {
		st.failed("tick", fmt.Errorf("the nightly run has no result for %s", name))
		return kit.TickReport{}
	}
	if res.Err != nil {
		st.failed("tick", fmt.Errorf("%s: %w", name, res.Err))
	}
	return res.Report
}

// errKind names a sentinel error a program may refuse with.
type errKind struct {
	Name string
	Err  error
}

// programStats counts what happened to one program's events.
type programStats struct {
	Name string
	// Events is every event sent, Done those that succeeded (including
	// idempotent replays that returned the first result).
	Events, Done int64
	// Replays counts events deliberately sent again with the same event
	// id; Races counts events sent twice at once from two goroutines.
	Replays, Races int64
	// Refused counts expected refusals by error kind.
	Refused map[string]int64
	// Unexpected counts errors that are no known refusal, by message. Any
	// makes the run fail.
	Unexpected map[string]int64
	// ByRule counts the expected refusals a rule of the program's rule
	// set made, by the rule's JSON name (ledger.RuleOf): "invites_per_day",
	// "daily_spend_limit", "min_age", ...
	ByRule map[string]int64
	// Counters are program-specific figures (coins bought, payouts paid).
	Counters map[string]int64
	kinds    []errKind
	mu       sync.Mutex
}

func newProgramStats(name string) *programStats {
	return &programStats{Name: name, Refused: map[string]int64{}, ByRule: map[string]int64{}, Unexpected: map[string]int64{}, Counters: map[string]int64{}}
}

// kindOf names err's kind: "" for nil, a known kind's name, or "" with
// known=false for an unexpected error.
func (p *programStats) kindOf(err error) (kind string, known bool) {
	if err == nil {
		return "", true
	}
	for _, k := range p.kinds {
		if errors.Is(err, k.Err) {
			return k.Name, true
		}
	}
	return "", false
}

// observe counts one event's outcome and reports whether it succeeded.
func (p *programStats) observe(err error) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.Events++
	p.note(err)
	return err == nil
}

func (p *programStats) note(err error) {
	if err == nil {
		p.Done++
		return
	}
	if kind, known := p.kindOf(err); known {
		p.Refused[kind]++
		if rule := ledger.RuleOf(err); rule != "" {
			p.ByRule[rule]++
		}
		return
	}
	msg := err.Error()
	if len(msg) > 160 {
		msg = msg[:160] + "..."
	}
	p.Unexpected[msg]++
}

// expect counts one event whose refusal kind is known in advance (a bad
// input sent on purpose): err must be of that kind, or it is unexpected.
func (p *programStats) expect(err error, want error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.Events++
	if err != nil && errors.Is(err, want) {
		kind, _ := p.kindOf(err)
		if kind == "" {
			kind = want.Error()
		}
		p.Refused[kind]++
		if rule := ledger.RuleOf(err); rule != "" {
			p.ByRule[rule]++
		}
		return
	}
	if err == nil {
		p.Unexpected[fmt.Sprintf("a bad input was accepted (wanted %v)", want)]++
		return
	}
	p.Unexpected[fmt.Sprintf("wanted %v, got %v", want, err)]++
}

// refused counts one event that must be refused (a bad input sent on
// purpose) with any known kind: acceptance or an unknown error is
// unexpected.
func (p *programStats) refused(err error, what string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.Events++
	if err == nil {
		p.Unexpected["a bad input was accepted: "+what]++
		return
	}
	p.note(err)
}

// failed counts an error of periodic work (Tick), which must not fail.
func (p *programStats) failed(what string, err error) {
	if err == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.Unexpected[what+": "+err.Error()]++
}

// add adds n to a program-specific counter.
func (p *programStats) add(counter string, n int64) {
	p.mu.Lock()
	p.Counters[counter] += n
	p.mu.Unlock()
}

// refusedTotal is the number of refused events.
func (p *programStats) refusedTotal() int64 {
	var n int64
	for _, v := range p.Refused {
		n += v
	}
	return n
}

// unexpectedTotal is the number of unexpected errors.
func (p *programStats) unexpectedTotal() int64 {
	var n int64
	for _, v := range p.Unexpected {
		n += v
	}
	return n
}

// replay sends an event again with the same id: a replay must return the
// first result (no error) and move nothing new, which the ledger's
// conservation and the program's own figures confirm at the end.
func (p *programStats) replay(err error) {
	p.mu.Lock()
	p.Replays++
	p.mu.Unlock()
	p.observe(err)
}

// race runs fn twice at once from two goroutines (the same event id,
// delivered twice by an at-least-once queue) and counts one event: both
// calls must agree, because the program is idempotent on its event id.
func (p *programStats) race(fn func() error) bool {
	var errs [2]error
	var wg sync.WaitGroup
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn()
		}()
	}
	wg.Wait()
	p.mu.Lock()
	p.Races++
	p.mu.Unlock()
	k0, _ := p.kindOf(errs[0])
	k1, _ := p.kindOf(errs[1])
	if (errs[0] == nil) != (errs[1] == nil) || k0 != k1 {
		p.mu.Lock()
		p.Events++
		p.Unexpected[fmt.Sprintf("racing duplicates disagree: %v / %v", errs[0], errs[1])]++
		p.mu.Unlock()
		return false
	}
	return p.observe(errs[0])
}

// simResult is what a simulation measured.
type simResult struct {
	Config       config
	Elapsed      time.Duration
	Events       int64
	Transactions uint64
	Programs     []*programStats
	Metrics      *metrics
	Verify       ledger.VerifyReport
	VerifyErr    error
	Sheet        []assetSheet
	// Liability is what members and creators hold at the end, by age and
	// valued in money (liability.go).
	Liability *kit.LiabilityReport
	// BreakageAccounts are the accounts the liability counts as breakage.
	BreakageAccounts []string
	// Features counts caps, pending grants, clawbacks, debts and payout
	// states (features.go).
	Features *featureStats
	// WhatIf is the candidate rules\' replay (-whatif), nil without one.
	WhatIf     *whatIfReport
	Head       ledger.Head
	Population *population
	Notes      []string
	// Nightly is what the nightly runs did for the ledger itself.
	Nightly nightlyStats
	// Faults counts the faults injected by kind (nil when the run had
	// none asked for).
	Faults map[string]int64
	// Problems are broken invariants and unexpected errors; any makes the
	// run fail.
	Problems []string
}

// Err is nil for a sound run and wraps errInvariant otherwise.
func (r *simResult) Err() error {
	if len(r.Problems) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", errInvariant, strings.Join(r.Problems, "; "))
}

// simulate runs the seeded simulation on store, printing the summary to
// out and progress to cfg.Progress.
func simulate(ctx context.Context, out io.Writer, store storedriver.Store, cfg config) (*simResult, error) {
	if cfg.Members < 10 {
		return nil, fmt.Errorf("-members must be at least 10, got %d", cfg.Members)
	}
	if cfg.Days < 1 {
		return nil, fmt.Errorf("-days must be at least 1, got %d", cfg.Days)
	}
	progress := cfg.Progress
	if progress == nil {
		progress = io.Discard
	}
	clock := ledgertest.NewClock(simStart)
	// The programs run over the faulty store when faults are asked for;
	// the observer (metrics, Verify, the balance sheet) reads the store
	// itself, so that what judges the run is not what is under test.
	programStore := store
	var faults *faultStore
	if cfg.Faults != 0 {
		var err error
		if faults, err = newFaultStore(store, cfg.Seed, cfg.Faults); err != nil {
			return nil, fmt.Errorf("-faults: %w", err)
		}
		programStore = faults
	}
	l := ledger.New(programStore, ledger.WithClock(clock))
	sched, err := scheduler.New(l)
	if err != nil {
		return nil, err
	}
	s := &sim{
		sched:   sched,
		cfg:     cfg,
		l:       l,
		clock:   clock,
		rng:     rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		wallets: platformWallets(),
		stats:   map[string]*programStats{},
	}
	s.pop = newPopulation(s.rng, cfg.Members)
	s.metrics = newMetrics()
	s.drivers = simDrivers()

	fmt.Fprintf(out, "simulation: %s members over %d days, seed %d, %s store\n",
		thousands(int64(cfg.Members)), cfg.Days, cfg.Seed, storeName(cfg))
	fmt.Fprintf(out, "population: %s\n", s.pop.describe())
	if faults != nil {
		fmt.Fprintf(out, "faults: a store call in %s fails, loses its reply or commits slowly (seeded)\n", formatRate(cfg.Faults))
	}
	started := wall.Now()
	if err := defineWalletAssets(ctx, l); err != nil {
		return nil, err
	}
	for _, d := range s.drivers {
		if err := d.Setup(ctx, s); err != nil {
			return nil, fmt.Errorf("set up %s: %w", d.Name(), err)
		}
	}
	if err := s.metrics.scan(ctx, store); err != nil {
		return nil, err
	}
	var lastEvents int64
	lastTime := started
	for day := 0; day < cfg.Days; day++ {
		s.day = day
		for i, d := range s.drivers {
			s.at(8 + float64(i)*2)
			if err := d.Day(ctx, s, day); err != nil {
				return nil, fmt.Errorf("day %d, %s: %w", day, d.Name(), err)
			}
		}
		// The nightly run: one RunOnce ticks the ledger and every
		// program; each driver then reads its own results from the report.
		s.at(23.5)
		night, err := s.sched.RunOnce(ctx)
		if err == nil && !night.Ran {
			err = errors.New("another run holds the scheduler's lease (is another simulation using this store?)")
		}
		if err != nil {
			return nil, fmt.Errorf("day %d, the nightly run: %w", day, err)
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		s.nightly.count(night)
		for _, d := range s.drivers {
			if err := d.Night(ctx, s, night); err != nil {
				return nil, fmt.Errorf("day %d, %s night: %w", day, d.Name(), err)
			}
		}
		if err := s.metrics.scan(ctx, store); err != nil {
			return nil, err
		}
		events := s.totalEvents()
		s.metrics.endDay(day, simStart.AddDate(0, 0, day), s.stats)
		now := wall.Now()
		rate := float64(events-lastEvents) / now.Sub(lastTime).Seconds()
		fmt.Fprintf(progress, "day %3d/%d  %s  events %11s  refused %9s  journal %11s tx  %8s ev/s  elapsed %s\n",
			day+1, cfg.Days, simStart.AddDate(0, 0, day).Format("2006-01-02"), thousands(events),
			thousands(s.totalRefused()), thousands(int64(s.metrics.lastID)), thousands(int64(rate)),
			now.Sub(started).Round(100*time.Millisecond))
		lastEvents, lastTime = events, now
	}
	res := &simResult{Config: cfg, Metrics: s.metrics, Notes: s.notes, Population: s.pop, Nightly: s.nightly}
	res.Elapsed = wall.Now().Sub(started)
	res.Events = s.totalEvents()
	for _, name := range s.names {
		res.Programs = append(res.Programs, s.stats[name])
	}
	verifyStart := wall.Now()
	observer := ledger.New(store, ledger.WithClock(clock))
	res.Verify, res.VerifyErr = observer.Verify(ctx)
	verifyTook := wall.Now().Sub(verifyStart)
	res.Transactions = uint64(res.Verify.Transactions)
	res.Head = res.Verify.Head
	res.Sheet, err = balanceSheet(ctx, observer)
	if err != nil {
		return nil, err
	}
	res.BreakageAccounts = breakageAccounts()
	lia, err := platformLiability(ctx, observer, res.BreakageAccounts)
	if err != nil {
		return nil, err
	}
	res.Liability = &lia
	res.Features = &s.features
	if err := res.Features.readDebts(ctx, observer); err != nil {
		return nil, err
	}
	if cfg.WhatIf != "" {
		if res.WhatIf, err = s.whatIf(ctx, observer, cfg.WhatIf); err != nil {
			return nil, err
		}
	}
	for _, d := range s.drivers {
		if c, ok := d.(checker); ok {
			problems, err := c.Check(ctx, s)
			if err != nil {
				return nil, fmt.Errorf("check %s: %w", d.Name(), err)
			}
			for _, p := range problems {
				res.Problems = append(res.Problems, d.Name()+": "+p)
			}
		}
	}
	if faults != nil {
		// Counted once the checks, which may still run the programs, are
		// done.
		res.Faults = faults.Counts()
		money, state := faults.DoubleWrites()
		res.Problems = append(res.Problems, money...)
		res.Notes = append(res.Notes, state...)
	}
	res.check()
	printSummary(out, res, verifyTook)
	return res, nil
}

// check collects broken invariants into r.Problems.
func (r *simResult) check() {
	if r.VerifyErr != nil {
		r.Problems = append(r.Problems, fmt.Sprintf("Verify: %v", r.VerifyErr))
	}
	for _, a := range r.Sheet {
		if a.Total != 0 {
			r.Problems = append(r.Problems, fmt.Sprintf("%s sums to %s, not zero", a.Asset.Code, a.amount(a.Total)))
		}
	}
	for code, total := range r.Verify.Totals {
		if !total.IsZero() {
			r.Problems = append(r.Problems, fmt.Sprintf("Verify totals: %s sums to %s", code, total))
		}
	}
	for _, p := range r.Programs {
		if n := p.unexpectedTotal(); n > 0 {
			r.Problems = append(r.Problems, fmt.Sprintf("%s: %d unexpected errors", p.Name, n))
		}
	}
	for _, msg := range sortedKeys(r.Nightly.Unexpected) {
		r.Problems = append(r.Problems, fmt.Sprintf("nightly run: %dx %s", r.Nightly.Unexpected[msg], msg))
	}
}

// joinedCount is how many members are on the platform.
func (s *sim) joinedCount() int { return s.pop.joined }

func (s *sim) totalEvents() int64 {
	var n int64
	for _, st := range s.stats {
		st.mu.Lock()
		n += st.Events
		st.mu.Unlock()
	}
	return n
}

func (s *sim) totalRefused() int64 {
	var n int64
	for _, st := range s.stats {
		st.mu.Lock()
		n += st.refusedTotal()
		st.mu.Unlock()
	}
	return n
}

// formatRate renders a probability as a percentage: 0.02 → "2%".
func formatRate(p float64) string {
	return strconv.FormatFloat(p*100, 'g', 4, 64) + "%"
}

func storeName(cfg config) string {
	if cfg.Postgres != "" {
		return "PostgreSQL"
	}
	return "in-memory"
}

// printSummary prints throughput, the per-program table, the balance
// sheet and Verify's verdict.
func printSummary(out io.Writer, r *simResult, verifyTook time.Duration) {
	secs := r.Elapsed.Seconds()
	fmt.Fprintf(out, "\nthroughput: %s events and %s ledger transactions in %s: %s events/s, %s transactions/s\n",
		thousands(r.Events), thousands(int64(r.Transactions)), r.Elapsed.Round(10*time.Millisecond),
		thousands(int64(float64(r.Events)/secs)), thousands(int64(float64(r.Transactions)/secs)))
	fmt.Fprintln(out)
	fmt.Fprint(out, summaryTable(r.Programs))
	for _, p := range r.Programs {
		if len(p.Counters) > 0 {
			fmt.Fprintf(out, "  %-13s %s\n", p.Name, formatCounters(p.Counters))
		}
	}
	fmt.Fprintf(out, "  %-13s %s nightly runs of %s; holds expired %s, balances with lots expired %s\n", "scheduler", thousands(r.Nightly.Runs),
		strings.Join(r.Nightly.Tickers, ", "), thousands(r.Nightly.HoldsExpired), thousands(r.Nightly.LotsExpired))
	for _, p := range r.Programs {
		for _, msg := range sortedKeys(p.Unexpected) {
			fmt.Fprintf(out, "  UNEXPECTED %s: %dx %s\n", p.Name, p.Unexpected[msg], msg)
		}
	}
	for _, msg := range sortedKeys(r.Nightly.Unexpected) {
		fmt.Fprintf(out, "  UNEXPECTED nightly run: %dx %s\n", r.Nightly.Unexpected[msg], msg)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(out, "  note: %s\n", n)
	}
	if r.Faults != nil {
		var n int64
		for _, v := range r.Faults {
			n += v
		}
		fmt.Fprintf(out, "faults injected: %s", thousands(n))
		if n > 0 {
			fmt.Fprintf(out, ": %s", formatCounters(r.Faults))
		}
		fmt.Fprintln(out)
	}
	fmt.Fprintln(out)
	printSheetByHolder(out, r.Sheet)
	printFeatures(out, r)
	printLiability(out, r.Liability)
	printWhatIf(out, r.WhatIf)
	fmt.Fprintln(out)
	if r.VerifyErr != nil {
		fmt.Fprintf(out, "Verify FAILED: %v\n", r.VerifyErr)
	} else {
		fmt.Fprintf(out, "Verify: %s transactions, %s holds, %s balances replayed in %s; hash chain intact; every asset sums to zero\n",
			thousands(int64(r.Verify.Transactions)), thousands(int64(r.Verify.Holds)), thousands(int64(r.Verify.Balances)),
			verifyTook.Round(10*time.Millisecond))
		fmt.Fprintf(out, "journal head: transaction %d, hash %x (same seed, same fresh store: same head)\n", r.Head.ID, r.Head.Hash[:8])
	}
	if len(r.Problems) > 0 {
		fmt.Fprintln(out, "INVARIANTS BROKEN:")
		for _, p := range r.Problems {
			fmt.Fprintf(out, "  - %s\n", p)
		}
	} else {
		fmt.Fprintln(out, "all invariants hold")
	}
}

// summaryTable renders the per-program table.
func summaryTable(ps []*programStats) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-13s %11s %11s %9s %7s %7s %10s  %s\n", "program", "events", "done", "refused", "replays", "races", "unexpected", "refusals by kind")
	var te, td, tr, trp, tra, tu int64
	for _, p := range ps {
		fmt.Fprintf(&b, "%-13s %11s %11s %9s %7s %7s %10s  %s\n", p.Name, thousands(p.Events), thousands(p.Done),
			thousands(p.refusedTotal()), thousands(p.Replays), thousands(p.Races), thousands(p.unexpectedTotal()), formatCounters(p.Refused))
		te += p.Events
		td += p.Done
		tr += p.refusedTotal()
		trp += p.Replays
		tra += p.Races
		tu += p.unexpectedTotal()
	}
	fmt.Fprintf(&b, "%-13s %11s %11s %9s %7s %7s %10s\n", "total", thousands(te), thousands(td), thousands(tr), thousands(trp), thousands(tra), thousands(tu))
	return b.String()
}

// formatCounters renders counters as "a 3, b 2", largest first.
func formatCounters(m map[string]int64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %s", k, thousands(m[k]))
	}
	return strings.Join(parts, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// thousands formats n with thousands separators: 1234567 → "1,234,567".
func thousands(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
