package shoutout_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"pgregory.net/rapid"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/driver"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
	"github.com/rewardkit/rewardkit/ledger/memstore"
	"github.com/rewardkit/rewardkit/ledger/pgstore"
	"github.com/rewardkit/rewardkit/ledger/teststore"
	"github.com/rewardkit/rewardkit/shoutout"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
)

// testingT is what the helpers need: *testing.T and *rapid.T both have it.
type testingT interface {
	require.TestingT
	Helper()
}

var start = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

// flakyMessenger fails while down is set, and otherwise hands messages to
// an Inbox.
type flakyMessenger struct {
	*shoutout.Inbox
	mu    sync.Mutex
	down  bool
	sends int
}

func (f *flakyMessenger) Send(ctx context.Context, m shoutout.Message) error {
	f.mu.Lock()
	f.sends++
	down := f.down
	f.mu.Unlock()
	if down {
		return errors.New("messaging service unavailable")
	}
	return f.Inbox.Send(ctx, m)
}

func (f *flakyMessenger) setDown(v bool) {
	f.mu.Lock()
	f.down = v
	f.mu.Unlock()
}

type env struct {
	ctx   context.Context
	store driver.Store
	l     *ledger.Ledger
	clock *ledgertest.Clock
	dir   *kit.Directory
	roles *kit.RoleDirectory
	msgr  *flakyMessenger
	p     *shoutout.Program
	rules shoutout.Rules
}

// reviewer is the test's content reviewer: it holds kit.RoleReviewer.
const reviewer = "mod"

// born returns the birth date of a member who is age years old at start
// (and stays so for the next ten months).
func born(age int) kit.Date { return kit.NewDate(start.Year()-age, time.January, 1) }

func members() []kit.Member {
	return []kit.Member{
		{ID: "ann", BirthDate: born(30)},
		{ID: "bob", BirthDate: born(20)},
		{ID: "eve", BirthDate: born(45)},
		{ID: "kid", BirthDate: born(16)},
		{ID: "cat", BirthDate: born(25), Followers: 50000},
		{ID: "dan", BirthDate: born(30), Followers: 20000},
		{ID: "small", BirthDate: born(25), Followers: 500},
		{ID: "teen", BirthDate: born(17), Followers: 100000},
	}
}

// newEnv opens a program with rules over a fresh store, with "mod" as a
// reviewer. Tests run it on every store through teststore.Run.
func newEnv(tb testingT, store driver.Store, rules shoutout.Rules) *env {
	tb.Helper()
	e := &env{ctx: context.Background(), store: store, clock: ledgertest.NewClock(start),
		dir: kit.NewDirectory(members()...), roles: &kit.RoleDirectory{},
		msgr: &flakyMessenger{Inbox: shoutout.NewInbox()}, rules: rules}
	e.roles.Grant(reviewer, kit.RoleReviewer)
	e.l = ledger.New(store, ledger.WithClock(e.clock))
	e.p = e.program(tb, rules)
	return e
}

// program opens another Program on the env's ledger, as a service
// restarted with other rules would.
func (e *env) program(tb testingT, rules shoutout.Rules) *shoutout.Program {
	tb.Helper()
	p, err := shoutout.New(e.ctx, e.l, rules, e.dir, e.msgr, shoutout.WithRoles(e.roles))
	require.NoError(tb, err)
	return p
}

// both runs a test on memstore and, when configured, on pgstore, with a
// fresh env each time.
func both(t *testing.T, rules shoutout.Rules, f func(t *testing.T, e *env)) {
	t.Helper()
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f(t, newEnv(t, open(t), rules))
	})
}

// fund gives a fan coins the way the coin shop would: issued from world.
func (e *env) fund(tb testingT, fan string, coins int64) {
	tb.Helper()
	_, err := e.l.OpenAccount(e.ctx, ledger.AccountSpec{Address: shoutout.MemberAccount(fan)})
	require.NoError(tb, err)
	_, err = e.l.Transfer(e.ctx, "", ledger.World, shoutout.MemberAccount(fan), "COIN", decimal.NewFromInt(coins))
	require.NoError(tb, err)
}

// bal returns posted and held coins of an account (zeros if never opened).
func (e *env) bal(tb testingT, addr string) (posted, held int64) {
	tb.Helper()
	b, err := e.l.Balance(e.ctx, addr, "COIN")
	if errors.Is(err, ledger.ErrUnknownAccount) {
		return 0, 0
	}
	require.NoError(tb, err)
	return b.Posted.IntPart(), b.Held.IntPart()
}

type snapshot struct {
	head     uint64
	balances map[string][2]int64
	records  map[string]string
	due      int
	inbox    int
}

