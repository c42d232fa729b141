package ledger

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/rewardkit/rewardkit/ledger/driver"
)

// The ledger's own events are written by hand into one buffer per unit of
// work rather than through encoding/json: they are emitted on every
// posting, and this keeps their cost a small part of a transfer's.

// appendJSONString writes s as a JSON string. Printable ASCII without
// quotes or backslashes (addresses, asset codes, most keys) is copied as
// it is; anything else goes through encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendField writes `,"name":` (no comma for the first field, when b
// ends with '{').
func appendField(b []byte, name string) []byte {
	if len(b) > 0 && b[len(b)-1] != '{' && b[len(b)-1] != '[' {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, name...)
	return append(b, '"', ':')
}

func appendStringField(b []byte, name, v string) []byte {
	return appendJSONString(appendField(b, name), v)
}

func appendUintField(b []byte, name string, v uint64) []byte {
	return strconv.AppendUint(appendField(b, name), v, 10)
}

// appendAmountField writes minor units as a decimal string in the asset's
// precision.
func (r *Reader) appendAmountField(b []byte, name, asset string, units int64) []byte {
	a, err := r.Asset(asset)
	if err != nil {
		a = Asset{Code: asset} // the asset was read just before; minor units are still exact
	}
	return appendJSONString(appendField(b, name), a.Format(units))
}

// ownEvent emits one of the ledger's own events whose data is built by
// build into the unit of work's buffer, unless the ledger's own events
// are off.
func (w *Writer) ownEvent(typ, subject string, txID uint64, build func(b []byte) []byte) error {
	if !w.l.ownEvents {
		return nil
	}
	return w.builtEvent(typ, subject, txID, build)
}

// builtEvent emits an event whose data build writes into the unit of
// work's buffer.
func (w *Writer) builtEvent(typ, subject string, txID uint64, build func(b []byte) []byte) error {
	start := len(w.evBuf)
	w.evBuf = append(build(append(w.evBuf, '{')), '}')
	return w.emit(typ, subject, txID, w.evBuf[start:len(w.evBuf):len(w.evBuf)])
}

var kindNames = [...]string{driver.KindTransfer: "transfer", driver.KindCapture: "capture", driver.KindConversion: "conversion", driver.KindReversal: "reversal"}

// transactionPosted emits EventTransactionPosted for t. The event is
// stored as a reference to t (its TxID, no subject, no data), and its
// subject and data are rendered from t when the log is read
// (renderPosted): the journal already holds every byte of them,
// hash-chained, and building and keeping them a second time on every
// posting was most of what the ledger's own events cost.
func (w *Writer) transactionPosted(t *driver.Transaction) error {
	if !w.l.ownEvents {
		return nil
	}
	return w.emit(EventTransactionPosted, "", t.ID, nil)
}

// renderPosted fills in the subject and data of the
// EventTransactionPosted events of a page read from the store, from their
// transactions, read on the same snapshot.
func (r *Reader) renderPosted(evs []driver.Event) error {
	var lo, hi uint64
	n := 0
	for i := range evs {
		if e := &evs[i]; e.Type == EventTransactionPosted && e.Data == nil && e.TxID != 0 {
			if n == 0 || e.TxID < lo {
				lo = e.TxID
			}
			hi = max(hi, e.TxID)
			n++
		}
	}
	if n == 0 {
		return nil
	}
	// The transactions of a page are close together: one range read when
	// the range is not much larger than the page, one read each otherwise.
	byID := make(map[uint64]*driver.Transaction, n)
	if span := hi - lo + 1; span <= uint64(4*n+64) {
		ts, err := r.rt.Transactions(lo-1, int(span))
		if err != nil {
			return err
		}
		for i := range ts {
			byID[ts[i].ID] = &ts[i]
		}
	}
	var buf []byte
	for i := range evs {
		e := &evs[i]
		if e.Type != EventTransactionPosted || e.Data != nil || e.TxID == 0 {
			continue
		}
		t := byID[e.TxID]
		if t == nil {
			st, err := r.rt.Transaction(e.TxID)
			if err != nil {
				return fmt.Errorf("ledger: event %d: transaction %d: %w", e.Seq, e.TxID, err)
			}
			t = &st
		}
		start := len(buf)
		buf = append(r.appendPostedData(append(buf, '{'), t), '}')
		e.Subject, e.Data = strconv.FormatUint(t.ID, 10), buf[start:len(buf):len(buf)]
	}
	return nil
}

