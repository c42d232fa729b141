package ledger_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/driver"
	"github.com/rewardkit/rewardkit/ledger/memstore"
)

// tamperStore is a memstore whose reads can be falsified after the fact,
// as if someone had edited the journal or the balances behind the
// ledger's back. Writes go to the memstore untouched.
type tamperStore struct {
	*memstore.Store
	journal  func([]driver.Transaction) []driver.Transaction
	balances func([]driver.Balance) []driver.Balance
	holds    func([]driver.Hold) []driver.Hold
	events   func([]driver.Event) []driver.Event
	// forgeHead and forgeEventHead make the journal's head and the event
	// head the tampered journal's and log's last, as a forger who can also
	// write the head row would.
	forgeHead, forgeEventHead bool
}

func (s *tamperStore) View(ctx context.Context, fn func(driver.ReadTx) error) error {
	return s.Store.View(ctx, func(rt driver.ReadTx) error { return fn(tamperReadTx{rt, s}) })
}

type tamperReadTx struct {
	driver.ReadTx
	s *tamperStore
}

// Transactions returns deep copies (the store's own postings are shared
// and read-only) passed through the journal tamper, which sees the whole
// journal, as a forger does: the page asked for is cut from its result.
func (r tamperReadTx) Transactions(after uint64, limit int) ([]driver.Transaction, error) {
	if r.s.journal == nil {
		return r.ReadTx.Transactions(after, limit)
	}
	ts, err := r.ReadTx.Transactions(0, 1<<20)
	if err != nil {
		return nil, err
	}
	cp := make([]driver.Transaction, len(ts))
	for i, t := range ts {
		t.Postings = append([]driver.Posting(nil), t.Postings...)
		md := map[string]string{}
		for k, v := range t.Metadata {
			md[k] = v
		}
		t.Metadata = md
		cp[i] = t
	}
	var page []driver.Transaction
	for _, t := range r.s.journal(cp) {
		if t.ID > after && len(page) < limit {
			page = append(page, t)
		}
	}
	return page, nil
}

func (r tamperReadTx) Balances(after driver.BalanceKey, limit int) ([]driver.Balance, error) {
	bs, err := r.ReadTx.Balances(after, limit)
	if err != nil || r.s.balances == nil {
		return bs, err
	}
	return r.s.balances(append([]driver.Balance(nil), bs...)), nil
}

func (r tamperReadTx) Holds(after uint64, limit int) ([]driver.Hold, error) {
	hs, err := r.ReadTx.Holds(after, limit)
	if err != nil || r.s.holds == nil {
		return hs, err
	}
	return r.s.holds(append([]driver.Hold(nil), hs...)), nil
}

// Events returns copies passed through the event tamper, which sees the
// whole log (see Transactions); the event head stays the store's own, as
// a forger who cannot reach it would leave it, unless forgeEventHead.
func (r tamperReadTx) Events(after uint64, limit int) ([]driver.Event, error) {
	if r.s.events == nil {
		return r.ReadTx.Events(after, limit)
	}
	evs, err := r.ReadTx.Events(0, 1<<20)
	if err != nil {
		return nil, err
	}
	var page []driver.Event
	for _, e := range r.s.events(append([]driver.Event(nil), evs...)) {
		if e.Seq > after && len(page) < limit {
			page = append(page, e)
		}
	}
	return page, nil
}

func (r tamperReadTx) Head() (driver.Head, error) {
	if !r.s.forgeHead {
		return r.ReadTx.Head()
	}
	ts, err := r.Transactions(0, 1<<20)
	if err != nil || len(ts) == 0 {
		return driver.Head{}, err
	}
	last := ts[len(ts)-1]
	return driver.Head{ID: last.ID, Hash: last.Hash, Time: last.Time}, nil
}

func (r tamperReadTx) EventHead() (driver.EventHead, error) {
	if !r.s.forgeEventHead {
		return r.ReadTx.EventHead()
	}
	evs, err := r.Events(0, 1<<20)
	if err != nil || len(evs) == 0 {
		return driver.EventHead{}, err
	}
	last := evs[len(evs)-1]
	return driver.EventHead{Seq: last.Seq, Hash: last.Hash}, nil
}

