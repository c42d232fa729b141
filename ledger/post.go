package ledger

import (
	"errors"
	"fmt"
	"math/big"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger/driver"
)

// storedPosting checks one posting and converts it to minor units, with
// the accounts' own address strings (so the store retains one copy).
func (w *Writer) storedPosting(from, to, code string, amount decimal.Decimal) (driver.Posting, error) {
	asset, err := w.Asset(code)
	if err != nil {
		return driver.Posting{}, err
	}
	if amount.Sign() <= 0 {
		return driver.Posting{}, fmt.Errorf("%w: %s %s must be positive", ErrInvalidAmount, describeDecimal(amount), asset.Code)
	}
	u, err := asset.Units(amount)
	if err != nil {
		return driver.Posting{}, err
	}
	return w.unitPosting(from, to, asset.Code, u)
}

func (w *Writer) unitPosting(from, to, code string, u int64) (driver.Posting, error) {
	if u <= 0 {
		return driver.Posting{}, fmt.Errorf("%w: %d minor units of %s must be positive", ErrInvalidAmount, u, code)
	}
	if from == to {
		return driver.Posting{}, fmt.Errorf("%w: posting from %s to itself", ErrInvalidTransaction, clip(from))
	}
	fa, err := w.account(from)
	if err != nil {
		return driver.Posting{}, err
	}
	ta, err := w.account(to)
	if err != nil {
		return driver.Posting{}, err
	}
	return driver.Posting{From: fa.Address, To: ta.Address, Asset: code, Units: u}, nil
}

// existing looks up a transaction by idempotency key. It returns the
// transaction if the key was used for the same request, ErrNotFound if the
// key is new, and ErrIdempotencyConflict otherwise.
func (w *Writer) existing(t *driver.Transaction, ps []driver.Posting) (Transaction, error) {
	old, err := w.tx.TransactionByKey(t.Key)
	if err != nil {
		return Transaction{}, err
	}
	same := old.Kind == t.Kind && old.Reverses == t.Reverses && old.Hold == t.Hold &&
		len(old.Postings) == len(ps) && sameMetadataLots(old.Metadata, t.Metadata)
	for i := 0; same && i < len(ps); i++ {
		a, b := &old.Postings[i], &ps[i]
		same = a.From == b.From && a.To == b.To && a.Asset == b.Asset && a.Units == b.Units
	}
	if !same {
		return Transaction{}, fmt.Errorf("%w: key %s was used for transaction %d", ErrIdempotencyConflict, clip(t.Key), old.ID)
	}
	return w.public(&old)
}

// commit applies postings ps as transaction t: idempotency, limits, the
// hash chain, then the store. Postings' FromAfter/ToAfter are filled in.
func (w *Writer) commit(t *driver.Transaction, ps []driver.Posting) (Transaction, error) {
	return w.commitWithHold(t, ps, nil, 0, false)
}

