package ledger

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger/driver"
)

// The balance monitors' event types. Both are emitted in the unit of work
// whose change crossed the threshold, whether or not WithLedgerEvents is
// on: a monitor is opt-in by itself (Ledger.AddMonitor). Subject: the
// account. TxID: the transaction that crossed it (0 for a hold created,
// voided or expired, which posts none; its ID is in the data). Data:
//
//	{"monitor": name, "account", "asset", "field": "available"|"posted",
//	 "threshold", "before", "after", "hold": id (when a hold crossed it)}
//
// with amounts as decimal strings in the asset's precision (the threshold
// exactly as given when it has more decimals).
const (
	// EventBalanceBelow: a change took the watched balance from at or
	// above the monitor's threshold to below it.
	EventBalanceBelow = "ledger.balance.below"
	// EventBalanceRecovered: a change took the watched balance from below
	// the threshold back to at or above it. A balance starts at zero, so a
	// first credit over a positive threshold is a recovery too.
	EventBalanceRecovered = "ledger.balance.recovered"
)

// MonitorField names the amount of a balance a Monitor watches.
type MonitorField uint8

const (
	// MonitorAvailable watches posted - held: what the account can still
	// spend, which a hold lowers and a void raises.
	MonitorAvailable MonitorField = iota + 1
	// MonitorPosted watches the posted amount, which holds do not change.
	MonitorPosted
)

// String returns "available" or "posted", as in the events' data.
func (f MonitorField) String() string {
	switch f {
	case MonitorAvailable:
		return "available"
	case MonitorPosted:
		return "posted"
	}
	return "MonitorField(" + strconv.Itoa(int(f)) + ")"
}

// Monitor watches balances for a threshold: every change that takes a
// matching balance from at or above the threshold to below it emits
// EventBalanceBelow, and every change back emits EventBalanceRecovered, in
// the unit of work that made the change. A change that stays on one side
// emits nothing, so a member spending down from 8 to 5 COIN under a
// threshold of 10 is reported once, when it first fell below.
//
// The threshold is Below, absolute; or, when BelowFraction is set, the
// fraction BelowFraction of the reference amount Of (a campaign's funded
// budget, say: BelowFraction 0.1 of Of 5000 is a threshold of 500). The
// reference is the integrator's and is fixed in the monitor: a campaign
// funded again needs a monitor of its own (under another Name).
type Monitor struct {
	// Name identifies the monitor in its events; unique per ledger, 1 to
	// 64 bytes of [A-Za-z0-9_.:-].
	Name string
	// Account is an exact address ("campaign:c1:budget"), or a prefix
	// ending in "*" that matches every address starting with it
	// ("member:*"); "*" alone matches every account.
	Account string
	// Asset is the asset code whose balances are watched.
	Asset string
	// Field is the amount watched: MonitorAvailable or MonitorPosted.
	Field MonitorField
	// Below is the absolute threshold, in the asset's units (10 for 10
	// COIN). Must be zero when BelowFraction is set.
	Below decimal.Decimal
	// BelowFraction, when not zero, makes the threshold BelowFraction × Of;
	// it must be above 0 and at most 1, and Of above 0.
	BelowFraction decimal.Decimal
	// Of is the reference amount of BelowFraction.
	Of decimal.Decimal
}

// monitor is a validated Monitor, with its threshold in minor units for
// the asset's precision once seen.
type monitor struct {
	Monitor
	prefix    bool   // Account ends in "*"
	match     string // the address, or the prefix without "*"
	threshold decimal.Decimal
	level     atomic.Pointer[monitorLevel]
}

// monitorLevel is a threshold in minor units: ceil(threshold × 10^prec),
// since for whole units x < t exactly when x < ceil(t). big holds it when
// it leaves the int64 range.
type monitorLevel struct {
	prec  int32
	small int64
	big   *big.Int
}

