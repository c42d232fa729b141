package main

// One member active in all six programs on one ledger, on both stores:
// issue 10 #5. Before the fix, gifting opened member:<id> with a COIN
// overdraft and referral, payout and subscription then opened the same
// address with an empty policy and got ErrAccountConflict for ever: a
// member who bought coins could never be rewarded, withdraw or subscribe.
// Now every program opens the wallet through kit.OpenWallet with the one
// kit.WalletPolicy the platform gives them all (WithWallets), and these
// tests walk one member through every program in several orders, so that
// each program in turn meets a wallet another opened (or opens it first).

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/adsbuy"
	"github.com/rewardkit/rewardkit/gifting"
	"github.com/rewardkit/rewardkit/ledger"
	storedriver "github.com/rewardkit/rewardkit/ledger/driver"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
	"github.com/rewardkit/rewardkit/ledger/teststore"
	"github.com/rewardkit/rewardkit/payout"
	"github.com/rewardkit/rewardkit/referral"
	"github.com/rewardkit/rewardkit/shoutout"
	"github.com/rewardkit/rewardkit/subscription"
)

// oneMemberStart is when the one-member tests begin.
var oneMemberStart = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// The people of the one-member tests. m1 is the member under test; the
// others are the parties and the staff around them, none of them m1.
const (
	omMember     = "m1"
	omCreator    = "cleo"           // m1 gifts her, subscribes to her, orders a shoutout from her
	omInvitee    = "m1-friend"      // signs up with m1's invite code
	omModerator  = "mod-7"          // kit.RoleReviewer: shoutout videos
	omSalesRep   = "rep-bruno"      // kit.RoleSalesRep: ad campaigns
	omCompliance = "compliance-ana" // kit.RolePayoutReviewer: payouts in review
	omRisk       = "risk-rita"      // kit.RoleRiskOfficer: chargebacks, refunds, kill switches
)

// The steps of the one-member tests and what each must come after.
const (
	stepBuyCoins  = "buy coins"   // gifting: a 350-coin pack
	stepGift      = "send a gift" // gifting: hand hearts (100 coins) to cleo
	stepReferral  = "referral"    // m1 invites a friend (20,000 RUBY) and adds a profile photo (1,000 RUBY)
	stepSubscribe = "subscribe"   // a 10 EUR top-up, then cleo's 2.99 EUR fan tier
	stepShoutout  = "shoutout"    // a 200-coin video, approved by a moderator
	stepAds       = "buy ads"     // an advertiser account, 500 USD, a 7 x 60 USD campaign, one delivery of 30 USD
	stepWithdraw  = "withdraw"    // 20,000 RUBY to PayPal, through review
)

var stepNeeds = map[string][]string{
	stepGift:     {stepBuyCoins},
	stepShoutout: {stepBuyCoins},
	stepWithdraw: {stepReferral},
}

// oneMemberOrders are the orders the member goes through the programs in:
// each program that touches the wallet opens it first in at least one of
// them (or the platform's own top-up does, for subscription, which needs
// money in the wallet), and meets a wallet another program opened in the
// others.
var oneMemberOrders = []struct {
	name   string
	opener string // the step that opens m1's wallet
	steps  []string
}{
	{"gifting first", stepBuyCoins, []string{stepBuyCoins, stepGift, stepReferral, stepSubscribe, stepShoutout, stepAds, stepWithdraw}},
	{"referral first", stepReferral, []string{stepReferral, stepWithdraw, stepSubscribe, stepAds, stepBuyCoins, stepShoutout, stepGift}},
	{"subscription first", stepSubscribe, []string{stepSubscribe, stepBuyCoins, stepShoutout, stepReferral, stepGift, stepWithdraw, stepAds}},
	{"ads first, gift last", stepBuyCoins, []string{stepAds, stepBuyCoins, stepShoutout, stepSubscribe, stepReferral, stepWithdraw, stepGift}},
}

