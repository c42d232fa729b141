package referral_test

// Regression tests for issue 10 ("Money safety"). Each names the finding
// it covers; each fails on the code before the fix.

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/teststore"
	"github.com/rewardkit/rewardkit/referral"
)

// purchaseAll signs invitees up with ref's code and records a first
// purchase for each.
func (f *fixture) purchaseAll(t *testing.T, invitees ...string) {
	t.Helper()
	for _, who := range invitees {
		f.invite(t, who)
		res, err := f.p.RecordPurchase(f.ctx, referral.RecordPurchaseRequest{EventID: "p-" + who, Member: who, PurchaseID: "o-" + who})
		require.NoError(t, err)
		require.True(t, res.Qualifying)
	}
}

func (f *fixture) status(t *testing.T, invitee string) referral.InviteStatus {
	t.Helper()
	inv, err := f.p.Invite(f.ctx, invitee)
	require.NoError(t, err)
	return inv.Status
}

// TestKillSwitchStopsHeldShopRewards: issue 10 #15. Three US purchases,
// the US switch pulled, the return window ends: Tick pays nothing (it
// paid 200 USD before the fix), the rewards stay held and are reported as
// withheld; once the switch is off they are paid with their tier bonus.
func TestKillSwitchStopsHeldShopRewards(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := shopFixture(t, open, nil)
		f.purchaseAll(t, "amy", "bob", "cat")
		f.kill(t, "US", true)
		f.clock.Advance(f.rules.ReturnWindow.D())
		rep, _ := f.tick(t)
		require.Zero(t, rep.Count(referral.ItemReleased))
		require.Empty(t, rep.Done, "nothing paid: no reward, no tier bonus")
		require.Empty(t, failed(t, rep, referral.ItemRelease, nil))
		require.Equal(t, []string{"amy", "bob", "cat"}, failed(t, rep, referral.ItemWithheld, referral.ErrCountryDisabled))
		require.Contains(t, rep.Failed[0].Err.Error(), "kill switch")
		require.Equal(t, "disabled_countries", ledger.RuleOf(rep.Failed[0].Err))
		require.True(t, f.wallet(t, "ref").IsZero(), "paid %s during an emergency stop", f.wallet(t, "ref"))
		require.True(t, f.held(t).Equal(d(150)), "the rewards stay held")
		for _, who := range []string{"amy", "bob", "cat"} {
			require.Equal(t, referral.StatusHeld, f.status(t, who))
		}
		// A refund after the window still cannot cancel them.
		refund, err := f.p.RecordRefund(f.ctx, referral.RecordRefundRequest{EventID: "r-amy", Actor: riskOfficer, PurchaseID: "o-amy"})
		require.NoError(t, err)
		require.False(t, refund.Cancelled)

		f.kill(t, "US", false)
		rep, _ = f.tick(t)
		require.Equal(t, 3, rep.Count(referral.ItemReleased))
		require.Empty(t, rep.Failed)
		require.True(t, f.wallet(t, "ref").Equal(d(200)), f.wallet(t, "ref").String())
		f.verify(t)
	})
}

// TestKillSwitchOutlastingTheWindowStillPays: issue 10 #15. The switch
// stays on long past the return window (and the former hold margin): the
// reward stays pending (a kit.Pending grant does not expire) and is paid
// once the switch is off.
func TestKillSwitchOutlastingTheWindowStillPays(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := shopFixture(t, open, func(r *referral.Rules) { r.Budget = d(50) })
		f.purchaseAll(t, "amy")
		f.kill(t, "US", true)
		f.clock.Advance((f.rules.ReturnWindow + f.rules.HoldMargin).D() + time.Hour)
		rep, holdsExpired := f.tick(t)
		require.Len(t, failed(t, rep, referral.ItemWithheld, referral.ErrCountryDisabled), 1)
		require.Zero(t, holdsExpired, "nothing of the reward is a hold")
		require.True(t, f.held(t).Equal(d(50)), "still pending")
		require.True(t, f.wallet(t, "ref").IsZero())

		f.kill(t, "US", false)
		rep, _ = f.tick(t)
		require.Equal(t, 1, rep.Count(referral.ItemReleased))
		require.True(t, f.wallet(t, "ref").Equal(d(50)))
		require.Equal(t, referral.StatusPaid, f.status(t, "amy"))
		f.verify(t)
	})
}

