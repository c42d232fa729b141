package kit

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger"
)

// ErrSettled is a veto or a release of a pending grant that is already
// released or vetoed: each grant settles exactly once. A caller that must
// undo a released grant claws it back instead (Claw).
var ErrSettled = ledger.NewError(ledger.CodeFailedPrecondition, "pending grant already settled")

// ErrNotMature is a release of a pending grant before its MaturesAt.
var ErrNotMature = ledger.NewError(ledger.CodeFailedPrecondition, "pending grant not mature yet")

// ErrUnknownGrant is a veto or a release of a grant never made.
var ErrUnknownGrant = ledger.NewError(ledger.CodeNotFound, "unknown pending grant")

// ErrInvalidGrant is a PendingGrant that cannot be made (an empty or too
// long ID, a member ID that is not a kit ID (CheckID), a member's debt or
// pending account as the funding account, an amount that is not positive,
// a time out of the ledger's range). Nothing is written.
var ErrInvalidGrant = ledger.NewError(ledger.CodeInvalidArgument, "invalid pending grant")

// PendingAccount is where a member's pending rewards wait,
// "member:<id>:pending": visible (its balance is what is pending), not
// spendable (no program charges it; only Pending moves money out of it, to
// the wallet on release or back to the source on a veto).
func PendingAccount(member string) string { return "member:" + member + ":pending" }

// States of a pending grant: it starts pending and settles once, to
// released or vetoed.
const (
	StatePending  = "pending"
	StateReleased = "released"
	StateVetoed   = "vetoed"
)

// Pending is maturation with a veto: a reward granted now that becomes the
// member's at MaturesAt unless a veto (a refund, a risk flag, a failed
// retention check) comes first. Grant moves the amount from the funding
// account into the member's PendingAccount; Release (or Tick, once it is
// due) moves it on to the wallet through Credit, so a debt from a clawback
// is repaid first; Veto returns it to the funding account. Each grant has
// a record with its state, and settles exactly once: both settlements
// post under the same idempotency key ("<program>:pending:<id>:settle"),
// so even racing callers cannot settle it twice.
//
// A program keeps one Pending value (it holds no state) and names itself
// in Program: its records are of kind "<program>.pending" (Kind), its
// schedule is the due kind of the same name, and its events are
// "<program>.pending.granted", "<program>.pending.released" and
// "<program>.pending.vetoed" (data: PendingRecord; subject: the member;
// TxID: the grant's or settlement's transaction).
type Pending struct {
	// Program prefixes records, the due kind, keys and events.
	Program string
	// Scope, if set, keeps apart the grants of several instances of one
	// program on a ledger (referral's campaigns, each with a Tick of its
	// own): the kind becomes "<program>.pending:<scope>" and keys carry it.
	Scope string
	// OwnEvents: the program reports every grant and settlement with an
	// event of its own in the same unit of work (referral's
	// referral.reward.held, .released, .clawed_back), so Pending emits
	// none of its three; Credit's debt recovery is still reported.
	OwnEvents bool
	// Wallets opens a member's wallet on release if it is not open.
	Wallets WalletPolicy
	// Expiry, if set, is asked at each release when the reward reaching
	// the wallet expires and where its rest then goes (CreditRequest
	// ExpiresAt and Breakage): a reward that expires counts from when it
	// became the member's, not from when it was granted. A zero time
	// means it never expires.
	Expiry func(w *ledger.Writer) (expiresAt time.Time, breakage string, err error)
}

// PendingGrant asks Pending.Grant for a reward that matures later.
type PendingGrant struct {
	// ID names the grant within the program (1 to 128 bytes): Veto and
	// Release name it, and every key of the grant derives from it.
	ID     string          `json:"id"`
	Member string          `json:"member"`
	Asset  string          `json:"asset"`
	Amount decimal.Decimal `json:"amount"`
	// From is the funding account (a budget): it pays now, and gets the
	// amount back on a veto.
	From string `json:"from"`
	// MaturesAt is when the grant may be released.
	MaturesAt time.Time `json:"matures_at"`
	// Metadata is kept on the record and the transactions (the program's
	// own references, such as the invitee of a referral reward), with the
	// step under the key "pending": "grant", "released" or "vetoed".
	Metadata map[string]string `json:"metadata,omitempty"`
}

