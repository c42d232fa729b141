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
	dir := gifting.NewMemberDirectory(
		gifting.Member{ID: "ann", Age: 30, Kind: "personal", Region: "IT"},
		gifting.Member{ID: "cat", Age: 25, Kind: "creator", Region: "IT"},
	)
	p, err := gifting.New(ctx, l, gifting.DefaultRules(), dir)
	if err != nil {
		panic(err)
	}
	pu, err := p.BuyPack(ctx, "pay-1", "ann", "it-app-350")
	if err != nil {
		panic(err)
	}
	fmt.Printf("ann paid %s %s for %d coins\n", pu.Price.StringFixed(2), pu.Currency, pu.Coins)

	for i, g := range []string{"rose", "hand-hearts"} {
		res, err := p.SendGift(ctx, fmt.Sprintf("gift-%d", i), gifting.GiftRequest{Viewer: "ann", Creator: "cat", Gift: g, Count: 1, Live: "live-1"})
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
	dir := gifting.NewMemberDirectory(gifting.Member{ID: "ann", Age: 30, Kind: "personal", Region: "IT"})
	staff := &kit.RoleDirectory{}
	staff.Grant("rita", kit.RoleRiskOfficer)
	p, err := gifting.New(ctx, l, gifting.DefaultRules(), dir, gifting.WithRoles(staff))
	if err != nil {
		panic(err)
	}
	if _, err := p.BuyPack(ctx, "pay-1", "ann", "it-app-350"); err != nil {
		panic(err)
	}
	// 300 of ann's coins are held for an open order (as shoutout holds them).
	_, err = l.Hold(ctx, ledger.HoldRequest{Key: "order-1", Account: gifting.MemberAccount("ann"), Asset: "COIN",
		Amount: decimal.NewFromInt(300), ExpiresAt: l.Clock().Now().Add(72 * time.Hour)})
	if err != nil {
		panic(err)
	}
	_, err = p.Chargeback(ctx, "ann", "pay-1")
	fmt.Println("ann records it herself:", errors.Is(err, ledger.ErrForbidden))
	pu, err := p.Chargeback(ctx, "rita", "pay-1")
	if err != nil {
		panic(err)
	}
	fmt.Printf("rita records it: %d coins clawed back, %d unrecovered\n", pu.ClawedBack, pu.Unrecovered)
	// Output:
	// ann records it herself: true
	// rita records it: 350 coins clawed back, 0 unrecovered
}