// TestWithheldRewardIsNeverLostSilently: issue 10 #15. The invitee's
// country is switched off (nothing is paid for them either); while the
// reward is withheld it stays pending, out of the budget, so the budget
// cannot be spent twice on a task; when the switch is off the reward is
// paid.
func TestWithheldRewardIsNeverLostSilently(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := shopFixture(t, open, func(r *referral.Rules) {
			r.Country, r.SameCountry = "", false
			r.Budget = d(50)
			r.DailyEarningCap = d(50)
			r.Tasks = []referral.Task{{ID: "review", Reward: d(50), Period: referral.PeriodOnce}}
		})
		m := f.member("amy")
		m.Country = "CA"
		f.members.Put(m)
		_, err := f.p.Signup(f.ctx, referral.SignupRequest{EventID: "signup-amy", Invitee: "amy", Code: f.code(t, "ref")})
		require.NoError(t, err)
		_, err = f.p.RecordPurchase(f.ctx, referral.RecordPurchaseRequest{EventID: "p-amy", Member: "amy", PurchaseID: "o-amy"})
		require.NoError(t, err)
		f.kill(t, "CA", true)
		f.clock.Advance(f.rules.ReturnWindow.D())
		rep, _ := f.tick(t)
		require.Equal(t, []string{"amy"}, failed(t, rep, referral.ItemWithheld, referral.ErrCountryDisabled))
		require.Contains(t, rep.Failed[0].Err.Error(), "invitee amy")
		f.clock.Advance(f.rules.HoldMargin.D())
		f.tick(t)
		_, err = f.p.CompleteTask(f.ctx, referral.CompleteTaskRequest{EventID: "task", Member: "ref", Task: "review"})
		require.ErrorIs(t, err, referral.ErrBudgetExhausted, "the pending reward is not in the budget any more")

		f.kill(t, "CA", false)
		rep, _ = f.tick(t)
		require.Equal(t, []string{"amy"}, rep.IDs(referral.ItemReleased))
		require.Empty(t, rep.IDs(referral.ItemUnfunded))
		require.Equal(t, referral.StatusPaid, f.status(t, "amy"))
		require.True(t, f.wallet(t, "ref").Equal(d(50)))
		f.verify(t)
	})
}

// TestIneligibleReferrerIsNotPaidHeldRewards: issue 10 #15. A referrer who
// is no longer eligible when the return window ends is not paid until they
// are again.
func TestIneligibleReferrerIsNotPaidHeldRewards(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := shopFixture(t, open, nil)
		f.purchaseAll(t, "amy")
		ref := f.member("ref")
		ref.Employee = true
		f.members.Put(ref)
		f.clock.Advance(f.rules.ReturnWindow.D())
		rep, _ := f.tick(t)
		require.Len(t, failed(t, rep, referral.ItemWithheld, referral.ErrIneligible), 1)
		require.Equal(t, "exclude_employees", ledger.RuleOf(rep.Failed[0].Err))
		require.True(t, f.wallet(t, "ref").IsZero())

		ref.Employee = false
		f.members.Put(ref)
		rep, _ = f.tick(t)
		require.Equal(t, 1, rep.Count(referral.ItemReleased))
		require.True(t, f.wallet(t, "ref").Equal(d(50)))
	})
}

