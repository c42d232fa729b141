package gifting_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rewardkit/rewardkit/gifting"
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/memstore"
	"github.com/shopspring/decimal"
)

func Example() {
	ctx := context.Background()
	l := ledger.New(memstore.New())
	dir := kit.NewDirectory(
		kit.Member{ID: "ann", BirthDate: kit.NewDate(1995, time.June, 15), Kind: "personal", Country: "IT"},
		kit.Member{ID: "cat", BirthDate: kit.NewDate(2000, time.May, 2), Kind: "creator", Country: "IT"},
	)
	p, err := gifting.New(ctx, l, gifting.DefaultRules(), dir)
	if err != nil {
		panic(err)
	}
	pu, err := p.BuyPack(ctx, gifting.BuyPackRequest{PaymentRef: "pay-1", Actor: "ann", Pack: "it-app-350"})
	if err != nil {
		panic(err)
	}
	fmt.Printf("ann paid %s %s for %d coins\n", pu.Price.StringFixed(2), pu.Currency, pu.Coins)

	for i, g := range []string{"rose", "hand-hearts"} {
		res, err := p.SendGift(ctx, gifting.SendGiftRequest{EventID: fmt.Sprintf("gift-%d", i), Actor: "ann", Creator: "cat", Gift: g, Count: 1, Live: "live-1"})
		if err != nil {
			panic(err)
		}
		fmt.Printf("%s: %d coins, %d diamonds to cat, %d coins to the platform\n", g, res.Coins, res.Diamonds, res.PlatformCoins)
	}
	e, _ := p.CreatorEarnings(ctx, "cat")
	fmt.Printf("cat has %s diamonds worth %s %s\n", e.Diamonds, e.CashValue.StringFixed(2), e.Currency)
	top, _ := p.TopGifters(ctx, "live-1", 1)
	fmt.Printf("top gifter of live-1: %s with %d coins\n", top[0].Viewer, top[0].Coins)
	_, err = l.Verify(ctx)
	fmt.Println("verify:", err)
	// Output:
	// ann paid 5.49 EUR for 350 coins
	// rose: 1 coins, 0 diamonds to cat, 1 coins to the platform
	// hand-hearts: 100 coins, 50 diamonds to cat, 50 coins to the platform
	// cat has 50 diamonds worth 0.25 USD
	// top gifter of live-1: ann with 101 coins
	// verify: <nil>
}

// A risk officer records a chargeback; the coins come back even those held
// for an open order.
func ExampleProgram_Chargeback() {
	ctx := context.Background()
	l := ledger.New(memstore.New())
	dir := kit.NewDirectory(kit.Member{ID: "ann", BirthDate: kit.NewDate(1995, time.June, 15), Kind: "personal", Country: "IT"})
	staff := &kit.RoleDirectory{}
	staff.Grant("rita", kit.RoleRiskOfficer)
	p, err := gifting.New(ctx, l, gifting.DefaultRules(), dir, gifting.WithRoles(staff))
	if err != nil {
		panic(err)
	}
	if _, err := p.BuyPack(ctx, gifting.BuyPackRequest{PaymentRef: "pay-1", Actor: "ann", Pack: "it-app-350"}); err != nil {
		panic(err)
	}
	// 300 of ann's coins are held for an open order (as shoutout holds them).
	_, err = l.Hold(ctx, ledger.HoldRequest{Key: "order-1", Account: gifting.MemberAccount("ann"), Asset: "COIN",
		Amount: decimal.NewFromInt(300), ExpiresAt: l.Clock().Now().Add(72 * time.Hour)})
	if err != nil {
		panic(err)
	}
	_, err = p.Chargeback(ctx, gifting.ChargebackRequest{Actor: "ann", PaymentRef: "pay-1"})
	fmt.Println("ann records it herself:", errors.Is(err, ledger.ErrForbidden))
	pu, err := p.Chargeback(ctx, gifting.ChargebackRequest{Actor: "rita", PaymentRef: "pay-1"})
	if err != nil {
		panic(err)
	}
	fmt.Printf("rita records it: %d coins clawed back, %d unrecovered\n", pu.ClawedBack, pu.Unrecovered)
	// Output:
	// ann records it herself: true
	// rita records it: 350 coins clawed back, 0 unrecovered
}

