package storetest

import (
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/driver"
)

func testTransfers(t *testing.T, e *env) {
	e.openAll("member:a", "member:b", "member:c")
	tr := e.fund("member:a", "EUR", "100.50")
	require.Equal(t, ledger.KindTransfer, tr.Kind)
	require.True(t, tr.Time.Equal(epoch), "the transaction has the clock's time")

	e.clock.Advance(time.Minute)
	meta := map[string]string{"order": "42"}
	multi, err := e.l.Post(e.ctx, ledger.TransferRequest{Key: "multi", Metadata: meta, Postings: []ledger.Posting{
		{From: "member:a", To: "member:b", Asset: "EUR", Amount: dec("30.25")},
		{From: "member:a", To: "member:c", Asset: "EUR", Amount: dec("0.25")},
		{From: "member:b", To: "member:c", Asset: "EUR", Amount: dec("10")},
		{From: ledger.World, To: "member:c", Asset: "COIN", Amount: dec("7")},
	}})
	require.NoError(t, err)
	require.Equal(t, tr.ID+1, multi.ID)
	require.Equal(t, "multi", multi.Key)
	require.Equal(t, meta, multi.Metadata)
	require.True(t, multi.Time.Equal(epoch.Add(time.Minute)))
	require.Len(t, multi.Postings, 4)
	require.Equal(t, "member:b", multi.Postings[2].From)
	requireDec(t, "10", multi.Postings[2].Amount)

	e.requireBalance("member:a", "EUR", "70", "0")
	e.requireBalance("member:b", "EUR", "20.25", "0")
	e.requireBalance("member:c", "EUR", "10.25", "0")
	e.requireBalance("member:c", "COIN", "7", "0")
	e.requireBalance(ledger.World, "EUR", "-100.50", "0")
	e.requireBalance(ledger.World, "COIN", "-7", "0")

	// Read back as stored: postings in order, running balances filled in.
	got, err := e.l.Transaction(e.ctx, multi.ID)
	require.NoError(t, err)
	require.Equal(t, multi.Hash, got.Hash)
	require.Equal(t, multi.Postings[0].From, got.Postings[0].From)
	requireDec(t, "0.25", got.Postings[1].Amount)
	require.NoError(t, e.store.View(e.ctx, func(rt driver.ReadTx) error {
		st, err := rt.Transaction(multi.ID)
		require.NoError(t, err)
		want := []driver.Posting{
			{From: "member:a", To: "member:b", Asset: "EUR", Units: 3025, FromAfter: 7025, ToAfter: 3025},
			{From: "member:a", To: "member:c", Asset: "EUR", Units: 25, FromAfter: 7000, ToAfter: 25},
			{From: "member:b", To: "member:c", Asset: "EUR", Units: 1000, FromAfter: 2025, ToAfter: 1025},
			{From: ledger.World, To: "member:c", Asset: "COIN", Units: 7, FromAfter: -7, ToAfter: 7},
		}
		require.Equal(t, want, st.Postings)
		return nil
	}))
	rep := e.verify()
	require.Equal(t, 2, rep.Transactions)
	requireDec(t, "0", rep.Totals["EUR"])
}

