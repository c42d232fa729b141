package payout_test

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/teststore"
	"github.com/rewardkit/rewardkit/payout"
)

// Regression tests for issue 10 ("Money safety"), one or more per finding
// payout owns; each failed on the code before the fix.

// TestTickIsolatesStuckPayouts covers issue 10 #9: Tick returned at the
// first payout it could not handle, before the other payouts and before
// the ledger's sweep. Now a stuck payout (here one whose record cannot be
// read) is reported with its ID, stays due, and the others settle; the
// ledger's sweep, which the scheduler runs once for every program
// (issue 11 #7), is not held up by it either.
func TestTickIsolatesStuckPayouts(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open, payout.DefaultRules())
		for _, m := range []string{"a", "b", "c"} {
			f.fund(t, m, 50000)
		}
		f.prov.Next(payout.TimeoutBeforePaying, payout.TimeoutAfterPaying, payout.TimeoutBeforePaying)
		for i, m := range []string{"a", "b", "c"} {
			po, err := f.p.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: fmt.Sprintf("w%d", i+1), Actor: m, Amount: d("50000")})
			require.NoError(t, err)
			require.Equal(t, payout.StatusSending, po.Status)
		}
		require.NoError(t, f.l.Update(f.ctx, func(w *ledger.Writer) error {
			return w.PutRecord("payout.payout", "paypal:w1", []byte("{not json"))
		}))
		// Another program's hold, due for the ledger's sweep.
		f.deposit(t, "member:d", "RUBY", 10)
		_, err := f.l.Hold(f.ctx, ledger.HoldRequest{Account: "member:d", Asset: "RUBY", Amount: d("10"), ExpiresAt: t0.Add(time.Minute)})
		require.NoError(t, err)

		f.clock.Advance(time.Duration(f.rules.RetryEvery))
		rep, err := f.p.Tick(f.ctx)
		require.NoError(t, err, "one stuck payout does not fail the run")
		require.Len(t, rep.Failed, 1)
		require.Equal(t, "w1", rep.Failed[0].ID)
		require.Contains(t, rep.Failed[0].Error(), "w1")
		require.Equal(t, 2, settled(rep))
		require.Equal(t, []string{"w2", "w3"}, rep.IDs(payout.TickPaid))
		expired, err := f.l.Tick(f.ctx)
		require.NoError(t, err)
		require.Equal(t, 1, expired, "the ledger's sweep runs beside the stuck payout")
		for _, id := range []string{"w2", "w3"} {
			po, err := f.p.Get(f.ctx, id)
			require.NoError(t, err)
			require.Equal(t, payout.StatusPaid, po.Status, id)
		}
		eq(t, "9.60", f.prov.Paid("EUR"))
		eq(t, "9.60", f.bal(t, payout.SettlementAccount("paypal"), "EUR").Posted)
		f.verify(t)

		f.clock.Advance(time.Duration(f.rules.RetryEvery))
		rep, err = f.p.Tick(f.ctx)
		require.NoError(t, err)
		require.Len(t, rep.Failed, 1, "the stuck payout stays due and is reported again")
		require.Equal(t, "w1", rep.Failed[0].ID)
	})
}