// oneMemberWallets is the wallet policy of these tests: the platform's
// (platformWallets), whose 500-coin overdraft is the configuration that
// used to make every program but gifting fail with ErrAccountConflict.
func oneMemberWallets(t *testing.T) kit.WalletPolicy {
	w := platformWallets()
	require.True(t, w.Overdraft[ledger.COIN.Code].Equal(decimal.NewFromInt(500)), "the tests expect a 500-coin overdraft")
	return w
}

// TestOneMemberInEveryProgram: issue 10 #5. One member (adult, in Italy,
// with a profile and a linked payout account) buys coins, sends a gift,
// invites a friend and is rewarded in rubies, subscribes to a creator,
// has a shoutout approved, buys an ad campaign a sales rep approves, and
// withdraws rubies through review — all on one ledger, the six programs
// sharing one wallet policy with a COIN overdraft — in several orders, on
// memstore and pgstore. After every step the ledger verifies and every
// asset sums to zero; the member acting as the staff of their own
// privileged step is ErrForbidden and writes nothing; at the end the
// member's balances are exactly what the steps imply, whatever the order,
// and replaying every step moves nothing.
func TestOneMemberInEveryProgram(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		for _, order := range oneMemberOrders {
			t.Run(order.name, func(t *testing.T) {
				o := newOneMember(t, open(t), false)
				o.setUpAll()
				o.walk(order.steps, order.opener)
				o.checkFinal()

				// Every event again, as an at-least-once queue would
				// deliver it: each is a replay, and nothing moves.
				before := o.state()
				o.replaying = true
				for _, step := range order.steps {
					o.run(step)
				}
				require.Equal(t, before, o.state(), "replays moved nothing")
				o.checkFinal()
			})
		}
	})
}

// TestOneMemberProgramsLaunchedOneByOne: a platform that launches its
// programs one at a time (each set up just before the member first uses
// it), every program given the same wallet policy from the start. A
// wallet's policy is fixed when it opens, so the policy's assets must be
// defined before the first program starts: a program's New refuses a
// policy that names an undefined asset (it used to fail every wallet it
// opened with ErrUnknownAsset, found while writing
// TestOneMemberInEveryProgram), and once the platform defines them, every
// launch order works.
func TestOneMemberProgramsLaunchedOneByOne(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		bare := ledger.New(open(t))
		_, err := referral.New(context.Background(), bare, referral.DefaultRules(), kit.NewDirectory(), referral.WithWallets(oneMemberWallets(t)))
		require.ErrorIs(t, err, referral.ErrInvalidRules)
		require.ErrorIs(t, err, ledger.ErrUnknownAsset)
		for _, order := range oneMemberOrders {
			t.Run(order.name, func(t *testing.T) {
				o := newOneMember(t, open(t), true)
				o.walk(order.steps, order.opener)
				o.checkFinal()
			})
		}
	})
}

// TestSharedCoinOverdraftIsNotCreditForSubscriptions: the shared policy's
// COIN overdraft is room for a gifting chargeback; gifting, shoutout and
// payout never spend into it (gifting's and shoutout's docs, payout's
// "an overdraft is never paid out"). A subscription priced in COIN
// (subscription's doc: "COIN works the same way") charges a member with no
// coins at all, taking the wallet to -300 COIN: the one policy means
// "chargebacks only" to three programs and "credit" to the fourth.
// Now subscription, like the others, charges only what is available
// (kit.Spendable).
func TestSharedCoinOverdraftIsNotCreditForSubscriptions(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		o := newOneMember(t, open(t), false)
		o.setUpAll()
		rules := subscriptionRules()
		rules.Asset = ledger.COIN
		rules.MinPrice, rules.MaxPrice = decimal.NewFromInt(100), decimal.NewFromInt(10000)
		dir := kit.NewDirectory(kit.Member{ID: omMember, BirthDate: kit.NewDate(1996, 4, 2), Country: "IT"},
			kit.Member{ID: omCreator, BirthDate: kit.NewDate(2001, 4, 2), Country: "IT", Followers: 50000, ViewsLastMonth: 400000})
		sub, err := subscription.New(o.ctx, o.l, rules, dir, subscription.WithWallets(o.wallets))
		require.NoError(t, err)
		_, err = sub.PublishTiers(o.ctx, subscription.PublishTiersRequest{EventID: "coin-tiers", Actor: omCreator, Tiers: []subscription.Tier{
			{ID: "coin-fan", Price: decimal.NewFromInt(300), Perks: []subscription.Perk{subscription.PerkBadge}}}})
		require.NoError(t, err)
		o.walk([]string{stepReferral}, stepReferral) // the wallet is open, with no coins
		before := o.state()
		_, err = sub.Subscribe(o.ctx, subscription.SubscribeRequest{EventID: "coin-sub-m1", Actor: omMember, Creator: omCreator, TierID: "coin-fan"})
		require.ErrorIs(t, err, subscription.ErrInsufficientFunds, "the chargeback overdraft pays no subscription")
		require.Equal(t, before, o.state())
	})
}