func testLimits(t *testing.T, e *env) {
	e.openAll("member:a", "member:b")
	e.open("member:credit", ledger.Overdraft{Limits: map[string]decimal.Decimal{"EUR": dec("50")}})
	e.fund("member:a", "EUR", "10")

	// No overdraft by default: exactly the balance may go, not a cent more.
	before := e.snap()
	_, err := e.l.Transfer(e.ctx, "", "member:a", "member:b", "EUR", dec("10.01"))
	require.ErrorIs(t, err, ledger.ErrInsufficientFunds)
	e.requireUnchanged(before)
	e.transfer("", "member:a", "member:b", "EUR", "10")
	e.requireBalance("member:a", "EUR", "0", "0")

	// Only the net effect of a transaction counts: a spends 15 it receives 5
	// of in the same transaction, after receiving 10 first.
	e.fund("member:a", "EUR", "10")
	_, err = e.l.Post(e.ctx, ledger.TransferRequest{Postings: []ledger.Posting{
		{From: "member:a", To: "member:b", Asset: "EUR", Amount: dec("15")},
		{From: "member:b", To: "member:a", Asset: "EUR", Amount: dec("5")},
	}})
	require.NoError(t, err)
	e.requireBalance("member:a", "EUR", "0", "0")

	// A limit: down to -50 EUR, in EUR only.
	e.transfer("", "member:credit", "member:b", "EUR", "50")
	e.requireBalance("member:credit", "EUR", "-50", "0")
	before = e.snap()
	_, err = e.l.Transfer(e.ctx, "", "member:credit", "member:b", "EUR", dec("0.01"))
	require.ErrorIs(t, err, ledger.ErrInsufficientFunds)
	_, err = e.l.Transfer(e.ctx, "", "member:credit", "member:b", "COIN", dec("1"))
	require.ErrorIs(t, err, ledger.ErrInsufficientFunds, "a limit applies to its asset only")
	e.requireUnchanged(before)

	// Unbounded: World goes as low as it must.
	e.transfer("", ledger.World, "member:b", "COIN", "1000000000")
	e.requireBalance(ledger.World, "COIN", "-1000000000", "0")

	// Policies never change once opened; opening again the same way is fine.
	_, err = e.l.OpenAccount(e.ctx, ledger.AccountSpec{Address: "member:a", Overdraft: ledger.Overdraft{Unbounded: true}})
	require.ErrorIs(t, err, ledger.ErrAccountConflict)
	_, err = e.l.OpenAccount(e.ctx, ledger.AccountSpec{Address: "member:credit", Overdraft: ledger.Overdraft{Limits: map[string]decimal.Decimal{"EUR": dec("60")}}})
	require.ErrorIs(t, err, ledger.ErrAccountConflict)
	acc, err := e.l.OpenAccount(e.ctx, ledger.AccountSpec{Address: "member:credit", Overdraft: ledger.Overdraft{Limits: map[string]decimal.Decimal{"EUR": dec("50.00")}}})
	require.NoError(t, err)
	require.Equal(t, map[string]int64{"EUR": 5000}, acc.Limits)
	_, err = e.l.Transfer(e.ctx, "", "member:credit", "member:b", "EUR", dec("0.01"))
	require.ErrorIs(t, err, ledger.ErrInsufficientFunds, "the limit did not grow")
	e.verify()
}

func testRefusedRequests(t *testing.T, e *env) {
	e.openAll("member:a", "member:b")
	e.fund("member:a", "EUR", "100")
	e.fund("member:a", "COIN", "100")
	one := func(from, to, asset, amount string) []ledger.Posting {
		return []ledger.Posting{{From: from, To: to, Asset: asset, Amount: dec(amount)}}
	}
	tests := []struct {
		name     string
		postings []ledger.Posting
		want     error
	}{
		{"zero amount", one("member:a", "member:b", "EUR", "0"), ledger.ErrInvalidAmount},
		{"negative amount", one("member:a", "member:b", "EUR", "-5"), ledger.ErrInvalidAmount},
		{"too many decimals", one("member:a", "member:b", "EUR", "1.001"), ledger.ErrPrecision},
		{"decimals on a whole asset", one("member:a", "member:b", "COIN", "0.5"), ledger.ErrPrecision},
		{"unknown asset", one("member:a", "member:b", "XYZ", "1"), ledger.ErrUnknownAsset},
		{"unknown source", one("member:nobody", "member:b", "EUR", "1"), ledger.ErrUnknownAccount},
		{"unknown destination", one("member:a", "member:nobody", "EUR", "1"), ledger.ErrUnknownAccount},
		{"self posting", one("member:a", "member:a", "EUR", "1"), ledger.ErrInvalidTransaction},
		{"no postings", nil, ledger.ErrInvalidTransaction},
		{"insufficient funds", one("member:a", "member:b", "EUR", "100.01"), ledger.ErrInsufficientFunds},
		{"second posting invalid", []ledger.Posting{
			{From: "member:a", To: "member:b", Asset: "EUR", Amount: dec("1")},
			{From: "member:a", To: "member:b", Asset: "COIN", Amount: dec("-1")},
		}, ledger.ErrInvalidAmount},
		{"second posting overdraws", []ledger.Posting{
			{From: "member:a", To: "member:b", Asset: "EUR", Amount: dec("1")},
			{From: "member:a", To: "member:b", Asset: "COIN", Amount: dec("101")},
		}, ledger.ErrInsufficientFunds},
	}
	for _, tc := range tests {
		before := e.snap()
		key := "refused-" + tc.name
		_, err := e.l.Post(e.ctx, ledger.TransferRequest{Key: key, Postings: tc.postings})
		require.ErrorIs(t, err, tc.want, tc.name)
		e.requireUnchanged(before, tc.name)
		_, err = e.l.TransactionByKey(e.ctx, key)
		require.ErrorIs(t, err, ledger.ErrNotFound, "%s: a refused request does not take its key", tc.name)
	}
	// A refused key is free: once the funds are there, it posts.
	_, err := e.l.Transfer(e.ctx, "later", "member:b", "member:a", "EUR", dec("1"))
	require.ErrorIs(t, err, ledger.ErrInsufficientFunds)
	e.fund("member:b", "EUR", "1")
	e.transfer("later", "member:b", "member:a", "EUR", "1")
	e.requireBalance("member:a", "EUR", "101", "0")
	e.verify()
}

