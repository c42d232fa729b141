package payout_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/teststore"
	"github.com/rewardkit/rewardkit/payout"
)

// statesRules are the default rules with room for several withdrawals a
// day and none held for review.
func statesRules() payout.Rules {
	r := payout.DefaultRules()
	r.MaxPerPeriod = 100
	r.DailyMaximum = d("0")
	r.ReviewAbove = d("0")
	return r
}

// An unclaimed payment the provider has not returned yet is given back by
// Tick once unclaimed_return_after has passed since it was first reported
// unclaimed, and not a moment before; the provider's RETURNED arriving
// afterwards moves nothing, and a claim reported then is a contradiction.
func TestUnclaimedGivenBackAfterTheRule(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open, statesRules())
		f.prov.SetReturnAfter(60 * 24 * time.Hour) // the provider is slower than the rule
		f.fund(t, "u", 100000)
		f.prov.Next(payout.LeaveUnclaimed)
		po, err := f.p.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: "w-u", Actor: "u", Amount: d("80000")})
		require.NoError(t, err)
		require.Equal(t, payout.StatusUnclaimed, po.Status)
		require.True(t, po.UnclaimedAt.Equal(t0))
		eq(t, "20000", f.wallet(t, "u").Available)

		// A tick just before the 30 days: still unclaimed, still reserved.
		rep := f.tick(t, 30*24*time.Hour-time.Minute)
		require.Equal(t, []string{"w-u"}, rep.IDs(payout.TickPending))
		eq(t, "20000", f.wallet(t, "u").Available)
		_, seq := f.expectAny(t, 0)

		// 30 days: given back, once, with the rule named.
		f.clock.Advance(time.Minute)
		rep, err = f.p.Tick(f.ctx)
		require.NoError(t, err)
		require.Equal(t, []string{"w-u"}, rep.IDs(payout.TickReturned))
		po, err = f.p.Get(f.ctx, "w-u")
		require.NoError(t, err)
		require.Equal(t, payout.StatusReturned, po.Status)
		require.Contains(t, po.Reason, "unclaimed_return_after")
		eq(t, "100000", f.wallet(t, "u").Available)
		eq(t, "100000", f.wallet(t, "u").Posted)
		f.expect(t, &seq, wantEvent{payout.EventReturned, "w-u", "", map[string]any{"status": "returned",
			"reason": "not claimed within unclaimed_return_after (720h0m0s)"}})
		rep = f.tick(t, time.Hour)
		require.Zero(t, sent(rep), "settled payouts leave the outbox")

		// The provider's own RETURNED, by push and by poll: nothing moves.
		before := f.snapshot(t)
		po, err = f.p.RecordOutcome(f.ctx, withEventID("ret", note(f, "w-u", payout.OutcomeReturned, f.clock.Now())))
		require.NoError(t, err)
		require.Equal(t, payout.StatusReturned, po.Status)
		_, err = f.p.Retry(f.ctx, payout.RetryRequest{PayoutID: "w-u"})
		require.NoError(t, err)
		_, err = f.p.RecordOutcome(f.ctx, withEventID("claimed", note(f, "w-u", payout.OutcomeSucceeded, f.clock.Now())))
		require.ErrorIs(t, err, payout.ErrOutcomeContradiction)
		f.expect(t, &seq)
		require.Equal(t, before, f.snapshot(t), "the provider's report after the program's return wrote nothing")
		f.verify(t)
	})
}

