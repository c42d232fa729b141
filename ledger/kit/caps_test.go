package kit_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/driver"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/kit/kittest"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
	"github.com/rewardkit/rewardkit/ledger/teststore"
)

var errCapTest = errors.New("test: cap reached")

func testCap(name string, p kit.Period, count, units int64) kit.Cap {
	return kit.Cap{Kind: "test.cap", Scope: "c1", Name: name, Err: errCapTest, Period: p, MaxCount: count, MaxUnits: units, Window: 24 * time.Hour}
}

func TestPeriodKeyAndEnd(t *testing.T) {
	rome, err := time.LoadLocation("Europe/Rome")
	require.NoError(t, err)
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	require.NoError(t, err)
	at := time.Date(2026, 3, 28, 23, 30, 0, 0, time.UTC) // 00:30 on the 29th in Rome, 08:30 in Tokyo
	for _, c := range []struct {
		p    kit.Period
		loc  *time.Location
		t    time.Time
		key  string
		ends time.Time
	}{
		{kit.PeriodDay, nil, at, "2026-03-28", time.Date(2026, 3, 29, 0, 0, 0, 0, time.UTC)},
		{kit.PeriodDay, rome, at, "2026-03-29", time.Date(2026, 3, 30, 0, 0, 0, 0, rome)},
		{kit.PeriodDay, tokyo, at, "2026-03-29", time.Date(2026, 3, 30, 0, 0, 0, 0, tokyo)},
		// ISO weeks: Monday 29 December 2025 is in week 1 of 2026.
		{kit.PeriodWeek, nil, time.Date(2025, 12, 29, 0, 0, 0, 0, time.UTC), "2026-W01", time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)},
		{kit.PeriodWeek, nil, time.Date(2026, 1, 4, 23, 59, 0, 0, time.UTC), "2026-W01", time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)},
		{kit.PeriodWeek, rome, time.Date(2026, 1, 4, 23, 30, 0, 0, time.UTC), "2026-W02", time.Date(2026, 1, 12, 0, 0, 0, 0, rome)},
		{kit.PeriodMonth, rome, time.Date(2026, 1, 31, 23, 30, 0, 0, time.UTC), "2026-02", time.Date(2026, 3, 1, 0, 0, 0, 0, rome)},
		{kit.PeriodMonth, nil, time.Date(2026, 12, 31, 12, 0, 0, 0, time.UTC), "2026-12", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
		{kit.PeriodCampaign, rome, at, "campaign", time.Time{}},
	} {
		key, err := kit.PeriodKey(c.p, c.t, c.loc)
		require.NoError(t, err)
		require.Equal(t, c.key, key, "%s %s in %v", c.p, c.t, c.loc)
		require.True(t, c.ends.Equal(kit.PeriodEnd(c.p, c.t, c.loc)), "%s %s in %v ends %s, not %s", c.p, c.t, c.loc, kit.PeriodEnd(c.p, c.t, c.loc), c.ends)
	}
	// The day clocks go forward in Rome has 23 hours.
	d := time.Date(2026, 3, 29, 12, 0, 0, 0, rome)
	start := time.Date(2026, 3, 29, 0, 0, 0, 0, rome)
	require.Equal(t, 23*time.Hour, kit.PeriodEnd(kit.PeriodDay, d, rome).Sub(start))
	_, err = kit.PeriodKey("fortnight", at, nil)
	require.ErrorIs(t, err, kit.ErrInvalidCap)
}

// take runs Take in a unit of work of its own.
func take(ctx context.Context, l *ledger.Ledger, c kit.Cap, u kit.Use) (kit.Taken, error) {
	var tk kit.Taken
	err := l.Update(ctx, func(w *ledger.Writer) error {
		var err error
		tk, err = kit.Take(w, c, u)
		return err
	})
	return tk, err
}

// records lists a kind's records in a view of their own.
func records(t kittest.TB, ctx context.Context, l *ledger.Ledger, kind string) []ledger.Record {
	t.Helper()
	var out []ledger.Record
	require.NoError(t, l.View(ctx, func(r *ledger.Reader) error {
		var err error
		out, err = r.Records(kind, "", 10000)
		return err
	}))
	return out
}

func usage(t kittest.TB, ctx context.Context, l *ledger.Ledger, c kit.Cap, subject string, at time.Time, loc *time.Location) kit.Usage {
	t.Helper()
	var u kit.Usage
	require.NoError(t, l.View(ctx, func(r *ledger.Reader) error {
		var err error
		u, err = kit.UsageOf(r, c, subject, at, loc)
		return err
	}))
	return u
}

