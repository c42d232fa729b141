package referral_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/teststore"
	"github.com/rewardkit/rewardkit/referral"
)

func TestCodesAreUniqueReadableAndStable(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open, referral.DefaultRules())
		seen := map[string]string{}
		for i := 0; i < 200; i++ {
			id := "m" + string(rune('a'+i%26)) + strings.Repeat("x", i/26)
			f.member(id)
			c := f.code(t, id)
			require.Regexp(t, `^[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}$`, c)
			require.NotContains(t, seen, c)
			seen[c] = id
			again, err := f.p.IssueCode(f.ctx, referral.IssueCodeRequest{EventID: "code-again-" + id, Member: id})
			require.NoError(t, err)
			require.Equal(t, c, again, "a member has one code")
		}
		require.Equal(t, "ABCD2345", referral.NormalizeCode(" abcd-2345"))
	})
}

func TestIssueCodeRefusesIneligibleMember(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open, referral.DefaultRules())
		m := f.member("kid")
		m.BirthDate = born(15)
		f.members.Put(m)
		before := f.snapshot(t)
		_, err := f.p.IssueCode(f.ctx, referral.IssueCodeRequest{EventID: "c1", Member: "kid"})
		require.ErrorIs(t, err, referral.ErrIneligible)
		require.Contains(t, err.Error(), "min_age")
		require.Equal(t, before, f.snapshot(t))
	})
}

// TestMinAgeIsReadFromTheBirthDate: min_age is judged from the member's
// birth date at the event's time, on the calendar of the member's time
// zone, and a member with no birth date is never taken as old enough.
func TestMinAgeIsReadFromTheBirthDate(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open, referral.DefaultRules()) // min_age 18; t0 is 09:00 on 1 June 2020 in Rome
		m := f.member("eve")
		m.BirthDate, m.TimeZone = kit.NewDate(2002, time.June, 2), "Europe/Rome"
		f.members.Put(m)
		before := f.snapshot(t)
		_, err := f.p.IssueCode(f.ctx, referral.IssueCodeRequest{EventID: "c1", Member: "eve"})
		require.ErrorIs(t, err, referral.ErrIneligible)
		require.Equal(t, "min_age", ledger.RuleOf(err))
		require.Equal(t, before, f.snapshot(t))
		// Midnight in Rome is 22:00 UTC: eve turns 18 then, not at UTC midnight.
		f.clock.Set(time.Date(2020, 6, 1, 21, 59, 0, 0, time.UTC))
		_, err = f.p.IssueCode(f.ctx, referral.IssueCodeRequest{EventID: "c2", Member: "eve"})
		require.ErrorIs(t, err, referral.ErrIneligible)
		f.clock.Set(time.Date(2020, 6, 1, 22, 0, 0, 0, time.UTC))
		_, err = f.p.IssueCode(f.ctx, referral.IssueCodeRequest{EventID: "c3", Member: "eve"})
		require.NoError(t, err)

		m = f.member("nobirth")
		m.BirthDate = kit.Date{}
		f.members.Put(m)
		before = f.snapshot(t)
		_, err = f.p.IssueCode(f.ctx, referral.IssueCodeRequest{EventID: "c4", Member: "nobirth"})
		require.ErrorIs(t, err, kit.ErrMemberFacts, "unknown facts are never a yes")
		require.Equal(t, "min_age", ledger.RuleOf(err))
		prefixOnce(t, err)
		require.Equal(t, before, f.snapshot(t))
	})
}

func TestSignupPaysReferrerFromBudget(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open, referral.DefaultRules())
		f.member("giulia")
		f.member("marco")
		code := f.code(t, "giulia")
		res, err := f.p.Signup(f.ctx, referral.SignupRequest{EventID: "s1", Invitee: "marco", Code: strings.ToLower(code)})
		require.NoError(t, err)
		require.Len(t, res.Grants, 1)
		require.Equal(t, referral.StatusRewarded, res.Invite.Status)
		require.True(t, f.wallet(t, "giulia").Equal(f.rules.SignupReward))
		b, err := f.p.Budget(f.ctx)
		require.NoError(t, err)
		require.True(t, b.Spent.Equal(f.rules.SignupReward))
		require.True(t, b.Available.Equal(f.rules.Budget.Sub(f.rules.SignupReward)))
		f.verify(t)
	})
}

