package kit_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/kit/kittest"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
	"github.com/rewardkit/rewardkit/ledger/teststore"
)

const breakage = "platform:breakage"

// TestCreditWithExpiryMakesALotOfWhatReachesTheWallet: a credit with an
// expiry repays the member's debt first, and only what reaches the
// wallet becomes a lot; at expiry Tick moves the unspent rest of the lot
// to breakage, and the debt repaid never comes back.
func TestCreditWithExpiryMakesALotOfWhatReachesTheWallet(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		l := clawLedger(t, open(t))
		_, err := l.OpenAccount(ctx, ledger.AccountSpec{Address: breakage, Overdraft: ledger.Overdraft{}})
		require.NoError(t, err)
		// amy owes 30: she spent what a clawback then wanted back.
		give(t, l, "r1", "amy", 30)
		_, err = l.Transfer(ctx, "spend", kit.WalletAccount("amy"), sink, "COIN", coins(30))
		require.NoError(t, err)
		_, err = claw(l, kit.ClawRequest{Program: "test", Key: "claw-1", Member: "amy", Asset: "COIN", Amount: coins(30),
			To: budget, Policy: kit.Recover(coins(100), losses), Reason: "refund"})
		require.NoError(t, err)
		require.Equal(t, "30", outstanding(t, l, "amy").String())

		expires := t0.Add(24 * time.Hour)
		credit := func(key string, n int64, at time.Time, brk string) (res kit.CreditResult, err error) {
			err = l.Update(ctx, func(w *ledger.Writer) error {
				res, err = kit.Credit(w, kit.CreditRequest{Program: "test", Key: key, Member: "amy", Asset: "COIN",
					Amount: coins(n), From: budget, ExpiresAt: at, Breakage: brk})
				return err
			})
			return res, err
		}
		// Refused, writing nothing: an expiry without breakage, one in the
		// past, an unknown breakage account — even when all of it would
		// repay the debt.
		for _, bad := range []struct {
			at  time.Time
			brk string
		}{{expires, ""}, {time.Time{}, breakage}, {t0.Add(-time.Hour), breakage}, {expires, "platform:nowhere"}} {
			_, err := credit("bad", 10, bad.at, bad.brk)
			require.Error(t, err, "%v", bad)
			require.Equal(t, "30", outstanding(t, l, "amy").String())
		}

		res, err := credit("r2", 100, expires, breakage)
		require.NoError(t, err)
		require.Equal(t, "30", res.Repaid.String())
		require.Equal(t, "70", res.Credited.String())
		var lots []ledger.Lot
		require.NoError(t, l.View(ctx, func(r *ledger.Reader) (err error) {
			lots, err = r.Lots(kit.WalletAccount("amy"), "COIN")
			return err
		}))
		require.Len(t, lots, 1)
		require.Equal(t, "70", lots[0].Amount.String())
		require.True(t, lots[0].ExpiresAt.Equal(expires))

		_, err = l.Transfer(ctx, "spend-2", kit.WalletAccount("amy"), sink, "COIN", coins(20))
		require.NoError(t, err)
		l.Clock().(*ledgertest.Clock).Advance(25 * time.Hour)
		_, err = l.ExpireLots(ctx, nil)
		require.NoError(t, err)
		b, err := l.Balance(ctx, breakage, "COIN")
		require.NoError(t, err)
		require.Equal(t, "50", b.Posted.String(), "the unspent 50 of the lot expired")
		w, err := l.Balance(ctx, kit.WalletAccount("amy"), "COIN")
		require.NoError(t, err)
		require.True(t, w.Posted.IsZero())
		require.True(t, outstanding(t, l, "amy").IsZero(), "the repaid debt stays repaid")
		kittest.RequireBalanced(t, ctx, l)
	})
}
