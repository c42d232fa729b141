package payout_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
	"github.com/rewardkit/rewardkit/ledger/memstore"
	"github.com/rewardkit/rewardkit/payout"
)

var t0 = time.Date(2020, 6, 1, 7, 0, 0, 0, time.UTC)

type fixture struct {
	ctx   context.Context
	clock *ledgertest.Clock
	l     *ledger.Ledger
	prov  *payout.MemoryProvider
	p     *payout.Program
	rules payout.Rules
	t     testing.TB
}

func newFixture(tb testing.TB, rules payout.Rules) *fixture {
	tb.Helper()
	ctx := context.Background()
	clock := ledgertest.NewClock(t0)
	l := ledger.New(memstore.New(), ledger.WithClock(clock))
	prov := payout.NewMemoryProvider(clock)
	p, err := payout.New(ctx, l, rules, prov)
	require.NoError(tb, err)
	return &fixture{ctx: ctx, clock: clock, l: l, prov: prov, p: p, rules: rules, t: tb}
}

// fund gives a member reward asset from World and links their account.
func (f *fixture) fund(tb testing.TB, member string, amount int64) {
	tb.Helper()
	_, err := f.l.OpenAccount(f.ctx, ledger.AccountSpec{Address: ledger.World, Overdraft: ledger.Overdraft{Unbounded: true}})
	require.NoError(tb, err)
	_, err = f.l.OpenAccount(f.ctx, ledger.AccountSpec{Address: payout.MemberAccount(member)})
	require.NoError(tb, err)
	_, err = f.l.Transfer(f.ctx, fmt.Sprintf("fund-%s-%d-%d", member, amount, f.clock.Now().UnixNano()), ledger.World,
		payout.MemberAccount(member), f.rules.From.Code, decimal.NewFromInt(amount))
	require.NoError(tb, err)
	require.NoError(tb, f.p.LinkAccount(f.ctx, member, member+"@example.com"))
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
		for _, k := range []string{"payout.link", "payout.payout", "payout.member"} {
			recs, err := r.Records(k, "", 1000)
			if err != nil {
				return err
			}
			for _, rec := range recs {
				s += rec.Kind + " " + rec.ID + " " + string(rec.Data) + "\n"
			}
		}
		return nil
	}))
	return s + fmt.Sprintf("provider calls=%d", f.prov.Calls())
}

func (f *fixture) verify(tb testing.TB) {
	tb.Helper()
	_, err := f.l.Verify(f.ctx)
	require.NoError(tb, err)
}

func d(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func eq(tb testing.TB, want string, got decimal.Decimal, msg ...any) {
	tb.Helper()
	require.True(tb, got.Equal(d(want)), "want %s, got %s %v", want, got, msg)
}
