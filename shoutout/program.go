package shoutout

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
)

// RevenueAccount receives the platform's share of delivered shoutouts.
const RevenueAccount = "platform:revenue"

// MemberAccount is a member's wallet, kit.WalletAccount(id), shared with
// the other programs; a fan's coins are held there while an order is open.
func MemberAccount(id string) string { return kit.WalletAccount(id) }

// EarningsAccount is the creator's earnings account, where the creator's
// share of delivered shoutouts goes: coins kept apart from the creator's
// wallet, which the creator cannot spend as a viewer. This package never
// moves them out; the integrator cashes them out with a withdrawal that
// names this account as its source (the payout program withdraws from
// the account the integrator names).
func EarningsAccount(id string) string { return "creator:" + id + ":shoutouts" }

// Record and due-index kinds.
const (
	kindOffer   = "shoutout.offer"    // id: creator
	kindOrder   = "shoutout.order"    // id: order id
	kindRequest = "shoutout.request"  // id: order id; kit.Once's record of the request
	kindEvent   = "shoutout.event"    // id: event id; kit.Once's record of the event
	dueDeadline = "shoutout.deadline" // id: order id, at its current deadline
	dueDM       = "shoutout.dm"       // id: order id, a DM still to send (the outbox)
)

// Status is where an order is in its life.
type Status string

// Order statuses. Requested, Accepted and InReview are open; the others
// are final.
const (
	StatusRequested Status = "requested" // coins held, waiting for the creator
	StatusAccepted  Status = "accepted"  // waiting for a video
	StatusInReview  Status = "in_review" // a video waits for a reviewer
	StatusDelivered Status = "delivered" // approved, sent, paid
	StatusDeclined  Status = "declined"  // the creator said no: refunded
	StatusCancelled Status = "cancelled" // the fan withdrew before acceptance: refunded
	StatusExpired   Status = "expired"   // a window passed (or the hold lapsed): refunded
	StatusRejected  Status = "rejected"  // final review rejection: refunded
)

// Open reports whether the order still waits for something.
func (s Status) Open() bool {
	return s == StatusRequested || s == StatusAccepted || s == StatusInReview
}

// Outcome is how a closed order settled.
type Outcome string

// Outcomes. An open order has none; a closed one has exactly one.
const (
	OutcomePaid     Outcome = "paid"     // hold captured: creator and platform paid
	OutcomeRefunded Outcome = "refunded" // hold voided: every coin back to the fan
)

// Order is one shoutout request and everything that happened to it.
type Order struct {
	ID      string  `json:"id"`
	Fan     string  `json:"fan"`
	Creator string  `json:"creator"`
	Price   int64   `json:"price"`
	Note    string  `json:"note,omitempty"` // what the fan asks for
	Status  Status  `json:"status"`
	Outcome Outcome `json:"outcome,omitempty"`
	Hold    uint64  `json:"hold"`
	// Terms are the rules the order was requested under; they govern it to
	// the end (see Terms). Orders stored before orders carried their terms
	// have none and follow the program's current rules.
	Terms Terms `json:"terms"`
	// Deadlines; zero until they apply.
	CreatedAt time.Time `json:"created_at"`
	AcceptBy  time.Time `json:"accept_by"`
	DeliverBy time.Time `json:"deliver_by,omitzero"`
	ReviewBy  time.Time `json:"review_by,omitzero"`
	ClosedAt  time.Time `json:"closed_at,omitzero"`
	// Why it closed as it did ("declined", "accept_window", ...).
	Reason       string `json:"reason,omitempty"`
	Video        string `json:"video,omitempty"`
	Rejections   int    `json:"rejections,omitempty"`
	RejectReason string `json:"reject_reason,omitempty"`
	// Set on delivery.
	CreatorShare  int64  `json:"creator_share,omitempty"`
	PlatformShare int64  `json:"platform_share,omitempty"`
	Capture       uint64 `json:"capture,omitempty"`
	DMSent        bool   `json:"dm_sent,omitempty"`
	DMError       string `json:"dm_error,omitempty"`
	// Replayed is set on what an event method (Request, Accept, ...)
	// returns when the call was a retry of an event already done: the
	// order is then as it was when the event ran, not as it is now, and
	// nothing was written. It is never stored.
	Replayed bool `json:"-"`
}

// deadline is the time the order's current state runs out, zero if closed.
func (o *Order) deadline() time.Time {
	switch o.Status {
	case StatusRequested:
		return o.AcceptBy
	case StatusAccepted:
		return o.DeliverBy
	case StatusInReview:
		return o.ReviewBy
	}
	return time.Time{}
}

