package main

import (
	"context"
	"fmt"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/gifting"
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/scheduler"
)

// giftingDriver: every day some creators go LIVE; viewers buy coin packs
// (mostly small ones) and send gifts (mostly cheap ones) during the LIVEs;
// a few purchases are charged back. Bad inputs: minors buying or sending,
// viewers abroad buying Italian packs, gifts to political accounts, more
// gifts than coins, unknown gifts, replays, racing duplicates, a
// payment reference reused for another pack and a chargeback recorded by
// someone who is no risk officer.
type giftingDriver struct {
	p        *gifting.Program
	officer  string // holds kit.RoleRiskOfficer
	st       *programStats
	lastRefs []string // yesterday's payment references
	refs     []string
	frauds   []coinFraud
}

// coinFraud is a pack bought to be charged back: the viewer gifts its
// coins away as fast as daily_spend_limit lets them, then disputes the
// payment.
type coinFraud struct {
	ref    string
	viewer *person
	day    int
}

func (d *giftingDriver) Name() string { return "gifting" }

// giftingRules are the gifting rules the platform is built on: the
// story's gifting program, the base of the simulation's (simGiftingRules),
// and the diamond's cash value the creators' payout program is built from
// (creatorPayoutRules).
func giftingRules() gifting.Rules { return gifting.DefaultRules() }

// simGiftingRules are the gifting rules the simulation runs: seed 000's
// (giftingRules) with two an operator would add: a viewer spends at most
// 1,000 coins a day on gifts (about 15 EUR at the list price: one
// Galaxy), and a chargeback of coins already spent becomes the viewer's
// debt up to 1,000 coins, repaid from the next pack they buy, the rest
// written off to gifting.ChargebackLossAccount. The what-if replay starts
// from these too.
func simGiftingRules() gifting.Rules {
	r := giftingRules()
	r.DailySpendLimit = 1000
	r.ChargebackRecovery = kit.Recover(decimal.NewFromInt(1000), gifting.ChargebackLossAccount)
	return r
}

func giftingMember(p *person) kit.Member {
	kind := "personal"
	switch {
	case p.Political:
		kind = "political"
	case p.Creator:
		kind = "creator"
	}
	return kit.Member{ID: p.ID, BirthDate: birthDateForAge(simStart, p.Age), Kind: kind, Country: p.Country}
}

func (d *giftingDriver) Setup(ctx context.Context, s *sim) error {
	dir := kit.NewDirectory()
	for _, p := range s.pop.people {
		dir.Put(giftingMember(p))
	}
	d.officer = "staff-risk-desk"
	roles := &kit.RoleDirectory{}
	roles.Grant(d.officer, kit.RoleRiskOfficer)
	var err error
	d.p, err = gifting.New(ctx, s.l, simGiftingRules(), dir, gifting.WithRoles(roles), gifting.WithWallets(s.wallets))
	if err != nil {
		return err
	}
	d.st = s.statsFor(d.Name(),
		errKind{"ineligible", gifting.ErrIneligible}, errKind{"insufficient coins", gifting.ErrInsufficientCoins},
		errKind{"unknown gift", gifting.ErrUnknownGift}, errKind{"unknown pack", gifting.ErrUnknownPack},
		errKind{"daily limit", gifting.ErrDailyLimit}, errKind{"event id conflict", gifting.ErrIdempotencyConflict},
		errKind{"unknown member", gifting.ErrUnknownMember}, errKind{"not found", gifting.ErrNotFound},
		errKind{"invalid request", gifting.ErrInvalidRequest}, errKind{"forbidden", ledger.ErrForbidden})
	return nil
}

var (
	packIDs     = []string{"it-app-70", "it-app-350", "it-app-1400", "it-app-3500", "it-app-7000"}
	packWeights = []float64{0.45, 0.3, 0.17, 0.06, 0.02}
	giftIDs     = []string{"rose", "finger-heart", "perfume", "doughnut", "hand-hearts", "galaxy", "lion", "universe"}
	giftWeights = []float64{0.35, 0.25, 0.15, 0.1, 0.1, 0.045, 0.004, 0.001}
)

// weighted picks an index with the given weights (summing to 1).
func weighted(r float64, weights []float64) int {
	for i, w := range weights {
		if r < w {
			return i
		}
		r -= w
	}
	return len(weights) - 1
}