// TestMoneyInFlightStaysReservedPastHoldFor covers issue 10 #9 ("money for
// a payout in flight must never become spendable while the provider may
// still pay it") and the provider-success half of #14: the hold used to
// expire at hold_for, the member could spend the money the provider then
// paid, and the late success could not settle. Now hold_for only marks the
// payout Overdue; the funds stay reserved and the late success settles
// once.
func TestMoneyInFlightStaysReservedPastHoldFor(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open, payout.DefaultRules())
		f.fund(t, "m", 50000)
		f.prov.Next(payout.HoldPayment)
		po, err := f.p.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: "w1", Actor: "m", Amount: d("50000")})
		require.NoError(t, err)
		require.Equal(t, payout.StatusHeld, po.Status)
		require.Equal(t, t0.Add(time.Duration(f.rules.HoldFor)), po.Deadline)

		rep := f.tick(t, time.Duration(f.rules.HoldFor)+24*time.Hour)
		require.Equal(t, []string{"w1"}, rep.IDs(payout.TickOverdue))
		_, err = f.l.Tick(f.ctx) // any program's sweep
		require.NoError(t, err)
		po, err = f.p.Get(f.ctx, "w1")
		require.NoError(t, err)
		require.Equal(t, payout.StatusHeld, po.Status)
		require.True(t, po.Overdue)
		eq(t, "50000", f.wallet(t, "m").Held, "still reserved after hold_for")
		eq(t, "0", f.wallet(t, "m").Available)
		_, err = f.l.Transfer(f.ctx, "spend", payout.MemberAccount("m"), ledger.World, "RUBY", d("1"))
		require.ErrorIs(t, err, ledger.ErrInsufficientFunds, "money in flight is not spendable")

		require.NoError(t, f.prov.Resolve("payout:paypal:w1", payout.OutcomeSucceeded))
		rep = f.tick(t, time.Duration(f.rules.RetryEvery))
		require.Equal(t, 1, settled(rep))
		require.Empty(t, rep.IDs(payout.TickOverdue))
		po, err = f.p.Get(f.ctx, "w1")
		require.NoError(t, err)
		require.Equal(t, payout.StatusPaid, po.Status)
		eq(t, "0", po.Shortfall)
		eq(t, "4.80", f.prov.Paid("EUR"))
		eq(t, "4.80", f.bal(t, payout.SettlementAccount("paypal"), "EUR").Posted)
		eq(t, "0", f.wallet(t, "m").Posted)
		eq(t, "0", f.wallet(t, "m").Held)
		before := f.snapshot(t)
		_, err = f.p.Retry(f.ctx, payout.RetryRequest{PayoutID: "w1"})
		require.NoError(t, err)
		f.tick(t, time.Duration(f.rules.RetryEvery))
		require.Equal(t, before, f.snapshot(t), "settled exactly once")
		f.verify(t)
	})
}

// TestUndecidedReviewLapsesAtHoldFor: a payout nobody reviewed by its
// deadline was never sent, so hold_for may release it (issue 10 #9: the
// deadline, not the ledger's expiry, decides).
func TestUndecidedReviewLapsesAtHoldFor(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		rules := payout.DefaultRules()
		rules.ReviewAbove = d("5")
		f := newFixture(t, open, rules)
		f.fund(t, "m", 60000)
		po, err := f.p.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: "w1", Actor: "m", Amount: d("60000")})
		require.NoError(t, err)
		require.Equal(t, payout.StatusReview, po.Status)
		rep := f.tick(t, time.Duration(rules.HoldFor)-time.Minute)
		require.Zero(t, rep.Count(payout.TickLapsed))
		rep = f.tick(t, time.Minute)
		require.Equal(t, 1, rep.Count(payout.TickLapsed))
		po, err = f.p.Get(f.ctx, "w1")
		require.NoError(t, err)
		require.Equal(t, payout.StatusRejected, po.Status)
		require.Contains(t, po.Reason, "hold_for")
		eq(t, "60000", f.wallet(t, "m").Available)
		require.Zero(t, f.prov.Calls())
		_, err = f.p.Approve(f.ctx, payout.ApproveRequest{Actor: reviewer, PayoutID: "w1"})
		require.ErrorIs(t, err, payout.ErrWrongState)
		f.verify(t)
	})
}

