package shoutout_test

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/teststore"
	"github.com/rewardkit/rewardkit/shoutout"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
)

func TestRulesValidate(t *testing.T) {
	require.NoError(t, shoutout.DefaultRules().Validate())
	cases := []struct {
		field  string
		mutate func(r *shoutout.Rules)
	}{
		{"coin_asset", func(r *shoutout.Rules) { r.CoinAsset = "coin" }},
		{"min_followers", func(r *shoutout.Rules) { r.MinFollowers = -1 }},
		{"min_creator_age", func(r *shoutout.Rules) { r.MinCreatorAge = 200 }},
		{"min_fan_age", func(r *shoutout.Rules) { r.MinFanAge = -1 }},
		{"min_price", func(r *shoutout.Rules) { r.MinPrice = 0 }},
		{"max_price", func(r *shoutout.Rules) { r.MaxPrice = r.MinPrice - 1 }},
		{"accept_window", func(r *shoutout.Rules) { r.AcceptWindow = 0 }},
		{"delivery_window", func(r *shoutout.Rules) { r.DeliveryWindow = -1 }},
		{"review_window", func(r *shoutout.Rules) { r.ReviewWindow = kit.Duration(time.Second) }},
		{"hold_margin", func(r *shoutout.Rules) { r.HoldMargin = 0 }},
		{"platform_share", func(r *shoutout.Rules) { r.PlatformShare = decimal.RequireFromString("-0.1") }},
		{"creator_rounding", func(r *shoutout.Rules) { r.CreatorRounding = "nearest" }},
		{"max_resubmissions", func(r *shoutout.Rules) { r.MaxResubmissions = -1 }},
	}
	for _, c := range cases {
		t.Run(c.field, func(t *testing.T) {
			r := shoutout.DefaultRules()
			c.mutate(&r)
			err := r.Validate()
			require.ErrorIs(t, err, shoutout.ErrInvalidRules)
			require.Contains(t, err.Error(), c.field)
			_, err = shoutout.New(t.Context(), ledger.New(nil), r, kit.NewDirectory(), shoutout.NewInbox())
			require.ErrorIs(t, err, shoutout.ErrInvalidRules)
		})
	}
}

func TestRulesJSONRoundTrip(t *testing.T) {
	r := shoutout.DefaultRules()
	b, err := json.Marshal(r)
	require.NoError(t, err)
	require.Contains(t, string(b), `"accept_window":"72h0m0s"`)
	var back shoutout.Rules
	require.NoError(t, json.Unmarshal(b, &back))
	require.NoError(t, back.Validate())
	require.Equal(t, r.AcceptWindow, back.AcceptWindow)
	require.True(t, r.PlatformShare.Equal(back.PlatformShare))
	require.ErrorIs(t, json.Unmarshal([]byte(`{"accept_window":"three days"}`), &back), shoutout.ErrInvalidRules)
}

func TestOffers(t *testing.T) {
	both(t, shoutout.DefaultRules(), testOffers)
}

func testOffers(t *testing.T, e *env) {
	refusals := []struct {
		name    string
		creator string
		price   int64
		want    error
		rule    string
	}{
		{"under min_followers", "small", 500, shoutout.ErrIneligible, "min_followers"},
		{"under min_creator_age", "teen", 500, shoutout.ErrIneligible, "min_creator_age"},
		{"below min_price", "cat", e.rules.MinPrice - 1, shoutout.ErrPriceOutOfBounds, "min_price"},
		{"above max_price", "cat", e.rules.MaxPrice + 1, shoutout.ErrPriceOutOfBounds, "max_price"},
		{"unknown member", "nobody", 500, shoutout.ErrUnknownMember, "nobody"},
	}
	for _, c := range refusals {
		t.Run(c.name, func(t *testing.T) {
			before := e.snapshot(t)
			_, err := e.p.SetOffer(e.ctx, shoutout.SetOfferRequest{Creator: c.creator, Price: c.price})
			require.ErrorIs(t, err, c.want)
			require.Contains(t, err.Error(), c.rule)
			require.Equal(t, before, e.snapshot(t))
		})
	}
	o, err := e.p.SetOffer(e.ctx, shoutout.SetOfferRequest{Creator: "cat", Price: 500})
	require.NoError(t, err)
	before := e.snapshot(t)
	again, err := e.p.SetOffer(e.ctx, shoutout.SetOfferRequest{Creator: "cat", Price: 500})
	require.NoError(t, err)
	require.Equal(t, o, again)
	require.Equal(t, before, e.snapshot(t))

	got, err := e.p.Offer(e.ctx, "cat")
	require.NoError(t, err)
	require.Equal(t, int64(500), got.Price)
	require.NoError(t, e.p.WithdrawOffer(e.ctx, shoutout.WithdrawOfferRequest{Creator: "cat"}))
	_, err = e.p.Offer(e.ctx, "cat")
	require.ErrorIs(t, err, shoutout.ErrNoOffer)
	require.ErrorIs(t, e.p.WithdrawOffer(e.ctx, shoutout.WithdrawOfferRequest{Creator: "cat"}), shoutout.ErrNoOffer)
}

