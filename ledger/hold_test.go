package ledger_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
)

// balanceOf returns posted, held and available as strings.
func (f *fixture) balanceOf(tb testing.TB, account, asset string) (posted, held, available string) {
	tb.Helper()
	b, err := f.l.Balance(f.ctx, account, asset)
	require.NoError(tb, err)
	a, err := assetOf(asset)
	require.NoError(tb, err)
	return b.Posted.StringFixed(a.Precision), b.Held.StringFixed(a.Precision), b.Available.StringFixed(a.Precision)
}

func (f *fixture) hold(tb testing.TB, key, account, asset, amount string, ttl time.Duration) ledger.Hold {
	tb.Helper()
	h, err := f.l.Hold(f.ctx, ledger.HoldRequest{Key: key, Account: account, Asset: asset, Amount: dec(amount), ExpiresAt: f.clock.Now().Add(ttl)})
	require.NoError(tb, err)
	return h
}

func TestHoldReservesFunds(t *testing.T) {
	f := newFixture(t)
	h := f.hold(t, "", alice, "EUR", "30.00", time.Hour)
	require.Equal(t, ledger.HoldPending, h.Status)
	require.True(t, h.Remaining.Equal(dec("30")))
	require.Equal(t, t0, h.CreatedAt)
	require.Equal(t, t0.Add(time.Hour), h.ExpiresAt)
	require.True(t, h.ClosedAt.IsZero())

	p, held, avail := f.balanceOf(t, alice, "EUR")
	require.Equal(t, []string{"100.00", "30.00", "70.00"}, []string{p, held, avail})

	// Held funds cannot be spent, by transfer or by another hold.
	before := f.snapshot(t)
	_, err := f.l.Transfer(f.ctx, "", alice, bob, "EUR", dec("70.01"))
	require.ErrorIs(t, err, ledger.ErrInsufficientFunds)
	f.requireUnchanged(t, before)
	f.transfer(t, "", alice, bob, "EUR", "70.00")

	// An account with an overdraft may hold into it.
	hc := f.hold(t, "", carol, "EUR", "50.00", time.Hour)
	p, held, avail = f.balanceOf(t, carol, "EUR")
	require.Equal(t, []string{"0.00", "50.00", "-50.00"}, []string{p, held, avail})
	got, err := f.l.HoldByID(f.ctx, hc.ID)
	require.NoError(t, err)
	require.Equal(t, hc, got)
	f.requireSound(t)
}

func TestHoldRefusedChangesNothing(t *testing.T) {
	f := newFixture(t)
	f.hold(t, "taken", alice, "EUR", "1", time.Hour)
	in := func(d time.Duration) time.Time { return t0.Add(d) }
	tests := []struct {
		name string
		req  ledger.HoldRequest
		want error
	}{
		{"zero", ledger.HoldRequest{Account: alice, Asset: "EUR", Amount: dec("0"), ExpiresAt: in(time.Hour)}, ledger.ErrInvalidAmount},
		{"negative", ledger.HoldRequest{Account: alice, Asset: "EUR", Amount: dec("-1"), ExpiresAt: in(time.Hour)}, ledger.ErrInvalidAmount},
		{"too precise", ledger.HoldRequest{Account: alice, Asset: "EUR", Amount: dec("0.001"), ExpiresAt: in(time.Hour)}, ledger.ErrPrecision},
		{"unknown asset", ledger.HoldRequest{Account: alice, Asset: "GBP", Amount: dec("1"), ExpiresAt: in(time.Hour)}, ledger.ErrUnknownAsset},
		{"unknown account", ledger.HoldRequest{Account: "member:nobody", Asset: "EUR", Amount: dec("1"), ExpiresAt: in(time.Hour)}, ledger.ErrUnknownAccount},
		{"expires now", ledger.HoldRequest{Account: alice, Asset: "EUR", Amount: dec("1"), ExpiresAt: in(0)}, ledger.ErrInvalidTransaction},
		{"expired already", ledger.HoldRequest{Account: alice, Asset: "EUR", Amount: dec("1"), ExpiresAt: in(-time.Second)}, ledger.ErrInvalidTransaction},
		{"more than available", ledger.HoldRequest{Account: alice, Asset: "EUR", Amount: dec("99.01"), ExpiresAt: in(time.Hour)}, ledger.ErrInsufficientFunds},
		{"past the overdraft", ledger.HoldRequest{Account: carol, Asset: "EUR", Amount: dec("50.01"), ExpiresAt: in(time.Hour)}, ledger.ErrInsufficientFunds},
		{"key reused", ledger.HoldRequest{Key: "taken", Account: alice, Asset: "EUR", Amount: dec("2"), ExpiresAt: in(time.Hour)}, ledger.ErrIdempotencyConflict},
		{"bad metadata", ledger.HoldRequest{Account: alice, Asset: "EUR", Amount: dec("1"), ExpiresAt: in(time.Hour), Metadata: map[string]string{"": "x"}}, ledger.ErrInvalidTransaction},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.snapshot(t)
			h, err := f.l.Hold(f.ctx, tt.req)
			require.ErrorIs(t, err, tt.want)
			require.Equal(t, uint64(0), h.ID)
			f.requireUnchanged(t, before)
		})
	}
	f.requireSound(t)
}