// legacyPayout records a payout as the code before issue 10 did — its
// hold expiring at hold_for, no event record, no source — for which the
// provider paid but the answer was lost.
func legacyPayout(t *testing.T, f *fixture, id, member string, amount int64) payout.Payout {
	t.Helper()
	q, err := f.p.Quote(payout.WithdrawRequest{Amount: decimal.NewFromInt(amount)})
	require.NoError(t, err)
	now := f.clock.Now()
	r := f.rules
	var po payout.Payout
	require.NoError(t, f.l.Update(f.ctx, func(w *ledger.Writer) error {
		h, err := w.Hold(ledger.HoldRequest{Key: "payout:paypal:hold:" + id, Account: payout.MemberAccount(member), Asset: "RUBY",
			Amount: decimal.NewFromInt(amount), ExpiresAt: now.Add(time.Duration(r.HoldFor))})
		if err != nil {
			return err
		}
		po = payout.Payout{ID: id, Member: member, Account: member + "@example.com", Amount: r.From.Amount(q.In),
			Gross: r.To.Amount(q.Gross), Fee: r.To.Amount(q.Fee), Net: r.To.Amount(q.Net), Remainder: r.From.Amount(q.Remainder),
			Status: payout.StatusSending, HoldID: h.ID, RequestedAt: now, UpdatedAt: now, Rule: r.Conversion()}
		if err := w.SaveJSON("payout.payout", "paypal:"+id, po); err != nil {
			return err
		}
		return w.Schedule("payout.retry:paypal", id, now.Add(time.Duration(r.RetryEvery)))
	}))
	f.prov.Next(payout.TimeoutAfterPaying)
	_, err = f.prov.Send(f.ctx, payout.SendRequest{Key: "payout:paypal:" + id, Member: member, Account: po.Account, Currency: "EUR", Amount: po.Net})
	require.ErrorIs(t, err, payout.ErrProviderTimeout)
	return po
}

// TestLateSuccessAfterLapsedReservationSettlesOnce covers issue 10 #14
// (payout part): settlePaid converted "from the wallet" after a capture
// refused with ErrHoldExpired, but the expired hold still counted until
// the sweep, so a provider success after hold_for never settled even when
// the member spent nothing (Retry failed every time). Now the hold is
// voided in the same unit of work (the funds come back), the amount is
// taken from the source as far as it is there, and the rest is recorded
// as an explicit shortfall.
func TestLateSuccessAfterLapsedReservationSettlesOnce(t *testing.T) {
	cases := []struct {
		name      string
		sweep     bool   // the ledger released the expired hold before the answer
		spend     int64  // what the member spent after the release
		taken     bool   // a chargeback took the reserved funds from under a live hold
		how       string // "retry" or "tick"
		shortfall string
	}{
		{name: "expired, not swept, nothing spent", how: "retry", shortfall: "0"},
		{name: "expired, not swept, found by Tick", how: "tick", shortfall: "0"},
		{name: "expired and swept, nothing spent", sweep: true, how: "retry", shortfall: "0"},
		{name: "expired and swept, part spent", sweep: true, spend: 20000, how: "retry", shortfall: "20000"},
		{name: "expired and swept, all spent", sweep: true, spend: 50000, how: "tick", shortfall: "50000"},
		{name: "reserved funds charged back", taken: true, how: "retry", shortfall: "50000"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			teststore.Run(t, func(t *testing.T, open teststore.Opener) {
				f := newFixture(t, open, payout.DefaultRules())
				f.fund(t, "m", 50000)
				if c.taken {
					f.prov.Next(payout.TimeoutAfterPaying)
					_, err := f.p.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: "w1", Actor: "m", Amount: d("50000")})
					require.NoError(t, err)
					_, err = f.l.Post(f.ctx, ledger.TransferRequest{Key: "chargeback", IncludeHeld: true, Postings: []ledger.Posting{
						{From: payout.MemberAccount("m"), To: ledger.World, Asset: "RUBY", Amount: d("50000")}}})
					require.NoError(t, err)
				} else {
					legacyPayout(t, f, "w1", "m", 50000)
					f.clock.Advance(time.Duration(f.rules.HoldFor) + time.Hour)
				}
				if c.sweep {
					n, err := f.l.Tick(f.ctx)
					require.NoError(t, err)
					require.Equal(t, 1, n)
					eq(t, "50000", f.wallet(t, "m").Available, "the old hold released the funds")
				}
				if c.spend > 0 {
					_, err := f.l.Transfer(f.ctx, "spend", payout.MemberAccount("m"), ledger.World, "RUBY", decimal.NewFromInt(c.spend))
					require.NoError(t, err)
				}
				var po payout.Payout
				var err error
				if c.how == "tick" {
					f.tick(t, time.Duration(f.rules.RetryEvery))
					po, err = f.p.Get(f.ctx, "w1")
				} else {
					po, err = f.p.Retry(f.ctx, payout.RetryRequest{PayoutID: "w1"})
				}
				require.NoError(t, err)
				require.Equal(t, payout.StatusPaid, po.Status)
				eq(t, c.shortfall, po.Shortfall)
				eq(t, "-"+c.shortfall, f.bal(t, payout.ShortfallAccount("paypal"), "RUBY").Posted, "the shortfall is booked")
				if c.shortfall != "0" {
					require.Contains(t, po.LastError, "short")
				}
				eq(t, "0", f.wallet(t, "m").Posted)
				eq(t, "0", f.wallet(t, "m").Held)
				h, err := f.l.HoldByID(f.ctx, po.HoldID)
				require.NoError(t, err)
				require.NotEqual(t, ledger.HoldPending, h.Status)
				eq(t, "4.80", f.prov.Paid("EUR"))
				eq(t, "4.80", f.bal(t, payout.SettlementAccount("paypal"), "EUR").Posted)
				eq(t, "0", f.bal(t, payout.ClearingAccount("paypal"), "RUBY").Posted)
				before := f.snapshot(t)
				_, err = f.p.Retry(f.ctx, payout.RetryRequest{PayoutID: "w1"})
				require.NoError(t, err)
				f.tick(t, time.Duration(f.rules.RetryEvery))
				require.Equal(t, before, f.snapshot(t), "settled exactly once")
				f.verify(t)
			})
		})
	}
}

