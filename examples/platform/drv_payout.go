package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/gifting"
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/scheduler"
	"github.com/rewardkit/rewardkit/payout"
)

// creatorPayoutRules cash out gifting diamonds: payout.CreatorRules, a
// second payout program (its own provider namespace), built from the
// gifting rules the platform runs, so that a diamond's cash value (0.005
// USD, PROGRAMS.md) is configured once, in gifting's rule diamond_value,
// and handed to payout as a ledger rule (gifting.Rules.CashValue). At
// least 2,000 diamonds (10 USD), one withdrawal a week, a 1.5% + 0.10 USD
// fee, review above 500 USD. Creators withdraw straight from their gifting
// earnings account (gifting.EarningsAccount), a source the rules declare
// theirs: no sweep through the wallet, so a refused withdrawal leaves the
// diamonds where they were.
func creatorPayoutRules() payout.Rules { return payout.CreatorRules(giftingRules().CashValue()) }

// rubyPayoutRules are the rules members cash out rubies by: seed 000's
// (payout.DefaultRules) with the limits a platform starting in a market
// would set: at most 10 EUR a day per member (daily_maximum, 100,000
// rubies; an influencer's weekly cash-out meets it and is sent again for
// the maximum), an unclaimed payment given back after 7 days instead of
// PayPal's 30 (the simulated PayPal returns them after 5), and a reversal
// of a paid payout the member's debt up to 50,000 rubies (5 EUR), the rest
// written off to payout.ReversalLossAccount.
func rubyPayoutRules() payout.Rules {
	r := payout.DefaultRules()
	r.DailyMaximum = decimal.NewFromInt(10)
	r.UnclaimedReturnAfter = kit.Duration(7 * 24 * time.Hour)
	r.ReversalRecovery = kit.Recover(decimal.NewFromInt(50_000), payout.ReversalLossAccount(r.Provider))
	return r
}

// rubyDailyMaximum is rubyPayoutRules' daily maximum in rubies, what a
// member refused by it asks for instead.
var rubyDailyMaximum = decimal.NewFromInt(100_000)

// diamondsOf returns a creator's available gifting diamonds (zero if they
// never received a gift).
func diamondsOf(ctx context.Context, l *ledger.Ledger, creator string) (decimal.Decimal, error) {
	b, err := l.Balance(ctx, gifting.EarningsAccount(creator), giftingRules().DiamondAsset)
	if errors.Is(err, ledger.ErrUnknownAccount) {
		return decimal.Zero, nil
	}
	return b.Available, err
}

// payoutDriver: members who earned rubies cash them out to PayPal in euros
// (seed 000 rules) and creators cash out their diamonds in dollars (a
// second payout program). The simulated provider pays most, fails some,
// holds some for review, leaves some unclaimed (they are claimed later or
// come back), and loses some answers or requests (timeouts): every outcome
// settles the reserved funds once. Big withdrawals go to manual review,
// where compliance approves most. Bad inputs: members without a linked
// account, amounts under the minimum, a second withdrawal in the week,
// payout ids reused for another amount, replays and racing duplicates.
type payoutDriver struct {
	rubies, diamonds  *payout.Program
	rubyProv, diaProv *payout.MemoryProvider
	st                *programStats
	linked            map[string]bool
	inflight          []flight
	// paid are ruby payouts paid, which the provider may still reverse.
	paid []flight
	seq  int
	m    *metrics
	f    *featureStats
}

// The names the payout driver registers its two programs under with the
// run's scheduler.
const (
	rubyPayouts    = "payout.rubies"
	diamondPayouts = "payout.diamonds"
)

// complianceOfficer decides the payouts held for review.
const complianceOfficer = "compliance"

type flight struct {
	p  *payout.Program
	id string
}

func (d *payoutDriver) Name() string { return "payout" }