func TestTakeCountsAndRefuses(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		l, clock := newLedger(t, open)
		tokyo, err := time.LoadLocation("Asia/Tokyo")
		require.NoError(t, err)
		c := testCap("invites_per_day", kit.PeriodDay, 3, 0)
		now := clock.Now() // 12:00 UTC, 21:00 in Tokyo
		for i := 0; i < 3; i++ {
			tk, err := take(ctx, l, c, kit.Use{Subject: "ann", At: now, Loc: tokyo, Count: 1})
			require.NoError(t, err)
			require.Equal(t, kit.Taken{Subject: "ann", Period: "2026-03-01", Count: 1}, tk)
		}
		_, err = take(ctx, l, c, kit.Use{Subject: "ann", At: now, Loc: tokyo, Count: 1})
		require.ErrorIs(t, err, errCapTest)
		require.Equal(t, "invites_per_day", ledger.RuleOf(err))
		got := usage(t, ctx, l, c, "ann", now, tokyo)
		require.Equal(t, int64(3), got.Count)
		require.Equal(t, int64(0), got.RemainingCount)
		require.Equal(t, int64(-1), got.RemainingUnits)
		require.True(t, got.Resets.Equal(time.Date(2026, 3, 2, 0, 0, 0, 0, tokyo)))
		// Another subject counts apart; ann's new day starts at Tokyo's
		// midnight (15:00 UTC), not UTC's.
		_, err = take(ctx, l, c, kit.Use{Subject: "bob", At: now, Loc: tokyo, Count: 1})
		require.NoError(t, err)
		_, err = take(ctx, l, c, kit.Use{Subject: "ann", At: now.Add(3 * time.Hour), Loc: tokyo, Count: 1})
		require.NoError(t, err)

		amount := testCap("daily_spend_limit", kit.PeriodDay, 0, 100)
		_, err = take(ctx, l, amount, kit.Use{Subject: "ann", At: now, Units: 60})
		require.NoError(t, err)
		_, err = take(ctx, l, amount, kit.Use{Subject: "ann", At: now, Units: 41})
		require.ErrorIs(t, err, errCapTest)
		require.Equal(t, "daily_spend_limit", ledger.RuleOf(err))
		tk, err := take(ctx, l, amount, kit.Use{Subject: "ann", At: now, Units: 40})
		require.NoError(t, err)
		require.Equal(t, int64(0), usage(t, ctx, l, amount, "ann", now, nil).RemainingUnits)
		require.NoError(t, l.Update(ctx, func(w *ledger.Writer) error { return kit.Give(w, amount, tk) }))
		require.Equal(t, int64(40), usage(t, ctx, l, amount, "ann", now, nil).RemainingUnits)

		// A cap that is off counts nothing and writes nothing.
		off := testCap("off", kit.PeriodDay, 0, 0)
		tk, err = take(ctx, l, off, kit.Use{Subject: "ann", At: now, Count: 1})
		require.NoError(t, err)
		require.Equal(t, kit.Taken{}, tk)
		for _, r := range records(t, ctx, l, "test.cap") {
			require.NotContains(t, r.ID, ":off:")
		}
	})
}

func TestRollingCapGivesBack(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		l, clock := newLedger(t, open)
		c := testCap("daily_maximum", kit.PeriodRolling, 0, 1000)
		t0 := clock.Now()
		_, err := take(ctx, l, c, kit.Use{Subject: "ann", At: t0, Units: 600, Ref: "p1"})
		require.NoError(t, err)
		t1 := t0.Add(20 * time.Hour)
		_, err = take(ctx, l, c, kit.Use{Subject: "ann", At: t1, Units: 500, Ref: "p2"})
		require.Equal(t, "daily_maximum", ledger.RuleOf(err))
		tk, err := take(ctx, l, c, kit.Use{Subject: "ann", At: t1, Units: 400, Ref: "p2"})
		require.NoError(t, err)
		u := usage(t, ctx, l, c, "ann", t1, nil)
		require.Equal(t, int64(1000), u.Units)
		require.True(t, u.Resets.Equal(t0.Add(24*time.Hour)))
		// 24 hours after p1, it has left the window.
		require.Equal(t, int64(400), usage(t, ctx, l, c, "ann", t0.Add(24*time.Hour), nil).Units)
		// p2 failed: it is given back.
		require.NoError(t, l.Update(ctx, func(w *ledger.Writer) error { return kit.Give(w, c, tk) }))
		require.Equal(t, int64(600), usage(t, ctx, l, c, "ann", t1, nil).Units)
		_, err = take(ctx, l, c, kit.Use{Subject: "ann", At: t1, Units: 400, Ref: "p3"})
		require.NoError(t, err)
	})
}

