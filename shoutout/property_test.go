package shoutout_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/driver"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/teststore"
	"github.com/rewardkit/rewardkit/shoutout"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// orderModel is the property test's own account of an order.
type orderModel struct {
	id, fan, creator string
	price            int64
	status           shoutout.Status
	acceptBy         time.Time
	deliverBy        time.Time
	reviewBy         time.Time
	rejections       int
	rules            shoutout.Rules // in force when the order was requested
}

func (o *orderModel) deadline() time.Time {
	switch o.status {
	case shoutout.StatusRequested:
		return o.acceptBy
	case shoutout.StatusAccepted:
		return o.deliverBy
	case shoutout.StatusInReview:
		return o.reviewBy
	}
	return time.Time{}
}

type shoutModel struct {
	e        *env
	rules    shoutout.Rules // the rules the program runs under now
	funded   int64
	prices   map[string]int64
	orders   map[string]*orderModel
	ids      []string
	events   int
	replays  []func() error
	earnings map[string]int64
	revenue  int64
}

var (
	propFans     = []string{"ann", "bob", "eve"}
	propCreators = []string{"cat", "dan"}
)

func (m *shoutModel) openHeld(fan string) (held, spent int64) {
	for _, o := range m.orders {
		if o.fan != fan {
			continue
		}
		if o.status.Open() {
			held += o.price
		}
		if o.status == shoutout.StatusDelivered {
			spent += o.price
		}
	}
	return held, spent
}

func (m *shoutModel) request(t *rapid.T) {
	fan := rapid.SampledFrom(propFans).Draw(t, "fan")
	creator := rapid.SampledFrom(propCreators).Draw(t, "creator")
	id := fmt.Sprintf("o%d", len(m.ids))
	price := m.prices[creator]
	_, err := m.e.p.Request(m.e.ctx, shoutout.RequestRequest{OrderID: id, Fan: fan, Creator: creator, Price: price, Note: "hi"})
	held, spent := m.openHeld(fan)
	if m.funded-held-spent < price {
		require.ErrorIs(t, err, shoutout.ErrInsufficientCoins)
		return
	}
	require.NoError(t, err)
	now := m.e.clock.Now()
	m.orders[id] = &orderModel{id: id, fan: fan, creator: creator, price: price, status: shoutout.StatusRequested,
		acceptBy: now.Add(time.Duration(m.rules.AcceptWindow)), rules: m.rules}
	m.ids = append(m.ids, id)
}

// event runs one state-machine event on a random order and checks the
// outcome against the model.
func (m *shoutModel) event(t *rapid.T) {
	if len(m.ids) == 0 {
		t.Skip("no order")
	}
	o := m.orders[rapid.SampledFrom(m.ids).Draw(t, "order")]
	action := rapid.SampledFrom([]string{"accept", "decline", "cancel", "submit", "approve", "reject"}).Draw(t, "action")
	m.events++
	ev := fmt.Sprintf("e%d", m.events)
	p, ctx := m.e.p, m.e.ctx
	calls := map[string]func() error{
		"accept": func() error {
			_, err := p.Accept(ctx, shoutout.AcceptRequest{EventID: ev, OrderID: o.id, Actor: o.creator})
			return err
		},
		"decline": func() error {
			_, err := p.Decline(ctx, shoutout.DeclineRequest{EventID: ev, OrderID: o.id, Actor: o.creator})
			return err
		},
		"cancel": func() error {
			_, err := p.Cancel(ctx, shoutout.CancelRequest{EventID: ev, OrderID: o.id, Actor: o.fan})
			return err
		},
		"submit": func() error {
			_, err := p.Submit(ctx, shoutout.SubmitRequest{EventID: ev, OrderID: o.id, Actor: o.creator, Video: "video://" + ev})
			return err
		},
		"approve": func() error {
			_, err := p.Approve(ctx, shoutout.ApproveRequest{EventID: ev, OrderID: o.id, Actor: reviewer})
			return err
		},
		"reject": func() error {
			_, err := p.Reject(ctx, shoutout.RejectRequest{EventID: ev, OrderID: o.id, Actor: reviewer, Reason: "no"})
			return err
		},
	}
	need := map[string]shoutout.Status{"accept": shoutout.StatusRequested, "decline": shoutout.StatusRequested,
		"cancel": shoutout.StatusRequested, "submit": shoutout.StatusAccepted, "approve": shoutout.StatusInReview,
		"reject": shoutout.StatusInReview}[action]
	err := calls[action]()
	now := m.e.clock.Now()
	switch {
	case o.status != need:
		require.ErrorIs(t, err, shoutout.ErrWrongState)
		return
	case !now.Before(o.deadline()):
		require.ErrorIs(t, err, shoutout.ErrDeadlinePassed)
		return
	}
	require.NoError(t, err)
	m.replays = append(m.replays, calls[action])
	switch action {
	case "accept":
		o.status, o.deliverBy = shoutout.StatusAccepted, now.Add(time.Duration(o.rules.DeliveryWindow))
	case "decline":
		o.status = shoutout.StatusDeclined
	case "cancel":
		o.status = shoutout.StatusCancelled
	case "submit":
		o.status, o.reviewBy = shoutout.StatusInReview, now.Add(time.Duration(o.rules.ReviewWindow))
	case "approve":
		o.status = shoutout.StatusDelivered
		creator := o.price * 3 / 4
		m.earnings[o.creator] += creator
		m.revenue += o.price - creator
	case "reject":
		o.rejections++
		if o.rejections > o.rules.MaxResubmissions || !now.Before(o.deliverBy) {
			o.status = shoutout.StatusRejected
		} else {
			o.status = shoutout.StatusAccepted
		}
	}
}