// appendPostedData writes the fields of EventTransactionPosted's data.
func (r *Reader) appendPostedData(b []byte, t *driver.Transaction) []byte {
	kind := "unknown"
	if int(t.Kind) < len(kindNames) && kindNames[t.Kind] != "" {
		kind = kindNames[t.Kind]
	}
	b = appendStringField(b, "kind", kind)
	if t.Key != "" {
		b = appendStringField(b, "key", t.Key)
	}
	b = append(appendField(b, "postings"), '[')
	for i := range t.Postings {
		p := &t.Postings[i]
		b = append(b, '{')
		b = appendStringField(b, "from", p.From)
		b = appendStringField(b, "to", p.To)
		b = appendStringField(b, "asset", p.Asset)
		b = r.appendAmountField(b, "amount", p.Asset, p.Units)
		b = append(b, '}', ',')
	}
	if b[len(b)-1] == ',' {
		b = b[:len(b)-1]
	}
	b = append(b, ']')
	if t.Reverses != 0 {
		b = appendUintField(b, "reverses", t.Reverses)
	}
	if t.Hold != 0 {
		b = appendUintField(b, "hold", t.Hold)
	}
	if len(t.Metadata) > 0 {
		md, _ := json.Marshal(t.Metadata) // a map of strings always marshals, keys sorted
		b = append(appendField(b, "metadata"), md...)
	}
	return b
}

// holdEvent emits one of the hold events; extra adds the type's own
// fields after hold, account and asset. Hold events are emitted whether
// or not the ledger's own events are on: the chained event log is the
// holds' audit trail, which Verify replays against the stored holds.
func (w *Writer) holdEvent(typ string, h *driver.Hold, txID uint64, extra func(b []byte) []byte) error {
	return w.builtEvent(typ, strconv.FormatUint(h.ID, 10), txID, func(b []byte) []byte {
		b = appendUintField(b, "hold", h.ID)
		if h.Key != "" && typ == EventHoldCreated {
			b = appendStringField(b, "key", h.Key)
		}
		b = appendStringField(b, "account", h.Account)
		b = appendStringField(b, "asset", h.Asset)
		return extra(b)
	})
}

func (w *Writer) holdCreated(h *driver.Hold) error {
	return w.holdEvent(EventHoldCreated, h, 0, func(b []byte) []byte {
		b = w.appendAmountField(b, "amount", h.Asset, h.Units)
		return appendStringField(b, "expires_at", timeOf(h.ExpiresAt).Format(time.RFC3339Nano))
	})
}

func (w *Writer) holdCaptured(h *driver.Hold, txID uint64, units int64) error {
	return w.holdEvent(EventHoldCaptured, h, txID, func(b []byte) []byte {
		b = w.appendAmountField(b, "amount", h.Asset, units)
		b = w.appendAmountField(b, "captured", h.Asset, h.Captured)
		b = append(appendField(b, "closed"), strconv.FormatBool(h.Status != driver.HoldPending)...)
		return b
	})
}

func (w *Writer) holdReleased(h *driver.Hold, released int64) error {
	typ := EventHoldVoided
	if h.Status == driver.HoldExpired {
		typ = EventHoldExpired
	}
	return w.holdEvent(typ, h, 0, func(b []byte) []byte {
		return w.appendAmountField(b, "released", h.Asset, released)
	})
}

func (w *Writer) accountOpened(a *Account) error {
	if !w.l.ownEvents {
		return nil // before the subject is formatted: off costs nothing
	}
	return w.ownEvent(EventAccountOpened, a.Address, 0, func(b []byte) []byte {
		b = appendStringField(b, "account", a.Address)
		return append(appendField(b, "unbounded"), strconv.FormatBool(a.Unbounded)...)
	})
}

func (w *Writer) transactionReversed(orig, reversal uint64) error {
	if !w.l.ownEvents {
		return nil // before the subject is formatted: off costs nothing
	}
	return w.ownEvent(EventTransactionReversed, strconv.FormatUint(orig, 10), reversal, func(b []byte) []byte {
		b = appendUintField(b, "transaction", orig)
		return appendUintField(b, "reversal", reversal)
	})
}
