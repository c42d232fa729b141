package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/driver"
)

// nextTx builds a well-formed next transaction of one posting from World to
// addr, with correct running balances and hash, reading the head and
// balances through tx.
func nextTx(tx driver.ReadTx, key, addr, asset string, units int64) (*driver.Transaction, error) {
	head, err := tx.Head()
	if err != nil {
		return nil, err
	}
	wb, err := tx.Balance(driver.BalanceKey{Address: ledger.World, Asset: asset})
	if err != nil {
		return nil, err
	}
	ab, err := tx.Balance(driver.BalanceKey{Address: addr, Asset: asset})
	if err != nil {
		return nil, err
	}
	st := &driver.Transaction{
		ID: head.ID + 1, Key: key, Kind: driver.KindTransfer, Time: head.Time,
		Postings: []driver.Posting{{From: ledger.World, To: addr, Asset: asset, Units: units,
			FromAfter: wb.Posted - units, ToAfter: ab.Posted + units}},
	}
	st.Hash, _ = driver.ChainHash(head.Hash, st, nil)
	return st, nil
}

// applyBalances stores the balances st's postings lead to.
func applyBalances(tx driver.Tx, st *driver.Transaction) error {
	p := st.Postings[0]
	keys := []driver.BalanceKey{{Address: p.From, Asset: p.Asset}, {Address: p.To, Asset: p.Asset}}
	bs, err := tx.LockBalances(keys)
	if err != nil {
		return err
	}
	bs[0].Posted, bs[1].Posted = p.FromAfter, p.ToAfter
	return tx.PutBalances(bs)
}

func testStoreContract(t *testing.T, e *env) {
	e.openAll("member:a")
	e.transfer("used", ledger.World, "member:a", "EUR", "10")
	_, err := e.l.Hold(e.ctx, ledger.HoldRequest{Key: "hold-used", Account: "member:a", Asset: "EUR", Amount: dec("1"), ExpiresAt: epoch.Add(time.Hour)})
	require.NoError(t, err)
	require.NoError(t, e.l.Update(e.ctx, func(w *ledger.Writer) error { return w.PutRecord("order", "r", []byte("1")) }))

	// A used idempotency key is a conflict, for transactions and holds.
	before := e.snap()
	var appendErr, holdErr error
	err = e.store.Update(e.ctx, func(tx driver.Tx) error {
		st, err := nextTx(tx, "used", "member:a", "EUR", 100)
		if err != nil {
			return err
		}
		appendErr = tx.AppendTransaction(st)
		return appendErr
	})
	require.ErrorIs(t, appendErr, driver.ErrConflict, "AppendTransaction with a used key")
	require.ErrorIs(t, err, driver.ErrConflict)
	err = e.store.Update(e.ctx, func(tx driver.Tx) error {
		_, holdErr = tx.InsertHold(&driver.Hold{Key: "hold-used", Account: "member:a", Asset: "EUR", Units: 1,
			Status: driver.HoldPending, CreatedAt: epoch.UnixNano(), ExpiresAt: epoch.Add(time.Hour).UnixNano()})
		return holdErr
	})
	require.ErrorIs(t, holdErr, driver.ErrConflict, "InsertHold with a used key")
	require.ErrorIs(t, err, driver.ErrConflict)
	e.requireUnchanged(before)

	// InsertRecord on an existing record is ErrDuplicate and does not end
	// the unit of work: what it writes afterwards commits.
	var dupErr error
	require.NoError(t, e.store.Update(e.ctx, func(tx driver.Tx) error {
		dupErr = tx.InsertRecord(driver.Record{Kind: "order", ID: "r", Data: []byte("2")})
		return tx.InsertRecord(driver.Record{Kind: "order", ID: "s", Data: []byte("3")})
	}))
	require.ErrorIs(t, dupErr, driver.ErrDuplicate)
	require.NoError(t, e.store.View(e.ctx, func(rt driver.ReadTx) error {
		data, err := rt.Record("order", "r")
		require.NoError(t, err)
		require.Equal(t, "1", string(data))
		data, err = rt.Record("order", "s")
		require.NoError(t, err)
		require.Equal(t, "3", string(data))
		return nil
	}))

	// A cancelled context writes nothing.
	before = e.snap()
	cancelled, cancel := context.WithCancel(e.ctx)
	cancel()
	err = e.store.Update(cancelled, func(tx driver.Tx) error {
		return tx.PutRecord(driver.Record{Kind: "order", ID: "cancelled", Data: []byte("x")})
	})
	require.Error(t, err, "Update with a cancelled context")
	_, err = e.l.Transfer(cancelled, "cancelled", ledger.World, "member:a", "EUR", dec("1"))
	require.Error(t, err, "a transfer with a cancelled context")
	_, err = e.store.UpdateBatch(cancelled, []func(driver.Tx) error{func(tx driver.Tx) error {
		return tx.PutRecord(driver.Record{Kind: "order", ID: "cancelled", Data: []byte("x")})
	}})
	require.Error(t, err, "UpdateBatch with a cancelled context")
	e.requireUnchanged(before)

	// A context cancelled while the unit of work runs: whatever Update
	// returns, the outcome matches it.
	ctx, cancel := context.WithCancel(e.ctx)
	err = e.store.Update(ctx, func(tx driver.Tx) error {
		if err := tx.PutRecord(driver.Record{Kind: "order", ID: "midway", Data: []byte("x")}); err != nil {
			return err
		}
		cancel()
		return nil
	})
	var found error
	require.NoError(t, e.store.View(e.ctx, func(rt driver.ReadTx) error { _, found = rt.Record("order", "midway"); return nil }))
	if err != nil {
		require.ErrorIs(t, found, driver.ErrNotFound, "Update failed (%v) but its write is visible", err)
	} else {
		require.NoError(t, found, "Update succeeded but its write is not visible")
	}
	e.verify()

	// A closed store refuses work with ErrClosed.
	require.NoError(t, e.store.Close())
	err = e.store.Update(e.ctx, func(tx driver.Tx) error { return nil })
	require.ErrorIs(t, err, driver.ErrClosed)
	err = e.store.View(e.ctx, func(rt driver.ReadTx) error { return nil })
	require.ErrorIs(t, err, driver.ErrClosed)
}

