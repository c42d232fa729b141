package gifting

import "github.com/shopspring/decimal"

// The types of the events gifting emits (ledger.Writer.Emit), each in the
// unit of work of the change it reports: committed with its money, or
// never. A replayed call (Replayed set) emits nothing. Amounts in their
// data are decimal strings, counts of coins and diamonds included.
const (
	// EventPackBought: BuyPack sold a coin pack. Subject: the viewer.
	// Data: PackBought. TxID: the purchase's transaction.
	EventPackBought = "gifting.pack.bought"
	// EventGiftSent: SendGift sent gifts. Subject: the creator who
	// received them (whose LIVE overlay shows them). Data: GiftSent. TxID:
	// the gift's last transaction.
	EventGiftSent = "gifting.gift.sent"
	// EventChargebackRecorded: Chargeback undid a purchase. Subject: the
	// viewer who bought it. Data: ChargebackRecorded. TxID: the
	// chargeback's transaction.
	EventChargebackRecorded = "gifting.chargeback.recorded"
)

// PackBought is the data of EventPackBought.
type PackBought struct {
	PaymentRef string          `json:"payment_ref"`
	Viewer     string          `json:"viewer"`
	Pack       string          `json:"pack"`
	Coins      decimal.Decimal `json:"coins"` // issued to the viewer's wallet
	Price      decimal.Decimal `json:"price"` // paid, in Currency
	Currency   string          `json:"currency"`
}

// GiftSent is the data of EventGiftSent.
type GiftSent struct {
	EventID string          `json:"event_id"`
	Viewer  string          `json:"viewer"`
	Creator string          `json:"creator"`
	Gift    string          `json:"gift"`
	Count   int             `json:"count"`
	Live    string          `json:"live,omitempty"`
	Coins   decimal.Decimal `json:"coins"` // that left the viewer
	// Diamonds the creator received (zero when the share was too small to
	// make one: it all went to the platform).
	Diamonds decimal.Decimal `json:"diamonds"`
}

// ChargebackRecorded is the data of EventChargebackRecorded.
type ChargebackRecorded struct {
	PaymentRef string          `json:"payment_ref"`
	Viewer     string          `json:"viewer"`
	Actor      string          `json:"actor"` // the risk officer who recorded it
	Price      decimal.Decimal `json:"price"` // paid back, in Currency
	Currency   string          `json:"currency"`
	ClawedBack decimal.Decimal `json:"clawed_back"` // coins taken back from the viewer
	// Unrecovered coins the viewer had already spent beyond the wallet's
	// floor.
	Unrecovered decimal.Decimal `json:"unrecovered"`
	// Debt and WrittenOff split Unrecovered as rule chargeback_recovery
	// declares (the kit's gifting.clawback.recorded event has the same).
	Debt       decimal.Decimal `json:"debt"`
	WrittenOff decimal.Decimal `json:"written_off"`
}
