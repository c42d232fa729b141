package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/driver"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
	"github.com/rewardkit/rewardkit/ledger/memstore"
)

// t0 is the time every test ledger starts at.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// Accounts of the test ledger.
const (
	alice     = "member:alice" // funded: 100.00 EUR, 100000 RUBY
	bob       = "member:bob"   // empty, no overdraft
	carol     = "member:carol" // empty, may go 50.00 EUR below zero
	exchange  = "exchange:ruby-eur"
	remainder = "exchange:remainder"
	fees      = "platform:fees"
)

// fixture is a memstore ledger with a manual clock, the assets EUR, RUBY
// and JPY, and the accounts above.
type fixture struct {
	l     *ledger.Ledger
	store *memstore.Store
	clock *ledgertest.Clock
	ctx   context.Context
}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	return newFixtureOn(tb, memstore.New())
}

// newFixtureOn builds the fixture's ledger over store, whose writes must
// reach the memstore ms.
func newFixtureOn(tb testing.TB, store driver.Store) *fixture {
	tb.Helper()
	f := &fixture{clock: ledgertest.NewClock(t0), ctx: context.Background()}
	if ms, ok := store.(*memstore.Store); ok {
		f.store = ms
	}
	f.l = ledger.New(store, ledger.WithClock(f.clock))
	err := f.l.Update(f.ctx, func(w *ledger.Writer) error {
		for _, a := range []ledger.Asset{ledger.EUR, ledger.RUBY, ledger.JPY} {
			if err := w.DefineAsset(a); err != nil {
				return err
			}
		}
		specs := []ledger.AccountSpec{
			{Address: ledger.World, Overdraft: ledger.Overdraft{Unbounded: true}},
			{Address: exchange, Overdraft: ledger.Overdraft{Unbounded: true}},
			{Address: remainder, Overdraft: ledger.Overdraft{Unbounded: true}},
			{Address: fees},
			{Address: alice},
			{Address: bob},
			{Address: carol, Overdraft: ledger.Overdraft{Limits: map[string]decimal.Decimal{"EUR": dec("50")}}},
		}
		for _, s := range specs {
			if _, err := w.OpenAccount(s); err != nil {
				return err
			}
		}
		return nil
	})
	require.NoError(tb, err)
	f.transfer(tb, "", ledger.World, alice, "EUR", "100.00")
	f.transfer(tb, "", ledger.World, alice, "RUBY", "100000")
	return f
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// transfer posts one posting and fails the test if it is refused.
func (f *fixture) transfer(tb testing.TB, key, from, to, asset, amount string) ledger.Transaction {
	tb.Helper()
	tr, err := f.l.Transfer(f.ctx, key, from, to, asset, dec(amount))
	require.NoError(tb, err)
	return tr
}

// posted returns an account's posted balance as a string with the asset's
// decimals.
func (f *fixture) posted(tb testing.TB, account, asset string) string {
	tb.Helper()
	b, err := f.l.Balance(f.ctx, account, asset)
	require.NoError(tb, err)
	a, err := assetOf(asset)
	require.NoError(tb, err)
	return b.Posted.StringFixed(a.Precision)
}

func assetOf(code string) (ledger.Asset, error) {
	for _, a := range []ledger.Asset{ledger.EUR, ledger.RUBY, ledger.JPY} {
		if a.Code == code {
			return a, nil
		}
	}
	return ledger.Asset{}, fmt.Errorf("no test asset %s", code)
}

// snapshot is everything a refused operation must leave as it was.
type snapshot struct {
	Head     driver.Head
	Assets   []driver.Asset
	Balances []driver.Balance
	Holds    []driver.Hold
	Due      []driver.DueEntry
}

func (f *fixture) snapshot(tb testing.TB) snapshot {
	tb.Helper()
	var s snapshot
	err := f.l.Store().View(f.ctx, func(rt driver.ReadTx) error {
		var err error
		if s.Head, err = rt.Head(); err != nil {
			return err
		}
		if s.Assets, err = rt.Assets(); err != nil {
			return err
		}
		if s.Balances, err = rt.Balances(driver.BalanceKey{}, math.MaxInt32); err != nil {
			return err
		}
		if s.Holds, err = rt.Holds(0, math.MaxInt32); err != nil {
			return err
		}
		s.Due, err = rt.Due(ledger.DueHoldExpiry, time.Unix(0, math.MaxInt64), math.MaxInt32)
		return err
	})
	require.NoError(tb, err)
	return s
}

// requireUnchanged fails the test if the ledger differs from before.
func (f *fixture) requireUnchanged(tb testing.TB, before snapshot) {
	tb.Helper()
	require.Equal(tb, before, f.snapshot(tb), "a refused operation changed the ledger")
}

// requireSound runs Verify and checks that every asset sums to zero.
func (f *fixture) requireSound(tb testing.TB) ledger.VerifyReport {
	tb.Helper()
	rep, err := f.l.Verify(f.ctx)
	require.NoError(tb, err)
	for code, total := range rep.Totals {
		require.True(tb, total.IsZero(), "%s sums to %s", code, total)
	}
	return rep
}

func posting(from, to, asset, amount string) ledger.Posting {
	return ledger.Posting{From: from, To: to, Asset: asset, Amount: dec(amount)}
}

func bigMetadata(entries, valueLen int) map[string]string {
	m := make(map[string]string, entries)
	for i := 0; i < entries; i++ {
		m["k"+strconv.Itoa(i)] = strings.Repeat("v", valueLen)
	}
	return m
}

func TestPostRefusedChangesNothing(t *testing.T) {
	tooMany := make([]ledger.Posting, 1025)
	for i := range tooMany {
		tooMany[i] = posting(alice, bob, "EUR", "0.01")
	}
	tests := []struct {
		name string
		req  ledger.TransferRequest
		want error
	}{
		{"zero amount", ledger.TransferRequest{Postings: []ledger.Posting{posting(alice, bob, "EUR", "0")}}, ledger.ErrInvalidAmount},
		{"negative amount", ledger.TransferRequest{Postings: []ledger.Posting{posting(alice, bob, "EUR", "-1.00")}}, ledger.ErrInvalidAmount},
		{"too many decimals", ledger.TransferRequest{Postings: []ledger.Posting{posting(alice, bob, "EUR", "1.001")}}, ledger.ErrPrecision},
		{"fractional ruby", ledger.TransferRequest{Postings: []ledger.Posting{posting(alice, bob, "RUBY", "0.5")}}, ledger.ErrPrecision},
		{"unknown asset", ledger.TransferRequest{Postings: []ledger.Posting{posting(alice, bob, "GBP", "1")}}, ledger.ErrUnknownAsset},
		{"unknown source", ledger.TransferRequest{Postings: []ledger.Posting{posting("member:nobody", bob, "EUR", "1")}}, ledger.ErrUnknownAccount},
		{"unknown destination", ledger.TransferRequest{Postings: []ledger.Posting{posting(alice, "member:nobody", "EUR", "1")}}, ledger.ErrUnknownAccount},
		{"to itself", ledger.TransferRequest{Postings: []ledger.Posting{posting(alice, alice, "EUR", "1")}}, ledger.ErrInvalidTransaction},
		{"no postings", ledger.TransferRequest{Key: "k"}, ledger.ErrInvalidTransaction},
		{"too many postings", ledger.TransferRequest{Postings: tooMany}, ledger.ErrInvalidTransaction},
		{"insufficient funds", ledger.TransferRequest{Postings: []ledger.Posting{posting(alice, bob, "EUR", "100.01")}}, ledger.ErrInsufficientFunds},
		{"insufficient over two postings", ledger.TransferRequest{Postings: []ledger.Posting{
			posting(alice, bob, "EUR", "60"), posting(alice, carol, "EUR", "40.01")}}, ledger.ErrInsufficientFunds},
		{"later posting bad", ledger.TransferRequest{Postings: []ledger.Posting{
			posting(alice, bob, "EUR", "1"), posting(bob, carol, "EUR", "0.001")}}, ledger.ErrPrecision},
		{"empty account has nothing", ledger.TransferRequest{Postings: []ledger.Posting{posting(bob, alice, "EUR", "0.01")}}, ledger.ErrInsufficientFunds},
		{"balance overflow", ledger.TransferRequest{Postings: []ledger.Posting{posting(ledger.World, alice, "EUR", "92233720368547758.07")}}, ledger.ErrOverflow},
		{"amount overflow", ledger.TransferRequest{Postings: []ledger.Posting{posting(ledger.World, alice, "EUR", "92233720368547758.08")}}, ledger.ErrOverflow},
		{"key too long", ledger.TransferRequest{Key: strings.Repeat("k", 257), Postings: []ledger.Posting{posting(alice, bob, "EUR", "1")}}, ledger.ErrInvalidTransaction},
		{"too many metadata entries", ledger.TransferRequest{Metadata: bigMetadata(65, 1), Postings: []ledger.Posting{posting(alice, bob, "EUR", "1")}}, ledger.ErrInvalidTransaction},
		{"metadata too large", ledger.TransferRequest{Metadata: map[string]string{"note": strings.Repeat("x", 4093)}, Postings: []ledger.Posting{posting(alice, bob, "EUR", "1")}}, ledger.ErrInvalidTransaction},
		{"empty metadata key", ledger.TransferRequest{Metadata: map[string]string{"": "x"}, Postings: []ledger.Posting{posting(alice, bob, "EUR", "1")}}, ledger.ErrInvalidTransaction},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			before := f.snapshot(t)
			tr, err := f.l.Post(f.ctx, tt.req)
			require.ErrorIs(t, err, tt.want)
			require.Equal(t, uint64(0), tr.ID)
			f.requireUnchanged(t, before)
			f.requireSound(t)
		})
	}
}