// TestDurationsAndTimesStayInRange covers issue 10 #3 (payout part): a
// hold_for of ~236 years validated, and its expiry wrapped past 2262.
// Rule durations are bounded by ledger.MaxDuration, and the times a
// payout computes must stay before ledger.MaxTime.
func TestDurationsAndTimesStayInRange(t *testing.T) {
	const years236 = kit.Duration(236 * 365 * 24 * time.Hour)
	for _, field := range []string{"hold_for", "period", "daily_window", "retry_every"} {
		r := payout.DefaultRules()
		switch field {
		case "hold_for":
			r.HoldFor = years236
		case "period":
			r.Period = years236
		case "daily_window":
			r.DailyWindow = years236
		case "retry_every":
			r.RetryEvery = years236
		}
		err := r.Validate()
		require.ErrorIs(t, err, payout.ErrInvalidRules, field)
		require.ErrorIs(t, err, ledger.ErrInvalidTime, field)
		require.Contains(t, err.Error(), field)
	}
	b, err := json.Marshal(payout.DefaultRules())
	require.NoError(t, err)
	_, err = payout.ParseRules([]byte(strings.Replace(string(b), `"hold_for":"2160h0m0s"`, `"hold_for":"2067360h"`, 1)))
	require.ErrorIs(t, err, ledger.ErrInvalidTime)

	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open, payout.DefaultRules())
		f.clock.Set(ledger.MaxTime.Add(-30 * 24 * time.Hour))
		f.fund(t, "m", 50000)
		before := f.snapshot(t)
		_, err := f.p.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: "w1", Actor: "m", Amount: d("50000")})
		require.ErrorIs(t, err, ledger.ErrInvalidTime, "the hold_for deadline would pass ledger.MaxTime")
		require.Contains(t, err.Error(), "hold_for")
		require.Equal(t, before, f.snapshot(t))
		f.clock.Set(time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC))
		_, err = f.p.Tick(f.ctx)
		require.ErrorIs(t, err, ledger.ErrInvalidTime)
	})
}