// busyFixture is a fixture over a tamperStore with every kind of
// transaction in its journal (transfers, a capture, a conversion with a
// remainder and a fee, a reversal) and two holds: one partly captured and
// pending, one voided.
func busyFixture(t *testing.T) (*fixture, *tamperStore) {
	t.Helper()
	ts := &tamperStore{Store: memstore.New()}
	f := newFixtureOn(t, ts)
	f.transfer(t, "t-1", alice, bob, "EUR", "10") // transaction 3
	f.clock.Advance(time.Minute)
	h := f.hold(t, "", alice, "EUR", "20", time.Hour)
	_, err := f.l.Capture(f.ctx, ledger.CaptureRequest{Hold: h.ID, Destinations: []ledger.Leg{{To: carol, Amount: dec("5")}}}) // 4
	require.NoError(t, err)
	_, err = f.l.Convert(f.ctx, ledger.ConversionRequest{Rule: withFee(rubyRule(), "0.04", "0", ledger.RoundDown), From: alice, To: bob, Amount: dec("12345"),
		Metadata: map[string]string{"why": "cash out"}}) // 5
	require.NoError(t, err)
	tr := f.transfer(t, "", bob, carol, "EUR", "1")                // 6
	_, err = f.l.Reverse(f.ctx, ledger.ReversalRequest{ID: tr.ID}) // 7
	require.NoError(t, err)
	voided := f.hold(t, "", alice, "RUBY", "100", time.Hour)
	_, err = f.l.Void(f.ctx, voided.ID)
	require.NoError(t, err)
	return f, ts
}

