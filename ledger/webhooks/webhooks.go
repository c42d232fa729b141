package webhooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/rewardkit/rewardkit/ledger"
)

// Defaults of a Dispatcher.
const (
	// DefaultMaxAttempts is how many times an event is sent to an
	// endpoint before it is dead-lettered.
	DefaultMaxAttempts = 8
	// DefaultMinBackoff and DefaultMaxBackoff bound the wait before a
	// retry: it doubles from the first per attempt up to the second, and
	// the wait is drawn at random below it ("full jitter").
	DefaultMinBackoff = 500 * time.Millisecond
	DefaultMaxBackoff = 5 * time.Minute
	// DefaultTimeout bounds one request, answer included.
	DefaultTimeout = 10 * time.Second
	// DefaultConsumerPrefix starts each endpoint's durable consumer name:
	// "webhooks.<endpoint ID>".
	DefaultConsumerPrefix = "webhooks."
	// DeadKind is the record kind of the dead-letter list.
	DeadKind = "webhooks.dead"
)

// batch is how many events an endpoint reads at a time.
const batch = 100

// Errors of New, Redeliver and DeadLetters.
var (
	// ErrInvalidEndpoint: an endpoint's ID, URL or secret is unusable, or
	// two endpoints share an ID.
	ErrInvalidEndpoint = ledger.NewError(ledger.CodeInvalidArgument, "webhooks: invalid endpoint")
	// ErrUnknownEndpoint: no endpoint of the Dispatcher has the ID.
	ErrUnknownEndpoint = ledger.NewError(ledger.CodeNotFound, "webhooks: unknown endpoint")
	// ErrDelivery: the endpoint answered with a status other than 2xx.
	ErrDelivery = ledger.NewError(ledger.CodeUnavailable, "webhooks: delivery refused")
)

// Endpoint is an HTTP receiver of events.
type Endpoint struct {
	// ID names the endpoint: 1 to 64 bytes (prefix included, see
	// WithConsumerPrefix) of ASCII letters, digits and ._@+-. It names
	// its durable consumer, so changing it starts the endpoint over from
	// the first event.
	ID string
	// URL receives a POST per event (http or https).
	URL string
	// Secret signs every request; at least 16 bytes.
	Secret []byte
	// Types filters the events sent: an entry matches a type equal to it,
	// or, if it ends with ".", every type it starts ("payout."). Empty
	// means every event.
	Types []string
}

// Wants reports whether the endpoint takes events of the type.
func (e Endpoint) Wants(typ string) bool {
	if len(e.Types) == 0 {
		return true
	}
	for _, t := range e.Types {
		if t == typ || strings.HasSuffix(t, ".") && strings.HasPrefix(typ, t) {
			return true
		}
	}
	return false
}

// DeadLetter is an event an endpoint did not take after every attempt,
// kept in the ledger's store (record kind DeadKind) until Redeliver
// delivers it.
type DeadLetter struct {
	Endpoint  string    `json:"endpoint"`
	Seq       uint64    `json:"seq"`
	EventID   uuid.UUID `json:"event_id"`
	Type      string    `json:"type"`
	Attempts  int       `json:"attempts"`
	LastError string    `json:"last_error"`
	Time      time.Time `json:"time"`
}

// Dispatcher delivers a ledger's events to HTTP endpoints, each through
// a durable consumer of its own (see the package doc). Run it once per
// set of endpoints; it is not meant for concurrent Run calls.
type Dispatcher struct {
	l           *ledger.Ledger
	client      *http.Client
	log         *slog.Logger
	maxAttempts int
	minWait     time.Duration
	maxWait     time.Duration
	timeout     time.Duration
	prefix      string
	eps         []*endpoint
	byID        map[string]*endpoint
}

type endpoint struct {
	Endpoint
	consumer *ledger.Consumer
}

// Option configures a Dispatcher.
type Option func(*Dispatcher)

// WithClient sets the HTTP client (default: http.DefaultClient's
// settings). Its own Timeout, if any, applies beside WithTimeout's. The
// Dispatcher uses a copy that never follows a redirect: a 3xx answer is a
// failed attempt, since a redirect followed with a GET would deliver
// nothing and one followed with the body would send it where the
// endpoint's owner did not register.
func WithClient(c *http.Client) Option {
	return func(d *Dispatcher) {
		if c != nil {
			d.client = noRedirects(c)
		}
	}
}