// With unclaimed_return_after 0 only the provider's report gives an
// unclaimed payment back; the provider's RETURNED does, once.
func TestUnclaimedReturnedByTheProvider(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		r := statesRules()
		r.UnclaimedReturnAfter = 0
		f := newFixture(t, open, r)
		f.prov.SetReturnAfter(400 * 24 * time.Hour)
		f.fund(t, "u", 100000)
		f.prov.Next(payout.LeaveUnclaimed)
		_, err := f.p.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: "w-u", Actor: "u", Amount: d("80000")})
		require.NoError(t, err)
		rep := f.tick(t, 89*24*time.Hour)
		require.Equal(t, []string{"w-u"}, rep.IDs(payout.TickPending))
		eq(t, "20000", f.wallet(t, "u").Available)

		_, seq := f.expectAny(t, 0)
		for _, ev := range []string{"r1", "r2", "r1"} { // another delivery, then a repeat
			po, err := f.p.RecordOutcome(f.ctx, withEventID(ev, note(f, "w-u", payout.OutcomeReturned, f.clock.Now())))
			require.NoError(t, err)
			require.Equal(t, payout.StatusReturned, po.Status)
		}
		f.expect(t, &seq, wantEvent{payout.EventReturned, "w-u", "", map[string]any{"status": "returned"}})
		eq(t, "100000", f.wallet(t, "u").Available)
		f.verify(t)
	})
}

// A blocked payment gives the funds back and frees the week's withdrawal
// slot, whether the provider blocks it at once or after holding it.
func TestBlockedGivesTheFundsBack(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open, payout.DefaultRules()) // one withdrawal a week
		f.fund(t, "b", 100000)
		var seq uint64
		_, seq = f.expectAny(t, seq)
		f.prov.Next(payout.Block)
		po, err := f.p.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: "w-b", Actor: "b", Amount: d("80000")})
		require.NoError(t, err)
		require.Equal(t, payout.StatusBlocked, po.Status)
		eq(t, "100000", f.wallet(t, "b").Available)
		f.expect(t, &seq,
			wantEvent{payout.EventRequested, "w-b", "", nil},
			wantEvent{payout.EventSent, "w-b", "", nil},
			wantEvent{payout.EventBlocked, "w-b", "", map[string]any{"status": "blocked", "net": "7.68"}})

		// The slot is free again: held, then blocked on a poll.
		f.prov.Next(payout.HoldPayment)
		po, err = f.p.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: "w-b2", Actor: "b", Amount: d("90000")})
		require.NoError(t, err)
		require.Equal(t, payout.StatusHeld, po.Status)
		require.NoError(t, f.prov.Resolve(f.p.KeyFor("w-b2"), payout.OutcomeBlocked))
		rep := f.tick(t, time.Hour)
		require.Equal(t, []string{"w-b2"}, rep.IDs(payout.TickBlocked))
		eq(t, "100000", f.wallet(t, "b").Available)
		eq(t, "100000", f.wallet(t, "b").Posted)
		// A late success for a blocked payout contradicts it.
		_, err = f.p.RecordOutcome(f.ctx, withEventID("late", note(f, "w-b2", payout.OutcomeSucceeded, f.clock.Now())))
		require.ErrorIs(t, err, payout.ErrOutcomeContradiction)
		f.verify(t)
	})
}

