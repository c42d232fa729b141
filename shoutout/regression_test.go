package shoutout_test

import (
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/shoutout"
)

// inReview has ann order a 1000-coin shoutout from cat at 400 coins, cat
// accept it and submit a video.
func (e *env) inReview(t *testing.T, id string) {
	t.Helper()
	e.fund(t, "ann", 1000)
	e.offerAndRequest(t, id, "ann", 400)
	_, err := e.p.Accept(e.ctx, shoutout.AcceptRequest{EventID: id + "-accept", OrderID: id, Actor: "cat"})
	require.NoError(t, err)
	_, err = e.p.Submit(e.ctx, shoutout.SubmitRequest{EventID: id + "-submit", OrderID: id, Actor: "cat", Video: "video://" + id})
	require.NoError(t, err)
}

// TestReviewNeedsAReviewerWhoIsNoParty: issue 10 #4. Approve and Reject
// checked nothing about the moderator: the creator (or the empty string)
// approved their own video and took 75% of the fan's coins. Now the
// reviewer must hold kit.RoleReviewer and be neither creator nor fan;
// anyone else is ledger.ErrForbidden and nothing is written.
func TestReviewNeedsAReviewerWhoIsNoParty(t *testing.T) {
	both(t, shoutout.DefaultRules(), func(t *testing.T, e *env) {
		e.inReview(t, "o-1")
		// A reviewer who is also a party is still a party.
		e.roles.Grant("cat", kit.RoleReviewer)
		e.roles.Grant("ann", kit.RoleReviewer)
		noRoles, err := shoutout.New(e.ctx, e.l, e.rules, e.dir, e.msgr) // no WithRoles: nobody may review
		require.NoError(t, err)
		type call func(p *shoutout.Program, ev, actor string) error
		approve := func(p *shoutout.Program, ev, actor string) error {
			_, err := p.Approve(e.ctx, shoutout.ApproveRequest{EventID: ev, OrderID: "o-1", Actor: actor})
			return err
		}
		reject := func(p *shoutout.Program, ev, actor string) error {
			_, err := p.Reject(e.ctx, shoutout.RejectRequest{EventID: ev, OrderID: "o-1", Actor: actor, Reason: "guidelines"})
			return err
		}
		for _, c := range []struct {
			name  string
			p     *shoutout.Program
			actor string
		}{
			{"the creator approving their own video", e.p, "cat"},
			{"an empty reviewer", e.p, ""},
			{"the buyer", e.p, "ann"},
			{"a member without the role", e.p, "eve"},
			{"an unknown actor", e.p, "nobody"},
			{"a reviewer of a program without a role directory", noRoles, reviewer},
		} {
			for name, f := range map[string]call{"approve": approve, "reject": reject} {
				before := e.snapshot(t)
				err := f(c.p, "ev-"+name, c.actor)
				require.ErrorIs(t, err, ledger.ErrForbidden, "%s: %s", c.name, name)
				require.Equal(t, before, e.snapshot(t), "%s: %s wrote something", c.name, name)
			}
		}
		earned, _ := e.bal(t, shoutout.EarningsAccount("cat"))
		require.Zero(t, earned)

		// A reviewer who is no party approves: paid as the rules say.
		o, err := e.p.Approve(e.ctx, shoutout.ApproveRequest{EventID: "ev-approve", OrderID: "o-1", Actor: reviewer})
		require.NoError(t, err)
		require.Equal(t, shoutout.OutcomePaid, o.Outcome)
		earned, _ = e.bal(t, shoutout.EarningsAccount("cat"))
		require.Equal(t, int64(300), earned)
		// A revoked reviewer is refused from then on.
		e.roles.Revoke(reviewer, kit.RoleReviewer)
		e.inReviewAgain(t, "o-2")
		_, err = e.p.Approve(e.ctx, shoutout.ApproveRequest{EventID: "ev-approve-2", OrderID: "o-2", Actor: reviewer})
		require.ErrorIs(t, err, ledger.ErrForbidden)
	})
}

// inReviewAgain puts a second order of ann's in review.
func (e *env) inReviewAgain(t *testing.T, id string) {
	t.Helper()
	_, err := e.p.Request(e.ctx, shoutout.RequestRequest{OrderID: id, Fan: "ann", Creator: "cat", Price: 400, Note: "again"})
	require.NoError(t, err)
	_, err = e.p.Accept(e.ctx, shoutout.AcceptRequest{EventID: id + "-accept", OrderID: id, Actor: "cat"})
	require.NoError(t, err)
	_, err = e.p.Submit(e.ctx, shoutout.SubmitRequest{EventID: id + "-submit", OrderID: id, Actor: "cat", Video: "video://" + id})
	require.NoError(t, err)
}