// oneMember is one platform (six programs on one ledger) and the member
// walking through it.
type oneMember struct {
	t       *testing.T
	ctx     context.Context
	l       *ledger.Ledger
	clock   *ledgertest.Clock
	wallets kit.WalletPolicy
	staff   *kit.RoleDirectory
	// lazy: each program is set up just before its first step, not all
	// at the start.
	lazy bool
	// replaying: the steps run again with the same event ids; every
	// result must say it is a replay (where the API says so).
	replaying bool
	done      map[string]bool

	refDir *kit.Directory
	inbox  *shoutout.Inbox
	paypal *payout.MemoryProvider
	gift   *gifting.Program
	ref    *referral.Program
	shout  *shoutout.Program
	sub    *subscription.Program
	ads    *adsbuy.Program
	pay    *payout.Program
}

func newOneMember(t *testing.T, store storedriver.Store, lazy bool) *oneMember {
	clock := ledgertest.NewClock(oneMemberStart)
	staff := &kit.RoleDirectory{}
	staff.Grant(omModerator, kit.RoleReviewer)
	staff.Grant(omSalesRep, kit.RoleSalesRep)
	staff.Grant(omCompliance, kit.RolePayoutReviewer)
	staff.Grant(omRisk, kit.RoleRiskOfficer)
	o := &oneMember{
		t: t, ctx: context.Background(), l: ledger.New(store, ledger.WithClock(clock)), clock: clock,
		wallets: oneMemberWallets(t), staff: staff, lazy: lazy, done: map[string]bool{},
	}
	// The platform defines its wallet policy's assets before any program
	// starts (kit.WalletPolicy.Check).
	require.NoError(t, o.l.DefineAsset(o.ctx, ledger.COIN))
	return o
}

// setUpAll sets every program up, as a platform that starts them together
// does.
func (o *oneMember) setUpAll() {
	for _, step := range []string{stepReferral, stepBuyCoins, stepShoutout, stepSubscribe, stepAds, stepWithdraw} {
		o.setUp(step)
	}
}

