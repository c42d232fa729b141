package referral_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/teststore"
	"github.com/rewardkit/rewardkit/referral"
)

func shopFixture(t *testing.T, open teststore.Opener, edit func(r *referral.Rules)) *fixture {
	t.Helper()
	rules := referral.ShopRules()
	if edit != nil {
		edit(&rules)
	}
	f := newFixture(t, open, rules)
	f.member("ref")
	return f
}

func (f *fixture) invite(t *testing.T, invitee string) {
	t.Helper()
	f.member(invitee)
	_, err := f.p.Signup(f.ctx, referral.SignupRequest{EventID: "signup-" + invitee, Invitee: invitee, Code: f.code(t, "ref")})
	require.NoError(t, err)
}

// paid sums what the journal paid out as rewards of kind.
func (f *fixture) paid(t *testing.T, kind string) decimal.Decimal {
	t.Helper()
	sum := decimal.Zero
	require.NoError(t, f.l.View(f.ctx, func(r *ledger.Reader) error {
		txs, _, err := r.Transactions(0, 1000)
		for _, tx := range txs {
			if tx.Metadata["program"] == "referral" && tx.Metadata["kind"] == kind && tx.Metadata["pending"] != "grant" && tx.Metadata["pending"] != "vetoed" {
				for _, p := range tx.Postings {
					sum = sum.Add(p.Amount)
				}
			}
		}
		return err
	}))
	return sum
}

func (f *fixture) held(t *testing.T) decimal.Decimal {
	t.Helper()
	// What the campaign's pending rewards hold (kit.Pending grants in the
	// referrers' pending accounts, out of the budget).
	b, err := f.p.Budget(f.ctx)
	require.NoError(t, err)
	return b.Held
}

func TestShopSignupAloneEarnsNothing(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := shopFixture(t, open, nil)
		f.invite(t, "amy")
		inv, err := f.p.Invite(f.ctx, "amy")
		require.NoError(t, err)
		require.Equal(t, referral.StatusAwaitingPurchase, inv.Status)
		require.True(t, f.wallet(t, "ref").IsZero())
	})
}

func TestShopRewardHeldThenPaidWhenWindowEnds(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := shopFixture(t, open, nil)
		f.invite(t, "amy")
		res, err := f.p.RecordPurchase(f.ctx, referral.RecordPurchaseRequest{EventID: "p1", Member: "amy", PurchaseID: "order-1"})
		require.NoError(t, err)
		require.True(t, res.Qualifying)
		require.True(t, f.held(t).Equal(d(50)))
		require.True(t, f.wallet(t, "ref").IsZero())
		// The reward is a kit.Pending grant: visible in the referrer's
		// pending account, not spendable.
		require.Equal(t, "shop-2024:shop:amy", res.Pending)
		require.True(t, f.balance(t, kit.PendingAccount("ref")).Equal(d(50)), "visible as pending")

		second, err := f.p.RecordPurchase(f.ctx, referral.RecordPurchaseRequest{EventID: "p2", Member: "amy", PurchaseID: "order-2"})
		require.NoError(t, err)
		require.False(t, second.Qualifying, "only the first purchase earns")

		f.clock.Advance(f.rules.ReturnWindow.D() - time.Second)
		rep, _ := f.tick(t)
		require.Equal(t, 0, rep.Count(referral.ItemReleased))

		f.clock.Advance(time.Second)
		rep, _ = f.tick(t)
		require.Equal(t, 1, rep.Count(referral.ItemReleased))
		require.True(t, f.wallet(t, "ref").Equal(d(50)))
		require.True(t, f.held(t).IsZero())
		before := f.snapshot(t)
		rep, _ = f.tick(t)
		require.Equal(t, 0, rep.Count(referral.ItemReleased))
		require.Equal(t, before, f.snapshot(t), "a second Tick changes nothing")

		refund, err := f.p.RecordRefund(f.ctx, referral.RecordRefundRequest{EventID: "r1", Actor: riskOfficer, PurchaseID: "order-1"})
		require.NoError(t, err)
		require.False(t, refund.Cancelled, "a refund after the window leaves the reward")
		require.True(t, f.wallet(t, "ref").Equal(d(50)))
		f.verify(t)
	})
}

