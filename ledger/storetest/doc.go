// Package storetest is the conformance suite every driver.Store passes:
// one suite, hooked in by each implementation with one line, so that the
// in-memory store and a database store are held to the same contract.
//
// It drives the public ledger API over the store (all-or-nothing units of
// work on error and on panic, batches with per-item isolation, transfers,
// limits, refusals that write nothing, idempotency, holds and expiry,
// conversions, reversals, history and paging, records and due entries),
// driver.Store and driver.Tx directly where the contract is the store's own
// (key conflicts, duplicates, cancelled contexts, what reads return), and
// Verify against a journal tampered with through the raw store. A
// concurrency test races goroutines over shared accounts and idempotency
// keys, and a rapid state machine runs the ledger beside a plain model of
// int64 balances, checking after every step conservation per asset, every
// limit, every balance and hold against the model, that a refused
// operation changed nothing and a replayed key posted nothing, and (every
// few steps) Verify.
//
// Sizes shrink under -short, for stores where every call is a network
// round trip; the rapid state machine also follows -rapid.checks and
// -rapid.steps.
//
// # Usage
//
// In the store's package tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) driver.Store { return memstore.New() })
//	}
//
// open must return a new, empty store on every call; Run closes each one
// when its subtest ends. Subtests run in parallel, at most a few stores at
// a time.
package storetest
