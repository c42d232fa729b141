package ledger

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger/driver"
)

// HoldStatus is where a hold is in its life.
type HoldStatus uint8

// Hold statuses, numbered as the store keeps them. Only a pending hold
// reserves funds (a pending hold past its expiry included, until it is
// swept or voided).
const (
	HoldPending  HoldStatus = HoldStatus(driver.HoldPending)
	HoldCaptured HoldStatus = HoldStatus(driver.HoldCaptured) // captured in full, or finally
	HoldVoided   HoldStatus = HoldStatus(driver.HoldVoided)   // voided before its expiry
	HoldExpired  HoldStatus = HoldStatus(driver.HoldExpired)  // released by Tick's sweep, or voided after its expiry
)

func (s HoldStatus) String() string {
	switch s {
	case HoldPending:
		return "pending"
	case HoldCaptured:
		return "captured"
	case HoldVoided:
		return "voided"
	case HoldExpired:
		return "expired"
	}
	return "unknown"
}

// DueHoldExpiry is the due-entry kind under which holds wait for expiry.
const DueHoldExpiry = "ledger.hold"

// HoldRequest asks to reserve an amount of an account's available balance
// until ExpiresAt. Key makes it idempotent like TransferRequest.Key.
type HoldRequest struct {
	Key       string            `json:"key,omitempty"`
	Account   string            `json:"account"`
	Asset     string            `json:"asset"`
	Amount    decimal.Decimal   `json:"amount"`
	ExpiresAt time.Time         `json:"expires_at"`
	Metadata  map[string]string `json:"metadata,omitempty"`
}

// Hold is a reservation of funds (two-phase transfer).
type Hold struct {
	ID        uint64
	Key       string
	Account   string
	Asset     string
	Amount    decimal.Decimal // reserved at creation
	Captured  decimal.Decimal // captured so far
	Remaining decimal.Decimal // still reserved; zero once closed
	Status    HoldStatus
	CreatedAt time.Time
	ExpiresAt time.Time
	ClosedAt  time.Time // zero while pending
	Metadata  map[string]string
}

// Leg is one destination of a capture.
type Leg struct {
	To     string          `json:"to"`
	Amount decimal.Decimal `json:"amount"`
	// ExpiresAt and Breakage make the leg's credit a lot, as
	// Posting.ExpiresAt and Posting.Breakage do.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	Breakage  string    `json:"breakage,omitempty"`
}

// CaptureRequest moves part or all of a hold to one or more destinations.
// A hold may be captured several times until nothing remains; Final closes
// it after this capture and releases what is left. Key makes the capture
// idempotent.
type CaptureRequest struct {
	Key          string            `json:"key,omitempty"`
	Hold         uint64            `json:"hold"`
	Destinations []Leg             `json:"destinations"`
	Final        bool              `json:"final,omitempty"`
	Metadata     map[string]string `json:"metadata,omitempty"`
}