// TestSignupRefusals: each abuse or rule refuses with its typed error,
// names the rule, and changes nothing.
func TestSignupRefusals(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		cases := []struct {
			name  string
			rules func(r *referral.Rules)
			setup func(f *fixture) (invitee, code string)
			err   error
			rule  string // in the message
			// ruleName is the rule of the rule set that refused, as
			// ledger.RuleOf reports it ("" for a refusal by no rule).
			ruleName string
		}{
			{name: "own code", err: referral.ErrSelfReferral, rule: "same member",
				setup: func(f *fixture) (string, string) { return "giulia", f.code(nil, "giulia") }},
			{name: "same device", err: referral.ErrSelfReferral, rule: "same device",
				setup: func(f *fixture) (string, string) {
					m := f.member("alt")
					m.Device = "dev-giulia"
					f.members.Put(m)
					return "alt", f.code(nil, "giulia")
				}},
			{name: "same payment instrument", err: referral.ErrSelfReferral, rule: "same payment instrument",
				setup: func(f *fixture) (string, string) {
					m := f.member("alt")
					m.PaymentInstrument = "card-giulia"
					f.members.Put(m)
					return "alt", f.code(nil, "giulia")
				}},
			{name: "invitee had an account", err: referral.ErrNotNew, rule: "reject_prior_account", ruleName: "newness.reject_prior_account",
				setup: func(f *fixture) (string, string) {
					m := f.member("old")
					m.PriorAccount = true
					f.members.Put(m)
					return "old", f.code(nil, "giulia")
				}},
			{name: "invitee registered long ago", err: referral.ErrNotNew, rule: "max_account_age", ruleName: "newness.max_account_age",
				setup: func(f *fixture) (string, string) {
					m := f.member("old")
					m.RegisteredAt = t0.Add(-48 * time.Hour)
					f.members.Put(m)
					return "old", f.code(nil, "giulia")
				}},
			{name: "invitee in another country", err: referral.ErrIneligible, rule: "same_country", ruleName: "same_country",
				setup: func(f *fixture) (string, string) {
					m := f.member("pierre")
					m.Country = "FR"
					f.members.Put(m)
					return "pierre", f.code(nil, "giulia")
				}},
			{name: "referrer moved abroad", err: referral.ErrIneligible, rule: "rule country", ruleName: "country",
				setup: func(f *fixture) (string, string) {
					c := f.code(nil, "giulia")
					m := f.member("giulia")
					m.Country = "FR"
					f.members.Put(m)
					f.member("marco")
					return "marco", c
				}},
			{name: "referrer unlinked payout", err: referral.ErrIneligible, rule: "require_payout_linked", ruleName: "require_payout_linked",
				setup: func(f *fixture) (string, string) {
					c := f.code(nil, "giulia")
					m := f.member("giulia")
					m.PayoutLinked = false
					f.members.Put(m)
					f.member("marco")
					return "marco", c
				}},
			{name: "referrer became employee", err: referral.ErrIneligible, rule: "exclude_employees", ruleName: "exclude_employees",
				setup: func(f *fixture) (string, string) {
					c := f.code(nil, "giulia")
					m := f.member("giulia")
					m.Employee = true
					f.members.Put(m)
					f.member("marco")
					return "marco", c
				}},
			{name: "already referred", err: referral.ErrAlreadyReferred,
				setup: func(f *fixture) (string, string) {
					f.member("marco")
					f.member("anna")
					_, err := f.p.Signup(f.ctx, referral.SignupRequest{EventID: "first", Invitee: "marco", Code: f.code(nil, "anna")})
					if err != nil {
						panic(err)
					}
					return "marco", f.code(nil, "giulia")
				}},
			{name: "referral loop", err: referral.ErrReferralLoop,
				setup: func(f *fixture) (string, string) {
					c := f.code(nil, "giulia")
					f.member("marco")
					if _, err := f.p.Signup(f.ctx, referral.SignupRequest{EventID: "first", Invitee: "marco", Code: c}); err != nil {
						panic(err)
					}
					// giulia signs up again (a new account id reusing nothing)
					// with marco's code: marco invited... no: giulia is marco's
					// referrer, so marco inviting giulia closes a loop.
					return "giulia", f.code(nil, "marco")
				}},
			{name: "device used by another invitee", err: referral.ErrDuplicateSignal, rule: "device",
				setup: func(f *fixture) (string, string) {
					c := f.code(nil, "giulia")
					f.member("marco")
					if _, err := f.p.Signup(f.ctx, referral.SignupRequest{EventID: "first", Invitee: "marco", Code: c}); err != nil {
						panic(err)
					}
					m := f.member("marco2")
					m.Device = "dev-marco"
					f.members.Put(m)
					return "marco2", c
				}},
			{name: "invites per day", err: referral.ErrCapReached, rule: "invites_per_day", ruleName: "invites_per_day",
				rules: func(r *referral.Rules) { r.InvitesPerDay = 1 },
				setup: func(f *fixture) (string, string) {
					c := f.code(nil, "giulia")
					f.member("marco")
					f.member("sara")
					if _, err := f.p.Signup(f.ctx, referral.SignupRequest{EventID: "first", Invitee: "marco", Code: c}); err != nil {
						panic(err)
					}
					return "sara", c
				}},
			{name: "rewarded invitees cap", err: referral.ErrCapReached, rule: "max_rewarded_invitees", ruleName: "max_rewarded_invitees",
				rules: func(r *referral.Rules) { r.MaxRewardedInvitees = 1 },
				setup: func(f *fixture) (string, string) {
					c := f.code(nil, "giulia")
					f.member("marco")
					f.member("sara")
					if _, err := f.p.Signup(f.ctx, referral.SignupRequest{EventID: "first", Invitee: "marco", Code: c}); err != nil {
						panic(err)
					}
					return "sara", c
				}},
			{name: "daily earning cap", err: referral.ErrCapReached, rule: "daily_earning_cap", ruleName: "daily_earning_cap",
				rules: func(r *referral.Rules) { r.DailyEarningCap = d(30000) },
				setup: func(f *fixture) (string, string) {
					c := f.code(nil, "giulia")
					f.member("marco")
					f.member("sara")
					if _, err := f.p.Signup(f.ctx, referral.SignupRequest{EventID: "first", Invitee: "marco", Code: c}); err != nil {
						panic(err)
					}
					return "sara", c
				}},
			{name: "budget exhausted", err: referral.ErrBudgetExhausted, ruleName: "budget",
				rules: func(r *referral.Rules) { r.Budget = d(30000) },
				setup: func(f *fixture) (string, string) {
					c := f.code(nil, "giulia")
					f.member("marco")
					f.member("sara")
					if _, err := f.p.Signup(f.ctx, referral.SignupRequest{EventID: "first", Invitee: "marco", Code: c}); err != nil {
						panic(err)
					}
					return "sara", c
				}},
			{name: "campaign ended", err: referral.ErrCampaignClosed, rule: "rule end", ruleName: "end",
				rules: func(r *referral.Rules) { r.End = t0.Add(time.Hour) },
				setup: func(f *fixture) (string, string) {
					c := f.code(nil, "giulia")
					f.clock.Advance(time.Hour)
					f.member("marco")
					return "marco", c
				}},
			{name: "kill switch", err: referral.ErrCountryDisabled, rule: "kill switch", ruleName: "disabled_countries",
				setup: func(f *fixture) (string, string) {
					c := f.code(nil, "giulia")
					if err := f.p.SetKillSwitch(f.ctx, referral.SetKillSwitchRequest{Actor: riskOfficer, Country: "IT", Disabled: true}); err != nil {
						panic(err)
					}
					f.member("marco")
					return "marco", c
				}},
			{name: "unknown code", err: referral.ErrUnknownCode,
				setup: func(f *fixture) (string, string) { f.member("marco"); return "marco", "AAAA-AAAA" }},
			{name: "unknown invitee", err: referral.ErrUnknownMember,
				setup: func(f *fixture) (string, string) { return "ghost", f.code(nil, "giulia") }},
			{name: "bad event", err: referral.ErrInvalidRequest,
				setup: func(f *fixture) (string, string) { return "bad:id", f.code(nil, "giulia") }},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				rules := referral.DefaultRules()
				if c.rules != nil {
					c.rules(&rules)
				}
				f := newFixture(t, open, rules)
				f.member("giulia")
				invitee, code := c.setup(f)
				before := f.snapshot(t)
				_, err := f.p.Signup(f.ctx, referral.SignupRequest{EventID: "the-signup", Invitee: invitee, Code: code})
				require.ErrorIs(t, err, c.err)
				require.Contains(t, err.Error(), c.rule)
				require.Equal(t, c.ruleName, ledger.RuleOf(err))
				prefixOnce(t, err)
				require.Equal(t, before, f.snapshot(t), "a refused signup changes nothing")
				f.verify(t)
			})
		}
	})
}

