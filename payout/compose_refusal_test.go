package payout_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/teststore"
	"github.com/rewardkit/rewardkit/payout"
)

// TestRefusedWalletWithdrawalLeavesCallersUnitUsable: a withdrawal
// refused for funds is a refusal, so a caller composing events in one
// unit of work may handle it — here: the wallet holds nothing, so cash
// the earnings out instead — and commit. WithdrawIn opens the member's
// wallet before it checks the balance, so for a member without a wallet
// the refusal comes after a write and Writer.Atomic dooms the unit.
func TestRefusedWalletWithdrawalLeavesCallersUnitUsable(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open, payout.CreatorRules(diamondValue))
		require.NoError(t, f.l.Update(f.ctx, func(w *ledger.Writer) error { return earn(w, "cat", 4000) }))
		_, err := f.p.LinkAccount(f.ctx, payout.LinkAccountRequest{Actor: "cat", Account: "cat@example.com"})
		require.NoError(t, err)
		err = f.l.Update(f.ctx, func(w *ledger.Writer) error {
			_, err := f.p.WithdrawIn(w, payout.WithdrawRequest{PayoutID: "po-wallet", Actor: "cat", Amount: d("4000")})
			require.ErrorIs(t, err, payout.ErrInsufficientFunds)
			// Handled: the diamonds are in the earnings account.
			_, err = f.p.WithdrawIn(w, payout.WithdrawRequest{PayoutID: "po-earnings", Actor: "cat", Source: earnings("cat"), Amount: d("4000")})
			return err
		})
		require.NoError(t, err, "a refused withdrawal doomed the caller's unit of work")
	})
}
