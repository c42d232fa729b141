package payout_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit/kittest"
	"github.com/rewardkit/rewardkit/ledger/teststore"
	"github.com/rewardkit/rewardkit/payout"
)

// wantEvent is an event a test expects: its type and subject, the key of
// the journal transaction it goes with ("" for none: TxID 0), and fields
// its data must hold (kittest.WantEvent, written short).
type wantEvent struct {
	typ, subject, txKey string
	data                map[string]any
}

// expect checks that the program's events committed after *seq are
// exactly want, in order, and moves *seq to the end of the log.
func (f *fixture) expect(tb testing.TB, seq *uint64, want ...wantEvent) {
	tb.Helper()
	ws := make([]kittest.WantEvent, len(want))
	for i, w := range want {
		ws[i] = kittest.WantEvent{Type: w.typ, Subject: w.subject, TxKey: w.txKey, Data: w.data}
	}
	kittest.RequireEvents(tb, f.ctx, f.l, "payout.", seq, ws...)
}

// TestEventsOfAFlow takes payouts through every outcome, by answer, poll,
// push, review and deadline, and checks the events each recorded change
// emits, in order, with their subjects, transactions and data; replays,
// repeated answers and refusals emit nothing.
func TestEventsOfAFlow(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open, payout.DefaultRules())
		var seq uint64
		withdraw := func(id, member, amount string) payout.Payout {
			t.Helper()
			po, err := f.p.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: id, Actor: member, Amount: d(amount)})
			require.NoError(t, err)
			return po
		}
		convert := func(id string) string { return "payout:paypal:convert:" + id }

		// Linked, sent and paid at once.
		f.fund(t, "m1", 50000)
		_, err := f.p.LinkAccount(f.ctx, payout.LinkAccountRequest{Actor: "m1", Account: "m1@example.com"}) // the same: no change
		require.NoError(t, err)
		f.expect(t, &seq, wantEvent{payout.EventAccountLinked, "m1", "", map[string]any{
			"member": "m1", "provider": "paypal", "account": "m1@example.com"}})
		withdraw("w1", "m1", "50000")
		f.expect(t, &seq,
			wantEvent{payout.EventRequested, "w1", "", map[string]any{"payout": "w1", "member": "m1", "provider": "paypal",
				"status": "sending", "amount": "50000", "asset": "RUBY", "source": payout.MemberAccount("m1"),
				"gross": "5.00", "fee": "0.20", "net": "4.80", "currency": "EUR"}},
			wantEvent{payout.EventSent, "w1", "", map[string]any{"status": "sending", "net": "4.80"}},
			wantEvent{payout.EventPaid, "w1", convert("w1"), map[string]any{"status": "paid", "amount": "50000",
				"gross": "5.00", "fee": "0.20", "net": "4.80", "currency": "EUR"}})
		withdraw("w1", "m1", "50000") // a replay
		_, err = f.p.Retry(f.ctx, payout.RetryRequest{PayoutID: "w1"})
		require.NoError(t, err)
		_, err = f.p.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: "w2", Actor: "m1", Amount: d("50000")})
		require.ErrorIs(t, err, payout.ErrTooFrequent)
		_, err = f.p.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: "w2", Actor: "nolink", Amount: d("50000")})
		require.ErrorIs(t, err, payout.ErrNoPayoutAccount)
		f.expect(t, &seq)

		// Review: approved (then sent and paid), rejected.
		f.fund(t, "m2", 2_000_000)
		f.fund(t, "m3", 2_000_000)
		_, seq = f.expectAny(t, seq)
		withdraw("w3", "m2", "2000000")
		_, err = f.p.Approve(f.ctx, payout.ApproveRequest{Actor: "m2", PayoutID: "w3"})
		require.ErrorIs(t, err, ledger.ErrForbidden)
		_, err = f.p.Approve(f.ctx, payout.ApproveRequest{Actor: reviewer, PayoutID: "w3"})
		require.NoError(t, err)
		_, err = f.p.Approve(f.ctx, payout.ApproveRequest{Actor: reviewer, PayoutID: "w3"})
		require.NoError(t, err)
		withdraw("w4", "m3", "2000000")
		reject := payout.RejectRequest{Actor: reviewer, PayoutID: "w4", Reason: "documents missing"}
		_, err = f.p.Reject(f.ctx, reject)
		require.NoError(t, err)
		_, err = f.p.Reject(f.ctx, reject)
		require.NoError(t, err)
		f.expect(t, &seq,
			wantEvent{payout.EventRequested, "w3", "", map[string]any{"status": "review", "net": "192.00"}},
			wantEvent{payout.EventApproved, "w3", "", map[string]any{"status": "sending", "actor": reviewer}},
			wantEvent{payout.EventSent, "w3", "", nil},
			wantEvent{payout.EventPaid, "w3", convert("w3"), nil},
			wantEvent{payout.EventRequested, "w4", "", map[string]any{"status": "review"}},
			wantEvent{payout.EventRejected, "w4", "", map[string]any{"status": "rejected", "actor": reviewer,
				"reason": "documents missing", "amount": "2000000"}})

		// Held, asked again (still held: nothing new), then paid by poll.
		f.fund(t, "m5", 50000)
		_, seq = f.expectAny(t, seq)
		f.prov.Next(payout.HoldPayment)
		withdraw("w6", "m5", "50000")
		f.tick(t, time.Duration(f.rules.RetryEvery))
		require.NoError(t, f.prov.Resolve(f.p.KeyFor("w6"), payout.OutcomeSucceeded))
		f.tick(t, time.Duration(f.rules.RetryEvery))
		f.expect(t, &seq, wantEvent{payout.EventRequested, "w6", "", nil}, wantEvent{payout.EventSent, "w6", "", nil},
			wantEvent{payout.EventHeld, "w6", "", map[string]any{"status": "held"}},
			wantEvent{payout.EventPaid, "w6", convert("w6"), nil})

		// Unclaimed, then returned by a pushed outcome; the push replayed
		// and a contradicting one emit nothing.
		f.fund(t, "m6", 50000)
		_, seq = f.expectAny(t, seq)
		f.prov.Next(payout.LeaveUnclaimed)
		withdraw("w7", "m6", "50000")
		push := payout.RecordOutcomeRequest{EventID: "wh-1", Provider: "paypal", PayoutID: "w7", Reference: "PP-7",
			Outcome: payout.OutcomeReturned, At: f.clock.Now()}
		_, err = f.p.RecordOutcome(f.ctx, push)
		require.NoError(t, err)
		po, err := f.p.RecordOutcome(f.ctx, push)
		require.NoError(t, err)
		require.True(t, po.Replayed)
		_, err = f.p.RecordOutcome(f.ctx, payout.RecordOutcomeRequest{EventID: "wh-2", Provider: "paypal", PayoutID: "w7",
			Outcome: payout.OutcomeSucceeded, At: f.clock.Now()})
		require.ErrorIs(t, err, payout.ErrOutcomeContradiction)
		f.expect(t, &seq, wantEvent{payout.EventRequested, "w7", "", nil}, wantEvent{payout.EventSent, "w7", "", nil},
			wantEvent{payout.EventUnclaimed, "w7", "", map[string]any{"status": "unclaimed"}},
			wantEvent{payout.EventReturned, "w7", "", map[string]any{"status": "returned", "reference": "PP-7", "amount": "50000"}})

		// Refused by the provider.
		f.fund(t, "m7", 50000)
		_, seq = f.expectAny(t, seq)
		f.prov.Next(payout.Fail)
		withdraw("w8", "m7", "50000")
		f.expect(t, &seq, wantEvent{payout.EventRequested, "w8", "", nil}, wantEvent{payout.EventSent, "w8", "", nil},
			wantEvent{payout.EventFailed, "w8", "", map[string]any{"status": "failed"}})

		// The answer to Send is lost: no sent; a push pays it, and the
		// answer Tick then gets changes nothing.
		f.fund(t, "m8", 50000)
		_, seq = f.expectAny(t, seq)
		f.prov.Next(payout.TimeoutAfterPaying)
		withdraw("w9", "m8", "50000")
		_, err = f.p.RecordOutcome(f.ctx, payout.RecordOutcomeRequest{EventID: "wh-3", Provider: "paypal", PayoutID: "w9",
			Reference: "PP-9", Outcome: payout.OutcomeSucceeded, At: f.clock.Now()})
		require.NoError(t, err)
		f.tick(t, time.Duration(f.rules.RetryEvery))
		f.expect(t, &seq, wantEvent{payout.EventRequested, "w9", "", nil},
			wantEvent{payout.EventPaid, "w9", convert("w9"), map[string]any{"reference": "PP-9"}})

		// Nobody reviews it by its deadline.
		f.fund(t, "m4", 2_000_000)
		_, seq = f.expectAny(t, seq)
		withdraw("w5", "m4", "2000000")
		f.tick(t, time.Duration(f.rules.HoldFor))
		f.tick(t, time.Duration(f.rules.RetryEvery))
		f.expect(t, &seq, wantEvent{payout.EventRequested, "w5", "", nil},
			wantEvent{payout.EventLapsed, "w5", "", map[string]any{"status": "rejected", "reason": "not reviewed within hold_for (2160h0m0s)"}})
		f.verify(t)
	})
}

// expectAny skips the program's events after seq (a fixture's setup) and
// returns them with the log's last seq.
func (f *fixture) expectAny(tb testing.TB, seq uint64) ([]ledger.Event, uint64) {
	tb.Helper()
	evs, err := f.l.Events(f.ctx, seq, 10000)
	require.NoError(tb, err)
	if len(evs) > 0 {
		seq = evs[len(evs)-1].Seq
	}
	return evs, seq
}
