package main

import (
	"context"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/scheduler"
	"github.com/rewardkit/rewardkit/referral"
)

// referralDriver: members join through invite codes (most of the
// non-founders over the run), invitees are active on the following days
// (the 5-day retention bonus), and members do engagement tasks. Bad inputs:
// ineligible referrers (minors, no payout account, employees, abroad),
// invitees from another country, members who are not new, self-referrals,
// a shared device, unknown codes and tasks, repeated tasks, replays,
// racing duplicates and conflicting event ids.
type referralDriver struct {
	p         *referral.Program
	dir       *kit.Directory
	st        *programStats
	codes     map[string]string // member -> code, "" when refused
	referrers []*person         // members with a code
	invitees  []invitee
	pending   []*person // not yet joined, in join order
	next      int
	lastEvent string // for conflicting replays
	lastDev   string
	s         *sim
	broke     bool // the campaign budget ran out
}

type invitee struct {
	p   *person
	day int
}

func (d *referralDriver) Name() string { return "referral" }

// referralRules are the referral rules the simulation runs: seed 000's
// (referral.DefaultRules) with the caps another market would set, at
// values a 2,000-member run reaches: at most 3 signups per referrer a day
// (an influencer who posts their code meets it) and 60,000 rubies earned
// per member a day (three signups; their retention bonuses and tasks on
// such a day are refused); and rewards valid for 7 days (reward_validity):
// what a member has not cashed out or spent by then expires to the
// campaign's breakage account (referral.BreakageAccount). The what-if
// replay starts from these too.
func referralRules() referral.Rules {
	r := referral.DefaultRules()
	r.InvitesPerDay = 3
	r.DailyEarningCap = decimal.NewFromInt(60_000)
	r.RewardValidity = kit.Duration(7 * 24 * time.Hour)
	return r
}

// birthDateForAge is the birth date of a member who is age years old at
// the time at: the birthday was the day before, so the age holds for a
// year after it (a whole simulation or story).
func birthDateForAge(at time.Time, age int) kit.Date {
	b := at.AddDate(-age, 0, -1)
	return kit.NewDate(b.Year(), b.Month(), b.Day())
}

func referralMember(p *person) kit.Member {
	return kit.Member{ID: p.ID, BirthDate: birthDateForAge(simStart, p.Age), Country: p.Country, HasProfile: true, PayoutLinked: p.PayoutLinked,
		Employee: p.Employee, RegisteredAt: simStart.AddDate(-1, 0, 0), Device: "dev-" + p.ID, PaymentInstrument: "card-" + p.ID}
}

func (d *referralDriver) Setup(ctx context.Context, s *sim) error {
	d.s = s
	d.dir = kit.NewDirectory()
	d.codes = map[string]string{}
	for _, p := range s.pop.people {
		if p.Founder {
			d.dir.Put(referralMember(p))
		} else {
			d.pending = append(d.pending, p)
		}
	}
	var err error
	d.p, err = referral.New(ctx, s.l, referralRules(), d.dir, referral.WithCodeSalt(fmt.Sprintf("sim-%d", s.cfg.Seed)),
		referral.WithWallets(s.wallets))
	if err != nil {
		return err
	}
	d.st = s.statsFor(d.Name(), referralKinds()...)
	return s.sched.Register(d.Name(), d.p)
}

// referralKinds are the refusals a referral campaign may answer with.
func referralKinds() []errKind {
	return []errKind{
		errKind{"ineligible", referral.ErrIneligible}, errKind{"self-referral", referral.ErrSelfReferral},
		errKind{"loop", referral.ErrReferralLoop}, errKind{"not new", referral.ErrNotNew},
		errKind{"already referred", referral.ErrAlreadyReferred}, errKind{"duplicate device", referral.ErrDuplicateSignal},
		errKind{"cap", referral.ErrCapReached}, errKind{"budget", referral.ErrBudgetExhausted},
		errKind{"campaign closed", referral.ErrCampaignClosed}, errKind{"country disabled", referral.ErrCountryDisabled},
		errKind{"already rewarded", referral.ErrAlreadyRewarded}, errKind{"unknown code", referral.ErrUnknownCode},
		errKind{"unknown task", referral.ErrUnknownTask}, errKind{"unknown member", referral.ErrUnknownMember},
		errKind{"not invited", referral.ErrNotInvited}, errKind{"event conflict", referral.ErrIdempotencyConflict},
		errKind{"invalid event", referral.ErrInvalidRequest},
		errKind{"forbidden", ledger.ErrForbidden}}
}

// code returns a member's invite code, issuing it the first time.
func (d *referralDriver) code(ctx context.Context, p *person) (string, bool) {
	if c, ok := d.codes[p.ID]; ok {
		return c, c != ""
	}
	c, err := d.p.IssueCode(ctx, referral.IssueCodeRequest{EventID: "code-" + p.ID, Member: p.ID})
	if d.st.observe(err) {
		d.codes[p.ID] = c
		d.referrers = append(d.referrers, p)
		d.s.earners = append(d.s.earners, p)
		return c, true
	}
	d.codes[p.ID] = ""
	return "", false
}

