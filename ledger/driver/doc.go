// Package driver is the interface a ledger store implements: Store, its
// units of work (Tx, ReadTx), the plain values they keep, and the errors
// they return. It imports nothing but the standard library.
//
// Application code uses package ledger, which applies every business
// rule (limits, holds, idempotency, conversions, the hash chain) and
// hands a store only what to keep; this package is for whoever writes a
// store, as database/sql/driver is for a database driver. The stores the
// module ships are ledger/memstore (in memory) and ledger/pgstore
// (PostgreSQL).
//
// # Implementing a store
//
// A store implements Store, whose Update and UpdateBatch hand out a Tx
// and whose View hands out a ReadTx, and keeps the values of this package
// as given: it judges nothing the ledger has judged, and it makes no
// value up (IDs of transactions come from the ledger, hashes too; hold
// IDs come from the store). Each method's comment says what it returns
// and which errors. A store translates its own errors into the sentinels
// of this package (a serialisation failure or a racing unique key is
// ErrConflict, a missing row ErrNotFound), wrapping them with %w so that
// errors.Is matches; ledger's sentinels of the same names are these
// values. Check the type at compile time:
//
//	var (
//		_ driver.Store = (*Store)(nil)
//		_ driver.Tx    = (*tx)(nil)
//	)
//
// and hook the one conformance suite, ledger/storetest, into the store's
// tests with one line:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) driver.Store { return mystore.New() })
//	}
//
// It drives the public ledger API over the store and the Store interface
// directly: all-or-nothing units of work on error and on panic, batches
// with per-item isolation, key conflicts, deadlines while waiting, what
// reads return, and a state machine against a model of the balances.
//
// # Events
//
// A store keeps an event log beside the journal: AppendEvents appends
// events numbered by the ledger from EventHead (head+1, head+2, ...), in
// the same unit of work as the change they report; they commit with it
// or vanish with it (a batch item rolled back to its savepoint takes its
// events along and leaves no gap). Inside an Update, EventHead
// serialises appenders as Head does, so two units of work never take the
// same Seq; a Seq already taken is ErrConflict. Events reads the log by
// Seq. A store that can wake followers when events commit implements
// EventNotifier (memstore in process, pgstore across processes with
// LISTEN/NOTIFY); without it the ledger polls.
//
// # Ownership
//
// A Tx copies what it keeps of a value passed to it (the ledger reuses
// its own buffers between calls), except the Postings and Metadata of a
// Transaction given to AppendTransaction, which the ledger allocates
// afresh for each transaction and never changes after, so a store may
// keep them as they are. Values a ReadTx returns belong to the caller,
// except Transaction.Postings and Transaction.Metadata, which callers
// treat as read-only (so a store may return what it keeps).
//
// # Concurrency
//
// A Store is safe for concurrent use. A Tx or ReadTx is used by one
// goroutine, only while the function it was passed to runs. Inside an
// Update, Head serialises the unit of work against every other that
// appends, and LockBalances locks balances until the unit of work ends;
// the ledger calls Head before it reads a hold or an idempotency key its
// writes depend on.
package driver
