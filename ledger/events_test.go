package ledger_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/driver"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
	"github.com/rewardkit/rewardkit/ledger/memstore"
	"github.com/rewardkit/rewardkit/ledger/pgstore"
	"github.com/rewardkit/rewardkit/ledger/teststore"
)

var eventEpoch = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// reopenable opens a store and returns a function that opens a second
// store on the same data: the same memstore (a new Ledger over it is a
// restart as far as the ledger knows), or a new pgstore on the same
// schema (another process).
func reopenable(t *testing.T, pg bool) (driver.Store, func() driver.Store) {
	t.Helper()
	if !pg {
		s := teststore.Memory(t)
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

// runReopenable runs f on memstore and, when configured, on pgstore.
func runReopenable(t *testing.T, f func(t *testing.T, s driver.Store, reopen func() driver.Store)) {
	t.Run("memstore", func(t *testing.T) {
		s, reopen := reopenable(t, false)
		f(t, s, reopen)
	})
	t.Run("pgstore", func(t *testing.T) {
		teststore.PostgresDSN(t)
		s, reopen := reopenable(t, true)
		f(t, s, reopen)
	})
}

func allEvents(t *testing.T, l *ledger.Ledger, after uint64) []ledger.Event {
	t.Helper()
	var out []ledger.Event
	for {
		evs, err := l.Events(context.Background(), after, 0)
		require.NoError(t, err)
		if len(evs) == 0 {
			return out
		}
		out = append(out, evs...)
		after = evs[len(evs)-1].Seq
	}
}

func eventHead(t *testing.T, l *ledger.Ledger) uint64 {
	evs := allEvents(t, l, 0)
	if len(evs) == 0 {
		return 0
	}
	return evs[len(evs)-1].Seq
}

// TestLedgerOwnEvents: every change the ledger makes emits its event in
// the same unit of work, with the documented data. On both stores.
func TestLedgerOwnEvents(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		clock := ledgertest.NewClock(eventEpoch)
		l := ledger.New(open(t), ledger.WithClock(clock), ledger.WithLedgerEvents(true))
		require.NoError(t, l.DefineAsset(ctx, ledger.EUR))
		_, err := l.OpenAccount(ctx, ledger.AccountSpec{Address: ledger.World, Overdraft: ledger.Overdraft{Unbounded: true}})
		require.NoError(t, err)
		_, err = l.OpenAccount(ctx, ledger.AccountSpec{Address: "member:a"})
		require.NoError(t, err)
		_, err = l.OpenAccount(ctx, ledger.AccountSpec{Address: "member:a"}) // again: no new event
		require.NoError(t, err)
		fund, err := l.Post(ctx, ledger.TransferRequest{Key: "fund-1", Metadata: map[string]string{"why": "welcome"},
			Postings: []ledger.Posting{{From: ledger.World, To: "member:a", Asset: "EUR", Amount: dec("100")}}})
		require.NoError(t, err)
		_, err = l.Post(ctx, ledger.TransferRequest{Key: "fund-1", Metadata: map[string]string{"why": "welcome"},
			Postings: []ledger.Posting{{From: ledger.World, To: "member:a", Asset: "EUR", Amount: dec("100")}}})
		require.NoError(t, err, "a replay posts nothing and emits nothing")
		h1, err := l.Hold(ctx, ledger.HoldRequest{Key: "h1", Account: "member:a", Asset: "EUR", Amount: dec("30"), ExpiresAt: eventEpoch.Add(time.Hour)})
		require.NoError(t, err)
		c1, err := l.Capture(ctx, ledger.CaptureRequest{Hold: h1.ID, Destinations: []ledger.Leg{{To: ledger.World, Amount: dec("10")}}})
		require.NoError(t, err)
		c2, err := l.Capture(ctx, ledger.CaptureRequest{Hold: h1.ID, Final: true, Destinations: []ledger.Leg{{To: ledger.World, Amount: dec("5")}}})
		require.NoError(t, err)
		h2, err := l.Hold(ctx, ledger.HoldRequest{Account: "member:a", Asset: "EUR", Amount: dec("1"), ExpiresAt: eventEpoch.Add(time.Hour)})
		require.NoError(t, err)
		_, err = l.Void(ctx, h2.ID)
		require.NoError(t, err)
		h3, err := l.Hold(ctx, ledger.HoldRequest{Account: "member:a", Asset: "EUR", Amount: dec("2"), ExpiresAt: eventEpoch.Add(time.Minute)})
		require.NoError(t, err)
		clock.Advance(2 * time.Minute)
		n, err := l.Tick(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		rev, err := l.Reverse(ctx, ledger.ReversalRequest{ID: c1.ID})
		require.NoError(t, err)

		evs := allEvents(t, l, 0)
		var got []string
		for i, ev := range evs {
			require.Equal(t, uint64(i+1), ev.Seq)
			got = append(got, fmt.Sprintf("%s %s tx=%d", ev.Type, ev.Subject, ev.TxID))
		}
		want := []string{
			"ledger.account.opened world tx=0",
			"ledger.account.opened member:a tx=0",
			fmt.Sprintf("ledger.transaction.posted %d tx=%d", fund.ID, fund.ID),
			fmt.Sprintf("ledger.hold.created %d tx=0", h1.ID),
			fmt.Sprintf("ledger.transaction.posted %d tx=%d", c1.ID, c1.ID),
			fmt.Sprintf("ledger.hold.captured %d tx=%d", h1.ID, c1.ID),
			fmt.Sprintf("ledger.transaction.posted %d tx=%d", c2.ID, c2.ID),
			fmt.Sprintf("ledger.hold.captured %d tx=%d", h1.ID, c2.ID),
			fmt.Sprintf("ledger.hold.created %d tx=0", h2.ID),
			fmt.Sprintf("ledger.hold.voided %d tx=0", h2.ID),
			fmt.Sprintf("ledger.hold.created %d tx=0", h3.ID),
			fmt.Sprintf("ledger.hold.expired %d tx=0", h3.ID),
			fmt.Sprintf("ledger.transaction.posted %d tx=%d", rev.ID, rev.ID),
			fmt.Sprintf("ledger.transaction.reversed %d tx=%d", c1.ID, rev.ID),
		}
		require.Equal(t, want, got)
		data := func(i int) map[string]any {
			var m map[string]any
			require.NoError(t, json.Unmarshal(evs[i].Data, &m), "event %d", i)
			return m
		}
		require.Equal(t, map[string]any{"account": "member:a", "unbounded": false}, data(1))
		require.Equal(t, map[string]any{"kind": "transfer", "key": "fund-1", "metadata": map[string]any{"why": "welcome"},
			"postings": []any{map[string]any{"from": "world", "to": "member:a", "asset": "EUR", "amount": "100.00"}}}, data(2))
		require.Equal(t, map[string]any{"hold": float64(h1.ID), "key": "h1", "account": "member:a", "asset": "EUR", "amount": "30.00",
			"expires_at": eventEpoch.Add(time.Hour).Format(time.RFC3339Nano)}, data(3))
		require.Equal(t, "capture", data(4)["kind"])
		require.Equal(t, float64(h1.ID), data(4)["hold"])
		require.Equal(t, map[string]any{"hold": float64(h1.ID), "account": "member:a", "asset": "EUR", "amount": "10.00", "captured": "10.00", "closed": false}, data(5))
		require.Equal(t, map[string]any{"hold": float64(h1.ID), "account": "member:a", "asset": "EUR", "amount": "5.00", "captured": "15.00", "closed": true}, data(7))
		require.Equal(t, map[string]any{"hold": float64(h2.ID), "account": "member:a", "asset": "EUR", "released": "1.00"}, data(9))
		require.Equal(t, map[string]any{"hold": float64(h3.ID), "account": "member:a", "asset": "EUR", "released": "2.00"}, data(11))
		require.Equal(t, "reversal", data(12)["kind"])
		require.Equal(t, float64(c1.ID), data(12)["reverses"])
		require.Equal(t, map[string]any{"transaction": float64(c1.ID), "reversal": float64(rev.ID)}, data(13))
		for _, ev := range evs[:len(evs)-2] {
			if ev.Type != ledger.EventHoldExpired {
				require.True(t, ev.Time.Before(eventEpoch.Add(time.Second)), "%s at the clock's time", ev.Type)
			}
		}
		require.True(t, evs[11].Time.Equal(eventEpoch.Add(2*time.Minute)), "the sweep's event has the sweep's time")
	})
}

// TestLedgerEventsOffByDefault: without WithLedgerEvents(true) the log
// holds what programs emit only.
func TestLedgerEventsOffByDefault(t *testing.T) {
	ctx := context.Background()
	l := ledger.New(memstore.New())
	require.NoError(t, l.Update(ctx, func(w *ledger.Writer) error {
		if _, err := w.OpenAccount(ledger.AccountSpec{Address: "member:z"}); err != nil {
			return err
		}
		return w.Emit("test.only.mine", "z", nil)
	}))
	evs := allEvents(t, l, 0)
	var types []string
	for _, ev := range evs {
		types = append(types, ev.Type)
	}
	require.NotContains(t, types, ledger.EventAccountOpened)
	require.Equal(t, "test.only.mine", types[len(types)-1])
}

// TestEmitValidation: malformed events are refused with ErrInvalidEvent,
// whose code is invalid_argument, and leave nothing behind.
func TestEmitValidation(t *testing.T) {
	ctx := context.Background()
	l := ledger.New(memstore.New())
	big := map[string]string{"x": strings.Repeat("a", 70<<10)}
	cases := []struct {
		typ, subject string
		data         any
	}{
		{"", "s", nil},
		{"gift", "s", nil},
		{"Gift.sent", "s", nil},
		{"gifting..sent", "s", nil},
		{"gifting.gift.", "s", nil},
		{".gift.sent", "s", nil},
		{"gifting.1gift", "s", nil},
		{"gifting.gift-sent", "s", nil},
		{"ledger.transaction.posted", "s", nil},
		{"a." + strings.Repeat("b", 200), "s", nil},
		{"gifting.gift.sent", string([]byte{0xff, 0xfe}), nil},
		{"gifting.gift.sent", strings.Repeat("s", 257), nil},
		{"gifting.gift.sent", "s", []int{1}},
		{"gifting.gift.sent", "s", "text"},
		{"gifting.gift.sent", "s", 42},
		{"gifting.gift.sent", "s", map[string]any{"c": make(chan int)}},
		{"gifting.gift.sent", "s", json.RawMessage(`{"a":`)},
		{"gifting.gift.sent", "s", big},
	}
	for _, c := range cases {
		err := l.Update(ctx, func(w *ledger.Writer) error {
			err := w.Emit(c.typ, c.subject, c.data)
			require.ErrorIs(t, err, ledger.ErrInvalidEvent, "%q %q", c.typ, c.subject)
			require.Equal(t, ledger.CodeInvalidArgument, ledger.ErrorCode(err))
			require.True(t, strings.HasPrefix(err.Error(), "ledger: invalid event: "), err.Error())
			return nil // the unit of work goes on, with nothing emitted
		})
		require.NoError(t, err)
	}
	require.Empty(t, allEvents(t, l, 0))
	for _, typ := range []string{"gifting.gift.sent", "a.b", "payout.payout.paid_out", "x1.y_2.z3"} {
		require.NoError(t, ledger.ValidateEventType(typ), typ)
	}
	require.NoError(t, l.Update(ctx, func(w *ledger.Writer) error {
		if err := w.Emit("gifting.gift.sent", "", nil); err != nil {
			return err
		}
		return w.Emit("gifting.gift.sent", "cat", json.RawMessage(` {"gift": "rose"} `))
	}))
	evs := allEvents(t, l, 0)
	require.Len(t, evs, 2)
	require.JSONEq(t, `{"gift":"rose"}`, string(evs[1].Data))
}

// TestCloudEvent: the CloudEvents 1.0 structured JSON form of an event.
func TestCloudEvent(t *testing.T) {
	ctx := context.Background()
	clock := ledgertest.NewClock(eventEpoch.Add(123456789 * time.Nanosecond))
	for _, source := range []string{"", "https://example.com/rewards"} {
		opts := []ledger.Option{ledger.WithClock(clock), ledger.WithLedgerEvents(true)}
		if source != "" {
			opts = append(opts, ledger.WithEventSource(source))
		}
		l := ledger.New(memstore.New(), opts...)
		newFixtureOn(t, l.Store()) // its own ledger opens the accounts
		require.NoError(t, l.Update(ctx, func(w *ledger.Writer) error {
			if err := w.Emit("gifting.pack.viewed", "cat", nil); err != nil {
				return err
			}
			if _, err := w.Post(ledger.TransferRequest{Postings: []ledger.Posting{{From: ledger.World, To: alice, Asset: "EUR", Amount: dec("1")}}}); err != nil {
				return err
			}
			return w.Emit("gifting.gift.sent", "cat", map[string]any{"gift": "rose", "coins": "10"})
		}))
		evs := allEvents(t, l, 0)
		last, first := evs[len(evs)-1], evs[len(evs)-3]
		b, err := last.CloudEvent()
		require.NoError(t, err)
		var ce map[string]any
		require.NoError(t, json.Unmarshal(b, &ce))
		wantSource := ledger.DefaultEventSource
		if source != "" {
			wantSource = source
		}
		require.Equal(t, map[string]any{
			"specversion": "1.0", "id": last.ID.String(), "source": wantSource, "type": "gifting.gift.sent",
			"subject": "cat", "time": "2026-03-01T09:00:00.123456789Z", "datacontenttype": "application/json",
			"data":     map[string]any{"gift": "rose", "coins": "10"},
			"sequence": fmt.Sprint(last.Seq), "ledgertx": fmt.Sprint(last.TxID),
		}, ce)
		require.NotZero(t, last.TxID)
		ext := regexp.MustCompile(`^[a-z0-9]{1,20}$`)
		for k := range ce {
			require.Regexp(t, ext, k, "CloudEvents attribute names are lower-case alphanumeric")
		}
		tm, err := time.Parse(time.RFC3339Nano, ce["time"].(string))
		require.NoError(t, err)
		require.True(t, tm.Equal(last.Time))

		b, err = first.CloudEvent()
		require.NoError(t, err)
		ce = nil
		require.NoError(t, json.Unmarshal(b, &ce))
		require.Equal(t, "gifting.pack.viewed", ce["type"])
		for _, k := range []string{"data", "datacontenttype", "ledgertx"} {
			require.NotContains(t, ce, k, "an event without data or transaction")
		}
	}
}

// TestFollowWakesOnCommit: a follower blocked in Follow returns as soon
// as a unit of work commits an event, from another goroutine on memstore
// and from another Store (its own connections, as another process would
// have) on pgstore, well within its timeout: it is woken, not polling.
func TestFollowWakesOnCommit(t *testing.T) {
	runReopenable(t, func(t *testing.T, s driver.Store, reopen func() driver.Store) {
		ctx := context.Background()
		follower := ledger.New(s)
		writer := ledger.New(reopen())
		after := eventHead(t, follower)
		const n = 50
		var (
			mu    sync.Mutex
			sent  = map[string]time.Time{}
			delay []time.Duration
		)
		done := make(chan error, 1)
		go func() {
			got := 0
			for got < n {
				fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				evs, err := follower.Follow(fctx, after)
				cancel()
				if err != nil {
					done <- err
					return
				}
				now := time.Now()
				mu.Lock()
				for _, ev := range evs {
					delay = append(delay, now.Sub(sent[ev.Subject]))
					after = ev.Seq
					got++
				}
				mu.Unlock()
			}
			done <- nil
		}()
		time.Sleep(50 * time.Millisecond) // the follower is waiting
		for i := 0; i < n; i++ {
			subject := fmt.Sprint(i)
			mu.Lock()
			sent[subject] = time.Now()
			mu.Unlock()
			require.NoError(t, writer.Update(ctx, func(w *ledger.Writer) error { return w.Emit("test.follow.tick", subject, nil) }))
			time.Sleep(5 * time.Millisecond)
		}
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(30 * time.Second):
			t.Fatal("the follower did not see every event")
		}
		sort.Slice(delay, func(i, j int) bool { return delay[i] < delay[j] })
		p50, p99 := delay[len(delay)/2], delay[len(delay)*99/100]
		t.Logf("follow latency from the start of the commit over %d events: p50 %v, p99 %v, max %v", len(delay), p50, p99, delay[len(delay)-1])
		// Woken, not polling: pgstore's fallback poll is a second.
		require.Less(t, p99, 500*time.Millisecond, "p99 follow latency")

		// With nothing to come, Follow waits until its context ends.
		wctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		_, err := follower.Follow(wctx, after)
		require.ErrorIs(t, err, context.DeadlineExceeded)
	})
}