func TestTakeRollsBackWithItsUnitOfWork(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		l, clock := newLedger(t, open)
		c := testCap("invites_per_day", kit.PeriodDay, 1, 0)
		boom := errors.New("boom")
		err := l.Update(ctx, func(w *ledger.Writer) error {
			if _, err := kit.Take(w, c, kit.Use{Subject: "ann", At: w.Now(), Count: 1}); err != nil {
				return err
			}
			return boom
		})
		require.ErrorIs(t, err, boom)
		require.Equal(t, int64(0), usage(t, ctx, l, c, "ann", clock.Now(), nil).Count)
		_, err = take(ctx, l, c, kit.Use{Subject: "ann", At: clock.Now(), Count: 1})
		require.NoError(t, err)
	})
}

func TestTakeRejectsMalformedUse(t *testing.T) {
	l, clock := newLedger(t, teststore.Memory)
	ctx := context.Background()
	for _, c := range []struct {
		c kit.Cap
		u kit.Use
	}{
		{testCap("x", kit.PeriodDay, 1, 0), kit.Use{At: clock.Now(), Count: 1}},
		{testCap("x", kit.PeriodDay, 1, 0), kit.Use{Subject: "a", At: clock.Now()}},
		{testCap("x", kit.PeriodDay, 1, 0), kit.Use{Subject: "a", At: clock.Now(), Count: -1, Units: 2}},
		{testCap("x", kit.PeriodRolling, 1, 0), kit.Use{Subject: "a", At: clock.Now(), Count: 1}},
		{testCap("x", "fortnight", 1, 0), kit.Use{Subject: "a", At: clock.Now(), Count: 1}},
		{testCap("a:b", kit.PeriodDay, 1, 0), kit.Use{Subject: "a", At: clock.Now(), Count: 1}},
		{testCap("x", kit.PeriodDay, -1, 5), kit.Use{Subject: "a", At: clock.Now(), Count: 1}},
	} {
		_, err := take(ctx, l, c.c, c.u)
		require.ErrorIs(t, err, kit.ErrInvalidCap, "%+v %+v", c.c, c.u)
	}
}

// TestTakeUnderRacingCallers: many callers take from one counter at once,
// each in its own unit of work; exactly the cap's worth succeed, the rest
// are refused, and the counter holds the cap.
func TestTakeUnderRacingCallers(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		l, clock := newLedger(t, open)
		c := testCap("invites_per_day", kit.PeriodDay, 25, 60)
		const callers, each = 16, 4
		var mu sync.Mutex
		var ok, refused int
		var units int64
		var wg sync.WaitGroup
		for g := 0; g < callers; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				for i := 0; i < each; i++ {
					n := int64(1 + (g+i)%3)
					_, err := take(ctx, l, c, kit.Use{Subject: "ann", At: clock.Now(), Count: 1, Units: n})
					mu.Lock()
					switch {
					case err == nil:
						ok++
						units += n
					case errors.Is(err, errCapTest):
						refused++
					default:
						t.Errorf("take: %v", err)
					}
					mu.Unlock()
				}
			}(g)
		}
		wg.Wait()
		require.Equal(t, callers*each, ok+refused)
		u := usage(t, ctx, l, c, "ann", clock.Now(), nil)
		require.Equal(t, int64(ok), u.Count)
		require.Equal(t, units, u.Units)
		require.LessOrEqual(t, u.Count, c.MaxCount)
		require.LessOrEqual(t, u.Units, c.MaxUnits)
		require.Positive(t, refused, "the callers asked for more than the cap allows")
	})
}

// capMachine drives caps on a store against a model of their counters.
type capMachine struct {
	ctx   context.Context
	l     *ledger.Ledger
	clock *ledgertest.Clock
	caps  []kit.Cap
	locs  []*time.Location
	// model: cap index -> counter id (subject|period key) -> count, units;
	// rolling caps are modelled by their uses.
	model map[int]map[string][2]int64
	uses  map[int]map[string][]modelUse
	taken []takenOf
	seq   int
}