// TestReferralLoopsOfAnyLengthRefused: issue 10 #16. A→B→C, then A signs
// up with C's code: refused with ErrReferralLoop and nothing written (C
// was paid 20,000 RUBY before the fix). A member who holds a code but
// invited nobody is refused too; an invitee may still get a code later and
// invite others.
func TestReferralLoopsOfAnyLengthRefused(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open, referral.DefaultRules())
		for _, m := range []string{"a", "b", "c", "d", "e"} {
			f.member(m)
		}
		_, err := f.p.Signup(f.ctx, referral.SignupRequest{EventID: "s-b", Invitee: "b", Code: f.code(t, "a")})
		require.NoError(t, err)
		_, err = f.p.Signup(f.ctx, referral.SignupRequest{EventID: "s-c", Invitee: "c", Code: f.code(t, "b")}) // b got a code after signing up
		require.NoError(t, err)
		cPaid := f.wallet(t, "c")
		before := f.snapshot(t)
		_, err = f.p.Signup(f.ctx, referral.SignupRequest{EventID: "s-a", Invitee: "a", Code: f.code(t, "c")})
		require.ErrorIs(t, err, referral.ErrReferralLoop)
		require.Contains(t, err.Error(), "holds invite code")
		require.True(t, f.wallet(t, "c").Equal(cPaid), "c is not paid for a loop")

		f.code(t, "d") // d holds a code and invited nobody
		before = f.snapshot(t)
		_, err = f.p.Signup(f.ctx, referral.SignupRequest{EventID: "s-d", Invitee: "d", Code: f.code(t, "c")})
		require.ErrorIs(t, err, referral.ErrReferralLoop)
		require.Equal(t, before, f.snapshot(t))

		_, err = f.p.Signup(f.ctx, referral.SignupRequest{EventID: "s-e", Invitee: "e", Code: f.code(t, "c")})
		require.NoError(t, err, "a member new to the graph may join")
		f.verify(t)
	})
}

// TestRefundedRewardLeavesTheDailyCap: issue 10 #19 (referral part). The
// daily earning cap counts what was kept: a held reward counts on the day
// of the purchase, and a refund takes it out of that day's count again.
func TestRefundedRewardLeavesTheDailyCap(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := shopFixture(t, open, func(r *referral.Rules) { r.DailyEarningCap = d(50) })
		f.invite(t, "amy")
		f.invite(t, "bob")
		f.invite(t, "cat")
		_, err := f.p.RecordPurchase(f.ctx, referral.RecordPurchaseRequest{EventID: "p1", Member: "amy", PurchaseID: "o1"})
		require.NoError(t, err)
		_, err = f.p.RecordPurchase(f.ctx, referral.RecordPurchaseRequest{EventID: "p2", Member: "bob", PurchaseID: "o2"})
		require.ErrorIs(t, err, referral.ErrCapReached, "amy's held reward counts today")
		refund, err := f.p.RecordRefund(f.ctx, referral.RecordRefundRequest{EventID: "r1", Actor: riskOfficer, PurchaseID: "o1"})
		require.NoError(t, err)
		require.True(t, refund.Cancelled)
		res, err := f.p.RecordPurchase(f.ctx, referral.RecordPurchaseRequest{EventID: "p3", Member: "bob", PurchaseID: "o3"})
		require.NoError(t, err, "the refunded reward no longer counts")
		require.True(t, res.Qualifying)
		_, err = f.p.RecordPurchase(f.ctx, referral.RecordPurchaseRequest{EventID: "p4", Member: "cat", PurchaseID: "o4"})
		require.ErrorIs(t, err, referral.ErrCapReached, "bob's reward counts")
	})
}

