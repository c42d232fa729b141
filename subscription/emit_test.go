package subscription

import (
	"testing"
	"time"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/kit/kittest"
	"github.com/rewardkit/rewardkit/ledger/teststore"
	"github.com/stretchr/testify/require"
)

// wantEvent is an event a test expects: its type and subject, the key of
// the journal transaction it goes with ("" for none: TxID 0), and fields
// its data must hold (kittest.WantEvent, written short).
type wantEvent struct {
	typ, subject, txKey string
	data                map[string]any
}

// events returns the program's events committed after seq, and the last
// seq of the log (the cursor for the next call).
func (f *fixture) events(tb testT, after uint64) ([]ledger.Event, uint64) {
	tb.Helper()
	return kittest.EventsAfter(tb, f.ctx, f.l, "subscription.", after)
}

// expect checks that the program's events committed after *seq are
// exactly want, in order, and moves *seq to the end of the log.
func (f *fixture) expect(tb testT, seq *uint64, want ...wantEvent) {
	tb.Helper()
	ws := make([]kittest.WantEvent, len(want))
	for i, w := range want {
		ws[i] = kittest.WantEvent{Type: w.typ, Subject: w.subject, TxKey: w.txKey, Data: w.data}
	}
	kittest.RequireEvents(tb, f.ctx, f.l, "subscription.", seq, ws...)
}

