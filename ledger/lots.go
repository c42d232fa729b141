package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger/driver"
)

// Lots: a credit that carries an expiry (Posting.ExpiresAt) is kept as a
// lot of the balance it lands on, and the balance's debits consume its
// lots soonest-expiring first. What a lot still holds when it expires is
// moved to its breakage account by Ledger.Tick. See "Lots and expiry" in
// the package documentation.

// DueLotExpiry is the due-entry kind under which a balance with open lots
// waits for its next lot to expire; the entry's ID names the balance.
const DueLotExpiry = "ledger.lot"

// EventLotExpired: what an expired lot still held was moved to its
// breakage account. Subject: the account. TxID: the moving transaction,
// which has its own EventTransactionPosted. Data: {"account", "asset",
// "transaction" (the grant), "posting", "amount" (moved), "breakage",
// "expires_at": RFC 3339}. It is emitted whether or not the ledger's own
// events are on: breakage is money a member lost.
const EventLotExpired = "ledger.lot.expired"

// lotsRecord is the record kind under which the ledger keeps the open lots
// of a balance (ID: lotBalanceID), as JSON.
const lotsRecord = "ledger.lots"

// Reserved transaction metadata. The expiry and breakage account of a
// grant are kept in the transaction itself, so they are hash-chained and
// Verify can replay every lot from the journal; so are the lots each
// posting consumed ("used"), so that a reversal can give them back.
const (
	metaLotPrefix   = "ledger.lot."
	metaLotExpires  = "ledger.lot.expires."  // + posting index: RFC 3339 time
	metaLotBreakage = "ledger.lot.breakage." // + posting index: address
	metaLotUsed     = "ledger.lot.used."     // + posting index: consumed lots
	metaLotExpired  = "ledger.lot.expired"   // the lot an expiry transaction settles
)

// lot is one open lot of a balance, in minor units.
type lot struct {
	Tx       uint64 `json:"tx"` // the grant
	P        int    `json:"p"`  // its posting
	Units    int64  `json:"units"`
	At       int64  `json:"at"` // expiry, Unix nanoseconds
	Breakage string `json:"breakage"`
}

func (l *lot) id() string { return strconv.FormatUint(l.Tx, 10) + "." + strconv.Itoa(l.P) }

// before is the consumption order: soonest expiry first, then the oldest
// grant, then the lower posting index.
func (l *lot) before(o *lot) bool {
	if l.At != o.At {
		return l.At < o.At
	}
	if l.Tx != o.Tx {
		return l.Tx < o.Tx
	}
	return l.P < o.P
}

// lotBook is a balance's open lots in consumption order. It holds only
// lots with an expiry: the rest of the balance (its positive posted amount
// less the lots) never expires and is consumed last.
type lotBook []lot

func (b lotBook) sum() int64 {
	var s int64
	for i := range b {
		s += b[i].Units
	}
	return s
}

// add puts units into lot l, merging with an open lot of the same grant.
func (b *lotBook) add(l lot) {
	for i := range *b {
		if o := &(*b)[i]; o.Tx == l.Tx && o.P == l.P {
			o.Units += l.Units
			return
		}
	}
	i := sort.Search(len(*b), func(i int) bool { return l.before(&(*b)[i]) })
	*b = append(*b, lot{})
	copy((*b)[i+1:], (*b)[i:])
	(*b)[i] = l
}

// take consumes up to n units, first from the lots first picks (may be
// nil), then in consumption order, and returns what it took of each.
func (b *lotBook) take(n int64, first func(*lot) bool) (used []lot) {
	takeFrom := func(i int) {
		l := &(*b)[i]
		u := min(l.Units, n)
		if u <= 0 {
			return
		}
		l.Units -= u
		n -= u
		c := *l
		c.Units = u
		used = append(used, c)
	}
	if first != nil {
		for i := range *b {
			if n > 0 && first(&(*b)[i]) {
				takeFrom(i)
			}
		}
	}
	for i := range *b {
		if n > 0 {
			takeFrom(i)
		}
	}
	out := (*b)[:0]
	for _, l := range *b {
		if l.Units > 0 {
			out = append(out, l)
		}
	}
	*b = out
	return used
}

