package subscription

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/teststore"
)

// The regression tests of issue 10 ("money safety") that concern this
// package. Each names the finding it covers.

// issue 10 #19b: a Tick after GraceUntil charged the wallet and made the
// subscription active again, though the doc says it has ended.
func TestTickAfterGraceUntilEndsWithoutCharge(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open(t), DefaultRules()) // grace 72h, retried every 24h
		f.publish(t, "pub-1", basic)
		f.fund(t, "ann", "4.99")
		s, err := f.p.Subscribe(f.ctx, SubscribeRequest{EventID: "sub-1", Actor: "ann", Creator: "cleo", TierID: "basic"})
		require.NoError(t, err)
		f.clock.Set(s.PeriodEnd)
		require.Equal(t, ticked{GraceStarted: 1}, f.tick(t))

		// No Tick runs until the grace period is over; meanwhile the
		// member's wallet is topped up.
		f.clock.Set(s.PeriodEnd.Add(72*time.Hour + time.Hour))
		f.fund(t, "ann", "10")
		require.Equal(t, ticked{Ended: 1}, f.tick(t))
		s, err = f.p.Subscription(f.ctx, "ann", "cleo")
		require.NoError(t, err)
		require.Equal(t, StatusEnded, s.Status)
		require.Equal(t, "renewal failed", s.EndReason)
		require.Equal(t, 1, s.Charges, "no charge after the grace period")
		requireAmount(t, "10", f.balance(t, MemberAccount("ann")))
		ok, _ := f.p.MayUse(f.ctx, "ann", "cleo", PerkBadge, f.clock.Now())
		require.False(t, ok)
		require.Equal(t, ticked{}, f.tick(t))
		f.verify(t)
	})
}

// issue 10 #19b: a subscription whose grace period is over has ended even
// before a Tick says so: the member may subscribe again, and is charged
// once, for the new subscription only.
func TestSubscribeAfterLapsedGraceWithoutTick(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open(t), DefaultRules())
		f.publish(t, "pub-1", basic, pro)
		f.fund(t, "ann", "4.99")
		s, err := f.p.Subscribe(f.ctx, SubscribeRequest{EventID: "sub-1", Actor: "ann", Creator: "cleo", TierID: "basic"})
		require.NoError(t, err)
		f.clock.Set(s.PeriodEnd)
		require.Equal(t, ticked{GraceStarted: 1}, f.tick(t))
		f.clock.Set(s.PeriodEnd.Add(100 * time.Hour))
		f.fund(t, "ann", "20")
		s2, err := f.p.Subscribe(f.ctx, SubscribeRequest{EventID: "sub-2", Actor: "ann", Creator: "cleo", TierID: "pro"})
		require.NoError(t, err)
		require.Equal(t, StatusActive, s2.Status)
		require.Equal(t, f.clock.Now(), s2.PeriodStart)
		requireAmount(t, "10.01", f.balance(t, MemberAccount("ann")), "only the new subscription is charged")
		require.Equal(t, ticked{}, f.tick(t))
		f.verify(t)
	})
}

