package main

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/rewardkit/rewardkit/ledger"
	storedriver "github.com/rewardkit/rewardkit/ledger/driver"
)

// programNames are the programs a transaction can be attributed to, in
// display order.
var programNames = []string{"referral", "gifting", "shoutout", "subscription", "adsbuy", "payout"}

// flowKey names one daily flow of an asset between the users' side and
// the platform's side (see userSide), attributed to the program that
// posted it: In is what users paid the platform (money for coins, coins
// for gifts, rubies redeemed), Out what the platform paid users (coins
// delivered, rewards, diamonds, cash-outs).
type flowKey struct {
	Program string
	Asset   string
	Out     bool
}

// holderKey names the balance of one kind of holder (the address's first
// segment: member, creator, platform, world, ...) in one asset.
type holderKey struct {
	Holder string
	Asset  string
}

// daySample is what one simulated day looked like.
type daySample struct {
	Day  int
	Date time.Time
	// Flows in minor units.
	Flows map[flowKey]int64
	// Holdings: posted balances at the end of the day, summed per holder
	// kind, in minor units.
	Holdings map[holderKey]int64
	// Events and Refused per program during the day.
	Events, Refused map[string]int64
	// Payouts by outcome during the day.
	Payouts map[string]int64
	// Transactions posted during the day.
	Transactions int64
}

// metrics collects the simulation's figures by reading the journal after
// each day (so it sees exactly what the ledger kept, on any store), plus
// event counts from the drivers.
type metrics struct {
	assets   map[string]ledger.Asset
	lastID   uint64
	flows    map[flowKey]int64
	holdings map[holderKey]int64
	txs      int64
	payouts  map[string]int64 // this day's payout outcomes so far
	prevEv   map[string]int64
	prevRef  map[string]int64
	Days     []daySample
}

func newMetrics() *metrics {
	return &metrics{
		assets:   map[string]ledger.Asset{},
		flows:    map[flowKey]int64{},
		holdings: map[holderKey]int64{},
		payouts:  map[string]int64{},
		prevEv:   map[string]int64{},
		prevRef:  map[string]int64{},
	}
}

// payout counts one payout outcome on the current day.
func (m *metrics) payout(outcome string) { m.payouts[outcome]++ }

// scan reads the transactions posted since the last scan.
func (m *metrics) scan(ctx context.Context, store storedriver.Store) error {
	return store.View(ctx, func(tx storedriver.ReadTx) error {
		assets, err := tx.Assets()
		if err != nil {
			return err
		}
		for _, a := range assets {
			m.assets[a.Code] = ledger.Asset(a)
		}
		for {
			ts, err := tx.Transactions(m.lastID, 5000)
			if err != nil {
				return err
			}
			if len(ts) == 0 {
				return nil
			}
			for i := range ts {
				m.add(&ts[i])
			}
			m.lastID = ts[len(ts)-1].ID
			if err := ctx.Err(); err != nil {
				return err
			}
		}
	})
}

func (m *metrics) add(t *storedriver.Transaction) {
	m.txs++
	prog := programOf(t)
	for i := range t.Postings {
		p := &t.Postings[i]
		m.holdings[holderKey{holderOf(p.From), p.Asset}] -= p.Units
		m.holdings[holderKey{holderOf(p.To), p.Asset}] += p.Units
		fromUser, toUser := userSide(p.From, p.Asset), userSide(p.To, p.Asset)
		switch {
		case fromUser && !toUser:
			m.flows[flowKey{prog, p.Asset, false}] += p.Units
		case toUser && !fromUser:
			m.flows[flowKey{prog, p.Asset, true}] += p.Units
		}
	}
}