func (d *payoutDriver) Setup(ctx context.Context, s *sim) error {
	d.m = s.metrics
	d.f = &s.features
	d.linked = map[string]bool{}
	d.rubyProv = payout.NewMemoryProvider(s.clock)
	d.diaProv = payout.NewMemoryProvider(s.clock)
	for _, p := range []*payout.MemoryProvider{d.rubyProv, d.diaProv} {
		p.SetReturnAfter(5 * 24 * time.Hour) // so returns happen within a short run
	}
	compliance := &kit.RoleDirectory{}
	compliance.Grant(complianceOfficer, kit.RolePayoutReviewer)
	var err error
	if d.rubies, err = payout.New(ctx, s.l, rubyPayoutRules(), d.rubyProv, payout.WithRoles(compliance), payout.WithWallets(s.wallets)); err != nil {
		return err
	}
	if d.diamonds, err = payout.New(ctx, s.l, creatorPayoutRules(), d.diaProv, payout.WithRoles(compliance), payout.WithWallets(s.wallets)); err != nil {
		return err
	}
	d.st = s.statsFor(d.Name(),
		errKind{"no payout account", payout.ErrNoPayoutAccount}, errKind{"below minimum", payout.ErrBelowMinimum},
		errKind{"too frequent", payout.ErrTooFrequent}, errKind{"daily maximum", payout.ErrDailyMaximum},
		errKind{"insufficient funds", payout.ErrInsufficientFunds}, errKind{"wrong state", payout.ErrWrongState},
		errKind{"payout id conflict", payout.ErrIdempotencyConflict}, errKind{"not found", payout.ErrNotFound},
		errKind{"invalid request", payout.ErrInvalidRequest})
	if err := s.sched.Register(rubyPayouts, d.rubies); err != nil {
		return err
	}
	return s.sched.Register(diamondPayouts, d.diamonds)
}

// behaviour draws what the provider will do with the next new payment.
func behaviour(r float64) payout.Behaviour {
	switch {
	case r < 0.78:
		return payout.Succeed
	case r < 0.82:
		return payout.Block
	case r < 0.86:
		return payout.Fail
	case r < 0.89:
		return payout.HoldPayment
	case r < 0.94:
		return payout.LeaveUnclaimed
	case r < 0.97:
		return payout.TimeoutAfterPaying
	}
	return payout.TimeoutBeforePaying
}

// link links a member's PayPal account the first time they cash out, if
// they have one.
func (d *payoutDriver) link(ctx context.Context, p *person, prog *payout.Program) {
	key := prog.Rules().Provider + "/" + p.ID
	if !p.PayoutLinked || d.linked[key] {
		return
	}
	if _, err := prog.LinkAccount(ctx, payout.LinkAccountRequest{Actor: p.ID, Account: p.ID + "@paypal.example"}); err != nil {
		d.st.failed("link account", err)
		return
	}
	d.linked[key] = true
}

// withdraw sends one withdrawal from the account from and follows it.
func (d *payoutDriver) withdraw(ctx context.Context, s *sim, prog *payout.Program, prov *payout.MemoryProvider, p *person, from string, amount decimal.Decimal) {
	rng := s.rand()
	d.seq++
	id := fmt.Sprintf("po-%d", d.seq)
	prov.Next(behaviour(rng.Float64()))
	var po payout.Payout
	var err error
	if rng.Float64() < 0.01 {
		ok := d.st.race(func() error {
			_, err := prog.Withdraw(ctx, payout.WithdrawRequest{PayoutID: id, Actor: p.ID, Source: from, Amount: amount})
			return err
		})
		if !ok {
			return
		}
		po, err = prog.Get(ctx, id)
		if err != nil {
			d.st.failed("get payout", err)
			return
		}
	} else {
		po, err = prog.Withdraw(ctx, payout.WithdrawRequest{PayoutID: id, Actor: p.ID, Source: from, Amount: amount})
		if errors.Is(err, payout.ErrDailyMaximum) && prog == d.rubies && amount.GreaterThan(rubyDailyMaximum) {
			// The app offers the day's maximum instead, under a new id.
			d.st.observe(err)
			d.withdraw(ctx, s, prog, prov, p, from, rubyDailyMaximum)
			return
		}
		if !d.st.observe(err) {
			return
		}
		switch r := rng.Float64(); {
		case r < 0.02:
			_, err := prog.Withdraw(ctx, payout.WithdrawRequest{PayoutID: id, Actor: p.ID, Source: from, Amount: amount}) // the app retried
			d.st.replay(err)
		case r < 0.03:
			_, err := prog.Withdraw(ctx, payout.WithdrawRequest{PayoutID: id, Actor: p.ID, Source: from, Amount: amount.Add(decimal.NewFromInt(1))})
			d.st.expect(err, payout.ErrIdempotencyConflict)
		}
	}
	d.st.add("requested", 1)
	d.follow(prog, po)
}

