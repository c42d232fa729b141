package shoutout

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/shopspring/decimal"
)

// RevenueAccount receives the platform's share of delivered shoutouts.
const RevenueAccount = "platform:revenue"

// MemberAccount is a member's wallet, shared with the other programs; a
// fan's coins are held there while an order is open.
func MemberAccount(id string) string { return "member:" + id }

// EarningsAccount is where a creator's share of delivered shoutouts goes
// (coins a creator cannot spend as a viewer; payout redeems them).
func EarningsAccount(id string) string { return "creator:" + id + ":shoutouts" }

// Record and due-index kinds.
const (
	kindOffer    = "shoutout.offer"    // id: creator
	kindOrder    = "shoutout.order"    // id: order id
	kindEvent    = "shoutout.event"    // id: event id
	dueDeadline  = "shoutout.deadline" // id: order id, at its current deadline
	dueDM        = "shoutout.dm"       // id: order id, a DM still to send
	tickPageSize = 100
)

// Status is where an order is in its life.
type Status string

// Order statuses. Requested, Accepted and InReview are open; the others
// are final.
const (
	StatusRequested Status = "requested" // coins held, waiting for the creator
	StatusAccepted  Status = "accepted"  // waiting for a video
	StatusInReview  Status = "in_review" // a video waits for a moderator
	StatusDelivered Status = "delivered" // approved, sent, paid
	StatusDeclined  Status = "declined"  // the creator said no: refunded
	StatusCancelled Status = "cancelled" // the fan withdrew before acceptance: refunded
	StatusExpired   Status = "expired"   // a window passed: refunded
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
}

// New validates rules, defines the coin asset and opens the system
// accounts (both idempotently), and returns the program. messenger
// delivers approved videos.
func New(ctx context.Context, l *ledger.Ledger, rules Rules, members Members, messenger Messenger) (*Program, error) {
	if err := rules.Validate(); err != nil {
		return nil, err
	}
	if members == nil || messenger == nil {
		return nil, fmt.Errorf("%w: members and messenger are required", ErrInvalidRules)
	}
	err := l.Update(ctx, func(w *ledger.Writer) error {
		if err := w.DefineAsset(ledger.Asset{Code: rules.CoinAsset}); err != nil {
			return err
		}
		if _, err := w.OpenAccount(ledger.AccountSpec{Address: ledger.World, Overdraft: ledger.Overdraft{Unbounded: true}}); err != nil {
			return err
		}
		return openIfMissing(w, RevenueAccount)
	})
	if err != nil {
		return nil, fmt.Errorf("shoutout: setting up the ledger: %w", err)
	}
	return &Program{l: l, rules: rules, members: members, messenger: messenger}, nil
}

// openIfMissing opens an account with no overdraft unless it is already
// open (with whatever policy another program gave it).
func openIfMissing(w *ledger.Writer, addr string) error {
	_, err := w.Account(addr)
	if err == nil {
		return nil
	}
	if !errors.Is(err, ledger.ErrUnknownAccount) {
		return err
	}
	_, err = w.OpenAccount(ledger.AccountSpec{Address: addr})
	return err
}

// Rules returns the program's rules.
func (p *Program) Rules() Rules { return p.rules }