// TestRulesRefuseUnknownFields covers issue 10 #10: rules were decoded
// with plain encoding/json, so a misspelt "review_abve" validated and
// disabled manual review. Every unknown field, nested ones included, is
// now ErrInvalidRules naming it.
func TestRulesRefuseUnknownFields(t *testing.T) {
	r := payout.CreatorRules(diamondValue)
	b, err := json.Marshal(r)
	require.NoError(t, err)
	good := string(b)
	cases := map[string]string{
		"review_abve":     strings.Replace(good, `"review_above":"500"`, `"review_abve":"5"`, 1),
		"acount":          strings.Replace(good, `"account":"creator:{member}:diamonds"`, `"acount":"creator:{member}:diamonds"`, 1),
		"minimun":         strings.Replace(good, `"account":"creator:{member}:diamonds",`, `"account":"creator:{member}:diamonds","minimun":"500",`, 1),
		"exchang":         strings.Replace(good, `"exchange":""`, `"exchang":""`, 1),
		"after the rules": good + ` {}`,
	}
	for field, data := range cases {
		require.NotEqual(t, good, data, field)
		if field != "after the rules" { // encoding/json refuses trailing data itself
			var back payout.Rules
			err := json.Unmarshal([]byte(data), &back)
			require.ErrorIs(t, err, payout.ErrInvalidRules, field)
			require.Contains(t, err.Error(), field)
		}
		_, err = payout.ParseRules([]byte(data))
		require.ErrorIs(t, err, payout.ErrInvalidRules, field)
		require.Contains(t, err.Error(), field)
	}
	parsed, err := payout.ParseRules(b)
	require.NoError(t, err)
	eq(t, "500", parsed.ReviewAbove)
}

// TestRefusalsKeepTheLedgerCause covers issue 10 #11: errors were wrapped
// with %v, so a payout refused for insufficient funds did not match
// ledger.ErrInsufficientFunds.
func TestRefusalsKeepTheLedgerCause(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open, payout.DefaultRules())
		f.fund(t, "m", 50000)
		_, err := f.p.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: "w1", Actor: "m", Amount: d("60000")})
		require.ErrorIs(t, err, payout.ErrInsufficientFunds)
		require.ErrorIs(t, err, ledger.ErrInsufficientFunds)
		_, err = f.p.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: "w2", Actor: "m", Amount: d("50000")})
		require.NoError(t, err)
		_, err = f.p.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: "w2", Actor: "m", Amount: d("40000")})
		require.ErrorIs(t, err, payout.ErrIdempotencyConflict)
		require.ErrorIs(t, err, ledger.ErrIdempotencyConflict)
		_, err = f.p.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: "w3", Actor: "m", Amount: d("99")})
		require.ErrorIs(t, err, payout.ErrBelowMinimum)
		r := payout.DefaultRules()
		r.From = ledger.Asset{Code: "x"}
		require.ErrorIs(t, r.Validate(), ledger.ErrInvalidAsset)
		_, err = payout.ParseRules([]byte(`{"provider":"paypal","rate":"abc"}`))
		require.ErrorIs(t, err, payout.ErrInvalidRules)
		require.ErrorIs(t, err, ledger.ErrInvalidRule, "a nested decoder's cause survives strict decoding")
	})
}

// TestPayoutSumsCannotWrap covers issue 10 #1 (payout part): the daily
// maximum summed a member's recent withdrawals in an int64 without a
// check, so sums that wrapped passed the cap; a conversion too large to
// keep was reported as "below minimum". Both are ErrOverflow now and write
// nothing.
func TestPayoutSumsCannotWrap(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		r := payout.DefaultRules()
		r.MaxPerPeriod = 5
		f := newFixture(t, open, r)
		f.fund(t, "m", 50000)
		// Recent withdrawals recorded with figures an older configuration
		// allowed (the daily maximum's kit cap counter, written by hand
		// here).
		state := fmt.Sprintf(`{"uses":[{"ref":"x1","at":%q,"units":%d},{"ref":"x2","at":%q,"units":%d}]}`,
			t0.Format(time.RFC3339Nano), int64(math.MaxInt64), t0.Format(time.RFC3339Nano), int64(math.MaxInt64))
		require.NoError(t, f.l.Update(f.ctx, func(w *ledger.Writer) error {
			return w.PutRecord("payout.cap", "paypal:daily_maximum:m:rolling", []byte(state))
		}))
		before := f.snapshot(t)
		_, err := f.p.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: "w1", Actor: "m", Amount: d("8000")})
		require.ErrorIs(t, err, payout.ErrDailyMaximum)
		require.ErrorIs(t, err, ledger.ErrOverflow)
		require.Equal(t, before, f.snapshot(t))

		huge := payout.DefaultRules()
		huge.Provider, huge.Rate, huge.DailyMaximum, huge.ReviewAbove = "huge", ledger.NewRate(1_000_000_000_000_000, 1), d("0"), d("0")
		p2, err := payout.New(f.ctx, f.l, huge, f.prov)
		require.NoError(t, err)
		_, err = p2.Quote(payout.WithdrawRequest{Amount: d("10000000000")})
		require.ErrorIs(t, err, ledger.ErrOverflow)
		_, err = p2.LinkAccount(f.ctx, payout.LinkAccountRequest{Actor: "m", Account: "m@example.com"})
		require.NoError(t, err)
		before = f.snapshot(t)
		_, err = p2.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: "w1", Actor: "m", Amount: d("10000000000")})
		require.ErrorIs(t, err, ledger.ErrOverflow)
		require.ErrorIs(t, err, payout.ErrInvalidRequest)
		require.Equal(t, before, f.snapshot(t))
		f.verify(t)
	})
}

