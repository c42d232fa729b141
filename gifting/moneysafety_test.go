package gifting_test

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/rewardkit/rewardkit/gifting"
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/teststore"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
)

// TestWalletOpenedByAnotherProgram: a member's wallet is opened only
// through kit.OpenWallet with the shared policy, so gifting and the other
// programs never open it two ways (issue 10 #5). A wallet another program
// opened first, with whatever policy, is used as it is: gifting buys,
// gifts and charges back for that member. A wallet gifting opens first is
// opened exactly as kit.OpenWallet would with the shared policy, so every
// other program opening it with that policy (or through OpenWallet) gets
// no ErrAccountConflict.
func TestWalletOpenedByAnotherProgram(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		policy := coinOverdraft(50)
		e := newEnv(t, open, gifting.DefaultRules(), gifting.WithWallets(policy))

		// ann's wallet: opened by "another program" with an empty policy,
		// straight through the ledger.
		_, err := e.l.OpenAccount(e.ctx, ledger.AccountSpec{Address: kit.WalletAccount("ann")})
		require.NoError(t, err)
		e.buy(t, "pay-1", "ann", "it-app-70")
		_, err = e.p.SendGift(e.ctx, gifting.SendGiftRequest{EventID: "g-1", Actor: "ann", Creator: "cat", Gift: "doughnut", Count: 1})
		require.NoError(t, err)
		pu, err := e.p.Chargeback(e.ctx, gifting.ChargebackRequest{Actor: officer, PaymentRef: "pay-1"})
		require.NoError(t, err)
		// The wallet keeps the policy it was opened with: no overdraft.
		require.Equal(t, int64(40), pu.ClawedBack)
		require.Equal(t, int64(30), pu.Unrecovered)
		require.Equal(t, int64(0), e.units(t, gifting.MemberAccount("ann"), "COIN"))

		// bob's wallet: opened by another program through kit.OpenWallet
		// with a different policy.
		require.NoError(t, e.l.Update(e.ctx, func(w *ledger.Writer) error {
			_, err := kit.OpenWallet(w, coinOverdraft(5), "bob")
			return err
		}))
		e.buy(t, "pay-2", "bob", "it-app-70")
		_, err = e.p.SendGift(e.ctx, gifting.SendGiftRequest{EventID: "g-2", Actor: "bob", Creator: "cat", Gift: "doughnut", Count: 1})
		require.NoError(t, err)
		pu, err = e.p.Chargeback(e.ctx, gifting.ChargebackRequest{Actor: officer, PaymentRef: "pay-2"})
		require.NoError(t, err)
		require.Equal(t, int64(45), pu.ClawedBack)
		require.Equal(t, int64(-5), e.units(t, gifting.MemberAccount("bob"), "COIN"))

		// dan's wallet: gifting opens it first; the other programs open it
		// the same way afterwards without conflict.
		e.dir.Put(kit.Member{ID: "dan", BirthDate: born(33), Kind: "personal", Country: "IT"})
		e.buy(t, "pay-3", "dan", "it-app-70")
		_, err = e.l.OpenAccount(e.ctx, policy.Spec("dan"))
		require.NoError(t, err, "another program opening dan's wallet with the shared policy")
		require.NoError(t, e.l.Update(e.ctx, func(w *ledger.Writer) error {
			_, err := kit.OpenWallet(w, policy, "dan")
			return err
		}))
		var acc ledger.Account
		require.NoError(t, e.l.View(e.ctx, func(r *ledger.Reader) (err error) {
			acc, err = r.Account(kit.WalletAccount("dan"))
			return err
		}))
		require.Equal(t, map[string]int64{"COIN": 50}, acc.Limits)
		_, err = e.p.SendGift(e.ctx, gifting.SendGiftRequest{EventID: "g-3", Actor: "dan", Creator: "cat", Gift: "doughnut", Count: 1})
		require.NoError(t, err)
		pu, err = e.p.Chargeback(e.ctx, gifting.ChargebackRequest{Actor: officer, PaymentRef: "pay-3"})
		require.NoError(t, err)
		require.Equal(t, int64(70), pu.ClawedBack)
		require.Equal(t, int64(-30), e.units(t, gifting.MemberAccount("dan"), "COIN"))
		e.verify(t)
	})
}