func (p *Program) member(ctx context.Context, id string) (Member, error) {
	m, err := p.members.Member(ctx, id)
	if err != nil {
		return Member{}, fmt.Errorf("shoutout: member %q: %w", id, err)
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

// SetOffer opens or reprices a creator's offer. Orders already requested
// keep their price. Setting the same price again changes nothing.
func (p *Program) SetOffer(ctx context.Context, creator string, price int64) (Offer, error) {
	if !validID(creator) {
		return Offer{}, fmt.Errorf("%w: creator %q", ErrInvalidRequest, creator)
	}
	if price < p.rules.MinPrice || price > p.rules.MaxPrice {
		return Offer{}, fmt.Errorf("%w: min_price/max_price: %d coins not in %d..%d", ErrPriceOutOfBounds, price, p.rules.MinPrice, p.rules.MaxPrice)
	}
	if err := p.creatorEligible(ctx, creator); err != nil {
		return Offer{}, err
	}
	var out Offer
	err := p.l.Update(ctx, func(w *ledger.Writer) error {
		err := w.LoadJSON(kindOffer, creator, &out)
		if err == nil && out.Price == price {
			return nil
		}
		if err != nil && !errors.Is(err, ledger.ErrNotFound) {
			return err
		}
		out = Offer{Creator: creator, Price: price, UpdatedAt: w.Now()}
		return w.SaveJSON(kindOffer, creator, out)
	})
	if err != nil {
		return Offer{}, fmt.Errorf("shoutout: offer of %q: %w", creator, err)
	}
	return out, nil
}

// WithdrawOffer closes a creator's offer; open orders go on. Withdrawing
// an offer that is not there is ErrNoOffer.
func (p *Program) WithdrawOffer(ctx context.Context, creator string) error {
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
		return fmt.Errorf("shoutout: withdrawing offer of %q: %w", creator, err)
	}
	return nil
}

// Offer returns a creator's open offer, or ErrNoOffer.
func (p *Program) Offer(ctx context.Context, creator string) (Offer, error) {
	var o Offer
	err := p.l.View(ctx, func(r *ledger.Reader) error { return r.LoadJSON(kindOffer, creator, &o) })
	if errors.Is(err, ledger.ErrNotFound) {
		return Offer{}, fmt.Errorf("%w: creator %q", ErrNoOffer, creator)
	}
	return o, err
}

// Request is a fan ordering a shoutout at the creator's offer price, which
// the fan states (so a price change in between is ErrPriceChanged, not a
// surprise). The price is held on the fan's coins — not spent — until the
// order is paid or refunded; the hold expires only after every deadline
// the order can reach. orderID makes it idempotent.
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
	fm, err := p.member(ctx, fan)
	if err != nil {
		return Order{}, err
	}
	if fm.Age < p.rules.MinFanAge {
		return Order{}, fmt.Errorf("%w: min_fan_age: fan %q is %d, must be %d", ErrIneligible, fan, fm.Age, p.rules.MinFanAge)
	}
	if err := p.creatorEligible(ctx, creator); err != nil {
		return Order{}, err
	}
	var out Order
	err = p.l.Update(ctx, func(w *ledger.Writer) error {
		now := w.Now()
		o := Order{ID: orderID, Fan: fan, Creator: creator, Price: price, Note: note, Status: StatusRequested,
			CreatedAt: now, AcceptBy: now.Add(time.Duration(p.rules.AcceptWindow))}
		if err := w.CreateJSON(kindOrder, orderID, o); err != nil {
			if !errors.Is(err, ledger.ErrDuplicate) {
				return err
			}
			if err := w.LoadJSON(kindOrder, orderID, &out); err != nil {
				return err
			}
			if out.Fan != fan || out.Creator != creator || out.Price != price || out.Note != note {
				return fmt.Errorf("%w: order %q is %s's order from %s at %d: %w", ErrIdempotencyConflict, orderID,
					out.Fan, out.Creator, out.Price, ledger.ErrIdempotencyConflict)
			}
			return nil
		}
		var offer Offer
		if err := w.LoadJSON(kindOffer, creator, &offer); err != nil {
			if errors.Is(err, ledger.ErrNotFound) {
				return fmt.Errorf("%w: creator %q", ErrNoOffer, creator)
			}
			return err
		}
		if offer.Price != price {
			return fmt.Errorf("%w: creator %q asks %d coins, the fan agreed to %d", ErrPriceChanged, creator, offer.Price, price)
		}
		addr := MemberAccount(fan)
		if err := openIfMissing(w, addr); err != nil {
			return err
		}
		bal, err := w.Balance(addr, p.rules.CoinAsset)
		if err != nil {
			return err
		}
		// Checked here, not left to the ledger: an account with a coin
		// overdraft must still not pay a shoutout on credit.
		if bal.Available.LessThan(decimal.NewFromInt(price)) {
			return fmt.Errorf("%w: fan %q has %s %s available, the shoutout costs %d", ErrInsufficientCoins, fan, bal.Available, p.rules.CoinAsset, price)
		}
		h, err := w.Hold(ledger.HoldRequest{
			Key: "shoutout:order:" + orderID, Account: addr, Asset: p.rules.CoinAsset, Amount: decimal.NewFromInt(price),
			ExpiresAt: now.Add(p.rules.holdLife()), Metadata: map[string]string{"program": "shoutout", "order": orderID},
		})
		if err != nil {
			return err
		}
		o.Hold = h.ID
		if err := w.Schedule(dueDeadline, orderID, o.AcceptBy); err != nil {
			return err
		}
		out = o
		return w.SaveJSON(kindOrder, orderID, o)
	})
	if err != nil {
		return Order{}, fmt.Errorf("shoutout: request %q from %q to %q: %w", orderID, fan, creator, err)
	}
	return out, nil
}

