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
	dueDM       = "shoutout.dm"       // id: order id, a DM still to send
	dmBatch     = 100
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

// Program runs the shoutout rules over a ledger.
type Program struct {
	l         *ledger.Ledger
	rules     Rules
	members   Members
	messenger Messenger
	roles     kit.Roles
	wallets   kit.WalletPolicy
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

// New validates rules, defines the coin asset and opens the system
// accounts (both idempotently), and returns the program. messenger
// delivers approved videos.
func New(ctx context.Context, l *ledger.Ledger, rules Rules, members Members, messenger Messenger, opts ...Option) (*Program, error) {
	if err := rules.Validate(); err != nil {
		return nil, err
	}
	if l == nil || members == nil || messenger == nil {
		return nil, fmt.Errorf("%w: a ledger, members and a messenger are required", ErrInvalidRules)
	}
	p := &Program{l: l, rules: rules, members: members, messenger: messenger}
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

func (p *Program) member(ctx context.Context, id string) (Member, error) {
	m, err := p.members.Member(ctx, id)
	if err != nil {
		return Member{}, fmt.Errorf("member %q: %w", id, err)
	}
	return m, nil
}

// creatorEligible applies min_followers and min_creator_age.
func (p *Program) creatorEligible(ctx context.Context, id string) error {
	m, err := p.member(ctx, id)
	if err != nil {
		return err
	}
	if m.Followers < p.rules.MinFollowers {
		return fmt.Errorf("%w: min_followers: creator %q has %d followers, needs %d", ErrIneligible, id, m.Followers, p.rules.MinFollowers)
	}
	if m.Age < p.rules.MinCreatorAge {
		return fmt.Errorf("%w: min_creator_age: creator %q is %d, must be %d", ErrIneligible, id, m.Age, p.rules.MinCreatorAge)
	}
	return nil
}

// SetOffer opens or reprices a creator's offer. It is a setting, not an
// event: setting the price it already has changes nothing, so a retry is
// harmless. Orders already requested keep their price.
func (p *Program) SetOffer(ctx context.Context, creator string, price int64) (Offer, error) {
	if !validID(creator) {
		return Offer{}, fmt.Errorf("%w: creator %q", ErrInvalidRequest, creator)
	}
	if price < p.rules.MinPrice || price > p.rules.MaxPrice {
		return Offer{}, fmt.Errorf("%w: min_price/max_price: %d coins not in %d..%d", ErrPriceOutOfBounds, price, p.rules.MinPrice, p.rules.MaxPrice)
	}
	if err := p.creatorEligible(ctx, creator); err != nil {
		return Offer{}, fail(err, "offer of %q", creator)
	}
	var out Offer
	err := p.l.Update(ctx, func(w *ledger.Writer) error {
		t, err := now(w)
		if err != nil {
			return err
		}
		err = w.LoadJSON(kindOffer, creator, &out)
		if err == nil && out.Price == price {
			return nil
		}
		if err != nil && !errors.Is(err, ledger.ErrNotFound) {
			return err
		}
		out = Offer{Creator: creator, Price: price, UpdatedAt: t}
		return w.SaveJSON(kindOffer, creator, out)
	})
	if err != nil {
		return Offer{}, fail(err, "offer of %q", creator)
	}
	return out, nil
}

// WithdrawOffer closes a creator's offer; open orders go on. Withdrawing
// an offer that is not there is ErrNoOffer.
func (p *Program) WithdrawOffer(ctx context.Context, creator string) error {
	if !validID(creator) {
		return fmt.Errorf("%w: creator %q", ErrInvalidRequest, creator)
	}
	err := p.l.Update(ctx, func(w *ledger.Writer) error {
		if _, err := w.Record(kindOffer, creator); err != nil {
			if errors.Is(err, ledger.ErrNotFound) {
				return fmt.Errorf("%w: creator %q", ErrNoOffer, creator)
			}
			return err
		}
		return w.DeleteRecord(kindOffer, creator)
	})
	if err != nil {
		return fail(err, "withdrawing offer of %q", creator)
	}
	return nil
}

// Offer returns a creator's open offer, or ErrNoOffer.
func (p *Program) Offer(ctx context.Context, creator string) (Offer, error) {
	if !validID(creator) {
		return Offer{}, fmt.Errorf("%w: creator %q", ErrInvalidRequest, creator)
	}
	var o Offer
	err := p.l.View(ctx, func(r *ledger.Reader) error { return r.LoadJSON(kindOffer, creator, &o) })
	if errors.Is(err, ledger.ErrNotFound) {
		return Offer{}, fmt.Errorf("%w: creator %q", ErrNoOffer, creator)
	}
	if err != nil {
		return Offer{}, fail(err, "offer of %q", creator)
	}
	return o, nil
}

// fail adds context to err, with the package prefix unless err's message
// has it already (a shoutout sentinel), so that it appears once.
func fail(err error, format string, args ...any) error {
	what := fmt.Sprintf(format, args...)
	if strings.Contains(err.Error(), "shoutout: ") {
		return fmt.Errorf("%s: %w", what, err)
	}
	return fmt.Errorf("shoutout: %s: %w", what, err)
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

// Request is a fan ordering a shoutout at the creator's offer price, which
// the fan states (so a price change in between is ErrPriceChanged, not a
// surprise). The price is held on the fan's coins — not spent — until the
// order is paid or refunded; the hold expires only after every deadline
// the order can reach. The rules' Terms are copied into the order.
//
// orderID is the request's event id: a retry with the same arguments
// returns the order as it was requested, with Replayed set, before any
// member, offer or rule is looked at again; the same id with other
// arguments is ErrIdempotencyConflict.
func (p *Program) Request(ctx context.Context, orderID, fan, creator string, price int64, note string) (Order, error) {
	if !validID(orderID) || !validID(fan) || !validID(creator) {
		return Order{}, fmt.Errorf("%w: order %q, fan %q and creator %q must be ids", ErrInvalidRequest, orderID, fan, creator)
	}
	if len(note) > 1000 {
		return Order{}, fmt.Errorf("%w: note of %d bytes, at most 1000", ErrInvalidRequest, len(note))
	}
	if fan == creator {
		return Order{}, fmt.Errorf("%w: %q may not order a shoutout from themself", ErrIneligible, fan)
	}
	args := requestArgs{Fan: fan, Creator: creator, Price: price, Note: note}
	o, replay, err := kit.RunOnce(ctx, p.l, kit.Event{Kind: kindRequest, ID: orderID, Op: "request", Request: args},
		func(w *ledger.Writer) (Order, error) { return p.request(ctx, w, orderID, args) })
	if err != nil {
		return Order{}, fail(idempotency(err), "request %q from %q to %q", orderID, fan, creator)
	}
	o.Replayed = replay
	return o, nil
}

// request runs a new request inside kit.Once.
func (p *Program) request(ctx context.Context, w *ledger.Writer, orderID string, a requestArgs) (Order, error) {
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
	fm, err := p.member(ctx, a.Fan)
	if err != nil {
		return Order{}, err
	}
	if fm.Age < p.rules.MinFanAge {
		return Order{}, fmt.Errorf("%w: min_fan_age: fan %q is %d, must be %d", ErrIneligible, a.Fan, fm.Age, p.rules.MinFanAge)
	}
	if err := p.creatorEligible(ctx, a.Creator); err != nil {
		return Order{}, err
	}
	var offer Offer
	if err := w.LoadJSON(kindOffer, a.Creator, &offer); err != nil {
		if errors.Is(err, ledger.ErrNotFound) {
			return Order{}, fmt.Errorf("%w: creator %q", ErrNoOffer, a.Creator)
		}
		return Order{}, err
	}
	if offer.Price != a.Price {
		return Order{}, fmt.Errorf("%w: creator %q asks %d coins, the fan agreed to %d", ErrPriceChanged, a.Creator, offer.Price, a.Price)
	}
	terms := p.rules.Terms()
	acceptBy, err := ledger.AddDuration("accept_by", t, time.Duration(terms.AcceptWindow))
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
	return o, nil
}

// eventArgs is what an event id stands for (with the operation).
type eventArgs struct {
	Order string `json:"order"`
	Actor string `json:"actor"`
	Arg   string `json:"arg,omitempty"`
}

// apply runs one state-machine event on an order in one unit of work,
// once per event id (kit.Once). The replay check comes first: a retry of
// eventID with the same operation and arguments returns the order as the
// event left it, with Replayed set, and looks at nothing else; other
// arguments are ErrIdempotencyConflict. role, if set, is the role actor
// must hold, being neither the order's creator nor its fan; it is checked
// before anything about the order is read or said.
func (p *Program) apply(ctx context.Context, op, eventID string, args eventArgs, role kit.Role,
	fn func(w *ledger.Writer, o *Order, now time.Time) error) (Order, error) {
	if !validID(eventID) || !validID(args.Order) {
		return Order{}, fmt.Errorf("%w: event %q and order %q must be ids", ErrInvalidRequest, eventID, args.Order)
	}
	o, replay, err := kit.RunOnce(ctx, p.l, kit.Event{Kind: kindEvent, ID: eventID, Op: op, Request: args},
		func(w *ledger.Writer) (Order, error) {
			t, err := now(w)
			if err != nil {
				return Order{}, err
			}
			if role != "" {
				if err := kit.Authorize(ctx, p.roles, args.Actor, role); err != nil {
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
				if err := kit.Authorize(ctx, p.roles, args.Actor, role, o.Creator, o.Fan); err != nil {
					return Order{}, err
				}
			}
			if err := fn(w, &o, t); err != nil {
				return Order{}, err
			}
			if err := schedule(w, &o); err != nil {
				return Order{}, err
			}
			return o, w.SaveJSON(kindOrder, o.ID, o)
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

// inState checks the order's state and that its window is still open.
func inState(now time.Time, o *Order, action string, want Status) error {
	if o.Status != want {
		return fmt.Errorf("%w: %s needs the order %s, it is %s", ErrWrongState, action, want, o.Status)
	}
	if d := o.deadline(); !now.Before(d) {
		return fmt.Errorf("%w: %s: the window closed at %s", ErrDeadlinePassed, action, d.Format(time.RFC3339))
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

// Accept is the creator taking the order, within the accept window. The
// delivery window starts now.
func (p *Program) Accept(ctx context.Context, eventID, orderID, creator string) (Order, error) {
	return p.apply(ctx, "accept", eventID, eventArgs{Order: orderID, Actor: creator}, "", func(w *ledger.Writer, o *Order, now time.Time) error {
		if err := notCreator(o, creator); err != nil {
			return err
		}
		if err := inState(now, o, "accept", StatusRequested); err != nil {
			return err
		}
		by, err := ledger.AddDuration("deliver_by", now, time.Duration(p.terms(o).DeliveryWindow))
		if err != nil {
			return err
		}
		o.Status, o.DeliverBy = StatusAccepted, by
		return nil
	})
}

// Decline is the creator refusing the order: the fan gets every coin back.
func (p *Program) Decline(ctx context.Context, eventID, orderID, creator string) (Order, error) {
	return p.apply(ctx, "decline", eventID, eventArgs{Order: orderID, Actor: creator}, "", func(w *ledger.Writer, o *Order, now time.Time) error {
		if err := notCreator(o, creator); err != nil {
			return err
		}
		if err := inState(now, o, "decline", StatusRequested); err != nil {
			return err
		}
		return refund(w, o, now, StatusDeclined, "declined")
	})
}

// Cancel is the fan withdrawing the order before the creator accepts it:
// every coin comes back.
func (p *Program) Cancel(ctx context.Context, eventID, orderID, fan string) (Order, error) {
	return p.apply(ctx, "cancel", eventID, eventArgs{Order: orderID, Actor: fan}, "", func(w *ledger.Writer, o *Order, now time.Time) error {
		if o.Fan != fan {
			return fmt.Errorf("%w: %q is not the fan of order %q", ErrNotParty, fan, o.ID)
		}
		if err := inState(now, o, "cancel", StatusRequested); err != nil {
			return err
		}
		return refund(w, o, now, StatusCancelled, "cancelled")
	})
}

// Submit is the creator handing in a video, within the delivery window of
// accepting; it goes to review, which has the review window.
func (p *Program) Submit(ctx context.Context, eventID, orderID, creator, video string) (Order, error) {
	if video == "" || len(video) > 1000 {
		return Order{}, fmt.Errorf("%w: video reference of %d bytes, want 1 to 1000", ErrInvalidRequest, len(video))
	}
	return p.apply(ctx, "submit", eventID, eventArgs{Order: orderID, Actor: creator, Arg: video}, "", func(w *ledger.Writer, o *Order, now time.Time) error {
		if err := notCreator(o, creator); err != nil {
			return err
		}
		if err := inState(now, o, "submit", StatusAccepted); err != nil {
			return err
		}
		by, err := ledger.AddDuration("review_by", now, time.Duration(p.terms(o).ReviewWindow))
		if err != nil {
			return err
		}
		o.Status, o.Video, o.ReviewBy = StatusInReview, video, by
		return nil
	})
}

// Approve is a reviewer passing the video. The reviewer must hold
// kit.RoleReviewer in the program's roles (WithRoles) and be neither the
// order's creator nor its fan; anyone else is refused with
// ledger.ErrForbidden and nothing is written.
//
// The hold is captured — the creator's share to EarningsAccount, the
// platform's to RevenueAccount, split by the order's terms — and the order
// is delivered. The direct message goes out after the unit of work
// commits (see the package doc); a failed send is kept in DMError and
// retried by Tick, and never undoes or repeats the payment. A replay
// returns the order as the approval left it and sends nothing (Tick does).
//
// If the order's hold has lapsed (possible only for an order stored
// before orders carried their terms, whose windows were later
// lengthened), the approval cannot pay: the hold is voided in the same
// unit of work and the order is refunded (StatusExpired, reason
// "hold_expired"), which Approve returns without error; check Outcome.
// Likewise if a chargeback took the escrowed coins (gifting's Chargeback
// reaches held coins): the empty hold is voided and the order closes
// unpaid (StatusExpired, reason "hold_unfunded").
func (p *Program) Approve(ctx context.Context, eventID, orderID, reviewer string) (Order, error) {
	o, err := p.apply(ctx, "approve", eventID, eventArgs{Order: orderID, Actor: reviewer}, kit.RoleReviewer,
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
			return w.Schedule(dueDM, o.ID, now)
		})
	if err != nil {
		return Order{}, err
	}
	if !o.Replayed && o.Status == StatusDelivered && !o.DMSent {
		sent, _ := p.sendDM(ctx, o) // a failed send is in sent.DMError; Tick retries
		sent.Replayed = false
		o = sent
	}
	return o, nil
}

// Reject is a reviewer refusing the video; the reviewer is checked as for
// Approve. The creator may submit a new one within the delivery window as
// long as the order has had no more than max_resubmissions rejections;
// after that, or once the delivery window has closed, the rejection is
// final and the fan gets every coin back.
func (p *Program) Reject(ctx context.Context, eventID, orderID, reviewer, reason string) (Order, error) {
	if len(reason) > 1000 {
		return Order{}, fmt.Errorf("%w: reason of %d bytes, at most 1000", ErrInvalidRequest, len(reason))
	}
	return p.apply(ctx, "reject", eventID, eventArgs{Order: orderID, Actor: reviewer, Arg: reason}, kit.RoleReviewer,
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

// sendDM delivers an approved video outside any unit of work, then records
// that it was sent. The message id is the order id, so a repeat after a
// crash between the two steps is harmless. Nothing here touches money: the
// payment committed before, and a failed send or a failed record of it
// neither undoes nor repeats it.
func (p *Program) sendDM(ctx context.Context, o Order) (Order, error) {
	msg := Message{ID: o.ID, From: o.Creator, To: o.Fan, Video: o.Video, Text: "Your shoutout from " + o.Creator}
	sendErr := p.messenger.Send(ctx, msg)
	var out Order
	err := p.l.Update(ctx, func(w *ledger.Writer) error {
		if err := w.LoadJSON(kindOrder, o.ID, &out); err != nil {
			return err
		}
		if out.DMSent {
			return nil
		}
		if sendErr != nil {
			out.DMError = sendErr.Error()
		} else {
			out.DMSent, out.DMError = true, ""
			if err := w.Unschedule(dueDM, o.ID); err != nil {
				return err
			}
		}
		return w.SaveJSON(kindOrder, o.ID, out)
	})
	if sendErr != nil {
		if err != nil {
			return o, fail(fmt.Errorf("%w (and recording it: %w)", sendErr, err), "sending order %q", o.ID)
		}
		return out, fail(sendErr, "sending order %q", o.ID)
	}
	if err != nil {
		return o, fail(err, "recording the DM of order %q", o.ID)
	}
	return out, nil
}

// Order returns an order by id, as it is now.
func (p *Program) Order(ctx context.Context, orderID string) (Order, error) {
	if !validID(orderID) {
		return Order{}, fmt.Errorf("%w: order %q", ErrInvalidRequest, orderID)
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

// TickReport says what a Tick did.
type TickReport struct {
	Refunded      int // orders closed by a passed deadline
	DMsSent       int // direct messages delivered (retries of failed sends)
	DMsFailed     int // sends that failed again (also in Failed)
	HoldsReleased int // ledger holds released by expiry (zero unless a hold outlived its rules)
	// Failed lists the items this Tick could not handle, by kind
	// ("shoutout.deadline", "shoutout.dm") and order ID; each stays due and
	// is tried again by the next Tick, and the others went on.
	Failed []kit.ItemError
}

// Tick does what time makes happen. Every open order whose window has
// closed — no answer within the accept window, no video within the
// delivery window, no review within the review window — is refunded in
// full, each order in a unit of work of its own: an order that cannot be
// closed is reported in Failed with its ID and the others go on. Tick then
// retries direct messages that failed (one by one, failures in Failed),
// and lets the ledger release expired holds. It returns an error only when
// the run as a whole failed (the store, the context, a clock outside the
// ledger's time range). Running it twice at the same time changes nothing
// the second time.
func (p *Program) Tick(ctx context.Context) (TickReport, error) {
	var rep TickReport
	t := p.l.Clock().Now()
	if err := ledger.ValidateTime("tick time", t); err != nil {
		return rep, fail(err, "tick")
	}
	refunded := map[string]bool{} // by order; the last run of an item wins
	_, failed, err := kit.EachDue(ctx, p.l, dueDeadline, t, func(w *ledger.Writer, e ledger.DueEntry) error {
		refunded[e.ID] = false
		var o Order
		if err := w.LoadJSON(kindOrder, e.ID, &o); err != nil {
			if errors.Is(err, ledger.ErrNotFound) {
				return w.Unschedule(dueDeadline, e.ID)
			}
			return err
		}
		wt, err := now(w)
		if err != nil {
			return err
		}
		if dl := o.deadline(); !dl.IsZero() && !wt.Before(dl) {
			reason := map[Status]string{StatusRequested: "accept_window", StatusAccepted: "delivery_window",
				StatusInReview: "review_window"}[o.Status]
			if err := refund(w, &o, wt, StatusExpired, reason); err != nil {
				return err
			}
			if err := w.SaveJSON(kindOrder, o.ID, o); err != nil {
				return err
			}
			refunded[e.ID] = true
		}
		// Closed orders leave the index; an entry that was early moves to
		// the order's real deadline.
		return schedule(w, &o)
	})
	rep.Failed = append(rep.Failed, failed...)
	if err != nil {
		return rep, fail(err, "tick")
	}
	bad := map[string]bool{}
	for _, f := range failed {
		bad[f.ID] = true
	}
	for id, r := range refunded {
		if r && !bad[id] {
			rep.Refunded++
		}
	}
	if err := p.retryDMs(ctx, t, &rep); err != nil {
		return rep, fail(err, "tick")
	}
	released, err := p.l.Tick(ctx)
	rep.HoldsReleased = released
	if err != nil {
		return rep, fail(err, "tick")
	}
	return rep, nil
}

// retryDMs sends every direct message still due at t, once each; a send
// that fails again is reported and stays due.
func (p *Program) retryDMs(ctx context.Context, t time.Time, rep *TickReport) error {
	seen := map[string]bool{}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		var due []ledger.DueEntry
		if err := p.l.View(ctx, func(r *ledger.Reader) (err error) {
			due, err = r.Due(dueDM, t, dmBatch+len(seen))
			return err
		}); err != nil {
			return err
		}
		progressed := false
		for _, d := range due {
			if seen[d.ID] {
				continue
			}
			seen[d.ID], progressed = true, true
			o, err := p.Order(ctx, d.ID)
			if err == nil && o.DMSent {
				continue
			}
			if err == nil {
				_, err = p.sendDM(ctx, o)
			}
			if err != nil {
				rep.DMsFailed++
				rep.Failed = append(rep.Failed, kit.ItemError{Kind: dueDM, ID: d.ID, Err: err})
				continue
			}
			rep.DMsSent++
		}
		if !progressed {
			return nil
		}
	}
}
