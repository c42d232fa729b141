package driver

import (
	"context"
	"time"
)

// Store keeps the ledger's data and makes a unit of work atomic. It holds
// no business rule: limits, holds, idempotency, conversions and hashing
// are decided once, in package ledger, and a Store only keeps and finds
// what it is given. Ownership of the values passed in and out is
// described in the package documentation.
type Store interface {
	// Update runs fn in one all-or-nothing unit of work. If fn returns an
	// error or panics, nothing fn wrote is kept (the panic is re-raised);
	// otherwise everything is committed durably before Update returns nil.
	// The Tx must not be used after fn returns. A unit of work that lost a
	// race with another writer returns an error wrapping ErrConflict and
	// may be retried whole. A caller whose ctx ends while it waits for fn
	// to start returns an error wrapping ctx.Err() at once, and fn never
	// runs.
	Update(ctx context.Context, fn func(tx Tx) error) error
	// UpdateBatch runs each fn in turn inside one unit of work, each in its
	// own savepoint: a fn that returns an error (or panics) has its writes
	// undone and its error reported in errs at its index, while the others
	// go on; everything the surviving fns wrote commits together. err is
	// for the unit of work as a whole (a failed commit, a closed store):
	// when it is non-nil nothing was kept. fns run sequentially and see
	// each other's writes in order. A fn that panics reports the panic as
	// an error rather than re-raising it, so neighbours are unaffected.
	UpdateBatch(ctx context.Context, fns []func(tx Tx) error) (errs []error, err error)
	// View runs fn on a consistent snapshot that sees every committed
	// Update and nothing half-written. A store that serves reads from a
	// replica may instead answer from a snapshot that misses the most
	// recent Updates, within a bound it documents, unless ctx was marked
	// with WithPrimary; what fn reads is still consistent.
	View(ctx context.Context, fn func(tx ReadTx) error) error
	// Close releases the store's resources; afterwards Update,
	// UpdateBatch and View return an error wrapping ErrClosed. Stores are
	// safe for concurrent use until then.
	Close() error
}

// ReadTx reads the store. Inside an Update it sees the unit of work's own
// writes.
type ReadTx interface {
	// Asset returns a defined asset, or ErrUnknownAsset.
	Asset(code string) (Asset, error)
	// Assets returns every defined asset, ordered by code.
	Assets() ([]Asset, error)
	// Account returns an opened account, or ErrUnknownAccount.
	Account(address string) (Account, error)
	// Balance returns one balance; a balance never written is zero. It does
	// not check that the account exists.
	Balance(key BalanceKey) (Balance, error)
	// AccountBalances returns every balance of an account that was ever
	// written, ordered by asset.
	AccountBalances(address string) ([]Balance, error)
	// Balances returns every stored balance ordered by (Address, Asset),
	// starting after the given key (the zero key starts at the beginning),
	// at most limit of them.
	Balances(after BalanceKey, limit int) ([]Balance, error)
	// Head returns the end of the journal. Inside an Update it also
	// serialises this unit of work against every other that appends.
	Head() (Head, error)
	// Transaction returns a transaction by ID, or ErrNotFound.
	Transaction(id uint64) (Transaction, error)
	// TransactionByKey returns the transaction posted with an idempotency
	// key, or ErrNotFound.
	TransactionByKey(key string) (Transaction, error)
	// Transactions returns transactions with ID > after in ID order, at
	// most limit of them.
	Transactions(after uint64, limit int) ([]Transaction, error)
	// ReversalOf returns the ID of the transaction that reversed id, or
	// ErrNotFound.
	ReversalOf(id uint64) (uint64, error)
	// History returns the postings that touched one balance, as
	// (transaction, posting index) pairs in ID order, starting after the
	// transaction ID given, at most limit of them.
	History(key BalanceKey, after uint64, limit int) ([]HistoryItem, error)
	// PostedAt returns the posted balance right after the last transaction
	// with ID <= id that touched it, or 0 if none did.
	PostedAt(key BalanceKey, id uint64) (int64, error)
	// LastIDAt returns the ID of the last transaction whose Time <= t, or 0.
	LastIDAt(t int64) (uint64, error)
	// Hold returns a hold by ID, or ErrNotFound.
	Hold(id uint64) (Hold, error)
	// HoldByKey returns the hold created with an idempotency key, or
	// ErrNotFound.
	HoldByKey(key string) (Hold, error)
	// Holds returns holds with ID > after in ID order, at most limit.
	Holds(after uint64, limit int) ([]Hold, error)
	// Record returns a record's data, or ErrNotFound.
	Record(kind, id string) ([]byte, error)
	// Records returns records of a kind with ID > after (byte order), at
	// most limit of them.
	Records(kind, after string, limit int) ([]Record, error)
	// Due returns entries of a kind with At <= at, ordered by (At, ID), at
	// most limit of them.
	Due(kind string, at time.Time, limit int) ([]DueEntry, error)
	// EventHead returns the last event's Seq and Hash, the zero EventHead
	// if the log is empty. Inside an Update it also serialises this unit of
	// work against every other that appends events, as Head does for
	// transactions.
	EventHead() (EventHead, error)
	// Events returns events with Seq > after in Seq order, at most limit
	// of them.
	Events(after uint64, limit int) ([]Event, error)
}