func encodeUsed(used []lot) string {
	var sb strings.Builder
	for i := range used {
		if i > 0 {
			sb.WriteByte(';')
		}
		l := &used[i]
		sb.WriteString(l.id())
		sb.WriteByte('|')
		sb.WriteString(strconv.FormatInt(l.Units, 10))
		sb.WriteByte('|')
		sb.WriteString(strconv.FormatInt(l.At, 10))
		sb.WriteByte('|')
		sb.WriteString(l.Breakage)
	}
	return sb.String()
}

func decodeUsed(s string) ([]lot, error) {
	if s == "" {
		return nil, nil
	}
	var out []lot
	for _, e := range strings.Split(s, ";") {
		f := strings.Split(e, "|")
		if len(f) != 4 {
			return nil, fmt.Errorf("consumed lot %q is malformed", clip(e))
		}
		tx, p, err := parseLotID(f[0])
		if err != nil {
			return nil, err
		}
		u, err1 := strconv.ParseInt(f[1], 10, 64)
		at, err2 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil || u <= 0 {
			return nil, fmt.Errorf("consumed lot %q is malformed", clip(e))
		}
		out = append(out, lot{Tx: tx, P: p, Units: u, At: at, Breakage: f[3]})
	}
	return out, nil
}

func parseLotID(s string) (uint64, int, error) {
	a, b, ok := strings.Cut(s, ".")
	tx, err1 := strconv.ParseUint(a, 10, 64)
	p, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || p < 0 {
		return 0, 0, fmt.Errorf("lot %q is malformed", clip(s))
	}
	return tx, p, nil
}

// lotBalanceID names a balance in the lots record and the due index: an
// account's balances sort together, and '|' is in no address.
func lotBalanceID(addr, asset string) string { return addr + "|" + asset }

func splitLotBalanceID(id string) (addr, asset string, ok bool) {
	return strings.Cut(id, "|")
}

// pos is the positive part of a posted amount: lots cover only it, so a
// credit to a balance below zero first makes up the shortfall, and a debit
// that takes a balance below zero consumes nothing beyond its lots.
func pos(u int64) int64 { return max(u, 0) }

// lotGrant is the expiry a posting's credit carries, or the zero value.
type lotGrant struct {
	at       int64
	breakage string
}

// lotGrants reads the expiries a transaction's metadata gives its
// postings.
func lotGrants(t *driver.Transaction) (map[int]lotGrant, error) {
	var gs map[int]lotGrant
	for k, v := range t.Metadata {
		if !strings.HasPrefix(k, metaLotExpires) {
			continue
		}
		j, err := strconv.Atoi(k[len(metaLotExpires):])
		if err != nil || j < 0 || j >= len(t.Postings) {
			return nil, fmt.Errorf("metadata %s names no posting", clip(k))
		}
		at, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return nil, fmt.Errorf("metadata %s: %w", clip(k), err)
		}
		brk := t.Metadata[metaLotBreakage+strconv.Itoa(j)]
		if brk == "" {
			return nil, fmt.Errorf("posting %d has an expiry but no breakage account", j)
		}
		if gs == nil {
			gs = map[int]lotGrant{}
		}
		gs[j] = lotGrant{at: at.UnixNano(), breakage: brk}
	}
	return gs, nil
}

// lotBooks gives stepLots the book of a balance: nil when the balance
// keeps no lots and create is false (or the account cannot keep lots).
type lotBooks func(addr, asset string, create bool) (*lotBook, error)

