package subscription

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/teststore"
	"github.com/stretchr/testify/require"
)

func TestRulesValidate(t *testing.T) {
	require.NoError(t, DefaultRules().Validate())
	cases := []struct {
		field string
		edit  func(r *Rules)
	}{
		{"asset", func(r *Rules) { r.Asset = ledger.Asset{Code: "usd", Precision: 2} }},
		{"min_creator_age", func(r *Rules) { r.MinCreatorAge = -1 }},
		{"min_followers", func(r *Rules) { r.MinFollowers = -1 }},
		{"min_views_last_month", func(r *Rules) { r.MinViewsLastMonth = -5 }},
		{"countries", func(r *Rules) { r.Countries = nil }},
		{"countries", func(r *Rules) { r.Countries = []string{"USA"} }},
		{"countries", func(r *Rules) { r.Countries = []string{"US", "US"} }},
		{"max_tiers", func(r *Rules) { r.MaxTiers = 0 }},
		{"min_price", func(r *Rules) { r.MinPrice = dec("0") }},
		{"min_price", func(r *Rules) { r.MinPrice = dec("0.001") }},
		{"max_price", func(r *Rules) { r.MaxPrice = dec("0.5") }},
		{"period_months", func(r *Rules) { r.PeriodMonths = 0 }},
		{"creator_share", func(r *Rules) { r.CreatorShare = dec("1.01") }},
		{"creator_share", func(r *Rules) { r.CreatorShare = dec("-0.1") }},
		{"grace_period", func(r *Rules) { r.GracePeriod = -1 }},
		{"retry_every", func(r *Rules) { r.RetryEvery = 0 }},
		{"badge_months", func(r *Rules) { r.BadgeMonths = []int{1, 3, 3} }},
	}
	for _, c := range cases {
		t.Run(c.field, func(t *testing.T) {
			r := DefaultRules()
			c.edit(&r)
			err := r.Validate()
			require.ErrorIs(t, err, ErrInvalidRules)
			require.Contains(t, err.Error(), c.field)
			_, err = New(t.Context(), ledger.New(nil), r, kit.NewDirectory())
			require.ErrorIs(t, err, ErrInvalidRules)
		})
	}
}

func TestRulesJSONRoundTrip(t *testing.T) {
	r := DefaultRules()
	r.GraceAccess = true
	b, err := json.Marshal(r)
	require.NoError(t, err)
	require.Contains(t, string(b), `"grace_period":"72h0m0s"`)
	var back Rules
	require.NoError(t, json.Unmarshal(b, &back))
	require.NoError(t, back.Validate())
	b2, err := json.Marshal(back)
	require.NoError(t, err)
	require.JSONEq(t, string(b), string(b2))
}

func TestBadgeLevel(t *testing.T) {
	r := DefaultRules() // 1, 2, 3, 6, 12, 24
	for months, want := range map[int]int{0: 0, 1: 1, 2: 2, 3: 3, 5: 3, 6: 4, 11: 4, 12: 5, 24: 6, 100: 6} {
		require.Equal(t, want, r.BadgeLevel(months), "months %d", months)
	}
}

// ruleNames are the JSON names of the rules whose refusals name them
// (ledger.RuleOf).
var ruleNames = map[string]bool{"min_creator_age": true, "min_followers": true, "min_views_last_month": true,
	"countries": true, "max_tiers": true, "min_price": true, "max_price": true}