// PendingRecord is a pending grant and what became of it.
type PendingRecord struct {
	PendingGrant
	State   string `json:"state"`
	GrantTx uint64 `json:"grant_tx"`
	// Set when it settles.
	SettleTx  uint64    `json:"settle_tx,omitempty"`
	SettledAt time.Time `json:"settled_at,omitzero"`
	// Reason for a veto.
	Reason string `json:"reason,omitempty"`
	// Repaid is what a release repaid of the member's debt (Credit);
	// the rest reached the wallet.
	Repaid decimal.Decimal `json:"repaid,omitzero"`
	// Replayed: Grant found this grant already made (nothing written).
	Replayed bool `json:"-"`
}

// Kind is the record kind and the due kind of the program's grants.
func (p Pending) Kind() string {
	if p.Scope != "" {
		return p.Program + ".pending:" + p.Scope
	}
	return p.Program + ".pending"
}

func (p Pending) key(id, step string) string {
	if p.Scope != "" {
		return p.Program + ":pending:" + p.Scope + ":" + id + ":" + step
	}
	return p.Program + ":pending:" + id + ":" + step
}

func (p Pending) emit(w *ledger.Writer, rec PendingRecord) error {
	if p.OwnEvents {
		return nil
	}
	typ := p.Program + ".pending." + rec.State
	if rec.State == StatePending {
		typ = p.Program + ".pending.granted"
	}
	return w.Emit(typ, rec.Member, rec)
}

func (p Pending) check() error {
	if err := ledger.ValidateEventType(p.Program + ".pending.granted"); err != nil {
		return fmt.Errorf("%w: program %q: %w", ErrInvalidGrant, p.Program, err)
	}
	return nil
}

// Grant makes a pending grant inside the caller's unit of work: it moves
// the amount from g.From to the member's PendingAccount, keeps a record in
// state pending, schedules it at g.MaturesAt and emits
// "<program>.pending.granted". A grant is made once per ID: the same
// grant again returns the record with Replayed set and writes nothing;
// another grant under the same ID is ledger.ErrIdempotencyConflict. A
// funding account without the amount available is the ledger's
// ErrInsufficientFunds.
func (p Pending) Grant(w *ledger.Writer, g PendingGrant) (PendingRecord, error) {
	if err := p.check(); err != nil {
		return PendingRecord{}, err
	}
	if g.ID == "" || len(g.ID) > maxEventID || g.Member == "" || g.From == "" {
		return PendingRecord{}, fmt.Errorf("%w: a grant needs an ID of 1 to %d bytes, a member and a funding account", ErrInvalidGrant, maxEventID)
	}
	if err := CheckID(ErrInvalidGrant, "member", g.Member); err != nil {
		return PendingRecord{}, err
	}
	if memberSubAccount(g.From) {
		return PendingRecord{}, fmt.Errorf("%w: grant %s funded by %s, a member's debt or pending account", ErrInvalidGrant, g.ID, g.From)
	}
	if err := ledger.ValidateTime("matures at", g.MaturesAt); err != nil {
		return PendingRecord{}, fmt.Errorf("%w: %w", ErrInvalidGrant, err)
	}
	a, err := w.Asset(g.Asset)
	if err != nil {
		return PendingRecord{}, err
	}
	u, err := a.Units(g.Amount)
	if err != nil {
		return PendingRecord{}, err
	}
	if u <= 0 {
		return PendingRecord{}, fmt.Errorf("%w: grant %s: the amount must be positive", ErrInvalidGrant, g.ID)
	}
	g.Amount = a.Amount(u)
	g.MaturesAt = g.MaturesAt.UTC()
	var rec PendingRecord
	err = w.LoadJSON(p.Kind(), g.ID, &rec)
	if err == nil {
		if !sameGrant(rec.PendingGrant, g) {
			return PendingRecord{}, fmt.Errorf("%w: pending grant %q was made with other arguments", ledger.ErrIdempotencyConflict, g.ID)
		}
		rec.Replayed = true
		return rec, nil
	}
	if !errors.Is(err, ledger.ErrNotFound) {
		return PendingRecord{}, err
	}
	err = w.Atomic(func(w *ledger.Writer) error {
		if err := OpenIfMissing(w, PendingAccount(g.Member), ledger.Overdraft{}); err != nil {
			return err
		}
		t, err := w.Post(ledger.TransferRequest{Key: p.key(g.ID, "grant"), Metadata: stepMeta(g.Metadata, "grant"),
			Postings: []ledger.Posting{{From: g.From, To: PendingAccount(g.Member), Asset: a.Code, Amount: g.Amount}}})
		if err != nil {
			return err
		}
		rec = PendingRecord{PendingGrant: g, State: StatePending, GrantTx: t.ID}
		if err := w.CreateJSON(p.Kind(), g.ID, rec); err != nil {
			if errors.Is(err, ledger.ErrDuplicate) {
				return fmt.Errorf("%w: pending grant %q made by a concurrent call", ledger.ErrConflict, g.ID)
			}
			return err
		}
		if err := w.Schedule(p.Kind(), g.ID, g.MaturesAt); err != nil {
			return err
		}
		return p.emit(w, rec)
	})
	if err != nil {
		return PendingRecord{}, err
	}
	return rec, nil
}

