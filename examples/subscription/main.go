// Command subscription tells the story of creator subscriptions on the
// rewardkit ledger: eligibility, tiers, subscribing, perks, a tier change,
// renewals, a cancellation, a failed renewal with its grace period, and
// the ledger's Verify at the end.
//
//	go run ./examples/subscription                      # in memory
//	go run ./examples/subscription -postgres "$DSN"     # on PostgreSQL
//
// On a database that already holds a ledger, every id of this run gets a
// prefix of its own, so the story can be told again.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/rewardkit/rewardkit/examples/internal/exampledb"
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/driver"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
	"github.com/rewardkit/rewardkit/subscription"
	"github.com/shopspring/decimal"
)

func main() { exampledb.Main("subscription", run) }

// story carries what every step needs and prints balance changes.
type story struct {
	ctx    context.Context
	out    io.Writer
	l      *ledger.Ledger
	clock  *ledgertest.Clock
	p      *subscription.Program
	id     func(string) string // this run's name for an id
	last   map[string]decimal.Decimal
	labels map[string]string
}

func (s *story) say(format string, args ...any) { fmt.Fprintf(s.out, format+"\n", args...) }

// money prints every watched balance that changed since the last call.
func (s *story) money() error {
	addrs := make([]string, 0, len(s.labels))
	for a := range s.labels {
		addrs = append(addrs, a)
	}
	sort.Strings(addrs)
	for _, a := range addrs {
		b, err := s.l.Balance(s.ctx, a, "USD")
		if errors.Is(err, ledger.ErrUnknownAccount) {
			continue
		} else if err != nil {
			return err
		}
		if old := s.last[a]; !old.Equal(b.Posted) {
			s.say("    %-32s %8s -> %8s USD", s.labels[a], old.StringFixed(2), b.Posted.StringFixed(2))
			s.last[a] = b.Posted
		}
	}
	return nil
}

// refused checks that err is the expected refusal and prints it.
func (s *story) refused(what string, err, want error) error {
	if !errors.Is(err, want) {
		return fmt.Errorf("%s: want %v, got %v", what, want, err)
	}
	s.say("  refused, as it should be: %s\n    %v", what, err)
	return nil
}

func (s *story) mayUse(member, creator string, perk subscription.Perk) error {
	ok, err := s.p.MayUse(s.ctx, s.id(member), s.id(creator), perk, s.clock.Now())
	if err != nil && !errors.Is(err, subscription.ErrNoAccess) {
		return err
	}
	why := ""
	if err != nil {
		why = " (" + strings.TrimPrefix(err.Error(), "subscription: no access: ") + ")"
	}
	s.say("  may %s use %s of %s? %v%s", member, perk, creator, ok, why)
	return nil
}

// tickSummary says what a Tick did, item by item.
func tickSummary(rep kit.TickReport) string {
	if len(rep.Done) == 0 && len(rep.Failed) == 0 {
		return "did nothing"
	}
	var parts []string
	for _, it := range rep.Done {
		parts = append(parts, strings.TrimPrefix(it.Kind, "subscription.")+" "+it.ID)
	}
	for _, f := range rep.Failed {
		parts = append(parts, "failed "+f.ID+": "+f.Err.Error())
	}
	return strings.Join(parts, ", ")
}