func TestPublishTiersRefusals(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		cases := []struct {
			name    string
			creator kit.Member
			tiers   []Tier
			want    error
			rule    string
		}{
			{"under age", kit.Member{BirthDate: born(17), Country: "IT", Followers: 10000, ViewsLastMonth: 100000}, []Tier{basic}, ErrIneligible, "min_creator_age"},
			{"too few followers", kit.Member{BirthDate: born(18), Country: "IT", Followers: 9999, ViewsLastMonth: 100000}, []Tier{basic}, ErrIneligible, "min_followers"},
			{"too few views", kit.Member{BirthDate: born(18), Country: "IT", Followers: 10000, ViewsLastMonth: 99999}, []Tier{basic}, ErrIneligible, "min_views_last_month"},
			{"country", kit.Member{BirthDate: born(18), Country: "CN", Followers: 10000, ViewsLastMonth: 100000}, []Tier{basic}, ErrCountry, "countries"},
			{"four tiers", kit.Member{}, []Tier{basic, pro, {ID: "c", Price: dec("1"), Perks: []Perk{PerkBadge}}, {ID: "d", Price: dec("1"), Perks: []Perk{PerkBadge}}}, ErrInvalidTiers, "max_tiers"},
			{"no tiers", kit.Member{}, nil, ErrInvalidTiers, "max_tiers"},
			{"price below min", kit.Member{}, []Tier{{ID: "a", Price: dec("0.50"), Perks: []Perk{PerkBadge}}}, ErrInvalidTiers, "min_price"},
			{"price above max", kit.Member{}, []Tier{{ID: "a", Price: dec("100"), Perks: []Perk{PerkBadge}}}, ErrInvalidTiers, "max_price"},
			{"price precision", kit.Member{}, []Tier{{ID: "a", Price: dec("4.999"), Perks: []Perk{PerkBadge}}}, ErrInvalidTiers, "decimals"},
			{"unknown perk", kit.Member{}, []Tier{{ID: "a", Price: dec("1"), Perks: []Perk{"free_money"}}}, ErrInvalidTiers, "free_money"},
			{"empty custom perk", kit.Member{}, []Tier{{ID: "a", Price: dec("1"), Perks: []Perk{CustomPerk("")}}}, ErrInvalidTiers, "custom"},
			{"no perks", kit.Member{}, []Tier{{ID: "a", Price: dec("1")}}, ErrInvalidTiers, "perks"},
			{"duplicate perk", kit.Member{}, []Tier{{ID: "a", Price: dec("1"), Perks: []Perk{PerkBadge, PerkBadge}}}, ErrInvalidTiers, "twice"},
			{"duplicate tier", kit.Member{}, []Tier{basic, basic}, ErrInvalidTiers, "twice"},
			{"bad tier id", kit.Member{}, []Tier{{ID: "a b", Price: dec("1"), Perks: []Perk{PerkBadge}}}, ErrInvalidRequest, "tier id"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				f := newFixture(t, open(t), DefaultRules())
				f.publish(t, "pub-0", basic) // an existing offer must survive the refusal
				if c.creator.Country != "" {
					c.creator.ID = "cleo"
					f.dir.Put(c.creator)
				}
				before := f.snapshot(t)
				_, err := f.p.PublishTiers(f.ctx, PublishTiersRequest{EventID: "pub-1", Actor: "cleo", Tiers: c.tiers})
				require.ErrorIs(t, err, c.want)
				require.Contains(t, err.Error(), c.rule)
				if ruleNames[c.rule] {
					require.Equal(t, c.rule, ledger.RuleOf(err), "the rule is data")
				}
				require.Equal(t, before, f.snapshot(t), "a refusal changes nothing")
			})
		}
		t.Run("unknown creator", func(t *testing.T) {
			f := newFixture(t, open(t), DefaultRules())
			before := f.snapshot(t)
			_, err := f.p.PublishTiers(f.ctx, PublishTiersRequest{EventID: "pub-1", Actor: "nobody", Tiers: []Tier{basic}})
			require.ErrorIs(t, err, ErrUnknownMember)
			require.Equal(t, before, f.snapshot(t))
		})
		t.Run("exactly at every threshold is eligible", func(t *testing.T) {
			f := newFixture(t, open(t), DefaultRules())
			f.dir.Put(kit.Member{ID: "cleo", BirthDate: born(18), Country: "FR", Followers: 10000, ViewsLastMonth: 100000})
			o := f.publish(t, "pub-1", basic, pro, Tier{ID: "vip", Price: dec("99.99"), Perks: []Perk{PerkDiscordRole, PerkPerformanceRequests, PerkDirectMessages, PerkSubscriberVideos}})
			require.Len(t, o.Tiers, 3)
			require.Equal(t, 1, o.Version)
		})
	})
}

func TestSubscribeChargesFirstPeriodAndSplits(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open(t), DefaultRules())
		f.publish(t, "pub-1", basic, pro)
		f.fund(t, "ann", "20.00")
		s, err := f.p.Subscribe(f.ctx, SubscribeRequest{EventID: "sub-1", Actor: "ann", Creator: "cleo", TierID: "basic"})
		require.NoError(t, err)
		require.Equal(t, StatusActive, s.Status)
		require.Equal(t, t0, s.PeriodStart)
		require.Equal(t, t0.AddDate(0, 1, 0), s.PeriodEnd)
		require.Equal(t, 1, s.MonthsPaid)
		require.Equal(t, 1, s.BadgeLevel)
		requireAmount(t, "15.01", f.balance(t, MemberAccount("ann")))
		requireAmount(t, "2.49", f.balance(t, EarningsAccount("cleo")), "creator share 50% rounded down")
		requireAmount(t, "2.50", f.balance(t, RevenueAccount), "platform keeps the rest")

		ok, err := f.p.MayUse(f.ctx, "ann", "cleo", PerkBadge, t0)
		require.NoError(t, err)
		require.True(t, ok)
		ok, err = f.p.MayUse(f.ctx, "ann", "cleo", PerkPrivateChat, t0)
		require.False(t, ok)
		require.ErrorIs(t, err, ErrNoAccess)
		require.ErrorIs(t, err, ErrPerkNotIncluded)
		ok, err = f.p.MayUse(f.ctx, "bob", "cleo", PerkBadge, t0)
		require.False(t, ok)
		require.ErrorIs(t, err, ErrNotSubscribed)
		ok, err = f.p.MayUse(f.ctx, "ann", "cleo", PerkBadge, t0.Add(-time.Second))
		require.False(t, ok)
		require.ErrorIs(t, err, ErrNotCovered)
		ok, err = f.p.MayUse(f.ctx, "ann", "cleo", PerkBadge, s.PeriodEnd.Add(-time.Nanosecond))
		require.NoError(t, err)
		require.True(t, ok)
		ok, err = f.p.MayUse(f.ctx, "ann", "cleo", PerkBadge, s.PeriodEnd)
		require.False(t, ok)
		require.ErrorIs(t, err, ErrNotCovered, "the period is half-open")
		f.verify(t)
	})
}