// issue 10 #6: a retried event was refused when the member's facts had
// changed since it ran ("region not offered" for a subscription that went
// through). The replay check now comes first and the result says it was a
// replay.
func TestReplayComesBeforeMemberFacts(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open(t), DefaultRules())
		o1 := f.publish(t, "pub-1", basic)
		require.False(t, o1.Replayed)
		f.fund(t, "ann", "10")
		s1, err := f.p.Subscribe(f.ctx, SubscribeRequest{EventID: "sub-1", Actor: "ann", Creator: "cleo", TierID: "basic"})
		require.NoError(t, err)
		require.False(t, s1.Replayed)

		// The facts change: ann moves abroad, cleo loses followers, and a
		// creator directory no longer knows either of them.
		f.dir.Put(kit.Member{ID: "ann", BirthDate: born(30), Country: "CN"})
		f.dir.Put(kit.Member{ID: "cleo", BirthDate: born(25), Country: "IT", Followers: 10, ViewsLastMonth: 10})
		before := f.snapshot(t)
		s2, err := f.p.Subscribe(f.ctx, SubscribeRequest{EventID: "sub-1", Actor: "ann", Creator: "cleo", TierID: "basic"})
		require.NoError(t, err, "a retry of a subscription that went through")
		require.True(t, s2.Replayed)
		s2.Replayed = false
		require.Equal(t, s1, s2, "the result as of the event")
		o2, err := f.p.PublishTiers(f.ctx, PublishTiersRequest{EventID: "pub-1", Actor: "cleo", Tiers: []Tier{basic}})
		require.NoError(t, err, "a retry of a publication that went through")
		require.True(t, o2.Replayed)
		require.Equal(t, 1, o2.Version)
		require.Equal(t, before, f.snapshot(t), "replays change nothing")

		// A new event is judged on the facts as they are now.
		_, err = f.p.Subscribe(f.ctx, SubscribeRequest{EventID: "sub-2", Actor: "ann", Creator: "cleo", TierID: "basic"})
		require.ErrorIs(t, err, ErrCountry)
		_, err = f.p.PublishTiers(f.ctx, PublishTiersRequest{EventID: "pub-2", Actor: "cleo", Tiers: []Tier{basic}})
		require.ErrorIs(t, err, ErrIneligible)
		require.Equal(t, before, f.snapshot(t))
	})
}

// issue 10 #5: a member whose wallet another program opened with an
// overdraft (gifting's COIN limit) could never subscribe: subscription
// opened "member:<id>" again with an empty policy and got
// ErrAccountConflict. A wallet this program opens first gets the shared
// policy (WithWallets).
func TestSubscribeWithWalletOpenedByAnotherProgram(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		policy := kit.WalletPolicy{Overdraft: map[string]decimal.Decimal{"USD": dec("5")}}
		f := newFixture(t, open(t), DefaultRules(), WithWallets(policy))
		f.publish(t, "pub-1", basic, pro)
		// gifting opened ann's wallet first, with its COIN overdraft.
		require.NoError(t, f.l.DefineAsset(f.ctx, ledger.COIN))
		_, err := f.l.OpenAccount(f.ctx, ledger.AccountSpec{Address: kit.WalletAccount("ann"),
			Overdraft: ledger.Overdraft{Limits: map[string]decimal.Decimal{"COIN": decimal.NewFromInt(100)}}})
		require.NoError(t, err)
		_, err = f.l.Transfer(f.ctx, "topup-ann", ledger.World, kit.WalletAccount("ann"), "USD", dec("10"))
		require.NoError(t, err)
		_, err = f.p.Subscribe(f.ctx, SubscribeRequest{EventID: "sub-1", Actor: "ann", Creator: "cleo", TierID: "basic"})
		require.NoError(t, err)
		requireAmount(t, "5.01", f.balance(t, MemberAccount("ann")))
		require.NoError(t, f.l.View(f.ctx, func(r *ledger.Reader) error {
			acct, err := r.Account(MemberAccount("ann"))
			if err == nil {
				require.Equal(t, int64(100), acct.Limits["COIN"], "a wallet already open is used as it is")
			}
			return err
		}))

		// bob's wallet would be opened here first, with the shared policy;
		// its USD overdraft is room for chargebacks, never credit: no
		// first month on it (kit.Spendable).
		_, err = f.p.Subscribe(f.ctx, SubscribeRequest{EventID: "sub-2", Actor: "bob", Creator: "cleo", TierID: "basic"})
		require.ErrorIs(t, err, ErrInsufficientFunds)
		_, err = f.l.Transfer(f.ctx, "topup-bob", ledger.World, kit.WalletAccount("bob"), "USD", dec("4.99"))
		require.ErrorIs(t, err, ledger.ErrUnknownAccount, "the refused subscription opened no wallet")
		// cat's likewise: refused, and nothing written (not even the wallet).
		_, err = f.p.Subscribe(f.ctx, SubscribeRequest{EventID: "sub-3", Actor: "cat", Creator: "cleo", TierID: "pro"})
		require.ErrorIs(t, err, ErrInsufficientFunds)
		require.ErrorIs(t, err, ledger.ErrInsufficientFunds, "the ledger's sentinel matches too")
		require.NoError(t, f.l.View(f.ctx, func(r *ledger.Reader) error {
			_, err := r.Account(MemberAccount("cat"))
			require.ErrorIs(t, err, ledger.ErrUnknownAccount)
			return nil
		}))
		require.Equal(t, "member:bob", MemberAccount("bob"))
		f.verify(t)
	})
}