// TestReplayReturnsTheOrderAsOfTheEvent: issue 10 #6. A replay returned
// the order as it was now, not as the event left it, and a request
// retried after a member fact changed was refused although it had gone
// through. Now the replay check comes first (kit.Once) and a replay
// returns what the event returned, marked Replayed.
func TestReplayReturnsTheOrderAsOfTheEvent(t *testing.T) {
	both(t, shoutout.DefaultRules(), func(t *testing.T, e *env) {
		e.fund(t, "ann", 1000)
		requested := e.offerAndRequest(t, "o-1", "ann", 500)
		accepted, err := e.p.Accept(e.ctx, shoutout.AcceptRequest{EventID: "ev-accept", OrderID: "o-1", Actor: "cat"})
		require.NoError(t, err)
		_, err = e.p.Submit(e.ctx, shoutout.SubmitRequest{EventID: "ev-submit", OrderID: "o-1", Actor: "cat", Video: "video://1"})
		require.NoError(t, err)
		approved, err := e.p.Approve(e.ctx, shoutout.ApproveRequest{EventID: "ev-approve", OrderID: "o-1", Actor: reviewer})
		require.NoError(t, err)

		// Since then: the fan is "under age", the creator lost followers
		// and withdrew the offer, the rules changed, the reviewer left.
		e.dir.Put(kit.Member{ID: "ann", BirthDate: born(12)})
		e.dir.Put(kit.Member{ID: "cat", BirthDate: born(25), Followers: 3})
		require.NoError(t, e.p.WithdrawOffer(e.ctx, shoutout.WithdrawOfferRequest{Creator: "cat"}))
		r := shoutout.DefaultRules()
		r.MinFanAge, r.AcceptWindow = 21, kit.Duration(time.Hour)
		e.p = e.program(t, r)
		e.roles.Revoke(reviewer, kit.RoleReviewer)
		e.clock.Advance(30 * day)

		before := e.snapshot(t)
		for _, c := range []struct {
			name string
			call func() (shoutout.Order, error)
			want shoutout.Order
		}{
			{"request", func() (shoutout.Order, error) {
				return e.p.Request(e.ctx, shoutout.RequestRequest{OrderID: "o-1", Fan: "ann", Creator: "cat", Price: 500, Note: "say hi"})
			}, requested},
			{"accept", func() (shoutout.Order, error) {
				return e.p.Accept(e.ctx, shoutout.AcceptRequest{EventID: "ev-accept", OrderID: "o-1", Actor: "cat"})
			}, accepted},
			{"approve", func() (shoutout.Order, error) {
				return e.p.Approve(e.ctx, shoutout.ApproveRequest{EventID: "ev-approve", OrderID: "o-1", Actor: reviewer})
			}, approved},
		} {
			got, err := c.call()
			require.NoError(t, err, c.name)
			require.True(t, got.Replayed, c.name)
			got.Replayed = false
			if c.name == "approve" {
				// The approval returned after sending the DM; its replay
				// is the order as the approval's unit of work left it.
				require.Equal(t, shoutout.StatusDelivered, got.Status)
				require.Equal(t, approved.Capture, got.Capture)
				require.Equal(t, approved.CreatorShare, got.CreatorShare)
				continue
			}
			require.Equal(t, c.want, got, "%s replays the order as of the event", c.name)
		}
		require.Equal(t, shoutout.StatusRequested, requested.Status)
		require.Equal(t, shoutout.StatusAccepted, accepted.Status)
		require.Equal(t, before, e.snapshot(t), "replays write nothing")

		// The same ids for something else are still conflicts.
		_, err = e.p.Request(e.ctx, shoutout.RequestRequest{OrderID: "o-1", Fan: "ann", Creator: "cat", Price: 501, Note: "say hi"})
		require.ErrorIs(t, err, shoutout.ErrIdempotencyConflict)
		require.ErrorIs(t, err, ledger.ErrIdempotencyConflict)
		_, err = e.p.Accept(e.ctx, shoutout.AcceptRequest{EventID: "ev-accept", OrderID: "o-2", Actor: "cat"})
		require.ErrorIs(t, err, shoutout.ErrIdempotencyConflict)
		require.Equal(t, before, e.snapshot(t))
	})
}

