package gifting

import (
	"fmt"
	"strings"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/shopspring/decimal"
)

// Pack is a coin pack on sale in one country through one sales channel.
type Pack struct {
	// ID names the pack in BuyPack ("it-app-70").
	ID      string `json:"id"`
	Country string `json:"country"` // ISO 3166 country the price list is for ("IT"), matched to kit.Member.Country
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
	// Packs is the price list per country and channel.
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
	// DiamondValue is what one diamond is worth when a creator cashes out:
	// the figure CreatorEarnings reports, and the one place the value is
	// configured. Gifting cashes nothing out; the integrator builds payout's
	// source from it (CashValue) and has payout withdraw from
	// EarningsAccount(id).
	DiamondValue Money `json:"diamond_value"`
	// Minimum ages, in years, on the unit of work's date in the member's
	// time zone (kit.Member.AtLeast); 0 asks no age (and no birth date).
	MinAgeBuy     int `json:"min_age_buy"`
	MinAgeSend    int `json:"min_age_send"`
	MinAgeReceive int `json:"min_age_receive"`
	// BlockedRecipientKinds are account kinds that may not receive gifts.
	BlockedRecipientKinds []string `json:"blocked_recipient_kinds,omitempty"`
	// DailySpendLimit bounds the coins one viewer may spend on gifts per
	// calendar day in the viewer's time zone (kit.Member.TimeZone; UTC
	// when unknown); 0 means no limit.
	DailySpendLimit int64 `json:"daily_spend_limit,omitempty"`
	// (The former rule coin_overdraft is gone: a member's wallet is shared
	// by every program and opened with the one kit.WalletPolicy they share,
	// so how far a chargeback may take a viewer's coins below zero is that
	// policy's Overdraft[coin asset], given to New with WithWallets. A rule
	// file that still sets coin_overdraft is refused, naming the field.)

	// PaymentAccount is where pack money comes from: ledger.World or a
	// payment clearing account (opened Unbounded if missing).
	PaymentAccount string `json:"payment_account"`
	// ChargebackRecovery is what a chargeback does with the pack's coins
	// the viewer already spent (kit.RecoveryPolicy): "write_off" books
	// them to a loss account, "recover" makes them the viewer's debt (up
	// to max coins), repaid from the next coins the viewer buys before
	// those can be spent. Empty (a rule file from before the rule) means
	// the default: write off to ChargebackLossAccount.
	ChargebackRecovery kit.RecoveryPolicy `json:"chargeback_recovery,omitzero"`
}

// ChargebackLossAccount is where the default ChargebackRecovery writes off
// the coins a chargeback could not take back: its balance (below zero) is
// the coins the platform lost to chargebacks.
const ChargebackLossAccount = "platform:chargeback-losses"

// chargebackRecovery is the rule with its default.
func (r Rules) chargebackRecovery() kit.RecoveryPolicy {
	if r.ChargebackRecovery.Mode == "" {
		return kit.WriteOff(ChargebackLossAccount)
	}
	return r.ChargebackRecovery
}

// DefaultRules is the preset from PROGRAMS.md (gifting, currencies): the
// Italian 2022 price list sold in the app, a catalogue from a 1-coin rose
// to a 44,999-coin universe, 50% creator share, 1 diamond per coin of
// share, 0.005 USD per diamond, 18+ to buy, send and receive, no gifts to
// political accounts, no daily limit, coins a chargeback cannot take back
// written off to ChargebackLossAccount.
func DefaultRules() Rules {
	eur := func(s string) decimal.Decimal { return decimal.RequireFromString(s) }
	pack := func(coins int64, price string) Pack {
		return Pack{ID: fmt.Sprintf("it-app-%d", coins), Country: "IT", Channel: "app", Coins: coins, Price: eur(price), Currency: "EUR"}
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
		ChargebackRecovery:    kit.WriteOff(ChargebackLossAccount),
	}
}

func invalid(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidRules, field, fmt.Sprintf(format, args...))
}

// invalidCause is invalid for a field refused by another check, keeping
// that check's error in the chain.
func invalidCause(field string, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrInvalidRules, field, err)
}

// Bounds on the decimals of a rule set, checked before any arithmetic on
// them: a decimal's exponent and digits are otherwise unbounded, and
// rescaling one with an exponent near 2^31 takes minutes or panics.
const (
	maxDecimalScale  = 18 // at most 18 decimals, at most ×10^18
	maxDecimalDigits = 38
)

// checkDecimal refuses a decimal whose exponent or number of digits is
// out of bounds, naming the field.
func checkDecimal(field string, d decimal.Decimal) error {
	if e := d.Exponent(); e < -maxDecimalScale || e > maxDecimalScale {
		return invalid(field, "exponent %d not in -%d..%d", e, maxDecimalScale, maxDecimalScale)
	}
	if n := d.NumDigits(); n > maxDecimalDigits {
		return invalid(field, "%d digits, at most %d", n, maxDecimalDigits)
	}
	return nil
}

// UnmarshalJSON decodes rules strictly: a field the rule set does not have
// (a misspelt name, or the removed coin_overdraft) is an error wrapping
// ErrInvalidRules that names it, and so is anything after the JSON value.
// Fields absent from the JSON keep their zero value; decoding does not
// validate (see Validate and ParseRules).
func (r *Rules) UnmarshalJSON(data []byte) error {
	type plain Rules // no methods: no recursion into UnmarshalJSON
	var v plain
	if err := kit.DecodeRules(data, &v); err != nil {
		if strings.Contains(err.Error(), `"coin_overdraft"`) {
			return fmt.Errorf("%w: %w (removed: the coin overdraft is the wallet policy's Overdraft[coin asset], see WithWallets)", ErrInvalidRules, err)
		}
		return fmt.Errorf("%w: %w", ErrInvalidRules, err)
	}
	*r = Rules(v)
	return nil
}

