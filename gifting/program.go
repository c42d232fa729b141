package gifting

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/shopspring/decimal"
)

// System account addresses (see doc.go for every address).
const (
	// RevenueAccount receives the platform's share of gifts, in coins.
	RevenueAccount = "platform:revenue"
	// CoinSalesAccount receives the money viewers pay for coin packs and
	// pays it back on a chargeback.
	CoinSalesAccount = "platform:coin-sales"
	// ExchangeAccount is the coin→diamond exchange (Unbounded): it holds the
	// coins of creators' shares and is short the diamonds issued for them.
	ExchangeAccount = "gifting:exchange"
)

// MemberAccount is a member's wallet, shared with the other programs:
// kit.WalletAccount(id).
func MemberAccount(id string) string { return kit.WalletAccount(id) }

// EarningsAccount is a creator's earnings account, where their diamonds
// accumulate (not the member's wallet): "creator:<id>:diamonds". Gifting
// never takes diamonds out of it; to cash them out, have payout withdraw
// from it (payout.WithdrawRequest.Source = EarningsAccount(id)), at the
// value this program's rules give (Rules.CashValue).
func EarningsAccount(id string) string { return "creator:" + id + ":diamonds" }

// Record kinds the program keeps beside the ledger.
const (
	kindEvent    = "gifting.event"    // id: "buy:" payment ref, "gift:" event id, "chargeback:" payment ref (kit.Once)
	kindPurchase = "gifting.purchase" // id: payment reference
	kindLive     = "gifting.live"     // id: LIVE id
	kindGifter   = "gifting.gifter"   // id: LIVE id "/" viewer id
	kindCap      = "gifting.cap"      // id: rule ":" viewer id ":" date (kit.Take)
)

// Operations under kindEvent, for kit.Once.
const (
	opBuyPack    = "buy_pack"
	opSendGift   = "send_gift"
	opChargeback = "chargeback"
)

// Option configures a Program.
type Option func(*Program)

// WithWallets sets the policy members' wallets are opened with: the same
// kit.WalletPolicy every program of the platform is given, so that the
// first program to open a member's wallet opens it the way all of them
// would. Its Overdraft[coin asset] is how far below zero a chargeback may
// take a viewer's coins (gifts never spend into it). The default is the
// zero policy: no overdraft. A wallet already open is used as it is.
func WithWallets(policy kit.WalletPolicy) Option {
	return func(p *Program) { p.wallets = policy }
}

// WithRoles sets the directory that says who may record a chargeback
// (kit.RoleRiskOfficer). Without it, nobody may.
func WithRoles(roles kit.Roles) Option {
	return func(p *Program) { p.roles = roles }
}

// Program runs the gifting rules over a ledger.
type Program struct {
	l       *ledger.Ledger
	rules   Rules
	members kit.Members
	wallets kit.WalletPolicy
	roles   kit.Roles
	packs   map[string]Pack
	gifts   map[string]Gift
	assets  map[string]ledger.Asset
	rule    ledger.ConversionRule
	blocked map[string]bool
}

