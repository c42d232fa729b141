package gifting

import (
	"fmt"
	"strings"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/shopspring/decimal"
)

// Pack is a coin pack on sale in one region through one sales channel.
type Pack struct {
	// ID names the pack in BuyPack ("it-app-70").
	ID      string `json:"id"`
	Region  string `json:"region"`  // ISO 3166 country the price list is for ("IT")
	Channel string `json:"channel"` // sales channel ("app", "web")
	Coins   int64  `json:"coins"`
	// Price is what the viewer pays, in Currency.
	Price    decimal.Decimal `json:"price"`
	Currency string          `json:"currency"`
}

// Gift is an entry of the gift catalogue.
type Gift struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Coins int64  `json:"coins"` // what one of it costs the viewer
}

// Money is an amount of a currency.
type Money struct {
	Amount   decimal.Decimal `json:"amount"`
	Currency string          `json:"currency"`
}

// Rules is the gifting program's rule set. Every number is data; see
// DefaultRules for the defaults and where they come from.
type Rules struct {
	// CoinAsset and DiamondAsset are the viewer and creator currencies.
	CoinAsset    string `json:"coin_asset"`
	DiamondAsset string `json:"diamond_asset"`
	// Currencies are the money assets packs are priced in (and the
	// diamond's cash value), with their precision.
	Currencies []ledger.Asset `json:"currencies"`
	// Packs is the price list per region and channel.
	Packs []Pack `json:"packs"`
	// Gifts is the catalogue.
	Gifts []Gift `json:"gifts"`
	// MaxGiftsPerSend bounds the count of one SendGift (a "combo").
	MaxGiftsPerSend int `json:"max_gifts_per_send"`
	// CreatorShare is the fraction of a gift's coin value converted into
	// diamonds for the creator; the rest is platform revenue.
	CreatorShare decimal.Decimal `json:"creator_share"`
	// ShareRounding rounds the creator's share to whole coins; what it
	// leaves goes to the platform.
	ShareRounding ledger.Rounding `json:"share_rounding"`
	// DiamondsPerCoin is the conversion rate of the creator's share, with
	// ConversionRounding; a remainder is platform revenue.
	DiamondsPerCoin    ledger.Rate     `json:"diamonds_per_coin"`
	ConversionRounding ledger.Rounding `json:"conversion_rounding"`
	// DiamondValue is what one diamond is worth when a creator cashes out
	// (data for payout and for CreatorEarnings).
	DiamondValue Money `json:"diamond_value"`
	// Minimum ages, in years.
	MinAgeBuy     int `json:"min_age_buy"`
	MinAgeSend    int `json:"min_age_send"`
	MinAgeReceive int `json:"min_age_receive"`
	// BlockedRecipientKinds are account kinds that may not receive gifts.
	BlockedRecipientKinds []string `json:"blocked_recipient_kinds,omitempty"`
	// DailySpendLimit bounds the coins one viewer may spend on gifts per
	// UTC day; 0 means no limit.
	DailySpendLimit int64 `json:"daily_spend_limit,omitempty"`
	// CoinOverdraft is how far below zero a chargeback may take a viewer's
	// coin balance (the overdraft of member accounts this program opens);
	// 0 means a chargeback claws back only what is there. Gifts never
	// spend into the overdraft.
	CoinOverdraft int64 `json:"coin_overdraft,omitempty"`
	// PaymentAccount is where pack money comes from: ledger.World or a
	// payment clearing account (opened Unbounded if missing).
	PaymentAccount string `json:"payment_account"`
}

// DefaultRules is the preset from PROGRAMS.md (gifting, currencies): the
// Italian 2022 price list sold in the app, a catalogue from a 1-coin rose
// to a 44,999-coin universe, 50% creator share, 1 diamond per coin of
// share, 0.005 USD per diamond, 18+ to buy, send and receive, no gifts to
// political accounts, no daily limit, no coin overdraft.
func DefaultRules() Rules {
	eur := func(s string) decimal.Decimal { return decimal.RequireFromString(s) }
	pack := func(coins int64, price string) Pack {
		return Pack{ID: fmt.Sprintf("it-app-%d", coins), Region: "IT", Channel: "app", Coins: coins, Price: eur(price), Currency: "EUR"}
	}
	return Rules{
		CoinAsset:    ledger.COIN.Code,
		DiamondAsset: ledger.DIAMOND.Code,
		Currencies:   []ledger.Asset{ledger.EUR, ledger.USD},
		Packs: []Pack{
			pack(70, "1.09"), pack(350, "5.49"), pack(1400, "21.99"),
			pack(3500, "54.99"), pack(7000, "109.99"),
		},
		Gifts: []Gift{
			{ID: "rose", Name: "Rose", Coins: 1},
			{ID: "finger-heart", Name: "Finger Heart", Coins: 5},
			{ID: "perfume", Name: "Perfume", Coins: 20},
			{ID: "doughnut", Name: "Doughnut", Coins: 30},
			{ID: "hand-hearts", Name: "Hand Hearts", Coins: 100},
			{ID: "galaxy", Name: "Galaxy", Coins: 1000},
			{ID: "lion", Name: "Lion", Coins: 29999},
			{ID: "universe", Name: "Universe", Coins: 44999},
		},
		MaxGiftsPerSend:       99,
		CreatorShare:          decimal.RequireFromString("0.5"),
		ShareRounding:         ledger.RoundDown,
		DiamondsPerCoin:       ledger.NewRate(1, 1),
		ConversionRounding:    ledger.RoundDown,
		DiamondValue:          Money{Amount: decimal.RequireFromString("0.005"), Currency: "USD"},
		MinAgeBuy:             18,
		MinAgeSend:            18,
		MinAgeReceive:         18,
		BlockedRecipientKinds: []string{"political"},
		PaymentAccount:        ledger.World,
	}
}

