package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/driver"
)

var errBoom = errors.New("storetest: boom")

// doEverything writes every kind of thing a unit of work can write: an
// asset, an account, transactions (a post, a capture, a reversal), a hold,
// records and due entries. seen collects what the unit of work read back of
// its own writes. It expects setupEverything's state.
func (e *env) doEverything(w *ledger.Writer, seen map[string]string) error {
	if err := w.DefineAsset(ledger.Asset{Code: "GEM", Precision: 0}); err != nil {
		return err
	}
	if _, err := w.OpenAccount(ledger.AccountSpec{Address: "member:new"}); err != nil {
		return err
	}
	tr, err := w.Post(ledger.TransferRequest{Key: "k-undone", Postings: []ledger.Posting{
		{From: "member:a", To: "member:b", Asset: "EUR", Amount: dec("30")},
		{From: ledger.World, To: "member:new", Asset: "GEM", Amount: dec("5")},
	}})
	if err != nil {
		return err
	}
	b, err := w.Balance("member:b", "EUR")
	if err != nil {
		return err
	}
	seen["b after post"] = b.Posted.String()
	h, err := w.Hold(ledger.HoldRequest{Key: "h-undone", Account: "member:a", Asset: "EUR", Amount: dec("20"), ExpiresAt: w.Now().Add(time.Hour)})
	if err != nil {
		return err
	}
	if _, err := w.Capture(ledger.CaptureRequest{Key: "c-undone", Hold: h.ID, Destinations: []ledger.Leg{{To: "member:b", Amount: dec("5")}}}); err != nil {
		return err
	}
	a, err := w.Balance("member:a", "EUR")
	if err != nil {
		return err
	}
	seen["a after capture"] = a.Posted.String() + "/" + a.Held.String()
	if _, err := w.Reverse(ledger.ReversalRequest{Key: "r-undone", ID: tr.ID}); err != nil {
		return err
	}
	if err := w.SaveJSON("order", "o2", map[string]int{"n": 2}); err != nil {
		return err
	}
	if err := w.InsertRecord("claim", "c1", []byte("x")); err != nil {
		return err
	}
	if err := w.DeleteRecord("order", "o1"); err != nil {
		return err
	}
	if err := w.Schedule("deadline", "o2", w.Now().Add(time.Hour)); err != nil {
		return err
	}
	if err := w.Unschedule("deadline", "o1"); err != nil {
		return err
	}
	due, err := w.Due("deadline", w.Now().Add(2*time.Hour), 10)
	if err != nil {
		return err
	}
	seen["due"] = fmt.Sprint(len(due))
	return nil
}

// setupEverything prepares the state doEverything changes: transaction 1
// funds member:a with 100 EUR, and an order record with its deadline.
func (e *env) setupEverything() {
	e.t.Helper()
	e.openAll("member:a", "member:b")
	tr := e.fund("member:a", "EUR", "100")
	require.Equal(e.t, uint64(1), tr.ID, "the first transaction of an empty store is 1")
	require.NoError(e.t, e.l.Update(e.ctx, func(w *ledger.Writer) error {
		if err := w.SaveJSON("order", "o1", map[string]int{"n": 1}); err != nil {
			return err
		}
		return w.Schedule("deadline", "o1", w.Now().Add(time.Hour))
	}))
}

// requireNothingOfEverything checks that none of doEverything is visible,
// also to a new ledger over the same store (no stale cache either way).
func (e *env) requireNothingOfEverything(before snapshot) {
	e.t.Helper()
	e.requireUnchanged(before, "a rolled-back unit of work left something behind")
	for _, l := range []*ledger.Ledger{e.l, ledger.New(e.store, ledger.WithClock(e.clock))} {
		_, err := l.Balance(e.ctx, "member:new", "EUR")
		require.ErrorIs(e.t, err, ledger.ErrUnknownAccount)
		_, err = l.Balance(e.ctx, "member:a", "GEM")
		require.ErrorIs(e.t, err, ledger.ErrUnknownAsset)
		_, err = l.TransactionByKey(e.ctx, "k-undone")
		require.ErrorIs(e.t, err, ledger.ErrNotFound)
	}
	e.requireBalance("member:a", "EUR", "100", "0")
	e.requireBalance("member:b", "EUR", "0", "0")
	require.NoError(e.t, e.l.View(e.ctx, func(r *ledger.Reader) error {
		_, err := r.HoldByKey("h-undone")
		require.ErrorIs(e.t, err, ledger.ErrNotFound)
		var v map[string]int
		require.NoError(e.t, r.LoadJSON("order", "o1", &v))
		require.Equal(e.t, 1, v["n"])
		_, err = r.Record("order", "o2")
		require.ErrorIs(e.t, err, ledger.ErrNotFound)
		return nil
	}))
	e.verify()
}