func TestHoldOverflow(t *testing.T) {
	f := newFixture(t)
	max := "92233720368547758.07" // math.MaxInt64 cents
	f.hold(t, "", ledger.World, "EUR", max, time.Hour)
	before := f.snapshot(t)
	_, err := f.l.Hold(f.ctx, ledger.HoldRequest{Account: ledger.World, Asset: "EUR", Amount: dec("0.01"), ExpiresAt: t0.Add(time.Hour)})
	require.ErrorIs(t, err, ledger.ErrOverflow)
	f.requireUnchanged(t, before)
}

func TestCapture(t *testing.T) {
	f := newFixture(t)
	h := f.hold(t, "", alice, "EUR", "30.00", time.Hour)
	f.clock.Advance(time.Minute)

	// Part of it, to two destinations.
	tr, err := f.l.Capture(f.ctx, ledger.CaptureRequest{Hold: h.ID, Destinations: []ledger.Leg{
		{To: bob, Amount: dec("10")}, {To: fees, Amount: dec("0.50")}}})
	require.NoError(t, err)
	require.Equal(t, ledger.KindCapture, tr.Kind)
	require.Equal(t, h.ID, tr.Hold)
	require.Equal(t, []ledger.Posting{posting(alice, bob, "EUR", "10.00"), posting(alice, fees, "EUR", "0.50")}, tr.Postings)
	p, held, avail := f.balanceOf(t, alice, "EUR")
	require.Equal(t, []string{"89.50", "19.50", "70.00"}, []string{p, held, avail})
	got, err := f.l.HoldByID(f.ctx, h.ID)
	require.NoError(t, err)
	require.Equal(t, ledger.HoldPending, got.Status)
	require.True(t, got.Captured.Equal(dec("10.50")))
	require.True(t, got.Remaining.Equal(dec("19.50")))

	// More than is left is refused whole.
	before := f.snapshot(t)
	_, err = f.l.Capture(f.ctx, ledger.CaptureRequest{Hold: h.ID, Destinations: []ledger.Leg{
		{To: bob, Amount: dec("19.50")}, {To: fees, Amount: dec("0.01")}}})
	require.ErrorIs(t, err, ledger.ErrCaptureExceedsHold)
	f.requireUnchanged(t, before)

	// The rest, exactly: the hold closes itself.
	_, err = f.l.Capture(f.ctx, ledger.CaptureRequest{Hold: h.ID, Destinations: []ledger.Leg{{To: bob, Amount: dec("19.50")}}})
	require.NoError(t, err)
	got, err = f.l.HoldByID(f.ctx, h.ID)
	require.NoError(t, err)
	require.Equal(t, ledger.HoldCaptured, got.Status)
	require.True(t, got.Remaining.IsZero())
	require.Equal(t, t0.Add(time.Minute), got.ClosedAt)
	p, held, avail = f.balanceOf(t, alice, "EUR")
	require.Equal(t, []string{"70.00", "0.00", "70.00"}, []string{p, held, avail})
	require.Equal(t, "29.50", f.posted(t, bob, "EUR"))
	require.Len(t, f.snapshot(t).Due, 0, "a closed hold leaves the due index")

	before = f.snapshot(t)
	_, err = f.l.Capture(f.ctx, ledger.CaptureRequest{Hold: h.ID, Destinations: []ledger.Leg{{To: bob, Amount: dec("0.01")}}})
	require.ErrorIs(t, err, ledger.ErrHoldClosed)
	_, err = f.l.Void(f.ctx, h.ID)
	require.ErrorIs(t, err, ledger.ErrHoldClosed, "a hold captured in full cannot be voided")
	f.requireUnchanged(t, before)
	f.requireSound(t)
}