func (m *shoutModel) replay(t *rapid.T) {
	if len(m.replays) == 0 {
		t.Skip("nothing to replay")
	}
	call := rapid.SampledFrom(m.replays).Draw(t, "replay")
	before := m.e.snapshot(t)
	require.NoError(t, call())
	// A replay returns what the event returned and writes nothing, not
	// even a DM (Tick retries those).
	require.Equal(t, before, m.e.snapshot(t))
}

// restart runs the program under other windows and resubmission rules
// from now on, as a service redeployed with new rules would: open orders
// keep the terms they were requested under (issue 10 #19c), so no hold
// lapses under an open order (checked in tick).
func (m *shoutModel) restart(t *rapid.T) {
	r := shoutout.DefaultRules()
	r.AcceptWindow = kit.Duration(rapid.IntRange(1, 10).Draw(t, "accept_days")) * kit.Duration(day)
	r.DeliveryWindow = kit.Duration(rapid.IntRange(1, 20).Draw(t, "delivery_days")) * kit.Duration(day)
	r.ReviewWindow = kit.Duration(rapid.IntRange(1, 10).Draw(t, "review_days")) * kit.Duration(day)
	r.HoldMargin = kit.Duration(time.Minute)
	r.MaxResubmissions = rapid.IntRange(0, 2).Draw(t, "max_resubmissions")
	m.rules = r
	m.e.p = m.e.program(t, r)
}

func (m *shoutModel) tick(t *rapid.T) {
	rep := m.e.tick(t)
	now := m.e.clock.Now()
	n := 0
	for _, o := range m.orders {
		if o.status.Open() && !now.Before(o.deadline()) {
			o.status = shoutout.StatusExpired
			n++
		}
	}
	require.Equal(t, n, rep.Count(shoutout.ItemRefunded))
	require.Zero(t, rep.HoldsReleased, "no hold may lapse under an open order")
	// Never neither once the deadlines pass: after a tick no order is open
	// past its deadline.
	for _, id := range m.ids {
		o, err := m.e.p.Order(m.e.ctx, id)
		require.NoError(t, err)
		if o.Status.Open() {
			require.True(t, now.Before(m.orders[id].deadline()), "order %s open past its deadline", id)
		}
	}
}