// requireUsableAfterRollback checks that the keys and IDs of the undone
// unit of work are free again and the store takes new work.
func (e *env) requireUsableAfterRollback(before snapshot) {
	e.t.Helper()
	tr := e.transfer("k-undone", "member:a", "member:b", "EUR", "1")
	require.Equal(e.t, before.Head.ID+1, tr.ID, "a rolled-back unit of work must not use up transaction IDs")
	h, err := e.l.Hold(e.ctx, ledger.HoldRequest{Key: "h-undone", Account: "member:a", Asset: "EUR", Amount: dec("2"), ExpiresAt: e.clock.Now().Add(time.Hour)})
	require.NoError(e.t, err)
	requireDec(e.t, "2", h.Amount)
	require.NoError(e.t, e.l.Update(e.ctx, func(w *ledger.Writer) error { return w.InsertRecord("claim", "c1", nil) }))
	e.requireBalance("member:a", "EUR", "99", "2")
	e.verify()
}

func testAllOrNothingOnError(t *testing.T, e *env) {
	e.setupEverything()
	before := e.snap()
	seen := map[string]string{}
	err := e.l.Update(e.ctx, func(w *ledger.Writer) error {
		if err := e.doEverything(w, seen); err != nil {
			return fmt.Errorf("doEverything: %w", err)
		}
		return errBoom
	})
	require.ErrorIs(t, err, errBoom)
	// The unit of work saw its own writes before it was undone.
	require.Equal(t, map[string]string{"b after post": "30", "a after capture": "65/15", "due": "1"}, seen)
	e.requireNothingOfEverything(before)
	e.requireUsableAfterRollback(before)
}

func testAllOrNothingOnPanic(t *testing.T, e *env) {
	e.setupEverything()
	before := e.snap()
	seen := map[string]string{}
	type panicValue struct{ msg string }
	pv := &panicValue{"storetest: panic inside Update"}
	require.PanicsWithValue(t, pv, func() {
		_ = e.l.Update(e.ctx, func(w *ledger.Writer) error {
			if err := e.doEverything(w, seen); err != nil {
				return fmt.Errorf("doEverything: %w", err)
			}
			panic(pv)
		})
	}, "the panic must propagate out of Update with its value")
	require.Len(t, seen, 3, "doEverything did not run to the end")
	e.requireNothingOfEverything(before)
	e.requireUsableAfterRollback(before)

	// The same at the store level, panicking right after a write.
	before = e.snap()
	require.Panics(t, func() {
		_ = e.store.Update(e.ctx, func(tx driver.Tx) error {
			if err := tx.PutRecord(driver.Record{Kind: "order", ID: "o9", Data: []byte("x")}); err != nil {
				return err
			}
			panic("storetest: store-level panic")
		})
	})
	e.requireUnchanged(before)
}

func testRefusedInsideCommittedUpdate(t *testing.T, e *env) {
	e.openAll("member:a", "member:b")
	e.fund("member:a", "EUR", "100")
	before := e.snap()
	var refusals []error
	require.NoError(t, e.l.Update(e.ctx, func(w *ledger.Writer) error {
		if _, err := w.Post(ledger.TransferRequest{Postings: []ledger.Posting{{From: "member:a", To: "member:b", Asset: "EUR", Amount: dec("10")}}}); err != nil {
			return err
		}
		// Each refused call returns its error and writes nothing; the unit of
		// work goes on and commits the rest.
		_, err := w.Post(ledger.TransferRequest{Key: "too-much", Postings: []ledger.Posting{{From: "member:a", To: "member:b", Asset: "EUR", Amount: dec("91")}}})
		refusals = append(refusals, err)
		_, err = w.Post(ledger.TransferRequest{Postings: []ledger.Posting{
			{From: "member:a", To: "member:b", Asset: "EUR", Amount: dec("1")},
			{From: "member:a", To: "member:b", Asset: "XYZ", Amount: dec("1")},
		}})
		refusals = append(refusals, err)
		_, err = w.Hold(ledger.HoldRequest{Account: "member:a", Asset: "EUR", Amount: dec("95"), ExpiresAt: w.Now().Add(time.Hour)})
		refusals = append(refusals, err)
		_, err = w.Capture(ledger.CaptureRequest{Hold: 999, Destinations: []ledger.Leg{{To: "member:b", Amount: dec("1")}}})
		refusals = append(refusals, err)
		_, err = w.Reverse(ledger.ReversalRequest{ID: 999})
		refusals = append(refusals, err)
		return w.PutRecord("order", "kept", []byte("yes"))
	}))
	want := []error{ledger.ErrInsufficientFunds, ledger.ErrUnknownAsset, ledger.ErrInsufficientFunds, ledger.ErrNotFound, ledger.ErrNotFound}
	require.Len(t, refusals, len(want))
	for i := range want {
		require.ErrorIs(t, refusals[i], want[i], "refusal %d", i)
	}
	after := e.snap()
	require.Equal(t, before.Head.ID+1, after.Head.ID, "exactly the one valid post was kept")
	require.Empty(t, after.Holds)
	require.Equal(t, []driver.Record{{Kind: "order", ID: "kept", Data: []byte("yes")}}, after.Records)
	e.requireBalance("member:a", "EUR", "90", "0")
	e.requireBalance("member:b", "EUR", "10", "0")
	_, err := e.l.TransactionByKey(e.ctx, "too-much")
	require.ErrorIs(t, err, ledger.ErrNotFound)
	e.verify()
}