// noRedirects returns a copy of c that answers a redirect with the 3xx
// response itself.
func noRedirects(c *http.Client) *http.Client {
	cp := *c
	cp.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &cp
}

// WithLogger sets the logger for failed attempts and dead letters (Warn)
// and deliveries (Debug). The default discards.
func WithLogger(log *slog.Logger) Option {
	return func(d *Dispatcher) {
		if log != nil {
			d.log = log
		}
	}
}

// WithMaxAttempts sets how many times an event is sent to an endpoint
// before it is dead-lettered (default DefaultMaxAttempts).
func WithMaxAttempts(n int) Option {
	return func(d *Dispatcher) {
		if n > 0 {
			d.maxAttempts = n
		}
	}
}

// WithBackoff sets the retry waits: before retry n the cap is base·2^(n-1),
// at most hi, and the wait is drawn at random between 0 and the cap, so
// that retries after a receiver's outage do not arrive together.
func WithBackoff(base, hi time.Duration) Option {
	return func(d *Dispatcher) {
		if base > 0 {
			d.minWait = base
		}
		if hi > 0 {
			d.maxWait = hi
		}
		d.maxWait = max(d.maxWait, d.minWait)
	}
}

// WithTimeout bounds each request, answer included (default
// DefaultTimeout); a request that times out is a failed attempt.
func WithTimeout(t time.Duration) Option {
	return func(d *Dispatcher) {
		if t > 0 {
			d.timeout = t
		}
	}
}

// WithConsumerPrefix sets what starts each endpoint's consumer name
// (default DefaultConsumerPrefix); two dispatchers that deliver the same
// ledger to endpoints of the same IDs need two prefixes.
func WithConsumerPrefix(p string) Option { return func(d *Dispatcher) { d.prefix = p } }

// New returns a dispatcher of l's events to the endpoints. It sends
// nothing until Run or RunOnce. An unusable endpoint is
// ErrInvalidEndpoint.
func New(l *ledger.Ledger, endpoints []Endpoint, opts ...Option) (*Dispatcher, error) {
	d := &Dispatcher{
		l: l, client: noRedirects(http.DefaultClient), log: slog.New(slog.DiscardHandler),
		maxAttempts: DefaultMaxAttempts, minWait: DefaultMinBackoff, maxWait: DefaultMaxBackoff,
		timeout: DefaultTimeout, prefix: DefaultConsumerPrefix, byID: map[string]*endpoint{},
	}
	for _, o := range opts {
		o(d)
	}
	for _, e := range endpoints {
		if err := d.check(e); err != nil {
			return nil, err
		}
		e.Types = append([]string(nil), e.Types...)
		e.Secret = append([]byte(nil), e.Secret...)
		ep := &endpoint{Endpoint: e, consumer: l.Consumer(d.prefix + e.ID)}
		d.eps = append(d.eps, ep)
		d.byID[e.ID] = ep
	}
	return d, nil
}

func (d *Dispatcher) check(e Endpoint) error {
	name := d.prefix + e.ID
	if e.ID == "" || len(name) > 64 {
		return fmt.Errorf("%w: ID %s must have 1 to %d bytes", ErrInvalidEndpoint, clip(e.ID), 64-len(d.prefix))
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("._@+-", c) >= 0) {
			return fmt.Errorf("%w: consumer name %s: only ASCII letters, digits and ._@+-", ErrInvalidEndpoint, clip(name))
		}
	}
	if _, dup := d.byID[e.ID]; dup {
		return fmt.Errorf("%w: ID %s given twice", ErrInvalidEndpoint, e.ID)
	}
	u, err := url.Parse(e.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: endpoint %s needs an http or https URL", ErrInvalidEndpoint, e.ID)
	}
	if len(e.Secret) < 16 {
		return fmt.Errorf("%w: endpoint %s needs a secret of at least 16 bytes", ErrInvalidEndpoint, e.ID)
	}
	return nil
}

// Consumer returns the durable consumer of the endpoint (nil for an
// unknown ID): its Position is the Seq of the last event delivered or
// dead-lettered there.
func (d *Dispatcher) Consumer(endpointID string) *ledger.Consumer {
	if ep := d.byID[endpointID]; ep != nil {
		return ep.consumer
	}
	return nil
}

