package referral_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/teststore"
	"github.com/rewardkit/rewardkit/referral"
)

// event is one of referral's events, as a test expects it.
type event struct{ typ, subject string }

// events returns referral's committed events after seq (the ledger's own
// are left out) and the log's last seq.
func (f *fixture) events(tb testing.TB, after uint64) ([]ledger.Event, uint64) {
	tb.Helper()
	all, err := f.l.Events(f.ctx, after, 10000)
	require.NoError(tb, err)
	var out []ledger.Event
	for _, ev := range all {
		after = ev.Seq
		if strings.HasPrefix(ev.Type, "referral.") {
			out = append(out, ev)
		}
	}
	return out, after
}

// expectEvents checks that referral emitted exactly want since seq, in
// order, and returns them with the new seq.
func (f *fixture) expectEvents(tb testing.TB, seq uint64, want ...event) ([]ledger.Event, uint64) {
	tb.Helper()
	evs, seq := f.events(tb, seq)
	var got []event
	for _, ev := range evs {
		got = append(got, event{ev.Type, ev.Subject})
	}
	require.Equal(tb, want, got)
	return evs, seq
}

func rewardData(tb testing.TB, ev ledger.Event) referral.RewardData {
	tb.Helper()
	var d referral.RewardData
	require.NoError(tb, json.Unmarshal(ev.Data, &d))
	return d
}

// noEventsSince checks that nothing at all was emitted since seq, not even
// the ledger's own events.
func (f *fixture) noEventsSince(tb testing.TB, seq uint64) {
	tb.Helper()
	all, err := f.l.Events(f.ctx, seq, 100)
	require.NoError(tb, err)
	require.Empty(tb, all)
}

func TestEventsPaidAtSignup(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open, referral.DefaultRules())
		evs, seq := f.expectEvents(t, 0, event{referral.EventBudgetFunded, "it-2020"})
		require.NotZero(t, evs[0].TxID)
		require.JSONEq(t, `{"campaign":"it-2020","event_id":"setup","amount":"1000000000","asset":"RUBY"}`, string(evs[0].Data))
		res, err := f.p.Fund(f.ctx, referral.FundRequest{EventID: "top-1", Actor: admin, Amount: d(500)})
		require.NoError(t, err)
		evs, seq = f.expectEvents(t, seq, event{referral.EventBudgetFunded, "it-2020"})
		require.Equal(t, res.Transaction, evs[0].TxID)
		require.Contains(t, string(evs[0].Data), `"actor":"adam"`)

		f.member("ref")
		code := f.code(t, "ref")
		evs, seq = f.expectEvents(t, seq, event{referral.EventCodeIssued, "ref"})
		require.JSONEq(t, fmt.Sprintf(`{"campaign":"it-2020","member":"ref","code":%q}`, code), string(evs[0].Data))
		again, err := f.p.IssueCode(f.ctx, referral.IssueCodeRequest{EventID: "code-again", Member: "ref"})
		require.NoError(t, err)
		require.Equal(t, code, again)
		f.noEventsSince(t, seq) // the member has a code already: nothing issued

		f.member("amy")
		signup, err := f.p.Signup(f.ctx, referral.SignupRequest{EventID: "s-amy", Invitee: "amy", Code: code})
		require.NoError(t, err)
		evs, seq = f.expectEvents(t, seq, event{referral.EventSignupRewarded, "ref"})
		require.Equal(t, signup.Grants[0].Transaction, evs[0].TxID)
		require.Equal(t, referral.RewardData{Campaign: "it-2020", Member: "ref", For: "amy", Amount: rewardData(t, evs[0]).Amount, Asset: "RUBY"},
			rewardData(t, evs[0]))
		require.Contains(t, string(evs[0].Data), `"amount":"20000"`)

		for day := 0; day < 5; day++ {
			_, err := f.p.RecordActivity(f.ctx, referral.RecordActivityRequest{EventID: fmt.Sprint("act-", day), Invitee: "amy"})
			require.NoError(t, err)
			if day < 4 {
				f.noEventsSince(t, seq)
				f.clock.Advance(24 * time.Hour)
			}
		}
		evs, seq = f.expectEvents(t, seq, event{referral.EventRetentionRewarded, "ref"})
		require.NotZero(t, evs[0].TxID)
		require.Equal(t, "6000", rewardData(t, evs[0]).Amount.String())

		task, err := f.p.CompleteTask(f.ctx, referral.CompleteTaskRequest{EventID: "t-1", Member: "amy", Task: "profile_photo"})
		require.NoError(t, err)
		evs, seq = f.expectEvents(t, seq, event{referral.EventTaskRewarded, "amy"})
		require.Equal(t, task.Grant.Transaction, evs[0].TxID)
		require.Equal(t, "profile_photo@once", rewardData(t, evs[0]).For)

		// Replays and refusals emit nothing.
		_, err = f.p.Signup(f.ctx, referral.SignupRequest{EventID: "s-amy", Invitee: "amy", Code: code})
		require.NoError(t, err)
		_, err = f.p.CompleteTask(f.ctx, referral.CompleteTaskRequest{EventID: "t-1", Member: "amy", Task: "profile_photo"})
		require.NoError(t, err)
		_, err = f.p.CompleteTask(f.ctx, referral.CompleteTaskRequest{EventID: "t-2", Member: "amy", Task: "profile_photo"})
		require.ErrorIs(t, err, referral.ErrAlreadyRewarded)
		_, err = f.p.Fund(f.ctx, referral.FundRequest{EventID: "top-1", Actor: admin, Amount: d(500)})
		require.NoError(t, err)
		_, err = f.p.Fund(f.ctx, referral.FundRequest{EventID: "top-2", Actor: nobody, Amount: d(500)})
		require.ErrorIs(t, err, ledger.ErrForbidden)
		f.noEventsSince(t, seq)

		// The kill switch emits when it changes, not when set again.
		f.kill(t, "IT", true)
		evs, seq = f.expectEvents(t, seq, event{referral.EventKillSwitchChanged, "IT"})
		require.JSONEq(t, `{"campaign":"it-2020","country":"IT","disabled":true,"actor":"rita"}`, string(evs[0].Data))
		f.kill(t, "IT", true)
		f.expectEvents(t, seq) // the switch's record is rewritten (who, when), but it did not change
		f.member("bea")
		_, err = f.p.Signup(f.ctx, referral.SignupRequest{EventID: "s-bea", Invitee: "bea", Code: code})
		require.ErrorIs(t, err, referral.ErrCountryDisabled)
		f.noEventsSince(t, seq)
		f.kill(t, "IT", false)
		_, seq = f.expectEvents(t, seq, event{referral.EventKillSwitchChanged, "IT"})

		// A signup refused inside a caller's unit of work that goes on
		// leaves nothing; the task paid beside it keeps its event.
		err = f.l.Update(f.ctx, func(w *ledger.Writer) error {
			if _, err := f.p.CompleteTaskIn(w, referral.CompleteTaskRequest{EventID: "t-3", Member: "amy", Task: "publish_video"}); err != nil {
				return err
			}
			_, err := f.p.SignupIn(w, referral.SignupRequest{EventID: "s-ref", Invitee: "ref", Code: code})
			require.ErrorIs(t, err, referral.ErrSelfReferral)
			return nil
		})
		require.NoError(t, err)
		f.expectEvents(t, seq, event{referral.EventTaskRewarded, "amy"})
	})
}