// stepLots applies transaction t (postings with their running balances
// filled in) to the books of the balances it moves, the same way live and
// in Verify's replay: a credit with an expiry adds a lot of what it raised
// the balance's positive part by; a reversal's credit gives back the lots
// the reversed posting consumed (with their own expiries); a debit
// consumes what it lowered the positive part by, first the lot an expiry
// transaction settles or the lots of the grant a reversal undoes, then
// soonest-expiring first. It returns, per posting, the lots consumed.
func stepLots(t *driver.Transaction, books lotBooks, orig func(id uint64) (*driver.Transaction, error)) (map[int][]lot, error) {
	grants, err := lotGrants(t)
	if err != nil {
		return nil, err
	}
	var first func(*lot) bool
	if v, ok := t.Metadata[metaLotExpired]; ok {
		tx, p, err := parseLotID(v)
		if err != nil {
			return nil, err
		}
		first = func(l *lot) bool { return l.Tx == tx && l.P == p }
	}
	var o *driver.Transaction // the reversed transaction, read when needed
	if t.Kind == driver.KindReversal && t.Reverses != 0 {
		rid := t.Reverses
		first = func(l *lot) bool { return l.Tx == rid }
	}
	var used map[int][]lot
	for j := range t.Postings {
		p := &t.Postings[j]
		// The debit.
		if took := pos(p.FromAfter+p.Units) - pos(p.FromAfter); took > 0 {
			b, err := books(p.From, p.Asset, false)
			if err != nil {
				return nil, err
			}
			if b != nil && len(*b) > 0 {
				if u := b.take(took, first); len(u) > 0 {
					if used == nil {
						used = map[int][]lot{}
					}
					used[j] = u
				}
			}
		}
		// The credit.
		added := pos(p.ToAfter) - pos(p.ToAfter-p.Units)
		if added <= 0 {
			continue
		}
		if g, ok := grants[j]; ok {
			b, err := books(p.To, p.Asset, true)
			if err != nil {
				return nil, err
			}
			if b != nil {
				b.add(lot{Tx: t.ID, P: j, Units: added, At: g.at, Breakage: g.breakage})
			}
			continue
		}
		if t.Kind != driver.KindReversal || t.Reverses == 0 {
			continue
		}
		if o == nil {
			if o, err = orig(t.Reverses); err != nil {
				return nil, err
			}
		}
		k := len(o.Postings) - 1 - j // the reversed posting
		if k < 0 {
			continue
		}
		if _, ok := o.Metadata[metaLotExpired]; ok {
			// Reversing an expiry undoes the breakage: what comes back
			// never expires, or the next Tick would expire the lot again.
			continue
		}
		back, err := decodeUsed(o.Metadata[metaLotUsed+strconv.Itoa(k)])
		if err != nil {
			return nil, fmt.Errorf("transaction %d: %w", o.ID, err)
		}
		if len(back) == 0 {
			continue
		}
		b, err := books(p.To, p.Asset, true)
		if err != nil {
			return nil, err
		}
		for _, l := range back {
			if b == nil || added <= 0 {
				break
			}
			l.Units = min(l.Units, added)
			added -= l.Units
			b.add(l)
		}
	}
	return used, nil
}

// replayOrRefuse returns the transaction a retry's key names when the
// request is the same (or ErrIdempotencyConflict), and refusal when the
// key is new or there is none: for a grant whose expiry has since passed.
func (w *Writer) replayOrRefuse(t *driver.Transaction, ps []driver.Posting, refusal error) (Transaction, error) {
	if t.Key == "" {
		return Transaction{}, refusal
	}
	if err := w.loadHead(); err != nil {
		return Transaction{}, err
	}
	tr, err := w.existing(t, ps)
	if errors.Is(err, ErrNotFound) {
		return Transaction{}, refusal
	}
	if err == nil {
		w.lastTx = tr.ID
	}
	return tr, err
}

// sameMetadataLots is sameMetadata that ignores what the ledger adds to a
// transaction at commit (the lots its postings consumed): a retry's
// request cannot know them.
func sameMetadataLots(stored, req map[string]string) bool {
	n := 0
	for k, v := range stored {
		if strings.HasPrefix(k, metaLotUsed) {
			continue
		}
		if w, ok := req[k]; !ok || w != v {
			return false
		}
		n++
	}
	return n == len(req)
}

// validateLotMetadata refuses metadata a caller sets under the ledger's
// own lot keys: an expiry must come through Posting.ExpiresAt, which the
// ledger checks.
func validateLotMetadata(m map[string]string) error {
	for k := range m {
		if strings.HasPrefix(k, metaLotPrefix) {
			return fmt.Errorf("%w: metadata key %s is the ledger's own", ErrInvalidTransaction, clip(k))
		}
	}
	return nil
}