func TestKillSwitchCanBeTurnedOffAgain(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		rules := referral.DefaultRules()
		rules.DisabledCountries = []string{"IT"}
		f := newFixture(t, open, rules)
		f.member("giulia")
		_, err := f.p.IssueCode(f.ctx, referral.IssueCodeRequest{EventID: "c", Member: "giulia"})
		require.ErrorIs(t, err, referral.ErrCountryDisabled)
		require.NoError(t, f.p.SetKillSwitch(f.ctx, referral.SetKillSwitchRequest{Actor: riskOfficer, Country: "IT", Disabled: false}))
		f.code(t, "giulia")
	})
}

func TestSignupReplaysAndConflicts(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open, referral.DefaultRules())
		f.member("giulia")
		f.member("marco")
		f.member("sara")
		code := f.code(t, "giulia")
		first, err := f.p.Signup(f.ctx, referral.SignupRequest{EventID: "s1", Invitee: "marco", Code: code})
		require.NoError(t, err)
		before := f.snapshot(t)
		again, err := f.p.Signup(f.ctx, referral.SignupRequest{EventID: "s1", Invitee: "marco", Code: code})
		require.NoError(t, err)
		require.Equal(t, mustJSON(t, first), mustJSON(t, again))
		require.Equal(t, before, f.snapshot(t), "a replay changes nothing")
		_, err = f.p.Signup(f.ctx, referral.SignupRequest{EventID: "s1", Invitee: "sara", Code: code})
		require.ErrorIs(t, err, referral.ErrIdempotencyConflict)
		require.Equal(t, before, f.snapshot(t))
		require.True(t, f.wallet(t, "giulia").Equal(f.rules.SignupReward))
	})
}