// follow counts a payout's outcome once it is final, or keeps it in flight.
func (d *payoutDriver) follow(prog *payout.Program, po payout.Payout) {
	if po.Status.Final() {
		d.m.payout(string(po.Status))
		d.st.add(string(po.Status), 1)
		d.f.payoutState(string(po.Status))
		if po.Status == payout.StatusPaid && prog == d.rubies {
			d.paid = append(d.paid, flight{prog, po.ID})
		}
		return
	}
	d.inflight = append(d.inflight, flight{prog, po.ID})
}

func (d *payoutDriver) Day(ctx context.Context, s *sim, day int) error {
	rng := s.rand()
	// Members with rubies: those who asked to (s.cashOut) and a few
	// others cash out each day.
	cashOut := s.cashOut
	s.cashOut = nil
	for i, n := 0, len(cashOut)+len(s.earners)/6; i < n; i++ {
		var p *person
		if i < len(cashOut) {
			p = cashOut[i]
		} else {
			p = s.earners[rng.IntN(len(s.earners))]
		}
		d.link(ctx, p, d.rubies)
		b, err := s.l.Balance(ctx, "member:"+p.ID, "RUBY")
		if err != nil {
			continue // no rubies yet
		}
		switch r := rng.Float64(); {
		case r < 0.02:
			d.withdraw(ctx, s, d.rubies, d.rubyProv, p, payout.MemberAccount(p.ID), decimal.NewFromInt(5000)) // under the minimum
			continue
		case b.Available.LessThan(decimal.NewFromInt(8000)):
			continue
		}
		d.withdraw(ctx, s, d.rubies, d.rubyProv, p, payout.MemberAccount(p.ID), b.Available)
	}
	// Creators with diamonds: the big ones weekly, others now and then.
	for i, c := range s.pop.creators {
		if !(i < 5 && day%7 == 6) && rng.Float64() > 0.03 {
			continue
		}
		d.link(ctx, c, d.diamonds)
		amount, err := diamondsOf(ctx, s.l, c.ID)
		if err != nil || amount.Sign() == 0 {
			d.st.failed("diamond balance", err)
			continue
		}
		d.withdraw(ctx, s, d.diamonds, d.diaProv, c, gifting.EarningsAccount(c.ID), amount)
	}
	// Compliance reviews big withdrawals: approves most.
	for _, f := range d.inflight {
		po, err := f.p.Get(ctx, f.id)
		if err != nil || po.Status != payout.StatusReview {
			continue
		}
		if rng.Float64() < 0.9 {
			po, err = f.p.Approve(ctx, payout.ApproveRequest{Actor: complianceOfficer, PayoutID: f.id})
		} else {
			po, err = f.p.Reject(ctx, payout.RejectRequest{Actor: complianceOfficer, PayoutID: f.id, Reason: "documents missing"})
		}
		d.st.observe(err)
	}
	// PayPal reverses a few ruby payouts it had paid (a disputed
	// account): the webhook reports it and the program claws the rubies
	// back under rule reversal_recovery.
	keep := d.paid[:0]
	for _, f := range d.paid {
		if rng.Float64() >= 0.03 {
			keep = append(keep, f)
			continue
		}
		key := f.p.KeyFor(f.id)
		if err := d.rubyProv.Reverse(key); err != nil {
			d.st.failed("provider reverse", err)
			continue
		}
		po, err := f.p.RecordOutcome(ctx, payout.RecordOutcomeRequest{EventID: "wh-reversed-" + f.id, Provider: f.p.Rules().Provider,
			PayoutID: f.id, Outcome: payout.OutcomeReversed, At: s.clock.Now()})
		if err != nil {
			d.st.failed("reversal webhook", err)
			continue
		}
		d.st.add("reversed", 1)
		d.f.payoutState(string(po.Status))
		d.f.claw("payout reversals", f.p.Rules().From.Code, po.Recovered, po.Debt, po.WrittenOff)
	}
	d.paid = keep
	// The provider settles what it held and what was claimed.
	for i, prov := range []*payout.MemoryProvider{d.rubyProv, d.diaProv} {
		prog := []*payout.Program{d.rubies, d.diamonds}[i]
		for _, pm := range prov.Payments() {
			if pm.Outcome != payout.OutcomeHeld && pm.Outcome != payout.OutcomeUnclaimed {
				continue
			}
			if pm.Outcome == payout.OutcomeUnclaimed && !s.clock.Now().Before(pm.ReturnAt) {
				continue // it has come back; the nightly run learns so
			}
			claim := 0.3
			if pm.Outcome == payout.OutcomeUnclaimed {
				claim = 0.1 // most receivers who leave it a day leave it for good
			}
			if r := rng.Float64(); r < claim {
				o := payout.OutcomeSucceeded
				if r < 0.05 {
					o = map[payout.Outcome]payout.Outcome{payout.OutcomeHeld: payout.OutcomeFailed, payout.OutcomeUnclaimed: payout.OutcomeReturned}[pm.Outcome]
				}
				if err := prov.Resolve(pm.Request.Key, o); err != nil {
					d.st.failed("provider resolve", err)
					continue
				}
				if r < 0.15 {
					// Half the time the provider's webhook tells the program
					// at once; otherwise the nightly run learns it by polling.
					_, err := prog.RecordOutcome(ctx, payout.RecordOutcomeRequest{EventID: "wh-" + pm.Reference, Provider: prog.Rules().Provider,
						Key: pm.Request.Key, Reference: pm.Reference, Outcome: o, At: s.clock.Now()})
					d.st.failed("webhook", err)
					if err == nil {
						d.st.add("webhooks", 1)
					}
				}
			}
		}
	}
	return nil
}