// setUp sets up the program a step uses, once, with the shared wallet
// policy and the staff directory.
func (o *oneMember) setUp(step string) {
	t, ctx := o.t, o.ctx
	var err error
	switch step {
	case stepBuyCoins, stepGift:
		if o.gift != nil {
			return
		}
		dir := kit.NewDirectory(
			kit.Member{ID: omMember, BirthDate: birthDateForAge(oneMemberStart, 30), Kind: "personal", Country: "IT"},
			kit.Member{ID: omCreator, BirthDate: birthDateForAge(oneMemberStart, 25), Kind: "creator", Country: "IT"})
		o.gift, err = gifting.New(ctx, o.l, gifting.DefaultRules(), dir, gifting.WithWallets(o.wallets), gifting.WithRoles(o.staff))
	case stepReferral:
		if o.ref != nil {
			return
		}
		o.refDir = kit.NewDirectory()
		o.refDir.Put(kit.Member{ID: omMember, BirthDate: birthDateForAge(oneMemberStart, 30), Country: "IT", HasProfile: true, PayoutLinked: true,
			RegisteredAt: oneMemberStart.AddDate(-1, 0, 0), Device: "phone-m1", PaymentInstrument: "card-m1"})
		o.ref, err = referral.New(ctx, o.l, referral.DefaultRules(), o.refDir, referral.WithCodeSalt("one-member"),
			referral.WithWallets(o.wallets), referral.WithRoles(o.staff))
	case stepShoutout:
		if o.shout != nil {
			return
		}
		dir := kit.NewDirectory(
			kit.Member{ID: omMember, BirthDate: birthDateForAge(oneMemberStart, 30)},
			kit.Member{ID: omCreator, BirthDate: birthDateForAge(oneMemberStart, 25), Followers: 50000})
		o.inbox = shoutout.NewInbox()
		o.shout, err = shoutout.New(ctx, o.l, shoutout.DefaultRules(), dir, o.inbox, shoutout.WithWallets(o.wallets), shoutout.WithRoles(o.staff))
		require.NoError(t, err)
		_, err = o.shout.SetOffer(ctx, shoutout.SetOfferRequest{Creator: omCreator, Price: 200})
	case stepSubscribe:
		if o.sub != nil {
			return
		}
		dir := kit.NewDirectory(kit.Member{ID: omMember, BirthDate: kit.NewDate(1996, 4, 2), Country: "IT"},
			kit.Member{ID: omCreator, BirthDate: kit.NewDate(2001, 4, 2), Country: "IT", Followers: 50000, ViewsLastMonth: 400000})
		o.sub, err = subscription.New(ctx, o.l, subscriptionRules(), dir, subscription.WithWallets(o.wallets), subscription.WithRoles(o.staff))
		require.NoError(t, err)
		_, err = o.sub.PublishTiers(ctx, subscription.PublishTiersRequest{EventID: "tiers-cleo", Actor: omCreator, Tiers: creatorTiers()})
	case stepAds:
		if o.ads != nil {
			return
		}
		// adsbuy opens no wallets (advertisers' money is in
		// advertiser:<id>), so it takes no wallet policy.
		o.ads, err = adsbuy.New(ctx, o.l, adsRules(), adsbuy.WithRoles(o.staff))
	case stepWithdraw:
		if o.pay != nil {
			return
		}
		rules := payout.DefaultRules()
		rules.ReviewAbove = decimal.NewFromInt(1) // so that m1's 2 EUR goes to review
		o.paypal = payout.NewMemoryProvider(o.clock)
		o.pay, err = payout.New(ctx, o.l, rules, o.paypal, payout.WithWallets(o.wallets), payout.WithRoles(o.staff))
		require.NoError(t, err)
		_, err = o.pay.LinkAccount(ctx, payout.LinkAccountRequest{Actor: omMember, Account: "m1@paypal.example"})
	default:
		t.Fatalf("no step %q", step)
	}
	require.NoError(t, err, "set up the program of %q", step)
}

// walk runs the steps in order, an hour apart, checking the ledger after
// each, and that opener is the step that opens the member's wallet.
func (o *oneMember) walk(steps []string, opener string) {
	t := o.t
	for _, step := range steps {
		for _, need := range stepNeeds[step] {
			require.True(t, o.done[need], "step %q needs %q first", step, need)
		}
		wasOpen := o.walletOpen()
		o.clock.Advance(time.Hour)
		t.Logf("%s", step)
		o.run(step)
		o.done[step] = true
		o.checkLedger(step)
		if step == opener {
			require.False(t, wasOpen, "the wallet was open before %q", step)
		}
		if o.done[opener] {
			require.True(t, o.walletOpen(), "the wallet is open after %q", opener)
			o.checkWalletPolicy()
		} else {
			require.False(t, o.walletOpen(), "%q opened the wallet, before %q", step, opener)
		}
	}
}

// run runs one step.
func (o *oneMember) run(step string) {
	if o.lazy {
		o.setUp(step)
	}
	switch step {
	case stepBuyCoins:
		o.buyCoins()
	case stepGift:
		o.sendGift()
	case stepReferral:
		o.referral()
	case stepSubscribe:
		o.subscribe()
	case stepShoutout:
		o.shoutout()
	case stepAds:
		o.buyAds()
	case stepWithdraw:
		o.withdraw()
	default:
		o.t.Fatalf("no step %q", step)
	}
}