// longWindows are rules whose windows are much longer than the defaults.
func longWindows() shoutout.Rules {
	r := shoutout.DefaultRules()
	r.AcceptWindow, r.DeliveryWindow, r.ReviewWindow = kit.Duration(30*day), kit.Duration(30*day), kit.Duration(30*day)
	return r
}

// TestLongerWindowsLaterNeverStrandAnOrder: issue 10 #19c. A hold's
// expiry was fixed from the rules at request time while the deadlines
// followed the program's current rules: after a restart with longer
// windows an order could stay open past its hold, and Approve then failed
// for ever. Now an order keeps the terms it was requested under: the old
// order runs on its own windows (and is refunded when they pass), a new
// order gets the new ones, and no hold lapses under an open order.
func TestLongerWindowsLaterNeverStrandAnOrder(t *testing.T) {
	both(t, shoutout.DefaultRules(), func(t *testing.T, e *env) {
		e.fund(t, "ann", 1000)
		old := e.offerAndRequest(t, "o-old", "ann", 400)
		require.Equal(t, shoutout.DefaultRules().Terms(), old.Terms)

		e.p = e.program(t, longWindows()) // the service restarts with longer windows
		e.clock.Advance(2 * day)
		o, err := e.p.Accept(e.ctx, shoutout.AcceptRequest{EventID: "ev-1", OrderID: "o-old", Actor: "cat"})
		require.NoError(t, err)
		require.Equal(t, e.clock.Now().Add(7*day), o.DeliverBy, "the delivery window the order was requested under")
		neu, err := e.p.Request(e.ctx, shoutout.RequestRequest{OrderID: "o-new", Fan: "ann", Creator: "cat", Price: 400, Note: "another"})
		require.NoError(t, err)
		require.Equal(t, longWindows().Terms(), neu.Terms)
		_, err = e.p.Accept(e.ctx, shoutout.AcceptRequest{EventID: "ev-2", OrderID: "o-new", Actor: "cat"})
		require.NoError(t, err)

		// Day 12: within the new windows, past the old order's own.
		e.clock.Advance(10 * day)
		_, err = e.p.Submit(e.ctx, shoutout.SubmitRequest{EventID: "ev-3", OrderID: "o-old", Actor: "cat", Video: "video://old"})
		require.ErrorIs(t, err, shoutout.ErrDeadlinePassed)
		_, err = e.p.Submit(e.ctx, shoutout.SubmitRequest{EventID: "ev-4", OrderID: "o-new", Actor: "cat", Video: "video://new"})
		require.NoError(t, err)
		rep := e.tick(t)
		require.Equal(t, 1, rep.Count(shoutout.ItemRefunded))
		require.Zero(t, rep.HoldsReleased, "no hold lapsed under an open order")
		o, err = e.p.Order(e.ctx, "o-old")
		require.NoError(t, err)
		require.Equal(t, shoutout.StatusExpired, o.Status)
		require.Equal(t, "delivery_window", o.Reason)

		// Day 40: the new order approved late in its long review window,
		// long after a hold sized by the old rules would have lapsed.
		e.clock.Advance(28 * day)
		require.Zero(t, e.tick(t).HoldsReleased)
		o, err = e.p.Approve(e.ctx, shoutout.ApproveRequest{EventID: "ev-5", OrderID: "o-new", Actor: reviewer})
		require.NoError(t, err)
		require.Equal(t, shoutout.OutcomePaid, o.Outcome)
		posted, held := e.bal(t, shoutout.MemberAccount("ann"))
		require.Equal(t, int64(600), posted, "one order refunded, one paid")
		require.Zero(t, held)
		earned, _ := e.bal(t, shoutout.EarningsAccount("cat"))
		require.Equal(t, int64(300), earned)
	})
}

// stripTerms makes an order look like one stored before orders carried
// their terms.
func (e *env) stripTerms(t *testing.T, id string) {
	t.Helper()
	require.NoError(t, e.l.Update(e.ctx, func(w *ledger.Writer) error {
		var m map[string]json.RawMessage
		if err := w.LoadJSON("shoutout.order", id, &m); err != nil {
			return err
		}
		delete(m, "terms")
		return w.SaveJSON("shoutout.order", id, m)
	}))
}

