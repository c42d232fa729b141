package ledger

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/rewardkit/rewardkit/ledger/driver"
)

// Event is something that happened, written to the event log in the same
// unit of work as the change it reports: committed with it, or never
// written at all. Seq is its place in the log, gap-free from 1, and the
// cursor consumers read by; ID is a UUIDv7 made when it was emitted; Type
// names what happened ("ledger.hold.captured", "gifting.gift.sent");
// Subject is whom or what it is about (an account, a member, an order);
// Time is the unit of work's clock time; TxID is the journal transaction
// it goes with (0 for none); Data is a JSON object (nil for none) whose
// shape the type documents.
type Event struct {
	Seq     uint64          `json:"seq"`
	ID      uuid.UUID       `json:"id"`
	Type    string          `json:"type"`
	Subject string          `json:"subject"`
	Time    time.Time       `json:"time"`
	TxID    uint64          `json:"tx_id,omitempty"`
	Data    json.RawMessage `json:"data,omitempty"`

	source string // CloudEvent's source: the ledger's (WithEventSource)
}

// The ledger's own event types: the hold events always (the chained log is
// the holds' audit trail, which Verify replays), the others when
// WithLedgerEvents(true) is set. Each is emitted in the unit of work that makes the change; amounts in their data are decimal strings in the
// asset's precision ("12.50"), IDs are numbers.
const (
	// EventTransactionPosted: a journal transaction was posted, of any
	// kind. Subject: the transaction's ID. TxID: the same. Data:
	//	{"kind": "transfer"|"capture"|"conversion"|"reversal",
	//	 "key": "...", "postings": [{"from", "to", "asset", "amount"}],
	//	 "reverses": id, "hold": id, "metadata": {...}}
	// (key, reverses, hold and metadata only when set).
	EventTransactionPosted = "ledger.transaction.posted"
	// EventTransactionReversed: a transaction was reversed. Subject: the
	// reversed transaction's ID. TxID: the reversal's. Data:
	// {"transaction": id, "reversal": id}. The reversal has its own
	// EventTransactionPosted too.
	EventTransactionReversed = "ledger.transaction.reversed"
	// EventHoldCreated: funds were held. Subject: the hold's ID. Data:
	// {"hold": id, "key": "...", "account", "asset", "amount",
	// "expires_at": RFC 3339}.
	EventHoldCreated = "ledger.hold.created"
	// EventHoldCaptured: part or all of a hold was captured. Subject: the
	// hold's ID. TxID: the capture's transaction, which has its own
	// EventTransactionPosted. Data: {"hold": id, "account", "asset",
	// "amount" (this capture), "captured" (so far), "closed": bool}.
	EventHoldCaptured = "ledger.hold.captured"
	// EventHoldVoided: a hold was voided before its expiry and what it had
	// left released. Subject: the hold's ID. Data: {"hold": id,
	// "account", "asset", "released"}.
	EventHoldVoided = "ledger.hold.voided"
	// EventHoldExpired: a hold past its expiry was released, by the sweep
	// or by a Void. Subject and data as EventHoldVoided.
	EventHoldExpired = "ledger.hold.expired"
	// EventAccountOpened: an account was opened. Subject: its address.
	// Data: {"account", "unbounded": bool}.
	EventAccountOpened = "ledger.account.opened"
)

// Limits of an emitted event.
const (
	maxEventType    = 128
	maxEventSubject = 256
	maxEventData    = 64 << 10
)

// DefaultEventSource is the CloudEvents source of the ledger's events
// unless WithEventSource sets another.
const DefaultEventSource = "rewardkit"

// WithEventSource sets the CloudEvents source attribute of the ledger's
// events (a URI-reference naming this deployment, such as
// "https://example.com/rewards"). The default is DefaultEventSource.
func WithEventSource(source string) Option { return func(l *Ledger) { l.eventSource = source } }

// WithLedgerEvents turns the ledger's own events (transaction posted and
// reversed, accounts opened) on or off; the hold events (created,
// captured, voided, expired) are emitted either way, as the holds' audit
// trail (see Verify). They are off by default because of what they cost where a
// unit of work is cheapest: about a third of memstore's transfer
// throughput (a UUID, the JSON data and a log entry per transaction, about
// 1.5 µs on a 2-core machine), against a target of 15%; on PostgreSQL,
// where a commit costs far more, the share is small. Emit works either
// way.
func WithLedgerEvents(on bool) Option { return func(l *Ledger) { l.ownEvents = on } }