// AddMonitor validates m and starts watching for it: every unit of work
// that begins afterwards checks it (one already running may or may not). It is the only way to configure a
// monitor, rather than an Option, because New returns no error and a
// malformed monitor must be refused where it is given. A malformed monitor
// (a bad name, address pattern, asset code, field or threshold), or one
// whose Name is taken, is ErrInvalidMonitor and changes nothing. A ledger
// without monitors pays nothing for them on its hot path.
func (l *Ledger) AddMonitor(m Monitor) error {
	cm, err := compileMonitor(m)
	if err != nil {
		return err
	}
	l.monitorsMu.Lock()
	defer l.monitorsMu.Unlock()
	var old []*monitor
	if p := l.monitors.Load(); p != nil {
		old = *p
	}
	for _, o := range old {
		if o.Name == m.Name {
			return fmt.Errorf("%w: name %s is taken", ErrInvalidMonitor, clip(m.Name))
		}
	}
	ms := make([]*monitor, len(old), len(old)+1)
	copy(ms, old)
	ms = append(ms, cm)
	l.monitors.Store(&ms)
	return nil
}

func compileMonitor(m Monitor) (*monitor, error) {
	if len(m.Name) == 0 || len(m.Name) > 64 {
		return nil, fmt.Errorf("%w: name %s must have 1 to 64 bytes", ErrInvalidMonitor, clip(m.Name))
	}
	for i := 0; i < len(m.Name); i++ {
		c := m.Name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_.:-", c) >= 0) {
			return nil, fmt.Errorf("%w: name %s may not contain %q", ErrInvalidMonitor, clip(m.Name), c)
		}
	}
	cm := &monitor{Monitor: m, match: m.Account}
	if strings.HasSuffix(m.Account, "*") {
		cm.prefix, cm.match = true, strings.TrimSuffix(m.Account, "*")
		// A prefix is a valid address's start: checked with a segment
		// appended, so "member:" and "member" both pass.
		if cm.match != "" {
			if err := ValidateAddress(cm.match + "x"); err != nil {
				return nil, fmt.Errorf("%w: monitor %s: account pattern %s: %s", ErrInvalidMonitor, m.Name, clip(m.Account), unprefixed(err))
			}
		}
	} else if err := ValidateAddress(m.Account); err != nil {
		return nil, fmt.Errorf("%w: monitor %s: %s", ErrInvalidMonitor, m.Name, unprefixed(err))
	}
	if err := ValidateAssetCode(m.Asset); err != nil {
		return nil, fmt.Errorf("%w: monitor %s: %s", ErrInvalidMonitor, m.Name, unprefixed(err))
	}
	if m.Field != MonitorAvailable && m.Field != MonitorPosted {
		return nil, fmt.Errorf("%w: monitor %s: field must be MonitorAvailable or MonitorPosted", ErrInvalidMonitor, m.Name)
	}
	cm.threshold = m.Below
	if !m.BelowFraction.IsZero() {
		one := decimal.NewFromInt(1)
		switch {
		case !m.Below.IsZero():
			return nil, fmt.Errorf("%w: monitor %s: set Below or BelowFraction, not both", ErrInvalidMonitor, m.Name)
		case m.BelowFraction.Sign() <= 0 || m.BelowFraction.GreaterThan(one):
			return nil, fmt.Errorf("%w: monitor %s: fraction %s must be above 0 and at most 1", ErrInvalidMonitor, m.Name, m.BelowFraction)
		case m.Of.Sign() <= 0:
			return nil, fmt.Errorf("%w: monitor %s: reference amount %s must be above 0", ErrInvalidMonitor, m.Name, m.Of)
		}
		cm.threshold = m.BelowFraction.Mul(m.Of)
	} else if !m.Of.IsZero() {
		return nil, fmt.Errorf("%w: monitor %s: reference amount without BelowFraction", ErrInvalidMonitor, m.Name)
	}
	return cm, nil
}

// unprefixed is a validation error's message without its "ledger: "
// prefix, so a monitor's error carries the prefix once (the monitor's
// sentinel is what a caller matches; the address or asset detail is text).
func unprefixed(err error) string { return strings.TrimPrefix(err.Error(), "ledger: ") }