func TestRequestRefusalsChangeNothing(t *testing.T) {
	cases := []struct {
		name             string
		id, fan, creator string
		price            int64
		want             error
		rule             string
	}{
		{"order from oneself", "o-x", "cat", "cat", 500, shoutout.ErrIneligible, "themself"},
		{"fan under min_fan_age", "o-x", "kid", "cat", 500, shoutout.ErrIneligible, "min_fan_age"},
		{"creator below min_followers", "o-x", "ann", "small", 500, shoutout.ErrIneligible, "min_followers"},
		{"creator without offer", "o-x", "ann", "dan", 500, shoutout.ErrNoOffer, "dan"},
		{"price changed", "o-x", "ann", "cat", 400, shoutout.ErrPriceChanged, "asks 500"},
		{"not enough coins", "o-x", "bob", "cat", 500, shoutout.ErrInsufficientCoins, "bob"},
		{"unknown fan", "o-x", "nobody", "cat", 500, shoutout.ErrUnknownMember, "nobody"},
		{"malformed order id", "o:x", "ann", "cat", 500, shoutout.ErrInvalidRequest, "order may hold only"},
		{"order id reused", "o-1", "eve", "cat", 500, shoutout.ErrIdempotencyConflict, "o-1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			both(t, shoutout.DefaultRules(), func(t *testing.T, e *env) {
				e.fund(t, "ann", 1000)
				e.fund(t, "eve", 1000)
				e.fund(t, "bob", 499)
				e.offerAndRequest(t, "o-1", "ann", 500)
				before := e.snapshot(t)
				_, err := e.p.Request(e.ctx, shoutout.RequestRequest{OrderID: c.id, Fan: c.fan, Creator: c.creator, Price: c.price, Note: "say hi"})
				require.ErrorIs(t, err, c.want)
				require.Contains(t, err.Error(), c.rule)
				require.Equal(t, 1, strings.Count(err.Error(), "shoutout: "), "the package prefix once: %s", err)
				require.Equal(t, before, e.snapshot(t))
			})
		})
	}
}

func TestRequestHoldsCoins(t *testing.T) {
	both(t, shoutout.DefaultRules(), testRequestHoldsCoins)
}

func testRequestHoldsCoins(t *testing.T, e *env) {
	e.fund(t, "ann", 1000)
	o := e.offerAndRequest(t, "o-1", "ann", 600)
	posted, held := e.bal(t, shoutout.MemberAccount("ann"))
	require.Equal(t, int64(1000), posted, "held, not spent")
	require.Equal(t, int64(600), held)
	h, err := e.l.HoldByID(e.ctx, o.Hold)
	require.NoError(t, err)
	require.Equal(t, ledger.HoldPending, h.Status)
	latest := o.CreatedAt.Add(time.Duration(e.rules.AcceptWindow + e.rules.DeliveryWindow + e.rules.ReviewWindow))
	require.True(t, h.ExpiresAt.After(latest), "hold expiry %s must be beyond every deadline %s", h.ExpiresAt, latest)
	require.Equal(t, o.CreatedAt.Add(3*day), o.AcceptBy)

	require.Equal(t, e.rules.Terms(), o.Terms, "the order keeps the rules it was requested under")
	require.False(t, o.Replayed)

	// Replay with the same arguments: the same order, nothing new.
	before := e.snapshot(t)
	again, err := e.p.Request(e.ctx, shoutout.RequestRequest{OrderID: "o-1", Fan: "ann", Creator: "cat", Price: 600, Note: "say hi"})
	require.NoError(t, err)
	require.True(t, again.Replayed)
	again.Replayed = false
	require.Equal(t, o, again)
	require.Equal(t, before, e.snapshot(t))

	// The held coins cannot pay a second order.
	_, err = e.p.Request(e.ctx, shoutout.RequestRequest{OrderID: "o-2", Fan: "ann", Creator: "cat", Price: 600, Note: "again"})
	require.ErrorIs(t, err, shoutout.ErrInsufficientCoins)
	require.Equal(t, before, e.snapshot(t))
}

