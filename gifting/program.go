package gifting

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/rewardkit/rewardkit/ledger"
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

// MemberAccount is a member's wallet, shared with the other programs.
func MemberAccount(id string) string { return "member:" + id }

// DiamondAccount is where a creator's diamonds accumulate.
func DiamondAccount(id string) string { return "creator:" + id + ":diamonds" }

// Record kinds the program keeps beside the ledger.
const (
	kindPurchase = "gifting.purchase" // id: payment reference
	kindGift     = "gifting.gift"     // id: gift event id
	kindLive     = "gifting.live"     // id: LIVE id
	kindGifter   = "gifting.gifter"   // id: LIVE id "/" viewer id
	kindSpend    = "gifting.spend"    // id: viewer id "/" UTC date
)

// Program runs the gifting rules over a ledger.
type Program struct {
	l       *ledger.Ledger
	rules   Rules
	members Members
	packs   map[string]Pack
	gifts   map[string]Gift
	assets  map[string]ledger.Asset
	rule    ledger.ConversionRule
	blocked map[string]bool
}

// New validates rules, defines the assets and opens the system accounts
// (both idempotently), and returns the program.
func New(ctx context.Context, l *ledger.Ledger, rules Rules, members Members) (*Program, error) {
	if err := rules.Validate(); err != nil {
		return nil, err
	}
	if members == nil {
		return nil, fmt.Errorf("%w: members: nil directory", ErrInvalidRules)
	}
	p := &Program{l: l, rules: rules, members: members, packs: map[string]Pack{}, gifts: map[string]Gift{},
		assets: map[string]ledger.Asset{}, rule: rules.conversionRule(), blocked: map[string]bool{}}
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
		if err := openIfMissing(w, rules.PaymentAccount, ledger.Overdraft{Unbounded: true}); err != nil {
			return err
		}
		for _, addr := range []string{RevenueAccount, CoinSalesAccount} {
			if err := openIfMissing(w, addr, ledger.Overdraft{}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("gifting: setting up the ledger: %w", err)
	}
	return p, nil
}

// openIfMissing opens an account with a policy unless it is already open
// (with whatever policy another program gave it).
func openIfMissing(w *ledger.Writer, addr string, od ledger.Overdraft) error {
	_, err := w.Account(addr)
	if err == nil {
		return nil
	}
	if !errors.Is(err, ledger.ErrUnknownAccount) {
		return err
	}
	_, err = w.OpenAccount(ledger.AccountSpec{Address: addr, Overdraft: od})
	return err
}

func (p *Program) openMember(w *ledger.Writer, id string) error {
	od := ledger.Overdraft{}
	if p.rules.CoinOverdraft > 0 {
		od.Limits = map[string]decimal.Decimal{p.rules.CoinAsset: decimal.NewFromInt(p.rules.CoinOverdraft)}
	}
	return openIfMissing(w, MemberAccount(id), od)
}

// Rules returns the program's rules.
func (p *Program) Rules() Rules { return p.rules }

// ConversionRule returns the ledger rule that converts a creator's coin
// share into diamonds.
func (p *Program) ConversionRule() ledger.ConversionRule { return p.rule }

// Packs lists the coin packs on sale in a region through a channel, by
// number of coins.
func (p *Program) Packs(region, channel string) []Pack {
	var out []Pack
	for _, pk := range p.rules.Packs {
		if pk.Region == region && pk.Channel == channel {
			out = append(out, pk)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Coins < out[j].Coins })
	return out
}

func (p *Program) member(ctx context.Context, id string) (Member, error) {
	m, err := p.members.Member(ctx, id)
	if err != nil {
		return Member{}, fmt.Errorf("gifting: member %q: %w", id, err)
	}
	return m, nil
}

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
	// Set by a chargeback.
	ChargedBack  bool      `json:"charged_back,omitempty"`
	ClawedBack   int64     `json:"clawed_back,omitempty"` // coins taken back from the viewer
	Unrecovered  int64     `json:"unrecovered,omitempty"` // coins already spent beyond the overdraft
	ChargebackTx uint64    `json:"chargeback_tx,omitempty"`
	ChargebackAt time.Time `json:"chargeback_at,omitzero"`
}

