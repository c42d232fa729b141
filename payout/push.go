package payout

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
)

// maxEventIDLen bounds a notification's event ID: with the provider's name
// (at most 32 characters) and a colon before it, it fits kit.Once's 128.
const maxEventIDLen = 95

// RecordOutcomeRequest is an outcome a provider pushes (a webhook
// delivery), as the integrator's handler decoded it after checking its
// signature.
type RecordOutcomeRequest struct {
	// EventID is the provider's ID of the delivery: the idempotency key
	// (kit.Once), 1 to 95 printable ASCII characters.
	EventID string `json:"event_id"`
	// Provider is who acts: the provider's name, which must be the
	// program's (Rules.Provider).
	Provider string `json:"provider"`
	// PayoutID is our payout ID. Key may be given instead (or as well:
	// then they must agree).
	PayoutID string `json:"payout_id,omitempty"`
	// Key is the idempotency key the program sent (SendRequest.Key,
	// KeyFor), which providers echo back (PayPal's sender_item_id).
	Key string `json:"key,omitempty"`
	// Reference is the provider's id for the payment (optional); it is
	// recorded in Payout.Reference.
	Reference string `json:"reference,omitempty"`
	// Outcome is what the provider reports.
	Outcome Outcome `json:"outcome"`
	// At is when the provider reports it happened (zero: now). It orders
	// non-final outcomes that arrive out of order.
	At time.Time `json:"at"`
}

// KeyFor returns the idempotency key the program sends the provider for
// a payout (SendRequest.Key).
func (p *Program) KeyFor(payoutID string) string { return "payout:" + p.id(payoutID) }

// pushRequest is what a notification's event ID stands for (kit.Once
// fingerprints it).
type pushRequest struct {
	Provider  string  `json:"provider"`
	PayoutID  string  `json:"payout_id"`
	Reference string  `json:"reference"`
	Outcome   Outcome `json:"outcome"`
	At        string  `json:"at"`
}

func checkEventID(v string) error {
	if v == "" || len(v) > maxEventIDLen {
		return fmt.Errorf("%w: event id must have 1 to %d characters", ErrInvalidRequest, maxEventIDLen)
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c <= ' ' || c > '~' {
			return fmt.Errorf("%w: event id %q may hold only printable ASCII without spaces", ErrInvalidRequest, v)
		}
	}
	return nil
}

// payoutOf returns the payout a notification names.
func (p *Program) payoutOf(n RecordOutcomeRequest) (string, error) {
	if n.Provider != p.rules.Provider {
		return "", fmt.Errorf("%w: notification from provider %q, program pays through %q", ErrInvalidRequest, n.Provider, p.rules.Provider)
	}
	id := n.PayoutID
	if n.Key != "" {
		prefix := p.KeyFor("")
		fromKey, ok := strings.CutPrefix(n.Key, prefix)
		if !ok {
			return "", fmt.Errorf("%w: key %q is not one of this program's (%s<payout id>)", ErrNotFound, n.Key, prefix)
		}
		if id != "" && id != fromKey {
			return "", fmt.Errorf("%w: key %q names payout %q, not %q", ErrInvalidRequest, n.Key, fromKey, id)
		}
		id = fromKey
	}
	if err := checkID("payout id", id); err != nil {
		return "", err
	}
	if len(n.Reference) > 256 {
		return "", fmt.Errorf("%w: reference must have at most 256 characters", ErrInvalidRequest)
	}
	switch n.Outcome {
	case OutcomeSucceeded, OutcomeFailed, OutcomeHeld, OutcomeUnclaimed, OutcomeReturned, OutcomeBlocked, OutcomeReversed:
	default:
		return "", fmt.Errorf("%w: unknown outcome %q", ErrInvalidRequest, n.Outcome)
	}
	if !n.At.IsZero() {
		if err := ledger.ValidateTime("notification time", n.At); err != nil {
			return "", fmt.Errorf("%w: %w", ErrInvalidRequest, err)
		}
	}
	return id, nil
}