func TestSubscribeRefusals(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		cases := []struct {
			name   string
			setup  func(f *fixture)
			member string
			tier   string
			want   error
		}{
			{"self", nil, "cleo", "basic", ErrSelfSubscription},
			{"member country", func(f *fixture) { f.dir.Put(kit.Member{ID: "ann", BirthDate: born(30), Country: "CN"}) }, "ann", "basic", ErrCountry},
			{"unknown member", nil, "zed", "basic", ErrUnknownMember},
			{"unknown tier", nil, "ann", "gold", ErrUnknownTier},
			{"bad member id", nil, "a:b", "basic", ErrInvalidRequest},
			{"funds short", func(f *fixture) { f.fund(f.tb, "ann", "4.98") }, "ann", "basic", ErrInsufficientFunds},
			{"already subscribed", func(f *fixture) {
				f.fund(f.tb, "ann", "10")
				_, err := f.p.Subscribe(f.ctx, SubscribeRequest{EventID: "first", Actor: "ann", Creator: "cleo", TierID: "basic"})
				require.NoError(f.tb, err)
			}, "ann", "pro", ErrAlreadySubscribed},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				f := newFixture(t, open(t), DefaultRules())
				f.tb = t
				f.publish(t, "pub-1", basic, pro)
				if c.setup != nil {
					c.setup(f)
				}
				before := f.snapshot(t)
				_, err := f.p.Subscribe(f.ctx, SubscribeRequest{EventID: "sub-x", Actor: c.member, Creator: "cleo", TierID: c.tier})
				require.ErrorIs(t, err, c.want)
				require.Equal(t, before, f.snapshot(t), "a refusal changes nothing")
			})
		}
		t.Run("no offer", func(t *testing.T) {
			f := newFixture(t, open(t), DefaultRules())
			f.fund(t, "ann", "10")
			before := f.snapshot(t)
			_, err := f.p.Subscribe(f.ctx, SubscribeRequest{EventID: "sub-x", Actor: "ann", Creator: "cleo", TierID: "basic"})
			require.ErrorIs(t, err, ErrNoOffer)
			require.Equal(t, before, f.snapshot(t))
		})
	})
}

func TestRenewalEachPeriodAndBadgeGrows(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open(t), DefaultRules())
		f.publish(t, "pub-1", basic)
		f.fund(t, "ann", "100")
		_, err := f.p.Subscribe(f.ctx, SubscribeRequest{EventID: "sub-1", Actor: "ann", Creator: "cleo", TierID: "basic"})
		require.NoError(t, err)

		require.Equal(t, ticked{}, f.tick(t), "nothing due before the period ends")
		end := t0
		for month := 2; month <= 6; month++ {
			end = end.AddDate(0, 1, 0)
			f.clock.Set(end)
			rep := f.tick(t)
			require.Equal(t, ticked{Renewed: 1}, rep)
			before := f.snapshot(t)
			require.Equal(t, ticked{}, f.tick(t), "a second tick at the same time does nothing")
			require.Equal(t, before, f.snapshot(t))
			s, err := f.p.Subscription(f.ctx, "ann", "cleo")
			require.NoError(t, err)
			require.Equal(t, month, s.MonthsPaid)
			require.Equal(t, end, s.PeriodStart, "renewals are contiguous")
			require.Equal(t, DefaultRules().BadgeLevel(month), s.BadgeLevel)
			require.Len(t, s.Periods, 1, "contiguous periods of one tier merge")
		}
		s, _ := f.p.Subscription(f.ctx, "ann", "cleo")
		require.Equal(t, 4, s.BadgeLevel, "6 months reach the 4th badge level (1,2,3,6)")
		requireAmount(t, "70.06", f.balance(t, MemberAccount("ann")), "six payments of 4.99")
		requireAmount(t, "14.94", f.balance(t, EarningsAccount("cleo")))
		requireAmount(t, "15.00", f.balance(t, RevenueAccount))
		f.verify(t)
	})
}