func TestMetadataLimitsAccepted(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name string
		key  string
		meta map[string]string
	}{
		{"64 entries", "a", bigMetadata(64, 1)},
		{"4096 bytes", "b", map[string]string{"note": strings.Repeat("x", 4092)}},
		{"256-byte key", strings.Repeat("k", 256), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, err := f.l.Post(f.ctx, ledger.TransferRequest{Key: tt.key, Metadata: tt.meta,
				Postings: []ledger.Posting{posting(alice, bob, "EUR", "1")}})
			require.NoError(t, err)
			got, err := f.l.Transaction(f.ctx, tr.ID)
			require.NoError(t, err)
			require.Equal(t, tt.key, got.Key)
			require.Equal(t, len(tt.meta), len(got.Metadata))
			for k, v := range tt.meta {
				require.Equal(t, v, got.Metadata[k])
			}
		})
	}
	f.requireSound(t)
}

func TestPostMovesMoney(t *testing.T) {
	f := newFixture(t)
	tr, err := f.l.Post(f.ctx, ledger.TransferRequest{Key: "split-1", Metadata: map[string]string{"order": "7"},
		Postings: []ledger.Posting{posting(alice, bob, "EUR", "12.50"), posting(alice, carol, "EUR", "0.05"), posting(alice, bob, "RUBY", "300")}})
	require.NoError(t, err)
	require.Equal(t, ledger.KindTransfer, tr.Kind)
	require.Equal(t, uint64(3), tr.ID, "transaction IDs are the journal's sequence")
	require.Equal(t, t0, tr.Time)
	require.Equal(t, "7", tr.Metadata["order"])
	require.Equal(t, "87.45", f.posted(t, alice, "EUR"))
	require.Equal(t, "12.50", f.posted(t, bob, "EUR"))
	require.Equal(t, "0.05", f.posted(t, carol, "EUR"))
	require.Equal(t, "99700", f.posted(t, alice, "RUBY"))
	require.Equal(t, "300", f.posted(t, bob, "RUBY"))

	bs, err := f.l.Balances(f.ctx, bob)
	require.NoError(t, err)
	require.Len(t, bs, 2)
	require.Equal(t, "EUR", bs[0].Asset)
	require.Equal(t, "RUBY", bs[1].Asset)

	byKey, err := f.l.TransactionByKey(f.ctx, "split-1")
	require.NoError(t, err)
	require.Equal(t, tr.ID, byKey.ID)
	require.Equal(t, tr.Hash, byKey.Hash)

	_, err = f.l.TransactionByKey(f.ctx, "nope")
	require.ErrorIs(t, err, ledger.ErrNotFound)
	_, err = f.l.Transaction(f.ctx, 999)
	require.ErrorIs(t, err, ledger.ErrNotFound)
	_, err = f.l.Balance(f.ctx, "member:nobody", "EUR")
	require.ErrorIs(t, err, ledger.ErrUnknownAccount)
	_, err = f.l.Balance(f.ctx, bob, "GBP")
	require.ErrorIs(t, err, ledger.ErrUnknownAsset)
	f.requireSound(t)
}