// New validates rules and the options, defines the assets and opens the
// system accounts (both idempotently), and returns the program.
func New(ctx context.Context, l *ledger.Ledger, rules Rules, members kit.Members, opts ...Option) (*Program, error) {
	if err := rules.Validate(); err != nil {
		return nil, err
	}
	if members == nil {
		return nil, fmt.Errorf("%w: members: nil directory", ErrInvalidRules)
	}
	p := &Program{l: l, rules: rules, members: members, packs: map[string]Pack{}, gifts: map[string]Gift{},
		assets: map[string]ledger.Asset{}, rule: rules.conversionRule(), blocked: map[string]bool{}}
	for _, o := range opts {
		o(p)
	}
	for code, od := range p.wallets.Overdraft {
		f := "wallets.overdraft." + code
		if err := checkDecimal(f, od); err != nil {
			return nil, err
		}
		if od.Sign() < 0 {
			return nil, invalid(f, "%s is negative", od)
		}
	}
	for _, pk := range rules.Packs {
		p.packs[pk.ID] = pk
	}
	for _, g := range rules.Gifts {
		p.gifts[g.ID] = g
	}
	for _, k := range rules.BlockedRecipientKinds {
		p.blocked[k] = true
	}
	assets := append([]ledger.Asset{{Code: rules.CoinAsset}, {Code: rules.DiamondAsset}}, rules.Currencies...)
	for _, a := range assets {
		p.assets[a.Code] = a
	}
	err := l.Update(ctx, func(w *ledger.Writer) error {
		for _, a := range assets {
			if err := w.DefineAsset(a); err != nil {
				return err
			}
		}
		for _, addr := range []string{ledger.World, ExchangeAccount} {
			if _, err := w.OpenAccount(ledger.AccountSpec{Address: addr, Overdraft: ledger.Overdraft{Unbounded: true}}); err != nil {
				return err
			}
		}
		if err := kit.OpenIfMissing(w, rules.PaymentAccount, ledger.Overdraft{Unbounded: true}); err != nil {
			return err
		}
		for _, addr := range []string{RevenueAccount, CoinSalesAccount} {
			if err := kit.OpenIfMissing(w, addr, ledger.Overdraft{}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("gifting: setting up the ledger: %w", err)
	}
	if err := p.wallets.Check(ctx, l); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidRules, err)
	}
	return p, nil
}

// Rules returns the program's rules.
func (p *Program) Rules() Rules { return p.rules }

// ConversionRule returns the ledger rule that converts a creator's coin
// share into diamonds.
func (p *Program) ConversionRule() ledger.ConversionRule { return p.rule }

// CashValue returns what a diamond is worth in cash (Rules.CashValue): the
// value to build payout's source from, so that it is configured once.
func (p *Program) CashValue() ledger.ConversionRule { return p.rules.CashValue() }

// Packs lists the coin packs on sale in a country through a channel, by
// number of coins.
func (p *Program) Packs(country, channel string) []Pack {
	var out []Pack
	for _, pk := range p.rules.Packs {
		if pk.Country == country && pk.Channel == channel {
			out = append(out, pk)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Coins < out[j].Coins })
	return out
}

// member looks a member up with the unit of work's context (kit.Members
// must not use the ledger, so the lookup may run inside w).
func (p *Program) member(w *ledger.Writer, id string) (kit.Member, error) {
	return p.members.Member(w.Context(), id)
}

// oldEnough applies an age rule (rule is its JSON name): a member under
// min years on the unit of work's date is refused by the rule; a member
// whose age cannot be told (no birth date) is kit.ErrMemberFacts, never a
// yes. A rule of 0 asks nothing.
func oldEnough(m kit.Member, min int, at time.Time, rule, role, action string) error {
	if min == 0 {
		return nil
	}
	ok, err := m.AtLeast(min, at)
	if err != nil {
		return ledger.Refuse(err, rule, "")
	}
	if !ok {
		return ledger.Refuse(ErrIneligible, rule, "%s %q is under %d, the age to %s", role, m.ID, min, action)
	}
	return nil
}

// now is the unit of work's time, refused outside the ledger's time range
// (it dates records and picks the day of the daily spend limit).
func now(w *ledger.Writer) (time.Time, error) {
	t := w.Now()
	if err := ledger.ValidateTime("clock", t); err != nil {
		return time.Time{}, err
	}
	return t, nil
}

// eventError adds what the event was to the error of an event method,
// after the cause: "gifting: unknown coin pack: "x" (buy pack x for ann)".
// An event ID reused with other arguments also matches
// ErrIdempotencyConflict. The package prefix appears once: the program's
// sentinels carry it, other causes get it here.
func eventError(err error, format string, args ...any) error {
	what := fmt.Sprintf(format, args...)
	if errors.Is(err, ledger.ErrIdempotencyConflict) && !errors.Is(err, ErrIdempotencyConflict) {
		return fmt.Errorf("%w: %w (%s)", ErrIdempotencyConflict, err, what)
	}
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return fmt.Errorf("%w (%s)", err, what)
		}
	}
	return fmt.Errorf("gifting: %w (%s)", err, what)
}

// checkID judges an ID a request names.
func checkID(field, id string) error { return kit.CheckID(ErrInvalidRequest, field, id) }