// BuyPack sells a coin pack: the price moves from the payment account to
// platform:coin-sales and the pack's coins are issued from world to the
// viewer, in one transaction. paymentRef is the idempotency key: a retry
// with the same viewer and pack returns the first purchase and moves
// nothing; with another viewer or pack it is ErrIdempotencyConflict.
func (p *Program) BuyPack(ctx context.Context, paymentRef, viewer, packID string) (Purchase, error) {
	if !validID(paymentRef) || !validID(viewer) {
		return Purchase{}, fmt.Errorf("%w: payment reference %q and viewer %q must be non-empty ids", ErrInvalidRequest, paymentRef, viewer)
	}
	pack, ok := p.packs[packID]
	if !ok {
		return Purchase{}, fmt.Errorf("%w: %q", ErrUnknownPack, packID)
	}
	m, err := p.member(ctx, viewer)
	if err != nil {
		return Purchase{}, err
	}
	if m.Age < p.rules.MinAgeBuy {
		return Purchase{}, fmt.Errorf("%w: min_age_buy: viewer %q is %d, must be %d", ErrIneligible, viewer, m.Age, p.rules.MinAgeBuy)
	}
	if m.Region != pack.Region {
		return Purchase{}, fmt.Errorf("%w: packs: pack %q is sold in %q, viewer %q is in %q", ErrIneligible, pack.ID, pack.Region, viewer, m.Region)
	}
	var out Purchase
	err = p.l.Update(ctx, func(w *ledger.Writer) error {
		pu := Purchase{PaymentRef: paymentRef, Viewer: viewer, Pack: pack.ID, Coins: pack.Coins,
			Price: pack.Price, Currency: pack.Currency, At: w.Now()}
		if err := w.CreateJSON(kindPurchase, paymentRef, pu); err != nil {
			if !errors.Is(err, ledger.ErrDuplicate) {
				return err
			}
			if err := w.LoadJSON(kindPurchase, paymentRef, &out); err != nil {
				return err
			}
			if out.Viewer != viewer || out.Pack != pack.ID {
				return fmt.Errorf("%w: payment %q was for viewer %q pack %q: %w", ErrIdempotencyConflict,
					paymentRef, out.Viewer, out.Pack, ledger.ErrIdempotencyConflict)
			}
			return nil
		}
		if err := p.openMember(w, viewer); err != nil {
			return err
		}
		t, err := w.Post(ledger.TransferRequest{
			Key: "gifting:purchase:" + paymentRef,
			Postings: []ledger.Posting{
				{From: p.rules.PaymentAccount, To: CoinSalesAccount, Asset: pack.Currency, Amount: pack.Price},
				{From: ledger.World, To: MemberAccount(viewer), Asset: p.rules.CoinAsset, Amount: decimal.NewFromInt(pack.Coins)},
			},
			Metadata: map[string]string{"program": "gifting", "event": "purchase", "pack": pack.ID},
		})
		if err != nil {
			return err
		}
		pu.Transaction = t.ID
		out = pu
		return w.SaveJSON(kindPurchase, paymentRef, pu)
	})
	if err != nil {
		return Purchase{}, fmt.Errorf("gifting: buying pack %q for %q: %w", pack.ID, viewer, err)
	}
	return out, nil
}