func (d *referralDriver) Day(ctx context.Context, s *sim, day int) error {
	rng := s.rand()
	remaining := len(d.pending) - d.next
	joins := remaining * 8 / 10 / max(1, s.cfg.Days-day)
	if day == s.cfg.Days-1 {
		joins = remaining * 8 / 10
	}
	joins += rng.IntN(joins/10 + 2)
	for i := 0; i < joins && d.next < len(d.pending); i++ {
		inv := d.pending[d.next]
		d.next++
		m := referralMember(inv)
		m.RegisteredAt = s.clock.Now()
		if rng.Float64() < 0.005 && d.lastDev != "" {
			m.Device = d.lastDev // a second account from the same phone
		}
		d.lastDev = m.Device
		d.dir.Put(m)
		s.pop.join(inv)
		var ref *person
		switch r := rng.Float64(); {
		case len(d.referrers) > 0 && r < 0.08:
			ref = d.referrers[0] // an influencer who posted their code: invites_per_day stops them
		case len(d.referrers) > 0 && r < 0.85:
			ref = d.referrers[rng.IntN(len(d.referrers))]
		default:
			ref = s.pop.pickJoined(rng)
		}
		code, ok := d.code(ctx, ref)
		if !ok {
			continue // joins without a referral
		}
		ev := "signup-" + inv.ID
		r := rng.Float64()
		switch {
		case r < 0.01:
			_, err := d.p.Signup(ctx, referral.SignupRequest{EventID: ev, Invitee: inv.ID, Code: "ZZZZ-ZZZZ"})
			d.st.expect(err, referral.ErrUnknownCode)
			continue
		case r < 0.02:
			founder := s.pop.people[rng.IntN(min(len(s.pop.people), 5))]
			_, err := d.p.Signup(ctx, referral.SignupRequest{EventID: fmt.Sprintf("signup-again-%s-%d-%d", founder.ID, day, i), Invitee: founder.ID, Code: code})
			d.st.refused(err, "a member who is not new signs up")
		case r < 0.03:
			if rc := d.codes[ref.ID]; rc != "" {
				_, err := d.p.Signup(ctx, referral.SignupRequest{EventID: fmt.Sprintf("self-%s-%d-%d", ref.ID, day, i), Invitee: ref.ID, Code: rc})
				d.st.refused(err, "a self-referral")
			}
		}
		var err error
		if rng.Float64() < 0.01 {
			d.st.race(func() error {
				_, err := d.p.Signup(ctx, referral.SignupRequest{EventID: ev, Invitee: inv.ID, Code: code})
				return err
			})
		} else {
			_, err = d.p.Signup(ctx, referral.SignupRequest{EventID: ev, Invitee: inv.ID, Code: code})
			if d.st.observe(err) {
				d.lastEvent = ev // a processed event id, reused below for another request
				d.invitees = append(d.invitees, invitee{inv, day})
				if rng.Float64() < 0.02 {
					_, err := d.p.Signup(ctx, referral.SignupRequest{EventID: ev, Invitee: inv.ID, Code: code})
					d.st.replay(err)
				}
			}
		}
	}
	// Invitees of the last ten days come back (the retention bonus needs
	// five active days).
	for _, iv := range d.invitees {
		if iv.day >= day || iv.day < day-10 || rng.Float64() > 0.6 {
			continue
		}
		_, err := d.p.RecordActivity(ctx, referral.RecordActivityRequest{EventID: fmt.Sprintf("active-%s-%d", iv.p.ID, day), Invitee: iv.p.ID})
		d.st.observe(err)
	}
	// Engagement tasks.
	tasks := []string{"watch_10_minutes", "watch_10_minutes", "watch_10_minutes", "profile_photo", "publish_video", "follow_2_profiles"}
	n := s.joinedCount() * 3 / 100
	for i := 0; i < n; i++ {
		m := s.pop.pickJoined(rng)
		task := tasks[rng.IntN(len(tasks))]
		ev := fmt.Sprintf("task-%s-%s-%d", m.ID, task, day)
		switch r := rng.Float64(); {
		case r < 0.002:
			_, err := d.p.CompleteTask(ctx, referral.CompleteTaskRequest{EventID: ev + "-x", Member: m.ID, Task: "dance_challenge"})
			d.st.expect(err, referral.ErrUnknownTask)
		case r < 0.004 && d.lastEvent != "":
			// the id of an earlier event, for another request
			_, err := d.p.CompleteTask(ctx, referral.CompleteTaskRequest{EventID: d.lastEvent, Member: m.ID, Task: task})
			d.st.refused(err, "an event id reused for another task") // a conflict, unless a rule refuses first
		case r < 0.006:
			_, err := d.p.CompleteTask(ctx, referral.CompleteTaskRequest{EventID: ev + "-ghost", Member: "ghost-" + m.ID, Task: task})
			d.st.expect(err, referral.ErrUnknownMember)
		}
		_, err := d.p.CompleteTask(ctx, referral.CompleteTaskRequest{EventID: ev, Member: m.ID, Task: task})
		d.st.observe(err)
	}
	if !d.broke && d.st.Refused["budget"] > 0 {
		d.broke = true
		b, err := d.p.Budget(ctx)
		if err != nil {
			d.st.failed("budget", err)
		}
		s.note("referral: the campaign budget (%s RUBY funded by DefaultRules) ran out on %s; later rewards were refused with ErrBudgetExhausted",
			groupDigits(b.Funded.String()), simStart.AddDate(0, 0, day).Format("Jan 2"))
	}
	return nil
}

func (d *referralDriver) Night(ctx context.Context, s *sim, night scheduler.Report) error {
	rep := nightResult(d.st, night, d.Name())
	// A withheld reward (kill switch, ineligible referrer) is not a
	// failure of the run; any other failed release is.
	for _, f := range rep.Failed {
		if f.Kind != referral.ItemWithheld {
			d.st.failed("tick", f)
		}
	}
	return nil
}
