package adsbuy

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/driver"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/kit/kittest"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// testT is what the helpers need: *testing.T, *testing.B and *rapid.T.
type testT = kittest.TB

var t0 = time.Date(2026, 5, 4, 8, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

type fixture struct {
	ctx   context.Context
	l     *ledger.Ledger
	clock *ledgertest.Clock
	p     *Program
	roles *kit.RoleDirectory
}

// newFixture runs the program over store (teststore.Run opens one per
// store the module ships), with rita a sales representative.
func newFixture(tb testT, store driver.Store, rules Rules) *fixture {
	tb.Helper()
	ctx := context.Background()
	clock := ledgertest.NewClock(t0)
	l := ledger.New(store, ledger.WithClock(clock))
	roles := &kit.RoleDirectory{}
	roles.Grant("rita", kit.RoleSalesRep)
	p, err := New(ctx, l, rules, WithRoles(roles))
	require.NoError(tb, err)
	return &fixture{ctx: ctx, l: l, clock: clock, p: p, roles: roles}
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func requireAmount(tb testT, want string, got decimal.Decimal, msg ...any) {
	tb.Helper()
	require.Truef(tb, dec(want).Equal(got), "want %s, got %s %v", want, got, fmt.Sprint(msg...))
}

// advertiser opens an advertiser and tops it up.
func (f *fixture) advertiser(tb testT, id, country, topUp string) {
	tb.Helper()
	_, err := f.p.OpenAdvertiser(f.ctx, OpenAdvertiserRequest{Actor: id, Country: country})
	require.NoError(tb, err)
	if topUp != "" {
		_, err = f.p.TopUp(f.ctx, TopUpRequest{EventID: "pay-" + id + "-" + topUp, Actor: id, Amount: dec(topUp)})
		require.NoError(tb, err)
	}
}

// spec is a campaign of n days from now with one CPM and one CPC ad group.
func (f *fixture) spec(n int, daily string) CampaignSpec {
	now := f.clock.Now()
	return CampaignSpec{
		Name: "spring", Start: now, End: now.Add(time.Duration(n) * day), DailyBudget: dec(daily),
		AdGroups: []AdGroupSpec{
			{ID: "video", DailyBudget: dec("40"), BidType: CPM, Bid: dec("2.50")},
			{ID: "search", DailyBudget: dec("20"), BidType: CPC, Bid: dec("0.35")},
		},
	}
}

func (f *fixture) balance(tb testT, advertiser string) ledger.Balance {
	tb.Helper()
	b, err := f.p.Balance(f.ctx, advertiser)
	require.NoError(tb, err)
	return b
}

func (f *fixture) revenue(tb testT) decimal.Decimal {
	tb.Helper()
	b, err := f.l.Balance(f.ctx, RevenueAccount, "USD")
	require.NoError(tb, err)
	return b.Posted
}

// snapshot is everything the program and the ledger keep.
func (f *fixture) snapshot(tb testT) string {
	tb.Helper()
	var out string
	err := f.l.View(f.ctx, func(rd *ledger.Reader) error {
		rep, err := rd.Verify(f.ctx)
		if err != nil {
			return err
		}
		out += fmt.Sprintf("head %d\n", rep.Head.ID)
		bs, err := whole(rd.AllBalances(ledger.BalanceKey{}, snapshotPage))
		if err != nil {
			return err
		}
		for _, b := range bs {
			out += fmt.Sprintf("bal %s %s %s %s\n", b.Account, b.Asset, b.Posted, b.Held)
		}
		hs, err := whole(rd.Holds(0, snapshotPage))
		if err != nil {
			return err
		}
		for _, h := range hs {
			out += fmt.Sprintf("hold %d %s %s %s\n", h.ID, h.Amount, h.Captured, h.Status)
		}
		for _, k := range []string{kindAdvertiser, kindCampaign, kindDelivery, kindEvent} {
			rs, err := whole(rd.Records(k, "", snapshotPage))
			if err != nil {
				return err
			}
			for _, r := range rs {
				out += fmt.Sprintf("rec %s %s %s\n", r.Kind, r.ID, r.Data)
			}
		}
		for _, k := range []string{dueEnd, ledger.DueHoldExpiry} {
			ds, err := whole(rd.Due(k, ledger.MaxTime.Add(-time.Nanosecond), snapshotPage))
			if err != nil {
				return err
			}
			for _, d := range ds {
				out += fmt.Sprintf("due %s %s %s\n", k, d.ID, d.At)
			}
		}
		return nil
	})
	require.NoError(tb, err)
	return out
}

// released is what the campaigns a Tick ended gave back to their
// advertisers' balances.
func (f *fixture) released(tb testT, rep kit.TickReport) decimal.Decimal {
	tb.Helper()
	sum := decimal.Zero
	for _, id := range rep.IDs(TickEnded) {
		c, err := f.p.Campaign(f.ctx, id)
		require.NoError(tb, err)
		sum = sum.Add(c.Released)
	}
	return sum
}

// tick is what ledger/scheduler does at the clock's time: the ledger's
// Tick, which releases expired holds, then the program's. It returns the
// program's report and how many holds the ledger released.
func (f *fixture) tick(tb testT) (kit.TickReport, int) {
	tb.Helper()
	expired, err := f.l.Tick(f.ctx)
	require.NoError(tb, err)
	rep, err := f.p.Tick(f.ctx)
	require.NoError(tb, err)
	return rep, expired
}

// snapshotPage is the most a snapshot reads of each list. A list that
// fills it might have been cut short, so the snapshot fails instead.
const snapshotPage = 1000

// whole passes on a list a snapshot read, or an error if it fills a page.
func whole[T any](xs []T, err error) ([]T, error) {
	if err == nil && len(xs) >= snapshotPage {
		err = fmt.Errorf("snapshot: %d entries fill a page", len(xs))
	}
	return xs, err
}

func (f *fixture) verify(tb testT) {
	tb.Helper()
	kittest.RequireBalanced(tb, f.ctx, f.l)
}

// checkOnStores runs a rapid property on every store the module ships,
// twelve of its checks on PostgreSQL (kittest.CheckOnStores).
func checkOnStores(t *testing.T, prop func(t *rapid.T, store driver.Store)) {
	kittest.CheckOnStores(t, 12, prop)
}
