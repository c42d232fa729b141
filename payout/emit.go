package payout

import (
	"github.com/rewardkit/rewardkit/ledger"
)

// The types of the events the program emits to the ledger's event log
// (ledger.Writer.Emit), each in the unit of work that records the change:
// committed with it or never, and not again when an event is replayed or
// an answer repeats what is recorded. The provider is called outside any
// unit of work, so no event reports a call: they report what was recorded
// of it. The package documentation lists each one's subject and data.
const (
	// EventAccountLinked: a member linked (or replaced) their payout
	// account.
	EventAccountLinked = "payout.account.linked"
	// EventRequested: a withdrawal was recorded and its funds held, to be
	// sent or reviewed.
	EventRequested = "payout.payout.requested"
	// EventApproved: a reviewer approved a payout in review.
	EventApproved = "payout.payout.approved"
	// EventRejected: a reviewer rejected a payout in review; its funds
	// were released.
	EventRejected = "payout.payout.rejected"
	// EventSent: the provider's first answer to sending the payout was
	// recorded: the provider has it.
	EventSent = "payout.payout.sent"
	// EventPaid: the provider paid; the hold was captured and converted.
	EventPaid = "payout.payout.paid"
	// EventFailed: the provider refused the payment; its funds were
	// released.
	EventFailed = "payout.payout.failed"
	// EventHeld: the provider holds the payment.
	EventHeld = "payout.payout.held"
	// EventUnclaimed: the payment was sent and the receiver has not
	// claimed it yet.
	EventUnclaimed = "payout.payout.unclaimed"
	// EventReturned: an unclaimed payment came back, by the provider's
	// report or after Rules.UnclaimedReturnAfter; its funds were released.
	EventReturned = "payout.payout.returned"
	// EventBlocked: the provider blocked the payment; its funds were
	// released.
	EventBlocked = "payout.payout.blocked"
	// EventReversed: the provider reversed a paid payment; what was paid
	// out was taken back from the member as far as they had it, the rest
	// left as their debt or written off (Rules.ReversalRecovery).
	EventReversed = "payout.payout.reversed"
	// EventLapsed: nobody reviewed the payout by its deadline; it was
	// rejected and its funds released.
	EventLapsed = "payout.payout.lapsed"
)

type linkData struct {
	Member   string `json:"member"`
	Provider string `json:"provider"`
	Account  string `json:"account"`
}

// payoutData is the data of every payout.payout.* event: the fields that
// do not apply to a type are left out.
type payoutData struct {
	Payout     string `json:"payout"`
	Member     string `json:"member"`
	Provider   string `json:"provider"`
	Status     Status `json:"status"`
	Amount     string `json:"amount"`
	Asset      string `json:"asset"`
	Net        string `json:"net"`
	Currency   string `json:"currency"`
	Source     string `json:"source,omitempty"`
	Gross      string `json:"gross,omitempty"`
	Fee        string `json:"fee,omitempty"`
	Shortfall  string `json:"shortfall,omitempty"`
	Reference  string `json:"reference,omitempty"`
	Actor      string `json:"actor,omitempty"`
	Reason     string `json:"reason,omitempty"`
	Recovered  string `json:"recovered,omitempty"`
	Debt       string `json:"debt,omitempty"`
	WrittenOff string `json:"written_off,omitempty"`
}

// emitPayout emits an event about po, with the payout's ID as its
// subject: its IDs, status and amounts, and what d adds (full adds the
// source and the conversion's gross and fee; a shortfall is always
// there when there is one).
func (p *Program) emitPayout(w *ledger.Writer, typ string, po *Payout, full bool, d payoutData) error {
	a, err := w.Asset(po.Rule.From)
	if err != nil {
		return err
	}
	to := p.rules.To
	d.Payout, d.Member, d.Provider, d.Status = po.ID, po.Member, p.rules.Provider, po.Status
	d.Amount, d.Asset = po.Amount.StringFixed(a.Precision), a.Code
	d.Net, d.Currency = po.Net.StringFixed(to.Precision), to.Code
	if full {
		d.Source, d.Gross, d.Fee = po.source(), po.Gross.StringFixed(to.Precision), po.Fee.StringFixed(to.Precision)
	}
	if po.Shortfall.Sign() > 0 {
		d.Shortfall = po.Shortfall.StringFixed(a.Precision)
	}
	return w.Emit(typ, po.ID, d)
}
