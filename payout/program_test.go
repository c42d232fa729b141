package payout_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/teststore"
	"github.com/rewardkit/rewardkit/payout"
)

func TestWithdrawPaysNetAndBooksFeeAndRemainder(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open, payout.DefaultRules())
		f.fund(t, "giulia", 81250)
		po, err := f.p.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: "w1", Actor: "giulia", Amount: d("81250")})
		require.NoError(t, err)
		require.Equal(t, payout.StatusPaid, po.Status)
		require.Equal(t, "giulia@example.com", po.Account)
		eq(t, "0", f.wallet(t, "giulia").Posted)
		eq(t, "0", f.wallet(t, "giulia").Held)
		eq(t, "7.80", f.bal(t, payout.SettlementAccount("paypal"), "EUR").Posted)
		eq(t, "0.32", f.bal(t, payout.FeeAccount("paypal"), "EUR").Posted)
		eq(t, "50", f.bal(t, payout.RemainderAccount("paypal"), "RUBY").Posted)
		eq(t, "0", f.bal(t, payout.ClearingAccount("paypal"), "RUBY").Posted)
		eq(t, "7.80", f.prov.Paid("EUR"))
		require.NotZero(t, po.SettlementTx)
		f.verify(t)
	})
}

// TestWithdrawRefusals: each rule refuses with its typed error, names the
// rule, and changes nothing (no hold, no record, no provider call).
func TestWithdrawRefusals(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		cases := []struct {
			name   string
			rules  func(r *payout.Rules)
			setup  func(f *fixture)
			member string
			amount string
			err    error
			rule   string
			// ruleOf is the rule a refusal names as data (ledger.RuleOf),
			// when it is not rule.
			ruleOf string
		}{
			{name: "no linked account", member: "nolink", amount: "10000", err: payout.ErrNoPayoutAccount,
				setup: func(f *fixture) {}},
			{name: "below minimum", member: "m", amount: "7999", err: payout.ErrBelowMinimum, rule: "minimum"},
			{name: "worth less than a cent", member: "m", amount: "99", err: payout.ErrBelowMinimum, rule: "conversion", ruleOf: "rate",
				rules: func(r *payout.Rules) { r.Minimum = d("0") }},
			{name: "fee eats everything", member: "m", amount: "10000", err: payout.ErrBelowMinimum, rule: "conversion", ruleOf: "fixed_fee",
				rules: func(r *payout.Rules) { r.FixedFee = d("1.00") }},
			{name: "one a week", member: "m", amount: "8000", err: payout.ErrTooFrequent, rule: "max_per_period",
				setup: func(f *fixture) {
					f.fund(f.t, "m", 50000)
					_, err := f.p.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: "first", Actor: "m", Amount: d("8000")})
					require.NoError(f.t, err)
					f.clock.Advance(6 * 24 * time.Hour)
				}},
			{name: "daily maximum", member: "m", amount: "60000", err: payout.ErrDailyMaximum, rule: "daily_maximum",
				rules: func(r *payout.Rules) { r.DailyMaximum = d("10"); r.MaxPerPeriod = 5 },
				setup: func(f *fixture) {
					f.fund(f.t, "m", 100000)
					_, err := f.p.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: "first", Actor: "m", Amount: d("50000")})
					require.NoError(f.t, err)
				}},
			{name: "insufficient funds", member: "m", amount: "60000", err: payout.ErrInsufficientFunds,
				setup: func(f *fixture) { f.fund(f.t, "m", 50000) }},
			{name: "bad amount", member: "m", amount: "8000.5", err: payout.ErrInvalidRequest},
			{name: "bad member", member: "a:b", amount: "8000", err: payout.ErrInvalidRequest},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				r := payout.DefaultRules()
				if c.rules != nil {
					c.rules(&r)
				}
				f := newFixture(t, open, r)
				if c.setup != nil {
					c.setup(f)
				} else {
					f.fund(t, "m", 50000)
				}
				before := f.snapshot(t)
				_, err := f.p.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: "the-withdrawal", Actor: c.member, Amount: d(c.amount)})
				require.ErrorIs(t, err, c.err)
				require.Contains(t, err.Error(), c.rule)
				if c.ruleOf == "" {
					c.ruleOf = c.rule
				}
				require.Equal(t, c.ruleOf, ledger.RuleOf(err), "the refusing rule, as data")
				require.Equal(t, before, f.snapshot(t), "a refused withdrawal changes nothing")
				f.verify(t)
			})
		}
	})
}