// issue 10 #10: rules were decoded with plain encoding/json, so a misspelt
// field was silently ignored.
func TestRulesJSONRefusesUnknownFields(t *testing.T) {
	for _, bad := range []string{
		`{"grace_perod":"1h"}`,
		`{"countries":["US"],"creator_shar":"0.9"}`,
		`{"asset":{"code":"USD","precision":2,"precison":3}}`,
	} {
		r := DefaultRules()
		err := json.Unmarshal([]byte(bad), &r)
		require.ErrorIs(t, err, ErrInvalidRules, bad)
	}
	r := DefaultRules()
	require.ErrorIs(t, r.UnmarshalJSON([]byte(`{"max_tiers":3} {"max_tiers":4}`)), ErrInvalidRules, "trailing data")
	err := json.Unmarshal([]byte(`{"grace_perod":"1h"}`), &r)
	require.ErrorContains(t, err, "grace_perod", "the error names the field")
	r = DefaultRules()
	require.NoError(t, json.Unmarshal([]byte(`{"creator_share":"0.7","grace_access":true}`), &r))
	require.NoError(t, r.Validate())
	requireAmount(t, "0.7", r.CreatorShare)
	require.True(t, r.GraceAccess)
	require.Equal(t, DefaultRules().Countries, r.Countries, "fields left out keep the value they had")
}

// issue 10 #3: times outside the ledger's range are refused with
// ledger.ErrInvalidTime: durations in rules beyond ledger.MaxDuration, a
// MayUse question about year 2300, a period that would end past
// ledger.MaxTime.
func TestTimesOutsideTheLedgerRange(t *testing.T) {
	r := DefaultRules()
	r.GracePeriod = kit.Duration(ledger.MaxDuration + time.Hour)
	err := r.Validate()
	require.ErrorIs(t, err, ErrInvalidRules)
	require.ErrorIs(t, err, ledger.ErrInvalidTime)
	r = DefaultRules()
	require.NoError(t, json.Unmarshal([]byte(`{"retry_every":"2562047h"}`), &r))
	require.ErrorIs(t, r.Validate(), ledger.ErrInvalidTime)

	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open(t), DefaultRules())
		f.publish(t, "pub-1", basic)
		f.fund(t, "ann", "10")
		_, err := f.p.Subscribe(f.ctx, SubscribeRequest{EventID: "sub-1", Actor: "ann", Creator: "cleo", TierID: "basic"})
		require.NoError(t, err)
		for _, at := range []time.Time{time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), {}, ledger.MaxTime, ledger.MinTime.Add(-1)} {
			ok, err := f.p.MayUse(f.ctx, "ann", "cleo", PerkBadge, at)
			require.False(t, ok)
			require.ErrorIs(t, err, ledger.ErrInvalidTime, at)
		}

		f.clock.Set(ledger.MaxTime.Add(-10 * 24 * time.Hour))
		f.fund(t, "bob", "10")
		before := f.snapshot(t)
		_, err = f.p.Subscribe(f.ctx, SubscribeRequest{EventID: "sub-2", Actor: "bob", Creator: "cleo", TierID: "basic"})
		require.ErrorIs(t, err, ledger.ErrInvalidTime, "a period ending past the range")
		require.Equal(t, before, f.snapshot(t))
	})
}

