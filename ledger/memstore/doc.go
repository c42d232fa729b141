// Package memstore is the in-memory ledger.Store, the embedded default.
//
// It keeps nothing after the process exits. Updates run one at a time under
// a lock and write straight into maps and B-trees, logging how to undo each
// write; an update that fails or panics is undone before the lock is
// released, so no reader ever sees half of one.
//
// # Usage
//
//	l := ledger.New(memstore.New())
package memstore