// ValidateEventType checks an event type: 3 to 128 bytes, at least two
// dot-separated segments, each a lower-case ASCII letter followed by
// lower-case letters, digits and underscores ("gifting.gift.sent").
// Anything else is ErrInvalidEvent.
func ValidateEventType(typ string) error {
	if len(typ) < 3 || len(typ) > maxEventType {
		return fmt.Errorf("%w: type %s must have 3 to %d bytes", ErrInvalidEvent, clip(typ), maxEventType)
	}
	segs, start := 1, true
	for i := 0; i < len(typ); i++ {
		c := typ[i]
		switch {
		case c == '.':
			if start {
				return fmt.Errorf("%w: type %s has an empty segment", ErrInvalidEvent, clip(typ))
			}
			segs, start = segs+1, true
			continue
		case c >= 'a' && c <= 'z':
		case (c >= '0' && c <= '9' || c == '_') && !start:
		default:
			return fmt.Errorf("%w: type %s: segments are a lower-case letter followed by lower-case letters, digits and underscores", ErrInvalidEvent, clip(typ))
		}
		start = false
	}
	if start || segs < 2 {
		return fmt.Errorf("%w: type %s needs dot-separated segments, as in gifting.gift.sent", ErrInvalidEvent, clip(typ))
	}
	return nil
}

// Emit appends an event to the unit of work: it is committed with
// everything else w writes, or not at all. typ must pass
// ValidateEventType and must not start with "ledger." (the ledger's own);
// subject is at most 256 bytes of UTF-8; data is nil or marshals to a JSON
// object of at most 64 KiB. Invalid events are ErrInvalidEvent, and
// nothing is emitted.
//
// The event's TxID is the journal transaction this unit of work posted
// last before Emit was called — or found already posted under the
// request's idempotency key, for a repeat — and 0 if none yet, so a
// program emits after the posting its event reports. Inside Atomic, events a
// failed step emitted are dropped with the step.
func (w *Writer) Emit(typ, subject string, data any) error {
	if err := ValidateEventType(typ); err != nil {
		return err
	}
	if len(typ) >= len("ledger.") && typ[:len("ledger.")] == "ledger." {
		return fmt.Errorf("%w: type %s: ledger.* types are the ledger's own", ErrInvalidEvent, clip(typ))
	}
	if len(subject) > maxEventSubject || !utf8.ValidString(subject) {
		return fmt.Errorf("%w: subject %s must be at most %d bytes of UTF-8", ErrInvalidEvent, clip(subject), maxEventSubject)
	}
	var raw []byte
	if data != nil {
		b, err := json.Marshal(data)
		if err != nil {
			return fmt.Errorf("%w: %s data: %w", ErrInvalidEvent, typ, err)
		}
		switch {
		case string(b) == "null":
		case len(b) == 0 || b[0] != '{':
			return fmt.Errorf("%w: %s data must be a JSON object", ErrInvalidEvent, typ)
		case len(b) > maxEventData:
			return fmt.Errorf("%w: %s data of %d bytes, at most %d", ErrInvalidEvent, typ, len(b), maxEventData)
		default:
			raw = b
		}
	}
	return w.emit(typ, subject, w.lastTx, raw)
}

// emit buffers an event; the whole buffer is appended to the store once,
// when the unit of work's function returns (flushEvents).
func (w *Writer) emit(typ, subject string, txID uint64, data []byte) error {
	id, err := uuid.NewV7FromReader(&eventIDRand)
	if err != nil {
		return fmt.Errorf("ledger: event ID: %w", err)
	}
	w.events = append(w.events, driver.Event{ID: id, Type: typ, Subject: subject, Time: w.now.UnixNano(), TxID: txID, Data: data})
	return nil
}

// eventIDRand is the random part of event IDs: crypto/rand read 4 KiB at
// a time, so that an ID costs a copy rather than a system call (uuid.NewV7
// reads the system's source for every ID, which was most of an event's
// cost). It is the ledger's own pool: uuid.EnableRandPool would change
// every UUID the importing program makes.
var eventIDRand randPool