// commitWithHold is commit that also changes the held amount of one
// balance by heldDelta in the same step (a capture releases what it
// takes). includeHeld lets the postings reach held funds (see
// TransferRequest.IncludeHeld).
func (w *Writer) commitWithHold(t *driver.Transaction, ps []driver.Posting, holdKey *driver.BalanceKey, heldDelta int64, includeHeld bool) (Transaction, error) {
	if err := w.loadHead(); err != nil {
		return Transaction{}, err
	}
	if t.Key != "" {
		tr, err := w.existing(t, ps)
		if err == nil {
			// An idempotent repeat: what is emitted next goes with the
			// transaction the key names, as it would have the first time.
			w.lastTx = tr.ID
		}
		if err == nil || !errors.Is(err, ErrNotFound) {
			return tr, err
		}
	}
	// Collect the balances touched, each once.
	keys := w.keys[:0]
	idx := func(addr, asset string) int {
		for i := range keys {
			if keys[i].Address == addr && keys[i].Asset == asset {
				return i
			}
		}
		keys = append(keys, driver.BalanceKey{Address: addr, Asset: asset})
		return len(keys) - 1
	}
	for i := range ps {
		idx(ps[i].From, ps[i].Asset)
		idx(ps[i].To, ps[i].Asset)
	}
	hi := -1
	if holdKey != nil {
		hi = idx(holdKey.Address, holdKey.Asset)
	}
	w.keys = keys
	states, err := w.tx.LockBalances(keys)
	if err != nil {
		return Transaction{}, err
	}
	// Limits are judged on the balances before and after, never on a sum
	// of changes: a sum can wrap (two debits of 2^63-1 and 2), the end
	// states cannot, since every step below is checked.
	w.before = append(w.before[:0], states...)
	for i := range ps {
		p := &ps[i]
		fi, ti := idx(p.From, p.Asset), idx(p.To, p.Asset)
		var ok1, ok2 bool
		states[fi].Posted, ok1 = addUnits(states[fi].Posted, -p.Units)
		states[ti].Posted, ok2 = addUnits(states[ti].Posted, p.Units)
		if !ok1 || !ok2 {
			return Transaction{}, fmt.Errorf("%w: posting %d of %d %s", ErrOverflow, i, p.Units, p.Asset)
		}
		p.FromAfter, p.ToAfter = states[fi].Posted, states[ti].Posted
	}
	if hi >= 0 {
		var ok bool
		if states[hi].Held, ok = addUnits(states[hi].Held, heldDelta); !ok || states[hi].Held < 0 {
			return Transaction{}, fmt.Errorf("%w: held amount of %s %s", ErrOverflow, holdKey.Address, holdKey.Asset)
		}
	}
	for i := range states {
		if err := w.checkLimits(&w.before[i], &states[i], includeHeld); err != nil {
			return Transaction{}, err
		}
	}
	t.ID = w.head.ID + 1
	t.Time = w.now.UnixNano()
	if t.Time < w.head.Time {
		t.Time = w.head.Time // the journal's time never goes back
	}
	t.Postings = make([]driver.Posting, len(ps))
	copy(t.Postings, ps)
	t.Metadata = copyMetadata(t.Metadata)
	if err := w.applyLots(t); err != nil {
		return Transaction{}, err
	}
	t.Hash, w.buf = driver.ChainHash(w.head.Hash, t, w.buf)
	if err := w.store().AppendTransaction(t); err != nil {
		return Transaction{}, err
	}
	if err := w.putBalances(w.before, states, t.ID, t.Hold); err != nil {
		return Transaction{}, err
	}
	w.head = driver.Head{ID: t.ID, Hash: t.Hash, Time: t.Time}
	w.lastTx = t.ID
	if err := w.transactionPosted(t); err != nil {
		return Transaction{}, err
	}
	return w.public(t)
}

// checkLimits judges one balance's change from before to after against
// its account's overdraft policy: the posted amount may never fall below
// the floor, and the available amount (posted - held) may not fall below
// it either unless includeHeld. A balance whose amounts did not fall is
// never refused, so a credit always lands on an account already below its
// floor.
func (w *Writer) checkLimits(before, after *driver.Balance, includeHeld bool) error {
	postedFell := after.Posted < before.Posted
	availFell := availableBelow(after.Posted, after.Held, before.Posted, before.Held)
	if !postedFell && !availFell {
		return nil
	}
	acc, err := w.account(after.Address)
	if err != nil {
		return err
	}
	floor, bounded := acc.floor(after.Asset)
	if !bounded {
		return nil
	}
	switch {
	case postedFell && after.Posted < floor:
	case availFell && !includeHeld && below(after.Posted, after.Held, floor):
	default:
		return nil
	}
	asset, _ := w.Asset(after.Asset)
	return fmt.Errorf("%w: %s would have %s %s available, limit %s", ErrInsufficientFunds,
		after.Address, formatAvailable(asset, after.Posted, after.Held), after.Asset, asset.Format(floor))
}

// checkFloor refuses a balance whose available amount (posted - held) is
// below what its account's overdraft policy allows.
func (w *Writer) checkFloor(s *driver.Balance) error {
	acc, err := w.account(s.Address)
	if err != nil {
		return err
	}
	floor, bounded := acc.floor(s.Asset)
	if !bounded {
		return nil
	}
	if below(s.Posted, s.Held, floor) {
		asset, _ := w.Asset(s.Asset)
		return fmt.Errorf("%w: %s would have %s %s available, limit %s", ErrInsufficientFunds,
			s.Address, formatAvailable(asset, s.Posted, s.Held), s.Asset, asset.Format(floor))
	}
	return nil
}

// below reports whether posted - held < floor, without overflow: floor is
// <= 0 and held >= 0, so floor + held cannot wrap.
func below(posted, held, floor int64) bool { return posted < floor+held }

