package gifting_test

import (
	"sync"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/gifting"
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/teststore"
)

// TestChargebackRecovery: coins already spent are never lost silently.
// By default they are written off to the loss account; under rule
// chargeback_recovery "recover" they become the viewer's debt, up to its
// max (the rest written off), and the next pack repays it before any coin
// can be spent.
func TestChargebackRecovery(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		spend := func(e *env, id string) {
			_, err := e.p.SendGift(e.ctx, gifting.SendGiftRequest{EventID: id, Actor: "ann", Creator: "cat", Gift: "doughnut", Count: 2})
			require.NoError(t, err)
		}
		t.Run("default: written off", func(t *testing.T) {
			e := newEnv(t, open, gifting.DefaultRules())
			e.buy(t, "pay-1", "ann", "it-app-70")
			spend(e, "g-1")
			pu, err := e.p.Chargeback(e.ctx, gifting.ChargebackRequest{Actor: officer, PaymentRef: "pay-1"})
			require.NoError(t, err)
			require.Equal(t, int64(60), pu.WrittenOff)
			require.Zero(t, pu.Debt)
			require.Equal(t, int64(-60), e.units(t, gifting.ChargebackLossAccount, "COIN"))
			e.verify(t)
		})
		t.Run("recover: a bounded debt repaid from the next pack", func(t *testing.T) {
			r := gifting.DefaultRules()
			r.ChargebackRecovery = kit.Recover(decimal.NewFromInt(50), "platform:losses")
			e := newEnv(t, open, r)
			e.buy(t, "pay-1", "ann", "it-app-70")
			spend(e, "g-1")
			pu, err := e.p.Chargeback(e.ctx, gifting.ChargebackRequest{Actor: officer, PaymentRef: "pay-1"})
			require.NoError(t, err)
			require.Equal(t, int64(10), pu.ClawedBack)
			require.Equal(t, int64(60), pu.Unrecovered)
			require.Equal(t, int64(50), pu.Debt, "up to the bound")
			require.Equal(t, int64(10), pu.WrittenOff, "the rest")
			require.Equal(t, int64(-10), e.units(t, "platform:losses", "COIN"))

			next := e.buy(t, "pay-2", "ann", "it-app-70")
			require.Equal(t, int64(50), next.Repaid)
			require.Equal(t, int64(20), e.units(t, gifting.MemberAccount("ann"), "COIN"), "only the rest is spendable")
			require.NoError(t, e.l.View(e.ctx, func(r *ledger.Reader) error {
				ds, err := kit.Outstanding(r, "ann")
				require.Empty(t, ds)
				return err
			}))
			e.verify(t)
		})
	})
}

func TestChargebackRecoveryRule(t *testing.T) {
	r := gifting.DefaultRules()
	r.ChargebackRecovery = kit.RecoveryPolicy{Mode: "forgive"}
	require.ErrorIs(t, r.Validate(), gifting.ErrInvalidRules)
	r.ChargebackRecovery = kit.RecoveryPolicy{}
	require.NoError(t, r.Validate(), "empty is the default write-off")
}

// TestRacingChargebacksClawOnce: risk officers racing to record one
// chargeback claw the coins back, and write off what was spent, once.
func TestRacingChargebacksClawOnce(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		e := newEnv(t, open, gifting.DefaultRules())
		e.buy(t, "pay-1", "ann", "it-app-70")
		_, err := e.p.SendGift(e.ctx, gifting.SendGiftRequest{EventID: "g-1", Actor: "ann", Creator: "cat", Gift: "doughnut", Count: 1})
		require.NoError(t, err)
		var wg sync.WaitGroup
		txs := make([]uint64, 6)
		for i := range txs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				pu, err := e.p.Chargeback(e.ctx, gifting.ChargebackRequest{Actor: officer, PaymentRef: "pay-1"})
				require.NoError(t, err)
				txs[i] = pu.ChargebackTx
			}()
		}
		wg.Wait()
		for _, tx := range txs {
			require.Equal(t, txs[0], tx)
		}
		require.Equal(t, int64(-30), e.units(t, gifting.ChargebackLossAccount, "COIN"), "written off once")
		require.Equal(t, int64(0), e.units(t, gifting.MemberAccount("ann"), "COIN"))
		e.verify(t)
	})
}