func TestLateTickStartsAfreshRatherThanChargingThePast(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open(t), DefaultRules())
		f.publish(t, "pub-1", basic)
		f.fund(t, "ann", "100")
		_, err := f.p.Subscribe(f.ctx, SubscribeRequest{EventID: "sub-1", Actor: "ann", Creator: "cleo", TierID: "basic"})
		require.NoError(t, err)
		late := t0.AddDate(0, 3, 0) // two whole periods missed
		f.clock.Set(late)
		require.Equal(t, ticked{Renewed: 1}, f.tick(t))
		s, _ := f.p.Subscription(f.ctx, "ann", "cleo")
		require.Equal(t, late, s.PeriodStart)
		require.Equal(t, 2, s.Charges, "one charge, not one per missed period")
		ok, _ := f.p.MayUse(f.ctx, "ann", "cleo", PerkBadge, t0.AddDate(0, 2, 0))
		require.False(t, ok, "the missed months were never paid")
	})
}

func TestFailedRenewalGraceThenEnds(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open(t), DefaultRules()) // grace 72h retried every 24h, no access in grace
		f.publish(t, "pub-1", basic)
		f.fund(t, "ann", "4.99")
		s, err := f.p.Subscribe(f.ctx, SubscribeRequest{EventID: "sub-1", Actor: "ann", Creator: "cleo", TierID: "basic"})
		require.NoError(t, err)
		end := s.PeriodEnd

		f.clock.Set(end)
		before := f.balance(t, MemberAccount("ann"))
		require.Equal(t, ticked{GraceStarted: 1}, f.tick(t))
		s, _ = f.p.Subscription(f.ctx, "ann", "cleo")
		require.Equal(t, StatusGrace, s.Status)
		require.Equal(t, end.Add(72*time.Hour), s.GraceUntil)
		requireAmount(t, before.String(), f.balance(t, MemberAccount("ann")), "a failed renewal takes nothing")
		ok, err := f.p.MayUse(f.ctx, "ann", "cleo", PerkBadge, end.Add(time.Hour))
		require.False(t, ok)
		require.ErrorIs(t, err, ErrNotCovered)

		f.clock.Set(end.Add(24 * time.Hour))
		require.Equal(t, ticked{Retried: 1}, f.tick(t))
		f.clock.Set(end.Add(48 * time.Hour))
		require.Equal(t, ticked{Retried: 1}, f.tick(t))
		f.clock.Set(end.Add(72 * time.Hour))
		require.Equal(t, ticked{Ended: 1}, f.tick(t))
		s, _ = f.p.Subscription(f.ctx, "ann", "cleo")
		require.Equal(t, StatusEnded, s.Status)
		require.Equal(t, "renewal failed", s.EndReason)
		require.Equal(t, ticked{}, f.tick(t))
		_, err = f.p.Cancel(f.ctx, CancelRequest{EventID: "c-1", Actor: "ann", Creator: "cleo"})
		require.ErrorIs(t, err, ErrWrongState)
		f.verify(t)
	})
}

func TestFailedRenewalRecoveredInGrace(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		for _, graceAccess := range []bool{false, true} {
			t.Run(map[bool]string{false: "no access in grace", true: "access in grace"}[graceAccess], func(t *testing.T) {
				r := DefaultRules()
				r.GraceAccess = graceAccess
				f := newFixture(t, open(t), r)
				f.publish(t, "pub-1", basic)
				f.fund(t, "ann", "4.99")
				s, err := f.p.Subscribe(f.ctx, SubscribeRequest{EventID: "sub-1", Actor: "ann", Creator: "cleo", TierID: "basic"})
				require.NoError(t, err)
				end := s.PeriodEnd
				f.clock.Set(end)
				require.Equal(t, ticked{GraceStarted: 1}, f.tick(t))
				ok, _ := f.p.MayUse(f.ctx, "ann", "cleo", PerkBadge, end.Add(time.Hour))
				require.Equal(t, graceAccess, ok)

				f.fund(t, "ann", "4.99")
				paidAt := end.Add(24 * time.Hour)
				f.clock.Set(paidAt)
				require.Equal(t, ticked{Renewed: 1}, f.tick(t))
				s, _ = f.p.Subscription(f.ctx, "ann", "cleo")
				require.Equal(t, StatusActive, s.Status)
				if graceAccess {
					require.Equal(t, end, s.PeriodStart, "the recovered period covers the grace days it granted")
				} else {
					require.Equal(t, paidAt, s.PeriodStart, "no one pays for days without access")
				}
				ok, _ = f.p.MayUse(f.ctx, "ann", "cleo", PerkBadge, end.Add(time.Hour))
				require.Equal(t, graceAccess, ok, "history agrees with what was answered then")
				requireAmount(t, "0", f.balance(t, MemberAccount("ann")))
				f.verify(t)
			})
		}
	})
}

