package payout_test

import (
	"errors"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/teststore"
	"github.com/rewardkit/rewardkit/payout"
)

// Issue 11 #1: diamonds land in gifting's earnings account, and the
// integrator's sweep to the wallet and the withdrawal were separate units
// of work, so a refused withdrawal left 4,000 diamonds stranded in the
// wallet. payout now withdraws straight from the earnings account, at the
// value gifting configures (handed over as a ledger rule, here
// diamondValue), in one unit of work. payout knows nothing of gifting:
// its earnings account is simulated with ledger calls.

// earnings is gifting's EarningsAccount, written out.
func earnings(creator string) string { return "creator:" + creator + ":diamonds" }

// earn pays a creator diamonds as gifting's conversion does: into their
// earnings account, opened if missing.
func earn(w *ledger.Writer, creator string, diamonds int64) error {
	if err := kit.OpenIfMissing(w, earnings(creator), ledger.Overdraft{}); err != nil {
		return err
	}
	_, err := w.Post(ledger.TransferRequest{Postings: []ledger.Posting{
		{From: ledger.World, To: earnings(creator), Asset: "DIAMOND", Amount: decimal.NewFromInt(diamonds)}}})
	return err
}

// TestRefusedCashOutStrandsNothing: every refused withdrawal of a
// creator's diamonds leaves them in the earnings account, available, and
// writes nothing else (no wallet, no hold, no record, no provider call).
func TestRefusedCashOutStrandsNothing(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open, payout.CreatorRules(diamondValue))
		require.NoError(t, f.l.Update(f.ctx, func(w *ledger.Writer) error { return earn(w, "cat", 4000) }))
		cashOut := func(id string, diamonds string) error {
			_, err := f.p.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: id, Actor: "cat", Source: earnings("cat"), Amount: d(diamonds)})
			return err
		}
		refusedAlike := func(name string, want error, call func() error) {
			t.Helper()
			before := f.snapshot(t)
			err := call()
			require.ErrorIs(t, err, want, name)
			require.Equal(t, before, f.snapshot(t), name)
			eq(t, "4000", f.bal(t, earnings("cat"), "DIAMOND").Available, name)
			_, err = f.l.Balance(f.ctx, payout.MemberAccount("cat"), "DIAMOND")
			require.ErrorIs(t, err, ledger.ErrUnknownAccount, "%s: no diamond ever reached the wallet", name)
		}

		refusedAlike("no linked account", payout.ErrNoPayoutAccount, func() error { return cashOut("po-1", "4000") })
		_, err := f.p.LinkAccount(f.ctx, payout.LinkAccountRequest{Actor: "cat", Account: "cat@example.com"})
		require.NoError(t, err)
		refusedAlike("under the minimum", payout.ErrBelowMinimum, func() error { return cashOut("po-1", "1999") })
		refusedAlike("more than earned", payout.ErrInsufficientFunds, func() error { return cashOut("po-1", "4001") })
		refusedAlike("someone else's earnings", payout.ErrUnknownSource, func() error {
			_, err := f.p.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: "po-1", Actor: "dan", Source: earnings("cat"), Amount: d("4000")})
			return err
		})

		f.prov.Next(payout.Fail)
		po, err := f.p.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: "po-1", Actor: "cat", Source: earnings("cat"), Amount: d("4000")})
		require.NoError(t, err)
		require.Equal(t, payout.StatusFailed, po.Status, "the provider refused")
		eq(t, "4000", f.bal(t, earnings("cat"), "DIAMOND").Available, "a payment the provider refused gives the diamonds back")

		po, err = f.p.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: "po-2", Actor: "cat", Source: earnings("cat"), Amount: d("4000")})
		require.NoError(t, err)
		require.Equal(t, payout.StatusPaid, po.Status)
		eq(t, "20.00", po.Gross, "4,000 diamonds at gifting's 0.005 USD")
		eq(t, "19.60", po.Net)
		eq(t, "0", f.bal(t, earnings("cat"), "DIAMOND").Posted)
		eq(t, "19.60", f.bal(t, payout.SettlementAccount("paypal-creators"), "USD").Posted)
		eq(t, "19.60", f.prov.Paid("USD"))

		require.NoError(t, f.l.Update(f.ctx, func(w *ledger.Writer) error { return earn(w, "cat", 4000) }))
		refusedAlike("a second cash-out this week", payout.ErrTooFrequent, func() error { return cashOut("po-3", "4000") })
		f.verify(t)
	})
}

