package referral_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/driver"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/kit/kittest"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
	"github.com/rewardkit/rewardkit/ledger/teststore"
	"github.com/rewardkit/rewardkit/referral"
)

// TestRefundAfterReleaseClawsBack: with rule refund_clawback, a refund
// after the reward was paid takes it back under the recovery policy: what
// the referrer's wallet still has, then a debt up to max, then a
// write-off; the debt is repaid from the referrer's next released reward
// before it is spendable. Nothing is lost silently and the budget gets
// the whole reward back.
func TestRefundAfterReleaseClawsBack(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		policy := kit.Recover(d(30), "platform:referral-losses")
		f := shopFixture(t, open, func(r *referral.Rules) { r.RefundClawback, r.Tiers = &policy, nil })
		f.purchaseAll(t, "amy", "bob")
		f.clock.Advance(f.rules.ReturnWindow.D())
		rep, _ := f.tick(t)
		require.Equal(t, 2, rep.Count(referral.ItemReleased))
		require.True(t, f.wallet(t, "ref").Equal(d(100)))
		// The referrer spends 80 of it.
		_, err := f.l.Transfer(f.ctx, "spent", referral.MemberAccount("ref"), ledger.World, "USD", d(80))
		require.NoError(t, err)
		_, seq := f.events(t, 0)

		res, err := f.p.RecordRefund(f.ctx, referral.RecordRefundRequest{EventID: "r-amy", Actor: riskOfficer, PurchaseID: "o-amy"})
		require.NoError(t, err)
		require.True(t, res.Cancelled)
		require.NotNil(t, res.Clawback)
		require.Equal(t, "20", res.Clawback.Taken.String())
		require.Equal(t, "30", res.Clawback.Debt.String())
		require.True(t, res.Clawback.WrittenOff.IsZero())
		require.Equal(t, referral.StatusClawedBack, f.status(t, "amy"))
		f.expectEvents(t, seq, event{"referral.clawback.recorded", "ref"}, event{referral.EventRewardClawedBack, "ref"})
		_, seq = f.events(t, 0)

		// A replay changes nothing; another refund of it finds it settled
		// and moves no money.
		wallet, debt := f.wallet(t, "ref"), f.balance(t, kit.DebtAccount("ref"))
		again, err := f.p.RecordRefund(f.ctx, referral.RecordRefundRequest{EventID: "r-amy", Actor: riskOfficer, PurchaseID: "o-amy"})
		require.NoError(t, err)
		require.True(t, again.Replayed)
		other, err := f.p.RecordRefund(f.ctx, referral.RecordRefundRequest{EventID: "r-amy-2", Actor: riskOfficer, PurchaseID: "o-amy"})
		require.NoError(t, err)
		require.False(t, other.Cancelled)
		require.Equal(t, "reward already clawed_back", other.Reason)
		require.True(t, wallet.Equal(f.wallet(t, "ref")) && debt.Equal(f.balance(t, kit.DebtAccount("ref"))))
		f.noEventsSince(t, seq)

		// bob's refund: the wallet is empty and the debt at its bound, so
		// all of it is written off, never dropped.
		res, err = f.p.RecordRefund(f.ctx, referral.RecordRefundRequest{EventID: "r-bob", Actor: riskOfficer, PurchaseID: "o-bob"})
		require.NoError(t, err)
		require.Equal(t, "50", res.Clawback.WrittenOff.String())
		require.True(t, f.balance(t, "platform:referral-losses").Equal(d(-50)))
		_, seq = f.expectEvents(t, seq, event{"referral.clawback.recorded", "ref"}, event{"referral.loss.written_off", "ref"},
			event{referral.EventRewardClawedBack, "ref"})
		b := f.budget(t)
		require.True(t, b.Spent.IsZero(), "the budget has both rewards back: %+v", b)

		// The next reward repays the debt first.
		f.purchaseAll(t, "cat")
		require.True(t, f.balance(t, kit.PendingAccount("ref")).Equal(d(50)))
		f.clock.Advance(f.rules.ReturnWindow.D())
		rep, _ = f.tick(t)
		require.Equal(t, []string{"cat"}, rep.IDs(referral.ItemReleased))
		require.True(t, f.wallet(t, "ref").Equal(d(20)), f.wallet(t, "ref").String())
		require.True(t, f.balance(t, kit.DebtAccount("ref")).IsZero())
		f.expectEvents(t, seq, event{referral.EventSignupRecorded, "ref"}, event{referral.EventRewardHeld, "ref"}, event{"referral.debt.recovered", "ref"}, event{referral.EventRewardReleased, "ref"})
		f.verify(t)
	})
}