// stepMeta is a grant's metadata on one of its transactions, with the
// step under "pending" ("grant", "released", "vetoed"), so that a reader
// of the journal tells the grant from its settlement.
func stepMeta(m map[string]string, step string) map[string]string {
	out := make(map[string]string, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	out["pending"] = step
	return out
}

func sameGrant(a, b PendingGrant) bool {
	return a.ID == b.ID && a.Member == b.Member && a.Asset == b.Asset && a.Amount.Equal(b.Amount) &&
		a.From == b.From && a.MaturesAt.Equal(b.MaturesAt) &&
		(len(a.Metadata) == 0 && len(b.Metadata) == 0 || reflect.DeepEqual(a.Metadata, b.Metadata))
}

// Lookup returns a grant's record, or ErrUnknownGrant.
func (p Pending) Lookup(r *ledger.Reader, id string) (PendingRecord, error) {
	var rec PendingRecord
	err := r.LoadJSON(p.Kind(), id, &rec)
	if errors.Is(err, ledger.ErrNotFound) {
		return rec, fmt.Errorf("%w: %q", ErrUnknownGrant, id)
	}
	return rec, err
}

// settleable loads a grant that is still pending.
func (p Pending) settleable(w *ledger.Writer, id string) (PendingRecord, error) {
	if err := p.check(); err != nil {
		return PendingRecord{}, err
	}
	rec, err := p.Lookup(&w.Reader, id)
	if err != nil {
		return rec, err
	}
	if rec.State != StatePending {
		return rec, fmt.Errorf("%w: grant %q was %s", ErrSettled, id, rec.State)
	}
	return rec, nil
}

// Veto voids a pending grant inside the caller's unit of work: the amount
// goes back from the PendingAccount to the funding account, the record
// becomes vetoed with the reason, it leaves the schedule, and
// "<program>.pending.vetoed" is emitted. A grant already settled is
// ErrSettled (with the record as it stands), one never made
// ErrUnknownGrant; neither writes anything.
func (p Pending) Veto(w *ledger.Writer, id, reason string) (PendingRecord, error) {
	rec, err := p.settleable(w, id)
	if err != nil {
		return rec, err
	}
	err = w.Atomic(func(w *ledger.Writer) error {
		t, err := w.Post(ledger.TransferRequest{Key: p.key(id, "settle"), Metadata: stepMeta(rec.Metadata, StateVetoed),
			Postings: []ledger.Posting{{From: PendingAccount(rec.Member), To: rec.From, Asset: rec.Asset, Amount: rec.Amount}}})
		if err != nil {
			return err
		}
		rec.State, rec.SettleTx, rec.SettledAt, rec.Reason = StateVetoed, t.ID, w.Now(), reason
		return p.settle(w, rec)
	})
	if err != nil {
		return PendingRecord{}, err
	}
	return rec, nil
}

// Release pays a mature pending grant to the member inside the caller's
// unit of work: Credit moves it from the PendingAccount, repaying the
// member's debt in the asset first and crediting the wallet with the rest;
// the record becomes released, it leaves the schedule, and
// "<program>.pending.released" is emitted. Before MaturesAt it is
// ErrNotMature; a grant already settled is ErrSettled, one never made
// ErrUnknownGrant; none of these writes anything.
func (p Pending) Release(w *ledger.Writer, id string) (PendingRecord, error) {
	rec, err := p.settleable(w, id)
	if err != nil {
		return rec, err
	}
	if w.Now().Before(rec.MaturesAt) {
		return rec, fmt.Errorf("%w: grant %q matures at %s", ErrNotMature, id, rec.MaturesAt.Format(time.RFC3339))
	}
	err = w.Atomic(func(w *ledger.Writer) error {
		var expires time.Time
		var breakage string
		if p.Expiry != nil {
			var err error
			if expires, breakage, err = p.Expiry(w); err != nil {
				return err
			}
		}
		c, err := Credit(w, CreditRequest{Program: p.Program, Key: p.key(id, "settle"), Member: rec.Member, Asset: rec.Asset,
			Amount: rec.Amount, From: PendingAccount(rec.Member), Wallets: p.Wallets, Metadata: stepMeta(rec.Metadata, StateReleased),
			ExpiresAt: expires, Breakage: breakage})
		if err != nil {
			return err
		}
		rec.State, rec.SettleTx, rec.SettledAt, rec.Repaid = StateReleased, c.Tx, w.Now(), c.Repaid
		return p.settle(w, rec)
	})
	if err != nil {
		return PendingRecord{}, err
	}
	return rec, nil
}

func (p Pending) settle(w *ledger.Writer, rec PendingRecord) error {
	if err := w.SaveJSON(p.Kind(), rec.ID, rec); err != nil {
		return err
	}
	if err := w.Unschedule(p.Kind(), rec.ID); err != nil {
		return err
	}
	return p.emit(w, rec)
}

// Tick items of a Pending's Tick.
const (
	// ItemPendingReleased: a grant matured and was paid; the ID is the
	// grant's.
	ItemPendingReleased = "pending.released"
)

// Tick releases every grant due at the ledger clock's now, each in a unit
// of work of its own (TickDue), and reports each as ItemPendingReleased.
// gate, if not nil, runs first in the grant's unit of work and may keep a
// grant pending (a kill switch, a risk review) by returning an error: the
// grant is then in Failed with that error, stays due, and is tried again
// by every Tick. A grant settled meanwhile (a veto) leaves the schedule
// and is not reported.
func (p Pending) Tick(ctx context.Context, l *ledger.Ledger, gate func(w *ledger.Writer, rec PendingRecord) error) (TickReport, error) {
	return TickDue(ctx, l, p.Kind(), func(w *ledger.Writer, e ledger.DueEntry) ([]string, error) {
		rec, err := p.Lookup(&w.Reader, e.ID)
		if err != nil {
			return nil, err
		}
		if rec.State != StatePending {
			return nil, w.Unschedule(p.Kind(), e.ID)
		}
		if gate != nil {
			if err := gate(w, rec); err != nil {
				return nil, err
			}
		}
		if _, err := p.Release(w, e.ID); err != nil {
			if errors.Is(err, ErrNotMature) {
				return nil, nil // the clock stepped back; it stays due
			}
			return nil, err
		}
		return []string{ItemPendingReleased}, nil
	})
}

// PendingOf sums what is pending for a member, per asset with anything
// pending (the PendingAccount's balances), for a member's view.
func PendingOf(r *ledger.Reader, member string) (map[string]decimal.Decimal, error) {
	bs, err := r.Balances(PendingAccount(member))
	if errors.Is(err, ledger.ErrUnknownAccount) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := map[string]decimal.Decimal{}
	for _, b := range bs {
		if !b.Posted.IsZero() {
			out[b.Asset] = b.Posted
		}
	}
	return out, nil
}