// TestConsumerResumes: a named consumer reads from its committed
// position, sees the same events again until it commits (at least once),
// and resumes there on a new Ledger over the same data.
func TestConsumerResumes(t *testing.T) {
	runReopenable(t, func(t *testing.T, s driver.Store, reopen func() driver.Store) {
		ctx := context.Background()
		l := ledger.New(s)
		require.NoError(t, l.Update(ctx, func(w *ledger.Writer) error {
			for i := 1; i <= 10; i++ {
				if err := w.Emit("test.mail.queued", fmt.Sprint(i), nil); err != nil {
					return err
				}
			}
			return nil
		}))
		c := l.Consumer("mailer")
		evs, err := c.Next(ctx, 4)
		require.NoError(t, err)
		require.Len(t, evs, 4)
		require.Equal(t, uint64(1), evs[0].Seq)
		again, err := c.Next(ctx, 4)
		require.NoError(t, err)
		require.Equal(t, evs, again, "until it commits, a consumer gets the same events")
		require.NoError(t, c.Commit(ctx, evs[3].Seq))
		require.NoError(t, c.Commit(ctx, evs[3].Seq), "committing the same position again is a no-op")
		err = c.Commit(ctx, evs[1].Seq)
		require.ErrorIs(t, err, ledger.ErrInvalidEvent, "a commit that goes back")

		other, err := l.Consumer("auditor").Next(ctx, 2)
		require.NoError(t, err)
		require.Equal(t, uint64(1), other[0].Seq, "consumers are independent")

		// A restart: a new Ledger (on pgstore, a new Store) resumes.
		l2 := ledger.New(reopen())
		c2 := l2.Consumer("mailer")
		pos, err := c2.Position(ctx)
		require.NoError(t, err)
		require.Equal(t, evs[3].Seq, pos)
		rest, err := c2.Next(ctx, 100)
		require.NoError(t, err)
		require.Equal(t, evs[3].Seq+1, rest[0].Seq)
		require.NoError(t, c2.Commit(ctx, rest[len(rest)-1].Seq))

		// Caught up, Next waits for the next event and returns it.
		go func() {
			time.Sleep(20 * time.Millisecond)
			_ = l.Update(ctx, func(w *ledger.Writer) error { return w.Emit("test.mail.queued", "late", nil) })
		}()
		nctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		late, err := c2.Next(nctx, 100)
		require.NoError(t, err)
		require.Len(t, late, 1)
		require.Equal(t, "late", late[0].Subject)

		_, err = l.Consumer("").Next(ctx, 1)
		require.ErrorIs(t, err, ledger.ErrInvalidEvent)
		err = l.Consumer("bad name").Commit(ctx, 1)
		require.True(t, errors.Is(err, ledger.ErrInvalidEvent))
	})
}