// TestCoinOverdraftRuleIsGone: the rule coin_overdraft made gifting open
// wallets with a policy of its own (issue 10 #5); a rule file that still
// sets it is refused, naming the field and where the overdraft went.
func TestCoinOverdraftRuleIsGone(t *testing.T) {
	b, err := json.Marshal(gifting.DefaultRules())
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	m["coin_overdraft"] = 20
	b, err = json.Marshal(m)
	require.NoError(t, err)
	_, err = gifting.ParseRules(b)
	require.ErrorIs(t, err, gifting.ErrInvalidRules)
	require.Contains(t, err.Error(), "coin_overdraft")
	require.Contains(t, err.Error(), "WithWallets")
}

// TestChargebackReachesEscrowedCoins: a chargeback takes back coins held
// for an open order (a shoutout's escrow) too, not only the available ones
// (issue 10 #13). Buy 350 coins, hold 300 as shoutout would, charge the
// payment back: all 350 come back; voiding the hold then leaves the viewer
// with nothing, not with 300 coins whose payment was reversed.
func TestChargebackReachesEscrowedCoins(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		e := newEnv(t, open, gifting.DefaultRules())
		e.buy(t, "pay-1", "ann", "it-app-350")
		h, err := e.l.Hold(e.ctx, ledger.HoldRequest{Key: "shoutout:order-1", Account: gifting.MemberAccount("ann"), Asset: "COIN",
			Amount: decimal.NewFromInt(300), ExpiresAt: start.Add(72 * time.Hour)})
		require.NoError(t, err)

		pu, err := e.p.Chargeback(e.ctx, gifting.ChargebackRequest{Actor: officer, PaymentRef: "pay-1"})
		require.NoError(t, err)
		require.Equal(t, int64(350), pu.ClawedBack)
		require.Equal(t, int64(0), pu.Unrecovered)
		b := e.balance(t, gifting.MemberAccount("ann"), "COIN")
		require.Equal(t, "0", b.Posted.String())
		require.Equal(t, "300", b.Held.String())
		// The escrow is gone: no gift can be paid from it.
		_, err = e.p.SendGift(e.ctx, gifting.SendGiftRequest{EventID: "g-1", Actor: "ann", Creator: "cat", Gift: "rose", Count: 1})
		require.ErrorIs(t, err, gifting.ErrInsufficientCoins)

		// The order is cancelled: its hold is voided.
		_, err = e.l.Void(e.ctx, h.ID)
		require.NoError(t, err)
		b = e.balance(t, gifting.MemberAccount("ann"), "COIN")
		require.Equal(t, "0", b.Available.String())
		require.Equal(t, "0", b.Posted.String())
		require.True(t, e.money(t, gifting.CoinSalesAccount, "EUR").IsZero())
		e.verify(t)
	})
}

// TestChargebackOfSpentAndEscrowedCoins: with gifts spent, coins held and
// an overdraft, Unrecovered is exactly what the member spent beyond the
// overdraft (issue 10 #13).
func TestChargebackOfSpentAndEscrowedCoins(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		e := newEnv(t, open, gifting.DefaultRules(), gifting.WithWallets(coinOverdraft(20)))
		e.buy(t, "pay-1", "ann", "it-app-350")
		_, err := e.p.SendGift(e.ctx, gifting.SendGiftRequest{EventID: "g-1", Actor: "ann", Creator: "cat", Gift: "hand-hearts", Count: 1})
		require.NoError(t, err)
		_, err = e.l.Hold(e.ctx, ledger.HoldRequest{Key: "shoutout:order-1", Account: gifting.MemberAccount("ann"), Asset: "COIN",
			Amount: decimal.NewFromInt(200), ExpiresAt: start.Add(72 * time.Hour)})
		require.NoError(t, err)
		// 250 posted, 200 of them held, 20 of overdraft: 270 come back,
		// the 80 spent beyond the overdraft are unrecovered.
		pu, err := e.p.Chargeback(e.ctx, gifting.ChargebackRequest{Actor: officer, PaymentRef: "pay-1"})
		require.NoError(t, err)
		require.Equal(t, int64(270), pu.ClawedBack)
		require.Equal(t, int64(80), pu.Unrecovered)
		require.Equal(t, int64(-20), e.units(t, gifting.MemberAccount("ann"), "COIN"))
		e.verify(t)
	})
}

