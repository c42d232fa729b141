package subscription

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/driver"
	"github.com/rewardkit/rewardkit/ledger/kit/kittest"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// The property tests drive the program with random events and clock moves
// and check, after every step, against the ledger's own journal:
//   - conservation: every asset sums to zero (Verify), each wallet equals
//     what was funded minus what its charges took, and creator plus
//     platform received exactly what was charged;
//   - no member is ever charged twice for the same time (paid periods,
//     read from the charges' metadata, never overlap);
//   - access to a perk exactly when a paid period covers the time (and,
//     with GraceAccess, otherwise only inside a grace window after a paid
//     period), at the current time, at period edges and at random times;
//   - a refused event changes nothing, a replayed event changes nothing,
//     a second Tick at the same time changes nothing.

var propTiers = map[string][]Perk{
	"t1": {PerkBadge},
	"t2": {PerkBadge, PerkPrivateChat},
	"t3": {PerkBadge, PerkPrivateChat, CustomPerk("shoutout")},
}

var propMembers = []string{"ann", "bob", "cat"}

type paidPeriod struct {
	start, end time.Time
	tier       string
}

type subMachine struct {
	f        *fixture
	funded   map[string]decimal.Decimal
	lastCall func() error // the last successful event, to replay
}

func (m *subMachine) charges(t *rapid.T) (map[string][]paidPeriod, map[string]decimal.Decimal, decimal.Decimal) {
	periods := map[string][]paidPeriod{}
	paid := map[string]decimal.Decimal{}
	total := decimal.Zero
	err := m.f.l.View(m.f.ctx, func(r *ledger.Reader) error {
		for after := uint64(0); ; {
			txs, next, err := r.Transactions(after, 1000)
			if err != nil {
				return err
			}
			for _, tx := range txs {
				if tx.Metadata["program"] != "subscription" {
					continue
				}
				member := tx.Metadata["member"]
				start, err1 := time.Parse(time.RFC3339Nano, tx.Metadata["period_start"])
				end, err2 := time.Parse(time.RFC3339Nano, tx.Metadata["period_end"])
				if err := errors.Join(err1, err2); err != nil {
					return err
				}
				periods[member] = append(periods[member], paidPeriod{start, end, tx.Metadata["tier"]})
				for _, p := range tx.Postings {
					require.Equal(t, MemberAccount(member), p.From)
					paid[member] = paid[member].Add(p.Amount)
					total = total.Add(p.Amount)
				}
			}
			if next == 0 {
				return nil
			}
			after = next
		}
	})
	require.NoError(t, err)
	return periods, paid, total
}

func (m *subMachine) Check(t *rapid.T) {
	f := m.f
	f.verify(t)
	periods, paid, total := m.charges(t)
	for _, mem := range propMembers {
		want := m.funded[mem].Sub(paid[mem])
		requireAmount(t, want.String(), f.balance(t, MemberAccount(mem)), "wallet of ", mem)
	}
	requireAmount(t, total.String(), f.balance(t, EarningsAccount("cleo")).Add(f.balance(t, RevenueAccount)), "creator+platform")

	now := f.clock.Now()
	grace := time.Duration(f.p.rules.GracePeriod)
	for _, mem := range propMembers {
		ps := periods[mem]
		sort.Slice(ps, func(i, j int) bool { return ps[i].start.Before(ps[j].start) })
		for i := 1; i < len(ps); i++ {
			require.Falsef(t, ps[i].start.Before(ps[i-1].end), "%s charged twice for %s", mem, ps[i].start)
		}
		// Probe now, the edges of the latest paid period and of one drawn
		// at random, and two random times up to two months ahead.
		times := []time.Time{now, now.Add(-time.Nanosecond)}
		edges := func(p paidPeriod) {
			times = append(times, p.start, p.start.Add(-time.Nanosecond), p.end, p.end.Add(-time.Nanosecond), p.end.Add(grace-time.Nanosecond), p.end.Add(grace))
		}
		if len(ps) > 0 {
			edges(ps[len(ps)-1])
			edges(ps[rapid.IntRange(0, len(ps)-1).Draw(t, "period")])
		}
		span := now.Add(60 * 24 * time.Hour).Sub(t0)
		for i := 0; i < 2; i++ {
			times = append(times, t0.Add(time.Duration(rapid.Int64Range(0, int64(span)).Draw(t, "probe"))))
		}
		for _, at := range times {
			var covering *paidPeriod
			for i := range ps {
				if !at.Before(ps[i].start) && at.Before(ps[i].end) {
					covering = &ps[i]
				}
			}
			inGrace := false
			for _, p := range ps {
				if !at.Before(p.end) && at.Before(p.end.Add(grace)) {
					inGrace = true
				}
			}
			for _, perk := range []Perk{PerkBadge, PerkPrivateChat} {
				ok, err := f.p.MayUse(f.ctx, mem, "cleo", perk, at)
				if ok {
					require.NoError(t, err)
				} else {
					require.ErrorIs(t, err, ErrNoAccess)
				}
				wantCovered := covering != nil && slices.Contains(propTiers[covering.tier], perk)
				if !f.p.rules.GraceAccess {
					require.Equalf(t, wantCovered, ok, "%s %s at %s (now %s): paid periods %v, err %v", mem, perk, at, now, ps, err)
					continue
				}
				if wantCovered {
					require.Truef(t, ok, "%s %s at %s: paid but refused: %v", mem, perk, at, err)
				} else if ok {
					require.Truef(t, inGrace, "%s %s at %s: access with no paid period nor grace window", mem, perk, at)
				}
			}
		}
	}
}