// BenchmarkEventsCatchUp: a consumer reading a log of 100,000 events from
// the start, page by page, on PostgreSQL (skipped without it).
func BenchmarkEventsCatchUp(b *testing.B) {
	const total = 100_000
	l := ledger.New(teststore.Postgres(b))
	ctx := context.Background()
	for i := 0; i < total; i += 1000 {
		require.NoError(b, l.Update(ctx, func(w *ledger.Writer) error {
			for k := i; k < i+1000; k++ {
				if err := w.Emit("bench.item.made", fmt.Sprint(k), map[string]int{"n": k}); err != nil {
					return err
				}
			}
			return nil
		}))
	}
	b.ResetTimer()
	read := 0
	for i := 0; i < b.N; i++ {
		for after := uint64(0); ; {
			evs, err := l.Events(ctx, after, 10000)
			require.NoError(b, err)
			if len(evs) == 0 {
				break
			}
			read += len(evs)
			after = evs[len(evs)-1].Seq
		}
	}
	b.ReportMetric(float64(read)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkEventsCatchUpPosted: BenchmarkEventsCatchUp over 100,000
// ledger.transaction.posted events, which the log keeps by reference and
// the ledger renders from their transactions as it reads them (skipped
// without PostgreSQL).
func BenchmarkEventsCatchUpPosted(b *testing.B) {
	const total = 100_000
	l := ledger.New(teststore.Postgres(b), ledger.WithLedgerEvents(true))
	ctx := context.Background()
	require.NoError(b, l.DefineAsset(ctx, ledger.EUR))
	for _, a := range []string{ledger.World, "member:a"} {
		_, err := l.OpenAccount(ctx, ledger.AccountSpec{Address: a, Overdraft: ledger.Overdraft{Unbounded: a == ledger.World}})
		require.NoError(b, err)
	}
	reqs := make([]ledger.TransferRequest, 1000)
	for i := 0; i < total; i += len(reqs) {
		for k := range reqs {
			reqs[k] = ledger.TransferRequest{Key: fmt.Sprint("p-", i+k), Metadata: map[string]string{"n": fmt.Sprint(k)},
				Postings: []ledger.Posting{{From: ledger.World, To: "member:a", Asset: "EUR", Amount: dec("1.25")}}}
		}
		res, err := l.PostBatch(ctx, reqs)
		require.NoError(b, err)
		for _, r := range res {
			require.NoError(b, r.Err)
		}
	}
	b.ResetTimer()
	read := 0
	for i := 0; i < b.N; i++ {
		for after := uint64(0); ; {
			evs, err := l.Events(ctx, after, 10000)
			require.NoError(b, err)
			if len(evs) == 0 {
				break
			}
			if i == 0 && after == 0 {
				require.Contains(b, string(evs[len(evs)-1].Data), `"amount":"1.25"`)
			}
			read += len(evs)
			after = evs[len(evs)-1].Seq
		}
	}
	b.ReportMetric(float64(read)/b.Elapsed().Seconds(), "events/s")
}

// TestEmitAfterARepeatGoesWithTheFirstTransaction: an event emitted after
// an idempotent repeat of a posting carries the transaction the key
// names, as it did the first time.
func TestEmitAfterARepeatGoesWithTheFirstTransaction(t *testing.T) {
	ctx := context.Background()
	l := ledger.New(memstore.New())
	require.NoError(t, l.DefineAsset(ctx, ledger.EUR))
	_, err := l.OpenAccount(ctx, ledger.AccountSpec{Address: ledger.World, Overdraft: ledger.Overdraft{Unbounded: true}})
	require.NoError(t, err)
	_, err = l.OpenAccount(ctx, ledger.AccountSpec{Address: "member:r"})
	require.NoError(t, err)
	pay := func(w *ledger.Writer) error {
		if _, err := w.Post(ledger.TransferRequest{Key: "pay-1", Postings: []ledger.Posting{{From: ledger.World, To: "member:r", Asset: "EUR", Amount: dec("1")}}}); err != nil {
			return err
		}
		return w.Emit("test.paid", "r", nil)
	}
	require.NoError(t, l.Update(ctx, pay))
	_, err = l.Transfer(ctx, "other", ledger.World, "member:r", "EUR", dec("1")) // a later transaction
	require.NoError(t, err)
	require.NoError(t, l.Update(ctx, pay)) // the repeat
	var got []uint64
	for _, ev := range allEvents(t, l, 0) {
		if ev.Type == "test.paid" {
			got = append(got, ev.TxID)
		}
	}
	first, err := l.TransactionByKey(ctx, "pay-1")
	require.NoError(t, err)
	require.Equal(t, []uint64{first.ID, first.ID}, got)
}
