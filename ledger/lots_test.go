package ledger_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/driver"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
	"github.com/rewardkit/rewardkit/ledger/teststore"
)

const (
	lotMember   = "member:1"
	lotOther    = "member:2"
	lotBreakage = "breakage:ruby"
	lotShop     = "shop"
)

// lotFixture is a ledger with RUBY, an issuer, two members, a shop and a
// breakage account, on one store.
type lotFixture struct {
	l     *ledger.Ledger
	clock *ledgertest.Clock
	ctx   context.Context
}

func newLotFixture(t testing.TB, store driver.Store) *lotFixture {
	t.Helper()
	f := &lotFixture{clock: ledgertest.NewClock(t0), ctx: context.Background()}
	f.l = ledger.New(store, ledger.WithClock(f.clock))
	require.NoError(t, f.l.Update(f.ctx, func(w *ledger.Writer) error {
		if err := w.DefineAsset(ledger.RUBY); err != nil {
			return err
		}
		for _, s := range []ledger.AccountSpec{
			{Address: ledger.World, Overdraft: ledger.Overdraft{Unbounded: true}},
			{Address: lotMember}, {Address: lotOther}, {Address: lotBreakage}, {Address: lotShop},
		} {
			if _, err := w.OpenAccount(s); err != nil {
				return err
			}
		}
		return nil
	}))
	return f
}

// grant credits n rubies to a member, expiring after ttl (never when 0).
func (f *lotFixture) grant(t testing.TB, to string, n int64, ttl time.Duration) ledger.Transaction {
	t.Helper()
	p := ledger.Posting{From: ledger.World, To: to, Asset: "RUBY", Amount: decimal.NewFromInt(n)}
	if ttl > 0 {
		p.ExpiresAt, p.Breakage = f.clock.Now().Add(ttl), lotBreakage
	}
	tr, err := f.l.Post(f.ctx, ledger.TransferRequest{Postings: []ledger.Posting{p}})
	require.NoError(t, err)
	return tr
}

func (f *lotFixture) spend(t testing.TB, from string, n int64) ledger.Transaction {
	t.Helper()
	tr, err := f.l.Transfer(f.ctx, "", from, lotShop, "RUBY", decimal.NewFromInt(n))
	require.NoError(t, err)
	return tr
}

// lotT is what the fixture's checks need of a test: a *testing.T or a
// *rapid.T.
type lotT interface {
	require.TestingT
	Helper()
}

func (f *lotFixture) posted(t lotT, addr string) int64 {
	t.Helper()
	b, err := f.l.Balance(f.ctx, addr, "RUBY")
	require.NoError(t, err)
	return b.Posted.IntPart()
}

// lots returns the open lots as "amount@expiry offset from t0" pairs.
type lotView struct {
	Amount int64
	After  time.Duration // ExpiresAt - t0; -1 for the part that never expires
	Tx     uint64
}

func (f *lotFixture) lots(t testing.TB, addr string) []lotView {
	t.Helper()
	ls, err := f.l.Lots(f.ctx, addr, "RUBY")
	require.NoError(t, err)
	var out []lotView
	for _, l := range ls {
		v := lotView{Amount: l.Amount.IntPart(), After: -1, Tx: l.Transaction}
		if !l.ExpiresAt.IsZero() {
			v.After = l.ExpiresAt.Sub(t0)
		}
		out = append(out, v)
	}
	return out
}

func (f *lotFixture) verify(t testing.TB) ledger.VerifyReport {
	t.Helper()
	rep, err := f.l.Verify(f.ctx)
	require.NoError(t, err)
	return rep
}

const day = 24 * time.Hour

