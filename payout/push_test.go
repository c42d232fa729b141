package payout_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/teststore"
	"github.com/rewardkit/rewardkit/payout"
)

func note(f *fixture, id string, o payout.Outcome, at time.Time) payout.RecordOutcomeRequest {
	return payout.RecordOutcomeRequest{Provider: f.rules.Provider, PayoutID: id, Outcome: o, At: at}
}

// pushingProvider delivers the provider's webhook for a payment while
// Send is still running: the pushed outcome is recorded before the answer
// to the program's own Send.
type pushingProvider struct {
	*payout.MemoryProvider
	p     *payout.Program
	name  string
	id    string
	errs  []error
	times int
}

func (pp *pushingProvider) Send(ctx context.Context, req payout.SendRequest) (payout.Receipt, error) {
	rc, err := pp.MemoryProvider.Send(ctx, req)
	if err == nil && pp.times > 0 {
		pp.times--
		_, perr := pp.p.RecordOutcome(ctx, payout.RecordOutcomeRequest{EventID: "wh-" + req.Key, Provider: pp.name, Key: req.Key, Reference: rc.Reference, Outcome: rc.Outcome})
		pp.errs = append(pp.errs, perr)
	}
	return rc, err
}

func TestRecordOutcomeBeforeSendAnswer(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open, payout.DefaultRules())
		pp := &pushingProvider{MemoryProvider: f.prov, name: f.rules.Provider, times: 1}
		p, err := payout.New(f.ctx, f.l, f.rules, pp)
		require.NoError(t, err)
		pp.p = p
		f.deposit(t, payout.MemberAccount("g"), "RUBY", 75000)
		_, err = p.LinkAccount(f.ctx, payout.LinkAccountRequest{Actor: "g", Account: "g@example.com"})
		require.NoError(t, err)
		po, err := p.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: "w-1", Actor: "g", Amount: d("75000")})
		require.NoError(t, err)
		require.Equal(t, []error{nil}, pp.errs)
		require.Equal(t, payout.StatusPaid, po.Status)
		require.Equal(t, 0, po.Attempts, "the answer to Send found the payout settled by the push")
		eq(t, "0", f.wallet(t, "g").Posted)
		eq(t, po.Net.String(), f.bal(t, payout.SettlementAccount(f.rules.Provider), "EUR").Posted)
		// The poll after it changes nothing.
		before := f.snapshot(t)
		_, err = p.Retry(f.ctx, payout.RetryRequest{PayoutID: "w-1"})
		require.NoError(t, err)
		f.tick(t, time.Hour)
		after := f.snapshot(t)
		require.Equal(t, before[:strings.LastIndex(before, "provider calls=")], after[:strings.LastIndex(after, "provider calls=")])
		f.verify(t)
	})
}

func TestRecordOutcomeOutOfOrder(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open, payout.DefaultRules())
		f.fund(t, "g", 200000)
		f.prov.Next(payout.HoldPayment, payout.HoldPayment)
		po, err := f.p.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: "w-1", Actor: "g", Amount: d("75000")})
		require.NoError(t, err)
		require.Equal(t, payout.StatusHeld, po.Status)
		require.NoError(t, f.prov.Resolve(f.p.KeyFor("w-1"), payout.OutcomeSucceeded))
		// paid (reported at t0+2m) arrives before held (reported at t0+1m).
		po, err = f.p.RecordOutcome(f.ctx, withEventID("ev-2", note(f, "w-1", payout.OutcomeSucceeded, t0.Add(2*time.Minute))))
		require.NoError(t, err)
		require.Equal(t, payout.StatusPaid, po.Status)
		po, err = f.p.RecordOutcome(f.ctx, withEventID("ev-1", note(f, "w-1", payout.OutcomeHeld, t0.Add(time.Minute))))
		require.NoError(t, err)
		require.Equal(t, payout.StatusPaid, po.Status)
		eq(t, "125000", f.wallet(t, "g").Posted)

		// Among non-final outcomes the later report wins, whatever the
		// delivery order: unclaimed (t+2m) then held (t+1m) stays unclaimed.
		f.clock.Advance(8 * 24 * time.Hour)
		po, err = f.p.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: "w-2", Actor: "g", Amount: d("75000")})
		require.NoError(t, err)
		at := f.clock.Now()
		po, err = f.p.RecordOutcome(f.ctx, withEventID("ev-3", note(f, "w-2", payout.OutcomeUnclaimed, at.Add(2*time.Minute))))
		require.NoError(t, err)
		require.Equal(t, payout.StatusUnclaimed, po.Status)
		po, err = f.p.RecordOutcome(f.ctx, withEventID("ev-4", note(f, "w-2", payout.OutcomeHeld, at.Add(time.Minute))))
		require.NoError(t, err)
		require.Equal(t, payout.StatusUnclaimed, po.Status)
		// failed arrives; a poll afterwards (the provider still says held)
		// changes nothing.
		po, err = f.p.RecordOutcome(f.ctx, withEventID("ev-5", note(f, "w-2", payout.OutcomeFailed, at.Add(3*time.Minute))))
		require.NoError(t, err)
		require.Equal(t, payout.StatusFailed, po.Status)
		eq(t, "125000", f.wallet(t, "g").Available)
		po, err = f.p.Retry(f.ctx, payout.RetryRequest{PayoutID: "w-2"})
		require.NoError(t, err)
		require.Equal(t, payout.StatusFailed, po.Status)
		f.tick(t, time.Hour)
		eq(t, "125000", f.wallet(t, "g").Available)
		f.verify(t)
	})
}

