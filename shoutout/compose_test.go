package shoutout_test

// Composition (issue 11 #1): every event runs inside a unit of work the
// caller owns. The direct message of an approval must not leave from
// inside one: the unit of work may roll back (a video nobody paid for) or
// run again (a second message).

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/shoutout"
)

// TestApproveInSendsOnlyAfterCommit: ApproveIn in the caller's unit of
// work pays and records the message in the outbox, and sends nothing. A
// unit of work that rolls back keeps neither the payment nor the message;
// one that runs twice (a lost race) pays once; after the commit the next
// Tick sends the message once.
func TestApproveInSendsOnlyAfterCommit(t *testing.T) {
	both(t, shoutout.DefaultRules(), func(t *testing.T, e *env) {
		e.fund(t, "ann", 1000)
		e.offerAndRequest(t, "o-1", "ann", 400)
		_, err := e.p.Accept(e.ctx, shoutout.AcceptRequest{EventID: "o-1-accept", OrderID: "o-1", Actor: "cat"})
		require.NoError(t, err)
		_, err = e.p.Submit(e.ctx, shoutout.SubmitRequest{EventID: "o-1-submit", OrderID: "o-1", Actor: "cat", Video: "video://o-1"})
		require.NoError(t, err)
		approve := shoutout.ApproveRequest{EventID: "o-1-approve", OrderID: "o-1", Actor: reviewer}

		// The caller's unit of work fails after the approval: nothing is kept
		// and nothing was sent.
		before := e.snapshot(t)
		errCaller := errors.New("the caller's own step failed")
		var rolledBack shoutout.Order
		err = e.l.Update(e.ctx, func(w *ledger.Writer) error {
			o, err := e.p.ApproveIn(w, approve)
			if err != nil {
				return err
			}
			rolledBack = o
			return errCaller
		})
		require.ErrorIs(t, err, errCaller)
		require.Equal(t, shoutout.StatusDelivered, rolledBack.Status, "approved inside the unit of work")
		require.Equal(t, before, e.snapshot(t), "a rolled-back approval keeps nothing, its outbox record included")
		require.Zero(t, e.msgr.sends, "nothing is sent from inside a unit of work")

		// The unit of work loses a race once and runs again: paid once.
		attempts := 0
		var approved shoutout.Order
		require.NoError(t, e.l.Update(e.ctx, func(w *ledger.Writer) error {
			attempts++
			o, err := e.p.ApproveIn(w, approve)
			if err != nil {
				return err
			}
			approved = o
			if attempts == 1 {
				return ledger.ErrConflict // as a lost race would: Update runs fn again
			}
			return nil
		}))
		require.Equal(t, 2, attempts)
		require.Equal(t, shoutout.StatusDelivered, approved.Status)
		require.False(t, approved.DMSent)
		require.Zero(t, e.msgr.sends, "still nothing sent: the message waits in the outbox")
		earned, _ := e.bal(t, shoutout.EarningsAccount("cat"))
		require.Equal(t, approved.CreatorShare, earned, "paid once")

		// The next Tick sends it, once.
		rep := e.tick(t)
		require.Equal(t, []string{"o-1"}, rep.IDs(shoutout.ItemMessageSent))
		require.Empty(t, rep.Failed)
		require.Len(t, e.msgr.Messages("ann"), 1)
		require.Equal(t, 1, e.msgr.sends)
		require.Equal(t, tickResult{}, e.tick(t))
		o, err := e.p.Order(e.ctx, "o-1")
		require.NoError(t, err)
		require.True(t, o.DMSent)
	})
}
