package subscription

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/kit/kittest"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
	"github.com/rewardkit/rewardkit/ledger/memstore"
)

// sentinels are every error the public API may return: this package's and
// the ledger's (issue 10 #2: every refusal is typed).
var sentinels = []error{
	ErrInvalidRules, ErrInvalidRequest, ErrInvalidTiers, ErrIneligible, ErrCountry, ErrUnknownMember, ErrNoOffer,
	ErrUnknownTier, ErrSelfSubscription, ErrAlreadySubscribed, ErrNotSubscribed, ErrWrongState, ErrInsufficientFunds,
	ErrIdempotencyConflict, ErrNoAccess, ErrForbidden, kit.ErrMemberFacts,
	ledger.ErrInvalidAmount, ledger.ErrPrecision, ledger.ErrUnknownAsset, ledger.ErrInvalidAsset, ledger.ErrAssetConflict,
	ledger.ErrUnknownAccount, ledger.ErrInvalidAddress, ledger.ErrAccountConflict, ledger.ErrInsufficientFunds,
	ledger.ErrInvalidTransaction, ledger.ErrNotFound, ledger.ErrDuplicate, ledger.ErrOverflow, ledger.ErrInvalidTime,
}

// FuzzSubscriptionPublicAPI drives the program's public API with extreme
// values (rules from JSON, huge, negative, zero and many-decimal prices
// and shares, exponents near the int32 limits, times at and beyond the
// ledger's range, empty and very long ids, unknown members and perks,
// wallets another program opened with an overdraft) and asserts that no
// call panics, that every error is one of the sentinels, and that the
// ledger still verifies with every asset summing to zero after each call
// (issue 10 #2).
func FuzzSubscriptionPublicAPI(f *testing.F) {
	defaults, err := json.Marshal(DefaultRules())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(defaults, "cleo", "ann", "fan", "4.99", "badge", "10", int64(25), int64(50000), uint8(7), int64(0), uint8(7), int64(31*24*time.Hour), false)
	f.Add([]byte(`{"creator_share":"1e-2147483647","grace_perod":"1h"}`), "cleo", "cleo", "", "1e2147483647", "custom:", "-1", int64(-1), int64(-1), uint8(4), int64(1), uint8(2), int64(-1), true)
	f.Add([]byte(`{"grace_period":"438000h","retry_every":"1ns","period_months":12,"grace_access":true}`), strings.Repeat("x", 300), "ann", "t", "99.99", "custom:"+strings.Repeat("z", 60), "99.99", int64(18), int64(1<<62), uint8(6), int64(0), uint8(1), int64(0), true)
	f.Add([]byte(`{"min_price":"0.000000000000000000000000000001","max_price":"92233720368547758.07"}`), "c", "m", "fan", "92233720368547758.07", "private_chat", "92233720368547758.07", int64(1<<31), int64(9e18), uint8(0), int64(-1), uint8(7), int64(1<<62), false)
	f.Add([]byte(`{"countries":["US"],"asset":{"code":"COIN","precision":0}}`), "cleo", "ann", "fan", "5", "badge", "4.99", int64(30), int64(20000), uint8(3), int64(0), uint8(3), int64(-1<<62), true)
	f.Fuzz(func(t *testing.T, rulesJSON []byte, creator, member, tierID, price, perk, funds string,
		age, followers int64, nowSel uint8, nowOffset int64, askSel uint8, askOffset int64, overdraft bool) {
		ctx := context.Background()
		clock := ledgertest.NewClock(t0)
		l := ledger.New(memstore.New(), ledger.WithClock(clock))
		check := func(what string, err error) {
			t.Helper()
			kittest.RequireTyped(t, what, err, sentinels...)
			kittest.RequireBalanced(t, ctx, l)
		}

		rules := DefaultRules()
		if err := rules.UnmarshalJSON(rulesJSON); err != nil {
			if !errors.Is(err, ErrInvalidRules) {
				t.Fatalf("rules: %v", err)
			}
			rules = DefaultRules()
		} else if err := rules.Validate(); err != nil {
			check("validate", err)
			rules = DefaultRules()
		}
		dir := kit.NewDirectory()
		dir.Put(kit.Member{ID: creator, BirthDate: born(int(age)), Country: "US", Followers: followers, ViewsLastMonth: followers * 10})
		dir.Put(kit.Member{ID: member, BirthDate: born(30), Country: "US"})
		roles := &kit.RoleDirectory{}
		roles.Grant("rosa", kit.RoleRiskOfficer)
		opts := []Option{WithRoles(roles)}
		if overdraft {
			opts = append(opts, WithWallets(kit.WalletPolicy{Overdraft: map[string]decimal.Decimal{rules.Asset.Code: decimal.NewFromInt(7)}}))
		}
		p, err := New(ctx, l, rules, dir, opts...)
		if err != nil {
			t.Fatalf("New with valid rules: %v", err)
		}
		pr, err := decimal.NewFromString(price)
		if err != nil {
			pr = decimal.RequireFromString("4.99")
		}
		tiers := []Tier{{ID: tierID, Price: pr, Perks: []Perk{perk}}, {ID: "base", Price: rules.MinPrice, Perks: []Perk{PerkBadge}}}
		_, err = p.PublishTiers(ctx, PublishTiersRequest{EventID: "pub-1", Actor: creator, Tiers: tiers})
		check("publish", err)
		_, err = p.PublishTiers(ctx, PublishTiersRequest{EventID: "pub-2", Actor: creator, Tiers: tiers[1:]})
		check("publish base", err)

		// Money enters the member's wallet from outside the program; the
		// wallet may have been opened by another program with an overdraft.
		if amt, err := decimal.NewFromString(funds); err == nil && kit.CheckDecimal(amt) == nil && kit.CheckID(ErrInvalidRequest, "member", member) == nil {
			_ = l.Update(ctx, func(w *ledger.Writer) error {
				spec := ledger.AccountSpec{Address: MemberAccount(member)}
				if overdraft { // as gifting opens it, with a coin overdraft
					if err := w.DefineAsset(ledger.Asset{Code: "FUZZCOIN"}); err != nil {
						return err
					}
					spec.Overdraft.Limits = map[string]decimal.Decimal{"FUZZCOIN": decimal.NewFromInt(100)}
				}
				if err := kit.OpenIfMissing(w, spec.Address, spec.Overdraft); err != nil {
					return err
				}
				_, err := w.Post(ledger.TransferRequest{Postings: []ledger.Posting{{From: ledger.World, To: MemberAccount(member), Asset: rules.Asset.Code, Amount: amt}}})
				return err
			})
			check("fund", nil)
		}

		clock.Set(kittest.EdgeTime(nowSel, clock.Now(), nowOffset))
		for _, tier := range []string{tierID, "base"} {
			_, err = p.Subscribe(ctx, SubscribeRequest{EventID: "sub-" + tier, Actor: member, Creator: creator, TierID: tier})
			check("subscribe", err)
		}
		_, err = p.Subscribe(ctx, SubscribeRequest{EventID: "sub-base", Actor: member, Creator: creator, TierID: "base"})
		check("subscribe replay", err)
		ask := kittest.EdgeTime(askSel, clock.Now(), askOffset)
		_, err = p.MayUse(ctx, member, creator, perk, ask)
		check("may use", err)
		_, err = p.ChangeTier(ctx, ChangeTierRequest{EventID: "change-1", Actor: member, Creator: creator, TierID: tierID})
		check("change tier", err)
		_, err = p.Subscription(ctx, member, creator)
		check("subscription", err)
		_, err = p.Offer(ctx, creator)
		check("offer", err)

		clock.Set(ask)
		_, err = p.Tick(ctx)
		check("tick", err)
		_, err = p.MayUse(ctx, member, creator, PerkBadge, clock.Now())
		check("may use after tick", err)
		_, err = p.Refund(ctx, RefundRequest{EventID: "refund-0", Actor: creator, Member: member, Creator: creator, Reason: perk})
		check("refund by the creator", err)
		_, err = p.Refund(ctx, RefundRequest{EventID: "refund-1", Actor: "rosa", Member: member, Creator: creator, Reason: perk})
		check("refund", err)
		_, err = p.Cancel(ctx, CancelRequest{EventID: "cancel-1", Actor: member, Creator: creator})
		check("cancel", err)
		clock.Set(ledger.MaxTime.Add(-time.Nanosecond))
		_, err = p.Tick(ctx)
		check("last tick", err)
	})
}
