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

// shopCampaign names the platform's shop referral campaign, the second
// referral program of the run (seed 001's variant, in rubies).
const shopCampaign = "it-shop-2026"

// shopRefundLosses is where the shop campaign writes off what a refund
// after the window cannot take back and the referrer's debt bound does
// not cover.
const shopRefundLosses = "platform:shop-refund-losses"

// shopRefunds is the shop's service account that reports refunds (it
// holds kit.RoleRiskOfficer).
const shopRefunds = "shop-refunds-service"

// shopRules are the rules of the platform's in-app shop referral: seed
// 001's variant (referral.ShopRules) paid in rubies to Italian members:
// 10,000 rubies (1 EUR) per invitee who signs up with the code and makes a
// first purchase, pending (kit.Pending) for the shop's 3-day return window
// and vetoed by a refund inside it; no tier bonuses. A refund after the
// window claws the reward back (refund_clawback): what the referrer's
// wallet no longer has becomes their debt up to 5,000 rubies, repaid from
// their next rewards, the rest is written off to shopRefundLosses.
func shopRules() referral.Rules {
	r := referral.ShopRules()
	r.Campaign = shopCampaign
	r.Asset = ledger.RUBY
	r.Country = "IT"
	r.Timezone = "Europe/Rome"
	r.SignupReward = decimal.NewFromInt(10_000)
	r.ReturnWindow = kit.Duration(3 * 24 * time.Hour)
	r.Tiers, r.MaxTierBonus = nil, decimal.Zero
	policy := kit.Recover(decimal.NewFromInt(5_000), shopRefundLosses)
	r.RefundClawback = &policy
	r.Budget = decimal.NewFromInt(100_000_000)
	return r
}

// shopDriver: members who already earn rubies (they hold an invite code of
// the main campaign) share a shop code too; members on the platform sign
// up with it and make a first purchase, whose reward is pending for the
// return window. Some purchases are refunded the next day (the pending
// reward is vetoed) and some after the window (the reward, released by
// the nightly run, is clawed back), most often those of referrers who
// have cashed their rubies out since: their debt, or a write-off.
type shopDriver struct {
	p         *referral.Program
	st        *programStats
	f         *featureStats
	codes     map[string]string // referrer -> shop code, "" when refused
	referrers map[string]bool
	invitees  map[string]bool
	purchases []shopPurchase
}

// shopPurchase is a qualifying first purchase whose refund is still to
// be drawn.
type shopPurchase struct {
	id       string
	referrer *person
	day      int
	// fraud: the referrer cashes the reward out once it is released and
	// the purchase is refunded after the window.
	fraud bool
}

func (d *shopDriver) Name() string { return "referral.shop" }

func (d *shopDriver) Setup(ctx context.Context, s *sim) error {
	d.f = &s.features
	d.codes, d.referrers, d.invitees = map[string]string{}, map[string]bool{}, map[string]bool{}
	var dir *kit.Directory
	for _, other := range s.drivers {
		if rd, ok := other.(*referralDriver); ok {
			dir = rd.dir
		}
	}
	if dir == nil {
		return fmt.Errorf("the shop campaign needs the referral driver's members, set up before it")
	}
	roles := &kit.RoleDirectory{}
	roles.Grant(shopRefunds, kit.RoleRiskOfficer)
	var err error
	d.p, err = referral.New(ctx, s.l, shopRules(), dir, referral.WithCodeSalt(fmt.Sprintf("shop-%d", s.cfg.Seed)),
		referral.WithWallets(s.wallets), referral.WithRoles(roles))
	if err != nil {
		return err
	}
	d.st = s.statsFor(d.Name(), referralKinds()...)
	return s.sched.Register(d.Name(), d.p)
}

// code returns a referrer's shop code, issuing it the first time.
func (d *shopDriver) code(ctx context.Context, p *person) (string, bool) {
	if c, ok := d.codes[p.ID]; ok {
		return c, c != ""
	}
	c, err := d.p.IssueCode(ctx, referral.IssueCodeRequest{EventID: "shop-code-" + p.ID, Member: p.ID})
	if !d.st.observe(err) {
		c = ""
	}
	d.codes[p.ID] = c
	d.referrers[p.ID] = true
	return c, c != ""
}