func timeOf(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

func (r *Reader) publicHold(h *driver.Hold) (Hold, error) {
	a, err := r.Asset(h.Asset)
	if err != nil {
		return Hold{}, err
	}
	rem := int64(0)
	if h.Status == driver.HoldPending {
		rem = h.Units - h.Captured
	}
	return Hold{
		ID: h.ID, Key: h.Key, Account: h.Account, Asset: h.Asset,
		Amount: a.Amount(h.Units), Captured: a.Amount(h.Captured), Remaining: a.Amount(rem),
		Status: HoldStatus(h.Status), CreatedAt: timeOf(h.CreatedAt), ExpiresAt: timeOf(h.ExpiresAt),
		ClosedAt: timeOf(h.ClosedAt), Metadata: copyMetadata(h.Metadata),
	}, nil
}

// Hold reserves funds: the account's held amount grows and its available
// amount shrinks; nothing is posted until a capture. The hold must fit in
// the available balance (within the account's limit) and expire after
// now, at a time the ledger keeps (ValidateTime: before MaxTime, else
// ErrInvalidTime).
//
// Expiry: once ExpiresAt has passed, a Capture is ErrHoldExpired and
// writes nothing, but the hold keeps its funds reserved until the first of
// Ledger.Tick's sweep or a Void, either of which closes it as HoldExpired
// and releases what it has left. A program that gets ErrHoldExpired and
// wants the funds back calls Void on the hold in the same unit of work and
// goes on: the funds are available at once.
func (w *Writer) Hold(req HoldRequest) (Hold, error) {
	if err := validateKey(req.Key); err != nil {
		return Hold{}, err
	}
	if err := validateMetadata(req.Metadata); err != nil {
		return Hold{}, err
	}
	if err := ValidateTime("hold expiry", req.ExpiresAt); err != nil {
		return Hold{}, err
	}
	asset, err := w.Asset(req.Asset)
	if err != nil {
		return Hold{}, err
	}
	if req.Amount.Sign() <= 0 {
		return Hold{}, fmt.Errorf("%w: hold of %s %s must be positive", ErrInvalidAmount, describeDecimal(req.Amount), asset.Code)
	}
	u, err := asset.Units(req.Amount)
	if err != nil {
		return Hold{}, err
	}
	acc, err := w.account(req.Account)
	if err != nil {
		return Hold{}, err
	}
	h := driver.Hold{
		Key: req.Key, Account: acc.Address, Asset: asset.Code, Units: u, Status: driver.HoldPending,
		CreatedAt: w.now.UnixNano(), ExpiresAt: req.ExpiresAt.UnixNano(), Metadata: copyMetadata(req.Metadata),
	}
	if req.Key != "" {
		if err := w.loadHead(); err != nil { // serialises racing writers in stores that lock
			return Hold{}, err
		}
		old, err := w.tx.HoldByKey(req.Key)
		if err == nil {
			if old.Account != h.Account || old.Asset != h.Asset || old.Units != h.Units ||
				old.ExpiresAt != h.ExpiresAt || !sameMetadata(old.Metadata, h.Metadata) {
				return Hold{}, fmt.Errorf("%w: key %s was used for hold %d", ErrIdempotencyConflict, clip(req.Key), old.ID)
			}
			return w.publicHold(&old)
		}
		if !errors.Is(err, ErrNotFound) {
			return Hold{}, err
		}
	}
	// Checked after the key: a retry of a hold that has since expired
	// returns the original, like any idempotent replay.
	if !req.ExpiresAt.After(w.now) {
		return Hold{}, fmt.Errorf("%w: hold expiry %s is not after now %s", ErrInvalidTransaction,
			req.ExpiresAt.UTC().Format(time.RFC3339), w.now.Format(time.RFC3339))
	}
	key := driver.BalanceKey{Address: acc.Address, Asset: asset.Code}
	w.keys = append(w.keys[:0], key)
	states, err := w.tx.LockBalances(w.keys)
	if err != nil {
		return Hold{}, err
	}
	st := states[0]
	var ok bool
	if st.Held, ok = addUnits(st.Held, u); !ok {
		return Hold{}, fmt.Errorf("%w: hold of %d %s", ErrOverflow, u, asset.Code)
	}
	if err := w.checkFloor(&st); err != nil {
		return Hold{}, err
	}
	id, err := w.store().InsertHold(&h)
	if err != nil {
		return Hold{}, err
	}
	h.ID = id
	if err := w.putBalances(states[:1], []driver.Balance{st}, 0, id); err != nil {
		return Hold{}, err
	}
	if err := w.store().Schedule(driver.DueEntry{Kind: DueHoldExpiry, ID: holdDueID(id), At: req.ExpiresAt}); err != nil {
		return Hold{}, err
	}
	if err := w.holdCreated(&h); err != nil {
		return Hold{}, err
	}
	return w.publicHold(&h)
}

// holdDueID writes hold IDs zero-padded so due entries sort by ID too.
func holdDueID(id uint64) string {
	s := strconv.FormatUint(id, 10)
	const width = 20
	if len(s) < width {
		s = "00000000000000000000"[:width-len(s)] + s
	}
	return s
}

// Capture posts part or all of a pending, unexpired hold to its
// destinations in one transaction (Kind KindCapture, Hold set). A hold
// whose expiry has passed is ErrHoldExpired and nothing is written, even
// before Ledger.Tick has swept it; its funds stay reserved until the sweep
// or a Void releases them (see Writer.Hold), so a caller that wants them
// back calls Void in the same unit of work.
func (w *Writer) Capture(req CaptureRequest) (Transaction, error) {
	if err := validateKey(req.Key); err != nil {
		return Transaction{}, err
	}
	if err := validateMetadata(req.Metadata); err != nil {
		return Transaction{}, err
	}
	if len(req.Destinations) == 0 || len(req.Destinations) > maxPostings {
		return Transaction{}, fmt.Errorf("%w: capture needs 1 to %d destinations", ErrInvalidTransaction, maxPostings)
	}
	// The head serialises this unit of work against every other writer, so
	// the hold read below cannot change before this capture commits.
	if err := w.loadHead(); err != nil {
		return Transaction{}, err
	}
	h, err := w.tx.Hold(req.Hold)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return Transaction{}, fmt.Errorf("%w: hold %d", ErrNotFound, req.Hold)
		}
		return Transaction{}, err
	}
	ps := w.posting[:0]
	var total int64
	for i, d := range req.Destinations {
		p, err := w.storedPosting(h.Account, d.To, h.Asset, d.Amount)
		if err != nil {
			return Transaction{}, fmt.Errorf("destination %d: %w", i, err)
		}
		ps = append(ps, p)
		var ok bool
		if total, ok = addUnits(total, p.Units); !ok {
			return Transaction{}, fmt.Errorf("%w: capture of hold %d: the destinations add up beyond the int64 range", ErrOverflow, h.ID)
		}
	}
	w.posting = ps
	md, past, err := w.lotMetadata(ps, func(i int) (time.Time, string) {
		return req.Destinations[i].ExpiresAt, req.Destinations[i].Breakage
	}, req.Metadata)
	if err != nil {
		return Transaction{}, err
	}
	t := driver.Transaction{Key: req.Key, Kind: driver.KindCapture, Hold: h.ID, Metadata: md}
	if req.Key != "" {
		tr, err := w.existing(&t, ps)
		if err == nil && req.Final && h.Status == driver.HoldPending {
			// Final is not kept on the transaction, but a hold still pending
			// shows the capture that ran was not final: this retry asks for
			// a release that never happened.
			return Transaction{}, fmt.Errorf("%w: key %s was a capture that did not close hold %d", ErrIdempotencyConflict, clip(req.Key), h.ID)
		}
		if err == nil || !errors.Is(err, ErrNotFound) {
			return tr, err
		}
	}
	if past != nil {
		return Transaction{}, past
	}
	if h.Status != driver.HoldPending {
		return Transaction{}, fmt.Errorf("%w: hold %d is %s", ErrHoldClosed, h.ID, HoldStatus(h.Status))
	}
	if w.now.UnixNano() >= h.ExpiresAt {
		return Transaction{}, fmt.Errorf("%w: hold %d expired at %s", ErrHoldExpired, h.ID, timeOf(h.ExpiresAt).Format(time.RFC3339))
	}
	remaining := h.Units - h.Captured
	if total > remaining {
		asset, _ := w.Asset(h.Asset)
		return Transaction{}, fmt.Errorf("%w: hold %d has %s %s left, capture asks %s", ErrCaptureExceedsHold,
			h.ID, asset.Format(remaining), h.Asset, asset.Format(total))
	}
	release := total
	h.Captured += total
	if req.Final || h.Captured == h.Units {
		release = remaining
		h.Status = driver.HoldCaptured
		h.ClosedAt = w.now.UnixNano()
	}
	key := driver.BalanceKey{Address: h.Account, Asset: h.Asset}
	tr, err := w.commitWithHold(&t, ps, &key, -release, false)
	if err != nil {
		return Transaction{}, err
	}
	if err := w.store().UpdateHold(&h); err != nil {
		return Transaction{}, err
	}
	if h.Status != driver.HoldPending {
		if err := w.store().Unschedule(DueHoldExpiry, holdDueID(h.ID)); err != nil {
			return Transaction{}, err
		}
	}
	if err := w.holdCaptured(&h, tr.ID, total); err != nil {
		return Transaction{}, err
	}
	return tr, nil
}

