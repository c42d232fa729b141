package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
)

func testQueries(t *testing.T, e *env) {
	e.openAll("member:a", "member:b")
	e.fund("member:a", "USD", "3")
	e.fund("member:a", "EUR", "1")
	e.fund("member:a", "COIN", "2")

	bs, err := e.l.Balances(e.ctx, "member:a")
	require.NoError(t, err)
	require.Len(t, bs, 3)
	for i, want := range []struct{ asset, posted string }{{"COIN", "2"}, {"EUR", "1"}, {"USD", "3"}} {
		require.Equal(t, want.asset, bs[i].Asset, "balances are ordered by asset")
		require.Equal(t, "member:a", bs[i].Account)
		requireDec(t, want.posted, bs[i].Posted)
	}
	bs, err = e.l.Balances(e.ctx, "member:b")
	require.NoError(t, err)
	require.Empty(t, bs)
	e.requireBalance("member:b", "EUR", "0", "0")
	_, err = e.l.Balance(e.ctx, "member:nobody", "EUR")
	require.ErrorIs(t, err, ledger.ErrUnknownAccount)
	_, err = e.l.Balance(e.ctx, "member:a", "XYZ")
	require.ErrorIs(t, err, ledger.ErrUnknownAsset)
	_, err = e.l.Balances(e.ctx, "member:nobody")
	require.ErrorIs(t, err, ledger.ErrUnknownAccount)

	// Transactions by ID and key, and paged.
	var posted []ledger.Transaction
	for i := 0; i < 11; i++ {
		e.clock.Advance(time.Second)
		posted = append(posted, e.transfer(fmt.Sprintf("q-%d", i), ledger.World, "member:b", "EUR", fmt.Sprint(i+1)))
	}
	for _, p := range posted {
		got, err := e.l.Transaction(e.ctx, p.ID)
		require.NoError(t, err)
		require.Equal(t, p.Key, got.Key)
		require.Equal(t, p.Hash, got.Hash)
		require.True(t, p.Time.Equal(got.Time))
		byKey, err := e.l.TransactionByKey(e.ctx, p.Key)
		require.NoError(t, err)
		require.Equal(t, p.ID, byKey.ID)
	}
	_, err = e.l.Transaction(e.ctx, 999)
	require.ErrorIs(t, err, ledger.ErrNotFound)
	_, err = e.l.Transaction(e.ctx, 0)
	require.ErrorIs(t, err, ledger.ErrNotFound)
	_, err = e.l.TransactionByKey(e.ctx, "q-none")
	require.ErrorIs(t, err, ledger.ErrNotFound)

	var all []ledger.Transaction
	pages := 0
	require.NoError(t, e.l.View(e.ctx, func(r *ledger.Reader) error {
		for after := uint64(0); ; pages++ {
			txs, next, err := r.Transactions(after, 4)
			require.NoError(t, err)
			require.LessOrEqual(t, len(txs), 4)
			all = append(all, txs...)
			if next == 0 {
				break
			}
			require.Equal(t, txs[len(txs)-1].ID, next)
			after = next
		}
		return nil
	}))
	require.Len(t, all, 14)
	require.GreaterOrEqual(t, pages, 3)
	for i, tr := range all {
		require.Equal(t, uint64(i+1), tr.ID, "transactions come in ID order, none skipped")
	}
	require.Equal(t, posted[10].ID, all[13].ID)
}