// TestChargebackNeedsRiskOfficer: a chargeback is a staff action; an actor
// without kit.RoleRiskOfficer, with no actor, the viewer themself, or a
// program given no role directory is ledger.ErrForbidden and writes
// nothing (issue 10 #4).
func TestChargebackNeedsRiskOfficer(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		e := newEnv(t, open, gifting.DefaultRules())
		e.roles.Grant("ann", kit.RoleRiskOfficer)                              // the viewer herself
		e.roles.Grant("sam", kit.RoleProgramAdmin)                             // another role
		noRoles, err := gifting.New(e.ctx, e.l, gifting.DefaultRules(), e.dir) // no WithRoles
		require.NoError(t, err)
		e.buy(t, "pay-1", "ann", "it-app-350")
		before := e.snapshot(t)
		for name, call := range map[string]func() error{
			"no actor": func() error {
				_, err := e.p.Chargeback(e.ctx, gifting.ChargebackRequest{Actor: "", PaymentRef: "pay-1"})
				return err
			},
			"unknown actor": func() error {
				_, err := e.p.Chargeback(e.ctx, gifting.ChargebackRequest{Actor: "mallory", PaymentRef: "pay-1"})
				return err
			},
			"another role": func() error {
				_, err := e.p.Chargeback(e.ctx, gifting.ChargebackRequest{Actor: "sam", PaymentRef: "pay-1"})
				return err
			},
			"the viewer": func() error {
				_, err := e.p.Chargeback(e.ctx, gifting.ChargebackRequest{Actor: "ann", PaymentRef: "pay-1"})
				return err
			},
			"no role directory": func() error {
				_, err := noRoles.Chargeback(e.ctx, gifting.ChargebackRequest{Actor: officer, PaymentRef: "pay-1"})
				return err
			},
			"unknown purchase too": func() error {
				_, err := e.p.Chargeback(e.ctx, gifting.ChargebackRequest{Actor: "mallory", PaymentRef: "pay-none"})
				return err
			},
		} {
			err := call()
			require.ErrorIs(t, err, ledger.ErrForbidden, name)
			require.Equal(t, before, e.snapshot(t), name)
		}
		pu, err := e.p.Chargeback(e.ctx, gifting.ChargebackRequest{Actor: officer, PaymentRef: "pay-1"})
		require.NoError(t, err)
		require.True(t, pu.ChargedBack)
		require.Equal(t, officer, pu.ChargebackBy)
	})
}

// TestRetryAfterFactsChanged: the retry check comes before any member
// fact, catalogue or rule is read (issue 10 #6): a gift retried after the
// creator's account kind changed, and a pack purchase retried after the
// viewer's region changed, return the first result marked Replayed, and
// move nothing — also under a program restarted with other rules.
func TestRetryAfterFactsChanged(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		e := newEnv(t, open, gifting.DefaultRules())
		pu := e.buy(t, "pay-1", "ann", "it-app-350")
		req := gifting.SendGiftRequest{Actor: "ann", Creator: "cat", Gift: "hand-hearts", Count: 1, Live: "live-1"}
		res, err := e.p.SendGift(e.ctx, withEvent("g-1", req))
		require.NoError(t, err)
		before := e.snapshot(t)

		e.dir.Put(kit.Member{ID: "cat", BirthDate: born(25), Kind: "political", Country: "IT"})
		e.dir.Put(kit.Member{ID: "ann", BirthDate: born(30), Kind: "personal", Country: "US"})
		again, err := e.p.SendGift(e.ctx, withEvent("g-1", req))
		require.NoError(t, err)
		require.True(t, again.Replayed)
		require.Equal(t, res.Transactions, again.Transactions)
		require.Equal(t, res.Diamonds, again.Diamonds)
		pagain, err := e.p.BuyPack(e.ctx, gifting.BuyPackRequest{PaymentRef: "pay-1", Actor: "ann", Pack: "it-app-350"})
		require.NoError(t, err)
		require.True(t, pagain.Replayed)
		require.Equal(t, pu.Transaction, pagain.Transaction)

		// The same under other rules: the pack and the gift are gone from
		// the catalogue, the maximum count is lower.
		r := gifting.DefaultRules()
		r.Packs = r.Packs[:1]
		r.Gifts = r.Gifts[:1]
		r.MaxGiftsPerSend = 1
		r.MinAgeBuy, r.MinAgeSend = 99, 99
		p2, err := gifting.New(e.ctx, e.l, r, e.dir)
		require.NoError(t, err)
		again, err = p2.SendGift(e.ctx, withEvent("g-1", req))
		require.NoError(t, err)
		require.True(t, again.Replayed)
		pagain, err = p2.BuyPack(e.ctx, gifting.BuyPackRequest{PaymentRef: "pay-1", Actor: "ann", Pack: "it-app-350"})
		require.NoError(t, err)
		require.True(t, pagain.Replayed)
		require.Equal(t, before, e.snapshot(t))

		// A new event is judged on today's facts.
		_, err = e.p.SendGift(e.ctx, withEvent("g-2", req))
		require.ErrorIs(t, err, gifting.ErrIneligible)
		require.Equal(t, before, e.snapshot(t))
	})
}