func TestWeekLaterAndAfterFailureTheSlotIsFree(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open, payout.DefaultRules())
		f.fund(t, "m", 100000)
		f.prov.Next(payout.Fail)
		po, err := f.p.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: "w1", Actor: "m", Amount: d("10000")})
		require.NoError(t, err)
		require.Equal(t, payout.StatusFailed, po.Status)
		eq(t, "100000", f.wallet(t, "m").Available, "a failed payout releases the funds")
		po, err = f.p.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: "w2", Actor: "m", Amount: d("10000")})
		require.NoError(t, err, "a failed payout does not use the week's withdrawal")
		require.Equal(t, payout.StatusPaid, po.Status)
		_, err = f.p.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: "w3", Actor: "m", Amount: d("10000")})
		require.ErrorIs(t, err, payout.ErrTooFrequent)
		f.clock.Advance(7 * 24 * time.Hour)
		_, err = f.p.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: "w4", Actor: "m", Amount: d("10000")})
		require.NoError(t, err)
		f.verify(t)
	})
}

func TestWithdrawReplayAndConflict(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open, payout.DefaultRules())
		f.fund(t, "m", 50000)
		first, err := f.p.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: "w1", Actor: "m", Amount: d("20000")})
		require.NoError(t, err)
		before := f.snapshot(t)
		again, err := f.p.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: "w1", Actor: "m", Amount: d("20000.00")})
		require.NoError(t, err)
		require.True(t, again.Replayed)
		require.False(t, first.Replayed)
		require.Equal(t, payout.StatusSending, again.Status, "a replay returns the payout as the request recorded it")
		require.Equal(t, first.HoldID, again.HoldID)
		eq(t, first.Net.String(), again.Net)
		require.Equal(t, before, f.snapshot(t), "a replay of a settled payout changes nothing")
		_, err = f.p.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: "w1", Actor: "m", Amount: d("20001")})
		require.ErrorIs(t, err, payout.ErrIdempotencyConflict)
		require.Equal(t, before, f.snapshot(t))
	})
}

// TestTimeoutThenRetryPaysOnce: the provider pays but the answer is lost;
// the payout stays "sending" with the funds held; a retry with the same
// key learns the outcome, and the member is paid once.
func TestTimeoutThenRetryPaysOnce(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		for _, how := range []string{"Retry", "Tick", "replayed Withdraw"} {
			t.Run(how, func(t *testing.T) {
				f := newFixture(t, open, payout.DefaultRules())
				f.fund(t, "m", 50000)
				f.prov.Next(payout.TimeoutAfterPaying)
				po, err := f.p.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: "w1", Actor: "m", Amount: d("50000")})
				require.NoError(t, err)
				require.Equal(t, payout.StatusSending, po.Status)
				require.Contains(t, po.LastError, "timed out")
				eq(t, "50000", f.wallet(t, "m").Held)
				eq(t, "4.80", f.prov.Paid("EUR"), "the provider did pay")
				switch how {
				case "Retry":
					po, err = f.p.Retry(f.ctx, payout.RetryRequest{PayoutID: "w1"})
				case "Tick":
					f.clock.Advance(time.Duration(f.rules.RetryEvery))
					_, err = f.p.Tick(f.ctx)
					require.NoError(t, err)
					po, err = f.p.Get(f.ctx, "w1")
				default:
					calls := f.prov.Calls()
					po, err = f.p.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: "w1", Actor: "m", Amount: d("50000")})
					require.NoError(t, err)
					require.True(t, po.Replayed)
					require.Equal(t, payout.StatusSending, po.Status)
					require.Equal(t, calls, f.prov.Calls(), "a replay calls no provider")
					po, err = f.p.Retry(f.ctx, payout.RetryRequest{PayoutID: "w1"})
				}
				require.NoError(t, err)
				require.Equal(t, payout.StatusPaid, po.Status)
				require.Len(t, f.prov.Payments(), 1)
				require.Equal(t, 2, f.prov.Payments()[0].Sends, "sent twice with one key")
				eq(t, "4.80", f.prov.Paid("EUR"), "paid once")
				eq(t, "4.80", f.bal(t, payout.SettlementAccount("paypal"), "EUR").Posted, "booked once")
				eq(t, "0", f.wallet(t, "m").Posted)
				_, err = f.p.Retry(f.ctx, payout.RetryRequest{PayoutID: "w1"})
				require.NoError(t, err)
				eq(t, "4.80", f.bal(t, payout.SettlementAccount("paypal"), "EUR").Posted, "a late retry settles nothing again")
				f.verify(t)
			})
		}
	})
}