func testHistory(t *testing.T, e *env) {
	e.openAll("member:a", "member:b")
	e.fund("member:a", "EUR", "100")
	// Postings in and out, some transactions touching a twice, some not
	// touching it at all, and another asset on the side.
	for i := 0; i < 12; i++ {
		e.clock.Advance(time.Minute)
		switch i % 4 {
		case 0:
			e.transfer("", "member:a", "member:b", "EUR", fmt.Sprintf("%d.5", i+1))
		case 1:
			e.transfer("", "member:b", "member:a", "EUR", "1.25")
		case 2:
			_, err := e.l.Post(e.ctx, ledger.TransferRequest{Postings: []ledger.Posting{
				{From: "member:a", To: "member:b", Asset: "EUR", Amount: dec("2")},
				{From: ledger.World, To: "member:b", Asset: "COIN", Amount: dec("1")},
				{From: "member:b", To: "member:a", Asset: "EUR", Amount: dec("0.5")},
			}})
			require.NoError(t, err)
		case 3:
			e.transfer("", ledger.World, "member:b", "EUR", "3")
		}
	}
	full, err := e.l.History(e.ctx, ledger.HistoryQuery{Account: "member:a", Asset: "EUR", Limit: 1000})
	require.NoError(t, err)
	require.Zero(t, full.Next)
	// 1 funding + 3 out + 3 in + 3 × 2 in the multi-posting transactions.
	require.Len(t, full.Entries, 13)
	running := decimal.Zero
	var lastID uint64
	for i, en := range full.Entries {
		running = running.Add(en.Change)
		require.True(t, running.Equal(en.Balance), "entry %d: running balance %s, entry says %s", i, running, en.Balance)
		require.False(t, en.Change.IsZero())
		require.GreaterOrEqual(t, en.Transaction, lastID, "history is in transaction order")
		lastID = en.Transaction
		tr, err := e.l.Transaction(e.ctx, en.Transaction)
		require.NoError(t, err)
		require.True(t, tr.Time.Equal(en.Time))
		p := tr.Postings[en.Posting]
		require.True(t, p.From == "member:a" || p.To == "member:a")
		require.True(t, p.Amount.Equal(en.Change.Abs()))
	}
	b, err := e.l.Balance(e.ctx, "member:a", "EUR")
	require.NoError(t, err)
	require.True(t, b.Posted.Equal(running), "the last running balance is the balance")

	// Paging: the pages put together are the whole history, for page sizes
	// that split multi-posting transactions and ones that do not.
	for _, limit := range []int{1, 3, 4, 7} {
		var got []ledger.HistoryEntry
		after := uint64(0)
		for n := 0; ; n++ {
			require.Less(t, n, 100, "paging does not end")
			page, err := e.l.History(e.ctx, ledger.HistoryQuery{Account: "member:a", Asset: "EUR", After: after, Limit: limit})
			require.NoError(t, err)
			if len(page.Entries) > limit {
				// Only one transaction's postings, which a page never splits.
				for _, en := range page.Entries {
					require.Equal(t, page.Entries[0].Transaction, en.Transaction, "limit %d: page of %d entries", limit, len(page.Entries))
				}
			}
			got = append(got, page.Entries...)
			if page.Next == 0 {
				break
			}
			after = page.Next
		}
		require.Equal(t, full.Entries, got, "limit %d", limit)
	}

	// Other balances have their own history.
	coin, err := e.l.History(e.ctx, ledger.HistoryQuery{Account: "member:b", Asset: "COIN"})
	require.NoError(t, err)
	require.Len(t, coin.Entries, 3)
	requireDec(t, "3", coin.Entries[2].Balance)
	none, err := e.l.History(e.ctx, ledger.HistoryQuery{Account: "member:a", Asset: "USD"})
	require.NoError(t, err)
	require.Empty(t, none.Entries)
	_, err = e.l.History(e.ctx, ledger.HistoryQuery{Account: "member:nobody", Asset: "EUR"})
	require.ErrorIs(t, err, ledger.ErrUnknownAccount)
}