// TestConcurrentSignupsRewardOnce: many goroutines race one signup, under
// the same event id and under different ones: the referrer is paid once.
func TestConcurrentSignupsRewardOnce(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open, referral.DefaultRules())
		f.member("giulia")
		f.member("marco")
		code := f.code(t, "giulia")
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok, refused := 0, 0
		for i := 0; i < 16; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				event := "same"
				if i%2 == 1 {
					event = "other-" + string(rune('a'+i))
				}
				_, err := f.p.Signup(f.ctx, referral.SignupRequest{EventID: event, Invitee: "marco", Code: code})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					ok++
				case errors.Is(err, referral.ErrAlreadyReferred):
					refused++
				default:
					t.Errorf("unexpected error: %v", err)
				}
			}(i)
		}
		wg.Wait()
		require.Equal(t, 16, ok+refused)
		require.True(t, f.wallet(t, "giulia").Equal(f.rules.SignupReward), f.wallet(t, "giulia").String())
		f.verify(t)
	})
}

func TestRetentionAfterFiveActiveDays(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open, referral.DefaultRules())
		f.member("giulia")
		f.member("marco")
		_, err := f.p.Signup(f.ctx, referral.SignupRequest{EventID: "s", Invitee: "marco", Code: f.code(t, "giulia")})
		require.NoError(t, err)
		paid := 0
		for day := 1; day <= 7; day++ {
			for i := 0; i < 2; i++ { // twice a day counts once
				res, err := f.p.RecordActivity(f.ctx, referral.RecordActivityRequest{EventID: "a-" + string(rune('0'+day)) + string(rune('a'+i)), Invitee: "marco"})
				require.NoError(t, err)
				if res.Grant != nil {
					paid++
					require.Equal(t, 5, day, "paid on the fifth active day")
					require.Equal(t, 5, res.ActiveDays)
				}
			}
			f.clock.Advance(24 * time.Hour)
		}
		require.Equal(t, 1, paid)
		require.True(t, f.wallet(t, "giulia").Equal(f.rules.SignupReward.Add(f.rules.RetentionReward)))
		_, err = f.p.RecordActivity(f.ctx, referral.RecordActivityRequest{EventID: "x", Invitee: "nobody"})
		require.ErrorIs(t, err, referral.ErrNotInvited)
		f.verify(t)
	})
}

func TestRetentionCountingRules(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		cases := []struct {
			name        string
			consecutive bool
			within      time.Duration
			gaps        []int // days between activities
			paid        bool
		}{
			{"distinct days with gaps", false, 0, []int{0, 2, 3, 1, 4}, true},
			{"consecutive broken run", true, 0, []int{0, 1, 1, 2, 1}, false},
			{"consecutive run", true, 0, []int{0, 1, 1, 1, 1}, true},
			{"too late for the window", false, 72 * time.Hour, []int{0, 1, 1, 1, 1}, false},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				rules := referral.DefaultRules()
				rules.RetentionConsecutive = c.consecutive
				rules.RetentionWithin = kit.Duration(c.within)
				f := newFixture(t, open, rules)
				f.member("giulia")
				f.member("marco")
				_, err := f.p.Signup(f.ctx, referral.SignupRequest{EventID: "s", Invitee: "marco", Code: f.code(t, "giulia")})
				require.NoError(t, err)
				var last referral.ActivityResult
				for i, g := range c.gaps {
					f.clock.Advance(time.Duration(g) * 24 * time.Hour)
					last, err = f.p.RecordActivity(f.ctx, referral.RecordActivityRequest{EventID: "a" + string(rune('0'+i)), Invitee: "marco"})
					require.NoError(t, err)
				}
				require.Equal(t, c.paid, last.Grant != nil, "%+v", last)
				require.Equal(t, c.paid, last.Invite.RetentionPaid)
			})
		}
	})
}