func TestEventsShop(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := shopFixture(t, open, nil)
		code := f.code(t, "ref")
		_, seq := f.events(t, 0)
		for i := 0; i < 4; i++ {
			f.invite(t, fmt.Sprint("inv", i))
		}
		evs, seq := f.expectEvents(t, seq, event{referral.EventSignupRecorded, "ref"}, event{referral.EventSignupRecorded, "ref"},
			event{referral.EventSignupRecorded, "ref"}, event{referral.EventSignupRecorded, "ref"})
		var s referral.SignupData
		require.NoError(t, json.Unmarshal(evs[0].Data, &s))
		require.Equal(t, referral.SignupData{Campaign: "shop-2024", Referrer: "ref", Invitee: "inv0", Code: code, AwaitingPurchase: true}, s)

		for i := 0; i < 4; i++ {
			who := fmt.Sprint("inv", i)
			_, err := f.p.RecordPurchase(f.ctx, referral.RecordPurchaseRequest{EventID: "p-" + who, Member: who, PurchaseID: "order-" + who})
			require.NoError(t, err)
		}
		evs, seq = f.expectEvents(t, seq, event{referral.EventRewardHeld, "ref"}, event{referral.EventRewardHeld, "ref"},
			event{referral.EventRewardHeld, "ref"}, event{referral.EventRewardHeld, "ref"})
		held := rewardData(t, evs[3])
		inv3, err := f.p.Invite(f.ctx, "inv3")
		require.NoError(t, err)
		require.Equal(t, referral.RewardData{Campaign: "shop-2024", Member: "ref", For: "inv3", Amount: held.Amount, Asset: "USD",
			Purchase: "order-inv3", Hold: inv3.Pending, ReleaseAt: held.ReleaseAt}, held)
		require.Equal(t, "shop-2024:shop:inv3", held.Hold, "the kit.Pending grant")
		require.True(t, held.ReleaseAt.Equal(inv3.ReleaseAt))
		require.Equal(t, "50", held.Amount.String())

		// Replays, a second purchase and a refusal emit nothing.
		_, err = f.p.RecordPurchase(f.ctx, referral.RecordPurchaseRequest{EventID: "p-inv0", Member: "inv0", PurchaseID: "order-inv0"})
		require.NoError(t, err)
		_, err = f.p.RecordPurchase(f.ctx, referral.RecordPurchaseRequest{EventID: "p-inv0-2", Member: "inv0", PurchaseID: "order-inv0-2"})
		require.NoError(t, err)
		_, err = f.p.RecordRefund(f.ctx, referral.RecordRefundRequest{EventID: "r-x", Actor: "ref", PurchaseID: "order-inv3"})
		require.ErrorIs(t, err, ledger.ErrForbidden)
		f.noEventsSince(t, seq)

		_, err = f.p.RecordRefund(f.ctx, referral.RecordRefundRequest{EventID: "r-1", Actor: riskOfficer, PurchaseID: "order-inv3"})
		require.NoError(t, err)
		evs, seq = f.expectEvents(t, seq, event{referral.EventRewardClawedBack, "ref"})
		require.Equal(t, riskOfficer, rewardData(t, evs[0]).Actor)
		require.Equal(t, "inv3", rewardData(t, evs[0]).For)

		f.clock.Advance(f.rules.ReturnWindow.D())
		f.tick(t)
		evs, seq = f.expectEvents(t, seq, event{referral.EventRewardReleased, "ref"}, event{referral.EventRewardReleased, "ref"},
			event{referral.EventRewardReleased, "ref"}, event{referral.EventTierRewarded, "ref"})
		for _, ev := range evs {
			require.NotZero(t, ev.TxID, ev.Type)
		}
		require.NotEqual(t, evs[2].TxID, evs[3].TxID, "the tier bonus is a transaction of its own")
		require.Equal(t, "3", rewardData(t, evs[3]).For)
		f.tick(t)
		f.noEventsSince(t, seq)
	})
}

