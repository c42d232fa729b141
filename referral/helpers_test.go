package referral_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
	"github.com/rewardkit/rewardkit/ledger/teststore"
	"github.com/rewardkit/rewardkit/referral"
)

var t0 = time.Date(2020, 6, 1, 7, 0, 0, 0, time.UTC) // 09:00 in Rome

// Actors the fixture's role directory knows.
const (
	riskOfficer = "rita"  // kit.RoleRiskOfficer
	admin       = "adam"  // kit.RoleProgramAdmin
	nobody      = "norma" // no role
)

type fixture struct {
	ctx     context.Context
	clock   *ledgertest.Clock
	l       *ledger.Ledger
	members *referral.MemberDirectory
	roles   *kit.RoleDirectory
	p       *referral.Program
	rules   referral.Rules
	tb      testing.TB

	mu   sync.Mutex
	gone map[string]bool // members the directory "forgets"
}

// fixtureMembers is the fixture's directory, which can forget members.
type fixtureMembers struct{ f *fixture }

func (m fixtureMembers) Member(ctx context.Context, id string) (referral.Member, error) {
	m.f.mu.Lock()
	gone := m.f.gone[id]
	m.f.mu.Unlock()
	if gone {
		return referral.Member{}, fmt.Errorf("%w: %q", referral.ErrUnknownMember, id)
	}
	return m.f.members.Member(ctx, id)
}

// newFixture sets a program up with rules on a fresh store from open.
func newFixture(tb testing.TB, open teststore.Opener, rules referral.Rules, opts ...referral.Option) *fixture {
	tb.Helper()
	ctx := context.Background()
	clock := ledgertest.NewClock(t0)
	l := ledger.New(open(tb), ledger.WithClock(clock))
	roles := &kit.RoleDirectory{}
	roles.Grant(riskOfficer, kit.RoleRiskOfficer)
	roles.Grant(admin, kit.RoleProgramAdmin)
	f := &fixture{ctx: ctx, clock: clock, l: l, members: referral.NewMemberDirectory(), roles: roles, rules: rules, tb: tb,
		gone: map[string]bool{}}
	// COIN, which a shared wallet policy may name (kit.WalletPolicy.Check),
	// is defined before the program starts, as a platform would.
	require.NoError(tb, l.DefineAsset(ctx, ledger.COIN))
	p, err := referral.New(ctx, l, rules, fixtureMembers{f}, append([]referral.Option{referral.WithRoles(roles)}, opts...)...)
	require.NoError(tb, err)
	f.p = p
	return f
}

// forget makes the member directory forget a member.
func (f *fixture) forget(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gone[id] = true
}

// member puts an eligible, new member of the rules' country.
func (f *fixture) member(id string) referral.Member {
	m := referral.Member{ID: id, Country: f.rules.Country, Age: 30, HasProfile: true, PayoutLinked: true,
		RegisteredAt: f.clock.Now(), Device: "dev-" + id, PaymentInstrument: "card-" + id}
	f.members.Put(m)
	return m
}

func (f *fixture) code(tb testing.TB, id string) string {
	if tb == nil {
		tb = f.tb
	}
	tb.Helper()
	c, err := f.p.IssueCode(f.ctx, "code-"+id, id)
	require.NoError(tb, err)
	return c
}

func (f *fixture) kill(tb testing.TB, country string, off bool) {
	tb.Helper()
	require.NoError(tb, f.p.SetKillSwitch(f.ctx, riskOfficer, country, off))
}

func (f *fixture) balance(tb testing.TB, account string) decimal.Decimal {
	tb.Helper()
	b, err := f.l.Balance(f.ctx, account, f.rules.Asset.Code)
	if err != nil {
		return decimal.Zero // never opened
	}
	return b.Posted
}

func (f *fixture) wallet(tb testing.TB, id string) decimal.Decimal {
	tb.Helper()
	return f.balance(tb, referral.MemberAccount(id))
}

func (f *fixture) budget(tb testing.TB) referral.Budget {
	tb.Helper()
	b, err := f.p.Budget(f.ctx)
	require.NoError(tb, err)
	return b
}

var recordKinds = []string{"referral.event", "referral.code", "referral.referrer", "referral.invite", "referral.reward",
	"referral.daily", "referral.signal", "referral.purchase", "referral.campaign", "referral.kill"}

// snapshot captures everything the program could change: the journal's
// head, every hold, and every record it keeps.
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
		for _, k := range recordKinds {
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
	return s
}

func (f *fixture) verify(tb testing.TB) {
	tb.Helper()
	rep, err := f.l.Verify(f.ctx)
	require.NoError(tb, err)
	for asset, total := range rep.Totals {
		require.Truef(tb, total.IsZero(), "%s sums to %s", asset, total)
	}
}

func d(v int64) decimal.Decimal { return decimal.NewFromInt(v) }

func mustJSON(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	require.NoError(tb, err)
	return string(b)
}