// Void releases what a hold has left, at once. A pending hold whose expiry
// has passed is closed as HoldExpired, exactly as Ledger.Tick's sweep
// would close it, rather than HoldVoided: this is how a caller that got
// ErrHoldExpired from a Capture has the funds back without waiting for the
// sweep (see Writer.Hold). Voiding a hold that is already voided or
// expired returns it unchanged (the funds are free either way); voiding
// one captured in full is ErrHoldClosed.
func (w *Writer) Void(id uint64) (Hold, error) {
	return w.closeHold(id, driver.HoldVoided)
}

func (w *Writer) closeHold(id uint64, status driver.HoldStatus) (Hold, error) {
	if err := w.loadHead(); err != nil { // serialise against racing captures
		return Hold{}, err
	}
	h, err := w.tx.Hold(id)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return Hold{}, fmt.Errorf("%w: hold %d", ErrNotFound, id)
		}
		return Hold{}, err
	}
	switch h.Status {
	case driver.HoldPending:
	case driver.HoldVoided, driver.HoldExpired:
		return w.publicHold(&h)
	default:
		return Hold{}, fmt.Errorf("%w: hold %d is %s", ErrHoldClosed, h.ID, HoldStatus(h.Status))
	}
	key := driver.BalanceKey{Address: h.Account, Asset: h.Asset}
	w.keys = append(w.keys[:0], key)
	states, err := w.tx.LockBalances(w.keys)
	if err != nil {
		return Hold{}, err
	}
	st := states[0]
	left := h.Units - h.Captured
	if left < 0 || st.Held < left {
		return Hold{}, fmt.Errorf("%w: releasing hold %d would take the held amount of %s %s below zero", ErrOverflow, h.ID, h.Account, h.Asset)
	}
	st.Held -= left
	if status == driver.HoldVoided && w.now.UnixNano() >= h.ExpiresAt {
		status = driver.HoldExpired // past its expiry: released as the sweep would
	}
	h.Status = status
	h.ClosedAt = w.now.UnixNano()
	if err := w.putBalances(states[:1], []driver.Balance{st}, 0, h.ID); err != nil {
		return Hold{}, err
	}
	if err := w.store().UpdateHold(&h); err != nil {
		return Hold{}, err
	}
	if err := w.store().Unschedule(DueHoldExpiry, holdDueID(h.ID)); err != nil {
		return Hold{}, err
	}
	if err := w.holdReleased(&h, left); err != nil {
		return Hold{}, err
	}
	return w.publicHold(&h)
}

