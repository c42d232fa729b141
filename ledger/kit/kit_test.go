package kit_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/driver"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
	"github.com/rewardkit/rewardkit/ledger/teststore"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newLedger(t *testing.T, open teststore.Opener) (*ledger.Ledger, *ledgertest.Clock) {
	t.Helper()
	clock := ledgertest.NewClock(t0)
	l := ledger.New(open(t), ledger.WithClock(clock))
	ctx := context.Background()
	require.NoError(t, l.DefineAsset(ctx, ledger.COIN))
	_, err := l.OpenAccount(ctx, ledger.AccountSpec{Address: ledger.World, Overdraft: ledger.Overdraft{Unbounded: true}})
	require.NoError(t, err)
	return l, clock
}

type grant struct {
	Member string `json:"member"`
	Coins  int64  `json:"coins"`
}

type granted struct {
	TxID    uint64 `json:"tx_id"`
	Balance string `json:"balance"`
}

// pay is an event body: it opens the wallet and pays coins, and reports
// the balance after, so a replay can be told from a re-run.
func pay(g grant) func(w *ledger.Writer) (granted, error) {
	return func(w *ledger.Writer) (granted, error) {
		addr, err := kit.OpenWallet(w, kit.WalletPolicy{}, g.Member)
		if err != nil {
			return granted{}, err
		}
		tr, err := w.Post(ledger.TransferRequest{Postings: []ledger.Posting{{From: ledger.World, To: addr, Asset: "COIN", Amount: decimal.NewFromInt(g.Coins)}}})
		if err != nil {
			return granted{}, err
		}
		b, err := w.Balance(addr, "COIN")
		if err != nil {
			return granted{}, err
		}
		return granted{TxID: tr.ID, Balance: b.Posted.String()}, nil
	}
}

func TestOnceRunsEachEventOnceAndReplaysAsOfTheEvent(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		l, _ := newLedger(t, open)
		ctx := context.Background()
		ev := func(id string, g grant) kit.Event {
			return kit.Event{Kind: "test.event", ID: id, Op: "grant", Request: g}
		}
		g := grant{Member: "ann", Coins: 10}
		r1, replay, err := kit.RunOnce(ctx, l, ev("e1", g), pay(g))
		require.NoError(t, err)
		require.False(t, replay)
		require.Equal(t, "10", r1.Balance)

		// Another event moves the balance on; the replay of e1 still says
		// what e1 saw, and pays nothing.
		_, _, err = kit.RunOnce(ctx, l, ev("e2", g), pay(g))
		require.NoError(t, err)
		r1again, replay, err := kit.RunOnce(ctx, l, ev("e1", g), pay(g))
		require.NoError(t, err)
		require.True(t, replay)
		require.Equal(t, r1, r1again)
		b, err := l.Balance(ctx, kit.WalletAccount("ann"), "COIN")
		require.NoError(t, err)
		require.Equal(t, "20", b.Posted.String())

		// The same id with another request or op is a conflict.
		_, _, err = kit.RunOnce(ctx, l, ev("e1", grant{Member: "ann", Coins: 11}), pay(g))
		require.ErrorIs(t, err, ledger.ErrIdempotencyConflict)
		_, _, err = kit.RunOnce(ctx, l, kit.Event{Kind: "test.event", ID: "e1", Op: "other", Request: g}, pay(g))
		require.ErrorIs(t, err, ledger.ErrIdempotencyConflict)

		// A failed event claims nothing: its retry runs.
		fail := errors.New("refused")
		_, _, err = kit.RunOnce(ctx, l, ev("e3", g), func(w *ledger.Writer) (granted, error) { return granted{}, fail })
		require.ErrorIs(t, err, fail)
		_, replay, err = kit.RunOnce(ctx, l, ev("e3", g), pay(g))
		require.NoError(t, err)
		require.False(t, replay)

		// Bad ids are refused before anything runs.
		_, _, err = kit.RunOnce(ctx, l, ev("", g), pay(g))
		require.ErrorIs(t, err, ledger.ErrInvalidTransaction)
		_, _, err = kit.RunOnce(ctx, l, ev(strings.Repeat("x", 129), g), pay(g))
		require.ErrorIs(t, err, ledger.ErrInvalidTransaction)
	})
}

