package shoutout_test

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/shoutout"
)

// event is one of shoutout's events, as a test expects it.
type event struct{ typ, subject string }

// events returns shoutout's committed events after seq (the ledger's own
// are left out) and the log's last seq.
func (e *env) events(tb testingT, after uint64) ([]ledger.Event, uint64) {
	tb.Helper()
	all, err := e.l.Events(e.ctx, after, 10000)
	require.NoError(tb, err)
	var out []ledger.Event
	for _, ev := range all {
		after = ev.Seq
		if strings.HasPrefix(ev.Type, "shoutout.") {
			out = append(out, ev)
		}
	}
	return out, after
}

// expectEvents checks that shoutout emitted exactly want since seq, in
// order, and returns them with the new seq.
func (e *env) expectEvents(tb testingT, seq uint64, want ...event) ([]ledger.Event, uint64) {
	tb.Helper()
	evs, seq := e.events(tb, seq)
	var got []event
	for _, ev := range evs {
		got = append(got, event{ev.Type, ev.Subject})
	}
	require.Equal(tb, want, got)
	return evs, seq
}

func orderData(tb testingT, ev ledger.Event) shoutout.OrderData {
	tb.Helper()
	var d shoutout.OrderData
	require.NoError(tb, json.Unmarshal(ev.Data, &d))
	return d
}

