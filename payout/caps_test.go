package payout_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/teststore"
	"github.com/rewardkit/rewardkit/payout"
)

// TestDailyMaximumIsARollingWindow: the daily maximum counts the money
// withdrawn in the last daily_window, whatever the calendar says; a payout
// the provider refuses is given back at once; a refused withdrawal writes
// nothing.
func TestDailyMaximumIsARollingWindow(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		r := payout.DefaultRules()
		r.DailyMaximum, r.MaxPerPeriod = d("10"), 10
		f := newFixture(t, open, r)
		f.fund(t, "m", 300000)
		withdraw := func(id, amount string) (payout.Payout, error) {
			return f.p.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: id, Actor: "m", Amount: d(amount)})
		}
		f.prov.Next(payout.Fail)
		po, err := withdraw("w1", "50000") // 5.00 EUR, refused by the provider
		require.NoError(t, err)
		require.Equal(t, payout.StatusFailed, po.Status)
		for _, id := range []string{"w2", "w3"} {
			po, err := withdraw(id, "50000")
			require.NoError(t, err, "the failed payout left the window")
			require.Equal(t, payout.StatusPaid, po.Status)
		}
		f.clock.Advance(23 * time.Hour)
		before := f.snapshot(t)
		_, err = withdraw("w4", "10000")
		require.ErrorIs(t, err, payout.ErrDailyMaximum)
		require.Equal(t, "daily_maximum", ledger.RuleOf(err))
		require.Contains(t, err.Error(), "10.00 of 10.00 EUR in the last 24h0m0s")
		require.Equal(t, before, f.snapshot(t))
		f.clock.Advance(time.Hour) // w2 and w3 leave the window
		_, err = withdraw("w4", "100000")
		require.NoError(t, err)
		f.verify(t)
	})
}

// TestDailyMaximumUnderRacingWithdrawals: withdrawals racing for one
// member never take the window past the daily maximum, on either store.
func TestDailyMaximumUnderRacingWithdrawals(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		r := payout.DefaultRules()
		r.DailyMaximum, r.MaxPerPeriod = d("20"), 100
		f := newFixture(t, open, r)
		f.fund(t, "m", 1_000_000)
		const n = 8
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				_, errs[i] = f.p.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: fmt.Sprintf("w%d", i), Actor: "m", Amount: d("50000")})
			}(i)
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
				continue
			}
			require.True(t, errors.Is(err, payout.ErrDailyMaximum), "%v", err)
		}
		require.Equal(t, 4, ok, "4 × 5.00 EUR fit in 20.00")
		require.True(t, f.wallet(t, "m").Posted.Equal(d("800000")))
		f.verify(t)
	})
}