// matches reports whether the monitor watches the balance of addr in
// asset.
func (m *monitor) matches(addr, asset string) bool {
	if asset != m.Asset {
		return false
	}
	if m.prefix {
		return strings.HasPrefix(addr, m.match)
	}
	return addr == m.match
}

// levelFor returns the threshold in minor units of precision prec. An
// asset's precision never changes once committed, so the first
// computation serves every later unit of work.
func (m *monitor) levelFor(prec int32) *monitorLevel {
	if lv := m.level.Load(); lv != nil && lv.prec == prec {
		return lv
	}
	t := m.threshold.Shift(prec).Ceil()
	lv := &monitorLevel{prec: prec}
	if b := t.BigInt(); b.IsInt64() {
		lv.small = b.Int64()
	} else {
		lv.big = b
	}
	m.level.Store(lv)
	return lv
}

// isBelow reports whether the watched amount of b is below the level,
// exactly: posted - held may leave the int64 range, and so may the level.
func (m *monitor) isBelow(b *driver.Balance, lv *monitorLevel) bool {
	v, ok := b.Posted, true
	if m.Field == MonitorAvailable {
		v, ok = addUnits(b.Posted, -b.Held)
	}
	if ok && lv.big == nil {
		return v < lv.small
	}
	x := big.NewInt(b.Posted)
	if m.Field == MonitorAvailable {
		x.Sub(x, big.NewInt(b.Held))
	}
	t := lv.big
	if t == nil {
		t = big.NewInt(lv.small)
	}
	return x.Cmp(t) < 0
}

// putBalances writes a unit of work's changed balances (after, each the
// new state of before at the same index) and emits the events of the
// monitors whose thresholds they crossed: the one place where balances
// change, so no change escapes the monitors. txID is the transaction that
// made the change, holdID the hold (0 for none).
func (w *Writer) putBalances(before, after []driver.Balance, txID, holdID uint64) error {
	if err := w.store().PutBalances(after); err != nil {
		return err
	}
	ms := w.l.monitors.Load()
	if ms == nil {
		return nil
	}
	for i := range after {
		a, b := &after[i], &before[i]
		for _, m := range *ms {
			if !m.matches(a.Address, a.Asset) {
				continue
			}
			asset, err := w.Asset(a.Asset)
			if err != nil {
				return err
			}
			lv := m.levelFor(asset.Precision)
			was, is := m.isBelow(b, lv), m.isBelow(a, lv)
			if was == is {
				continue
			}
			typ := EventBalanceBelow
			if !is {
				typ = EventBalanceRecovered
			}
			if err := w.monitorEvent(typ, m, asset, b, a, txID, holdID); err != nil {
				return err
			}
		}
	}
	return nil
}

// monitorEvent emits one monitor's event, its data written by hand into
// the unit of work's buffer like the ledger's own events.
func (w *Writer) monitorEvent(typ string, m *monitor, asset Asset, before, after *driver.Balance, txID, holdID uint64) error {
	amount := func(s *driver.Balance) string {
		if m.Field == MonitorAvailable {
			return formatAvailable(asset, s.Posted, s.Held)
		}
		return asset.Format(s.Posted)
	}
	threshold := m.threshold.String()
	if m.threshold.Exponent() >= -asset.Precision {
		threshold = m.threshold.StringFixed(asset.Precision)
	}
	start := len(w.evBuf)
	b := append(w.evBuf, '{')
	b = appendStringField(b, "monitor", m.Name)
	b = appendStringField(b, "account", after.Address)
	b = appendStringField(b, "asset", after.Asset)
	b = appendStringField(b, "field", m.Field.String())
	b = appendStringField(b, "threshold", threshold)
	b = appendStringField(b, "before", amount(before))
	b = appendStringField(b, "after", amount(after))
	if holdID != 0 {
		b = appendUintField(b, "hold", holdID)
	}
	w.evBuf = append(b, '}')
	return w.emit(typ, after.Address, txID, w.evBuf[start:len(w.evBuf):len(w.evBuf)])
}