// Night counts what the nightly run could not do for either payout
// program and follows the payouts in flight: the run asked the providers
// again about them, and some are final now.
func (d *payoutDriver) Night(ctx context.Context, s *sim, night scheduler.Report) error {
	for _, name := range []string{rubyPayouts, diamondPayouts} {
		d.st.failed("tick item", nightResult(d.st, night, name).Err())
	}
	still := d.inflight[:0]
	for _, f := range d.inflight {
		po, err := f.p.Get(ctx, f.id)
		if err != nil {
			d.st.failed("get payout", err)
			continue
		}
		if po.Status.Final() {
			d.follow(f.p, po)
		} else {
			still = append(still, f)
		}
	}
	d.inflight = still
	return nil
}

// Check reconciles each provider with the ledger: what the provider paid
// members equals what the program settled to the settlement account, so
// no payout was lost or paid twice.
func (d *payoutDriver) Check(ctx context.Context, s *sim) ([]string, error) {
	var problems []string
	for _, x := range []struct {
		p    *payout.Program
		prov *payout.MemoryProvider
	}{{d.rubies, d.rubyProv}, {d.diamonds, d.diaProv}} {
		r := x.p.Rules()
		settled := decimal.Zero
		b, err := s.l.Balance(ctx, payout.SettlementAccount(r.Provider), r.To.Code)
		switch {
		case errors.Is(err, ledger.ErrUnknownAccount):
		case err != nil:
			return nil, err
		default:
			settled = b.Posted
		}
		paid := x.prov.Paid(r.To.Code)
		inflight := 0
		for _, f := range d.inflight {
			if f.p == x.p {
				inflight++
			}
		}
		if !paid.Equal(settled) && inflight == 0 {
			problems = append(problems, fmt.Sprintf("%s paid %s %s but the ledger settled %s", r.Provider, paid, r.To.Code, settled))
		}
		if paid.LessThan(settled) {
			problems = append(problems, fmt.Sprintf("%s settled %s %s, more than the provider paid (%s)", r.Provider, settled, r.To.Code, paid))
		}
	}
	return problems, nil
}