func TestShopRefundInsideWindowCancels(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := shopFixture(t, open, nil)
		f.invite(t, "amy")
		budgetBefore := f.balance(t, referral.BudgetAccount(f.rules.Campaign))
		_, err := f.p.RecordPurchase(f.ctx, referral.RecordPurchaseRequest{EventID: "p1", Member: "amy", PurchaseID: "order-1"})
		require.NoError(t, err)
		f.clock.Advance(24 * time.Hour)
		res, err := f.p.RecordRefund(f.ctx, referral.RecordRefundRequest{EventID: "r1", Actor: riskOfficer, PurchaseID: "order-1"})
		require.NoError(t, err)
		require.True(t, res.Cancelled)
		require.Equal(t, referral.StatusCancelled, res.Invite.Status)
		require.True(t, f.held(t).IsZero())
		again, err := f.p.RecordRefund(f.ctx, referral.RecordRefundRequest{EventID: "r1", Actor: riskOfficer, PurchaseID: "order-1"})
		require.NoError(t, err)
		require.True(t, again.Replayed && !res.Replayed)
		require.Equal(t, mustJSON(t, res), mustJSON(t, again))
		f.clock.Advance(60 * 24 * time.Hour)
		rep, _ := f.tick(t)
		require.Equal(t, 0, rep.Count(referral.ItemReleased))
		require.True(t, f.wallet(t, "ref").IsZero())
		require.True(t, f.balance(t, referral.BudgetAccount(f.rules.Campaign)).Equal(budgetBefore))
		unrelated, err := f.p.RecordRefund(f.ctx, referral.RecordRefundRequest{EventID: "r2", Actor: riskOfficer, PurchaseID: "order-unknown"})
		require.NoError(t, err)
		require.False(t, unrelated.Cancelled)
		f.verify(t)
	})
}

func TestShopTierBonusesUpTo350(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := shopFixture(t, open, nil)
		for i := 0; i < 12; i++ {
			who := fmt.Sprintf("inv%02d", i)
			f.invite(t, who)
			_, err := f.p.RecordPurchase(f.ctx, referral.RecordPurchaseRequest{EventID: "p-" + who, Member: who, PurchaseID: "order-" + who})
			require.NoError(t, err)
		}
		f.clock.Advance(f.rules.ReturnWindow.D())
		rep, _ := f.tick(t)
		require.Equal(t, 12, rep.Count(referral.ItemReleased))
		require.Equal(t, []string{"ref:3", "ref:5", "ref:10"}, rep.IDs(referral.ItemTierBonus))
		tiers := f.paid(t, referral.RewardTier)
		require.True(t, tiers.Equal(d(350)), tiers.String())
		require.True(t, f.wallet(t, "ref").Equal(d(12*50+350)))
		f.verify(t)
	})
}

func TestShopMaxTierBonusCapsTheTiers(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := shopFixture(t, open, func(r *referral.Rules) { r.MaxTierBonus = d(120) })
		for i := 0; i < 5; i++ {
			who := fmt.Sprintf("inv%d", i)
			f.invite(t, who)
			_, err := f.p.RecordPurchase(f.ctx, referral.RecordPurchaseRequest{EventID: "p-" + who, Member: who, PurchaseID: "order-" + who})
			require.NoError(t, err)
		}
		f.clock.Advance(f.rules.ReturnWindow.D())
		f.tick(t)
		require.True(t, f.wallet(t, "ref").Equal(d(5*50+120)), f.wallet(t, "ref").String())
	})
}

func TestShopPurchaseRefusedWhenBudgetCannotHold(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := shopFixture(t, open, func(r *referral.Rules) { r.Budget = d(70) })
		f.invite(t, "amy")
		f.invite(t, "bob")
		_, err := f.p.RecordPurchase(f.ctx, referral.RecordPurchaseRequest{EventID: "p1", Member: "amy", PurchaseID: "o1"})
		require.NoError(t, err)
		before := f.snapshot(t)
		_, err = f.p.RecordPurchase(f.ctx, referral.RecordPurchaseRequest{EventID: "p2", Member: "bob", PurchaseID: "o2"})
		require.ErrorIs(t, err, referral.ErrBudgetExhausted)
		require.Equal(t, before, f.snapshot(t))
		// Once amy's purchase is refunded the budget is free again.
		_, err = f.p.RecordRefund(f.ctx, referral.RecordRefundRequest{EventID: "r1", Actor: riskOfficer, PurchaseID: "o1"})
		require.NoError(t, err)
		res, err := f.p.RecordPurchase(f.ctx, referral.RecordPurchaseRequest{EventID: "p3", Member: "bob", PurchaseID: "o3"})
		require.NoError(t, err)
		require.True(t, res.Qualifying)
	})
}

