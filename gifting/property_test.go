package gifting_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rewardkit/rewardkit/gifting"
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/driver"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/teststore"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// giftModel is the simple model the property test compares the program
// against.
type giftModel struct {
	e         *env
	coins     map[string]int64 // viewer -> posted coins
	diamonds  map[string]int64 // creator -> diamonds
	revenue   int64            // platform:revenue coins
	exchange  int64            // coins at the exchange = diamonds issued (rate 1)
	purchases map[string]modelPurchase
	gifts     map[string]gifting.SendGiftRequest
	spent     map[string]int64 // viewer/day -> coins
	live      map[string]int64 // live -> coins
	gifters   map[string]map[string]int64
	refs      []string
	giftIDs   []string
	// Rule chargeback_recovery: maxDebt < 0 is the default write-off,
	// otherwise a bound on each viewer's debt (the rest written off).
	maxDebt int64
	debt    map[string]int64 // viewer -> coins owed
	lost    int64            // coins written off
}

type modelPurchase struct {
	viewer, pack string
	coins        int64
	chargedBack  bool
}

const (
	propDailyLimit = 3000
	propOverdraft  = 50
)

var (
	propViewers  = []string{"ann", "bob"}
	propCreators = []string{"cat", "dan"}
	propPacks    = map[string]int64{"it-app-70": 70, "it-app-350": 350, "it-app-1400": 1400}
	propGifts    = map[string]int64{"rose": 1, "finger-heart": 5, "perfume": 20, "hand-hearts": 100, "galaxy": 1000}
)

func keys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sortStrings(ks)
	return ks
}

func (m *giftModel) buy(t *rapid.T) {
	viewer := rapid.SampledFrom(propViewers).Draw(t, "viewer")
	pack := rapid.SampledFrom(keys(propPacks)).Draw(t, "pack")
	ref := fmt.Sprintf("p%d", len(m.refs))
	if len(m.refs) > 0 && rapid.Bool().Draw(t, "reuse ref") {
		ref = rapid.SampledFrom(m.refs).Draw(t, "ref")
	}
	pu, err := m.e.p.BuyPack(m.e.ctx, gifting.BuyPackRequest{PaymentRef: ref, Actor: viewer, Pack: pack})
	if old, ok := m.purchases[ref]; ok {
		if old.viewer == viewer && old.pack == pack {
			require.NoError(t, err)
		} else {
			require.ErrorIs(t, err, gifting.ErrIdempotencyConflict)
		}
		return
	}
	require.NoError(t, err)
	m.purchases[ref] = modelPurchase{viewer: viewer, pack: pack, coins: propPacks[pack]}
	m.refs = append(m.refs, ref)
	repaid := min(m.debt[viewer], propPacks[pack])
	require.Equal(t, repaid, pu.Repaid, "the viewer's debt is repaid first")
	m.debt[viewer] -= repaid
	m.coins[viewer] += propPacks[pack] - repaid
}

func (m *giftModel) gift(t *rapid.T) {
	req := gifting.SendGiftRequest{
		Actor:   rapid.SampledFrom(propViewers).Draw(t, "viewer"),
		Creator: rapid.SampledFrom(propCreators).Draw(t, "creator"),
		Gift:    rapid.SampledFrom(keys(propGifts)).Draw(t, "gift"),
		Count:   rapid.IntRange(1, 5).Draw(t, "count"),
		Live:    rapid.SampledFrom([]string{"", "L1", "L2"}).Draw(t, "live"),
	}
	id := fmt.Sprintf("g%d", len(m.giftIDs))
	if len(m.giftIDs) > 0 && rapid.Bool().Draw(t, "reuse id") {
		id = rapid.SampledFrom(m.giftIDs).Draw(t, "id")
	}
	_, err := m.e.p.SendGift(m.e.ctx, withEvent(id, req))
	if old, ok := m.gifts[id]; ok {
		if old == req {
			require.NoError(t, err)
		} else {
			require.ErrorIs(t, err, gifting.ErrIdempotencyConflict)
		}
		return
	}
	cost := propGifts[req.Gift] * int64(req.Count)
	day := req.Actor + "/" + m.e.clock.Now().Format(time.DateOnly)
	switch {
	case m.coins[req.Actor] < cost:
		require.ErrorIs(t, err, gifting.ErrInsufficientCoins)
		return
	case m.spent[day]+cost > propDailyLimit:
		require.ErrorIs(t, err, gifting.ErrDailyLimit)
		return
	}
	require.NoError(t, err)
	m.gifts[id] = req
	m.giftIDs = append(m.giftIDs, id)
	m.spent[day] += cost
	m.coins[req.Actor] -= cost
	share := cost / 2
	m.diamonds[req.Creator] += share
	m.exchange += share
	m.revenue += cost - share
	if req.Live != "" {
		m.live[req.Live] += cost
		if m.gifters[req.Live] == nil {
			m.gifters[req.Live] = map[string]int64{}
		}
		m.gifters[req.Live][req.Actor] += cost
	}
}

