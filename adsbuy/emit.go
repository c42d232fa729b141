package adsbuy

import (
	"time"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/shopspring/decimal"
)

// The types of the events the program emits to the ledger's event log
// (ledger.Writer.Emit), each in the unit of work of the change it reports:
// committed with it or never, and not again when an event method is
// replayed. The package documentation lists each one's subject and data.
const (
	// EventAdvertiserOpened: an advertiser account was opened.
	EventAdvertiserOpened = "adsbuy.advertiser.opened"
	// EventToppedUp: a payment was credited to an advertiser's balance.
	EventToppedUp = "adsbuy.balance.topped_up"
	// EventCampaignBought: a campaign was bought and its budget held.
	EventCampaignBought = "adsbuy.campaign.bought"
	// EventCampaignApproved: a sales representative put a campaign live.
	EventCampaignApproved = "adsbuy.campaign.approved"
	// EventCampaignRejected: a sales representative rejected a campaign;
	// its budget went back to the balance.
	EventCampaignRejected = "adsbuy.campaign.rejected"
	// EventCampaignPaused: a live campaign was paused.
	EventCampaignPaused = "adsbuy.campaign.paused"
	// EventCampaignResumed: a paused campaign went live again.
	EventCampaignResumed = "adsbuy.campaign.resumed"
	// EventCampaignCancelled: a campaign was cancelled; what it had not
	// spent went back to the balance.
	EventCampaignCancelled = "adsbuy.campaign.cancelled"
	// EventCampaignSpent: a delivery report was charged to a campaign.
	EventCampaignSpent = "adsbuy.campaign.spent"
	// EventCampaignEnded: a campaign ended, its schedule over or its
	// budget spent; what it had not spent went back to the balance.
	EventCampaignEnded = "adsbuy.campaign.ended"
)

type advertiserData struct {
	Advertiser string `json:"advertiser"`
	Country    string `json:"country"`
}

type topUpData struct {
	Advertiser string `json:"advertiser"`
	Reference  string `json:"reference"`
	Amount     string `json:"amount"`
	Asset      string `json:"asset"`
}

// campaignData is the data of every adsbuy.campaign.* event: the fields
// that do not apply to a type are left out.
type campaignData struct {
	Campaign    string     `json:"campaign"`
	Advertiser  string     `json:"advertiser"`
	Asset       string     `json:"asset"`
	Budget      string     `json:"budget,omitempty"`
	Hold        uint64     `json:"hold,omitempty"`
	Start       *time.Time `json:"start,omitempty"`
	End         *time.Time `json:"end,omitempty"`
	Actor       string     `json:"actor,omitempty"`
	Reason      string     `json:"reason,omitempty"`
	Report      string     `json:"report,omitempty"`
	AdGroup     string     `json:"ad_group,omitempty"`
	Impressions *int64     `json:"impressions,omitempty"`
	Clicks      *int64     `json:"clicks,omitempty"`
	Charged     string     `json:"charged,omitempty"`
	Truncated   bool       `json:"truncated,omitempty"`
	Spent       string     `json:"spent,omitempty"`
	Released    string     `json:"released,omitempty"`
}

// emitCampaign emits an event about c, with the campaign's ID as its
// subject. The caller fills in what the type carries beyond the IDs.
func (p *Program) emitCampaign(w *ledger.Writer, typ string, c *Campaign, d campaignData) error {
	d.Campaign, d.Advertiser, d.Asset = c.ID, c.Advertiser, p.rules.Asset.Code
	return w.Emit(typ, c.ID, d)
}

// amount is an amount as events carry it: a decimal string in the asset's
// precision.
func (p *Program) amount(d decimal.Decimal) string { return d.StringFixed(p.rules.Asset.Precision) }
