package referral_test

import (
	"context"
	"fmt"
	"time"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
	"github.com/rewardkit/rewardkit/ledger/memstore"
	"github.com/rewardkit/rewardkit/referral"
)

// A member in Italy invites a friend who stays active five days.
func Example() {
	ctx := context.Background()
	clock := ledgertest.NewClock(time.Date(2020, 6, 1, 7, 0, 0, 0, time.UTC))
	l := ledger.New(memstore.New(), ledger.WithClock(clock))
	members := referral.NewMemberDirectory()
	p, err := referral.New(ctx, l, referral.DefaultRules(), members)
	if err != nil {
		panic(err)
	}
	members.Put(referral.Member{ID: "giulia", Country: "IT", Age: 24, HasProfile: true, PayoutLinked: true, Device: "d1"})
	members.Put(referral.Member{ID: "marco", Country: "IT", Age: 22, RegisteredAt: clock.Now(), Device: "d2"})

	code, _ := p.IssueCode(ctx, "code-1", "giulia")
	if _, err := p.Signup(ctx, "signup-1", "marco", code); err != nil {
		panic(err)
	}
	for day := 1; day <= 5; day++ {
		res, _ := p.RecordActivity(ctx, fmt.Sprintf("active-%d", day), "marco")
		if res.Grant != nil {
			fmt.Printf("day %d: retention bonus %s\n", day, res.Grant.Amount)
		}
		clock.Advance(24 * time.Hour)
	}
	_, err = p.Signup(ctx, "signup-2", "giulia", code)
	fmt.Println(err != nil)

	b, _ := l.Balance(ctx, referral.MemberAccount("giulia"), "RUBY")
	budget, _ := p.Budget(ctx)
	fmt.Println("giulia:", b.Posted, "RUBY; campaign spent:", budget.Spent)
	// Output:
	// day 5: retention bonus 6000
	// true
	// giulia: 26000 RUBY; campaign spent: 26000
}

// A shop reward held through an emergency stop: while the kill switch is
// on, Tick withholds it; once the risk desk releases the switch, it is
// paid.
func ExampleProgram_Tick() {
	ctx := context.Background()
	clock := ledgertest.NewClock(time.Date(2024, 3, 1, 15, 0, 0, 0, time.UTC))
	l := ledger.New(memstore.New(), ledger.WithClock(clock))
	members := referral.NewMemberDirectory()
	roles := &kit.RoleDirectory{}
	roles.Grant("risk-desk", kit.RoleRiskOfficer)
	p, err := referral.New(ctx, l, referral.ShopRules(), members, referral.WithRoles(roles))
	if err != nil {
		panic(err)
	}
	members.Put(referral.Member{ID: "ann", Country: "US", Age: 40, Device: "d1"})
	members.Put(referral.Member{ID: "ben", Country: "US", Age: 30, Device: "d2"})
	code, _ := p.IssueCode(ctx, "code-ann", "ann")
	if _, err := p.Signup(ctx, "signup-ben", "ben", code); err != nil {
		panic(err)
	}
	if _, err := p.RecordPurchase(ctx, "order-1", "ben", "order-1"); err != nil {
		panic(err)
	}
	if err := p.SetKillSwitch(ctx, "risk-desk", "US", true); err != nil {
		panic(err)
	}
	clock.Advance(31 * 24 * time.Hour) // the return window ends
	rep, _ := p.Tick(ctx)
	fmt.Println("paid:", rep.Released, "withheld:", len(rep.Withheld))

	if err := p.SetKillSwitch(ctx, "risk-desk", "US", false); err != nil {
		panic(err)
	}
	rep, _ = p.Tick(ctx)
	b, _ := l.Balance(ctx, referral.MemberAccount("ann"), "USD")
	fmt.Println("paid:", rep.Released, "withheld:", len(rep.Withheld), "ann:", b.Posted, "USD")
	// Output:
	// paid: 0 withheld: 1
	// paid: 1 withheld: 0 ann: 50 USD
}
