package payout_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/teststore"
	"github.com/rewardkit/rewardkit/payout"
)

// FuzzRulesJSON: rules read from outside never panic and are refused with
// ErrInvalidRules unless valid; rules that validate survive a JSON round
// trip, and a program can be set up with them and quote a withdrawal of
// the minimum without panicking.
func FuzzRulesJSON(f *testing.F) {
	for _, r := range []payout.Rules{payout.DefaultRules(), payout.CreatorRules(diamondValue)} {
		b, _ := json.Marshal(r)
		f.Add(b)
	}
	f.Add([]byte(`{"provider":"bank","from":{"code":"RUBY"},"to":{"code":"USD","precision":2},"rate":"1/200","rounding":"half_even","fixed_fee":"2.90","fee_rounding":"down"}`))
	f.Add([]byte(`{"provider":"paypal","review_abve":"5"}`))
	f.Add([]byte(`{"provider":"paypal","minimum":"1e2147483647","hold_for":"2067360h"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := payout.ParseRules(data)
		if err != nil {
			if !errors.Is(err, payout.ErrInvalidRules) {
				t.Fatalf("refused without ErrInvalidRules: %v", err)
			}
			return
		}
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		back, err := payout.ParseRules(b)
		if err != nil {
			t.Fatalf("round trip no longer parses: %v", err)
		}
		if err := back.Validate(); err != nil {
			t.Fatalf("round trip no longer validates: %v", err)
		}
		fx := newFixture(t, teststore.Memory, r)
		if r.Minimum.Sign() > 0 {
			_, _ = fx.p.Quote(payout.WithdrawRequest{Amount: r.Minimum})
		}
	})
}

// fuzzSentinels are the errors a public call may answer with: the
// package's sentinels and the ledger's that the package documents.
var fuzzSentinels = []error{
	payout.ErrInvalidRules, payout.ErrInvalidRequest, payout.ErrIdempotencyConflict, payout.ErrNotFound,
	payout.ErrNoPayoutAccount, payout.ErrBelowMinimum, payout.ErrTooFrequent, payout.ErrDailyMaximum,
	payout.ErrInsufficientFunds, payout.ErrWrongState, payout.ErrProviderTimeout, payout.ErrProviderConflict,
	payout.ErrUnknownSource, ledger.ErrForbidden, ledger.ErrInvalidTime, ledger.ErrOverflow, ledger.ErrInvalidAmount,
}

// FuzzPayoutPublicAPI drives every public call with extreme values —
// amounts huge, negative, zero, with many decimals or exponents near
// ±2^31, times around MinTime and MaxTime and far beyond, empty and very
// long IDs, unknown members, accounts and actors — and asserts that
// nothing panics, every error matches a sentinel, and after each call the
// journal verifies with every asset summing to zero.
func FuzzPayoutPublicAPI(f *testing.F) {
	f.Add("81250", int64(0), int32(0), "w1", "giulia", "creator:giulia:diamonds", "ana", int64(0), uint8(0))
	f.Add("", int64(math.MaxInt64), int32(0), "w1", "giulia", "member:giulia", "ana", int64(0), uint8(4))
	f.Add("1e2147483647", int64(1), int32(0), "w1", "giulia", "creator:giulia:diamonds", "giulia", int64(0), uint8(1))
	f.Add("", int64(1), int32(-2147483648), "w1", "giulia", "creator:marco:diamonds", "", int64(0), uint8(2))
	f.Add("-5", int64(-1), int32(2147483647), "", "", "", "nobody", ledger.MaxTime.Unix()-1, uint8(3))
	f.Add("0.0000000000000000000001", int64(0), int32(0), strings.Repeat("x", 65), strings.Repeat("m", 200), "world", "ana",
		time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC).Unix(), uint8(5))
	f.Add("10000", int64(0), int32(0), "w2", "giulia", "payout:paypal:fees", "ana", int64(-1), uint8(0))
	f.Add("9223372036854775807", int64(0), int32(0), "w3", "giulia", "creator:giulia:diamonds", "ana", int64(-62135596800), uint8(2))
	f.Fuzz(func(t *testing.T, amountStr string, coef int64, exp int32, payoutID, member, account, actor string, clockSecs int64, behaviour uint8) {
		rules := payout.DefaultRules()
		rules.ReviewAbove = d("5")
		rules.Sources = []payout.Source{{Account: "creator:{member}:diamonds", Asset: ledger.DIAMOND,
			Value: ledger.ConversionRule{From: "DIAMOND", To: "EUR", Rate: ledger.NewRate(1, 200), Rounding: ledger.RoundDown}, Minimum: d("100")}}
		fx := newFixture(t, teststore.Memory, rules)
		ctx := context.Background()
		fx.fund(t, "giulia", 100000)
		fx.deposit(t, "creator:giulia:diamonds", "DIAMOND", 10000)
		amount := decimal.New(coef, exp)
		if v, err := decimal.NewFromString(amountStr); err == nil {
			amount = v
		}
		check := func(what string, err error) {
			t.Helper()
			if err != nil {
				ok := false
				for _, s := range fuzzSentinels {
					if errors.Is(err, s) {
						ok = true
						break
					}
				}
				if !ok {
					t.Fatalf("%s: error matches no sentinel: %v", what, err)
				}
			}
			rep, verr := fx.l.Verify(ctx)
			if verr != nil {
				t.Fatalf("%s: verify: %v", what, verr)
			}
			for a, tot := range rep.Totals {
				if !tot.IsZero() {
					t.Fatalf("%s: %s sums to %s", what, a, tot)
				}
			}
		}
		round := func(tag string) {
			fx.prov.Next(payout.Behaviour(int(behaviour) % (int(payout.TimeoutBeforePaying) + 1)))
			_, err := fx.p.Quote(payout.WithdrawRequest{Amount: amount})
			check(tag+"quote", err)
			_, err = fx.p.Quote(payout.WithdrawRequest{Actor: member, Source: account, Amount: amount})
			check(tag+"quote from", err)
			_, err = fx.p.LinkAccount(ctx, payout.LinkAccountRequest{Actor: member, Account: account})
			check(tag+"link", err)
			_, err = fx.p.Withdraw(ctx, payout.WithdrawRequest{PayoutID: payoutID, Actor: member, Amount: amount})
			check(tag+"withdraw", err)
			_, err = fx.p.Withdraw(ctx, payout.WithdrawRequest{PayoutID: tag + payoutID, Actor: member, Source: account, Amount: amount})
			check(tag+"withdraw from", err)
			_, err = fx.p.Withdraw(ctx, payout.WithdrawRequest{PayoutID: tag + "g", Actor: "giulia", Source: account, Amount: amount})
			check(tag+"giulia withdraws from", err)
			rollback := errors.New("the caller's unit of work fails")
			err = fx.l.Update(ctx, func(w *ledger.Writer) error {
				if _, err := fx.p.WithdrawIn(w, payout.WithdrawRequest{PayoutID: tag + "in", Actor: "giulia", Source: account, Amount: amount}); err != nil {
					return err
				}
				return rollback
			})
			if errors.Is(err, rollback) {
				err = nil
			}
			check(tag+"withdraw in, rolled back", err)
			_, err = fx.p.Approve(ctx, payout.ApproveRequest{Actor: actor, PayoutID: payoutID})
			check(tag+"approve", err)
			_, err = fx.p.Reject(ctx, payout.RejectRequest{Actor: actor, PayoutID: tag + payoutID, Reason: amountStr})
			check(tag+"reject", err)
			_, err = fx.p.Retry(ctx, payout.RetryRequest{PayoutID: payoutID})
			check(tag+"retry", err)
			_, err = fx.p.Get(ctx, payoutID)
			check(tag+"get", err)
			_, err = fx.p.Linked(ctx, member)
			check(tag+"linked", err)
			_, err = fx.p.Tick(ctx)
			check(tag+"tick", err)
		}
		round("a")
		if clockSecs != 0 {
			fx.clock.Set(time.Unix(clockSecs, 0))
		}
		round("b")
	})
}
