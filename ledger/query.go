package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger/driver"
)

// Balance is one account's balance in one asset. Available is what may be
// spent before reaching zero (Posted - Held); the account's overdraft
// limit, if any, comes on top.
type Balance struct {
	Account   string
	Asset     string
	Posted    decimal.Decimal
	Held      decimal.Decimal
	Available decimal.Decimal
	// Expiring says what part of the balance expires when (its lots
	// summed by expiry, soonest first); empty when nothing expires.
	// Reader.Balance and Reader.Balances fill it in; AllBalances does not.
	Expiring []Expiring
}

func (r *Reader) publicBalance(s driver.Balance) (Balance, error) {
	a, err := r.Asset(s.Asset)
	if err != nil {
		return Balance{}, err
	}
	b := Balance{Account: s.Address, Asset: s.Asset, Posted: a.Amount(s.Posted), Held: a.Amount(s.Held)}
	if avail, ok := addUnits(s.Posted, -s.Held); ok && s.Held != math.MinInt64 {
		b.Available = a.Amount(avail)
	} else {
		// Posted - Held leaves the int64 range: a balance at an overdraft
		// limit near -2^63 with holds on top (TransferRequest.IncludeHeld).
		b.Available = b.Posted.Sub(b.Held)
	}
	return b, nil
}

// Balance returns an account's balance in an asset (zero if it never held
// any). Unknown accounts and assets are errors.
func (r *Reader) Balance(account, asset string) (Balance, error) {
	if _, err := r.Asset(asset); err != nil {
		return Balance{}, err
	}
	acc, err := r.account(account)
	if err != nil {
		return Balance{}, err
	}
	s, err := r.rt.Balance(driver.BalanceKey{Address: acc.Address, Asset: asset})
	if err != nil {
		return Balance{}, err
	}
	b, err := r.publicBalance(s)
	if err != nil || acc.Unbounded {
		return b, err
	}
	a, _ := r.Asset(asset)
	b.Expiring, err = r.expiring(acc.Address, a)
	return b, err
}

// Balances returns every balance an account has held, ordered by asset.
func (r *Reader) Balances(account string) ([]Balance, error) {
	acc, err := r.account(account)
	if err != nil {
		return nil, err
	}
	ss, err := r.rt.AccountBalances(account)
	if err != nil {
		return nil, err
	}
	out := make([]Balance, 0, len(ss))
	for _, s := range ss {
		b, err := r.publicBalance(s)
		if err != nil {
			return nil, err
		}
		if !acc.Unbounded {
			a, _ := r.Asset(s.Asset)
			if b.Expiring, err = r.expiring(acc.Address, a); err != nil {
				return nil, err
			}
		}
		out = append(out, b)
	}
	return out, nil
}

// Transaction returns a transaction by ID.
func (r *Reader) Transaction(id uint64) (Transaction, error) {
	t, err := r.rt.Transaction(id)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return Transaction{}, fmt.Errorf("%w: transaction %d", ErrNotFound, id)
		}
		return Transaction{}, err
	}
	return r.public(&t)
}

// TransactionByKey returns the transaction posted with an idempotency key.
func (r *Reader) TransactionByKey(key string) (Transaction, error) {
	t, err := r.rt.TransactionByKey(key)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return Transaction{}, fmt.Errorf("%w: transaction with key %s", ErrNotFound, clip(key))
		}
		return Transaction{}, err
	}
	return r.public(&t)
}

// Transactions lists transactions with ID > after, in ID order, at most
// limit (1 to 1000; 0 means 100). Next is the cursor for the next page, 0
// when there is none.
func (r *Reader) Transactions(after uint64, limit int) (txs []Transaction, next uint64, err error) {
	limit = pageLimit(limit)
	ts, err := r.rt.Transactions(after, limit+1)
	if err != nil {
		return nil, 0, err
	}
	if len(ts) > limit {
		ts = ts[:limit]
		next = ts[limit-1].ID
	}
	for i := range ts {
		t, err := r.public(&ts[i])
		if err != nil {
			return nil, 0, err
		}
		txs = append(txs, t)
	}
	return txs, next, nil
}

func pageLimit(limit int) int {
	switch {
	case limit <= 0:
		return 100
	case limit > 1000:
		return 1000
	}
	return limit
}

