package subscription

import (
	"time"

	"github.com/rewardkit/rewardkit/ledger"
)

// The types of the events the program emits to the ledger's event log
// (ledger.Writer.Emit), each in the unit of work of the change it reports:
// committed with it or never, and not again when an event method is
// replayed. The package documentation lists each one's subject and data.
const (
	// EventTiersPublished: a creator published or replaced their tiers.
	EventTiersPublished = "subscription.tiers.published"
	// EventStarted: a member subscribed and paid the first period.
	EventStarted = "subscription.subscription.started"
	// EventRenewed: a renewal (or a retry in grace) was charged and a
	// period started.
	EventRenewed = "subscription.subscription.renewed"
	// EventRenewalFailed: a renewal failed for lack of funds and the
	// subscription entered grace.
	EventRenewalFailed = "subscription.subscription.renewal_failed"
	// EventTierChanged: a member chose the tier their next renewal charges.
	EventTierChanged = "subscription.subscription.tier_changed"
	// EventCancelled: a member cancelled; the subscription is not renewed.
	EventCancelled = "subscription.subscription.cancelled"
	// EventEnded: a subscription ended (cancelled, lapsed, tier withdrawn,
	// refunded); perks stop.
	EventEnded = "subscription.subscription.ended"
	// EventRefunded: staff refunded the last payment of a subscription.
	EventRefunded = "subscription.subscription.refunded"
)

// tierData is a tier as an event names it.
type tierData struct {
	ID    string `json:"id"`
	Price string `json:"price"`
}

type tiersPublishedData struct {
	Creator string     `json:"creator"`
	Version int        `json:"version"`
	Asset   string     `json:"asset"`
	Tiers   []tierData `json:"tiers"`
}

// subData is the data of every subscription.subscription.* event: the
// fields that do not apply to a type are left out.
type subData struct {
	Member      string     `json:"member"`
	Creator     string     `json:"creator"`
	Tier        string     `json:"tier,omitempty"`
	NextTier    string     `json:"next_tier,omitempty"`
	Amount      string     `json:"amount,omitempty"`
	Asset       string     `json:"asset,omitempty"`
	PeriodStart *time.Time `json:"period_start,omitempty"`
	PeriodEnd   *time.Time `json:"period_end,omitempty"`
	GraceUntil  *time.Time `json:"grace_until,omitempty"`
	EndedAt     *time.Time `json:"ended_at,omitempty"`
	Reason      string     `json:"reason,omitempty"`
}

// emitSub emits an event about s, with the member as its subject. The
// caller fills in what the type carries beyond member and creator.
func emitSub(w *ledger.Writer, typ string, s *Subscription, d subData) error {
	d.Member, d.Creator = s.Member, s.Creator
	return w.Emit(typ, s.Member, d)
}

// paidData is the data of a charge that started a period.
func (p *Program) paidData(s *Subscription) subData {
	start, end := s.PeriodStart, s.PeriodEnd
	return subData{Tier: s.Tier.ID, Amount: s.Tier.Price.StringFixed(p.rules.Asset.Precision), Asset: p.rules.Asset.Code,
		PeriodStart: &start, PeriodEnd: &end}
}