func (e *env) snapshot(tb testingT) snapshot {
	tb.Helper()
	rep, err := e.l.Verify(e.ctx)
	require.NoError(tb, err)
	s := snapshot{head: rep.Head.ID, balances: map[string][2]int64{}, records: map[string]string{}, inbox: e.msgr.Len()}
	addrs := []string{ledger.World, shoutout.RevenueAccount}
	for _, m := range members() {
		addrs = append(addrs, shoutout.MemberAccount(m.ID), shoutout.EarningsAccount(m.ID))
	}
	for _, a := range addrs {
		p, h := e.bal(tb, a)
		s.balances[a] = [2]int64{p, h}
	}
	far := start.Add(10000 * day)
	require.NoError(tb, e.l.View(e.ctx, func(r *ledger.Reader) error {
		for _, k := range []string{"shoutout.offer", "shoutout.order", "shoutout.event", "shoutout.request"} {
			recs, err := r.Records(k, "", 1000)
			if err != nil {
				return err
			}
			for _, rec := range recs {
				s.records[k+"/"+rec.ID] = string(rec.Data)
			}
		}
		for _, k := range []string{"shoutout.deadline", "shoutout.dm", ledger.DueHoldExpiry} {
			due, err := r.Due(k, far, 1000)
			if err != nil {
				return err
			}
			s.due += len(due)
		}
		return nil
	}))
	return s
}

// offerAndRequest sets cat's offer at price and has fan request order id.
func (e *env) offerAndRequest(tb testingT, id, fan string, price int64) shoutout.Order {
	tb.Helper()
	_, err := e.p.SetOffer(e.ctx, shoutout.SetOfferRequest{Creator: "cat", Price: price})
	require.NoError(tb, err)
	o, err := e.p.Request(e.ctx, shoutout.RequestRequest{OrderID: id, Fan: fan, Creator: "cat", Price: price, Note: "say hi"})
	require.NoError(tb, err)
	return o
}

// tickResult is what one round of a scheduler did: the program's report,
// and how many holds the ledger's Tick released.
type tickResult struct {
	kit.TickReport
	HoldsReleased int
}

// failedOf counts the failed items of kind.
func (r tickResult) failedOf(kind string) int {
	n := 0
	for _, f := range r.Failed {
		if f.Kind == kind {
			n++
		}
	}
	return n
}

// tick runs what a scheduler runs: the program's Tick, then the ledger's.
func (e *env) tick(tb testingT) tickResult {
	tb.Helper()
	rep, err := e.p.Tick(e.ctx)
	require.NoError(tb, err)
	n, err := e.l.Tick(e.ctx)
	require.NoError(tb, err)
	return tickResult{TickReport: rep, HoldsReleased: n}
}

// pgPropertyChecks is how many rapid checks of a property test run on
// PostgreSQL before a failure (each opens a fresh schema); after a failure
// every shrinking step gets a store again.
const pgPropertyChecks = 15

// rapidStores opens a fresh store for each iteration of a rapid property
// test run under teststore.Run, closed (and on PostgreSQL dropped) when
// the iteration ends. teststore's Opener ties a store to a *testing.T,
// which would keep every iteration's connections open until the whole
// test ends. On PostgreSQL only pgPropertyChecks iterations get a store
// until one fails; the others report ok without running (nil store).
func rapidStores(st *testing.T) func(t *rapid.T) driver.Store {
	if !strings.HasSuffix(st.Name(), "/pgstore") {
		return func(t *rapid.T) driver.Store {
			s := memstore.New()
			t.Cleanup(func() { _ = s.Close() })
			return s
		}
	}
	dsn := teststore.PostgresDSN(st)
	var mu sync.Mutex
	opened, failed := 0, false
	return func(t *rapid.T) driver.Store {
		mu.Lock()
		defer mu.Unlock()
		if opened >= pgPropertyChecks && !failed {
			return nil
		}
		opened++
		var b [6]byte
		_, _ = rand.Read(b[:])
		schema := "rktest_" + hex.EncodeToString(b[:])
		s, err := pgstore.Open(context.Background(), dsn, pgstore.WithSchema(schema))
		require.NoError(t, err)
		t.Cleanup(func() {
			if t.Failed() {
				mu.Lock()
				failed = true
				mu.Unlock()
			}
			_ = s.Close()
			ctx := context.Background()
			conn, err := pgx.Connect(ctx, dsn)
			if err != nil {
				st.Errorf("drop schema %s: %v", schema, err)
				return
			}
			defer conn.Close(ctx)
			if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
				st.Errorf("drop schema %s: %v", schema, err)
			}
		})
		return s
	}
}