// HistoryQuery selects a page of one balance's history.
type HistoryQuery struct {
	Account string
	Asset   string
	After   uint64 // cursor: the last transaction ID of the previous page
	Limit   int    // 1 to 1000; 0 means 100
}

// HistoryEntry is one posting that changed a balance, with the posted
// balance right after it.
type HistoryEntry struct {
	Transaction uint64
	Time        time.Time
	Posting     int
	Change      decimal.Decimal // signed: positive in, negative out
	Balance     decimal.Decimal // running posted balance after the posting
}

// HistoryPage is a page of history and the cursor for the next one (0 when
// this is the last page). A page holds every posting of each transaction it
// shows, so it may hold fewer entries than asked (or, for one transaction
// touching the balance more times than the limit, more).
type HistoryPage struct {
	Entries []HistoryEntry
	Next    uint64
}

// History returns a page of a balance's history, oldest first.
func (r *Reader) History(q HistoryQuery) (HistoryPage, error) {
	a, err := r.Asset(q.Asset)
	if err != nil {
		return HistoryPage{}, err
	}
	if _, err := r.account(q.Account); err != nil {
		return HistoryPage{}, err
	}
	limit := pageLimit(q.Limit)
	key := driver.BalanceKey{Address: q.Account, Asset: q.Asset}
	items, err := r.rt.History(key, q.After, limit+1)
	if err != nil {
		return HistoryPage{}, err
	}
	var page HistoryPage
	if len(items) > limit {
		// The cursor is a transaction ID, so a page never ends between two
		// postings of one transaction: drop a split transaction's head from
		// this page (it opens the next), or, when it alone fills the page,
		// take all of its postings.
		split := items[limit].ID
		items = items[:limit]
		cut := len(items)
		for cut > 0 && items[cut-1].ID == split {
			cut--
		}
		if cut > 0 {
			items = items[:cut]
		} else {
			all, err := r.rt.History(key, split-1, maxPostings*2+1)
			if err != nil {
				return HistoryPage{}, err
			}
			items = items[:0]
			for _, it := range all {
				if it.ID == split {
					items = append(items, it)
				}
			}
		}
		page.Next = items[len(items)-1].ID
	}
	for _, it := range items {
		page.Entries = append(page.Entries, HistoryEntry{Transaction: it.ID, Time: timeOf(it.Time),
			Posting: it.Posting, Change: a.Amount(it.Delta), Balance: a.Amount(it.After)})
	}
	return page, nil
}

// BalanceAt returns an account's posted balance in an asset as it stood
// at time t (after every transaction whose time is <= t). A time outside
// [MinTime, MaxTime) is ErrInvalidTime.
func (r *Reader) BalanceAt(account, asset string, t time.Time) (decimal.Decimal, error) {
	if err := ValidateTime("balance time", t); err != nil {
		return decimal.Decimal{}, err
	}
	a, err := r.Asset(asset)
	if err != nil {
		return decimal.Decimal{}, err
	}
	if _, err := r.account(account); err != nil {
		return decimal.Decimal{}, err
	}
	id, err := r.rt.LastIDAt(t.UnixNano())
	if err != nil {
		return decimal.Decimal{}, err
	}
	if id == 0 {
		return a.Amount(0), nil
	}
	u, err := r.rt.PostedAt(driver.BalanceKey{Address: account, Asset: asset}, id)
	if err != nil {
		return decimal.Decimal{}, err
	}
	return a.Amount(u), nil
}

// Record returns a program record's data, or ErrNotFound.
func (r *Reader) Record(kind, id string) ([]byte, error) {
	return r.rt.Record(kind, id)
}

