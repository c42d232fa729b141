package referral_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

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
	members := kit.NewDirectory()
	p, err := referral.New(ctx, l, referral.DefaultRules(), members)
	if err != nil {
		panic(err)
	}
	members.Put(kit.Member{ID: "giulia", BirthDate: kit.NewDate(1996, time.March, 2), TimeZone: "Europe/Rome", Country: "IT",
		HasProfile: true, PayoutLinked: true, Device: "d1"})
	members.Put(kit.Member{ID: "marco", BirthDate: kit.NewDate(1998, time.May, 30), TimeZone: "Europe/Rome", Country: "IT",
		RegisteredAt: clock.Now(), Device: "d2"})

	code, _ := p.IssueCode(ctx, referral.IssueCodeRequest{EventID: "code-1", Member: "giulia"})
	if _, err := p.Signup(ctx, referral.SignupRequest{EventID: "signup-1", Invitee: "marco", Code: code}); err != nil {
		panic(err)
	}
	for day := 1; day <= 5; day++ {
		res, _ := p.RecordActivity(ctx, referral.RecordActivityRequest{EventID: fmt.Sprintf("active-%d", day), Invitee: "marco"})
		if res.Grant != nil {
			fmt.Printf("day %d: retention bonus %s\n", day, res.Grant.Amount)
		}
		clock.Advance(24 * time.Hour)
	}
	_, err = p.Signup(ctx, referral.SignupRequest{EventID: "signup-2", Invitee: "giulia", Code: code})
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
	members := kit.NewDirectory()
	roles := &kit.RoleDirectory{}
	roles.Grant("risk-desk", kit.RoleRiskOfficer)
	p, err := referral.New(ctx, l, referral.ShopRules(), members, referral.WithRoles(roles))
	if err != nil {
		panic(err)
	}
	members.Put(kit.Member{ID: "ann", BirthDate: kit.NewDate(1984, time.January, 9), Country: "US", Device: "d1"})
	members.Put(kit.Member{ID: "ben", BirthDate: kit.NewDate(1994, time.August, 21), Country: "US", Device: "d2"})
	code, _ := p.IssueCode(ctx, referral.IssueCodeRequest{EventID: "code-ann", Member: "ann"})
	if _, err := p.Signup(ctx, referral.SignupRequest{EventID: "signup-ben", Invitee: "ben", Code: code}); err != nil {
		panic(err)
	}
	if _, err := p.RecordPurchase(ctx, referral.RecordPurchaseRequest{EventID: "order-1", Member: "ben", PurchaseID: "order-1"}); err != nil {
		panic(err)
	}
	if err := p.SetKillSwitch(ctx, referral.SetKillSwitchRequest{Actor: "risk-desk", Country: "US", Disabled: true}); err != nil {
		panic(err)
	}
	clock.Advance(31 * 24 * time.Hour) // the return window ends
	rep, _ := p.Tick(ctx)
	fmt.Println("paid:", rep.IDs(referral.ItemReleased), "withheld:", rep.Failed[0].ID, errors.Is(rep.Failed[0].Err, referral.ErrCountryDisabled))

	if err := p.SetKillSwitch(ctx, referral.SetKillSwitchRequest{Actor: "risk-desk", Country: "US", Disabled: false}); err != nil {
		panic(err)
	}
	rep, _ = p.Tick(ctx)
	b, _ := l.Balance(ctx, referral.MemberAccount("ann"), "USD")
	fmt.Println("paid:", rep.IDs(referral.ItemReleased), "withheld:", len(rep.Failed), "ann:", b.Posted, "USD")
	// Output:
	// paid: [] withheld: ben true
	// paid: [ben] withheld: 0 ann: 50 USD
}

