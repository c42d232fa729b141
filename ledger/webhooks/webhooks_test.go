package webhooks

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/teststore"
)

// Events reach the endpoint in Seq order, once each, signed so that
// Verify accepts them, whether sent by RunOnce or by Run as they are
// committed; the consumer's position follows.
func TestDeliversInOrderSigned(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		l := ledger.New(open(t))
		rc := newReceiver(t, nil)
		evs := emitN(t, l, 7)
		d := newDispatcher(t, l, []Endpoint{rc.endpoint("shop")})

		require.NoError(t, d.RunOnce(ctx))
		require.Equal(t, seqsOf(evs), rc.accepted())
		require.Equal(t, evs[len(evs)-1].Seq, position(t, d, "shop"))
		require.NoError(t, d.RunOnce(ctx))
		require.Equal(t, seqsOf(evs), rc.accepted(), "nothing new, nothing sent")

		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- d.Run(runCtx) }()
		evs = append(evs, emitN(t, l, 5)...)
		require.Eventually(t, func() bool { return position(t, d, "shop") == evs[len(evs)-1].Seq },
			10*time.Second, 5*time.Millisecond)
		cancel()
		require.ErrorIs(t, <-done, context.Canceled)
		require.Equal(t, seqsOf(evs), rc.accepted())
		require.Zero(t, rc.refused())
		require.Equal(t, "webhooks.shop", d.Consumer("shop").Name())
	})
}

// An endpoint takes only the types it asks for, exact or by prefix, and
// its position still moves past the others.
func TestTypeFilter(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		l := ledger.New(open(t))
		payouts, gifts, all := newReceiver(t, nil), newReceiver(t, nil), newReceiver(t, nil)
		evs := emit(t, l, "payout.payout.paid", "gifting.gift.sent", "payout.payout.failed",
			"gifting.gift.refunded", "payoutx.thing.done", "gifting.gift.sent")
		d := newDispatcher(t, l, []Endpoint{
			payouts.endpoint("payouts", "payout."),
			gifts.endpoint("gifts", "gifting.gift.sent"),
			all.endpoint("all"),
		})
		require.NoError(t, d.RunOnce(ctx))
		require.Equal(t, []uint64{evs[0].Seq, evs[2].Seq}, payouts.accepted())
		require.Equal(t, []uint64{evs[1].Seq, evs[5].Seq}, gifts.accepted())
		require.Equal(t, seqsOf(evs), all.accepted())
		last := evs[len(evs)-1].Seq
		for _, id := range []string{"payouts", "gifts", "all"} {
			require.Equal(t, last, position(t, d, id), id)
		}
	})
}

// A 500 is retried: the event is delivered once after, and the ones
// after it keep their order.
func TestRetriesServerErrors(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		l := ledger.New(open(t))
		rc := newReceiver(t, func(n int, _ *http.Request) int {
			if n == 2 || n == 3 { // the second event fails twice
				return http.StatusInternalServerError
			}
			return http.StatusOK
		})
		evs := emitN(t, l, 4)
		d := newDispatcher(t, l, []Endpoint{rc.endpoint("flaky")})
		require.NoError(t, d.RunOnce(ctx))
		s := seqsOf(evs)
		require.Equal(t, s, rc.accepted())
		require.Equal(t, []uint64{s[0], s[1], s[1], s[1], s[2], s[3]}, rc.received())
		dead, err := d.DeadLetters(ctx, "flaky")
		require.NoError(t, err)
		require.Empty(t, dead)
	})
}

// A receiver that does not answer within the timeout is retried.
func TestRetriesTimeouts(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		l := ledger.New(open(t))
		rc := newReceiver(t, func(n int, r *http.Request) int {
			if n == 1 {
				<-r.Context().Done() // hangs until the sender gives up
			}
			return http.StatusOK
		})
		evs := emitN(t, l, 2)
		d := newDispatcher(t, l, []Endpoint{rc.endpoint("slow")}, WithTimeout(50*time.Millisecond))
		start := time.Now()
		require.NoError(t, d.RunOnce(ctx))
		require.GreaterOrEqual(t, time.Since(start), 50*time.Millisecond)
		s := seqsOf(evs)
		require.Equal(t, s, rc.accepted())
		require.Equal(t, []uint64{s[0], s[0], s[1]}, rc.received())
	})
}