// TestCreatorsCashOutFromTheirEarnings covers issue 10 #18: gifting's and
// shoutout's docs say payout redeems creator:<id>:diamonds and
// creator:<id>:shoutouts, but Withdraw drew only on member:<id>. A source
// the rules declare with {member} is the member's and can be withdrawn
// from, at the value the source carries (one value per asset); any other
// account is ErrUnknownSource and ledger.ErrForbidden.
func TestCreatorsCashOutFromTheirEarnings(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		rules := payout.CreatorRules(diamondValue)
		rules.MaxPerPeriod = 2
		rules.Sources = append(rules.Sources, payout.Source{Account: "creator:{member}:shoutouts", Asset: ledger.COIN,
			Value: ledger.ConversionRule{From: "COIN", To: "USD", Rate: ledger.NewRate(1, 100), Rounding: ledger.RoundDown}, Minimum: d("500")})
		f := newFixture(t, open, rules)
		f.deposit(t, "creator:giulia:diamonds", "DIAMOND", 12000)
		f.deposit(t, "creator:giulia:shoutouts", "COIN", 3000)
		f.deposit(t, "creator:marco:diamonds", "DIAMOND", 5000)
		_, err := f.p.LinkAccount(f.ctx, payout.LinkAccountRequest{Actor: "giulia", Account: "giulia@example.com"})
		require.NoError(t, err)

		q, err := f.p.Quote(payout.WithdrawRequest{Actor: "giulia", Source: "creator:giulia:diamonds", Amount: d("10000")})
		require.NoError(t, err)
		require.EqualValues(t, 5000, q.Gross)
		po, err := f.p.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: "c1", Actor: "giulia", Source: "creator:giulia:diamonds", Amount: d("10000")})
		require.NoError(t, err)
		require.Equal(t, payout.StatusPaid, po.Status)
		require.Equal(t, "creator:giulia:diamonds", po.Source)
		eq(t, "50.00", po.Gross, "10,000 diamonds at 0.005 USD")
		eq(t, "0.85", po.Fee, "1.5% + 0.10")
		eq(t, "49.15", po.Net)
		eq(t, "2000", f.bal(t, "creator:giulia:diamonds", "DIAMOND").Posted)
		eq(t, "49.15", f.bal(t, payout.SettlementAccount("paypal-creators"), "USD").Posted)
		eq(t, "49.15", f.prov.Paid("USD"))

		po, err = f.p.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: "c2", Actor: "giulia", Source: "creator:giulia:shoutouts", Amount: d("3000")})
		require.NoError(t, err)
		require.Equal(t, payout.StatusPaid, po.Status)
		eq(t, "30.00", po.Gross, "coins at the integrator's 0.01 USD")
		eq(t, "0", f.bal(t, "creator:giulia:shoutouts", "COIN").Posted)
		f.verify(t)

		_, err = f.p.LinkAccount(f.ctx, payout.LinkAccountRequest{Actor: "marco", Account: "marco@example.com"})
		require.NoError(t, err)
		before := f.snapshot(t)
		for _, acc := range []string{"creator:giulia:diamonds", "payout:paypal-creators:fees", "world", "creator:marco:gifts", "member:giulia"} {
			_, err := f.p.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: "c3", Actor: "marco", Source: acc, Amount: d("2000")})
			require.ErrorIs(t, err, payout.ErrUnknownSource, acc)
			require.ErrorIs(t, err, ledger.ErrForbidden, acc)
			_, err = f.p.Quote(payout.WithdrawRequest{Actor: "marco", Source: acc, Amount: d("2000")})
			require.ErrorIs(t, err, ledger.ErrForbidden, acc)
		}
		require.Equal(t, before, f.snapshot(t), "nothing written for another's account")

		// A diamond has one value.
		twice := payout.CreatorRules(diamondValue)
		other := diamondValue
		other.Rate = ledger.NewRate(1, 100)
		twice.Sources = append(twice.Sources, payout.Source{Account: "creator:{member}:gifts", Asset: ledger.DIAMOND, Value: other})
		require.ErrorIs(t, twice.Validate(), payout.ErrInvalidRules)
		twice = payout.CreatorRules(diamondValue)
		twice.Rate = ledger.NewRate(1, 100) // the wallet's diamonds at another value
		require.ErrorIs(t, twice.Validate(), payout.ErrInvalidRules)
		// Templates cannot reach the program's own accounts (member "paypal"
		// would name payout:paypal:fees).
		own := payout.DefaultRules()
		own.Sources = []payout.Source{{Account: "payout:{member}:fees", Asset: ledger.RUBY}}
		require.ErrorIs(t, own.Validate(), payout.ErrInvalidRules)
		// Without the source declared, the creator account is not theirs.
		plain := newFixture(t, open, payout.DefaultRules())
		_, err = plain.p.Quote(payout.WithdrawRequest{Actor: "giulia", Source: "creator:giulia:diamonds", Amount: d("10000")})
		require.ErrorIs(t, err, ledger.ErrForbidden)
	})
}

