package pgstore

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/driver"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
)

var errInjected = errors.New("injected by the test")

// postKeys posts n transfers of 1 EUR from World to member:a with keys
// prefix-0 ... prefix-(n-1), in batches of 500.
func postKeys(t *testing.T, l *ledger.Ledger, prefix string, n int) {
	t.Helper()
	ctx := context.Background()
	for lo := 0; lo < n; lo += 500 {
		reqs := make([]ledger.TransferRequest, min(500, n-lo))
		for i := range reqs {
			reqs[i] = ledger.TransferRequest{Key: fmt.Sprintf("%s-%d", prefix, lo+i), Postings: []ledger.Posting{
				{From: ledger.World, To: "member:a", Asset: "EUR", Amount: decimal.NewFromInt(1)}}}
		}
		res, err := l.PostBatch(ctx, reqs)
		require.NoError(t, err)
		for _, r := range res {
			require.NoError(t, r.Err)
		}
	}
}

// requireReplays retries the transfers of keys and checks that each one
// returns the transaction first posted with its key and posts nothing.
func requireReplays(t *testing.T, l *ledger.Ledger, keys ...string) {
	t.Helper()
	ctx := context.Background()
	before, err := l.Balance(ctx, "member:a", "EUR")
	require.NoError(t, err)
	for _, k := range keys {
		want, err := l.TransactionByKey(ctx, k)
		require.NoError(t, err, "key %s", k)
		got, err := l.Transfer(ctx, k, ledger.World, "member:a", "EUR", decimal.NewFromInt(1))
		require.NoError(t, err, "the retry of committed key %s replays", k)
		require.Equal(t, want.ID, got.ID, "key %s: the retry returns the original", k)
	}
	after, err := l.Balance(ctx, "member:a", "EUR")
	require.NoError(t, err)
	require.True(t, before.Posted.Equal(after.Posted), "replays post nothing: %s then %s", before.Posted, after.Posted)
	_, err = l.Verify(ctx)
	require.NoError(t, err)
}

// TestCommittedKeyReplaysAfterFailedLateBegin: issue 10 #7. The store
// forgets what it knew of the keys, then the BEGIN of the next group, sent
// in the round trip of a COMMIT that stood, fails. (The store used to
// keep an empty key filter marked complete after this, so retries of
// committed keys were refused with ErrConflict until it filled again.)
// Retries of keys committed before and around the failure must replay.
func TestCommittedKeyReplaysAfterFailedLateBegin(t *testing.T) {
	s := newStore(t)
	l := newLedger(t, s, 0, "member:a")
	ctx := context.Background()
	postKeys(t, l, "paid", 50)

	var fired atomic.Bool
	armed := false
	s.hookLateBegin = func() error {
		if armed {
			armed = false
			fired.Store(true)
			return errInjected
		}
		return nil
	}
	// On the committer's goroutine: forget the keys, have another caller
	// queue (so this group's COMMIT carries the next BEGIN) and fail that
	// BEGIN.
	late := make(chan error, 1)
	require.NoError(t, s.Update(ctx, func(tx driver.Tx) error {
		tx.(*gtx).c.forgetKeys()
		go func() {
			_, err := l.Transfer(ctx, "late", ledger.World, "member:a", "EUR", decimal.NewFromInt(1))
			late <- err
		}()
		for len(s.queue) == 0 {
			time.Sleep(time.Millisecond)
		}
		armed = true
		return nil
	}))
	require.NoError(t, <-late)
	require.True(t, fired.Load(), "a BEGIN was sent with a COMMIT and failed")
	require.Equal(t, uint64(1), s.Stats().LateBeginFailures, "the failure no caller saw is counted")
	require.ErrorIs(t, s.Stats().LastHiddenError, errInjected)

	requireReplays(t, l, "paid-0", "paid-17", "paid-49", "late")
}

// rowCounter is a pgx tracer that counts the rows every SELECT returned.
type rowCounter struct{ rows atomic.Int64 }

func (rc *rowCounter) count(tag string) {
	var n int64
	if _, err := fmt.Sscanf(tag, "SELECT %d", &n); err == nil {
		rc.rows.Add(n)
	}
}

func (rc *rowCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return ctx
}

func (rc *rowCounter) TraceQueryEnd(_ context.Context, _ *pgx.Conn, d pgx.TraceQueryEndData) {
	rc.count(d.CommandTag.String())
}

func (rc *rowCounter) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return ctx
}