type modelUse struct {
	ref   string
	at    time.Time
	count int64
	units int64
}

type takenOf struct {
	cap int
	tk  kit.Taken
	at  time.Time
}

func (m *capMachine) key(i int, subject string, at time.Time, loc *time.Location) string {
	k, err := kit.PeriodKey(m.caps[i].Period, at, loc)
	if err != nil {
		panic(err)
	}
	return subject + "|" + k
}

// used is the model's count and units of a counter at a time.
func (m *capMachine) used(i int, subject string, at time.Time, loc *time.Location) (int64, int64) {
	c := m.caps[i]
	if c.Period != kit.PeriodRolling {
		v := m.model[i][m.key(i, subject, at, loc)]
		return v[0], v[1]
	}
	var n, u int64
	for _, x := range m.uses[i][subject] {
		if at.Sub(x.at) < c.Window {
			n += x.count
			u += x.units
		}
	}
	return n, u
}

func (m *capMachine) snapshot(t *rapid.T) string {
	s := ""
	for _, r := range records(t, m.ctx, m.l, "test.cap") {
		s += r.ID + "=" + string(r.Data) + "\n"
	}
	return s
}

func (m *capMachine) add(i int, subject string, u kit.Use) {
	c := m.caps[i]
	if c.Period == kit.PeriodRolling {
		m.uses[i][subject] = append(m.uses[i][subject], modelUse{ref: u.Ref, at: u.At, count: u.Count, units: u.Units})
		return
	}
	k := m.key(i, subject, u.At, u.Loc)
	v := m.model[i][k]
	m.model[i][k] = [2]int64{v[0] + u.Count, v[1] + u.Units}
}

func (m *capMachine) fits(i int, u kit.Use) bool {
	c := m.caps[i]
	n, un := m.used(i, u.Subject, u.At, u.Loc)
	return (c.MaxCount == 0 || n+u.Count <= c.MaxCount) && (c.MaxUnits == 0 || un+u.Units <= c.MaxUnits)
}

func (m *capMachine) genUse(t *rapid.T, i int) kit.Use {
	m.seq++
	u := kit.Use{
		Subject: rapid.SampledFrom([]string{"ann", "bob"}).Draw(t, "subject"),
		At:      m.clock.Now(),
		Loc:     m.locs[rapid.IntRange(0, len(m.locs)-1).Draw(t, "loc")],
		Count:   rapid.Int64Range(0, 2).Draw(t, "count"),
		Units:   rapid.Int64Range(0, 40).Draw(t, "units"),
		Ref:     fmt.Sprintf("r%d", m.seq),
	}
	if u.Count == 0 && u.Units == 0 {
		u.Count = 1
	}
	return u
}

// Take: a use fits and is counted, or is refused by the cap's rule and
// changes nothing; a unit of work that fails after a take keeps nothing.
func (m *capMachine) Take(t *rapid.T) {
	i := rapid.IntRange(0, len(m.caps)-1).Draw(t, "cap")
	u := m.genUse(t, i)
	fail := rapid.Bool().Draw(t, "fail")
	fits := m.fits(i, u)
	before := m.snapshot(t)
	boom := errors.New("the unit of work fails after the take")
	var tk kit.Taken
	err := m.l.Update(m.ctx, func(w *ledger.Writer) error {
		var err error
		if tk, err = kit.Take(w, m.caps[i], u); err != nil {
			return err
		}
		if fail {
			return boom
		}
		return nil
	})
	switch {
	case !fits:
		require.ErrorIs(t, err, errCapTest)
		require.Equal(t, m.caps[i].Name, ledger.RuleOf(err))
		require.Equal(t, before, m.snapshot(t), "a refused take wrote")
	case fail:
		require.ErrorIs(t, err, boom)
		require.Equal(t, before, m.snapshot(t), "a failed unit of work kept its count")
	default:
		require.NoError(t, err)
		m.add(i, u.Subject, u)
		m.taken = append(m.taken, takenOf{cap: i, tk: tk, at: u.At})
	}
}