func TestEvents(t *testing.T) {
	both(t, shoutout.DefaultRules(), func(t *testing.T, e *env) {
		e.fund(t, "ann", 1000)
		_, seq := e.events(t, 0)

		// The happy path, with one rejection answered.
		o := e.offerAndRequest(t, "o-1", "ann", 200)
		evs, seq := e.expectEvents(t, seq, event{shoutout.EventOfferSet, "cat"}, event{shoutout.EventOrderRequested, "o-1"})
		require.JSONEq(t, `{"creator":"cat","price":"200"}`, string(evs[0].Data))
		require.Equal(t, shoutout.OrderData{OrderID: "o-1", Fan: "ann", Creator: "cat", Actor: "ann", Status: shoutout.StatusRequested,
			Price: orderData(t, evs[1]).Price, Hold: strconv.FormatUint(o.Hold, 10)}, orderData(t, evs[1]))
		require.Contains(t, string(evs[1].Data), `"price":"200"`)

		_, err := e.p.Accept(e.ctx, shoutout.AcceptRequest{EventID: "e-1", Actor: "cat", OrderID: "o-1"})
		require.NoError(t, err)
		_, err = e.p.Submit(e.ctx, shoutout.SubmitRequest{EventID: "e-2", Actor: "cat", OrderID: "o-1", Video: "v-1"})
		require.NoError(t, err)
		_, err = e.p.Reject(e.ctx, shoutout.RejectRequest{EventID: "e-3", Actor: reviewer, OrderID: "o-1", Reason: "too dark"})
		require.NoError(t, err)
		_, err = e.p.Submit(e.ctx, shoutout.SubmitRequest{EventID: "e-4", Actor: "cat", OrderID: "o-1", Video: "v-2"})
		require.NoError(t, err)
		paid, err := e.p.Approve(e.ctx, shoutout.ApproveRequest{EventID: "e-5", Actor: reviewer, OrderID: "o-1"})
		require.NoError(t, err)
		require.True(t, paid.DMSent)
		evs, seq = e.expectEvents(t, seq,
			event{shoutout.EventOrderAccepted, "o-1"}, event{shoutout.EventOrderSubmitted, "o-1"},
			event{shoutout.EventOrderRejected, "o-1"}, event{shoutout.EventOrderSubmitted, "o-1"},
			event{shoutout.EventOrderApproved, "o-1"}, event{shoutout.EventOrderDelivered, "o-1"})
		rejected := orderData(t, evs[2])
		require.Equal(t, shoutout.StatusAccepted, rejected.Status)
		require.Equal(t, "too dark", rejected.Reason)
		require.Equal(t, 1, rejected.Rejections)
		approved := orderData(t, evs[4])
		require.Equal(t, reviewer, approved.Actor)
		require.Equal(t, paid.Capture, evs[4].TxID, "the approval's event goes with the capture")
		require.NotZero(t, evs[4].TxID)
		require.Equal(t, strconv.FormatInt(paid.CreatorShare, 10), approved.CreatorShare.String())
		require.Equal(t, strconv.FormatInt(paid.PlatformShare, 10), approved.PlatformShare.String())
		require.Equal(t, shoutout.StatusDelivered, orderData(t, evs[5]).Status)

		// Replays, a DM already sent, an offer set to its own price and
		// refusals emit nothing.
		_, err = e.p.Approve(e.ctx, shoutout.ApproveRequest{EventID: "e-5", Actor: reviewer, OrderID: "o-1"})
		require.NoError(t, err)
		_, err = e.p.Request(e.ctx, shoutout.RequestRequest{OrderID: "o-1", Fan: "ann", Creator: "cat", Price: 200, Note: "say hi"})
		require.NoError(t, err)
		_, err = e.p.Reject(e.ctx, shoutout.RejectRequest{EventID: "e-3", Actor: reviewer, OrderID: "o-1", Reason: "too dark"})
		require.NoError(t, err)
		_, err = e.p.SetOffer(e.ctx, shoutout.SetOfferRequest{Creator: "cat", Price: 200})
		require.NoError(t, err)
		e.tick(t)
		_, err = e.p.Request(e.ctx, shoutout.RequestRequest{OrderID: "o-2", Fan: "ann", Creator: "cat", Price: 999})
		require.ErrorIs(t, err, shoutout.ErrPriceChanged)
		_, err = e.p.Request(e.ctx, shoutout.RequestRequest{OrderID: "o-2", Fan: "ann", Creator: "cat", Price: 200})
		require.NoError(t, err)
		_, seq = e.expectEvents(t, seq, event{shoutout.EventOrderRequested, "o-2"})
		_, err = e.p.Accept(e.ctx, shoutout.AcceptRequest{EventID: "e-6", Actor: "dan", OrderID: "o-2"})
		require.ErrorIs(t, err, shoutout.ErrNotParty)
		_, err = e.p.Approve(e.ctx, shoutout.ApproveRequest{EventID: "e-7", Actor: "cat", OrderID: "o-2"})
		require.ErrorIs(t, err, ledger.ErrForbidden)
		all, err := e.l.Events(e.ctx, seq, 100)
		require.NoError(t, err)
		require.Empty(t, all, "replays and refusals emit nothing, not even the ledger's own events")

		// Every way of closing an order unpaid refunds it.
		_, err = e.p.Decline(e.ctx, shoutout.DeclineRequest{EventID: "e-8", Actor: "cat", OrderID: "o-2"})
		require.NoError(t, err)
		_, err = e.p.Request(e.ctx, shoutout.RequestRequest{OrderID: "o-3", Fan: "ann", Creator: "cat", Price: 200})
		require.NoError(t, err)
		_, err = e.p.Cancel(e.ctx, shoutout.CancelRequest{EventID: "e-9", Actor: "ann", OrderID: "o-3"})
		require.NoError(t, err)
		_, err = e.p.Request(e.ctx, shoutout.RequestRequest{OrderID: "o-4", Fan: "ann", Creator: "cat", Price: 200})
		require.NoError(t, err)
		require.NoError(t, e.p.WithdrawOffer(e.ctx, shoutout.WithdrawOfferRequest{Creator: "cat"}))
		evs, seq = e.expectEvents(t, seq,
			event{shoutout.EventOrderDeclined, "o-2"}, event{shoutout.EventOrderRefunded, "o-2"},
			event{shoutout.EventOrderRequested, "o-3"},
			event{shoutout.EventOrderCancelled, "o-3"}, event{shoutout.EventOrderRefunded, "o-3"},
			event{shoutout.EventOrderRequested, "o-4"}, event{shoutout.EventOfferWithdrawn, "cat"})
		refunded := orderData(t, evs[1])
		require.Equal(t, "declined", refunded.Reason)
		require.Equal(t, "200", refunded.Price.String())
		require.Equal(t, "cancelled", orderData(t, evs[4]).Reason)

		e.clock.Advance(3*24*time.Hour + time.Second)
		rep := e.tick(t)
		require.Equal(t, []string{"o-4"}, rep.IDs(shoutout.ItemRefunded))
		evs, seq = e.expectEvents(t, seq, event{shoutout.EventOrderExpired, "o-4"}, event{shoutout.EventOrderRefunded, "o-4"})
		expired := orderData(t, evs[0])
		require.Equal(t, shoutout.StatusExpired, expired.Status)
		require.Equal(t, "accept_window", expired.Reason)
		require.Empty(t, expired.Actor)
		e.tick(t)
		_, _ = e.expectEvents(t, seq)
	})
}