func TestPostIdempotency(t *testing.T) {
	f := newFixture(t)
	req := ledger.TransferRequest{Key: "pay-1", Metadata: map[string]string{"why": "gift"},
		Postings: []ledger.Posting{posting(alice, bob, "EUR", "100.00")}}
	first, err := f.l.Post(f.ctx, req)
	require.NoError(t, err)
	f.clock.Advance(time.Minute)

	t.Run("replay posts nothing", func(t *testing.T) {
		before := f.snapshot(t)
		// alice now has nothing left: a replay must still answer with the
		// original rather than judge the funds again.
		again, err := f.l.Post(f.ctx, req)
		require.NoError(t, err)
		require.Equal(t, first, again)
		f.requireUnchanged(t, before)
	})
	t.Run("same amount written differently is the same request", func(t *testing.T) {
		before := f.snapshot(t)
		r := req
		r.Postings = []ledger.Posting{posting(alice, bob, "EUR", "100")}
		again, err := f.l.Post(f.ctx, r)
		require.NoError(t, err)
		require.Equal(t, first.ID, again.ID)
		f.requireUnchanged(t, before)
	})
	conflicts := map[string]ledger.TransferRequest{
		"other amount":      {Key: "pay-1", Metadata: req.Metadata, Postings: []ledger.Posting{posting(alice, bob, "EUR", "99.99")}},
		"other destination": {Key: "pay-1", Metadata: req.Metadata, Postings: []ledger.Posting{posting(alice, carol, "EUR", "100.00")}},
		"other metadata":    {Key: "pay-1", Metadata: map[string]string{"why": "loan"}, Postings: req.Postings},
		"no metadata":       {Key: "pay-1", Postings: req.Postings},
		"extra posting":     {Key: "pay-1", Metadata: req.Metadata, Postings: []ledger.Posting{req.Postings[0], posting(ledger.World, bob, "EUR", "1")}},
	}
	for name, r := range conflicts {
		t.Run(name, func(t *testing.T) {
			before := f.snapshot(t)
			_, err := f.l.Post(f.ctx, r)
			require.ErrorIs(t, err, ledger.ErrIdempotencyConflict)
			f.requireUnchanged(t, before)
		})
	}
	t.Run("a key used by a reversal conflicts with a transfer", func(t *testing.T) {
		tr := f.transfer(t, "", ledger.World, carol, "EUR", "5")
		_, err := f.l.Reverse(f.ctx, ledger.ReversalRequest{Key: "undo-1", ID: tr.ID})
		require.NoError(t, err)
		before := f.snapshot(t)
		_, err = f.l.Post(f.ctx, ledger.TransferRequest{Key: "undo-1", Postings: []ledger.Posting{posting(carol, ledger.World, "EUR", "5")}})
		require.ErrorIs(t, err, ledger.ErrIdempotencyConflict)
		f.requireUnchanged(t, before)
	})
	f.requireSound(t)
}