func TestGraceAccessLapseKeepsHistory(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		r := DefaultRules()
		r.GraceAccess = true
		f := newFixture(t, open(t), r)
		f.publish(t, "pub-1", basic)
		f.fund(t, "ann", "4.99")
		s, err := f.p.Subscribe(f.ctx, SubscribeRequest{EventID: "sub-1", Actor: "ann", Creator: "cleo", TierID: "basic"})
		require.NoError(t, err)
		end := s.PeriodEnd
		f.clock.Set(end.Add(100 * time.Hour)) // one late tick: grace is already over
		require.Equal(t, ticked{GraceStarted: 1, Ended: 1}, f.tick(t))
		for _, c := range []struct {
			at   time.Time
			want bool
		}{{end.Add(time.Hour), true}, {end.Add(72*time.Hour - 1), true}, {end.Add(72 * time.Hour), false}} {
			ok, _ := f.p.MayUse(f.ctx, "ann", "cleo", PerkBadge, c.at)
			require.Equal(t, c.want, ok, "at %s", c.at)
		}
	})
}

func TestCancelKeepsAccessUntilPeriodEndNoRefund(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open(t), DefaultRules())
		f.publish(t, "pub-1", basic)
		f.fund(t, "ann", "50")
		s, err := f.p.Subscribe(f.ctx, SubscribeRequest{EventID: "sub-1", Actor: "ann", Creator: "cleo", TierID: "basic"})
		require.NoError(t, err)
		f.clock.Advance(5 * 24 * time.Hour)
		wallet := f.balance(t, MemberAccount("ann"))
		c, err := f.p.Cancel(f.ctx, CancelRequest{EventID: "cancel-1", Actor: "ann", Creator: "cleo"})
		require.NoError(t, err)
		require.Equal(t, StatusCanceled, c.Status)
		requireAmount(t, wallet.String(), f.balance(t, MemberAccount("ann")), "no refund")
		ok, _ := f.p.MayUse(f.ctx, "ann", "cleo", PerkBadge, s.PeriodEnd.Add(-time.Second))
		require.True(t, ok, "access until the period ends")

		_, err = f.p.ChangeTier(f.ctx, ChangeTierRequest{EventID: "ct-1", Actor: "ann", Creator: "cleo", TierID: "basic"})
		require.ErrorIs(t, err, ErrWrongState)
		before := f.snapshot(t)
		_, err = f.p.Cancel(f.ctx, CancelRequest{EventID: "cancel-2", Actor: "ann", Creator: "cleo"})
		require.ErrorIs(t, err, ErrWrongState)
		require.Equal(t, before, f.snapshot(t))

		f.clock.Set(s.PeriodEnd)
		require.Equal(t, ticked{Ended: 1}, f.tick(t))
		requireAmount(t, wallet.String(), f.balance(t, MemberAccount("ann")), "not renewed")
		ok, err = f.p.MayUse(f.ctx, "ann", "cleo", PerkBadge, s.PeriodEnd)
		require.False(t, ok)
		require.ErrorIs(t, err, ErrNotCovered)

		// Subscribing again starts a new period; months keep counting.
		s2, err := f.p.Subscribe(f.ctx, SubscribeRequest{EventID: "sub-2", Actor: "ann", Creator: "cleo", TierID: "basic"})
		require.NoError(t, err)
		require.Equal(t, 2, s2.MonthsPaid)
		require.Equal(t, 2, s2.BadgeLevel)
		f.verify(t)
	})
}

func TestChangeTierStartsAtNextRenewal(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open(t), DefaultRules())
		f.publish(t, "pub-1", basic, pro)
		f.fund(t, "ann", "30")
		s, err := f.p.Subscribe(f.ctx, SubscribeRequest{EventID: "sub-1", Actor: "ann", Creator: "cleo", TierID: "basic"})
		require.NoError(t, err)
		before := f.balance(t, MemberAccount("ann"))
		c, err := f.p.ChangeTier(f.ctx, ChangeTierRequest{EventID: "ct-1", Actor: "ann", Creator: "cleo", TierID: "pro"})
		require.NoError(t, err)
		require.Equal(t, "pro", c.NextTier)
		requireAmount(t, before.String(), f.balance(t, MemberAccount("ann")), "nothing charged at the change")
		ok, _ := f.p.MayUse(f.ctx, "ann", "cleo", PerkPrivateChat, f.clock.Now())
		require.False(t, ok, "pro perks start with the pro period")

		_, err = f.p.ChangeTier(f.ctx, ChangeTierRequest{EventID: "ct-2", Actor: "ann", Creator: "cleo", TierID: "gold"})
		require.ErrorIs(t, err, ErrUnknownTier)

		f.clock.Set(s.PeriodEnd)
		require.Equal(t, ticked{Renewed: 1}, f.tick(t))
		requireAmount(t, before.Sub(dec("9.99")).String(), f.balance(t, MemberAccount("ann")), "renewal at the pro price")
		ok, err = f.p.MayUse(f.ctx, "ann", "cleo", PerkPrivateChat, s.PeriodEnd)
		require.NoError(t, err)
		require.True(t, ok)
		ok, _ = f.p.MayUse(f.ctx, "ann", "cleo", PerkPrivateChat, s.PeriodEnd.Add(-time.Second))
		require.False(t, ok, "history: the basic month had no private chat")
		ok, _ = f.p.MayUse(f.ctx, "ann", "cleo", CustomPerk("monthly call"), s.PeriodEnd)
		require.True(t, ok, "creator-named perk")
	})
}