// Purchase is a coin pack bought with money, keyed by its payment
// reference.
type Purchase struct {
	PaymentRef  string          `json:"payment_ref"`
	Viewer      string          `json:"viewer"`
	Pack        string          `json:"pack"`
	Coins       int64           `json:"coins"`
	Price       decimal.Decimal `json:"price"`
	Currency    string          `json:"currency"`
	Transaction uint64          `json:"transaction"`
	At          time.Time       `json:"at"`
	// Repaid is how many of the pack's coins went to repay the viewer's
	// debt from an earlier chargeback (rule chargeback_recovery).
	Repaid int64 `json:"repaid,omitempty"`
	// Set by a chargeback.
	ChargedBack bool  `json:"charged_back,omitempty"`
	ClawedBack  int64 `json:"clawed_back,omitempty"` // coins taken back from the viewer, held ones included
	Unrecovered int64 `json:"unrecovered,omitempty"` // coins the viewer had already spent, beyond the overdraft
	// Unrecovered is Debt + WrittenOff, as rule chargeback_recovery
	// placed it: Debt coins the viewer now owes (repaid from the next
	// coins they buy), WrittenOff coins booked to the loss account.
	Debt         int64     `json:"debt,omitempty"`
	WrittenOff   int64     `json:"written_off,omitempty"`
	ChargebackTx uint64    `json:"chargeback_tx,omitempty"`
	ChargebackAt time.Time `json:"chargeback_at,omitzero"`
	ChargebackBy string    `json:"chargeback_by,omitempty"` // the risk officer who recorded it
	// Replayed is set when the call was a retry of an event already done:
	// the purchase is returned as it was when that event ran (a retried
	// BuyPack does not show a later chargeback).
	Replayed bool `json:"-"`
}

// buyRequest is what a payment reference stands for (kit.Once
// fingerprints it; its JSON is that of earlier versions, so their events
// still replay).
type buyRequest struct {
	Viewer string `json:"viewer"`
	Pack   string `json:"pack"`
}

// BuyPackRequest is a member buying a coin pack.
type BuyPackRequest struct {
	// PaymentRef is the payment's reference from the payment provider:
	// the idempotency key of the purchase and its ID (PurchaseByRef,
	// ChargebackRequest.PaymentRef).
	PaymentRef string `json:"payment_ref"`
	// Actor is the member who buys: the coins go to their wallet.
	Actor string `json:"actor"`
	// Pack is the coin pack's ID (Pack.ID).
	Pack string `json:"pack"`
}

// BuyPack sells a coin pack: BuyPackIn in a unit of work of its own.
func (p *Program) BuyPack(ctx context.Context, req BuyPackRequest) (Purchase, error) {
	return kit.Run(ctx, p.l, func(w *ledger.Writer) (Purchase, error) { return p.BuyPackIn(w, req) })
}

// BuyPackIn sells a coin pack inside the caller's unit of work w: the
// price moves from the payment account to platform:coin-sales and the
// pack's coins are issued from world to the actor's wallet, in one
// transaction. The pack must be sold in the actor's country (rule packs)
// and the actor old enough (rule min_age_buy). PaymentRef is the
// idempotency key, checked first: a retry with the same actor and pack
// returns the first purchase with Replayed set and moves nothing, whatever
// changed since (the actor's country or age, the price list); with another
// actor or pack it is ErrIdempotencyConflict. It writes only through w and
// calls nothing outside the ledger but the member directory, so it is safe
// in a unit of work that is retried or rolled back.
func (p *Program) BuyPackIn(w *ledger.Writer, req BuyPackRequest) (Purchase, error) {
	what := func() string { return fmt.Sprintf("buy pack %s for %s", req.Pack, req.Actor) }
	if err := checkID("payment reference", req.PaymentRef); err != nil {
		return Purchase{}, eventError(err, "%s", what())
	}
	if err := checkID("actor", req.Actor); err != nil {
		return Purchase{}, eventError(err, "%s", what())
	}
	ev := kit.Event{Kind: kindEvent, ID: "buy:" + req.PaymentRef, Op: opBuyPack, Request: buyRequest{Viewer: req.Actor, Pack: req.Pack}}
	out, replay, err := kit.Once(w, ev, func(w *ledger.Writer) (Purchase, error) { return p.buyPack(w, req) })
	if err != nil {
		return Purchase{}, eventError(err, "%s", what())
	}
	out.Replayed = replay
	return out, nil
}