// TestExpiredHoldBeforeTheSweepStillPaysTheReferrer: issue 10 #14. Tick
// runs long after the return window (past the former hold's expiry),
// before or after the ledger's Tick: the referrer is paid (before the fix
// the budget looked short and the invite was marked unfunded for ever).
// The budget is exactly the reward. Since the reward is a kit.Pending
// grant there is no hold for the ledger's Tick to expire.
func TestExpiredHoldBeforeTheSweepStillPaysTheReferrer(t *testing.T) {
	for _, ledgerFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("ledger_tick_first=%v", ledgerFirst), func(t *testing.T) {
			teststore.Run(t, func(t *testing.T, open teststore.Opener) {
				f := shopFixture(t, open, func(r *referral.Rules) { r.Budget = d(50) })
				f.purchaseAll(t, "amy")
				f.clock.Advance((f.rules.ReturnWindow + f.rules.HoldMargin).D() + time.Hour)
				if ledgerFirst {
					n, err := f.l.Tick(f.ctx)
					require.NoError(t, err)
					require.Zero(t, n)
				}
				rep, err := f.p.Tick(f.ctx) // the program's alone: it must not wait for the ledger's
				require.NoError(t, err)
				require.Equal(t, 1, rep.Count(referral.ItemReleased))
				require.Empty(t, rep.IDs(referral.ItemUnfunded))
				require.Empty(t, rep.Failed)
				require.True(t, f.wallet(t, "ref").Equal(d(50)), f.wallet(t, "ref").String())
				require.Equal(t, referral.StatusPaid, f.status(t, "amy"))
				b := f.budget(t)
				require.True(t, b.Spent.Equal(d(50)) && b.Held.IsZero() && b.Available.IsZero(), "%+v", b)
				f.verify(t)
			})
		})
	}
}

// TestPrivilegedActionsNeedARole: issue 10 #4. The kill switch and
// refunds need kit.RoleRiskOfficer, funding kit.RoleProgramAdmin; a
// refund recorded by the referrer or the invitee is refused even with the
// role; without a role directory nobody is allowed. A refusal is
// ledger.ErrForbidden and writes nothing.
func TestPrivilegedActionsNeedARole(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := shopFixture(t, open, nil)
		f.purchaseAll(t, "amy")
		f.roles.Grant("ref", kit.RoleRiskOfficer)
		f.roles.Grant("amy", kit.RoleRiskOfficer)
		before := f.snapshot(t)
		forbidden := func(err error) {
			t.Helper()
			require.ErrorIs(t, err, ledger.ErrForbidden)
			require.Equal(t, before, f.snapshot(t))
		}
		forbidden(f.p.SetKillSwitch(f.ctx, referral.SetKillSwitchRequest{Actor: nobody, Country: "US", Disabled: true}))
		forbidden(f.p.SetKillSwitch(f.ctx, referral.SetKillSwitchRequest{Actor: "", Country: "US", Disabled: true}))
		forbidden(f.p.SetKillSwitch(f.ctx, referral.SetKillSwitchRequest{Actor: admin, Country: "US", Disabled: true}))
		_, err := f.p.Fund(f.ctx, referral.FundRequest{Actor: riskOfficer, EventID: "topup", Amount: d(10)})
		forbidden(err)
		_, err = f.p.Fund(f.ctx, referral.FundRequest{Actor: nobody, EventID: "topup", Amount: d(10)})
		forbidden(err)
		_, err = f.p.RecordRefund(f.ctx, referral.RecordRefundRequest{EventID: "r", Actor: nobody, PurchaseID: "o-amy"})
		forbidden(err)
		_, err = f.p.RecordRefund(f.ctx, referral.RecordRefundRequest{EventID: "r", Actor: "ref", PurchaseID: "o-amy"})
		forbidden(err) // the referrer is a party
		_, err = f.p.RecordRefund(f.ctx, referral.RecordRefundRequest{EventID: "r", Actor: "amy", PurchaseID: "o-amy"})
		forbidden(err) // so is the invitee

		noRoles, err := referral.New(f.ctx, f.l, f.rules, f.members)
		require.NoError(t, err)
		forbidden(noRoles.SetKillSwitch(f.ctx, referral.SetKillSwitchRequest{Actor: riskOfficer, Country: "US", Disabled: true}))

		require.NoError(t, f.p.SetKillSwitch(f.ctx, referral.SetKillSwitchRequest{Actor: riskOfficer, Country: "US", Disabled: true}))
		_, err = f.p.Fund(f.ctx, referral.FundRequest{Actor: admin, EventID: "topup", Amount: d(10)})
		require.NoError(t, err)
		res, err := f.p.RecordRefund(f.ctx, referral.RecordRefundRequest{EventID: "r", Actor: riskOfficer, PurchaseID: "o-amy"})
		require.NoError(t, err)
		require.True(t, res.Cancelled)
	})
}

