package kit_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/driver"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/kit/kittest"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
	"github.com/rewardkit/rewardkit/ledger/teststore"
)

var pend = kit.Pending{Program: "test"}

func pendingLedger(t kittest.TB, store driver.Store) (*ledger.Ledger, *ledgertest.Clock) {
	ctx := context.Background()
	clock := ledgertest.NewClock(t0)
	l := ledger.New(store, ledger.WithClock(clock))
	require.NoError(t, kit.SetUpLedger(ctx, l, ledger.COIN, budget, sink))
	_, err := l.Transfer(ctx, "fund", ledger.World, budget, "COIN", coins(1000))
	require.NoError(t, err)
	return l, clock
}

func grantPending(l *ledger.Ledger, g kit.PendingGrant) (rec kit.PendingRecord, err error) {
	err = l.Update(context.Background(), func(w *ledger.Writer) error {
		rec, err = pend.Grant(w, g)
		return err
	})
	return rec, err
}

func veto(l *ledger.Ledger, id string) (rec kit.PendingRecord, err error) {
	err = l.Update(context.Background(), func(w *ledger.Writer) error {
		rec, err = pend.Veto(w, id, "refund")
		return err
	})
	return rec, err
}

func release(l *ledger.Ledger, id string) (rec kit.PendingRecord, err error) {
	err = l.Update(context.Background(), func(w *ledger.Writer) error {
		rec, err = pend.Release(w, id)
		return err
	})
	return rec, err
}

func posted(t kittest.TB, l *ledger.Ledger, addr string) int64 {
	t.Helper()
	b, err := l.Balance(context.Background(), addr, "COIN")
	if errors.Is(err, ledger.ErrUnknownAccount) {
		return 0
	}
	require.NoError(t, err)
	return b.Posted.IntPart()
}

func spendable(t kittest.TB, l *ledger.Ledger, member string) int64 {
	t.Helper()
	var d decimal.Decimal
	require.NoError(t, l.View(context.Background(), func(r *ledger.Reader) (err error) {
		d, err = kit.Spendable(r, kit.WalletAccount(member), "COIN")
		return err
	}))
	return d.IntPart()
}

func TestPendingGrantMaturesUnlessVetoed(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		l, clock := pendingLedger(t, open(t))
		var seq uint64
		g := kit.PendingGrant{ID: "g1", Member: "amy", Asset: "COIN", Amount: coins(40), From: budget, MaturesAt: t0.Add(24 * time.Hour)}
		rec, err := grantPending(l, g)
		require.NoError(t, err)
		require.Equal(t, kit.StatePending, rec.State)
		kittest.RequireEvents(t, ctx, l, "test.", &seq, kittest.WantEvent{Type: "test.pending.granted", Subject: "amy", TxKey: "test:pending:g1:grant",
			Data: map[string]any{"state": "pending", "amount": "40"}})
		again, err := grantPending(l, g)
		require.NoError(t, err)
		require.True(t, again.Replayed)
		g2 := g
		g2.Amount = coins(41)
		_, err = grantPending(l, g2)
		require.ErrorIs(t, err, ledger.ErrIdempotencyConflict)

		// Visible, not spendable.
		require.NoError(t, l.View(ctx, func(r *ledger.Reader) error {
			p, err := kit.PendingOf(r, "amy")
			require.Equal(t, "40", p["COIN"].String())
			return err
		}))
		require.Zero(t, spendable(t, l, "amy"))
		require.Equal(t, int64(960), posted(t, l, budget))

		_, err = release(l, "g1")
		require.ErrorIs(t, err, kit.ErrNotMature)
		rep, err := pend.Tick(ctx, l, nil)
		require.NoError(t, err)
		require.Empty(t, rep.Done)

		// A second grant is vetoed before it matures: back to the budget.
		_, err = grantPending(l, kit.PendingGrant{ID: "g2", Member: "amy", Asset: "COIN", Amount: coins(5), From: budget, MaturesAt: t0.Add(time.Hour)})
		require.NoError(t, err)
		v, err := veto(l, "g2")
		require.NoError(t, err)
		require.Equal(t, kit.StateVetoed, v.State)
		_, err = veto(l, "g2")
		require.ErrorIs(t, err, kit.ErrSettled)
		require.Equal(t, int64(960), posted(t, l, budget))

		clock.Advance(24 * time.Hour)
		kittest.EventsAfter(t, ctx, l, "test.", 0)
		_, seq = kittest.EventsAfter(t, ctx, l, "test.", 0)
		rep, err = pend.Tick(ctx, l, nil)
		require.NoError(t, err)
		require.Equal(t, []string{"g1"}, rep.IDs(kit.ItemPendingReleased), "g2 was vetoed, never released")
		require.Equal(t, int64(40), spendable(t, l, "amy"))
		require.Zero(t, posted(t, l, kit.PendingAccount("amy")))
		kittest.RequireEvents(t, ctx, l, "test.", &seq, kittest.WantEvent{Type: "test.pending.released", Subject: "amy", TxKey: "test:pending:g1:settle",
			Data: map[string]any{"state": "released"}})
		_, err = veto(l, "g1")
		require.ErrorIs(t, err, kit.ErrSettled, "a veto after release is refused; the caller claws back")
		_, err = veto(l, "nope")
		require.ErrorIs(t, err, kit.ErrUnknownGrant)
		rep, err = pend.Tick(ctx, l, nil)
		require.NoError(t, err)
		require.Empty(t, rep.Done, "released once")
		kittest.RequireBalanced(t, ctx, l)
	})
}