// buyPack is BuyPack's first run, inside kit.Once.
func (p *Program) buyPack(w *ledger.Writer, req BuyPackRequest) (Purchase, error) {
	at, err := now(w)
	if err != nil {
		return Purchase{}, err
	}
	pack, ok := p.packs[req.Pack]
	if !ok {
		return Purchase{}, fmt.Errorf("%w: %q", ErrUnknownPack, req.Pack)
	}
	m, err := p.member(w, req.Actor)
	if err != nil {
		return Purchase{}, err
	}
	if err := oldEnough(m, p.rules.MinAgeBuy, at, "min_age_buy", "viewer", "buy coins"); err != nil {
		return Purchase{}, err
	}
	if m.Country != pack.Country {
		return Purchase{}, ledger.Refuse(ErrIneligible, "packs", "pack %q is sold in %q, viewer %q lives in %q", pack.ID, pack.Country, req.Actor, m.Country)
	}
	// The coins go through kit.Credit: a debt from an earlier chargeback
	// (rule chargeback_recovery "recover") is repaid from them first.
	t, err := kit.Credit(w, kit.CreditRequest{Program: "gifting", Key: "gifting:purchase:" + req.PaymentRef, Member: req.Actor,
		Asset: p.rules.CoinAsset, Amount: decimal.NewFromInt(pack.Coins), From: ledger.World, Wallets: p.wallets,
		Postings: []ledger.Posting{{From: p.rules.PaymentAccount, To: CoinSalesAccount, Asset: pack.Currency, Amount: pack.Price}},
		Metadata: map[string]string{"program": "gifting", "event": "purchase", "pack": pack.ID}})
	if err != nil {
		return Purchase{}, err
	}
	pu := Purchase{PaymentRef: req.PaymentRef, Viewer: req.Actor, Pack: pack.ID, Coins: pack.Coins,
		Price: pack.Price, Currency: pack.Currency, Transaction: t.Tx, At: at, Repaid: t.Repaid.IntPart()}
	if err := w.CreateJSON(kindPurchase, req.PaymentRef, pu); err != nil {
		return Purchase{}, err
	}
	if err := w.Emit(EventPackBought, req.Actor, PackBought{PaymentRef: req.PaymentRef, Viewer: req.Actor, Pack: pack.ID,
		Coins: decimal.NewFromInt(pack.Coins), Price: pack.Price, Currency: pack.Currency}); err != nil {
		return Purchase{}, err
	}
	return pu, nil
}

// chargebackRequest is what a chargeback's event stands for: the purchase,
// whoever records it.
type chargebackRequest struct {
	PaymentRef string `json:"payment_ref"`
}

// ChargebackRequest is a risk officer recording that the payer's bank
// reversed a coin purchase.
type ChargebackRequest struct {
	// Actor is the staff member who records it: they must hold
	// kit.RoleRiskOfficer (WithRoles) and not be the viewer.
	Actor string `json:"actor"`
	// PaymentRef is the purchase's payment reference; a chargeback is keyed
	// by it.
	PaymentRef string `json:"payment_ref"`
}

// Chargeback records a chargeback: ChargebackIn in a unit of work of its
// own.
func (p *Program) Chargeback(ctx context.Context, req ChargebackRequest) (Purchase, error) {
	return kit.Run(ctx, p.l, func(w *ledger.Writer) (Purchase, error) { return p.ChargebackIn(w, req) })
}

