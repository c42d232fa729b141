package kit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/rewardkit/rewardkit/ledger"
)

// Event names one event of a program for Once.
type Event struct {
	// Kind is the record kind under which the program keeps its events
	// ("referral.event"); one kind per program.
	Kind string
	// ID is the caller's event ID: the idempotency key of the event.
	ID string
	// Op is the operation ("signup", "send_gift"). The same ID used for
	// another operation is ledger.ErrIdempotencyConflict.
	Op string
	// Request is the event's input, fingerprinted (SHA-256 of its JSON):
	// the same ID with another request is ledger.ErrIdempotencyConflict.
	// It must marshal deterministically (structs, not maps of floats).
	Request any
}

// eventRecord is what an event ID claims: which operation with which
// request (as a fingerprint), and the result to return on a replay.
type eventRecord struct {
	Op          string          `json:"op"`
	Fingerprint string          `json:"fingerprint"`
	Result      json.RawMessage `json:"result"`
}

// maxEventID bounds an event ID's length (it becomes a record ID and the
// prefix of idempotency keys).
const maxEventID = 128

// Once runs fn at most once per event, inside the caller's unit of work w.
// The replay check comes first, before fn reads anything: the first call
// with (ev.Kind, ev.ID) runs fn and stores its result, JSON-encoded, in a
// record in the same unit of work; a later call with the same Op and an
// equal Request returns the stored result — the result as it was when the
// event ran, not as things stand now — with replay true, and runs nothing,
// whatever has changed since (a member's facts, a catalogue, the rules).
// Another Op or Request under the same ID is ledger.ErrIdempotencyConflict.
//
// Racing first calls pay once: a loser whose claim finds the winner's
// record fails with ledger.ErrConflict, which ledger.Update retries, and
// the retry replays the winner's result. A result always comes back as a
// replay would see it, decoded from its JSON, so T must round-trip through
// encoding/json.
func Once[T any](w *ledger.Writer, ev Event, fn func(w *ledger.Writer) (T, error)) (res T, replay bool, err error) {
	defer func() { traceEvent(w, ev, replay, err) }()
	var out T
	if ev.ID == "" || len(ev.ID) > maxEventID {
		return out, false, fmt.Errorf("%w: event id must have 1 to %d bytes", ledger.ErrInvalidTransaction, maxEventID)
	}
	fp, err := fingerprint(ev.Op, ev.Request)
	if err != nil {
		return out, false, err
	}
	var rec eventRecord
	err = w.LoadJSON(ev.Kind, ev.ID, &rec)
	if err == nil {
		if rec.Op != ev.Op || rec.Fingerprint != fp {
			return out, false, fmt.Errorf("%w: event %q was a %s with other arguments", ledger.ErrIdempotencyConflict, ev.ID, rec.Op)
		}
		if err := json.Unmarshal(rec.Result, &out); err != nil {
			return out, false, fmt.Errorf("event %q: stored result: %w", ev.ID, err)
		}
		return out, true, nil
	}
	if !errors.Is(err, ledger.ErrNotFound) {
		return out, false, err
	}
	// The event runs as one step: if it fails after writing, the caller's
	// unit of work cannot commit (ledger.Writer.Atomic), so a caller who
	// composes events and ignores an error never keeps half of one.
	err = w.Atomic(func(w *ledger.Writer) error {
		var err error
		out, err = runEvent(w, ev, fp, fn)
		return err
	})
	if err != nil {
		var zero T
		return zero, false, err
	}
	return out, false, nil
}

// runEvent runs an event for the first time and claims its ID with the
// result.
func runEvent[T any](w *ledger.Writer, ev Event, fp string, fn func(w *ledger.Writer) (T, error)) (T, error) {
	var out T
	res, err := fn(w)
	if err != nil {
		return out, err
	}
	rb, err := json.Marshal(res)
	if err != nil {
		return out, err
	}
	if err := json.Unmarshal(rb, &out); err != nil {
		return out, err
	}
	rec, err := encodeEventRecord(ev.Op, fp, rb)
	if err != nil {
		return out, err
	}
	err = w.InsertRecord(ev.Kind, ev.ID, rec)
	if errors.Is(err, ledger.ErrDuplicate) {
		// A concurrent call claimed the event first (possible on stores
		// that do not serialise whole units of work): undo this one and let
		// Update run it again, which replays the winner's result.
		return out, fmt.Errorf("%w: event %q claimed by a concurrent call", ledger.ErrConflict, ev.ID)
	}
	if err != nil {
		return out, err
	}
	return out, nil
}

// RunOnce runs Once in a unit of work of its own.
func RunOnce[T any](ctx context.Context, l *ledger.Ledger, ev Event, fn func(w *ledger.Writer) (T, error)) (res T, replay bool, err error) {
	err = l.Update(ctx, func(w *ledger.Writer) error {
		var err error
		res, replay, err = Once(w, ev, fn)
		return err
	})
	if err != nil {
		var zero T
		return zero, false, err
	}
	return res, replay, nil
}

// encodeEventRecord is json.Marshal(eventRecord{op, fp, result}) for a
// result that is json.Marshal's own output (compact, valid), written out
// without json.Marshal checking and compacting the result a second time:
// every first run of an event pays it.
func encodeEventRecord(op, fp string, result []byte) ([]byte, error) {
	qop, err := json.Marshal(op)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, len(`{"op":,"fingerprint":"","result":}`)+len(qop)+len(fp)+len(result))
	b = append(b, `{"op":`...)
	b = append(b, qop...)
	b = append(b, `,"fingerprint":"`...) // hex: nothing to escape
	b = append(b, fp...)
	b = append(b, `","result":`...)
	b = append(b, result...)
	return append(b, '}'), nil
}

func fingerprint(op string, req any) (string, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return "", fmt.Errorf("event request: %w", err)
	}
	sum := sha256.Sum256(append([]byte(op+"\x00"), b...))
	return hex.EncodeToString(sum[:]), nil
}