func testBalanceAt(t *testing.T, e *env) {
	e.openAll("member:a", "member:b")
	e.fund("member:a", "EUR", "10") // at epoch
	e.clock.Advance(time.Hour)
	e.fund("member:a", "EUR", "5") // at +1h
	e.fund("member:a", "EUR", "1") // also at +1h
	e.clock.Advance(time.Hour)
	e.transfer("", "member:a", "member:b", "EUR", "4") // at +2h
	e.clock.Advance(time.Hour)
	e.fund("member:b", "EUR", "100") // at +3h, not a's

	for _, tc := range []struct {
		at   time.Duration
		want string
	}{
		{-time.Nanosecond, "0"},
		{0, "10"},
		{30 * time.Minute, "10"},
		{time.Hour - time.Nanosecond, "10"},
		{time.Hour, "16"},
		{2 * time.Hour, "12"},
		{3 * time.Hour, "12"},
		{100 * time.Hour, "12"},
	} {
		got, err := e.l.BalanceAt(e.ctx, "member:a", "EUR", epoch.Add(tc.at))
		require.NoError(t, err)
		requireDec(t, tc.want, got, "at %s", tc.at)
	}
	got, err := e.l.BalanceAt(e.ctx, "member:b", "EUR", epoch.Add(150*time.Minute))
	require.NoError(t, err)
	requireDec(t, "4", got)
	got, err = e.l.BalanceAt(e.ctx, "member:b", "COIN", epoch.Add(150*time.Minute))
	require.NoError(t, err)
	requireDec(t, "0", got)

	// A clock that steps back does not move the journal's time back.
	e.clock.Set(epoch)
	late := e.fund("member:a", "EUR", "1")
	require.True(t, late.Time.Equal(epoch.Add(3*time.Hour)), "time %s", late.Time)
	got, err = e.l.BalanceAt(e.ctx, "member:a", "EUR", epoch.Add(2*time.Hour))
	require.NoError(t, err)
	requireDec(t, "12", got)
	e.verify()
}

func testRecords(t *testing.T, e *env) {
	put := func(kind, id, data string) {
		t.Helper()
		require.NoError(t, e.l.Update(e.ctx, func(w *ledger.Writer) error { return w.PutRecord(kind, id, []byte(data)) }))
	}
	ids := []string{"b", "a10", "a2", "a", "c", "b1"}
	for _, id := range ids {
		put("order", id, "v-"+id)
	}
	put("claim", "a", "other kind")
	put("order", "b", "replaced")

	require.NoError(t, e.l.View(e.ctx, func(r *ledger.Reader) error {
		data, err := r.Record("order", "b")
		require.NoError(t, err)
		require.Equal(t, "replaced", string(data))
		data, err = r.Record("claim", "a")
		require.NoError(t, err)
		require.Equal(t, "other kind", string(data))
		_, err = r.Record("order", "zzz")
		require.ErrorIs(t, err, ledger.ErrNotFound)
		_, err = r.Record("nokind", "a")
		require.ErrorIs(t, err, ledger.ErrNotFound)

		// Paging by ID in byte order.
		var got []string
		for after := ""; ; {
			rs, err := r.Records("order", after, 4)
			require.NoError(t, err)
			for _, rec := range rs {
				require.Equal(t, "order", rec.Kind)
				got = append(got, rec.ID)
			}
			if len(rs) < 4 {
				break
			}
			after = rs[len(rs)-1].ID
		}
		require.Equal(t, []string{"a", "a10", "a2", "b", "b1", "c"}, got)
		rs, err := r.Records("order", "a2", 2)
		require.NoError(t, err)
		require.Len(t, rs, 2)
		require.Equal(t, "b", rs[0].ID)
		require.Equal(t, "replaced", string(rs[0].Data))
		return nil
	}))

	// InsertRecord: a duplicate is ErrDuplicate and the unit of work goes on.
	var dupErr error
	require.NoError(t, e.l.Update(e.ctx, func(w *ledger.Writer) error {
		dupErr = w.InsertRecord("order", "a", []byte("again"))
		if err := w.InsertRecord("order", "new", []byte("fresh")); err != nil {
			return err
		}
		return w.CreateJSON("claim", "j", map[string]int{"n": 1})
	}))
	require.ErrorIs(t, dupErr, ledger.ErrDuplicate)
	err := e.l.Update(e.ctx, func(w *ledger.Writer) error { return w.CreateJSON("claim", "j", map[string]int{"n": 2}) })
	require.ErrorIs(t, err, ledger.ErrDuplicate)

	// Delete, deleting a missing record, and JSON round trips.
	require.NoError(t, e.l.Update(e.ctx, func(w *ledger.Writer) error {
		if err := w.DeleteRecord("order", "a10"); err != nil {
			return err
		}
		if err := w.DeleteRecord("order", "missing"); err != nil {
			return err
		}
		return w.SaveJSON("claim", "k", struct{ N int }{7})
	}))
	require.NoError(t, e.l.View(e.ctx, func(r *ledger.Reader) error {
		data, err := r.Record("order", "a")
		require.NoError(t, err)
		require.Equal(t, "v-a", string(data), "a refused insert changed nothing")
		data, err = r.Record("order", "new")
		require.NoError(t, err)
		require.Equal(t, "fresh", string(data))
		_, err = r.Record("order", "a10")
		require.ErrorIs(t, err, ledger.ErrNotFound)
		var j map[string]int
		require.NoError(t, r.LoadJSON("claim", "j", &j))
		require.Equal(t, 1, j["n"])
		var k struct{ N int }
		require.NoError(t, r.LoadJSON("claim", "k", &k))
		require.Equal(t, 7, k.N)
		require.ErrorIs(t, r.LoadJSON("claim", "none", &k), ledger.ErrNotFound)
		rs, err := r.Records("order", "", 100)
		require.NoError(t, err)
		require.Len(t, rs, 6)
		return nil
	}))
	// Bad names are refused.
	err = e.l.Update(e.ctx, func(w *ledger.Writer) error { return w.PutRecord("", "x", nil) })
	require.ErrorIs(t, err, ledger.ErrInvalidTransaction)
}