// A reversal after a success takes the amount back from the member once
// (kit.Claw): all of it while they have it; what they have spent since
// becomes their debt (Rules.ReversalRecovery's default), repaid from their
// next reward before it is spendable. Repeats, another delivery of it and
// a late success move nothing; a refusal reported after it is a
// contradiction.
func TestReversedAfterSuccess(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open, statesRules())
		f.fund(t, "r", 200000)
		po, err := f.p.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: "w-r", Actor: "r", Amount: d("80000")})
		require.NoError(t, err)
		require.Equal(t, payout.StatusPaid, po.Status)
		eq(t, "120000", f.wallet(t, "r").Posted)
		_, seq := f.expectAny(t, 0)

		require.NoError(t, f.prov.Reverse(f.p.KeyFor("w-r")))
		for _, ev := range []string{"rev-1", "rev-2", "rev-1"} {
			po, err = f.p.RecordOutcome(f.ctx, withEventID(ev, note(f, "w-r", payout.OutcomeReversed, f.clock.Now())))
			require.NoError(t, err)
			require.Equal(t, payout.StatusReversed, po.Status)
		}
		eq(t, "80000", po.Recovered)
		eq(t, "0", po.Debt)
		eq(t, "40000", f.wallet(t, "r").Posted)
		eq(t, "80000", f.bal(t, payout.ReversalAccount("paypal"), "RUBY").Posted)
		f.expect(t, &seq,
			wantEvent{"payout.clawback.recorded", "r", "payout:paypal:reverse:w-r", map[string]any{"taken": "80000", "debt": "0", "reason": "reversed"}},
			wantEvent{payout.EventReversed, "w-r", "payout:paypal:reverse:w-r", map[string]any{"status": "reversed", "recovered": "80000"}})
		_, err = f.p.RecordOutcome(f.ctx, withEventID("late-ok", note(f, "w-r", payout.OutcomeSucceeded, t0)))
		require.NoError(t, err)
		_, err = f.p.RecordOutcome(f.ctx, withEventID("fail", note(f, "w-r", payout.OutcomeFailed, f.clock.Now())))
		require.ErrorIs(t, err, payout.ErrOutcomeContradiction)
		f.expect(t, &seq)

		// Spent since: 40,000 left of an 80,000 payout.
		f.clock.Advance(8 * 24 * time.Hour)
		f.deposit(t, payout.MemberAccount("r"), "RUBY", 60000) // 100,000
		po, err = f.p.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: "w-r2", Actor: "r", Amount: d("80000")})
		require.NoError(t, err)
		require.Equal(t, payout.StatusPaid, po.Status)
		eq(t, "20000", f.wallet(t, "r").Posted)
		require.NoError(t, f.prov.Reverse(f.p.KeyFor("w-r2")))
		_, seq = f.expectAny(t, seq)
		po, err = f.p.RecordOutcome(f.ctx, withEventID("rev-3", note(f, "w-r2", payout.OutcomeReversed, f.clock.Now())))
		require.NoError(t, err)
		eq(t, "20000", po.Recovered)
		eq(t, "60000", po.Debt)
		eq(t, "0", po.WrittenOff)
		eq(t, "0", f.wallet(t, "r").Posted)
		eq(t, "160000", f.bal(t, payout.ReversalAccount("paypal"), "RUBY").Posted)
		f.expect(t, &seq,
			wantEvent{"payout.clawback.recorded", "r", "payout:paypal:reverse:w-r2", map[string]any{"taken": "20000", "debt": "60000"}},
			wantEvent{payout.EventReversed, "w-r2", "payout:paypal:reverse:w-r2", map[string]any{"recovered": "20000", "debt": "60000"}})
		var owed []kit.Debt
		require.NoError(t, f.l.View(f.ctx, func(r *ledger.Reader) (err error) { owed, err = kit.Outstanding(r, "r"); return err }))
		require.Len(t, owed, 1)
		eq(t, "60000", owed[0].Amount)

		// The next reward repays the debt before any of it is spendable.
		require.NoError(t, f.l.Update(f.ctx, func(w *ledger.Writer) error {
			res, err := kit.Credit(w, kit.CreditRequest{Program: "referral", Key: "reward-1", Member: "r", Asset: "RUBY", Amount: d("70000"), From: ledger.World})
			if err == nil && (!res.Repaid.Equal(d("60000")) || !res.Credited.Equal(d("10000"))) {
				err = fmt.Errorf("credit split %+v", res)
			}
			return err
		}))
		eq(t, "10000", f.wallet(t, "r").Posted)
		f.verify(t)
	})
}

