package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/gifting"
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
	"github.com/rewardkit/rewardkit/ledger/teststore"
	"github.com/rewardkit/rewardkit/ledger/webhooks"
	"github.com/rewardkit/rewardkit/payout"
)

// TestServiceOverHTTP drives the newcomer's service over real HTTP, on
// both stores: coins bought (and the purchase retried), a minor refused
// with the rule that refused, a gift, cash-outs refused for three reasons
// that strand no diamond, one held by the provider and settled by its
// webhook, one whose provider call was lost and which the scheduler (the
// service's only ticking) settles on its own; every event the programs
// emit reaches a webhook receiver that verifies its signature; at the end
// the ledger verifies.
func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestServiceOverHTTP(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		clock := ledgertest.NewClock(time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC))
		provider := payout.NewMemoryProvider(clock)
		hooks := newHookReceiver(t)
		s, err := newService(ctx, open(t), config{
			clock: clock, members: demoMembers(), provider: provider, log: discardLog(),
			webhook: hooks.srv.URL, webhookSecret: hookSecret,
		})
		require.NoError(t, err)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		served := make(chan error, 1)
		go func() { served <- s.serve(ctx, ln, 10*time.Millisecond) }()
		defer func() {
			cancel()
			require.NoError(t, <-served)
		}()
		c := &client{ctx: ctx, base: "http://" + ln.Addr().String()}
		call := func(method, path, body string, wantStatus int, out any) {
			t.Helper()
			status, b, err := c.do(method, path, body)
			require.NoError(t, err)
			require.Equal(t, wantStatus, status, "%s %s: %s", method, path, b)
			if out != nil {
				require.NoError(t, json.Unmarshal(b, out), "%s", b)
			}
		}
		refused := func(method, path, body string, wantStatus int, code ledger.Code, rule string) {
			t.Helper()
			var p problem
			call(method, path, body, wantStatus, &p)
			require.Equal(t, code, p.Code, p.Message)
			require.Equal(t, rule, p.Rule, p.Message)
			require.NotContains(t, p.Message, "{", "a message shows no Go value")
		}
		diamonds := func(member string) (posted, available string) {
			t.Helper()
			var bs []balance
			call("GET", "/v1/members/"+member+"/balances", "", http.StatusOK, &bs)
			for _, b := range bs {
				if b.Asset == "DIAMOND" {
					return b.Posted.String(), b.Available.String()
				}
			}
			return "0", "0"
		}

		// Coins: bought once, the provider's retry answered from the
		// first purchase; a minor refused by a named rule.
		var first, again map[string]any
		call("POST", "/v1/members/anna/coins", `{"payment_ref":"pay-1","pack":"it-app-7000"}`, http.StatusCreated, &first)
		call("POST", "/v1/members/anna/coins", `{"payment_ref":"pay-1","pack":"it-app-7000"}`, http.StatusOK, &again)
		require.Equal(t, first, again)
		refused("POST", "/v1/members/dario/coins", `{"payment_ref":"pay-2","pack":"it-app-70"}`, http.StatusUnprocessableEntity, ledger.CodeFailedPrecondition, "min_age_buy")
		refused("POST", "/v1/members/anna/coins", `{"payment_ref":"pay-3","pack":"it-app-70","extra":1}`, http.StatusBadRequest, ledger.CodeInvalidArgument, "")
		refused("POST", "/v1/members/anna/coins", `{"payment_ref":"pay-3","pack":"no-such-pack"}`, http.StatusNotFound, ledger.CodeNotFound, "")

		// Gifts: 5 galaxies (5,000 coins) give chiara 2,500 diamonds and
		// marco 2,000.
		call("POST", "/v1/members/anna/gifts", `{"event_id":"g-1","creator":"chiara","gift":"galaxy","count":5}`, http.StatusCreated, nil)
		call("POST", "/v1/members/anna/gifts", `{"event_id":"g-1","creator":"chiara","gift":"galaxy","count":5}`, http.StatusOK, nil)
		refused("POST", "/v1/members/anna/gifts", `{"event_id":"g-1","creator":"chiara","gift":"galaxy","count":4}`, http.StatusConflict, ledger.CodeConflict, "")
		posted, _ := diamonds("chiara")
		require.Equal(t, "2500", posted)

		// Refused cash-outs leave every diamond where it was.
		refused("POST", "/v1/members/chiara/cashouts", `{"payout_id":"po-1","diamonds":"2000"}`, http.StatusUnprocessableEntity, ledger.CodeFailedPrecondition, "")
		call("PUT", "/v1/members/chiara/payout-account", `{"account":"chiara@example.com"}`, http.StatusOK, nil)
		refused("POST", "/v1/members/chiara/cashouts", `{"payout_id":"po-2","diamonds":"100"}`, http.StatusBadRequest, ledger.CodeInvalidArgument, "sources.minimum")
		refused("POST", "/v1/members/chiara/cashouts", `{"payout_id":"po-3","diamonds":"3000"}`, http.StatusUnprocessableEntity, ledger.CodeFailedPrecondition, "")
		posted, available := diamonds("chiara")
		require.Equal(t, []string{"2500", "2500"}, []string{posted, available})

		// A cash-out the provider holds: the diamonds are reserved, and
		// the provider's webhook settles it (twice: the replay changes
		// nothing).
		provider.Next(payout.HoldPayment)
		var po payout.Payout
		call("POST", "/v1/members/chiara/cashouts", `{"payout_id":"po-4","diamonds":"2000"}`, http.StatusCreated, &po)
		require.Equal(t, payout.StatusHeld, po.Status)
		require.Equal(t, "9.75", po.Net.String())
		posted, available = diamonds("chiara")
		require.Equal(t, []string{"2500", "500"}, []string{posted, available})
		refused("POST", "/v1/members/chiara/cashouts", `{"payout_id":"po-5","diamonds":"2000"}`, http.StatusTooManyRequests, ledger.CodeResourceExhausted, "max_per_period")
		hook := `{"event_id":"wh-1","provider":"paypal-creators","payout_id":"po-4","outcome":"succeeded","at":"2026-03-02T10:05:00Z"}`
		call("POST", "/v1/webhooks/payout", hook, http.StatusOK, &po)
		require.Equal(t, payout.StatusPaid, po.Status)
		call("POST", "/v1/webhooks/payout", hook, http.StatusOK, &po)
		require.Equal(t, payout.StatusPaid, po.Status)
		posted, available = diamonds("chiara")
		require.Equal(t, []string{"500", "500"}, []string{posted, available})
		refused("GET", "/v1/payouts/po-404", "", http.StatusNotFound, ledger.CodeNotFound, "")

		// A cash-out whose request to the provider was lost stays
		// reserved; nobody calls Tick: the service's scheduler asks the
		// provider again once RetryEvery has passed, and it is paid.
		call("POST", "/v1/members/anna/coins", `{"payment_ref":"pay-4","pack":"it-app-7000"}`, http.StatusCreated, nil)
		call("POST", "/v1/members/anna/gifts", `{"event_id":"g-2","creator":"marco","gift":"galaxy","count":4}`, http.StatusCreated, nil)
		call("PUT", "/v1/members/marco/payout-account", `{"account":"marco@example.com"}`, http.StatusOK, nil)
		provider.Next(payout.TimeoutBeforePaying)
		call("POST", "/v1/members/marco/cashouts", `{"payout_id":"po-6","diamonds":"2000"}`, http.StatusCreated, &po)
		require.Equal(t, payout.StatusSending, po.Status)
		clock.Advance(time.Hour)
		require.Eventually(t, func() bool {
			var now payout.Payout
			call("GET", "/v1/payouts/po-6", "", http.StatusOK, &now)
			return now.Status == payout.StatusPaid
		}, 10*time.Second, 20*time.Millisecond, "the scheduler did not settle po-6")
		posted, _ = diamonds("marco")
		require.Equal(t, "0", posted)

		// Every event the programs emitted reached the webhook receiver,
		// signed, in order (duplicates, if any, dropped by Webhook-Id).
		evs, err := s.l.Events(ctx, 0, 10000)
		require.NoError(t, err)
		require.Eventually(t, func() bool { return len(hooks.events()) == len(evs) }, 10*time.Second, 10*time.Millisecond)
		got := hooks.events()
		count := map[string]int{}
		for i, ev := range evs {
			require.Equal(t, hookEvent{ID: ev.ID.String(), Type: ev.Type}, got[i])
			count[ev.Type]++
		}
		require.Equal(t, 2, count[gifting.EventGiftSent])
		require.Equal(t, 2, count[payout.EventPaid])
		require.Zero(t, hooks.refused())

		rep, err := s.l.Verify(ctx)
		require.NoError(t, err)
		for asset, total := range rep.Totals {
			require.True(t, total.IsZero(), "%s sums to %s", asset, total)
		}
	})
}

