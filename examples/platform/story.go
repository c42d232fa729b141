package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/gifting"
	"github.com/rewardkit/rewardkit/ledger"
	storedriver "github.com/rewardkit/rewardkit/ledger/driver"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
	"github.com/rewardkit/rewardkit/ledger/scheduler"
	"github.com/rewardkit/rewardkit/payout"
	"github.com/rewardkit/rewardkit/referral"
	"github.com/rewardkit/rewardkit/shoutout"
	"github.com/rewardkit/rewardkit/subscription"
)

// storyStart is when the story begins (simulated time).
var storyStart = time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)

// teller prints the story and the balances each step changes.
type teller struct {
	ctx   context.Context
	out   io.Writer
	l     *ledger.Ledger
	clock *ledgertest.Clock
	// night is the platform's one scheduler: every program with work
	// that falls due registers with it when it opens, and the story runs
	// it where a night passes.
	night *scheduler.Scheduler
	last  map[ledger.BalanceKey]int64
	n     int
}

func (t *teller) chapter(title string) {
	t.n++
	fmt.Fprintf(t.out, "\n%d. %s\n", t.n, title)
}

func (t *teller) say(format string, args ...any) {
	fmt.Fprintf(t.out, "   "+format+"\n", args...)
}

// refused prints a refusal that the story expects, and fails the story if
// err is not of the expected kind.
func (t *teller) refused(what string, err, want error) error {
	if err == nil || !errors.Is(err, want) {
		return fmt.Errorf("%s: want a refusal wrapping %q, got %v", what, want, err)
	}
	t.say("refused, as it should be: %s", err)
	return nil
}

// changes prints every balance that changed since the last call, as
// "account  ASSET  before -> after".
func (t *teller) changes() error {
	now := map[ledger.BalanceKey]int64{}
	assets := map[string]ledger.Asset{}
	err := t.l.Store().View(t.ctx, func(tx storedriver.ReadTx) error {
		as, err := tx.Assets()
		if err != nil {
			return err
		}
		for _, a := range as {
			assets[a.Code] = ledger.Asset(a)
		}
		var after storedriver.BalanceKey
		for {
			bs, err := tx.Balances(after, 1000)
			if err != nil || len(bs) == 0 {
				return err
			}
			for _, b := range bs {
				now[ledger.BalanceKey{Address: b.Address, Asset: b.Asset}] = b.Posted
			}
			after = storedriver.BalanceKey{Address: bs[len(bs)-1].Address, Asset: bs[len(bs)-1].Asset}
		}
	})
	if err != nil {
		return err
	}
	var lines []string
	for k, v := range now {
		old := t.last[k]
		if old != v && k.Address != ledger.World {
			a := assets[k.Asset]
			lines = append(lines, fmt.Sprintf("   %-38s %-7s %12s -> %s", k.Address, k.Asset, a.Format(old), a.Format(v)))
		}
	}
	sort.Strings(lines)
	for _, ln := range lines {
		fmt.Fprintln(t.out, ln)
	}
	t.last = now
	return nil
}

// describeNight says what a scheduler run did: the items each ticker
// handled, and the tickers that found nothing due.
func describeNight(night scheduler.Report) string {
	if !night.Ran {
		return "it did not run: another run held the lease"
	}
	var handled, idle []string
	for _, r := range night.Results {
		for _, it := range r.Report.Done {
			handled = append(handled, fmt.Sprintf("%s %s (%s)", it.Kind, it.ID, r.Name))
		}
		if len(r.Report.Done) == 0 {
			idle = append(idle, r.Name)
		}
	}
	if len(handled) == 0 {
		return "nothing was due in " + strings.Join(idle, ", ")
	}
	s := "it handled " + strings.Join(handled, ", ")
	if len(idle) > 0 {
		s += "; nothing else was due in " + strings.Join(idle, ", ")
	}
	return s
}