// A release repays the member's debt before anything becomes spendable,
// and a gate keeps a grant pending until it lets it go.
func TestPendingReleaseRepaysDebtAndHonoursGate(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		l, clock := pendingLedger(t, open(t))
		_, err := claw(l, kit.ClawRequest{Program: "test", Key: "c", Member: "bob", Asset: "COIN", Amount: coins(15), To: budget, Policy: kit.Recover(coins(100), "")})
		require.NoError(t, err)
		_, err = grantPending(l, kit.PendingGrant{ID: "g", Member: "bob", Asset: "COIN", Amount: coins(40), From: budget, MaturesAt: t0})
		require.NoError(t, err)
		errHold := errors.New("kill switch on")
		rep, err := pend.Tick(ctx, l, func(*ledger.Writer, kit.PendingRecord) error { return errHold })
		require.NoError(t, err)
		require.Len(t, rep.Failed, 1)
		require.ErrorIs(t, rep.Failed[0], errHold)
		require.Equal(t, int64(40), posted(t, l, kit.PendingAccount("bob")), "withheld, still pending")
		clock.Advance(time.Hour)
		rep, err = pend.Tick(ctx, l, nil)
		require.NoError(t, err)
		require.Equal(t, []string{"g"}, rep.IDs(kit.ItemPendingReleased))
		require.Equal(t, int64(25), spendable(t, l, "bob"))
		require.True(t, outstanding(t, l, "bob").IsZero())
		var rec kit.PendingRecord
		require.NoError(t, l.View(ctx, func(r *ledger.Reader) (err error) { rec, err = pend.Lookup(r, "g"); return err }))
		require.Equal(t, "15", rec.Repaid.String())
		kittest.RequireBalanced(t, ctx, l)
	})
}

// TestPendingRacingSettlementsSettleOnce: vetoes and releases racing on
// mature grants settle each exactly once.
func TestPendingRacingSettlementsSettleOnce(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		l, clock := pendingLedger(t, open(t))
		for i := range 4 {
			_, err := grantPending(l, kit.PendingGrant{ID: fmt.Sprint("g", i), Member: "cat", Asset: "COIN", Amount: coins(10), From: budget, MaturesAt: t0})
			require.NoError(t, err)
		}
		clock.Advance(time.Minute)
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins := map[string]int{}
		for i := range 4 {
			id := fmt.Sprint("g", i)
			for j := range 6 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var err error
					if j%2 == 0 {
						_, err = veto(l, id)
					} else {
						_, err = release(l, id)
					}
					if err == nil {
						mu.Lock()
						wins[id]++
						mu.Unlock()
						return
					}
					require.ErrorIs(t, err, kit.ErrSettled)
				}()
			}
			wg.Add(1)
			go func() { defer wg.Done(); _, err := pend.Tick(ctx, l, nil); require.NoError(t, err) }()
		}
		wg.Wait()
		released := int64(0)
		for i := range 4 {
			id := fmt.Sprint("g", i)
			var rec kit.PendingRecord
			require.NoError(t, l.View(ctx, func(r *ledger.Reader) (err error) { rec, err = pend.Lookup(r, id); return err }))
			require.NotEqual(t, kit.StatePending, rec.State)
			require.LessOrEqual(t, wins[id], 1, "%s settled by two callers", id)
			if rec.State == kit.StateReleased {
				released += 10
			}
		}
		require.Equal(t, released, posted(t, l, kit.WalletAccount("cat")))
		require.Equal(t, 1000-released, posted(t, l, budget))
		require.Zero(t, posted(t, l, kit.PendingAccount("cat")))
		kittest.RequireBalanced(t, ctx, l)
	})
}