// TestRetriesReplayWhateverChangedSince: issue 10 #6. Every event retried
// under its id after the member facts changed (here: the directory no
// longer knows the members) replays the stored result, marked Replayed,
// and writes nothing; before the fix the retries looked the members up
// first and failed. Another request under a used id is ErrIdempotencyConflict.
func TestRetriesReplayWhateverChangedSince(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open, referral.DefaultRules())
		f.member("giulia")
		f.member("marco")
		code := f.code(t, "giulia")
		signup, err := f.p.Signup(f.ctx, referral.SignupRequest{EventID: "s1", Invitee: "marco", Code: code})
		require.NoError(t, err)
		require.False(t, signup.Replayed)
		task, err := f.p.CompleteTask(f.ctx, referral.CompleteTaskRequest{EventID: "t1", Member: "giulia", Task: "profile_photo"})
		require.NoError(t, err)
		var act referral.ActivityResult
		for day := 0; day < 5; day++ {
			act, err = f.p.RecordActivity(f.ctx, referral.RecordActivityRequest{EventID: fmt.Sprintf("a%d", day), Invitee: "marco"})
			require.NoError(t, err)
			f.clock.Advance(24 * time.Hour)
		}
		require.NotNil(t, act.Grant)

		f.forget("giulia")
		f.forget("marco")
		f.kill(t, "IT", true)
		before := f.snapshot(t)
		again, err := f.p.Signup(f.ctx, referral.SignupRequest{EventID: "s1", Invitee: "marco", Code: code})
		require.NoError(t, err)
		require.True(t, again.Replayed)
		require.Equal(t, mustJSON(t, signup), mustJSON(t, again))
		taskAgain, err := f.p.CompleteTask(f.ctx, referral.CompleteTaskRequest{EventID: "t1", Member: "giulia", Task: "profile_photo"})
		require.NoError(t, err)
		require.True(t, taskAgain.Replayed)
		require.Equal(t, task.Grant.Transaction, taskAgain.Grant.Transaction)
		actAgain, err := f.p.RecordActivity(f.ctx, referral.RecordActivityRequest{EventID: "a4", Invitee: "marco"})
		require.NoError(t, err)
		require.True(t, actAgain.Replayed)
		require.Equal(t, mustJSON(t, act), mustJSON(t, actAgain))
		codeAgain, err := f.p.IssueCode(f.ctx, referral.IssueCodeRequest{EventID: "code-giulia", Member: "giulia"})
		require.NoError(t, err)
		require.Equal(t, code, codeAgain)
		require.Equal(t, before, f.snapshot(t), "replays write nothing")

		_, err = f.p.CompleteTask(f.ctx, referral.CompleteTaskRequest{EventID: "t1", Member: "giulia", Task: "publish_video"})
		require.ErrorIs(t, err, referral.ErrIdempotencyConflict)
		require.ErrorIs(t, err, ledger.ErrIdempotencyConflict)
		_, err = f.p.RecordActivity(f.ctx, referral.RecordActivityRequest{EventID: "s1", Invitee: "marco"})
		require.ErrorIs(t, err, referral.ErrIdempotencyConflict)
	})
}