func testStoreReads(t *testing.T, e *env) {
	// Empty-store answers: zero balance, not-found for everything else.
	require.NoError(t, e.store.View(e.ctx, func(rt driver.ReadTx) error {
		h, err := rt.Head()
		require.NoError(t, err)
		require.Zero(t, h.ID)
		b, err := rt.Balance(driver.BalanceKey{Address: "member:x", Asset: "EUR"})
		require.NoError(t, err)
		require.Zero(t, b.Posted)
		require.Zero(t, b.Held)
		_, err = rt.Asset("XYZ")
		require.ErrorIs(t, err, driver.ErrUnknownAsset)
		_, err = rt.Account("member:x")
		require.ErrorIs(t, err, driver.ErrUnknownAccount)
		for _, id := range []uint64{0, 1} {
			_, err = rt.Transaction(id)
			require.ErrorIs(t, err, driver.ErrNotFound)
			_, err = rt.Hold(id)
			require.ErrorIs(t, err, driver.ErrNotFound)
			_, err = rt.ReversalOf(id)
			require.ErrorIs(t, err, driver.ErrNotFound)
		}
		last, err := rt.LastIDAt(epoch.UnixNano())
		require.NoError(t, err)
		require.Zero(t, last)
		assets, err := rt.Assets()
		require.NoError(t, err)
		require.Equal(t, []driver.Asset{driver.Asset(ledger.COIN), driver.Asset(ledger.EUR), driver.Asset(ledger.USD)}, assets, "assets ordered by code")
		return nil
	}))

	// Accounts keep their policy and metadata.
	_, err := e.l.OpenAccount(e.ctx, ledger.AccountSpec{Address: "member:a", Metadata: map[string]string{"name": "Ann"},
		Overdraft: ledger.Overdraft{Limits: map[string]decimal.Decimal{"EUR": dec("12.34"), "COIN": dec("5")}}})
	require.NoError(t, err)
	e.openAll("member:b")
	require.NoError(t, e.store.View(e.ctx, func(rt driver.ReadTx) error {
		acc, err := rt.Account("member:a")
		require.NoError(t, err)
		require.Equal(t, "member:a", acc.Address)
		require.False(t, acc.Unbounded)
		require.Equal(t, map[string]int64{"EUR": 1234, "COIN": 5}, acc.Limits)
		require.Equal(t, map[string]string{"name": "Ann"}, acc.Metadata)
		require.True(t, acc.CreatedAt.Equal(epoch))
		w, err := rt.Account(ledger.World)
		require.NoError(t, err)
		require.True(t, w.Unbounded)
		return nil
	}))

	// Transactions round trip field by field; an empty key is no key.
	e.fund("member:a", "EUR", "10")
	e.clock.Advance(time.Second)
	keyed, err := e.l.Post(e.ctx, ledger.TransferRequest{Key: "k1", Metadata: map[string]string{"m": "v", "n": ""}, Postings: []ledger.Posting{
		{From: "member:a", To: "member:b", Asset: "EUR", Amount: dec("2.5")},
		{From: ledger.World, To: "member:b", Asset: "COIN", Amount: dec("3")},
	}})
	require.NoError(t, err)
	e.clock.Advance(time.Second)
	rev, err := e.l.Reverse(e.ctx, ledger.ReversalRequest{ID: keyed.ID})
	require.NoError(t, err)
	h, err := e.l.Hold(e.ctx, ledger.HoldRequest{Account: "member:a", Asset: "EUR", Amount: dec("1"), ExpiresAt: epoch.Add(time.Hour), Metadata: map[string]string{"h": "1"}})
	require.NoError(t, err)
	h2, err := e.l.Hold(e.ctx, ledger.HoldRequest{Key: "hk", Account: "member:a", Asset: "EUR", Amount: dec("2"), ExpiresAt: epoch.Add(2 * time.Hour)})
	require.NoError(t, err)
	require.Greater(t, h2.ID, h.ID)
	capt, err := e.l.Capture(e.ctx, ledger.CaptureRequest{Hold: h2.ID, Destinations: []ledger.Leg{{To: "member:b", Amount: dec("0.5")}}})
	require.NoError(t, err)

	require.NoError(t, e.store.View(e.ctx, func(rt driver.ReadTx) error {
		st, err := rt.Transaction(keyed.ID)
		require.NoError(t, err)
		require.Equal(t, driver.Transaction{
			ID: 2, Key: "k1", Kind: driver.KindTransfer, Time: epoch.Add(time.Second).UnixNano(),
			Postings: []driver.Posting{
				{From: "member:a", To: "member:b", Asset: "EUR", Units: 250, FromAfter: 750, ToAfter: 250},
				{From: ledger.World, To: "member:b", Asset: "COIN", Units: 3, FromAfter: -3, ToAfter: 3},
			},
			Metadata: map[string]string{"m": "v", "n": ""}, Hash: keyed.Hash,
		}, st)
		byKey, err := rt.TransactionByKey("k1")
		require.NoError(t, err)
		require.Equal(t, st, byKey)
		_, err = rt.TransactionByKey("")
		require.ErrorIs(t, err, driver.ErrNotFound, "unkeyed transactions are not found by the empty key")
		_, err = rt.HoldByKey("")
		require.ErrorIs(t, err, driver.ErrNotFound, "unkeyed holds are not found by the empty key")

		rst, err := rt.Transaction(rev.ID)
		require.NoError(t, err)
		require.Equal(t, keyed.ID, rst.Reverses)
		require.Equal(t, driver.KindReversal, rst.Kind)
		require.Empty(t, rst.Key)
		rid, err := rt.ReversalOf(keyed.ID)
		require.NoError(t, err)
		require.Equal(t, rev.ID, rid)
		_, err = rt.ReversalOf(rev.ID)
		require.ErrorIs(t, err, driver.ErrNotFound)
		cst, err := rt.Transaction(capt.ID)
		require.NoError(t, err)
		require.Equal(t, h2.ID, cst.Hold)
		require.Equal(t, driver.KindCapture, cst.Kind)

		ts, err := rt.Transactions(1, 2)
		require.NoError(t, err)
		require.Len(t, ts, 2)
		require.Equal(t, []uint64{2, 3}, []uint64{ts[0].ID, ts[1].ID})
		ts, err = rt.Transactions(capt.ID, 10)
		require.NoError(t, err)
		require.Empty(t, ts)

		head, err := rt.Head()
		require.NoError(t, err)
		require.Equal(t, driver.Head{ID: capt.ID, Hash: capt.Hash, Time: capt.Time.UnixNano()}, head)

		// Holds round trip.
		sh, err := rt.Hold(h.ID)
		require.NoError(t, err)
		require.Equal(t, driver.Hold{ID: h.ID, Account: "member:a", Asset: "EUR", Units: 100, Status: driver.HoldPending,
			CreatedAt: epoch.Add(2 * time.Second).UnixNano(), ExpiresAt: epoch.Add(time.Hour).UnixNano(), Metadata: map[string]string{"h": "1"}}, sh)
		sh2, err := rt.HoldByKey("hk")
		require.NoError(t, err)
		require.Equal(t, h2.ID, sh2.ID)
		require.Equal(t, int64(50), sh2.Captured)
		hs, err := rt.Holds(h.ID, 10)
		require.NoError(t, err)
		require.Len(t, hs, 1)
		require.Equal(t, sh2, hs[0])

		// Balances, in order, paged.
		abs, err := rt.AccountBalances("member:b")
		require.NoError(t, err)
		require.Len(t, abs, 2)
		require.Equal(t, "COIN", abs[0].Asset)
		require.Equal(t, "EUR", abs[1].Asset)
		require.Equal(t, int64(50), abs[1].Posted)
		var keys []driver.BalanceKey
		for after := (driver.BalanceKey{}); ; {
			bs, err := rt.Balances(after, 2)
			require.NoError(t, err)
			for _, b := range bs {
				keys = append(keys, driver.BalanceKey{Address: b.Address, Asset: b.Asset})
			}
			if len(bs) < 2 {
				break
			}
			after = keys[len(keys)-1]
		}
		require.Equal(t, []driver.BalanceKey{
			{Address: "member:a", Asset: "EUR"}, {Address: "member:b", Asset: "COIN"}, {Address: "member:b", Asset: "EUR"},
			{Address: ledger.World, Asset: "COIN"}, {Address: ledger.World, Asset: "EUR"},
		}, keys)
		ab, err := rt.Balance(driver.BalanceKey{Address: "member:a", Asset: "EUR"})
		require.NoError(t, err)
		require.Equal(t, driver.Balance{Address: "member:a", Asset: "EUR", Posted: 950, Held: 250}, ab)

		// History, PostedAt and LastIDAt.
		hist, err := rt.History(driver.BalanceKey{Address: "member:a", Asset: "EUR"}, 0, 10)
		require.NoError(t, err)
		require.Equal(t, []driver.HistoryItem{
			{ID: 1, Time: epoch.UnixNano(), Posting: 0, Delta: 1000, After: 1000},
			{ID: 2, Time: epoch.Add(time.Second).UnixNano(), Posting: 0, Delta: -250, After: 750},
			{ID: 3, Time: epoch.Add(2 * time.Second).UnixNano(), Posting: 1, Delta: 250, After: 1000},
			{ID: 4, Time: epoch.Add(2 * time.Second).UnixNano(), Posting: 0, Delta: -50, After: 950},
		}, hist)
		hist, err = rt.History(driver.BalanceKey{Address: "member:a", Asset: "EUR"}, 2, 1)
		require.NoError(t, err)
		require.Len(t, hist, 1)
		require.Equal(t, uint64(3), hist[0].ID)
		for id, want := range map[uint64]int64{0: 0, 1: 1000, 2: 750, 3: 1000, 4: 950, 99: 950} {
			got, err := rt.PostedAt(driver.BalanceKey{Address: "member:a", Asset: "EUR"}, id)
			require.NoError(t, err)
			require.Equal(t, want, got, "PostedAt %d", id)
		}
		got, err := rt.PostedAt(driver.BalanceKey{Address: "member:b", Asset: "USD"}, 4)
		require.NoError(t, err)
		require.Zero(t, got)
		for at, want := range map[time.Duration]uint64{-1: 0, 0: 1, time.Second - 1: 1, time.Second: 2, 2 * time.Second: 4, time.Hour: 4} {
			got, err := rt.LastIDAt(epoch.Add(at).UnixNano())
			require.NoError(t, err)
			require.Equal(t, want, got, "LastIDAt %s", at)
		}
		return nil
	}))

	// Inside an update: reads see the update's own writes; LockBalances
	// returns unwritten balances as zero, in the order asked. Rolled back.
	var inside []driver.Balance
	var data []byte
	err = e.store.Update(e.ctx, func(tx driver.Tx) error {
		bs, err := tx.LockBalances([]driver.BalanceKey{{Address: "member:b", Asset: "USD"}, {Address: "member:a", Asset: "EUR"}})
		if err != nil {
			return err
		}
		inside = append(inside, bs...)
		bs[0].Posted, bs[1].Held = 7, 0
		if err := tx.PutBalances(bs); err != nil {
			return err
		}
		b0, err := tx.Balance(driver.BalanceKey{Address: "member:b", Asset: "USD"})
		if err != nil {
			return err
		}
		inside = append(inside, b0)
		if err := tx.PutRecord(driver.Record{Kind: "order", ID: "bin", Data: []byte{0, 0xff, 'x', 0}}); err != nil {
			return err
		}
		if data, err = tx.Record("order", "bin"); err != nil {
			return err
		}
		return errBoom
	})
	require.ErrorIs(t, err, errBoom)
	require.Equal(t, []driver.Balance{
		{Address: "member:b", Asset: "USD"}, {Address: "member:a", Asset: "EUR", Posted: 950, Held: 250},
		{Address: "member:b", Asset: "USD", Posted: 7},
	}, inside)
	require.Equal(t, []byte{0, 0xff, 'x', 0}, data, "records keep any bytes")
	e.requireBalance("member:a", "EUR", "9.50", "2.50")
	e.requireBalance("member:b", "USD", "0", "0")

	// Records keep any bytes, and an empty record is empty, not missing.
	require.NoError(t, e.store.Update(e.ctx, func(tx driver.Tx) error {
		if err := tx.PutRecord(driver.Record{Kind: "order", ID: "bin", Data: []byte{0, 0xff, 'x', 0}}); err != nil {
			return err
		}
		return tx.PutRecord(driver.Record{Kind: "order", ID: "empty"})
	}))
	require.NoError(t, e.store.View(e.ctx, func(rt driver.ReadTx) error {
		d, err := rt.Record("order", "bin")
		require.NoError(t, err)
		require.Equal(t, []byte{0, 0xff, 'x', 0}, d)
		d, err = rt.Record("order", "empty")
		require.NoError(t, err)
		require.Empty(t, d)
		return nil
	}))
	e.verify()
}