func TestEventsShopTierUnfunded(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := shopFixture(t, open, func(r *referral.Rules) { r.Budget = d(150) })
		for i := 0; i < 3; i++ {
			who := fmt.Sprint("inv", i)
			f.invite(t, who)
			_, err := f.p.RecordPurchase(f.ctx, referral.RecordPurchaseRequest{EventID: "p-" + who, Member: who, PurchaseID: "order-" + who})
			require.NoError(t, err)
		}
		_, seq := f.events(t, 0)
		f.clock.Advance(f.rules.ReturnWindow.D())
		f.tick(t)
		evs, _ := f.expectEvents(t, seq, event{referral.EventRewardReleased, "ref"}, event{referral.EventRewardReleased, "ref"},
			event{referral.EventRewardReleased, "ref"}, event{referral.EventTierUnfunded, "ref"})
		require.Equal(t, referral.RewardData{Campaign: "shop-2024", Member: "ref", For: "3", Amount: rewardData(t, evs[3]).Amount, Asset: "USD"},
			rewardData(t, evs[3]))
		require.Equal(t, "50", rewardData(t, evs[3]).Amount.String())
	})
}

// A withheld reward emits nothing (nothing changed); it stays pending
// and its release once the switch is off is an event.
func TestEventsWithheldThenReleased(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := shopFixture(t, open, func(r *referral.Rules) {
			r.Country, r.SameCountry = "", false
			r.Budget = d(50)
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
		_, seq := f.events(t, 0)
		f.clock.Advance(f.rules.ReturnWindow.D())
		rep, _ := f.p.Tick(f.ctx)
		require.Equal(t, []string{"amy"}, failed(t, rep, referral.ItemWithheld, referral.ErrCountryDisabled))
		f.noEventsSince(t, seq)
		f.clock.Advance(f.rules.HoldMargin.D())
		f.tick(t)
		_, err = f.p.CompleteTask(f.ctx, referral.CompleteTaskRequest{EventID: "task", Member: "ref", Task: "review"})
		require.ErrorIs(t, err, referral.ErrBudgetExhausted)
		f.kill(t, "CA", false)
		f.tick(t)
		evs, _ := f.expectEvents(t, seq, event{referral.EventKillSwitchChanged, "CA"}, event{referral.EventRewardReleased, "ref"})
		require.Equal(t, "amy", rewardData(t, evs[1]).For)
		require.Equal(t, "o-amy", rewardData(t, evs[1]).Purchase)
	})
}
