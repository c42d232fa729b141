// Package shoutout is the paid personal video program: a fan orders a
// video from a creator at the creator's price, the coins are held in
// escrow, and they go to the creator and the platform only when a
// reviewer approves the video, which is then sent to the fan by direct
// message. Otherwise the fan gets every coin back.
//
// # Accounts
//
//   - member:<id> (kit.WalletAccount): the fan's wallet, shared with the
//     other programs and opened, if this program is the first to need it,
//     with the shared kit.WalletPolicy (WithWallets). The price is held
//     there (a ledger hold) while the order is open.
//   - creator:<id>:shoutouts (EarningsAccount): the creator's earnings
//     account, which receives the creator's share of delivered orders:
//     coins the creator cannot spend as a viewer. This package never moves
//     them out; the integrator cashes them out through a withdrawal that
//     names this account as its source (the payout program withdraws from
//     the account the integrator names).
//   - platform:revenue (RevenueAccount): the platform's share.
//   - world (Unbounded): opened for completeness; this program issues
//     nothing.
//
// # Orders
//
// Every order is a state machine:
//
//	requested --accept--> accepted --submit--> in_review --approve--> delivered (paid)
//	    |                    |  ^                 |
//	    |                    |  +----reject-------+   (while rejections <= max_resubmissions
//	    |                    |                    |    and the delivery window is open)
//	    +--decline--> declined (refunded)         +--reject--> rejected (refunded)
//	    +--cancel---> cancelled (refunded)
//	    +--accept_window passes--> expired (refunded)
//	                         +--delivery_window passes--> expired (refunded)
//	                                              +--review_window passes--> expired (refunded)
//
// An event in the wrong state (accepting twice, approving before a video,
// cancelling after delivery) is ErrWrongState, an event after its window
// closed is ErrDeadlinePassed (naming the window's rule), and either
// changes nothing. Tick (kit.Ticker) closes orders whose window passed,
// through the ledger's due index (one entry per open order, at its
// current deadline), each order in a unit of work of its own, and returns
// a kit.TickReport: ItemRefunded for each order closed, ItemMessageSent
// for each direct message sent; one that cannot be closed is in Failed
// (ItemDeadline) by order ID and the others go on. Tick does not tick the
// ledger: the scheduler that runs the programs does that once for all.
//
// # Events and retries
//
// Every event method takes a request struct named after it
// (AcceptRequest{EventID, Actor, OrderID}, RejectRequest{..., Reason}, and
// RequestRequest{OrderID, Fan, Creator, Price, Note} for the order
// itself): the Actor is the creator, the fan or the reviewer who acts.
// Every event carries an id (the order id for Request) and runs once,
// through kit.Once, in the unit of work that changes the order. The replay
// check comes first, before any member, offer, role or rule is looked at:
// a retry with the same id and arguments returns the order as it was when
// the event ran, with Order.Replayed set, and writes nothing, whatever has
// changed since; the same id for something else is ErrIdempotencyConflict.
// SetOffer and WithdrawOffer are settings rather than events: setting the
// price an offer already has changes nothing.
//
// Member facts are kit.Member values from a kit.Members implementation
// (kit.Directory in tests and examples). min_fan_age and min_creator_age
// are judged from the member's birth date at the unit of work's time, on
// the calendar of the member's time zone (kit.Member.AtLeast); a member
// whose birth date is unknown is refused with kit.ErrMemberFacts, never
// taken as old enough. A refusal by a rule of the rule set is a
// *ledger.Refusal naming the rule (ledger.RuleOf(err) is "min_fan_age",
// "min_followers", "max_price", "accept_window", ...), and
// ledger.ErrorCode(err) gives the code a service maps to an HTTP status;
// messages begin with "shoutout: " once and are safe to show a member.
//
// # Units of work
//
// Every event method has an In form (RequestIn, AcceptIn, ApproveIn, ...)
// that runs inside a unit of work the caller owns, a *ledger.Writer of the
// caller's ledger.Update, so that an order's event and the caller's own
// writes are one all-or-nothing unit; the plain form is the In form in a
// unit of work of its own (kit.Run). An In method writes only through w
// and keeps nothing outside it, so it is safe when the caller's unit of
// work runs again (ledger.Update retries a lost race) or rolls back. It
// reads the time from w.Now() and member facts and roles with
// w.Context(). An In method that returns an error may have written part
// of its event to w: the caller must then end the unit of work with an
// error, never commit it. ApproveIn sends no direct message (see below).
//
// # Reviews
//
// Approving or rejecting a video is a privileged action: the reviewer
// must hold kit.RoleReviewer in the kit.Roles directory given with
// WithRoles, and be neither the order's creator nor its fan (kit.Authorize).
// Anyone else — the creator, the fan, an empty or unknown actor, anyone
// when no directory was given — is refused with ledger.ErrForbidden and
// nothing is written. These are the program's only privileged actions:
// creators qualify by the follower and age rules, not by staff decision,
// and the rules are fixed when the Program is made.
//
// # Money, terms and holds
//
// Money moves only in the unit of work that changes the order: Request
// holds the price; Approve captures it in full, split by the platform
// share (the creator's share rounded by creator_rounding, the platform
// taking what rounding leaves); every other end voids it. An order is
// therefore paid or refunded, never both, and a fan's coins are
// available, held for exactly one open order, or spent on a delivered one.
//
// An order keeps the rules it was requested under (Order.Terms: the three
// windows, the split, max_resubmissions). The hold is made to expire after
// accept_window + delivery_window + review_window + hold_margin of those
// terms, beyond every deadline the order can reach, so it cannot lapse
// under an open order, and a program restarted with other rules (longer
// windows, say) applies them to new orders only. Should a hold lapse all
// the same (an order stored before orders carried terms, under windows
// lengthened since), Approve voids it in the same unit of work and refunds
// the order (expired, reason "hold_expired") instead of failing for ever.
//
// Prices are bounded by max_price (at most 1e12) and the platform share
// by [0, 1] with at most 18 decimals, so no amount this package computes
// can overflow. Times come from the ledger's clock and every deadline is
// computed with ledger.AddDuration: a clock outside the ledger's time
// range is ledger.ErrInvalidTime, and writes nothing.
//
// # Direct messages
//
// The video is delivered outside the ledger update, and idempotently,
// through the programs' one outbox, kit.Outbox (payout's provider calls go
// through the same). The approval commits first: capture, status
// delivered, and the order's entry in the outbox, written in the same unit
// of work. Then Messenger.Send is called with the order id as the message
// id, and a second unit of work, which touches no money, records that it
// was sent and takes the entry off. Sending inside the update would be
// wrong twice over: Ledger.Update may run its function again after a
// conflict (a second DM), and a message sent by an update that then rolls
// back would deliver a video nobody paid for. Approve sends as soon as
// its own unit of work has committed (kit.Outbox.Deliver); ApproveIn,
// inside the caller's unit of work, only writes the outbox entry, and Tick
// sends it after the caller's commit (kit.Outbox.Drain; if the caller
// rolls back, the entry goes with the payment). A failed send leaves the
// payment as it is and the entry in the outbox, and a Tick once
// kit.DefaultOutboxRetry (a minute) has passed sends again;
// because the message id is the order id, a Messenger that keeps messages
// by id (as Inbox does) shows it once, and however many sends there are,
// the order records one (DMSent, one shoutout.order.delivered event). An
// entry whose order is gone is dropped.
//
// # Rules and defaults
//
// DefaultRules follows PROGRAMS.md (shoutout; seed 002): 3 days to accept
// (seed), 7 days to deliver and 25% to the platform (industry: the talent
// keeps 75%). The follower threshold (10,000), the ages (18), the price
// bounds (100..100,000 coins), the review window (3 days), the hold margin
// (1 day) and one new video after a rejection are this package's choices:
// the seed says access depends on followers and that creators set their
// price, not the numbers. Rules read from JSON (ParseRules, or
// json.Unmarshal into Rules) refuse unknown fields with ErrInvalidRules
// naming the field.
//
// # Event log
//
// Each change is also an event in the ledger's event log
// (ledger.Writer.Emit), emitted in the unit of work of the change (for
// the state-machine methods, inside their kit.Once): committed with it or
// never. A replay, a refusal, and SetOffer at the price the offer already
// has emit nothing. Data is one exported struct per shape, coin amounts
// and ledger IDs as decimal strings.
//
//   - shoutout.offer.set (EventOfferSet), by SetOffer when it opens or
//     reprices an offer; shoutout.offer.withdrawn (EventOfferWithdrawn),
//     by WithdrawOffer. Subject: the creator. Data (OfferData): creator,
//     price.
//
// Every order event has the order ID as subject and OrderData as data:
// order_id, fan, creator, actor (who acted; omitted for Tick and
// delivered), status (after the event), price, hold (the ledger hold's
// ID), reason (why it closed, or a non-final rejection's reason),
// creator_share and platform_share (approved only), rejections (rejected
// only). TxID is the capture for approved; holds and voids post no
// journal transaction, so the other order events carry the TxID of
// whatever the caller's unit of work posted before them (0 alone).
//
//   - shoutout.order.requested (EventOrderRequested): Request held the
//     price.
//   - shoutout.order.accepted, shoutout.order.submitted: Accept, Submit.
//   - shoutout.order.declined, shoutout.order.cancelled: Decline, Cancel.
//   - shoutout.order.expired: Tick closed an order whose window passed
//     (reason: the window's rule), or Approve could not pay (reason
//     hold_expired or hold_unfunded).
//   - shoutout.order.approved: Approve paid the creator and the platform.
//   - shoutout.order.rejected: Reject; status in_review→accepted when the
//     creator may resubmit, rejected when final.
//   - shoutout.order.delivered: the direct message was sent and recorded
//     (the order's DMSent set, in its own unit of work after the
//     approval committed: by Approve, or by the Tick that retries it).
//     Once per order; a failed send emits nothing.
//   - shoutout.order.refunded (EventOrderRefunded): the hold was voided,
//     every coin back to the fan. It follows, in the same unit of work,
//     each event that closes an order unpaid (declined, cancelled,
//     expired, a final rejected).
//
// # Usage
//
//	members := kit.NewDirectory(
//		kit.Member{ID: "ann", BirthDate: kit.NewDate(1996, time.February, 11), TimeZone: "Europe/Rome"},
//		kit.Member{ID: "cat", BirthDate: kit.NewDate(2000, time.October, 30), Followers: 120000})
//	inbox := shoutout.NewInbox()
//	reviewers := &kit.RoleDirectory{}
//	reviewers.Grant("mod-7", kit.RoleReviewer)
//	p, err := shoutout.New(ctx, l, shoutout.DefaultRules(), members, inbox, shoutout.WithRoles(reviewers))
//	_, err = p.SetOffer(ctx, shoutout.SetOfferRequest{Creator: "cat", Price: 500})
//	_, err = p.Request(ctx, shoutout.RequestRequest{OrderID: "order-1", Fan: "ann", Creator: "cat", Price: 500,
//		Note: "happy birthday to my sister"})
//	_, err = p.Accept(ctx, shoutout.AcceptRequest{EventID: "ev-1", Actor: "cat", OrderID: "order-1"})
//	_, err = p.Submit(ctx, shoutout.SubmitRequest{EventID: "ev-2", Actor: "cat", OrderID: "order-1", Video: "video://1"})
//	o, err := p.Approve(ctx, shoutout.ApproveRequest{EventID: "ev-3", Actor: "mod-7", OrderID: "order-1"}) // paid; the video is sent
//	rep, err := p.Tick(ctx) // run periodically (or register p with the scheduler): deadlines and DM retries
package shoutout