// issue 10 #2 and #11: decimals with exponents near the int32 limits made
// shopspring/decimal panic (a creator share multiplied by a price, a price
// converted to units); now they are refused with a typed error that keeps
// its cause in the chain.
func TestHugeExponentsAreRefusedNotPanics(t *testing.T) {
	r := DefaultRules()
	r.CreatorShare = decimal.New(1, -2147483647)
	require.ErrorIs(t, r.Validate(), ErrInvalidRules)
	r = DefaultRules()
	r.MaxPrice = decimal.New(1, 2147483647)
	require.ErrorIs(t, r.Validate(), ErrInvalidRules)
	r = DefaultRules()
	r.Asset = ledger.Asset{Code: "usd", Precision: 2}
	require.ErrorIs(t, r.Validate(), ledger.ErrInvalidAsset, "Validate wraps the cause with %w")

	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open(t), DefaultRules())
		before := f.snapshot(t)
		for _, price := range []decimal.Decimal{decimal.New(1, 2147483647), decimal.New(1, -2147483647), decimal.New(499, -2147483600)} {
			_, err := f.p.PublishTiers(f.ctx, PublishTiersRequest{EventID: "pub-huge", Actor: "cleo", Tiers: []Tier{{ID: "x", Price: price, Perks: []Perk{PerkBadge}}}})
			require.ErrorIs(t, err, ErrInvalidTiers)
			require.ErrorIs(t, err, ledger.ErrInvalidAmount)
		}
		require.Equal(t, before, f.snapshot(t))
	})
}

// issue 10 #9: one subscription whose renewal fails (here: its creator's
// offer record cannot be read) stopped the whole Tick; now it is reported
// with its ID and the others renew.
func TestTickIsolatesAFailingRenewal(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open(t), DefaultRules())
		f.dir.Put(kit.Member{ID: "dora", BirthDate: born(30), Country: "FR", Followers: 20000, ViewsLastMonth: 200000})
		f.publish(t, "pub-1", basic)
		_, err := f.p.PublishTiers(f.ctx, PublishTiersRequest{EventID: "pub-2", Actor: "dora", Tiers: []Tier{basic}})
		require.NoError(t, err)
		for _, m := range []string{"ann", "bob"} {
			f.fund(t, m, "20")
			for _, c := range []string{"cleo", "dora"} {
				_, err := f.p.Subscribe(f.ctx, SubscribeRequest{EventID: "sub-" + m + "-" + c, Actor: m, Creator: c, TierID: "basic"})
				require.NoError(t, err)
			}
		}
		require.NoError(t, f.l.Update(f.ctx, func(w *ledger.Writer) error {
			return w.PutRecord(kindOffer, "dora", []byte(`{"tiers":`)) // a broken record
		}))
		f.clock.Set(t0.AddDate(0, 1, 0))
		rep, err := f.p.Tick(f.ctx)
		require.NoError(t, err, "one broken item is not a failed run")
		require.Equal(t, 2, rep.Count(TickRenewed), "cleo's subscribers renew")
		require.Len(t, rep.Failed, 2)
		ids := []string{rep.Failed[0].ID, rep.Failed[1].ID}
		require.ElementsMatch(t, []string{"dora/ann", "dora/bob"}, ids)
		require.Equal(t, dueRenew, rep.Failed[0].Kind)
		require.Error(t, rep.Failed[0].Err)
		require.True(t, errors.Is(rep.Failed[0], rep.Failed[0].Err))
		requireAmount(t, "5.03", f.balance(t, MemberAccount("ann")), "20 - 3 x 4.99")
		// The failed items stay due and are tried again.
		rep, err = f.p.Tick(f.ctx)
		require.NoError(t, err)
		require.Equal(t, 0, rep.Count(TickRenewed))
		require.Len(t, rep.Failed, 2)
		f.verify(t)
	})
}