// Chargeback undoes a coin purchase whose payment was reversed by the
// payer's bank: the full price goes back from platform:coin-sales to the
// payment account, and the pack's coins are clawed back from the viewer to
// world, as far as the viewer's account allows (its coin overdraft, rule
// coin_overdraft; by default only the coins still available). Coins
// already spent beyond that are recorded as Unrecovered. A chargeback is
// keyed by the payment reference: a repeat returns the first result.
func (p *Program) Chargeback(ctx context.Context, paymentRef string) (Purchase, error) {
	var out Purchase
	err := p.l.Update(ctx, func(w *ledger.Writer) error {
		if err := w.LoadJSON(kindPurchase, paymentRef, &out); err != nil {
			if errors.Is(err, ledger.ErrNotFound) {
				return fmt.Errorf("%w: purchase %q", ErrNotFound, paymentRef)
			}
			return err
		}
		if out.ChargedBack {
			return nil
		}
		addr := MemberAccount(out.Viewer)
		acc, err := w.Account(addr)
		if err != nil {
			return err
		}
		bal, err := w.Balance(addr, p.rules.CoinAsset)
		if err != nil {
			return err
		}
		room := bal.Available.IntPart() // coins above zero
		if !acc.Unbounded {
			room += acc.Limits[p.rules.CoinAsset] // COIN has precision 0: minor units are coins
		}
		claw := min(out.Coins, max(room, 0))
		postings := []ledger.Posting{{From: CoinSalesAccount, To: p.rules.PaymentAccount, Asset: out.Currency, Amount: out.Price}}
		if claw > 0 {
			postings = append(postings, ledger.Posting{From: addr, To: ledger.World, Asset: p.rules.CoinAsset, Amount: decimal.NewFromInt(claw)})
		}
		t, err := w.Post(ledger.TransferRequest{Key: "gifting:chargeback:" + paymentRef, Postings: postings,
			Metadata: map[string]string{"program": "gifting", "event": "chargeback"}})
		if err != nil {
			return err
		}
		out.ChargedBack, out.ClawedBack, out.Unrecovered = true, claw, out.Coins-claw
		out.ChargebackTx, out.ChargebackAt = t.ID, w.Now()
		return w.SaveJSON(kindPurchase, paymentRef, out)
	})
	if err != nil {
		return Purchase{}, fmt.Errorf("gifting: chargeback of %q: %w", paymentRef, err)
	}
	return out, nil
}

// GiftRequest is a viewer sending Count of one gift to a creator,
// optionally within a LIVE.
type GiftRequest struct {
	Viewer  string `json:"viewer"`
	Creator string `json:"creator"`
	Gift    string `json:"gift"`
	Count   int    `json:"count"`
	Live    string `json:"live,omitempty"`
}

// GiftResult is what a sent gift moved.
type GiftResult struct {
	EventID string      `json:"event_id"`
	Request GiftRequest `json:"request"`
	// Coins left the viewer: CreatorCoins were converted for the creator,
	// PlatformCoins (including any rounding remainder) are revenue.
	Coins         int64 `json:"coins"`
	CreatorCoins  int64 `json:"creator_coins"`
	PlatformCoins int64 `json:"platform_coins"`
	// Diamonds the creator received.
	Diamonds     int64     `json:"diamonds"`
	Transactions []uint64  `json:"transactions"`
	At           time.Time `json:"at"`
}