// Without rule refund_clawback (the default), a refund after the window
// leaves the paid reward, as before.
func TestRefundClawbackRule(t *testing.T) {
	r := referral.ShopRules()
	require.Nil(t, r.RefundClawback)
	bad := kit.WriteOff("")
	r.RefundClawback = &bad
	require.ErrorIs(t, r.Validate(), referral.ErrInvalidRules)
}

// TestPropertyShopPendingAndClawback: random purchases, refunds (inside
// and after the window), spending, clock moves and ticks in the shop
// variant under a random refund_clawback policy, on both stores. After
// every step no value is created or lost (Verify; spent = wallets + till
// − debts − write-offs; budget spent + held + available = funded), no debt
// passes its bound, and each reward settles once: an invite ends paid,
// cancelled or clawed back at most once each, and its kit.Pending grant
// agrees.
func TestPropertyShopPendingAndClawback(t *testing.T) {
	kittest.CheckOnStores(t, 4, func(rt *rapid.T, store driver.Store) {
		ctx := context.Background()
		rules := referral.ShopRules()
		rules.Budget = d(rapid.SampledFrom([]int64{1000, 120}).Draw(rt, "budget"))
		policies := []kit.RecoveryPolicy{kit.Recover(d(60), propLosses), kit.Recover(d(20), ""), kit.WriteOff(propLosses)}
		policy := rapid.SampledFrom(policies).Draw(rt, "policy")
		rules.RefundClawback = &policy
		clock := ledgertest.NewClock(t0)
		l := ledger.New(store, ledger.WithClock(clock))
		dir := kit.NewDirectory()
		roles := &kit.RoleDirectory{}
		roles.Grant(riskOfficer, kit.RoleRiskOfficer)
		p, err := referral.New(ctx, l, rules, dir, referral.WithRoles(roles))
		require.NoError(rt, err)
		_, err = l.OpenAccount(ctx, ledger.AccountSpec{Address: propTill})
		require.NoError(rt, err)
		invitees := []string{"a", "b", "c", "d", "e"}
		people := append([]string{"r"}, invitees...)
		for _, id := range people {
			dir.Put(kit.Member{ID: id, Country: rules.Country, BirthDate: born(30), HasProfile: true, PayoutLinked: true,
				RegisteredAt: t0, Device: "dev-" + id, PaymentInstrument: "card-" + id})
		}
		code, err := p.IssueCode(ctx, referral.IssueCodeRequest{EventID: "code", Member: "r"})
		require.NoError(rt, err)
		for _, id := range invitees {
			_, err := p.Signup(ctx, referral.SignupRequest{EventID: "signup-" + id, Invitee: id, Code: code})
			require.NoError(rt, err)
		}
		n := 0
		settled := map[string]referral.InviteStatus{}
		for range rapid.IntRange(1, 30).Draw(rt, "steps") {
			n++
			who := rapid.SampledFrom(invitees).Draw(rt, "who")
			switch rapid.IntRange(0, 4).Draw(rt, "op") {
			case 0:
				_, err := p.RecordPurchase(ctx, referral.RecordPurchaseRequest{EventID: fmt.Sprint("p", n), Member: who, PurchaseID: "o-" + who})
				kittest.RequireTyped(rt, "purchase", err, referral.ErrBudgetExhausted, referral.ErrIdempotencyConflict, referral.ErrCapReached)
			case 1:
				_, err := p.RecordRefund(ctx, referral.RecordRefundRequest{EventID: fmt.Sprint("r", n), Actor: riskOfficer, PurchaseID: "o-" + who})
				kittest.RequireTyped(rt, "refund", err, kit.ErrRecoveryBound)
				if err != nil {
					require.Empty(rt, policy.LossAccount)
				}
			case 2:
				spender := rapid.SampledFrom(people).Draw(rt, "spender")
				var sp decimal.Decimal
				require.NoError(rt, l.View(ctx, func(r *ledger.Reader) (err error) {
					sp, err = kit.Spendable(r, referral.MemberAccount(spender), rules.Asset.Code)
					return err
				}))
				if sp.IsPositive() {
					_, err := l.Transfer(ctx, "", referral.MemberAccount(spender), propTill, rules.Asset.Code, sp)
					require.NoError(rt, err)
				}
			case 3:
				clock.Advance(time.Duration(rapid.IntRange(1, 20).Draw(rt, "days")) * 24 * time.Hour)
			case 4:
				rep, err := p.Tick(ctx)
				require.NoError(rt, err)
				require.Empty(rt, rep.Failed)
			}
			checkInvariants(rt, ctx, l, p, people)
			for _, id := range invitees {
				inv, err := p.Invite(ctx, id)
				require.NoError(rt, err)
				if prev, ok := settled[id]; ok && prev != referral.StatusPaid {
					require.Equal(rt, prev, inv.Status, "%s settled twice", id)
				}
				switch inv.Status {
				case referral.StatusPaid, referral.StatusCancelled, referral.StatusClawedBack:
					settled[id] = inv.Status
				}
				if inv.Pending == "" {
					continue
				}
				pend := kit.Pending{Program: "referral", Scope: rules.Campaign}
				var rec kit.PendingRecord
				require.NoError(rt, l.View(ctx, func(r *ledger.Reader) (err error) { rec, err = pend.Lookup(r, inv.Pending); return err }))
				want := map[referral.InviteStatus]string{referral.StatusHeld: kit.StatePending, referral.StatusPaid: kit.StateReleased,
					referral.StatusCancelled: kit.StateVetoed, referral.StatusClawedBack: kit.StateReleased}[inv.Status]
				require.Equal(rt, want, rec.State, "%s is %s", id, inv.Status)
			}
		}
	})
}

