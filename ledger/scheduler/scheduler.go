package scheduler

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
)

// HoldsName is the name under which every run reports the ledger's own
// hold expiry (ledger.Ledger.TickEach), then its lot expiry
// (ledger.Ledger.ExpireLots), which run first, before the registered
// tickers, so that a program's Tick sees the funds of expired holds
// released and expired lots settled.
const HoldsName = "ledger.holds"

// KindHoldExpired is the item kind of a hold the ledger released because
// its expiry passed; the item's ID is the hold's ID in decimal.
const KindHoldExpired = "ledger.hold_expired"

// KindLotsExpired is the item kind of a balance whose expired lots the
// ledger settled (moved to their breakage accounts); the item's ID is
// the account and the asset, as "account|asset".
const KindLotsExpired = "ledger.lots_expired"

// DefaultLeaseName is the lease a Scheduler takes unless WithLeaseName
// names another.
const DefaultLeaseName = "rewardkit.scheduler"

// Leaser is a store that can hold leases: the capability New looks for on
// the ledger's store (memstore and pgstore have it). A lease is held by
// one holder at a time, across every process that shares the store.
//
// TryLease takes the lease called name without waiting. ok is false, and
// err nil, while another holder has it; err is for a failure to find out
// (an unreachable database, a closed store, ctx ended). When ok, held is a
// context derived from ctx under which the holder works: it ends when ctx
// does, when release is called, or when the store can no longer promise
// the lease (it is lost: a broken connection, a closed store), and then
// context.Cause(held) says why. release gives the lease up; the holder
// calls it once its work is done, also after a loss, and later calls do
// nothing. Its error says the lease could not be given up cleanly (the
// store frees it anyway, as when its holder dies).
//
// A lease is not a fence: a unit of work a holder began before the loss
// was noticed may still commit. Tickers are written for that: each item
// is handled in a unit of work that reads it again and takes it off the
// schedule, so an item is never handled twice.
type Leaser interface {
	TryLease(ctx context.Context, name string) (held context.Context, release func() error, ok bool, err error)
}

// Option configures a Scheduler.
type Option func(*options)

type options struct {
	log           *slog.Logger
	leaseName     string
	singleReplica bool
}

// WithLogger logs what a run could not do: a ticker's error or panic
// (with its stack), each item a ticker could not handle, a lease not
// given up cleanly, the error of a run started by Run (a lost lease, an
// unreachable store), and at debug level a run skipped because another
// replica held the lease. Without it nothing is logged; the Report and
// RunOnce's error carry the same.
func WithLogger(log *slog.Logger) Option {
	return func(o *options) {
		if log != nil {
			o.log = log
		}
	}
}

// WithLeaseName names the lease (default DefaultLeaseName): schedulers
// with one name tick one at a time. Two sets of tickers that may run at
// the same time, each by one replica at a time, take two names.
func WithLeaseName(name string) Option { return func(o *options) { o.leaseName = name } }

// SingleReplica says that exactly one process runs this scheduler on the
// ledger, so no lease is needed: New accepts a store without one, and no
// run takes one, even where the store has it. Two processes running a
// scheduler with SingleReplica tick at the same time, which is what the
// lease is for; leave it out wherever a deployment may run two replicas.
func SingleReplica() Option { return func(o *options) { o.singleReplica = true } }

// Scheduler runs the ledger's hold expiry and every registered ticker,
// each isolated from the others, one replica at a time. It is safe for
// concurrent use.
type Scheduler struct {
	l         *ledger.Ledger
	leaser    Leaser // nil with SingleReplica
	leaseName string
	log       *slog.Logger

	mu      sync.Mutex // guards tickers
	tickers []entry

	running sync.Mutex // held by the run under way in this process
}

type entry struct {
	name string
	t    kit.Ticker
}

// New returns a Scheduler for l. Unless SingleReplica is given, l's store
// must implement Leaser; New returns an error wrapping ErrNoLease if it
// does not.
func New(l *ledger.Ledger, opts ...Option) (*Scheduler, error) {
	if l == nil {
		return nil, fmt.Errorf("%w: New needs a ledger", ErrInvalid)
	}
	o := options{log: slog.New(slog.DiscardHandler), leaseName: DefaultLeaseName}
	for _, f := range opts {
		f(&o)
	}
	if err := kit.CheckID(ErrInvalid, "lease name", o.leaseName); err != nil {
		return nil, err
	}
	s := &Scheduler{l: l, leaseName: o.leaseName, log: o.log}
	if !o.singleReplica {
		leaser, ok := l.Store().(Leaser)
		if !ok {
			return nil, fmt.Errorf("%w (%T): pass SingleReplica if one process runs the scheduler", ErrNoLease, l.Store())
		}
		s.leaser = leaser
	}
	return s, nil
}