func (m *shoutModel) check(t *rapid.T) {
	e := m.e
	var members int64
	for _, fan := range propFans {
		held, spent := m.openHeld(fan)
		posted, gotHeld := e.bal(t, shoutout.MemberAccount(fan))
		// Available, held for exactly its open orders, or spent on delivered ones.
		require.Equal(t, m.funded-spent, posted, "posted coins of %s", fan)
		require.Equal(t, held, gotHeld, "held coins of %s", fan)
		members += posted
	}
	var earned int64
	for _, c := range propCreators {
		p, _ := e.bal(t, shoutout.EarningsAccount(c))
		require.Equal(t, m.earnings[c], p, "earnings of %s", c)
		earned += p
	}
	rev, _ := e.bal(t, shoutout.RevenueAccount)
	require.Equal(t, m.revenue, rev)
	world, _ := e.bal(t, ledger.World)
	require.Equal(t, int64(0), world+members+earned+rev, "coins are conserved")
	for _, id := range m.ids {
		mo := m.orders[id]
		o, err := e.p.Order(e.ctx, id)
		require.NoError(t, err)
		require.Equal(t, mo.status, o.Status, "order %s", id)
		h, err := e.l.HoldByID(e.ctx, o.Hold)
		require.NoError(t, err)
		switch {
		case o.Status.Open():
			require.Empty(t, o.Outcome)
			require.Equal(t, ledger.HoldPending, h.Status)
			require.Equal(t, mo.price, h.Remaining.IntPart())
		case o.Status == shoutout.StatusDelivered:
			require.Equal(t, shoutout.OutcomePaid, o.Outcome)
			require.Equal(t, ledger.HoldCaptured, h.Status)
			require.Equal(t, mo.price, h.Captured.IntPart())
		default:
			require.Equal(t, shoutout.OutcomeRefunded, o.Outcome)
			// Voided, or expired when the refund came after the hold's
			// expiry (a Void then releases it as expired).
			require.Contains(t, []ledger.HoldStatus{ledger.HoldVoided, ledger.HoldExpired}, h.Status)
			require.Zero(t, h.Captured.IntPart())
		}
		if _, sent := e.msgr.Message(id); sent {
			require.Equal(t, shoutout.StatusDelivered, o.Status, "only delivered orders are messaged")
		}
	}
}

// TestPropertyShoutout drives random requests, events, replays, ticks,
// clock jumps, messenger outages and rule changes against a model, on
// every store.
func TestPropertyShoutout(t *testing.T) {
	teststore.Run(t, func(st *testing.T, _ teststore.Opener) {
		stores := rapidStores(st)
		rapid.Check(st, func(t *rapid.T) {
			if s := stores(t); s != nil {
				propertyShoutout(t, s)
			}
		})
	})
}

func propertyShoutout(t *rapid.T, store driver.Store) {
	rules := shoutout.DefaultRules()
	rules.MaxResubmissions = rapid.IntRange(0, 2).Draw(t, "max_resubmissions")
	m := &shoutModel{e: newEnv(t, store, rules), rules: rules, funded: 2000, orders: map[string]*orderModel{},
		prices: map[string]int64{"cat": 300, "dan": 701}, earnings: map[string]int64{}}
	for _, fan := range propFans {
		m.e.fund(t, fan, m.funded)
	}
	for c, price := range m.prices {
		_, err := m.e.p.SetOffer(m.e.ctx, shoutout.SetOfferRequest{Creator: c, Price: price})
		require.NoError(t, err)
	}
	t.Repeat(map[string]func(*rapid.T){
		"request": m.request,
		"event":   m.event,
		"replay":  m.replay,
		"tick":    m.tick,
		"clock": func(t *rapid.T) {
			m.e.clock.Advance(time.Duration(rapid.IntRange(0, 96).Draw(t, "hours")) * time.Hour)
		},
		"messenger": func(t *rapid.T) { m.e.msgr.setDown(rapid.Bool().Draw(t, "down")) },
		"restart":   m.restart,
		"":          m.check,
	})
	// Once every deadline has passed, every order is paid or refunded
	// and every delivered video has reached its fan.
	m.e.msgr.setDown(false)
	m.e.clock.Advance(60 * day)
	m.tick(t)
	m.check(t)
	for _, id := range m.ids {
		o, err := m.e.p.Order(m.e.ctx, id)
		require.NoError(t, err)
		require.NotEmpty(t, o.Outcome, "order %s", id)
		_, sent := m.e.msgr.Message(id)
		require.Equal(t, o.Status == shoutout.StatusDelivered, sent, "order %s", id)
	}
	rep, err := m.e.l.Verify(m.e.ctx)
	require.NoError(t, err)
	for asset, total := range rep.Totals {
		require.True(t, total.IsZero(), "%s sums to %s", asset, total)
	}
}