// ChargebackIn undoes a coin purchase whose payment was reversed by the
// payer's bank, inside the caller's unit of work w: the full price goes
// back from platform:coin-sales to the payment account, and the pack's
// coins are clawed back from the viewer's wallet to world, as far as the
// wallet's floor allows (zero, or minus its coin overdraft under the
// wallet policy, see WithWallets). Coins the viewer holds for an open
// order (a shoutout's escrow) are clawed back too: a hold left without
// coins behind it can be voided but not captured. Only coins the viewer
// already spent beyond the floor are recorded as Unrecovered and placed by
// rule chargeback_recovery (kit.Claw): a debt, or a write-off.
//
// The actor must hold kit.RoleRiskOfficer in the WithRoles directory and
// not be the viewer; otherwise the call fails with ledger.ErrForbidden and
// writes nothing. A chargeback is keyed by the payment reference: a
// repeat, by any risk officer, returns the first result with Replayed set.
// Like every In method it writes only through w.
func (p *Program) ChargebackIn(w *ledger.Writer, req ChargebackRequest) (Purchase, error) {
	what := func() string { return "chargeback of " + req.PaymentRef }
	if err := checkID("payment reference", req.PaymentRef); err != nil {
		return Purchase{}, eventError(err, "%s", what())
	}
	if err := kit.Authorize(w.Context(), p.roles, req.Actor, kit.RoleRiskOfficer); err != nil {
		return Purchase{}, eventError(err, "%s", what())
	}
	ev := kit.Event{Kind: kindEvent, ID: "chargeback:" + req.PaymentRef, Op: opChargeback, Request: chargebackRequest{PaymentRef: req.PaymentRef}}
	out, replay, err := kit.Once(w, ev, func(w *ledger.Writer) (Purchase, error) {
		return p.chargeback(w, req.Actor, req.PaymentRef)
	})
	if err != nil {
		return Purchase{}, eventError(err, "%s", what())
	}
	out.Replayed = replay
	return out, nil
}

// chargeback is Chargeback's first run, inside kit.Once.
func (p *Program) chargeback(w *ledger.Writer, actor, paymentRef string) (Purchase, error) {
	at, err := now(w)
	if err != nil {
		return Purchase{}, err
	}
	var pu Purchase
	if err := w.LoadJSON(kindPurchase, paymentRef, &pu); err != nil {
		if errors.Is(err, ledger.ErrNotFound) {
			return Purchase{}, fmt.Errorf("%w: purchase %q", ErrNotFound, paymentRef)
		}
		return Purchase{}, err
	}
	if pu.Viewer == actor {
		return Purchase{}, fmt.Errorf("%w: %q may not record a chargeback of their own purchase", ledger.ErrForbidden, actor)
	}
	if pu.ChargedBack {
		return pu, nil
	}
	c, err := kit.Claw(w, kit.ClawRequest{Program: "gifting", Key: "gifting:chargeback:" + paymentRef, Member: pu.Viewer,
		Asset: p.rules.CoinAsset, Amount: decimal.NewFromInt(pu.Coins), To: ledger.World, Policy: p.rules.chargebackRecovery(),
		Reason: "chargeback", Metadata: map[string]string{"program": "gifting", "event": "chargeback"},
		Postings: []ledger.Posting{{From: CoinSalesAccount, To: p.rules.PaymentAccount, Asset: pu.Currency, Amount: pu.Price}}})
	if err != nil {
		return Purchase{}, err
	}
	claw := c.Taken.IntPart()
	pu.ChargedBack, pu.ClawedBack, pu.Unrecovered = true, claw, pu.Coins-claw
	pu.Debt, pu.WrittenOff = c.Debt.IntPart(), c.WrittenOff.IntPart()
	pu.ChargebackTx, pu.ChargebackAt, pu.ChargebackBy = c.Tx, at, actor
	if err := w.SaveJSON(kindPurchase, paymentRef, pu); err != nil {
		return Purchase{}, err
	}
	if err := w.Emit(EventChargebackRecorded, pu.Viewer, ChargebackRecorded{PaymentRef: paymentRef, Viewer: pu.Viewer, Actor: actor,
		Price: pu.Price, Currency: pu.Currency, ClawedBack: decimal.NewFromInt(claw), Unrecovered: decimal.NewFromInt(pu.Unrecovered),
		Debt: c.Debt, WrittenOff: c.WrittenOff}); err != nil {
		return Purchase{}, err
	}
	return pu, nil
}

// SendGiftRequest is a viewer sending Count of one gift to a creator,
// optionally within a LIVE.
type SendGiftRequest struct {
	// EventID is the caller's ID of the gift: its idempotency key.
	EventID string `json:"event_id"`
	// Actor is the viewer who sends the gift and pays its coins.
	Actor string `json:"actor"`
	// Creator is the member who receives the diamonds.
	Creator string `json:"creator"`
	// Gift is the gift's ID in the catalogue; Count how many of it.
	Gift  string `json:"gift"`
	Count int    `json:"count"`
	// Live is the LIVE the gift is sent in ("" for none).
	Live string `json:"live,omitempty"`
}