func testUpdateBatchIsolation(t *testing.T, e *env) {
	// Store level: savepoints, a panicking item, later items see earlier ones.
	var sawR0, sawR1 error
	errs, err := e.store.UpdateBatch(e.ctx, []func(driver.Tx) error{
		func(tx driver.Tx) error {
			return tx.PutRecord(driver.Record{Kind: "order", ID: "r0", Data: []byte("0")})
		},
		func(tx driver.Tx) error {
			if err := tx.PutRecord(driver.Record{Kind: "order", ID: "r1", Data: []byte("1")}); err != nil {
				return err
			}
			if err := tx.Schedule(driver.DueEntry{Kind: "deadline", ID: "r1", At: epoch}); err != nil {
				return err
			}
			return errBoom
		},
		func(tx driver.Tx) error {
			if err := tx.PutRecord(driver.Record{Kind: "order", ID: "r2", Data: []byte("2")}); err != nil {
				return err
			}
			panic("storetest: batch item panics")
		},
		func(tx driver.Tx) error {
			_, sawR0 = tx.Record("order", "r0")
			_, sawR1 = tx.Record("order", "r1")
			return tx.PutRecord(driver.Record{Kind: "order", ID: "r3", Data: []byte("3")})
		},
	})
	require.NoError(t, err)
	require.Len(t, errs, 4)
	require.NoError(t, errs[0])
	require.ErrorIs(t, errs[1], errBoom)
	require.Error(t, errs[2], "a panicking item is reported as an error")
	require.NoError(t, errs[3])
	require.NoError(t, sawR0, "a batch item sees the items before it")
	require.ErrorIs(t, sawR1, ledger.ErrNotFound, "a failed item's writes are undone before the next runs")
	s := e.snap()
	require.Equal(t, []driver.Record{{Kind: "order", ID: "r0", Data: []byte("0")}, {Kind: "order", ID: "r3", Data: []byte("3")}}, s.Records)
	require.Empty(t, s.Due)

	// Ledger level: money and records of a failed item go together.
	e.openAll("member:a", "member:b", "member:c")
	e.fund("member:a", "EUR", "100")
	before := e.snap()
	errs, err = e.l.UpdateBatch(e.ctx, []func(*ledger.Writer) error{
		func(w *ledger.Writer) error {
			if _, err := w.Post(ledger.TransferRequest{Key: "k0", Postings: []ledger.Posting{{From: "member:a", To: "member:b", Asset: "EUR", Amount: dec("10")}}}); err != nil {
				return err
			}
			return w.SaveJSON("order", "o0", "kept")
		},
		func(w *ledger.Writer) error {
			if _, err := w.Post(ledger.TransferRequest{Key: "k1", Postings: []ledger.Posting{{From: "member:a", To: "member:b", Asset: "EUR", Amount: dec("20")}}}); err != nil {
				return err
			}
			if _, err := w.Hold(ledger.HoldRequest{Account: "member:a", Asset: "EUR", Amount: dec("5"), ExpiresAt: w.Now().Add(time.Hour)}); err != nil {
				return err
			}
			if err := w.SaveJSON("order", "o1", "undone"); err != nil {
				return err
			}
			return errBoom
		},
		func(w *ledger.Writer) error {
			if _, err := w.Post(ledger.TransferRequest{Postings: []ledger.Posting{{From: "member:a", To: "member:c", Asset: "EUR", Amount: dec("5")}}}); err != nil {
				return err
			}
			panic("storetest: batch item panics")
		},
		func(w *ledger.Writer) error {
			_, err := w.Post(ledger.TransferRequest{Postings: []ledger.Posting{{From: "member:a", To: "member:b", Asset: "EUR", Amount: dec("1000")}}})
			return err
		},
		func(w *ledger.Writer) error {
			// k1 is free again: item 1 was undone.
			_, err := w.Post(ledger.TransferRequest{Key: "k1", Postings: []ledger.Posting{{From: "member:a", To: "member:c", Asset: "EUR", Amount: dec("7")}}})
			return err
		},
	})
	require.NoError(t, err)
	require.Len(t, errs, 5)
	require.NoError(t, errs[0])
	require.ErrorIs(t, errs[1], errBoom)
	require.Error(t, errs[2])
	require.ErrorIs(t, errs[3], ledger.ErrInsufficientFunds)
	require.NoError(t, errs[4])
	after := e.snap()
	require.Equal(t, before.Head.ID+2, after.Head.ID)
	require.Empty(t, after.Holds)
	e.requireBalance("member:a", "EUR", "83", "0")
	e.requireBalance("member:b", "EUR", "10", "0")
	e.requireBalance("member:c", "EUR", "7", "0")
	tr, err := e.l.TransactionByKey(e.ctx, "k1")
	require.NoError(t, err)
	require.Equal(t, "member:c", tr.Postings[0].To)
	var recs []driver.Record
	for _, r := range after.Records {
		if r.Kind == "order" && (r.ID == "o0" || r.ID == "o1") {
			recs = append(recs, r)
		}
	}
	require.Equal(t, []driver.Record{{Kind: "order", ID: "o0", Data: []byte(`"kept"`)}}, recs)
	e.verify()
}