// TestLapsedHoldIsRefundedNotStuck: issue 10 #19c. An order stored before
// orders carried their terms follows the current rules; if those were
// lengthened its hold can lapse while it is open. Approve then failed with
// ErrHoldExpired for ever. Now it voids the hold in the same unit of work
// and refunds the order, whether or not the ledger's Tick swept the hold.
func TestLapsedHoldIsRefundedNotStuck(t *testing.T) {
	for _, swept := range []bool{false, true} {
		t.Run(map[bool]string{false: "unswept", true: "swept"}[swept], func(t *testing.T) {
			both(t, shoutout.DefaultRules(), func(t *testing.T, e *env) {
				e.fund(t, "ann", 1000)
				e.offerAndRequest(t, "o-1", "ann", 400)
				e.stripTerms(t, "o-1")
				e.p = e.program(t, longWindows())
				e.clock.Advance(2 * day)
				_, err := e.p.Accept(e.ctx, shoutout.AcceptRequest{EventID: "ev-1", OrderID: "o-1", Actor: "cat"})
				require.NoError(t, err)
				e.clock.Advance(10 * day)
				_, err = e.p.Submit(e.ctx, shoutout.SubmitRequest{EventID: "ev-2", OrderID: "o-1", Actor: "cat", Video: "video://1"})
				require.NoError(t, err)
				e.clock.Advance(3 * day) // day 15: the hold (3+7+3+1 days) has lapsed
				if swept {
					n, err := e.l.Tick(e.ctx)
					require.NoError(t, err)
					require.Equal(t, 1, n)
				}
				o, err := e.p.Approve(e.ctx, shoutout.ApproveRequest{EventID: "ev-3", OrderID: "o-1", Actor: reviewer})
				require.NoError(t, err)
				require.Equal(t, shoutout.StatusExpired, o.Status)
				require.Equal(t, shoutout.OutcomeRefunded, o.Outcome)
				require.Equal(t, "hold_expired", o.Reason)
				posted, held := e.bal(t, shoutout.MemberAccount("ann"))
				require.Equal(t, int64(1000), posted, "every coin back")
				require.Zero(t, held)
				earned, _ := e.bal(t, shoutout.EarningsAccount("cat"))
				require.Zero(t, earned)
				require.Zero(t, e.msgr.Len(), "no video delivered for an unpaid order")
				// Closed: nothing left due, a Tick has nothing to do.
				require.Equal(t, tickResult{}, e.tick(t))
				again, err := e.p.Approve(e.ctx, shoutout.ApproveRequest{EventID: "ev-3", OrderID: "o-1", Actor: reviewer})
				require.NoError(t, err)
				require.True(t, again.Replayed)
				_, err = e.l.Verify(e.ctx)
				require.NoError(t, err)
			})
		})
	}
}

// TestTickIsolatesABrokenOrder: issue 10 #9 (shoutout's Tick). One order
// that cannot be closed stopped the whole Tick and rolled back every
// other refund with it. Now each order is closed in its own unit of work;
// the broken one is reported by order ID and the others are refunded.
func TestTickIsolatesABrokenOrder(t *testing.T) {
	both(t, shoutout.DefaultRules(), func(t *testing.T, e *env) {
		e.fund(t, "ann", 1000)
		e.offerAndRequest(t, "o-1", "ann", 400)
		// An order whose hold does not exist, due before the good one.
		require.NoError(t, e.l.Update(e.ctx, func(w *ledger.Writer) error {
			bad := shoutout.Order{ID: "a-broken", Fan: "ann", Creator: "cat", Price: 100, Status: shoutout.StatusRequested,
				Hold: 999999, Terms: e.rules.Terms(), CreatedAt: start, AcceptBy: start.Add(time.Hour)}
			if err := w.SaveJSON("shoutout.order", bad.ID, bad); err != nil {
				return err
			}
			return w.Schedule("shoutout.deadline", bad.ID, bad.AcceptBy)
		}))
		e.clock.Advance(3 * day)
		rep, err := e.p.Tick(e.ctx)
		require.NoError(t, err, "one broken order is not a failed run")
		require.Equal(t, 1, rep.Count(shoutout.ItemRefunded))
		require.Len(t, rep.Failed, 1)
		require.Equal(t, "a-broken", rep.Failed[0].ID)
		require.Equal(t, "shoutout.deadline", rep.Failed[0].Kind)
		require.ErrorIs(t, rep.Failed[0], ledger.ErrNotFound)
		o, err := e.p.Order(e.ctx, "o-1")
		require.NoError(t, err)
		require.Equal(t, shoutout.StatusExpired, o.Status)
		posted, held := e.bal(t, shoutout.MemberAccount("ann"))
		require.Equal(t, int64(1000), posted)
		require.Zero(t, held)
		// The broken one stays due and is reported again.
		rep = e.tick(t).TickReport
		require.Len(t, rep.Failed, 1)
		require.Zero(t, rep.Count(shoutout.ItemRefunded))
	})
}

