package gifting_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/gifting"
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/teststore"
)

// TestDailySpendLimitInViewersTimeZone: the limit's day is the viewer's:
// for a viewer in Tokyo it starts at midnight there, not at UTC midnight.
// A refused gift writes nothing.
func TestDailySpendLimitInViewersTimeZone(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		r := gifting.DefaultRules()
		r.DailySpendLimit = 250
		e := newEnv(t, open, r)
		e.dir.Update("ann", func(m *kit.Member) { m.TimeZone = "Asia/Tokyo" })
		e.buy(t, "pay-1", "ann", "it-app-1400")
		send := func(id string) error {
			_, err := e.p.SendGift(e.ctx, gifting.SendGiftRequest{EventID: id, Actor: "ann", Creator: "cat", Gift: "hand-hearts", Count: 1})
			return err
		}
		// 18:00 UTC is 03:00 on 2 March in Tokyo.
		require.NoError(t, send("g-1"))
		require.NoError(t, send("g-2"))
		before := e.snapshot(t)
		err := send("g-3")
		require.ErrorIs(t, err, gifting.ErrDailyLimit)
		require.Equal(t, "daily_spend_limit", ledger.RuleOf(err))
		require.Equal(t, before, e.snapshot(t))
		u, err := e.p.SpendToday(e.ctx, "ann")
		require.NoError(t, err)
		require.Equal(t, "2026-03-02", u.Period)
		require.Equal(t, int64(200), u.Units)
		require.Equal(t, int64(50), u.RemainingUnits)
		tokyo, _ := time.LoadLocation("Asia/Tokyo")
		require.True(t, u.Resets.Equal(time.Date(2026, 3, 3, 0, 0, 0, 0, tokyo)))
		// UTC midnight is 09:00 in Tokyo: still the same day for ann.
		e.clock.Set(time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC))
		require.ErrorIs(t, send("g-4"), gifting.ErrDailyLimit)
		// Midnight in Tokyo starts afresh.
		e.clock.Set(time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC))
		require.NoError(t, send("g-5"))
		e.verify(t)
	})
}

// TestDailySpendLimitUnderRacingGifts: gifts racing from one viewer never
// take the day's spend past the limit, on either store.
func TestDailySpendLimitUnderRacingGifts(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		r := gifting.DefaultRules()
		r.DailySpendLimit = 550
		e := newEnv(t, open, r)
		e.buy(t, "pay-1", "ann", "it-app-1400")
		const n = 12
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				_, errs[i] = e.p.SendGift(e.ctx, gifting.SendGiftRequest{EventID: fmt.Sprintf("g-%d", i), Actor: "ann", Creator: "cat", Gift: "hand-hearts", Count: 1})
			}(i)
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
				continue
			}
			require.True(t, errors.Is(err, gifting.ErrDailyLimit), "%v", err)
		}
		require.Equal(t, 5, ok)
		u, err := e.p.SpendToday(e.ctx, "ann")
		require.NoError(t, err)
		require.Equal(t, int64(500), u.Units)
		require.Equal(t, int64(900), e.units(t, gifting.MemberAccount("ann"), "COIN"))
		e.verify(t)
	})
}

// TestDailySpendLimitNeedsAKnownTimeZone: a viewer whose time zone the
// system does not know has no day to count in; the rule refuses with
// kit.ErrMemberFacts and writes nothing, and a viewer with no time zone
// counts in UTC.
func TestDailySpendLimitNeedsAKnownTimeZone(t *testing.T) {
	r := gifting.DefaultRules()
	r.DailySpendLimit = 250
	r.MinAgeSend = 0 // the age rule reads the time zone too, and would refuse first
	e := newEnv(t, teststore.Memory, r)
	e.buy(t, "pay-1", "ann", "it-app-350")
	e.dir.Update("ann", func(m *kit.Member) { m.TimeZone = "Mars/Olympus" })
	before := e.snapshot(t)
	_, err := e.p.SendGift(e.ctx, gifting.SendGiftRequest{EventID: "g-1", Actor: "ann", Creator: "cat", Gift: "rose", Count: 1})
	require.ErrorIs(t, err, kit.ErrMemberFacts)
	require.Equal(t, "daily_spend_limit", ledger.RuleOf(err))
	require.Equal(t, before, e.snapshot(t))
	e.dir.Update("ann", func(m *kit.Member) { m.TimeZone = "" })
	_, err = e.p.SendGift(e.ctx, gifting.SendGiftRequest{EventID: "g-1", Actor: "ann", Creator: "cat", Gift: "rose", Count: 1})
	require.NoError(t, err)
	u, err := e.p.SpendToday(e.ctx, "ann")
	require.NoError(t, err)
	require.Equal(t, start.Format(time.DateOnly), u.Period)
}