func TestLotsConsumeSoonestExpiringFirstAndExpireToBreakage(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newLotFixture(t, open(t))
		g10 := f.grant(t, lotMember, 100, 10*day)
		g5 := f.grant(t, lotMember, 50, 5*day)
		f.grant(t, lotMember, 30, 0)
		require.Equal(t, 10*day, g10.Postings[0].ExpiresAt.Sub(t0), "the grant reports its expiry")
		require.Equal(t, lotBreakage, g10.Postings[0].Breakage)

		b, err := f.l.Balance(f.ctx, lotMember, "RUBY")
		require.NoError(t, err)
		require.Len(t, b.Expiring, 2)
		require.True(t, b.Expiring[0].At.Equal(t0.Add(5*day)))
		require.Equal(t, "50", b.Expiring[0].Amount.String())
		require.Equal(t, "100", b.Expiring[1].Amount.String())

		// A spend of 70 takes the 50 expiring first, then 20 of the 100;
		// the 30 that never expire are left for last.
		f.spend(t, lotMember, 70)
		require.Equal(t, []lotView{{80, 10 * day, g10.ID}, {30, -1, 0}}, f.lots(t, lotMember))
		_ = g5

		f.clock.Set(t0.Add(9 * day))
		n, err := f.l.Tick(f.ctx)
		require.NoError(t, err)
		require.Zero(t, n, "nothing has expired yet")

		f.clock.Set(t0.Add(10 * day))
		n, err = f.l.Tick(f.ctx)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		require.EqualValues(t, 30, f.posted(t, lotMember))
		require.EqualValues(t, 80, f.posted(t, lotBreakage))
		require.Equal(t, []lotView{{30, -1, 0}}, f.lots(t, lotMember))

		n, err = f.l.Tick(f.ctx)
		require.NoError(t, err)
		require.Zero(t, n, "a lot expires once")

		evs, err := f.l.Events(f.ctx, 0, 1000)
		require.NoError(t, err)
		var expired []map[string]any
		for _, e := range evs {
			if e.Type == ledger.EventLotExpired {
				var d map[string]any
				require.NoError(t, json.Unmarshal(e.Data, &d))
				require.Equal(t, lotMember, e.Subject)
				require.NotZero(t, e.TxID)
				expired = append(expired, d)
			}
		}
		require.Len(t, expired, 1)
		require.Equal(t, "80", expired[0]["amount"])
		require.Equal(t, lotBreakage, expired[0]["breakage"])
		require.EqualValues(t, g10.ID, expired[0]["transaction"])

		rep := f.verify(t)
		require.Zero(t, rep.Lots.Lots)
	})
}

func TestLotsRefuseBadInputAndWriteNothing(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newLotFixture(t, open(t))
		now := f.clock.Now()
		post := func(p ledger.Posting, md map[string]string) error {
			_, err := f.l.Post(f.ctx, ledger.TransferRequest{Postings: []ledger.Posting{p}, Metadata: md})
			return err
		}
		base := ledger.Posting{From: ledger.World, To: lotMember, Asset: "RUBY", Amount: decimal.NewFromInt(5)}
		cases := map[string]struct {
			p    ledger.Posting
			md   map[string]string
			want error
		}{
			"expiry now":            {with(base, now, lotBreakage), nil, ledger.ErrInvalidTransaction},
			"expiry past":           {with(base, now.Add(-time.Hour), lotBreakage), nil, ledger.ErrInvalidTransaction},
			"expiry beyond MaxTime": {with(base, ledger.MaxTime, lotBreakage), nil, ledger.ErrInvalidTime},
			"no breakage":           {with(base, now.Add(time.Hour), ""), nil, ledger.ErrInvalidTransaction},
			"breakage, no expiry":   {with(base, time.Time{}, lotBreakage), nil, ledger.ErrInvalidTransaction},
			"unknown breakage":      {with(base, now.Add(time.Hour), "nobody"), nil, ledger.ErrUnknownAccount},
			"own breakage":          {with(base, now.Add(time.Hour), lotMember), nil, ledger.ErrInvalidTransaction},
			"unbounded holder": {ledger.Posting{From: lotMember, To: ledger.World, Asset: "RUBY", Amount: decimal.NewFromInt(1),
				ExpiresAt: now.Add(time.Hour), Breakage: lotBreakage}, nil, ledger.ErrInvalidTransaction},
			"reserved metadata": {base, map[string]string{"ledger.lot.expires.0": now.Add(time.Hour).Format(time.RFC3339)}, ledger.ErrInvalidTransaction},
		}
		for name, c := range cases {
			err := post(c.p, c.md)
			require.ErrorIs(t, err, c.want, name)
		}
		err := f.l.Update(f.ctx, func(w *ledger.Writer) error { return w.PutRecord("ledger.lots", "member:1|RUBY", []byte("[]")) })
		require.ErrorIs(t, err, ledger.ErrInvalidTransaction)
		err = f.l.Update(f.ctx, func(w *ledger.Writer) error { return w.Schedule(ledger.DueLotExpiry, "x", now) })
		require.ErrorIs(t, err, ledger.ErrInvalidTransaction)
		rep := f.verify(t)
		require.Zero(t, rep.Transactions, "nothing was written")
	})
}