// TestRulesRefuseUnknownFields: issue 10 #10. Rules were decoded with
// plain encoding/json, so a misspelt field was silently ignored. Now it is
// ErrInvalidRules naming the field.
func TestRulesRefuseUnknownFields(t *testing.T) {
	for _, c := range []struct{ json, names string }{
		{`{"review_windw":"1h"}`, "review_windw"},
		{`{"min_price":100,"max_prise":5}`, "max_prise"},
		{`{"accept_window":"72h"} {"x":1}`, "after"},
		{`{"accept_window":"three days"}`, "three days"},
		{`{"accept_window":72}`, `"accept_window": cannot hold a JSON number`},
		{`{"min_price":"100"}`, "min_price"},
	} {
		_, err := shoutout.ParseRules([]byte(c.json))
		require.ErrorIs(t, err, shoutout.ErrInvalidRules, c.json)
		require.Contains(t, err.Error(), c.names, c.json)
		require.Equal(t, 1, countPrefix(err.Error(), "shoutout:"), "the package prefix once: %s", err)
		var r shoutout.Rules
		if err := json.Unmarshal([]byte(c.json), &r); err != nil {
			var syntax *json.SyntaxError // encoding/json checks trailing data itself
			if !errors.As(err, &syntax) {
				require.ErrorIs(t, err, shoutout.ErrInvalidRules, c.json)
			}
		} else {
			t.Fatalf("%s: decoded", c.json)
		}
	}
	r, err := shoutout.ParseRules([]byte(`{"review_window":"48h","max_resubmissions":2}`))
	require.NoError(t, err)
	want := shoutout.DefaultRules()
	want.ReviewWindow, want.MaxResubmissions = kit.Duration(48*time.Hour), 2
	require.Equal(t, want.Terms().ReviewWindow, r.ReviewWindow, "fields left out keep their defaults")
	require.Equal(t, want.MinPrice, r.MinPrice)
	require.Equal(t, 2, r.MaxResubmissions)
}

func countPrefix(s, p string) int {
	n := 0
	for i := 0; i+len(p) <= len(s); i++ {
		if s[i:i+len(p)] == p {
			n++
		}
	}
	return n
}

// TestErrorsKeepTheirCause: issue 10 #11. Rule errors formatted the
// ledger's cause with %v, so errors.Is could not see it.
func TestErrorsKeepTheirCause(t *testing.T) {
	r := shoutout.DefaultRules()
	r.CoinAsset = "coin"
	err := r.Validate()
	require.ErrorIs(t, err, shoutout.ErrInvalidRules)
	require.ErrorIs(t, err, ledger.ErrInvalidAsset)
	var rules shoutout.Rules
	err = json.Unmarshal([]byte(`{"accept_window":"soon"}`), &rules)
	require.ErrorIs(t, err, shoutout.ErrInvalidRules)
	require.Contains(t, err.Error(), `duration "soon"`, "the duration's own error is kept")
}

// TestExtremePlatformShareIsRefusedAtOnce: issue 10 #2 (shoutout's part).
// A platform share with a huge exponent made Validate build a number with
// billions of digits (or accepted one with 100,000 decimals). Now the
// exponent and digits are bounded before any comparison.
func TestExtremePlatformShareIsRefusedAtOnce(t *testing.T) {
	huge := new(big.Int).Exp(big.NewInt(10), big.NewInt(5000), nil)
	for _, s := range []decimal.Decimal{
		decimal.New(1, math.MaxInt32), decimal.New(1, math.MinInt32), decimal.New(1, -100000),
		decimal.NewFromBigInt(huge, -5000), decimal.RequireFromString("0.1234567890123456789"),
		decimal.New(1, 1), decimal.RequireFromString("-0.1"), decimal.RequireFromString("1.5"),
	} {
		r := shoutout.DefaultRules()
		r.PlatformShare = s
		begin := time.Now()
		err := r.Validate()
		require.ErrorIs(t, err, shoutout.ErrInvalidRules, "%d digits e%d", len(s.Coefficient().String()), s.Exponent())
		require.Contains(t, err.Error(), "platform_share")
		require.Less(t, time.Since(begin), time.Second)
		require.Less(t, len(err.Error()), 300, "a short message: %s", err)
	}
	for _, s := range []string{"0", "1", "0.25", "0.123456789012345678"} {
		r := shoutout.DefaultRules()
		r.PlatformShare = decimal.RequireFromString(s)
		require.NoError(t, r.Validate(), s)
	}
}

