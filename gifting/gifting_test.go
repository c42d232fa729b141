package gifting_test

import (
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rewardkit/rewardkit/gifting"
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/teststore"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
)

func TestRulesValidate(t *testing.T) {
	require.NoError(t, gifting.DefaultRules().Validate())
	cases := []struct {
		field  string
		mutate func(r *gifting.Rules)
	}{
		{"coin_asset", func(r *gifting.Rules) { r.CoinAsset = "" }},
		{"diamond_asset", func(r *gifting.Rules) { r.DiamondAsset = r.CoinAsset }},
		{"currencies[0]", func(r *gifting.Rules) { r.Currencies[0].Precision = -1 }},
		{"packs", func(r *gifting.Rules) { r.Packs = nil }},
		{"packs[1].id", func(r *gifting.Rules) { r.Packs[1].ID = r.Packs[0].ID }},
		{"packs[0]", func(r *gifting.Rules) { r.Packs[0].Channel = "" }},
		{"packs[0].coins", func(r *gifting.Rules) { r.Packs[0].Coins = 0 }},
		{"packs[0].currency", func(r *gifting.Rules) { r.Packs[0].Currency = "GBP" }},
		{"packs[0].price", func(r *gifting.Rules) { r.Packs[0].Price = decimal.RequireFromString("1.099") }},
		{"packs[0].price", func(r *gifting.Rules) { r.Packs[0].Price = decimal.Zero }},
		{"gifts", func(r *gifting.Rules) { r.Gifts = nil }},
		{"gifts[0].id", func(r *gifting.Rules) { r.Gifts[0].ID = "a:b" }},
		{"gifts[0].coins", func(r *gifting.Rules) { r.Gifts[0].Coins = -1 }},
		{"max_gifts_per_send", func(r *gifting.Rules) { r.MaxGiftsPerSend = 0 }},
		{"creator_share", func(r *gifting.Rules) { r.CreatorShare = decimal.RequireFromString("1.01") }},
		{"share_rounding", func(r *gifting.Rules) { r.ShareRounding = "sideways" }},
		{"diamonds_per_coin", func(r *gifting.Rules) { r.DiamondsPerCoin = ledger.Rate{} }},
		{"conversion_rounding", func(r *gifting.Rules) { r.ConversionRounding = "" }},
		{"diamond_value.currency", func(r *gifting.Rules) { r.DiamondValue.Currency = "XXX" }},
		{"diamond_value.amount", func(r *gifting.Rules) { r.DiamondValue.Amount = decimal.Zero }},
		{"min_age_send", func(r *gifting.Rules) { r.MinAgeSend = -1 }},
		{"blocked_recipient_kinds[0]", func(r *gifting.Rules) { r.BlockedRecipientKinds[0] = " " }},
		{"daily_spend_limit", func(r *gifting.Rules) { r.DailySpendLimit = -5 }},
		{"payment_account", func(r *gifting.Rules) { r.PaymentAccount = "bad address" }},
	}
	for _, c := range cases {
		t.Run(c.field, func(t *testing.T) {
			r := gifting.DefaultRules()
			c.mutate(&r)
			err := r.Validate()
			require.ErrorIs(t, err, gifting.ErrInvalidRules)
			require.Contains(t, err.Error(), c.field)
			_, err = gifting.New(t.Context(), ledger.New(nil), r, kit.NewDirectory())
			require.ErrorIs(t, err, gifting.ErrInvalidRules)
		})
	}
}

func TestRulesJSONRoundTrip(t *testing.T) {
	r := gifting.DefaultRules()
	b, err := json.Marshal(r)
	require.NoError(t, err)
	var back gifting.Rules
	require.NoError(t, json.Unmarshal(b, &back))
	require.NoError(t, back.Validate())
	require.Equal(t, r.DiamondsPerCoin.String(), back.DiamondsPerCoin.String())
	require.Len(t, back.Packs, len(r.Packs))
	for i := range r.Packs {
		require.True(t, r.Packs[i].Price.Equal(back.Packs[i].Price))
	}
}

func TestDefaultPriceList(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		e := newEnv(t, open, gifting.DefaultRules())
		packs := e.p.Packs("IT", "app")
		require.Len(t, packs, 5)
		want := map[int64]string{70: "1.09", 350: "5.49", 1400: "21.99", 3500: "54.99", 7000: "109.99"} // PROGRAMS.md, seed 002
		for _, pk := range packs {
			require.Equal(t, want[pk.Coins], pk.Price.StringFixed(2), "pack %s", pk.ID)
			require.Equal(t, "EUR", pk.Currency)
		}
		require.Empty(t, e.p.Packs("US", "app"))
	})
}