// An endpoint that always fails gets each event max-attempts times; the
// event is then dead-lettered with the last error and the endpoint moves
// on. Redeliver sends it again and, once taken, removes the dead letter.
func TestDeadLetterAndRedeliver(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		l := ledger.New(open(t))
		var down atomic.Bool
		rc := newReceiver(t, func(_ int, r *http.Request) int {
			if down.Load() {
				return http.StatusServiceUnavailable
			}
			return http.StatusOK
		})
		evs := emitN(t, l, 3)
		d := newDispatcher(t, l, []Endpoint{rc.endpoint("down")}, WithMaxAttempts(3))

		down.Store(true)
		require.NoError(t, d.RunOnce(ctx))
		require.Len(t, rc.received(), 9, "3 events × 3 attempts")
		require.Empty(t, rc.accepted())
		require.Equal(t, evs[2].Seq, position(t, d, "down"), "the endpoint moved on")
		dead, err := d.DeadLetters(ctx, "down")
		require.NoError(t, err)
		require.Len(t, dead, 3)
		for i, dl := range dead {
			require.Equal(t, "down", dl.Endpoint)
			require.Equal(t, evs[i].Seq, dl.Seq)
			require.Equal(t, evs[i].ID, dl.EventID)
			require.Equal(t, 3, dl.Attempts)
			require.Contains(t, dl.LastError, "status 503")
			require.False(t, dl.Time.IsZero())
		}

		// Back up: the next events are delivered; a dead one is redelivered.
		down.Store(false)
		more := emitN(t, l, 2)
		require.NoError(t, d.RunOnce(ctx))
		require.Equal(t, seqsOf(more), rc.accepted())
		require.NoError(t, d.Redeliver(ctx, "down", evs[1].Seq))
		require.Equal(t, append(seqsOf(more), evs[1].Seq), rc.accepted())
		dead, err = d.DeadLetters(ctx, "down")
		require.NoError(t, err)
		require.Equal(t, []uint64{evs[0].Seq, evs[2].Seq}, []uint64{dead[0].Seq, dead[1].Seq})
		require.Len(t, dead, 2)

		// Any past event can be redelivered; a failed redelivery says why.
		require.NoError(t, d.Redeliver(ctx, "down", more[0].Seq))
		down.Store(true)
		require.ErrorIs(t, d.Redeliver(ctx, "down", evs[0].Seq), ErrDelivery)
		require.ErrorIs(t, d.Redeliver(ctx, "down", 999), ledger.ErrNotFound)
		require.ErrorIs(t, d.Redeliver(ctx, "nobody", 1), ErrUnknownEndpoint)
		_, err = d.DeadLetters(ctx, "nobody")
		require.ErrorIs(t, err, ErrUnknownEndpoint)
	})
}

// Endpoints are independent: one that hangs on every request neither
// delays nor blocks a healthy one, and its own position stays put.
func TestFailingEndpointDoesNotDelayOthers(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		l := ledger.New(open(t))
		stuck := newReceiver(t, func(_ int, r *http.Request) int {
			<-r.Context().Done()
			return http.StatusOK
		})
		healthy := newReceiver(t, nil)
		d := newDispatcher(t, l, []Endpoint{stuck.endpoint("stuck"), healthy.endpoint("healthy")},
			WithTimeout(time.Minute), WithMaxAttempts(100))
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- d.Run(runCtx) }()
		evs := emitN(t, l, 5)
		require.Eventually(t, func() bool { return len(healthy.accepted()) == len(evs) }, 5*time.Second, 5*time.Millisecond)
		require.Equal(t, seqsOf(evs), healthy.accepted())
		require.Zero(t, position(t, d, "stuck"))
		// The stuck endpoint's worker may not have sent its request yet
		// when the healthy one is done: wait for it, then it is the only one.
		require.Eventually(t, func() bool { return len(stuck.received()) > 0 }, 5*time.Second, 5*time.Millisecond)
		require.Equal(t, []uint64{evs[0].Seq}, stuck.received(), "one request, still hanging")
		cancel()
		require.ErrorIs(t, <-done, context.Canceled)
		require.Zero(t, position(t, d, "stuck"), "cancelled mid-request, nothing committed")
	})
}