// endDay closes the current day's sample.
func (m *metrics) endDay(day int, date time.Time, stats map[string]*programStats) {
	s := daySample{Day: day, Date: date, Flows: m.flows, Holdings: map[holderKey]int64{},
		Payouts: m.payouts, Events: map[string]int64{}, Refused: map[string]int64{}, Transactions: m.txs}
	for k, v := range m.holdings {
		s.Holdings[k] = v
	}
	for name, st := range stats {
		st.mu.Lock()
		ev, ref := st.Events, st.refusedTotal()
		st.mu.Unlock()
		s.Events[name] = ev - m.prevEv[name]
		s.Refused[name] = ref - m.prevRef[name]
		m.prevEv[name], m.prevRef[name] = ev, ref
	}
	m.Days = append(m.Days, s)
	m.flows = map[flowKey]int64{}
	m.payouts = map[string]int64{}
	m.txs = 0
}

// programOf attributes a transaction to a program: by the first segment of
// its idempotency key (programs derive keys as "<program>:<event>:<id>"),
// else by a "program" metadata entry, else by a program-namespaced
// account it touches; "other" when none says.
func programOf(t *storedriver.Transaction) string {
	if p := knownProgram(firstSegment(t.Key)); p != "" {
		return p
	}
	if p := knownProgram(t.Metadata["program"]); p != "" {
		return p
	}
	for i := range t.Postings {
		for _, a := range []string{t.Postings[i].From, t.Postings[i].To} {
			if p := programOfAccount(a); p != "" {
				return p
			}
		}
	}
	return "other"
}

// programOfAccount names the program an address belongs to, if its
// namespace says.
func programOfAccount(addr string) string {
	if p := knownProgram(firstSegment(addr)); p != "" {
		return p
	}
	segs := strings.Split(addr, ":")
	if len(segs) == 3 && segs[0] == "creator" {
		switch segs[2] {
		case "diamonds":
			return "gifting"
		case "subscriptions":
			return "subscription"
		case "shoutouts":
			return "shoutout"
		}
	}
	return ""
}

func knownProgram(s string) string {
	for _, p := range programNames {
		if s == p {
			return p
		}
	}
	return ""
}

func firstSegment(s string) string {
	if i := strings.IndexByte(s, ':'); i >= 0 {
		return s[:i]
	}
	return s
}

// virtualAssets are the platform's own currencies: world issues them on
// the platform's behalf.
var virtualAssets = map[string]bool{"RUBY": true, "COIN": true, "DIAMOND": true}

// userSide reports whether an address is on the users' side of a flow:
// members', creators' and advertisers' accounts, payout's settlement
// accounts (money sent to members' PayPal accounts), and world for money
// (where money comes from and goes to outside the platform: a card, a bank,
// PayPal). For the platform's own currencies world is the issuer, on the
// platform's side.
func userSide(addr, asset string) bool {
	if strings.HasPrefix(addr, "payout:") && strings.HasSuffix(addr, ":settlement") {
		return true // money on its way to the member's PayPal account
	}
	switch holderOf(addr) {
	case "member", "creator", "advertiser":
		return true
	case ledger.World:
		return !virtualAssets[asset]
	}
	return false
}

// holderOf is the kind of holder an address is: its first segment, with
// program namespaces kept as they are.
func holderOf(addr string) string { return firstSegment(addr) }

// assetCodes returns the codes of assets seen, ordered with the virtual
// currencies first and money after.
func (m *metrics) assetCodes() []string {
	codes := make([]string, 0, len(m.assets))
	for c := range m.assets {
		codes = append(codes, c)
	}
	rank := func(c string) int {
		switch c {
		case "RUBY":
			return 0
		case "COIN":
			return 1
		case "DIAMOND":
			return 2
		}
		return 3
	}
	sort.Slice(codes, func(i, j int) bool {
		if rank(codes[i]) != rank(codes[j]) {
			return rank(codes[i]) < rank(codes[j])
		}
		return codes[i] < codes[j]
	})
	return codes
}

// value converts minor units of an asset to a float for charts only
// (money itself is never a float).
func (m *metrics) value(code string, units int64) float64 {
	a, ok := m.assets[code]
	if !ok {
		return float64(units)
	}
	f := float64(units)
	for i := 0; i < int(a.Precision); i++ {
		f /= 10
	}
	return f
}