// LoadJSON reads a record into v. A missing record is ErrNotFound.
func (r *Reader) LoadJSON(kind, id string, v any) error {
	b, err := r.rt.Record(kind, id)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// Record is a small piece of program state kept beside the ledger (a
// referral code, a shoutout order), written in the same unit of work as the
// money it goes with.
type Record struct {
	Kind string
	ID   string
	Data []byte
}

// Records lists records of a kind with ID > after, in ID byte order.
func (r *Reader) Records(kind, after string, limit int) ([]Record, error) {
	rs, err := r.rt.Records(kind, after, pageLimit(limit))
	if err != nil {
		return nil, err
	}
	out := make([]Record, len(rs))
	for i := range rs {
		out[i] = Record(rs[i])
	}
	return out, nil
}

// DueEntry is something that falls due at a time: a hold's expiry, a
// shoutout deadline, a renewal. Finding what is due never scans
// everything: entries are indexed by kind and time.
type DueEntry struct {
	Kind string
	ID   string
	At   time.Time
}

// Due lists entries of a kind due at or before t, earliest first. A time
// outside [MinTime, MaxTime) is ErrInvalidTime.
func (r *Reader) Due(kind string, t time.Time, limit int) ([]DueEntry, error) {
	if err := ValidateTime("due time", t); err != nil {
		return nil, err
	}
	ds, err := r.rt.Due(kind, t, pageLimit(limit))
	if err != nil {
		return nil, err
	}
	out := make([]DueEntry, len(ds))
	for i := range ds {
		out[i] = DueEntry(ds[i])
	}
	return out, nil
}

// PutRecord creates or replaces a program record in this unit of work.
// The kind "ledger.lots" is the ledger's own (ErrInvalidTransaction).
func (w *Writer) PutRecord(kind, id string, data []byte) error {
	if err := validateRecordName(kind, id); err != nil {
		return err
	}
	if err := ownRecordKind(kind); err != nil {
		return err
	}
	return w.store().PutRecord(driver.Record{Kind: kind, ID: id, Data: append([]byte(nil), data...)})
}

// InsertRecord creates a record, or returns ErrDuplicate if it exists. It
// is how a program claims an event id once even under racing callers.
func (w *Writer) InsertRecord(kind, id string, data []byte) error {
	if err := validateRecordName(kind, id); err != nil {
		return err
	}
	if err := ownRecordKind(kind); err != nil {
		return err
	}
	err := w.store().InsertRecord(driver.Record{Kind: kind, ID: id, Data: append([]byte(nil), data...)})
	if errors.Is(err, ErrDuplicate) {
		w.writes-- // refused as a duplicate, it wrote nothing (Atomic)
	}
	return err
}

// SaveJSON stores v as JSON in a record (created or replaced).
func (w *Writer) SaveJSON(kind, id string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return w.PutRecord(kind, id, b)
}

// CreateJSON stores v as JSON in a new record, or returns ErrDuplicate.
func (w *Writer) CreateJSON(kind, id string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return w.InsertRecord(kind, id, b)
}

// DeleteRecord removes a record; a missing one is no error. The kind
// "ledger.lots" is the ledger's own (ErrInvalidTransaction).
func (w *Writer) DeleteRecord(kind, id string) error {
	if err := ownRecordKind(kind); err != nil {
		return err
	}
	return w.store().DeleteRecord(kind, id)
}

// ownRecordKind refuses the ledger's own record kind to callers: lots
// written by hand would no longer add up to what the journal granted.
func ownRecordKind(kind string) error {
	if kind == lotsRecord {
		return fmt.Errorf("%w: record kind %q is the ledger's own", ErrInvalidTransaction, kind)
	}
	return nil
}

// Schedule makes (kind, id) due at t, replacing an earlier time. A time
// outside [MinTime, MaxTime) is ErrInvalidTime. The kinds DueHoldExpiry
// and DueLotExpiry are the ledger's own (ErrInvalidTransaction).
func (w *Writer) Schedule(kind, id string, t time.Time) error {
	if err := validateRecordName(kind, id); err != nil {
		return err
	}
	if err := ownDueKind(kind); err != nil {
		return err
	}
	if err := ValidateTime("due time", t); err != nil {
		return err
	}
	return w.store().Schedule(driver.DueEntry{Kind: kind, ID: id, At: t.UTC()})
}

// Unschedule removes (kind, id) from the due index. The kinds
// DueHoldExpiry and DueLotExpiry are the ledger's own
// (ErrInvalidTransaction).
func (w *Writer) Unschedule(kind, id string) error {
	if err := ownDueKind(kind); err != nil {
		return err
	}
	return w.store().Unschedule(kind, id)
}

// ownDueKind refuses the ledger's own due kinds to callers: a hold's
// expiry entry moved or removed by hand would keep its funds reserved
// past the sweep, a balance's lot entry its lots from expiring.
func ownDueKind(kind string) error {
	if kind == DueHoldExpiry || kind == DueLotExpiry {
		return fmt.Errorf("%w: due kind %q is the ledger's own", ErrInvalidTransaction, kind)
	}
	return nil
}

func validateRecordName(kind, id string) error {
	if kind == "" || len(kind) > 64 || id == "" || len(id) > 256 {
		return fmt.Errorf("%w: record kind %s id %s must have 1 to 64 and 1 to 256 bytes", ErrInvalidTransaction, clip(kind), clip(id))
	}
	return nil
}

// The ledger-level methods below each run one unit of work.

// DefineAsset defines an asset (see Writer.DefineAsset).
func (l *Ledger) DefineAsset(ctx context.Context, a Asset) error {
	return l.Update(ctx, func(w *Writer) error { return w.DefineAsset(a) })
}

// OpenAccount opens an account (see Writer.OpenAccount).
func (l *Ledger) OpenAccount(ctx context.Context, spec AccountSpec) (acc Account, err error) {
	err = l.Update(ctx, func(w *Writer) error { acc, err = w.OpenAccount(spec); return err })
	return acc, err
}

// Post posts a transaction (see Writer.Post).
func (l *Ledger) Post(ctx context.Context, req TransferRequest) (Transaction, error) {
	w := l.getWriter()
	defer l.putWriter(w)
	w.req = req
	return l.postWith(ctx, w)
}

// Transfer posts one posting of amount from one account to another.
func (l *Ledger) Transfer(ctx context.Context, key, from, to, asset string, amount decimal.Decimal) (Transaction, error) {
	w := l.getWriter()
	defer l.putWriter(w)
	w.one[0] = Posting{From: from, To: to, Asset: asset, Amount: amount}
	w.req = TransferRequest{Key: key, Postings: w.one[:]}
	return l.postWith(ctx, w)
}

// postOp posts w.req into w.out; a package-level func, so passing it
// allocates nothing.
func postOp(w *Writer) (err error) {
	w.out, err = w.Post(w.req)
	return err
}

func (l *Ledger) postWith(ctx context.Context, w *Writer) (Transaction, error) {
	if err := l.updateWith(ctx, w, postOp); err != nil {
		return Transaction{}, err
	}
	return w.out, nil
}

// Hold reserves funds (see Writer.Hold).
func (l *Ledger) Hold(ctx context.Context, req HoldRequest) (h Hold, err error) {
	err = l.Update(ctx, func(w *Writer) error { h, err = w.Hold(req); return err })
	return h, err
}

// Capture captures a hold (see Writer.Capture).
func (l *Ledger) Capture(ctx context.Context, req CaptureRequest) (t Transaction, err error) {
	err = l.Update(ctx, func(w *Writer) error { t, err = w.Capture(req); return err })
	return t, err
}

// Void releases a hold (see Writer.Void).
func (l *Ledger) Void(ctx context.Context, id uint64) (h Hold, err error) {
	err = l.Update(ctx, func(w *Writer) error { h, err = w.Void(id); return err })
	return h, err
}

// Convert posts a conversion (see Writer.Convert).
func (l *Ledger) Convert(ctx context.Context, req ConversionRequest) (c Conversion, err error) {
	err = l.Update(ctx, func(w *Writer) error { c, err = w.Convert(req); return err })
	return c, err
}

// Reverse reverses a transaction (see Writer.Reverse).
func (l *Ledger) Reverse(ctx context.Context, req ReversalRequest) (t Transaction, err error) {
	err = l.Update(ctx, func(w *Writer) error { t, err = w.Reverse(req); return err })
	return t, err
}

// TickEach releases every hold whose expiry has passed (status
// HoldExpired) and drops the due entries of holds already closed. Each
// hold is handled in a unit of work of its own (a savepoint of a batch, so
// one durable commit serves many), so one that cannot be released holds
// up no other. Each hold is tried at most once per call. It tells each,
// in order, about every hold it tried to release: with a nil error for a
// hold it released, with the cause for one it could not. hold is the
// hold's ID in decimal (or a due entry's own ID when it names no hold).
// Entries only dropped or moved (their hold already closed, or not yet
// expired) are not told. The holds that failed go to each only, so the
// error TickEach returns is for the run as a whole (the store, the
// context, a clock reading outside [MinTime, MaxTime)), as kit.EachDue's
// is. With a nil each, the error also joins one error per failed hold,
// each naming the hold and wrapping its cause. ledger/scheduler reports
// the holds by ID through it. It settles no lots: Tick and ExpireLots do.
func (l *Ledger) TickEach(ctx context.Context, each func(hold string, err error)) (int, error) {
	now := l.clock.Now()
	if err := ValidateTime("clock reading", now); err != nil {
		return 0, err
	}
	step := func(w *Writer, id string) (int, bool, error) {
		released, cleared, err := w.expireDue(id)
		if released {
			return 1, cleared, err
		}
		return 0, cleared, err
	}
	var report func(id string, err error)
	if each != nil {
		report = func(id string, err error) { each(dueHoldID(id), err) }
	}
	return l.sweepDue(ctx, now, DueHoldExpiry, step, report, dueName)
}

// Tick does what time makes happen in the ledger itself: it releases
// every hold whose expiry has passed (TickEach), then settles every lot
// whose expiry has passed (ExpireLots). It returns how many holds it
// released and lots it settled, with an error that joins one error per
// hold or balance that failed, each naming it and wrapping its cause.
func (l *Ledger) Tick(ctx context.Context) (int, error) {
	if err := ValidateTime("clock reading", l.clock.Now()); err != nil {
		return 0, err
	}
	n, err := l.TickEach(ctx, nil)
	if ctxErr := ctx.Err(); ctxErr != nil {
		return n, err
	}
	m, lerr := l.ExpireLots(ctx, nil)
	return n + m, errors.Join(err, lerr)
}

// ExpireLots settles every lot whose expiry has passed: what each still
// holds, as far as its balance has it available, moves to its breakage
// account in a transaction of its own with an EventLotExpired (see
// "Lots and expiry" in the package documentation). Each balance is
// handled in a unit of work of its own, in one batch as TickEach handles
// holds, so a lot is settled exactly once however many callers race. It
// tells each, when not nil, about every balance it settled lots of (nil
// error) or could not (the cause), and returns how many lots it settled;
// the error is for the run as a whole, or, with a nil each, joins the
// balances' errors.
func (l *Ledger) ExpireLots(ctx context.Context, each func(account, asset string, err error)) (int, error) {
	now := l.clock.Now()
	if err := ValidateTime("clock reading", now); err != nil {
		return 0, err
	}
	step := func(w *Writer, id string) (int, bool, error) { return w.expireLots(id) }
	var report func(id string, err error)
	if each != nil {
		report = func(id string, err error) {
			addr, asset, _ := splitLotBalanceID(id)
			each(addr, asset, err)
		}
	}
	name := func(id string) string {
		addr, asset, _ := splitLotBalanceID(id)
		return "lots of " + clip(addr) + " " + clip(asset)
	}
	return l.sweepDue(ctx, now, DueLotExpiry, step, report, name)
}

// sweepDue works through the due entries of one of the ledger's own kinds
// at or before now, each in a unit of work of its own (a savepoint of a
// batch, so one durable commit serves many): step handles one entry and
// says how many things it did and whether the entry is no longer due.
// Each entry is tried at most once per call. report, when not nil, is
// told of every entry that did something or failed; otherwise the
// failures are joined into the error, each named by name.
func (l *Ledger) sweepDue(ctx context.Context, now time.Time, kind string,
	step func(w *Writer, id string) (int, bool, error),
	report func(id string, err error), name func(id string) string) (int, error) {
	const batch = 256
	total := 0
	var failed []error
	// Entries tried in this call but still due (a failed one, an entry
	// moved to a later time): skipped, so the loop always moves on.
	left := map[string]bool{}
	for {
		if err := ctx.Err(); err != nil {
			return total, errors.Join(append(failed, err)...)
		}
		var due []driver.DueEntry
		limit := batch + len(left)
		// On the primary: a replica behind the holds this loop has just
		// released would list them again and again.
		err := l.View(ReadPrimary(ctx), func(r *Reader) error {
			var err error
			due, err = r.rt.Due(kind, now, limit)
			return err
		})
		if err != nil {
			return total, errors.Join(append(failed, err)...)
		}
		ids := make([]string, 0, batch)
		for _, d := range due {
			if !left[d.ID] && len(ids) < batch {
				ids = append(ids, d.ID)
			}
		}
		done := make([]int, len(ids))
		cleared := make([]bool, len(ids))
		fns := make([]func(*Writer) error, len(ids))
		for i, id := range ids {
			fns[i] = func(w *Writer) (err error) {
				done[i], cleared[i], err = step(w, id)
				return err
			}
		}
		if len(fns) > 0 {
			errs, err := l.UpdateBatch(ctx, fns)
			if err != nil {
				return total, errors.Join(append(failed, err)...)
			}
			for i, id := range ids {
				switch {
				case errs[i] != nil:
					left[id] = true
					if report != nil {
						report(id, errs[i])
					} else {
						failed = append(failed, fmt.Errorf("%s: %w", name(id), errs[i]))
					}
					continue
				case done[i] > 0:
					total += done[i]
					if report != nil {
						report(id, nil)
					}
				}
				if !cleared[i] {
					left[id] = true
				}
			}
		}
		if len(due) < limit {
			return total, errors.Join(failed...)
		}
	}
}

// Balance returns one balance (see Reader.Balance).
func (l *Ledger) Balance(ctx context.Context, account, asset string) (b Balance, err error) {
	err = l.View(ctx, func(r *Reader) error { b, err = r.Balance(account, asset); return err })
	return b, err
}

// Balances returns an account's balances (see Reader.Balances).
func (l *Ledger) Balances(ctx context.Context, account string) (bs []Balance, err error) {
	err = l.View(ctx, func(r *Reader) error { bs, err = r.Balances(account); return err })
	return bs, err
}

// Transaction returns a transaction by ID.
func (l *Ledger) Transaction(ctx context.Context, id uint64) (t Transaction, err error) {
	err = l.View(ctx, func(r *Reader) error { t, err = r.Transaction(id); return err })
	return t, err
}

// TransactionByKey returns the transaction posted with an idempotency key.
func (l *Ledger) TransactionByKey(ctx context.Context, key string) (t Transaction, err error) {
	err = l.View(ctx, func(r *Reader) error { t, err = r.TransactionByKey(key); return err })
	return t, err
}

// History returns a page of a balance's history (see Reader.History).
func (l *Ledger) History(ctx context.Context, q HistoryQuery) (p HistoryPage, err error) {
	err = l.View(ctx, func(r *Reader) error { p, err = r.History(q); return err })
	return p, err
}

// BalanceAt returns a posted balance as of time t (see Reader.BalanceAt).
func (l *Ledger) BalanceAt(ctx context.Context, account, asset string, t time.Time) (d decimal.Decimal, err error) {
	err = l.View(ctx, func(r *Reader) error { d, err = r.BalanceAt(account, asset, t); return err })
	return d, err
}

// HoldByID returns a hold.
func (l *Ledger) HoldByID(ctx context.Context, id uint64) (h Hold, err error) {
	err = l.View(ctx, func(r *Reader) error { h, err = r.HoldByID(id); return err })
	return h, err
}

// Transactions lists transactions with ID > after, in ID order (see
// Reader.Transactions); next is the cursor for the next page, 0 at the end.
func (l *Ledger) Transactions(ctx context.Context, after uint64, limit int) (txs []Transaction, next uint64, err error) {
	err = l.View(ctx, func(r *Reader) error { txs, next, err = r.Transactions(after, limit); return err })
	return txs, next, err
}

// BalanceKey names one balance, an account and an asset: the cursor of
// Reader.AllBalances.
type BalanceKey struct {
	Address string
	Asset   string
}

// AllBalances lists every stored balance ordered by (account, asset),
// starting after the key given (the zero key starts at the beginning), at
// most limit (1 to 1000; 0 means 100). The last entry's account and asset
// are the cursor for the next page.
func (r *Reader) AllBalances(after BalanceKey, limit int) ([]Balance, error) {
	ss, err := r.rt.Balances(driver.BalanceKey(after), pageLimit(limit))
	if err != nil {
		return nil, err
	}
	out := make([]Balance, 0, len(ss))
	for _, s := range ss {
		b, err := r.publicBalance(s)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// Holds lists holds with ID > after in ID order, at most limit (1 to 1000;
// 0 means 100).
func (r *Reader) Holds(after uint64, limit int) ([]Hold, error) {
	hs, err := r.rt.Holds(after, pageLimit(limit))
	if err != nil {
		return nil, err
	}
	out := make([]Hold, 0, len(hs))
	for i := range hs {
		h, err := r.publicHold(&hs[i])
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, nil
}