func testIdempotency(t *testing.T, e *env) {
	e.openAll("member:a", "member:b", "member:c")
	e.open("exchange", ledger.Overdraft{Unbounded: true})
	e.open("remainder", ledger.Overdraft{Unbounded: true})
	e.fund("member:a", "EUR", "100")

	// Transfers.
	first := e.transfer("pay-1", "member:a", "member:b", "EUR", "10")
	before := e.snap()
	again := e.transfer("pay-1", "member:a", "member:b", "EUR", "10.00")
	require.Equal(t, first.ID, again.ID)
	require.Equal(t, first.Hash, again.Hash)
	e.requireUnchanged(before, "a replay posts nothing")
	conflicts := []ledger.TransferRequest{
		{Key: "pay-1", Postings: []ledger.Posting{{From: "member:a", To: "member:b", Asset: "EUR", Amount: dec("11")}}},
		{Key: "pay-1", Postings: []ledger.Posting{{From: "member:a", To: "member:c", Asset: "EUR", Amount: dec("10")}}},
		{Key: "pay-1", Postings: []ledger.Posting{{From: "member:a", To: "member:b", Asset: "EUR", Amount: dec("10")}}, Metadata: map[string]string{"x": "y"}},
		{Key: "pay-1", Postings: []ledger.Posting{
			{From: "member:a", To: "member:b", Asset: "EUR", Amount: dec("5")},
			{From: "member:a", To: "member:b", Asset: "EUR", Amount: dec("5")},
		}},
	}
	for i, req := range conflicts {
		_, err := e.l.Post(e.ctx, req)
		require.ErrorIs(t, err, ledger.ErrIdempotencyConflict, "conflict %d", i)
	}
	e.requireUnchanged(before, "a conflicting replay posts nothing")
	byKey, err := e.l.TransactionByKey(e.ctx, "pay-1")
	require.NoError(t, err)
	require.Equal(t, first.ID, byKey.ID)

	// Holds.
	hreq := ledger.HoldRequest{Key: "hold-1", Account: "member:a", Asset: "EUR", Amount: dec("20"), ExpiresAt: epoch.Add(time.Hour)}
	h, err := e.l.Hold(e.ctx, hreq)
	require.NoError(t, err)
	before = e.snap()
	h2, err := e.l.Hold(e.ctx, hreq)
	require.NoError(t, err)
	require.Equal(t, h.ID, h2.ID)
	e.requireUnchanged(before, "a replayed hold reserves nothing more")
	hreq.Amount = dec("21")
	_, err = e.l.Hold(e.ctx, hreq)
	require.ErrorIs(t, err, ledger.ErrIdempotencyConflict)
	e.requireUnchanged(before)
	e.requireBalance("member:a", "EUR", "90", "20")

	// Captures.
	creq := ledger.CaptureRequest{Key: "cap-1", Hold: h.ID, Destinations: []ledger.Leg{{To: "member:c", Amount: dec("5")}}}
	c1, err := e.l.Capture(e.ctx, creq)
	require.NoError(t, err)
	before = e.snap()
	c2, err := e.l.Capture(e.ctx, creq)
	require.NoError(t, err)
	require.Equal(t, c1.ID, c2.ID)
	e.requireUnchanged(before, "a replayed capture moves nothing")
	creq.Destinations[0].Amount = dec("6")
	_, err = e.l.Capture(e.ctx, creq)
	require.ErrorIs(t, err, ledger.ErrIdempotencyConflict)
	_, err = e.l.Capture(e.ctx, ledger.CaptureRequest{Key: "pay-1", Hold: h.ID, Destinations: []ledger.Leg{{To: "member:b", Amount: dec("10")}}})
	require.ErrorIs(t, err, ledger.ErrIdempotencyConflict, "a transfer's key used for a capture")
	e.requireUnchanged(before)
	e.requireBalance("member:a", "EUR", "85", "15")

	// Conversions.
	rule := ledger.ConversionRule{From: "EUR", To: "COIN", Rate: ledger.NewRate(10, 1), Rounding: ledger.RoundDown, Exchange: "exchange", Remainder: "remainder"}
	vreq := ledger.ConversionRequest{Key: "conv-1", Rule: rule, From: "member:a", To: "member:b", Amount: dec("2.50")}
	v1, err := e.l.Convert(e.ctx, vreq)
	require.NoError(t, err)
	requireDec(t, "25", v1.Net)
	before = e.snap()
	v2, err := e.l.Convert(e.ctx, vreq)
	require.NoError(t, err)
	require.Equal(t, v1.Transaction.ID, v2.Transaction.ID)
	e.requireUnchanged(before, "a replayed conversion converts nothing")
	vreq.Amount = dec("2.60")
	_, err = e.l.Convert(e.ctx, vreq)
	require.ErrorIs(t, err, ledger.ErrIdempotencyConflict)
	vreq.Amount, vreq.Rule.Rate = dec("2.50"), ledger.NewRate(11, 1)
	_, err = e.l.Convert(e.ctx, vreq)
	require.ErrorIs(t, err, ledger.ErrIdempotencyConflict, "same amount at another rate")
	e.requireUnchanged(before)

	// Reversals.
	r1, err := e.l.Reverse(e.ctx, ledger.ReversalRequest{Key: "rev-1", ID: first.ID})
	require.NoError(t, err)
	before = e.snap()
	r2, err := e.l.Reverse(e.ctx, ledger.ReversalRequest{Key: "rev-1", ID: first.ID})
	require.NoError(t, err)
	require.Equal(t, r1.ID, r2.ID)
	_, err = e.l.Reverse(e.ctx, ledger.ReversalRequest{Key: "rev-1", ID: c1.ID})
	require.ErrorIs(t, err, ledger.ErrIdempotencyConflict)
	e.requireUnchanged(before)
	e.verify()
}