// TestReplayReturnsTheResultOfTheEvent: a retried BuyPack returns the
// purchase as it was when it ran, not as a later chargeback left it
// (issue 10 #6: a replay is as of the event).
func TestReplayReturnsTheResultOfTheEvent(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		e := newEnv(t, open, gifting.DefaultRules())
		e.buy(t, "pay-1", "ann", "it-app-70")
		_, err := e.p.Chargeback(e.ctx, gifting.ChargebackRequest{Actor: officer, PaymentRef: "pay-1"})
		require.NoError(t, err)
		again, err := e.p.BuyPack(e.ctx, gifting.BuyPackRequest{PaymentRef: "pay-1", Actor: "ann", Pack: "it-app-70"})
		require.NoError(t, err)
		require.True(t, again.Replayed)
		require.False(t, again.ChargedBack)
		now, err := e.p.PurchaseByRef(e.ctx, "pay-1")
		require.NoError(t, err)
		require.True(t, now.ChargedBack)
	})
}

// TestCountersRefuseOverflow: the program's counters (daily spend, LIVE
// and gifter totals) are checked sums; one that would pass int64 refuses
// the gift with ledger.ErrOverflow and writes nothing, instead of wrapping
// to a negative total that lets spending past the limit (issue 10 #1).
// Records near the limit stand in for a long history.
func TestCountersRefuseOverflow(t *testing.T) {
	cases := []struct {
		name   string
		limit  int64
		kind   string
		id     string
		record any
	}{
		{"daily spend", math.MaxInt64, "gifting.cap", "daily_spend_limit:ann:" + start.Format(time.DateOnly), map[string]int64{"units": math.MaxInt64 - 10}},
		{"live coins", 0, "gifting.live", "live-1", map[string]any{"live": "live-1", "coins": math.MaxInt64 - 10, "by_gift": map[string]int64{}}},
		{"live gifts by gift", 0, "gifting.live", "live-1", map[string]any{"live": "live-1", "by_gift": map[string]int64{"hand-hearts": math.MaxInt64}}},
		{"gifter coins", 0, "gifting.gifter", "live-1/ann", map[string]any{"viewer": "ann", "coins": math.MaxInt64 - 10}},
	}
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel() // each case on a store of its own
				r := gifting.DefaultRules()
				r.DailySpendLimit = c.limit
				e := newEnv(t, open, r)
				e.buy(t, "pay-1", "ann", "it-app-350")
				require.NoError(t, e.l.Update(e.ctx, func(w *ledger.Writer) error { return w.SaveJSON(c.kind, c.id, c.record) }))
				before := e.snapshot(t)
				_, err := e.p.SendGift(e.ctx, gifting.SendGiftRequest{EventID: "g-1", Actor: "ann", Creator: "cat", Gift: "hand-hearts", Count: 1, Live: "live-1"})
				require.ErrorIs(t, err, ledger.ErrOverflow)
				require.Equal(t, before, e.snapshot(t))
			})
		}
	})
}

// TestClockOutOfRange: the program dates its records with the ledger's
// clock; a clock outside the ledger's time range (year 2300 would wrap as
// Unix nanoseconds) is ledger.ErrInvalidTime and writes nothing
// (issue 10 #3).
func TestClockOutOfRange(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		e := newEnv(t, open, gifting.DefaultRules())
		e.buy(t, "pay-1", "ann", "it-app-350")
		before := e.snapshot(t)
		for _, at := range []time.Time{time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), ledger.MaxTime, ledger.MinTime.Add(-time.Second)} {
			e.clock.Set(at)
			_, err := e.p.BuyPack(e.ctx, gifting.BuyPackRequest{PaymentRef: "pay-2", Actor: "ann", Pack: "it-app-70"})
			require.ErrorIs(t, err, ledger.ErrInvalidTime, "%s", at)
			_, err = e.p.SendGift(e.ctx, gifting.SendGiftRequest{EventID: "g-1", Actor: "ann", Creator: "cat", Gift: "rose", Count: 1})
			require.ErrorIs(t, err, ledger.ErrInvalidTime, "%s", at)
			_, err = e.p.Chargeback(e.ctx, gifting.ChargebackRequest{Actor: officer, PaymentRef: "pay-1"})
			require.ErrorIs(t, err, ledger.ErrInvalidTime, "%s", at)
			require.Equal(t, before, e.snapshot(t))
		}
	})
}

