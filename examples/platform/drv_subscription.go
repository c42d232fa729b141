package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/scheduler"
	"github.com/rewardkit/rewardkit/subscription"
)

// subscriptionRules are the default subscription rules priced in euros,
// the currency of the simulated (Italian) members' wallets.
func subscriptionRules() subscription.Rules {
	r := subscription.DefaultRules()
	r.Asset = ledger.EUR
	return r
}

// creatorTiers are the three tiers an eligible creator offers.
func creatorTiers() []subscription.Tier {
	return []subscription.Tier{
		{ID: "fan", Name: "Fan", Price: decimal.RequireFromString("2.99"),
			Perks: []subscription.Perk{subscription.PerkBadge, subscription.PerkStickers}},
		{ID: "superfan", Name: "Superfan", Price: decimal.RequireFromString("6.99"),
			Perks: []subscription.Perk{subscription.PerkBadge, subscription.PerkStickers, subscription.PerkSubscriberVideos, subscription.PerkPrivateChat}},
		{ID: "inner-circle", Name: "Inner circle", Price: decimal.RequireFromString("19.99"),
			Perks: []subscription.Perk{subscription.PerkBadge, subscription.PerkStickers, subscription.PerkSubscriberVideos,
				subscription.PerkPrivateChat, subscription.PerkDirectMessages, subscription.PerkPerformanceRequests}},
	}
}

var tierIDs = []string{"fan", "superfan", "inner-circle"}

// topUp puts euros in a member's wallet, as the platform's payment service
// would after a card payment: the one movement of money in the simulation
// that belongs to no program (its key starts with "wallet:"). The wallet is
// opened with the platform's wallet policy if no program has opened it yet
// (kit.OpenWallet), and used as it is otherwise.
func topUp(ctx context.Context, l *ledger.Ledger, wallets kit.WalletPolicy, key, member string, amount decimal.Decimal) error {
	return l.Update(ctx, func(w *ledger.Writer) error {
		wallet, err := kit.OpenWallet(w, wallets, member)
		if err != nil {
			return err
		}
		_, err = w.Post(ledger.TransferRequest{Key: "wallet:topup:" + key, Postings: []ledger.Posting{
			{From: ledger.World, To: wallet, Asset: "EUR", Amount: amount}}})
		return err
	})
}

// subscriptionDriver: eligible creators publish three tiers; members top
// up their wallets and subscribe, some cancel, and members ask whether
// they may use a perk. Bad inputs: creators below the thresholds
// publishing, members abroad, subscribing twice, to oneself, to an unknown
// tier, without funds, replays and racing duplicates.
type subscriptionDriver struct {
	p        *subscription.Program
	st       *programStats
	offering []*person
	subs     []subPair
}

type subPair struct{ member, creator *person }

// subscriptionMember is what the platform tells subscription about a
// person: a birth date that makes them their age on the first simulated
// day, their country and their audience.
func subscriptionMember(p *person) kit.Member {
	return kit.Member{ID: p.ID, BirthDate: birthDateForAge(simStart, p.Age), TimeZone: "Europe/Rome", Country: p.Country,
		Followers: p.Followers, ViewsLastMonth: p.Views}
}

func (d *subscriptionDriver) Name() string { return "subscription" }

func (d *subscriptionDriver) Setup(ctx context.Context, s *sim) error {
	dir := kit.NewDirectory()
	for _, p := range s.pop.people {
		dir.Put(subscriptionMember(p))
	}
	var err error
	d.p, err = subscription.New(ctx, s.l, subscriptionRules(), dir, subscription.WithWallets(s.wallets))
	if err != nil {
		return err
	}
	d.st = s.statsFor(d.Name(),
		errKind{"creator ineligible", subscription.ErrIneligible}, errKind{"country", subscription.ErrCountry},
		errKind{"no offer", subscription.ErrNoOffer}, errKind{"unknown tier", subscription.ErrUnknownTier},
		errKind{"self-subscription", subscription.ErrSelfSubscription}, errKind{"already subscribed", subscription.ErrAlreadySubscribed},
		errKind{"not subscribed", subscription.ErrNotSubscribed}, errKind{"wrong state", subscription.ErrWrongState},
		errKind{"insufficient funds", subscription.ErrInsufficientFunds}, errKind{"event id conflict", subscription.ErrIdempotencyConflict},
		errKind{"unknown member", subscription.ErrUnknownMember}, errKind{"invalid tiers", subscription.ErrInvalidTiers},
		errKind{"invalid request", subscription.ErrInvalidRequest})
	s.at(7)
	for _, c := range s.pop.creators {
		_, err := d.p.PublishTiers(ctx, subscription.PublishTiersRequest{EventID: "publish-" + c.ID, Actor: c.ID, Tiers: creatorTiers()})
		if d.st.observe(err) {
			d.offering = append(d.offering, c)
		}
	}
	return s.sched.Register(d.Name(), d.p)
}