func testHolds(t *testing.T, e *env) {
	e.openAll("member:a", "member:b", "member:c")
	e.open("member:credit", ledger.Overdraft{Limits: map[string]decimal.Decimal{"EUR": dec("10")}})
	e.fund("member:a", "EUR", "100")
	exp := epoch.Add(time.Hour)

	h, err := e.l.Hold(e.ctx, ledger.HoldRequest{Account: "member:a", Asset: "EUR", Amount: dec("60"), ExpiresAt: exp, Metadata: map[string]string{"order": "7"}})
	require.NoError(t, err)
	require.Equal(t, ledger.HoldPending, h.Status)
	requireDec(t, "60", h.Remaining)
	require.True(t, h.ExpiresAt.Equal(exp))
	e.requireBalance("member:a", "EUR", "100", "60")

	// What is held cannot be spent or held twice.
	before := e.snap()
	_, err = e.l.Transfer(e.ctx, "", "member:a", "member:b", "EUR", dec("40.01"))
	require.ErrorIs(t, err, ledger.ErrInsufficientFunds)
	_, err = e.l.Hold(e.ctx, ledger.HoldRequest{Account: "member:a", Asset: "EUR", Amount: dec("40.01"), ExpiresAt: exp})
	require.ErrorIs(t, err, ledger.ErrInsufficientFunds)
	_, err = e.l.Hold(e.ctx, ledger.HoldRequest{Account: "member:a", Asset: "EUR", Amount: dec("1"), ExpiresAt: epoch})
	require.ErrorIs(t, err, ledger.ErrInvalidTransaction, "an expiry that is not after now")
	_, err = e.l.Hold(e.ctx, ledger.HoldRequest{Account: "member:a", Asset: "EUR", Amount: dec("0.001"), ExpiresAt: exp})
	require.ErrorIs(t, err, ledger.ErrPrecision)
	_, err = e.l.Hold(e.ctx, ledger.HoldRequest{Account: "member:a", Asset: "EUR", Amount: dec("0"), ExpiresAt: exp})
	require.ErrorIs(t, err, ledger.ErrInvalidAmount)
	_, err = e.l.Hold(e.ctx, ledger.HoldRequest{Account: "member:nobody", Asset: "EUR", Amount: dec("1"), ExpiresAt: exp})
	require.ErrorIs(t, err, ledger.ErrUnknownAccount)
	e.requireUnchanged(before)

	// Partial capture to several destinations.
	c1, err := e.l.Capture(e.ctx, ledger.CaptureRequest{Hold: h.ID, Destinations: []ledger.Leg{
		{To: "member:b", Amount: dec("10")}, {To: "member:c", Amount: dec("15")},
	}})
	require.NoError(t, err)
	require.Equal(t, ledger.KindCapture, c1.Kind)
	require.Equal(t, h.ID, c1.Hold)
	require.Len(t, c1.Postings, 2)
	e.requireBalance("member:a", "EUR", "75", "35")
	e.requireBalance("member:b", "EUR", "10", "0")
	e.requireBalance("member:c", "EUR", "15", "0")
	got, err := e.l.HoldByID(e.ctx, h.ID)
	require.NoError(t, err)
	require.Equal(t, ledger.HoldPending, got.Status)
	requireDec(t, "25", got.Captured)
	requireDec(t, "35", got.Remaining)
	require.Equal(t, map[string]string{"order": "7"}, got.Metadata)

	before = e.snap()
	_, err = e.l.Capture(e.ctx, ledger.CaptureRequest{Hold: h.ID, Destinations: []ledger.Leg{{To: "member:b", Amount: dec("35.01")}}})
	require.ErrorIs(t, err, ledger.ErrCaptureExceedsHold)
	_, err = e.l.Capture(e.ctx, ledger.CaptureRequest{Hold: h.ID, Destinations: []ledger.Leg{{To: "member:a", Amount: dec("1")}}})
	require.ErrorIs(t, err, ledger.ErrInvalidTransaction, "capture to the held account itself")
	_, err = e.l.Capture(e.ctx, ledger.CaptureRequest{Hold: 12345, Destinations: []ledger.Leg{{To: "member:b", Amount: dec("1")}}})
	require.ErrorIs(t, err, ledger.ErrNotFound)
	e.requireUnchanged(before)

	// The final capture releases the rest.
	_, err = e.l.Capture(e.ctx, ledger.CaptureRequest{Hold: h.ID, Final: true, Destinations: []ledger.Leg{{To: "member:b", Amount: dec("5")}}})
	require.NoError(t, err)
	e.requireBalance("member:a", "EUR", "70", "0")
	e.requireBalance("member:b", "EUR", "15", "0")
	got, err = e.l.HoldByID(e.ctx, h.ID)
	require.NoError(t, err)
	require.Equal(t, ledger.HoldCaptured, got.Status)
	requireDec(t, "30", got.Captured)
	requireDec(t, "0", got.Remaining)
	require.True(t, got.ClosedAt.Equal(epoch))
	before = e.snap()
	_, err = e.l.Capture(e.ctx, ledger.CaptureRequest{Hold: h.ID, Destinations: []ledger.Leg{{To: "member:b", Amount: dec("1")}}})
	require.ErrorIs(t, err, ledger.ErrHoldClosed)
	_, err = e.l.Void(e.ctx, h.ID)
	require.ErrorIs(t, err, ledger.ErrHoldClosed)
	e.requireUnchanged(before)

	// Capturing exactly what remains closes the hold without Final.
	h2, err := e.l.Hold(e.ctx, ledger.HoldRequest{Account: "member:a", Asset: "EUR", Amount: dec("8"), ExpiresAt: exp})
	require.NoError(t, err)
	_, err = e.l.Capture(e.ctx, ledger.CaptureRequest{Hold: h2.ID, Destinations: []ledger.Leg{{To: "member:c", Amount: dec("8")}}})
	require.NoError(t, err)
	got, err = e.l.HoldByID(e.ctx, h2.ID)
	require.NoError(t, err)
	require.Equal(t, ledger.HoldCaptured, got.Status)
	e.requireBalance("member:a", "EUR", "62", "0")

	// Void releases; voiding again changes nothing; capture is refused.
	h3, err := e.l.Hold(e.ctx, ledger.HoldRequest{Account: "member:a", Asset: "EUR", Amount: dec("30"), ExpiresAt: exp})
	require.NoError(t, err)
	e.requireBalance("member:a", "EUR", "62", "30")
	v, err := e.l.Void(e.ctx, h3.ID)
	require.NoError(t, err)
	require.Equal(t, ledger.HoldVoided, v.Status)
	requireDec(t, "0", v.Remaining)
	e.requireBalance("member:a", "EUR", "62", "0")
	before = e.snap()
	v2, err := e.l.Void(e.ctx, h3.ID)
	require.NoError(t, err)
	require.Equal(t, ledger.HoldVoided, v2.Status)
	_, err = e.l.Capture(e.ctx, ledger.CaptureRequest{Hold: h3.ID, Destinations: []ledger.Leg{{To: "member:b", Amount: dec("1")}}})
	require.ErrorIs(t, err, ledger.ErrHoldClosed)
	_, err = e.l.Void(e.ctx, 12345)
	require.ErrorIs(t, err, ledger.ErrNotFound)
	e.requireUnchanged(before)

	// A hold may use an overdraft limit, and no more.
	_, err = e.l.Hold(e.ctx, ledger.HoldRequest{Account: "member:credit", Asset: "EUR", Amount: dec("10.01"), ExpiresAt: exp})
	require.ErrorIs(t, err, ledger.ErrInsufficientFunds)
	hc, err := e.l.Hold(e.ctx, ledger.HoldRequest{Account: "member:credit", Asset: "EUR", Amount: dec("10"), ExpiresAt: exp})
	require.NoError(t, err)
	e.requireBalance("member:credit", "EUR", "0", "10")
	_, err = e.l.Capture(e.ctx, ledger.CaptureRequest{Hold: hc.ID, Final: true, Destinations: []ledger.Leg{{To: "member:b", Amount: dec("4")}}})
	require.NoError(t, err)
	e.requireBalance("member:credit", "EUR", "-4", "0")

	// Every closed hold is off the expiry index.
	require.NoError(t, e.l.View(e.ctx, func(r *ledger.Reader) error {
		due, err := r.Due(ledger.DueHoldExpiry, exp.Add(time.Hour), 100)
		require.NoError(t, err)
		require.Empty(t, due)
		return nil
	}))
	e.verify()
}

