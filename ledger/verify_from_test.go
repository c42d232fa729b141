package ledger_test

import (
	"context"
	"errors"
	"math/rand"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/driver"
	"github.com/rewardkit/rewardkit/ledger/memstore"
	"github.com/rewardkit/rewardkit/ledger/teststore"
)

// TestVerifyFromAnyCheckpoint: on a sound ledger, VerifyFrom passes from
// the checkpoint of every report taken along the way (and from the zero
// Checkpoint), counts what came after it, and ends where Verify does.
func TestVerifyFromAnyCheckpoint(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixtureOn(t, open(t))
		rng := rand.New(rand.NewSource(13))
		cps := []ledger.Checkpoint{{}}
		var (
			pending   []uint64
			transfers []uint64
		)
		amount := func(max int) string { return strconv.Itoa(1 + rng.Intn(max)) }
		for step := 0; step < 40; step++ {
			var err error
			switch op := rng.Intn(8); {
			case op == 0 || op == 1:
				var tr ledger.Transaction
				from, to := alice, bob
				if op == 1 {
					from, to = bob, carol
				}
				tr, err = f.l.Transfer(f.ctx, "", from, to, "EUR", dec(amount(5)))
				if err == nil {
					transfers = append(transfers, tr.ID)
				}
			case op == 2:
				var h ledger.Hold
				ttl := time.Duration(1+rng.Intn(3)) * 30 * time.Minute
				h, err = f.l.Hold(f.ctx, ledger.HoldRequest{Account: alice, Asset: "EUR", Amount: dec(amount(8)), ExpiresAt: f.clock.Now().Add(ttl)})
				if err == nil {
					pending = append(pending, h.ID)
				}
			case op == 3 && len(pending) > 0:
				_, err = f.l.Capture(f.ctx, ledger.CaptureRequest{Hold: pending[rng.Intn(len(pending))], Final: rng.Intn(2) == 0,
					Destinations: []ledger.Leg{{To: carol, Amount: dec("1")}}})
			case op == 4 && len(pending) > 0:
				_, err = f.l.Void(f.ctx, pending[rng.Intn(len(pending))])
			case op == 5:
				f.clock.Advance(40 * time.Minute)
				_, err = f.l.Tick(f.ctx)
			case op == 6:
				_, err = f.l.Convert(f.ctx, ledger.ConversionRequest{Rule: withFee(rubyRule(), "0.04", "0", ledger.RoundDown),
					From: alice, To: bob, Amount: dec("12345")})
			case op == 7 && len(transfers) > 0:
				_, err = f.l.Reverse(f.ctx, ledger.ReversalRequest{ID: transfers[rng.Intn(len(transfers))]})
			default:
				err = f.l.Update(f.ctx, func(w *ledger.Writer) error { return w.Emit("test.step", "s", map[string]int{"step": step}) })
			}
			// Refusals (funds, closed or expired holds, a second reversal)
			// write nothing; anything else is a failure.
			var refused bool
			for _, e := range []error{ledger.ErrInsufficientFunds, ledger.ErrHoldClosed, ledger.ErrHoldExpired, ledger.ErrCaptureExceedsHold, ledger.ErrAlreadyReversed} {
				refused = refused || errors.Is(err, e)
			}
			require.True(t, err == nil || refused, "step %d: %v", step, err)
			cps = append(cps, f.requireSound(t).Checkpoint())
		}
		final := f.requireSound(t)
		require.NotZero(t, final.Holds)
		crossing := 0 // holds created before a checkpoint and changed after it
		for i, cp := range cps {
			rep, err := f.l.VerifyFrom(f.ctx, cp)
			require.NoError(t, err, "checkpoint %d (%+v)", i, cp)
			require.Equal(t, final.Checkpoint(), rep.Checkpoint(), "checkpoint %d", i)
			require.Equal(t, int(final.Head.ID-cp.Head.ID), rep.Transactions, "checkpoint %d", i)
			require.Equal(t, int(final.EventHead.Seq-cp.EventHead.Seq), rep.Events, "checkpoint %d", i)
			require.Equal(t, final.Balances, rep.Balances, "checkpoint %d", i)
			require.Equal(t, final.Totals, rep.Totals, "checkpoint %d", i)
			require.LessOrEqual(t, rep.Holds, final.Holds, "checkpoint %d", i)
			crossing += rep.UnchainedHolds
		}
		require.NotZero(t, crossing, "no hold was created before a checkpoint and changed after it")
		rep, err := f.l.VerifyFrom(f.ctx, cps[0])
		require.NoError(t, err)
		require.Equal(t, final.Holds, rep.Holds, "from the start every hold has a trail")
		require.Zero(t, rep.UnchainedHolds)
	})
}

