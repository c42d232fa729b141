package shoutout

import (
	"strconv"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger"
)

// The types of the events shoutout emits (ledger.Writer.Emit), each in the
// unit of work of the change it reports: committed with it, or never. A
// replayed event (Replayed set), a refused one, and an offer set to the
// price it already has emit nothing. See the package doc, "Events".
const (
	// EventOfferSet: SetOffer opened or repriced an offer. Subject: the
	// creator. Data: OfferData.
	EventOfferSet = "shoutout.offer.set"
	// EventOfferWithdrawn: WithdrawOffer closed an offer. Subject: the
	// creator. Data: OfferData (price is the withdrawn offer's).
	EventOfferWithdrawn = "shoutout.offer.withdrawn"

	// The order events. Subject: the order ID. Data: OrderData.

	// EventOrderRequested: Request held the price on the fan's coins.
	EventOrderRequested = "shoutout.order.requested"
	// EventOrderAccepted: Accept; the delivery window runs.
	EventOrderAccepted = "shoutout.order.accepted"
	// EventOrderDeclined: Decline (followed by EventOrderRefunded).
	EventOrderDeclined = "shoutout.order.declined"
	// EventOrderCancelled: Cancel (followed by EventOrderRefunded).
	EventOrderCancelled = "shoutout.order.cancelled"
	// EventOrderExpired: Tick closed an order whose window passed, or
	// Approve found its hold lapsed or charged back (reason says which;
	// followed by EventOrderRefunded).
	EventOrderExpired = "shoutout.order.expired"
	// EventOrderSubmitted: Submit; the video waits for review.
	EventOrderSubmitted = "shoutout.order.submitted"
	// EventOrderApproved: Approve captured the hold and paid the creator
	// and the platform; TxID is the capture.
	EventOrderApproved = "shoutout.order.approved"
	// EventOrderRejected: Reject; final (followed by EventOrderRefunded)
	// or not (the creator may submit again).
	EventOrderRejected = "shoutout.order.rejected"
	// EventOrderDelivered: the direct message carrying an approved video
	// was sent and that was recorded (once per order, after its
	// approval's unit of work committed).
	EventOrderDelivered = "shoutout.order.delivered"
	// EventOrderRefunded: the order's hold was voided, every coin back to
	// the fan; it follows the event that closed the order.
	EventOrderRefunded = "shoutout.order.refunded"
)

// OfferData is the data of EventOfferSet and EventOfferWithdrawn.
type OfferData struct {
	Creator string          `json:"creator"`
	Price   decimal.Decimal `json:"price"` // coins
}

// OrderData is the data of every order event: the order as the event left
// it, in a few fields.
type OrderData struct {
	OrderID string `json:"order_id"`
	Fan     string `json:"fan"`
	Creator string `json:"creator"`
	// Actor is who acted (the fan, the creator, a reviewer); omitted for
	// what time did (Tick) and for delivered.
	Actor  string          `json:"actor,omitempty"`
	Status Status          `json:"status"` // after the event
	Price  decimal.Decimal `json:"price"`  // coins held, paid or refunded
	Hold   string          `json:"hold"`   // the ledger hold of the price
	// Reason: why the order closed (declined, cancelled, rejected, the
	// rule of the window that passed, hold_expired, hold_unfunded), or on
	// a rejection that leaves it open, the reviewer's reason.
	Reason string `json:"reason,omitempty"`
	// Set on approved: the split of the price (zero ones omitted).
	CreatorShare  decimal.Decimal `json:"creator_share,omitzero"`
	PlatformShare decimal.Decimal `json:"platform_share,omitzero"`
	// Rejections so far, on rejected.
	Rejections int `json:"rejections,omitempty"`
}

// emitOrder emits typ about o, as it is now.
func emitOrder(w *ledger.Writer, typ string, o *Order, actor string) error {
	d := OrderData{OrderID: o.ID, Fan: o.Fan, Creator: o.Creator, Actor: actor, Status: o.Status,
		Price: decimal.NewFromInt(o.Price), Hold: strconv.FormatUint(o.Hold, 10), Reason: o.Reason}
	switch typ {
	case EventOrderApproved:
		d.CreatorShare, d.PlatformShare = decimal.NewFromInt(o.CreatorShare), decimal.NewFromInt(o.PlatformShare)
	case EventOrderRejected:
		d.Rejections = o.Rejections
		if o.Status.Open() {
			d.Reason = o.RejectReason
		}
	}
	return w.Emit(typ, o.ID, d)
}

// opEvents is the event each state-machine operation emits (approve and
// reject are settled by emitChange).
var opEvents = map[string]string{"accept": EventOrderAccepted, "decline": EventOrderDeclined, "cancel": EventOrderCancelled,
	"submit": EventOrderSubmitted, "approve": EventOrderApproved, "reject": EventOrderRejected}

// emitChange emits the events of op having changed o: the operation's
// own, then EventOrderRefunded if it refunded the order. An approval that
// could not pay closed the order as expired.
func emitChange(w *ledger.Writer, op, actor string, o *Order) error {
	typ := opEvents[op]
	if op == "approve" && o.Outcome != OutcomePaid {
		typ = EventOrderExpired
	}
	if err := emitOrder(w, typ, o, actor); err != nil {
		return err
	}
	if o.Outcome == OutcomeRefunded {
		return emitOrder(w, EventOrderRefunded, o, actor)
	}
	return nil
}
