package shoutout_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
	"github.com/rewardkit/rewardkit/ledger/memstore"
	"github.com/rewardkit/rewardkit/shoutout"
)

// sentinels are the errors a public call of this package may return (each
// wrapped with context).
var sentinels = []error{
	shoutout.ErrInvalidRules, shoutout.ErrIneligible, shoutout.ErrUnknownMember, shoutout.ErrInvalidRequest,
	shoutout.ErrPriceOutOfBounds, shoutout.ErrNoOffer, shoutout.ErrPriceChanged, shoutout.ErrInsufficientCoins,
	shoutout.ErrWrongState, shoutout.ErrDeadlinePassed, shoutout.ErrNotParty, shoutout.ErrNotFound,
	shoutout.ErrIdempotencyConflict, kit.ErrMemberFacts,
	ledger.ErrForbidden, ledger.ErrInvalidTime, ledger.ErrOverflow, ledger.ErrInvalidAmount,
	ledger.ErrInsufficientFunds, ledger.ErrInvalidTransaction, ledger.ErrIdempotencyConflict,
	ledger.ErrInvalidAddress, ledger.ErrInvalidAsset, ledger.ErrPrecision,
}

// FuzzShoutoutPublicAPI drives the whole public API with extreme values —
// rules from arbitrary JSON, platform shares with huge exponents, prices
// from MinInt64 to MaxInt64, clocks near MinTime and MaxTime and beyond,
// empty, very long and hostile ids and actors — and checks that nothing
// panics, every error is one of the package's or the ledger's sentinels,
// and after every call the ledger verifies and every asset sums to zero.
// issue 10 #2, #3, #4, #10 (shoutout's part).
func FuzzShoutoutPublicAPI(f *testing.F) {
	day := int64(24 * time.Hour)
	f.Add([]byte(`{}`), "0.25", int64(0), "o-1", "ann", "cat", int64(500), "mod", int64(0), int64(2*day), "hi")
	f.Add([]byte(`{"review_abve":"1h"}`), "1e2147483647", int64(-1), "o-1", "ann", "cat", int64(math.MaxInt64), "cat", int64(0), int64(day), "")
	f.Add([]byte(`{"accept_window":"87600h","delivery_window":"8784h"}`), "1", int64(7258118400), "o-1", "ann", "cat", int64(100), "", int64(math.MaxInt64), int64(math.MinInt64), "x")
	f.Add([]byte(`{"min_price":1,"max_price":1000000000000}`), "0.1234567890123456789", int64(4102444800-3600), strings.Repeat("o", 65), "ann", "cat", int64(1000000000000), "ann", int64(-day), int64(day), strings.Repeat("n", 1001))
	f.Add([]byte(`{"platform_share":"1e-2147483648"}`), "-0", int64(math.MinInt64), "o:1", "", "cat", int64(-1), "nobody", int64(3*day), int64(3*day), "v")
	f.Add([]byte(`[1,2]`), "0.5", int64(946684800), "o-2", "bob", "dan", int64(100), "mod", int64(10*day), int64(30*day), "video://x")
	f.Fuzz(func(t *testing.T, rulesJSON []byte, share string, startUnix int64, orderID, fan, creator string,
		price int64, actor string, step1, step2 int64, text string) {
		ctx := context.Background()
		check := func(what string, err error) {
			t.Helper()
			if err != nil {
				matched := false
				for _, s := range sentinels {
					if errors.Is(err, s) {
						matched = true
						break
					}
				}
				if !matched {
					t.Fatalf("%s: error matches no sentinel: %v", what, err)
				}
			}
		}
		rules := shoutout.DefaultRules()
		if r, err := shoutout.ParseRules(rulesJSON); err == nil {
			rules = r
		} else {
			check("ParseRules", err)
		}
		if d, err := decimal.NewFromString(share); err == nil {
			rules.PlatformShare = d
		}
		if e, ok := exponentOf(share); ok {
			rules.PlatformShare = decimal.New(1, e)
		}
		clock := ledgertest.NewClock(start)
		l := ledger.New(memstore.New(), ledger.WithClock(clock))
		verify := func(what string) {
			t.Helper()
			rep, err := l.Verify(ctx)
			if err != nil {
				t.Fatalf("%s: verify: %v", what, err)
			}
			for asset, total := range rep.Totals {
				if !total.IsZero() {
					t.Fatalf("%s: %s sums to %s", what, asset, total)
				}
			}
		}
		dir := kit.NewDirectory(members()...)
		roles := &kit.RoleDirectory{}
		roles.Grant("mod", kit.RoleReviewer)
		roles.Grant("cat", kit.RoleReviewer)
		if actor != "" {
			roles.Grant(actor+"-reviewer", kit.RoleReviewer)
		}
		inbox := shoutout.NewInbox()
		p, err := shoutout.New(ctx, l, rules, dir, inbox, shoutout.WithRoles(roles))
		if err != nil {
			check("New", err)
			rules = shoutout.DefaultRules()
			p, err = shoutout.New(ctx, l, rules, dir, inbox, shoutout.WithRoles(roles))
			if err != nil {
				t.Fatal(err)
			}
		}
		for _, m := range []string{"ann", "bob"} {
			if _, err := l.OpenAccount(ctx, ledger.AccountSpec{Address: shoutout.MemberAccount(m)}); err != nil {
				t.Fatal(err)
			}
			if _, err := l.Transfer(ctx, "fund-"+m, ledger.World, shoutout.MemberAccount(m), rules.CoinAsset, decimal.NewFromInt(200000)); err != nil {
				t.Fatal(err)
			}
		}
		verify("setup")
		clock.Set(time.Unix(startUnix, 0))
		_, err = p.SetOffer(ctx, shoutout.SetOfferRequest{Creator: creator, Price: price})
		check("SetOffer", err)
		_, err = p.SetOffer(ctx, shoutout.SetOfferRequest{Creator: "cat", Price: min(max(price, rules.MinPrice), rules.MaxPrice)})
		check("SetOffer cat", err)
		verify("SetOffer")
		_, err = p.Request(ctx, shoutout.RequestRequest{OrderID: orderID, Fan: fan, Creator: creator, Price: price, Note: text})
		check("Request", err)
		verify("Request")
		o, err := p.Request(ctx, shoutout.RequestRequest{OrderID: orderID, Fan: fan, Creator: creator, Price: price, Note: text})
		check("Request again", err)
		if err == nil && !o.Replayed {
			t.Fatal("a repeated request is not marked as a replay")
		}
		advance := func(d int64) {
			if now := clock.Now(); d > 0 && now.Unix() < math.MaxInt64/2 || d < 0 && now.Unix() > math.MinInt64/2 {
				clock.Advance(time.Duration(d))
			}
		}
		events := []func(ev string) error{
			func(ev string) error {
				_, err := p.Accept(ctx, shoutout.AcceptRequest{EventID: ev, OrderID: orderID, Actor: creator})
				return err
			},
			func(ev string) error {
				_, err := p.Submit(ctx, shoutout.SubmitRequest{EventID: ev, OrderID: orderID, Actor: creator, Video: text})
				return err
			},
			func(ev string) error {
				_, err := p.Approve(ctx, shoutout.ApproveRequest{EventID: ev, OrderID: orderID, Actor: actor})
				return err
			},
			func(ev string) error {
				_, err := p.Approve(ctx, shoutout.ApproveRequest{EventID: ev, OrderID: orderID, Actor: actor + "-reviewer"})
				return err
			},
			func(ev string) error {
				_, err := p.Reject(ctx, shoutout.RejectRequest{EventID: ev, OrderID: orderID, Actor: "mod", Reason: text})
				return err
			},
			func(ev string) error {
				_, err := p.Cancel(ctx, shoutout.CancelRequest{EventID: ev, OrderID: orderID, Actor: fan})
				return err
			},
			func(ev string) error {
				_, err := p.Decline(ctx, shoutout.DeclineRequest{EventID: ev, OrderID: orderID, Actor: creator})
				return err
			},
		}
		for i, ev := range events {
			if i == 2 {
				advance(step1)
			}
			id := "ev" + string(rune('a'+i))
			if i == 1 {
				id = orderID // an event id as hostile as the order id
			}
			check("event", ev(id))
			verify("event")
			check("event replay", ev(id))
			verify("event replay")
			if i == 3 {
				advance(step2)
				_, err := p.Tick(ctx)
				check("Tick", err)
				verify("Tick")
			}
		}
		_, err = p.Order(ctx, orderID)
		check("Order", err)
		_, err = p.Offer(ctx, creator)
		check("Offer", err)
		check("WithdrawOffer", p.WithdrawOffer(ctx, shoutout.WithdrawOfferRequest{Creator: creator}))
		clock.Set(ledger.MaxTime.Add(-time.Second))
		_, err = p.Tick(ctx)
		check("Tick at the end of time", err)
		verify("end")
	})
}

// exponentOf reads "1e<n>" with n an int32, which decimal's parser
// refuses beyond its decoding limit, so that the fuzzer can still build
// such decimals.
func exponentOf(s string) (int32, bool) {
	rest, ok := strings.CutPrefix(s, "1e")
	if !ok || rest == "" {
		return 0, false
	}
	var n int64
	neg := strings.HasPrefix(rest, "-")
	rest = strings.TrimPrefix(rest, "-")
	for _, c := range rest {
		if c < '0' || c > '9' || n > math.MaxInt32+1 {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	if n < math.MinInt32 || n > math.MaxInt32 {
		return 0, false
	}
	return int32(n), true
}