// event is a claimed event id: what it did, so a replay can be told from
// a reuse.
type event struct {
	Order  string `json:"order"`
	Action string `json:"action"`
	Actor  string `json:"actor"`
	Arg    string `json:"arg,omitempty"`
}

// apply runs one state-machine event on an order in one unit of work. A
// replay of eventID with the same arguments returns the order as it is
// now and changes nothing.
func (p *Program) apply(ctx context.Context, eventID, orderID string, ev event, fn func(w *ledger.Writer, o *Order) error) (Order, error) {
	if !validID(eventID) || !validID(orderID) {
		return Order{}, fmt.Errorf("%w: event %q and order %q must be ids", ErrInvalidRequest, eventID, orderID)
	}
	ev.Order = orderID
	var out Order
	err := p.l.Update(ctx, func(w *ledger.Writer) error {
		if err := w.CreateJSON(kindEvent, eventID, ev); err != nil {
			if !errors.Is(err, ledger.ErrDuplicate) {
				return err
			}
			var old event
			if err := w.LoadJSON(kindEvent, eventID, &old); err != nil {
				return err
			}
			if old != ev {
				return fmt.Errorf("%w: event %q was %s on order %q: %w", ErrIdempotencyConflict, eventID, old.Action, old.Order,
					ledger.ErrIdempotencyConflict)
			}
			return w.LoadJSON(kindOrder, orderID, &out)
		}
		var o Order
		if err := w.LoadJSON(kindOrder, orderID, &o); err != nil {
			if errors.Is(err, ledger.ErrNotFound) {
				return fmt.Errorf("%w: order %q", ErrNotFound, orderID)
			}
			return err
		}
		if err := fn(w, &o); err != nil {
			return err
		}
		if err := p.schedule(w, &o); err != nil {
			return err
		}
		out = o
		return w.SaveJSON(kindOrder, orderID, o)
	})
	if err != nil {
		return Order{}, fmt.Errorf("shoutout: %s on order %q: %w", ev.Action, orderID, err)
	}
	return out, nil
}

// schedule keeps the order's entry in the due index at its current
// deadline, or removes it once the order is closed.
func (p *Program) schedule(w *ledger.Writer, o *Order) error {
	if d := o.deadline(); !d.IsZero() {
		return w.Schedule(dueDeadline, o.ID, d)
	}
	return w.Unschedule(dueDeadline, o.ID)
}

func wrongState(o *Order, action string, want ...Status) error {
	return fmt.Errorf("%w: %s needs the order %v, it is %s", ErrWrongState, action, want, o.Status)
}

// inState checks the order's state and that its window is still open.
func inState(w *ledger.Writer, o *Order, action string, want Status) error {
	if o.Status != want {
		return wrongState(o, action, want)
	}
	if d := o.deadline(); !w.Now().Before(d) {
		return fmt.Errorf("%w: %s: the window closed at %s", ErrDeadlinePassed, action, d.Format(time.RFC3339))
	}
	return nil
}

// refund voids the order's hold (every coin back to the fan) and closes it.
func (p *Program) refund(w *ledger.Writer, o *Order, status Status, reason string) error {
	if _, err := w.Void(o.Hold); err != nil {
		return err
	}
	o.Status, o.Outcome, o.Reason, o.ClosedAt = status, OutcomeRefunded, reason, w.Now()
	return nil
}

// Accept is the creator taking the order, within accept_window. The
// delivery window starts now.
func (p *Program) Accept(ctx context.Context, eventID, orderID, creator string) (Order, error) {
	return p.apply(ctx, eventID, orderID, event{Action: "accept", Actor: creator}, func(w *ledger.Writer, o *Order) error {
		if o.Creator != creator {
			return fmt.Errorf("%w: %q is not the creator of order %q", ErrNotParty, creator, o.ID)
		}
		if err := inState(w, o, "accept", StatusRequested); err != nil {
			return err
		}
		o.Status = StatusAccepted
		o.DeliverBy = w.Now().Add(time.Duration(p.rules.DeliveryWindow))
		return nil
	})
}