// TestDemo runs the command's -demo: serve on a free port, drive it, exit.
func TestDemo(t *testing.T) {
	require.NoError(t, run("", "", "", true))
}

var hookSecret = []byte("whsec_service_test_0123")

// hookEvent is what the webhook receiver keeps of an event.
type hookEvent struct{ ID, Type string }

// hookReceiver is a service's webhook receiver as its docs say to write
// one: it verifies each request's signature and drops a Webhook-Id it
// has handled already.
type hookReceiver struct {
	srv  *httptest.Server
	mu   sync.Mutex
	seen map[string]bool
	got  []hookEvent
	bad  int
}

func newHookReceiver(t *testing.T) *hookReceiver {
	h := &hookReceiver{seen: map[string]bool{}}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		if err == nil {
			err = webhooks.Verify(hookSecret, r.Header, body, webhooks.DefaultTolerance, time.Now())
		}
		if err != nil {
			h.bad++
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		id := r.Header.Get(webhooks.HeaderID)
		if !h.seen[id] {
			var ce struct{ ID, Type string }
			if err := json.Unmarshal(body, &ce); err != nil || ce.ID != id {
				h.bad++
				http.Error(w, "bad event", http.StatusBadRequest)
				return
			}
			h.seen[id] = true
			h.got = append(h.got, hookEvent{ID: ce.ID, Type: ce.Type})
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookReceiver) events() []hookEvent {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookEvent(nil), h.got...)
}

func (h *hookReceiver) refused() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.bad
}
