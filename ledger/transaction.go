package ledger

import (
	"crypto/sha256"
	"encoding/binary"
	"sort"
	"time"

	"github.com/shopspring/decimal"
)

// Posting moves an amount of one asset from one account to another. Each
// posting balances itself, which is why every asset always sums to zero.
type Posting struct {
	From   string          `json:"from"`
	To     string          `json:"to"`
	Asset  string          `json:"asset"`
	Amount decimal.Decimal `json:"amount"`
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

// Transaction kinds.
const (
	KindTransfer   Kind = 1
	KindCapture    Kind = 2
	KindConversion Kind = 3
	KindReversal   Kind = 4
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

// StoredPosting is a posting as a Store keeps it: integer minor units, and
// the posted balances of both accounts right after it, which is what
// account history with running balances reads.
type StoredPosting struct {
	From, To, Asset    string
	Units              int64
	FromAfter, ToAfter int64
}

// StoredTransaction is a transaction as a Store keeps it. IDs are dense and
// increasing from 1; Time is Unix nanoseconds and never decreases with ID.
type StoredTransaction struct {
	ID       uint64
	Key      string
	Kind     Kind
	Time     int64
	Postings []StoredPosting
	Metadata map[string]string
	Reverses uint64
	Hold     uint64
	Hash     [32]byte
}

// Head is the end of the journal: the last transaction's ID, hash and time.
// The zero Head is an empty journal.
type Head struct {
	ID   uint64
	Hash [32]byte
	Time int64
}

// ChainHash computes the hash that links t to the transaction before it:
// SHA-256 over the previous hash and a length-prefixed encoding of every
// field of t but its hash. buf is scratch space and may be nil.
func ChainHash(prev [32]byte, t *StoredTransaction, buf []byte) ([32]byte, []byte) {
	b := buf[:0]
	b = append(b, prev[:]...)
	b = binary.BigEndian.AppendUint64(b, t.ID)
	b = append(b, byte(t.Kind))
	b = binary.BigEndian.AppendUint64(b, uint64(t.Time))
	b = appendString(b, t.Key)
	b = binary.BigEndian.AppendUint64(b, t.Reverses)
	b = binary.BigEndian.AppendUint64(b, t.Hold)
	b = binary.BigEndian.AppendUint32(b, uint32(len(t.Postings)))
	for i := range t.Postings {
		p := &t.Postings[i]
		b = appendString(b, p.From)
		b = appendString(b, p.To)
		b = appendString(b, p.Asset)
		b = binary.BigEndian.AppendUint64(b, uint64(p.Units))
	}
	if len(t.Metadata) > 0 {
		keys := make([]string, 0, len(t.Metadata))
		for k := range t.Metadata {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b = binary.BigEndian.AppendUint32(b, uint32(len(keys)))
		for _, k := range keys {
			b = appendString(b, k)
			b = appendString(b, t.Metadata[k])
		}
	} else {
		b = binary.BigEndian.AppendUint32(b, 0)
	}
	return sha256.Sum256(b), b
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
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
