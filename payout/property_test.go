package payout_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"pgregory.net/rapid"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/teststore"
	"github.com/rewardkit/rewardkit/payout"
)

var refusals = []error{payout.ErrBelowMinimum, payout.ErrTooFrequent, payout.ErrDailyMaximum,
	payout.ErrInsufficientFunds, payout.ErrIdempotencyConflict, payout.ErrWrongState}

func refused(err error) bool {
	for _, e := range refusals {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// TestPropertyPayoutsSettleOnce drives random deposits, spending,
// withdrawals (with random provider behaviour: success, failure, held,
// unclaimed, lost answers, lost requests), replays, reviews (and members
// trying to approve their own), provider resolutions, clock moves past
// hold_for, retries, program ticks and ledger sweeps, on both stores.
// After every step: the journal verifies and every asset sums to zero; no
// member is below zero; each payout's hold is pending exactly while the
// payout is unsettled — however long it has been in flight (issue 10 #9);
// what left the members (beyond what they spent) equals the reward asset
// of paid payouts, and settlement + fees equal their converted value,
// with the provider paid exactly the settlement. At the end every payout
// is driven to a final status, each settled once.
func TestPropertyPayoutsSettleOnce(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		// PostgreSQL opens a schema per case: fewer, shorter cases there.
		maxSteps, maxRuns := 80, math.MaxInt
		if strings.HasSuffix(t.Name(), "/pgstore") {
			maxSteps, maxRuns = 25, 12
		}
		runs := 0
		rapid.Check(t, func(rt *rapid.T) {
			if runs >= maxRuns {
				return
			}
			runs++
			propertyPayoutsSettleOnce(t, rt, open, maxSteps)
		})
	})
}