func TestLostRequestIsSentAgainByTick(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open, payout.DefaultRules())
		f.fund(t, "m", 50000)
		f.prov.Next(payout.TimeoutBeforePaying)
		po, err := f.p.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: "w1", Actor: "m", Amount: d("50000")})
		require.NoError(t, err)
		require.Equal(t, payout.StatusSending, po.Status)
		require.Empty(t, f.prov.Payments())
		rep, err := f.p.Tick(f.ctx)
		require.NoError(t, err)
		require.Equal(t, 0, sent(rep), "not due before retry_every")
		f.clock.Advance(time.Duration(f.rules.RetryEvery))
		rep, err = f.p.Tick(f.ctx)
		require.NoError(t, err)
		require.Equal(t, 1, settled(rep))
		eq(t, "4.80", f.prov.Paid("EUR"))
		before := f.snapshot(t)
		_, err = f.p.Tick(f.ctx)
		require.NoError(t, err)
		require.Equal(t, before, f.snapshot(t), "a second Tick changes nothing")
	})
}

// crashingProvider pays through the inner provider, then "crashes" the
// caller by cancelling its context before the outcome can be recorded.
type crashingProvider struct {
	inner  payout.Provider
	cancel context.CancelFunc
}

func (c *crashingProvider) Send(ctx context.Context, req payout.SendRequest) (payout.Receipt, error) {
	rc, err := c.inner.Send(ctx, req)
	c.cancel()
	return rc, err
}

func TestCrashBetweenSendAndRecordIsRecoveredByTick(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open, payout.DefaultRules())
		f.fund(t, "m", 50000)
		ctx, cancel := context.WithCancel(f.ctx)
		p, err := payout.New(f.ctx, f.l, f.rules, &crashingProvider{inner: f.prov, cancel: cancel})
		require.NoError(t, err)
		_, err = p.Withdraw(ctx, payout.WithdrawRequest{PayoutID: "w1", Actor: "m", Amount: d("50000")})
		require.ErrorIs(t, err, context.Canceled)
		po, err := f.p.Get(f.ctx, "w1")
		require.NoError(t, err)
		require.Equal(t, payout.StatusSending, po.Status, "the state before the call survived the crash")
		eq(t, "4.80", f.prov.Paid("EUR"))
		f.clock.Advance(time.Duration(f.rules.RetryEvery))
		_, err = f.p.Tick(f.ctx)
		require.NoError(t, err)
		po, err = f.p.Get(f.ctx, "w1")
		require.NoError(t, err)
		require.Equal(t, payout.StatusPaid, po.Status)
		eq(t, "4.80", f.prov.Paid("EUR"))
		eq(t, "4.80", f.bal(t, payout.SettlementAccount("paypal"), "EUR").Posted)
		f.verify(t)
	})
}

func TestHeldAndUnclaimedOutcomes(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		cases := []struct {
			name    string
			b       payout.Behaviour
			resolve payout.Outcome // "" = let time decide
			advance time.Duration
			status  payout.Status
			paid    string
		}{
			{"held then released", payout.HoldPayment, payout.OutcomeSucceeded, 0, payout.StatusPaid, "4.80"},
			{"held then refused", payout.HoldPayment, payout.OutcomeFailed, 0, payout.StatusFailed, "0"},
			{"unclaimed then claimed", payout.LeaveUnclaimed, payout.OutcomeSucceeded, 0, payout.StatusPaid, "4.80"},
			{"unclaimed then returned", payout.LeaveUnclaimed, "", 30 * 24 * time.Hour, payout.StatusReturned, "0"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				f := newFixture(t, open, payout.DefaultRules())
				f.fund(t, "m", 50000)
				f.prov.Next(c.b)
				po, err := f.p.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: "w1", Actor: "m", Amount: d("50000")})
				require.NoError(t, err)
				require.False(t, po.Status.Final())
				eq(t, "50000", f.wallet(t, "m").Held, "funds held while in flight")
				f.clock.Advance(time.Duration(f.rules.RetryEvery))
				_, err = f.p.Tick(f.ctx)
				require.NoError(t, err)
				po, err = f.p.Get(f.ctx, "w1")
				require.NoError(t, err)
				require.False(t, po.Status.Final(), "still in flight")
				if c.resolve != "" {
					require.NoError(t, f.prov.Resolve("payout:paypal:w1", c.resolve))
				}
				f.clock.Advance(c.advance + time.Duration(f.rules.RetryEvery))
				_, err = f.p.Tick(f.ctx)
				require.NoError(t, err)
				po, err = f.p.Get(f.ctx, "w1")
				require.NoError(t, err)
				require.Equal(t, c.status, po.Status)
				eq(t, "0", f.wallet(t, "m").Held, "the hold is settled")
				eq(t, c.paid, f.bal(t, payout.SettlementAccount("paypal"), "EUR").Posted)
				eq(t, c.paid, f.prov.Paid("EUR"))
				if c.paid == "0" {
					eq(t, "50000", f.wallet(t, "m").Posted, "the member keeps the rubies")
				}
				h, err := f.l.HoldByID(f.ctx, po.HoldID)
				require.NoError(t, err)
				require.NotEqual(t, ledger.HoldPending, h.Status)
				f.verify(t)
			})
		}
	})
}

