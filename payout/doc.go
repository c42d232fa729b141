// Package payout cashes members' rewards out through a payment provider:
// a member links a payout account, withdraws an amount of a reward asset
// (RUBY) from their wallet — or from another account the rules declare
// theirs, such as a creator's diamonds — which is converted to money (EUR)
// at the rule's rate with a declared rounding, less the provider's fee,
// and sent.
//
// # Rules
//
// Rules is data (JSON tags, read strictly: an unknown field such as a
// misspelt "review_abve" is ErrInvalidRules naming it; Validate names the
// bad field). DefaultRules is seed 000: 10,000 rubies = 1 EUR rounded down
// to the cent, the rubies rounding leaves over booked to the remainder
// account; at least 8,000 rubies; one withdrawal a week (Period,
// MaxPerPeriod); PayPal's 4% fee. Industry figures and integrator choices:
// a daily maximum of 1,000 EUR, manual review above 100 EUR, attention
// after 90 days (HoldFor); an unclaimed payment given back after 30 days
// (UnclaimedReturnAfter, PayPal's period; 0 = only on the provider's
// RETURNED); what a reversal cannot take back the member's debt up to
// 10,000,000 of the source asset (1,000 EUR of rubies), the rest written
// off to payout:<provider>:reversal-losses (ReversalRecovery, a
// kit.RecoveryPolicy; empty = that default). The daily maximum (daily_maximum, 0 = off;
// daily_window, 24 hours) is a kit cap over a rolling window: the money
// (To, before the fee) one member withdrew in the last daily_window,
// whatever the calendar or the member's time zone says, checked and
// counted by kit.Take in the withdrawal's unit of work (records of kind
// payout.cap), so racing withdrawals never pass it; a payout failed,
// returned or rejected is given back at once. Sums kept before the
// upgrade (in payout.member) are not read: a withdrawal of the last
// daily_window before it is not counted. Other fees are the same rules with other
// values: "1.5% + 0.10" is FeeRate 0.015 and FixedFee 0.10; a bank's flat
// 2.90 is FixedFee alone. Durations are at most ledger.MaxDuration, and
// every time the program computes stays inside the ledger's time range
// (ledger.ErrInvalidTime otherwise).
//
// # Sources: what a member may cash out
//
// The wallet, member:<id>, is always a source, in From at Rate.
// Rules.Sources adds account templates with "{member}" in place of the
// member's ID, each with the asset withdrawn from it, that asset's value
// in To (a ledger.ConversionRule of which payout takes the rate and
// rounding) and a minimum. The program that pays into a source owns its
// value, so build the source from that program's rule rather than write
// the figure twice: CreatorRules(value) takes gifting's Rules.CashValue
// (DIAMOND to USD at 0.005 USD by default) and declares gifting's
// creator:{member}:diamonds (gifting.EarningsAccount); shoutout's coins,
// creator:{member}:shoutouts, are cashed out by adding that source with a
// COIN value. An asset has one value: two sources of it, or a source of
// From, that convert it differently fail Validate, and so does a value in
// another currency than To. Withdraw accepts only the member's wallet or
// a declared template filled in with the member's own ID: any other
// account (another member's, a platform account) is ErrUnknownSource,
// which also wraps ledger.ErrForbidden. Templates may not reach the
// program's own accounts (payout:...).
//
// # Cashing out a creator's diamonds
//
// Diamonds gifting pays stay in the creator's earnings account; payout
// withdraws them from there, in one unit of work with no sweep through
// the wallet, so a refused withdrawal (no linked account, under the
// minimum, a second one this week) leaves every diamond where it was:
//
//	cash, err := payout.New(ctx, l, payout.CreatorRules(giftRules.CashValue()), paypal)
//	po, err := cash.Withdraw(ctx, payout.WithdrawRequest{PayoutID: "cashout-1", Actor: "giulia",
//		Source: gifting.EarningsAccount("giulia"), Amount: diamonds})
//
// # Units of work, and the provider outside them
//
// Every event takes a request struct naming its actor and subject
// (LinkAccountRequest, WithdrawRequest, ApproveRequest, RejectRequest,
// RetryRequest, RecordOutcomeRequest). LinkAccountIn, WithdrawIn,
// ApproveIn, RejectIn and RecordOutcomeIn run inside a unit of work the
// caller owns (a *ledger.Writer from ledger.Update), with the caller's
// other writes, all or nothing; LinkAccount, Withdraw, Approve, Reject and
// RecordOutcome run the same in a unit of work of their own (kit.Run).
//
// The provider is never called inside a unit of work: one that is rolled
// back or run again (a lost race) must leave no payment behind, and a
// network call must not hold the unit of work open. So WithdrawIn and
// ApproveIn record the payout "sending", reserve its funds and put it in
// the program's outbox — kit.Outbox, the one the programs share
// (shoutout's direct messages go through the same) — in that unit of
// work, and send nothing; the payment is sent after the commit — by
// Withdraw and Approve themselves, at once (kit.Outbox.Deliver); by Retry,
// which a caller of the In forms calls with the payout ID once its unit
// of work has committed; or else by Tick after Rules.RetryEvery
// (kit.Outbox.Drain). Retry has no In form for that reason. Sending is
// idempotent on the payout's key, so a payment sent by both Retry and
// Tick is paid once, and settled once.
//
// # Money in flight
//
// Withdraw is an event (kit.Once on the payout ID): the first call checks
// the rules, then holds the amount on the source and records the payout
// as "sending" in one unit of work. Only after that commits does it call
// Provider.Send, with an idempotency key derived from the payout ID
// (KeyFor), and it records the answer in a second unit of work:
//
//   - succeeded: the hold is captured to the clearing account and
//     converted in the same unit of work (net to the settlement account,
//     fee to the fee account, rounding leftover to the remainder account);
//   - failed, returned or blocked: the hold is voided and the week's
//     withdrawal slot freed;
//   - held or unclaimed: the hold stays; Tick asks again (an unclaimed
//     one is given back after UnclaimedReturnAfter, see "Payout states");
//   - reversed (paid, then taken back, before we heard of either): paid
//     and reversed in the same unit of work;
//   - no answer (timeout, crash): the payout stays "sending" with the
//     funds held; Retry or Tick sends again with the same key, and the
//     provider, idempotent on it, never pays twice.
//
// A replayed Withdraw (same ID, same request) checks nothing that may
// have changed since, calls no provider, and returns the payout as first
// recorded, with Replayed set.
//
// Money in flight never becomes spendable while the provider may still
// pay it. The hold's own expiry is set as far as the ledger allows
// (ledger.MaxDuration after the request, or the end of the ledger's time
// range if sooner), so no sweep (ledger.Tick, any program's Tick) releases
// it; only the program closes it, on the provider's final answer. HoldFor
// is a deadline to escalate, not a release: a payout still with the
// provider at its Deadline is marked Overdue and reported as TickOverdue
// by every Tick that asks about it, its funds still
// reserved; a payout still in review at its Deadline was never sent, so it
// is rejected and its funds released.
//
// A payout settles its hold exactly once: a settled payout ignores every
// later answer. If a paid payout's reservation can no longer be captured
// (a hold made by an older version with a short expiry that lapsed, or
// funds a chargeback took from under the hold), the program voids the
// hold in the same unit of work — the ledger's answer to an expired hold:
// the funds come back — then takes the amount from the source as far as
// it is available and books the rest from the shortfall account,
// recording it in Payout.Shortfall: the payout settles, and nothing is
// dropped silently.
//
// # Outcomes a provider pushes
//
// Providers also push outcomes (PayPal's payout webhooks). The
// integrator's handler checks the delivery's signature and calls
// RecordOutcome with a RecordOutcomeRequest: the delivery's event ID, the
// provider, the payout (our payout ID, or the idempotency key we sent,
// KeyFor, which providers echo back), the outcome and when the provider
// reports it. A pushed outcome is recorded by the same code as a polled
// one, so a payout settles its hold exactly once whether its outcome
// arrives by push, by poll (Retry, Tick), or both, in any order; a push
// may even settle a payout before the answer to its own Send is recorded,
// which then changes nothing. The event ID is a kit.Once event: a
// repeated delivery replays (Replayed true, nothing written), another
// notification under the same ID is ErrIdempotencyConflict. Out of order: a
// final outcome always wins over held and unclaimed; between held and
// unclaimed the one reported later (At) wins; a non-final
// outcome for a settled payout changes nothing. Nothing moves for a
// notification that contradicts a settled payout (failed, returned or
// blocked after paid or reversed; paid or reversed after failed,
// returned, blocked or rejected): it is refused with
// ErrOutcomeContradiction, to be reconciled by hand. A reversal of a paid
// payout is the one change a settled payout still takes (see "Payout
// states"). A refused notification records nothing, so its redelivery is
// refused alike; an unknown payout is ErrNotFound.
//
// Tick (a kit.Ticker, run by the scheduler) handles each payout due in
// the outbox on its own (the provider is called outside any unit of work,
// and each answer is recorded in a unit of its own; a payout in review is
// due at its Deadline) and reports each in a kit.TickReport by its payout
// ID, under the kinds TickPaid, TickFailed, TickReturned, TickBlocked,
// TickReversed, TickPending, TickOverdue and TickLapsed: a payout that fails is listed in
// TickReport.Failed with its ID and stays due, and the others go on; an
// entry with no payout behind it is dropped. It does not tick the ledger:
// the scheduler does that once for every program.
//
// # Payout states
//
// The outcomes are PayPal's payout item statuses (transaction_status):
// SUCCESS is OutcomeSucceeded, FAILED OutcomeFailed, PENDING and ONHOLD
// OutcomeHeld, UNCLAIMED OutcomeUnclaimed, RETURNED OutcomeReturned,
// BLOCKED OutcomeBlocked, REVERSED OutcomeReversed. Each final state moves
// money once, in the unit of work that records it, with its event; the
// payout record is the state machine, so a report that arrives twice, late
// or out of order replays, changes nothing, or is ErrOutcomeContradiction
// — never a second movement. Racing callers (Tick, Retry, pushes under
// several event IDs) serialize on the payout record.
//
//   - UNCLAIMED: the funds stay reserved (status "unclaimed", UnclaimedAt
//     the first report). PayPal returns an unclaimed payment after 30
//     days; the program gives the funds back (status "returned", Reason
//     naming unclaimed_return_after, payout.payout.returned) by whichever
//     comes first: the provider's RETURNED, pushed or polled, or
//     Rules.UnclaimedReturnAfter after UnclaimedAt, when Tick or Retry
//     next records anything for it — the provider's answer "unclaimed"
//     or no answer at all. Counting from the first report, never before
//     the payment was sent, keeps the program's deadline at or after
//     PayPal's. A RETURNED arriving afterwards changes nothing; a claim
//     (SUCCESS) reported afterwards is ErrOutcomeContradiction.
//   - RETURNED, BLOCKED (and FAILED): the hold is voided, the whole
//     amount is the member's again and the period's withdrawal slot is
//     freed. The fee: a payout is converted and charged the fee only when
//     it is paid, so the member gets back every unit they withdrew; a fee
//     the provider keeps on a returned payment is the platform's cost,
//     outside the member's ledger. A block does not flag the member in
//     payout (later withdrawals are judged by the rules alone):
//     payout.payout.blocked is the signal a risk system subscribes to.
//   - REVERSED after SUCCESS: the provider took back a payment it had
//     completed and charged it to the platform; the member was paid, so
//     the program takes what was paid out (Amount, in the source asset)
//     back from the member into payout:<provider>:reversals, once (the
//     clawback's key is the payout's, and a reversed payout takes no
//     second one): a source other than the wallet (a creator's earnings)
//     gives first, as far as it has the amount available, then the
//     wallet through kit.Claw (down to its floor, funds held for other
//     payouts included — a payout in flight that then finds its funds
//     gone settles through the shortfall path of "Money in flight"), and
//     what neither
//     has follows Rules.ReversalRecovery: the member's debt
//     (kit.DebtAccount, repaid by kit.Credit from their next rewards
//     before those are spendable; kit.Outstanding and kit.Debts report
//     it), beyond the policy's bound written off to its loss account.
//     Payout.Recovered, Debt and WrittenOff add up to Amount. A reversal
//     of a payout recorded paid arrives by RecordOutcome (the webhook):
//     Tick does not ask about settled payouts. One reported for a payout
//     still in flight (pushed or polled) settles it paid and reversed in
//     one unit of work. A late SUCCESS after it changes nothing.
//
// PayPal's REFUNDED (the receiver sent the money back) has no outcome
// here: the handler should not report it, and it is reconciled by hand.
//
// # Event log
//
// Every recorded change is also an event in the ledger's event log
// (ledger.Writer.Emit), emitted in the unit of work that records it: it
// commits with it or not at all. A replayed Withdraw or RecordOutcome, an
// Approve, Reject or LinkAccount that changes nothing, and an answer that
// repeats the recorded status (held again, an outcome for a settled
// payout) emit nothing; a refusal emits nothing. The provider is called
// outside any unit of work, so no event reports a call, only the answer
// recorded. The subject is the member for payout.account.linked and the
// payout's ID for payout.payout.*.
//
// payout.account.linked (EventAccountLinked), by LinkAccount when the
// account is new or replaced. Data: {"member", "provider", "account"}.
//
// Every payout.payout.* event carries {"payout", "member", "provider",
// "status" (the payout's status after the change), "amount" and "asset"
// (the source asset withdrawn, as a decimal string), "net" and "currency"
// (what the member receives)}, and:
//
//   - payout.payout.requested (EventRequested), by Withdraw: the funds
//     are held; status "sending", or "review" above Rules.ReviewAbove.
//     Adds {"source" (the account withdrawn from), "gross", "fee"}.
//   - payout.payout.approved (EventApproved), by Approve. Adds {"actor"}.
//   - payout.payout.rejected (EventRejected), by Reject; the funds are
//     released. Adds {"actor", "reason"}.
//   - payout.payout.lapsed (EventLapsed), by Tick when nobody reviewed the
//     payout by its Deadline: rejected, the funds released. Adds
//     {"reason"}.
//   - payout.payout.sent (EventSent): the provider's first answer to Send
//     (Withdraw, Approve, Retry or Tick) was recorded while the payout was
//     sending; the event of the outcome it carries follows in the same
//     unit of work. A payout whose first recorded outcome was pushed, or
//     whose answer was lost, has none. Adds {"reference"}.
//   - payout.payout.held (EventHeld) and payout.payout.unclaimed
//     (EventUnclaimed): the provider holds the payment, or the receiver
//     has not claimed it; emitted when the status changes to it. Adds
//     {"reference"}.
//   - payout.payout.paid (EventPaid): the hold was captured and converted.
//     TxID: the conversion (Payout.SettlementTx). Adds {"source", "gross",
//     "fee", "reference", "shortfall" (only when the reservation had
//     lapsed and ShortfallAccount made up the difference)}.
//   - payout.payout.failed (EventFailed), payout.payout.returned
//     (EventReturned) and payout.payout.blocked (EventBlocked): the
//     provider refused the payment, an unclaimed one came back, or the
//     provider blocked it; the funds are released. Adds {"reference"},
//     and {"reason"} when the program gave an unclaimed payment back
//     itself after Rules.UnclaimedReturnAfter.
//   - payout.payout.reversed (EventReversed): a paid payment was reversed
//     and clawed back. TxID: the clawback. Adds {"reference", "recovered"
//     (taken back from the member), "debt" and "written_off" (when not
//     zero)}. It follows the kit's payout.clawback.recorded (subject the
//     member; kit.ClawbackRecorded) and, for a write-off,
//     payout.loss.written_off (kit.LossWrittenOff), in the same unit of
//     work.
//
// # Review
//
// Payouts above Rules.ReviewAbove wait in "review", with the funds held,
// for Approve or Reject. Both name an actor, who must hold
// kit.RolePayoutReviewer in the directory given with WithRoles and must
// not be the payout's member; otherwise they are ledger.ErrForbidden and
// write nothing. Without WithRoles nobody may decide.
//
// # Accounts
//
//   - member:<id>: the wallet (kit.WalletAccount), shared with every
//     program, opened with the WithWallets policy if payout meets the
//     member first and used as it is otherwise.
//   - sources from Rules.Sources (creator:<id>:diamonds), opened by the
//     program that pays into them.
//   - payout:<provider>:clearing: receives a paid payout's capture and
//     converts it away in the same unit of work (always empty after).
//   - payout:<provider>:exchange: the conversion position (Unbounded).
//   - payout:<provider>:remainder: source units rounding left unconverted.
//   - payout:<provider>:fees: the provider's fees, in money.
//   - payout:<provider>:settlement: money sent to members.
//   - payout:<provider>:shortfall: what paid payouts could not take from
//     their source (Unbounded; zero unless a reservation lapsed).
//   - payout:<provider>:reversals: what reversals clawed back (the whole
//     Amount of each reversed payout: taken, debt and written off).
//   - payout:<provider>:reversal-losses: the default ReversalRecovery's
//     write-offs (opened Unbounded at the first).
//   - member:<id>:debt: a member's debt from reversals (kit.DebtAccount,
//     shared with every program's clawbacks).
//
// MemoryProvider is an in-memory Provider for tests and examples that can
// be told to fail, hold, block, leave a payment unclaimed (returned
// later), or time out before or after paying, and can reverse a paid
// payment (Reverse).
//
// # Usage
//
//	paypal := payout.NewMemoryProvider(clock)
//	staff := &kit.RoleDirectory{}
//	staff.Grant("ana", kit.RolePayoutReviewer)
//	p, err := payout.New(ctx, l, payout.DefaultRules(), paypal, payout.WithRoles(staff))
//	_, err = p.LinkAccount(ctx, payout.LinkAccountRequest{Actor: "giulia", Account: "giulia@example.com"})
//	po, err := p.Withdraw(ctx, payout.WithdrawRequest{PayoutID: "withdrawal-1", Actor: "giulia", Amount: decimal.NewFromInt(75000)})
//	// po.Status is "paid"; po.Net is what Giulia received.
//	po, err = p.Approve(ctx, payout.ApproveRequest{Actor: "ana", PayoutID: "withdrawal-2"}) // one held for review
//	rep, err := p.Tick(ctx) // asks about payouts in flight; rep.IDs(payout.TickOverdue), rep.Failed
//	po, err = p.RecordOutcome(ctx, payout.RecordOutcomeRequest{EventID: webhookEventID, // a webhook
//		Provider: "paypal", Key: senderItemID, Outcome: payout.OutcomeSucceeded, At: reportedAt})
//
//	creators, err := payout.New(ctx, l, payout.CreatorRules(giftRules.CashValue()), paypal)
//	po, err = creators.Withdraw(ctx, payout.WithdrawRequest{PayoutID: "cashout-1", Actor: "giulia",
//		Source: "creator:giulia:diamonds", Amount: decimal.NewFromInt(10000)})
//
//	// Inside the caller's unit of work; the payment is sent after the commit.
//	err = l.Update(ctx, func(w *ledger.Writer) error {
//		_, err := creators.WithdrawIn(w, payout.WithdrawRequest{PayoutID: "cashout-2", Actor: "giulia",
//			Source: "creator:giulia:diamonds", Amount: decimal.NewFromInt(4000)})
//		return err // with the caller's other writes, all or nothing
//	})
//	if err == nil {
//		po, err = creators.Retry(ctx, payout.RetryRequest{PayoutID: "cashout-2"})
//	}
package payout