func deliver(t *testing.T, e *env, id string) shoutout.Order {
	t.Helper()
	_, err := e.p.Accept(e.ctx, shoutout.AcceptRequest{EventID: id + "-accept", OrderID: id, Actor: "cat"})
	require.NoError(t, err)
	_, err = e.p.Submit(e.ctx, shoutout.SubmitRequest{EventID: id + "-submit", OrderID: id, Actor: "cat", Video: "video://" + id})
	require.NoError(t, err)
	o, err := e.p.Approve(e.ctx, shoutout.ApproveRequest{EventID: id + "-approve", OrderID: id, Actor: reviewer})
	require.NoError(t, err)
	return o
}

func TestDelivered(t *testing.T) {
	teststore.Run(t, testDelivered)
}

func testDelivered(t *testing.T, open teststore.Opener) {
	for _, price := range []int64{100, 333, 1000, 99999} {
		e := newEnv(t, open(t), shoutout.DefaultRules())
		e.fund(t, "ann", 100000)
		e.offerAndRequest(t, "o-1", "ann", price)
		e.clock.Advance(2 * day)
		o := deliver(t, e, "o-1")
		// The rule restated: the creator keeps floor(75%), the platform the rest.
		creator := price * 3 / 4
		require.Equal(t, shoutout.StatusDelivered, o.Status)
		require.Equal(t, shoutout.OutcomePaid, o.Outcome)
		require.Equal(t, creator, o.CreatorShare)
		require.Equal(t, price-creator, o.PlatformShare)
		posted, held := e.bal(t, shoutout.MemberAccount("ann"))
		require.Equal(t, 100000-price, posted)
		require.Zero(t, held)
		p, _ := e.bal(t, shoutout.EarningsAccount("cat"))
		require.Equal(t, creator, p)
		p, _ = e.bal(t, shoutout.RevenueAccount)
		require.Equal(t, price-creator, p)
		h, err := e.l.HoldByID(e.ctx, o.Hold)
		require.NoError(t, err)
		require.Equal(t, ledger.HoldCaptured, h.Status)
		// Delivered by DM, once, with the order id as message id.
		require.True(t, o.DMSent)
		msgs := e.msgr.Messages("ann")
		require.Len(t, msgs, 1)
		require.Equal(t, shoutout.Message{ID: "o-1", From: "cat", To: "ann", Video: "video://o-1", Text: msgs[0].Text}, msgs[0])
		_, err = e.l.Verify(e.ctx)
		require.NoError(t, err)
	}
}