func (m *giftModel) chargeback(t *rapid.T) {
	if len(m.refs) == 0 {
		t.Skip("no purchase")
	}
	ref := rapid.SampledFrom(m.refs).Draw(t, "ref")
	pu, err := m.e.p.Chargeback(m.e.ctx, gifting.ChargebackRequest{Actor: officer, PaymentRef: ref})
	require.NoError(t, err)
	mp := m.purchases[ref]
	if mp.chargedBack {
		return
	}
	claw := min(mp.coins, max(m.coins[mp.viewer]+propOverdraft, 0))
	require.Equal(t, claw, pu.ClawedBack)
	require.Equal(t, mp.coins-claw, pu.Unrecovered)
	debt := int64(0)
	if m.maxDebt >= 0 {
		debt = min(mp.coins-claw, m.maxDebt-m.debt[mp.viewer])
	}
	require.Equal(t, debt, pu.Debt)
	require.Equal(t, mp.coins-claw-debt, pu.WrittenOff)
	m.debt[mp.viewer] += debt
	m.lost += pu.WrittenOff
	m.coins[mp.viewer] -= claw
	mp.chargedBack = true
	m.purchases[ref] = mp
}

func (m *giftModel) check(t *rapid.T) {
	e := m.e
	var members int64
	for _, v := range propViewers {
		got := e.units(t, gifting.MemberAccount(v), "COIN")
		require.Equal(t, m.coins[v], got, "coins of %s", v)
		require.GreaterOrEqual(t, got, int64(-propOverdraft))
		members += got
	}
	var diamonds int64
	for _, c := range propCreators {
		require.Equal(t, m.diamonds[c], e.units(t, gifting.EarningsAccount(c), "DIAMOND"), "diamonds of %s", c)
		diamonds += m.diamonds[c]
	}
	require.Equal(t, m.revenue, e.units(t, gifting.RevenueAccount, "COIN"))
	require.Equal(t, m.exchange, e.units(t, gifting.ExchangeAccount, "COIN"))
	require.Equal(t, -diamonds, e.units(t, gifting.ExchangeAccount, "DIAMOND"))
	// Nothing unrecovered goes missing: it is the viewer's debt or a loss.
	var debts int64
	for _, v := range propViewers {
		var owed decimal.Decimal
		require.NoError(t, e.l.View(e.ctx, func(r *ledger.Reader) error {
			ds, err := kit.Outstanding(r, v)
			for _, d := range ds {
				owed = owed.Add(d.Amount)
			}
			return err
		}))
		require.Equal(t, m.debt[v], owed.IntPart(), "debt of %s", v)
		require.LessOrEqual(t, m.debt[v], max(m.maxDebt, 0))
		debts += m.debt[v]
	}
	if m.lost > 0 {
		require.Equal(t, -m.lost, e.units(t, gifting.ChargebackLossAccount, "COIN"))
	}
	// Conservation of coins: what world issued is with members or the
	// platform, less what was written off or is owed.
	require.Equal(t, -(members + m.revenue + m.exchange - m.lost - debts), e.units(t, ledger.World, "COIN"))
	for live, coins := range m.live {
		ls, err := e.p.Live(e.ctx, live)
		require.NoError(t, err)
		require.Equal(t, coins, ls.Coins)
		top, err := e.p.TopGifters(e.ctx, live, -1)
		require.NoError(t, err)
		require.Len(t, top, len(m.gifters[live]))
		for i, g := range top {
			require.Equal(t, m.gifters[live][g.Viewer], g.Coins)
			if i > 0 {
				require.GreaterOrEqual(t, top[i-1].Coins, g.Coins)
			}
		}
	}
}