func testDueEntries(t *testing.T, e *env) {
	t0, t1 := epoch.Add(time.Hour), epoch.Add(2*time.Hour)
	require.NoError(t, e.l.Update(e.ctx, func(w *ledger.Writer) error {
		for _, s := range []struct {
			kind, id string
			at       time.Time
		}{
			{"deadline", "x", t1}, {"deadline", "y", t0}, {"deadline", "z", t1}, {"deadline", "w", t1},
			{"renewal", "x", epoch},
		} {
			if err := w.Schedule(s.kind, s.id, s.at); err != nil {
				return err
			}
		}
		return nil
	}))
	due := func(kind string, at time.Time, limit int) []string {
		t.Helper()
		var out []string
		require.NoError(t, e.l.View(e.ctx, func(r *ledger.Reader) error {
			ds, err := r.Due(kind, at, limit)
			require.NoError(t, err)
			for _, d := range ds {
				require.Equal(t, kind, d.Kind)
				require.False(t, d.At.After(at), "%s is due at %s, after %s", d.ID, d.At, at)
				out = append(out, d.ID+"@"+d.At.UTC().Format("15:04"))
			}
			return nil
		}))
		return out
	}
	require.Equal(t, []string{"y@13:00", "w@14:00", "x@14:00", "z@14:00"}, due("deadline", t1, 10), "ordered by time, then ID")
	require.Equal(t, []string{"y@13:00"}, due("deadline", t0, 10), "the cutoff is inclusive")
	require.Empty(t, due("deadline", t0.Add(-time.Nanosecond), 10))
	require.Equal(t, []string{"y@13:00", "w@14:00"}, due("deadline", t1, 2))
	require.Equal(t, []string{"x@12:00"}, due("renewal", t1, 10))

	// Moving and removing.
	require.NoError(t, e.l.Update(e.ctx, func(w *ledger.Writer) error {
		if err := w.Schedule("deadline", "z", epoch.Add(30*time.Minute)); err != nil {
			return err
		}
		if err := w.Unschedule("deadline", "y"); err != nil {
			return err
		}
		return w.Unschedule("deadline", "missing")
	}))
	require.Equal(t, []string{"z@12:30", "w@14:00", "x@14:00"}, due("deadline", t1, 10))
	require.Equal(t, []string{"z@12:30"}, due("deadline", t0, 10))

	// A rolled-back move leaves the entry where it was.
	err := e.l.Update(e.ctx, func(w *ledger.Writer) error {
		if err := w.Schedule("deadline", "w", epoch); err != nil {
			return err
		}
		if err := w.Unschedule("deadline", "x"); err != nil {
			return err
		}
		return errBoom
	})
	require.ErrorIs(t, err, errBoom)
	require.Equal(t, []string{"z@12:30", "w@14:00", "x@14:00"}, due("deadline", t1, 10))
}