// availableBelow reports whether posted1 - held1 < posted0 - held0 without
// computing either difference (each may leave the int64 range).
func availableBelow(posted1, held1, posted0, held0 int64) bool {
	if a, ok := addUnits(posted1, -held1); ok {
		if b, ok := addUnits(posted0, -held0); ok {
			return a < b
		}
	}
	a := new(big.Int).Sub(big.NewInt(posted1), big.NewInt(held1))
	b := new(big.Int).Sub(big.NewInt(posted0), big.NewInt(held0))
	return a.Cmp(b) < 0
}

// formatAvailable writes posted - held in the asset's decimals, exactly.
func formatAvailable(a Asset, posted, held int64) string {
	d := new(big.Int).Sub(big.NewInt(posted), big.NewInt(held))
	return decimal.NewFromBigInt(d, -a.Precision).StringFixed(a.Precision)
}

// public converts a stored transaction to the API's form.
func (r *Reader) public(t *driver.Transaction) (Transaction, error) {
	out := Transaction{
		ID: t.ID, Key: t.Key, Kind: Kind(t.Kind), Time: timeOf(t.Time),
		Postings: make([]Posting, len(t.Postings)), Metadata: copyMetadata(t.Metadata),
		Reverses: t.Reverses, Hold: t.Hold, Hash: t.Hash,
	}
	for i := range t.Postings {
		p := &t.Postings[i]
		a, err := r.Asset(p.Asset)
		if err != nil {
			return Transaction{}, err
		}
		out.Postings[i] = Posting{From: p.From, To: p.To, Asset: p.Asset, Amount: a.Amount(p.Units)}
	}
	if grants, err := lotGrants(t); err == nil {
		for j, g := range grants {
			out.Postings[j].ExpiresAt, out.Postings[j].Breakage = timeOf(g.at), g.breakage
		}
	}
	return out, nil
}

// Reverse posts a new transaction that undoes an earlier one: the same
// postings in reverse order, each from its destination back to its source,
// linked to the original through Reverses. A transaction is reversed at
// most once (ErrAlreadyReversed); a reversal itself cannot be reversed;
// the reversal obeys every limit like any posting.
func (w *Writer) Reverse(req ReversalRequest) (Transaction, error) {
	if err := validateKey(req.Key); err != nil {
		return Transaction{}, err
	}
	if err := validateMetadata(req.Metadata); err != nil {
		return Transaction{}, err
	}
	orig, err := w.tx.Transaction(req.ID)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return Transaction{}, fmt.Errorf("%w: transaction %d", ErrNotFound, req.ID)
		}
		return Transaction{}, err
	}
	if orig.Kind == driver.KindReversal {
		return Transaction{}, fmt.Errorf("%w: transaction %d is itself a reversal", ErrInvalidTransaction, req.ID)
	}
	ps := w.posting[:0]
	for i := len(orig.Postings) - 1; i >= 0; i-- {
		p := orig.Postings[i]
		ps = append(ps, driver.Posting{From: p.To, To: p.From, Asset: p.Asset, Units: p.Units})
	}
	w.posting = ps
	t := driver.Transaction{Key: req.Key, Kind: driver.KindReversal, Reverses: req.ID, Metadata: req.Metadata}
	if err := w.loadHead(); err != nil {
		return Transaction{}, err
	}
	if req.Key != "" {
		tr, err := w.existing(&t, ps)
		if err == nil || !errors.Is(err, ErrNotFound) {
			return tr, err
		}
	}
	if rid, err := w.tx.ReversalOf(req.ID); err == nil {
		return Transaction{}, fmt.Errorf("%w: transaction %d by %d", ErrAlreadyReversed, req.ID, rid)
	} else if !errors.Is(err, ErrNotFound) {
		return Transaction{}, err
	}
	tr, err := w.commit(&t, ps)
	if err != nil {
		return Transaction{}, err
	}
	if err := w.transactionReversed(req.ID, tr.ID); err != nil {
		return Transaction{}, err
	}
	return tr, nil
}

// ReversalRequest asks to reverse transaction ID.
type ReversalRequest struct {
	Key      string            `json:"key,omitempty"`
	ID       uint64            `json:"id"`
	Metadata map[string]string `json:"metadata,omitempty"`
}