func TestCaptureFinalReleasesTheRest(t *testing.T) {
	f := newFixture(t)
	h := f.hold(t, "", alice, "EUR", "30.00", time.Hour)
	_, err := f.l.Capture(f.ctx, ledger.CaptureRequest{Hold: h.ID, Final: true, Destinations: []ledger.Leg{{To: bob, Amount: dec("12")}}})
	require.NoError(t, err)
	got, err := f.l.HoldByID(f.ctx, h.ID)
	require.NoError(t, err)
	require.Equal(t, ledger.HoldCaptured, got.Status)
	require.True(t, got.Captured.Equal(dec("12")))
	require.True(t, got.Remaining.IsZero())
	p, held, avail := f.balanceOf(t, alice, "EUR")
	require.Equal(t, []string{"88.00", "0.00", "88.00"}, []string{p, held, avail})
	require.Len(t, f.snapshot(t).Due, 0, "a hold captured finally leaves the due index")
	f.requireSound(t)
	n, err := f.l.Tick(f.ctx)
	require.NoError(t, err)
	require.Equal(t, 0, n)
}

func TestCaptureRefusedChangesNothing(t *testing.T) {
	f := newFixture(t)
	h := f.hold(t, "", alice, "EUR", "30.00", time.Hour)
	_, err := f.l.Capture(f.ctx, ledger.CaptureRequest{Key: "cap-taken", Hold: h.ID, Destinations: []ledger.Leg{{To: bob, Amount: dec("1")}}})
	require.NoError(t, err)
	tests := []struct {
		name string
		req  ledger.CaptureRequest
		want error
	}{
		{"unknown hold", ledger.CaptureRequest{Hold: 999, Destinations: []ledger.Leg{{To: bob, Amount: dec("1")}}}, ledger.ErrNotFound},
		{"no destinations", ledger.CaptureRequest{Hold: h.ID}, ledger.ErrInvalidTransaction},
		{"zero", ledger.CaptureRequest{Hold: h.ID, Destinations: []ledger.Leg{{To: bob, Amount: dec("0")}}}, ledger.ErrInvalidAmount},
		{"negative", ledger.CaptureRequest{Hold: h.ID, Destinations: []ledger.Leg{{To: bob, Amount: dec("-1")}}}, ledger.ErrInvalidAmount},
		{"too precise", ledger.CaptureRequest{Hold: h.ID, Destinations: []ledger.Leg{{To: bob, Amount: dec("0.001")}}}, ledger.ErrPrecision},
		{"unknown destination", ledger.CaptureRequest{Hold: h.ID, Destinations: []ledger.Leg{{To: "member:nobody", Amount: dec("1")}}}, ledger.ErrUnknownAccount},
		{"to the holder", ledger.CaptureRequest{Hold: h.ID, Destinations: []ledger.Leg{{To: alice, Amount: dec("1")}}}, ledger.ErrInvalidTransaction},
		{"exceeds", ledger.CaptureRequest{Hold: h.ID, Destinations: []ledger.Leg{{To: bob, Amount: dec("29.01")}}}, ledger.ErrCaptureExceedsHold},
		{"key reused", ledger.CaptureRequest{Key: "cap-taken", Hold: h.ID, Destinations: []ledger.Leg{{To: bob, Amount: dec("2")}}}, ledger.ErrIdempotencyConflict},
		{"bad metadata", ledger.CaptureRequest{Hold: h.ID, Destinations: []ledger.Leg{{To: bob, Amount: dec("1")}}, Metadata: bigMetadata(65, 1)}, ledger.ErrInvalidTransaction},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.snapshot(t)
			_, err := f.l.Capture(f.ctx, tt.req)
			require.ErrorIs(t, err, tt.want)
			f.requireUnchanged(t, before)
		})
	}
	f.requireSound(t)
}

