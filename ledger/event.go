package ledger

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
)

// eventRecord is what an event id claims: which operation with which
// request (as a fingerprint), and the result to return on a replay.
type eventRecord struct {
	Op          string          `json:"op"`
	Fingerprint string          `json:"fingerprint"`
	Result      json.RawMessage `json:"result"`
}

// Once runs fn at most once per event: the first call with (kind, id) runs
// fn in one unit of work and stores its result, JSON-encoded, in a record
// of that kind in the same unit of work; a later call with the same op and
// an equal request (compared by a SHA-256 fingerprint of its JSON) returns
// the stored result and runs nothing; with another op or request it is
// ErrIdempotencyConflict. Racing first calls pay once: a loser whose claim
// finds the winner's record rolls back with ErrConflict, and Update's retry
// returns the winner's result. A result always comes back as a replay would see it,
// decoded from its JSON, so T must round-trip through encoding/json.
func Once[T any](ctx context.Context, l *Ledger, kind, id, op string, req any, fn func(w *Writer) (T, error)) (T, error) {
	var out T
	b, err := json.Marshal(req)
	if err != nil {
		return out, err
	}
	sum := sha256.Sum256(append([]byte(op+"\x00"), b...))
	fp := hex.EncodeToString(sum[:])
	err = l.Update(ctx, func(w *Writer) error {
		var rec eventRecord
		err := w.LoadJSON(kind, id, &rec)
		if err == nil {
			if rec.Op != op || rec.Fingerprint != fp {
				return fmt.Errorf("%w: event %q was a %s with other arguments", ErrIdempotencyConflict, id, rec.Op)
			}
			return json.Unmarshal(rec.Result, &out)
		}
		if !errors.Is(err, ErrNotFound) {
			return err
		}
		res, err := fn(w)
		if err != nil {
			return err
		}
		rb, err := json.Marshal(res)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(rb, &out); err != nil {
			return err
		}
		err = w.CreateJSON(kind, id, eventRecord{Op: op, Fingerprint: fp, Result: rb})
		if errors.Is(err, ErrDuplicate) {
			// A concurrent call claimed the event first (possible on stores
			// that do not serialise whole updates): undo this one and let
			// Update run it again, which replays the winner's result.
			return fmt.Errorf("%w: event %q claimed by a concurrent call", ErrConflict, id)
		}
		return err
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return out, nil
}