func TestManualReview(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		rules := payout.DefaultRules()
		rules.ReviewAbove = d("5")
		f := newFixture(t, open, rules)
		f.fund(t, "a", 60000)
		f.fund(t, "b", 60000)
		po, err := f.p.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: "wa", Actor: "a", Amount: d("60000")})
		require.NoError(t, err)
		require.Equal(t, payout.StatusReview, po.Status)
		require.Zero(t, f.prov.Calls(), "nothing is sent before approval")
		eq(t, "60000", f.wallet(t, "a").Held)
		po, err = f.p.Approve(f.ctx, payout.ApproveRequest{Actor: reviewer, PayoutID: "wa"})
		require.NoError(t, err)
		require.Equal(t, payout.StatusPaid, po.Status)
		_, err = f.p.Reject(f.ctx, payout.RejectRequest{Actor: reviewer, PayoutID: "wa", Reason: "too late"})
		require.ErrorIs(t, err, payout.ErrWrongState)

		po, err = f.p.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: "wb", Actor: "b", Amount: d("60000")})
		require.NoError(t, err)
		po, err = f.p.Reject(f.ctx, payout.RejectRequest{Actor: reviewer, PayoutID: "wb", Reason: "suspicious"})
		require.NoError(t, err)
		require.Equal(t, payout.StatusRejected, po.Status)
		eq(t, "60000", f.wallet(t, "b").Available)
		before := f.snapshot(t)
		_, err = f.p.Approve(f.ctx, payout.ApproveRequest{Actor: reviewer, PayoutID: "wb"})
		require.ErrorIs(t, err, payout.ErrWrongState)
		again, err := f.p.Reject(f.ctx, payout.RejectRequest{Actor: reviewer, PayoutID: "wb", Reason: "suspicious"})
		require.NoError(t, err)
		require.Equal(t, payout.StatusRejected, again.Status)
		require.Equal(t, before, f.snapshot(t))
		_, err = f.p.Approve(f.ctx, payout.ApproveRequest{Actor: reviewer, PayoutID: "nope"})
		require.ErrorIs(t, err, payout.ErrNotFound)
		// Below the threshold goes straight out.
		f.fund(t, "c", 10000)
		po, err = f.p.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: "wc", Actor: "c", Amount: d("10000")})
		require.NoError(t, err)
		require.Equal(t, payout.StatusPaid, po.Status)
		f.verify(t)
	})
}

func TestConcurrentWithdrawSameIDPaysOnce(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open, payout.DefaultRules())
		f.fund(t, "m", 50000)
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				_, errs[i] = f.p.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: "w1", Actor: "m", Amount: d("30000")})
			}(i)
		}
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
		require.Len(t, f.prov.Payments(), 1)
		eq(t, "2.88", f.prov.Paid("EUR"))
		eq(t, "2.88", f.bal(t, payout.SettlementAccount("paypal"), "EUR").Posted)
		eq(t, "20000", f.wallet(t, "m").Posted)
		f.verify(t)
	})
}

func TestMemoryProviderRefusesKeyReuse(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open, payout.DefaultRules())
		req := payout.SendRequest{Key: "k", Member: "m", Account: "m@x", Currency: "EUR", Amount: d("1.00")}
		_, err := f.prov.Send(f.ctx, req)
		require.NoError(t, err)
		req.Amount = d("2.00")
		_, err = f.prov.Send(f.ctx, req)
		require.True(t, errors.Is(err, payout.ErrProviderConflict))
		require.ErrorIs(t, f.prov.Resolve("k", payout.OutcomeFailed), payout.ErrWrongState)
	})
}