func TestRefunds(t *testing.T) {
	rules := shoutout.DefaultRules()
	cases := []struct {
		name   string
		run    func(t *testing.T, e *env)
		status shoutout.Status
		reason string
	}{
		{"declined", func(t *testing.T, e *env) {
			_, err := e.p.Decline(e.ctx, shoutout.DeclineRequest{EventID: "ev-1", OrderID: "o-1", Actor: "cat"})
			require.NoError(t, err)
		}, shoutout.StatusDeclined, "declined"},
		{"cancelled by the fan", func(t *testing.T, e *env) {
			_, err := e.p.Cancel(e.ctx, shoutout.CancelRequest{EventID: "ev-1", OrderID: "o-1", Actor: "ann"})
			require.NoError(t, err)
		}, shoutout.StatusCancelled, "cancelled"},
		{"no answer in accept_window", func(t *testing.T, e *env) {
			e.clock.Advance(time.Duration(rules.AcceptWindow) - time.Second)
			require.Zero(t, e.tick(t).Count(shoutout.ItemRefunded), "not yet")
			e.clock.Advance(time.Second)
			require.Equal(t, 1, e.tick(t).Count(shoutout.ItemRefunded))
		}, shoutout.StatusExpired, "accept_window"},
		{"no video in delivery_window", func(t *testing.T, e *env) {
			e.clock.Advance(2 * day)
			_, err := e.p.Accept(e.ctx, shoutout.AcceptRequest{EventID: "ev-1", OrderID: "o-1", Actor: "cat"})
			require.NoError(t, err)
			e.clock.Advance(time.Duration(rules.DeliveryWindow) - time.Second)
			require.Zero(t, e.tick(t).Count(shoutout.ItemRefunded), "not yet")
			e.clock.Advance(time.Second)
			require.Equal(t, 1, e.tick(t).Count(shoutout.ItemRefunded))
		}, shoutout.StatusExpired, "delivery_window"},
		{"no review in review_window", func(t *testing.T, e *env) {
			_, err := e.p.Accept(e.ctx, shoutout.AcceptRequest{EventID: "ev-1", OrderID: "o-1", Actor: "cat"})
			require.NoError(t, err)
			_, err = e.p.Submit(e.ctx, shoutout.SubmitRequest{EventID: "ev-2", OrderID: "o-1", Actor: "cat", Video: "video://1"})
			require.NoError(t, err)
			e.clock.Advance(time.Duration(rules.ReviewWindow))
			require.Equal(t, 1, e.tick(t).Count(shoutout.ItemRefunded))
		}, shoutout.StatusExpired, "review_window"},
		{"rejected after max_resubmissions", func(t *testing.T, e *env) {
			_, err := e.p.Accept(e.ctx, shoutout.AcceptRequest{EventID: "ev-1", OrderID: "o-1", Actor: "cat"})
			require.NoError(t, err)
			for i := 0; i <= rules.MaxResubmissions; i++ {
				o, err := e.p.Submit(e.ctx, shoutout.SubmitRequest{EventID: "sub-" + string(rune('a'+i)), OrderID: "o-1", Actor: "cat", Video: "video://" + string(rune('a'+i))})
				require.NoError(t, err)
				require.Equal(t, shoutout.StatusInReview, o.Status)
				o, err = e.p.Reject(e.ctx, shoutout.RejectRequest{EventID: "rej-" + string(rune('a'+i)), OrderID: "o-1", Actor: reviewer, Reason: "guidelines"})
				require.NoError(t, err)
				if i < rules.MaxResubmissions {
					require.Equal(t, shoutout.StatusAccepted, o.Status, "rejection %d may be answered with a new video", i+1)
				}
			}
		}, shoutout.StatusRejected, "rejected"},
		{"rejected after the delivery window closed", func(t *testing.T, e *env) {
			_, err := e.p.Accept(e.ctx, shoutout.AcceptRequest{EventID: "ev-1", OrderID: "o-1", Actor: "cat"})
			require.NoError(t, err)
			e.clock.Advance(time.Duration(rules.DeliveryWindow) - time.Hour)
			_, err = e.p.Submit(e.ctx, shoutout.SubmitRequest{EventID: "ev-2", OrderID: "o-1", Actor: "cat", Video: "video://1"})
			require.NoError(t, err)
			e.clock.Advance(2 * time.Hour)
			_, err = e.p.Reject(e.ctx, shoutout.RejectRequest{EventID: "ev-3", OrderID: "o-1", Actor: reviewer, Reason: "guidelines"})
			require.NoError(t, err)
		}, shoutout.StatusRejected, "rejected"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			both(t, rules, func(t *testing.T, e *env) {
				e.fund(t, "ann", 1000)
				e.offerAndRequest(t, "o-1", "ann", 700)
				c.run(t, e)
				o, err := e.p.Order(e.ctx, "o-1")
				require.NoError(t, err)
				require.Equal(t, c.status, o.Status)
				require.Equal(t, shoutout.OutcomeRefunded, o.Outcome)
				require.Equal(t, c.reason, o.Reason)
				posted, held := e.bal(t, shoutout.MemberAccount("ann"))
				require.Equal(t, int64(1000), posted, "every coin back")
				require.Zero(t, held)
				p, _ := e.bal(t, shoutout.EarningsAccount("cat"))
				require.Zero(t, p)
				h, err := e.l.HoldByID(e.ctx, o.Hold)
				require.NoError(t, err)
				require.Equal(t, ledger.HoldVoided, h.Status)
				require.Zero(t, e.msgr.Len(), "no video delivered")
				// Tick again at the same time changes nothing.
				before := e.snapshot(t)
				require.Equal(t, tickResult{}, e.tick(t))
				require.Equal(t, before, e.snapshot(t))
			})
		})
	}
}