// TestRacingRefundsAndTicksSettleOnce: at the end of the return window,
// refunds (under several event IDs) race Ticks: each reward is paid and
// clawed back, or cancelled, exactly once, and the money agrees.
func TestRacingRefundsAndTicksSettleOnce(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		policy := kit.WriteOff(propLosses)
		f := shopFixture(t, open, func(r *referral.Rules) { r.RefundClawback, r.Tiers = &policy, nil })
		who := []string{"amy", "bob", "cat"}
		f.purchaseAll(t, who...)
		f.clock.Advance(f.rules.ReturnWindow.D() - time.Nanosecond)
		var wg sync.WaitGroup
		for i := range 4 {
			wg.Add(2)
			go func() {
				defer wg.Done()
				_, err := f.p.Tick(f.ctx)
				require.NoError(t, err)
			}()
			go func() {
				defer wg.Done()
				for _, w := range who {
					_, err := f.p.RecordRefund(f.ctx, referral.RecordRefundRequest{EventID: fmt.Sprint("r-", w, i), Actor: riskOfficer, PurchaseID: "o-" + w})
					require.NoError(t, err)
				}
			}()
			if i == 1 {
				f.clock.Advance(time.Nanosecond) // the window ends while they race
			}
		}
		wg.Wait()
		f.clock.Advance(time.Hour)
		f.tick(t)
		var clawed, cancelled int64
		for _, w := range who {
			switch s := f.status(t, w); s {
			case referral.StatusCancelled:
				cancelled++
			case referral.StatusClawedBack:
				clawed++
			default:
				t.Fatalf("%s ends %s: every purchase was refunded", w, s)
			}
		}
		// Nothing stays with the referrer: each clawed-back reward was
		// taken from the wallet (nothing was spent), each cancelled one
		// never left the pending account but to the budget.
		require.True(t, f.wallet(t, "ref").IsZero(), f.wallet(t, "ref").String())
		require.True(t, f.balance(t, kit.PendingAccount("ref")).IsZero())
		require.True(t, f.budget(t).Spent.IsZero())
		require.Equal(t, clawed+cancelled, int64(3))
		f.verify(t)
	})
}
