package natssink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rewardkit/rewardkit/ledger"
)

// Defaults of a Sink.
const (
	// DefaultConsumer is the name of the durable ledger consumer whose
	// position records what the sink has published.
	DefaultConsumer = "natssink"
	// DefaultSubjectPrefix starts every subject DefaultSubject makes.
	DefaultSubjectPrefix = "rewardkit"
	// DefaultBatch is how many events a sink reads, publishes and commits
	// at a time.
	DefaultBatch = 100
	// DefaultPublishTimeout bounds the wait for one message's ack.
	DefaultPublishTimeout = 5 * time.Second
	// DefaultMinBackoff and DefaultMaxBackoff bound the wait after a
	// failure: it doubles from the first to the second, with jitter.
	DefaultMinBackoff = 100 * time.Millisecond
	DefaultMaxBackoff = 30 * time.Second
)

// Headers the sink sets on every message, beside Nats-Msg-Id (the event's
// ID, which JetStream deduplicates on).
const (
	// HeaderSeq holds the event's Seq as a decimal string, so that a
	// subscriber can order, resume and drop duplicates older than the
	// stream's duplicate window without decoding the body.
	HeaderSeq = "Rewardkit-Seq"
	// HeaderContentType is "application/cloudevents+json": the body is a
	// CloudEvents 1.0 structured JSON event (ledger.Event.CloudEvent).
	HeaderContentType = "Content-Type"
	// ContentType is the value of HeaderContentType.
	ContentType = "application/cloudevents+json"
)

// DefaultSubject returns "rewardkit.<event type>", such as
// "rewardkit.gifting.gift.sent": a stream bound to "rewardkit.>" takes
// every event, and a subscriber filters by type with NATS wildcards
// ("rewardkit.payout.>").
func DefaultSubject(ev ledger.Event) string { return DefaultSubjectPrefix + "." + ev.Type }

// Sink publishes a ledger's event feed to JetStream, in order and at
// least once (see the package doc). Run it in one goroutine per consumer
// name; a Sink is not meant for concurrent Run calls.
type Sink struct {
	l        *ledger.Ledger
	js       jetstream.JetStream
	consumer *ledger.Consumer
	subject  func(ledger.Event) string
	batch    int
	timeout  time.Duration
	minWait  time.Duration
	maxWait  time.Duration
	log      *slog.Logger

	name string
	// commit records the published position; a test replaces it to
	// simulate a crash between the publish and the commit.
	commit func(ctx context.Context, seq uint64) error
}

// Option configures a Sink.
type Option func(*Sink)

// WithConsumer names the durable ledger consumer whose committed position
// is what the sink has published (default DefaultConsumer). Two sinks
// that publish the same ledger to two places need two names.
func WithConsumer(name string) Option { return func(s *Sink) { s.name = name } }

// WithSubject sets the function that gives an event's NATS subject
// (default DefaultSubject). The stream must be bound to every subject it
// returns: a publish that no stream takes fails and is retried.
func WithSubject(f func(ledger.Event) string) Option {
	return func(s *Sink) {
		if f != nil {
			s.subject = f
		}
	}
}

// WithBatch sets how many events are read, published and committed at a
// time (1 to 10000; default DefaultBatch). A larger batch commits less
// often, and republishes more after a crash.
func WithBatch(n int) Option {
	return func(s *Sink) {
		if n > 0 {
			s.batch = min(n, 10000)
		}
	}
}

// WithPublishTimeout bounds the wait for each message's ack (default
// DefaultPublishTimeout); a publish that times out is retried.
func WithPublishTimeout(d time.Duration) Option {
	return func(s *Sink) {
		if d > 0 {
			s.timeout = d
		}
	}
}

// WithBackoff sets the waits after a failure: the first is about lo, each
// next one doubles up to hi, each drawn at random between half and all
// of its value so that sinks restarted together do not retry together.
func WithBackoff(lo, hi time.Duration) Option {
	return func(s *Sink) {
		if lo > 0 {
			s.minWait = lo
		}
		if hi > 0 {
			s.maxWait = hi
		}
		s.maxWait = max(s.maxWait, s.minWait)
	}
}

// WithLogger sets the logger for failures (Warn) and published batches
// (Debug). The default discards.
func WithLogger(log *slog.Logger) Option {
	return func(s *Sink) {
		if log != nil {
			s.log = log
		}
	}
}