func (o *oneMember) buyCoins() {
	t, ctx := o.t, o.ctx
	pu, err := o.gift.BuyPack(ctx, gifting.BuyPackRequest{PaymentRef: "pay-m1", Actor: omMember, Pack: "it-app-350"})
	require.NoError(t, err)
	require.Equal(t, o.replaying, pu.Replayed)
	require.Equal(t, int64(350), pu.Coins)
	require.Equal(t, "5.49", pu.Price.StringFixed(2))
	o.asOwnStaff("m1 records a chargeback of their own coin purchase", kit.RoleRiskOfficer, func() error {
		_, err := o.gift.Chargeback(ctx, gifting.ChargebackRequest{Actor: omMember, PaymentRef: "pay-m1"})
		return err
	})
}

func (o *oneMember) sendGift() {
	t, ctx := o.t, o.ctx
	res, err := o.gift.SendGift(ctx, gifting.SendGiftRequest{EventID: "gift-m1", Actor: omMember, Creator: omCreator, Gift: "hand-hearts", Count: 1, Live: "live-cleo-1"})
	require.NoError(t, err)
	require.Equal(t, o.replaying, res.Replayed)
	require.Equal(t, int64(100), res.Coins)
	require.Equal(t, int64(50), res.Diamonds)
}

func (o *oneMember) referral() {
	t, ctx := o.t, o.ctx
	code, err := o.ref.IssueCode(ctx, referral.IssueCodeRequest{EventID: "code-m1", Member: omMember})
	require.NoError(t, err)
	if !o.replaying {
		// The friend registers now: new to the platform when signing up.
		o.refDir.Put(kit.Member{ID: omInvitee, BirthDate: birthDateForAge(oneMemberStart, 24), Country: "IT", HasProfile: true,
			RegisteredAt: o.clock.Now(), Device: "phone-friend", PaymentInstrument: "card-friend"})
	}
	su, err := o.ref.Signup(ctx, referral.SignupRequest{EventID: "signup-" + omInvitee, Invitee: omInvitee, Code: code})
	require.NoError(t, err)
	require.Equal(t, o.replaying, su.Replayed)
	require.Len(t, su.Grants, 1)
	require.Equal(t, omMember, su.Grants[0].Member)
	require.Equal(t, "20000", su.Grants[0].Amount.String())
	task, err := o.ref.CompleteTask(ctx, referral.CompleteTaskRequest{EventID: "task-m1-profile-photo", Member: omMember, Task: "profile_photo"})
	require.NoError(t, err)
	require.Equal(t, o.replaying, task.Replayed)
	require.Equal(t, "1000", task.Grant.Amount.String())
	o.asOwnStaff("m1 pulls the referral kill switch of their own country", "", func() error {
		return o.ref.SetKillSwitch(ctx, referral.SetKillSwitchRequest{Actor: omMember, Country: "IT", Disabled: true})
	})
}

func (o *oneMember) subscribe() {
	t, ctx := o.t, o.ctx
	// The platform's payment service puts euros in the wallet (opening it
	// with the same policy if no program has).
	require.NoError(t, topUp(ctx, o.l, o.wallets, "one-member-m1", omMember, decimal.RequireFromString("10.00")))
	s, err := o.sub.Subscribe(ctx, subscription.SubscribeRequest{EventID: "sub-m1", Actor: omMember, Creator: omCreator, TierID: "fan"})
	require.NoError(t, err)
	require.Equal(t, o.replaying, s.Replayed)
	require.Equal(t, subscription.StatusActive, s.Status)
	require.Equal(t, 1, s.Charges)
	ok, err := o.sub.MayUse(ctx, omMember, omCreator, subscription.PerkBadge, o.clock.Now())
	require.NoError(t, err)
	require.True(t, ok)
	o.asOwnStaff("m1 refunds their own subscription", kit.RoleRiskOfficer, func() error {
		_, err := o.sub.Refund(ctx, subscription.RefundRequest{EventID: "refund-m1", Actor: omMember, Member: omMember, Creator: omCreator, Reason: "changed my mind"})
		return err
	})
}

