package subscription

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

var t0 = time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)

type fixture struct {
	ctx   context.Context
	l     *ledger.Ledger
	clock *ledgertest.Clock
	p     *Program
	dir   *kit.Directory
	tb    testT // the running subtest, for setup funcs
}

// newFixture runs the program over store (teststore.Run opens one per
// store the module ships), with cleo an eligible creator and ann, bob and
// cat members in the US.
func newFixture(tb testT, store driver.Store, rules Rules, opts ...Option) *fixture {
	tb.Helper()
	ctx := context.Background()
	clock := ledgertest.NewClock(t0)
	l := ledger.New(store, ledger.WithClock(clock))
	dir := kit.NewDirectory()
	p, err := New(ctx, l, rules, dir, opts...)
	require.NoError(tb, err)
	dir.Put(kit.Member{ID: "cleo", BirthDate: born(25), Country: "IT", Followers: 50000, ViewsLastMonth: 400000})
	for _, id := range []string{"ann", "bob", "cat"} {
		dir.Put(kit.Member{ID: id, BirthDate: born(30), Country: "US"})
	}
	return &fixture{ctx: ctx, l: l, clock: clock, p: p, dir: dir}
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

var (
	basic = Tier{ID: "basic", Name: "Fan", Price: dec("4.99"), Perks: []Perk{PerkBadge, PerkStickers}}
	pro   = Tier{ID: "pro", Name: "Super fan", Price: dec("9.99"), Perks: []Perk{PerkBadge, PerkStickers, PerkPrivateChat, CustomPerk("monthly call")}}
)

// born returns the birth date of a member who turns age on t0's date: age
// at t0 on any calendar.
func born(age int) kit.Date { return kit.NewDate(t0.Year()-age, t0.Month(), t0.Day()) }

func (f *fixture) publish(tb testT, event string, tiers ...Tier) Offer {
	tb.Helper()
	o, err := f.p.PublishTiers(f.ctx, PublishTiersRequest{EventID: event, Actor: "cleo", Tiers: tiers})
	require.NoError(tb, err)
	return o
}

func (f *fixture) fund(tb testT, member, amount string) {
	tb.Helper()
	_, err := f.l.OpenAccount(f.ctx, ledger.AccountSpec{Address: MemberAccount(member)})
	require.NoError(tb, err)
	_, err = f.l.Transfer(f.ctx, "", ledger.World, MemberAccount(member), "USD", dec(amount))
	require.NoError(tb, err)
}

func (f *fixture) balance(tb testT, addr string) decimal.Decimal {
	tb.Helper()
	b, err := f.l.Balance(f.ctx, addr, "USD")
	if err != nil {
		return decimal.Zero // not opened yet
	}
	return b.Posted
}

func requireAmount(tb testT, want string, got decimal.Decimal, msg ...any) {
	tb.Helper()
	require.Truef(tb, dec(want).Equal(got), "want %s, got %s %v", want, got, fmt.Sprint(msg...))
}

// snapshot is everything the program and the ledger keep: the journal head,
// every balance, every program record and every due entry.
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
		for _, k := range []string{kindOffer, kindSub, kindEvent} {
			rs, err := whole(rd.Records(k, "", snapshotPage))
			if err != nil {
				return err
			}
			for _, r := range rs {
				out += fmt.Sprintf("rec %s %s %s\n", r.Kind, r.ID, r.Data)
			}
		}
		ds, err := whole(rd.Due(dueRenew, ledger.MaxTime.Add(-time.Nanosecond), snapshotPage))
		if err != nil {
			return err
		}
		for _, d := range ds {
			out += fmt.Sprintf("due %s %s\n", d.ID, d.At)
		}
		return nil
	})
	require.NoError(tb, err)
	return out
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

// ticked counts a Tick's items by kind, so that a test states what a Tick
// did in one comparison.
type ticked struct{ Renewed, GraceStarted, Retried, Ended int }

// tick runs a Tick that must handle every due item, and counts its items.
func (f *fixture) tick(tb testT) ticked {
	tb.Helper()
	rep, err := f.p.Tick(f.ctx)
	require.NoError(tb, err)
	require.Empty(tb, rep.Failed)
	n := ticked{rep.Count(TickRenewed), rep.Count(TickGraceStarted), rep.Count(TickRetried), rep.Count(TickEnded)}
	require.Len(tb, rep.Done, n.Renewed+n.GraceStarted+n.Retried+n.Ended, "items of no known kind")
	return n
}

// checkOnStores runs a rapid property on every store the module ships,
// twelve of its checks on PostgreSQL (kittest.CheckOnStores).
func checkOnStores(t *testing.T, prop func(t *rapid.T, store driver.Store)) {
	kittest.CheckOnStores(t, 12, prop)
}