// Tx writes to the store inside an Update.
type Tx interface {
	ReadTx
	// PutAsset stores a new asset.
	PutAsset(a Asset) error
	// PutAccount stores a new account.
	PutAccount(a Account) error
	// LockBalances returns the balances of keys in the order given and
	// locks them until the unit of work ends, so no other writer changes
	// them in between. Balances never written come back as zero.
	LockBalances(keys []BalanceKey) ([]Balance, error)
	// PutBalances stores new balance values, each locked before.
	PutBalances(b []Balance) error
	// AppendTransaction appends t, whose ID is the head's ID + 1, whose
	// hash chains to the head, and whose key (if any) is unused; it becomes
	// the new head and its postings enter the history of each balance they
	// touch. A key already used is an error wrapping ErrConflict.
	AppendTransaction(t *Transaction) error
	// InsertHold stores a new hold and returns the ID it was given (IDs
	// increase). A key already used is an error wrapping ErrConflict.
	InsertHold(h *Hold) (uint64, error)
	// UpdateHold stores a hold's new Captured, Status and ClosedAt.
	UpdateHold(h *Hold) error
	// PutRecord creates or replaces a record.
	PutRecord(r Record) error
	// InsertRecord creates a record, or returns ErrDuplicate if one exists
	// (without ending the unit of work).
	InsertRecord(r Record) error
	// DeleteRecord removes a record; removing a missing one is no error.
	DeleteRecord(kind, id string) error
	// Schedule creates or moves a due entry.
	Schedule(e DueEntry) error
	// Unschedule removes a due entry; removing a missing one is no error.
	Unschedule(kind, id string) error
	// AppendEvents appends events whose Seqs follow the event head with no
	// gap (head+1, head+2, ...), each hash chaining to the one before; the
	// last becomes the event head. They commit or vanish with the unit of
	// work (or the batch item) that appended them. A Seq already taken is
	// an error wrapping ErrConflict; Seqs that do not follow the head are
	// an error.
	AppendEvents(evs []Event) error
}

// EventNotifier is a capability a Store may have: waking a follower of
// the event log as soon as events are committed, rather than letting it
// poll. The ledger uses it when the Store has it and polls otherwise.
type EventNotifier interface {
	// WaitEvents returns nil once the event head may be beyond after (a
	// spurious wake-up is allowed: the caller reads and waits again), or
	// an error wrapping ctx.Err() when ctx ends first, or ErrClosed when
	// the store closes. It returns at once if the committed head is
	// already beyond after.
	WaitEvents(ctx context.Context, after uint64) error
}
