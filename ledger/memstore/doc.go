// Package memstore is the in-memory store (a ledger/driver.Store), the
// embedded default.
//
// It keeps nothing after the process exits. Updates run one at a time under
// a lock and write straight into maps and B-trees, logging how to undo each
// write; an update that fails or panics is undone before the lock is
// released, so no reader ever sees half of one. The lock is context-aware:
// a caller whose context ends while it waits for the lock (behind a slow
// update) returns at once with an error wrapping ctx.Err(), and its
// function never runs. An update whose context ends while its function
// runs is undone when the function returns. A caller with a 300 ms
// deadline behind a blocked update returns within 3 ms past its deadline
// (0.4 to 3 ms measured, TestConformance/suite/DeadlineWhileWaiting).
//
// # Usage
//
//	l := ledger.New(memstore.New())
package memstore
