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
// closed is ErrDeadlinePassed, and either changes nothing. Tick closes
// orders whose window passed, through the ledger's due index (one entry
// per open order, at its current deadline), each order in a unit of work
// of its own: one that cannot be closed is reported in TickReport.Failed
// by order ID and the others go on.
//
// # Events and retries
//
// Every event carries an id (the order id for Request) and runs once,
// through kit.Once, in the unit of work that changes the order. The replay
// check comes first, before any member, offer, role or rule is looked at:
// a retry with the same id and arguments returns the order as it was when
// the event ran, with Order.Replayed set, and writes nothing, whatever has
// changed since; the same id for something else is ErrIdempotencyConflict.
// SetOffer and WithdrawOffer are settings rather than events: setting the
// price an offer already has changes nothing.
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
// The video is delivered outside the ledger update, and idempotently. The
// approval commits first (capture, status delivered, and a "DM to send"
// entry in the due index); then Messenger.Send is called with the order id
// as the message id; then a second unit of work, which touches no money,
// records that it was sent. Sending inside the update would be wrong twice
// over: Ledger.Update may run its function again after a conflict (a
// second DM), and a message sent by an update that then rolls back would
// deliver a video nobody paid for. A failed send leaves the payment as it
// is and the entry in the due index, and Tick sends again; because the
// message id is the order id, a Messenger that keeps messages by id (as
// Inbox does) shows it once.
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
// # Usage
//
//	inbox := shoutout.NewInbox()
//	reviewers := &kit.RoleDirectory{}
//	reviewers.Grant("mod-7", kit.RoleReviewer)
//	p, err := shoutout.New(ctx, l, shoutout.DefaultRules(), members, inbox, shoutout.WithRoles(reviewers))
//	_, err = p.SetOffer(ctx, "cat", 500)
//	_, err = p.Request(ctx, "order-1", "ann", "cat", 500, "happy birthday to my sister")
//	_, err = p.Accept(ctx, "ev-1", "order-1", "cat")
//	_, err = p.Submit(ctx, "ev-2", "order-1", "cat", "video://1")
//	o, err := p.Approve(ctx, "ev-3", "order-1", "mod-7") // paid; inbox.Messages("ann") has the video
//	rep, err := p.Tick(ctx)                                // run periodically: deadlines and DM retries
package shoutout
