package driver

import "errors"

// The errors a store returns, checked with errors.Is. A store wraps them
// with context (which key, which hold) and translates its own errors into
// them: a serialisation failure, a deadlock or a racing unique key is
// ErrConflict, never the database's own error. Package ledger's
// sentinels of the same names are these values, so a store's error
// matches them and ledger.ErrorCode knows its code; their messages are
// the ledger's, which is what a caller of the ledger sees.
var (
	// ErrNotFound: no transaction, hold or record has that ID or key.
	ErrNotFound = errors.New("ledger: not found")
	// ErrDuplicate: InsertRecord found a record with that kind and ID
	// (the unit of work goes on), or PutAsset or PutAccount one already
	// stored.
	ErrDuplicate = errors.New("ledger: duplicate")
	// ErrUnknownAsset: Asset found no asset with that code.
	ErrUnknownAsset = errors.New("ledger: unknown asset")
	// ErrUnknownAccount: Account found no account at that address.
	ErrUnknownAccount = errors.New("ledger: unknown account")
	// ErrConflict: the unit of work lost a race with another writer and
	// was rolled back whole, or AppendTransaction or InsertHold met a key
	// (or a reversal) already taken. The ledger retries the unit of work
	// whole, so a store returns it only when nothing was kept.
	ErrConflict = errors.New("ledger: concurrent update conflict")
	// ErrOverflow: a value is beyond what the store can keep (an ID or an
	// amount beyond its integer range).
	ErrOverflow = errors.New("ledger: amount overflow")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("ledger: store closed")
)
