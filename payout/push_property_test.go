package payout_test

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"pgregory.net/rapid"

	"github.com/rewardkit/rewardkit/ledger/teststore"
	"github.com/rewardkit/rewardkit/payout"
)

// TestPropertyPushedAndPolledSettleOnce interleaves withdrawals (with
// random provider behaviour), the provider settling held and unclaimed
// payments, pushed outcomes (the provider's truth, under event IDs drawn
// from a small pool so that deliveries repeat and IDs collide), stale
// pushes (held, reported long ago), contradicting pushes, polls (Retry,
// Tick) and clock moves, on both stores. After every step the journal
// verifies and sums to zero, no payout's status disagrees with the
// provider, each member lost exactly the paid payouts' amounts and has
// the in-flight ones held, and the settlement account holds exactly the
// paid payouts' net: money moved once per payout however its outcome
// arrived. Reversals of paid payouts take the amount back from the member
// once (to the reversal account), blocked payments come back like failed
// ones. At the end every payout is settled and the provider paid exactly
// what was settled.
func TestPropertyPushedAndPolledSettleOnce(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		maxSteps, maxRuns := 60, math.MaxInt
		if strings.HasSuffix(t.Name(), "/pgstore") {
			maxSteps, maxRuns = 20, 6
		}
		runs := 0
		rapid.Check(t, func(rt *rapid.T) {
			if runs >= maxRuns {
				return
			}
			runs++
			propertyPushedAndPolled(t, rt, open, maxSteps)
		})
	})
}

type delivery struct {
	id string
	n  payout.RecordOutcomeRequest
}