// Race: several callers take at once, each in its own unit of work;
// exactly as many succeed as the model says fit one after another.
func (m *capMachine) Race(t *rapid.T) {
	i := rapid.IntRange(0, len(m.caps)-1).Draw(t, "cap")
	n := rapid.IntRange(2, 6).Draw(t, "callers")
	base := m.genUse(t, i)
	errs := make([]error, n)
	tks := make([]kit.Taken, n)
	var wg sync.WaitGroup
	for g := 0; g < n; g++ {
		u := base
		u.Ref = fmt.Sprintf("%s-%d", base.Ref, g)
		wg.Add(1)
		go func(g int, u kit.Use) {
			defer wg.Done()
			tks[g], errs[g] = take(m.ctx, m.l, m.caps[i], u)
		}(g, u)
	}
	wg.Wait()
	want := 0
	for g := 0; g < n; g++ {
		u := base
		u.Ref = fmt.Sprintf("%s-%d", base.Ref, g)
		if m.fits(i, u) {
			m.add(i, u.Subject, u)
			want++
		}
	}
	var won []kit.Taken
	for g, err := range errs {
		if err == nil {
			won = append(won, tks[g])
			m.taken = append(m.taken, takenOf{cap: i, tk: tks[g], at: base.At})
			continue
		}
		require.ErrorIs(t, err, errCapTest)
	}
	require.Equal(t, want, len(won), "racing takes that succeeded")
	if m.caps[i].Period == kit.PeriodRolling {
		// The model added the first callers' uses; the winners may be
		// others, whose refs Give will name.
		us := m.uses[i][base.Subject]
		for k, tk := range won {
			us[len(us)-len(won)+k].ref = tk.Ref
		}
	}
}

// Give: a use taken before is given back.
func (m *capMachine) Give(t *rapid.T) {
	if len(m.taken) == 0 {
		t.Skip("nothing taken")
	}
	j := rapid.IntRange(0, len(m.taken)-1).Draw(t, "taken")
	x := m.taken[j]
	m.taken = append(m.taken[:j], m.taken[j+1:]...)
	require.NoError(t, m.l.Update(m.ctx, func(w *ledger.Writer) error { return kit.Give(w, m.caps[x.cap], x.tk) }))
	c := m.caps[x.cap]
	if c.Period == kit.PeriodRolling {
		us := m.uses[x.cap][x.tk.Subject]
		for k := range us {
			if us[k].ref == x.tk.Ref {
				m.uses[x.cap][x.tk.Subject] = append(us[:k], us[k+1:]...)
				break
			}
		}
		return
	}
	k := x.tk.Subject + "|" + x.tk.Period
	v := m.model[x.cap][k]
	m.model[x.cap][k] = [2]int64{max(v[0]-x.tk.Count, 0), max(v[1]-x.tk.Units, 0)}
}

// Advance moves the clock on, across local midnights now and then.
func (m *capMachine) Advance(t *rapid.T) {
	m.clock.Advance(time.Duration(rapid.Int64Range(int64(time.Minute), int64(30*time.Hour)).Draw(t, "advance")))
}

// Check: every counter read back is the model's and within its cap.
func (m *capMachine) Check(t *rapid.T) {
	now := m.clock.Now()
	for i, c := range m.caps {
		for _, s := range []string{"ann", "bob"} {
			for _, loc := range m.locs {
				n, u := m.used(i, s, now, loc)
				got, err := func() (kit.Usage, error) {
					var out kit.Usage
					err := m.l.View(m.ctx, func(r *ledger.Reader) error {
						var err error
						out, err = kit.UsageOf(r, c, s, now, loc)
						return err
					})
					return out, err
				}()
				require.NoError(t, err)
				require.Equal(t, [2]int64{n, u}, [2]int64{got.Count, got.Units}, "cap %s of %s in %v", c.Name, s, loc)
				if c.MaxCount > 0 {
					require.LessOrEqual(t, got.Count, c.MaxCount)
				}
				if c.MaxUnits > 0 {
					require.LessOrEqual(t, got.Units, c.MaxUnits)
				}
			}
		}
	}
}

// TestCapsProperty: on both stores, no cap is ever exceeded, also under
// racing callers; a refused take writes nothing; a failed unit of work
// keeps no count; Give returns exactly what Take counted.
func TestCapsProperty(t *testing.T) {
	rome, _ := time.LoadLocation("Europe/Rome")
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	kittest.CheckOnStores(t, 5, func(t *rapid.T, store driver.Store) {
		clock := ledgertest.NewClock(t0)
		m := &capMachine{
			ctx: context.Background(), l: ledger.New(store, ledger.WithClock(clock)), clock: clock,
			caps: []kit.Cap{
				testCap("per_day", kit.PeriodDay, 3, 0),
				testCap("spend_per_week", kit.PeriodWeek, 0, 90),
				testCap("both_per_month", kit.PeriodMonth, 5, 70),
				testCap("budget", kit.PeriodCampaign, 0, 150),
				testCap("rolling", kit.PeriodRolling, 4, 80),
			},
			locs:  []*time.Location{nil, rome, tokyo},
			model: map[int]map[string][2]int64{}, uses: map[int]map[string][]modelUse{},
		}
		for i := range m.caps {
			m.model[i] = map[string][2]int64{}
			m.uses[i] = map[string][]modelUse{}
		}
		t.Repeat(rapid.StateMachineActions(m))
	})
}