func TestWrongStateChangesNothing(t *testing.T) {
	type step func(e *env) (shoutout.Order, error)
	accept := func(ev string) step {
		return func(e *env) (shoutout.Order, error) {
			return e.p.Accept(e.ctx, shoutout.AcceptRequest{EventID: ev, OrderID: "o-1", Actor: "cat"})
		}
	}
	submit := func(ev string) step {
		return func(e *env) (shoutout.Order, error) {
			return e.p.Submit(e.ctx, shoutout.SubmitRequest{EventID: ev, OrderID: "o-1", Actor: "cat", Video: "video://x"})
		}
	}
	approve := func(ev string) step {
		return func(e *env) (shoutout.Order, error) {
			return e.p.Approve(e.ctx, shoutout.ApproveRequest{EventID: ev, OrderID: "o-1", Actor: reviewer})
		}
	}
	reject := func(ev string) step {
		return func(e *env) (shoutout.Order, error) {
			return e.p.Reject(e.ctx, shoutout.RejectRequest{EventID: ev, OrderID: "o-1", Actor: reviewer, Reason: "no"})
		}
	}
	decline := func(ev string) step {
		return func(e *env) (shoutout.Order, error) {
			return e.p.Decline(e.ctx, shoutout.DeclineRequest{EventID: ev, OrderID: "o-1", Actor: "cat"})
		}
	}
	cancel := func(ev string) step {
		return func(e *env) (shoutout.Order, error) {
			return e.p.Cancel(e.ctx, shoutout.CancelRequest{EventID: ev, OrderID: "o-1", Actor: "ann"})
		}
	}
	wait := func(d time.Duration) step {
		return func(e *env) (shoutout.Order, error) { e.clock.Advance(d); return shoutout.Order{}, nil }
	}
	cases := []struct {
		name  string
		setup []step
		bad   step
		want  error
	}{
		{"accepting twice", []step{accept("a1")}, accept("a2"), shoutout.ErrWrongState},
		{"submitting before accepting", nil, submit("s1"), shoutout.ErrWrongState},
		{"approving before a video", []step{accept("a1")}, approve("p1"), shoutout.ErrWrongState},
		{"rejecting before a video", []step{accept("a1")}, reject("r1"), shoutout.ErrWrongState},
		{"declining after accepting", []step{accept("a1")}, decline("d1"), shoutout.ErrWrongState},
		{"cancelling after accepting", []step{accept("a1")}, cancel("c1"), shoutout.ErrWrongState},
		{"cancelling after delivery", []step{accept("a1"), submit("s1"), approve("p1")}, cancel("c1"), shoutout.ErrWrongState},
		{"approving twice", []step{accept("a1"), submit("s1"), approve("p1")}, approve("p2"), shoutout.ErrWrongState},
		{"accepting a declined order", []step{decline("d1")}, accept("a1"), shoutout.ErrWrongState},
		{"accepting after accept_window, before Tick", []step{wait(3 * day)}, accept("a1"), shoutout.ErrDeadlinePassed},
		{"submitting after delivery_window", []step{accept("a1"), wait(7 * day)}, submit("s1"), shoutout.ErrDeadlinePassed},
		{"approving after review_window", []step{accept("a1"), submit("s1"), wait(3 * day)}, approve("p1"), shoutout.ErrDeadlinePassed},
		{"another creator accepting", nil, func(e *env) (shoutout.Order, error) {
			return e.p.Accept(e.ctx, shoutout.AcceptRequest{EventID: "a1", OrderID: "o-1", Actor: "dan"})
		}, shoutout.ErrNotParty},
		{"another fan cancelling", nil, func(e *env) (shoutout.Order, error) {
			return e.p.Cancel(e.ctx, shoutout.CancelRequest{EventID: "c1", OrderID: "o-1", Actor: "eve"})
		}, shoutout.ErrNotParty},
		{"unknown order", nil, func(e *env) (shoutout.Order, error) {
			return e.p.Accept(e.ctx, shoutout.AcceptRequest{EventID: "a1", OrderID: "o-9", Actor: "cat"})
		}, shoutout.ErrNotFound},
		{"event id reused for another action", []step{accept("a1")}, submit("a1"), shoutout.ErrIdempotencyConflict},
		{"empty video", []step{accept("a1")}, func(e *env) (shoutout.Order, error) {
			return e.p.Submit(e.ctx, shoutout.SubmitRequest{EventID: "s1", OrderID: "o-1", Actor: "cat", Video: ""})
		}, shoutout.ErrInvalidRequest},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			both(t, shoutout.DefaultRules(), func(t *testing.T, e *env) {
				e.fund(t, "ann", 1000)
				e.offerAndRequest(t, "o-1", "ann", 500)
				for _, s := range c.setup {
					_, err := s(e)
					require.NoError(t, err)
				}
				before := e.snapshot(t)
				_, err := c.bad(e)
				require.ErrorIs(t, err, c.want)
				require.Equal(t, 1, strings.Count(err.Error(), "shoutout: "), "the package prefix once: %s", err)
				require.Equal(t, before, e.snapshot(t))
			})
		})
	}
}