// refusedOrDone runs an event: an error must be one of the allowed refusals
// and change nothing; a success becomes the event to replay.
func (m *subMachine) refusedOrDone(t *rapid.T, call func() error, allowed ...error) {
	if kittest.RefusedOrDone(t, func() string { return m.f.snapshot(t) }, call, allowed...) {
		m.lastCall = call
	}
}

func (m *subMachine) eventID(t *rapid.T) string {
	return fmt.Sprintf("e%d", rapid.IntRange(0, 1<<30).Draw(t, "event"))
}

func (m *subMachine) Publish(t *rapid.T) {
	ids := rapid.SliceOfNDistinct(rapid.SampledFrom([]string{"t1", "t2", "t3"}), 1, 3, rapid.ID[string]).Draw(t, "tiers")
	var tiers []Tier
	for _, id := range ids {
		price := rapid.SampledFrom([]string{"0.99", "4.99", "9.99", "24.99"}).Draw(t, "price")
		tiers = append(tiers, Tier{ID: id, Price: dec(price), Perks: propTiers[id]})
	}
	id := m.eventID(t)
	m.refusedOrDone(t, func() error {
		_, err := m.f.p.PublishTiers(m.f.ctx, PublishTiersRequest{EventID: id, Actor: "cleo", Tiers: tiers})
		return err
	}, ErrIdempotencyConflict)
}

func (m *subMachine) Fund(t *rapid.T) {
	mem := rapid.SampledFrom(propMembers).Draw(t, "member")
	amt := dec(rapid.SampledFrom([]string{"0.99", "4.99", "10", "30"}).Draw(t, "amount"))
	m.f.fund(t, mem, amt.String())
	m.funded[mem] = m.funded[mem].Add(amt)
}

func (m *subMachine) Subscribe(t *rapid.T) {
	mem := rapid.SampledFrom(propMembers).Draw(t, "member")
	tier := rapid.SampledFrom([]string{"t1", "t2", "t3"}).Draw(t, "tier")
	id := m.eventID(t)
	m.refusedOrDone(t, func() error {
		_, err := m.f.p.Subscribe(m.f.ctx, SubscribeRequest{EventID: id, Actor: mem, Creator: "cleo", TierID: tier})
		return err
	},
		ErrNoOffer, ErrUnknownTier, ErrAlreadySubscribed, ErrInsufficientFunds, ErrIdempotencyConflict)
}

func (m *subMachine) Cancel(t *rapid.T) {
	mem := rapid.SampledFrom(propMembers).Draw(t, "member")
	id := m.eventID(t)
	m.refusedOrDone(t, func() error {
		_, err := m.f.p.Cancel(m.f.ctx, CancelRequest{EventID: id, Actor: mem, Creator: "cleo"})
		return err
	},
		ErrNotSubscribed, ErrWrongState, ErrIdempotencyConflict)
}