// TestPayoutReviewNeedsTheReviewerRole covers issue 10 #4 (payout part):
// Approve and Reject checked nobody. Now the actor must hold
// kit.RolePayoutReviewer in the program's roles and not be the payout's
// member; otherwise ErrForbidden and nothing is written.
func TestPayoutReviewNeedsTheReviewerRole(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		rules := payout.DefaultRules()
		rules.ReviewAbove = d("5")
		f := newFixture(t, open, rules)
		f.fund(t, "m", 60000)
		f.fund(t, "n", 60000)
		for _, w := range []struct{ id, member string }{{"wm", "m"}, {"wn", "n"}} {
			po, err := f.p.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: w.id, Actor: w.member, Amount: d("60000")})
			require.NoError(t, err)
			require.Equal(t, payout.StatusReview, po.Status)
		}
		f.roles.Grant("m", kit.RolePayoutReviewer) // a reviewer, but not of their own payout
		noDirectory, err := payout.New(f.ctx, f.l, rules, f.prov)
		require.NoError(t, err)
		before := f.snapshot(t)
		for _, actor := range []string{"", "mallory", "m"} {
			_, err := f.p.Approve(f.ctx, payout.ApproveRequest{Actor: actor, PayoutID: "wm"})
			require.ErrorIs(t, err, ledger.ErrForbidden, actor)
			_, err = f.p.Reject(f.ctx, payout.RejectRequest{Actor: actor, PayoutID: "wm", Reason: "no"})
			require.ErrorIs(t, err, ledger.ErrForbidden, actor)
		}
		_, err = noDirectory.Approve(f.ctx, payout.ApproveRequest{Actor: reviewer, PayoutID: "wm"})
		require.ErrorIs(t, err, ledger.ErrForbidden, "a program given no roles grants none")
		_, err = noDirectory.Reject(f.ctx, payout.RejectRequest{Actor: reviewer, PayoutID: "wm", Reason: "no"})
		require.ErrorIs(t, err, ledger.ErrForbidden)
		require.Equal(t, before, f.snapshot(t), "nothing written")

		po, err := f.p.Approve(f.ctx, payout.ApproveRequest{Actor: "m", PayoutID: "wn"}) // m may review n's payout
		require.NoError(t, err)
		require.Equal(t, payout.StatusPaid, po.Status)
		require.Equal(t, "m", po.DecidedBy)
		po, err = f.p.Reject(f.ctx, payout.RejectRequest{Actor: reviewer, PayoutID: "wm", Reason: "documents missing"})
		require.NoError(t, err)
		require.Equal(t, payout.StatusRejected, po.Status)
		require.Equal(t, reviewer, po.DecidedBy)
		eq(t, "60000", f.wallet(t, "m").Available)
		f.verify(t)
	})
}

