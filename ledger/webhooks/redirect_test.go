package webhooks

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/memstore"
)

// TestRedirectIsNotADelivery: an endpoint that answers a POST with a
// redirect (a moved URL, a login page) has not taken the event. The
// default client follows 301/302/303 with a GET without the body and
// signature; a 2xx to that GET must not commit the event as delivered.
func TestRedirectIsNotADelivery(t *testing.T) {
	ctx := context.Background()
	l := ledger.New(memstore.New())
	var mu sync.Mutex
	var posts, gets int
	mux := http.NewServeMux()
	mux.HandleFunc("/hook", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		posts++
		mu.Unlock()
		http.Redirect(w, r, "/login", http.StatusFound)
	})
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		gets++
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	evs := emitN(t, l, 1)
	d := newDispatcher(t, l, []Endpoint{{ID: "shop", URL: srv.URL + "/hook", Secret: testSecret}}, WithMaxAttempts(2))

	_ = d.RunOnce(ctx)
	dead, err := d.DeadLetters(ctx, "shop")
	require.NoError(t, err)
	mu.Lock()
	defer mu.Unlock()
	require.Positive(t, posts)
	require.Len(t, dead, 1, "event %d was answered only by a redirect (%d POSTs, %d GETs of the redirect target) yet counted as delivered, not dead-lettered", evs[0].Seq, posts, gets)
}