func (d *shopDriver) Day(ctx context.Context, s *sim, day int) error {
	rng := s.rand()
	reward := shopRules().SignupReward
	// Refunds of earlier purchases: a few the next day, inside the return
	// window; a few after it, most of those of referrers whose wallet no
	// longer holds the reward (they cashed out: a refund fraud).
	keep := d.purchases[:0]
	for _, pu := range d.purchases {
		refund := false
		switch day - pu.day {
		case 1:
			refund = !pu.fraud && rng.Float64() < 0.12
		case 3:
			if pu.fraud {
				s.cashOut = append(s.cashOut, pu.referrer) // tomorrow, once tonight's run released the reward
			}
		case 5:
			b, err := s.l.Balance(ctx, kit.WalletAccount(pu.referrer.ID), ledger.RUBY.Code)
			short := err == nil && b.Available.LessThan(reward)
			refund = rng.Float64() < 0.08 || (pu.fraud && rng.Float64() < 0.7) || (short && rng.Float64() < 0.5)
		}
		if !refund {
			if day-pu.day < 5 {
				keep = append(keep, pu)
			}
			continue
		}
		res, err := d.p.RecordRefund(ctx, referral.RecordRefundRequest{EventID: "refund-" + pu.id, Actor: shopRefunds, PurchaseID: pu.id})
		if !d.st.observe(err) {
			continue
		}
		d.st.add("refunds", 1)
		if res.Cancelled {
			d.f.PendingVetoed++
		}
		if c := res.Clawback; c != nil {
			d.f.claw("shop refunds", c.Asset, c.Taken, c.Debt, c.WrittenOff)
		}
	}
	d.purchases = keep
	if len(s.earners) == 0 {
		return nil
	}
	earning := map[string]bool{}
	for _, p := range s.earners {
		earning[p.ID] = true
	}
	// New shop customers from the members on the platform.
	for i, n := 0, s.joinedCount()/100; i < n; i++ {
		inv := s.pop.pickJoined(rng)
		if d.invitees[inv.ID] || d.referrers[inv.ID] {
			continue
		}
		ref := s.earners[rng.IntN(len(s.earners))]
		fraud := rng.Float64() < 0.1
		if fraud {
			// A refund fraud: a member who earns nothing else shares the
			// code with an accomplice, cashes the reward out and has the
			// purchase refunded.
			ref = s.pop.pickJoined(rng)
			if !ref.PayoutLinked || earning[ref.ID] {
				continue
			}
		}
		if ref == inv || d.invitees[ref.ID] {
			continue
		}
		code, ok := d.code(ctx, ref)
		if !ok {
			continue
		}
		d.invitees[inv.ID] = true
		_, err := d.p.Signup(ctx, referral.SignupRequest{EventID: "shop-signup-" + inv.ID, Invitee: inv.ID, Code: code})
		if !d.st.observe(err) {
			continue
		}
		id := "order-" + inv.ID
		res, err := d.p.RecordPurchase(ctx, referral.RecordPurchaseRequest{EventID: "shop-buy-" + inv.ID, Member: inv.ID, PurchaseID: id})
		if !d.st.observe(err) {
			continue
		}
		if res.Qualifying {
			d.f.PendingGranted++
			d.purchases = append(d.purchases, shopPurchase{id: id, referrer: ref, day: day, fraud: fraud})
		}
	}
	return nil
}

// Night counts the pending rewards the nightly run released; a withheld
// reward (an ineligible referrer) waits and is no failure of the run.
func (d *shopDriver) Night(ctx context.Context, s *sim, night scheduler.Report) error {
	rep := nightResult(d.st, night, d.Name())
	d.f.PendingReleased += int64(rep.Count(referral.ItemReleased))
	for _, f := range rep.Failed {
		if f.Kind != referral.ItemWithheld {
			d.st.failed("tick", f)
		}
	}
	return nil
}