// TestClockOutsideTheTimeRange: issue 10 #3 (shoutout's part). Deadlines
// and hold expiries computed past 2262 wrapped. Now a clock outside the
// ledger's range, or a deadline it would carry past ledger.MaxTime, is
// ledger.ErrInvalidTime and writes nothing.
func TestClockOutsideTheTimeRange(t *testing.T) {
	both(t, shoutout.DefaultRules(), func(t *testing.T, e *env) {
		e.fund(t, "ann", 1000)
		_, err := e.p.SetOffer(e.ctx, shoutout.SetOfferRequest{Creator: "cat", Price: 400})
		require.NoError(t, err)
		for _, at := range []time.Time{ledger.MaxTime.Add(-time.Hour), time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), time.Unix(-1, 0)} {
			e.clock.Set(at)
			before := e.snapshot(t)
			_, err := e.p.Request(e.ctx, shoutout.RequestRequest{OrderID: "o-1", Fan: "ann", Creator: "cat", Price: 400, Note: ""})
			require.ErrorIs(t, err, ledger.ErrInvalidTime, at)
			_, err = e.p.Tick(e.ctx)
			if at.Before(ledger.MaxTime) && !at.Before(ledger.MinTime) {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, ledger.ErrInvalidTime, at)
			}
			require.Equal(t, before, e.snapshot(t))
		}
	})
}

// TestDMFailureNeverTouchesMoney: issue 10 (shoutout's direct messages).
// The payment commits before the message is sent; a send that fails, is
// retried by Tick, or a replayed approval neither undoes nor repeats it.
func TestDMFailureNeverTouchesMoney(t *testing.T) {
	both(t, shoutout.DefaultRules(), func(t *testing.T, e *env) {
		e.inReview(t, "o-1")
		e.msgr.setDown(true)
		o, err := e.p.Approve(e.ctx, shoutout.ApproveRequest{EventID: "ev-approve", OrderID: "o-1", Actor: reviewer})
		require.NoError(t, err, "a failed DM is not a failed approval")
		require.Equal(t, shoutout.OutcomePaid, o.Outcome)
		require.NotEmpty(t, o.DMError)
		paid := func() {
			t.Helper()
			posted, held := e.bal(t, shoutout.MemberAccount("ann"))
			require.Equal(t, int64(600), posted)
			require.Zero(t, held)
			earned, _ := e.bal(t, shoutout.EarningsAccount("cat"))
			require.Equal(t, int64(300), earned)
			rev, _ := e.bal(t, shoutout.RevenueAccount)
			require.Equal(t, int64(100), rev)
		}
		paid()
		for range 3 {
			_, err := e.p.Approve(e.ctx, shoutout.ApproveRequest{EventID: "ev-approve", OrderID: "o-1", Actor: reviewer})
			require.NoError(t, err)
			e.clock.Advance(kit.DefaultOutboxRetry) // a failed send waits that long
			rep := e.tick(t)
			require.Equal(t, 1, rep.failedOf(shoutout.ItemMessage))
			paid()
		}
		e.msgr.setDown(false)
		e.clock.Advance(kit.DefaultOutboxRetry)
		require.Equal(t, 1, e.tick(t).Count(shoutout.ItemMessageSent))
		paid()
		require.Len(t, e.msgr.Messages("ann"), 1)
		h, err := e.l.HoldByID(e.ctx, o.Hold)
		require.NoError(t, err)
		require.Equal(t, ledger.HoldCaptured, h.Status)
		require.True(t, h.Captured.Equal(decimal.NewFromInt(400)), "captured once")
	})
}