func (d *giftingDriver) Day(ctx context.Context, s *sim, day int) error {
	rng := s.rand()
	// Chargebacks of a few of yesterday's purchases.
	for _, ref := range d.lastRefs {
		if r := rng.Float64(); r < 0.04 {
			if r < 0.001 { // a support agent without the role tries first
				_, err := d.p.Chargeback(ctx, gifting.ChargebackRequest{Actor: "staff-support", PaymentRef: ref})
				d.st.expect(err, ledger.ErrForbidden)
			}
			pu, err := d.p.Chargeback(ctx, gifting.ChargebackRequest{Actor: d.officer, PaymentRef: ref})
			if d.st.observe(err) {
				d.st.add("purchases charged back", 1)
				d.st.add("coins not recovered", pu.Unrecovered)
				s.features.claw("gifting chargebacks", ledger.COIN.Code, decimal.NewFromInt(pu.ClawedBack), decimal.NewFromInt(pu.Debt), decimal.NewFromInt(pu.WrittenOff))
			}
		}
	}
	d.lastRefs, d.refs = d.refs, nil
	// Coin purchases.
	n := s.joinedCount() * 2 / 100
	for i := 0; i < n; i++ {
		m := s.pop.pickJoined(rng)
		ref := fmt.Sprintf("pay-%d-%d", day, i)
		pk := weighted(rng.Float64(), packWeights)
		pack := packIDs[pk]
		var err error
		var pu gifting.Purchase
		if rng.Float64() < 0.01 {
			d.st.race(func() error {
				_, err := d.p.BuyPack(ctx, gifting.BuyPackRequest{PaymentRef: ref, Actor: m.ID, Pack: pack})
				return err
			})
			continue
		}
		pu, err = d.p.BuyPack(ctx, gifting.BuyPackRequest{PaymentRef: ref, Actor: m.ID, Pack: pack})
		if !d.st.observe(err) {
			continue
		}
		d.refs = append(d.refs, ref)
		s.coinHolders = append(s.coinHolders, m)
		d.st.add("coins bought", pu.Coins)
		switch r := rng.Float64(); {
		case r < 0.02:
			_, err := d.p.BuyPack(ctx, gifting.BuyPackRequest{PaymentRef: ref, Actor: m.ID, Pack: pack}) // the payment provider's webhook, delivered twice
			d.st.replay(err)
		case r < 0.025:
			other := packIDs[(pk+1+rng.IntN(len(packIDs)-1))%len(packIDs)]
			_, err := d.p.BuyPack(ctx, gifting.BuyPackRequest{PaymentRef: ref, Actor: m.ID, Pack: other})
			d.st.expect(err, gifting.ErrIdempotencyConflict)
		}
	}
	if len(s.coinHolders) == 0 {
		return nil
	}
	// LIVEs and gifts.
	var lives []*person
	for i, c := range s.pop.creators {
		if i < 5 || rng.Float64() < 0.1 {
			lives = append(lives, c)
		}
	}
	d.fraud(ctx, s, day, lives)
	n = s.joinedCount() * 4 / 100
	for i := 0; i < n; i++ {
		viewer := s.coinHolders[rng.IntN(len(s.coinHolders))]
		if rng.Float64() < 0.1 {
			viewer = s.pop.pickJoined(rng) // someone who may have no coins
		}
		creator := lives[rng.IntN(len(lives))]
		if rng.Float64() < 0.5 {
			creator = lives[rng.IntN(min(5, len(lives)))]
		}
		ev := fmt.Sprintf("gift-%d-%d", day, i)
		req := gifting.SendGiftRequest{EventID: ev, Actor: viewer.ID, Creator: creator.ID, Gift: giftIDs[weighted(rng.Float64(), giftWeights)],
			Count: 1 + rng.IntN(5), Live: fmt.Sprintf("live-%s-%d", creator.ID, day)}
		if rng.Float64() < 0.002 {
			bad := req
			bad.EventID, bad.Gift = ev+"-x", "unicorn"
			_, err := d.p.SendGift(ctx, bad)
			d.st.expect(err, gifting.ErrUnknownGift)
		}
		if rng.Float64() < 0.01 {
			d.st.race(func() error { _, err := d.p.SendGift(ctx, req); return err })
			continue
		}
		res, err := d.p.SendGift(ctx, req)
		if !d.st.observe(err) {
			continue
		}
		d.st.add("gifts sent", int64(req.Count))
		d.st.add("diamonds earned", res.Diamonds)
		if rng.Float64() < 0.02 {
			_, err := d.p.SendGift(ctx, req)
			d.st.replay(err)
		}
	}
	return nil
}

// fraud runs the chargeback frauds: now and then an adult member buys the
// 3,500-coin pack, gifts a Galaxy (1,000 coins) a day to a creator who is
// LIVE (a second one the same day is refused by daily_spend_limit) and
// charges the payment back on the fourth day, when most coins are gone:
// rule chargeback_recovery makes the viewer's debt of what the overdraft
// does not cover, up to its bound, and writes off the rest.
func (d *giftingDriver) fraud(ctx context.Context, s *sim, day int, lives []*person) {
	rng := s.rand()
	if rng.Float64() < 0.5 {
		if m := s.pop.pickJoined(rng); m.Age >= 18 && m.Country == "IT" && !m.Creator && !m.Political {
			ref := fmt.Sprintf("pay-fraud-%d", day)
			_, err := d.p.BuyPack(ctx, gifting.BuyPackRequest{PaymentRef: ref, Actor: m.ID, Pack: "it-app-3500"})
			if d.st.observe(err) {
				d.frauds = append(d.frauds, coinFraud{ref, m, day})
			}
		}
	}
	keep := d.frauds[:0]
	for _, f := range d.frauds {
		if day-f.day >= 4 {
			pu, err := d.p.Chargeback(ctx, gifting.ChargebackRequest{Actor: d.officer, PaymentRef: f.ref})
			if d.st.observe(err) {
				d.st.add("purchases charged back", 1)
				s.features.claw("gifting chargebacks", ledger.COIN.Code, decimal.NewFromInt(pu.ClawedBack), decimal.NewFromInt(pu.Debt), decimal.NewFromInt(pu.WrittenOff))
			}
			continue
		}
		keep = append(keep, f)
		creator := lives[rng.IntN(len(lives))]
		for k := 0; k < 2; k++ {
			_, err := d.p.SendGift(ctx, gifting.SendGiftRequest{EventID: fmt.Sprintf("gift-fraud-%s-%d-%d", f.ref, day, k), Actor: f.viewer.ID,
				Creator: creator.ID, Gift: "galaxy", Count: 1, Live: fmt.Sprintf("live-%s-%d", creator.ID, day)})
			d.st.observe(err)
		}
	}
	d.frauds = keep
}

// Night has nothing to read: gifting has no Tick, nothing of it falls
// due, so it registers nothing with the scheduler.
func (d *giftingDriver) Night(ctx context.Context, s *sim, night scheduler.Report) error { return nil }