func TestBuyPack(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		e := newEnv(t, open, gifting.DefaultRules())
		pu := e.buy(t, "pay-1", "ann", "it-app-350")
		require.Equal(t, int64(350), pu.Coins)
		require.Equal(t, int64(350), e.units(t, gifting.MemberAccount("ann"), "COIN"))
		require.True(t, e.money(t, gifting.CoinSalesAccount, "EUR").Equal(decimal.RequireFromString("5.49")))
		require.True(t, e.money(t, ledger.World, "EUR").Equal(decimal.RequireFromString("-5.49")))

		// The payment reference is the idempotency key.
		before := e.snapshot(t)
		again, err := e.p.BuyPack(e.ctx, gifting.BuyPackRequest{PaymentRef: "pay-1", Actor: "ann", Pack: "it-app-350"})
		require.NoError(t, err)
		require.Equal(t, pu.Transaction, again.Transaction)
		require.False(t, pu.Replayed)
		require.True(t, again.Replayed)
		require.Equal(t, before, e.snapshot(t))

		_, err = e.p.BuyPack(e.ctx, gifting.BuyPackRequest{PaymentRef: "pay-1", Actor: "ann", Pack: "it-app-70"})
		require.ErrorIs(t, err, gifting.ErrIdempotencyConflict)
		require.ErrorIs(t, err, ledger.ErrIdempotencyConflict)
		_, err = e.p.BuyPack(e.ctx, gifting.BuyPackRequest{PaymentRef: "pay-1", Actor: "bob", Pack: "it-app-350"})
		require.ErrorIs(t, err, gifting.ErrIdempotencyConflict)
		require.Equal(t, before, e.snapshot(t))
	})
}

func TestBuyPackFromClearingAccount(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		r := gifting.DefaultRules()
		r.PaymentAccount = "payments:clearing"
		e := newEnv(t, open, r)
		e.buy(t, "pay-1", "ann", "it-app-70")
		require.True(t, e.money(t, "payments:clearing", "EUR").Equal(decimal.RequireFromString("-1.09")))
		require.True(t, e.money(t, gifting.CoinSalesAccount, "EUR").Equal(decimal.RequireFromString("1.09")))
	})
}

