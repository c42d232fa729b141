package driver

import (
	"crypto/sha256"
	"encoding/binary"
	"sort"
)

// ChainHash computes the hash that links t to the transaction before it:
// SHA-256 over the previous hash and a length-prefixed encoding of every
// field of t but its hash. buf is scratch space and may be nil; the
// grown buffer is returned for reuse.
//
// The ledger computes every transaction's hash before AppendTransaction
// and checks the chain in Verify; a store keeps Hash as given and never
// computes it. It is here for code that writes a journal through a store
// directly, such as the conformance suite (ledger/storetest).
func ChainHash(prev [32]byte, t *Transaction, buf []byte) ([32]byte, []byte) {
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

// EventChainHash computes the hash that links e to the event before it:
// SHA-256 over the previous event's hash and a length-prefixed encoding of
// every field of e but its hash, as ChainHash does for transactions. The
// event log chained so is the audit trail of what the journal does not
// hold: holds created, captured, voided and expired, and every program's
// events. buf is scratch space and may be nil; the grown buffer is
// returned for reuse.
func EventChainHash(prev [32]byte, e *Event, buf []byte) ([32]byte, []byte) {
	b := buf[:0]
	b = append(b, prev[:]...)
	b = binary.BigEndian.AppendUint64(b, e.Seq)
	b = append(b, e.ID[:]...)
	b = appendString(b, e.Type)
	b = appendString(b, e.Subject)
	b = binary.BigEndian.AppendUint64(b, uint64(e.Time))
	b = binary.BigEndian.AppendUint64(b, e.TxID)
	b = binary.BigEndian.AppendUint32(b, uint32(len(e.Data)))
	b = append(b, e.Data...)
	return sha256.Sum256(b), b
}