func (d *subscriptionDriver) Day(ctx context.Context, s *sim, day int) error {
	if len(d.offering) == 0 {
		s.note("subscription: no creator passed the eligibility rules, so nobody subscribed")
		return nil
	}
	rng := s.rand()
	n := s.joinedCount() / 200
	for i := 0; i < n; i++ {
		m := s.pop.pickJoined(rng)
		c := d.offering[rng.IntN(len(d.offering))]
		if rng.Float64() < 0.5 {
			c = d.offering[rng.IntN(min(3, len(d.offering)))]
		}
		tier := tierIDs[weighted(rng.Float64(), []float64{0.6, 0.3, 0.1})]
		if rng.Float64() < 0.8 {
			amount := decimal.NewFromInt(int64(5 + 5*rng.IntN(5)))
			if err := topUp(ctx, s.l, s.wallets, fmt.Sprintf("%d-%d", day, i), m.ID, amount); err != nil {
				d.st.failed("wallet top-up", err)
				continue
			}
			d.st.add("wallet top-ups", 1)
		}
		ev := fmt.Sprintf("sub-%d-%d", day, i)
		switch r := rng.Float64(); {
		case r < 0.003:
			_, err := d.p.Subscribe(ctx, subscription.SubscribeRequest{EventID: ev + "-self", Actor: c.ID, Creator: c.ID, TierID: tier})
			d.st.expect(err, subscription.ErrSelfSubscription)
		case r < 0.006:
			_, err := d.p.Subscribe(ctx, subscription.SubscribeRequest{EventID: ev + "-tier", Actor: m.ID, Creator: c.ID, TierID: "platinum"})
			d.st.refused(err, "an unknown tier")
		}
		if rng.Float64() < 0.01 {
			d.st.race(func() error {
				_, err := d.p.Subscribe(ctx, subscription.SubscribeRequest{EventID: ev, Actor: m.ID, Creator: c.ID, TierID: tier})
				return err
			})
			continue
		}
		_, err := d.p.Subscribe(ctx, subscription.SubscribeRequest{EventID: ev, Actor: m.ID, Creator: c.ID, TierID: tier})
		if !d.st.observe(err) {
			continue
		}
		d.subs = append(d.subs, subPair{m, c})
		if rng.Float64() < 0.02 {
			_, err := d.p.Subscribe(ctx, subscription.SubscribeRequest{EventID: ev, Actor: m.ID, Creator: c.ID, TierID: tier})
			d.st.replay(err)
		}
	}
	// Cancellations and perk checks.
	for i, sp := range d.subs {
		r := rng.Float64()
		switch {
		case r < 0.01:
			_, err := d.p.Cancel(ctx, subscription.CancelRequest{EventID: fmt.Sprintf("cancel-%d-%d", day, i), Actor: sp.member.ID, Creator: sp.creator.ID})
			d.st.observe(err)
		case r < 0.05:
			ok, err := d.p.MayUse(ctx, sp.member.ID, sp.creator.ID, subscription.PerkSubscriberVideos, s.clock.Now())
			if err == nil || (!ok && isNoAccess(err)) {
				d.st.add(map[bool]string{true: "perk checks allowed", false: "perk checks denied"}[ok], 1)
			} else {
				d.st.failed("MayUse", err)
			}
		}
	}
	return nil
}

func isNoAccess(err error) bool {
	return err != nil && errors.Is(err, subscription.ErrNoAccess)
}

func (d *subscriptionDriver) Night(ctx context.Context, s *sim, night scheduler.Report) error {
	rep := nightResult(d.st, night, d.Name())
	d.st.failed("tick item", rep.Err())
	d.st.add("renewals", int64(rep.Count(subscription.TickRenewed)))
	d.st.add("ended", int64(rep.Count(subscription.TickEnded)))
	return nil
}
