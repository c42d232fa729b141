package natssink

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/driver"
	"github.com/rewardkit/rewardkit/ledger/pgstore"
	"github.com/rewardkit/rewardkit/ledger/teststore"
)

// EnvNATS names the environment variable with the test nats-server's URL;
// the tests use defaultNATS when it is empty.
const (
	EnvNATS     = "REWARDKIT_TEST_NATS"
	defaultNATS = "nats://127.0.0.1:4222"
)

func natsURL() string {
	if u := os.Getenv(EnvNATS); u != "" {
		return u
	}
	return defaultNATS
}

// connect returns a JetStream context on the test server. With no server
// answering it skips tb, or fails it in CI (CI set), as teststore does for
// PostgreSQL, so the NATS tests cannot be skipped unnoticed in CI.
func connect(tb testing.TB) jetstream.JetStream {
	tb.Helper()
	url := natsURL()
	nc, err := nats.Connect(url, nats.Timeout(2*time.Second), nats.MaxReconnects(0))
	if err == nil {
		tb.Cleanup(nc.Close)
		var js jetstream.JetStream
		if js, err = jetstream.New(nc); err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if _, err = js.AccountInfo(ctx); err == nil {
				return js
			}
		}
	}
	if os.Getenv("CI") != "" {
		tb.Fatalf("CI is set but no nats-server with JetStream answers at %s (%s): the NATS tests must run in CI", url, err)
	}
	tb.Skipf("no nats-server with JetStream at %s: skipping the NATS tests", url)
	return nil
}

// testStream creates a stream of a unique name bound to a unique subject
// prefix, deleted when tb ends, and returns it with a subject function
// for the sink.
func testStream(tb testing.TB, js jetstream.JetStream) (jetstream.Stream, func(ledger.Event) string) {
	tb.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	name, prefix := "RKTEST_"+id, "rktest_"+id
	ctx := context.Background()
	st, err := EnsureStream(ctx, js, name, []string{prefix + ".>"}, time.Hour)
	require.NoError(tb, err)
	tb.Cleanup(func() {
		if err := js.DeleteStream(context.Background(), name); err != nil {
			tb.Errorf("delete stream %s: %v", name, err)
		}
	})
	return st, func(ev ledger.Event) string { return prefix + "." + ev.Type }
}

// emit commits n events, two per unit of work, and returns them as the
// ledger reads them back.
func emit(tb testing.TB, l *ledger.Ledger, n int) []ledger.Event {
	tb.Helper()
	ctx := context.Background()
	before, err := l.Events(ctx, 0, 10000)
	require.NoError(tb, err)
	var after uint64
	if len(before) > 0 {
		after = before[len(before)-1].Seq
	}
	for i := 0; i < n; i += 2 {
		require.NoError(tb, l.Update(ctx, func(w *ledger.Writer) error {
			for j := i; j < min(i+2, n); j++ {
				if err := w.Emit("test.thing.happened", "member-"+strconv.Itoa(j), map[string]int{"n": j}); err != nil {
					return err
				}
			}
			return nil
		}))
	}
	evs, err := l.Events(ctx, after, 10000)
	require.NoError(tb, err)
	require.Len(tb, evs, n)
	return evs
}

// storedMessages returns every message the stream holds, in stream order.
func storedMessages(tb testing.TB, st jetstream.Stream) []*jetstream.RawStreamMsg {
	tb.Helper()
	ctx := context.Background()
	info, err := st.Info(ctx)
	require.NoError(tb, err)
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := st.GetMsg(ctx, seq)
		require.NoError(tb, err)
		out = append(out, m)
	}
	return out
}

// requireStreamHolds checks that the stream holds exactly evs, once each,
// in order, each as its CloudEvent with the sink's headers.
func requireStreamHolds(tb testing.TB, st jetstream.Stream, subject func(ledger.Event) string, evs []ledger.Event) {
	tb.Helper()
	msgs := storedMessages(tb, st)
	require.Len(tb, msgs, len(evs), "the stream holds each event once")
	for i, ev := range evs {
		m := msgs[i]
		want, err := ev.CloudEvent()
		require.NoError(tb, err)
		require.Equal(tb, strconv.FormatUint(ev.Seq, 10), m.Header.Get(HeaderSeq), "message %d", i)
		require.Equal(tb, ev.ID.String(), m.Header.Get(jetstream.MsgIDHeader), "message %d", i)
		require.Equal(tb, ContentType, m.Header.Get(HeaderContentType))
		require.Equal(tb, subject(ev), m.Subject)
		require.JSONEq(tb, string(want), string(m.Data), "message %d", i)
	}
}

// countingJS counts the publishes that reach the server and were acked,
// and how many of those the stream reported as duplicates.
type countingJS struct {
	jetstream.JetStream
	published, duplicates atomic.Int64
}

func (c *countingJS) PublishMsg(ctx context.Context, m *nats.Msg, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	ack, err := c.JetStream.PublishMsg(ctx, m, opts...)
	if err == nil {
		c.published.Add(1)
		if ack.Duplicate {
			c.duplicates.Add(1)
		}
	}
	return ack, err
}

// reopenable opens a store and a function that opens another on the same
// data: the same memstore (a new Ledger over it is a restart as far as
// the ledger knows), or a new pgstore on the same schema (a new process).
func reopenable(t *testing.T, open teststore.Opener, pg bool) (driver.Store, func() driver.Store) {
	t.Helper()
	if !pg {
		s := open(t)
		return s, func() driver.Store { return s }
	}
	s, schema := teststore.PostgresSchema(t)
	return s, func() driver.Store {
		s2, err := pgstore.Open(context.Background(), teststore.PostgresDSN(t), pgstore.WithSchema(schema))
		require.NoError(t, err)
		t.Cleanup(func() { _ = s2.Close() })
		return s2
	}
}

// flakyProxy forwards TCP connections to a target while up; while down it
// closes each connection as soon as it is accepted, as a NATS server that
// is unreachable does for the client.
type flakyProxy struct {
	ln     net.Listener
	target string
	up     atomic.Bool
	mu     sync.Mutex
	conns  []net.Conn
}

func newFlakyProxy(tb testing.TB, target string) *flakyProxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	p := &flakyProxy{ln: ln, target: target}
	go p.serve()
	tb.Cleanup(func() {
		_ = ln.Close()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, c := range p.conns {
			_ = c.Close()
		}
	})
	return p
}

func (p *flakyProxy) URL() string { return "nats://" + p.ln.Addr().String() }

func (p *flakyProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.up.Load() {
			_ = c.Close()
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		go func() { _, _ = io.Copy(s, c); _ = s.Close() }()
		go func() { _, _ = io.Copy(c, s); _ = c.Close() }()
	}
}

// logRecords is a slog.Handler that keeps the records it is given.
type logRecords struct {
	mu   sync.Mutex
	recs []logRecord
}

type logRecord struct {
	level slog.Level
	msg   string
	attrs map[string]slog.Value
}

func (h *logRecords) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecords) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *logRecords) WithGroup(string) slog.Handler            { return h }

func (h *logRecords) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{level: r.Level, msg: r.Message, attrs: map[string]slog.Value{}}
	r.Attrs(func(a slog.Attr) bool { rec.attrs[a.Key] = a.Value; return true })
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, rec)
	return nil
}

// warnings returns the Warn records so far.
func (h *logRecords) warnings() []logRecord {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []logRecord
	for _, r := range h.recs {
		if r.level == slog.LevelWarn {
			out = append(out, r)
		}
	}
	return out
}