// TestCashOutInTheCallersUnitOfWork: WithdrawIn shares the caller's unit
// of work. If anything in it fails — the withdrawal or the caller's own
// step — nothing of it stays: no hold on the diamonds, no payout, no
// provider call. If it commits, the diamonds are reserved, and the
// payment goes out after the commit: by Retry, or else by Tick.
func TestCashOutInTheCallersUnitOfWork(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open, payout.CreatorRules(diamondValue))
		require.NoError(t, f.l.Update(f.ctx, func(w *ledger.Writer) error { return earn(w, "cat", 3000) }))
		withdraw := func(w *ledger.Writer, id string) (payout.Payout, error) {
			return f.p.WithdrawIn(w, payout.WithdrawRequest{PayoutID: id, Actor: "cat", Source: earnings("cat"), Amount: d("4000")})
		}

		// The last gift of the LIVE and the cash-out in one unit of work:
		// the refused withdrawal undoes the gift's diamonds too.
		before := f.snapshot(t)
		err := f.l.Update(f.ctx, func(w *ledger.Writer) error {
			if err := earn(w, "cat", 1000); err != nil {
				return err
			}
			_, err := withdraw(w, "po-1")
			return err
		})
		require.ErrorIs(t, err, payout.ErrNoPayoutAccount)
		require.Equal(t, before, f.snapshot(t))
		eq(t, "3000", f.bal(t, earnings("cat"), "DIAMOND").Available)

		_, err = f.p.LinkAccount(f.ctx, payout.LinkAccountRequest{Actor: "cat", Account: "cat@example.com"})
		require.NoError(t, err)

		// The withdrawal is fine but the caller's next step fails.
		before = f.snapshot(t)
		callerFails := errors.New("the caller's own step failed")
		err = f.l.Update(f.ctx, func(w *ledger.Writer) error {
			if err := earn(w, "cat", 1000); err != nil {
				return err
			}
			po, err := withdraw(w, "po-1")
			require.NoError(t, err)
			require.Equal(t, payout.StatusSending, po.Status)
			return callerFails
		})
		require.ErrorIs(t, err, callerFails)
		require.Equal(t, before, f.snapshot(t), "rolled back: no hold, no payout, no provider call")
		eq(t, "3000", f.bal(t, earnings("cat"), "DIAMOND").Available)
		_, err = f.p.Get(f.ctx, "po-1")
		require.ErrorIs(t, err, payout.ErrNotFound)

		// Both commit: the diamonds are reserved, nothing is sent yet.
		var po payout.Payout
		err = f.l.Update(f.ctx, func(w *ledger.Writer) error {
			if err := earn(w, "cat", 1000); err != nil {
				return err
			}
			var err error
			po, err = withdraw(w, "po-1")
			return err
		})
		require.NoError(t, err)
		require.Equal(t, payout.StatusSending, po.Status)
		require.Zero(t, f.prov.Calls(), "the provider is never called inside a unit of work")
		eq(t, "4000", f.bal(t, earnings("cat"), "DIAMOND").Held)
		eq(t, "0", f.bal(t, earnings("cat"), "DIAMOND").Available)

		// After the commit, Retry sends it.
		po, err = f.p.Retry(f.ctx, payout.RetryRequest{PayoutID: "po-1"})
		require.NoError(t, err)
		require.Equal(t, payout.StatusPaid, po.Status)
		eq(t, "0", f.bal(t, earnings("cat"), "DIAMOND").Posted)
		eq(t, "19.60", f.prov.Paid("USD"))

		// A replay of the In form inside another unit of work writes nothing.
		before = f.snapshot(t)
		err = f.l.Update(f.ctx, func(w *ledger.Writer) error {
			po, err := withdraw(w, "po-1")
			require.True(t, po.Replayed)
			return err
		})
		require.NoError(t, err)
		require.Equal(t, before, f.snapshot(t))
		f.verify(t)
	})
}

// TestTickSendsWhatWithdrawInRecorded: a payout recorded by WithdrawIn
// whose caller never called Retry is sent by Tick after retry_every, and
// paid once.
func TestTickSendsWhatWithdrawInRecorded(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open, payout.CreatorRules(diamondValue))
		require.NoError(t, f.l.Update(f.ctx, func(w *ledger.Writer) error { return earn(w, "cat", 4000) }))
		_, err := f.p.LinkAccount(f.ctx, payout.LinkAccountRequest{Actor: "cat", Account: "cat@example.com"})
		require.NoError(t, err)
		_, err = kit.Run(f.ctx, f.l, func(w *ledger.Writer) (payout.Payout, error) {
			return f.p.WithdrawIn(w, payout.WithdrawRequest{PayoutID: "po-1", Actor: "cat", Source: earnings("cat"), Amount: d("4000")})
		})
		require.NoError(t, err)
		rep := f.tick(t, time.Minute)
		require.Empty(t, rep.Done, "not due before retry_every")
		rep = f.tick(t, f.rules.RetryEvery.D())
		require.Equal(t, []string{"po-1"}, rep.IDs(payout.TickPaid))
		f.tick(t, f.rules.RetryEvery.D())
		require.Equal(t, 1, f.prov.Calls())
		eq(t, "19.60", f.prov.Paid("USD"))
		eq(t, "19.60", f.bal(t, payout.SettlementAccount("paypal-creators"), "USD").Posted)
		f.verify(t)
	})
}
