package payout_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
	"github.com/rewardkit/rewardkit/ledger/teststore"
	"github.com/rewardkit/rewardkit/payout"
)

var t0 = time.Date(2020, 6, 1, 7, 0, 0, 0, time.UTC)

// diamondValue is a diamond's cash value as gifting hands it to payout
// (gifting.Rules.CashValue of its default rules): payout's tests use
// nothing of gifting, so it is written out here.
var diamondValue = ledger.ConversionRule{Name: "gifting:diamond-value", From: "DIAMOND", To: "USD",
	Rate: ledger.NewRate(1, 200), Rounding: ledger.RoundDown}

// withEventID returns the notification with its delivery's event ID set.
func withEventID(id string, n payout.RecordOutcomeRequest) payout.RecordOutcomeRequest {
	n.EventID = id
	return n
}

// sent is how many payouts in flight a Tick asked the provider about.
func sent(rep kit.TickReport) int {
	return settled(rep) + rep.Count(payout.TickPending) + rep.Count(payout.TickOverdue)
}

// settled is how many of them reached a final status.
func settled(rep kit.TickReport) int {
	return rep.Count(payout.TickPaid) + rep.Count(payout.TickFailed) + rep.Count(payout.TickReturned) +
		rep.Count(payout.TickBlocked) + rep.Count(payout.TickReversed)
}

// reviewer holds kit.RolePayoutReviewer in every fixture's directory.
const reviewer = "ana"

type fixture struct {
	ctx   context.Context
	clock *ledgertest.Clock
	l     *ledger.Ledger
	prov  *payout.MemoryProvider
	p     *payout.Program
	rules payout.Rules
	roles *kit.RoleDirectory
	t     testing.TB
}

// newFixture opens a fresh store with open (teststore.Memory or
// teststore.Postgres), a ledger on a manual clock at t0, and a program with
// the rules, a memory provider and a role directory in which reviewer may
// decide payouts.
func newFixture(tb testing.TB, open teststore.Opener, rules payout.Rules, opts ...payout.Option) *fixture {
	tb.Helper()
	ctx := context.Background()
	clock := ledgertest.NewClock(t0)
	l := ledger.New(open(tb), ledger.WithClock(clock))
	prov := payout.NewMemoryProvider(clock)
	roles := &kit.RoleDirectory{}
	roles.Grant(reviewer, kit.RolePayoutReviewer)
	p, err := payout.New(ctx, l, rules, prov, append([]payout.Option{payout.WithRoles(roles)}, opts...)...)
	require.NoError(tb, err)
	_, err = l.OpenAccount(ctx, ledger.AccountSpec{Address: ledger.World, Overdraft: ledger.Overdraft{Unbounded: true}})
	require.NoError(tb, err)
	return &fixture{ctx: ctx, clock: clock, l: l, prov: prov, p: p, rules: rules, roles: roles, t: tb}
}

// deposit moves amount of asset from World to account, opening it.
func (f *fixture) deposit(tb testing.TB, account, asset string, amount int64) {
	tb.Helper()
	err := f.l.Update(f.ctx, func(w *ledger.Writer) error {
		if err := kit.OpenIfMissing(w, account, ledger.Overdraft{}); err != nil {
			return err
		}
		_, err := w.Post(ledger.TransferRequest{Key: fmt.Sprintf("fund-%s-%s-%d-%d", account, asset, amount, f.clock.Now().UnixNano()),
			Postings: []ledger.Posting{{From: ledger.World, To: account, Asset: asset, Amount: decimal.NewFromInt(amount)}}})
		return err
	})
	require.NoError(tb, err)
}

// fund gives a member reward asset from World and links their account.
func (f *fixture) fund(tb testing.TB, member string, amount int64) {
	tb.Helper()
	f.deposit(tb, payout.MemberAccount(member), f.rules.From.Code, amount)
	_, err := f.p.LinkAccount(f.ctx, payout.LinkAccountRequest{Actor: member, Account: member + "@example.com"})
	require.NoError(tb, err)
}

func (f *fixture) bal(tb testing.TB, account, asset string) ledger.Balance {
	tb.Helper()
	b, err := f.l.Balance(f.ctx, account, asset)
	require.NoError(tb, err)
	return b
}

func (f *fixture) wallet(tb testing.TB, member string) ledger.Balance {
	return f.bal(tb, payout.MemberAccount(member), f.rules.From.Code)
}

// snapshot captures everything a payout call could change.
func (f *fixture) snapshot(tb testing.TB) string {
	tb.Helper()
	var s string
	require.NoError(tb, f.l.View(f.ctx, func(r *ledger.Reader) error {
		txs, _, err := r.Transactions(0, 1000)
		if err != nil {
			return err
		}
		s += fmt.Sprintf("txs=%d\n", len(txs))
		for id := uint64(1); ; id++ {
			h, err := r.HoldByID(id)
			if err != nil {
				break
			}
			s += fmt.Sprintf("hold %d %s %s\n", h.ID, h.Status, h.Remaining)
		}
		for _, k := range []string{"payout.link", "payout.payout", "payout.member", "payout.event", "payout.cap"} {
			recs, err := r.Records(k, "", 1000)
			if err != nil {
				return err
			}
			for _, rec := range recs {
				s += rec.Kind + " " + rec.ID + " " + string(rec.Data) + "\n"
			}
		}
		due, err := r.Due("payout.retry:"+f.rules.Provider, ledger.MaxTime.Add(-time.Second), 1000)
		if err != nil {
			return err
		}
		for _, d := range due {
			s += fmt.Sprintf("due %s %s\n", d.ID, d.At.UTC().Format(time.RFC3339Nano))
		}
		return nil
	}))
	return s + fmt.Sprintf("provider calls=%d", f.prov.Calls())
}

// verify checks the journal and that every asset sums to zero.
func (f *fixture) verify(tb testing.TB) {
	tb.Helper()
	rep, err := f.l.Verify(f.ctx)
	require.NoError(tb, err)
	for a, tot := range rep.Totals {
		require.Truef(tb, tot.IsZero(), "%s sums to %s", a, tot)
	}
}

// tick advances the clock and runs the program's Tick, which must not fail
// as a whole nor for any item.
func (f *fixture) tick(tb testing.TB, d time.Duration) kit.TickReport {
	tb.Helper()
	f.clock.Advance(d)
	rep, err := f.p.Tick(f.ctx)
	require.NoError(tb, err)
	require.Empty(tb, rep.Failed)
	return rep
}

func d(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func eq(tb testing.TB, want string, got decimal.Decimal, msg ...any) {
	tb.Helper()
	require.True(tb, got.Equal(d(want)), "want %s, got %s %v", want, got, msg)
}