func testPostBatch(t *testing.T, e *env) {
	e.openAll("member:a", "member:b", "member:c")
	e.fund("member:a", "EUR", "100")
	before := e.snap()
	p := func(key, from, to, amount string) ledger.TransferRequest {
		return ledger.TransferRequest{Key: key, Postings: []ledger.Posting{{From: from, To: to, Asset: "EUR", Amount: dec(amount)}}}
	}
	reqs := []ledger.TransferRequest{
		p("b1", "member:a", "member:b", "10"),
		p("b2", "member:a", "member:b", "500"),
		p("b1", "member:a", "member:b", "10"), // replay inside the batch
		p("b1", "member:a", "member:b", "11"), // conflict inside the batch
		p("b3", "member:a", "member:nobody", "1"),
		p("", "member:b", "member:c", "4"), // spends what item 0 brought
	}
	res, err := e.l.PostBatch(e.ctx, reqs)
	require.NoError(t, err)
	require.Len(t, res, len(reqs))
	require.NoError(t, res[0].Err)
	require.ErrorIs(t, res[1].Err, ledger.ErrInsufficientFunds)
	require.NoError(t, res[2].Err)
	require.Equal(t, res[0].Transaction.ID, res[2].Transaction.ID, "a replay inside the batch returns the first transaction")
	require.ErrorIs(t, res[3].Err, ledger.ErrIdempotencyConflict)
	require.ErrorIs(t, res[4].Err, ledger.ErrUnknownAccount)
	require.NoError(t, res[5].Err)
	require.Equal(t, before.Head.ID+1, res[0].Transaction.ID)
	require.Equal(t, before.Head.ID+2, res[5].Transaction.ID)
	require.Equal(t, before.Head.ID+2, e.head().ID)
	e.requireBalance("member:a", "EUR", "90", "0")
	e.requireBalance("member:b", "EUR", "6", "0")
	e.requireBalance("member:c", "EUR", "4", "0")
	for _, i := range []int{1, 3, 4} {
		require.Zero(t, res[i].Transaction.ID, "a refused item has no transaction")
	}

	// The whole batch again: keyed items replay, the unkeyed one posts anew.
	res2, err := e.l.PostBatch(e.ctx, reqs)
	require.NoError(t, err)
	require.Equal(t, res[0].Transaction.ID, res2[0].Transaction.ID)
	require.NoError(t, res2[5].Err)
	require.Equal(t, before.Head.ID+3, res2[5].Transaction.ID)
	e.requireBalance("member:b", "EUR", "2", "0")
	e.verify()
}