// A pending grant does not expire: a Tick long after the window (and the
// ledger's own Tick before it) still pays the referrer.
func TestShopLateTickStillPays(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := shopFixture(t, open, nil)
		f.invite(t, "amy")
		_, err := f.p.RecordPurchase(f.ctx, referral.RecordPurchaseRequest{EventID: "p1", Member: "amy", PurchaseID: "o1"})
		require.NoError(t, err)
		// The ledger alone ticks past the former hold margin: nothing of the
		// reward is a hold to expire.
		f.clock.Advance((f.rules.ReturnWindow + f.rules.HoldMargin).D())
		n, err := f.l.Tick(f.ctx)
		require.NoError(t, err)
		require.Equal(t, 0, n)
		rep, _ := f.tick(t)
		require.Equal(t, 1, rep.Count(referral.ItemReleased))
		require.True(t, f.wallet(t, "ref").Equal(d(50)))
		f.verify(t)
	})
}

func TestBudgetNeverOverspent(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		rules := referral.DefaultRules()
		rules.Budget = d(50000)
		f := newFixture(t, open, rules)
		f.member("giulia")
		code := f.code(t, "giulia")
		paid := 0
		for i := 0; i < 4; i++ {
			who := fmt.Sprintf("f%d", i)
			f.member(who)
			_, err := f.p.Signup(f.ctx, referral.SignupRequest{EventID: "s" + who, Invitee: who, Code: code})
			if err == nil {
				paid++
				continue
			}
			require.ErrorIs(t, err, referral.ErrBudgetExhausted)
		}
		require.Equal(t, 2, paid)
		b, err := f.p.Budget(f.ctx)
		require.NoError(t, err)
		require.True(t, b.Spent.Equal(d(40000)))
		require.True(t, b.Available.Equal(d(10000)))
		bal, err := f.l.Balance(f.ctx, referral.BudgetAccount(rules.Campaign), "RUBY")
		require.NoError(t, err)
		require.True(t, bal.Posted.Equal(b.Funded.Sub(b.Spent)))
		_, err = f.l.Balance(f.ctx, ledger.World, "RUBY")
		require.NoError(t, err)
	})
}

func TestShopTierBonusBeyondBudgetIsReportedNotPaid(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := shopFixture(t, open, func(r *referral.Rules) { r.Budget = d(150) })
		for i := 0; i < 3; i++ {
			who := fmt.Sprintf("inv%d", i)
			f.invite(t, who)
			_, err := f.p.RecordPurchase(f.ctx, referral.RecordPurchaseRequest{EventID: "p-" + who, Member: who, PurchaseID: "order-" + who})
			require.NoError(t, err)
		}
		f.clock.Advance(f.rules.ReturnWindow.D())
		rep, _ := f.tick(t)
		require.Equal(t, 3, rep.Count(referral.ItemReleased))
		require.Equal(t, []string{"ref:3"}, rep.IDs(referral.ItemTierUnfunded), "the bonus the budget cannot pay is reported")
		require.Empty(t, rep.IDs(referral.ItemTierBonus))
		require.True(t, f.wallet(t, "ref").Equal(d(150)))
		b, err := f.p.Budget(f.ctx)
		require.NoError(t, err)
		require.True(t, b.Available.IsZero() && b.Spent.Equal(d(150)))
		f.verify(t)
	})
}

func TestShopPurchaseRefusals(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		cases := []struct {
			name  string
			edit  func(r *referral.Rules)
			setup func(f *fixture)
			err   error
			rule  string
		}{
			{"kill switch", nil, func(f *fixture) {
				require.NoError(f.tb, f.p.SetKillSwitch(f.ctx, referral.SetKillSwitchRequest{Actor: riskOfficer, Country: "US", Disabled: true}))
			},
				referral.ErrCountryDisabled, "kill switch"},
			{"campaign over", func(r *referral.Rules) { r.End = t0.Add(time.Hour) }, func(f *fixture) { f.clock.Advance(time.Hour) },
				referral.ErrCampaignClosed, "rule end"},
			{"referrer turned ineligible", nil, func(f *fixture) {
				m := f.member("ref")
				m.BirthDate = born(17)
				f.members.Put(m)
			}, referral.ErrIneligible, "min_age"},
			{"max rewarded invitees", func(r *referral.Rules) { r.MaxRewardedInvitees = 1 }, func(f *fixture) {
				f.invite(f.tb.(*testing.T), "first")
				_, err := f.p.RecordPurchase(f.ctx, referral.RecordPurchaseRequest{EventID: "p0", Member: "first", PurchaseID: "o0"})
				require.NoError(f.tb, err)
			}, referral.ErrCapReached, "max_rewarded_invitees"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				f := shopFixture(t, open, c.edit)
				f.invite(t, "amy")
				c.setup(f)
				before := f.snapshot(t)
				_, err := f.p.RecordPurchase(f.ctx, referral.RecordPurchaseRequest{EventID: "p1", Member: "amy", PurchaseID: "o1"})
				require.ErrorIs(t, err, c.err)
				require.Contains(t, err.Error(), c.rule)
				require.Equal(t, before, f.snapshot(t))
			})
		}
	})
}