func TestUpdateIsAllOrNothing(t *testing.T) {
	f := newFixture(t)
	before := f.snapshot(t)
	boom := errors.New("boom")
	err := f.l.Update(f.ctx, func(w *ledger.Writer) error {
		if _, err := w.Post(ledger.TransferRequest{Key: "in-uow", Postings: []ledger.Posting{posting(alice, bob, "EUR", "10")}}); err != nil {
			return err
		}
		if _, err := w.OpenAccount(ledger.AccountSpec{Address: "member:new"}); err != nil {
			return err
		}
		if err := w.DefineAsset(ledger.USD); err != nil {
			return err
		}
		if err := w.SaveJSON("order", "1", map[string]int{"n": 1}); err != nil {
			return err
		}
		b, err := w.Balance(bob, "EUR")
		if err != nil {
			return err
		}
		require.Equal(t, "10", b.Posted.String(), "the unit of work sees its own writes")
		return boom
	})
	require.ErrorIs(t, err, boom)
	f.requireUnchanged(t, before)
	_, err = f.l.TransactionByKey(f.ctx, "in-uow")
	require.ErrorIs(t, err, ledger.ErrNotFound)
	_, err = f.l.Balance(f.ctx, "member:new", "EUR")
	require.ErrorIs(t, err, ledger.ErrUnknownAccount)
	_, err = f.l.Balance(f.ctx, bob, "USD")
	require.ErrorIs(t, err, ledger.ErrUnknownAsset)
	err = f.l.View(f.ctx, func(r *ledger.Reader) error {
		_, err := r.Record("order", "1")
		return err
	})
	require.ErrorIs(t, err, ledger.ErrNotFound)
	// The key is free again: the rolled-back transaction never existed.
	tr := f.transfer(t, "in-uow", alice, bob, "EUR", "1")
	require.Equal(t, before.Head.ID+1, tr.ID)
	f.requireSound(t)
}