func TestOnceRacingCallsPayOnce(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		l, _ := newLedger(t, open)
		ctx := context.Background()
		g := grant{Member: "bo", Coins: 7}
		ev := kit.Event{Kind: "test.event", ID: "race", Op: "grant", Request: g}
		const n = 8
		var wg sync.WaitGroup
		results := make([]granted, n)
		replays := make([]bool, n)
		errs := make([]error, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				results[i], replays[i], errs[i] = kit.RunOnce(ctx, l, ev, pay(g))
			}(i)
		}
		wg.Wait()
		fresh := 0
		for i := 0; i < n; i++ {
			require.NoError(t, errs[i])
			require.Equal(t, results[0], results[i])
			if !replays[i] {
				fresh++
			}
		}
		require.Equal(t, 1, fresh, "exactly one call ran the event")
		b, err := l.Balance(ctx, kit.WalletAccount("bo"), "COIN")
		require.NoError(t, err)
		require.Equal(t, "7", b.Posted.String())
	})
}

// TestOpenWalletNeverConflicts: a wallet another program opened with another
// policy is used as it is (issue 10 #5).
func TestOpenWalletNeverConflicts(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		l, _ := newLedger(t, open)
		ctx := context.Background()
		strict := kit.WalletPolicy{}
		loose := kit.WalletPolicy{Overdraft: map[string]decimal.Decimal{"COIN": decimal.NewFromInt(500)}}
		err := l.Update(ctx, func(w *ledger.Writer) error {
			_, err := kit.OpenWallet(w, loose, "cy")
			return err
		})
		require.NoError(t, err)
		err = l.Update(ctx, func(w *ledger.Writer) error {
			addr, err := kit.OpenWallet(w, strict, "cy")
			require.Equal(t, "member:cy", addr)
			return err
		})
		require.NoError(t, err)
		err = l.View(ctx, func(r *ledger.Reader) error {
			a, err := r.Account("member:cy")
			require.Equal(t, int64(500), a.Limits["COIN"])
			return err
		})
		require.NoError(t, err)
	})
}

func TestDecodeRulesNamesUnknownFields(t *testing.T) {
	type inner struct {
		Review int `json:"review_above"`
	}
	type rules struct {
		Name  string `json:"name"`
		Inner inner  `json:"inner"`
	}
	var r rules
	require.NoError(t, kit.DecodeRules([]byte(`{"name":"x","inner":{"review_above":3}}`), &r))
	require.Equal(t, 3, r.Inner.Review)
	err := kit.DecodeRules([]byte(`{"name":"x","inner":{"review_abve":3}}`), &r)
	require.ErrorContains(t, err, `"review_abve"`)
	require.NotContains(t, err.Error(), "json:")
	require.ErrorContains(t, kit.DecodeRules([]byte(`{"name":1}`), &r), `"name"`)
	require.Error(t, kit.DecodeRules([]byte(`{"name":"x"} {"name":"y"}`), &r))
	require.Error(t, kit.DecodeRules([]byte(``), &r))
}

func TestAuthorize(t *testing.T) {
	ctx := context.Background()
	var roles kit.RoleDirectory
	roles.Grant("mod", kit.RoleReviewer)
	require.NoError(t, kit.Authorize(ctx, &roles, "mod", kit.RoleReviewer, "creator", "buyer"))
	for name, err := range map[string]error{
		"empty actor":   kit.Authorize(ctx, &roles, "", kit.RoleReviewer),
		"missing role":  kit.Authorize(ctx, &roles, "mod", kit.RoleSalesRep),
		"a party":       kit.Authorize(ctx, &roles, "mod", kit.RoleReviewer, "mod"),
		"no directory":  kit.Authorize(ctx, nil, "mod", kit.RoleReviewer),
		"unknown actor": kit.Authorize(ctx, &roles, "x", kit.RoleReviewer),
	} {
		require.ErrorIs(t, err, ledger.ErrForbidden, name)
	}
	roles.Revoke("mod", kit.RoleReviewer)
	require.ErrorIs(t, kit.Authorize(ctx, &roles, "mod", kit.RoleReviewer), ledger.ErrForbidden)
}