func TestVerifyHealthy(t *testing.T) {
	f := newFixture(t)
	rep := f.requireSound(t)
	require.Equal(t, 2, rep.Transactions)
	require.Equal(t, uint64(2), rep.Head.ID)

	f2, _ := busyFixture(t)
	f2.clock.Advance(2 * time.Hour)
	n, err := f2.l.Tick(f2.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	f2.hold(t, "", alice, "RUBY", "7", time.Hour) // still pending
	rep = f2.requireSound(t)
	require.Equal(t, 7, rep.Transactions)
	require.Equal(t, 3, rep.Holds)
	require.Equal(t, uint64(7), rep.Head.ID)
	// Hold events are the holds' audit trail even with the ledger's own
	// events off: created, captured, created, voided, expired, created.
	require.Equal(t, 6, rep.Events)
	require.Equal(t, uint64(6), rep.EventHead.Seq)
	require.NotZero(t, rep.EventHead.Hash)
	require.Zero(t, rep.UnchainedEvents)
	require.Zero(t, rep.UnchainedHolds)
	require.Equal(t, 2, len(rep.Totals), "EUR and RUBY; JPY never moved")
}

// TestVerifyInBatches: checked a few balances and holds at a time, a sound
// ledger verifies with the same report as at once, in as many passes as it
// has batches of balances or of holds.
func TestVerifyInBatches(t *testing.T) {
	f, _ := busyFixture(t)
	f.hold(t, "", bob, "EUR", "1", time.Hour) // a third hold, pending
	want := f.requireSound(t)
	require.Equal(t, 3, want.Holds)
	for batch := 1; batch <= want.Balances+1; batch++ {
		rep, passes, err := ledger.VerifyInBatches(f.ctx, f.l, batch)
		require.NoError(t, err, "batch %d", batch)
		require.Equal(t, want, rep, "batch %d", batch)
		batches := func(n int) int { return max(1, (n+batch-1)/batch) }
		require.Equal(t, max(batches(want.Balances), batches(want.Holds)), passes, "batch %d", batch)
	}
}

func TestVerifyFindsTampering(t *testing.T) {
	tests := []struct {
		name     string
		journal  func([]driver.Transaction) []driver.Transaction
		balances func([]driver.Balance) []driver.Balance
		holds    func([]driver.Hold) []driver.Hold
		events   func([]driver.Event) []driver.Event
		// forgeHead, forgeEventHead: see tamperStore.
		forgeHead, forgeEventHead bool
		want                      string // the first break, as Verify names it
		// batchedWant, if set, is the first break Verify names in batches
		// of 1 to 3 balances and holds, when another pass comes first.
		batchedWant string
	}{
		{
			name: "amount changed",
			journal: edit(4, func(t *driver.Transaction) {
				t.Postings[0].Units++
			}),
			want: "transaction 4: hash does not chain",
		},
		{
			name:    "hash changed",
			journal: edit(5, func(t *driver.Transaction) { t.Hash[0] ^= 1 }),
			want:    "transaction 5: hash does not chain",
		},
		{
			name:    "metadata changed",
			journal: edit(5, func(t *driver.Transaction) { t.Metadata["why"] = "gift" }),
			want:    "transaction 5: hash does not chain",
		},
		{
			name:    "destination changed",
			journal: edit(3, func(t *driver.Transaction) { t.Postings[0].To = carol }),
			want:    "transaction 3: hash does not chain",
		},
		{
			name:    "idempotency key changed",
			journal: edit(3, func(t *driver.Transaction) { t.Key = "t-2" }),
			want:    "transaction 3: hash does not chain",
		},
		{
			name:    "reversal link changed",
			journal: edit(7, func(t *driver.Transaction) { t.Reverses = 3 }),
			want:    "transaction 7: hash does not chain",
		},
		{
			name:    "time moved",
			journal: edit(6, func(t *driver.Transaction) { t.Time-- }),
			want:    "transaction 6: hash does not chain",
		},
		{
			name: "transaction dropped",
			journal: func(ts []driver.Transaction) []driver.Transaction {
				var out []driver.Transaction
				for _, t := range ts {
					if t.ID != 4 {
						out = append(out, t)
					}
				}
				return out
			},
			want: "transaction 5 follows 3",
		},
		{
			name: "last transaction dropped",
			journal: func(ts []driver.Transaction) []driver.Transaction {
				if len(ts) > 0 && ts[len(ts)-1].ID == 7 {
					return ts[:len(ts)-1]
				}
				return ts
			},
			want: "head is transaction 7 but the journal ends at 6",
		},
		{
			name: "amount changed and the chain rehashed",
			journal: rehashed(edit(4, func(t *driver.Transaction) {
				t.Postings[0].Units += 100
			})),
			forgeHead: true,
			want:      "transaction 4 posting 0: running balances differ",
			// Transaction 4 captures from hold 1, which the first pass
			// has in hand, before alice's EUR.
			batchedWant: "hold 1: captured 500, the journal's captures of it add up to 600",
		},
		{
			name: "amount and running balances changed, chain rehashed",
			journal: rehashed(edit(3, func(t *driver.Transaction) {
				t.Postings[0].Units += 100
				t.Postings[0].FromAfter -= 100
				t.Postings[0].ToAfter += 100
			})),
			forgeHead: true,
			// The next transaction touching alice's EUR no longer follows.
			want: "transaction 4 posting 0: running balances differ",
		},
		{
			name:    "metadata changed, chain rehashed, head row left",
			journal: rehashed(edit(5, func(t *driver.Transaction) { t.Metadata["why"] = "gift" })),
			want:    "the head's hash or time is not transaction 7's",
		},
		{
			name: "time going back, chain rehashed",
			journal: rehashed(edit(6, func(t *driver.Transaction) {
				t.Time -= int64(time.Hour)
			})),
			want: "transaction 6: time goes back",
		},
		{
			name:     "stored balance changed",
			balances: editBalance(bob, "EUR", func(b *driver.Balance) { b.Posted += 1 }),
			want:     "member:bob EUR: stored balance",
		},
		{
			name:     "held amount changed",
			balances: editBalance(alice, "EUR", func(b *driver.Balance) { b.Held = 1 }),
			want:     "member:alice EUR: held 1, pending holds reserve 1500",
		},
		{
			name:  "hold reopened",
			holds: editHold(2, func(h *driver.Hold) { h.Status = driver.HoldPending }),
			want:  "hold 2 is pending with 0 captured, its events say voided with 0",
		},
		{
			// Consistent with the balances, so only the event log shows it.
			name:     "hold reopened and its funds held again",
			holds:    editHold(2, func(h *driver.Hold) { h.Status, h.ClosedAt = driver.HoldPending, 0 }),
			balances: editBalance(alice, "RUBY", func(b *driver.Balance) { b.Held += 10000 }),
			want:     "hold 2 is pending with 0 captured, its events say voided with 0",
		},
		{
			name:     "hold made larger, with its balance",
			holds:    editHold(1, func(h *driver.Hold) { h.Units += 100 }),
			balances: editBalance(alice, "EUR", func(b *driver.Balance) { b.Held += 100 }),
			want:     "hold 1 differs from its ledger.hold.created event",
		},
		{
			name:     "capture of a hold shrunk, with its balance",
			holds:    editHold(1, func(h *driver.Hold) { h.Captured -= 100 }),
			balances: editBalance(alice, "EUR", func(b *driver.Balance) { b.Held += 100 }),
			want:     "hold 1: captured 400, the journal's captures of it add up to 500",
		},
		{
			name:  "closed hold removed",
			holds: dropHold(2),
			want:  "hold 2 has events but is not stored",
		},
		{
			name: "hold event edited",
			events: editEvent(4, func(e *driver.Event) {
				e.Data = []byte(strings.Replace(string(e.Data), `"released":"100"`, `"released":"1"`, 1))
			}),
			want: "event 4: hash does not chain",
		},
		{
			name: "hold event edited, chain rehashed",
			events: rechained(editEvent(4, func(e *driver.Event) {
				e.Type = ledger.EventHoldExpired
			})),
			forgeEventHead: true,
			want:           "hold 2 is voided with 0 captured, its events say expired with 0",
		},
		{
			name: "hold event edited, chain rehashed, head row left",
			events: rechained(editEvent(4, func(e *driver.Event) {
				e.Type = ledger.EventHoldExpired
			})),
			want: "the event head's hash is not event 4's",
		},
		{
			name: "hold event dropped",
			events: func(evs []driver.Event) []driver.Event {
				return append(evs[:1:1], evs[2:]...)
			},
			want: "event 3 follows 1",
		},
		{
			name:   "last event dropped",
			events: func(evs []driver.Event) []driver.Event { return evs[:len(evs)-1] },
			want:   "the event head is event 4 but the log ends at 3",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, ts := busyFixture(t)
			f.requireSound(t)
			ts.journal, ts.balances, ts.holds, ts.events = tt.journal, tt.balances, tt.holds, tt.events
			ts.forgeHead, ts.forgeEventHead = tt.forgeHead, tt.forgeEventHead
			_, err := f.l.Verify(f.ctx)
			require.ErrorIs(t, err, ledger.ErrVerify)
			require.Contains(t, err.Error(), tt.want)
			// Checked a few balances and holds at a time, in several
			// passes, Verify names the same break: in the pass that has
			// in hand what it touches.
			for _, batch := range []int{1, 2, 3, 5} {
				_, passes, err := ledger.VerifyInBatches(f.ctx, f.l, batch)
				require.ErrorIs(t, err, ledger.ErrVerify, "batch %d", batch)
				want := tt.want
				if tt.batchedWant != "" && batch <= 3 {
					want = tt.batchedWant
				}
				require.Contains(t, err.Error(), want, "batch %d, pass %d", batch, passes)
			}
		})
	}
}