// SendGift sends gifts: their coins leave the viewer; the creator's share
// (rule creator_share, rounded by share_rounding) is converted into
// diamonds for the creator by a ledger conversion; the rest, with any
// conversion remainder, is platform revenue. A share too small to make a
// single diamond (a 1-coin rose at 50%) is all platform revenue rather than
// a refusal. Coins only ever go to platform accounts, never to another
// member. eventID makes it idempotent.
func (p *Program) SendGift(ctx context.Context, eventID string, req GiftRequest) (GiftResult, error) {
	if !validID(eventID) || !validID(req.Viewer) || !validID(req.Creator) || (req.Live != "" && !validID(req.Live)) {
		return GiftResult{}, fmt.Errorf("%w: event id %q, viewer %q, creator %q and live %q must be ids", ErrInvalidRequest,
			eventID, req.Viewer, req.Creator, req.Live)
	}
	gift, ok := p.gifts[req.Gift]
	if !ok {
		return GiftResult{}, fmt.Errorf("%w: %q", ErrUnknownGift, req.Gift)
	}
	if req.Count < 1 || req.Count > p.rules.MaxGiftsPerSend {
		return GiftResult{}, fmt.Errorf("%w: max_gifts_per_send: count %d not in 1..%d", ErrInvalidRequest, req.Count, p.rules.MaxGiftsPerSend)
	}
	if req.Viewer == req.Creator {
		return GiftResult{}, fmt.Errorf("%w: %q may not send gifts to themself", ErrIneligible, req.Viewer)
	}
	viewer, err := p.member(ctx, req.Viewer)
	if err != nil {
		return GiftResult{}, err
	}
	creator, err := p.member(ctx, req.Creator)
	if err != nil {
		return GiftResult{}, err
	}
	if viewer.Age < p.rules.MinAgeSend {
		return GiftResult{}, fmt.Errorf("%w: min_age_send: viewer %q is %d, must be %d", ErrIneligible, req.Viewer, viewer.Age, p.rules.MinAgeSend)
	}
	if creator.Age < p.rules.MinAgeReceive {
		return GiftResult{}, fmt.Errorf("%w: min_age_receive: creator %q is %d, must be %d", ErrIneligible, req.Creator, creator.Age, p.rules.MinAgeReceive)
	}
	if p.blocked[creator.Kind] {
		return GiftResult{}, fmt.Errorf("%w: blocked_recipient_kinds: creator %q is a %q account", ErrIneligible, req.Creator, creator.Kind)
	}
	coins := gift.Coins * int64(req.Count)
	share := roundUnits(decimal.NewFromInt(coins).Mul(p.rules.CreatorShare), p.rules.ShareRounding)
	share = min(max(share, 0), coins)

	var out GiftResult
	err = p.l.Update(ctx, func(w *ledger.Writer) error {
		res := GiftResult{EventID: eventID, Request: req, Coins: coins, At: w.Now()}
		if err := w.CreateJSON(kindGift, eventID, res); err != nil {
			if !errors.Is(err, ledger.ErrDuplicate) {
				return err
			}
			if err := w.LoadJSON(kindGift, eventID, &out); err != nil {
				return err
			}
			if out.Request != req {
				return fmt.Errorf("%w: gift event %q was %+v: %w", ErrIdempotencyConflict, eventID, out.Request, ledger.ErrIdempotencyConflict)
			}
			return nil
		}
		from := MemberAccount(req.Viewer)
		if err := p.openMember(w, req.Viewer); err != nil {
			return err
		}
		if err := openIfMissing(w, DiamondAccount(req.Creator), ledger.Overdraft{}); err != nil {
			return err
		}
		bal, err := w.Balance(from, p.rules.CoinAsset)
		if err != nil {
			return err
		}
		if bal.Available.LessThan(decimal.NewFromInt(coins)) {
			return fmt.Errorf("%w: viewer %q has %s %s available, the gifts cost %d", ErrInsufficientCoins,
				req.Viewer, bal.Available, p.rules.CoinAsset, coins)
		}
		if err := p.spend(w, req.Viewer, coins); err != nil {
			return err
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
				return qerr
			default:
				conv, err := w.Convert(ledger.ConversionRequest{
					Key: "gifting:gift:" + eventID + ":share", Rule: p.rule, From: from, To: DiamondAccount(req.Creator),
					Amount: decimal.NewFromInt(share), Metadata: map[string]string{"program": "gifting", "event": "gift", "gift": gift.ID},
				})
				if err != nil {
					return err
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
				Key:      "gifting:gift:" + eventID + ":platform",
				Postings: []ledger.Posting{{From: from, To: RevenueAccount, Asset: p.rules.CoinAsset, Amount: decimal.NewFromInt(rest)}},
				Metadata: map[string]string{"program": "gifting", "event": "gift", "gift": gift.ID},
			})
			if err != nil {
				return err
			}
			res.Transactions = append(res.Transactions, t.ID)
		}
		if req.Live != "" {
			if err := p.addToLive(w, req, gift, res); err != nil {
				return err
			}
		}
		out = res
		return w.SaveJSON(kindGift, eventID, res)
	})
	if err != nil {
		return GiftResult{}, fmt.Errorf("gifting: gift %q from %q to %q: %w", eventID, req.Viewer, req.Creator, err)
	}
	return out, nil
}

type spendRecord struct {
	Coins int64 `json:"coins"`
}