func TestCreatorChangesPriceAndWithdrawsTier(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open(t), DefaultRules())
		f.publish(t, "pub-1", basic, pro)
		f.fund(t, "ann", "100")
		f.fund(t, "bob", "100")
		sa, err := f.p.Subscribe(f.ctx, SubscribeRequest{EventID: "s-a", Actor: "ann", Creator: "cleo", TierID: "basic"})
		require.NoError(t, err)
		_, err = f.p.Subscribe(f.ctx, SubscribeRequest{EventID: "s-b", Actor: "bob", Creator: "cleo", TierID: "pro"})
		require.NoError(t, err)
		dearer := basic
		dearer.Price = dec("5.99")
		o := f.publish(t, "pub-2", dearer) // pro withdrawn, basic dearer
		require.Equal(t, 2, o.Version)
		f.clock.Set(sa.PeriodEnd)
		require.Equal(t, ticked{Renewed: 1, Ended: 1}, f.tick(t))
		requireAmount(t, "89.02", f.balance(t, MemberAccount("ann")), "4.99 then the new price 5.99")
		requireAmount(t, "90.01", f.balance(t, MemberAccount("bob")), "withdrawn tier is not renewed")
		sb, _ := f.p.Subscription(f.ctx, "bob", "cleo")
		require.Equal(t, StatusEnded, sb.Status)
		require.Equal(t, "tier withdrawn", sb.EndReason)
	})
}

func TestIdempotentReplays(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open(t), DefaultRules())
		f.publish(t, "pub-1", basic, pro)
		f.fund(t, "ann", "50")
		s1, err := f.p.Subscribe(f.ctx, SubscribeRequest{EventID: "sub-1", Actor: "ann", Creator: "cleo", TierID: "basic"})
		require.NoError(t, err)
		before := f.snapshot(t)
		s2, err := f.p.Subscribe(f.ctx, SubscribeRequest{EventID: "sub-1", Actor: "ann", Creator: "cleo", TierID: "basic"})
		require.NoError(t, err)
		require.False(t, s1.Replayed)
		require.True(t, s2.Replayed, "the result says it was a replay")
		s2.Replayed = false
		require.Equal(t, s1, s2, "a replay returns the stored result")
		require.Equal(t, before, f.snapshot(t), "and changes nothing")

		for name, call := range map[string]func() error{
			"other tier": func() error {
				_, err := f.p.Subscribe(f.ctx, SubscribeRequest{EventID: "sub-1", Actor: "ann", Creator: "cleo", TierID: "pro"})
				return err
			},
			"other event": func() error {
				_, err := f.p.Cancel(f.ctx, CancelRequest{EventID: "sub-1", Actor: "ann", Creator: "cleo"})
				return err
			},
			"publish": func() error {
				_, err := f.p.PublishTiers(f.ctx, PublishTiersRequest{EventID: "sub-1", Actor: "cleo", Tiers: []Tier{pro}})
				return err
			},
		} {
			err := call()
			require.ErrorIs(t, err, ErrIdempotencyConflict, name)
			require.Equal(t, before, f.snapshot(t), name)
		}
		o1 := f.publish(t, "pub-1", basic, pro)
		require.Equal(t, 1, o1.Version, "a replayed publish is not a new version")
	})
}