func TestRefusalsChangeNothing(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		limited := gifting.DefaultRules()
		limited.DailySpendLimit = 150
		cases := []struct {
			name  string
			rules gifting.Rules
			call  func(e *env) error
			want  error
			rule  string
		}{
			{"buyer under min_age_buy", gifting.DefaultRules(), func(e *env) error {
				_, err := e.p.BuyPack(e.ctx, gifting.BuyPackRequest{PaymentRef: "pay-x", Actor: "kid", Pack: "it-app-70"})
				return err
			}, gifting.ErrIneligible, "min_age_buy"},
			{"pack of another region", gifting.DefaultRules(), func(e *env) error {
				_, err := e.p.BuyPack(e.ctx, gifting.BuyPackRequest{PaymentRef: "pay-x", Actor: "joe", Pack: "it-app-70"})
				return err
			}, gifting.ErrIneligible, "packs"},
			{"unknown pack", gifting.DefaultRules(), func(e *env) error {
				_, err := e.p.BuyPack(e.ctx, gifting.BuyPackRequest{PaymentRef: "pay-x", Actor: "ann", Pack: "it-app-71"})
				return err
			}, gifting.ErrUnknownPack, "it-app-71"},
			{"unknown member", gifting.DefaultRules(), func(e *env) error {
				_, err := e.p.BuyPack(e.ctx, gifting.BuyPackRequest{PaymentRef: "pay-x", Actor: "nobody", Pack: "it-app-70"})
				return err
			}, gifting.ErrUnknownMember, "nobody"},
			{"empty payment reference", gifting.DefaultRules(), func(e *env) error {
				_, err := e.p.BuyPack(e.ctx, gifting.BuyPackRequest{PaymentRef: "", Actor: "ann", Pack: "it-app-70"})
				return err
			}, gifting.ErrInvalidRequest, "payment reference"},
			{"sender under min_age_send", gifting.DefaultRules(), func(e *env) error {
				_, err := e.p.SendGift(e.ctx, gifting.SendGiftRequest{EventID: "g-x", Actor: "kid", Creator: "cat", Gift: "rose", Count: 1})
				return err
			}, gifting.ErrIneligible, "min_age_send"},
			{"recipient under min_age_receive", gifting.DefaultRules(), func(e *env) error {
				_, err := e.p.SendGift(e.ctx, gifting.SendGiftRequest{EventID: "g-x", Actor: "ann", Creator: "teen", Gift: "rose", Count: 1})
				return err
			}, gifting.ErrIneligible, "min_age_receive"},
			{"political recipient", gifting.DefaultRules(), func(e *env) error {
				_, err := e.p.SendGift(e.ctx, gifting.SendGiftRequest{EventID: "g-x", Actor: "ann", Creator: "pol", Gift: "rose", Count: 1})
				return err
			}, gifting.ErrIneligible, "blocked_recipient_kinds"},
			{"gift to oneself", gifting.DefaultRules(), func(e *env) error {
				_, err := e.p.SendGift(e.ctx, gifting.SendGiftRequest{EventID: "g-x", Actor: "ann", Creator: "ann", Gift: "rose", Count: 1})
				return err
			}, gifting.ErrIneligible, "themself"},
			{"unknown gift", gifting.DefaultRules(), func(e *env) error {
				_, err := e.p.SendGift(e.ctx, gifting.SendGiftRequest{EventID: "g-x", Actor: "ann", Creator: "cat", Gift: "yacht", Count: 1})
				return err
			}, gifting.ErrUnknownGift, "yacht"},
			{"count zero", gifting.DefaultRules(), func(e *env) error {
				_, err := e.p.SendGift(e.ctx, gifting.SendGiftRequest{EventID: "g-x", Actor: "ann", Creator: "cat", Gift: "rose", Count: 0})
				return err
			}, gifting.ErrInvalidRequest, "max_gifts_per_send"},
			{"count over max_gifts_per_send", gifting.DefaultRules(), func(e *env) error {
				_, err := e.p.SendGift(e.ctx, gifting.SendGiftRequest{EventID: "g-x", Actor: "ann", Creator: "cat", Gift: "rose", Count: 100})
				return err
			}, gifting.ErrInvalidRequest, "max_gifts_per_send"},
			{"not enough coins", gifting.DefaultRules(), func(e *env) error {
				_, err := e.p.SendGift(e.ctx, gifting.SendGiftRequest{EventID: "g-x", Actor: "ann", Creator: "cat", Gift: "galaxy", Count: 1})
				return err
			}, gifting.ErrInsufficientCoins, "ann"},
			{"over daily_spend_limit", limited, func(e *env) error {
				_, err := e.p.SendGift(e.ctx, gifting.SendGiftRequest{EventID: "g-x", Actor: "ann", Creator: "cat", Gift: "hand-hearts", Count: 1})
				return err
			}, gifting.ErrDailyLimit, "daily_spend_limit"},
			{"chargeback of unknown purchase", gifting.DefaultRules(), func(e *env) error {
				_, err := e.p.Chargeback(e.ctx, gifting.ChargebackRequest{Actor: officer, PaymentRef: "pay-none"})
				return err
			}, gifting.ErrNotFound, "pay-none"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel() // each case on a store of its own
				e := newEnv(t, open, c.rules)
				e.buy(t, "pay-1", "ann", "it-app-350")
				_, err := e.p.SendGift(e.ctx, gifting.SendGiftRequest{EventID: "g-0", Actor: "ann", Creator: "cat", Gift: "hand-hearts", Count: 1, Live: "live-1"})
				require.NoError(t, err)
				before := e.snapshot(t)
				err = c.call(e)
				require.ErrorIs(t, err, c.want)
				require.Contains(t, err.Error(), c.rule)
				require.Equal(t, before, e.snapshot(t))
			})
		}
	})
}

