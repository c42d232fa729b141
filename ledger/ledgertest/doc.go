// Package ledgertest holds helpers for testing code built on the ledger: a
// manual Clock, and rapid generators for assets, amounts and postings.
//
// # Usage
//
//	clock := ledgertest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
//	l := ledger.New(memstore.New(), ledger.WithClock(clock))
//	clock.Advance(72 * time.Hour)
package ledgertest