func run(ctx context.Context, out io.Writer, store driver.Store) error {
	start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	clock := ledgertest.NewClock(start)
	l := ledger.New(store, ledger.WithClock(clock))
	prefix := ""
	if rep, err := l.Verify(ctx); err != nil {
		return err
	} else if rep.Head.ID > 0 {
		prefix = fmt.Sprintf("run%d-", rep.Head.ID) // a store used before: ids of this run's own
	}
	id := func(name string) string { return prefix + name }

	// The members as the integrating service knows them: ages come from
	// birth dates, on each member's own calendar.
	dir := kit.NewDirectory(
		kit.Member{ID: id("cleo"), BirthDate: kit.NewDate(2001, 11, 3), TimeZone: "Europe/Rome", Country: "IT", Followers: 52000, ViewsLastMonth: 310000},
		kit.Member{ID: id("tom"), BirthDate: kit.NewDate(2008, 7, 19), TimeZone: "Europe/Rome", Country: "IT", Followers: 80000, ViewsLastMonth: 900000},
		kit.Member{ID: id("dan"), BirthDate: kit.NewDate(1992, 4, 2), TimeZone: "Europe/Paris", Country: "FR", Followers: 9000, ViewsLastMonth: 150000},
		kit.Member{ID: id("ann"), BirthDate: kit.NewDate(1994, 9, 12), TimeZone: "America/New_York", Country: "US"},
		kit.Member{ID: id("bob"), BirthDate: kit.NewDate(1998, 12, 30), TimeZone: "Europe/London", Country: "GB"},
		kit.Member{ID: id("eve"), BirthDate: kit.NewDate(1985, 6, 6), TimeZone: "Asia/Shanghai", Country: "CN"},
	)
	p, err := subscription.New(ctx, l, subscription.DefaultRules(), dir)
	if err != nil {
		return err
	}
	s := &story{ctx: ctx, out: out, l: l, clock: clock, p: p, id: id, last: map[string]decimal.Decimal{},
		labels: map[string]string{
			subscription.MemberAccount(id("ann")): "ann's wallet", subscription.MemberAccount(id("bob")): "bob's wallet",
			subscription.EarningsAccount(id("cleo")): "cleo's subscription earnings", subscription.RevenueAccount: "platform revenue",
		}}
	for a := range s.labels { // start from where this ledger is
		if b, err := l.Balance(ctx, a, "USD"); err == nil {
			s.last[a] = b.Posted
		}
	}
	r := p.Rules()
	s.say("Creator subscriptions, %s. Rules: creators %d+, %d followers, %d views last month; up to %d tiers; creator share %s; grace %s.",
		start.Format("2 Jan 2006"), r.MinCreatorAge, r.MinFollowers, r.MinViewsLastMonth, r.MaxTiers, r.CreatorShare, time.Duration(r.GracePeriod))

	s.say("\n1. Creators publish tiers")
	price := decimal.RequireFromString
	tiers := []subscription.Tier{
		{ID: "fan", Name: "Fan", Price: price("4.99"), Perks: []subscription.Perk{subscription.PerkBadge, subscription.PerkStickers}},
		{ID: "superfan", Name: "Super fan", Price: price("9.99"), Perks: []subscription.Perk{subscription.PerkBadge, subscription.PerkStickers,
			subscription.PerkPrivateChat, subscription.PerkSubscriberVideos}},
		{ID: "vip", Name: "VIP", Price: price("24.99"), Perks: []subscription.Perk{subscription.PerkBadge, subscription.PerkStickers,
			subscription.PerkPrivateChat, subscription.PerkSubscriberVideos, subscription.PerkDirectMessages,
			subscription.PerkPerformanceRequests, subscription.PerkDiscordRole, subscription.CustomPerk("monthly video call")}},
	}
	o, err := p.PublishTiers(ctx, subscription.PublishTiersRequest{EventID: id("publish-cleo"), Actor: id("cleo"), Tiers: tiers})
	if err != nil {
		return err
	}
	for _, t := range o.Tiers {
		s.say("  cleo offers %-9s %5s USD/month: %s", t.ID, t.Price, strings.Join(t.Perks, ", "))
	}
	_, err = p.PublishTiers(ctx, subscription.PublishTiersRequest{EventID: id("publish-tom"), Actor: id("tom"), Tiers: tiers[:1]})
	if err := s.refused("tom (17) publishes tiers", err, subscription.ErrIneligible); err != nil {
		return err
	}
	_, err = p.PublishTiers(ctx, subscription.PublishTiersRequest{EventID: id("publish-dan"), Actor: id("dan"), Tiers: tiers[:1]})
	if err := s.refused("dan (9,000 followers) publishes tiers", err, subscription.ErrIneligible); err != nil {
		return err
	}
	four := append(append([]subscription.Tier{}, tiers...), subscription.Tier{ID: "extra", Price: price("2"), Perks: []subscription.Perk{subscription.PerkBadge}})
	_, err = p.PublishTiers(ctx, subscription.PublishTiersRequest{EventID: id("publish-cleo-4"), Actor: id("cleo"), Tiers: four})
	if err := s.refused("cleo publishes four tiers", err, subscription.ErrInvalidTiers); err != nil {
		return err
	}

	s.say("\n2. Members fund their wallets (money enters from outside the ledger)")
	for _, f := range []struct{ who, amount string }{{"ann", "30.00"}, {"bob", "10.00"}} {
		addr := subscription.MemberAccount(id(f.who))
		if _, err := l.OpenAccount(ctx, ledger.AccountSpec{Address: addr}); err != nil {
			return err
		}
		if _, err := l.Transfer(ctx, id("fund-"+f.who), ledger.World, addr, "USD", price(f.amount)); err != nil {
			return err
		}
	}
	if err := s.money(); err != nil {
		return err
	}

	s.say("\n3. Subscribing: the first month is charged at once, split 50/50 (the creator's half rounded down)")
	sa, err := p.Subscribe(ctx, subscription.SubscribeRequest{EventID: id("sub-ann"), Actor: id("ann"), Creator: id("cleo"), TierID: "fan"})
	if err != nil {
		return err
	}
	s.say("  ann subscribes to cleo's fan tier until %s", sa.PeriodEnd.Format("2 Jan"))
	sb, err := p.Subscribe(ctx, subscription.SubscribeRequest{EventID: id("sub-bob"), Actor: id("bob"), Creator: id("cleo"), TierID: "superfan"})
	if err != nil {
		return err
	}
	s.say("  bob subscribes to cleo's superfan tier until %s", sb.PeriodEnd.Format("2 Jan"))
	if err := s.money(); err != nil {
		return err
	}
	if _, err := p.Subscribe(ctx, subscription.SubscribeRequest{EventID: id("sub-ann"), Actor: id("ann"), Creator: id("cleo"), TierID: "fan"}); err != nil {
		return err
	}
	s.say("  ann's subscribe event delivered twice: the replay returns the first result, charges nothing")
	if err := s.money(); err != nil {
		return err
	}
	_, err = p.Subscribe(ctx, subscription.SubscribeRequest{EventID: id("sub-eve"), Actor: id("eve"), Creator: id("cleo"), TierID: "fan"})
	if err := s.refused("eve (CN) subscribes", err, subscription.ErrCountry); err != nil {
		return err
	}
	_, err = p.Subscribe(ctx, subscription.SubscribeRequest{EventID: id("sub-cleo"), Actor: id("cleo"), Creator: id("cleo"), TierID: "fan"})
	if err := s.refused("cleo subscribes to herself", err, subscription.ErrSelfSubscription); err != nil {
		return err
	}
	_, err = p.Subscribe(ctx, subscription.SubscribeRequest{EventID: id("sub-ann-2"), Actor: id("ann"), Creator: id("cleo"), TierID: "vip"})
	if err := s.refused("ann subscribes again", err, subscription.ErrAlreadySubscribed); err != nil {
		return err
	}

	s.say("\n4. The question integrators ask most")
	for _, q := range []struct{ who, perk string }{{"ann", subscription.PerkStickers}, {"ann", subscription.PerkPrivateChat},
		{"bob", subscription.PerkPrivateChat}, {"eve", subscription.PerkBadge}} {
		if err := s.mayUse(q.who, "cleo", q.perk); err != nil {
			return err
		}
	}

	s.say("\n5. ann moves up to VIP (from her next renewal); bob cancels (perks until his month ends, no refund)")
	if _, err := p.ChangeTier(ctx, subscription.ChangeTierRequest{EventID: id("change-ann"), Actor: id("ann"), Creator: id("cleo"), TierID: "vip"}); err != nil {
		return err
	}
	if _, err := p.Cancel(ctx, subscription.CancelRequest{EventID: id("cancel-bob"), Actor: id("bob"), Creator: id("cleo")}); err != nil {
		return err
	}
	clock.Set(sb.PeriodEnd.Add(-time.Hour))
	s.say("  %s:", clock.Now().Format("2 Jan 15:04"))
	if err := s.mayUse("bob", "cleo", subscription.PerkPrivateChat); err != nil {
		return err
	}
	if err := s.money(); err != nil {
		return err
	}

	s.say("\n6. A month later, Tick renews ann at the VIP price and ends bob's subscription")
	clock.Set(sa.PeriodEnd)
	rep, err := p.Tick(ctx)
	if err != nil {
		return err
	}
	s.say("  %s: tick %s", clock.Now().Format("2 Jan"), tickSummary(rep))
	if err := s.money(); err != nil {
		return err
	}
	for _, q := range []struct{ who, perk string }{{"ann", subscription.CustomPerk("monthly video call")}, {"bob", subscription.PerkPrivateChat}} {
		if err := s.mayUse(q.who, "cleo", q.perk); err != nil {
			return err
		}
	}

	s.say("\n7. Next month ann's wallet is short: grace, retries, then she tops up and is renewed")
	sa, err = p.Subscription(ctx, id("ann"), id("cleo"))
	if err != nil {
		return err
	}
	clock.Set(sa.PeriodEnd)
	if rep, err = p.Tick(ctx); err != nil {
		return err
	}
	sa, _ = p.Subscription(ctx, id("ann"), id("cleo"))
	s.say("  %s: tick %s; ann is in %s until %s", clock.Now().Format("2 Jan"), tickSummary(rep), sa.Status, sa.GraceUntil.Format("2 Jan 15:04"))
	if err := s.mayUse("ann", "cleo", subscription.PerkBadge); err != nil {
		return err
	}
	if _, err := l.Transfer(ctx, id("fund-ann-2"), ledger.World, subscription.MemberAccount(id("ann")), "USD", price("25.00")); err != nil {
		return err
	}
	s.say("  ann tops up her wallet")
	if err := s.money(); err != nil {
		return err
	}
	clock.Advance(24 * time.Hour)
	if rep, err = p.Tick(ctx); err != nil {
		return err
	}
	sa, _ = p.Subscription(ctx, id("ann"), id("cleo"))
	s.say("  %s: tick %s; ann is %s, new period %s to %s, %d months paid, badge level %d",
		clock.Now().Format("2 Jan"), tickSummary(rep), sa.Status, sa.PeriodStart.Format("2 Jan"), sa.PeriodEnd.Format("2 Jan"), sa.MonthsPaid, sa.BadgeLevel)
	if err := s.money(); err != nil {
		return err
	}

	s.say("\n8. Verify")
	vr, err := l.Verify(ctx)
	if err != nil {
		return err
	}
	for asset, total := range vr.Totals {
		if !total.IsZero() {
			return fmt.Errorf("asset %s sums to %s", asset, total)
		}
	}
	s.say("  %d transactions replayed, %d balances checked, every asset sums to zero, the hash chain is intact", vr.Transactions, vr.Balances)
	return nil
}