func (o *oneMember) shoutout() {
	t, ctx := o.t, o.ctx
	ord, err := o.shout.Request(ctx, shoutout.RequestRequest{OrderID: "so-m1", Fan: omMember, Creator: omCreator, Price: 200, Note: "a birthday video for my sister"})
	require.NoError(t, err)
	require.Equal(t, o.replaying, ord.Replayed)
	require.Equal(t, shoutout.StatusRequested, ord.Status)
	_, err = o.shout.Accept(ctx, shoutout.AcceptRequest{EventID: "so-m1-accept", OrderID: "so-m1", Actor: omCreator})
	require.NoError(t, err)
	_, err = o.shout.Submit(ctx, shoutout.SubmitRequest{EventID: "so-m1-submit", OrderID: "so-m1", Actor: omCreator, Video: "video://cleo/so-m1"})
	require.NoError(t, err)
	o.asOwnStaff("m1 approves the video they ordered", kit.RoleReviewer, func() error {
		_, err := o.shout.Approve(ctx, shoutout.ApproveRequest{EventID: "so-m1-approve-self", OrderID: "so-m1", Actor: omMember})
		return err
	})
	ord, err = o.shout.Approve(ctx, shoutout.ApproveRequest{EventID: "so-m1-approve", OrderID: "so-m1", Actor: omModerator})
	require.NoError(t, err)
	require.Equal(t, o.replaying, ord.Replayed)
	require.Equal(t, shoutout.StatusDelivered, ord.Status)
	require.Equal(t, shoutout.OutcomePaid, ord.Outcome)
	require.Equal(t, int64(150), ord.CreatorShare)
	require.Equal(t, int64(50), ord.PlatformShare)
	require.Len(t, o.inbox.Messages(omMember), 1)
}

func (o *oneMember) buyAds() {
	t, ctx := o.t, o.ctx
	adv, err := o.ads.OpenAdvertiser(ctx, adsbuy.OpenAdvertiserRequest{Actor: omMember, Country: "IT"})
	require.NoError(t, err)
	require.Equal(t, o.replaying, adv.Replayed)
	top, err := o.ads.TopUp(ctx, adsbuy.TopUpRequest{EventID: "wire-m1", Actor: omMember, Amount: decimal.NewFromInt(500)})
	require.NoError(t, err)
	require.Equal(t, o.replaying, top.Replayed)
	var start time.Time
	if o.replaying {
		c, err := o.ads.Campaign(ctx, "camp-m1")
		require.NoError(t, err)
		start = c.Start
	} else {
		start = o.clock.Now()
	}
	spec := adsbuy.CampaignSpec{Name: "m1's week", Start: start, End: start.AddDate(0, 0, 7), DailyBudget: decimal.NewFromInt(60),
		AdGroups: []adsbuy.AdGroupSpec{{ID: "feed", DailyBudget: decimal.NewFromInt(40), BidType: adsbuy.CPM, Bid: decimal.RequireFromString("5.00")}}}
	c, err := o.ads.BuyCampaign(ctx, adsbuy.BuyCampaignRequest{CampaignID: "camp-m1", Actor: omMember, Spec: spec})
	require.NoError(t, err)
	require.Equal(t, o.replaying, c.Replayed)
	require.Equal(t, adsbuy.StatusPendingReview, c.Status)
	require.Equal(t, "420.00", c.Budget.StringFixed(2))
	o.asOwnStaff("m1 approves their own campaign", kit.RoleSalesRep, func() error {
		_, err := o.ads.Approve(ctx, adsbuy.ApproveRequest{EventID: "review-m1-self", Actor: omMember, CampaignID: "camp-m1"})
		return err
	})
	c, err = o.ads.Approve(ctx, adsbuy.ApproveRequest{EventID: "review-m1", Actor: omSalesRep, CampaignID: "camp-m1"})
	require.NoError(t, err)
	require.Equal(t, o.replaying, c.Replayed)
	require.Equal(t, adsbuy.StatusLive, c.Status)
	d, err := o.ads.ReportDelivery(ctx, adsbuy.ReportDeliveryRequest{EventID: "report-m1-1", CampaignID: "camp-m1", AdGroupID: "feed", Impressions: 6000, Clicks: 60})
	require.NoError(t, err)
	require.Equal(t, o.replaying, d.Replayed)
	require.Equal(t, "30.00", d.Charged.StringFixed(2))
}