// issue 10 #4: refunds are recorded by staff, checked with kit.Authorize
// against the program's kit.Roles (WithRoles): an actor without
// kit.RoleRiskOfficer, the member or the creator themselves (even holding
// the role), or a program given no directory, is ErrForbidden
// (ledger.ErrForbidden) and nothing is written.
func TestRefundIsRecordedByStaffOnly(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		roles := &kit.RoleDirectory{}
		roles.Grant("rosa", kit.RoleRiskOfficer)
		roles.Grant("cleo", kit.RoleRiskOfficer)
		f := newFixture(t, open(t), DefaultRules(), WithRoles(roles))
		f.publish(t, "pub-1", basic)
		f.fund(t, "ann", "10")
		s, err := f.p.Subscribe(f.ctx, SubscribeRequest{EventID: "sub-1", Actor: "ann", Creator: "cleo", TierID: "basic"})
		require.NoError(t, err)
		f.clock.Advance(3 * 24 * time.Hour)

		before := f.snapshot(t)
		for _, who := range []string{"", "mallory", "ann", "cleo"} {
			_, err := f.p.Refund(f.ctx, RefundRequest{EventID: "refund-" + who, Actor: who, Member: "ann", Creator: "cleo", Reason: "dispute"})
			require.ErrorIs(t, err, ledger.ErrForbidden, who)
		}
		bare, err := New(f.ctx, f.l, DefaultRules(), f.dir)
		require.NoError(t, err)
		_, err = bare.Refund(f.ctx, RefundRequest{EventID: "refund-bare", Actor: "rosa", Member: "ann", Creator: "cleo", Reason: "dispute"})
		require.ErrorIs(t, err, ledger.ErrForbidden, "no role directory: nobody refunds")
		require.Equal(t, before, f.snapshot(t), "refusals write nothing")

		r, err := f.p.Refund(f.ctx, RefundRequest{EventID: "refund-1", Actor: "rosa", Member: "ann", Creator: "cleo", Reason: "dispute"})
		require.NoError(t, err)
		require.Equal(t, StatusEnded, r.Status)
		require.Equal(t, "refunded by rosa", r.EndReason)
		require.Equal(t, 0, r.MonthsPaid)
		requireAmount(t, "10", f.balance(t, MemberAccount("ann")), "the payment is back")
		requireAmount(t, "0", f.balance(t, EarningsAccount("cleo")))
		requireAmount(t, "0", f.balance(t, RevenueAccount))
		ok, _ := f.p.MayUse(f.ctx, "ann", "cleo", PerkBadge, f.clock.Now())
		require.False(t, ok, "perks stop at the refund")
		ok, _ = f.p.MayUse(f.ctx, "ann", "cleo", PerkBadge, s.PeriodStart)
		require.True(t, ok, "the history keeps the days before it")

		again, err := f.p.Refund(f.ctx, RefundRequest{EventID: "refund-1", Actor: "rosa", Member: "ann", Creator: "cleo", Reason: "dispute"})
		require.NoError(t, err)
		require.True(t, again.Replayed)
		before = f.snapshot(t)
		_, err = f.p.Refund(f.ctx, RefundRequest{EventID: "refund-2", Actor: "rosa", Member: "ann", Creator: "cleo", Reason: "dispute"})
		require.ErrorIs(t, err, ErrWrongState, "refunded once")
		require.Equal(t, before, f.snapshot(t))
		f.clock.Set(s.PeriodEnd)
		require.Equal(t, ticked{}, f.tick(t), "nothing renews")

		// A creator whose earnings were paid out cannot be refunded from.
		f.fund(t, "bob", "10")
		_, err = f.p.Subscribe(f.ctx, SubscribeRequest{EventID: "sub-2", Actor: "bob", Creator: "cleo", TierID: "basic"})
		require.NoError(t, err)
		_, err = f.l.Transfer(f.ctx, "payout-cleo", EarningsAccount("cleo"), ledger.World, "USD", dec("2.49"))
		require.NoError(t, err)
		before = f.snapshot(t)
		_, err = f.p.Refund(f.ctx, RefundRequest{EventID: "refund-3", Actor: "rosa", Member: "bob", Creator: "cleo", Reason: "dispute"})
		require.ErrorIs(t, err, ErrInsufficientFunds)
		require.ErrorIs(t, err, ledger.ErrInsufficientFunds)
		require.Equal(t, before, f.snapshot(t))
		f.verify(t)
	})
}