// TestShopRetriesReplayWhateverChangedSince: issue 10 #6, the shop
// events: a purchase and a refund retried after the referrer left the
// directory replay.
func TestShopRetriesReplayWhateverChangedSince(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := shopFixture(t, open, nil)
		f.invite(t, "amy")
		res, err := f.p.RecordPurchase(f.ctx, referral.RecordPurchaseRequest{EventID: "p1", Member: "amy", PurchaseID: "o1"})
		require.NoError(t, err)
		refund, err := f.p.RecordRefund(f.ctx, referral.RecordRefundRequest{EventID: "r1", Actor: riskOfficer, PurchaseID: "o1"})
		require.NoError(t, err)
		f.forget("ref")
		f.forget("amy")
		before := f.snapshot(t)
		again, err := f.p.RecordPurchase(f.ctx, referral.RecordPurchaseRequest{EventID: "p1", Member: "amy", PurchaseID: "o1"})
		require.NoError(t, err)
		require.True(t, again.Replayed)
		require.Equal(t, mustJSON(t, res), mustJSON(t, again))
		refundAgain, err := f.p.RecordRefund(f.ctx, referral.RecordRefundRequest{EventID: "r1", Actor: riskOfficer, PurchaseID: "o1"})
		require.NoError(t, err)
		require.True(t, refundAgain.Replayed)
		require.Equal(t, mustJSON(t, refund), mustJSON(t, refundAgain))
		require.Equal(t, before, f.snapshot(t))
	})
}

// TestWalletOpenedByAnotherProgramIsUsed: issue 10 #5. A member whose
// wallet another program opened with a COIN overdraft is paid (before the
// fix: ErrAccountConflict for ever); a new member's wallet is opened with
// the shared policy.
func TestWalletOpenedByAnotherProgramIsUsed(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		policy := kit.WalletPolicy{Overdraft: map[string]decimal.Decimal{"COIN": d(500)}}
		f := newFixture(t, open, referral.DefaultRules(), referral.WithWallets(policy))
		require.NoError(t, f.l.Update(f.ctx, func(w *ledger.Writer) error {
			if err := w.DefineAsset(ledger.COIN); err != nil {
				return err
			}
			_, err := kit.OpenWallet(w, kit.WalletPolicy{Overdraft: map[string]decimal.Decimal{"COIN": d(100)}}, "giulia")
			return err
		}))
		f.member("giulia")
		f.member("marco")
		_, err := f.p.Signup(f.ctx, referral.SignupRequest{EventID: "s1", Invitee: "marco", Code: f.code(t, "giulia")})
		require.NoError(t, err)
		require.True(t, f.wallet(t, "giulia").Equal(d(20000)))
		require.Equal(t, kit.WalletAccount("giulia"), referral.MemberAccount("giulia"))

		_, err = f.p.CompleteTask(f.ctx, referral.CompleteTaskRequest{EventID: "t1", Member: "marco", Task: "profile_photo"})
		require.NoError(t, err)
		var acc ledger.Account
		require.NoError(t, f.l.View(f.ctx, func(r *ledger.Reader) error {
			acc, err = r.Account(referral.MemberAccount("marco"))
			return err
		}))
		require.Equal(t, int64(500), acc.Limits["COIN"], "opened with the shared policy")
	})
}

// TestRulesRefuseUnknownFields: issue 10 #10. A misspelt field, at any
// depth, is ErrInvalidRules naming it; so is data after the rules.
func TestRulesRefuseUnknownFields(t *testing.T) {
	good, err := json.Marshal(referral.ShopRules())
	require.NoError(t, err)
	_, err = referral.ParseRules(good)
	require.NoError(t, err)
	cases := map[string]string{
		"signup_rewrd":   `"signup_rewrd":"60",`,
		"max_acount_age": `"newness":{"reject_prior_account":true,"max_acount_age":"1h"},`,
		"bonnus":         `"tiers":[{"invitees":3,"bonnus":"50"}],`,
		"perod":          `"tasks":[{"id":"x","reward":"1","perod":"once"}],`,
		"asset.precison": `"asset":{"code":"USD","precison":2},`,
	}
	for field, insert := range cases {
		t.Run(field, func(t *testing.T) {
			data := "{" + insert + string(good[1:])
			var r referral.Rules
			err := json.Unmarshal([]byte(data), &r)
			require.ErrorIs(t, err, referral.ErrInvalidRules)
			name := strings.TrimPrefix(field, "asset.")
			require.Contains(t, err.Error(), name)
			_, err = referral.ParseRules([]byte(data))
			require.ErrorIs(t, err, referral.ErrInvalidRules)
			require.Contains(t, err.Error(), name)
		})
	}
	_, err = referral.ParseRules(append(good, ` {"x":1}`...))
	require.ErrorIs(t, err, referral.ErrInvalidRules)
	require.Contains(t, err.Error(), "after the rules")
}