func TestConcurrentSubscribeSameEventChargesOnce(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open(t), DefaultRules())
		f.publish(t, "pub-1", basic)
		f.fund(t, "ann", "50")
		var wg sync.WaitGroup
		res := make([]Subscription, 8)
		errs := make([]error, 8)
		for i := range res {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res[i], errs[i] = f.p.Subscribe(f.ctx, SubscribeRequest{EventID: "sub-1", Actor: "ann", Creator: "cleo", TierID: "basic"})
			}()
		}
		wg.Wait()
		replays := 0
		for i := range res {
			require.NoError(t, errs[i])
			if res[i].Replayed {
				replays++
			}
			res[i].Replayed = false
			require.Equal(t, res[0], res[i])
		}
		require.Equal(t, len(res)-1, replays, "one call ran the event, the others replayed it")
		requireAmount(t, "45.01", f.balance(t, MemberAccount("ann")), "charged once")

		// Different event ids racing for the same subscription: one wins.
		f.fund(t, "bob", "50")
		var won, already int
		var mu sync.Mutex
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := f.p.Subscribe(f.ctx, SubscribeRequest{EventID: "bob-" + string(rune('a'+i)), Actor: "bob", Creator: "cleo", TierID: "basic"})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					won++
				case errors.Is(err, ErrAlreadySubscribed):
					already++
				default:
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		require.Equal(t, 1, won)
		require.Equal(t, 7, already)
		requireAmount(t, "45.01", f.balance(t, MemberAccount("bob")))
		f.verify(t)
	})
}

func TestMayUseWritesNothing(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open(t), DefaultRules())
		f.publish(t, "pub-1", basic)
		f.fund(t, "ann", "50")
		_, err := f.p.Subscribe(f.ctx, SubscribeRequest{EventID: "sub-1", Actor: "ann", Creator: "cleo", TierID: "basic"})
		require.NoError(t, err)
		before := f.snapshot(t)
		for i := 0; i < 10; i++ {
			_, _ = f.p.MayUse(f.ctx, "ann", "cleo", PerkBadge, f.clock.Now())
			_, _ = f.p.MayUse(f.ctx, "bob", "cleo", PerkBadge, f.clock.Now())
		}
		require.Equal(t, before, f.snapshot(t))
		_, err = f.p.MayUse(f.ctx, "ann", "cleo", "nope", f.clock.Now())
		require.ErrorIs(t, err, ErrInvalidRequest)
	})
}

func BenchmarkMayUse(b *testing.B) {
	f := newFixture(b, teststore.Memory(b), DefaultRules())
	f.publish(b, "pub-1", basic, pro)
	f.fund(b, "ann", "50")
	_, err := f.p.Subscribe(f.ctx, SubscribeRequest{EventID: "sub-1", Actor: "ann", Creator: "cleo", TierID: "pro"})
	require.NoError(b, err)
	now := f.clock.Now()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if ok, err := f.p.MayUse(f.ctx, "ann", "cleo", PerkPrivateChat, now); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
}

func TestChosenTierWithdrawnRenewsCurrentTier(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open(t), DefaultRules())
		f.publish(t, "pub-1", basic, pro)
		f.fund(t, "ann", "20")
		s, err := f.p.Subscribe(f.ctx, SubscribeRequest{EventID: "sub-1", Actor: "ann", Creator: "cleo", TierID: "basic"})
		require.NoError(t, err)
		_, err = f.p.ChangeTier(f.ctx, ChangeTierRequest{EventID: "ct-1", Actor: "ann", Creator: "cleo", TierID: "pro"})
		require.NoError(t, err)
		f.publish(t, "pub-2", basic)
		f.clock.Set(s.PeriodEnd)
		require.Equal(t, ticked{Renewed: 1}, f.tick(t))
		s, err = f.p.Subscription(f.ctx, "ann", "cleo")
		require.NoError(t, err)
		require.Equal(t, "basic", s.Tier.ID)
		require.Empty(t, s.NextTier)
		requireAmount(t, "10.02", f.balance(t, MemberAccount("ann")))
	})
}

func TestMayUseConcurrentWithRenewals(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open(t), DefaultRules())
		f.publish(t, "pub-1", basic)
		f.fund(t, "ann", "100")
		s, err := f.p.Subscribe(f.ctx, SubscribeRequest{EventID: "sub-1", Actor: "ann", Creator: "cleo", TierID: "basic"})
		require.NoError(t, err)
		probe := s.PeriodStart.Add(time.Hour) // inside the first period, whatever renews
		var wg sync.WaitGroup
		for i := 0; i < 4; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := 0; j < 200; j++ {
					ok, err := f.p.MayUse(f.ctx, "ann", "cleo", PerkBadge, probe)
					if !ok || err != nil {
						t.Error(ok, err)
						return
					}
				}
			}()
		}
		for m := 1; m <= 5; m++ {
			f.clock.Set(t0.AddDate(0, m, 0))
			_, err := f.p.Tick(f.ctx)
			require.NoError(t, err)
		}
		wg.Wait()
		s, err = f.p.Subscription(f.ctx, "ann", "cleo")
		require.NoError(t, err)
		require.Equal(t, 6, s.MonthsPaid)
	})
}