func TestOpenAccount(t *testing.T) {
	f := newFixture(t)
	f.clock.Advance(time.Hour)

	acc, err := f.l.OpenAccount(f.ctx, ledger.AccountSpec{Address: carol,
		Overdraft: ledger.Overdraft{Limits: map[string]decimal.Decimal{"EUR": dec("50.00")}}})
	require.NoError(t, err, "reopening with the same policy, written differently, is fine")
	require.Equal(t, t0, acc.CreatedAt, "reopening returns the original account")
	require.Equal(t, map[string]int64{"EUR": 5000}, acc.Limits)

	_, err = f.l.OpenAccount(f.ctx, ledger.AccountSpec{Address: bob,
		Overdraft: ledger.Overdraft{Limits: map[string]decimal.Decimal{"EUR": dec("0")}}})
	require.NoError(t, err, "a zero limit is the default policy")

	tests := []struct {
		name string
		spec ledger.AccountSpec
		want error
	}{
		{"other limit", ledger.AccountSpec{Address: carol, Overdraft: ledger.Overdraft{Limits: map[string]decimal.Decimal{"EUR": dec("50.01")}}}, ledger.ErrAccountConflict},
		{"limit dropped", ledger.AccountSpec{Address: carol}, ledger.ErrAccountConflict},
		{"limit in another asset", ledger.AccountSpec{Address: carol, Overdraft: ledger.Overdraft{Limits: map[string]decimal.Decimal{"EUR": dec("50"), "RUBY": dec("1")}}}, ledger.ErrAccountConflict},
		{"bounded made unbounded", ledger.AccountSpec{Address: bob, Overdraft: ledger.Overdraft{Unbounded: true}}, ledger.ErrAccountConflict},
		{"unbounded made bounded", ledger.AccountSpec{Address: ledger.World}, ledger.ErrAccountConflict},
		{"bad address", ledger.AccountSpec{Address: "member::1"}, ledger.ErrInvalidAddress},
		{"empty address", ledger.AccountSpec{}, ledger.ErrInvalidAddress},
		{"unbounded with limits", ledger.AccountSpec{Address: "member:x", Overdraft: ledger.Overdraft{Unbounded: true, Limits: map[string]decimal.Decimal{"EUR": dec("1")}}}, ledger.ErrInvalidTransaction},
		{"limit in unknown asset", ledger.AccountSpec{Address: "member:x", Overdraft: ledger.Overdraft{Limits: map[string]decimal.Decimal{"GBP": dec("1")}}}, ledger.ErrUnknownAsset},
		{"negative limit", ledger.AccountSpec{Address: "member:x", Overdraft: ledger.Overdraft{Limits: map[string]decimal.Decimal{"EUR": dec("-1")}}}, ledger.ErrInvalidAmount},
		{"limit too precise", ledger.AccountSpec{Address: "member:x", Overdraft: ledger.Overdraft{Limits: map[string]decimal.Decimal{"EUR": dec("1.001")}}}, ledger.ErrPrecision},
		{"metadata too large", ledger.AccountSpec{Address: "member:x", Metadata: bigMetadata(65, 1)}, ledger.ErrInvalidTransaction},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.snapshot(t)
			var old ledger.Account
			_ = f.l.View(f.ctx, func(r *ledger.Reader) error { old, _ = r.Account(tt.spec.Address); return nil })
			_, err := f.l.OpenAccount(f.ctx, tt.spec)
			require.ErrorIs(t, err, tt.want)
			f.requireUnchanged(t, before)
			var now ledger.Account
			_ = f.l.View(f.ctx, func(r *ledger.Reader) error { now, _ = r.Account(tt.spec.Address); return nil })
			require.Equal(t, old, now, "the account's policy is unchanged")
		})
	}
	err = f.l.View(f.ctx, func(r *ledger.Reader) error {
		_, err := r.Account("member:x")
		return err
	})
	require.ErrorIs(t, err, ledger.ErrUnknownAccount, "a refused open opened nothing")
}

func TestDefineAsset(t *testing.T) {
	f := newFixture(t)
	require.NoError(t, f.l.DefineAsset(f.ctx, ledger.EUR), "defining again with the same precision is a no-op")
	tests := []struct {
		name  string
		asset ledger.Asset
		want  error
	}{
		{"other precision", ledger.Asset{Code: "EUR", Precision: 3}, ledger.ErrAssetConflict},
		{"ruby with decimals", ledger.Asset{Code: "RUBY", Precision: 2}, ledger.ErrAssetConflict},
		{"bad code", ledger.Asset{Code: "gbp", Precision: 2}, ledger.ErrInvalidAsset},
		{"bad precision", ledger.Asset{Code: "GBP", Precision: 19}, ledger.ErrInvalidAsset},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.snapshot(t)
			require.ErrorIs(t, f.l.DefineAsset(f.ctx, tt.asset), tt.want)
			f.requireUnchanged(t, before)
		})
	}
	// The precision that counts is still the first one.
	_, err := f.l.Transfer(f.ctx, "", alice, bob, "EUR", dec("0.001"))
	require.ErrorIs(t, err, ledger.ErrPrecision)
}

func TestOverdraftLimits(t *testing.T) {
	f := newFixture(t)
	f.transfer(t, "", carol, bob, "EUR", "49.99")
	f.transfer(t, "", carol, bob, "EUR", "0.01") // exactly at the limit
	b, err := f.l.Balance(f.ctx, carol, "EUR")
	require.NoError(t, err)
	require.True(t, b.Posted.Equal(dec("-50")), "posted %s", b.Posted)
	require.True(t, b.Available.Equal(dec("-50")), "available %s", b.Available)

	for _, tc := range []struct{ from, asset, amount string }{
		{carol, "EUR", "0.01"}, // one cent past the limit
		{carol, "RUBY", "1"},   // no limit in RUBY
		{bob, "JPY", "1"},      // no limit at all
	} {
		before := f.snapshot(t)
		_, err := f.l.Transfer(f.ctx, "", tc.from, alice, tc.asset, dec(tc.amount))
		require.ErrorIs(t, err, ledger.ErrInsufficientFunds)
		require.Contains(t, err.Error(), tc.from, "the error names the account")
		f.requireUnchanged(t, before)
	}
	// Money coming in is always accepted, and a transfer that leaves the
	// account better off than before is judged only on its net result.
	_, err = f.l.Post(f.ctx, ledger.TransferRequest{Postings: []ledger.Posting{
		posting(carol, bob, "EUR", "10"), posting(alice, carol, "EUR", "10.00")}})
	require.NoError(t, err)
	require.Equal(t, "-50.00", f.posted(t, carol, "EUR"))

	// World is unbounded.
	f.transfer(t, "", ledger.World, bob, "EUR", "1000000")
	require.Equal(t, "-1000100.00", f.posted(t, ledger.World, "EUR"))
	f.requireSound(t)
}

