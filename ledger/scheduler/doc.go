// Package scheduler runs what time makes happen, in one place: the
// ledger's hold expiry and the Tick of every program an integrator
// registers, each isolated from the others, by one replica at a time.
//
// A Scheduler is built on a ledger and takes a lease from the ledger's
// store for each run (Leaser: an advisory lock on pgstore, an in-process
// lock on memstore), so every replica of a service may run it and only
// one ticks at a time; the others find the lease held and skip their
// turn. A store without leases needs the SingleReplica option, the
// integrator's word that one process runs the scheduler.
//
// # Usage
//
//	s, err := scheduler.New(l, scheduler.WithLogger(logger))
//	if err != nil {
//		return err
//	}
//	if err := s.Register("subscription", subs); err != nil { // any kit.Ticker
//		return err
//	}
//	if err := s.Register("payout", payouts); err != nil {
//		return err
//	}
//	go s.Run(ctx, time.Minute) // in every replica
//
// Each run first releases the ledger's expired holds and settles its
// expired lots (both reported under HoldsName), then runs the registered tickers in the order they were
// registered. A ticker that fails or panics is reported under its name
// and the next one runs; within a ticker each due item is handled in a
// unit of work of its own (kit.EachDue), so one stuck item holds up
// nothing. RunOnce returns a Report with one Result per ticker: the IDs
// of the items it handled and the items it could not, with their causes.
// Run calls RunOnce at an interval until its context ends and logs what
// failed (WithLogger).
//
// # The lease
//
// A run holds the lease from its start to its end. The context the
// tickers run under ends if the store can no longer promise the lease
// (pgstore: the lease's connection broke, so PostgreSQL freed the lock),
// so a ticker stops at its next unit of work; RunOnce then returns an
// error wrapping ErrLeaseLost. A lease is not a fence: a unit of work a
// ticker began before the loss was noticed may still commit. That is
// safe because every item is taken off the schedule inside the unit of
// work that handles it: a replica that runs next never handles it again.
package scheduler