// The creator's age is computed by the library, on the creator's own
// calendar at the time of the event: the 18th birthday counts from local
// midnight, and an unknown birth date is never a yes.
func TestCreatorAgeOnTheirOwnCalendar(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open(t), DefaultRules())
		eighteenTomorrow := kit.NewDate(t0.Year()-18, t0.Month(), t0.Day()+1) // t0 is 12:00 UTC
		cases := []struct {
			name string
			m    kit.Member
			want error
		}{
			{"18 tomorrow in UTC", kit.Member{BirthDate: eighteenTomorrow}, ErrIneligible},
			{"18 tomorrow in Rome (13:00 there)", kit.Member{BirthDate: eighteenTomorrow, TimeZone: "Europe/Rome"}, ErrIneligible},
			{"already tomorrow in Auckland (01:00 there)", kit.Member{BirthDate: eighteenTomorrow, TimeZone: "Pacific/Auckland"}, nil},
			{"no birth date", kit.Member{}, kit.ErrMemberFacts},
			{"unknown time zone", kit.Member{BirthDate: born(30), TimeZone: "Mars/Olympus"}, kit.ErrMemberFacts},
		}
		for i, c := range cases {
			c.m.ID, c.m.Country, c.m.Followers, c.m.ViewsLastMonth = "cleo", "IT", 10000, 100000
			f.dir.Put(c.m)
			before := f.snapshot(t)
			_, err := f.p.PublishTiers(f.ctx, PublishTiersRequest{EventID: fmt.Sprintf("pub-%d", i), Actor: "cleo", Tiers: []Tier{basic}})
			if c.want == nil {
				require.NoError(t, err, c.name)
				continue
			}
			require.ErrorIs(t, err, c.want, c.name)
			require.Equal(t, before, f.snapshot(t), c.name)
		}
		// With no age rule, the birth date is not needed.
		r := DefaultRules()
		r.MinCreatorAge = 0
		p2, err := New(f.ctx, f.l, r, f.dir)
		require.NoError(t, err)
		f.dir.Put(kit.Member{ID: "cleo", Country: "IT", Followers: 10000, ViewsLastMonth: 100000})
		_, err = p2.PublishTiers(f.ctx, PublishTiersRequest{EventID: "pub-no-age", Actor: "cleo", Tiers: []Tier{basic}})
		require.NoError(t, err)
	})
}

// The In forms run inside the caller's unit of work: a subscription and
// the payment that funds it commit together, and the caller's error undoes
// the subscription with everything else.
func TestSubscribeInIsPartOfTheCallersUnitOfWork(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open(t), DefaultRules())
		f.publish(t, "pub-1", basic)
		topUp := func(w *ledger.Writer, member string) error {
			if err := kit.OpenIfMissing(w, MemberAccount(member), ledger.Overdraft{}); err != nil {
				return err
			}
			_, err := w.Post(ledger.TransferRequest{Postings: []ledger.Posting{{From: ledger.World, To: MemberAccount(member), Asset: "USD", Amount: dec("4.99")}}})
			return err
		}

		// The payment and the subscription, all or nothing: the caller
		// fails after both, and neither is kept.
		before := f.snapshot(t)
		later := errors.New("the caller's next step failed")
		err := f.l.Update(f.ctx, func(w *ledger.Writer) error {
			if err := topUp(w, "ann"); err != nil {
				return err
			}
			s, err := f.p.SubscribeIn(w, SubscribeRequest{EventID: "sub-1", Actor: "ann", Creator: "cleo", TierID: "basic"})
			require.NoError(t, err)
			require.Equal(t, StatusActive, s.Status)
			return later
		})
		require.ErrorIs(t, err, later)
		require.Equal(t, before, f.snapshot(t), "the subscription rolled back with the caller's work")

		// The same unit of work that succeeds keeps both; the event then
		// replays, inside a unit of work or on its own.
		err = f.l.Update(f.ctx, func(w *ledger.Writer) error {
			if err := topUp(w, "ann"); err != nil {
				return err
			}
			_, err := f.p.SubscribeIn(w, SubscribeRequest{EventID: "sub-1", Actor: "ann", Creator: "cleo", TierID: "basic"})
			return err
		})
		require.NoError(t, err)
		requireAmount(t, "0", f.balance(t, MemberAccount("ann")), "paid and charged in one unit of work")
		s, err := f.p.Subscribe(f.ctx, SubscribeRequest{EventID: "sub-1", Actor: "ann", Creator: "cleo", TierID: "basic"})
		require.NoError(t, err)
		require.True(t, s.Replayed)

		// A refusal inside the unit of work: the caller returns it, and
		// the payment goes too.
		before = f.snapshot(t)
		err = f.l.Update(f.ctx, func(w *ledger.Writer) error {
			if err := topUp(w, "bob"); err != nil {
				return err
			}
			_, err := f.p.SubscribeIn(w, SubscribeRequest{EventID: "sub-2", Actor: "bob", Creator: "cleo", TierID: "gold"})
			return err
		})
		require.ErrorIs(t, err, ErrUnknownTier)
		require.Equal(t, before, f.snapshot(t))
		f.verify(t)
	})
}