func TestRetentionRefusedByCapIsPaidLater(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		rules := referral.DefaultRules()
		rules.DailyEarningCap = d(25000)
		rules.RetentionWithin = 0
		f := newFixture(t, open, rules)
		f.member("giulia")
		f.member("marco")
		_, err := f.p.Signup(f.ctx, referral.SignupRequest{EventID: "s", Invitee: "marco", Code: f.code(t, "giulia")})
		require.NoError(t, err)
		for day := 1; day <= 4; day++ {
			_, err := f.p.RecordActivity(f.ctx, referral.RecordActivityRequest{EventID: "a" + string(rune('0'+day)), Invitee: "marco"})
			require.NoError(t, err)
			f.clock.Advance(24 * time.Hour)
		}
		// Giulia earns 20,000 today from a new invitee, so the 6,000 bonus would
		// break the 25,000 daily cap.
		f.member("sara")
		_, err = f.p.Signup(f.ctx, referral.SignupRequest{EventID: "s2", Invitee: "sara", Code: f.code(t, "giulia")})
		require.NoError(t, err)
		res, err := f.p.RecordActivity(f.ctx, referral.RecordActivityRequest{EventID: "a5", Invitee: "marco"})
		require.NoError(t, err)
		require.Nil(t, res.Grant)
		require.Contains(t, res.Refused, "daily_earning_cap")
		require.Equal(t, 5, res.ActiveDays, "the activity itself is kept")
		f.clock.Advance(24 * time.Hour)
		res, err = f.p.RecordActivity(f.ctx, referral.RecordActivityRequest{EventID: "a6", Invitee: "marco"})
		require.NoError(t, err)
		require.NotNil(t, res.Grant, "next day the bonus is paid")
		require.True(t, f.wallet(t, "giulia").Equal(d(46000)))
	})
}

func TestTasksPayOncePerPeriod(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		rules := referral.DefaultRules()
		rules.Tasks = append(rules.Tasks, referral.Task{ID: "weekly_live", Reward: d(300), Period: referral.PeriodWeekly})
		f := newFixture(t, open, rules)
		f.member("giulia")
		steps := []struct {
			advance time.Duration
			task    string
			err     error
		}{
			{0, "profile_photo", nil},
			{0, "profile_photo", referral.ErrAlreadyRewarded},
			{0, "watch_10_minutes", nil},
			{time.Hour, "watch_10_minutes", referral.ErrAlreadyRewarded},
			{24 * time.Hour, "watch_10_minutes", nil},
			{0, "weekly_live", nil},
			{24 * time.Hour, "weekly_live", referral.ErrAlreadyRewarded},
			{7 * 24 * time.Hour, "weekly_live", nil},
			{0, "publish_video", nil},
			{0, "follow_2_profiles", nil},
			{0, "no_such_task", referral.ErrUnknownTask},
		}
		want := d(0)
		for i, s := range steps {
			f.clock.Advance(s.advance)
			before := f.snapshot(t)
			_, err := f.p.CompleteTask(f.ctx, referral.CompleteTaskRequest{EventID: "t" + string(rune('a'+i)), Member: "giulia", Task: s.task})
			if s.err != nil {
				require.ErrorIs(t, err, s.err, "step %d", i)
				require.Equal(t, before, f.snapshot(t))
				continue
			}
			require.NoError(t, err, "step %d", i)
			for _, task := range rules.Tasks {
				if task.ID == s.task {
					want = want.Add(task.Reward)
				}
			}
		}
		require.True(t, f.wallet(t, "giulia").Equal(want), "%s != %s", f.wallet(t, "giulia"), want)
		f.verify(t)
	})
}

func TestTaskRefusedForIneligibleMember(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open, referral.DefaultRules())
		m := f.member("emp")
		m.Employee = true
		f.members.Put(m)
		before := f.snapshot(t)
		_, err := f.p.CompleteTask(f.ctx, referral.CompleteTaskRequest{EventID: "t", Member: "emp", Task: "profile_photo"})
		require.ErrorIs(t, err, referral.ErrIneligible)
		require.Contains(t, err.Error(), "exclude_employees")
		require.Equal(t, before, f.snapshot(t))
	})
}