// TestEachDueIsolatesItems: one item that fails is reported with its ID
// and the others go on (issue 10 #9); each item runs once per call even if
// it stays due.
func TestEachDueIsolatesItems(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		l, clock := newLedger(t, open)
		ctx := context.Background()
		const n = 150 // more than one batch
		err := l.Update(ctx, func(w *ledger.Writer) error {
			for i := 0; i < n; i++ {
				if err := w.Schedule("test.due", idOf(i), t0.Add(time.Minute)); err != nil {
					return err
				}
			}
			return w.Schedule("test.due", "later", t0.Add(time.Hour))
		})
		require.NoError(t, err)
		clock.Set(t0.Add(2 * time.Minute))
		stuck := errors.New("stuck")
		calls := map[string]int{}
		done, failed, err := kit.EachDue(ctx, l, "test.due", clock.Now(), func(w *ledger.Writer, e ledger.DueEntry) error {
			calls[e.ID]++
			if err := w.Unschedule("test.due", e.ID); err != nil {
				return err
			}
			if e.ID == idOf(7) {
				return stuck // its Unschedule is undone
			}
			if e.ID == idOf(8) {
				panic("boom")
			}
			return w.SaveJSON("test.done", e.ID, true)
		})
		require.NoError(t, err)
		require.Equal(t, n-2, done)
		require.Len(t, failed, 2)
		require.Equal(t, idOf(7), failed[0].ID)
		require.ErrorIs(t, failed[0], stuck)
		require.Equal(t, idOf(8), failed[1].ID)
		require.Error(t, kit.Failures(failed))
		require.NoError(t, kit.Failures(nil))
		for id, c := range calls {
			require.Equal(t, 1, c, id)
		}
		require.Zero(t, calls["later"])
		// The failed items stay due; the others are gone.
		err = l.View(ctx, func(r *ledger.Reader) error {
			due, err := r.Due("test.due", clock.Now(), 1000)
			require.Len(t, due, 2)
			return err
		})
		require.NoError(t, err)

		_, _, err = kit.EachDue(ctx, l, "test.due", time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), nil)
		require.ErrorIs(t, err, ledger.ErrInvalidTime)
	})
}

func idOf(i int) string {
	return string(rune('a'+i/26/26%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i%26))
}

// lostReplyStore commits the next batch, then reports a lost race, as a
// commit whose reply was lost would look to a retrying caller.
type lostReplyStore struct {
	driver.Store
	armed bool
}

func (s *lostReplyStore) UpdateBatch(ctx context.Context, fns []func(tx driver.Tx) error) ([]error, error) {
	errs, err := s.Store.UpdateBatch(ctx, fns)
	if err == nil && s.armed {
		s.armed = false
		return nil, ledger.ErrConflict
	}
	return errs, err
}

