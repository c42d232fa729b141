package kit_test

import (
	"context"
	"fmt"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/memstore"
)

// A program's event runs once per event ID: a retry replays the first
// result and pays nothing.
func ExampleOnce() {
	ctx := context.Background()
	l := ledger.New(memstore.New())
	_ = l.DefineAsset(ctx, ledger.RUBY)
	_, _ = l.OpenAccount(ctx, ledger.AccountSpec{Address: ledger.World, Overdraft: ledger.Overdraft{Unbounded: true}})

	type signup struct{ Member string }
	reward := func(member string) (uint64, bool, error) {
		var id uint64
		var replay bool
		err := l.Update(ctx, func(w *ledger.Writer) error {
			var err error
			ev := kit.Event{Kind: "example.event", ID: "signup-" + member, Op: "signup", Request: signup{member}}
			id, replay, err = kit.Once(w, ev, func(w *ledger.Writer) (uint64, error) {
				wallet, err := kit.OpenWallet(w, kit.WalletPolicy{}, member)
				if err != nil {
					return 0, err
				}
				t, err := w.Post(ledger.TransferRequest{Postings: []ledger.Posting{
					{From: ledger.World, To: wallet, Asset: "RUBY", Amount: decimal.NewFromInt(20000)}}})
				return t.ID, err
			})
			return err
		})
		return id, replay, err
	}
	fmt.Println(reward("42"))
	fmt.Println(reward("42"))
	b, _ := l.Balance(ctx, kit.WalletAccount("42"), "RUBY")
	fmt.Println(b.Posted)
	// Output:
	// 1 false <nil>
	// 1 true <nil>
	// 20000
}

// Privileged actions name their actor, who must hold the role and be no
// party to the decision.
func ExampleAuthorize() {
	var roles kit.RoleDirectory
	roles.Grant("mod-1", kit.RoleReviewer)
	ctx := context.Background()
	fmt.Println(kit.Authorize(ctx, &roles, "mod-1", kit.RoleReviewer, "creator-7", "fan-9"))
	fmt.Println(kit.Authorize(ctx, &roles, "creator-7", kit.RoleReviewer, "creator-7", "fan-9"))
	// Output:
	// <nil>
	// ledger: forbidden: "creator-7" is a party to this decision
}
