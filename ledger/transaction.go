package ledger

import (
	"time"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger/driver"
)

// Posting moves an amount of one asset from one account to another. Each
// posting balances itself, which is why every asset always sums to zero.
type Posting struct {
	From   string          `json:"from"`
	To     string          `json:"to"`
	Asset  string          `json:"asset"`
	Amount decimal.Decimal `json:"amount"`
	// ExpiresAt, when set, makes the credit a lot of the To balance that
	// expires then: debits of the balance consume it soonest-expiring
	// first, and once it has expired Ledger.Tick moves what it still
	// holds to Breakage. It must be after now; To must be a bounded
	// account. Zero: the credit never expires. See "Lots and expiry" in
	// the package documentation.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// Breakage is the opened account an expired lot's rest moves to;
	// required with ExpiresAt, not allowed without.
	Breakage string `json:"breakage,omitempty"`
}

// TransferRequest asks for one atomic transaction of one or more postings.
type TransferRequest struct {
	// Key makes the request idempotent: a second request with the same key
	// and the same postings and metadata returns the first transaction and
	// posts nothing; with anything different it is ErrIdempotencyConflict.
	// Empty means no idempotency (not recommended for money that matters).
	Key      string            `json:"key,omitempty"`
	Postings []Posting         `json:"postings"`
	Metadata map[string]string `json:"metadata,omitempty"`
	// IncludeHeld lets the postings take funds that pending holds reserve
	// (a chargeback or a clawback must reach coins escrowed for an open
	// order). The posted balance still may not go below the account's
	// limit; a hold left without posted funds behind it can then be voided
	// (its funds are gone) but not captured beyond what is posted
	// (ErrInsufficientFunds). It is not part of the idempotency
	// comparison.
	IncludeHeld bool `json:"include_held,omitempty"`
}

// Kind says what made a transaction.
type Kind uint8

// Transaction kinds, numbered as the store keeps them.
const (
	KindTransfer   Kind = Kind(driver.KindTransfer)
	KindCapture    Kind = Kind(driver.KindCapture)
	KindConversion Kind = Kind(driver.KindConversion)
	KindReversal   Kind = Kind(driver.KindReversal)
)

func (k Kind) String() string {
	switch k {
	case KindTransfer:
		return "transfer"
	case KindCapture:
		return "capture"
	case KindConversion:
		return "conversion"
	case KindReversal:
		return "reversal"
	}
	return "unknown"
}

// Transaction is a posted, immutable journal entry.
type Transaction struct {
	ID       uint64
	Key      string
	Kind     Kind
	Time     time.Time
	Postings []Posting
	Metadata map[string]string
	// Reverses is the ID of the transaction this one undoes, or 0.
	Reverses uint64
	// Hold is the ID of the hold this transaction captured from, or 0.
	Hold uint64
	// Hash chains this transaction to the one before it (see Verify).
	Hash [32]byte
}

// Head is the end of the journal, as Verify reports it: the last
// transaction's ID, hash and time (Unix nanoseconds). The zero Head is an
// empty journal.
type Head struct {
	ID   uint64
	Hash [32]byte
	Time int64
}

// EventHead is the end of the event log, as Verify reports it: the last
// event's Seq and chain hash. The zero EventHead is an empty log.
type EventHead struct {
	Seq  uint64
	Hash [32]byte
}

// Checkpoint is a point of a ledger's history that a VerifyReport vouched
// for (VerifyReport.Checkpoint): the journal's head and the event log's as
// they were then. An auditor keeps it, and later checks only what came
// after it with VerifyFrom.
type Checkpoint struct {
	Head      Head
	EventHead EventHead
}

func sameMetadata(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func copyMetadata(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// maxMetadata bounds what one transaction may carry.
const (
	maxMetadataEntries = 64
	maxMetadataBytes   = 4096
	maxKeyLength       = 256
	maxPostings        = 1024
)
