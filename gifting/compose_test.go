package gifting_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/gifting"
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/teststore"
)

// TestInFormsShareTheCallersUnitOfWork: a purchase and a gift made with
// the In forms inside one ledger.Update commit together, and a refusal of
// the second undoes the first (issue 11 #1).
func TestInFormsShareTheCallersUnitOfWork(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		e := newEnv(t, open, gifting.DefaultRules())
		before := e.snapshot(t)
		refused := e.l.Update(e.ctx, func(w *ledger.Writer) error {
			if _, err := e.p.BuyPackIn(w, gifting.BuyPackRequest{PaymentRef: "pay-1", Actor: "ann", Pack: "it-app-350"}); err != nil {
				return err
			}
			_, err := e.p.SendGiftIn(w, gifting.SendGiftRequest{EventID: "g-1", Actor: "ann", Creator: "pol", Gift: "rose", Count: 1})
			return err
		})
		require.ErrorIs(t, refused, gifting.ErrIneligible)
		require.Equal(t, "blocked_recipient_kinds", ledger.RuleOf(refused))
		require.Equal(t, before, e.snapshot(t), "the refused gift undid the purchase made in the same unit of work")

		var pu gifting.Purchase
		var res gifting.GiftResult
		err := e.l.Update(e.ctx, func(w *ledger.Writer) error {
			var err error
			if pu, err = e.p.BuyPackIn(w, gifting.BuyPackRequest{PaymentRef: "pay-1", Actor: "ann", Pack: "it-app-350"}); err != nil {
				return err
			}
			res, err = e.p.SendGiftIn(w, gifting.SendGiftRequest{EventID: "g-1", Actor: "ann", Creator: "cat", Gift: "hand-hearts", Count: 1})
			return err
		})
		require.NoError(t, err)
		require.False(t, pu.Replayed)
		require.Equal(t, int64(50), res.Diamonds)
		require.Equal(t, int64(250), e.units(t, gifting.MemberAccount("ann"), "COIN"))
		require.Equal(t, int64(50), e.units(t, gifting.EarningsAccount("cat"), "DIAMOND"))

		// The ctx forms see what the In forms did: a replay.
		again, err := e.p.SendGift(e.ctx, gifting.SendGiftRequest{EventID: "g-1", Actor: "ann", Creator: "cat", Gift: "hand-hearts", Count: 1})
		require.NoError(t, err)
		require.True(t, again.Replayed)
		require.Equal(t, res.Transactions, again.Transactions)
		e.verify(t)
	})
}

// TestRefusalsNameTheirRule: every refusal by a rule of the rule set
// carries the rule's JSON name as data (ledger.RuleOf), and writes
// nothing.
func TestRefusalsNameTheirRule(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		r := gifting.DefaultRules()
		r.DailySpendLimit = 120
		e := newEnv(t, open, r)
		e.buy(t, "pay-1", "ann", "it-app-350")
		gift := func(creator, g string, n int) error {
			_, err := e.p.SendGift(e.ctx, gifting.SendGiftRequest{EventID: "g-x", Actor: "ann", Creator: creator, Gift: g, Count: n})
			return err
		}
		for rule, call := range map[string]func() error{
			"min_age_buy": func() error {
				_, err := e.p.BuyPack(e.ctx, gifting.BuyPackRequest{PaymentRef: "pay-x", Actor: "kid", Pack: "it-app-70"})
				return err
			},
			"packs": func() error {
				_, err := e.p.BuyPack(e.ctx, gifting.BuyPackRequest{PaymentRef: "pay-x", Actor: "joe", Pack: "it-app-70"})
				return err
			},
			"min_age_send": func() error {
				_, err := e.p.SendGift(e.ctx, gifting.SendGiftRequest{EventID: "g-x", Actor: "kid", Creator: "cat", Gift: "rose", Count: 1})
				return err
			},
			"min_age_receive":         func() error { return gift("teen", "rose", 1) },
			"blocked_recipient_kinds": func() error { return gift("pol", "rose", 1) },
			"max_gifts_per_send":      func() error { return gift("cat", "rose", 100) },
			"daily_spend_limit":       func() error { return gift("cat", "hand-hearts", 2) },
		} {
			before := e.snapshot(t)
			err := call()
			require.Error(t, err, rule)
			require.Equal(t, rule, ledger.RuleOf(err), "%v", err)
			require.Equal(t, before, e.snapshot(t), rule)
		}
	})
}

// TestAgeRulesUseTheMembersLocalDate: a member comes of age at local
// midnight of the birthday in their own time zone, on the unit of work's
// clock; a member whose birth date is unknown is never taken to be old
// enough (kit.ErrMemberFacts), and is refused without a write.
func TestAgeRulesUseTheMembersLocalDate(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		e := newEnv(t, open, gifting.DefaultRules())
		// Turns 18 on 2 March 2026 in Tokyo: 1 March 15:00 UTC.
		e.dir.Put(kit.Member{ID: "yui", BirthDate: kit.NewDate(2008, time.March, 2), TimeZone: "Asia/Tokyo", Country: "IT"})
		e.dir.Put(kit.Member{ID: "nodate", Country: "IT"})
		buy := func(ref, who string) error {
			_, err := e.p.BuyPack(e.ctx, gifting.BuyPackRequest{PaymentRef: ref, Actor: who, Pack: "it-app-70"})
			return err
		}
		e.clock.Set(time.Date(2026, 3, 1, 14, 59, 0, 0, time.UTC)) // 23:59 in Tokyo
		before := e.snapshot(t)
		err := buy("pay-yui", "yui")
		require.ErrorIs(t, err, gifting.ErrIneligible)
		require.Equal(t, "min_age_buy", ledger.RuleOf(err))
		err = buy("pay-nodate", "nodate")
		require.ErrorIs(t, err, kit.ErrMemberFacts)
		require.False(t, errors.Is(err, gifting.ErrIneligible))
		require.Equal(t, before, e.snapshot(t))

		e.clock.Set(time.Date(2026, 3, 1, 15, 0, 0, 0, time.UTC)) // midnight in Tokyo
		require.NoError(t, buy("pay-yui", "yui"))
	})
}

// TestCashValueIsTheDiamondValue: the rule handed to payout converts a
// diamond at diamond_value, rounding down as CreatorEarnings does.
func TestCashValueIsTheDiamondValue(t *testing.T) {
	r := gifting.DefaultRules()
	v := r.CashValue()
	require.Equal(t, "DIAMOND", v.From)
	require.Equal(t, "USD", v.To)
	require.Equal(t, "1/200", v.Rate.String())
	require.Equal(t, ledger.RoundDown, v.Rounding)
	require.Empty(t, v.Exchange+v.Remainder+v.FeeAccount, "the converter books through its own accounts")
	v.Exchange, v.Remainder = "payout:p:exchange", "payout:p:remainder" // as payout does
	q, err := v.Quote(ledger.DIAMOND, ledger.USD, 4321)
	require.NoError(t, err)
	require.Equal(t, int64(2160), q.Gross, "4,321 diamonds are worth 21.60 USD, rounded down")
}