// TestPendingProperty: random grants, vetoes, releases, ticks and clock
// steps against a model: no pending grant creates or loses value (Verify;
// budget + pending + wallets is what was funded), the pending account
// holds exactly the grants still pending, and a grant settles once: a
// second settlement is ErrSettled and changes nothing.
func TestPendingProperty(t *testing.T) {
	kittest.CheckOnStores(t, 5, func(t *rapid.T, store driver.Store) {
		ctx := context.Background()
		l, clock := pendingLedger(t, store)
		type grant struct {
			member  string
			amount  int64
			matures time.Time
			state   string
		}
		grants := map[string]*grant{}
		var ids []string
		members := []string{"amy", "bob"}
		for range rapid.IntRange(1, 30).Draw(t, "steps") {
			switch rapid.IntRange(0, 4).Draw(t, "op") {
			case 0:
				id := fmt.Sprint("g", len(ids))
				g := &grant{member: rapid.SampledFrom(members).Draw(t, "member"), amount: rapid.Int64Range(1, 60).Draw(t, "amount"),
					matures: clock.Now().Add(time.Duration(rapid.IntRange(0, 3).Draw(t, "hours")) * time.Hour), state: kit.StatePending}
				_, err := grantPending(l, kit.PendingGrant{ID: id, Member: g.member, Asset: "COIN", Amount: coins(g.amount), From: budget, MaturesAt: g.matures})
				if errors.Is(err, ledger.ErrInsufficientFunds) {
					continue
				}
				require.NoError(t, err)
				grants[id] = g
				ids = append(ids, id)
			case 1, 2:
				if len(ids) == 0 {
					continue
				}
				id := rapid.SampledFrom(ids).Draw(t, "id")
				g := grants[id]
				var err error
				if rapid.Bool().Draw(t, "veto") {
					_, err = veto(l, id)
					if g.state == kit.StatePending {
						require.NoError(t, err)
						g.state = kit.StateVetoed
						continue
					}
				} else {
					_, err = release(l, id)
					if g.state == kit.StatePending && !clock.Now().Before(g.matures) {
						require.NoError(t, err)
						g.state = kit.StateReleased
						continue
					}
					if g.state == kit.StatePending {
						require.ErrorIs(t, err, kit.ErrNotMature)
						continue
					}
				}
				require.ErrorIs(t, err, kit.ErrSettled)
			case 3:
				rep, err := pend.Tick(ctx, l, nil)
				require.NoError(t, err)
				for _, id := range rep.IDs(kit.ItemPendingReleased) {
					require.Equal(t, kit.StatePending, grants[id].state, "%s released twice", id)
					grants[id].state = kit.StateReleased
				}
				for id, g := range grants {
					if g.state == kit.StatePending {
						require.True(t, clock.Now().Before(g.matures), "%s mature but not released", id)
					}
				}
			case 4:
				clock.Advance(time.Duration(rapid.IntRange(1, 120).Draw(t, "minutes")) * time.Minute)
			}
		}
		pending, wallet := map[string]int64{}, map[string]int64{}
		total := int64(0)
		for _, g := range grants {
			switch g.state {
			case kit.StatePending:
				pending[g.member] += g.amount
			case kit.StateReleased:
				wallet[g.member] += g.amount
			}
			if g.state != kit.StateVetoed {
				total += g.amount
			}
		}
		for _, m := range members {
			require.Equal(t, pending[m], posted(t, l, kit.PendingAccount(m)), "pending of %s", m)
			require.Equal(t, wallet[m], posted(t, l, kit.WalletAccount(m)), "wallet of %s", m)
		}
		require.Equal(t, 1000-total, posted(t, l, budget))
		kittest.RequireBalanced(t, ctx, l)
	})
}

// Two scopes of one program keep their grants apart (the same ID in each,
// each Tick releasing only its own), and OwnEvents leaves the events to
// the program.
func TestPendingScopesAndOwnEvents(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		l, _ := pendingLedger(t, open(t))
		a := kit.Pending{Program: "test", Scope: "a", OwnEvents: true}
		b := kit.Pending{Program: "test", Scope: "b", OwnEvents: true}
		for _, p := range []kit.Pending{a, b} {
			require.NoError(t, l.Update(ctx, func(w *ledger.Writer) error {
				_, err := p.Grant(w, kit.PendingGrant{ID: "same", Member: "amy", Asset: "COIN", Amount: coins(10), From: budget, MaturesAt: t0})
				return err
			}))
		}
		require.Equal(t, int64(20), posted(t, l, kit.PendingAccount("amy")))
		rep, err := a.Tick(ctx, l, nil)
		require.NoError(t, err)
		require.Equal(t, []string{"same"}, rep.IDs(kit.ItemPendingReleased))
		require.Equal(t, int64(10), posted(t, l, kit.PendingAccount("amy")), "b's grant is still pending")
		var rec kit.PendingRecord
		require.NoError(t, l.View(ctx, func(r *ledger.Reader) (err error) { rec, err = b.Lookup(r, "same"); return err }))
		require.Equal(t, kit.StatePending, rec.State)
		evs, _ := kittest.EventsAfter(t, ctx, l, "test.pending.", 0)
		require.Empty(t, evs)
		kittest.RequireBalanced(t, ctx, l)
	})
}
