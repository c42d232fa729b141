package referral_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
	"github.com/rewardkit/rewardkit/ledger/memstore"
	"github.com/rewardkit/rewardkit/ledger/teststore"
	"github.com/rewardkit/rewardkit/referral"
)

// FuzzRulesJSON: rules read from outside never panic; rules that decode
// (strictly) and validate survive a JSON round trip unchanged and still
// validate, and a program can be set up with them.
func FuzzRulesJSON(f *testing.F) {
	for _, r := range []referral.Rules{referral.DefaultRules(), referral.ShopRules()} {
		b, _ := json.Marshal(r)
		f.Add(b)
	}
	f.Add([]byte(`{"campaign":"x","asset":{"code":"RUBY"},"timezone":"UTC","tiers":[{"invitees":2,"bonus":"1"}]}`))
	f.Add([]byte(`{"campaign":"x","asset":{"code":"RUBY"},"timezone":"UTC","budget":"1e2147483647"}`))
	f.Add([]byte(`{"campaign":"x","asset":{"code":"RUBY"},"timezone":"UTC","return_window":"2562047h"}`))
	f.Add([]byte(`{"campaign":"x","asset":{"code":"RUBY"},"timezone":"UTC","end":"2300-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"campaign":"x","signup_rewrd":"1"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := referral.ParseRules(data)
		if err != nil {
			if !errors.Is(err, referral.ErrInvalidRules) {
				t.Fatalf("ParseRules: %v does not wrap ErrInvalidRules", err)
			}
			return
		}
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		back, err := referral.ParseRules(b)
		if err != nil {
			t.Fatalf("round trip no longer parses: %v", err)
		}
		b2, _ := json.Marshal(back)
		if string(b) != string(b2) {
			t.Fatalf("round trip changed the rules:\n%s\n%s", b, b2)
		}
		if r.Budget.LessThan(decimal.New(1, 12)) { // keep setup cheap
			newFixture(t, teststore.Memory, r)
		}
	})
}

// sentinels are every error the public API may return a wrapping of.
var sentinels = []error{
	referral.ErrInvalidRules, referral.ErrInvalidRequest, referral.ErrIdempotencyConflict, referral.ErrUnknownMember,
	referral.ErrUnknownCode, referral.ErrUnknownTask, referral.ErrNotInvited, referral.ErrIneligible,
	referral.ErrSelfReferral, referral.ErrReferralLoop, referral.ErrNotNew, referral.ErrAlreadyReferred,
	referral.ErrDuplicateSignal, referral.ErrCapReached, referral.ErrBudgetExhausted, referral.ErrCampaignClosed,
	referral.ErrCountryDisabled, referral.ErrAlreadyRewarded, kit.ErrMemberFacts,
	ledger.ErrInvalidAmount, ledger.ErrPrecision, ledger.ErrUnknownAsset, ledger.ErrInvalidAsset,
	ledger.ErrAssetConflict, ledger.ErrUnknownAccount, ledger.ErrInvalidAddress, ledger.ErrAccountConflict,
	ledger.ErrInsufficientFunds, ledger.ErrInvalidTransaction, ledger.ErrIdempotencyConflict,
	ledger.ErrOverflow, ledger.ErrForbidden, ledger.ErrInvalidTime,
}

func typed(err error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// extremeAmount turns the fuzzer's amount string into a decimal, or, when
// it does not parse, one of the hostile amounts picked by sel.
func extremeAmount(s string, sel byte) decimal.Decimal {
	if v, err := decimal.NewFromString(s); err == nil && len(s) < 200 {
		return v
	}
	huge, _ := new(big.Int).SetString(strings.Repeat("9", 60), 10)
	picks := []decimal.Decimal{
		decimal.New(1, math.MaxInt32), decimal.New(1, math.MinInt32), decimal.New(-1, math.MaxInt32),
		decimal.NewFromBigInt(huge, 0), decimal.NewFromBigInt(huge, -70), decimal.NewFromInt(math.MaxInt64),
		decimal.NewFromInt(math.MinInt64), decimal.Zero, decimal.RequireFromString("-50"),
		decimal.RequireFromString("0.000000000000000000001"), decimal.RequireFromString("50.0000000"),
		decimal.New(5, 18), decimal.NewFromInt(50),
	}
	return picks[int(sel)%len(picks)]
}

// extremeTime picks a clock reading: around the ledger's range, the zero
// time, far future, or one derived from the fuzzer's number.
func extremeTime(when int64, sel byte) time.Time {
	picks := []time.Time{
		ledger.MinTime, ledger.MinTime.Add(-time.Nanosecond), ledger.MaxTime.Add(-time.Nanosecond), ledger.MaxTime,
		{}, time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2262, 4, 11, 23, 47, 16, 0, time.UTC),
		time.Unix(0, when), time.Unix(when%(1<<40), 0), t0.Add(time.Duration(when)),
	}
	return picks[int(sel)%len(picks)]
}

// FuzzReferralPublicAPI drives the program's public API with extreme
// values (issue 10 #2, #3): hostile amounts (huge, negative, zero, many
// decimals, exponents near MaxInt32), clock readings near and outside the
// ledger's time range, empty, invalid and very long ids, unknown members
// and actors, replays and conflicting event ids, in random order. After
// every call: no panic, every error wraps a sentinel, and the ledger
// verifies with every asset summing to zero.
func FuzzReferralPublicAPI(f *testing.F) {
	f.Add([]byte{0, 1, 2, 5, 9, 10, 6, 10}, "50", int64(0), "amy")
	f.Add([]byte{1, 1, 2, 3, 3, 4, 10, 7, 10, 8, 2}, "1e2147483647", int64(1<<62), "")
	f.Add([]byte{0, 0, 0, 11, 8, 5, 10}, "-0.001", int64(-1), strings.Repeat("x", 300))
	f.Add([]byte{1, 7, 1, 2, 5, 9, 10, 7, 10, 6}, "9223372036854775807", int64(math.MaxInt64), "US")
	f.Add([]byte{0, 1, 2, 2, 2, 5, 6, 8, 10, 11}, "0.5", int64(math.MinInt64), "bad:id")
	f.Add([]byte{1, 11, 11, 0, 0, 4, 4}, "5000000000000000000", int64(3e18), "jackpot")
	f.Fuzz(func(t *testing.T, ops []byte, amount string, when int64, id string) {
		if len(ops) > 48 {
			ops = ops[:48]
		}
		ctx := context.Background()
		clock := ledgertest.NewClock(t0)
		l := ledger.New(memstore.New(), ledger.WithClock(clock))
		roles := &kit.RoleDirectory{}
		roles.Grant(riskOfficer, kit.RoleRiskOfficer)
		roles.Grant(admin, kit.RoleProgramAdmin)
		dir := kit.NewDirectory()
		rules := referral.DefaultRules()
		if len(ops) > 0 && ops[0]&1 == 1 {
			rules = referral.ShopRules()
		}
		rules.Newness.MaxAccountAge = 0
		rules.Tasks = append(rules.Tasks, referral.Task{ID: "jackpot", Reward: decimal.New(1, 16), Period: referral.PeriodDaily})
		p, err := referral.New(ctx, l, rules, dir, referral.WithRoles(roles))
		if err != nil {
			t.Fatal(err)
		}
		people := []string{"a", "b", "c", "d", id}
		for _, m := range people {
			dir.Put(kit.Member{ID: m, Country: rules.Country, BirthDate: born(30), HasProfile: true, PayoutLinked: true,
				RegisteredAt: extremeTime(when, byte(len(m))), Device: "dev-" + m, PaymentInstrument: "card-" + m})
		}
		programs := []*referral.Program{p}
		codes := []string{id, "AAAA-AAAA", ""}
		actors := []string{riskOfficer, admin, nobody, "", id}
		check := func(what string, err error) {
			t.Helper()
			if err != nil && !typed(err) {
				t.Fatalf("%s: untyped error: %v", what, err)
			}
			rep, verr := l.Verify(ctx)
			if verr != nil {
				t.Fatalf("%s: verify: %v", what, verr)
			}
			for asset, total := range rep.Totals {
				if !total.IsZero() {
					t.Fatalf("%s: %s sums to %s", what, asset, total)
				}
			}
		}
		for i, op := range ops {
			arg := byte(i) ^ op>>4
			pick := func(s []string) string { return s[int(arg)%len(s)] }
			prog := programs[int(arg)%len(programs)]
			ev := pick([]string{fmt.Sprintf("e%d", i), "e0", id, fmt.Sprintf("e%d", i/2)})
			who := pick(people)
			switch op % 12 {
			case 0:
				_, err := prog.Fund(ctx, referral.FundRequest{Actor: pick(actors), EventID: pick([]string{"k", id, ev}), Amount: extremeAmount(amount, op)})
				check("fund", err)
			case 1:
				c, err := prog.IssueCode(ctx, referral.IssueCodeRequest{EventID: ev, Member: who})
				check("issue code", err)
				if err == nil {
					codes = append(codes, c)
				}
			case 2:
				_, err := prog.Signup(ctx, referral.SignupRequest{EventID: ev, Invitee: who, Code: pick(codes)})
				check("signup", err)
			case 3:
				_, err := prog.RecordActivity(ctx, referral.RecordActivityRequest{EventID: ev, Invitee: who})
				check("activity", err)
			case 4:
				_, err := prog.CompleteTask(ctx, referral.CompleteTaskRequest{EventID: ev, Member: who, Task: pick([]string{"jackpot", "profile_photo", id})})
				check("task", err)
			case 5:
				_, err := prog.RecordPurchase(ctx, referral.RecordPurchaseRequest{EventID: ev, Member: who, PurchaseID: "o-" + who})
				check("purchase", err)
			case 6:
				_, err := prog.RecordRefund(ctx, referral.RecordRefundRequest{EventID: ev, Actor: pick(actors), PurchaseID: "o-" + who})
				check("refund", err)
			case 7:
				err := prog.SetKillSwitch(ctx, referral.SetKillSwitchRequest{Actor: pick(actors), Country: pick([]string{rules.Country, id, "IT"}), Disabled: arg&1 == 0})
				check("kill switch", err)
			case 8:
				clock.Set(extremeTime(when, op))
			case 9:
				clock.Set(t0.Add(time.Duration(when % int64(ledger.MaxDuration))))
			case 10:
				_, err := prog.Tick(ctx)
				check("tick", err)
				_, err = l.Tick(ctx) // as the scheduler does
				check("ledger tick", err)
			case 11:
				r := rules
				r.Campaign = fmt.Sprintf("c%d", i)
				r.Budget = extremeAmount(amount, op)
				r.ReturnWindow = kit.Duration(when)
				r.End = extremeTime(when, op)
				if r.RequirePurchase && r.ReturnWindow <= 0 {
					r.ReturnWindow = kit.Duration(time.Hour)
				}
				np, err := referral.New(ctx, l, r, dir, referral.WithRoles(roles))
				check("new", err)
				if err == nil {
					programs = append(programs, np)
				}
			}
		}
	})
}