// randPool is an io.Reader of crypto/rand bytes drawn from a buffer. Safe
// for concurrent use.
type randPool struct {
	mu   sync.Mutex
	buf  [4096]byte
	used int // bytes of buf already handed out (and zeroed)
}

func (p *randPool) Read(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(b) > len(p.buf) {
		return rand.Read(b)
	}
	if p.used == 0 || len(p.buf)-p.used < len(b) {
		if _, err := rand.Read(p.buf[:]); err != nil {
			return 0, err
		}
		p.used = 0
	}
	n := copy(b, p.buf[p.used:])
	clear(p.buf[p.used : p.used+n]) // handed-out bytes do not stay in memory
	p.used += n
	return n, nil
}

// flushEvents appends the unit of work's events after its function
// succeeded, numbering them from the store's event head; it passes err
// through otherwise.
func (w *Writer) flushEvents(err error) error {
	if err != nil || len(w.events) == 0 {
		return err
	}
	head, err := w.tx.EventHead()
	if err != nil {
		return err
	}
	prev := head.Hash
	for i := range w.events {
		e := &w.events[i]
		e.Seq = head.Seq + uint64(i) + 1
		e.Hash, w.buf = driver.EventChainHash(prev, e, w.buf)
		prev = e.Hash
	}
	return w.tx.AppendEvents(w.events)
}

// dropEvents forgets the events emitted after the first n, except the
// ledger.account.opened ones: an account opened by a step that failed
// stays open (see Atomic), so its event stays too.
func (w *Writer) dropEvents(n int) {
	kept := w.events[:n]
	for _, e := range w.events[n:] {
		if e.Type == EventAccountOpened {
			kept = append(kept, e)
		}
	}
	clear(w.events[len(kept):])
	w.events = kept
}

// publicEvent converts a stored event to the API's form.
func (l *Ledger) publicEvent(e *driver.Event) Event {
	out := Event{Seq: e.Seq, ID: uuid.UUID(e.ID), Type: e.Type, Subject: e.Subject, Time: timeOf(e.Time), TxID: e.TxID, source: l.eventSource}
	if len(e.Data) > 0 {
		out.Data = json.RawMessage(e.Data)
	}
	return out
}

// cloudEvent is the CloudEvents 1.0 structured JSON form of an event.
// Extension attributes are lower-case alphanumeric, as the specification
// requires: "sequence" (the Seq, as a string, so that consumers can order
// and resume) and "ledgertx" (the TxID, when there is one).
type cloudEvent struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Subject         string          `json:"subject,omitempty"`
	Time            string          `json:"time"`
	DataContentType string          `json:"datacontenttype,omitempty"`
	Data            json.RawMessage `json:"data,omitempty"`
	Sequence        string          `json:"sequence"`
	LedgerTx        string          `json:"ledgertx,omitempty"`
}

// CloudEvent returns the event in the CloudEvents 1.0 JSON format
// (structured mode): specversion "1.0", id, source (the ledger's, see
// WithEventSource), type, subject, time (RFC 3339), datacontenttype
// "application/json" and data when there is data, and the extensions
// "sequence" (Seq as a decimal string) and "ledgertx" (TxID, when not 0).
func (e Event) CloudEvent() ([]byte, error) {
	src := e.source
	if src == "" {
		src = DefaultEventSource
	}
	ce := cloudEvent{
		SpecVersion: "1.0", ID: e.ID.String(), Source: src, Type: e.Type, Subject: e.Subject,
		Time: e.Time.UTC().Format(time.RFC3339Nano), Sequence: strconv.FormatUint(e.Seq, 10),
	}
	if len(e.Data) > 0 {
		ce.DataContentType, ce.Data = "application/json", e.Data
	}
	if e.TxID != 0 {
		ce.LedgerTx = strconv.FormatUint(e.TxID, 10)
	}
	b, err := json.Marshal(ce)
	if err != nil {
		return nil, fmt.Errorf("ledger: event %d as a CloudEvent: %w", e.Seq, err)
	}
	return b, nil
}