// A payment paid and reversed before the program heard of either settles
// paid and reversed in one unit of work, on the poll that finds it.
func TestReversedFoundByAPoll(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open, statesRules())
		f.fund(t, "r", 100000)
		f.prov.Next(payout.HoldPayment)
		_, err := f.p.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: "w-p", Actor: "r", Amount: d("80000")})
		require.NoError(t, err)
		require.NoError(t, f.prov.Resolve(f.p.KeyFor("w-p"), payout.OutcomeSucceeded))
		require.NoError(t, f.prov.Reverse(f.p.KeyFor("w-p")))
		_, seq := f.expectAny(t, 0)
		rep := f.tick(t, time.Hour)
		require.Equal(t, []string{"w-p"}, rep.IDs(payout.TickReversed))
		f.expect(t, &seq,
			wantEvent{payout.EventPaid, "w-p", "payout:paypal:convert:w-p", map[string]any{"status": "paid"}},
			wantEvent{"payout.clawback.recorded", "r", "payout:paypal:reverse:w-p", map[string]any{"taken": "20000", "debt": "60000"}},
			wantEvent{payout.EventReversed, "w-p", "payout:paypal:reverse:w-p", map[string]any{"status": "reversed", "recovered": "20000", "debt": "60000"}})
		eq(t, "0", f.wallet(t, "r").Posted)
		eq(t, f.prov.Paid("EUR").String(), f.bal(t, payout.SettlementAccount("paypal"), "EUR").Posted)
		f.verify(t)
	})
}

// unclaimed_return_after is optional (0), bounded, and never negative.
func TestUnclaimedReturnAfterRule(t *testing.T) {
	r := payout.DefaultRules()
	require.Equal(t, kit.Duration(30*24*time.Hour), r.UnclaimedReturnAfter)
	r.UnclaimedReturnAfter = 0
	require.NoError(t, r.Validate())
	r.UnclaimedReturnAfter = -1
	require.ErrorIs(t, r.Validate(), payout.ErrInvalidRules)
	require.ErrorContains(t, r.Validate(), "unclaimed_return_after")
}

// A creator's diamonds cashed out and reversed: the earnings account gives
// back what it still has, the wallet (which holds no diamonds) nothing,
// and under a write-off policy the rest goes to the loss account, never
// dropped.
func TestReversedCashOutWrittenOff(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		r := payout.CreatorRules(diamondValue)
		r.ReversalRecovery = kit.WriteOff("platform:reversal-losses")
		f := newFixture(t, open, r)
		require.NoError(t, f.l.Update(f.ctx, func(w *ledger.Writer) error { return earn(w, "cat", 5000) }))
		_, err := f.p.LinkAccount(f.ctx, payout.LinkAccountRequest{Actor: "cat", Account: "cat@example.com"})
		require.NoError(t, err)
		po, err := f.p.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: "c-1", Actor: "cat", Source: earnings("cat"), Amount: d("4000")})
		require.NoError(t, err)
		require.Equal(t, payout.StatusPaid, po.Status)
		require.NoError(t, f.prov.Reverse(f.p.KeyFor("c-1")))
		po, err = f.p.RecordOutcome(f.ctx, withEventID("rev", note(f, "c-1", payout.OutcomeReversed, f.clock.Now())))
		require.NoError(t, err)
		require.Equal(t, payout.StatusReversed, po.Status)
		eq(t, "1000", po.Recovered)
		eq(t, "0", po.Debt)
		eq(t, "3000", po.WrittenOff)
		eq(t, "0", f.bal(t, earnings("cat"), "DIAMOND").Posted)
		eq(t, "4000", f.bal(t, payout.ReversalAccount(r.Provider), "DIAMOND").Posted)
		eq(t, "-3000", f.bal(t, "platform:reversal-losses", "DIAMOND").Posted)
		f.verify(t)
	})
}

// The recovery rule is validated with the rules and named when bad.
func TestReversalRecoveryRule(t *testing.T) {
	r := payout.DefaultRules()
	require.Equal(t, kit.Recover(d("10000000"), payout.ReversalLossAccount("paypal")), r.ReversalRecovery)
	r.ReversalRecovery = kit.RecoveryPolicy{}
	require.NoError(t, r.Validate(), "empty is the default")
	r.ReversalRecovery = kit.RecoveryPolicy{Mode: "write_off"}
	require.ErrorIs(t, r.Validate(), payout.ErrInvalidRules)
	require.ErrorContains(t, r.Validate(), "reversal_recovery")
	require.ErrorIs(t, r.Validate(), kit.ErrInvalidRecovery)
}
