package subscription_test

import (
	"context"
	"fmt"
	"time"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
	"github.com/rewardkit/rewardkit/ledger/memstore"
	"github.com/rewardkit/rewardkit/subscription"
	"github.com/shopspring/decimal"
)

func Example() {
	ctx := context.Background()
	clock := ledgertest.NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	l := ledger.New(memstore.New(), ledger.WithClock(clock))

	dir := &subscription.MemberDirectory{}
	dir.Put(subscription.Member{ID: "cleo", Age: 24, Country: "IT", Followers: 52000, ViewsLastMonth: 310000})
	dir.Put(subscription.Member{ID: "ann", Age: 31, Country: "US"})
	p, err := subscription.New(ctx, l, subscription.DefaultRules(), dir)
	if err != nil {
		panic(err)
	}
	_, err = p.PublishTiers(ctx, "publish-1", "cleo", []subscription.Tier{
		{ID: "fan", Price: decimal.RequireFromString("4.99"), Perks: []subscription.Perk{subscription.PerkBadge, subscription.PerkStickers}},
		{ID: "superfan", Price: decimal.RequireFromString("9.99"), Perks: []subscription.Perk{subscription.PerkBadge, subscription.PerkPrivateChat}},
	})
	if err != nil {
		panic(err)
	}

	// Ann's wallet gets 12 USD from outside the ledger.
	_, _ = l.OpenAccount(ctx, ledger.AccountSpec{Address: subscription.MemberWallet("ann")})
	_, _ = l.Transfer(ctx, "topup-1", ledger.World, subscription.MemberWallet("ann"), "USD", decimal.RequireFromString("12.00"))

	s, err := p.Subscribe(ctx, "subscribe-1", "ann", "cleo", "fan")
	if err != nil {
		panic(err)
	}
	show := func(addr string) string {
		b, _ := l.Balance(ctx, addr, "USD")
		return b.Posted.StringFixed(2)
	}
	fmt.Println("subscribed until", s.PeriodEnd.Format("2006-01-02"), "wallet", show(subscription.MemberWallet("ann")),
		"creator", show(subscription.CreatorEarnings("cleo")), "platform", show(subscription.PlatformRevenue))
	ok, _ := p.MayUse(ctx, "ann", "cleo", subscription.PerkStickers, clock.Now())
	fmt.Println("stickers:", ok)
	ok, err = p.MayUse(ctx, "ann", "cleo", subscription.PerkPrivateChat, clock.Now())
	fmt.Println("private chat:", ok, err)

	clock.Set(s.PeriodEnd)
	rep, _ := p.Tick(ctx)
	fmt.Printf("renewal: %+v wallet %s\n", rep, show(subscription.MemberWallet("ann")))

	clock.Set(s.PeriodEnd.AddDate(0, 1, 0))
	rep, _ = p.Tick(ctx)
	s, _ = p.Subscription(ctx, "ann", "cleo")
	fmt.Printf("third month: %+v status %s until %s\n", rep, s.Status, s.GraceUntil.Format("2006-01-02"))
	ok, err = p.MayUse(ctx, "ann", "cleo", subscription.PerkStickers, clock.Now())
	fmt.Println("stickers in grace:", ok, err != nil)

	clock.Advance(72 * time.Hour)
	rep, _ = p.Tick(ctx)
	s, _ = p.Subscription(ctx, "ann", "cleo")
	fmt.Printf("after grace: %+v status %s (%s), badge level %d\n", rep, s.Status, s.EndReason, s.BadgeLevel)

	if _, err := l.Verify(ctx); err != nil {
		panic(err)
	}
	// Output:
	// subscribed until 2026-04-01 wallet 7.01 creator 2.49 platform 2.50
	// stickers: true
	// private chat: false subscription: no access: subscription: perk not included in the tier: "private_chat" is not in tier "fan" of cleo
	// renewal: {Renewed:1 GraceStarted:0 Retried:0 Ended:0 Failed:[]} wallet 2.02
	// third month: {Renewed:0 GraceStarted:1 Retried:0 Ended:0 Failed:[]} status grace until 2026-05-04
	// stickers in grace: false true
	// after grace: {Renewed:0 GraceStarted:0 Retried:0 Ended:1 Failed:[]} status ended (renewal failed), badge level 2
}