// Register adds a ticker under name, run after the ledger's hold expiry
// and the tickers registered before it. name is 1 to 64 letters, digits
// and _-.@+ (a program's package name reads well: "subscription"), unique
// within the scheduler; HoldsName is taken. A ticker registered during a
// run joins the next one.
func (s *Scheduler) Register(name string, t kit.Ticker) error {
	if err := kit.CheckID(ErrInvalid, "ticker name", name); err != nil {
		return err
	}
	if t == nil {
		return fmt.Errorf("%w: ticker %s is nil", ErrInvalid, name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if name == HoldsName {
		return fmt.Errorf("%w: %s is the ledger's own", ErrDuplicate, name)
	}
	for _, e := range s.tickers {
		if e.name == name {
			return fmt.Errorf("%w: %s", ErrDuplicate, name)
		}
	}
	s.tickers = append(s.tickers, entry{name, t})
	return nil
}

// RunOnce runs every ticker once, unless another run holds the lease.
//
// It takes the lease without waiting. If another replica holds it (or
// another RunOnce of this Scheduler is under way), it returns a Report
// whose Ran is false and a nil error: the other run does the work.
// Otherwise it runs the ledger's hold expiry (HoldsName), then each
// registered ticker in registration order, and gives the lease up. Each
// ticker is isolated: its error, or a panic (ErrPanicked), is reported in
// its Result and the next one runs.
//
// The error is for the run as a whole: the lease could not be asked for,
// or the run stopped early because the lease was lost (ErrLeaseLost) or
// ctx ended; the tickers not run then are reported with that cause.
// The tickers' own failures are in the Report, not in the error: see
// Report.Err.
func (s *Scheduler) RunOnce(ctx context.Context) (Report, error) {
	if err := ctx.Err(); err != nil {
		return Report{}, err
	}
	if !s.running.TryLock() {
		s.log.DebugContext(ctx, "scheduler: a run of this scheduler is under way: not running")
		return Report{}, nil
	}
	defer s.running.Unlock()
	work, release := ctx, func() error { return nil }
	if s.leaser != nil {
		held, rel, ok, err := s.leaser.TryLease(ctx, s.leaseName)
		if err != nil {
			return Report{}, fmt.Errorf("scheduler: taking the lease %s: %w", s.leaseName, err)
		}
		if !ok {
			s.log.DebugContext(ctx, "scheduler: another replica holds the lease: not running", "lease", s.leaseName)
			return Report{}, nil
		}
		work, release = held, rel
	}

	s.mu.Lock()
	tickers := append([]entry{{HoldsName, holds{s.l}}}, s.tickers...)
	s.mu.Unlock()
	rep := Report{Ran: true, Results: make([]Result, 0, len(tickers))}
	for _, e := range tickers {
		if work.Err() != nil {
			rep.Results = append(rep.Results, Result{Name: e.name, Err: fmt.Errorf("scheduler: not run: %w", context.Cause(work))})
			continue
		}
		rep.Results = append(rep.Results, s.tick(work, e))
	}

	var err error
	if ctx.Err() != nil {
		err = fmt.Errorf("scheduler: run interrupted: %w", context.Cause(ctx))
	} else if work.Err() != nil {
		err = fmt.Errorf("%w: %w", ErrLeaseLost, context.Cause(work))
	}
	if rerr := release(); rerr != nil {
		s.log.WarnContext(ctx, "scheduler: giving the lease up", "lease", s.leaseName, "err", rerr)
	}
	return rep, err
}

// tick runs one ticker, turning a panic into its error, and logs what it
// could not do.
func (s *Scheduler) tick(ctx context.Context, e entry) (res Result) {
	res.Name = e.name
	defer func() {
		if p := recover(); p != nil {
			if perr, ok := p.(error); ok {
				res.Err = fmt.Errorf("%w: %w", ErrPanicked, perr)
			} else {
				res.Err = fmt.Errorf("%w: %v", ErrPanicked, p)
			}
			s.log.ErrorContext(ctx, "scheduler: ticker panicked", "ticker", e.name, "err", res.Err, "stack", string(debug.Stack()))
		}
	}()
	res.Report, res.Err = e.t.Tick(ctx)
	if res.Err != nil {
		s.log.ErrorContext(ctx, "scheduler: ticker failed", "ticker", e.name, "err", res.Err)
	}
	for _, f := range res.Report.Failed {
		s.log.WarnContext(ctx, "scheduler: item failed", "ticker", e.name, "kind", f.Kind, "id", f.ID, "err", f.Err)
	}
	return res
}

// Run calls RunOnce, then waits every, again and again until ctx ends,
// and returns ctx's error. The wait runs from the end of one run to the
// start of the next, so a slow run delays the next rather than piling
// runs up. Each replica of a service may call Run: the lease lets one run
// at a time, and the others find it held and wait for their next turn. A
// run's failures are logged (see WithLogger) and do not stop the loop: a
// database that is down now may be up at the next turn.
func (s *Scheduler) Run(ctx context.Context, every time.Duration) error {
	if every <= 0 {
		return fmt.Errorf("%w: Run needs a positive interval, not %s", ErrInvalid, every)
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
		}
		if _, err := s.RunOnce(ctx); err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "scheduler: run failed", "err", err)
		}
		timer.Reset(every)
	}
}

// holds is the ledger's hold and lot expiry as a kit.Ticker.
type holds struct{ l *ledger.Ledger }

func (h holds) Tick(ctx context.Context) (kit.TickReport, error) {
	var rep kit.TickReport
	_, err := h.l.TickEach(ctx, func(hold string, err error) {
		if err != nil {
			rep.Failed = append(rep.Failed, kit.ItemError{Kind: KindHoldExpired, ID: hold, Err: err})
			return
		}
		rep.Add(KindHoldExpired, hold)
	})
	if err != nil || ctx.Err() != nil {
		return rep, err
	}
	_, err = h.l.ExpireLots(ctx, func(account, asset string, err error) {
		id := account + "|" + asset
		if err != nil {
			rep.Failed = append(rep.Failed, kit.ItemError{Kind: KindLotsExpired, ID: id, Err: err})
			return
		}
		rep.Add(KindLotsExpired, id)
	})
	return rep, err
}
