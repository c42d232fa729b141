package kit_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/driver"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/kit/kittest"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
	"github.com/rewardkit/rewardkit/ledger/teststore"
)

const (
	budget = "platform:budget"
	sink   = "platform:shop"
	losses = "platform:losses"
)

func coins(n int64) decimal.Decimal { return decimal.NewFromInt(n) }

// clawLedger is a ledger with COIN, World, a funded budget and a shop
// members spend in.
func clawLedger(t kittest.TB, store driver.Store) *ledger.Ledger {
	ctx := context.Background()
	l := ledger.New(store, ledger.WithClock(ledgertest.NewClock(t0)))
	require.NoError(t, kit.SetUpLedger(ctx, l, ledger.COIN, budget, sink))
	_, err := l.Transfer(ctx, "fund", ledger.World, budget, "COIN", coins(1_000_000))
	require.NoError(t, err)
	return l
}

func give(t kittest.TB, l *ledger.Ledger, key, member string, n int64) {
	t.Helper()
	err := l.Update(context.Background(), func(w *ledger.Writer) error {
		_, err := kit.Credit(w, kit.CreditRequest{Program: "test", Key: key, Member: member, Asset: "COIN", Amount: coins(n), From: budget})
		return err
	})
	require.NoError(t, err)
}

func claw(l *ledger.Ledger, req kit.ClawRequest) (res kit.ClawResult, err error) {
	err = l.Update(context.Background(), func(w *ledger.Writer) error {
		res, err = kit.Claw(w, req)
		return err
	})
	return res, err
}

func outstanding(t kittest.TB, l *ledger.Ledger, member string) decimal.Decimal {
	t.Helper()
	sum := decimal.Zero
	require.NoError(t, l.View(context.Background(), func(r *ledger.Reader) error {
		ds, err := kit.Outstanding(r, member)
		for _, d := range ds {
			sum = sum.Add(d.Amount)
		}
		return err
	}))
	return sum
}

func TestClawRecoversFromNextRewards(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		l := clawLedger(t, open(t))
		give(t, l, "r1", "amy", 100)
		_, err := l.Transfer(ctx, "spend", kit.WalletAccount("amy"), sink, "COIN", coins(70))
		require.NoError(t, err)
		var seq uint64
		kittest.EventsAfter(t, ctx, l, "test.", 0)

		req := kit.ClawRequest{Program: "test", Key: "claw-1", Member: "amy", Asset: "COIN", Amount: coins(100),
			To: budget, Policy: kit.Recover(coins(50), losses), Reason: "refund"}
		res, err := claw(l, req)
		require.NoError(t, err)
		require.Equal(t, "30", res.Taken.String())
		require.Equal(t, "50", res.Debt.String())
		require.Equal(t, "20", res.WrittenOff.String())
		require.Equal(t, "50", res.Outstanding.String())
		kittest.RequireEvents(t, ctx, l, "test.", &seq,
			kittest.WantEvent{Type: "test.clawback.recorded", Subject: "amy", TxKey: "claw-1", Data: map[string]any{"taken": "30", "debt": "50", "written_off": "20", "reason": "refund"}},
			kittest.WantEvent{Type: "test.loss.written_off", Subject: "amy", TxKey: "claw-1", Data: map[string]any{"amount": "20", "loss_account": losses}})
		b, err := l.Balance(ctx, losses, "COIN")
		require.NoError(t, err)
		require.Equal(t, "-20", b.Posted.String())

		again, err := claw(l, req)
		require.NoError(t, err)
		require.True(t, again.Replayed)
		require.Equal(t, res.Tx, again.Tx)
		require.Equal(t, "50", outstanding(t, l, "amy").String(), "a replay claws nothing")

		// The next reward repays the debt first; only the rest is spendable.
		give(t, l, "r2", "amy", 80)
		kittest.RequireEvents(t, ctx, l, "test.", &seq,
			kittest.WantEvent{Type: "test.debt.recovered", Subject: "amy", TxKey: "r2", Data: map[string]any{"amount": "50", "outstanding": "0"}})
		require.True(t, outstanding(t, l, "amy").IsZero())
		var spendable decimal.Decimal
		require.NoError(t, l.View(ctx, func(r *ledger.Reader) error {
			spendable, err = kit.Spendable(r, kit.WalletAccount("amy"), "COIN")
			return err
		}))
		require.Equal(t, "30", spendable.String())
		kittest.RequireBalanced(t, ctx, l)
	})
}

func TestClawBeyondBoundWithoutLossAccountIsRefused(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		l := clawLedger(t, open(t))
		give(t, l, "r1", "bob", 5)
		_, err := claw(l, kit.ClawRequest{Program: "test", Key: "c", Member: "bob", Asset: "COIN", Amount: coins(20),
			To: budget, Policy: kit.Recover(coins(10), "")})
		require.ErrorIs(t, err, kit.ErrRecoveryBound)
		require.Equal(t, "recovery.max", ledger.RuleOf(err))
		b, err := l.Balance(ctx, kit.WalletAccount("bob"), "COIN")
		require.NoError(t, err)
		require.Equal(t, "5", b.Posted.String(), "refused, nothing taken")
		require.True(t, outstanding(t, l, "bob").IsZero())

		_, err = claw(l, kit.ClawRequest{Program: "test", Key: "c", Member: "bob", Asset: "COIN", Amount: coins(15),
			To: budget, Policy: kit.Recover(coins(10), "")})
		require.NoError(t, err, "within the bound")
		require.Equal(t, "10", outstanding(t, l, "bob").String())
		require.NoError(t, l.View(ctx, func(r *ledger.Reader) error {
			ds, next, err := kit.Debts(r, "", 10)
			require.Equal(t, []kit.Debt{{Member: "bob", Asset: "COIN", Amount: ds[0].Amount}}, ds)
			require.Equal(t, "10", ds[0].Amount.String())
			require.Empty(t, next)
			return err
		}))
		kittest.RequireBalanced(t, ctx, l)
	})
}