// giftRequest is what a gift's event ID stands for (kit.Once
// fingerprints it; its JSON is that of earlier versions, so their events
// still replay).
type giftRequest struct {
	Viewer  string `json:"viewer"`
	Creator string `json:"creator"`
	Gift    string `json:"gift"`
	Count   int    `json:"count"`
	Live    string `json:"live,omitempty"`
}

// GiftResult is what a sent gift moved.
type GiftResult struct {
	EventID string          `json:"event_id"`
	Request SendGiftRequest `json:"request"`
	// Coins left the viewer: CreatorCoins were converted for the creator,
	// PlatformCoins (including any rounding remainder) are revenue.
	Coins         int64 `json:"coins"`
	CreatorCoins  int64 `json:"creator_coins"`
	PlatformCoins int64 `json:"platform_coins"`
	// Diamonds the creator received.
	Diamonds     int64     `json:"diamonds"`
	Transactions []uint64  `json:"transactions"`
	At           time.Time `json:"at"`
	// Replayed is set when the call was a retry of a gift already sent:
	// the result is the one of the first call, and nothing moved.
	Replayed bool `json:"-"`
}

// SendGift sends gifts: SendGiftIn in a unit of work of its own.
func (p *Program) SendGift(ctx context.Context, req SendGiftRequest) (GiftResult, error) {
	return kit.Run(ctx, p.l, func(w *ledger.Writer) (GiftResult, error) { return p.SendGiftIn(w, req) })
}

// SendGiftIn sends gifts inside the caller's unit of work w: their coins
// leave the actor's wallet; the creator's share (rule creator_share,
// rounded by share_rounding) is converted into diamonds in the creator's
// EarningsAccount by a ledger conversion; the rest, with any conversion
// remainder, is platform revenue. A share too small to make a single
// diamond (a 1-coin rose at 50%) is all platform revenue rather than a
// refusal. Coins only ever go to platform accounts, never to another
// member. EventID makes it idempotent and is checked first: a retry with
// the same request returns the first result with Replayed set, whatever
// changed since (the members' facts, the catalogue, the rules); with
// another request it is ErrIdempotencyConflict. It writes only through w.
func (p *Program) SendGiftIn(w *ledger.Writer, req SendGiftRequest) (GiftResult, error) {
	what := func() string { return fmt.Sprintf("gift %s from %s to %s", req.EventID, req.Actor, req.Creator) }
	for _, c := range []struct{ field, id string }{{"event id", req.EventID}, {"actor", req.Actor}, {"creator", req.Creator}} {
		if err := checkID(c.field, c.id); err != nil {
			return GiftResult{}, eventError(err, "%s", what())
		}
	}
	if req.Live != "" {
		if err := checkID("live", req.Live); err != nil {
			return GiftResult{}, eventError(err, "%s", what())
		}
	}
	ev := kit.Event{Kind: kindEvent, ID: "gift:" + req.EventID, Op: opSendGift,
		Request: giftRequest{Viewer: req.Actor, Creator: req.Creator, Gift: req.Gift, Count: req.Count, Live: req.Live}}
	out, replay, err := kit.Once(w, ev, func(w *ledger.Writer) (GiftResult, error) { return p.sendGift(w, req) })
	if err != nil {
		return GiftResult{}, eventError(err, "%s", what())
	}
	out.Replayed = replay
	return out, nil
}