// Offer is a creator's standing price for a shoutout.
type Offer struct {
	Creator   string    `json:"creator"`
	Price     int64     `json:"price"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Program runs the shoutout rules over a ledger. It is safe for
// concurrent use.
type Program struct {
	l         *ledger.Ledger
	rules     Rules
	members   kit.Members
	messenger Messenger
	roles     kit.Roles
	wallets   kit.WalletPolicy
	// dms is the outbox of direct messages still to send, by order ID.
	dms kit.Outbox[Order]
}

// Option configures a Program.
type Option func(*Program)

// WithRoles sets the directory that says who may review videos
// (kit.RoleReviewer). Without it nobody may approve or reject a video.
func WithRoles(r kit.Roles) Option { return func(p *Program) { p.roles = r } }

// WithWallets sets the policy members' wallets are opened with when this
// program is the first to open one; give every program the same policy.
// The default opens wallets with no overdraft.
func WithWallets(w kit.WalletPolicy) Option { return func(p *Program) { p.wallets = w } }

// The program's deadlines and message retries are Ticker work.
var _ kit.Ticker = (*Program)(nil)

// New validates rules, defines the coin asset and opens the system
// accounts (both idempotently), and returns the program. members gives
// the facts the rules read (a kit.Directory in tests and examples);
// messenger delivers approved videos.
func New(ctx context.Context, l *ledger.Ledger, rules Rules, members kit.Members, messenger Messenger, opts ...Option) (*Program, error) {
	if err := rules.Validate(); err != nil {
		return nil, err
	}
	if l == nil || members == nil || messenger == nil {
		return nil, fmt.Errorf("%w: a ledger, members and a messenger are required", ErrInvalidRules)
	}
	p := &Program{l: l, rules: rules, members: members, messenger: messenger}
	p.dms = kit.Outbox[Order]{Ledger: l, Due: dueDM, Failed: ItemMessage, Send: p.deliverDM}
	for _, o := range opts {
		o(p)
	}
	err := l.Update(ctx, func(w *ledger.Writer) error {
		if err := w.DefineAsset(ledger.Asset{Code: rules.CoinAsset}); err != nil {
			return err
		}
		if err := kit.OpenIfMissing(w, ledger.World, ledger.Overdraft{Unbounded: true}); err != nil {
			return err
		}
		return kit.OpenIfMissing(w, RevenueAccount, ledger.Overdraft{})
	})
	if err != nil {
		return nil, fail(err, "setting up the ledger")
	}
	if err := p.wallets.Check(ctx, l); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidRules, err)
	}
	return p, nil
}

// Rules returns the program's rules.
func (p *Program) Rules() Rules { return p.rules }

// now is the unit of work's time, refused outside the ledger's range.
func now(w *ledger.Writer) (time.Time, error) {
	t := w.Now()
	if err := ledger.ValidateTime("now", t); err != nil {
		return time.Time{}, err
	}
	return t, nil
}

// terms is what governs an order: its own terms, or for an order stored
// before orders carried terms, the program's rules.
func (p *Program) terms(o *Order) Terms {
	if o.Terms.AcceptWindow == 0 {
		return p.rules.Terms()
	}
	return o.Terms
}

// member looks a member up in the directory, with the unit of work's
// context.
func (p *Program) member(w *ledger.Writer, id string) (kit.Member, error) {
	return p.members.Member(w.Context(), id)
}

// oldEnough applies an age rule (rule names it, years is its value; 0 is
// no rule) to a member at now, the unit of work's time. A member whose
// birth date is unknown is refused with kit.ErrMemberFacts: never a yes.
func oldEnough(m kit.Member, role, rule string, years int, now time.Time) error {
	if years == 0 {
		return nil
	}
	ok, err := m.AtLeast(years, now)
	if err != nil {
		return ledger.Refuse(err, rule, "")
	}
	if !ok {
		return ledger.Refuse(ErrIneligible, rule, "%s %q is under %d", role, m.ID, years)
	}
	return nil
}

// creatorEligible applies min_followers and min_creator_age at now.
func (p *Program) creatorEligible(w *ledger.Writer, id string, now time.Time) error {
	m, err := p.member(w, id)
	if err != nil {
		return err
	}
	if m.Followers < p.rules.MinFollowers {
		return ledger.Refuse(ErrIneligible, "min_followers", "creator %q has %d followers, needs %d", id, m.Followers, p.rules.MinFollowers)
	}
	return oldEnough(m, "creator", "min_creator_age", p.rules.MinCreatorAge, now)
}

// SetOfferRequest opens or reprices a creator's offer.
type SetOfferRequest struct {
	// Creator sets their own offer (the actor, and the subject).
	Creator string `json:"creator"`
	// Price is in coins, within min_price..max_price.
	Price int64 `json:"price"`
}

// SetOffer opens or reprices a creator's offer. It is a setting, not an
// event: setting the price it already has changes nothing, so a retry is
// harmless. Orders already requested keep their price. The creator must
// meet min_followers and min_creator_age.
func (p *Program) SetOffer(ctx context.Context, req SetOfferRequest) (Offer, error) {
	return kit.Run(ctx, p.l, func(w *ledger.Writer) (Offer, error) { return p.SetOfferIn(w, req) })
}

// SetOfferIn is SetOffer inside the caller's unit of work w (see the
// package doc, "Units of work").
func (p *Program) SetOfferIn(w *ledger.Writer, req SetOfferRequest) (Offer, error) {
	return kit.Step(w, func(w *ledger.Writer) (Offer, error) { return p.setOfferIn(w, req) })
}

// setOfferIn is the body of SetOfferIn, run as one step.
func (p *Program) setOfferIn(w *ledger.Writer, req SetOfferRequest) (Offer, error) {
	creator, price := req.Creator, req.Price
	if err := kit.CheckID(ErrInvalidRequest, "creator", creator); err != nil {
		return Offer{}, err
	}
	if price < p.rules.MinPrice {
		return Offer{}, ledger.Refuse(ErrPriceOutOfBounds, "min_price", "%d coins, the least is %d", price, p.rules.MinPrice)
	}
	if price > p.rules.MaxPrice {
		return Offer{}, ledger.Refuse(ErrPriceOutOfBounds, "max_price", "%d coins, the most is %d", price, p.rules.MaxPrice)
	}
	t, err := now(w)
	if err != nil {
		return Offer{}, fail(err, "offer of %q", creator)
	}
	if err := p.creatorEligible(w, creator, t); err != nil {
		return Offer{}, fail(err, "offer of %q", creator)
	}
	var out Offer
	err = w.LoadJSON(kindOffer, creator, &out)
	if err == nil && out.Price == price {
		return out, nil
	}
	if err != nil && !errors.Is(err, ledger.ErrNotFound) {
		return Offer{}, fail(err, "offer of %q", creator)
	}
	out = Offer{Creator: creator, Price: price, UpdatedAt: t}
	if err := w.SaveJSON(kindOffer, creator, out); err != nil {
		return Offer{}, fail(err, "offer of %q", creator)
	}
	if err := w.Emit(EventOfferSet, creator, OfferData{Creator: creator, Price: decimal.NewFromInt(price)}); err != nil {
		return Offer{}, fail(err, "offer of %q", creator)
	}
	return out, nil
}

// WithdrawOfferRequest closes a creator's offer.
type WithdrawOfferRequest struct {
	// Creator withdraws their own offer (the actor, and the subject).
	Creator string `json:"creator"`
}

// WithdrawOffer closes a creator's offer; open orders go on. Withdrawing
// an offer that is not there is ErrNoOffer.
func (p *Program) WithdrawOffer(ctx context.Context, req WithdrawOfferRequest) error {
	return p.l.Update(ctx, func(w *ledger.Writer) error { return p.WithdrawOfferIn(w, req) })
}

// WithdrawOfferIn is WithdrawOffer inside the caller's unit of work w (see
// the package doc, "Units of work").
func (p *Program) WithdrawOfferIn(w *ledger.Writer, req WithdrawOfferRequest) error {
	return w.Atomic(func(w *ledger.Writer) error { return p.withdrawOfferIn(w, req) })
}

// withdrawOfferIn is the body of WithdrawOfferIn, run as one step.
func (p *Program) withdrawOfferIn(w *ledger.Writer, req WithdrawOfferRequest) error {
	if err := kit.CheckID(ErrInvalidRequest, "creator", req.Creator); err != nil {
		return err
	}
	var offer Offer
	if err := w.LoadJSON(kindOffer, req.Creator, &offer); err != nil {
		if errors.Is(err, ledger.ErrNotFound) {
			return fmt.Errorf("%w: creator %q has none open", ErrNoOffer, req.Creator)
		}
		return fail(err, "withdrawing offer of %q", req.Creator)
	}
	if err := w.DeleteRecord(kindOffer, req.Creator); err != nil {
		return fail(err, "withdrawing offer of %q", req.Creator)
	}
	return fail(w.Emit(EventOfferWithdrawn, req.Creator, OfferData{Creator: req.Creator, Price: decimal.NewFromInt(offer.Price)}),
		"withdrawing offer of %q", req.Creator)
}

// Offer returns a creator's open offer, or ErrNoOffer.
func (p *Program) Offer(ctx context.Context, creator string) (Offer, error) {
	if err := kit.CheckID(ErrInvalidRequest, "creator", creator); err != nil {
		return Offer{}, err
	}
	var o Offer
	err := p.l.View(ctx, func(r *ledger.Reader) error { return r.LoadJSON(kindOffer, creator, &o) })
	if errors.Is(err, ledger.ErrNotFound) {
		return Offer{}, fmt.Errorf("%w: creator %q has none open", ErrNoOffer, creator)
	}
	if err != nil {
		return Offer{}, fail(err, "offer of %q", creator)
	}
	return o, nil
}

// prefix begins every message of the package's errors.
const prefix = "shoutout: "

// fail gives an error the package prefix once. The program's own errors
// (a sentinel of errors.go with its detail, a *ledger.Refusal of one)
// already begin with it and name the order or member they are about, so
// they come back as they are; any other error (the ledger's, the kit's, a
// store's, a messenger's) is wrapped with the prefix and what was being
// done.
func fail(err error, format string, args ...any) error {
	if err == nil || strings.HasPrefix(err.Error(), prefix) {
		return err
	}
	return fmt.Errorf("%s%s: %w", prefix, fmt.Sprintf(format, args...), err)
}

// idempotency adds ErrIdempotencyConflict to a ledger idempotency
// conflict (an event or order id reused for something else).
func idempotency(err error) error {
	if errors.Is(err, ledger.ErrIdempotencyConflict) && !errors.Is(err, ErrIdempotencyConflict) {
		return fmt.Errorf("%w: %w", ErrIdempotencyConflict, err)
	}
	return err
}

// requestArgs is what a request's order id stands for.
type requestArgs struct {
	Fan     string `json:"fan"`
	Creator string `json:"creator"`
	Price   int64  `json:"price"`
	Note    string `json:"note"`
}

// RequestRequest is a fan's order of a shoutout.
type RequestRequest struct {
	// OrderID names the order and is the request's event ID.
	OrderID string `json:"order_id"`
	// Fan orders and pays (the actor).
	Fan string `json:"fan"`
	// Creator is asked for the video.
	Creator string `json:"creator"`
	// Price is the creator's offer price as the fan agreed to it, in coins.
	Price int64 `json:"price"`
	// Note is what the fan asks for, at most 1000 bytes.
	Note string `json:"note,omitempty"`
}

// Request is a fan ordering a shoutout at the creator's offer price, which
// the fan states (so a price change in between is ErrPriceChanged, not a
// surprise). The price is held on the fan's coins — not spent — until the
// order is paid or refunded; the hold expires only after every deadline
// the order can reach. The rules' Terms are copied into the order. The
// fan must meet min_fan_age, the creator min_followers and
// min_creator_age.
//
// The order ID is the request's event id: a retry with the same fields
// returns the order as it was requested, with Replayed set, before any
// member, offer or rule is looked at again; the same id with other
// fields is ErrIdempotencyConflict.
func (p *Program) Request(ctx context.Context, req RequestRequest) (Order, error) {
	return kit.Run(ctx, p.l, func(w *ledger.Writer) (Order, error) { return p.RequestIn(w, req) })
}

// RequestIn is Request inside the caller's unit of work w (see the package
// doc, "Units of work").
func (p *Program) RequestIn(w *ledger.Writer, req RequestRequest) (Order, error) {
	for _, f := range [][2]string{{"order", req.OrderID}, {"fan", req.Fan}, {"creator", req.Creator}} {
		if err := kit.CheckID(ErrInvalidRequest, f[0], f[1]); err != nil {
			return Order{}, err
		}
	}
	if len(req.Note) > 1000 {
		return Order{}, fmt.Errorf("%w: note of %d bytes, at most 1000", ErrInvalidRequest, len(req.Note))
	}
	if req.Fan == req.Creator {
		return Order{}, fmt.Errorf("%w: %q may not order a shoutout from themself", ErrIneligible, req.Fan)
	}
	args := requestArgs{Fan: req.Fan, Creator: req.Creator, Price: req.Price, Note: req.Note}
	o, replay, err := kit.Once(w, kit.Event{Kind: kindRequest, ID: req.OrderID, Op: "request", Request: args},
		func(w *ledger.Writer) (Order, error) { return p.request(w, req.OrderID, args) })
	if err != nil {
		return Order{}, fail(idempotency(err), "request %q from %q to %q", req.OrderID, req.Fan, req.Creator)
	}
	o.Replayed = replay
	return o, nil
}

// request runs a new request inside kit.Once.
func (p *Program) request(w *ledger.Writer, orderID string, a requestArgs) (Order, error) {
	t, err := now(w)
	if err != nil {
		return Order{}, err
	}
	// An order stored before requests went through kit.Once has no event
	// record: a retry of it is recognised by its arguments.
	var old Order
	if err := w.LoadJSON(kindOrder, orderID, &old); err == nil {
		if old.Fan != a.Fan || old.Creator != a.Creator || old.Price != a.Price || old.Note != a.Note {
			return Order{}, fmt.Errorf("%w: order %q is %s's order from %s at %d: %w", ErrIdempotencyConflict, orderID,
				old.Fan, old.Creator, old.Price, ledger.ErrIdempotencyConflict)
		}
		return old, nil
	} else if !errors.Is(err, ledger.ErrNotFound) {
		return Order{}, err
	}
	fm, err := p.member(w, a.Fan)
	if err != nil {
		return Order{}, err
	}
	if err := oldEnough(fm, "fan", "min_fan_age", p.rules.MinFanAge, t); err != nil {
		return Order{}, err
	}
	if err := p.creatorEligible(w, a.Creator, t); err != nil {
		return Order{}, err
	}
	var offer Offer
	if err := w.LoadJSON(kindOffer, a.Creator, &offer); err != nil {
		if errors.Is(err, ledger.ErrNotFound) {
			return Order{}, fmt.Errorf("%w: creator %q has none open", ErrNoOffer, a.Creator)
		}
		return Order{}, err
	}
	if offer.Price != a.Price {
		return Order{}, fmt.Errorf("%w: creator %q asks %d coins, the fan agreed to %d", ErrPriceChanged, a.Creator, offer.Price, a.Price)
	}
	terms := p.rules.Terms()
	acceptBy, err := ledger.AddDuration("accept_by", t, terms.AcceptWindow.D())
	if err != nil {
		return Order{}, err
	}
	expires, err := ledger.AddDuration("hold expiry", t, p.rules.holdLife())
	if err != nil {
		return Order{}, err
	}
	addr, err := kit.OpenWallet(w, p.wallets, a.Fan)
	if err != nil {
		return Order{}, err
	}
	bal, err := w.Balance(addr, p.rules.CoinAsset)
	if err != nil {
		return Order{}, err
	}
	// Checked here, not left to the ledger: a wallet with a coin overdraft
	// must still not pay a shoutout on credit.
	if bal.Available.LessThan(decimal.NewFromInt(a.Price)) {
		return Order{}, fmt.Errorf("%w: fan %q has %s %s available, the shoutout costs %d", ErrInsufficientCoins, a.Fan,
			bal.Available, p.rules.CoinAsset, a.Price)
	}
	h, err := w.Hold(ledger.HoldRequest{
		Key: "shoutout:order:" + orderID, Account: addr, Asset: p.rules.CoinAsset, Amount: decimal.NewFromInt(a.Price),
		ExpiresAt: expires, Metadata: map[string]string{"program": "shoutout", "order": orderID},
	})
	if err != nil {
		return Order{}, err
	}
	o := Order{ID: orderID, Fan: a.Fan, Creator: a.Creator, Price: a.Price, Note: a.Note, Status: StatusRequested,
		Hold: h.ID, Terms: terms, CreatedAt: t, AcceptBy: acceptBy}
	if err := w.CreateJSON(kindOrder, orderID, o); err != nil {
		return Order{}, err
	}
	if err := w.Schedule(dueDeadline, orderID, o.AcceptBy); err != nil {
		return Order{}, err
	}
	if err := emitOrder(w, EventOrderRequested, &o, a.Fan); err != nil {
		return Order{}, err
	}
	return o, nil
}

// eventArgs is what an event id stands for (with the operation).
type eventArgs struct {
	Order string `json:"order"`
	Actor string `json:"actor"`
	Arg   string `json:"arg,omitempty"`
}

// apply runs one state-machine event on an order inside the unit of work
// w, once per event id (kit.Once). The replay check comes first: a retry
// of eventID with the same operation and arguments returns the order as
// the event left it, with Replayed set, and looks at nothing else; other
// arguments are ErrIdempotencyConflict. role, if set, is the role actor
// must hold, being neither the order's creator nor its fan; it is checked
// before anything about the order is read or said.
func (p *Program) apply(w *ledger.Writer, op, eventID string, args eventArgs, role kit.Role,
	fn func(w *ledger.Writer, o *Order, now time.Time) error) (Order, error) {
	if err := kit.CheckID(ErrInvalidRequest, "event id", eventID); err != nil {
		return Order{}, err
	}
	if err := kit.CheckID(ErrInvalidRequest, "order", args.Order); err != nil {
		return Order{}, err
	}
	o, replay, err := kit.Once(w, kit.Event{Kind: kindEvent, ID: eventID, Op: op, Request: args},
		func(w *ledger.Writer) (Order, error) {
			t, err := now(w)
			if err != nil {
				return Order{}, err
			}
			if role != "" {
				if err := kit.Authorize(w.Context(), p.roles, args.Actor, role); err != nil {
					return Order{}, err
				}
			}
			var o Order
			if err := w.LoadJSON(kindOrder, args.Order, &o); err != nil {
				if errors.Is(err, ledger.ErrNotFound) {
					return Order{}, fmt.Errorf("%w: order %q", ErrNotFound, args.Order)
				}
				return Order{}, err
			}
			if role != "" {
				if err := kit.Authorize(w.Context(), p.roles, args.Actor, role, o.Creator, o.Fan); err != nil {
					return Order{}, err
				}
			}
			if err := fn(w, &o, t); err != nil {
				return Order{}, err
			}
			if err := schedule(w, &o); err != nil {
				return Order{}, err
			}
			if err := w.SaveJSON(kindOrder, o.ID, o); err != nil {
				return Order{}, err
			}
			return o, emitChange(w, op, args.Actor, &o)
		})
	if err != nil {
		return Order{}, fail(idempotency(err), "%s on order %q", op, args.Order)
	}
	o.Replayed = replay
	return o, nil
}

// schedule keeps the order's entry in the due index at its current
// deadline, or removes it once the order is closed.
func schedule(w *ledger.Writer, o *Order) error {
	if d := o.deadline(); !d.IsZero() {
		return w.Schedule(dueDeadline, o.ID, d)
	}
	return w.Unschedule(dueDeadline, o.ID)
}

// windows names the rule whose window runs in each open state.
var windows = map[Status]string{StatusRequested: "accept_window", StatusAccepted: "delivery_window", StatusInReview: "review_window"}

// inState checks the order's state and that its window is still open.
func inState(now time.Time, o *Order, action string, want Status) error {
	if o.Status != want {
		return fmt.Errorf("%w: %s needs order %q %s, it is %s", ErrWrongState, action, o.ID, want, o.Status)
	}
	if d := o.deadline(); !now.Before(d) {
		return ledger.Refuse(ErrDeadlinePassed, windows[o.Status], "%s of order %q: the window closed at %s", action, o.ID, d.Format(time.RFC3339))
	}
	return nil
}

// refund voids the order's hold (every coin back to the fan) and closes
// it. Voiding is safe on a hold whose expiry has passed, swept or not:
// the ledger releases it either way.
func refund(w *ledger.Writer, o *Order, now time.Time, status Status, reason string) error {
	if _, err := w.Void(o.Hold); err != nil {
		return err
	}
	o.Status, o.Outcome, o.Reason, o.ClosedAt = status, OutcomeRefunded, reason, now
	return nil
}

func notCreator(o *Order, who string) error {
	if o.Creator != who {
		return fmt.Errorf("%w: %q is not the creator of order %q", ErrNotParty, who, o.ID)
	}
	return nil
}

// AcceptRequest is the creator taking an order.
type AcceptRequest struct {
	// EventID makes the event idempotent: a retry replays its result.
	EventID string `json:"event_id"`
	// Actor is the order's creator.
	Actor string `json:"actor"`
	// OrderID is the order accepted.
	OrderID string `json:"order_id"`
}

// Accept is the creator taking the order, within the accept window. The
// delivery window starts now.
func (p *Program) Accept(ctx context.Context, req AcceptRequest) (Order, error) {
	return kit.Run(ctx, p.l, func(w *ledger.Writer) (Order, error) { return p.AcceptIn(w, req) })
}

// AcceptIn is Accept inside the caller's unit of work w (see the package
// doc, "Units of work").
func (p *Program) AcceptIn(w *ledger.Writer, req AcceptRequest) (Order, error) {
	creator := req.Actor
	return p.apply(w, "accept", req.EventID, eventArgs{Order: req.OrderID, Actor: creator}, "", func(w *ledger.Writer, o *Order, now time.Time) error {
		if err := notCreator(o, creator); err != nil {
			return err
		}
		if err := inState(now, o, "accept", StatusRequested); err != nil {
			return err
		}
		by, err := ledger.AddDuration("deliver_by", now, p.terms(o).DeliveryWindow.D())
		if err != nil {
			return err
		}
		o.Status, o.DeliverBy = StatusAccepted, by
		return nil
	})
}

// DeclineRequest is the creator refusing an order.
type DeclineRequest struct {
	// EventID makes the event idempotent: a retry replays its result.
	EventID string `json:"event_id"`
	// Actor is the order's creator.
	Actor string `json:"actor"`
	// OrderID is the order declined.
	OrderID string `json:"order_id"`
}

// Decline is the creator refusing the order: the fan gets every coin back.
func (p *Program) Decline(ctx context.Context, req DeclineRequest) (Order, error) {
	return kit.Run(ctx, p.l, func(w *ledger.Writer) (Order, error) { return p.DeclineIn(w, req) })
}

// DeclineIn is Decline inside the caller's unit of work w (see the package
// doc, "Units of work").
func (p *Program) DeclineIn(w *ledger.Writer, req DeclineRequest) (Order, error) {
	creator := req.Actor
	return p.apply(w, "decline", req.EventID, eventArgs{Order: req.OrderID, Actor: creator}, "", func(w *ledger.Writer, o *Order, now time.Time) error {
		if err := notCreator(o, creator); err != nil {
			return err
		}
		if err := inState(now, o, "decline", StatusRequested); err != nil {
			return err
		}
		return refund(w, o, now, StatusDeclined, "declined")
	})
}

// CancelRequest is the fan withdrawing an order.
type CancelRequest struct {
	// EventID makes the event idempotent: a retry replays its result.
	EventID string `json:"event_id"`
	// Actor is the order's fan.
	Actor string `json:"actor"`
	// OrderID is the order cancelled.
	OrderID string `json:"order_id"`
}

// Cancel is the fan withdrawing the order before the creator accepts it:
// every coin comes back.
func (p *Program) Cancel(ctx context.Context, req CancelRequest) (Order, error) {
	return kit.Run(ctx, p.l, func(w *ledger.Writer) (Order, error) { return p.CancelIn(w, req) })
}

// CancelIn is Cancel inside the caller's unit of work w (see the package
// doc, "Units of work").
func (p *Program) CancelIn(w *ledger.Writer, req CancelRequest) (Order, error) {
	fan := req.Actor
	return p.apply(w, "cancel", req.EventID, eventArgs{Order: req.OrderID, Actor: fan}, "", func(w *ledger.Writer, o *Order, now time.Time) error {
		if o.Fan != fan {
			return fmt.Errorf("%w: %q is not the fan of order %q", ErrNotParty, fan, o.ID)
		}
		if err := inState(now, o, "cancel", StatusRequested); err != nil {
			return err
		}
		return refund(w, o, now, StatusCancelled, "cancelled")
	})
}

// SubmitRequest is the creator handing in a video for an order.
type SubmitRequest struct {
	// EventID makes the event idempotent: a retry replays its result.
	EventID string `json:"event_id"`
	// Actor is the order's creator.
	Actor string `json:"actor"`
	// OrderID is the order the video is for.
	OrderID string `json:"order_id"`
	// Video is a reference to the video (1 to 1000 bytes), which the
	// direct message carries once the video is approved.
	Video string `json:"video"`
}

// Submit is the creator handing in a video, within the delivery window of
// accepting; it goes to review, which has the review window.
func (p *Program) Submit(ctx context.Context, req SubmitRequest) (Order, error) {
	return kit.Run(ctx, p.l, func(w *ledger.Writer) (Order, error) { return p.SubmitIn(w, req) })
}

// SubmitIn is Submit inside the caller's unit of work w (see the package
// doc, "Units of work").
func (p *Program) SubmitIn(w *ledger.Writer, req SubmitRequest) (Order, error) {
	creator, video := req.Actor, req.Video
	if video == "" || len(video) > 1000 {
		return Order{}, fmt.Errorf("%w: video reference of %d bytes, want 1 to 1000", ErrInvalidRequest, len(video))
	}
	return p.apply(w, "submit", req.EventID, eventArgs{Order: req.OrderID, Actor: creator, Arg: video}, "", func(w *ledger.Writer, o *Order, now time.Time) error {
		if err := notCreator(o, creator); err != nil {
			return err
		}
		if err := inState(now, o, "submit", StatusAccepted); err != nil {
			return err
		}
		by, err := ledger.AddDuration("review_by", now, p.terms(o).ReviewWindow.D())
		if err != nil {
			return err
		}
		o.Status, o.Video, o.ReviewBy = StatusInReview, video, by
		return nil
	})
}

// ApproveRequest is a reviewer passing an order's video.
type ApproveRequest struct {
	// EventID makes the event idempotent: a retry replays its result.
	EventID string `json:"event_id"`
	// Actor is the reviewer: they must hold kit.RoleReviewer and be
	// neither the order's creator nor its fan.
	Actor string `json:"actor"`
	// OrderID is the order approved.
	OrderID string `json:"order_id"`
}

// Approve is a reviewer passing the video. The reviewer must hold
// kit.RoleReviewer in the program's roles (WithRoles) and be neither the
// order's creator nor its fan; anyone else is refused with
// ledger.ErrForbidden and nothing is written.
//
// The hold is captured — the creator's share to EarningsAccount, the
// platform's to RevenueAccount, split by the order's terms — and the order
// is delivered. The direct message goes out after the unit of work
// commits (see the package doc): Approve sends it as soon as its unit of
// work has committed; a failed send is kept in DMError and retried by
// Tick, and never undoes or repeats the payment. A replay returns the
// order as the approval left it and sends nothing (Tick does).
//
// If the order's hold has lapsed (possible only for an order stored
// before orders carried their terms, whose windows were later
// lengthened), the approval cannot pay: the hold is voided in the same
// unit of work and the order is refunded (StatusExpired, reason
// "hold_expired"), which Approve returns without error; check Outcome.
// Likewise if a chargeback took the escrowed coins (gifting's Chargeback
// reaches held coins): the empty hold is voided and the order closes
// unpaid (StatusExpired, reason "hold_unfunded").
func (p *Program) Approve(ctx context.Context, req ApproveRequest) (Order, error) {
	o, err := kit.Run(ctx, p.l, func(w *ledger.Writer) (Order, error) { return p.ApproveIn(w, req) })
	if err != nil {
		return Order{}, err
	}
	if !o.Replayed && o.Status == StatusDelivered && !o.DMSent {
		// A failed send is in the order's DMError and stays in the
		// outbox, for Tick; an order the attempt could not even read is
		// returned as the approval left it.
		if sent, _ := p.dms.Deliver(ctx, o.ID); sent.ID == o.ID {
			o = sent
		}
	}
	return o, nil
}

// ApproveIn is Approve inside the caller's unit of work w (see the package
// doc, "Units of work"). It pays, and records the direct message in the
// program's outbox (kit.Outbox) in w, but sends nothing: a message sent
// from a unit of work that then rolls back, or runs again, would deliver
// a video nobody paid for, or deliver it twice. Once w commits, the next
// Tick sends it (once: the message ID is the order ID), as it retries any
// failed send; if w rolls back, the outbox record goes with the payment.
func (p *Program) ApproveIn(w *ledger.Writer, req ApproveRequest) (Order, error) {
	return p.apply(w, "approve", req.EventID, eventArgs{Order: req.OrderID, Actor: req.Actor}, kit.RoleReviewer,
		func(w *ledger.Writer, o *Order, now time.Time) error {
			if err := inState(now, o, "approve", StatusInReview); err != nil {
				return err
			}
			creator, platform := p.terms(o).split(o.Price)
			var legs []ledger.Leg
			if creator > 0 {
				if err := kit.OpenIfMissing(w, EarningsAccount(o.Creator), ledger.Overdraft{}); err != nil {
					return err
				}
				legs = append(legs, ledger.Leg{To: EarningsAccount(o.Creator), Amount: decimal.NewFromInt(creator)})
			}
			if platform > 0 {
				legs = append(legs, ledger.Leg{To: RevenueAccount, Amount: decimal.NewFromInt(platform)})
			}
			// A chargeback that reached the escrow (a transfer with
			// IncludeHeld) leaves the fan's wallet with less posted than
			// held: the hold has no coins behind it, and capturing it would
			// pay the creator out of the wallet's overdraft, which is room
			// for chargebacks, never credit (kit.WalletPolicy).
			funded, err := kit.HoldsFunded(&w.Reader, MemberAccount(o.Fan), p.rules.CoinAsset)
			if err != nil {
				return err
			}
			var t ledger.Transaction
			if funded {
				t, err = w.Capture(ledger.CaptureRequest{Key: "shoutout:order:" + o.ID + ":capture", Hold: o.Hold, Destinations: legs, Final: true,
					Metadata: map[string]string{"program": "shoutout", "order": o.ID}})
			} else {
				err = fmt.Errorf("%w: the coins held for order %q were charged back", ledger.ErrInsufficientFunds, o.ID)
			}
			reason := ""
			switch {
			case errors.Is(err, ledger.ErrHoldExpired) || errors.Is(err, ledger.ErrHoldClosed):
				// The hold lapsed before the program acted (swept by the
				// ledger's Tick or not): get the coins back to the fan now,
				// rather than leave an order that can never be paid.
				reason = "hold_expired"
			case errors.Is(err, ledger.ErrInsufficientFunds):
				// A chargeback took the escrowed coins (a transfer with
				// IncludeHeld): nothing is left to pay the creator with, so
				// the order closes unpaid and the empty hold is voided.
				reason = "hold_unfunded"
			}
			if reason != "" {
				if verr := refund(w, o, now, StatusExpired, reason); verr != nil {
					return fmt.Errorf("%w (and voiding it: %w)", err, verr)
				}
				return nil
			}
			if err != nil {
				return err
			}
			o.Status, o.Outcome, o.Reason, o.ClosedAt = StatusDelivered, OutcomePaid, "approved", now
			o.CreatorShare, o.PlatformShare, o.Capture = creator, platform, t.ID
			return p.dms.Put(w, o.ID, now)
		})
}

// RejectRequest is a reviewer refusing an order's video.
type RejectRequest struct {
	// EventID makes the event idempotent: a retry replays its result.
	EventID string `json:"event_id"`
	// Actor is the reviewer, checked as for Approve.
	Actor string `json:"actor"`
	// OrderID is the order whose video is rejected.
	OrderID string `json:"order_id"`
	// Reason tells the creator why, at most 1000 bytes.
	Reason string `json:"reason,omitempty"`
}

// Reject is a reviewer refusing the video; the reviewer is checked as for
// Approve. The creator may submit a new one within the delivery window as
// long as the order has had no more than max_resubmissions rejections;
// after that, or once the delivery window has closed, the rejection is
// final and the fan gets every coin back.
func (p *Program) Reject(ctx context.Context, req RejectRequest) (Order, error) {
	return kit.Run(ctx, p.l, func(w *ledger.Writer) (Order, error) { return p.RejectIn(w, req) })
}

// RejectIn is Reject inside the caller's unit of work w (see the package
// doc, "Units of work").
func (p *Program) RejectIn(w *ledger.Writer, req RejectRequest) (Order, error) {
	reason := req.Reason
	if len(reason) > 1000 {
		return Order{}, fmt.Errorf("%w: reason of %d bytes, at most 1000", ErrInvalidRequest, len(reason))
	}
	return p.apply(w, "reject", req.EventID, eventArgs{Order: req.OrderID, Actor: req.Actor, Arg: reason}, kit.RoleReviewer,
		func(w *ledger.Writer, o *Order, now time.Time) error {
			if err := inState(now, o, "reject", StatusInReview); err != nil {
				return err
			}
			o.Rejections++ // at most max_resubmissions+1 (<= 101): the order closes then
			o.RejectReason = reason
			if o.Rejections > p.terms(o).MaxResubmissions || !now.Before(o.DeliverBy) {
				return refund(w, o, now, StatusRejected, "rejected")
			}
			o.Status, o.ReviewBy = StatusAccepted, time.Time{}
			return nil
		})
}

// deliverDM is the outbox's delivery of the direct message of an order
// (kit.Outbox.Send), called outside any unit of work, by Approve after its
// commit and by Tick for every message still due. An order whose message
// is recorded sent has nothing left to do; one that is gone is
// kit.ErrGone, and its entry is dropped.
func (p *Program) deliverDM(ctx context.Context, orderID string) (Order, string, error) {
	o, err := p.Order(ctx, orderID)
	if errors.Is(err, ErrNotFound) {
		return Order{}, "", fmt.Errorf("%w: %w", err, kit.ErrGone)
	}
	if err != nil || o.DMSent {
		return o, "", err
	}
	sent, recorded, err := p.sendDM(ctx, o)
	if err != nil || !recorded {
		return sent, "", err
	}
	return sent, ItemMessageSent, nil
}

// sendDM delivers an approved video, then records that it was sent and
// takes it off the outbox. The message id is the order id, so a repeat
// after a crash between the two steps, or by two Ticks at once, is
// harmless: recorded says whether this call recorded it (false when
// another had). Nothing here touches money: the payment committed before,
// and a failed send or a failed record of it neither undoes nor repeats
// it.
func (p *Program) sendDM(ctx context.Context, o Order) (out Order, recorded bool, err error) {
	msg := Message{ID: o.ID, From: o.Creator, To: o.Fan, Video: o.Video, Text: "Your shoutout from " + o.Creator}
	sendErr := p.messenger.Send(ctx, msg)
	err = p.l.Update(ctx, func(w *ledger.Writer) error {
		recorded = false
		if err := w.LoadJSON(kindOrder, o.ID, &out); err != nil {
			return err
		}
		if out.DMSent {
			return nil
		}
		if sendErr != nil {
			out.DMError = sendErr.Error()
		} else {
			out.DMSent, out.DMError, recorded = true, "", true
			if err := p.dms.Done(w, o.ID); err != nil {
				return err
			}
			if err := emitOrder(w, EventOrderDelivered, &out, ""); err != nil {
				return err
			}
		}
		return w.SaveJSON(kindOrder, o.ID, out)
	})
	if sendErr != nil {
		if err != nil {
			return o, false, fail(fmt.Errorf("%w (and recording it: %w)", sendErr, err), "sending order %q", o.ID)
		}
		return out, false, fail(sendErr, "sending order %q", o.ID)
	}
	if err != nil {
		return o, false, fail(err, "recording the DM of order %q", o.ID)
	}
	return out, recorded, nil
}

// Order returns an order by id, as it is now.
func (p *Program) Order(ctx context.Context, orderID string) (Order, error) {
	if err := kit.CheckID(ErrInvalidRequest, "order", orderID); err != nil {
		return Order{}, err
	}
	var o Order
	err := p.l.View(ctx, func(r *ledger.Reader) error { return r.LoadJSON(kindOrder, orderID, &o) })
	if errors.Is(err, ledger.ErrNotFound) {
		return Order{}, fmt.Errorf("%w: order %q", ErrNotFound, orderID)
	}
	if err != nil {
		return Order{}, fail(err, "order %q", orderID)
	}
	return o, nil
}

// Kinds of the items Tick reports (kit.TickReport). Done items, by order
// ID:
const (
	// ItemRefunded: an open order whose window closed was refunded in full
	// (StatusExpired).
	ItemRefunded = "shoutout.refunded"
	// ItemMessageSent: a direct message waiting in the outbox (its send
	// failed, or its order was approved with ApproveIn) was sent.
	ItemMessageSent = "shoutout.dm_sent"
)

// Kinds of the items Tick could not handle (kit.TickReport.Failed), by
// order ID. Each stays due and a later Tick tries it again (a failed
// message once kit.DefaultOutboxRetry has passed).
const (
	// ItemDeadline: closing an order whose window passed failed; its
	// writes were undone.
	ItemDeadline = "shoutout.deadline"
	// ItemMessage: sending a direct message failed again (the order keeps
	// the cause in DMError).
	ItemMessage = "shoutout.dm"
)

// Tick does what time makes happen, at the ledger clock's now. Every open
// order whose window has closed — no answer within the accept window, no
// video within the delivery window, no review within the review window —
// is refunded in full, each order in a unit of work of its own
// (ItemRefunded): an order that cannot be closed is reported in Failed
// (ItemDeadline) with its ID and the others go on. Tick then sends the
// direct messages waiting in the outbox (kit.Outbox.Drain), one by one
// (ItemMessageSent; failures as ItemMessage, left in the outbox). It does not tick the ledger (the scheduler
// that runs the programs does, once). It returns an error only when the
// run as a whole failed (the store, the context, a clock outside the
// ledger's time range). Running it twice at the same time changes nothing
// the second time.
func (p *Program) Tick(ctx context.Context) (kit.TickReport, error) {
	var rep kit.TickReport
	t := p.l.Clock().Now()
	if err := ledger.ValidateTime("tick time", t); err != nil {
		return rep, fail(err, "tick")
	}
	// Only refunds whose batch committed are reported (kit.EachDueDo).
	_, failed, err := kit.EachDueDo(ctx, p.l, dueDeadline, t, func(w *ledger.Writer, e ledger.DueEntry) (bool, error) {
		var o Order
		if err := w.LoadJSON(kindOrder, e.ID, &o); err != nil {
			if errors.Is(err, ledger.ErrNotFound) {
				return false, w.Unschedule(dueDeadline, e.ID)
			}
			return false, err
		}
		wt, err := now(w)
		if err != nil {
			return false, err
		}
		refunded := false
		if dl := o.deadline(); !dl.IsZero() && !wt.Before(dl) {
			if err := refund(w, &o, wt, StatusExpired, windows[o.Status]); err != nil {
				return false, err
			}
			if err := w.SaveJSON(kindOrder, o.ID, o); err != nil {
				return false, err
			}
			if err := emitOrder(w, EventOrderExpired, &o, ""); err != nil {
				return false, err
			}
			if err := emitOrder(w, EventOrderRefunded, &o, ""); err != nil {
				return false, err
			}
			refunded = true
		}
		// Closed orders leave the index; an entry that was early moves to
		// the order's real deadline.
		return refunded, schedule(w, &o)
	}, func(e ledger.DueEntry, refunded bool) {
		if refunded {
			rep.Add(ItemRefunded, e.ID)
		}
	})
	for _, f := range failed {
		rep.Failed = append(rep.Failed, kit.ItemError{Kind: ItemDeadline, ID: f.ID, Err: fail(f.Err, "closing order %q", f.ID)})
	}
	if err != nil {
		return rep, fail(err, "tick")
	}
	if err := p.dms.Drain(ctx, t, &rep); err != nil {
		return rep, fail(err, "tick")
	}
	return rep, nil
}