func (rc *rowCounter) TraceBatchQuery(_ context.Context, _ *pgx.Conn, d pgx.TraceBatchQueryData) {
	rc.count(d.CommandTag.String())
}

func (rc *rowCounter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// TestOpenReadsNoKeys: issue 10 #7. A store opened on a journal of 3,000
// keyed transactions reads none of their keys (it used to read every key
// of the journal in its first group), and retries of keys it never saw
// still replay, whatever its cache holds.
func TestOpenReadsNoKeys(t *testing.T) {
	schema := newSchema(t)
	l := newLedger(t, openStore(t, schema), 0, "member:a")
	const n = 3000
	postKeys(t, l, "old", n)

	cfg, err := pgx.ParseConfig(testDSN(t))
	require.NoError(t, err)
	rc := &rowCounter{}
	cfg.Tracer = rc
	s2, err := OpenConfig(context.Background(), cfg, WithSchema(schema))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s2.Close() })
	l2 := ledger.New(s2, ledger.WithClock(ledgertest.NewClock(epoch)))
	_, err = l2.Transfer(context.Background(), "new-1", ledger.World, "member:a", "EUR", decimal.NewFromInt(1))
	require.NoError(t, err)
	require.Less(t, rc.rows.Load(), int64(100), "opening and a first transfer read a few rows, not the journal's keys")

	for _, k := range []string{"old-0", "old-1500", "old-2999", "new-1"} {
		_, err := l2.Transfer(context.Background(), k, ledger.World, "member:a", "EUR", decimal.NewFromInt(1))
		require.NoError(t, err, "retry of %s", k)
	}
	require.Less(t, rc.rows.Load(), int64(200), "retries read their own transactions only")
	// The first old key, taken for new, rolled its group back; the groups
	// after that look every key up.
	require.Equal(t, uint64(1), s2.Stats().KeyRechecks)
	requireReplays(t, l2, "old-0", "old-1500", "old-2999", "new-1")
	b, err := l2.Balance(context.Background(), "member:a", "EUR")
	require.NoError(t, err)
	require.True(t, b.Posted.Equal(decimal.NewFromInt(n+1)), "nothing posted twice: %s", b.Posted)
}

// TestReplayOfKeyPostedElsewhere: a key posted through another store (another
// process) is not in this store's cache; a retry here still replays, and
// so does a retry mixed into a PostBatch with new keys.
func TestReplayOfKeyPostedElsewhere(t *testing.T) {
	schema := newSchema(t)
	s1, s2 := openStore(t, schema), openStore(t, schema)
	l1 := newLedger(t, s1, 0, "member:a")
	l2 := ledger.New(s2, ledger.WithClock(ledgertest.NewClock(epoch)))
	ctx := context.Background()
	postKeys(t, l1, "one", 10)
	requireReplays(t, l2, "one-3")

	reqs := []ledger.TransferRequest{
		{Key: "batch-new", Postings: []ledger.Posting{{From: ledger.World, To: "member:a", Asset: "EUR", Amount: decimal.NewFromInt(1)}}},
		{Key: "one-5", Postings: []ledger.Posting{{From: ledger.World, To: "member:a", Asset: "EUR", Amount: decimal.NewFromInt(1)}}},
	}
	want, err := l1.TransactionByKey(ctx, "one-5")
	require.NoError(t, err)
	s3 := openStore(t, schema) // a cache that saw nothing, in no lookup phase
	l3 := ledger.New(s3, ledger.WithClock(ledgertest.NewClock(epoch)))
	res, err := l3.PostBatch(ctx, reqs)
	require.NoError(t, err)
	require.NoError(t, res[0].Err)
	require.NoError(t, res[1].Err)
	require.Equal(t, want.ID, res[1].Transaction.ID, "the batch's retry replays")
	require.Equal(t, uint64(1), s3.Stats().KeyRechecks)
	b, err := l3.Balance(ctx, "member:a", "EUR")
	require.NoError(t, err)
	require.True(t, b.Posted.Equal(decimal.NewFromInt(11)), "one new transfer: %s", b.Posted)
}