func TestClockSteppingBackIsClamped(t *testing.T) {
	f := newFixture(t)
	f.clock.Set(t0.Add(time.Hour))
	first := f.transfer(t, "", alice, bob, "EUR", "1")
	require.Equal(t, t0.Add(time.Hour), first.Time)

	f.clock.Set(t0.Add(-24 * time.Hour)) // the wall clock stepped back a day
	second := f.transfer(t, "", alice, bob, "EUR", "1")
	require.Equal(t, first.Time, second.Time, "a transaction's time never precedes the one before")

	f.clock.Set(t0.Add(2 * time.Hour))
	third := f.transfer(t, "", alice, bob, "EUR", "1")
	require.Equal(t, t0.Add(2*time.Hour), third.Time)

	// Journal times are non-decreasing, so BalanceAt stays meaningful.
	at, err := f.l.BalanceAt(f.ctx, bob, "EUR", t0.Add(time.Hour))
	require.NoError(t, err)
	require.True(t, at.Equal(dec("2")), "bob had %s at t0+1h", at)
	f.requireSound(t)
}

func TestBalanceAt(t *testing.T) {
	f := newFixture(t) // funding at t0
	times := []time.Time{t0.Add(time.Minute), t0.Add(time.Hour), t0.Add(25 * time.Hour)}
	amounts := []string{"1.00", "2.50", "0.25"}
	for i, at := range times {
		f.clock.Set(at)
		f.transfer(t, "", alice, bob, "EUR", amounts[i])
	}
	tests := []struct {
		at   time.Time
		want string
	}{
		{t0.Add(-time.Nanosecond), "0"},
		{t0, "0"},
		{times[0].Add(-time.Nanosecond), "0"},
		{times[0], "1"},
		{times[1].Add(-time.Nanosecond), "1"},
		{times[1], "3.5"},
		{times[2], "3.75"},
		{times[2].Add(365 * 24 * time.Hour), "3.75"},
	}
	for _, tt := range tests {
		got, err := f.l.BalanceAt(f.ctx, bob, "EUR", tt.at)
		require.NoError(t, err)
		require.True(t, got.Equal(dec(tt.want)), "bob at %s: %s, want %s", tt.at, got, tt.want)
	}
	aliceBefore, err := f.l.BalanceAt(f.ctx, alice, "EUR", t0)
	require.NoError(t, err)
	require.True(t, aliceBefore.Equal(dec("100")), "alice at t0: %s", aliceBefore)

	_, err = f.l.BalanceAt(f.ctx, "member:nobody", "EUR", t0)
	require.ErrorIs(t, err, ledger.ErrUnknownAccount)
	_, err = f.l.BalanceAt(f.ctx, bob, "GBP", t0)
	require.ErrorIs(t, err, ledger.ErrUnknownAsset)
}

