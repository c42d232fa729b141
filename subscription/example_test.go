package subscription_test

import (
	"context"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
	"github.com/rewardkit/rewardkit/ledger/memstore"
	"github.com/rewardkit/rewardkit/subscription"
)

func Example() {
	ctx := context.Background()
	clock := ledgertest.NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	l := ledger.New(memstore.New(), ledger.WithClock(clock))

	dir := kit.NewDirectory(
		kit.Member{ID: "cleo", BirthDate: kit.NewDate(2001, 11, 3), TimeZone: "Europe/Rome", Country: "IT", Followers: 52000, ViewsLastMonth: 310000},
		kit.Member{ID: "ann", Country: "US"})
	p, err := subscription.New(ctx, l, subscription.DefaultRules(), dir)
	if err != nil {
		panic(err)
	}
	_, err = p.PublishTiers(ctx, subscription.PublishTiersRequest{EventID: "publish-1", Actor: "cleo", Tiers: []subscription.Tier{
		{ID: "fan", Price: decimal.RequireFromString("4.99"), Perks: []subscription.Perk{subscription.PerkBadge, subscription.PerkStickers}},
		{ID: "superfan", Price: decimal.RequireFromString("9.99"), Perks: []subscription.Perk{subscription.PerkBadge, subscription.PerkPrivateChat}},
	}})
	if err != nil {
		panic(err)
	}

	// Ann's wallet gets 12 USD from outside the ledger.
	_, _ = l.OpenAccount(ctx, ledger.AccountSpec{Address: subscription.MemberAccount("ann")})
	_, _ = l.Transfer(ctx, "topup-1", ledger.World, subscription.MemberAccount("ann"), "USD", decimal.RequireFromString("12.00"))

	s, err := p.Subscribe(ctx, subscription.SubscribeRequest{EventID: "subscribe-1", Actor: "ann", Creator: "cleo", TierID: "fan"})
	if err != nil {
		panic(err)
	}
	show := func(addr string) string {
		b, _ := l.Balance(ctx, addr, "USD")
		return b.Posted.StringFixed(2)
	}
	fmt.Println("subscribed until", s.PeriodEnd.Format("2006-01-02"), "wallet", show(subscription.MemberAccount("ann")),
		"creator", show(subscription.EarningsAccount("cleo")), "platform", show(subscription.RevenueAccount))
	ok, _ := p.MayUse(ctx, "ann", "cleo", subscription.PerkStickers, clock.Now())
	fmt.Println("stickers:", ok)
	ok, err = p.MayUse(ctx, "ann", "cleo", subscription.PerkPrivateChat, clock.Now())
	fmt.Println("private chat:", ok, err)

	clock.Set(s.PeriodEnd)
	rep, _ := p.Tick(ctx)
	fmt.Println("renewal:", rep.Done, "wallet", show(subscription.MemberAccount("ann")))

	clock.Set(s.PeriodEnd.AddDate(0, 1, 0))
	rep, _ = p.Tick(ctx)
	s, _ = p.Subscription(ctx, "ann", "cleo")
	fmt.Println("third month:", rep.Done, "status", s.Status, "until", s.GraceUntil.Format("2006-01-02"))
	ok, err = p.MayUse(ctx, "ann", "cleo", subscription.PerkStickers, clock.Now())
	fmt.Println("stickers in grace:", ok, err != nil)

	clock.Advance(72 * time.Hour)
	rep, _ = p.Tick(ctx)
	s, _ = p.Subscription(ctx, "ann", "cleo")
	fmt.Printf("after grace: %v status %s (%s), badge level %d\n", rep.Done, s.Status, s.EndReason, s.BadgeLevel)

	if _, err := l.Verify(ctx); err != nil {
		panic(err)
	}
	// Output:
	// subscribed until 2026-04-01 wallet 7.01 creator 2.49 platform 2.50
	// stickers: true
	// private chat: false subscription: no access: perk not included in the tier: "private_chat" is not in tier "fan" of cleo
	// renewal: [{subscription.renewed cleo/ann}] wallet 2.02
	// third month: [{subscription.grace_started cleo/ann}] status grace until 2026-05-04
	// stickers in grace: false true
	// after grace: [{subscription.ended cleo/ann}] status ended (renewal failed), badge level 2
}

// A subscription inside the caller's unit of work: the card payment that
// tops up the wallet and the subscription it pays for commit together, or
// not at all.
func ExampleProgram_SubscribeIn() {
	ctx := context.Background()
	l := ledger.New(memstore.New(), ledger.WithClock(ledgertest.NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))))
	dir := kit.NewDirectory(
		kit.Member{ID: "cleo", BirthDate: kit.NewDate(2001, 11, 3), Country: "IT", Followers: 52000, ViewsLastMonth: 310000},
		kit.Member{ID: "ann", Country: "US"}, kit.Member{ID: "eve", Country: "CN"})
	p, err := subscription.New(ctx, l, subscription.DefaultRules(), dir)
	if err != nil {
		panic(err)
	}
	if _, err := p.PublishTiers(ctx, subscription.PublishTiersRequest{EventID: "publish-1", Actor: "cleo", Tiers: []subscription.Tier{
		{ID: "fan", Price: decimal.RequireFromString("4.99"), Perks: []subscription.Perk{subscription.PerkBadge}}}}); err != nil {
		panic(err)
	}
	payAndSubscribe := func(member string) error {
		return l.Update(ctx, func(w *ledger.Writer) error {
			if _, err := w.OpenAccount(ledger.AccountSpec{Address: subscription.MemberAccount(member)}); err != nil {
				return err
			}
			_, err := w.Post(ledger.TransferRequest{Key: "card-" + member, Postings: []ledger.Posting{{From: ledger.World,
				To: subscription.MemberAccount(member), Asset: "USD", Amount: decimal.RequireFromString("4.99")}}})
			if err != nil {
				return err
			}
			_, err = p.SubscribeIn(w, subscription.SubscribeRequest{EventID: "sub-" + member, Actor: member, Creator: "cleo", TierID: "fan"})
			return err
		})
	}
	fmt.Println(payAndSubscribe("ann"))
	err = payAndSubscribe("eve")
	fmt.Println(err, "| rule:", ledger.RuleOf(err))
	_, err = l.Balance(ctx, subscription.MemberAccount("eve"), "USD")
	fmt.Println("eve's wallet:", err)
	// Output:
	// <nil>
	// subscription: country not offered: member eve is in "CN"; subscriptions are offered in US, GB, FR, IT, DE (rule countries) | rule: countries
	// eve's wallet: ledger: unknown account: "member:eve"
}