// TestLookupOnlyToldTruth: a unit of work that only looks keys up (it
// appends none), and acts on the answer, is never left with a wrong "not
// found" for a key another process posted: the check sent with the
// COMMIT finds the key, the group is rolled back and retried, and the
// retry asks the database.
func TestLookupOnlyToldTruth(t *testing.T) {
	schema := newSchema(t)
	l1 := newLedger(t, openStore(t, schema), 0, "member:a")
	postKeys(t, l1, "elsewhere", 5)
	s2 := openStore(t, schema)
	l2 := ledger.New(s2, ledger.WithClock(ledgertest.NewClock(epoch)))
	ctx := context.Background()
	runs := 0
	err := l2.Update(ctx, func(w *ledger.Writer) error {
		runs++
		if _, err := w.TransactionByKey("never"); !errors.Is(err, ledger.ErrNotFound) {
			return fmt.Errorf("never: %w", err)
		}
		_, err := w.TransactionByKey("elsewhere-3")
		return err // a caller that trusted "not found" would be refused here
	})
	require.NoError(t, err)
	require.Equal(t, 2, runs, "the first run was told a lie, caught before commit")
	require.Equal(t, uint64(1), s2.Stats().KeyRechecks)
}

// forgetKeys empties the key cache (on the committer's goroutine).
func (c *committer) forgetKeys() { c.keys.clear() }

// TestRetryStormOnFreshStore: many callers retry keys a fresh store never
// saw (another process posted them; or this process restarted), mixed
// with new keys. Every retry replays and every new key posts: groups that
// took an old key for new are rolled back and retried, and never so often
// that a caller runs out of retries.
func TestRetryStormOnFreshStore(t *testing.T) {
	schema := newSchema(t)
	l1 := newLedger(t, openStore(t, schema), 0, "member:a")
	const old = 600
	postKeys(t, l1, "storm", old)
	s2 := openStore(t, schema)
	l2 := ledger.New(s2, ledger.WithClock(ledgertest.NewClock(epoch)))
	ctx := context.Background()
	const callers = 32
	errs := make(chan error, callers)
	for c := 0; c < callers; c++ {
		go func() {
			for i := c; i < old; i += callers {
				k := fmt.Sprintf("storm-%d", i)
				if i%3 == 0 {
					k = fmt.Sprintf("fresh-%d", i)
				}
				if _, err := l2.Transfer(ctx, k, ledger.World, "member:a", "EUR", decimal.NewFromInt(1)); err != nil {
					errs <- fmt.Errorf("%s: %w", k, err)
					return
				}
			}
			errs <- nil
		}()
	}
	for c := 0; c < callers; c++ {
		require.NoError(t, <-errs)
	}
	b, err := l2.Balance(ctx, "member:a", "EUR")
	require.NoError(t, err)
	require.True(t, b.Posted.Equal(decimal.NewFromInt(old+old/3)), "old keys replayed, fresh ones posted: %s", b.Posted)
	t.Logf("groups %d, rolled back for a key %d", s2.Stats().Groups, s2.Stats().KeyRechecks)
	_, err = l2.Verify(ctx)
	require.NoError(t, err)
}

// TestKeyCacheBounded: the cache never holds more keys than its size, and
// keeps the most recent ones.
func TestKeyCacheBounded(t *testing.T) {
	for _, size := range []int{1, 2, 3, 64, 1000} {
		c := newKeyCache(size)
		for i := 0; i < 10*size; i++ {
			k := fmt.Sprint(i)
			c.add(k)
			require.True(t, c.has(k), "size %d: the key just added", size)
			require.LessOrEqual(t, c.len(), size, "size %d", size)
		}
		for i := 10*size - max(size/2, 1); i < 10*size; i++ {
			require.True(t, c.has(fmt.Sprint(i)), "size %d: recent key %d", size, i)
		}
		require.False(t, c.has("0"), "size %d: the oldest key was dropped", size)
	}
	off := newKeyCache(0)
	off.add("k")
	require.False(t, off.has("k"))
	require.Zero(t, off.len())
}

// TestKeyCacheOff: with WithKeyCache(0) every key is looked up before it
// is used, so no group is rolled back for a key, and replays still work.
func TestKeyCacheOff(t *testing.T) {
	schema := newSchema(t)
	l1 := newLedger(t, openStore(t, schema), 0, "member:a")
	postKeys(t, l1, "off", 20)
	s2 := openStore(t, schema, WithKeyCache(0))
	l2 := ledger.New(s2, ledger.WithClock(ledgertest.NewClock(epoch)))
	_, err := l2.Transfer(context.Background(), "off-new", ledger.World, "member:a", "EUR", decimal.NewFromInt(1))
	require.NoError(t, err)
	requireReplays(t, l2, "off-0", "off-19", "off-new")
	require.Zero(t, s2.Stats().KeyRechecks)
}