func TestEventReplay(t *testing.T) {
	both(t, shoutout.DefaultRules(), func(t *testing.T, e *env) {
		e.fund(t, "ann", 1000)
		e.offerAndRequest(t, "o-1", "ann", 500)
		first, err := e.p.Accept(e.ctx, shoutout.AcceptRequest{EventID: "ev-1", OrderID: "o-1", Actor: "cat"})
		require.NoError(t, err)
		require.False(t, first.Replayed)
		before := e.snapshot(t)
		again, err := e.p.Accept(e.ctx, shoutout.AcceptRequest{EventID: "ev-1", OrderID: "o-1", Actor: "cat"})
		require.NoError(t, err, "a retry of the same event is not a second accept")
		require.True(t, again.Replayed)
		again.Replayed = false
		require.Equal(t, first, again)
		require.Equal(t, before, e.snapshot(t))
	})
}

func TestConcurrentApprovalsPayOnce(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		testConcurrentApprovalsPayOnce(t, open)
	})
}

func testConcurrentApprovalsPayOnce(t *testing.T, open teststore.Opener) {
	for _, sameID := range []bool{true, false} {
		e := newEnv(t, open(t), shoutout.DefaultRules())
		e.fund(t, "ann", 1000)
		e.offerAndRequest(t, "o-1", "ann", 800)
		_, err := e.p.Accept(e.ctx, shoutout.AcceptRequest{EventID: "a", OrderID: "o-1", Actor: "cat"})
		require.NoError(t, err)
		_, err = e.p.Submit(e.ctx, shoutout.SubmitRequest{EventID: "s", OrderID: "o-1", Actor: "cat", Video: "video://1"})
		require.NoError(t, err)
		var wg sync.WaitGroup
		errs := make([]error, 6)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				id := "approve"
				if !sameID {
					id += string(rune('a' + i))
				}
				_, errs[i] = e.p.Approve(e.ctx, shoutout.ApproveRequest{EventID: id, OrderID: "o-1", Actor: reviewer})
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			} else {
				require.ErrorIs(t, err, shoutout.ErrWrongState)
			}
		}
		if sameID {
			require.Equal(t, len(errs), ok, "every retry of one event succeeds")
		} else {
			require.Equal(t, 1, ok, "one approval wins")
		}
		p, _ := e.bal(t, shoutout.EarningsAccount("cat"))
		require.Equal(t, int64(600), p)
		posted, held := e.bal(t, shoutout.MemberAccount("ann"))
		require.Equal(t, int64(200), posted)
		require.Zero(t, held)
		require.Equal(t, 1, e.msgr.Len())
	}
}

func TestFailedDMIsRetriedByTick(t *testing.T) {
	both(t, shoutout.DefaultRules(), testFailedDMIsRetriedByTick)
}