// TestPropertyGifting drives the program and a model side by side, on
// both stores, each check on a store of its own. On memstore rapid runs
// its usual checks (and shrinks a failure); on PostgreSQL, where a check
// costs about a second, it runs pgSequences random sequences, each from a
// seed in its subtest's name (set GIFTING_PROPERTY_SEED to replay one).
func TestPropertyGifting(t *testing.T) {
	teststore.Run(t, func(tt *testing.T, open teststore.Opener) {
		prop := func(owner testing.TB) func(*rapid.T) {
			return func(t *rapid.T) {
				scope := &checkScope{TB: owner}
				defer scope.close()
				propertyGifting(t, open(scope))
			}
		}
		if !strings.HasSuffix(tt.Name(), "/pgstore") {
			rapid.Check(tt, prop(tt))
			return
		}
		runSequences(tt, prop)
	})
}

// pgSequences is how many random sequences a property test runs on
// PostgreSQL.
const pgSequences = 8

// runSequences runs a property on pgSequences random inputs
// (rapid.MakeFuzz), each in a subtest named after its seed.
func runSequences(t *testing.T, prop func(owner testing.TB) func(*rapid.T)) {
	base := uint64(time.Now().UnixNano())
	n := pgSequences
	if s := os.Getenv("GIFTING_PROPERTY_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("GIFTING_PROPERTY_SEED: %v", err)
		}
		base, n = v, 1
	}
	for i := range n {
		seed := base + uint64(i)
		t.Run(fmt.Sprintf("seed-%d", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, seed))
			input := make([]byte, 1<<14)
			for j := range input {
				input[j] = byte(rng.Uint32())
			}
			rapid.MakeFuzz(prop(t))(t, input)
		})
	}
}

// checkScope is the test's testing.TB with cleanups of its own, run when
// one rapid check ends: each check's store is closed (on PostgreSQL, its
// schema dropped) before the next check opens one.
type checkScope struct {
	testing.TB
	cleanups []func()
}

func (c *checkScope) Cleanup(f func()) { c.cleanups = append(c.cleanups, f) }

func (c *checkScope) close() {
	for i := len(c.cleanups) - 1; i >= 0; i-- {
		c.cleanups[i]()
	}
}

func propertyGifting(t *rapid.T, store driver.Store) {
	r := gifting.DefaultRules()
	r.DailySpendLimit = propDailyLimit
	maxDebt := int64(-1)
	if rapid.Bool().Draw(t, "recover") {
		maxDebt = rapid.Int64Range(0, 500).Draw(t, "max debt")
		r.ChargebackRecovery = kit.Recover(decimal.NewFromInt(maxDebt), gifting.ChargebackLossAccount)
	}
	m := &giftModel{maxDebt: maxDebt, debt: map[string]int64{}, e: newEnvOn(t, store, r, gifting.WithWallets(coinOverdraft(propOverdraft))), coins: map[string]int64{}, diamonds: map[string]int64{},
		purchases: map[string]modelPurchase{}, gifts: map[string]gifting.SendGiftRequest{}, spent: map[string]int64{},
		live: map[string]int64{}, gifters: map[string]map[string]int64{}}
	t.Repeat(map[string]func(*rapid.T){
		"buy":        m.buy,
		"gift":       m.gift,
		"chargeback": m.chargeback,
		"clock": func(t *rapid.T) {
			m.e.clock.Advance(time.Duration(rapid.IntRange(0, 30).Draw(t, "hours")) * time.Hour)
		},
		"": m.check,
	})
	rep, err := m.e.l.Verify(m.e.ctx)
	require.NoError(t, err)
	for asset, total := range rep.Totals {
		require.True(t, total.IsZero(), "%s sums to %s", asset, total)
	}
	// Gifts never move coins between members: no coin posting has a
	// member or creator account on both sides.
	isMember := func(a string) bool { return strings.HasPrefix(a, "member:") || strings.HasPrefix(a, "creator:") }
	for after := uint64(0); ; {
		var txs []ledger.Transaction
		var next uint64
		require.NoError(t, m.e.l.View(m.e.ctx, func(r *ledger.Reader) (err error) {
			txs, next, err = r.Transactions(after, 1000)
			return err
		}))
		for _, tx := range txs {
			for _, p := range tx.Postings {
				require.False(t, isMember(p.From) && isMember(p.To), "tx %d moves %s from %s to %s", tx.ID, p.Asset, p.From, p.To)
			}
		}
		if next == 0 {
			break
		}
		after = next
	}
}