// windowFixture is busyFixture with a checkpoint taken in the middle:
// after transaction 3 and hold 1's creation (event 1). After it come hold
// 1's capture (transaction 4, event 2), a conversion (5), a transfer (6)
// and its reversal (7), and hold 2 created and voided (events 3 and 4).
func windowFixture(t *testing.T) (*fixture, *tamperStore, ledger.Checkpoint) {
	t.Helper()
	ts := &tamperStore{Store: memstore.New()}
	f := newFixtureOn(t, ts)
	f.transfer(t, "t-1", alice, bob, "EUR", "10") // 3
	f.clock.Advance(time.Minute)
	h := f.hold(t, "", alice, "EUR", "20", time.Hour)
	cp := f.requireSound(t).Checkpoint()
	require.Equal(t, uint64(3), cp.Head.ID)
	require.Equal(t, uint64(1), cp.EventHead.Seq)
	f.clock.Advance(time.Minute)
	_, err := f.l.Capture(f.ctx, ledger.CaptureRequest{Hold: h.ID, Destinations: []ledger.Leg{{To: carol, Amount: dec("5")}}}) // 4
	require.NoError(t, err)
	_, err = f.l.Convert(f.ctx, ledger.ConversionRequest{Rule: withFee(rubyRule(), "0.04", "0", ledger.RoundDown), From: alice, To: bob, Amount: dec("12345")}) // 5
	require.NoError(t, err)
	tr := f.transfer(t, "", bob, carol, "EUR", "1")                // 6
	_, err = f.l.Reverse(f.ctx, ledger.ReversalRequest{ID: tr.ID}) // 7
	require.NoError(t, err)
	voided := f.hold(t, "", alice, "RUBY", "100", time.Hour)
	_, err = f.l.Void(f.ctx, voided.ID)
	require.NoError(t, err)
	return f, ts, cp
}