func testFailedDMIsRetriedByTick(t *testing.T, e *env) {
	e.fund(t, "ann", 1000)
	e.offerAndRequest(t, "o-1", "ann", 500)
	e.msgr.setDown(true)
	o := deliver(t, e, "o-1")
	require.Equal(t, shoutout.OutcomePaid, o.Outcome, "the approval stands")
	require.False(t, o.DMSent)
	require.Contains(t, o.DMError, "unavailable")
	require.Zero(t, e.msgr.Len())

	rep := e.tick(t)
	require.Equal(t, 1, rep.failedOf(shoutout.ItemMessage))
	require.Len(t, rep.Failed, 1)
	require.Equal(t, "o-1", rep.Failed[0].ID, "the failed item is reported by order id")
	e.msgr.setDown(false)
	require.Equal(t, tickResult{}, e.tick(t), "a failed message waits kit.DefaultOutboxRetry")
	e.clock.Advance(kit.DefaultOutboxRetry)
	require.Equal(t, tickResult{TickReport: kit.TickReport{Done: []kit.Item{{Kind: shoutout.ItemMessageSent, ID: "o-1"}}}}, e.tick(t))
	o, err := e.p.Order(e.ctx, "o-1")
	require.NoError(t, err)
	require.True(t, o.DMSent)
	require.Empty(t, o.DMError)
	require.Len(t, e.msgr.Messages("ann"), 1)
	// Nothing left to send.
	sends := e.msgr.sends
	require.Equal(t, tickResult{}, e.tick(t))
	require.Equal(t, sends, e.msgr.sends)
	// Replaying the approval does not send again either.
	_, err = e.p.Approve(e.ctx, shoutout.ApproveRequest{EventID: "o-1-approve", OrderID: "o-1", Actor: reviewer})
	require.NoError(t, err)
	require.Equal(t, sends, e.msgr.sends)
}

func TestOrderSurvivesOfferChanges(t *testing.T) {
	both(t, shoutout.DefaultRules(), testOrderSurvivesOfferChanges)
}

func testOrderSurvivesOfferChanges(t *testing.T, e *env) {
	e.fund(t, "ann", 1000)
	e.offerAndRequest(t, "o-1", "ann", 500)
	require.NoError(t, e.p.WithdrawOffer(e.ctx, shoutout.WithdrawOfferRequest{Creator: "cat"}))
	_, err := e.p.Request(e.ctx, shoutout.RequestRequest{OrderID: "o-2", Fan: "ann", Creator: "cat", Price: 500, Note: ""})
	require.ErrorIs(t, err, shoutout.ErrNoOffer)
	o := deliver(t, e, "o-1")
	require.Equal(t, int64(500), o.Price)
	require.Equal(t, shoutout.OutcomePaid, o.Outcome)
}

// TestWalletOfAnotherProgramIsUsedAsItIs: issue 10 #5 (shoutout's part).
// A fan's wallet is kit.WalletAccount, opened through kit.OpenWallet: a
// wallet another program opened with a coin overdraft is used as it is
// (never ErrAccountConflict), and its overdraft never pays a shoutout.
func TestWalletOfAnotherProgramIsUsedAsItIs(t *testing.T) {
	both(t, shoutout.DefaultRules(), func(t *testing.T, e *env) {
		require.Equal(t, kit.WalletAccount("ann"), shoutout.MemberAccount("ann"))
		policy := kit.WalletPolicy{Overdraft: map[string]decimal.Decimal{"COIN": decimal.NewFromInt(500)}}
		require.NoError(t, e.l.Update(e.ctx, func(w *ledger.Writer) error {
			_, err := kit.OpenWallet(w, policy, "ann")
			return err
		}))
		_, err := e.l.Transfer(e.ctx, "", ledger.World, shoutout.MemberAccount("ann"), "COIN", decimal.NewFromInt(300))
		require.NoError(t, err)
		p, err := shoutout.New(e.ctx, e.l, e.rules, e.dir, e.msgr, shoutout.WithRoles(e.roles), shoutout.WithWallets(kit.WalletPolicy{}))
		require.NoError(t, err)
		_, err = p.SetOffer(e.ctx, shoutout.SetOfferRequest{Creator: "cat", Price: 400})
		require.NoError(t, err)
		before := e.snapshot(t)
		_, err = p.Request(e.ctx, shoutout.RequestRequest{OrderID: "o-1", Fan: "ann", Creator: "cat", Price: 400, Note: ""})
		require.ErrorIs(t, err, shoutout.ErrInsufficientCoins, "the overdraft does not pay shoutouts")
		require.Equal(t, before, e.snapshot(t))
		_, err = p.SetOffer(e.ctx, shoutout.SetOfferRequest{Creator: "cat", Price: 300})
		require.NoError(t, err)
		o, err := p.Request(e.ctx, shoutout.RequestRequest{OrderID: "o-1", Fan: "ann", Creator: "cat", Price: 300, Note: ""})
		require.NoError(t, err)
		require.Equal(t, shoutout.StatusRequested, o.Status)
	})
}