// edit returns a journal tamper that changes transaction id.
func edit(id uint64, change func(*driver.Transaction)) func([]driver.Transaction) []driver.Transaction {
	return func(ts []driver.Transaction) []driver.Transaction {
		for i := range ts {
			if ts[i].ID == id {
				change(&ts[i])
			}
		}
		return ts
	}
}

// rehashed recomputes the hash chain after a tamper, as a forger who knows
// the algorithm would.
func rehashed(tamper func([]driver.Transaction) []driver.Transaction) func([]driver.Transaction) []driver.Transaction {
	return func(ts []driver.Transaction) []driver.Transaction {
		ts = tamper(ts)
		var prev [32]byte
		for i := range ts {
			ts[i].Hash, _ = driver.ChainHash(prev, &ts[i], nil)
			prev = ts[i].Hash
		}
		return ts
	}
}

// editEvent returns an event tamper that changes event seq.
func editEvent(seq uint64, change func(*driver.Event)) func([]driver.Event) []driver.Event {
	return func(evs []driver.Event) []driver.Event {
		for i := range evs {
			if evs[i].Seq == seq {
				change(&evs[i])
			}
		}
		return evs
	}
}

// rechained recomputes the event log's hash chain after a tamper, as a
// forger who knows the algorithm would.
func rechained(tamper func([]driver.Event) []driver.Event) func([]driver.Event) []driver.Event {
	return func(evs []driver.Event) []driver.Event {
		evs = tamper(evs)
		var prev [32]byte
		for i := range evs {
			evs[i].Hash, _ = driver.EventChainHash(prev, &evs[i], nil)
			prev = evs[i].Hash
		}
		return evs
	}
}

// editHold returns a holds tamper that changes hold id.
func editHold(id uint64, change func(*driver.Hold)) func([]driver.Hold) []driver.Hold {
	return func(hs []driver.Hold) []driver.Hold {
		for i := range hs {
			if hs[i].ID == id {
				change(&hs[i])
			}
		}
		return hs
	}
}

// dropHold returns a holds tamper that removes hold id.
func dropHold(id uint64) func([]driver.Hold) []driver.Hold {
	return func(hs []driver.Hold) []driver.Hold {
		var out []driver.Hold
		for _, h := range hs {
			if h.ID != id {
				out = append(out, h)
			}
		}
		return out
	}
}

func editBalance(addr, asset string, change func(*driver.Balance)) func([]driver.Balance) []driver.Balance {
	return func(bs []driver.Balance) []driver.Balance {
		for i := range bs {
			if bs[i].Address == addr && bs[i].Asset == asset {
				change(&bs[i])
			}
		}
		return bs
	}
}

func TestVerifyHonoursContext(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(f.ctx)
	cancel()
	_, err := f.l.Verify(ctx)
	require.ErrorIs(t, err, context.Canceled)
}