// TestEachDueRerunAfterLostReplyHandlesNothingTwice: a batch run again
// after its commit's reply was lost reads its entries again, so an item
// that pays without an idempotency key pays once.
func TestEachDueRerunAfterLostReplyHandlesNothingTwice(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		store := &lostReplyStore{Store: open(t)}
		clock := ledgertest.NewClock(t0)
		l := ledger.New(store, ledger.WithClock(clock))
		ctx := context.Background()
		require.NoError(t, l.DefineAsset(ctx, ledger.COIN))
		_, err := l.OpenAccount(ctx, ledger.AccountSpec{Address: ledger.World, Overdraft: ledger.Overdraft{Unbounded: true}})
		require.NoError(t, err)
		_, err = l.OpenAccount(ctx, ledger.AccountSpec{Address: "member:x"})
		require.NoError(t, err)
		require.NoError(t, l.Update(ctx, func(w *ledger.Writer) error {
			for i := 0; i < 5; i++ {
				if err := w.Schedule("test.pay", idOf(i), t0); err != nil {
					return err
				}
			}
			return nil
		}))
		store.armed = true
		done, failed, err := kit.EachDue(ctx, l, "test.pay", t0, func(w *ledger.Writer, e ledger.DueEntry) error {
			if err := w.Unschedule("test.pay", e.ID); err != nil {
				return err
			}
			_, err := w.Post(ledger.TransferRequest{Postings: []ledger.Posting{{From: ledger.World, To: "member:x", Asset: "COIN", Amount: decimal.NewFromInt(1)}}})
			return err
		})
		require.NoError(t, err)
		require.Empty(t, failed)
		require.False(t, store.armed, "the lost reply was injected")
		require.Equal(t, 0, done, "the re-run found everything handled")
		b, err := l.Balance(ctx, "member:x", "COIN")
		require.NoError(t, err)
		require.Equal(t, "5", b.Posted.String(), "each entry paid once")
	})
}

type strictField struct{}

var errNested = errors.New("nested refused")

func (*strictField) UnmarshalJSON([]byte) error { return errNested }

// TestDecodeRulesKeepsNestedErrors: an error from a nested UnmarshalJSON
// keeps its chain.
func TestDecodeRulesKeepsNestedErrors(t *testing.T) {
	var v struct {
		F strictField `json:"f"`
	}
	require.ErrorIs(t, kit.DecodeRules([]byte(`{"f":1}`), &v), errNested)
}

// hidingStore makes the next record reads miss, as a racing loser's read
// of an event claim that a winner has just committed would.
type hidingStore struct {
	driver.Store
	hide atomic.Int32
}

func (s *hidingStore) Update(ctx context.Context, fn func(driver.Tx) error) error {
	return s.Store.Update(ctx, func(tx driver.Tx) error { return fn(hidingTx{Tx: tx, s: s}) })
}

type hidingTx struct {
	driver.Tx
	s *hidingStore
}

func (t hidingTx) Record(kind, id string) ([]byte, error) {
	if t.s.hide.Add(-1) >= 0 {
		return nil, ledger.ErrNotFound
	}
	return t.Tx.Record(kind, id)
}

// TestOnceLostClaimReplays: a call that runs fn but then finds the event
// already claimed is rolled back and retried, and returns the winner's
// result as a replay, paying nothing.
func TestOnceLostClaimReplays(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		s := &hidingStore{Store: open(t)}
		l := ledger.New(s, ledger.WithClock(ledgertest.NewClock(t0)))
		ctx := context.Background()
		require.NoError(t, l.DefineAsset(ctx, ledger.COIN))
		_, err := l.OpenAccount(ctx, ledger.AccountSpec{Address: ledger.World, Overdraft: ledger.Overdraft{Unbounded: true}})
		require.NoError(t, err)
		g := grant{Member: "dee", Coins: 3}
		ev := kit.Event{Kind: "test.event", ID: "e1", Op: "grant", Request: g}
		first, _, err := kit.RunOnce(ctx, l, ev, pay(g))
		require.NoError(t, err)
		s.hide.Store(1)
		again, replay, err := kit.RunOnce(ctx, l, ev, pay(g))
		require.NoError(t, err)
		require.True(t, replay)
		require.Equal(t, first, again)
		b, err := l.Balance(ctx, kit.WalletAccount("dee"), "COIN")
		require.NoError(t, err)
		require.Equal(t, "3", b.Posted.String(), "the loser's payment was undone")
		_, err = l.Verify(ctx)
		require.NoError(t, err)
	})
}