func with(p ledger.Posting, at time.Time, brk string) ledger.Posting {
	p.ExpiresAt, p.Breakage = at, brk
	return p
}

func TestLotsIdempotentGrant(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newLotFixture(t, open(t))
		p := ledger.Posting{From: ledger.World, To: lotMember, Asset: "RUBY", Amount: decimal.NewFromInt(5),
			ExpiresAt: t0.Add(day), Breakage: lotBreakage}
		a, err := f.l.Post(f.ctx, ledger.TransferRequest{Key: "g1", Postings: []ledger.Posting{p}})
		require.NoError(t, err)
		b, err := f.l.Post(f.ctx, ledger.TransferRequest{Key: "g1", Postings: []ledger.Posting{p}})
		require.NoError(t, err)
		require.Equal(t, a.ID, b.ID)
		p.ExpiresAt = t0.Add(2 * day)
		_, err = f.l.Post(f.ctx, ledger.TransferRequest{Key: "g1", Postings: []ledger.Posting{p}})
		require.ErrorIs(t, err, ledger.ErrIdempotencyConflict, "another expiry is another request")
		// A spend retried under its key, after it consumed lots, is a replay.
		s1, err := f.l.Transfer(f.ctx, "s1", lotMember, lotShop, "RUBY", decimal.NewFromInt(2))
		require.NoError(t, err)
		s2, err := f.l.Transfer(f.ctx, "s1", lotMember, lotShop, "RUBY", decimal.NewFromInt(2))
		require.NoError(t, err)
		require.Equal(t, s1.ID, s2.ID)
		require.Equal(t, []lotView{{3, day, a.ID}}, f.lots(t, lotMember))
		// A retry after the expiry passed returns the original, as for a
		// hold; a new key with that expiry is refused.
		f.clock.Set(t0.Add(2 * day))
		p.ExpiresAt = t0.Add(day)
		c, err := f.l.Post(f.ctx, ledger.TransferRequest{Key: "g1", Postings: []ledger.Posting{p}})
		require.NoError(t, err)
		require.Equal(t, a.ID, c.ID)
		_, err = f.l.Post(f.ctx, ledger.TransferRequest{Key: "g2", Postings: []ledger.Posting{p}})
		require.ErrorIs(t, err, ledger.ErrInvalidTransaction)
		f.verify(t)
	})
}

func TestLotsReversals(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newLotFixture(t, open(t))
		a := f.grant(t, lotMember, 40, 2*day)
		b := f.grant(t, lotMember, 60, 9*day)
		// Reversing a grant takes back its own lot, not the soonest one.
		_, err := f.l.Reverse(f.ctx, ledger.ReversalRequest{ID: b.ID})
		require.NoError(t, err)
		require.Equal(t, []lotView{{40, 2 * day, a.ID}}, f.lots(t, lotMember))

		c := f.grant(t, lotMember, 10, 5*day)
		s := f.spend(t, lotMember, 45) // 40 of a, 5 of c
		require.Equal(t, []lotView{{5, 5 * day, c.ID}}, f.lots(t, lotMember))

		// The spend is refunded after a's expiry: its 40 come back with
		// a's expiry and go to breakage at the next Tick.
		f.clock.Set(t0.Add(3 * day))
		_, err = f.l.Reverse(f.ctx, ledger.ReversalRequest{ID: s.ID})
		require.NoError(t, err)
		require.Equal(t, []lotView{{40, 2 * day, a.ID}, {10, 5 * day, c.ID}}, f.lots(t, lotMember))
		n, err := f.l.Tick(f.ctx)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		require.EqualValues(t, 40, f.posted(t, lotBreakage))
		require.Equal(t, []lotView{{10, 5 * day, c.ID}}, f.lots(t, lotMember))
		f.verify(t)
	})
}

