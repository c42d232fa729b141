package kit_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/kit/kittest"
	"github.com/rewardkit/rewardkit/ledger/teststore"
)

// A member's wallet is "member:<id>" and their debt account
// "member:<id>:debt", so a member ID "amy:debt" names amy's debt account
// as a wallet: an unbounded account. Claw, Credit and Pending must refuse
// such an ID rather than claw from, or credit, another member's debt.
func TestReviewMemberIDNamingAnotherAccountIsRefused(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		l := clawLedger(t, open(t))
		// amy owes 50, within a bound of 100.
		_, err := claw(l, kit.ClawRequest{Program: "test", Key: "c1", Member: "amy", Asset: "COIN", Amount: coins(50),
			To: budget, Policy: kit.Recover(coins(100), "")})
		require.NoError(t, err)
		require.Equal(t, "50", outstanding(t, l, "amy").String())

		for _, m := range []string{"amy:debt", "amy:pending", "", "a b"} {
			_, err = claw(l, kit.ClawRequest{Program: "test", Key: "c2-" + m, Member: m, Asset: "COIN", Amount: coins(1000),
				To: budget, Policy: kit.Recover(coins(0), "")})
			require.ErrorIs(t, err, kit.ErrInvalidRecovery, "claw of member "+m)

			err = l.Update(ctx, func(w *ledger.Writer) error {
				_, err := kit.Credit(w, kit.CreditRequest{Program: "test", Key: "k-" + m, Member: m, Asset: "COIN", Amount: coins(1000), From: budget})
				return err
			})
			require.ErrorIs(t, err, kit.ErrInvalidRecovery, "credit of member "+m)

			_, err = grantPending(l, kit.PendingGrant{ID: "g-" + m, Member: m, Asset: "COIN", Amount: coins(10), From: budget, MaturesAt: t0})
			require.ErrorIs(t, err, kit.ErrInvalidGrant, "grant to member "+m)
		}
		require.Equal(t, "50", outstanding(t, l, "amy").String(), "amy's debt moved by another member's call")
		kittest.RequireBalanced(t, ctx, l)
	})
}

// A member's debt account is Unbounded: paying a reward out of it (Credit
// or a pending grant funded by it) makes a debt from nothing, past any
// bound; clawing into it repays one member's debt with another's funds; a
// pending account is moved only by Pending.
func TestReviewKitRefusesMemberSubAccountsAsCounterparty(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		l := clawLedger(t, open(t))
		_, err := claw(l, kit.ClawRequest{Program: "test", Key: "c1", Member: "bob", Asset: "COIN", Amount: coins(50),
			To: budget, Policy: kit.Recover(coins(100), "")})
		require.NoError(t, err)
		give(t, l, "r1", "amy", 100)

		for _, from := range []string{kit.DebtAccount("bob"), kit.PendingAccount("bob")} {
			err = l.Update(ctx, func(w *ledger.Writer) error {
				_, err := kit.Credit(w, kit.CreditRequest{Program: "test", Key: "k-" + from, Member: "amy", Asset: "COIN", Amount: coins(500), From: from})
				return err
			})
			require.ErrorIs(t, err, kit.ErrInvalidRecovery, "credit from "+from)

			_, err = grantPending(l, kit.PendingGrant{ID: "g1", Member: "amy", Asset: "COIN", Amount: coins(500), From: from, MaturesAt: t0})
			require.ErrorIs(t, err, kit.ErrInvalidGrant, "grant from "+from)
		}
		for _, to := range []string{kit.DebtAccount("bob"), kit.PendingAccount("bob")} {
			_, err = claw(l, kit.ClawRequest{Program: "test", Key: "c2-" + to, Member: "amy", Asset: "COIN", Amount: coins(50),
				To: to, Policy: kit.WriteOff(losses)})
			require.ErrorIs(t, err, kit.ErrInvalidRecovery, "claw to "+to)
		}
		// The loss account as the account returned to: refused even when
		// the wallet covers it all (no shortfall, so no self-posting yet).
		_, err = claw(l, kit.ClawRequest{Program: "test", Key: "c3", Member: "amy", Asset: "COIN", Amount: coins(10),
			To: losses, Policy: kit.WriteOff(losses)})
		require.ErrorIs(t, err, kit.ErrInvalidRecovery, "claw to its loss account")
		// A credit paid from the member's own wallet.
		err = l.Update(ctx, func(w *ledger.Writer) error {
			_, err := kit.Credit(w, kit.CreditRequest{Program: "test", Key: "k-self", Member: "amy", Asset: "COIN", Amount: coins(10), From: kit.WalletAccount("amy")})
			return err
		})
		require.ErrorIs(t, err, kit.ErrInvalidRecovery, "credit from the member's own wallet")
		require.Equal(t, "50", outstanding(t, l, "bob").String())
		require.Equal(t, "0", outstanding(t, l, "amy").String())
		require.Equal(t, int64(100), posted(t, l, kit.WalletAccount("amy")))
		kittest.RequireBalanced(t, ctx, l)
	})
}