func TestHistoryPaging(t *testing.T) {
	f := newFixture(t)
	const n = 25
	var want []ledger.HistoryEntry
	running := decimal.Zero
	for i := 1; i <= n; i++ {
		f.clock.Advance(time.Second)
		amount := decimal.New(int64(i), -2)
		from, to := alice, bob
		if i%5 == 0 {
			from, to = bob, alice // bob pays some back
			amount = decimal.New(int64(i), -3).Round(2)
		}
		tr := f.transfer(t, "", from, to, "EUR", amount.String())
		change := amount
		if from == bob {
			change = amount.Neg()
		}
		running = running.Add(change)
		want = append(want, ledger.HistoryEntry{Transaction: tr.ID, Time: tr.Time, Change: change, Balance: running})
	}
	f.transfer(t, "", alice, carol, "EUR", "1") // not bob's

	var got []ledger.HistoryEntry
	var pages []int
	q := ledger.HistoryQuery{Account: bob, Asset: "EUR", Limit: 10}
	for {
		page, err := f.l.History(f.ctx, q)
		require.NoError(t, err)
		got = append(got, page.Entries...)
		pages = append(pages, len(page.Entries))
		if page.Next == 0 {
			break
		}
		require.Equal(t, page.Entries[len(page.Entries)-1].Transaction, page.Next)
		q.After = page.Next
	}
	require.Equal(t, []int{10, 10, 5}, pages)
	require.Len(t, got, n)
	for i := range want {
		require.Equal(t, want[i].Transaction, got[i].Transaction)
		require.Equal(t, want[i].Time, got[i].Time)
		require.Equal(t, 0, got[i].Posting)
		require.True(t, want[i].Change.Equal(got[i].Change), "entry %d change %s, want %s", i, got[i].Change, want[i].Change)
		require.True(t, want[i].Balance.Equal(got[i].Balance), "entry %d balance %s, want %s", i, got[i].Balance, want[i].Balance)
	}
	b, err := f.l.Balance(f.ctx, bob, "EUR")
	require.NoError(t, err)
	require.True(t, b.Posted.Equal(running))

	all, err := f.l.History(f.ctx, ledger.HistoryQuery{Account: bob, Asset: "EUR"})
	require.NoError(t, err)
	require.Len(t, all.Entries, n, "limit 0 means a default page of 100")
	require.Equal(t, uint64(0), all.Next)

	exact, err := f.l.History(f.ctx, ledger.HistoryQuery{Account: bob, Asset: "EUR", Limit: n})
	require.NoError(t, err)
	require.Len(t, exact.Entries, n)
	require.Equal(t, uint64(0), exact.Next, "a page that ends the history has no next cursor")

	empty, err := f.l.History(f.ctx, ledger.HistoryQuery{Account: bob, Asset: "JPY"})
	require.NoError(t, err)
	require.Len(t, empty.Entries, 0)

	_, err = f.l.History(f.ctx, ledger.HistoryQuery{Account: "member:nobody", Asset: "EUR"})
	require.ErrorIs(t, err, ledger.ErrUnknownAccount)
	_, err = f.l.History(f.ctx, ledger.HistoryQuery{Account: bob, Asset: "GBP"})
	require.ErrorIs(t, err, ledger.ErrUnknownAsset)
}

func TestTransactionsPaging(t *testing.T) {
	f := newFixture(t)
	for i := 0; i < 7; i++ {
		f.transfer(t, "", alice, bob, "EUR", "1")
	}
	var ids []uint64
	after := uint64(0)
	for {
		var page []ledger.Transaction
		var next uint64
		err := f.l.View(f.ctx, func(r *ledger.Reader) error {
			var err error
			page, next, err = r.Transactions(after, 4)
			return err
		})
		require.NoError(t, err)
		for _, tr := range page {
			ids = append(ids, tr.ID)
		}
		if next == 0 {
			break
		}
		after = next
	}
	require.Equal(t, []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9}, ids)
}

func TestReverse(t *testing.T) {
	f := newFixture(t)
	orig, err := f.l.Post(f.ctx, ledger.TransferRequest{Postings: []ledger.Posting{
		posting(alice, bob, "EUR", "10"), posting(alice, carol, "RUBY", "500")}})
	require.NoError(t, err)

	rev, err := f.l.Reverse(f.ctx, ledger.ReversalRequest{Key: "rev-1", ID: orig.ID, Metadata: map[string]string{"reason": "refund"}})
	require.NoError(t, err)
	require.Equal(t, ledger.KindReversal, rev.Kind)
	require.Equal(t, orig.ID, rev.Reverses)
	require.Equal(t, []ledger.Posting{posting(carol, alice, "RUBY", "500"), posting(bob, alice, "EUR", "10.00")}, rev.Postings)
	require.Equal(t, "100.00", f.posted(t, alice, "EUR"))
	require.Equal(t, "100000", f.posted(t, alice, "RUBY"))
	require.Equal(t, "0.00", f.posted(t, bob, "EUR"))

	t.Run("replay by key", func(t *testing.T) {
		before := f.snapshot(t)
		again, err := f.l.Reverse(f.ctx, ledger.ReversalRequest{Key: "rev-1", ID: orig.ID, Metadata: map[string]string{"reason": "refund"}})
		require.NoError(t, err)
		require.Equal(t, rev, again)
		f.requireUnchanged(t, before)
	})

	other := f.transfer(t, "", alice, bob, "EUR", "20")
	spent := f.transfer(t, "", alice, bob, "EUR", "5")
	f.transfer(t, "", bob, carol, "EUR", "25") // bob spends it
	tests := []struct {
		name string
		req  ledger.ReversalRequest
		want error
	}{
		{"twice", ledger.ReversalRequest{ID: orig.ID}, ledger.ErrAlreadyReversed},
		{"twice with a new key", ledger.ReversalRequest{Key: "rev-2", ID: orig.ID}, ledger.ErrAlreadyReversed},
		{"a reversal", ledger.ReversalRequest{ID: rev.ID}, ledger.ErrInvalidTransaction},
		{"unknown", ledger.ReversalRequest{ID: 9999}, ledger.ErrNotFound},
		{"key reused for another transaction", ledger.ReversalRequest{Key: "rev-1", ID: other.ID, Metadata: map[string]string{"reason": "refund"}}, ledger.ErrIdempotencyConflict},
		{"key replay with other metadata", ledger.ReversalRequest{Key: "rev-1", ID: orig.ID}, ledger.ErrIdempotencyConflict},
		{"funds already spent", ledger.ReversalRequest{ID: spent.ID}, ledger.ErrInsufficientFunds},
		{"bad metadata", ledger.ReversalRequest{ID: other.ID, Metadata: map[string]string{"": ""}}, ledger.ErrInvalidTransaction},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.snapshot(t)
			_, err := f.l.Reverse(f.ctx, tt.req)
			require.ErrorIs(t, err, tt.want)
			f.requireUnchanged(t, before)
		})
	}
	f.requireSound(t)
}