// TestRefusalsNameTheirRule: a refusal by a rule of the rule set carries
// the rule's JSON name (ledger.RuleOf), ages are read from birth dates at
// the event's time, and a member with no birth date is never taken as old
// enough (kit.ErrMemberFacts).
func TestRefusalsNameTheirRule(t *testing.T) {
	both(t, shoutout.DefaultRules(), func(t *testing.T, e *env) {
		e.fund(t, "ann", 1000)
		e.fund(t, "kid", 1000)
		refused := func(err, sentinel error, rule string) {
			t.Helper()
			require.ErrorIs(t, err, sentinel)
			require.Equal(t, rule, ledger.RuleOf(err))
			require.True(t, strings.HasPrefix(err.Error(), "shoutout: "), err.Error())
			require.Equal(t, 1, strings.Count(err.Error(), "shoutout: "), err.Error())
		}
		_, err := e.p.SetOffer(e.ctx, shoutout.SetOfferRequest{Creator: "cat", Price: 99})
		refused(err, shoutout.ErrPriceOutOfBounds, "min_price")
		_, err = e.p.SetOffer(e.ctx, shoutout.SetOfferRequest{Creator: "cat", Price: 100001})
		refused(err, shoutout.ErrPriceOutOfBounds, "max_price")
		_, err = e.p.SetOffer(e.ctx, shoutout.SetOfferRequest{Creator: "small", Price: 500})
		refused(err, shoutout.ErrIneligible, "min_followers")
		_, err = e.p.SetOffer(e.ctx, shoutout.SetOfferRequest{Creator: "teen", Price: 500})
		refused(err, shoutout.ErrIneligible, "min_creator_age")
		e.offerAndRequest(t, "o-1", "ann", 500)
		_, err = e.p.Request(e.ctx, shoutout.RequestRequest{OrderID: "o-2", Fan: "kid", Creator: "cat", Price: 500})
		refused(err, shoutout.ErrIneligible, "min_fan_age")

		// kid turns 18 on 1 January 2028 (born(16) at start, March 2026),
		// at midnight in his own time zone.
		e.dir.Update("kid", func(m *kit.Member) { m.TimeZone = "Asia/Tokyo" })
		e.clock.Set(time.Date(2027, 12, 31, 14, 59, 0, 0, time.UTC)) // 23:59 in Tokyo
		_, err = e.p.SetOffer(e.ctx, shoutout.SetOfferRequest{Creator: "cat", Price: 500})
		require.NoError(t, err)
		_, err = e.p.Request(e.ctx, shoutout.RequestRequest{OrderID: "o-3", Fan: "kid", Creator: "cat", Price: 500})
		refused(err, shoutout.ErrIneligible, "min_fan_age")
		e.clock.Set(time.Date(2027, 12, 31, 15, 0, 0, 0, time.UTC)) // midnight in Tokyo
		_, err = e.p.Request(e.ctx, shoutout.RequestRequest{OrderID: "o-3", Fan: "kid", Creator: "cat", Price: 500})
		require.NoError(t, err)

		e.dir.Update("ann", func(m *kit.Member) { m.BirthDate = kit.Date{} })
		before := e.snapshot(t)
		_, err = e.p.Request(e.ctx, shoutout.RequestRequest{OrderID: "o-4", Fan: "ann", Creator: "cat", Price: 500})
		refused(err, kit.ErrMemberFacts, "min_fan_age")
		require.Equal(t, before, e.snapshot(t))

		e.clock.Advance(3 * 24 * time.Hour) // o-3's accept window closes
		_, err = e.p.Accept(e.ctx, shoutout.AcceptRequest{EventID: "late", OrderID: "o-3", Actor: "cat"})
		refused(err, shoutout.ErrDeadlinePassed, "accept_window")
	})
}