// Two uses of a rolling cap under one Ref (a caller that reuses a payout
// ID, a retry that takes again): giving one back must return that one use,
// not every use with the ref, or the cap is exceeded afterwards.
func TestReviewRollingGiveReturnsOneUse(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		l, clock := newLedger(t, open)
		c := testCap("daily_maximum", kit.PeriodRolling, 2, 0)
		at := clock.Now()
		tk, err := take(ctx, l, c, kit.Use{Subject: "ann", At: at, Count: 1, Ref: "p1"})
		require.NoError(t, err)
		_, err = take(ctx, l, c, kit.Use{Subject: "ann", At: at.Add(time.Minute), Count: 1, Ref: "p1"})
		require.NoError(t, err)
		require.NoError(t, l.Update(ctx, func(w *ledger.Writer) error { return kit.Give(w, c, tk) }))
		require.Equal(t, int64(1), usage(t, ctx, l, c, "ann", at.Add(time.Minute), nil).Count)
		// One slot is free, not two.
		_, err = take(ctx, l, c, kit.Use{Subject: "ann", At: at.Add(2 * time.Minute), Count: 1, Ref: "p2"})
		require.NoError(t, err)
		_, err = take(ctx, l, c, kit.Use{Subject: "ann", At: at.Add(2 * time.Minute), Count: 1, Ref: "p3"})
		require.Equal(t, "daily_maximum", ledger.RuleOf(err))
	})
}

// Bad input to Credit is a typed error and posts nothing, even in a unit
// of work whose caller ignores the error and commits (an In method
// composing several steps). (Opening the wallet is not a write the ledger
// counts: an empty account may stay open, see ledger.Writer.store.)
func TestReviewBadInputWritesNothing(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		l := clawLedger(t, open(t))
		give(t, l, "r1", "amy", 100)
		credit := func(req kit.CreditRequest) kit.CreditRequest {
			base := kit.CreditRequest{Program: "test", Key: "k", Member: "newbie", Asset: "COIN", Amount: coins(10), From: budget}
			if req.Key != "" {
				base.Key = req.Key
			}
			if req.Member != "" {
				base.Member = req.Member
			}
			if req.Asset != "" {
				base.Asset = req.Asset
			}
			if !req.Amount.IsZero() {
				base.Amount = req.Amount
			}
			if req.From != "" {
				base.From = req.From
			}
			return base
		}
		bad := []kit.CreditRequest{
			credit(kit.CreditRequest{Amount: coins(-1)}),
			credit(kit.CreditRequest{Amount: coins(1).Div(coins(1000))}),
			credit(kit.CreditRequest{Asset: "NOPE"}),
			credit(kit.CreditRequest{From: "platform:nowhere"}),
			credit(kit.CreditRequest{Amount: coins(2_000_000)}), // more than the budget has
		}
		before := journalLen(t, l)
		for i, req := range bad {
			err := l.Update(ctx, func(w *ledger.Writer) error {
				_, err := kit.Credit(w, req)
				require.Error(t, err, "credit %d", i)
				kittest.RequireTyped(t, "credit", err, kit.ErrInvalidRecovery, ledger.ErrInvalidAmount, ledger.ErrPrecision, ledger.ErrUnknownAsset,
					ledger.ErrUnknownAccount, ledger.ErrInsufficientFunds)
				return nil // the caller ignores it and commits
			})
			require.NoError(t, err)
		}
		require.Equal(t, before, journalLen(t, l))
		evs, _ := kittest.EventsAfter(t, ctx, l, "test.", 0)
		require.Empty(t, evs)
		kittest.RequireBalanced(t, ctx, l)
	})
}

func journalLen(t kittest.TB, l *ledger.Ledger) int {
	t.Helper()
	n := 0
	require.NoError(t, l.View(context.Background(), func(r *ledger.Reader) error {
		txs, _, err := r.Transactions(0, 10000)
		n = len(txs)
		return err
	}))
	return n
}