func invalid(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidRules, field, fmt.Sprintf(format, args...))
}

// Validate checks the rule set and names the first bad field.
func (r Rules) Validate() error {
	if err := ledger.ValidateAssetCode(r.CoinAsset); err != nil {
		return invalid("coin_asset", "%v", err)
	}
	if err := ledger.ValidateAssetCode(r.DiamondAsset); err != nil {
		return invalid("diamond_asset", "%v", err)
	}
	if r.CoinAsset == r.DiamondAsset {
		return invalid("diamond_asset", "must differ from coin_asset %s", r.CoinAsset)
	}
	cur := map[string]ledger.Asset{}
	for i, a := range r.Currencies {
		if err := a.Validate(); err != nil {
			return invalid(fmt.Sprintf("currencies[%d]", i), "%v", err)
		}
		if a.Code == r.CoinAsset || a.Code == r.DiamondAsset {
			return invalid(fmt.Sprintf("currencies[%d]", i), "%s is the coin or diamond asset", a.Code)
		}
		cur[a.Code] = a
	}
	if len(r.Packs) == 0 {
		return invalid("packs", "no coin pack")
	}
	ids := map[string]bool{}
	for i, p := range r.Packs {
		f := fmt.Sprintf("packs[%d]", i)
		if !validID(p.ID) || ids[p.ID] {
			return invalid(f+".id", "%q is empty, malformed or repeated", p.ID)
		}
		ids[p.ID] = true
		if p.Region == "" || p.Channel == "" {
			return invalid(f, "region and channel are required")
		}
		if p.Coins <= 0 {
			return invalid(f+".coins", "%d must be positive", p.Coins)
		}
		a, ok := cur[p.Currency]
		if !ok {
			return invalid(f+".currency", "%q is not in currencies", p.Currency)
		}
		if p.Price.Sign() <= 0 {
			return invalid(f+".price", "%s must be positive", p.Price)
		}
		if _, err := a.Units(p.Price); err != nil {
			return invalid(f+".price", "%v", err)
		}
	}
	if len(r.Gifts) == 0 {
		return invalid("gifts", "empty catalogue")
	}
	ids = map[string]bool{}
	for i, g := range r.Gifts {
		f := fmt.Sprintf("gifts[%d]", i)
		if !validID(g.ID) || ids[g.ID] {
			return invalid(f+".id", "%q is empty, malformed or repeated", g.ID)
		}
		ids[g.ID] = true
		if g.Coins <= 0 || g.Coins > 1e9 {
			return invalid(f+".coins", "%d not in 1..1e9", g.Coins)
		}
	}
	if r.MaxGiftsPerSend < 1 || r.MaxGiftsPerSend > 10000 {
		return invalid("max_gifts_per_send", "%d not in 1..10000", r.MaxGiftsPerSend)
	}
	if r.CreatorShare.Sign() < 0 || r.CreatorShare.GreaterThan(decimal.NewFromInt(1)) {
		return invalid("creator_share", "%s not in [0, 1]", r.CreatorShare)
	}
	if err := r.ShareRounding.Validate(); err != nil {
		return invalid("share_rounding", "%v", err)
	}
	if r.DiamondsPerCoin.IsZero() {
		return invalid("diamonds_per_coin", "missing")
	}
	if err := r.ConversionRounding.Validate(); err != nil {
		return invalid("conversion_rounding", "%v", err)
	}
	if err := r.conversionRule().Validate(); err != nil {
		return invalid("diamonds_per_coin", "%v", err)
	}
	if _, ok := cur[r.DiamondValue.Currency]; !ok {
		return invalid("diamond_value.currency", "%q is not in currencies", r.DiamondValue.Currency)
	}
	if r.DiamondValue.Amount.Sign() <= 0 {
		return invalid("diamond_value.amount", "%s must be positive", r.DiamondValue.Amount)
	}
	for f, a := range map[string]int{"min_age_buy": r.MinAgeBuy, "min_age_send": r.MinAgeSend, "min_age_receive": r.MinAgeReceive} {
		if a < 0 || a > 150 {
			return invalid(f, "%d not in 0..150", a)
		}
	}
	for i, k := range r.BlockedRecipientKinds {
		if strings.TrimSpace(k) == "" {
			return invalid(fmt.Sprintf("blocked_recipient_kinds[%d]", i), "empty kind")
		}
	}
	if r.DailySpendLimit < 0 {
		return invalid("daily_spend_limit", "%d is negative", r.DailySpendLimit)
	}
	if r.CoinOverdraft < 0 {
		return invalid("coin_overdraft", "%d is negative", r.CoinOverdraft)
	}
	if err := ledger.ValidateAddress(r.PaymentAccount); err != nil {
		return invalid("payment_account", "%v", err)
	}
	return nil
}

// conversionRule is the ledger conversion of the creator's coin share into
// diamonds: through the exchange account, rounding as declared, the
// remainder to platform revenue.
func (r Rules) conversionRule() ledger.ConversionRule {
	return ledger.ConversionRule{
		Name: "gifting:creator-share", From: r.CoinAsset, To: r.DiamondAsset,
		Rate: r.DiamondsPerCoin, Rounding: r.ConversionRounding,
		Exchange: ExchangeAccount, Remainder: RevenueAccount,
	}
}

// validID reports whether s can be embedded in an account address and a
// record id: one address segment (letters, digits and "_-.@+"), at most 64
// characters.
func validID(s string) bool {
	return len(s) <= 64 && !strings.ContainsRune(s, ':') && ledger.ValidateAddress(s) == nil
}