func propertyPushedAndPolled(t *testing.T, rt *rapid.T, open teststore.Opener, maxSteps int) {
	rules := payout.DefaultRules()
	rules.Minimum = decimal.NewFromInt(100)
	rules.MaxPerPeriod = 1000
	rules.DailyMaximum = decimal.Zero
	fx := newFixture(t, open, rules)
	ctx, p, prov, clock := fx.ctx, fx.p, fx.prov, fx.clock
	prov.SetReturnAfter(48 * time.Hour)
	members := []string{"a", "b"}
	const funded = 1000000
	for _, m := range members {
		fx.fund(t, m, funded)
	}
	var ids []string
	sent := map[string]payout.RecordOutcomeRequest{} // first recorded delivery of each event ID
	var deliveries []delivery
	fail := func(format string, a ...any) { rt.Helper(); rt.Fatalf(format, a...) }

	payment := func(id string) (payout.Payment, bool) {
		for _, pay := range prov.Payments() {
			if pay.Request.Key == p.KeyFor(id) {
				return pay, true
			}
		}
		return payout.Payment{}, false
	}
	push := func(id string, n payout.RecordOutcomeRequest) {
		po, err := p.RecordOutcome(ctx, withEventID(id, n))
		prev, seen := sent[id]
		if seen {
			same := prev.PayoutID == n.PayoutID && prev.Outcome == n.Outcome && prev.Reference == n.Reference && prev.At.Equal(n.At)
			switch {
			case same && (err != nil || !po.Replayed):
				fail("repeated delivery %s: replayed %v, %v", id, po.Replayed, err)
			case !same && !errors.Is(err, payout.ErrIdempotencyConflict):
				fail("delivery %s with another notification: %v", id, err)
			}
			return
		}
		if err != nil {
			fail("push %s %+v: %v", id, n, err)
		}
		sent[id] = n
		deliveries = append(deliveries, delivery{id, n})
	}
	truth := func(id string) (payout.RecordOutcomeRequest, bool) {
		pay, ok := payment(id)
		if !ok {
			return payout.RecordOutcomeRequest{}, false
		}
		return payout.RecordOutcomeRequest{Provider: rules.Provider, Key: pay.Request.Key, PayoutID: id, Reference: pay.Reference,
			Outcome: pay.Outcome, At: clock.Now()}, true
	}
	check := func(step string) {
		rt.Helper()
		fx.verify(t)
		lost, inFlight := map[string]decimal.Decimal{}, map[string]decimal.Decimal{}
		net, reversed := decimal.Zero, decimal.Zero
		for _, id := range ids {
			po, err := p.Get(ctx, id)
			if err != nil {
				fail("%s: get %s: %v", step, id, err)
			}
			pay, known := payment(id)
			switch {
			case po.Status == payout.StatusPaid:
				if !known || (pay.Outcome != payout.OutcomeSucceeded && pay.Outcome != payout.OutcomeReversed) { // a reversal not heard of yet
					fail("%s: %s paid, provider says %v", step, id, pay.Outcome)
				}
				lost[po.Member] = lost[po.Member].Add(po.Amount)
				net = net.Add(po.Net)
			case po.Status == payout.StatusReversed:
				if !known || pay.Outcome != payout.OutcomeReversed || !po.Recovered.Add(po.Debt).Add(po.WrittenOff).Equal(po.Amount) {
					fail("%s: %s reversed (%s back, %s debt, %s written off), provider says %v", step, id, po.Recovered, po.Debt, po.WrittenOff, pay.Outcome)
				}
				lost[po.Member] = lost[po.Member].Add(po.Amount).Add(po.Recovered)
				net = net.Add(po.Net)
				reversed = reversed.Add(po.Amount)
			case po.Status.Final():
				if !known || (pay.Outcome != payout.OutcomeFailed && pay.Outcome != payout.OutcomeReturned && pay.Outcome != payout.OutcomeBlocked) {
					fail("%s: %s %s, provider says %v", step, id, po.Status, pay.Outcome)
				}
			default:
				inFlight[po.Member] = inFlight[po.Member].Add(po.Amount)
			}
		}
		for _, m := range members {
			b := fx.wallet(t, m)
			want := decimal.NewFromInt(funded).Sub(lost[m])
			if !b.Posted.Equal(want) || !b.Available.Equal(want.Sub(inFlight[m])) {
				fail("%s: %s posted %s available %s; want %s and %s", step, m, b.Posted, b.Available, want, want.Sub(inFlight[m]))
			}
		}
		if got := fx.bal(t, payout.SettlementAccount(rules.Provider), "EUR").Posted; !got.Equal(net) {
			fail("%s: settlement %s, paid payouts' net %s", step, got, net)
		}
		if got := fx.bal(t, payout.ReversalAccount(rules.Provider), "RUBY").Posted; !got.Equal(reversed) {
			fail("%s: reversal account %s, reversed payouts' amounts %s", step, got, reversed)
		}
	}
	behaviours := []payout.Behaviour{payout.Succeed, payout.Fail, payout.HoldPayment, payout.LeaveUnclaimed,
		payout.TimeoutAfterPaying, payout.TimeoutBeforePaying, payout.Block}

	steps := rapid.IntRange(1, maxSteps).Draw(rt, "steps")
	for i := range steps {
		op := rapid.IntRange(0, 9).Draw(rt, "op")
		if len(ids) == 0 {
			op = 0
		}
		var id string
		if len(ids) > 0 {
			id = rapid.SampledFrom(ids).Draw(rt, "payout")
		}
		step := fmt.Sprintf("step %d op %d %s", i, op, id)
		switch op {
		case 0: // withdraw
			prov.Next(rapid.SampledFrom(behaviours).Draw(rt, "behaviour"))
			nid := fmt.Sprintf("w-%d", len(ids))
			m := rapid.SampledFrom(members).Draw(rt, "member")
			_, err := p.Withdraw(ctx, payout.WithdrawRequest{PayoutID: nid, Actor: m, Amount: decimal.NewFromInt(rapid.SampledFrom([]int64{10000, 25000}).Draw(rt, "amount"))})
			if err != nil {
				fail("%s: withdraw: %v", step, err)
			}
			ids = append(ids, nid)
		case 1: // the provider settles a held or unclaimed payment
			_ = prov.Resolve(p.KeyFor(id), rapid.SampledFrom([]payout.Outcome{payout.OutcomeSucceeded, payout.OutcomeFailed,
				payout.OutcomeReturned, payout.OutcomeBlocked}).Draw(rt, "resolution"))
		case 2, 3: // the provider pushes what it knows
			if n, ok := truth(id); ok {
				push(fmt.Sprintf("ev-%d", rapid.IntRange(0, 7).Draw(rt, "event")), n)
			}
		case 4: // a delivery repeats
			if len(deliveries) > 0 {
				dv := rapid.SampledFrom(deliveries).Draw(rt, "delivery")
				push(dv.id, dv.n)
			}
		case 5: // a stale non-final outcome arrives late
			if n, ok := truth(id); ok {
				n.Outcome, n.At = rapid.SampledFrom([]payout.Outcome{payout.OutcomeHeld, payout.OutcomeUnclaimed}).Draw(rt, "stale"), t0
				push(fmt.Sprintf("stale-%d", rapid.IntRange(0, 3).Draw(rt, "event")), n)
			}
		case 6: // a contradicting outcome for a settled payout
			po, err := p.Get(ctx, id)
			if err != nil {
				fail("%s: %v", step, err)
			}
			paidSide := po.Status == payout.StatusPaid || po.Status == payout.StatusReversed
			if po.Status.Final() {
				contradicting := []payout.Outcome{payout.OutcomeSucceeded, payout.OutcomeReversed}
				if paidSide {
					contradicting = []payout.Outcome{payout.OutcomeFailed, payout.OutcomeReturned, payout.OutcomeBlocked}
				}
				o := rapid.SampledFrom(contradicting).Draw(rt, "contradiction")
				_, err := p.RecordOutcome(ctx, payout.RecordOutcomeRequest{EventID: "bad-" + id, Provider: rules.Provider, PayoutID: id, Outcome: o, At: clock.Now()})
				if !errors.Is(err, payout.ErrOutcomeContradiction) {
					fail("%s: contradicting %s: %v", step, o, err)
				}
			}
		case 9: // the provider reverses a paid payment; the push (op 2, 3) or a later poll brings it
			_ = prov.Reverse(p.KeyFor(id))
		case 7: // poll one
			if _, err := p.Retry(ctx, payout.RetryRequest{PayoutID: id}); err != nil {
				fail("%s: retry: %v", step, err)
			}
		case 8: // time passes; poll all
			clock.Advance(rapid.SampledFrom([]time.Duration{time.Minute, time.Hour, 3 * 24 * time.Hour}).Draw(rt, "advance"))
			rep, err := p.Tick(ctx)
			if err != nil || len(rep.Failed) > 0 {
				fail("%s: tick: %v %v", step, err, rep.Failed)
			}
		}
		check(step)
	}

	// The provider settles everything; pushes and polls bring every payout
	// to its final status.
	for _, id := range ids {
		_ = prov.Resolve(p.KeyFor(id), payout.OutcomeSucceeded)
	}
	for round := range 3 {
		clock.Advance(time.Hour)
		for _, id := range ids {
			if n, ok := truth(id); ok && n.Outcome != payout.OutcomeHeld {
				push(fmt.Sprintf("end-%d-%s", round, id), n)
			}
		}
		rep, err := p.Tick(ctx)
		if err != nil || len(rep.Failed) > 0 {
			fail("final tick: %v %v", err, rep.Failed)
		}
		check(fmt.Sprintf("end %d", round))
	}
	for _, id := range ids {
		if po, _ := p.Get(ctx, id); !po.Status.Final() {
			fail("%s still %s", id, po.Status)
		}
	}
	if paid, got := prov.Paid("EUR"), fx.bal(t, payout.SettlementAccount(rules.Provider), "EUR").Posted; !paid.Equal(got) {
		fail("provider paid %s, settled %s", paid, got)
	}
}
