package webhooks

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
)

var testSecret = []byte("whsec_test_0123456789abcdef")

// delivery is one request a receiver took, after Verify accepted it.
type delivery struct {
	ID   string // Webhook-Id
	Seq  uint64 // the CloudEvent's sequence
	Type string
}

// receiver is an httptest server that verifies every request and records
// it; respond decides each answer (n counts requests from 1) and may
// block, returning when the request's context ends.
type receiver struct {
	t       testing.TB
	srv     *httptest.Server
	respond func(n int, r *http.Request) int

	mu       sync.Mutex
	requests int
	got      []delivery // every verified request, answered 2xx or not
	ok       []delivery // those answered 2xx while the sender waited
	bad      int        // requests Verify refused
}

func newReceiver(t testing.TB, respond func(n int, r *http.Request) int) *receiver {
	rc := &receiver{t: t, respond: respond}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	rc.requests++
	n := rc.requests
	if err := Verify(testSecret, r.Header, body, DefaultTolerance, time.Now()); err != nil || r.Header.Get("Content-Type") != ContentType {
		rc.bad++
		rc.mu.Unlock()
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var ce struct {
		ID       string `json:"id"`
		Type     string `json:"type"`
		Sequence string `json:"sequence"`
	}
	if err := json.Unmarshal(body, &ce); err != nil || ce.ID != r.Header.Get(HeaderID) {
		rc.bad++
		rc.mu.Unlock()
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	seq, _ := strconv.ParseUint(ce.Sequence, 10, 64)
	d := delivery{ID: ce.ID, Seq: seq, Type: ce.Type}
	rc.got = append(rc.got, d)
	rc.mu.Unlock()
	status := http.StatusNoContent
	if rc.respond != nil {
		status = rc.respond(n, r)
	}
	// An answer after the sender gave up (a timeout, a kill) is not a
	// delivery the sender knows of.
	if status >= 200 && status < 300 && r.Context().Err() == nil {
		rc.mu.Lock()
		rc.ok = append(rc.ok, d)
		rc.mu.Unlock()
	}
	w.WriteHeader(status)
}

// accepted returns the Seqs of the requests answered 2xx, in arrival order.
func (rc *receiver) accepted() []uint64 {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return seqs(rc.ok)
}

// received returns the Seqs of every verified request, in arrival order.
func (rc *receiver) received() []uint64 {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return seqs(rc.got)
}

func (rc *receiver) refused() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.bad
}

func seqs(ds []delivery) []uint64 {
	out := make([]uint64, len(ds))
	for i, d := range ds {
		out[i] = d.Seq
	}
	return out
}

func (rc *receiver) endpoint(id string, types ...string) Endpoint {
	return Endpoint{ID: id, URL: rc.srv.URL, Secret: testSecret, Types: types}
}

// emit commits one event of each given type, two per unit of work, and
// returns them.
func emit(tb testing.TB, l *ledger.Ledger, types ...string) []ledger.Event {
	tb.Helper()
	ctx := context.Background()
	head := lastSeq(tb, l)
	for i := 0; i < len(types); i += 2 {
		require.NoError(tb, l.Update(ctx, func(w *ledger.Writer) error {
			for j := i; j < min(i+2, len(types)); j++ {
				if err := w.Emit(types[j], "member-"+strconv.Itoa(j), map[string]int{"n": j}); err != nil {
					return err
				}
			}
			return nil
		}))
	}
	evs, err := l.Events(ctx, head, 10000)
	require.NoError(tb, err)
	require.Len(tb, evs, len(types))
	return evs
}

func emitN(tb testing.TB, l *ledger.Ledger, n int) []ledger.Event {
	types := make([]string, n)
	for i := range types {
		types[i] = "test.thing.happened"
	}
	return emit(tb, l, types...)
}

func lastSeq(tb testing.TB, l *ledger.Ledger) uint64 {
	tb.Helper()
	evs, err := l.Events(context.Background(), 0, 10000)
	require.NoError(tb, err)
	if len(evs) == 0 {
		return 0
	}
	return evs[len(evs)-1].Seq
}

func seqsOf(evs []ledger.Event) []uint64 {
	out := make([]uint64, len(evs))
	for i, ev := range evs {
		out[i] = ev.Seq
	}
	return out
}

// fast are the options of a dispatcher whose retries take milliseconds.
func fast(opts ...Option) []Option {
	return append([]Option{WithBackoff(time.Millisecond, 5*time.Millisecond), WithTimeout(2 * time.Second)}, opts...)
}

func newDispatcher(tb testing.TB, l *ledger.Ledger, eps []Endpoint, opts ...Option) *Dispatcher {
	tb.Helper()
	d, err := New(l, eps, fast(opts...)...)
	require.NoError(tb, err)
	return d
}

func position(tb testing.TB, d *Dispatcher, id string) uint64 {
	tb.Helper()
	p, err := d.Consumer(id).Position(context.Background())
	require.NoError(tb, err)
	return p
}