func (o *oneMember) withdraw() {
	t, ctx := o.t, o.ctx
	po, err := o.pay.Withdraw(ctx, payout.WithdrawRequest{PayoutID: "cashout-m1", Actor: omMember, Amount: decimal.NewFromInt(20000)})
	require.NoError(t, err)
	require.Equal(t, o.replaying, po.Replayed)
	require.Equal(t, payout.StatusReview, po.Status, "as first recorded: 2 EUR is above review_above")
	require.Equal(t, "2.00", po.Gross.StringFixed(2))
	o.asOwnStaff("m1 approves their own payout", kit.RolePayoutReviewer, func() error {
		_, err := o.pay.Approve(ctx, payout.ApproveRequest{Actor: omMember, PayoutID: "cashout-m1"})
		return err
	})
	po, err = o.pay.Approve(ctx, payout.ApproveRequest{Actor: omCompliance, PayoutID: "cashout-m1"})
	require.NoError(t, err)
	require.Equal(t, payout.StatusPaid, po.Status)
	require.Equal(t, "0.08", po.Fee.StringFixed(2))
	require.Equal(t, "1.92", po.Net.StringFixed(2))
	require.Equal(t, "1.92", o.paypal.Paid("EUR").StringFixed(2), "paid once")
}

// asOwnStaff checks that m1, acting as the staff member who decides their
// own step, is refused with ledger.ErrForbidden and writes nothing:
// without the role, and — when role is set — holding it too (granted for
// the check only), since nobody decides on their own order, campaign,
// payout or payment. On a replay of the steps it is skipped: the step's
// state has moved on.
func (o *oneMember) asOwnStaff(what string, role kit.Role, act func() error) {
	t := o.t
	t.Helper()
	if o.replaying {
		return
	}
	before := o.state()
	require.ErrorIs(t, act(), ledger.ErrForbidden, "%s, without the role", what)
	if role != "" {
		o.staff.Grant(omMember, role)
		err := act()
		o.staff.Revoke(omMember, role)
		require.ErrorIs(t, err, ledger.ErrForbidden, "%s, holding the role", what)
	}
	require.Equal(t, before, o.state(), "%s wrote nothing", what)
}

// ledgerState is what a refused or replayed call must leave as it was.
type ledgerState struct {
	Head  ledger.Head
	Sheet []assetSheet
	Holds int
}

func (o *oneMember) state() ledgerState {
	rep, err := o.l.Verify(o.ctx)
	require.NoError(o.t, err)
	sheet, err := balanceSheet(o.ctx, o.l)
	require.NoError(o.t, err)
	return ledgerState{Head: rep.Head, Sheet: sheet, Holds: rep.Holds}
}

// checkLedger checks that the ledger verifies and every asset sums to
// zero, by Verify's replay and by the balance sheet.
func (o *oneMember) checkLedger(after string) {
	t := o.t
	t.Helper()
	rep, err := o.l.Verify(o.ctx)
	require.NoError(t, err, "Verify after %q", after)
	require.NotEmpty(t, rep.Totals)
	for code, total := range rep.Totals {
		require.Truef(t, total.IsZero(), "after %q, %s sums to %s", after, code, total)
	}
	sheet, err := balanceSheet(o.ctx, o.l)
	require.NoError(t, err)
	for _, a := range sheet {
		require.Zerof(t, a.Total, "after %q, the balance sheet's %s sums to %s", after, a.Asset.Code, a.amount(a.Total))
	}
}