// lotMetadata checks the expiries of a transaction's postings ps, which
// expiry gives (posting i's expiry and breakage account), and returns the
// transaction's metadata with them added (md itself is not changed).
// past is the refusal of an expiry that is not after now, returned apart
// with the metadata: a retry of a grant under its key returns the
// original even once its expiry has passed, as for a hold.
func (w *Writer) lotMetadata(ps []driver.Posting, expiry func(i int) (time.Time, string), md map[string]string) (out map[string]string, past, err error) {
	for i := range ps {
		var p struct {
			ExpiresAt time.Time
			Breakage  string
		}
		p.ExpiresAt, p.Breakage = expiry(i)
		if p.ExpiresAt.IsZero() {
			if p.Breakage != "" {
				return nil, nil, fmt.Errorf("posting %d: %w: a breakage account without an expiry", i, ErrInvalidTransaction)
			}
			continue
		}
		if err := ValidateTime("lot expiry", p.ExpiresAt); err != nil {
			return nil, nil, fmt.Errorf("posting %d: %w", i, err)
		}
		if !p.ExpiresAt.After(w.now) && past == nil {
			past = fmt.Errorf("posting %d: %w: lot expiry %s is not after now %s", i, ErrInvalidTransaction,
				p.ExpiresAt.UTC().Format(time.RFC3339), w.now.Format(time.RFC3339))
		}
		to, err := w.account(ps[i].To)
		if err != nil {
			return nil, nil, fmt.Errorf("posting %d: %w", i, err)
		}
		if to.Unbounded {
			return nil, nil, fmt.Errorf("posting %d: %w: %s is unbounded and keeps no lots", i, ErrInvalidTransaction, to.Address)
		}
		if p.Breakage == "" {
			return nil, nil, fmt.Errorf("posting %d: %w: an expiry needs a breakage account", i, ErrInvalidTransaction)
		}
		brk, err := w.account(p.Breakage)
		if err != nil {
			return nil, nil, fmt.Errorf("posting %d: breakage: %w", i, err)
		}
		if brk.Address == to.Address {
			return nil, nil, fmt.Errorf("posting %d: %w: %s is its own breakage account", i, ErrInvalidTransaction, to.Address)
		}
		if out == nil {
			out = make(map[string]string, len(md)+2)
			for k, v := range md {
				out[k] = v
			}
		}
		out[metaLotExpires+strconv.Itoa(i)] = p.ExpiresAt.UTC().Format(time.RFC3339Nano)
		out[metaLotBreakage+strconv.Itoa(i)] = brk.Address
	}
	if out == nil {
		return md, past, nil
	}
	if len(out) > maxMetadataEntries {
		return nil, nil, fmt.Errorf("%w: %d metadata entries with the lots' expiries, at most %d", ErrInvalidTransaction, len(out), maxMetadataEntries)
	}
	return out, past, nil
}

// liveBook is one balance's book as a unit of work changes it.
type liveBook struct {
	addr, asset string
	book        lotBook
	changed     bool
}

// applyLots steps the books of the balances transaction t moves (t.ID and
// its postings' running balances set), records the lots each posting
// consumed in t's metadata, and writes the changed books and their due
// entries. Only balances of bounded accounts keep lots; a balance is read
// only when a posting debits it, credits it with an expiry, or gives it
// back lots (a reversal).
func (w *Writer) applyLots(t *driver.Transaction) error {
	if t.Kind != driver.KindReversal && !hasLotMetadata(t.Metadata) {
		// The common case, a transfer with no expiry: nothing to do unless
		// it debits a balance that has lots.
		found := false
		for j := range t.Postings {
			p := &t.Postings[j]
			if pos(p.FromAfter+p.Units) == pos(p.FromAfter) {
				continue
			}
			acc, err := w.account(p.From)
			if err != nil {
				return err
			}
			if acc.Unbounded {
				continue
			}
			_, err = w.rt.Record(lotsRecord, lotBalanceID(p.From, p.Asset))
			if err == nil {
				found = true
				break
			}
			if !errors.Is(err, ErrNotFound) {
				return err
			}
		}
		if !found {
			return nil
		}
	}
	var live []liveBook
	books := func(addr, asset string, create bool) (*lotBook, error) {
		for i := range live {
			if live[i].addr == addr && live[i].asset == asset {
				live[i].changed = true
				return &live[i].book, nil
			}
		}
		acc, err := w.account(addr)
		if err != nil {
			return nil, err
		}
		if acc.Unbounded {
			return nil, nil
		}
		b, err := w.readBook(addr, asset)
		if err != nil {
			return nil, err
		}
		if b == nil && !create {
			return nil, nil
		}
		live = append(live, liveBook{addr: addr, asset: asset, book: b, changed: true})
		return &live[len(live)-1].book, nil
	}
	orig := func(id uint64) (*driver.Transaction, error) {
		o, err := w.tx.Transaction(id)
		return &o, err
	}
	used, err := stepLots(t, books, orig)
	if err != nil {
		return err
	}
	if len(used) > 0 {
		if t.Metadata == nil {
			t.Metadata = make(map[string]string, len(used))
		}
		for j, u := range used {
			t.Metadata[metaLotUsed+strconv.Itoa(j)] = encodeUsed(u)
		}
	}
	for i := range live {
		if lb := &live[i]; lb.changed {
			if err := w.writeBook(lb.addr, lb.asset, lb.book); err != nil {
				return err
			}
		}
	}
	return nil
}