// New returns a sink that publishes l's events through js. It connects to
// nothing until Run or RunOnce.
func New(l *ledger.Ledger, js jetstream.JetStream, opts ...Option) *Sink {
	s := &Sink{
		l: l, js: js, subject: DefaultSubject, batch: DefaultBatch, timeout: DefaultPublishTimeout,
		minWait: DefaultMinBackoff, maxWait: DefaultMaxBackoff, log: slog.New(slog.DiscardHandler),
		name: DefaultConsumer,
	}
	for _, o := range opts {
		o(s)
	}
	s.consumer = l.Consumer(s.name)
	s.commit = s.consumer.Commit
	return s
}

// Consumer returns the durable ledger consumer the sink commits to: its
// Position is the Seq of the last event published and committed.
func (s *Sink) Consumer() *ledger.Consumer { return s.consumer }

// Run publishes events as they are committed, until ctx ends: it waits
// for new events (ledger.Consumer.Next), publishes each and waits for its
// ack, then commits the batch's last Seq. After a failure (NATS down, a
// publish not acked, the store unavailable) it backs off and retries from
// the committed position, so events are republished, never skipped. It
// returns ctx.Err() when ctx ends, or at once an error wrapping
// ledger.ErrInvalidEvent when the consumer name is invalid.
func (s *Sink) Run(ctx context.Context) error {
	if _, err := s.consumer.Position(ctx); errors.Is(err, ledger.ErrInvalidEvent) {
		return err
	}
	failures := 0
	for {
		evs, err := s.consumer.Next(ctx, s.batch)
		if err == nil {
			err = s.publish(ctx, evs)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err == nil {
			failures = 0
			continue
		}
		failures++
		wait := s.backoff(failures)
		s.log.LogAttrs(ctx, slog.LevelWarn, "natssink: publishing failed, retrying",
			slog.String("consumer", s.name), slog.Int("attempt", failures),
			slog.Duration("backoff", wait), slog.String("error", err.Error()))
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}

// RunOnce publishes the events committed so far that the consumer has not
// committed as published, then returns: nil when it caught up, the first
// error otherwise (without retrying; what was published and committed
// before it stays committed). It is for tests, tools and a cron job; a
// service runs Run.
func (s *Sink) RunOnce(ctx context.Context) error {
	for {
		pos, err := s.consumer.Position(ctx)
		if err != nil {
			return err
		}
		evs, err := s.l.Events(ctx, pos, s.batch)
		if err != nil {
			return err
		}
		if len(evs) == 0 {
			return nil
		}
		if err := s.publish(ctx, evs); err != nil {
			return err
		}
	}
}

// publish sends evs in order, each after the previous one was acked, so
// that a failure leaves the stream with a prefix of them and a retry
// cannot store them out of order (asynchronous publishing could). It
// commits the last acked Seq, also when a later event failed, so that a
// retry republishes as little as it can.
func (s *Sink) publish(ctx context.Context, evs []ledger.Event) error {
	var acked uint64
	var err error
	dups := 0
	for _, ev := range evs {
		var dup bool
		if dup, err = s.publishOne(ctx, ev); err != nil {
			break
		}
		if dup {
			dups++
		}
		acked = ev.Seq
	}
	if acked != 0 {
		if cerr := s.commit(ctx, acked); cerr != nil {
			return errors.Join(err, fmt.Errorf("natssink: commit %d for consumer %s: %w", acked, s.name, cerr))
		}
		s.log.LogAttrs(ctx, slog.LevelDebug, "natssink: published",
			slog.String("consumer", s.name), slog.Uint64("through", acked), slog.Int("duplicates", dups))
	}
	return err
}

// publishOne publishes one event and waits for its ack; dup reports that
// the stream already held it (a republish after a crash or a lost ack).
func (s *Sink) publishOne(ctx context.Context, ev ledger.Event) (dup bool, err error) {
	body, err := ev.CloudEvent()
	if err != nil {
		return false, err
	}
	msg := &nats.Msg{Subject: s.subject(ev), Data: body, Header: nats.Header{}}
	msg.Header.Set(HeaderSeq, strconv.FormatUint(ev.Seq, 10))
	msg.Header.Set(HeaderContentType, ContentType)
	pctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	ack, err := s.js.PublishMsg(pctx, msg, jetstream.WithMsgID(ev.ID.String()))
	if err != nil {
		return false, fmt.Errorf("natssink: publish event %d to %s: %w", ev.Seq, msg.Subject, err)
	}
	return ack.Duplicate, nil
}

// backoff returns the wait after the given number of consecutive
// failures: minWait doubled per failure up to maxWait, then a random
// point in its upper half ("equal jitter").
func (s *Sink) backoff(failures int) time.Duration {
	d := s.minWait
	for i := 1; i < failures && d < s.maxWait; i++ {
		d *= 2
	}
	d = min(d, s.maxWait)
	return d/2 + rand.N(d/2+1)
}