func TestRecordOutcomeIdempotentAndRefusals(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		rules := payout.DefaultRules()
		rules.ReviewAbove = d("100")
		f := newFixture(t, open, rules)
		f.fund(t, "g", 20000000)
		f.prov.Next(payout.HoldPayment)
		_, err := f.p.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: "w-1", Actor: "g", Amount: d("75000")})
		require.NoError(t, err)
		require.NoError(t, f.prov.Resolve(f.p.KeyFor("w-1"), payout.OutcomeSucceeded))

		n := payout.RecordOutcomeRequest{Provider: f.rules.Provider, Key: f.p.KeyFor("w-1"), Reference: "PP-1", Outcome: payout.OutcomeSucceeded, At: t0}
		po, err := f.p.RecordOutcome(f.ctx, withEventID("ev-1", n))
		require.NoError(t, err)
		require.False(t, po.Replayed)
		require.Equal(t, payout.StatusPaid, po.Status)
		require.Equal(t, "PP-1", po.Reference)
		before := f.snapshot(t)

		// A repeated delivery replays; the same time in another zone is
		// the same notification.
		n2 := n
		n2.At = t0.In(time.FixedZone("x", 3600))
		po2, err := f.p.RecordOutcome(f.ctx, withEventID("ev-1", n2))
		require.NoError(t, err)
		require.True(t, po2.Replayed)
		require.Equal(t, po.SettlementTx, po2.SettlementTx)

		// The same event ID with another notification is a conflict.
		n2.Outcome = payout.OutcomeFailed
		_, err = f.p.RecordOutcome(f.ctx, withEventID("ev-1", n2))
		require.ErrorIs(t, err, payout.ErrIdempotencyConflict)
		require.ErrorIs(t, err, ledger.ErrIdempotencyConflict)

		// Contradictions move nothing and record nothing.
		for _, c := range []struct {
			o    payout.Outcome
			want error
		}{{payout.OutcomeFailed, payout.ErrOutcomeContradiction}, {payout.OutcomeReturned, payout.ErrOutcomeContradiction},
			{payout.OutcomeBlocked, payout.ErrOutcomeContradiction}} {
			for range 2 {
				_, err = f.p.RecordOutcome(f.ctx, withEventID("ev-"+string(c.o), note(f, "w-1", c.o, t0.Add(time.Hour))))
				require.ErrorIs(t, err, c.want)
				require.ErrorIs(t, err, payout.ErrWrongState)
			}
		}
		require.Equal(t, before, f.snapshot(t), "refused notifications wrote nothing")
		// Agreeing and stale outcomes return the payout as it is.
		for i, o := range []payout.Outcome{payout.OutcomeSucceeded, payout.OutcomeHeld, payout.OutcomeUnclaimed} {
			po, err = f.p.RecordOutcome(f.ctx, withEventID("ok-"+string(rune('a'+i)), note(f, "w-1", o, t0.Add(time.Hour))))
			require.NoError(t, err)
			require.Equal(t, payout.StatusPaid, po.Status)
		}

		// Unknown payouts, keys of another program, other providers,
		// unknown outcomes, bad event IDs.
		_, err = f.p.RecordOutcome(f.ctx, withEventID("ev-x", note(f, "nope", payout.OutcomeSucceeded, t0)))
		require.ErrorIs(t, err, payout.ErrNotFound)
		_, err = f.p.RecordOutcome(f.ctx, payout.RecordOutcomeRequest{EventID: "ev-x", Provider: f.rules.Provider, Key: "payout:other:w-1", Outcome: payout.OutcomeSucceeded})
		require.ErrorIs(t, err, payout.ErrNotFound)
		_, err = f.p.RecordOutcome(f.ctx, payout.RecordOutcomeRequest{EventID: "ev-x", Provider: "stripe", PayoutID: "w-1", Outcome: payout.OutcomeSucceeded})
		require.ErrorIs(t, err, payout.ErrInvalidRequest)
		_, err = f.p.RecordOutcome(f.ctx, payout.RecordOutcomeRequest{EventID: "ev-x", Provider: f.rules.Provider, PayoutID: "w-2", Key: f.p.KeyFor("w-1"), Outcome: payout.OutcomeSucceeded})
		require.ErrorIs(t, err, payout.ErrInvalidRequest)
		_, err = f.p.RecordOutcome(f.ctx, withEventID("ev-x", note(f, "w-1", "claimed", t0)))
		require.ErrorIs(t, err, payout.ErrInvalidRequest)
		_, err = f.p.RecordOutcome(f.ctx, withEventID("", note(f, "w-1", payout.OutcomeSucceeded, t0)))
		require.ErrorIs(t, err, payout.ErrInvalidRequest)
		_, err = f.p.RecordOutcome(f.ctx, withEventID(strings.Repeat("x", 96), note(f, "w-1", payout.OutcomeSucceeded, t0)))
		require.ErrorIs(t, err, payout.ErrInvalidRequest)
		_, err = f.p.RecordOutcome(f.ctx, withEventID(strings.Repeat("x", 95), note(f, "nope", payout.OutcomeSucceeded, t0)))
		require.ErrorIs(t, err, payout.ErrNotFound, "the longest event ID fits the event record")
		_, err = f.p.RecordOutcome(f.ctx, withEventID("ev x", note(f, "w-1", payout.OutcomeSucceeded, t0)))
		require.ErrorIs(t, err, payout.ErrInvalidRequest)
		_, err = f.p.RecordOutcome(f.ctx, withEventID("ev-x", note(f, "w-1", payout.OutcomeSucceeded, time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC))))
		require.ErrorIs(t, err, payout.ErrInvalidRequest)

		// A payout in review was never sent.
		f.clock.Advance(8 * 24 * time.Hour)
		po, err = f.p.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: "w-big", Actor: "g", Amount: d("2000000")})
		require.NoError(t, err)
		require.Equal(t, payout.StatusReview, po.Status)
		_, err = f.p.RecordOutcome(f.ctx, withEventID("ev-r", note(f, "w-big", payout.OutcomeSucceeded, time.Time{})))
		require.ErrorIs(t, err, payout.ErrWrongState)
		require.False(t, errors.Is(err, payout.ErrOutcomeContradiction))
		// Rejected, then paid: a contradiction.
		_, err = f.p.Reject(f.ctx, payout.RejectRequest{Actor: reviewer, PayoutID: "w-big", Reason: "no"})
		require.NoError(t, err)
		_, err = f.p.RecordOutcome(f.ctx, withEventID("ev-r", note(f, "w-big", payout.OutcomeSucceeded, time.Time{})))
		require.ErrorIs(t, err, payout.ErrOutcomeContradiction)
		_, err = f.p.RecordOutcome(f.ctx, withEventID("ev-r2", note(f, "w-big", payout.OutcomeFailed, time.Time{})))
		require.ErrorIs(t, err, payout.ErrOutcomeContradiction)
		eq(t, "19925000", f.wallet(t, "g").Available)
		f.verify(t)
	})
}