// Decline is the creator refusing the order: the fan gets every coin back.
func (p *Program) Decline(ctx context.Context, eventID, orderID, creator string) (Order, error) {
	return p.apply(ctx, eventID, orderID, event{Action: "decline", Actor: creator}, func(w *ledger.Writer, o *Order) error {
		if o.Creator != creator {
			return fmt.Errorf("%w: %q is not the creator of order %q", ErrNotParty, creator, o.ID)
		}
		if err := inState(w, o, "decline", StatusRequested); err != nil {
			return err
		}
		return p.refund(w, o, StatusDeclined, "declined")
	})
}

// Cancel is the fan withdrawing the order before the creator accepts it:
// every coin comes back.
func (p *Program) Cancel(ctx context.Context, eventID, orderID, fan string) (Order, error) {
	return p.apply(ctx, eventID, orderID, event{Action: "cancel", Actor: fan}, func(w *ledger.Writer, o *Order) error {
		if o.Fan != fan {
			return fmt.Errorf("%w: %q is not the fan of order %q", ErrNotParty, fan, o.ID)
		}
		if err := inState(w, o, "cancel", StatusRequested); err != nil {
			return err
		}
		return p.refund(w, o, StatusCancelled, "cancelled")
	})
}

// Submit is the creator handing in a video, within delivery_window of
// accepting; it goes to review, which has review_window.
func (p *Program) Submit(ctx context.Context, eventID, orderID, creator, video string) (Order, error) {
	return p.apply(ctx, eventID, orderID, event{Action: "submit", Actor: creator, Arg: video}, func(w *ledger.Writer, o *Order) error {
		if o.Creator != creator {
			return fmt.Errorf("%w: %q is not the creator of order %q", ErrNotParty, creator, o.ID)
		}
		if video == "" || len(video) > 1000 {
			return fmt.Errorf("%w: video reference of %d bytes, want 1 to 1000", ErrInvalidRequest, len(video))
		}
		if err := inState(w, o, "submit", StatusAccepted); err != nil {
			return err
		}
		o.Status, o.Video = StatusInReview, video
		o.ReviewBy = w.Now().Add(time.Duration(p.rules.ReviewWindow))
		return nil
	})
}

// Approve is a moderator passing the video: the hold is captured — the
// creator's share to creator:<id>:shoutouts, the platform's to
// platform:revenue — and the order is delivered. The direct message goes
// out after the unit of work commits (see the package doc); a failed send
// is kept in DMError and retried by Tick.
func (p *Program) Approve(ctx context.Context, eventID, orderID, moderator string) (Order, error) {
	o, err := p.apply(ctx, eventID, orderID, event{Action: "approve", Actor: moderator}, func(w *ledger.Writer, o *Order) error {
		if err := inState(w, o, "approve", StatusInReview); err != nil {
			return err
		}
		creator, platform := p.rules.split(o.Price)
		var legs []ledger.Leg
		if creator > 0 {
			if err := openIfMissing(w, EarningsAccount(o.Creator)); err != nil {
				return err
			}
			legs = append(legs, ledger.Leg{To: EarningsAccount(o.Creator), Amount: decimal.NewFromInt(creator)})
		}
		if platform > 0 {
			legs = append(legs, ledger.Leg{To: RevenueAccount, Amount: decimal.NewFromInt(platform)})
		}
		t, err := w.Capture(ledger.CaptureRequest{Key: "shoutout:order:" + o.ID + ":capture", Hold: o.Hold, Destinations: legs, Final: true,
			Metadata: map[string]string{"program": "shoutout", "order": o.ID}})
		if err != nil {
			return err
		}
		o.Status, o.Outcome, o.Reason, o.ClosedAt = StatusDelivered, OutcomePaid, "approved", w.Now()
		o.CreatorShare, o.PlatformShare, o.Capture = creator, platform, t.ID
		return w.Schedule(dueDM, o.ID, w.Now())
	})
	if err != nil {
		return Order{}, err
	}
	if !o.DMSent {
		o, _ = p.sendDM(ctx, o)
	}
	return o, nil
}