// story runs every program together on one ledger and prints what
// happens, ending with the balance sheet and Verify.
func story(ctx context.Context, out io.Writer, store storedriver.Store) error {
	clock := ledgertest.NewClock(storyStart)
	l := ledger.New(store, ledger.WithClock(clock))
	t := &teller{ctx: ctx, out: out, l: l, clock: clock, last: map[ledger.BalanceKey]int64{}}
	dec := decimal.RequireFromString

	fmt.Fprintln(out, "rewardkit: the creator economy on one double-entry ledger")
	fmt.Fprintln(out, "(balance changes are shown as  account  asset  before -> after; world, the issuing account, is left out)")

	// The people, as the integrating service knows them.
	type who struct {
		id           string
		age          int
		followers    int64
		views        int64
		payoutLinked bool
		creator      bool
	}
	people := []who{
		{id: "giulia", age: 27, followers: 120000, views: 2500000, payoutLinked: true, creator: true},
		{id: "marco", age: 31, payoutLinked: true},
		{id: "sara", age: 22, payoutLinked: true},
		{id: "anna", age: 29},
		{id: "luca", age: 16},
	}
	refDir := kit.NewDirectory()
	giftDir := kit.NewDirectory()
	shoutDir := kit.NewDirectory()
	subDir := kit.NewDirectory()
	for _, p := range people {
		registered := storyStart.AddDate(-2, 0, 0)
		if p.id == "sara" {
			registered = storyStart // joins today
		}
		refDir.Put(kit.Member{ID: p.id, BirthDate: birthDateForAge(storyStart, p.age), Country: "IT", HasProfile: true, PayoutLinked: p.payoutLinked,
			RegisteredAt: registered, Device: "phone-" + p.id, PaymentInstrument: "card-" + p.id})
		kind := "personal"
		if p.creator {
			kind = "creator"
		}
		giftDir.Put(kit.Member{ID: p.id, BirthDate: birthDateForAge(storyStart, p.age), Kind: kind, Country: "IT"})
		shoutDir.Put(kit.Member{ID: p.id, BirthDate: birthDateForAge(storyStart, p.age), Followers: p.followers})
		subDir.Put(kit.Member{ID: p.id, BirthDate: birthDateForAge(storyStart, p.age), TimeZone: "Europe/Rome", Country: "IT",
			Followers: p.followers, ViewsLastMonth: p.views})
	}

	t.chapter("The programs open on one ledger")
	// One wallet policy for the whole platform, given to every program that
	// opens members' wallets: member:<id> is the same whichever meets the
	// member first.
	wallets := platformWallets()
	if err := defineWalletAssets(ctx, l); err != nil {
		return err
	}
	ref, err := referral.New(ctx, l, referral.DefaultRules(), refDir, referral.WithCodeSalt("story"), referral.WithWallets(wallets))
	if err != nil {
		return err
	}
	gift, err := gifting.New(ctx, l, giftingRules(), giftDir, gifting.WithWallets(wallets))
	if err != nil {
		return err
	}
	inbox := shoutout.NewInbox()
	shout, err := shoutout.New(ctx, l, shoutout.DefaultRules(), shoutDir, inbox, shoutout.WithRoles(shoutoutReviewers("moderator-7")), shoutout.WithWallets(wallets))
	if err != nil {
		return err
	}
	sub, err := subscription.New(ctx, l, subscriptionRules(), subDir, subscription.WithWallets(wallets))
	if err != nil {
		return err
	}
	paypal := payout.NewMemoryProvider(clock)
	rubyOut, err := payout.New(ctx, l, payout.DefaultRules(), paypal, payout.WithWallets(wallets))
	if err != nil {
		return err
	}
	diamondOut, err := payout.New(ctx, l, creatorPayoutRules(), paypal, payout.WithWallets(wallets))
	if err != nil {
		return err
	}
	t.say("referral (rubies, seed 000), gifting (coins and diamonds), shoutout, subscription (EUR),")
	t.say("payout twice: rubies -> EUR for members, diamonds -> USD for creators")
	t.say("one wallet policy for all of them: a member's coins may go %s below zero, room for a chargeback", wallets.Overdraft[ledger.COIN.Code])
	if t.night, err = scheduler.New(l); err != nil {
		return err
	}
	for _, r := range []struct {
		name string
		t    kit.Ticker
	}{{"referral", ref}, {"shoutout", shout}, {"subscription", sub}, {"payout.rubies", rubyOut}, {"payout.diamonds", diamondOut}} {
		if err := t.night.Register(r.name, r.t); err != nil {
			return err
		}
	}
	t.say("and one scheduler for what falls due: each night the ledger's hold expiry, then every program's Tick")
	if err := t.changes(); err != nil {
		return err
	}

	t.chapter("Members join through referrals and do tasks")
	code, err := ref.IssueCode(ctx, referral.IssueCodeRequest{EventID: "code-marco", Member: "marco"})
	if err != nil {
		return err
	}
	t.say("marco's invite code is %s; sara signs up with it", code)
	if _, err := ref.Signup(ctx, referral.SignupRequest{EventID: "signup-sara", Invitee: "sara", Code: code}); err != nil {
		return err
	}
	if err := t.changes(); err != nil {
		return err
	}
	t.say("the app delivers the signup event twice: the replay pays nothing")
	if _, err := ref.Signup(ctx, referral.SignupRequest{EventID: "signup-sara", Invitee: "sara", Code: code}); err != nil {
		return err
	}
	t.say("anna, on the platform for two years, tries marco's code:")
	_, err = ref.Signup(ctx, referral.SignupRequest{EventID: "signup-anna", Invitee: "anna", Code: code})
	if err := t.refused("anna's signup", err, referral.ErrNotNew); err != nil {
		return err
	}
	t.say("luca is 16 and asks for a code of his own:")
	_, err = ref.IssueCode(ctx, referral.IssueCodeRequest{EventID: "code-luca", Member: "luca"})
	if err := t.refused("luca's code", err, referral.ErrIneligible); err != nil {
		return err
	}
	t.say("sara comes back on five days in a row: marco's retention bonus")
	for day := 0; day < 5; day++ {
		clock.Set(storyStart.AddDate(0, 0, day).Add(8 * time.Hour))
		if _, err := ref.RecordActivity(ctx, referral.RecordActivityRequest{EventID: fmt.Sprintf("active-sara-%d", day), Invitee: "sara"}); err != nil {
			return err
		}
	}
	if err := t.changes(); err != nil {
		return err
	}
	t.say("sara uploads a profile photo and watches 10 minutes of videos")
	for _, task := range []string{"profile_photo", "watch_10_minutes"} {
		if _, err := ref.CompleteTask(ctx, referral.CompleteTaskRequest{EventID: "task-sara-" + task, Member: "sara", Task: task}); err != nil {
			return err
		}
	}
	if err := t.changes(); err != nil {
		return err
	}
	t.say("and tries to be paid for the profile photo again:")
	_, err = ref.CompleteTask(ctx, referral.CompleteTaskRequest{EventID: "task-sara-profile_photo-again", Member: "sara", Task: "profile_photo"})
	if err := t.refused("a second profile photo", err, referral.ErrAlreadyRewarded); err != nil {
		return err
	}

	t.chapter("Viewers buy coins and gift giulia during a LIVE")
	clock.Set(storyStart.AddDate(0, 0, 5).Add(20 * time.Hour))
	for _, buy := range []struct{ ref, who, pack string }{{"pay-anna-1", "anna", "it-app-7000"}, {"pay-marco-1", "marco", "it-app-350"}} {
		pu, err := gift.BuyPack(ctx, gifting.BuyPackRequest{PaymentRef: buy.ref, Actor: buy.who, Pack: buy.pack})
		if err != nil {
			return err
		}
		t.say("%s buys %d coins for %s %s", buy.who, pu.Coins, pu.Price.StringFixed(2), pu.Currency)
	}
	if err := t.changes(); err != nil {
		return err
	}
	_, err = gift.BuyPack(ctx, gifting.BuyPackRequest{PaymentRef: "pay-luca-1", Actor: "luca", Pack: "it-app-70"})
	if err := t.refused("luca buys coins", err, gifting.ErrIneligible); err != nil {
		return err
	}
	var diamonds int64
	for _, g := range []struct {
		ev, who, gift string
		count         int
	}{{"gift-1", "anna", "galaxy", 5}, {"gift-2", "marco", "hand-hearts", 2}, {"gift-3", "marco", "rose", 10}} {
		res, err := gift.SendGift(ctx, gifting.SendGiftRequest{EventID: g.ev, Actor: g.who, Creator: "giulia", Gift: g.gift, Count: g.count, Live: "live-giulia-1"})
		if err != nil {
			return err
		}
		diamonds += res.Diamonds
		t.say("%s sends %d x %s: %d coins, %d diamonds for giulia, %d coins to the platform", g.who, g.count, g.gift,
			res.Coins, res.Diamonds, res.PlatformCoins)
	}
	if err := t.changes(); err != nil {
		return err
	}
	top, err := gift.TopGifters(ctx, "live-giulia-1", 2)
	if err != nil {
		return err
	}
	for i, g := range top {
		t.say("top gifter #%d of the LIVE: %s, %d gifts, %d coins", i+1, g.Viewer, g.Gifts, g.Coins)
	}

	t.chapter("A fan buys a shoutout")
	if _, err := shout.SetOffer(ctx, shoutout.SetOfferRequest{Creator: "giulia", Price: 500}); err != nil {
		return err
	}
	t.say("giulia offers personalised videos for 500 coins; anna orders one: the coins are held")
	if _, err := shout.Request(ctx, shoutout.RequestRequest{OrderID: "shoutout-1", Fan: "anna", Creator: "giulia", Price: 500, Note: "happy birthday to my sister"}); err != nil {
		return err
	}
	if err := t.changes(); err != nil {
		return err
	}
	b, err := l.Balance(ctx, "member:anna", "COIN")
	if err != nil {
		return err
	}
	t.say("anna's coins: posted %s, held %s, available %s", b.Posted, b.Held, b.Available)
	clock.Advance(20 * time.Hour)
	if _, err := shout.Accept(ctx, shoutout.AcceptRequest{EventID: "so-ev-1", OrderID: "shoutout-1", Actor: "giulia"}); err != nil {
		return err
	}
	clock.Advance(30 * time.Hour)
	if _, err := shout.Submit(ctx, shoutout.SubmitRequest{EventID: "so-ev-2", OrderID: "shoutout-1", Actor: "giulia", Video: "video://giulia/1"}); err != nil {
		return err
	}
	o, err := shout.Approve(ctx, shoutout.ApproveRequest{EventID: "so-ev-3", OrderID: "shoutout-1", Actor: "moderator-7"})
	if err != nil {
		return err
	}
	t.say("giulia accepts, delivers, a moderator approves: %s, giulia gets %d coins, the platform %d",
		o.Status, o.CreatorShare, o.PlatformShare)
	if err := t.changes(); err != nil {
		return err
	}
	t.say("anna's inbox: %d message(s)", len(inbox.Messages("anna")))

	t.chapter("Members subscribe to giulia")
	if _, err := sub.PublishTiers(ctx, subscription.PublishTiersRequest{EventID: "tiers-giulia-1", Actor: "giulia", Tiers: creatorTiers()}); err != nil {
		return err
	}
	t.say("giulia publishes three tiers: fan 2.99, superfan 6.99, inner circle 19.99 EUR a month")
	for _, s := range []struct{ who, tier, amount string }{{"anna", "superfan", "10.00"}, {"sara", "fan", "5.00"}} {
		if err := topUp(ctx, l, wallets, "story-"+s.who, s.who, dec(s.amount)); err != nil {
			return err
		}
		t.say("%s tops up her wallet with %s EUR and subscribes to %s", s.who, s.amount, s.tier)
		if _, err := sub.Subscribe(ctx, subscription.SubscribeRequest{EventID: "sub-" + s.who, Actor: s.who, Creator: "giulia", TierID: s.tier}); err != nil {
			return err
		}
	}
	if err := t.changes(); err != nil {
		return err
	}
	for _, q := range []struct{ who, perk string }{{"anna", subscription.PerkPrivateChat}, {"sara", subscription.PerkPrivateChat}} {
		ok, err := sub.MayUse(ctx, q.who, "giulia", q.perk, clock.Now())
		if err != nil && !errors.Is(err, subscription.ErrNoAccess) {
			return err
		}
		t.say("may %s use giulia's %s? %v", q.who, q.perk, ok)
	}
	_, err = sub.Subscribe(ctx, subscription.SubscribeRequest{EventID: "sub-giulia", Actor: "giulia", Creator: "giulia", TierID: "fan"})
	if err := t.refused("giulia subscribes to herself", err, subscription.ErrSelfSubscription); err != nil {
		return err
	}

	if err := storyAds(t); err != nil {
		return err
	}

	t.chapter("giulia and marco cash out")
	clock.Advance(24 * time.Hour)
	for _, who := range []string{"giulia", "marco"} {
		for _, p := range []*payout.Program{rubyOut, diamondOut} {
			if _, err := p.LinkAccount(ctx, payout.LinkAccountRequest{Actor: who, Account: who + "@paypal.example"}); err != nil {
				return err
			}
		}
	}
	po, err := rubyOut.Withdraw(ctx, payout.WithdrawRequest{PayoutID: "cashout-marco-1", Actor: "marco", Amount: dec("26000")})
	if err != nil {
		return err
	}
	t.say("marco withdraws his %s RUBY: %s EUR, PayPal's fee %s, %s EUR paid (%s)", po.Amount, po.Gross.StringFixed(2),
		po.Fee.StringFixed(2), po.Net.StringFixed(2), po.Status)
	if err := t.changes(); err != nil {
		return err
	}
	_, err = rubyOut.Withdraw(ctx, payout.WithdrawRequest{PayoutID: "cashout-marco-2", Actor: "marco", Amount: dec("8000")})
	if err := t.refused("marco's second withdrawal this week", err, payout.ErrTooFrequent); err != nil {
		return err
	}
	earned := decimal.NewFromInt(diamonds)
	_, err = diamondOut.Withdraw(ctx, payout.WithdrawRequest{PayoutID: "cashout-giulia-0", Actor: "giulia",
		Source: gifting.EarningsAccount("giulia"), Amount: decimal.NewFromInt(1000)})
	if err := t.refused("giulia first asks for 1000 of her diamonds", err, payout.ErrBelowMinimum); err != nil {
		return err
	}
	if err := t.changes(); err != nil {
		return err
	}
	t.say("her %s diamonds stay in %s: a refused withdrawal is refused whole, with no sweep to strand them", earned, gifting.EarningsAccount("giulia"))
	paypal.Next(payout.HoldPayment)
	po, err = diamondOut.Withdraw(ctx, payout.WithdrawRequest{PayoutID: "cashout-giulia-1", Actor: "giulia",
		Source: gifting.EarningsAccount("giulia"), Amount: earned})
	if err != nil {
		return err
	}
	t.say("giulia withdraws her %s DIAMOND straight from her gifting earnings, at the value gifting configures (%s %s each):",
		po.Amount, giftingRules().DiamondValue.Amount, giftingRules().DiamondValue.Currency)
	t.say("%s USD gross, fee %s, net %s; PayPal holds the payment for review: %s",
		po.Gross.StringFixed(2), po.Fee.StringFixed(2), po.Net.StringFixed(2), po.Status)
	if err := t.changes(); err != nil {
		return err
	}
	if po.Status == payout.StatusHeld {
		if err := paypal.Resolve("payout:paypal-creators:cashout-giulia-1", payout.OutcomeSucceeded); err != nil {
			return err
		}
	}
	clock.Advance(time.Hour)
	night, err := t.night.RunOnce(ctx)
	if err == nil {
		err = night.Err()
	}
	if err != nil {
		return err
	}
	po, err = diamondOut.Get(ctx, "cashout-giulia-1")
	if err != nil {
		return err
	}
	t.say("PayPal releases it; the nightly run asks PayPal again and settles it: %s", po.Status)
	t.say("%s", describeNight(night))
	if err := t.changes(); err != nil {
		return err
	}

	t.chapter("Balance sheet: every asset sums to zero")
	sheets, err := balanceSheet(ctx, l)
	if err != nil {
		return err
	}
	printSheet(out, sheets)
	for _, a := range sheets {
		if a.Total != 0 {
			return fmt.Errorf("%w: %s sums to %s", errInvariant, a.Asset.Code, a.amount(a.Total))
		}
	}

	t.chapter("Verify")
	rep, err := l.Verify(ctx)
	if err != nil {
		return fmt.Errorf("%w: %w", errInvariant, err)
	}
	t.say("%d transactions, %d holds and %d balances replayed; the hash chain is intact", rep.Transactions, rep.Holds, rep.Balances)
	var totals []string
	for _, a := range sheets {
		totals = append(totals, fmt.Sprintf("%s %s", a.Asset.Code, rep.Totals[a.Asset.Code]))
	}
	t.say("totals: %s", strings.Join(totals, ", "))
	return nil
}
