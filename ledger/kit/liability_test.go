package kit_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/driver"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/kit/kittest"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
	"github.com/rewardkit/rewardkit/ledger/memstore"
	"github.com/rewardkit/rewardkit/ledger/teststore"
)

const day = 24 * time.Hour

// rubyToEUR is the seeds' rate, 10,000 rubies = 1 EUR, with the payout
// provider's 4% fee (which the liability does not deduct).
var rubyToEUR = ledger.ConversionRule{Name: "ruby-eur", From: "RUBY", To: "EUR", Rate: ledger.NewRate(1, 10000),
	Rounding: ledger.RoundDown, FeeRate: decimal.RequireFromString("0.04"), FeeRounding: ledger.RoundHalfUp,
	Exchange: "payout:exchange", Remainder: "payout:remainder", FeeAccount: "payout:fees"}

func liabilityLedger(t *testing.T, store driver.Store) (*ledger.Ledger, *ledgertest.Clock) {
	t.Helper()
	ctx := context.Background()
	clock := ledgertest.NewClock(t0)
	l := ledger.New(store, ledger.WithClock(clock))
	for _, a := range []ledger.Asset{ledger.RUBY, ledger.COIN, ledger.EUR} {
		require.NoError(t, l.DefineAsset(ctx, a))
	}
	_, err := l.OpenAccount(ctx, ledger.AccountSpec{Address: ledger.World, Overdraft: ledger.Overdraft{Unbounded: true}})
	require.NoError(t, err)
	return l, clock
}

func open(t *testing.T, l *ledger.Ledger, addrs ...string) {
	t.Helper()
	for _, a := range addrs {
		_, err := l.OpenAccount(context.Background(), ledger.AccountSpec{Address: a})
		require.NoError(t, err)
	}
}

