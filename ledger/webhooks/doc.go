// Package webhooks delivers a ledger's events to HTTP endpoints, signed,
// in order, at least once.
//
// A Dispatcher holds a list of Endpoints (an ID, a URL, a secret, and
// the event types it wants: "payout.payout.paid" exactly, "payout." for
// every payout event, nothing for all). Each endpoint reads the event log
// through a durable ledger consumer of its own, named "webhooks.<ID>"
// (ledger.Consumer), so endpoints are independent: one that is down or
// slow retries on its own and never holds up another, and each gets its
// events in Seq order, the next one only after the previous one was
// taken or given up.
//
// # Requests
//
// Each event is a POST of its CloudEvents 1.0 JSON (ledger.Event.CloudEvent,
// Content-Type application/cloudevents+json) with three headers, after
// the Standard Webhooks and Stripe pattern:
//
//	Webhook-Id:        the event's ID (a UUID; the same on every retry)
//	Webhook-Timestamp: the attempt's time, Unix seconds
//	Webhook-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>
//
// The signature covers the timestamp, so a receiver that checks both
// (Verify does, comparing in constant time) refuses a forged or altered
// request and a replay older than its tolerance. Webhook-Signature may
// hold several space-separated signatures; Verify accepts any one that
// matches, so a receiver can take two secrets while one is rotated.
//
// # Delivery: at least once, in order
//
// A 2xx answer is a delivery: the endpoint's consumer is committed past
// the event. Anything else (another status, a connection error, no answer
// within WithTimeout) is a failed attempt, retried after a wait drawn at
// random between zero and a cap that doubles from WithBackoff's base up
// to its maximum ("full jitter", so that retries after a receiver's
// outage are spread out). After WithMaxAttempts attempts (default 8) the
// event is dead-lettered: a record of kind "webhooks.dead" in the
// ledger's store holds the endpoint, the event's Seq and ID, the attempts
// and the last error (DeadLetters lists them), and the endpoint moves on.
// Redeliver sends one event again on demand, a dead letter or any past
// event, and removes its dead letter once it is taken.
//
// The consumer is committed after each event, so a sender that crashes
// or is stopped mid-request sends that one event again when it (or any
// process over the same store) restarts: nothing is lost, and the only
// duplicate is the event that was in flight. Receivers must therefore be
// idempotent: drop a request whose Webhook-Id they have handled. A
// Redeliver is a duplicate too, by design.
//
// Run one Dispatcher per set of endpoints at a time: two would each send
// every event. Failures are logged at Warn (WithLogger), deliveries at
// Debug. Errors and logs name an endpoint by ID, never by URL, which may
// carry a token.
//
// # Usage
//
//	d, err := webhooks.New(l, []webhooks.Endpoint{{
//		ID: "crm", URL: "https://crm.example.com/hooks/rewardkit",
//		Secret: secret, Types: []string{"payout.", "gifting.gift.sent"},
//	}}, webhooks.WithLogger(logger))
//	if err != nil {
//		return err
//	}
//	go d.Run(ctx) // until ctx ends
//
// A receiver reads the raw body, checks it, then dedupes by Webhook-Id:
//
//	body, err := io.ReadAll(r.Body)
//	if err != nil {
//		http.Error(w, "bad body", http.StatusBadRequest)
//		return
//	}
//	if err := webhooks.Verify(secret, r.Header, body, webhooks.DefaultTolerance, time.Now()); err != nil {
//		http.Error(w, "bad signature", http.StatusUnauthorized)
//		return
//	}
package webhooks