// The counters' IDs stay sorted by cap, subject and period, so a program
// (or an operator) can list one subject's usage.
func TestCounterIDs(t *testing.T) {
	l, clock := newLedger(t, teststore.Memory)
	ctx := context.Background()
	c := testCap("per_day", kit.PeriodDay, 5, 0)
	long := string(make([]byte, 300))
	for _, s := range []string{"bob", "ann", long} {
		_, err := take(ctx, l, c, kit.Use{Subject: s, At: clock.Now(), Count: 1})
		require.NoError(t, err)
	}
	var ids []string
	for _, r := range records(t, ctx, l, "test.cap") {
		ids = append(ids, r.ID)
	}
	require.True(t, sort.StringsAreSorted(ids))
	require.Equal(t, "c1:per_day:ann:2026-03-01", ids[0])
	require.Len(t, ids, 3)
	require.Equal(t, int64(1), usage(t, ctx, l, c, long, clock.Now(), nil).Count)
}

// TestPruneDropsOnlyPeriodsThatAreOver: counters of days, weeks, months
// and rolling windows that are over on every calendar go; the current
// ones, campaign counters and other caps' counters stay; the cursor pages.
func TestPruneDropsOnlyPeriodsThatAreOver(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		l, clock := newLedger(t, open) // Sunday 1 March 2026, 12:00 UTC
		day := testCap("per_day", kit.PeriodDay, 9, 0)
		week := testCap("per_week", kit.PeriodWeek, 9, 0)
		month := testCap("per_month", kit.PeriodMonth, 9, 0)
		all := testCap("budget", kit.PeriodCampaign, 9, 0)
		rolling := testCap("rolling", kit.PeriodRolling, 9, 0)
		t0 := clock.Now()
		for i, at := range []time.Time{t0, t0.Add(24 * time.Hour), t0.Add(48 * time.Hour)} {
			for _, s := range []string{"ann", "bob", "cy"} {
				for _, c := range []kit.Cap{day, week, month, all, rolling} {
					_, err := take(ctx, l, c, kit.Use{Subject: s, At: at, Count: 1, Ref: fmt.Sprintf("r%d", i)})
					require.NoError(t, err)
				}
			}
		}
		now := time.Date(2026, 3, 3, 12, 0, 0, 0, time.UTC) // 1 March ended a day and a half ago, 2 March only 12 hours ago
		prune := func(c kit.Cap, limit int) int {
			total, after := 0, ""
			for {
				var n int
				var err error
				require.NoError(t, l.Update(ctx, func(w *ledger.Writer) error {
					after, n, err = kit.Prune(w, c, now, after, limit)
					return err
				}))
				total += n
				if after == "" {
					return total
				}
			}
		}
		require.Equal(t, 3, prune(day, 2), "1 March for each subject")
		require.Equal(t, int64(0), usage(t, ctx, l, day, "ann", t0, nil).Count)
		require.Equal(t, int64(1), usage(t, ctx, l, day, "ann", t0.Add(24*time.Hour), nil).Count)
		require.Equal(t, 3, prune(week, 1), "ISO week 9 ended on 2 March")
		require.Equal(t, int64(2), usage(t, ctx, l, week, "ann", t0.Add(48*time.Hour), nil).Count)
		require.Equal(t, 0, prune(month, 10))
		require.Equal(t, 0, prune(all, 10))
		require.Equal(t, 0, prune(rolling, 10), "the last use is within 24 hours")
		now = t0.Add(72 * time.Hour)
		require.Equal(t, 3, prune(rolling, 10))
		now = time.Date(2026, 4, 2, 0, 0, 0, 0, time.UTC)
		require.Equal(t, 3, prune(month, 10))
		require.Equal(t, 6, prune(day, 10))
		require.Equal(t, 0, prune(all, 10), "campaign counters stay")
		require.Len(t, records(t, ctx, l, "test.cap"), 6, "week 10's and the campaign's")
	})
}