func TestCaptureAfterExpiry(t *testing.T) {
	f := newFixture(t)
	h := f.hold(t, "", alice, "EUR", "30.00", time.Hour)
	f.clock.Advance(time.Hour) // exactly at expiry: expired, even before Tick runs
	before := f.snapshot(t)
	_, err := f.l.Capture(f.ctx, ledger.CaptureRequest{Hold: h.ID, Destinations: []ledger.Leg{{To: bob, Amount: dec("1")}}})
	require.ErrorIs(t, err, ledger.ErrHoldExpired)
	f.requireUnchanged(t, before)

	n, err := f.l.Tick(f.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	_, err = f.l.Capture(f.ctx, ledger.CaptureRequest{Hold: h.ID, Destinations: []ledger.Leg{{To: bob, Amount: dec("1")}}})
	require.ErrorIs(t, err, ledger.ErrHoldClosed)
}

func TestVoid(t *testing.T) {
	f := newFixture(t)
	h := f.hold(t, "", alice, "EUR", "30.00", time.Hour)
	_, err := f.l.Capture(f.ctx, ledger.CaptureRequest{Hold: h.ID, Destinations: []ledger.Leg{{To: bob, Amount: dec("5")}}})
	require.NoError(t, err)
	f.clock.Advance(time.Minute)

	v, err := f.l.Void(f.ctx, h.ID)
	require.NoError(t, err)
	require.Equal(t, ledger.HoldVoided, v.Status)
	require.True(t, v.Captured.Equal(dec("5")))
	require.True(t, v.Remaining.IsZero())
	require.Equal(t, t0.Add(time.Minute), v.ClosedAt)
	p, held, avail := f.balanceOf(t, alice, "EUR")
	require.Equal(t, []string{"95.00", "0.00", "95.00"}, []string{p, held, avail})
	require.Len(t, f.snapshot(t).Due, 0, "a voided hold leaves the due index")

	before := f.snapshot(t)
	again, err := f.l.Void(f.ctx, h.ID)
	require.NoError(t, err, "voiding twice is harmless")
	require.Equal(t, v, again)
	f.requireUnchanged(t, before)

	_, err = f.l.Capture(f.ctx, ledger.CaptureRequest{Hold: h.ID, Destinations: []ledger.Leg{{To: bob, Amount: dec("1")}}})
	require.ErrorIs(t, err, ledger.ErrHoldClosed)
	_, err = f.l.Void(f.ctx, 999)
	require.ErrorIs(t, err, ledger.ErrNotFound)
	f.requireUnchanged(t, before)

	f.clock.Advance(2 * time.Hour)
	n, err := f.l.Tick(f.ctx)
	require.NoError(t, err)
	require.Equal(t, 0, n, "a voided hold does not expire later")
	f.requireSound(t)
}

func TestTickExpiresHolds(t *testing.T) {
	f := newFixture(t)
	h1 := f.hold(t, "", alice, "EUR", "10", time.Hour)
	h2 := f.hold(t, "", alice, "EUR", "20", 2*time.Hour)
	h3 := f.hold(t, "", alice, "RUBY", "500", time.Hour)

	n, err := f.l.Tick(f.ctx)
	require.NoError(t, err)
	require.Equal(t, 0, n, "nothing is due yet")

	f.clock.Advance(time.Hour - time.Nanosecond)
	n, err = f.l.Tick(f.ctx)
	require.NoError(t, err)
	require.Equal(t, 0, n)

	f.clock.Advance(time.Nanosecond)
	n, err = f.l.Tick(f.ctx)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	for _, id := range []uint64{h1.ID, h3.ID} {
		h, err := f.l.HoldByID(f.ctx, id)
		require.NoError(t, err)
		require.Equal(t, ledger.HoldExpired, h.Status)
		require.Equal(t, t0.Add(time.Hour), h.ClosedAt)
		require.True(t, h.Remaining.IsZero())
	}
	_, held, avail := f.balanceOf(t, alice, "EUR")
	require.Equal(t, []string{"20.00", "80.00"}, []string{held, avail})
	_, held, _ = f.balanceOf(t, alice, "RUBY")
	require.Equal(t, "0", held)

	before := f.snapshot(t)
	n, err = f.l.Tick(f.ctx)
	require.NoError(t, err)
	require.Equal(t, 0, n, "Tick twice releases nothing twice")
	f.requireUnchanged(t, before)

	v, err := f.l.Void(f.ctx, h1.ID)
	require.NoError(t, err, "voiding an expired hold returns it unchanged")
	require.Equal(t, ledger.HoldExpired, v.Status)

	f.clock.Advance(time.Hour)
	n, err = f.l.Tick(f.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	got, err := f.l.HoldByID(f.ctx, h2.ID)
	require.NoError(t, err)
	require.Equal(t, ledger.HoldExpired, got.Status)
	p, held, avail := f.balanceOf(t, alice, "EUR")
	require.Equal(t, []string{"100.00", "0.00", "100.00"}, []string{p, held, avail})
	f.requireSound(t)
}

func TestTickManyHolds(t *testing.T) {
	f := newFixture(t)
	const n = 600 // more than one Tick batch
	err := f.l.Update(f.ctx, func(w *ledger.Writer) error {
		for i := 0; i < n; i++ {
			if _, err := w.Hold(ledger.HoldRequest{Account: alice, Asset: "RUBY", Amount: dec("1"), ExpiresAt: t0.Add(time.Duration(i+1) * time.Second)}); err != nil {
				return err
			}
		}
		return nil
	})
	require.NoError(t, err)
	_, held, _ := f.balanceOf(t, alice, "RUBY")
	require.Equal(t, "600", held)
	f.clock.Advance(time.Hour)
	got, err := f.l.Tick(f.ctx)
	require.NoError(t, err)
	require.Equal(t, n, got)
	_, held, _ = f.balanceOf(t, alice, "RUBY")
	require.Equal(t, "0", held)
	f.requireSound(t)
}

func TestHoldIdempotency(t *testing.T) {
	f := newFixture(t)
	req := ledger.HoldRequest{Key: "order-7", Account: alice, Asset: "EUR", Amount: dec("30.00"),
		ExpiresAt: t0.Add(time.Hour), Metadata: map[string]string{"order": "7"}}
	h, err := f.l.Hold(f.ctx, req)
	require.NoError(t, err)

	before := f.snapshot(t)
	again, err := f.l.Hold(f.ctx, req)
	require.NoError(t, err)
	require.Equal(t, h, again)
	f.requireUnchanged(t, before)
	err = f.l.View(f.ctx, func(r *ledger.Reader) error {
		got, err := r.HoldByKey("order-7")
		require.Equal(t, h, got)
		return err
	})
	require.NoError(t, err)

	for name, r := range map[string]ledger.HoldRequest{
		"other amount":   {Key: "order-7", Account: alice, Asset: "EUR", Amount: dec("30.01"), ExpiresAt: req.ExpiresAt, Metadata: req.Metadata},
		"other account":  {Key: "order-7", Account: carol, Asset: "EUR", Amount: dec("30"), ExpiresAt: req.ExpiresAt, Metadata: req.Metadata},
		"other asset":    {Key: "order-7", Account: alice, Asset: "RUBY", Amount: dec("30"), ExpiresAt: req.ExpiresAt, Metadata: req.Metadata},
		"other expiry":   {Key: "order-7", Account: alice, Asset: "EUR", Amount: dec("30"), ExpiresAt: req.ExpiresAt.Add(time.Second), Metadata: req.Metadata},
		"other metadata": {Key: "order-7", Account: alice, Asset: "EUR", Amount: dec("30"), ExpiresAt: req.ExpiresAt},
	} {
		t.Run(name, func(t *testing.T) {
			before := f.snapshot(t)
			_, err := f.l.Hold(f.ctx, r)
			require.ErrorIs(t, err, ledger.ErrIdempotencyConflict)
			f.requireUnchanged(t, before)
		})
	}

	// Capture by key: a retry returns the first capture and moves nothing.
	capReq := ledger.CaptureRequest{Key: "cap-7", Hold: h.ID, Final: true, Destinations: []ledger.Leg{{To: bob, Amount: dec("25")}}}
	tr, err := f.l.Capture(f.ctx, capReq)
	require.NoError(t, err)
	before = f.snapshot(t)
	again2, err := f.l.Capture(f.ctx, capReq)
	require.NoError(t, err, "the retry is answered although the hold is now closed")
	require.Equal(t, tr, again2)
	f.requireUnchanged(t, before)
	_, err = f.l.Capture(f.ctx, ledger.CaptureRequest{Key: "cap-7", Hold: h.ID, Final: true, Destinations: []ledger.Leg{{To: bob, Amount: dec("24")}}})
	require.ErrorIs(t, err, ledger.ErrIdempotencyConflict)
	f.requireUnchanged(t, before)
	require.Equal(t, "25.00", f.posted(t, bob, "EUR"))

	// A replayed hold after the hold closed still answers with the hold.
	closed, err := f.l.Hold(f.ctx, req)
	require.NoError(t, err)
	require.Equal(t, h.ID, closed.ID)
	require.Equal(t, ledger.HoldCaptured, closed.Status)
	f.requireUnchanged(t, before)
	f.requireSound(t)
}