// TestWalletOpenedByAnotherProgramIsUsed covers issue 10 #5 (payout
// part): a wallet gifting opened with a COIN overdraft made payout's own
// OpenAccount fail with ErrAccountConflict forever.
func TestWalletOpenedByAnotherProgramIsUsed(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open, payout.DefaultRules())
		require.NoError(t, f.l.DefineAsset(f.ctx, ledger.COIN))
		_, err := f.l.OpenAccount(f.ctx, ledger.AccountSpec{Address: "member:m",
			Overdraft: ledger.Overdraft{Limits: map[string]decimal.Decimal{"COIN": d("500")}}})
		require.NoError(t, err)
		f.fund(t, "m", 50000)
		po, err := f.p.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: "w1", Actor: "m", Amount: d("50000")})
		require.NoError(t, err)
		require.Equal(t, payout.StatusPaid, po.Status)
		f.verify(t)

		// A policy that lets wallets go below zero in the reward asset
		// never lets a payout cash out the overdraft.
		_, err = f.l.OpenAccount(f.ctx, ledger.AccountSpec{Address: "member:n",
			Overdraft: ledger.Overdraft{Limits: map[string]decimal.Decimal{"RUBY": d("100000")}}})
		require.NoError(t, err)
		f.fund(t, "n", 10000)
		before := f.snapshot(t)
		_, err = f.p.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: "w2", Actor: "n", Amount: d("50000")})
		require.ErrorIs(t, err, payout.ErrInsufficientFunds)
		require.ErrorIs(t, err, ledger.ErrInsufficientFunds)
		require.Equal(t, before, f.snapshot(t))
	})
}

// TestWithdrawReplayIgnoresWhatChangedSince covers issue 10 #6 (payout
// part): a retried Withdraw quoted the amount under the rules of the day
// before looking the payout up, so a retry after a rule change was
// refused although the payout went through. The replay check comes first
// now and returns the payout as recorded, Replayed set.
func TestWithdrawReplayIgnoresWhatChangedSince(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open, payout.DefaultRules())
		f.fund(t, "m", 50000)
		first, err := f.p.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: "w1", Actor: "m", Amount: d("20000")})
		require.NoError(t, err)
		require.Equal(t, payout.StatusPaid, first.Status)

		stricter := payout.DefaultRules()
		stricter.Minimum, stricter.FixedFee = d("40000"), d("100")
		p2, err := payout.New(f.ctx, f.l, stricter, f.prov)
		require.NoError(t, err)
		_, err = p2.LinkAccount(f.ctx, payout.LinkAccountRequest{Actor: "m", Account: "elsewhere@example.com"})
		require.NoError(t, err)
		_, err = f.l.Transfer(f.ctx, "spent", payout.MemberAccount("m"), ledger.World, "RUBY", d("30000"))
		require.NoError(t, err)

		before := f.snapshot(t)
		again, err := p2.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: "w1", Actor: "m", Amount: d("20000")})
		require.NoError(t, err)
		require.True(t, again.Replayed)
		require.Equal(t, first.HoldID, again.HoldID)
		require.Equal(t, "m@example.com", again.Account)
		eq(t, first.Net.String(), again.Net)
		require.Equal(t, before, f.snapshot(t))
	})
}