// sendGift is SendGift's first run, inside kit.Once.
func (p *Program) sendGift(w *ledger.Writer, req SendGiftRequest) (GiftResult, error) {
	at, err := now(w)
	if err != nil {
		return GiftResult{}, err
	}
	gift, ok := p.gifts[req.Gift]
	if !ok {
		return GiftResult{}, fmt.Errorf("%w: %q", ErrUnknownGift, req.Gift)
	}
	if req.Count < 1 || req.Count > p.rules.MaxGiftsPerSend {
		return GiftResult{}, ledger.Refuse(ErrInvalidRequest, "max_gifts_per_send", "count %d not in 1..%d", req.Count, p.rules.MaxGiftsPerSend)
	}
	if req.Actor == req.Creator {
		return GiftResult{}, fmt.Errorf("%w: %q may not send gifts to themself", ErrIneligible, req.Actor)
	}
	viewer, err := p.member(w, req.Actor)
	if err != nil {
		return GiftResult{}, err
	}
	creator, err := p.member(w, req.Creator)
	if err != nil {
		return GiftResult{}, err
	}
	if err := oldEnough(viewer, p.rules.MinAgeSend, at, "min_age_send", "viewer", "send gifts"); err != nil {
		return GiftResult{}, err
	}
	if err := oldEnough(creator, p.rules.MinAgeReceive, at, "min_age_receive", "creator", "receive gifts"); err != nil {
		return GiftResult{}, err
	}
	if p.blocked[creator.Kind] {
		return GiftResult{}, ledger.Refuse(ErrIneligible, "blocked_recipient_kinds", "creator %q has a %q account, which may not receive gifts", req.Creator, creator.Kind)
	}
	coins, err := kit.Mul("gift cost", gift.Coins, int64(req.Count))
	if err != nil {
		return GiftResult{}, err
	}
	share := roundUnits(decimal.NewFromInt(coins).Mul(p.rules.CreatorShare), p.rules.ShareRounding)
	share = min(max(share, 0), coins)

	res := GiftResult{EventID: req.EventID, Request: req, Coins: coins, At: at}
	from, err := kit.OpenWallet(w, p.wallets, req.Actor)
	if err != nil {
		return GiftResult{}, err
	}
	if err := kit.OpenIfMissing(w, EarningsAccount(req.Creator), ledger.Overdraft{}); err != nil {
		return GiftResult{}, err
	}
	bal, err := w.Balance(from, p.rules.CoinAsset)
	if err != nil {
		return GiftResult{}, err
	}
	if bal.Available.LessThan(decimal.NewFromInt(coins)) {
		return GiftResult{}, fmt.Errorf("%w: viewer %q has %s %s available, the gifts cost %d", ErrInsufficientCoins,
			req.Actor, bal.Available, p.rules.CoinAsset, coins)
	}
	if err := p.spend(w, at, viewer, coins); err != nil {
		return GiftResult{}, err
	}
	rest := coins - share // the platform's share, posted below
	if share > 0 {
		// Quote first: a share worth less than one diamond is platform
		// revenue, not a refused gift (Convert would refuse it).
		_, qerr := p.rule.Quote(p.assets[p.rules.CoinAsset], p.assets[p.rules.DiamondAsset], share)
		switch {
		case errors.Is(qerr, ledger.ErrInvalidAmount):
			rest = coins
		case qerr != nil:
			return GiftResult{}, qerr
		default:
			conv, err := w.Convert(ledger.ConversionRequest{
				Key: "gifting:gift:" + req.EventID + ":share", Rule: p.rule, From: from, To: EarningsAccount(req.Creator),
				Amount: decimal.NewFromInt(share), Metadata: map[string]string{"program": "gifting", "event": "gift", "gift": gift.ID},
			})
			if err != nil {
				return GiftResult{}, err
			}
			rem := conv.Remainder.IntPart() // booked to platform:revenue by the conversion
			res.CreatorCoins = share - rem
			res.Diamonds = conv.Net.IntPart()
			res.Transactions = append(res.Transactions, conv.Transaction.ID)
		}
	}
	res.PlatformCoins = coins - res.CreatorCoins
	if rest > 0 {
		t, err := w.Post(ledger.TransferRequest{
			Key:      "gifting:gift:" + req.EventID + ":platform",
			Postings: []ledger.Posting{{From: from, To: RevenueAccount, Asset: p.rules.CoinAsset, Amount: decimal.NewFromInt(rest)}},
			Metadata: map[string]string{"program": "gifting", "event": "gift", "gift": gift.ID},
		})
		if err != nil {
			return GiftResult{}, err
		}
		res.Transactions = append(res.Transactions, t.ID)
	}
	if req.Live != "" {
		if err := p.addToLive(w, req, gift, res); err != nil {
			return GiftResult{}, err
		}
	}
	if err := w.Emit(EventGiftSent, req.Creator, GiftSent{EventID: req.EventID, Viewer: req.Actor, Creator: req.Creator,
		Gift: gift.ID, Count: req.Count, Live: req.Live, Coins: decimal.NewFromInt(coins), Diamonds: decimal.NewFromInt(res.Diamonds)}); err != nil {
		return GiftResult{}, err
	}
	return res, nil
}

