// Package shoutout is the paid personal video program: a fan orders a
// video from a creator at the creator's price, the coins are held in
// escrow, and they go to the creator and the platform only when a
// moderator approves the video, which is then sent to the fan by direct
// message. Otherwise the fan gets every coin back.
//
// # Accounts
//
//   - member:<id>: the fan's wallet (shared with the other programs). The
//     price is held there (a ledger hold) while the order is open.
//   - creator:<id>:shoutouts: the creator's share of delivered orders, in
//     coins the creator cannot spend as a viewer (payout redeems them).
//   - platform:revenue: the platform's share.
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
// closed is ErrDeadlinePassed, and either changes nothing. Every event
// carries an event id: a retry with the same id and arguments returns the
// order as it is and changes nothing; the same id for something else is
// ErrIdempotencyConflict. Tick closes orders whose window passed, through
// the ledger's due index (one entry per open order, at its current
// deadline).
//
// Money moves only in the unit of work that changes the order: Request
// holds the price (the hold expires only after accept_window +
// delivery_window + review_window + hold_margin, beyond every deadline the
// order can reach, so it cannot lapse under an open order); Approve
// captures it in full, split by platform_share (the creator's share
// rounded by creator_rounding, the platform taking what rounding leaves);
// every other end voids it. An order is therefore paid or refunded, never
// both, and a fan's coins are available, held for exactly one open order,
// or spent on a delivered one.
//
// # Direct messages
//
// The video is delivered outside the ledger update, and idempotently. The
// approval commits first (capture, status delivered, and a "DM to send"
// entry in the due index); then Messenger.Send is called with the order id
// as the message id; then a second unit of work records that it was sent.
// Sending inside the update would be wrong twice over: Ledger.Update may
// run its function again after a conflict (a second DM), and a message
// sent by an update that then rolls back would deliver a video nobody paid
// for. A crash or a failed send between the steps leaves the entry in the
// due index, and Tick sends again; because the message id is the order id,
// a Messenger that keeps messages by id (as Inbox does) shows it once.
//
// # Rules and defaults
//
// DefaultRules follows PROGRAMS.md (shoutout; seed 002): 3 days to accept
// (seed), 7 days to deliver and 25% to the platform (industry: the talent
// keeps 75%). The follower threshold (10,000), the ages (18), the price
// bounds (100..100,000 coins), the review window (3 days), the hold margin
// (1 day) and one new video after a rejection are this package's choices:
// the seed says access depends on followers and that creators set their
// price, not the numbers.
//
// # Usage
//
//	inbox := shoutout.NewInbox()
//	p, err := shoutout.New(ctx, l, shoutout.DefaultRules(), members, inbox)
//	_, err = p.SetOffer(ctx, "cat", 500)
//	_, err = p.Request(ctx, "order-1", "ann", "cat", 500, "happy birthday to my sister")
//	_, err = p.Accept(ctx, "ev-1", "order-1", "cat")
//	_, err = p.Submit(ctx, "ev-2", "order-1", "cat", "video://1")
//	o, err := p.Approve(ctx, "ev-3", "order-1", "mod-7") // paid; inbox.Messages("ann") has the video
//	rep, err := p.Tick(ctx)                                // run periodically: deadlines and DM retries
package shoutout