// ParseRules decodes a rule set from JSON strictly (see UnmarshalJSON) and
// validates it.
func ParseRules(data []byte) (Rules, error) {
	var r Rules
	if err := r.UnmarshalJSON(data); err != nil {
		return Rules{}, err
	}
	if err := r.Validate(); err != nil {
		return Rules{}, err
	}
	return r, nil
}

// Validate checks the rule set and names the first bad field.
func (r Rules) Validate() error {
	if err := ledger.ValidateAssetCode(r.CoinAsset); err != nil {
		return invalidCause("coin_asset", err)
	}
	if err := ledger.ValidateAssetCode(r.DiamondAsset); err != nil {
		return invalidCause("diamond_asset", err)
	}
	if r.CoinAsset == r.DiamondAsset {
		return invalid("diamond_asset", "must differ from coin_asset %s", r.CoinAsset)
	}
	cur := map[string]ledger.Asset{}
	for i, a := range r.Currencies {
		if err := a.Validate(); err != nil {
			return invalidCause(fmt.Sprintf("currencies[%d]", i), err)
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
		if err := kit.CheckID(ErrInvalidRules, f+".id", p.ID); err != nil {
			return err
		}
		if ids[p.ID] {
			return invalid(f+".id", "%q is repeated", p.ID)
		}
		ids[p.ID] = true
		if p.Country == "" || p.Channel == "" {
			return invalid(f, "country and channel are required")
		}
		if p.Coins <= 0 {
			return invalid(f+".coins", "%d must be positive", p.Coins)
		}
		a, ok := cur[p.Currency]
		if !ok {
			return invalid(f+".currency", "%q is not in currencies", p.Currency)
		}
		if err := checkDecimal(f+".price", p.Price); err != nil {
			return err
		}
		if p.Price.Sign() <= 0 {
			return invalid(f+".price", "%s must be positive", p.Price)
		}
		if _, err := a.Units(p.Price); err != nil {
			return invalidCause(f+".price", err)
		}
	}
	if len(r.Gifts) == 0 {
		return invalid("gifts", "empty catalogue")
	}
	ids = map[string]bool{}
	for i, g := range r.Gifts {
		f := fmt.Sprintf("gifts[%d]", i)
		if err := kit.CheckID(ErrInvalidRules, f+".id", g.ID); err != nil {
			return err
		}
		if ids[g.ID] {
			return invalid(f+".id", "%q is repeated", g.ID)
		}
		ids[g.ID] = true
		if g.Coins <= 0 || g.Coins > 1e9 {
			return invalid(f+".coins", "%d not in 1..1e9", g.Coins)
		}
	}
	if r.MaxGiftsPerSend < 1 || r.MaxGiftsPerSend > 10000 {
		return invalid("max_gifts_per_send", "%d not in 1..10000", r.MaxGiftsPerSend)
	}
	if err := checkDecimal("creator_share", r.CreatorShare); err != nil {
		return err
	}
	if r.CreatorShare.Sign() < 0 || r.CreatorShare.GreaterThan(decimal.NewFromInt(1)) {
		return invalid("creator_share", "%s not in [0, 1]", r.CreatorShare)
	}
	if err := r.ShareRounding.Validate(); err != nil {
		return invalidCause("share_rounding", err)
	}
	if r.DiamondsPerCoin.IsZero() {
		return invalid("diamonds_per_coin", "missing")
	}
	if err := r.ConversionRounding.Validate(); err != nil {
		return invalidCause("conversion_rounding", err)
	}
	if err := r.conversionRule().Validate(); err != nil {
		return invalidCause("diamonds_per_coin", err)
	}
	if _, ok := cur[r.DiamondValue.Currency]; !ok {
		return invalid("diamond_value.currency", "%q is not in currencies", r.DiamondValue.Currency)
	}
	if err := checkDecimal("diamond_value.amount", r.DiamondValue.Amount); err != nil {
		return err
	}
	if r.DiamondValue.Amount.Sign() <= 0 {
		return invalid("diamond_value.amount", "%s must be positive", r.DiamondValue.Amount)
	}
	if r.CashValue().Rate.IsZero() {
		return invalid("diamond_value.amount", "%s is not a rate", r.DiamondValue.Amount)
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
	if err := ledger.ValidateAddress(r.PaymentAccount); err != nil {
		return invalidCause("payment_account", err)
	}
	if err := checkDecimal("chargeback_recovery.max", r.ChargebackRecovery.Max); err != nil {
		return err
	}
	if err := r.chargebackRecovery().Validate(); err != nil {
		return invalidCause("chargeback_recovery", err)
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

// CashValue returns rule diamond_value in the ledger's terms: a conversion
// rule from the diamond asset to the diamond_value currency at
// diamond_value.amount per diamond, rounded down (never more than the exact
// value, as CreatorEarnings reports it). It is how a diamond's cash value is
// handed to payout, so that it is configured once, here:
//
//	cash, err := payout.New(ctx, l, payout.CreatorRules(giftRules.CashValue()), provider)
//
// The rule names no accounts and no fee: whoever converts (payout) books
// the conversion through its own accounts and charges its own fee.
func (r Rules) CashValue() ledger.ConversionRule {
	rate, _ := ledger.ParseRate(r.DiamondValue.Amount.String()) // zero (refused by Validate) if not positive
	return ledger.ConversionRule{Name: "gifting:diamond-value", From: r.DiamondAsset, To: r.DiamondValue.Currency,
		Rate: rate, Rounding: ledger.RoundDown}
}