// Run delivers events to every endpoint as they are committed, until ctx
// ends, each endpoint in a goroutine of its own: a slow or failing
// endpoint delays only itself. A store failure is logged and retried
// after a backoff. It returns ctx.Err().
func (d *Dispatcher) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, ep := range d.eps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.runEndpoint(ctx, ep)
		}()
	}
	wg.Wait()
	<-ctx.Done() // with no endpoints, Run still runs until ctx ends
	return ctx.Err()
}

func (d *Dispatcher) runEndpoint(ctx context.Context, ep *endpoint) {
	failures := 0
	for {
		evs, err := ep.consumer.Next(ctx, batch)
		if err == nil {
			err = d.handle(ctx, ep, evs)
		}
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			failures = 0
			continue
		}
		failures++
		wait := d.backoff(failures)
		d.log.LogAttrs(ctx, slog.LevelWarn, "webhooks: reading or committing failed, retrying",
			slog.String("endpoint", ep.ID), slog.Duration("backoff", wait), slog.String("error", err.Error()))
		if sleep(ctx, wait) != nil {
			return
		}
	}
}

// RunOnce delivers, to every endpoint at once, the events committed so far
// that it has not taken yet, retrying and dead-lettering as Run does,
// then returns: nil when every endpoint caught up, else the errors. It is
// for tests, tools and a cron job; a service runs Run.
func (d *Dispatcher) RunOnce(ctx context.Context) error {
	errs := make([]error, len(d.eps))
	var wg sync.WaitGroup
	for i, ep := range d.eps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = d.catchUp(ctx, ep)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (d *Dispatcher) catchUp(ctx context.Context, ep *endpoint) error {
	for {
		pos, err := ep.consumer.Position(ctx)
		if err != nil {
			return err
		}
		evs, err := d.l.Events(ctx, pos, batch)
		if err != nil || len(evs) == 0 {
			return err
		}
		if err := d.handle(ctx, ep, evs); err != nil {
			return err
		}
	}
}

// handle delivers evs in order, committing after each delivered or
// dead-lettered event so that a crash resends at most the one in flight.
// Events the endpoint does not want are committed with the next one.
func (d *Dispatcher) handle(ctx context.Context, ep *endpoint, evs []ledger.Event) error {
	var skipped uint64
	for _, ev := range evs {
		if !ep.Wants(ev.Type) {
			skipped = ev.Seq
			continue
		}
		skipped = 0
		if err := d.deliver(ctx, ep, ev); err != nil {
			return err
		}
		if err := ep.consumer.Commit(ctx, ev.Seq); err != nil {
			return fmt.Errorf("webhooks: commit event %d for endpoint %s: %w", ev.Seq, ep.ID, err)
		}
	}
	if skipped != 0 {
		if err := ep.consumer.Commit(ctx, skipped); err != nil {
			return fmt.Errorf("webhooks: commit event %d for endpoint %s: %w", skipped, ep.ID, err)
		}
	}
	return nil
}

// deliver sends ev until the endpoint takes it or the attempts run out,
// then dead-letters it. It returns an error only when ctx ends or the
// dead letter cannot be stored: then the event is not committed, and is
// sent again.
func (d *Dispatcher) deliver(ctx context.Context, ep *endpoint, ev ledger.Event) error {
	body, err := ev.CloudEvent()
	if err != nil {
		return d.bury(ctx, ep, ev, 0, err)
	}
	for attempt := 1; ; attempt++ {
		err := d.send(ctx, ep, ev, body)
		if err == nil {
			d.log.LogAttrs(ctx, slog.LevelDebug, "webhooks: delivered",
				slog.String("endpoint", ep.ID), slog.Uint64("seq", ev.Seq), slog.Int("attempt", attempt))
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if attempt >= d.maxAttempts {
			return d.bury(ctx, ep, ev, attempt, err)
		}
		wait := d.backoff(attempt)
		d.log.LogAttrs(ctx, slog.LevelWarn, "webhooks: delivery failed, retrying",
			slog.String("endpoint", ep.ID), slog.Uint64("seq", ev.Seq), slog.Int("attempt", attempt),
			slog.Duration("backoff", wait), slog.String("error", err.Error()))
		if err := sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// send makes one attempt. The error names the endpoint by ID, never by
// URL, which may carry a token.
func (d *Dispatcher) send(ctx context.Context, ep *endpoint, ev ledger.Event, body []byte) error {
	rctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, ep.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhooks: request to endpoint %s: %w", ep.ID, err)
	}
	// The wall clock, not the ledger's: the receiver checks the
	// timestamp against its own wall clock.
	ts := time.Now().Unix()
	req.Header.Set("Content-Type", ContentType)
	req.Header.Set(HeaderID, ev.ID.String())
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign(ep.Secret, ts, body))
	resp, err := d.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("webhooks: event %d to endpoint %s: %w", ev.Seq, ep.ID, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%w: event %d to endpoint %s: status %d", ErrDelivery, ev.Seq, ep.ID, resp.StatusCode)
	}
	return nil
}

func deadID(endpointID string, seq uint64) string {
	return fmt.Sprintf("%s/%020d", endpointID, seq)
}

// bury stores ev in the dead-letter list; its caller then commits it.
func (d *Dispatcher) bury(ctx context.Context, ep *endpoint, ev ledger.Event, attempts int, cause error) error {
	d.log.LogAttrs(ctx, slog.LevelWarn, "webhooks: giving up, event dead-lettered",
		slog.String("endpoint", ep.ID), slog.Uint64("seq", ev.Seq), slog.Int("attempts", attempts),
		slog.String("error", cause.Error()))
	return d.l.Update(ctx, func(w *ledger.Writer) error {
		b, err := json.Marshal(DeadLetter{
			Endpoint: ep.ID, Seq: ev.Seq, EventID: ev.ID, Type: ev.Type,
			Attempts: attempts, LastError: cause.Error(), Time: w.Now(),
		})
		if err != nil {
			return err
		}
		return w.PutRecord(DeadKind, deadID(ep.ID, ev.Seq), b)
	})
}

// DeadLetters lists the endpoint's dead letters in Seq order.
func (d *Dispatcher) DeadLetters(ctx context.Context, endpointID string) ([]DeadLetter, error) {
	if d.byID[endpointID] == nil {
		return nil, fmt.Errorf("%w: %s", ErrUnknownEndpoint, clip(endpointID))
	}
	prefix := endpointID + "/"
	var out []DeadLetter
	after := prefix
	for {
		var rs []ledger.Record
		err := d.l.View(ctx, func(r *ledger.Reader) (err error) { rs, err = r.Records(DeadKind, after, 100); return err })
		if err != nil {
			return nil, err
		}
		for _, rec := range rs {
			if !strings.HasPrefix(rec.ID, prefix) {
				return out, nil
			}
			var dl DeadLetter
			if err := json.Unmarshal(rec.Data, &dl); err != nil {
				return nil, fmt.Errorf("webhooks: dead letter %s: %w", rec.ID, err)
			}
			out = append(out, dl)
		}
		if len(rs) < 100 {
			return out, nil
		}
		after = rs[len(rs)-1].ID
	}
}

// Redeliver sends the event of the given Seq to the endpoint once, now,
// whatever its type and whether or not it was delivered before (a dead
// letter, or a past event a receiver lost). On success the event's dead
// letter, if any, is removed. It does not move the endpoint's consumer.
// An unknown Seq is an error wrapping ledger.ErrNotFound; a failed
// attempt returns its error.
func (d *Dispatcher) Redeliver(ctx context.Context, endpointID string, seq uint64) error {
	ep := d.byID[endpointID]
	if ep == nil {
		return fmt.Errorf("%w: %s", ErrUnknownEndpoint, clip(endpointID))
	}
	if seq == 0 {
		return fmt.Errorf("webhooks: redeliver event 0: %w", ledger.ErrNotFound)
	}
	evs, err := d.l.Events(ctx, seq-1, 1)
	if err != nil {
		return err
	}
	if len(evs) == 0 || evs[0].Seq != seq {
		return fmt.Errorf("webhooks: redeliver event %d: %w", seq, ledger.ErrNotFound)
	}
	body, err := evs[0].CloudEvent()
	if err != nil {
		return err
	}
	if err := d.send(ctx, ep, evs[0], body); err != nil {
		return err
	}
	return d.l.Update(ctx, func(w *ledger.Writer) error { return w.DeleteRecord(DeadKind, deadID(endpointID, seq)) })
}

// backoff returns the wait before retry n: a random duration in
// [0, min(maxWait, minWait·2^(n-1))] ("full jitter").
func (d *Dispatcher) backoff(n int) time.Duration {
	c := d.minWait
	for i := 1; i < n && c < d.maxWait; i++ {
		c *= 2
	}
	c = min(c, d.maxWait)
	return rand.N(c + 1)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
