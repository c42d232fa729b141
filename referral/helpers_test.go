package referral_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
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
	members *kit.Directory
	roles   *kit.RoleDirectory
	p       *referral.Program
	rules   referral.Rules
	tb      testing.TB

	mu   sync.Mutex
	gone map[string]bool // members the directory "forgets"
}

// fixtureMembers is the fixture's directory, which can forget members.
type fixtureMembers struct{ f *fixture }

func (m fixtureMembers) Member(ctx context.Context, id string) (kit.Member, error) {
	m.f.mu.Lock()
	gone := m.f.gone[id]
	m.f.mu.Unlock()
	if gone {
		return kit.Member{}, fmt.Errorf("%w %q", referral.ErrUnknownMember, id)
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
	f := &fixture{ctx: ctx, clock: clock, l: l, members: kit.NewDirectory(), roles: roles, rules: rules, tb: tb,
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

// born returns the birth date of a member who turns age on New Year's
// Day of t0's year: age years old at t0.
func born(age int) kit.Date { return kit.NewDate(t0.Year()-age, time.January, 1) }

// member puts an eligible, new member of the rules' country, 30 at t0.
func (f *fixture) member(id string) kit.Member {
	m := kit.Member{ID: id, Country: f.rules.Country, BirthDate: born(30), HasProfile: true, PayoutLinked: true,
		RegisteredAt: f.clock.Now(), Device: "dev-" + id, PaymentInstrument: "card-" + id}
	f.members.Put(m)
	return m
}

func (f *fixture) code(tb testing.TB, id string) string {
	if tb == nil {
		tb = f.tb
	}
	tb.Helper()
	c, err := f.p.IssueCode(f.ctx, referral.IssueCodeRequest{EventID: "code-" + id, Member: id})
	require.NoError(tb, err)
	return c
}

// tick runs what a scheduler runs: the program's Tick, then the ledger's
// (which releases expired holds), and returns the program's report and
// how many holds the ledger released.
func (f *fixture) tick(tb testing.TB) (kit.TickReport, int) {
	tb.Helper()
	rep, err := f.p.Tick(f.ctx)
	require.NoError(tb, err)
	n, err := f.l.Tick(f.ctx)
	require.NoError(tb, err)
	return rep, n
}

// failed returns the IDs of a report's failed items of kind, and checks
// that each one's error wraps want (if not nil).
func failed(tb testing.TB, rep kit.TickReport, kind string, want error) []string {
	tb.Helper()
	var ids []string
	for _, f := range rep.Failed {
		if f.Kind == kind {
			if want != nil {
				require.ErrorIs(tb, f.Err, want, f.ID)
			}
			ids = append(ids, f.ID)
		}
	}
	return ids
}

func (f *fixture) kill(tb testing.TB, country string, off bool) {
	tb.Helper()
	require.NoError(tb, f.p.SetKillSwitch(f.ctx, referral.SetKillSwitchRequest{Actor: riskOfficer, Country: country, Disabled: off}))
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
	"referral.cap", "referral.signal", "referral.purchase", "referral.campaign", "referral.kill"}

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

// prefixOnce checks that an error's message begins with the package
// prefix and has it once ("self-referral" is a word of the messages).
func prefixOnce(tb testing.TB, err error) {
	tb.Helper()
	msg := err.Error()
	require.True(tb, strings.HasPrefix(msg, "referral: "), msg)
	require.Equal(tb, 1, strings.Count(strings.ReplaceAll(msg, "self-referral", ""), "referral: "), msg)
}

func d(v int64) decimal.Decimal { return decimal.NewFromInt(v) }

func mustJSON(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	require.NoError(tb, err)
	return string(b)
}