func TestGiftSplit(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		third := gifting.DefaultRules()
		third.DiamondsPerCoin = ledger.NewRate(1, 3) // a rate that leaves a remainder
		cases := []struct {
			name  string
			rules gifting.Rules
			gift  string
			count int
		}{
			{"one rose: share rounds to zero", gifting.DefaultRules(), "rose", 1},
			{"two roses", gifting.DefaultRules(), "rose", 2},
			{"three roses: odd coin to platform", gifting.DefaultRules(), "rose", 3},
			{"hand hearts", gifting.DefaultRules(), "hand-hearts", 1},
			{"universe", gifting.DefaultRules(), "universe", 1},
			{"combo of perfumes", gifting.DefaultRules(), "perfume", 7},
			{"rate 1/3: remainder to platform", third, "finger-heart", 2},
			{"rate 1/3: share worth no diamond", third, "rose", 5},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel() // each case on a store of its own
				e := newEnv(t, open, c.rules)
				for i := range 7 { // 49,000 coins: enough for the largest gift
					e.buy(t, "pay-"+string(rune('a'+i)), "ann", "it-app-7000")
				}
				before := e.units(t, gifting.MemberAccount("ann"), "COIN")
				var cost int64
				for _, g := range c.rules.Gifts {
					if g.ID == c.gift {
						cost = g.Coins * int64(c.count)
					}
				}
				// The rule, restated: share = floor(cost × 1/2); diamonds =
				// floor(share × rate); coins the diamonds are worth go to the
				// exchange, everything else is platform revenue.
				share := cost / 2
				num, den := c.rules.DiamondsPerCoin.Rat().Num().Int64(), c.rules.DiamondsPerCoin.Rat().Denom().Int64()
				diamonds := share * num / den
				used := (diamonds*den + num - 1) / num

				res, err := e.p.SendGift(e.ctx, gifting.SendGiftRequest{EventID: "g-1", Actor: "ann", Creator: "cat", Gift: c.gift, Count: c.count})
				require.NoError(t, err)
				require.Equal(t, cost, res.Coins)
				require.Equal(t, diamonds, res.Diamonds)
				require.Equal(t, used, res.CreatorCoins)
				require.Equal(t, cost-used, res.PlatformCoins)

				require.Equal(t, before-cost, e.units(t, gifting.MemberAccount("ann"), "COIN"))
				require.Equal(t, diamonds, e.units(t, gifting.EarningsAccount("cat"), "DIAMOND"))
				require.Equal(t, cost-used, e.units(t, gifting.RevenueAccount, "COIN"))
				require.Equal(t, used, e.units(t, gifting.ExchangeAccount, "COIN"))
				require.Equal(t, -diamonds, e.units(t, gifting.ExchangeAccount, "DIAMOND"))
				if diamonds > 0 {
					tx, err := e.l.Transaction(e.ctx, res.Transactions[0])
					require.NoError(t, err)
					require.Equal(t, ledger.KindConversion, tx.Kind)
				}
				rep, err := e.l.Verify(e.ctx)
				require.NoError(t, err)
				for asset, total := range rep.Totals {
					require.True(t, total.IsZero(), "%s sums to %s", asset, total)
				}
			})
		}
	})
}

func TestGiftReplay(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		e := newEnv(t, open, gifting.DefaultRules())
		e.buy(t, "pay-1", "ann", "it-app-350")
		req := gifting.SendGiftRequest{Actor: "ann", Creator: "cat", Gift: "hand-hearts", Count: 2, Live: "live-1"}
		first, err := e.p.SendGift(e.ctx, withEvent("g-1", req))
		require.NoError(t, err)
		before := e.snapshot(t)
		again, err := e.p.SendGift(e.ctx, withEvent("g-1", req))
		require.NoError(t, err)
		require.Equal(t, first.Transactions, again.Transactions)
		require.False(t, first.Replayed)
		require.True(t, again.Replayed)
		require.Equal(t, before, e.snapshot(t))

		other := req
		other.Count = 1
		_, err = e.p.SendGift(e.ctx, withEvent("g-1", other))
		require.ErrorIs(t, err, gifting.ErrIdempotencyConflict)
		require.Equal(t, before, e.snapshot(t))
	})
}

func TestConcurrentSameGiftPaysOnce(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		e := newEnv(t, open, gifting.DefaultRules())
		e.buy(t, "pay-1", "ann", "it-app-350")
		req := gifting.SendGiftRequest{Actor: "ann", Creator: "cat", Gift: "hand-hearts", Count: 1}
		var wg sync.WaitGroup
		results := make([]gifting.GiftResult, 8)
		errs := make([]error, 8)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i], errs[i] = e.p.SendGift(e.ctx, withEvent("g-race", req))
			}()
		}
		wg.Wait()
		for i := range results {
			require.NoError(t, errs[i])
			require.Equal(t, results[0].Transactions, results[i].Transactions)
		}
		require.Equal(t, int64(250), e.units(t, gifting.MemberAccount("ann"), "COIN"))
		require.Equal(t, int64(50), e.units(t, gifting.EarningsAccount("cat"), "DIAMOND"))
	})
}