// tamper commits fn through the raw store after a few sound transactions
// and requires Verify to pass before and report ErrVerify after.
func tamper(fn func(tx driver.Tx) error) func(t *testing.T, e *env) {
	return func(t *testing.T, e *env) {
		e.openAll("member:a", "member:b")
		e.fund("member:a", "EUR", "10")
		e.transfer("", "member:a", "member:b", "EUR", "4")
		_, err := e.l.Hold(e.ctx, ledger.HoldRequest{Account: "member:a", Asset: "EUR", Amount: dec("1"), ExpiresAt: epoch.Add(time.Hour)})
		require.NoError(t, err)
		e.verify()
		require.NoError(t, e.store.Update(e.ctx, fn))
		_, err = e.l.Verify(e.ctx)
		require.ErrorIs(t, err, ledger.ErrVerify)
	}
}

var (
	// A transaction whose hash does not chain, with every balance right.
	tamperHash = tamper(func(tx driver.Tx) error {
		st, err := nextTx(tx, "", "member:b", "EUR", 100)
		if err != nil {
			return err
		}
		st.Hash[0] ^= 1
		if err := tx.AppendTransaction(st); err != nil {
			return err
		}
		return applyBalances(tx, st)
	})
	// A sound transaction whose balances were never stored.
	tamperUnapplied = tamper(func(tx driver.Tx) error {
		st, err := nextTx(tx, "", "member:b", "EUR", 100)
		if err != nil {
			return err
		}
		return tx.AppendTransaction(st)
	})
	// A transaction whose running balances are wrong (they are not hashed).
	tamperRunning = tamper(func(tx driver.Tx) error {
		st, err := nextTx(tx, "", "member:b", "EUR", 100)
		if err != nil {
			return err
		}
		if err := applyBalances(tx, st); err != nil {
			return err
		}
		st.Postings[0].ToAfter++
		return tx.AppendTransaction(st)
	})
	// A balance changed without a transaction.
	tamperBalance = tamper(func(tx driver.Tx) error {
		bs, err := tx.LockBalances([]driver.BalanceKey{{Address: "member:b", Asset: "EUR"}})
		if err != nil {
			return err
		}
		bs[0].Posted += 100
		return tx.PutBalances(bs)
	})
	// A held amount no hold accounts for.
	tamperHeld = tamper(func(tx driver.Tx) error {
		bs, err := tx.LockBalances([]driver.BalanceKey{{Address: "member:b", Asset: "EUR"}})
		if err != nil {
			return err
		}
		bs[0].Held++
		return tx.PutBalances(bs)
	})
)