func TestHistoryPagesNeverSplitATransaction(t *testing.T) {
	f := newFixture(t)
	f.transfer(t, "", alice, bob, "EUR", "1")                                    // 3
	f.transfer(t, "", alice, bob, "EUR", "2")                                    // 4
	_, err := f.l.Post(f.ctx, ledger.TransferRequest{Postings: []ledger.Posting{ // 5: three postings into bob
		posting(alice, bob, "EUR", "3"), posting(ledger.World, bob, "EUR", "4"), posting(bob, carol, "EUR", "0.50")}})
	require.NoError(t, err)
	f.transfer(t, "", alice, bob, "EUR", "5") // 6

	type entry struct {
		tx      uint64
		posting int
		change  string
		balance string
	}
	want := []entry{{3, 0, "1", "1"}, {4, 0, "2", "3"}, {5, 0, "3", "6"}, {5, 1, "4", "10"}, {5, 2, "-0.5", "9.5"}, {6, 0, "5", "14.5"}}
	for _, tc := range []struct {
		limit int
		pages []int
	}{
		{1, []int{1, 1, 3, 1}}, // a transaction larger than the page comes whole
		{2, []int{2, 3, 1}},
		{3, []int{2, 3, 1}}, // the page ends before transaction 5 rather than inside it
		{4, []int{2, 4}},
		{5, []int{5, 1}},
		{6, []int{6}},
	} {
		t.Run(strconv.Itoa(tc.limit), func(t *testing.T) {
			var got []entry
			var pages []int
			q := ledger.HistoryQuery{Account: bob, Asset: "EUR", Limit: tc.limit}
			for {
				page, err := f.l.History(f.ctx, q)
				require.NoError(t, err)
				for _, e := range page.Entries {
					got = append(got, entry{e.Transaction, e.Posting, e.Change.String(), e.Balance.String()})
				}
				pages = append(pages, len(page.Entries))
				if page.Next == 0 {
					break
				}
				require.Equal(t, page.Entries[len(page.Entries)-1].Transaction, page.Next)
				q.After = page.Next
			}
			require.Equal(t, want, got)
			require.Equal(t, tc.pages, pages)
		})
	}
}

func TestPostBatchIsolatesRefusals(t *testing.T) {
	f := newFixture(t)
	reqs := []ledger.TransferRequest{
		{Key: "b-1", Postings: []ledger.Posting{posting(alice, bob, "EUR", "10")}},
		{Key: "b-2", Postings: []ledger.Posting{posting(bob, carol, "EUR", "10.01")}}, // bob has only 10
		{Key: "b-3", Postings: []ledger.Posting{posting(bob, carol, "EUR", "4")}},     // sees b-1
		{Key: "b-1", Postings: []ledger.Posting{posting(alice, bob, "EUR", "11")}},    // key conflict
		{Key: "b-1", Postings: []ledger.Posting{posting(alice, bob, "EUR", "10")}},    // replay within the batch
	}
	res, err := f.l.PostBatch(f.ctx, reqs)
	require.NoError(t, err)
	require.Len(t, res, len(reqs))
	require.NoError(t, res[0].Err)
	require.ErrorIs(t, res[1].Err, ledger.ErrInsufficientFunds)
	require.Equal(t, uint64(0), res[1].Transaction.ID)
	require.NoError(t, res[2].Err)
	require.ErrorIs(t, res[3].Err, ledger.ErrIdempotencyConflict)
	require.NoError(t, res[4].Err)
	require.Equal(t, res[0].Transaction.ID, res[4].Transaction.ID)
	require.Equal(t, res[0].Transaction.ID+1, res[2].Transaction.ID, "a refused item takes no ID")

	require.Equal(t, "90.00", f.posted(t, alice, "EUR"))
	require.Equal(t, "6.00", f.posted(t, bob, "EUR"))
	require.Equal(t, "4.00", f.posted(t, carol, "EUR"))
	_, err = f.l.TransactionByKey(f.ctx, "b-2")
	require.ErrorIs(t, err, ledger.ErrNotFound)
	f.requireSound(t)
}