// TestEventsOfAFlow follows subscriptions through every state and checks
// the events each change emits, in order, with their subjects, their
// transactions and their data; replays and refusals emit nothing.
func TestEventsOfAFlow(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		roles := &kit.RoleDirectory{}
		roles.Grant("rosa", kit.RoleRiskOfficer)
		f := newFixture(t, open(t), DefaultRules(), WithRoles(roles))
		var seq uint64

		f.publish(t, "pub-1", basic, pro)
		f.expect(t, &seq, wantEvent{EventTiersPublished, "cleo", "", map[string]any{"creator": "cleo", "version": 1.0,
			"asset": "USD", "tiers": []any{map[string]any{"id": "basic", "price": "4.99"}, map[string]any{"id": "pro", "price": "9.99"}}}})

		f.fund(t, "ann", "20")
		_, seq = f.events(t, seq)
		sub := SubscribeRequest{EventID: "sub-ann", Actor: "ann", Creator: "cleo", TierID: "basic"}
		s, err := f.p.Subscribe(f.ctx, sub)
		require.NoError(t, err)
		f.expect(t, &seq, wantEvent{EventStarted, "ann", "subscription:charge:cleo:ann:1", map[string]any{
			"member": "ann", "creator": "cleo", "tier": "basic", "amount": "4.99", "asset": "USD",
			"period_start": t0.Format(time.RFC3339), "period_end": s.PeriodEnd.Format(time.RFC3339)}})

		// A replay emits nothing; so do refusals.
		s2, err := f.p.Subscribe(f.ctx, sub)
		require.NoError(t, err)
		require.True(t, s2.Replayed)
		_, err = f.p.Subscribe(f.ctx, SubscribeRequest{EventID: "sub-ann-2", Actor: "ann", Creator: "cleo", TierID: "pro"})
		require.ErrorIs(t, err, ErrAlreadySubscribed)
		_, err = f.p.Subscribe(f.ctx, SubscribeRequest{EventID: "sub-bob-poor", Actor: "bob", Creator: "cleo", TierID: "pro"})
		require.ErrorIs(t, err, ErrInsufficientFunds)
		_, err = f.p.Cancel(f.ctx, CancelRequest{EventID: "cancel-bob", Actor: "bob", Creator: "cleo"})
		require.ErrorIs(t, err, ErrNotSubscribed)
		f.expect(t, &seq)

		change := ChangeTierRequest{EventID: "change-ann", Actor: "ann", Creator: "cleo", TierID: "pro"}
		_, err = f.p.ChangeTier(f.ctx, change)
		require.NoError(t, err)
		_, err = f.p.ChangeTier(f.ctx, change)
		require.NoError(t, err)
		f.expect(t, &seq, wantEvent{EventTierChanged, "ann", "", map[string]any{"tier": "basic", "next_tier": "pro"}})

		// The renewal charges the new tier; the next fails and grace starts.
		f.clock.Set(s.PeriodEnd)
		require.Equal(t, ticked{Renewed: 1}, f.tick(t))
		f.expect(t, &seq, wantEvent{EventRenewed, "ann", "subscription:charge:cleo:ann:2", map[string]any{
			"tier": "pro", "amount": "9.99", "period_start": s.PeriodEnd.Format(time.RFC3339)}})
		require.Equal(t, ticked{}, f.tick(t)) // nothing due: nothing emitted
		f.expect(t, &seq)

		s, err = f.p.Subscription(f.ctx, "ann", "cleo")
		require.NoError(t, err)
		f.clock.Set(s.PeriodEnd)
		require.Equal(t, ticked{GraceStarted: 1}, f.tick(t))
		f.expect(t, &seq, wantEvent{EventRenewalFailed, "ann", "", map[string]any{
			"tier": "pro", "amount": "9.99", "grace_until": s.PeriodEnd.Add(72 * time.Hour).Format(time.RFC3339)}})

		// Cancelling in grace ends the subscription at once.
		_, err = f.p.Cancel(f.ctx, CancelRequest{EventID: "cancel-ann", Actor: "ann", Creator: "cleo"})
		require.NoError(t, err)
		f.expect(t, &seq, wantEvent{EventCancelled, "ann", "", map[string]any{"tier": "pro"}},
			wantEvent{EventEnded, "ann", "", map[string]any{"reason": "canceled in grace", "ended_at": s.PeriodEnd.Format(time.RFC3339)}})

		// A refund reverses the last payment and ends the subscription.
		f.fund(t, "bob", "10")
		_, seq = f.events(t, seq)
		_, err = f.p.Subscribe(f.ctx, SubscribeRequest{EventID: "sub-bob", Actor: "bob", Creator: "cleo", TierID: "basic"})
		require.NoError(t, err)
		refund := RefundRequest{EventID: "refund-bob", Actor: "rosa", Member: "bob", Creator: "cleo", Reason: "dispute"}
		_, err = f.p.Refund(f.ctx, RefundRequest{EventID: "refund-bob-x", Actor: "bob", Member: "bob", Creator: "cleo"})
		require.ErrorIs(t, err, ErrForbidden)
		_, err = f.p.Refund(f.ctx, refund)
		require.NoError(t, err)
		_, err = f.p.Refund(f.ctx, refund)
		require.NoError(t, err)
		f.expect(t, &seq, wantEvent{EventStarted, "bob", "subscription:charge:cleo:bob:1", nil},
			wantEvent{EventRefunded, "bob", "subscription:refund:cleo:bob:1", map[string]any{
				"member": "bob", "creator": "cleo", "amount": "4.99", "asset": "USD", "reason": "dispute"}},
			wantEvent{EventEnded, "bob", "subscription:refund:cleo:bob:1", map[string]any{"reason": "refunded by rosa"}})

		// A cancelled subscription ends when its Tick comes at the period end.
		f.fund(t, "cat", "10")
		_, seq = f.events(t, seq)
		s, err = f.p.Subscribe(f.ctx, SubscribeRequest{EventID: "sub-cat", Actor: "cat", Creator: "cleo", TierID: "basic"})
		require.NoError(t, err)
		_, err = f.p.Cancel(f.ctx, CancelRequest{EventID: "cancel-cat", Actor: "cat", Creator: "cleo"})
		require.NoError(t, err)
		f.clock.Set(s.PeriodEnd)
		require.Equal(t, ticked{Ended: 1}, f.tick(t))
		f.expect(t, &seq, wantEvent{EventStarted, "cat", "subscription:charge:cleo:cat:1", nil},
			wantEvent{EventCancelled, "cat", "", map[string]any{"period_end": s.PeriodEnd.Format(time.RFC3339)}},
			wantEvent{EventEnded, "cat", "", map[string]any{"reason": "canceled"}})
		f.verify(t)
	})
}