// TestRulesRefuseUnknownFields: rules read from JSON refuse a field they
// do not have, naming it, instead of ignoring a typo (issue 10 #10); and
// anything after the rules.
func TestRulesRefuseUnknownFields(t *testing.T) {
	good, err := json.Marshal(gifting.DefaultRules())
	require.NoError(t, err)
	_, err = gifting.ParseRules(good)
	require.NoError(t, err)

	typo := strings.Replace(string(good), `"daily_spend_limit"`, `"daily_spend_limt"`, 1)
	if typo == string(good) { // omitted when zero: add the typo
		typo = strings.Replace(string(good), `{`, `{"daily_spend_limt":100,`, 1)
	}
	nested := strings.Replace(string(good), `"coins":70,`, `"coins":70,"bonus_coins":7,`, 1)
	require.NotEqual(t, nested, string(good))
	for name, c := range map[string]struct{ data, field string }{
		"typo":          {typo, "daily_spend_limt"},
		"nested typo":   {nested, "bonus_coins"},
		"trailing data": {string(good) + `{}`, "after"},
	} {
		var r gifting.Rules
		err := json.Unmarshal([]byte(c.data), &r)
		require.Error(t, err, name) // encoding/json refuses trailing data itself
		if name != "trailing data" {
			require.ErrorIs(t, err, gifting.ErrInvalidRules, name)
			require.Contains(t, err.Error(), c.field, name)
		}
		_, err = gifting.ParseRules([]byte(c.data))
		require.ErrorIs(t, err, gifting.ErrInvalidRules, name)
		require.Contains(t, err.Error(), c.field, name)
	}
}

// TestRulesErrorsKeepTheirCause: a rule refused by a ledger check keeps
// the ledger's error in the chain (issue 10 #11).
func TestRulesErrorsKeepTheirCause(t *testing.T) {
	for name, c := range map[string]struct {
		mutate func(r *gifting.Rules)
		cause  error
	}{
		"coin_asset":      {func(r *gifting.Rules) { r.CoinAsset = "coin" }, ledger.ErrInvalidAsset},
		"currencies[0]":   {func(r *gifting.Rules) { r.Currencies[0].Precision = -1 }, ledger.ErrInvalidAsset},
		"packs[0].price":  {func(r *gifting.Rules) { r.Packs[0].Price = decimal.RequireFromString("1.099") }, ledger.ErrPrecision},
		"share_rounding":  {func(r *gifting.Rules) { r.ShareRounding = "sideways" }, ledger.ErrInvalidRule},
		"payment_account": {func(r *gifting.Rules) { r.PaymentAccount = "bad address" }, ledger.ErrInvalidAddress},
	} {
		r := gifting.DefaultRules()
		c.mutate(&r)
		err := r.Validate()
		require.ErrorIs(t, err, gifting.ErrInvalidRules, name)
		require.ErrorIs(t, err, c.cause, name)
		require.Contains(t, err.Error(), name)
	}
}

// TestRulesBoundDecimals: decimals in rules with huge exponents or digits
// are refused at once, before any arithmetic could panic or run for
// minutes (issue 10 #2).
func TestRulesBoundDecimals(t *testing.T) {
	huge := decimal.New(1, math.MaxInt32)
	tiny := decimal.New(1, -math.MaxInt32)
	for name, mutate := range map[string]func(r *gifting.Rules){
		"packs[0].price":       func(r *gifting.Rules) { r.Packs[0].Price = huge },
		"creator_share":        func(r *gifting.Rules) { r.CreatorShare = tiny },
		"diamond_value.amount": func(r *gifting.Rules) { r.DiamondValue.Amount = tiny },
	} {
		r := gifting.DefaultRules()
		mutate(&r)
		done := make(chan error, 1)
		go func() { done <- r.Validate() }()
		select {
		case err := <-done:
			require.ErrorIs(t, err, gifting.ErrInvalidRules, name)
			require.Contains(t, err.Error(), name)
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: Validate still running after 5s", name)
		}
	}
	_, err := gifting.ParseRules([]byte(`{"creator_share": "1e-2147483647"}`))
	require.ErrorIs(t, err, gifting.ErrInvalidRules)
	_, err = gifting.New(t.Context(), ledger.New(nil), gifting.DefaultRules(), kit.NewDirectory(),
		gifting.WithWallets(kit.WalletPolicy{Overdraft: map[string]decimal.Decimal{"COIN": huge}}))
	require.ErrorIs(t, err, gifting.ErrInvalidRules)
	_, err = gifting.New(t.Context(), ledger.New(nil), gifting.DefaultRules(), kit.NewDirectory(),
		gifting.WithWallets(coinOverdraft(-1)))
	require.ErrorIs(t, err, gifting.ErrInvalidRules)
}