// Reject is a moderator refusing the video. The creator may submit a new
// one within the delivery window as long as the order has had no more than
// max_resubmissions rejections; after that, or once the delivery window
// has closed, the rejection is final and the fan gets every coin back.
func (p *Program) Reject(ctx context.Context, eventID, orderID, moderator, reason string) (Order, error) {
	return p.apply(ctx, eventID, orderID, event{Action: "reject", Actor: moderator, Arg: reason}, func(w *ledger.Writer, o *Order) error {
		if err := inState(w, o, "reject", StatusInReview); err != nil {
			return err
		}
		o.Rejections++
		o.RejectReason = reason
		if o.Rejections > p.rules.MaxResubmissions || !w.Now().Before(o.DeliverBy) {
			return p.refund(w, o, StatusRejected, "rejected")
		}
		o.Status, o.ReviewBy = StatusAccepted, time.Time{}
		return nil
	})
}

// sendDM delivers an approved video outside any unit of work, then records
// that it was sent. The message id is the order id, so a repeat after a
// crash between the two steps is harmless.
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
	if err != nil {
		return o, err
	}
	if sendErr != nil {
		return out, fmt.Errorf("shoutout: sending order %q: %w", o.ID, sendErr)
	}
	return out, nil
}

// Order returns an order by id.
func (p *Program) Order(ctx context.Context, orderID string) (Order, error) {
	var o Order
	err := p.l.View(ctx, func(r *ledger.Reader) error { return r.LoadJSON(kindOrder, orderID, &o) })
	if errors.Is(err, ledger.ErrNotFound) {
		return Order{}, fmt.Errorf("%w: order %q", ErrNotFound, orderID)
	}
	return o, err
}

// TickReport says what a Tick did.
type TickReport struct {
	Refunded      int // orders closed by a passed deadline
	DMsSent       int // direct messages delivered (retries of failed sends)
	DMsFailed     int // sends that failed again
	HoldsReleased int // ledger holds released by expiry (zero unless a hold outlived its rules)
}

// Tick does the deadlines: every open order whose window has closed —
// no answer within accept_window, no video within delivery_window, no
// review within review_window — is refunded in full. It then retries
// direct messages that failed, and lets the ledger release expired holds.
// Running it twice at the same time changes nothing the second time.
func (p *Program) Tick(ctx context.Context) (TickReport, error) {
	var rep TickReport
	for {
		n, seen := 0, 0
		err := p.l.Update(ctx, func(w *ledger.Writer) error {
			n = 0
			due, err := w.Due(dueDeadline, w.Now(), tickPageSize)
			if err != nil {
				return err
			}
			seen = len(due)
			for _, d := range due {
				var o Order
				if err := w.LoadJSON(kindOrder, d.ID, &o); err != nil {
					return err
				}
				if dl := o.deadline(); !dl.IsZero() && !w.Now().Before(dl) {
					reason := map[Status]string{StatusRequested: "accept_window", StatusAccepted: "delivery_window",
						StatusInReview: "review_window"}[o.Status]
					if err := p.refund(w, &o, StatusExpired, reason); err != nil {
						return err
					}
					if err := w.SaveJSON(kindOrder, o.ID, o); err != nil {
						return err
					}
					n++
				}
				// Closed orders leave the index; an entry that was early moves
				// to the order's real deadline, so every pass makes progress.
				if err := p.schedule(w, &o); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return rep, fmt.Errorf("shoutout: tick: %w", err)
		}
		rep.Refunded += n
		if seen < tickPageSize {
			break
		}
	}
	var pending []ledger.DueEntry
	if err := p.l.View(ctx, func(r *ledger.Reader) (err error) {
		pending, err = r.Due(dueDM, p.l.Clock().Now(), 1000)
		return err
	}); err != nil {
		return rep, fmt.Errorf("shoutout: tick: %w", err)
	}
	for _, d := range pending {
		o, err := p.Order(ctx, d.ID)
		if err != nil {
			return rep, err
		}
		if o.DMSent {
			continue
		}
		if _, err := p.sendDM(ctx, o); err != nil {
			rep.DMsFailed++
			continue
		}
		rep.DMsSent++
	}
	released, err := p.l.Tick(ctx)
	rep.HoldsReleased = released
	if err != nil {
		return rep, fmt.Errorf("shoutout: tick: %w", err)
	}
	return rep, nil
}