func TestLotsHeldFundsExpireWhenReleased(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newLotFixture(t, open(t))
		g := f.grant(t, lotMember, 100, day)
		h, err := f.l.Hold(f.ctx, ledger.HoldRequest{Account: lotMember, Asset: "RUBY", Amount: decimal.NewFromInt(70), ExpiresAt: t0.Add(3 * day)})
		require.NoError(t, err)
		f.clock.Set(t0.Add(2 * day))
		n, err := f.l.Tick(f.ctx)
		require.NoError(t, err)
		require.Equal(t, 1, n, "the 30 not held expire")
		require.EqualValues(t, 30, f.posted(t, lotBreakage))
		require.Equal(t, []lotView{{70, day, g.ID}}, f.lots(t, lotMember), "what the hold reserves waits for it")
		n, err = f.l.Tick(f.ctx)
		require.NoError(t, err)
		require.Zero(t, n)

		// A capture consumes the expired lot first.
		_, err = f.l.Capture(f.ctx, ledger.CaptureRequest{Hold: h.ID, Destinations: []ledger.Leg{{To: lotShop, Amount: decimal.NewFromInt(20)}}})
		require.NoError(t, err)
		require.Equal(t, []lotView{{50, day, g.ID}}, f.lots(t, lotMember))
		// The void releases the rest, which expires at the next Tick.
		_, err = f.l.Void(f.ctx, h.ID)
		require.NoError(t, err)
		n, err = f.l.Tick(f.ctx)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		require.EqualValues(t, 80, f.posted(t, lotBreakage))
		require.EqualValues(t, 0, f.posted(t, lotMember))
		f.verify(t)
	})
}

func TestLotsRacingTicksExpireOnce(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newLotFixture(t, open(t))
		const members, grants = 6, 3
		want := int64(0)
		for m := 0; m < members; m++ {
			addr := "racer:" + string(rune('a'+m))
			_, err := f.l.OpenAccount(f.ctx, ledger.AccountSpec{Address: addr})
			require.NoError(t, err)
			for g := 0; g < grants; g++ {
				f.grant(t, addr, int64(10+g), time.Duration(g+1)*time.Hour)
				want += int64(10 + g)
			}
		}
		f.clock.Set(t0.Add(day))
		var wg sync.WaitGroup
		counts := make([]int, 4)
		errs := make([]error, 4)
		for i := range counts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				counts[i], errs[i] = f.l.Tick(f.ctx)
			}()
		}
		wg.Wait()
		total := 0
		for i := range counts {
			require.NoError(t, errs[i])
			total += counts[i]
		}
		require.Equal(t, members*grants, total, "each lot settled by exactly one caller")
		require.Equal(t, want, f.posted(t, lotBreakage))
		evs, err := f.l.Events(f.ctx, 0, 1000)
		require.NoError(t, err)
		n := 0
		for _, e := range evs {
			if e.Type == ledger.EventLotExpired {
				n++
			}
		}
		require.Equal(t, members*grants, n)
		f.verify(t)
	})
}

func TestVerifyCatchesTamperedLots(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		store := open(t)
		f := newLotFixture(t, store)
		f.grant(t, lotMember, 100, 10*day)
		f.grant(t, lotMember, 50, 5*day)
		f.spend(t, lotMember, 20)
		f.verify(t)
		id := "member:1|RUBY"
		var orig []byte
		require.NoError(t, store.View(f.ctx, func(tx driver.ReadTx) error {
			var err error
			orig, err = tx.Record("ledger.lots", id)
			return err
		}))
		tamper := func(name string, fn func(tx driver.Tx) error) {
			t.Helper()
			require.NoError(t, store.Update(f.ctx, fn), name)
			_, err := f.l.Verify(f.ctx)
			require.ErrorIs(t, err, ledger.ErrVerify, name)
			require.NoError(t, store.Update(f.ctx, func(tx driver.Tx) error {
				if err := tx.PutRecord(driver.Record{Kind: "ledger.lots", ID: id, Data: orig}); err != nil {
					return err
				}
				if err := tx.DeleteRecord("ledger.lots", "member:2|RUBY"); err != nil {
					return err
				}
				return tx.Schedule(driver.DueEntry{Kind: ledger.DueLotExpiry, ID: id, At: t0.Add(5 * day)})
			}))
			f.verify(t)
		}
		var lots []map[string]any
		require.NoError(t, json.Unmarshal(orig, &lots))
		edit := func(k string, v any) []byte {
			c := make([]map[string]any, len(lots))
			for i := range lots {
				c[i] = map[string]any{}
				for kk, vv := range lots[i] {
					c[i][kk] = vv
				}
			}
			c[0][k] = v
			b, _ := json.Marshal(c)
			return b
		}
		put := func(data []byte) func(tx driver.Tx) error {
			return func(tx driver.Tx) error {
				return tx.PutRecord(driver.Record{Kind: "ledger.lots", ID: id, Data: data})
			}
		}
		tamper("lots deleted", func(tx driver.Tx) error { return tx.DeleteRecord("ledger.lots", id) })
		tamper("a lot grown", put(edit("units", 31)))
		tamper("a lot's expiry moved", put(edit("at", t0.Add(50*day).UnixNano())))
		tamper("a lot's breakage changed", put(edit("breakage", lotShop)))
		tamper("due entry dropped", func(tx driver.Tx) error { return tx.Unschedule(ledger.DueLotExpiry, id) })
		tamper("lots on another balance", func(tx driver.Tx) error {
			return tx.PutRecord(driver.Record{Kind: "ledger.lots", ID: "member:2|RUBY", Data: orig})
		})
	})
}