func TestDailySpendLimit(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		r := gifting.DefaultRules()
		r.DailySpendLimit = 250
		e := newEnv(t, open, r)
		e.buy(t, "pay-1", "ann", "it-app-1400")
		send := func(id string) error {
			_, err := e.p.SendGift(e.ctx, gifting.SendGiftRequest{EventID: id, Actor: "ann", Creator: "cat", Gift: "hand-hearts", Count: 1})
			return err
		}
		require.NoError(t, send("g-1"))
		require.NoError(t, send("g-2"))
		require.ErrorIs(t, send("g-3"), gifting.ErrDailyLimit)
		// Another viewer has their own limit.
		e.buy(t, "pay-2", "bob", "it-app-350")
		_, err := e.p.SendGift(e.ctx, gifting.SendGiftRequest{EventID: "g-b", Actor: "bob", Creator: "cat", Gift: "hand-hearts", Count: 2})
		require.NoError(t, err)
		// A new UTC day starts afresh.
		e.clock.Set(time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC))
		require.NoError(t, send("g-3"))
	})
}

func TestChargeback(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		t.Run("claws back only what is left", func(t *testing.T) {
			e := newEnv(t, open, gifting.DefaultRules())
			e.buy(t, "pay-1", "ann", "it-app-70")
			_, err := e.p.SendGift(e.ctx, gifting.SendGiftRequest{EventID: "g-1", Actor: "ann", Creator: "cat", Gift: "doughnut", Count: 1})
			require.NoError(t, err)
			pu, err := e.p.Chargeback(e.ctx, gifting.ChargebackRequest{Actor: officer, PaymentRef: "pay-1"})
			require.NoError(t, err)
			require.True(t, pu.ChargedBack)
			require.Equal(t, int64(40), pu.ClawedBack)
			require.Equal(t, int64(30), pu.Unrecovered)
			require.Equal(t, int64(0), e.units(t, gifting.MemberAccount("ann"), "COIN"))
			require.True(t, e.money(t, gifting.CoinSalesAccount, "EUR").IsZero())
			require.True(t, e.money(t, ledger.World, "EUR").IsZero())
			// The creator keeps the diamonds of gifts already sent.
			require.Equal(t, int64(15), e.units(t, gifting.EarningsAccount("cat"), "DIAMOND"))

			before := e.snapshot(t)
			again, err := e.p.Chargeback(e.ctx, gifting.ChargebackRequest{Actor: officer, PaymentRef: "pay-1"})
			require.NoError(t, err)
			require.Equal(t, pu.ChargebackTx, again.ChargebackTx)
			require.False(t, pu.Replayed)
			require.True(t, again.Replayed)
			require.Equal(t, officer, again.ChargebackBy)
			require.Equal(t, before, e.snapshot(t))
		})
		t.Run("the wallet policy's coin overdraft lets the balance go negative", func(t *testing.T) {
			e := newEnv(t, open, gifting.DefaultRules(), gifting.WithWallets(coinOverdraft(20)))
			e.buy(t, "pay-1", "ann", "it-app-70")
			_, err := e.p.SendGift(e.ctx, gifting.SendGiftRequest{EventID: "g-1", Actor: "ann", Creator: "cat", Gift: "doughnut", Count: 1})
			require.NoError(t, err)
			pu, err := e.p.Chargeback(e.ctx, gifting.ChargebackRequest{Actor: officer, PaymentRef: "pay-1"})
			require.NoError(t, err)
			require.Equal(t, int64(60), pu.ClawedBack)
			require.Equal(t, int64(10), pu.Unrecovered)
			require.Equal(t, int64(-20), e.units(t, gifting.MemberAccount("ann"), "COIN"))
			// Gifts never spend into the overdraft.
			before := e.snapshot(t)
			_, err = e.p.SendGift(e.ctx, gifting.SendGiftRequest{EventID: "g-2", Actor: "ann", Creator: "cat", Gift: "rose", Count: 1})
			require.ErrorIs(t, err, gifting.ErrInsufficientCoins)
			require.Equal(t, before, e.snapshot(t))
			// A new pack first pays the debt back.
			e.buy(t, "pay-2", "ann", "it-app-70")
			require.Equal(t, int64(50), e.units(t, gifting.MemberAccount("ann"), "COIN"))
		})
	})
}