// TestChargedBackEscrowClosesTheOrderUnpaid: a chargeback that reached the
// coins escrowed for an open order (a transfer with IncludeHeld, as
// gifting's Chargeback posts) leaves a hold with nothing behind it. The
// approval cannot pay the creator from it: the order closes unpaid and
// the hold is voided, instead of failing forever (issue 10 #13).
func TestChargedBackEscrowClosesTheOrderUnpaid(t *testing.T) {
	both(t, shoutout.DefaultRules(), func(t *testing.T, e *env) {
		e.fund(t, "ann", 1000)
		e.offerAndRequest(t, "o-1", "ann", 400)
		_, err := e.p.Accept(e.ctx, shoutout.AcceptRequest{EventID: "ev-1", OrderID: "o-1", Actor: "cat"})
		require.NoError(t, err)
		_, err = e.p.Submit(e.ctx, shoutout.SubmitRequest{EventID: "ev-2", OrderID: "o-1", Actor: "cat", Video: "video://1"})
		require.NoError(t, err)
		_, err = e.l.Post(e.ctx, ledger.TransferRequest{Key: "chargeback", IncludeHeld: true, Postings: []ledger.Posting{
			{From: shoutout.MemberAccount("ann"), To: ledger.World, Asset: "COIN", Amount: decimal.NewFromInt(1000)}}})
		require.NoError(t, err)

		o, err := e.p.Approve(e.ctx, shoutout.ApproveRequest{EventID: "ev-3", OrderID: "o-1", Actor: reviewer})
		require.NoError(t, err)
		require.Equal(t, shoutout.StatusExpired, o.Status)
		require.Equal(t, "hold_unfunded", o.Reason)
		posted, held := e.bal(t, shoutout.MemberAccount("ann"))
		require.Zero(t, posted)
		require.Zero(t, held)
		earned, _ := e.bal(t, shoutout.EarningsAccount("cat"))
		require.Zero(t, earned, "the creator is not paid with coins that were charged back")
		_, err = e.l.Verify(e.ctx)
		require.NoError(t, err)
	})
}

// TestChargedBackEscrowIsNotPaidFromTheOverdraft: the same as above with
// the fan's wallet opened with a COIN overdraft (the platform's shared
// policy gives one, for chargebacks): the capture would have fitted in the
// overdraft and paid the creator 300 coins the bank took back, leaving the
// fan at -400. Found by review; the overdraft is never credit.
func TestChargedBackEscrowIsNotPaidFromTheOverdraft(t *testing.T) {
	both(t, shoutout.DefaultRules(), func(t *testing.T, e *env) {
		_, err := e.l.OpenAccount(e.ctx, ledger.AccountSpec{Address: shoutout.MemberAccount("ann"),
			Overdraft: ledger.Overdraft{Limits: map[string]decimal.Decimal{"COIN": decimal.NewFromInt(500)}}})
		require.NoError(t, err)
		_, err = e.l.Transfer(e.ctx, "", ledger.World, shoutout.MemberAccount("ann"), "COIN", decimal.NewFromInt(400))
		require.NoError(t, err)
		e.offerAndRequest(t, "o-1", "ann", 400)
		_, err = e.p.Accept(e.ctx, shoutout.AcceptRequest{EventID: "ev-1", OrderID: "o-1", Actor: "cat"})
		require.NoError(t, err)
		_, err = e.p.Submit(e.ctx, shoutout.SubmitRequest{EventID: "ev-2", OrderID: "o-1", Actor: "cat", Video: "video://1"})
		require.NoError(t, err)
		_, err = e.l.Post(e.ctx, ledger.TransferRequest{Key: "chargeback", IncludeHeld: true, Postings: []ledger.Posting{
			{From: shoutout.MemberAccount("ann"), To: ledger.World, Asset: "COIN", Amount: decimal.NewFromInt(400)}}})
		require.NoError(t, err)

		o, err := e.p.Approve(e.ctx, shoutout.ApproveRequest{EventID: "ev-3", OrderID: "o-1", Actor: reviewer})
		require.NoError(t, err)
		require.Equal(t, shoutout.StatusExpired, o.Status)
		require.Equal(t, "hold_unfunded", o.Reason)
		posted, held := e.bal(t, shoutout.MemberAccount("ann"))
		require.Zero(t, posted, "the fan owes nothing: no capture drew on the overdraft")
		require.Zero(t, held)
		earned, _ := e.bal(t, shoutout.EarningsAccount("cat"))
		require.Zero(t, earned)
		_, err = e.l.Verify(e.ctx)
		require.NoError(t, err)
	})
}
