package payout_test

import (
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"pgregory.net/rapid"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/teststore"
	"github.com/rewardkit/rewardkit/payout"
)

// stateCase is how a drawn payout ends.
type stateCase int

const (
	caseUnclaimedExpires stateCase = iota // unclaimed; the rule's days pass (the provider returns it by then or later)
	caseReturned                          // unclaimed, then the provider returns it
	caseBlocked                           // held, then the provider blocks it
	caseReversedPaid                      // paid at once, then reversed
	caseReversedInFlight                  // held, paid and reversed before the program heard of either
)

var caseNames = []string{"unclaimed-expires", "returned", "blocked", "reversed-paid", "reversed-in-flight"}

// TestPropertyPayoutStatesSettleOnce draws payouts that end unclaimed past
// unclaimed_return_after, returned, blocked or reversed (after a recorded
// success, or before the program heard of the success), lets members
// spend part of what is left, then races, for every payout at once, Ticks,
// Retries and the provider's pushes under several event IDs (each also
// delivered twice), on both stores. Every payout settles exactly once:
// one event of its final state (and at most one paid), its status, each
// wallet exactly as the model says (released payouts give back all,
// reversed ones take Amount back once: from the wallet as far as it
// goes, the rest the member's debt), the reversal account holding the
// reversed amounts, and every asset summing to zero: no value created or
// lost.
func TestPropertyPayoutStatesSettleOnce(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		maxRuns := math.MaxInt
		if strings.HasSuffix(t.Name(), "/pgstore") {
			maxRuns = 8
		}
		runs := 0
		rapid.Check(t, func(rt *rapid.T) {
			if runs >= maxRuns {
				return
			}
			runs++
			propertyStatesSettleOnce(t, rt, open)
		})
	})
}