// readBook reads a balance's open lots; nil when it has none.
func (r *Reader) readBook(addr, asset string) (lotBook, error) {
	data, err := r.rt.Record(lotsRecord, lotBalanceID(addr, asset))
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var b lotBook
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, fmt.Errorf("lots of %s %s: %w", addr, asset, err)
	}
	return b, nil
}

// writeBook keeps a balance's open lots and makes the balance due at its
// soonest expiry (in the past when a lot past its expiry is still open,
// its funds held: every Tick tries it again).
func (w *Writer) writeBook(addr, asset string, b lotBook) error {
	id := lotBalanceID(addr, asset)
	if len(b) == 0 {
		if err := w.store().DeleteRecord(lotsRecord, id); err != nil {
			return err
		}
		return w.store().Unschedule(DueLotExpiry, id)
	}
	data, err := json.Marshal(b)
	if err != nil {
		return err
	}
	if err := w.store().PutRecord(driver.Record{Kind: lotsRecord, ID: id, Data: data}); err != nil {
		return err
	}
	return w.store().Schedule(driver.DueEntry{Kind: DueLotExpiry, ID: id, At: timeOf(b[0].At)})
}

// expireLots settles the expired lots of the balance a due entry names:
// each moves what it still holds, as far as the balance has it available
// (posted less held), to its breakage account in a transaction of its own
// (Kind KindTransfer, metadata "ledger.lot.expired": the lot), with an
// EventLotExpired. What a lot cannot move because the balance's funds are
// held stays in the lot, which stays due: a capture of the hold consumes
// it first, and every later Tick moves what has become available. It
// returns how many lots it settled, and whether the entry is no longer due
// now.
func (w *Writer) expireLots(dueID string) (expired int, cleared bool, err error) {
	addr, asset, ok := splitLotBalanceID(dueID)
	if !ok {
		return 0, false, fmt.Errorf("%w: the due entry names no balance", ErrNotFound)
	}
	if err := w.loadHead(); err != nil { // serialises racing Ticks: a lot is settled once
		return 0, false, err
	}
	now := w.now.UnixNano()
	for skip := 0; ; {
		b, err := w.readBook(addr, asset)
		if err != nil {
			return expired, false, err
		}
		if skip >= len(b) || b[skip].At > now {
			if len(b) == 0 {
				return expired, true, w.store().Unschedule(DueLotExpiry, dueID)
			}
			// Due at the soonest lot: now again when one is held.
			return expired, b[0].At > now, w.writeBook(addr, asset, b)
		}
		l := b[skip]
		w.keys = append(w.keys[:0], driver.BalanceKey{Address: addr, Asset: asset})
		states, err := w.tx.LockBalances(w.keys)
		if err != nil {
			return expired, false, err
		}
		// The held amount reserves the balance's lots in consumption
		// order (a capture consumes them first): of lot l, only what
		// the lots up to it hold beyond the held amount is free, and no
		// more than the balance has available. Money that arrived since
		// is not the held lot's to lose.
		avail := int64(0)
		if a, ok := addUnits(states[0].Posted, -states[0].Held); ok && a > 0 {
			avail = a
		}
		upTo := int64(0)
		for i := 0; i <= skip; i++ {
			upTo, _ = addUnits(upTo, b[i].Units)
		}
		free := upTo - max(states[0].Held, 0)
		avail = max(min(avail, free), 0)
		u := min(l.Units, avail)
		if u <= 0 {
			skip++ // held: it waits for the hold
			continue
		}
		p, err := w.unitPosting(addr, l.Breakage, asset, u)
		if err != nil {
			return expired, false, err
		}
		w.posting = append(w.posting[:0], p)
		t := driver.Transaction{Kind: driver.KindTransfer, Metadata: map[string]string{metaLotExpired: l.id()}}
		tr, err := w.commit(&t, w.posting)
		if err != nil {
			return expired, false, err
		}
		if err := w.lotExpired(addr, asset, &l, tr.ID, u); err != nil {
			return expired, false, err
		}
		expired++
	}
}