// A sender killed mid-delivery (after the receiver got the event, before
// the commit) and restarted on a new Ledger over the same store loses
// nothing; the only duplicate is the event in flight, with the same
// Webhook-Id.
func TestRestartLosesNothing(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		store := open(t)
		l := ledger.New(store)
		evs := emitN(t, l, 6)
		inFlight := make(chan struct{})
		var once atomic.Bool
		rc := newReceiver(t, func(n int, r *http.Request) int {
			if n == 3 && once.CompareAndSwap(false, true) {
				close(inFlight)
				<-r.Context().Done() // the sender dies while we hold the request
			}
			return http.StatusOK
		})
		ep := rc.endpoint("crm")
		d1 := newDispatcher(t, l, []Endpoint{ep})
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- d1.Run(runCtx) }()
		<-inFlight
		cancel() // the kill
		require.ErrorIs(t, <-done, context.Canceled)
		s := seqsOf(evs)
		require.Equal(t, s[1], position(t, d1, "crm"), "the third event was never committed")

		d2 := newDispatcher(t, ledger.New(store), []Endpoint{ep})
		require.NoError(t, d2.RunOnce(ctx))
		require.Equal(t, []uint64{s[0], s[1], s[2], s[2], s[3], s[4], s[5]}, rc.received())
		rc.mu.Lock()
		require.Equal(t, rc.got[2].ID, rc.got[3].ID, "the duplicate has the same Webhook-Id")
		rc.mu.Unlock()
		require.Equal(t, s[5], position(t, d2, "crm"))
	})
}

func TestNewRefusesBadEndpoints(t *testing.T) {
	l := ledger.New(teststore.Memory(t))
	ok := Endpoint{ID: "a", URL: "https://example.com/hook", Secret: testSecret}
	for name, e := range map[string]Endpoint{
		"empty ID":     {URL: ok.URL, Secret: ok.Secret},
		"bad ID":       {ID: "a/b", URL: ok.URL, Secret: ok.Secret},
		"long ID":      {ID: string(make([]byte, 60)), URL: ok.URL, Secret: ok.Secret},
		"no URL":       {ID: "b", Secret: ok.Secret},
		"ftp URL":      {ID: "b", URL: "ftp://example.com", Secret: ok.Secret},
		"short secret": {ID: "b", URL: ok.URL, Secret: []byte("short")},
		"duplicate":    ok,
	} {
		_, err := New(l, []Endpoint{ok, e})
		require.ErrorIs(t, err, ErrInvalidEndpoint, name)
		require.Equal(t, ledger.CodeInvalidArgument, ledger.ErrorCode(err), name)
	}
	d, err := New(l, []Endpoint{ok})
	require.NoError(t, err)
	require.Nil(t, d.Consumer("zzz"))
}

func TestBackoffFullJitterCapped(t *testing.T) {
	d, err := New(ledger.New(teststore.Memory(t)), nil, WithBackoff(10*time.Millisecond, 80*time.Millisecond))
	require.NoError(t, err)
	for n := 1; n <= 10; n++ {
		limit := min(10*time.Millisecond<<(n-1), 80*time.Millisecond)
		for range 50 {
			w := d.backoff(n)
			require.True(t, w >= 0 && w <= limit, "attempt %d: %s > %s", n, w, limit)
		}
	}
}

// A connection error (nothing listening) is a failed attempt too, and its
// message names the endpoint, not the URL.
func TestConnectionErrorDeadLetters(t *testing.T) {
	ctx := context.Background()
	l := ledger.New(teststore.Memory(t))
	rc := newReceiver(t, nil)
	url := rc.srv.URL + "/hook?token=sekrit"
	rc.srv.Close()
	emitN(t, l, 1)
	d := newDispatcher(t, l, []Endpoint{{ID: "gone", URL: url, Secret: testSecret}}, WithMaxAttempts(2))
	require.NoError(t, d.RunOnce(ctx))
	dead, err := d.DeadLetters(ctx, "gone")
	require.NoError(t, err)
	require.Len(t, dead, 1)
	require.Equal(t, 2, dead[0].Attempts)
	require.Contains(t, dead[0].LastError, "endpoint gone")
	require.NotContains(t, dead[0].LastError, "sekrit")
	require.Error(t, d.Redeliver(ctx, "gone", dead[0].Seq))
}