// spend counts coins against the viewer's daily limit (rule
// daily_spend_limit), by UTC day.
func (p *Program) spend(w *ledger.Writer, viewer string, coins int64) error {
	if p.rules.DailySpendLimit == 0 {
		return nil
	}
	id := viewer + "/" + w.Now().UTC().Format(time.DateOnly)
	var rec spendRecord
	if err := w.LoadJSON(kindSpend, id, &rec); err != nil && !errors.Is(err, ledger.ErrNotFound) {
		return err
	}
	if rec.Coins+coins > p.rules.DailySpendLimit {
		return fmt.Errorf("%w: daily_spend_limit: viewer %q spent %d of %d coins today, the gifts cost %d", ErrDailyLimit,
			viewer, rec.Coins, p.rules.DailySpendLimit, coins)
	}
	rec.Coins += coins
	return w.SaveJSON(kindSpend, id, rec)
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

// LiveStats are the gift totals of one LIVE.
type LiveStats struct {
	Live     string           `json:"live"`
	Gifts    int64            `json:"gifts"`    // gifts sent (counting each of a combo)
	Coins    int64            `json:"coins"`    // coins spent
	Diamonds int64            `json:"diamonds"` // diamonds the recipients received
	ByGift   map[string]int64 `json:"by_gift"`  // gift id -> how many
	Gifters  int64            `json:"gifters"`  // distinct viewers who sent gifts
}

// Gifter is one viewer's gifts in a LIVE.
type Gifter struct {
	Viewer string `json:"viewer"`
	Gifts  int64  `json:"gifts"`
	Coins  int64  `json:"coins"`
}

func (p *Program) addToLive(w *ledger.Writer, req GiftRequest, gift Gift, res GiftResult) error {
	var ls LiveStats
	if err := w.LoadJSON(kindLive, req.Live, &ls); err != nil && !errors.Is(err, ledger.ErrNotFound) {
		return err
	}
	if ls.ByGift == nil {
		ls.Live, ls.ByGift = req.Live, map[string]int64{}
	}
	n := int64(req.Count)
	ls.Gifts += n
	ls.Coins += res.Coins
	ls.Diamonds += res.Diamonds
	ls.ByGift[gift.ID] += n
	gid := req.Live + "/" + req.Viewer
	var g Gifter
	if err := w.LoadJSON(kindGifter, gid, &g); err != nil {
		if !errors.Is(err, ledger.ErrNotFound) {
			return err
		}
		g.Viewer = req.Viewer
		ls.Gifters++
	}
	g.Gifts += n
	g.Coins += res.Coins
	if err := w.SaveJSON(kindGifter, gid, g); err != nil {
		return err
	}
	return w.SaveJSON(kindLive, req.Live, ls)
}

// Live returns a LIVE's gift totals, or ErrNotFound if no gift was sent in
// it.
func (p *Program) Live(ctx context.Context, live string) (LiveStats, error) {
	var ls LiveStats
	err := p.l.View(ctx, func(r *ledger.Reader) error { return r.LoadJSON(kindLive, live, &ls) })
	if errors.Is(err, ledger.ErrNotFound) {
		return LiveStats{}, fmt.Errorf("%w: live %q", ErrNotFound, live)
	}
	return ls, err
}

// TopGifters returns the n viewers who spent most coins in a LIVE, most
// first (ties by viewer id).
func (p *Program) TopGifters(ctx context.Context, live string, n int) ([]Gifter, error) {
	var all []Gifter
	prefix := live + "/"
	err := p.l.View(ctx, func(r *ledger.Reader) error {
		all = all[:0]
		after := prefix
		for {
			recs, err := r.Records(kindGifter, after, 1000)
			if err != nil {
				return err
			}
			for _, rec := range recs {
				if !strings.HasPrefix(rec.ID, prefix) {
					return nil
				}
				var g Gifter
				if err := json.Unmarshal(rec.Data, &g); err != nil {
					return err
				}
				all = append(all, g)
				after = rec.ID
			}
			if len(recs) < 1000 {
				return nil
			}
		}
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].Coins != all[j].Coins {
			return all[i].Coins > all[j].Coins
		}
		return all[i].Viewer < all[j].Viewer
	})
	if n >= 0 && len(all) > n {
		all = all[:n]
	}
	return all, nil
}

// Earnings is a creator's diamonds and what they are worth in cash at the
// rule diamond_value (rounded down to the currency's precision).
type Earnings struct {
	Creator   string          `json:"creator"`
	Diamonds  decimal.Decimal `json:"diamonds"`
	CashValue decimal.Decimal `json:"cash_value"`
	Currency  string          `json:"currency"`
}

// CreatorEarnings returns a creator's diamonds (zero if none yet).
func (p *Program) CreatorEarnings(ctx context.Context, creator string) (Earnings, error) {
	e := Earnings{Creator: creator, Diamonds: decimal.Zero, Currency: p.rules.DiamondValue.Currency}
	b, err := p.l.Balance(ctx, DiamondAccount(creator), p.rules.DiamondAsset)
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