// TestTimesOutOfRangeAreRefused: issue 10 #3. Rule durations beyond
// ledger.MaxDuration and rule times outside the ledger's range are invalid
// rules; a purchase whose hold would expire past ledger.MaxTime, and any
// event or Tick at a clock outside the range, is ledger.ErrInvalidTime and
// writes nothing.
func TestTimesOutOfRangeAreRefused(t *testing.T) {
	for name, edit := range map[string]func(r *referral.Rules){
		"return_window":           func(r *referral.Rules) { r.ReturnWindow = kit.Duration(ledger.MaxDuration + time.Hour) },
		"hold_margin":             func(r *referral.Rules) { r.HoldMargin = kit.Duration(ledger.MaxDuration + time.Hour) },
		"retention_within":        func(r *referral.Rules) { r.RetentionWithin = kit.Duration(200 * 365 * 24 * time.Hour) },
		"newness.max_account_age": func(r *referral.Rules) { r.Newness.MaxAccountAge = -1 },
		"end":                     func(r *referral.Rules) { r.End = time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC) },
		"start":                   func(r *referral.Rules) { r.Start = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC) },
	} {
		r := referral.ShopRules()
		edit(&r)
		err := r.Validate()
		require.ErrorIs(t, err, referral.ErrInvalidRules, name)
		require.ErrorIs(t, err, ledger.ErrInvalidTime, name)
		require.Contains(t, err.Error(), name)
	}

	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := shopFixture(t, open, nil)
		f.invite(t, "amy")
		f.clock.Set(ledger.MaxTime.Add(-10 * 24 * time.Hour)) // the window would end past MaxTime
		before := f.snapshot(t)
		_, err := f.p.RecordPurchase(f.ctx, referral.RecordPurchaseRequest{EventID: "p1", Member: "amy", PurchaseID: "o1"})
		require.ErrorIs(t, err, ledger.ErrInvalidTime)
		require.Equal(t, before, f.snapshot(t))

		code := f.code(t, "ref") // while the clock is in range: a unit of work with a clock out of range fails whole
		for _, at := range []time.Time{time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), {}, ledger.MinTime.Add(-time.Second)} {
			f.clock.Set(at)
			f.member("zed")
			_, err = f.p.Signup(f.ctx, referral.SignupRequest{EventID: "s-zed", Invitee: "zed", Code: code})
			require.ErrorIs(t, err, ledger.ErrInvalidTime, at.String())
			_, err = f.p.Tick(f.ctx)
			require.ErrorIs(t, err, ledger.ErrInvalidTime, at.String())
			require.ErrorIs(t, f.p.SetKillSwitch(f.ctx, referral.SetKillSwitchRequest{Actor: riskOfficer, Country: "US", Disabled: true}), ledger.ErrInvalidTime)
			require.Equal(t, before, f.snapshot(t))
		}
	})
}

// TestBudgetCountersRefuseOverflow: issue 10 #1. The campaign's funded
// counter would pass the int64 range (the budget was spent, the rubies
// went back to World, and the budget is topped up again): the top-up is
// ledger.ErrOverflow and writes nothing, where before the counter wrapped
// negative and Budget reported a negative Funded.
func TestBudgetCountersRefuseOverflow(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		rules := referral.DefaultRules()
		big := d(5_000_000_000_000_000_000)
		rules.Budget = big
		rules.Tasks = []referral.Task{{ID: "jackpot", Reward: big, Period: referral.PeriodOnce}}
		f := newFixture(t, open, rules)
		f.member("giulia")
		_, err := f.p.CompleteTask(f.ctx, referral.CompleteTaskRequest{EventID: "t1", Member: "giulia", Task: "jackpot"})
		require.NoError(t, err)
		_, err = f.l.Transfer(f.ctx, "burn", referral.MemberAccount("giulia"), ledger.World, "RUBY", big)
		require.NoError(t, err)
		before := f.snapshot(t)
		_, err = f.p.Fund(f.ctx, referral.FundRequest{Actor: admin, EventID: "again", Amount: big})
		require.ErrorIs(t, err, ledger.ErrOverflow)
		require.Equal(t, before, f.snapshot(t))
		b := f.budget(t)
		require.True(t, b.Funded.Equal(big) && b.Spent.Equal(big), "%+v", b)
		f.verify(t)
	})
}