// The In forms run inside a unit of work the caller owns: a purchase and
// the gift it pays for commit together, or not at all.
func ExampleProgram_SendGiftIn() {
	ctx := context.Background()
	l := ledger.New(memstore.New())
	dir := kit.NewDirectory(
		kit.Member{ID: "ann", BirthDate: kit.NewDate(1995, time.June, 15), Country: "IT"},
		kit.Member{ID: "pol", BirthDate: kit.NewDate(1970, time.May, 2), Kind: "political", Country: "IT"},
		kit.Member{ID: "cat", BirthDate: kit.NewDate(2000, time.May, 2), Kind: "creator", Country: "IT"},
	)
	p, err := gifting.New(ctx, l, gifting.DefaultRules(), dir)
	if err != nil {
		panic(err)
	}
	buyAndGift := func(ref, creator string) error {
		return l.Update(ctx, func(w *ledger.Writer) error {
			if _, err := p.BuyPackIn(w, gifting.BuyPackRequest{PaymentRef: ref, Actor: "ann", Pack: "it-app-70"}); err != nil {
				return err
			}
			_, err := p.SendGiftIn(w, gifting.SendGiftRequest{EventID: ref, Actor: "ann", Creator: creator, Gift: "perfume", Count: 1})
			return err
		})
	}
	err = buyAndGift("pay-1", "pol")
	fmt.Println("refused by rule:", ledger.RuleOf(err))
	coins, _ := l.Balance(ctx, gifting.MemberAccount("ann"), "COIN")
	fmt.Println("ann's coins:", coins.Posted)
	fmt.Println("gift to cat:", buyAndGift("pay-2", "cat"))
	coins, _ = l.Balance(ctx, gifting.MemberAccount("ann"), "COIN")
	fmt.Println("ann's coins:", coins.Posted)
	// Output:
	// refused by rule: blocked_recipient_kinds
	// ann's coins: 0
	// gift to cat: <nil>
	// ann's coins: 50
}

// A daily spend limit of 150 coins, counted on the viewer's own calendar:
// the second 100-coin gift of the day is refused by the rule.
func ExampleProgram_SpendToday() {
	ctx := context.Background()
	l := ledger.New(memstore.New())
	dir := kit.NewDirectory(
		kit.Member{ID: "ann", BirthDate: kit.NewDate(1995, time.June, 15), Kind: "personal", Country: "IT", TimeZone: "Europe/Rome"},
		kit.Member{ID: "cat", BirthDate: kit.NewDate(2000, time.May, 2), Kind: "creator", Country: "IT"},
	)
	rules := gifting.DefaultRules()
	rules.DailySpendLimit = 150
	p, err := gifting.New(ctx, l, rules, dir)
	if err != nil {
		panic(err)
	}
	if _, err := p.BuyPack(ctx, gifting.BuyPackRequest{PaymentRef: "pay-1", Actor: "ann", Pack: "it-app-350"}); err != nil {
		panic(err)
	}
	for i := 0; i < 2; i++ {
		_, err := p.SendGift(ctx, gifting.SendGiftRequest{EventID: fmt.Sprintf("gift-%d", i), Actor: "ann", Creator: "cat", Gift: "hand-hearts", Count: 1})
		fmt.Printf("%v %q\n", errors.Is(err, gifting.ErrDailyLimit), ledger.RuleOf(err))
	}
	u, _ := p.SpendToday(ctx, "ann")
	fmt.Println(u.Units, "spent,", u.RemainingUnits, "left")
	// Output:
	// false ""
	// true "daily_spend_limit"
	// 100 spent, 50 left
}
