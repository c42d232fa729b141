package referral_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/teststore"
	"github.com/rewardkit/rewardkit/referral"
)

// capsOf returns a member's cap usage by rule name.
func (f *fixture) capsOf(tb testing.TB, id string) map[string]referral.CapUsage {
	tb.Helper()
	us, err := f.p.Caps(f.ctx, id)
	require.NoError(tb, err)
	out := map[string]referral.CapUsage{}
	for _, u := range us {
		out[u.Rule] = u
	}
	return out
}

// TestDeviceInvitesPerDay: two referrer accounts on one device share its
// daily invites; a refused signup writes nothing; the next day (in the
// campaign's time zone) counts afresh.
func TestDeviceInvitesPerDay(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		rules := referral.DefaultRules()
		rules.DeviceInvitesPerDay = 1
		f := newFixture(t, open, rules)
		for _, id := range []string{"giulia", "giulia2"} {
			m := f.member(id)
			m.Device = "dev-shared"
			f.members.Put(m)
		}
		c1, c2 := f.code(t, "giulia"), f.code(t, "giulia2")
		f.member("marco")
		f.member("sara")
		_, err := f.p.Signup(f.ctx, referral.SignupRequest{EventID: "s1", Invitee: "marco", Code: c1})
		require.NoError(t, err)
		before := f.snapshot(t)
		_, err = f.p.Signup(f.ctx, referral.SignupRequest{EventID: "s2", Invitee: "sara", Code: c2})
		require.ErrorIs(t, err, referral.ErrCapReached)
		require.Equal(t, "device_invites_per_day", ledger.RuleOf(err))
		require.Equal(t, before, f.snapshot(t), "a refused signup wrote")
		require.Equal(t, int64(0), f.capsOf(t, "giulia2")["device_invites_per_day"].RemainingCount)
		// 22:00 UTC is midnight in Rome: a new day for the device.
		f.clock.Set(time.Date(2020, 6, 1, 22, 0, 0, 0, time.UTC))
		m := f.member("sara")
		m.RegisteredAt = f.clock.Now()
		f.members.Put(m)
		_, err = f.p.Signup(f.ctx, referral.SignupRequest{EventID: "s3", Invitee: "sara", Code: c2})
		require.NoError(t, err)
		f.verify(t)
	})
}

// TestWeeklyEarningCap: the ISO week (Monday to Sunday in Rome) caps what
// tasks pay; the next Monday starts afresh.
func TestWeeklyEarningCap(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		rules := referral.DefaultRules()
		rules.WeeklyEarningCap = d(1500)
		f := newFixture(t, open, rules) // t0 is Monday 1 June 2020
		f.member("giulia")
		_, err := f.p.CompleteTask(f.ctx, referral.CompleteTaskRequest{EventID: "t1", Member: "giulia", Task: "profile_photo"})
		require.NoError(t, err)
		f.clock.Advance(5 * 24 * time.Hour) // Saturday
		before := f.snapshot(t)
		_, err = f.p.CompleteTask(f.ctx, referral.CompleteTaskRequest{EventID: "t2", Member: "giulia", Task: "publish_video"})
		require.ErrorIs(t, err, referral.ErrCapReached)
		require.Equal(t, "weekly_earning_cap", ledger.RuleOf(err))
		require.Equal(t, before, f.snapshot(t))
		u := f.capsOf(t, "giulia")["weekly_earning_cap"]
		require.Equal(t, "2020-W23", u.Period)
		require.Equal(t, int64(500), u.RemainingUnits)
		_, err = f.p.CompleteTask(f.ctx, referral.CompleteTaskRequest{EventID: "t3", Member: "giulia", Task: "watch_10_minutes"})
		require.NoError(t, err, "500 more fits")
		f.clock.Set(time.Date(2020, 6, 7, 22, 0, 0, 0, time.UTC)) // Monday 00:00 in Rome
		_, err = f.p.CompleteTask(f.ctx, referral.CompleteTaskRequest{EventID: "t4", Member: "giulia", Task: "publish_video"})
		require.NoError(t, err)
		require.True(t, f.wallet(t, "giulia").Equal(d(2400)))
		f.verify(t)
	})
}

// TestCountryBudget: a country's budget caps what the campaign pays its
// residents, signup rewards and tier bonuses together; other countries
// are not capped by it.
func TestCountryBudget(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		rules := referral.DefaultRules()
		rules.Country, rules.SameCountry = "", false
		rules.CountryBudgets = map[string]decimal.Decimal{"IT": d(41000)}
		f := newFixture(t, open, rules)
		it := f.member("giulia")
		it.Country = "IT"
		f.members.Put(it)
		fr := f.member("jean")
		fr.Country = "FR"
		f.members.Put(fr)
		cIT, cFR := f.code(t, "giulia"), f.code(t, "jean")
		for i := 0; i < 3; i++ {
			f.member(fmt.Sprintf("i%d", i))
			f.member(fmt.Sprintf("f%d", i))
		}
		_, err := f.p.Signup(f.ctx, referral.SignupRequest{EventID: "s1", Invitee: "i0", Code: cIT})
		require.NoError(t, err)
		_, err = f.p.Signup(f.ctx, referral.SignupRequest{EventID: "s2", Invitee: "i1", Code: cIT})
		require.NoError(t, err)
		before := f.snapshot(t)
		_, err = f.p.Signup(f.ctx, referral.SignupRequest{EventID: "s3", Invitee: "i2", Code: cIT})
		require.ErrorIs(t, err, referral.ErrBudgetExhausted)
		require.Equal(t, "country_budgets", ledger.RuleOf(err))
		require.Equal(t, before, f.snapshot(t))
		u := f.capsOf(t, "giulia")["country_budgets"]
		require.Equal(t, int64(40000), u.Units)
		require.Equal(t, int64(1000), u.RemainingUnits)
		for i := 0; i < 3; i++ {
			_, err := f.p.Signup(f.ctx, referral.SignupRequest{EventID: fmt.Sprintf("fr%d", i), Invitee: fmt.Sprintf("f%d", i), Code: cFR})
			require.NoError(t, err, "FR has no budget of its own")
		}
		_, ok := f.capsOf(t, "jean")["country_budgets"]
		require.False(t, ok)
		f.verify(t)
	})
}

// TestInvitesPerDayUnderRacingSignups: invitees racing to sign up with one
// code never get the referrer past invites_per_day, on either store.
func TestInvitesPerDayUnderRacingSignups(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		rules := referral.DefaultRules()
		rules.InvitesPerDay = 3
		rules.DailyEarningCap = d(1_000_000)
		f := newFixture(t, open, rules)
		f.member("giulia")
		code := f.code(t, "giulia")
		const n = 10
		for i := 0; i < n; i++ {
			f.member(fmt.Sprintf("inv%d", i))
		}
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				_, errs[i] = f.p.Signup(f.ctx, referral.SignupRequest{EventID: fmt.Sprintf("s%d", i), Invitee: fmt.Sprintf("inv%d", i), Code: code})
			}(i)
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
				continue
			}
			require.True(t, errors.Is(err, referral.ErrCapReached) && ledger.RuleOf(err) == "invites_per_day", "%v", err)
		}
		require.Equal(t, 3, ok)
		caps := f.capsOf(t, "giulia")
		require.Equal(t, int64(3), caps["invites_per_day"].Count)
		require.Equal(t, int64(60000), caps["daily_earning_cap"].Units)
		require.True(t, f.wallet(t, "giulia").Equal(d(60000)))
		f.verify(t)
	})
}