// RecordOutcome records an outcome the provider pushed: RecordOutcomeIn
// in a unit of work of its own.
func (p *Program) RecordOutcome(ctx context.Context, req RecordOutcomeRequest) (Payout, error) {
	return kit.Run(ctx, p.l, func(w *ledger.Writer) (Payout, error) { return p.RecordOutcomeIn(w, req) })
}

// RecordOutcomeIn records an outcome the provider pushed (a webhook)
// inside the caller's unit of work w, as Tick and Retry record one they
// polled, through the same code: a payout settles exactly once whether its
// outcome arrives by push, by poll, or both, in any order. EventID is the
// provider's ID of the delivery (kit.Once): a repeated delivery (same ID,
// same notification) replays, returning the payout as the first delivery
// left it, Replayed true, and writes nothing; the same ID with another
// notification is ErrIdempotencyConflict. It calls nothing outside the
// ledger.
//
// For a payout in flight (sending, held, unclaimed), succeeded captures
// and converts the hold, failed and returned void it, held and unclaimed
// keep it — unless one of those two is older (At) than the outcome
// recorded last, a delivery that overtook it. A payout may be paid by
// push before the answer to its own Send is recorded: that answer then
// finds it settled and changes nothing.
//
// For a settled payout nothing moves: a non-final outcome (held after
// paid, delivered late) and a final one that agrees (paid after paid;
// failed or returned after failed or returned: the funds are back
// either way) return the payout as it is; one that contradicts it
// (failed or returned after paid, paid after failed, returned or
// rejected) is ErrOutcomeContradiction. Reversed after paid moves the
// money back once (reverse: a clawback under Rules.ReversalRecovery);
// reversed again, or after a refusal, changes nothing or contradicts as
// above; for a payout in flight it settles paid and reversed at once. A
// payout in review was never sent, so any notification for it is
// ErrWrongState.
// Refused notifications record nothing (not even the event ID): a
// redelivery is refused the same way. A notification for a payout this
// program does not know is ErrNotFound; one for another provider or with
// an unknown outcome is ErrInvalidRequest.
func (p *Program) RecordOutcomeIn(w *ledger.Writer, req RecordOutcomeRequest) (Payout, error) {
	if err := checkEventID(req.EventID); err != nil {
		return Payout{}, eventError(err, "record outcome %s", req.EventID)
	}
	payoutID, err := p.payoutOf(req)
	if err != nil {
		return Payout{}, eventError(err, "record outcome %s", req.EventID)
	}
	at := ""
	if !req.At.IsZero() {
		at = req.At.UTC().Format(time.RFC3339Nano)
	}
	ev := kit.Event{Kind: kindPush, ID: p.id(req.EventID), Op: "outcome",
		Request: pushRequest{Provider: req.Provider, PayoutID: payoutID, Reference: req.Reference, Outcome: req.Outcome, At: at}}
	po, replay, err := kit.Once(w, ev, func(w *ledger.Writer) (Payout, error) {
		return p.recordOutcome(w, payoutID, req)
	})
	if err != nil {
		return Payout{}, eventError(err, "record outcome %s of %s", req.EventID, payoutID)
	}
	po.Replayed = replay
	return po, nil
}

// recordOutcome is the first delivery of a notification, inside its unit
// of work.
func (p *Program) recordOutcome(w *ledger.Writer, payoutID string, n RecordOutcomeRequest) (Payout, error) {
	var po Payout
	if ok, err := load(w, kindPayout, p.id(payoutID), &po); err != nil {
		return Payout{}, err
	} else if !ok {
		return Payout{}, fmt.Errorf("%w: payout %s", ErrNotFound, payoutID)
	}
	if po.Status == StatusReview {
		return Payout{}, fmt.Errorf("%w: payout %s is in review and was never sent; the provider reports %s", ErrWrongState, payoutID, n.Outcome)
	}
	if po.Status.Final() {
		return p.recordAfterSettled(w, &po, n)
	}
	return p.apply(w, payoutID, Receipt{Outcome: n.Outcome, Reference: n.Reference}, nil, &n)
}
