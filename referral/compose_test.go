package referral_test

// Composition (issue 11 #1): a program's event runs inside a unit of work
// the caller owns, so a flow across the shop and the referral program is
// one all-or-nothing unit. These tests use only ledger and referral.

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/teststore"
	"github.com/rewardkit/rewardkit/referral"
)

// shopSales is the shop's own account in these tests.
const shopSales = "shop:sales"

// errOutOfStock is the shop's own refusal, after the referral part ran.
var errOutOfStock = errors.New("shop: out of stock")

// buy is a shop's purchase: the payment (80 USD from outside into the
// shop's sales) and the referral reward it earns, in one unit of work.
// With failAfter the shop refuses the purchase after the reward was
// recorded.
func (f *fixture) buy(member, order string, failAfter bool) error {
	return f.l.Update(f.ctx, func(w *ledger.Writer) error {
		if _, err := w.Post(ledger.TransferRequest{Key: "shop:" + order,
			Postings: []ledger.Posting{{From: ledger.World, To: shopSales, Asset: "USD", Amount: d(80)}},
			Metadata: map[string]string{"shop": "purchase", "order": order}}); err != nil {
			return err
		}
		if _, err := f.p.RecordPurchaseIn(w, referral.RecordPurchaseRequest{EventID: "purchase-" + order, Member: member, PurchaseID: order}); err != nil {
			return err
		}
		if failAfter {
			return errOutOfStock
		}
		return nil
	})
}

// TestPurchaseAndRewardAreOneUnitOfWork: a shop purchase and its referral
// reward commit together; when the reward is refused nothing of the
// purchase is kept, and when the shop refuses after the reward was
// recorded nothing of the reward is kept. A retry of the whole unit
// changes nothing.
func TestPurchaseAndRewardAreOneUnitOfWork(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := shopFixture(t, open, nil)
		_, err := f.l.OpenAccount(f.ctx, ledger.AccountSpec{Address: shopSales})
		require.NoError(t, err)
		f.invite(t, "amy")
		f.invite(t, "bob")

		require.NoError(t, f.buy("amy", "o-amy", false))
		require.True(t, f.balance(t, shopSales).Equal(d(80)))
		require.True(t, f.held(t).Equal(d(50)), "the reward is held with the purchase")
		require.Equal(t, referral.StatusHeld, f.status(t, "amy"))

		// The reward is refused (the US is switched off): the payment the
		// shop posted first in the same unit of work is not kept.
		f.kill(t, "US", true)
		before := f.snapshot(t)
		err = f.buy("bob", "o-bob", false)
		require.ErrorIs(t, err, referral.ErrCountryDisabled)
		require.Equal(t, before, f.snapshot(t), "nothing of the purchase is kept")
		require.True(t, f.balance(t, shopSales).Equal(d(80)))
		_, err = f.l.TransactionByKey(f.ctx, "shop:o-bob")
		require.ErrorIs(t, err, ledger.ErrNotFound)

		// The shop refuses after the reward was recorded: the reward is
		// not kept either.
		f.kill(t, "US", false)
		before = f.snapshot(t)
		require.ErrorIs(t, f.buy("bob", "o-bob", true), errOutOfStock)
		require.Equal(t, before, f.snapshot(t), "nothing of the reward is kept")
		require.Equal(t, referral.StatusAwaitingPurchase, f.status(t, "bob"))

		// The same purchase goes through whole, and a retry of the whole
		// unit (a reply lost after the commit) replays both parts.
		require.NoError(t, f.buy("bob", "o-bob", false))
		after := f.snapshot(t)
		require.NoError(t, f.buy("bob", "o-bob", false))
		require.Equal(t, after, f.snapshot(t), "a retry changes nothing")
		require.True(t, f.balance(t, shopSales).Equal(d(160)))
		require.True(t, f.held(t).Equal(d(100)))
		f.verify(t)
	})
}