func TestLiveTotalsAndTopGifters(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		e := newEnv(t, open, gifting.DefaultRules())
		e.buy(t, "pay-a", "ann", "it-app-1400")
		e.buy(t, "pay-b", "bob", "it-app-1400")
		sends := []struct {
			id, viewer, gift, live string
			count                  int
		}{
			{"g1", "ann", "rose", "live-1", 10},
			{"g2", "bob", "hand-hearts", "live-1", 3},
			{"g3", "ann", "perfume", "live-1", 2},
			{"g4", "ann", "galaxy", "live-2", 1},
			{"g5", "bob", "rose", "", 1},
		}
		wantCoins := map[string]int64{}
		wantByGift := map[string]int64{}
		var wantDiamonds, wantGifts int64
		for _, s := range sends {
			res, err := e.p.SendGift(e.ctx, gifting.SendGiftRequest{EventID: s.id, Actor: s.viewer, Creator: "cat", Gift: s.gift, Count: s.count, Live: s.live})
			require.NoError(t, err)
			if s.live == "live-1" {
				wantCoins[s.viewer] += res.Coins
				wantByGift[s.gift] += int64(s.count)
				wantDiamonds += res.Diamonds
				wantGifts += int64(s.count)
			}
		}
		ls, err := e.p.Live(e.ctx, "live-1")
		require.NoError(t, err)
		require.Equal(t, wantGifts, ls.Gifts)
		require.Equal(t, wantCoins["ann"]+wantCoins["bob"], ls.Coins)
		require.Equal(t, wantDiamonds, ls.Diamonds)
		require.Equal(t, wantByGift, ls.ByGift)
		require.Equal(t, int64(2), ls.Gifters)

		top, err := e.p.TopGifters(e.ctx, "live-1", 10)
		require.NoError(t, err)
		require.Len(t, top, 2)
		viewers := sortedKeys(wantCoins)
		sort.Slice(viewers, func(i, j int) bool { return wantCoins[viewers[i]] > wantCoins[viewers[j]] })
		for i, g := range top {
			require.Equal(t, viewers[i], g.Viewer)
			require.Equal(t, wantCoins[g.Viewer], g.Coins)
		}
		one, err := e.p.TopGifters(e.ctx, "live-1", 1)
		require.NoError(t, err)
		require.Equal(t, top[:1], one)
		// "live-1" is a prefix of no other LIVE's gifters.
		top2, err := e.p.TopGifters(e.ctx, "live-2", 10)
		require.NoError(t, err)
		require.Equal(t, []gifting.Gifter{{Viewer: "ann", Gifts: 1, Coins: 1000}}, top2)

		_, err = e.p.Live(e.ctx, "live-9")
		require.ErrorIs(t, err, gifting.ErrNotFound)
	})
}

func TestCreatorEarnings(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		e := newEnv(t, open, gifting.DefaultRules())
		none, err := e.p.CreatorEarnings(e.ctx, "dan")
		require.NoError(t, err)
		require.True(t, none.Diamonds.IsZero())
		e.buy(t, "pay-1", "ann", "it-app-1400")
		res, err := e.p.SendGift(e.ctx, gifting.SendGiftRequest{EventID: "g-1", Actor: "ann", Creator: "dan", Gift: "galaxy", Count: 1})
		require.NoError(t, err)
		earn, err := e.p.CreatorEarnings(e.ctx, "dan")
		require.NoError(t, err)
		require.Equal(t, res.Diamonds, earn.Diamonds.IntPart())
		want := decimal.NewFromInt(res.Diamonds).Mul(e.rules.DiamondValue.Amount).RoundFloor(2)
		require.True(t, want.Equal(earn.CashValue), "%s != %s", want, earn.CashValue)
		require.Equal(t, "USD", earn.Currency)
	})
}

// Coins are not transferable between members and not refundable: the
// program's public surface has no function for either. This test fails if
// one is added.
func TestNoTransferOrRefundAPI(t *testing.T) {
	typ := reflect.TypeOf(&gifting.Program{})
	var names []string
	for i := 0; i < typ.NumMethod(); i++ {
		names = append(names, typ.Method(i).Name)
	}
	require.Equal(t, []string{"BuyPack", "BuyPackIn", "CashValue", "Chargeback", "ChargebackIn", "ConversionRule", "CreatorEarnings",
		"Live", "Packs", "PurchaseByRef", "Rules", "SendGift", "SendGiftIn", "SpendToday", "TopGifters"}, names)
	for _, n := range names {
		require.False(t, strings.Contains(n, "Transfer") || strings.Contains(n, "Refund"), n)
	}
}

// coinOverdraft is a wallet policy that lets wallets go n coins below zero.
func coinOverdraft(n int64) kit.WalletPolicy {
	return kit.WalletPolicy{Overdraft: map[string]decimal.Decimal{"COIN": decimal.NewFromInt(n)}}
}