func TestVerifyFromFindsTampering(t *testing.T) {
	tests := []struct {
		name     string
		journal  func([]driver.Transaction) []driver.Transaction
		balances func([]driver.Balance) []driver.Balance
		holds    func([]driver.Hold) []driver.Hold
		events   func([]driver.Event) []driver.Event
		// forgeHead, forgeEventHead: see tamperStore.
		forgeHead, forgeEventHead bool
		cp                        func(*ledger.Checkpoint) // changes the checkpoint given
		want                      string
	}{
		{
			name:    "after the checkpoint, amount changed",
			journal: edit(5, func(t *driver.Transaction) { t.Postings[0].Units++ }),
			want:    "transaction 5: hash does not chain",
		},
		{
			name:      "after the checkpoint, amount changed, chain rehashed",
			journal:   rehashed(edit(6, func(t *driver.Transaction) { t.Postings[0].Units += 100 })),
			forgeHead: true,
			want:      "transaction 6 posting 0: running balances differ",
		},
		{
			// Alice's EUR is first moved after the checkpoint here: its
			// replay starts from her running balance at the checkpoint.
			name:    "after the checkpoint, a running balance changed",
			journal: edit(4, func(t *driver.Transaction) { t.Postings[0].FromAfter-- }),
			want:    "transaction 4 posting 0: running balances differ",
		},
		{
			name:     "stored balance the journal moved after the checkpoint",
			balances: editBalance(carol, "EUR", func(b *driver.Balance) { b.Posted++ }),
			want:     "member:carol EUR: stored balance 501, journal says 500",
		},
		{
			name:     "stored balance nothing moved after the checkpoint",
			balances: editBalance(ledger.World, "EUR", func(b *driver.Balance) { b.Posted++ }),
			want:     "EUR sums to 0.01, not zero",
		},
		{
			name:      "before the checkpoint, chain rehashed",
			journal:   rehashed(edit(2, func(t *driver.Transaction) { t.Postings[0].Units++ })),
			forgeHead: true,
			want:      "transaction 3 is not the checkpoint's (the journal up to the checkpoint was rewritten)",
		},
		{
			name:    "the checkpoint's transaction edited",
			journal: edit(3, func(t *driver.Transaction) { t.Key = "t-2" }),
			want:    "transaction 3 is not the checkpoint's",
		},
		{
			name: "journal cut below the checkpoint",
			journal: func(ts []driver.Transaction) []driver.Transaction {
				var out []driver.Transaction
				for _, t := range ts {
					if t.ID <= 2 {
						out = append(out, t)
					}
				}
				return out
			},
			forgeHead: true,
			want:      "the checkpoint is at transaction 3 but the journal ends at 2",
		},
		{
			name:  "hold from before the checkpoint, edited",
			holds: editHold(1, func(h *driver.Hold) { h.Status, h.ClosedAt = driver.HoldVoided, 1 }),
			want:  "hold 1 (from before the chain or the checkpoint) is voided with 500 captured, its events say pending with 500",
		},
		{
			name:     "hold from after the checkpoint, reopened",
			holds:    editHold(2, func(h *driver.Hold) { h.Status, h.ClosedAt = driver.HoldPending, 0 }),
			balances: editBalance(alice, "RUBY", func(b *driver.Balance) { b.Held += 10000 }),
			want:     "hold 2 is pending with 0 captured, its events say voided with 0",
		},
		{
			name: "capture event dropped, log rechained",
			events: rechained(func(evs []driver.Event) []driver.Event {
				var out []driver.Event
				for _, e := range evs {
					if e.Seq != 2 {
						e.Seq = uint64(len(out) + 1)
						out = append(out, e)
					}
				}
				return out
			}),
			forgeEventHead: true,
			want:           "hold 1: the journal captures 500 from it after the checkpoint, and no event tells of it",
		},
		{
			name: "capture event's amount edited, log rechained",
			events: rechained(editEvent(2, func(e *driver.Event) {
				e.Data = []byte(strings.Replace(string(e.Data), `"amount":"5.00"`, `"amount":"4.00"`, 1))
			})),
			forgeEventHead: true,
			want:           "hold 1: its events capture 400 after the checkpoint, the journal's captures of it add up to 500",
		},
		{
			name:   "after the checkpoint, event edited",
			events: editEvent(3, func(e *driver.Event) { e.Subject = "x" }),
			want:   "event 3: hash does not chain",
		},
		{
			name:           "the checkpoint's event edited, log rechained",
			events:         rechained(editEvent(1, func(e *driver.Event) { e.Subject = "x" })),
			forgeEventHead: true,
			want:           "event 1 is not the checkpoint's (the event log up to the checkpoint was rewritten)",
		},
		{
			name: "checkpoint beyond the head",
			cp:   func(cp *ledger.Checkpoint) { cp.Head.ID = 99 },
			want: "the checkpoint is at transaction 99 but the journal ends at 7",
		},
		{
			name: "checkpoint beyond the event head",
			cp:   func(cp *ledger.Checkpoint) { cp.EventHead.Seq = 99 },
			want: "the checkpoint is at event 99 but the event log ends at 4",
		},
		{
			name: "checkpoint of another journal",
			cp:   func(cp *ledger.Checkpoint) { cp.Head.Hash[0] ^= 1 },
			want: "transaction 3 is not the checkpoint's",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, ts, cp := windowFixture(t)
			_, err := f.l.VerifyFrom(f.ctx, cp)
			require.NoError(t, err)
			ts.journal, ts.balances, ts.holds, ts.events = tt.journal, tt.balances, tt.holds, tt.events
			ts.forgeHead, ts.forgeEventHead = tt.forgeHead, tt.forgeEventHead
			if tt.cp != nil {
				tt.cp(&cp)
			}
			_, err = f.l.VerifyFrom(f.ctx, cp)
			require.ErrorIs(t, err, ledger.ErrVerify)
			require.Contains(t, err.Error(), tt.want)
		})
	}
}

// TestVerifyFromLeavesOlderEditsToVerify: an edit before the checkpoint
// that did not recompute the chain is Verify's to find, not VerifyFrom's.
func TestVerifyFromLeavesOlderEditsToVerify(t *testing.T) {
	f, ts, cp := windowFixture(t)
	ts.journal = edit(2, func(t *driver.Transaction) { t.Metadata["why"] = "forged" })
	_, err := f.l.VerifyFrom(f.ctx, cp)
	require.NoError(t, err)
	_, err = f.l.Verify(f.ctx)
	require.ErrorIs(t, err, ledger.ErrVerify)
	require.Contains(t, err.Error(), "transaction 2: hash does not chain")
}