func testHoldExpiry(t *testing.T, e *env) {
	e.openAll("member:a", "member:b")
	e.fund("member:a", "EUR", "100")
	exp := epoch.Add(time.Hour)
	h1, err := e.l.Hold(e.ctx, ledger.HoldRequest{Account: "member:a", Asset: "EUR", Amount: dec("20"), ExpiresAt: exp})
	require.NoError(t, err)
	h2, err := e.l.Hold(e.ctx, ledger.HoldRequest{Account: "member:a", Asset: "EUR", Amount: dec("30"), ExpiresAt: exp.Add(time.Hour)})
	require.NoError(t, err)
	require.Greater(t, h2.ID, h1.ID, "hold IDs increase")
	require.NoError(t, e.l.View(e.ctx, func(r *ledger.Reader) error {
		due, err := r.Due(ledger.DueHoldExpiry, exp, 100)
		require.NoError(t, err)
		require.Len(t, due, 1, "only the first hold is due at its expiry")
		require.True(t, due[0].At.Equal(exp))
		return nil
	}))

	// Before the expiry nothing is released.
	e.clock.Advance(30 * time.Minute)
	n, err := e.l.Tick(e.ctx)
	require.NoError(t, err)
	require.Zero(t, n)
	_, err = e.l.Capture(e.ctx, ledger.CaptureRequest{Hold: h1.ID, Destinations: []ledger.Leg{{To: "member:b", Amount: dec("5")}}})
	require.NoError(t, err)
	e.requireBalance("member:a", "EUR", "95", "45")

	// At the expiry instant the hold is expired: capture refused even
	// before Tick, and Tick releases it.
	e.clock.Set(exp)
	before := e.snap()
	_, err = e.l.Capture(e.ctx, ledger.CaptureRequest{Hold: h1.ID, Destinations: []ledger.Leg{{To: "member:b", Amount: dec("1")}}})
	require.ErrorIs(t, err, ledger.ErrHoldExpired)
	e.requireUnchanged(before)
	n, err = e.l.Tick(e.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	e.requireBalance("member:a", "EUR", "95", "30")
	got, err := e.l.HoldByID(e.ctx, h1.ID)
	require.NoError(t, err)
	require.Equal(t, ledger.HoldExpired, got.Status)
	requireDec(t, "5", got.Captured)
	require.True(t, got.ClosedAt.Equal(exp))

	before = e.snap()
	n, err = e.l.Tick(e.ctx)
	require.NoError(t, err)
	require.Zero(t, n, "a second Tick finds nothing")
	_, err = e.l.Capture(e.ctx, ledger.CaptureRequest{Hold: h1.ID, Destinations: []ledger.Leg{{To: "member:b", Amount: dec("1")}}})
	require.ErrorIs(t, err, ledger.ErrHoldClosed)
	v, err := e.l.Void(e.ctx, h1.ID)
	require.NoError(t, err, "voiding an expired hold is harmless")
	require.Equal(t, ledger.HoldExpired, v.Status)
	e.requireUnchanged(before)

	// Many holds expire in one Tick; a voided one is not counted.
	var ids []uint64
	for i := 0; i < 5; i++ {
		h, err := e.l.Hold(e.ctx, ledger.HoldRequest{Account: "member:a", Asset: "EUR", Amount: dec("1"), ExpiresAt: exp.Add(time.Duration(90+i) * time.Minute)})
		require.NoError(t, err)
		ids = append(ids, h.ID)
	}
	_, err = e.l.Void(e.ctx, ids[2])
	require.NoError(t, err)
	e.clock.Advance(3 * time.Hour)
	n, err = e.l.Tick(e.ctx)
	require.NoError(t, err)
	require.Equal(t, 5, n, "h2 and the four pending small holds")
	e.requireBalance("member:a", "EUR", "95", "0")
	e.verify()
}

func testConversions(t *testing.T, e *env) {
	e.openAll("member:a", "member:b", "fees")
	e.open("exchange", ledger.Overdraft{Unbounded: true})
	e.open("remainder", ledger.Overdraft{Unbounded: true})
	e.fund("member:a", "EUR", "100")
	eur, coin := ledger.EUR, ledger.COIN

	// 1 EUR = 7/3 COIN. 10.50 EUR is worth 24.5 COIN: each rounding mode.
	base := ledger.ConversionRule{From: "EUR", To: "COIN", Rate: ledger.MustRate("7/3"), Rounding: ledger.RoundDown, Exchange: "exchange", Remainder: "remainder"}
	quotes := []struct {
		mode               ledger.Rounding
		gross, used, remdr int64
	}{
		{ledger.RoundDown, 24, 1029, 21},     // 24 COIN are worth 10.2857 EUR: 10.29 used
		{ledger.RoundUp, 25, 1072, -22},      // 25 COIN are worth 10.7143 EUR: 10.72 used, 0.22 more than given
		{ledger.RoundHalfUp, 25, 1072, -22},  // the tie goes up
		{ledger.RoundHalfEven, 24, 1029, 21}, // the tie goes to even
	}
	for _, q := range quotes {
		r := base
		r.Rounding = q.mode
		got, err := r.Quote(eur, coin, 1050)
		require.NoError(t, err, q.mode)
		require.Equal(t, ledger.Quote{In: 1050, Used: q.used, Remainder: q.remdr, Gross: q.gross, Net: q.gross}, got, q.mode)
	}

	// With a fee: 10% rounded up plus 1 COIN fixed. 10.00 EUR: gross
	// floor(23.33) = 23, used ceil(985.71) = 9.86 EUR, remainder 0.14 EUR,
	// fee ceil(2.3) + 1 = 4, net 19.
	feeRule := base
	feeRule.FeeRate, feeRule.FixedFee, feeRule.FeeRounding, feeRule.FeeAccount = dec("0.1"), dec("1"), ledger.RoundUp, "fees"
	conv, err := e.l.Convert(e.ctx, ledger.ConversionRequest{Rule: feeRule, From: "member:a", To: "member:b", Amount: dec("10")})
	require.NoError(t, err)
	requireDec(t, "10", conv.In)
	requireDec(t, "0.14", conv.Remainder)
	requireDec(t, "23", conv.Gross)
	requireDec(t, "4", conv.Fee)
	requireDec(t, "19", conv.Net)
	require.Equal(t, ledger.KindConversion, conv.Transaction.Kind)
	requirePostings(t, []ledger.Posting{
		{From: "member:a", To: "exchange", Asset: "EUR", Amount: dec("9.86")},
		{From: "member:a", To: "remainder", Asset: "EUR", Amount: dec("0.14")},
		{From: "exchange", To: "member:b", Asset: "COIN", Amount: dec("19")},
		{From: "exchange", To: "fees", Asset: "COIN", Amount: dec("4")},
	}, conv.Transaction.Postings)
	e.requireBalance("member:a", "EUR", "90", "0")
	e.requireBalance("member:b", "COIN", "19", "0")
	e.requireBalance("fees", "COIN", "4", "0")
	e.requireBalance("exchange", "EUR", "9.86", "0")
	e.requireBalance("exchange", "COIN", "-23", "0")
	e.requireBalance("remainder", "EUR", "0.14", "0")

	// Rounding up takes the shortfall from the remainder account.
	up := base
	up.Rounding = ledger.RoundUp
	conv, err = e.l.Convert(e.ctx, ledger.ConversionRequest{Rule: up, From: "member:a", To: "member:b", Amount: dec("10.50")})
	require.NoError(t, err)
	requireDec(t, "-0.22", conv.Remainder)
	requirePostings(t, []ledger.Posting{
		{From: "member:a", To: "exchange", Asset: "EUR", Amount: dec("10.50")},
		{From: "remainder", To: "exchange", Asset: "EUR", Amount: dec("0.22")},
		{From: "exchange", To: "member:b", Asset: "COIN", Amount: dec("25")},
	}, conv.Transaction.Postings)
	e.requireBalance("member:a", "EUR", "79.50", "0")
	e.requireBalance("remainder", "EUR", "-0.08", "0")
	e.requireBalance("member:b", "COIN", "44", "0")

	// Refused: worth less than one COIN, a fee that eats everything, more
	// than the payer has, an unknown asset, a malformed rule.
	before := e.snap()
	refused := []struct {
		name string
		rule ledger.ConversionRule
		amt  string
		want error
	}{
		{"worth less than a unit", base, "0.01", ledger.ErrInvalidAmount},
		{"fee eats everything", func() ledger.ConversionRule { r := feeRule; r.FixedFee = dec("2"); return r }(), "0.86", ledger.ErrInvalidAmount},
		{"insufficient funds", base, "79.51", ledger.ErrInsufficientFunds},
		{"too many decimals", base, "1.001", ledger.ErrPrecision},
		{"unknown asset", func() ledger.ConversionRule { r := base; r.To = "GEM"; return r }(), "1", ledger.ErrUnknownAsset},
		{"no rounding", func() ledger.ConversionRule { r := base; r.Rounding = ""; return r }(), "1", ledger.ErrInvalidRule},
		{"unknown exchange", func() ledger.ConversionRule { r := base; r.Exchange = "nowhere"; return r }(), "1", ledger.ErrUnknownAccount},
	}
	for _, tc := range refused {
		_, err := e.l.Convert(e.ctx, ledger.ConversionRequest{Rule: tc.rule, From: "member:a", To: "member:b", Amount: dec(tc.amt)})
		require.ErrorIs(t, err, tc.want, tc.name)
	}
	e.requireUnchanged(before)
	rep := e.verify()
	requireDec(t, "0", rep.Totals["EUR"])
	requireDec(t, "0", rep.Totals["COIN"])
}

// requirePostings compares postings by value.
func requirePostings(t *testing.T, want, got []ledger.Posting) {
	t.Helper()
	require.Len(t, got, len(want))
	for i := range want {
		require.Equal(t, want[i].From, got[i].From, "posting %d", i)
		require.Equal(t, want[i].To, got[i].To, "posting %d", i)
		require.Equal(t, want[i].Asset, got[i].Asset, "posting %d", i)
		requireDec(t, want[i].Amount.String(), got[i].Amount, "posting %d", i)
	}
}

func testReversals(t *testing.T, e *env) {
	e.openAll("member:a", "member:b", "member:c")
	e.fund("member:a", "EUR", "100")
	orig, err := e.l.Post(e.ctx, ledger.TransferRequest{Postings: []ledger.Posting{
		{From: "member:a", To: "member:b", Asset: "EUR", Amount: dec("30")},
		{From: "member:a", To: "member:c", Asset: "EUR", Amount: dec("5")},
	}})
	require.NoError(t, err)
	e.clock.Advance(time.Minute)
	rev, err := e.l.Reverse(e.ctx, ledger.ReversalRequest{ID: orig.ID, Metadata: map[string]string{"why": "refund"}})
	require.NoError(t, err)
	require.Equal(t, ledger.KindReversal, rev.Kind)
	require.Equal(t, orig.ID, rev.Reverses)
	require.Equal(t, map[string]string{"why": "refund"}, rev.Metadata)
	requirePostings(t, []ledger.Posting{
		{From: "member:c", To: "member:a", Asset: "EUR", Amount: dec("5")},
		{From: "member:b", To: "member:a", Asset: "EUR", Amount: dec("30")},
	}, rev.Postings)
	e.requireBalance("member:a", "EUR", "100", "0")
	e.requireBalance("member:b", "EUR", "0", "0")
	e.requireBalance("member:c", "EUR", "0", "0")

	before := e.snap()
	_, err = e.l.Reverse(e.ctx, ledger.ReversalRequest{ID: orig.ID})
	require.ErrorIs(t, err, ledger.ErrAlreadyReversed)
	_, err = e.l.Reverse(e.ctx, ledger.ReversalRequest{ID: rev.ID})
	require.ErrorIs(t, err, ledger.ErrInvalidTransaction, "a reversal cannot be reversed")
	_, err = e.l.Reverse(e.ctx, ledger.ReversalRequest{ID: 12345})
	require.ErrorIs(t, err, ledger.ErrNotFound)
	e.requireUnchanged(before)

	// A reversal obeys limits: b spent what it got, so it cannot give it back.
	t2 := e.transfer("", "member:a", "member:b", "EUR", "50")
	e.transfer("", "member:b", "member:c", "EUR", "50")
	before = e.snap()
	_, err = e.l.Reverse(e.ctx, ledger.ReversalRequest{ID: t2.ID})
	require.ErrorIs(t, err, ledger.ErrInsufficientFunds)
	e.requireUnchanged(before)
	e.transfer("", "member:c", "member:b", "EUR", "50")
	_, err = e.l.Reverse(e.ctx, ledger.ReversalRequest{ID: t2.ID})
	require.NoError(t, err)
	e.requireBalance("member:a", "EUR", "100", "0")

	// Captures can be reversed too.
	h, err := e.l.Hold(e.ctx, ledger.HoldRequest{Account: "member:a", Asset: "EUR", Amount: dec("10"), ExpiresAt: e.clock.Now().Add(time.Hour)})
	require.NoError(t, err)
	capt, err := e.l.Capture(e.ctx, ledger.CaptureRequest{Hold: h.ID, Final: true, Destinations: []ledger.Leg{{To: "member:c", Amount: dec("4")}}})
	require.NoError(t, err)
	_, err = e.l.Reverse(e.ctx, ledger.ReversalRequest{ID: capt.ID})
	require.NoError(t, err)
	e.requireBalance("member:a", "EUR", "100", "0")
	e.verify()
}