func TestLotsDoNotTouchBalancesWithout(t *testing.T) {
	f := newLotFixture(t, teststore.Memory(t))
	f.grant(t, lotMember, 10, 0)
	f.spend(t, lotMember, 4)
	require.Equal(t, []lotView{{6, -1, 0}}, f.lots(t, lotMember))
	b, err := f.l.Balance(f.ctx, lotMember, "RUBY")
	require.NoError(t, err)
	require.Empty(t, b.Expiring)
	tr, err := f.l.Transaction(f.ctx, 2)
	require.NoError(t, err)
	require.Empty(t, tr.Metadata, "a spend that consumed no lot records none")
}

func TestLotsFromACaptureLeg(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newLotFixture(t, open(t))
		f.grant(t, lotOther, 10, 0)
		h, err := f.l.Hold(f.ctx, ledger.HoldRequest{Account: lotOther, Asset: "RUBY", Amount: decimal.NewFromInt(10), ExpiresAt: t0.Add(day)})
		require.NoError(t, err)
		_, err = f.l.Capture(f.ctx, ledger.CaptureRequest{Hold: h.ID, Destinations: []ledger.Leg{
			{To: lotMember, Amount: decimal.NewFromInt(4), ExpiresAt: t0.Add(time.Hour)}}})
		require.ErrorIs(t, err, ledger.ErrInvalidTransaction, "an expiry needs a breakage account")
		tr, err := f.l.Capture(f.ctx, ledger.CaptureRequest{Hold: h.ID, Final: true, Destinations: []ledger.Leg{
			{To: lotMember, Amount: decimal.NewFromInt(4), ExpiresAt: t0.Add(time.Hour), Breakage: lotBreakage},
			{To: lotShop, Amount: decimal.NewFromInt(6)}}})
		require.NoError(t, err)
		require.Equal(t, t0.Add(time.Hour), tr.Postings[0].ExpiresAt)
		require.True(t, tr.Postings[1].ExpiresAt.IsZero())
		require.Equal(t, []lotView{{4, time.Hour, tr.ID}}, f.lots(t, lotMember))
		f.clock.Set(t0.Add(time.Hour))
		n, err := f.l.Tick(f.ctx)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		require.EqualValues(t, 4, f.posted(t, lotBreakage))
		f.verify(t)
	})
}

// TestLotsCoverOnlyThePositivePart: on an account with an overdraft, a
// debit below zero consumes no more than the lots, and a credit first
// makes up the shortfall: only what it raises the balance above zero
// becomes a lot.
func TestLotsCoverOnlyThePositivePart(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newLotFixture(t, open(t))
		const od = "member:od"
		_, err := f.l.OpenAccount(f.ctx, ledger.AccountSpec{Address: od,
			Overdraft: ledger.Overdraft{Limits: map[string]decimal.Decimal{"RUBY": decimal.NewFromInt(50)}}})
		require.NoError(t, err)
		f.grant(t, od, 10, day)
		f.spend(t, od, 30)
		require.EqualValues(t, -20, f.posted(t, od))
		require.Empty(t, f.lots(t, od))
		g := f.grant(t, od, 50, 2*day)
		require.Equal(t, []lotView{{30, 2 * day, g.ID}}, f.lots(t, od))
		f.clock.Set(t0.Add(2 * day))
		n, err := f.l.Tick(f.ctx)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		require.EqualValues(t, 0, f.posted(t, od))
		require.EqualValues(t, 30, f.posted(t, lotBreakage))
		f.verify(t)
	})
}