func propertyStatesSettleOnce(t *testing.T, rt *rapid.T, open teststore.Opener) {
	f := newFixture(t, open, statesRules())
	ctx, p, prov := f.ctx, f.p, f.prov
	prov.SetReturnAfter(rapid.SampledFrom([]time.Duration{30 * 24 * time.Hour, 60 * 24 * time.Hour}).Draw(rt, "provider_return_after"))
	members := []string{"a", "b"}
	const funded = 300000
	for _, m := range members {
		f.fund(t, m, funded)
	}
	type drawn struct {
		id, member string
		c          stateCase
		amount     decimal.Decimal
	}
	var pos []drawn
	for i := range rapid.IntRange(1, 4).Draw(rt, "payouts") {
		c := stateCase(rapid.IntRange(0, len(caseNames)-1).Draw(rt, "case"))
		x := drawn{id: fmt.Sprintf("p-%d-%s", i, caseNames[c]), member: rapid.SampledFrom(members).Draw(rt, "member"), c: c,
			amount: decimal.NewFromInt(rapid.SampledFrom([]int64{10000, 60000}).Draw(rt, "amount"))}
		switch c {
		case caseUnclaimedExpires, caseReturned:
			prov.Next(payout.LeaveUnclaimed)
		case caseBlocked, caseReversedInFlight:
			prov.Next(payout.HoldPayment)
		}
		if _, err := p.Withdraw(ctx, payout.WithdrawRequest{PayoutID: x.id, Actor: x.member, Amount: x.amount}); err != nil {
			rt.Fatalf("withdraw %s: %v", x.id, err)
		}
		key := p.KeyFor(x.id)
		var err error
		switch c {
		case caseReturned:
			err = prov.Resolve(key, payout.OutcomeReturned)
		case caseBlocked:
			err = prov.Resolve(key, payout.OutcomeBlocked)
		case caseReversedPaid:
			err = prov.Reverse(key)
		case caseReversedInFlight:
			if err = prov.Resolve(key, payout.OutcomeSucceeded); err == nil {
				err = prov.Reverse(key)
			}
		}
		if err != nil {
			rt.Fatalf("provider %s: %v", x.id, err)
		}
		pos = append(pos, x)
	}
	// Members spend some of what they still have available, so that a
	// reversal may find less than it needs.
	spent := map[string]decimal.Decimal{}
	for _, m := range members {
		avail := f.wallet(t, m).Available
		s := avail.Mul(decimal.NewFromInt(int64(rapid.IntRange(0, 4).Draw(rt, "spend_quarters")))).Div(decimal.NewFromInt(4)).Floor()
		if s.Sign() > 0 {
			if _, err := f.l.Transfer(ctx, "spend-"+m, payout.MemberAccount(m), ledger.World, "RUBY", s); err != nil {
				rt.Fatalf("spend: %v", err)
			}
		}
		spent[m] = s
	}
	_, seq := f.expectAny(t, 0)
	f.clock.Advance(31 * 24 * time.Hour)

	// The race: for every payout at once, pushes of the provider's truth
	// under several event IDs (each delivered twice), Retries and Ticks.
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	run := func(what string, call func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := call(); err != nil {
				errs <- fmt.Errorf("%s: %w", what, err)
			}
		}()
	}
	pushers := rapid.IntRange(1, 3).Draw(rt, "pushers")
	for _, x := range pos {
		final := map[stateCase]payout.Outcome{caseUnclaimedExpires: payout.OutcomeReturned, caseReturned: payout.OutcomeReturned,
			caseBlocked: payout.OutcomeBlocked, caseReversedPaid: payout.OutcomeReversed, caseReversedInFlight: payout.OutcomeReversed}[x.c]
		for j := range pushers {
			if x.c == caseUnclaimedExpires && j > 0 {
				break // one push, of what the provider says now: unclaimed still, or returned
			}
			n := note(f, x.id, final, f.clock.Now())
			if x.c == caseUnclaimedExpires && !returnedByProvider(prov, p.KeyFor(x.id), f.clock.Now()) {
				n.Outcome = payout.OutcomeUnclaimed
			}
			for range 2 { // the same delivery twice
				run("push "+x.id, func() error {
					_, err := p.RecordOutcome(ctx, withEventID(fmt.Sprintf("ev-%s-%d", x.id, j), n))
					return err
				})
			}
		}
		run("retry "+x.id, func() error { _, err := p.Retry(ctx, payout.RetryRequest{PayoutID: x.id}); return err })
	}
	for range rapid.IntRange(1, 2).Draw(rt, "tickers") {
		run("tick", func() error {
			rep, err := p.Tick(ctx)
			if err == nil && len(rep.Failed) > 0 {
				err = rep.Failed[0].Err
			}
			return err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		rt.Fatalf("racing caller: %v", err)
	}

	// Each payout settled once, as its case says.
	evs, _ := f.expectAny(t, seq)
	count := map[string]int{}
	for _, ev := range evs {
		count[ev.Subject+" "+ev.Type]++
	}
	posted := map[string]decimal.Decimal{}
	debt := map[string]decimal.Decimal{}
	reversed := decimal.Zero
	for _, m := range members {
		posted[m] = decimal.NewFromInt(funded).Sub(spent[m])
	}
	for _, x := range pos {
		po, err := p.Get(ctx, x.id)
		if err != nil {
			rt.Fatal(err)
		}
		want, typ := payout.StatusReturned, payout.EventReturned
		switch x.c {
		case caseBlocked:
			want, typ = payout.StatusBlocked, payout.EventBlocked
		case caseReversedPaid, caseReversedInFlight:
			want, typ = payout.StatusReversed, payout.EventReversed
		}
		if po.Status != want {
			rt.Fatalf("%s is %s, want %s", x.id, po.Status, want)
		}
		if n := count[x.id+" "+typ]; n != 1 {
			rt.Fatalf("%s: %d %s events, want 1", x.id, n, typ)
		}
		if n := count[x.id+" "+payout.EventPaid]; (x.c == caseReversedInFlight) != (n == 1) || n > 1 {
			rt.Fatalf("%s: %d paid events since the race", x.id, n)
		}
		if want == payout.StatusReversed {
			if !po.Recovered.Add(po.Debt).Equal(po.Amount) || po.WrittenOff.Sign() != 0 {
				rt.Fatalf("%s reversed: %s taken + %s debt + %s written off, amount %s", x.id, po.Recovered, po.Debt, po.WrittenOff, po.Amount)
			}
			// The capture took Amount, less what a reversal racing it had
			// already clawed from under its hold (Shortfall, booked from
			// the shortfall account); the reversal took Recovered.
			posted[x.member] = posted[x.member].Sub(po.Amount.Sub(po.Shortfall)).Sub(po.Recovered)
			debt[x.member] = debt[x.member].Add(po.Debt)
			reversed = reversed.Add(po.Amount)
		}
	}
	for _, m := range members {
		b := f.wallet(t, m)
		if !b.Posted.Equal(posted[m]) || !b.Available.Equal(posted[m]) || b.Posted.Sign() < 0 {
			rt.Fatalf("%s: posted %s available %s, model %s", m, b.Posted, b.Available, posted[m])
		}
		var owed []kit.Debt
		if err := f.l.View(ctx, func(r *ledger.Reader) (err error) { owed, err = kit.Outstanding(r, m); return err }); err != nil {
			rt.Fatal(err)
		}
		got := decimal.Zero
		for _, o := range owed {
			got = got.Add(o.Amount)
		}
		if !got.Equal(debt[m]) {
			rt.Fatalf("%s owes %s, reversals left %s", m, got, debt[m])
		}
		// A reversal takes what the wallet has before it makes a debt.
		if debt[m].Sign() > 0 && b.Posted.Sign() != 0 {
			rt.Fatalf("%s has %s and a debt of %s", m, b.Posted, debt[m])
		}
	}
	if got := f.bal(t, payout.ReversalAccount("paypal"), "RUBY").Posted; !got.Equal(reversed) {
		rt.Fatalf("reversal account %s, reversed amounts %s", got, reversed)
	}
	if paid, got := prov.Paid("EUR"), f.bal(t, payout.SettlementAccount("paypal"), "EUR").Posted; !paid.Equal(got) {
		rt.Fatalf("provider paid %s, settled %s", paid, got)
	}
	f.verify(t)

	// Everything again, serially: nothing moves.
	before := f.snapshot(t)
	for _, x := range pos {
		if _, err := p.Retry(ctx, payout.RetryRequest{PayoutID: x.id}); err != nil {
			rt.Fatal(err)
		}
	}
	if rep, err := p.Tick(ctx); err != nil || len(rep.Failed) > 0 || len(rep.Done) > 0 {
		rt.Fatalf("tick after: %v %+v", err, rep)
	}
	if after := f.snapshot(t); after != before {
		rt.Fatalf("a second round moved something:\n%s\n---\n%s", before, after)
	}
}

// returnedByProvider reports whether the provider has returned an
// unclaimed payment by now (MemoryProvider marks it so only when asked).
func returnedByProvider(prov *payout.MemoryProvider, key string, now time.Time) bool {
	for _, pay := range prov.Payments() {
		if pay.Request.Key == key {
			return pay.Outcome == payout.OutcomeReturned || (pay.Outcome == payout.OutcomeUnclaimed && !now.Before(pay.ReturnAt))
		}
	}
	return false
}