func TestEventsFinalRejectionAndDelayedDM(t *testing.T) {
	rules := shoutout.DefaultRules()
	rules.MaxResubmissions = 0
	both(t, rules, func(t *testing.T, e *env) {
		e.fund(t, "ann", 1000)
		_, seq := e.events(t, 0)
		for _, id := range []string{"o-1", "o-2"} {
			e.offerAndRequest(t, id, "ann", 100)
			_, err := e.p.Accept(e.ctx, shoutout.AcceptRequest{EventID: id + "-a", Actor: "cat", OrderID: id})
			require.NoError(t, err)
			_, err = e.p.Submit(e.ctx, shoutout.SubmitRequest{EventID: id + "-s", Actor: "cat", OrderID: id, Video: "v"})
			require.NoError(t, err)
		}
		_, seq = e.events(t, seq)
		_, err := e.p.Reject(e.ctx, shoutout.RejectRequest{EventID: "o-1-r", Actor: reviewer, OrderID: "o-1", Reason: "no"})
		require.NoError(t, err)
		evs, seq := e.expectEvents(t, seq, event{shoutout.EventOrderRejected, "o-1"}, event{shoutout.EventOrderRefunded, "o-1"})
		require.Equal(t, shoutout.StatusRejected, orderData(t, evs[0]).Status)
		require.Equal(t, "rejected", orderData(t, evs[0]).Reason)

		// A DM that fails is not delivered: its event waits for the send
		// that works.
		e.msgr.setDown(true)
		o, err := e.p.Approve(e.ctx, shoutout.ApproveRequest{EventID: "o-2-ok", Actor: reviewer, OrderID: "o-2"})
		require.NoError(t, err)
		require.False(t, o.DMSent)
		_, seq = e.expectEvents(t, seq, event{shoutout.EventOrderApproved, "o-2"})
		e.tick(t)
		_, seq = e.expectEvents(t, seq)
		e.msgr.setDown(false)
		e.clock.Advance(kit.DefaultOutboxRetry) // a failed send waits that long
		e.tick(t)
		_, seq = e.expectEvents(t, seq, event{shoutout.EventOrderDelivered, "o-2"})
		e.tick(t)
		_, _ = e.expectEvents(t, seq)
	})
}

// errSentinel is a caller's step failing after the program's.
var errSentinel = errors.New("the caller's own step failed")

func TestEventsRolledBackWithTheCallersUnitOfWork(t *testing.T) {
	both(t, shoutout.DefaultRules(), func(t *testing.T, e *env) {
		e.fund(t, "ann", 1000)
		e.offerAndRequest(t, "o-1", "ann", 100)
		_, seq := e.events(t, 0)
		err := e.l.Update(e.ctx, func(w *ledger.Writer) error {
			if _, err := e.p.AcceptIn(w, shoutout.AcceptRequest{EventID: "a", Actor: "cat", OrderID: "o-1"}); err != nil {
				return err
			}
			return errSentinel
		})
		require.ErrorIs(t, err, errSentinel)
		_, _ = e.expectEvents(t, seq)
	})
}

// An approval that cannot pay (the escrow was charged back) closes the
// order as expired and refunds it: no approved event.
func TestEventsApprovalThatCannotPay(t *testing.T) {
	both(t, shoutout.DefaultRules(), func(t *testing.T, e *env) {
		e.fund(t, "ann", 1000)
		e.offerAndRequest(t, "o-1", "ann", 400)
		_, err := e.p.Accept(e.ctx, shoutout.AcceptRequest{EventID: "ev-1", OrderID: "o-1", Actor: "cat"})
		require.NoError(t, err)
		_, err = e.p.Submit(e.ctx, shoutout.SubmitRequest{EventID: "ev-2", OrderID: "o-1", Actor: "cat", Video: "video://1"})
		require.NoError(t, err)
		_, err = e.l.Post(e.ctx, ledger.TransferRequest{Key: "chargeback", IncludeHeld: true, Postings: []ledger.Posting{
			{From: shoutout.MemberAccount("ann"), To: ledger.World, Asset: "COIN", Amount: decimal.NewFromInt(1000)}}})
		require.NoError(t, err)
		_, seq := e.events(t, 0)
		_, err = e.p.Approve(e.ctx, shoutout.ApproveRequest{EventID: "ev-3", OrderID: "o-1", Actor: reviewer})
		require.NoError(t, err)
		evs, _ := e.expectEvents(t, seq, event{shoutout.EventOrderExpired, "o-1"}, event{shoutout.EventOrderRefunded, "o-1"})
		d := orderData(t, evs[0])
		require.Equal(t, "hold_unfunded", d.Reason)
		require.Equal(t, reviewer, d.Actor)
		require.True(t, d.CreatorShare.IsZero())
	})
}