func (w *Writer) lotExpired(addr, asset string, l *lot, txID uint64, units int64) error {
	return w.builtEvent(EventLotExpired, addr, txID, func(b []byte) []byte {
		b = appendStringField(b, "account", addr)
		b = appendStringField(b, "asset", asset)
		b = appendUintField(b, "transaction", l.Tx)
		b = appendUintField(b, "posting", uint64(l.P))
		b = w.appendAmountField(b, "amount", asset, units)
		b = appendStringField(b, "breakage", l.Breakage)
		return appendStringField(b, "expires_at", timeOf(l.At).Format(time.RFC3339Nano))
	})
}

// Lot is an open lot of a balance: what is left of one grant, and when it
// expires.
type Lot struct {
	Account string
	Asset   string
	// Transaction and Posting name the grant; both are 0 for the part of
	// the balance that never expires.
	Transaction uint64
	Posting     int
	Amount      decimal.Decimal // still open
	ExpiresAt   time.Time       // zero: never
	Breakage    string          // where the rest goes at expiry
}

// Expiring is what part of a balance expires when.
type Expiring struct {
	At     time.Time
	Amount decimal.Decimal
}

// Lots returns a balance's open lots in the order debits consume them:
// soonest expiry first (a grant before a later grant of the same expiry),
// and last, as one lot with a zero ExpiresAt, the part of the balance that
// never expires (its positive posted amount less the expiring lots). The
// lots add up to the posted amount when it is positive.
func (r *Reader) Lots(account, asset string) ([]Lot, error) {
	bal, err := r.Balance(account, asset)
	if err != nil {
		return nil, err
	}
	a, _ := r.Asset(asset)
	b, err := r.readBook(account, asset)
	if err != nil {
		return nil, err
	}
	out := make([]Lot, 0, len(b)+1)
	for i := range b {
		l := &b[i]
		out = append(out, Lot{Account: account, Asset: asset, Transaction: l.Tx, Posting: l.P,
			Amount: a.Amount(l.Units), ExpiresAt: timeOf(l.At), Breakage: l.Breakage})
	}
	if rest := bal.Posted.Sub(a.Amount(b.sum())); rest.Sign() > 0 {
		out = append(out, Lot{Account: account, Asset: asset, Amount: rest})
	}
	return out, nil
}

// expiring sums a balance's lots by expiry.
func (r *Reader) expiring(account string, a Asset) ([]Expiring, error) {
	b, err := r.readBook(account, a.Code)
	if err != nil || len(b) == 0 {
		return nil, err
	}
	var out []Expiring
	for i := range b {
		at := timeOf(b[i].At)
		if n := len(out); n > 0 && out[n-1].At.Equal(at) {
			out[n-1].Amount = out[n-1].Amount.Add(a.Amount(b[i].Units))
			continue
		}
		out = append(out, Expiring{At: at, Amount: a.Amount(b[i].Units)})
	}
	return out, nil
}

// Lots returns a balance's open lots (see Reader.Lots).
func (l *Ledger) Lots(ctx context.Context, account, asset string) (ls []Lot, err error) {
	err = l.View(ctx, func(r *Reader) error { ls, err = r.Lots(account, asset); return err })
	return ls, err
}