// Pushes (repeated, and under different event IDs) race polls (Retry,
// Tick) for the same payouts: each settles once.
func TestRecordOutcomeRacesPolls(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		rules := payout.DefaultRules()
		rules.MaxPerPeriod = 100
		rules.DailyMaximum = d("0")
		f := newFixture(t, open, rules)
		f.fund(t, "g", 1000000)
		const n = 6
		for i := range n {
			f.prov.Next(payout.HoldPayment)
			_, err := f.p.Withdraw(f.ctx, payout.WithdrawRequest{PayoutID: fmt.Sprintf("w-%d", i), Actor: "g", Amount: d("10000")})
			require.NoError(t, err)
			require.NoError(t, f.prov.Resolve(f.p.KeyFor(fmt.Sprintf("w-%d", i)), payout.OutcomeSucceeded))
		}
		f.clock.Advance(time.Hour)
		var wg sync.WaitGroup
		errs := make(chan error, 8*n)
		for i := range n {
			id := fmt.Sprintf("w-%d", i)
			for j := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := f.p.RecordOutcome(f.ctx, withEventID(fmt.Sprintf("ev-%s-%d", id, j%2), note(f, id, payout.OutcomeSucceeded, t0)))
					errs <- err
				}()
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := f.p.Retry(f.ctx, payout.RetryRequest{PayoutID: id})
				errs <- err
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			rep, err := f.p.Tick(f.ctx)
			if err == nil && len(rep.Failed) > 0 {
				err = rep.Failed[0].Err
			}
			errs <- err
		}()
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		for i := range n {
			po, err := f.p.Get(f.ctx, fmt.Sprintf("w-%d", i))
			require.NoError(t, err)
			require.Equal(t, payout.StatusPaid, po.Status)
		}
		eq(t, "940000", f.wallet(t, "g").Posted)
		eq(t, f.prov.Paid("EUR").String(), f.bal(t, payout.SettlementAccount(rules.Provider), "EUR").Posted)
		f.verify(t)
	})
}