// move posts amount of asset from one account to another at t0 + at.
func move(t *testing.T, l *ledger.Ledger, clock *ledgertest.Clock, at time.Duration, from, to, asset string, amount int64) {
	t.Helper()
	clock.Set(t0.Add(at))
	_, err := l.Transfer(context.Background(), fmt.Sprintf("%s-%s-%s-%d-%d", from, to, asset, at, amount), from, to, asset, decimal.NewFromInt(amount))
	require.NoError(t, err)
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func requireDec(t *testing.T, want string, got decimal.Decimal, what string) {
	t.Helper()
	require.True(t, dec(want).Equal(got), "%s: want %s, got %s", what, want, got)
}

// TestLiabilityBuckets ages balances by hand-computed figures, on every
// store.
func TestLiabilityBuckets(t *testing.T) {
	teststore.Run(t, func(t *testing.T, openStore teststore.Opener) {
		ctx := context.Background()
		l, clock := liabilityLedger(t, openStore(t))
		open(t, l, "member:ann", "member:bob", "member:eve", "memberx:zed", "platform:shop", "breakage:ruby", "creator:cat:diamonds")
		_, err := l.OpenAccount(ctx, ledger.AccountSpec{Address: "member:dan",
			Overdraft: ledger.Overdraft{Limits: map[string]decimal.Decimal{"RUBY": dec("700")}}})
		require.NoError(t, err)

		// Transaction times never go back along the journal, so the moves
		// are posted in time order:
		//   - ann: 20,000 on day 0, 6,000 on day 10, spends 8,000 on day 20,
		//     1,000 on day 40. FIFO: the spend came out of day 0, so she
		//     holds 12,000 from day 0, 6,000 from day 10, 1,000 from day 40;
		//   - bob: 500 on day 45 spent on day 46: owes nothing; 300 coins
		//     on day 48;
		//   - eve: 900 on day 5, 300 of it expired to breakage on day 30;
		//   - dan overdrew 700 on day 12: a receivable, in no bucket;
		//   - memberx:zed and creator:cat are not members: not reported;
		//   - after the report's time (day 50): not counted.
		move(t, l, clock, 0, ledger.World, "member:ann", "RUBY", 20000)
		move(t, l, clock, 1*day, ledger.World, "memberx:zed", "RUBY", 777)
		move(t, l, clock, 1*day, ledger.World, "creator:cat:diamonds", "RUBY", 555)
		move(t, l, clock, 5*day, ledger.World, "member:eve", "RUBY", 900)
		move(t, l, clock, 10*day, ledger.World, "member:ann", "RUBY", 6000)
		move(t, l, clock, 12*day, "member:dan", "platform:shop", "RUBY", 700)
		move(t, l, clock, 20*day, "member:ann", "platform:shop", "RUBY", 8000)
		move(t, l, clock, 30*day, "member:eve", "breakage:ruby", "RUBY", 300)
		move(t, l, clock, 40*day, ledger.World, "member:ann", "RUBY", 1000)
		move(t, l, clock, 45*day, ledger.World, "member:bob", "RUBY", 500)
		move(t, l, clock, 46*day, "member:bob", "platform:shop", "RUBY", 500)
		move(t, l, clock, 48*day, ledger.World, "member:bob", "COIN", 300)
		move(t, l, clock, 60*day, ledger.World, "member:ann", "RUBY", 5000)
		move(t, l, clock, 61*day, "member:eve", "breakage:ruby", "RUBY", 100)

		rep, err := kit.Liability(ctx, l, kit.LiabilityQuery{
			Assets:   []string{"RUBY", "COIN"},
			Buckets:  []time.Duration{7 * day, 30 * day},
			At:       t0.Add(50 * day),
			Values:   map[string]ledger.ConversionRule{"RUBY": rubyToEUR},
			Breakage: []string{"breakage:ruby", "breakage:never-opened"},
		})
		require.NoError(t, err)
		require.Equal(t, t0.Add(50*day), rep.At)
		require.Len(t, rep.Assets, 2)

		ruby := rep.Assets[0]
		require.Equal(t, "RUBY", ruby.Asset)
		require.Equal(t, 2, ruby.Holders) // ann, eve
		require.Len(t, ruby.Buckets, 3)
		// < 7 days: nothing (ann's last credit is 10 days old).
		// 7 to 30 days: ann's 1,000 from day 40.
		// 30 days or more: ann's 12,000 + 6,000 and eve's 600 from day 5.
		for i, want := range []struct {
			min, max   time.Duration
			amount, eu string
		}{{0, 7 * day, "0", "0"}, {7 * day, 30 * day, "1000", "0.10"}, {30 * day, 0, "18600", "1.86"}} {
			b := ruby.Buckets[i]
			require.Equal(t, want.min, b.MinAge, "bucket %d", i)
			require.Equal(t, want.max, b.MaxAge, "bucket %d", i)
			requireDec(t, want.amount, b.Amount, fmt.Sprintf("bucket %d amount", i))
			requireDec(t, want.eu, b.Value, fmt.Sprintf("bucket %d value", i))
		}
		requireDec(t, "19600", ruby.Outstanding, "outstanding")
		require.Equal(t, ledger.EUR, ruby.Money)
		requireDec(t, "1.96", ruby.Value, "value") // before the 4% fee
		requireDec(t, "700", ruby.Receivable, "receivable")
		requireDec(t, "300", ruby.Breakage, "breakage")

		coin := rep.Assets[1]
		require.Equal(t, 1, coin.Holders)
		requireDec(t, "300", coin.Buckets[0].Amount, "coins under 7 days")
		requireDec(t, "300", coin.Outstanding, "coins")
		require.Equal(t, "", coin.Money.Code, "no rule: unvalued")

		// Creators too, and no buckets: one bucket of every age.
		rep, err = kit.Liability(ctx, l, kit.LiabilityQuery{Assets: []string{"RUBY"}, Holders: []string{"member:", "creator:"}})
		require.NoError(t, err)
		require.Equal(t, clock.Now(), rep.At)
		require.Len(t, rep.Assets[0].Buckets, 1)
		requireDec(t, "25055", rep.Assets[0].Outstanding, "now: ann 24,000, eve 500, cat 555")
		require.Equal(t, 3, rep.Assets[0].Holders)
	})
}

func TestLiabilityRefusesBadQueries(t *testing.T) {
	l, _ := liabilityLedger(t, teststore.Memory(t))
	ctx := context.Background()
	for name, q := range map[string]kit.LiabilityQuery{
		"no asset":      {},
		"twice":         {Assets: []string{"RUBY", "RUBY"}},
		"buckets order": {Assets: []string{"RUBY"}, Buckets: []time.Duration{30 * day, 7 * day}},
		"zero bucket":   {Assets: []string{"RUBY"}, Buckets: []time.Duration{0}},
		"rule of other": {Assets: []string{"RUBY"}, Values: map[string]ledger.ConversionRule{"COIN": rubyToEUR}},
		"empty prefix":  {Assets: []string{"RUBY"}, Holders: []string{""}},
	} {
		_, err := kit.Liability(ctx, l, q)
		require.ErrorIs(t, err, kit.ErrInvalidQuery, name)
	}
	_, err := kit.Liability(ctx, l, kit.LiabilityQuery{Assets: []string{"NOPE"}})
	require.ErrorIs(t, err, ledger.ErrUnknownAsset)
}

// Liability's buckets equal a model that spends each member's credits
// first in, first out, whatever the order of credits and spends, on every
// store; and the outstanding total equals the members' balances.
func TestLiabilityMatchesFIFOModel(t *testing.T) {
	// Pages of two balances and two history entries: every scan crosses
	// page ends.
	defer kit.SetLiabilityPage(2)()
	kittest.CheckOnStores(t, 3, func(rt *rapid.T, store driver.Store) {
		ctx := context.Background()
		clock := ledgertest.NewClock(t0)
		l := ledger.New(store, ledger.WithClock(clock))
		require.NoError(rt, l.DefineAsset(ctx, ledger.RUBY))
		_, err := l.OpenAccount(ctx, ledger.AccountSpec{Address: ledger.World, Overdraft: ledger.Overdraft{Unbounded: true}})
		require.NoError(rt, err)
		members := []string{"member:a", "member:b", "member:c", "member:d", "member:e"}
		for _, m := range append([]string{"platform:shop"}, members...) {
			_, err := l.OpenAccount(ctx, ledger.AccountSpec{Address: m})
			require.NoError(rt, err)
		}
		type lot struct {
			at    time.Time
			units int64
		}
		lots := map[string][]lot{}
		bal := map[string]int64{}
		now := t0
		steps := rapid.IntRange(1, 40).Draw(rt, "steps")
		for i := 0; i < steps; i++ {
			now = now.Add(time.Duration(rapid.IntRange(0, 72).Draw(rt, "hours")) * time.Hour)
			clock.Set(now)
			m := rapid.SampledFrom(members).Draw(rt, "member")
			if bal[m] > 0 && rapid.Bool().Draw(rt, "spend") {
				n := rapid.Int64Range(1, bal[m]).Draw(rt, "spent")
				_, err := l.Transfer(ctx, fmt.Sprintf("s%d", i), m, "platform:shop", "RUBY", decimal.NewFromInt(n))
				require.NoError(rt, err)
				bal[m] -= n
				for n > 0 { // first in, first out
					take := min(n, lots[m][0].units)
					lots[m][0].units -= take
					n -= take
					if lots[m][0].units == 0 {
						lots[m] = lots[m][1:]
					}
				}
				continue
			}
			n := rapid.Int64Range(1, 5000).Draw(rt, "credit")
			_, err := l.Transfer(ctx, fmt.Sprintf("c%d", i), ledger.World, m, "RUBY", decimal.NewFromInt(n))
			require.NoError(rt, err)
			bal[m] += n
			lots[m] = append(lots[m], lot{now, n})
		}
		buckets := []time.Duration{day, 3 * day, 10 * day}
		rep, err := kit.Liability(ctx, l, kit.LiabilityQuery{Assets: []string{"RUBY"}, Buckets: buckets})
		require.NoError(rt, err)
		want := make([]int64, len(buckets)+1)
		var total int64
		holders := 0
		for _, m := range members {
			if bal[m] > 0 {
				holders++
			}
			for _, lt := range lots[m] {
				age := now.Sub(lt.at)
				k := 0
				for k < len(buckets) && age >= buckets[k] {
					k++
				}
				want[k] += lt.units
				total += lt.units
			}
		}
		got := rep.Assets[0]
		require.Equal(rt, holders, got.Holders)
		requireDecRapid(rt, total, got.Outstanding, "outstanding")
		for k := range want {
			requireDecRapid(rt, want[k], got.Buckets[k].Amount, fmt.Sprintf("bucket %d", k))
		}
		kittest.RequireBalanced(rt, ctx, l)
	})
}

func requireDecRapid(rt *rapid.T, want int64, got decimal.Decimal, what string) {
	require.True(rt, decimal.NewFromInt(want).Equal(got), "%s: want %d, got %s", what, want, got)
}

// A finance team's question: how many rubies do members hold, how old
// are they, and what are they worth in euros?
func ExampleLiability() {
	ctx := context.Background()
	clock := ledgertest.NewClock(time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC))
	l := ledger.New(memstore.New(), ledger.WithClock(clock))
	_ = l.DefineAsset(ctx, ledger.RUBY)
	_ = l.DefineAsset(ctx, ledger.EUR)
	_, _ = l.OpenAccount(ctx, ledger.AccountSpec{Address: ledger.World, Overdraft: ledger.Overdraft{Unbounded: true}})
	_, _ = l.OpenAccount(ctx, ledger.AccountSpec{Address: "member:giulia"})
	_, _ = l.Transfer(ctx, "invite-1", ledger.World, "member:giulia", "RUBY", decimal.NewFromInt(20000))
	clock.Advance(45 * 24 * time.Hour)
	_, _ = l.Transfer(ctx, "retention-1", ledger.World, "member:giulia", "RUBY", decimal.NewFromInt(6000))

	rep, err := kit.Liability(ctx, l, kit.LiabilityQuery{
		Assets:  []string{"RUBY"},
		Buckets: []time.Duration{30 * 24 * time.Hour},
		Values: map[string]ledger.ConversionRule{"RUBY": {From: "RUBY", To: "EUR",
			Rate: ledger.NewRate(1, 10000), Rounding: ledger.RoundDown}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	a := rep.Assets[0]
	for _, b := range a.Buckets {
		fmt.Printf("from %v: %s rubies, %s EUR\n", b.MinAge, b.Amount, b.Value)
	}
	fmt.Printf("total: %s rubies, %s %s\n", a.Outstanding, a.Value.StringFixed(a.Money.Precision), a.Money.Code)
	// Output:
	// from 0s: 6000 rubies, 0.6 EUR
	// from 720h0m0s: 20000 rubies, 2 EUR
	// total: 26000 rubies, 2.60 EUR
}