func (m *subMachine) ChangeTier(t *rapid.T) {
	mem := rapid.SampledFrom(propMembers).Draw(t, "member")
	tier := rapid.SampledFrom([]string{"t1", "t2", "t3"}).Draw(t, "tier")
	id := m.eventID(t)
	m.refusedOrDone(t, func() error {
		_, err := m.f.p.ChangeTier(m.f.ctx, ChangeTierRequest{EventID: id, Actor: mem, Creator: "cleo", TierID: tier})
		return err
	},
		ErrNotSubscribed, ErrWrongState, ErrUnknownTier, ErrNoOffer, ErrIdempotencyConflict)
}

func (m *subMachine) Replay(t *rapid.T) {
	if m.lastCall == nil {
		t.Skip("nothing to replay")
	}
	before := m.f.snapshot(t)
	require.NoError(t, m.lastCall())
	require.Equal(t, before, m.f.snapshot(t), "a replay changes nothing")
}

// step draws a clock move; sampled from a list because rapid draws
// integers biased towards small values.
func (m *subMachine) step(t *rapid.T) time.Duration {
	h := rapid.SampledFrom([]int{1, 7, 24, 49, 72, 24 * 10, 24 * 29, 24 * 31, 24 * 45}).Draw(t, "advance hours")
	return time.Duration(h)*time.Hour + time.Duration(rapid.IntRange(0, 59).Draw(t, "minutes"))*time.Minute
}

// Advance moves the clock without a Tick: access must still end when the
// paid period does, whenever the renewal runs.
func (m *subMachine) Advance(t *rapid.T) {
	m.f.clock.Advance(m.step(t))
}

func (m *subMachine) AdvanceAndTick(t *rapid.T) {
	m.f.clock.Advance(m.step(t))
	m.f.tick(t)
	before := m.f.snapshot(t)
	require.Equal(t, ticked{}, m.f.tick(t), "second tick")
	require.Equal(t, before, m.f.snapshot(t))
}

// SubscribeFunded is the happy path in one step: an offer, a funded wallet
// and a subscription, so that most runs reach renewals, grace and ends.
func (m *subMachine) SubscribeFunded(t *rapid.T) {
	if _, err := m.f.p.Offer(m.f.ctx, "cleo"); err != nil {
		_, err := m.f.p.PublishTiers(m.f.ctx, PublishTiersRequest{EventID: "happy-publish", Actor: "cleo", Tiers: []Tier{
			{ID: "t1", Price: dec("4.99"), Perks: propTiers["t1"]}, {ID: "t2", Price: dec("9.99"), Perks: propTiers["t2"]}}})
		require.NoError(t, err)
	}
	mem := rapid.SampledFrom(propMembers).Draw(t, "member")
	m.f.fund(t, mem, "10")
	m.funded[mem] = m.funded[mem].Add(dec("10"))
	tier := rapid.SampledFrom([]string{"t1", "t2"}).Draw(t, "tier")
	id := "happy-" + m.eventID(t)
	m.refusedOrDone(t, func() error {
		_, err := m.f.p.Subscribe(m.f.ctx, SubscribeRequest{EventID: id, Actor: mem, Creator: "cleo", TierID: tier})
		return err
	},
		ErrUnknownTier, ErrAlreadySubscribed, ErrInsufficientFunds, ErrIdempotencyConflict)
}

// actions weights the events towards the happy path and the passing of
// time, where renewals, grace and ends happen.
func (m *subMachine) actions() map[string]func(*rapid.T) {
	return map[string]func(*rapid.T){
		"": m.Check, "Publish": m.Publish, "Fund": m.Fund, "Fund2": m.Fund, "Subscribe": m.Subscribe,
		"SubscribeFunded": m.SubscribeFunded, "SubscribeFunded2": m.SubscribeFunded, "Cancel": m.Cancel, "ChangeTier": m.ChangeTier, "Replay": m.Replay,
		"Advance": m.Advance, "AdvanceAndTick": m.AdvanceAndTick, "AdvanceAndTick2": m.AdvanceAndTick,
		"AdvanceAndTick3": m.AdvanceAndTick,
	}
}

func TestPropertySubscription(t *testing.T) {
	checkOnStores(t, func(t *rapid.T, store driver.Store) {
		r := DefaultRules()
		r.GraceAccess = rapid.Bool().Draw(t, "grace access")
		if rapid.Bool().Draw(t, "zero grace") {
			r.GracePeriod = 0
		}
		m := &subMachine{f: newFixture(t, store, r), funded: map[string]decimal.Decimal{}}
		t.Repeat(m.actions())
	})
}