func TestRecoveryPolicyValidate(t *testing.T) {
	require.NoError(t, kit.Recover(coins(0), "").Validate())
	require.NoError(t, kit.WriteOff(losses).Validate())
	for _, p := range []kit.RecoveryPolicy{{}, {Mode: "forgive"}, kit.WriteOff(""), kit.Recover(coins(-1), ""),
		kit.Recover(coins(1), "member:x"), {Mode: kit.WriteOffToLoss, LossAccount: losses, Max: coins(3)}} {
		require.ErrorIs(t, p.Validate(), kit.ErrInvalidRecovery, "%+v", p)
	}
}

// TestClawRacingCallersClawOnce: callers racing to claw back under one
// key take the value once.
func TestClawRacingCallersClawOnce(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		l := clawLedger(t, open(t))
		give(t, l, "r1", "cat", 10)
		req := kit.ClawRequest{Program: "test", Key: "race", Member: "cat", Asset: "COIN", Amount: coins(25),
			To: budget, Policy: kit.Recover(coins(100), "")}
		var wg sync.WaitGroup
		results := make([]kit.ClawResult, 8)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var err error
				results[i], err = claw(l, req)
				require.NoError(t, err)
			}()
		}
		wg.Wait()
		fresh := 0
		for _, r := range results {
			if !r.Replayed {
				fresh++
			}
			require.Equal(t, "15", r.Debt.String())
		}
		require.Equal(t, 1, fresh)
		require.Equal(t, "15", outstanding(t, l, "cat").String())
		kittest.RequireBalanced(t, ctx, l)
	})
}

// TestClawProperty: random rewards, spends and clawbacks under a random
// policy never create or lose value (Verify, every asset sums to zero),
// each clawback is split exactly (taken + debt + written off = amount),
// the debt follows a model and never passes the bound, and what the
// policy cannot place is refused with nothing written.
func TestClawProperty(t *testing.T) {
	kittest.CheckOnStores(t, 5, func(t *rapid.T, store driver.Store) {
		ctx := context.Background()
		l := clawLedger(t, store)
		var policy kit.RecoveryPolicy
		switch rapid.IntRange(0, 2).Draw(t, "policy") {
		case 0:
			policy = kit.Recover(coins(rapid.Int64Range(0, 50).Draw(t, "max")), losses)
		case 1:
			policy = kit.Recover(coins(rapid.Int64Range(0, 50).Draw(t, "max")), "")
		default:
			policy = kit.WriteOff(losses)
		}
		members := []string{"amy", "bob"}
		debt := map[string]int64{}
		lost := int64(0)
		n := 0
		key := func() string { n++; return fmt.Sprint("k", n) }
		for range rapid.IntRange(1, 25).Draw(t, "steps") {
			m := rapid.SampledFrom(members).Draw(t, "member")
			amt := rapid.Int64Range(1, 40).Draw(t, "amount")
			switch rapid.IntRange(0, 2).Draw(t, "op") {
			case 0:
				give(t, l, key(), m, amt)
				debt[m] -= min(debt[m], amt)
			case 1:
				sp, err := l.Balance(ctx, kit.WalletAccount(m), "COIN")
				if err == nil && sp.Available.IntPart() > 0 {
					_, err := l.Transfer(ctx, key(), kit.WalletAccount(m), sink, "COIN", coins(min(amt, sp.Available.IntPart())))
					require.NoError(t, err)
				}
			case 2:
				res, err := claw(l, kit.ClawRequest{Program: "test", Key: key(), Member: m, Asset: "COIN", Amount: coins(amt), To: budget, Policy: policy})
				if err != nil {
					require.ErrorIs(t, err, kit.ErrRecoveryBound)
					require.Empty(t, policy.LossAccount)
					continue
				}
				require.True(t, res.Taken.Add(res.Debt).Add(res.WrittenOff).Equal(coins(amt)))
				debt[m] += res.Debt.IntPart()
				lost += res.WrittenOff.IntPart()
				if policy.Mode == kit.WriteOffToLoss {
					require.True(t, res.Debt.IsZero())
				}
			}
			require.Equal(t, debt[m], outstanding(t, l, m).IntPart(), "debt of %s", m)
			require.LessOrEqual(t, debt[m], policy.Max.IntPart())
		}
		if policy.LossAccount != "" {
			b, err := l.Balance(ctx, losses, "COIN")
			if err == nil {
				require.Equal(t, -lost, b.Posted.IntPart())
			} else {
				require.Zero(t, lost)
			}
		}
		kittest.RequireBalanced(t, ctx, l)
	})
}