// spendCap is the rule daily_spend_limit as a kit cap: coins per viewer
// per calendar day in the viewer's time zone.
func (p *Program) spendCap() kit.Cap {
	return kit.Cap{Kind: kindCap, Name: "daily_spend_limit", Err: ErrDailyLimit, Period: kit.PeriodDay,
		MaxUnits: p.rules.DailySpendLimit, Unit: "coins"}
}

// spend counts coins against the viewer's daily limit (rule
// daily_spend_limit) in the gift's unit of work, by the viewer's local
// day (kit.Member.Location; UTC when the member has no time zone).
func (p *Program) spend(w *ledger.Writer, at time.Time, viewer kit.Member, coins int64) error {
	c := p.spendCap()
	if !c.On() || coins <= 0 {
		return nil
	}
	loc, err := viewer.Location()
	if err != nil {
		// The rule that needs the fact refuses, and says so.
		return ledger.Refuse(err, "daily_spend_limit", "")
	}
	_, err = kit.Take(w, c, kit.Use{Subject: viewer.ID, At: at, Loc: loc, Units: coins})
	return err
}

// SpendToday reports how many coins a viewer has spent on gifts today, in
// their time zone, and how many the daily spend limit still allows (-1:
// no limit).
func (p *Program) SpendToday(ctx context.Context, viewer string) (kit.Usage, error) {
	m, err := p.members.Member(ctx, viewer)
	if err != nil {
		return kit.Usage{}, err
	}
	loc, err := m.Location()
	if err != nil {
		return kit.Usage{}, err
	}
	var out kit.Usage
	err = p.l.View(ctx, func(r *ledger.Reader) error {
		out, err = kit.UsageOf(r, p.spendCap(), viewer, p.l.Clock().Now(), loc)
		return err
	})
	return out, err
}

// roundUnits rounds a non-negative decimal to a whole number by mode.
func roundUnits(d decimal.Decimal, mode ledger.Rounding) int64 {
	switch mode {
	case ledger.RoundUp:
		return d.Ceil().IntPart()
	case ledger.RoundHalfUp:
		return d.Round(0).IntPart()
	case ledger.RoundHalfEven:
		return d.RoundBank(0).IntPart()
	}
	return d.Floor().IntPart()
}

// Earnings is a creator's diamonds (in EarningsAccount) and what they are
// worth in cash at the rule diamond_value (rounded down to the currency's
// precision, as Rules.CashValue converts them).
type Earnings struct {
	Creator   string          `json:"creator"`
	Diamonds  decimal.Decimal `json:"diamonds"`
	CashValue decimal.Decimal `json:"cash_value"`
	Currency  string          `json:"currency"`
}

// CreatorEarnings returns a creator's diamonds (zero if none yet).
func (p *Program) CreatorEarnings(ctx context.Context, creator string) (Earnings, error) {
	e := Earnings{Creator: creator, Diamonds: decimal.Zero, Currency: p.rules.DiamondValue.Currency}
	b, err := p.l.Balance(ctx, EarningsAccount(creator), p.rules.DiamondAsset)
	switch {
	case errors.Is(err, ledger.ErrUnknownAccount):
	case err != nil:
		return Earnings{}, err
	default:
		e.Diamonds = b.Posted
	}
	prec := p.assets[e.Currency].Precision
	e.CashValue = e.Diamonds.Mul(p.rules.DiamondValue.Amount).RoundFloor(prec)
	return e, nil
}

// PurchaseByRef returns a purchase by payment reference.
func (p *Program) PurchaseByRef(ctx context.Context, paymentRef string) (Purchase, error) {
	var pu Purchase
	err := p.l.View(ctx, func(r *ledger.Reader) error { return r.LoadJSON(kindPurchase, paymentRef, &pu) })
	if errors.Is(err, ledger.ErrNotFound) {
		return Purchase{}, fmt.Errorf("%w: purchase %q", ErrNotFound, paymentRef)
	}
	return pu, err
}