func (o *oneMember) walletOpen() bool {
	var open bool
	require.NoError(o.t, o.l.View(o.ctx, func(r *ledger.Reader) error {
		_, err := r.Account(kit.WalletAccount(omMember))
		open = err == nil
		if errors.Is(err, ledger.ErrUnknownAccount) {
			return nil
		}
		return err
	}))
	return open
}

// checkWalletPolicy checks that m1's wallet is open with the shared
// policy, whichever program opened it.
func (o *oneMember) checkWalletPolicy() {
	t := o.t
	t.Helper()
	require.NoError(t, o.l.View(o.ctx, func(r *ledger.Reader) error {
		acc, err := r.Account(kit.WalletAccount(omMember))
		if err != nil {
			return err
		}
		require.Equal(t, map[string]int64{ledger.COIN.Code: 500}, acc.Limits, "the wallet has the shared policy")
		require.False(t, acc.Unbounded)
		return nil
	}))
}

// checkFinal checks the member's balances (and their counterparts') are
// exactly what the steps imply, whatever the order, and that the coin
// overdraft is never spent by a gift or a shoutout.
func (o *oneMember) checkFinal() {
	t, ctx := o.t, o.ctx
	t.Helper()
	o.checkWalletPolicy()
	// m1's wallet: 350 coins - 100 (gift) - 200 (shoutout); 20,000 +
	// 1,000 rubies - 20,000 withdrawn; 10.00 EUR - 2.99 (a month of
	// cleo's fan tier). Nothing held, nothing else.
	require.Equal(t, map[string]string{"COIN": "50", "RUBY": "1000", "EUR": "7.01"}, o.balances(kit.WalletAccount(omMember)))
	// m1's advertiser balance, apart from the wallet: 500 USD topped up,
	// 7 x 60 = 420 held for the campaign, 30 of it spent.
	b, err := o.l.Balance(ctx, adsbuy.AdvertiserAccount(omMember), "USD")
	require.NoError(t, err)
	require.Equal(t, []string{"470.00", "390.00", "80.00"}, []string{b.Posted.StringFixed(2), b.Held.StringFixed(2), b.Available.StringFixed(2)})
	// What m1's steps paid cleo: 50 diamonds for half the gift, 75% of
	// the shoutout, half the subscription rounded down to the cent.
	require.Equal(t, map[string]string{"DIAMOND": "50"}, o.balances(gifting.EarningsAccount(omCreator)))
	require.Equal(t, map[string]string{"COIN": "150"}, o.balances(shoutout.EarningsAccount(omCreator)))
	require.Equal(t, map[string]string{"EUR": "1.49"}, o.balances(subscription.EarningsAccount(omCreator)))
	// The invitee earned nothing; the referrer did.
	_, err = o.l.Balance(ctx, kit.WalletAccount(omInvitee), "RUBY")
	require.ErrorIs(t, err, ledger.ErrUnknownAccount, "the invitee has no wallet")

	// 50 coins left and a 500-coin overdraft: neither a gift nor a
	// shoutout may spend into it.
	before := o.state()
	_, err = o.gift.SendGift(ctx, gifting.SendGiftRequest{EventID: "gift-m1-overdraft", Actor: omMember, Creator: omCreator, Gift: "hand-hearts", Count: 1})
	require.ErrorIs(t, err, gifting.ErrInsufficientCoins)
	_, err = o.shout.Request(ctx, shoutout.RequestRequest{OrderID: "so-m1-overdraft", Fan: omMember, Creator: omCreator, Price: 200, Note: ""})
	require.ErrorIs(t, err, shoutout.ErrInsufficientCoins)
	require.Equal(t, before, o.state(), "refusals wrote nothing")
}

// balances returns an account's non-zero balances by asset, checking that
// nothing is held.
func (o *oneMember) balances(account string) map[string]string {
	t := o.t
	t.Helper()
	bs, err := o.l.Balances(o.ctx, account)
	require.NoError(t, err, account)
	got := map[string]string{}
	for _, b := range bs {
		require.Truef(t, b.Held.IsZero(), "%s holds %s %s", account, b.Held, b.Asset)
		if !b.Posted.IsZero() {
			got[b.Asset] = b.Posted.String()
		}
	}
	return got
}