// TestTickIsolatesAFailingRelease: issue 10 #9. One held reward whose
// release fails (its invite record is unreadable) is reported in
// TickReport.Failed with its ID and stays due; the others are paid. Before
// the fix Tick stopped at it.
func TestTickIsolatesAFailingRelease(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := shopFixture(t, open, nil)
		f.purchaseAll(t, "amy", "bob", "cat")
		require.NoError(t, f.l.Update(f.ctx, func(w *ledger.Writer) error {
			return w.PutRecord("referral.invite", f.rules.Campaign+":amy", []byte(`"not an invite"`))
		}))
		f.clock.Advance(f.rules.ReturnWindow.D())
		rep, err := f.p.Tick(f.ctx)
		require.NoError(t, err)
		require.Equal(t, 2, rep.Count(referral.ItemReleased))
		require.Len(t, rep.Failed, 1)
		require.Equal(t, "amy", rep.Failed[0].ID)
		require.Equal(t, referral.ItemRelease, rep.Failed[0].Kind)
		require.True(t, f.wallet(t, "ref").Equal(d(100)))
		again, err := f.p.Tick(f.ctx)
		require.NoError(t, err)
		require.Len(t, again.Failed, 1, "the failed release stays due")
		f.verify(t)
	})
}

// TestErrorsKeepTheirCause: issue 10 #11. Rule errors keep the ledger's or
// encoding/json's error in the chain.
func TestErrorsKeepTheirCause(t *testing.T) {
	r := referral.DefaultRules()
	r.SignupReward = decimal.RequireFromString("0.5")
	require.ErrorIs(t, r.Validate(), ledger.ErrPrecision)
	r = referral.DefaultRules()
	r.Asset = ledger.Asset{Code: "ruby"}
	require.ErrorIs(t, r.Validate(), ledger.ErrInvalidAsset)
	r = referral.DefaultRules()
	r.ReturnWindow = -1
	require.ErrorIs(t, r.Validate(), ledger.ErrInvalidTime)
	r = referral.DefaultRules()
	r.Budget = decimal.New(1, 2147483647)
	require.ErrorIs(t, r.Validate(), ledger.ErrOverflow)
}

// TestHostileRuleAmountsCostNothing: issue 10 #2. Rule amounts with
// exponents near MaxInt32 (negative ones too) or tens of thousands of
// digits are refused at once with a typed error.
func TestHostileRuleAmountsCostNothing(t *testing.T) {
	for _, v := range []decimal.Decimal{
		decimal.New(1, 2147483647), decimal.New(-1, 2147483647), decimal.New(1, -2147483648),
		decimal.RequireFromString(strings.Repeat("9", 20000)), decimal.RequireFromString("-" + strings.Repeat("9", 20000)),
	} {
		start := time.Now()
		r := referral.DefaultRules()
		r.Budget = v
		err := r.Validate()
		require.ErrorIs(t, err, referral.ErrInvalidRules)
		require.True(t, errors.Is(err, ledger.ErrOverflow) || errors.Is(err, ledger.ErrPrecision), "%v", err)
		require.Less(t, len(err.Error()), 300)
		require.Less(t, time.Since(start), time.Second)
	}
	data := []byte(`{"campaign":"x","asset":{"code":"RUBY"},"timezone":"UTC","signup_reward":"-1e2147483647"}`)
	_, err := referral.ParseRules(data)
	require.ErrorIs(t, err, referral.ErrInvalidRules)
}
