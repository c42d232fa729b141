package pgstore

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rewardkit/rewardkit/ledger/driver"
)

var _ driver.EventNotifier = (*Store)(nil)

// eventChannel is the NOTIFY channel of this store's schema: a commit that
// appended events notifies it with the new event head, so that followers
// in every process sharing the schema wake at once. It is a hash of the
// schema's name, so that it is a short identifier whatever the name.
func (s *Store) eventChannel() string {
	h := fnv.New64a()
	_, _ = h.Write([]byte("rewardkit/ledger/pgstore/events:" + s.opts.schema))
	return fmt.Sprintf("rewardkit_events_%016x", h.Sum64())
}

// listener keeps one connection of its own LISTENing on the event channel,
// started by the first WaitEvents and stopped by Close, and tells waiters
// the highest event head it has heard of.
type listener struct {
	once    sync.Once
	mu      sync.Mutex
	head    uint64        // highest committed event head heard of
	changed chan struct{} // closed, and replaced, when head moves or the connection is renewed
}

// listenFallback bounds how long WaitEvents waits without hearing anything:
// it then returns (a spurious wake-up the caller tolerates) and the caller
// reads the log, so that a notification lost with a connection delays a
// follower by this much at most.
const listenFallback = time.Second

// WaitEvents returns once a committed event may have a Seq beyond after:
// a commit in any process on this schema wakes it through LISTEN/NOTIFY.
// It returns nil after about a second with nothing heard (the caller
// reads and waits again), an error wrapping ctx.Err() when ctx ends, and
// driver.ErrClosed once the store is closed.
func (s *Store) WaitEvents(ctx context.Context, after uint64) error {
	if s.isClosed() {
		return driver.ErrClosed
	}
	l := &s.listen
	l.once.Do(func() {
		l.mu.Lock()
		l.changed = make(chan struct{})
		l.mu.Unlock()
		s.listenWG.Add(1)
		go func() {
			defer s.listenWG.Done()
			s.listenLoop()
		}()
	})
	t := time.NewTimer(listenFallback)
	defer t.Stop()
	for {
		l.mu.Lock()
		head, ch := l.head, l.changed
		l.mu.Unlock()
		if head > after {
			return nil
		}
		select {
		case <-ch:
		case <-t.C:
			return nil
		case <-s.quit:
			return driver.ErrClosed
		case <-ctx.Done():
			return fmt.Errorf("pgstore: waiting for events: %w", ctx.Err())
		}
	}
}

// heard records an event head (from a notification or a read) and wakes
// the waiters.
func (l *listener) heard(head uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if head > l.head {
		l.head = head
	}
	close(l.changed)
	l.changed = make(chan struct{})
}

// listenLoop LISTENs until the store closes, connecting again after a
// failure. After each LISTEN it reads the event head, so that a commit
// made before the LISTEN took effect is not missed.
func (s *Store) listenLoop() {
	ctx := s.ctx
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		err := s.listenOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		s.obs.logHidden(slog.LevelWarn, "pgstore: the event listener's connection failed; connecting again", err)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

func (s *Store) listenOnce(ctx context.Context) error {
	conn, err := pgx.ConnectConfig(ctx, s.cfg)
	if err != nil {
		return err
	}
	defer func() {
		if err := conn.Close(context.Background()); err != nil {
			s.obs.logHidden(slog.LevelDebug, "pgstore: close the event listener's connection", err)
		}
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{s.eventChannel()}.Sanitize()); err != nil {
		return err
	}
	readHead := func() error {
		var seq int64
		if err := conn.QueryRow(ctx, `SELECT event_seq FROM ledger_head WHERE id = 1`).Scan(&seq); err != nil {
			return err
		}
		s.listen.heard(uint64(seq))
		return nil
	}
	if err := readHead(); err != nil {
		return err
	}
	for {
		// A notification only wakes the listener, which reads this
		// schema's own head: the payload may be another schema's, when
		// two stores share a channel (a schema set by search_path in the
		// DSN rather than WithSchema, or two databases behind a pooler),
		// and trusting it would wake followers for events that are not
		// theirs, again and again.
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		if err := readHead(); err != nil {
			return err
		}
	}
}
