package webhooks_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/memstore"
	"github.com/rewardkit/rewardkit/ledger/webhooks"
)

// A sender and a receiver that verifies each request's signature.
func Example() {
	ctx := context.Background()
	secret := []byte("whsec_example_0123456789")

	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		if err := webhooks.Verify(secret, r.Header, body, webhooks.DefaultTolerance, time.Now()); err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		fmt.Println("verified", r.Header.Get("Content-Type"))
		w.WriteHeader(http.StatusNoContent)
	}))
	defer receiver.Close()

	l := ledger.New(memstore.New())
	err := l.Update(ctx, func(w *ledger.Writer) error {
		return w.Emit("payout.payout.paid", "po-1", map[string]string{"amount": "12.50"})
	})
	if err != nil {
		log.Fatal(err)
	}
	d, err := webhooks.New(l, []webhooks.Endpoint{{
		ID: "books", URL: receiver.URL, Secret: secret, Types: []string{"payout."},
	}})
	if err != nil {
		log.Fatal(err)
	}
	if err := d.RunOnce(ctx); err != nil { // a service runs d.Run(ctx)
		log.Fatal(err)
	}
	// Output: verified application/cloudevents+json
}
