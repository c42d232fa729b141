package driver

import "time"

// Asset is a defined asset: a code and the number of decimals an amount
// of it may have. The ledger validates both before a store sees them.
type Asset struct {
	Code      string
	Precision int32
}

// Account is an opened account. Its policy never changes once opened, so
// a store may cache it for good.
type Account struct {
	Address   string
	Unbounded bool
	// Limits in minor units per asset code, each >= 0.
	Limits    map[string]int64
	Metadata  map[string]string
	CreatedAt time.Time
}

// BalanceKey names one balance: an account and an asset.
type BalanceKey struct {
	Address string
	Asset   string
}

// Balance is a stored balance in minor units: Posted is the sum of
// postings in minus out; Held is what pending holds reserve.
type Balance struct {
	Address string
	Asset   string
	Posted  int64
	Held    int64
}

// HoldStatus is where a hold is in its life, as the ledger numbers it; a
// store keeps it as given.
type HoldStatus uint8

// Hold statuses. Only a pending hold reserves funds.
const (
	HoldPending  HoldStatus = 1
	HoldCaptured HoldStatus = 2 // captured in full, or finally
	HoldVoided   HoldStatus = 3 // voided before its expiry
	HoldExpired  HoldStatus = 4 // released by the sweep, or voided after its expiry
)

// Hold is a hold as a store keeps it. Times are Unix nanoseconds.
type Hold struct {
	ID        uint64
	Key       string // idempotency key, "" for none; unique when set
	Account   string
	Asset     string
	Units     int64 // reserved at creation
	Captured  int64 // captured so far
	Status    HoldStatus
	CreatedAt int64
	ExpiresAt int64
	ClosedAt  int64 // 0 while pending
	Metadata  map[string]string
}

// Kind says what made a transaction, as the ledger numbers it; a store
// keeps it as given, and it is part of the hash (ChainHash).
type Kind uint8

// Transaction kinds.
const (
	KindTransfer   Kind = 1
	KindCapture    Kind = 2
	KindConversion Kind = 3
	KindReversal   Kind = 4
)

// Posting is a posting as a store keeps it: integer minor units, and the
// posted balances of both accounts right after it, which is what account
// history with running balances reads.
type Posting struct {
	From, To, Asset    string
	Units              int64
	FromAfter, ToAfter int64
}

// Transaction is a transaction as a store keeps it. IDs are dense and
// increasing from 1; Time is Unix nanoseconds and never decreases with ID.
// Key is the idempotency key ("" for none), unique when set; Reverses is
// the ID of the transaction it undoes (at most one reversal each), Hold
// the ID of the hold it captured from, 0 for none.
type Transaction struct {
	ID       uint64
	Key      string
	Kind     Kind
	Time     int64
	Postings []Posting
	Metadata map[string]string
	Reverses uint64
	Hold     uint64
	Hash     [32]byte
}

// Head is the end of the journal: the last transaction's ID, hash and
// time (Unix nanoseconds). The zero Head is an empty journal.
type Head struct {
	ID   uint64
	Hash [32]byte
	Time int64
}

// HistoryItem is one posting in a balance's history: the transaction's
// ID, time and the posting's signed effect on the balance and the posted
// balance right after it.
type HistoryItem struct {
	ID      uint64
	Time    int64
	Posting int // index in the transaction's postings
	Delta   int64
	After   int64
}

// Record is a small piece of program state kept beside the ledger (a
// referral code, a shoutout order), written in the same unit of work as
// the money it goes with.
type Record struct {
	Kind string
	ID   string
	Data []byte
}

// DueEntry is something that falls due at a time: a hold's expiry, a
// shoutout deadline, a renewal. Stores index entries by (Kind, At, ID) so
// that finding what is due never scans everything.
type DueEntry struct {
	Kind string
	ID   string
	At   time.Time
}

// Event is one entry of the event log, as a store keeps it: something
// that happened, appended in the same unit of work as the change it
// reports. Seq is its place in the log: dense and increasing from 1, the
// cursor consumers read by. ID is a UUID the ledger made for it; Time is
// Unix nanoseconds; TxID is the journal transaction it goes with, 0 for
// none; Data is a JSON object or nil; Hash chains it to the event before
// (EventChainHash). The ledger validates everything and computes the hash
// before a store sees it; a store keeps every field as given.
type Event struct {
	Seq     uint64
	ID      [16]byte
	Type    string
	Subject string
	Time    int64
	TxID    uint64
	Data    []byte
	Hash    [32]byte
}

// EventHead is the end of the event log: the last event's Seq and Hash.
// The zero EventHead is an empty log.
type EventHead struct {
	Seq  uint64
	Hash [32]byte
}
