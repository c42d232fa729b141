package shoutout_test

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
	"github.com/rewardkit/rewardkit/ledger/memstore"
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
	l     *ledger.Ledger
	clock *ledgertest.Clock
	dir   *shoutout.MemberDirectory
	msgr  *flakyMessenger
	p     *shoutout.Program
	rules shoutout.Rules
}

func members() []shoutout.Member {
	return []shoutout.Member{
		{ID: "ann", Age: 30},
		{ID: "bob", Age: 20},
		{ID: "eve", Age: 45},
		{ID: "kid", Age: 16},
		{ID: "cat", Age: 25, Followers: 50000},
		{ID: "dan", Age: 30, Followers: 20000},
		{ID: "small", Age: 25, Followers: 500},
		{ID: "teen", Age: 17, Followers: 100000},
	}
}

func newEnv(tb testingT, rules shoutout.Rules) *env {
	tb.Helper()
	e := &env{ctx: context.Background(), clock: ledgertest.NewClock(start), dir: shoutout.NewMemberDirectory(members()...),
		msgr: &flakyMessenger{Inbox: shoutout.NewInbox()}, rules: rules}
	e.l = ledger.New(memstore.New(), ledger.WithClock(e.clock))
	p, err := shoutout.New(e.ctx, e.l, rules, e.dir, e.msgr)
	require.NoError(tb, err)
	e.p = p
	return e
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
		for _, k := range []string{"shoutout.offer", "shoutout.order", "shoutout.event"} {
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
	_, err := e.p.SetOffer(e.ctx, "cat", price)
	require.NoError(tb, err)
	o, err := e.p.Request(e.ctx, id, fan, "cat", price, "say hi")
	require.NoError(tb, err)
	return o
}

func (e *env) tick(tb testingT) shoutout.TickReport {
	tb.Helper()
	rep, err := e.p.Tick(e.ctx)
	require.NoError(tb, err)
	return rep
}