// ExpireHolds works through up to limit due hold expiries at or before the
// unit of work's time: it releases each hold still pending (status
// HoldExpired) and drops the due entries of holds already closed. It
// returns how many holds it released and how many due entries it handled;
// fewer entries than limit means none is left. It stops at the first hold
// it cannot release, and the unit of work fails with it; Ledger.Tick
// instead releases each hold on its own and goes on past one that fails.
func (w *Writer) ExpireHolds(limit int) (released, handled int, err error) {
	due, err := w.tx.Due(DueHoldExpiry, w.now, limit)
	if err != nil {
		return 0, 0, err
	}
	for _, d := range due {
		r, _, err := w.expireDue(d.ID)
		if err != nil {
			return released, handled, fmt.Errorf("%s: %w", dueName(d.ID), err)
		}
		if r {
			released++
		}
		handled++
	}
	return released, handled, nil
}

// expireDue handles one due hold-expiry entry: it releases the hold if it
// is pending and expired (released), drops the entry if the hold is
// already closed, and moves it to the hold's expiry if that is still to
// come. cleared says the entry is no longer due at the unit of work's time.
func (w *Writer) expireDue(dueID string) (released, cleared bool, err error) {
	id, perr := strconv.ParseUint(dueID, 10, 64)
	if perr != nil {
		return false, false, fmt.Errorf("%w: the due entry names no hold", ErrNotFound)
	}
	if err := w.loadHead(); err != nil { // serialise against racing captures
		return false, false, err
	}
	h, err := w.tx.Hold(id)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return false, false, fmt.Errorf("%w: no such hold", ErrNotFound)
		}
		return false, false, err
	}
	switch {
	case h.Status != driver.HoldPending:
		return false, true, w.store().Unschedule(DueHoldExpiry, dueID)
	case w.now.UnixNano() < h.ExpiresAt:
		// An entry due before its hold expires (a clock that stepped back,
		// an entry moved by hand): due again when the hold expires.
		err := w.store().Schedule(driver.DueEntry{Kind: DueHoldExpiry, ID: dueID, At: timeOf(h.ExpiresAt)})
		return false, false, err
	}
	if _, err := w.closeHold(id, driver.HoldExpired); err != nil {
		return false, false, err
	}
	return true, true, nil
}

// dueName names a hold-expiry due entry in an error: "hold 42", or the
// entry's ID when it names no hold.
func dueName(dueID string) string {
	if id, err := strconv.ParseUint(dueID, 10, 64); err == nil {
		return "hold " + strconv.FormatUint(id, 10)
	}
	return "hold due entry " + clip(dueID)
}

// dueHoldID is the ID of the hold a hold-expiry due entry names, in
// decimal, or the entry's own ID when it names no hold.
func dueHoldID(dueID string) string {
	if id, err := strconv.ParseUint(dueID, 10, 64); err == nil {
		return strconv.FormatUint(id, 10)
	}
	return dueID
}

// HoldByID returns a hold.
func (r *Reader) HoldByID(id uint64) (Hold, error) {
	h, err := r.rt.Hold(id)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return Hold{}, fmt.Errorf("%w: hold %d", ErrNotFound, id)
		}
		return Hold{}, err
	}
	return r.publicHold(&h)
}

// HoldByKey returns the hold created with an idempotency key.
func (r *Reader) HoldByKey(key string) (Hold, error) {
	h, err := r.rt.HoldByKey(key)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return Hold{}, fmt.Errorf("%w: hold with key %s", ErrNotFound, clip(key))
		}
		return Hold{}, err
	}
	return r.publicHold(&h)
}