// A shop records a purchase and the referral reward it earns in one unit
// of work: the payment and the held reward are kept together, or, when
// the reward is refused, neither is.
func ExampleProgram_RecordPurchaseIn() {
	ctx := context.Background()
	clock := ledgertest.NewClock(time.Date(2024, 3, 1, 15, 0, 0, 0, time.UTC))
	l := ledger.New(memstore.New(), ledger.WithClock(clock))
	members := kit.NewDirectory(
		kit.Member{ID: "ann", BirthDate: kit.NewDate(1984, time.January, 9), Country: "US", Device: "d1"},
		kit.Member{ID: "ben", BirthDate: kit.NewDate(1994, time.August, 21), Country: "US", Device: "d2"},
		kit.Member{ID: "cat", BirthDate: kit.NewDate(1991, time.May, 3), Country: "US", Device: "d3"},
	)
	p, err := referral.New(ctx, l, referral.ShopRules(), members)
	if err != nil {
		panic(err)
	}
	_, _ = l.OpenAccount(ctx, ledger.AccountSpec{Address: "shop:sales"})
	code, _ := p.IssueCode(ctx, referral.IssueCodeRequest{EventID: "code-ann", Member: "ann"})
	for _, who := range []string{"ben", "cat"} {
		if _, err := p.Signup(ctx, referral.SignupRequest{EventID: "signup-" + who, Invitee: who, Code: code}); err != nil {
			panic(err)
		}
	}

	buy := func(who, order string) error {
		return l.Update(ctx, func(w *ledger.Writer) error {
			if _, err := w.Post(ledger.TransferRequest{Key: "shop:" + order,
				Postings: []ledger.Posting{{From: ledger.World, To: "shop:sales", Asset: "USD", Amount: decimal.NewFromInt(80)}}}); err != nil {
				return err
			}
			_, err := p.RecordPurchaseIn(w, referral.RecordPurchaseRequest{EventID: "purchase-" + order, Member: who, PurchaseID: order})
			return err
		})
	}
	fmt.Println("ben buys:", buy("ben", "o-1"))
	members.Update("ann", func(m *kit.Member) { m.Employee = true }) // ann joins the company: she may not earn
	err = buy("cat", "o-2")
	fmt.Println("cat buys:", errors.Is(err, referral.ErrIneligible), ledger.RuleOf(err))
	sales, _ := l.Balance(ctx, "shop:sales", "USD")
	budget, _ := p.Budget(ctx)
	fmt.Println("shop sales:", sales.Posted, "USD; rewards held:", budget.Held, "USD")
	// Output:
	// ben buys: <nil>
	// cat buys: true exclude_employees
	// shop sales: 80 USD; rewards held: 50 USD
}

// Another market's limits, as rules: 2 invites a day per referrer. The
// third signup of the day is refused by the rule, and Caps shows what is
// left.
func ExampleProgram_Caps() {
	ctx := context.Background()
	clock := ledgertest.NewClock(time.Date(2020, 6, 1, 7, 0, 0, 0, time.UTC))
	l := ledger.New(memstore.New(), ledger.WithClock(clock))
	members := kit.NewDirectory()
	rules := referral.DefaultRules()
	rules.InvitesPerDay = 2
	rules.DailyEarningCap = decimal.NewFromInt(100_000)
	p, err := referral.New(ctx, l, rules, members)
	if err != nil {
		panic(err)
	}
	members.Put(kit.Member{ID: "giulia", BirthDate: kit.NewDate(1996, time.March, 2), Country: "IT",
		HasProfile: true, PayoutLinked: true, Device: "d0"})
	code, _ := p.IssueCode(ctx, referral.IssueCodeRequest{EventID: "code", Member: "giulia"})
	for i := 1; i <= 3; i++ {
		id := fmt.Sprintf("friend-%d", i)
		members.Put(kit.Member{ID: id, BirthDate: kit.NewDate(1998, time.May, 30), Country: "IT",
			RegisteredAt: clock.Now(), Device: fmt.Sprintf("d%d", i)})
		_, err := p.Signup(ctx, referral.SignupRequest{EventID: "signup-" + id, Invitee: id, Code: code})
		fmt.Println(id, ledger.RuleOf(err) == "invites_per_day")
	}
	caps, _ := p.Caps(ctx, "giulia")
	for _, c := range caps {
		fmt.Println(c.Rule, c.Period, c.Count, c.Units, c.RemainingCount, c.RemainingUnits)
	}
	// Output:
	// friend-1 false
	// friend-2 false
	// friend-3 true
	// invites_per_day 2020-06-01 2 0 0 -1
	// daily_earning_cap 2020-06-01 0 40000 -1 60000
}