// TestVerifyFromFindsTamperingOnPostgres edits PostgreSQL's rows behind
// the ledger's back, as someone with the database's keys would.
func TestVerifyFromFindsTamperingOnPostgres(t *testing.T) {
	store, schema := teststore.PostgresSchema(t)
	f := newFixtureOn(t, store)
	f.transfer(t, "", alice, bob, "EUR", "10") // 3
	cp := f.requireSound(t).Checkpoint()
	f.transfer(t, "", alice, carol, "EUR", "1") // 4: carol's EUR first moved
	f.transfer(t, "", bob, carol, "EUR", "2")   // 5

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, teststore.PostgresDSN(t))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(ctx) })
	_, err = conn.Exec(ctx, "SET search_path TO "+pgx.Identifier{schema}.Sanitize())
	require.NoError(t, err)
	exec := func(qs ...string) {
		t.Helper()
		for _, q := range qs {
			_, err := conn.Exec(ctx, q)
			require.NoError(t, err, q)
		}
	}
	requireBreak := func(want string) {
		t.Helper()
		_, err := f.l.VerifyFrom(f.ctx, cp)
		require.ErrorIs(t, err, ledger.ErrVerify)
		require.Contains(t, err.Error(), want)
	}
	_, err = f.l.VerifyFrom(f.ctx, cp)
	require.NoError(t, err)

	exec(`UPDATE balances SET posted = posted + 1 WHERE address = 'member:carol' AND asset = 'EUR'`)
	requireBreak("member:carol EUR: stored balance 301, journal says 300")
	exec(`UPDATE balances SET posted = posted - 1 WHERE address = 'member:carol' AND asset = 'EUR'`)

	exec(`ALTER TABLE postings DISABLE TRIGGER postings_immutable`,
		`UPDATE postings SET dst_after = dst_after + 1 WHERE tx_id = 4`,
		`ALTER TABLE postings ENABLE TRIGGER postings_immutable`)
	requireBreak("transaction 4 posting 0: running balances differ")
	exec(`ALTER TABLE postings DISABLE TRIGGER postings_immutable`,
		`UPDATE postings SET dst_after = dst_after - 1 WHERE tx_id = 4`,
		`ALTER TABLE postings ENABLE TRIGGER postings_immutable`)
	_, err = f.l.VerifyFrom(f.ctx, cp)
	require.NoError(t, err)

	exec(`ALTER TABLE transactions DISABLE TRIGGER transactions_immutable`,
		`UPDATE transactions SET key = 'forged'::bytea WHERE id = 3`,
		`ALTER TABLE transactions ENABLE TRIGGER transactions_immutable`)
	requireBreak("transaction 3 is not the checkpoint's")
}

// TestVerifyFromUnchainedCheckpoint: a checkpoint taken when the event
// log had not begun its chain (a store from before pgstore's migration
// 0005: here event 1 has no hash) checks the log from there as Verify
// does, the chain beginning after it.
func TestVerifyFromUnchainedCheckpoint(t *testing.T) {
	f, ts, cp := windowFixture(t)
	ts.events = func(evs []driver.Event) []driver.Event {
		var prev [32]byte
		for i := range evs {
			if evs[i].Seq == 1 {
				evs[i].Hash = [32]byte{}
				continue
			}
			evs[i].Hash, _ = driver.EventChainHash(prev, &evs[i], nil)
			prev = evs[i].Hash
		}
		return evs
	}
	ts.forgeEventHead = true
	full := f.requireSound(t)
	require.Equal(t, 1, full.UnchainedEvents)
	require.Equal(t, 1, full.UnchainedHolds, "hold 1, created by the unchained event")

	cp.EventHead.Hash = [32]byte{}
	rep, err := f.l.VerifyFrom(f.ctx, cp)
	require.NoError(t, err)
	require.Equal(t, full.Checkpoint(), rep.Checkpoint())
	require.Equal(t, 3, rep.Events)
	require.Equal(t, 2, rep.Holds)
	require.Equal(t, 1, rep.UnchainedHolds)

	ts.holds = editHold(1, func(h *driver.Hold) { h.Status, h.ClosedAt = driver.HoldCaptured, 1 })
	_, err = f.l.VerifyFrom(f.ctx, cp)
	require.ErrorIs(t, err, ledger.ErrVerify)
	require.Contains(t, err.Error(), "hold 1 (from before the chain or the checkpoint) is captured with 500 captured, its events say pending with 500")
}
