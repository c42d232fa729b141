package kit_test

import (
	"context"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
	"github.com/rewardkit/rewardkit/ledger/memstore"
)

// A reward that matures in 30 days unless a refund vetoes it first.
func ExamplePending() {
	ctx := context.Background()
	clock := ledgertest.NewClock(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	l := ledger.New(memstore.New(), ledger.WithClock(clock))
	_ = kit.SetUpLedger(ctx, l, ledger.USD, "shop:budget")
	_, _ = l.Transfer(ctx, "fund", ledger.World, "shop:budget", "USD", decimal.NewFromInt(500))

	shop := kit.Pending{Program: "shop"}
	_ = l.Update(ctx, func(w *ledger.Writer) error {
		_, err := shop.Grant(w, kit.PendingGrant{ID: "order-1", Member: "amy", Asset: "USD", Amount: decimal.NewFromInt(50),
			From: "shop:budget", MaturesAt: clock.Now().Add(30 * 24 * time.Hour)})
		return err
	})
	pending, _ := l.Balance(ctx, kit.PendingAccount("amy"), "USD")
	fmt.Println("pending:", pending.Posted)

	clock.Advance(30 * 24 * time.Hour)
	rep, _ := shop.Tick(ctx, l, nil)
	wallet, _ := l.Balance(ctx, kit.WalletAccount("amy"), "USD")
	fmt.Println("released:", rep.IDs(kit.ItemPendingReleased), "wallet:", wallet.Posted)

	err := l.Update(ctx, func(w *ledger.Writer) error { _, err := shop.Veto(w, "order-1", "refund"); return err })
	fmt.Println("late veto:", err != nil)
	// Output:
	// pending: 50
	// released: [order-1] wallet: 50
	// late veto: true
}

// A clawback of 50 from a member who spent 40 of it: 10 from the wallet,
// 30 as a debt (bounded at 30), the rest written off; the next reward
// repays the debt before any of it is spendable.
func ExampleClaw() {
	ctx := context.Background()
	l := ledger.New(memstore.New())
	_ = kit.SetUpLedger(ctx, l, ledger.USD, "shop:budget", "shop:till")
	_, _ = l.Transfer(ctx, "fund", ledger.World, "shop:budget", "USD", decimal.NewFromInt(500))
	credit := func(key string, n int64) kit.CreditResult {
		var c kit.CreditResult
		_ = l.Update(ctx, func(w *ledger.Writer) (err error) {
			c, err = kit.Credit(w, kit.CreditRequest{Program: "shop", Key: key, Member: "bob", Asset: "USD",
				Amount: decimal.NewFromInt(n), From: "shop:budget"})
			return err
		})
		return c
	}
	credit("reward-1", 50)
	_, _ = l.Transfer(ctx, "spend", kit.WalletAccount("bob"), "shop:till", "USD", decimal.NewFromInt(40))

	_ = l.Update(ctx, func(w *ledger.Writer) error {
		c, err := kit.Claw(w, kit.ClawRequest{Program: "shop", Key: "refund-1", Member: "bob", Asset: "USD",
			Amount: decimal.NewFromInt(50), To: "shop:budget", Reason: "refund",
			Policy: kit.Recover(decimal.NewFromInt(30), "shop:losses")})
		fmt.Println("taken:", c.Taken, "debt:", c.Debt, "written off:", c.WrittenOff)
		return err
	})
	c := credit("reward-2", 50)
	fmt.Println("next reward repaid:", c.Repaid, "credited:", c.Credited)
	// Output:
	// taken: 10 debt: 30 written off: 10
	// next reward repaid: 30 credited: 20
}
