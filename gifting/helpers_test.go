package gifting_test

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/rewardkit/rewardkit/gifting"
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/driver"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
	"github.com/rewardkit/rewardkit/ledger/teststore"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
)

// testingT is what the helpers need: *testing.T and *rapid.T both have it.
type testingT interface {
	require.TestingT
	Helper()
}

var start = time.Date(2026, 3, 1, 18, 0, 0, 0, time.UTC)

// officer holds kit.RoleRiskOfficer in every env's role directory.
const officer = "rita"

type env struct {
	ctx   context.Context
	l     *ledger.Ledger
	clock *ledgertest.Clock
	dir   *kit.Directory
	roles *kit.RoleDirectory
	p     *gifting.Program
	rules gifting.Rules
}

func members() []kit.Member {
	return []kit.Member{
		{ID: "ann", BirthDate: born(30), Kind: "personal", Country: "IT"},
		{ID: "bob", BirthDate: born(18), Kind: "personal", Country: "IT"},
		{ID: "kid", BirthDate: born(16), Kind: "personal", Country: "IT"},
		{ID: "joe", BirthDate: born(40), Kind: "personal", Country: "US"},
		{ID: "cat", BirthDate: born(25), Kind: "creator", Country: "IT"},
		{ID: "dan", BirthDate: born(33), Kind: "creator", Country: "IT"},
		{ID: "teen", BirthDate: born(17), Kind: "creator", Country: "IT"},
		{ID: "pol", BirthDate: born(50), Kind: "political", Country: "IT"},
	}
}

// newEnv opens a fresh store with open and runs the program on it, with a
// role directory in which officer is a risk officer (opts come after
// that, so a test may replace it).
func newEnv(tb testing.TB, open teststore.Opener, rules gifting.Rules, opts ...gifting.Option) *env {
	tb.Helper()
	return newEnvOn(tb, open(tb), rules, opts...)
}

// newEnvOn is newEnv on a store already open (a rapid check opens its
// own).
func newEnvOn(tb testingT, store driver.Store, rules gifting.Rules, opts ...gifting.Option) *env {
	tb.Helper()
	e := &env{ctx: context.Background(), clock: ledgertest.NewClock(start), dir: kit.NewDirectory(members()...),
		roles: &kit.RoleDirectory{}, rules: rules}
	e.roles.Grant(officer, kit.RoleRiskOfficer)
	e.l = ledger.New(store, ledger.WithClock(e.clock))
	p, err := gifting.New(e.ctx, e.l, rules, e.dir, append([]gifting.Option{gifting.WithRoles(e.roles)}, opts...)...)
	require.NoError(tb, err)
	e.p = p
	return e
}

// units returns an account's posted balance in an asset as an int64
// (zero for an account never opened).
func (e *env) units(tb testingT, addr, asset string) int64 {
	tb.Helper()
	b, err := e.l.Balance(e.ctx, addr, asset)
	if err != nil {
		require.ErrorIs(tb, err, ledger.ErrUnknownAccount)
		return 0
	}
	return b.Posted.IntPart()
}

func (e *env) balance(tb testingT, addr, asset string) ledger.Balance {
	tb.Helper()
	b, err := e.l.Balance(e.ctx, addr, asset)
	require.NoError(tb, err)
	return b
}

func (e *env) money(tb testingT, addr, asset string) decimal.Decimal {
	tb.Helper()
	return e.balance(tb, addr, asset).Posted
}

// verify checks the ledger: the journal replays to the stored balances and
// every asset sums to zero.
func (e *env) verify(tb testingT) {
	tb.Helper()
	rep, err := e.l.Verify(e.ctx)
	require.NoError(tb, err)
	for asset, total := range rep.Totals {
		require.True(tb, total.IsZero(), "%s sums to %s", asset, total)
	}
}

// snapshot is everything a refused event must leave unchanged: the
// journal's length, every balance and every program record.
type snapshot struct {
	head     uint64
	balances map[string]string
	records  map[string]string
}

var recordKinds = []string{"gifting.event", "gifting.purchase", "gifting.live", "gifting.gifter", "gifting.cap"}

func (e *env) snapshot(tb testingT) snapshot {
	tb.Helper()
	rep, err := e.l.Verify(e.ctx)
	require.NoError(tb, err)
	s := snapshot{head: rep.Head.ID, balances: map[string]string{}, records: map[string]string{}}
	addrs := []string{ledger.World, gifting.RevenueAccount, gifting.CoinSalesAccount, gifting.ExchangeAccount}
	for _, m := range members() {
		addrs = append(addrs, gifting.MemberAccount(m.ID), gifting.EarningsAccount(m.ID))
	}
	for _, a := range addrs {
		bs, err := e.l.Balances(e.ctx, a)
		if err != nil {
			require.ErrorIs(tb, err, ledger.ErrUnknownAccount)
			s.balances[a] = "closed"
			continue
		}
		for _, b := range bs {
			s.balances[a+"/"+b.Asset] = b.Posted.String() + "/" + b.Held.String()
		}
	}
	err = e.l.View(e.ctx, func(r *ledger.Reader) error {
		for _, k := range recordKinds {
			recs, err := r.Records(k, "", 1000)
			if err != nil {
				return err
			}
			for _, rec := range recs {
				s.records[k+"/"+rec.ID] = string(rec.Data)
			}
		}
		return nil
	})
	require.NoError(tb, err)
	return s
}

func (e *env) buy(tb testingT, ref, viewer, pack string) gifting.Purchase {
	tb.Helper()
	pu, err := e.p.BuyPack(e.ctx, gifting.BuyPackRequest{PaymentRef: ref, Actor: viewer, Pack: pack})
	require.NoError(tb, err)
	return pu
}

// born returns the birth date of a member who is age years old at start
// and stays so for months after: born age years and a month before it.
func born(age int) kit.Date {
	t := start.AddDate(-age, -1, 0)
	return kit.NewDate(t.Year(), t.Month(), t.Day())
}

// withEvent returns req with its event ID set to id.
func withEvent(id string, req gifting.SendGiftRequest) gifting.SendGiftRequest {
	req.EventID = id
	return req
}

func sortedKeys(m map[string]int64) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func sortStrings(s []string) { sort.Strings(s) }