func propertyPayoutsSettleOnce(t *testing.T, rt *rapid.T, open teststore.Opener, maxSteps int) {
	rules := payout.DefaultRules()
	rules.MaxPerPeriod = rapid.IntRange(1, 3).Draw(rt, "max_per_period")
	rules.ReviewAbove = decimal.NewFromInt(rapid.SampledFrom([]int64{0, 3}).Draw(rt, "review_above"))
	rules.DailyMaximum = decimal.NewFromInt(rapid.SampledFrom([]int64{1000, 6, 0}).Draw(rt, "daily_maximum"))
	rules.Minimum = decimal.NewFromInt(rapid.SampledFrom([]int64{8000, 100}).Draw(rt, "minimum"))
	rules.HoldFor = kit.Duration(rapid.SampledFrom([]time.Duration{90 * 24 * time.Hour, 36 * time.Hour}).Draw(rt, "hold_for"))
	fx := newFixture(t, open, rules)
	ctx, l, p, prov, clock := fx.ctx, fx.l, fx.p, fx.prov, fx.clock
	prov.SetReturnAfter(48 * time.Hour)
	members := []string{"a", "b", "c"}
	for _, m := range members {
		if _, err := l.OpenAccount(ctx, ledger.AccountSpec{Address: payout.MemberAccount(m)}); err != nil {
			rt.Fatal(err)
		}
		if _, err := p.LinkAccount(ctx, payout.LinkAccountRequest{Actor: m, Account: m + "@example.com"}); err != nil {
			rt.Fatal(err)
		}
	}
	deposited, spent := decimal.Zero, decimal.Zero
	var ids []string
	known := map[string]bool{}
	n := 0
	tick := func(rt *rapid.T) {
		rep, err := p.Tick(ctx)
		if err != nil || len(rep.Failed) > 0 {
			rt.Fatalf("tick: %v %v", err, rep.Failed)
		}
	}
	actions := map[string]func(*rapid.T){
		"deposit": func(rt *rapid.T) {
			n++
			amt := decimal.NewFromInt(rapid.Int64Range(1, 80000).Draw(rt, "amount"))
			m := rapid.SampledFrom(members).Draw(rt, "member")
			if _, err := l.Transfer(ctx, fmt.Sprintf("dep-%d", n), ledger.World, payout.MemberAccount(m), "RUBY", amt); err != nil {
				rt.Fatal(err)
			}
			deposited = deposited.Add(amt)
		},
		"spend": func(rt *rapid.T) {
			// Members spend what is available, never what is in flight.
			n++
			m := rapid.SampledFrom(members).Draw(rt, "member")
			b, err := l.Balance(ctx, payout.MemberAccount(m), "RUBY")
			if err != nil {
				rt.Fatal(err)
			}
			amt := decimal.NewFromInt(rapid.Int64Range(1, 90000).Draw(rt, "amount"))
			_, err = l.Transfer(ctx, fmt.Sprintf("spend-%d", n), payout.MemberAccount(m), ledger.World, "RUBY", amt)
			switch {
			case amt.LessThanOrEqual(b.Available) && err == nil:
				spent = spent.Add(amt)
			case amt.GreaterThan(b.Available) && errors.Is(err, ledger.ErrInsufficientFunds):
			default:
				rt.Fatalf("spend %s of %+v: %v", amt, b, err)
			}
		},
		"withdraw": func(rt *rapid.T) {
			id := fmt.Sprintf("w%d", len(ids)+1)
			if len(ids) > 0 && rapid.IntRange(0, 4).Draw(rt, "replay") == 0 {
				id = rapid.SampledFrom(ids).Draw(rt, "old id")
			}
			prov.Next(payout.Behaviour(rapid.IntRange(int(payout.Succeed), int(payout.TimeoutBeforePaying)).Draw(rt, "behaviour")))
			m := rapid.SampledFrom(members).Draw(rt, "member")
			amt := decimal.NewFromInt(rapid.Int64Range(1, 90000).Draw(rt, "amount"))
			_, err := p.Withdraw(ctx, payout.WithdrawRequest{PayoutID: id, Actor: m, Amount: amt})
			if err != nil && !refused(err) {
				rt.Fatalf("withdraw: %v", err)
			}
			if !known[id] {
				if _, gerr := p.Get(ctx, id); gerr == nil {
					known[id] = true
					ids = append(ids, id)
				}
			}
		},
		"review": func(rt *rapid.T) {
			if len(ids) == 0 {
				return
			}
			id := rapid.SampledFrom(ids).Draw(rt, "id")
			var err error
			switch rapid.IntRange(0, 2).Draw(rt, "decision") {
			case 0:
				_, err = p.Approve(ctx, payout.ApproveRequest{Actor: reviewer, PayoutID: id})
			case 1:
				_, err = p.Reject(ctx, payout.RejectRequest{Actor: reviewer, PayoutID: id, Reason: "random"})
			default:
				po, gerr := p.Get(ctx, id)
				if gerr != nil {
					rt.Fatal(gerr)
				}
				if _, err := p.Approve(ctx, payout.ApproveRequest{Actor: po.Member, PayoutID: id}); !errors.Is(err, ledger.ErrForbidden) {
					rt.Fatalf("a member approving their own payout: %v", err)
				}
			}
			if err != nil && !refused(err) {
				rt.Fatalf("review: %v", err)
			}
		},
		"resolve": func(rt *rapid.T) {
			if len(ids) == 0 {
				return
			}
			id := rapid.SampledFrom(ids).Draw(rt, "id")
			o := rapid.SampledFrom([]payout.Outcome{payout.OutcomeSucceeded, payout.OutcomeFailed, payout.OutcomeReturned}).Draw(rt, "outcome")
			_ = prov.Resolve("payout:paypal:"+id, o) // refused unless held or unclaimed
		},
		"retry": func(rt *rapid.T) {
			if len(ids) == 0 {
				return
			}
			if _, err := p.Retry(ctx, payout.RetryRequest{PayoutID: rapid.SampledFrom(ids).Draw(rt, "id")}); err != nil {
				rt.Fatal(err)
			}
		},
		"advance": func(rt *rapid.T) {
			clock.Advance(time.Duration(rapid.IntRange(1, 72*60).Draw(rt, "minutes")) * time.Minute)
		},
		"tick": tick,
		"sweep": func(rt *rapid.T) { // other programs' Ticks release expired holds too
			if _, err := l.Tick(ctx); err != nil {
				rt.Fatal(err)
			}
		},
	}
	keys := make([]string, 0, len(actions))
	for k := range actions {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	steps := rapid.IntRange(1, maxSteps).Draw(rt, "steps")
	for i := 0; i < steps; i++ {
		actions[rapid.SampledFrom(keys).Draw(rt, "action")](rt)
		payoutInvariants(rt, ctx, l, p, prov, members, ids, deposited.Sub(spent))
	}
	// Drive everything to a final status.
	for _, id := range ids {
		if po, err := p.Get(ctx, id); err == nil && po.Status == payout.StatusReview {
			if _, err := p.Approve(ctx, payout.ApproveRequest{Actor: reviewer, PayoutID: id}); err != nil {
				rt.Fatal(err)
			}
		}
	}
	for round := 0; round < 4; round++ {
		for _, id := range ids {
			_ = prov.Resolve("payout:paypal:"+id, payout.OutcomeSucceeded)
		}
		clock.Advance(time.Duration(rules.RetryEvery))
		tick(rt)
	}
	for _, id := range ids {
		po, err := p.Get(ctx, id)
		if err != nil {
			rt.Fatal(err)
		}
		if !po.Status.Final() {
			rt.Fatalf("payout %s ended %s", id, po.Status)
		}
	}
	payoutInvariants(rt, ctx, l, p, prov, members, ids, deposited.Sub(spent))
	settled, err := l.Balance(ctx, payout.SettlementAccount("paypal"), "EUR")
	if err != nil {
		rt.Fatal(err)
	}
	if !settled.Posted.Equal(prov.Paid("EUR")) {
		rt.Fatalf("all settled: settlement %s but the provider paid %s", settled.Posted, prov.Paid("EUR"))
	}
}

func payoutInvariants(rt *rapid.T, ctx context.Context, l *ledger.Ledger, p *payout.Program, prov *payout.MemoryProvider,
	members []string, ids []string, kept decimal.Decimal) {
	rep, err := l.Verify(ctx)
	if err != nil {
		rt.Fatalf("verify: %v", err)
	}
	for a, tot := range rep.Totals {
		if !tot.IsZero() {
			rt.Fatalf("%s sums to %s", a, tot)
		}
	}
	inWallets := decimal.Zero
	for _, m := range members {
		b, err := l.Balance(ctx, payout.MemberAccount(m), "RUBY")
		if err != nil {
			rt.Fatal(err)
		}
		if b.Posted.Sign() < 0 || b.Available.Sign() < 0 {
			rt.Fatalf("member %s below zero: %+v", m, b)
		}
		inWallets = inWallets.Add(b.Posted)
	}
	paidIn, paidGross := decimal.Zero, decimal.Zero
	for _, id := range ids {
		po, err := p.Get(ctx, id)
		if err != nil {
			rt.Fatal(err)
		}
		h, err := l.HoldByID(ctx, po.HoldID)
		if err != nil {
			rt.Fatal(err)
		}
		if po.Status.Final() == (h.Status == ledger.HoldPending) {
			rt.Fatalf("payout %s is %s but its hold is %s", id, po.Status, h.Status)
		}
		_, capErr := l.TransactionByKey(ctx, "payout:paypal:capture:"+id)
		if (po.Status == payout.StatusPaid) != (capErr == nil) {
			rt.Fatalf("payout %s is %s; capture found: %v", id, po.Status, capErr == nil)
		}
		if po.Status == payout.StatusPaid {
			if h.Status != ledger.HoldCaptured {
				rt.Fatalf("paid payout %s hold is %s", id, h.Status)
			}
			paidIn = paidIn.Add(po.Amount)
			paidGross = paidGross.Add(po.Gross)
		}
	}
	if left := kept.Sub(inWallets); !left.Equal(paidIn) {
		rt.Fatalf("%s RUBY left the members, paid payouts took %s", left, paidIn)
	}
	settled, err := l.Balance(ctx, payout.SettlementAccount("paypal"), "EUR")
	if err != nil {
		rt.Fatal(err)
	}
	fees, err := l.Balance(ctx, payout.FeeAccount("paypal"), "EUR")
	if err != nil {
		rt.Fatal(err)
	}
	if !settled.Posted.Add(fees.Posted).Equal(paidGross) {
		rt.Fatalf("settlement %s + fees %s != converted %s", settled.Posted, fees.Posted, paidGross)
	}
	// The provider paid exactly the settled payouts, plus payouts whose
	// answer is not recorded yet (still in flight).
	paidByProvider := decimal.Zero
	for _, pay := range prov.Payments() {
		if pay.Outcome != payout.OutcomeSucceeded {
			continue
		}
		po, err := p.Get(ctx, pay.Request.Key[len("payout:paypal:"):])
		if err != nil {
			rt.Fatal(err)
		}
		switch {
		case po.Status == payout.StatusPaid:
			paidByProvider = paidByProvider.Add(pay.Request.Amount)
		case po.Status.Final():
			rt.Fatalf("provider paid %s but the payout is %s", po.ID, po.Status)
		}
	}
	if !settled.Posted.Equal(paidByProvider) {
		rt.Fatalf("settlement %s but the provider paid %s for settled payouts", settled.Posted, paidByProvider)
	}
}
