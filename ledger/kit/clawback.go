package kit

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger"
)

// ErrRecoveryBound is a clawback whose shortfall would take the member's
// outstanding debt past its RecoveryPolicy's Max when the policy names no
// LossAccount to write the rest off to: the clawback is refused and writes
// nothing, so that a caller decides (a risk review, a larger bound) rather
// than value going missing.
var ErrRecoveryBound = ledger.NewError(ledger.CodeFailedPrecondition, "clawback beyond the recovery bound")

// ErrInvalidRecovery is a RecoveryPolicy, a ClawRequest or a CreditRequest
// that cannot be applied (an unknown mode, a negative bound, a write-off
// with no loss account, an amount that is not positive, a member ID that
// is not a kit ID (CheckID), a member's debt or pending account as the
// other side). Nothing is written.
var ErrInvalidRecovery = ledger.NewError(ledger.CodeInvalidArgument, "invalid clawback or recovery")

// Recovery modes of a RecoveryPolicy.
const (
	// RecoverFromRewards: the shortfall becomes the member's debt
	// (DebtAccount), recovered by Credit from their next rewards before
	// those become spendable, as long as the debt stays within Max.
	RecoverFromRewards = "recover"
	// WriteOffToLoss: the shortfall is written off to LossAccount at once.
	WriteOffToLoss = "write_off"
)

// RecoveryPolicy declares what a clawback does with value it cannot take
// back because the member already spent it or had it paid out: the part of
// a clawback the member's wallet cannot give (down to its floor, the
// wallet policy's overdraft included) is the shortfall, and it is never
// dropped silently.
//
//   - Mode "recover" (Recover): the shortfall becomes a debt of the
//     member, a negative balance of DebtAccount(member) in the asset, as
//     long as the member's outstanding debt stays at most Max. The rest
//     beyond Max goes to LossAccount if the policy names one, and
//     otherwise the clawback is refused with ErrRecoveryBound and writes
//     nothing. Credit recovers the debt from the member's next rewards.
//   - Mode "write_off" (WriteOff): the shortfall goes to LossAccount, a
//     platform account that is allowed below zero: its balance is what
//     the platform lost.
//
// Either way every asset still sums to zero: the clawed value reaches the
// account it is returned to, partly from the wallet and the rest from the
// debt account or the loss account.
type RecoveryPolicy struct {
	// Mode is "recover" or "write_off".
	Mode string `json:"mode"`
	// Max bounds, in recover mode, a member's outstanding debt in the
	// asset (after the clawback). Zero means no debt at all: everything
	// goes to LossAccount, or the clawback is refused.
	Max decimal.Decimal `json:"max,omitzero"`
	// LossAccount is where a shortfall is written off: always in
	// write_off mode, beyond Max in recover mode. It is opened Unbounded
	// at its first write-off if it is not open.
	LossAccount string `json:"loss_account,omitempty"`
}

// Recover returns the policy that turns a shortfall into the member's
// debt, up to max outstanding, writing off the rest to loss ("" refuses
// a clawback past max with ErrRecoveryBound).
func Recover(max decimal.Decimal, loss string) RecoveryPolicy {
	return RecoveryPolicy{Mode: RecoverFromRewards, Max: max, LossAccount: loss}
}

// WriteOff returns the policy that writes a shortfall off to loss.
func WriteOff(loss string) RecoveryPolicy {
	return RecoveryPolicy{Mode: WriteOffToLoss, LossAccount: loss}
}

// Validate reports whether the policy can be applied: a known mode, a
// non-negative Max, a valid LossAccount where one is needed. Programs call
// it from their rules' Validate.
func (p RecoveryPolicy) Validate() error {
	switch p.Mode {
	case RecoverFromRewards:
		if p.Max.Sign() < 0 {
			return fmt.Errorf("%w: recovery max %s is negative", ErrInvalidRecovery, p.Max)
		}
	case WriteOffToLoss:
		if p.LossAccount == "" {
			return fmt.Errorf("%w: a write-off needs a loss account", ErrInvalidRecovery)
		}
		if !p.Max.IsZero() {
			return fmt.Errorf("%w: max applies to mode %q only", ErrInvalidRecovery, RecoverFromRewards)
		}
	default:
		return fmt.Errorf("%w: recovery mode %q (want %q or %q)", ErrInvalidRecovery, p.Mode, RecoverFromRewards, WriteOffToLoss)
	}
	if p.LossAccount != "" {
		if err := ledger.ValidateAddress(p.LossAccount); err != nil {
			return fmt.Errorf("%w: loss account: %w", ErrInvalidRecovery, err)
		}
		if strings.HasPrefix(p.LossAccount, "member:") {
			return fmt.Errorf("%w: loss account %s is a member's account", ErrInvalidRecovery, p.LossAccount)
		}
	}
	return nil
}

// DebtAccount is where a member's debt from clawbacks is kept,
// "member:<id>:debt": a negative balance per asset is what the member
// owes. It is not the wallet, so the wallet's spendable amount never hides
// a debt and a debt never blocks a spend the wallet allows; Credit repays
// it first from every reward granted through it.
func DebtAccount(member string) string { return "member:" + member + ":debt" }

// memberSubAccount reports whether addr is a member's debt account or
// pending account. Only the kit moves money through those, for their own
// member: a debt account is Unbounded, so a reward paid out of one would
// make a debt from nothing, and value sent into one repays (or pends for)
// a member who is not the one the call is about. The member ID check
// (CheckID: no ':') keeps a wallet from ever being one of them.
func memberSubAccount(addr string) bool {
	rest, ok := strings.CutPrefix(addr, "member:")
	return ok && (strings.HasSuffix(rest, ":debt") || strings.HasSuffix(rest, ":pending"))
}

// kindDebtor lists the members who ever had a debt (id: member), for
// Debts; kindClaw keeps each clawback's result (kit.Once) by its key.
const (
	kindDebtor = "kit.debtor"
	kindClaw   = "kit.clawback"
)

// ClawRequest asks Claw to take value back from a member.
type ClawRequest struct {
	// Program names the program that claws back: its events are
	// "<program>.clawback.recorded" and "<program>.loss.written_off".
	Program string `json:"program"`
	// Key identifies the clawback: it is run at most once per key (a
	// repeat returns the first result, Replayed set) and is the
	// idempotency key of its transaction. 1 to 128 bytes.
	Key string `json:"key"`
	// Member and Asset: whose wallet and which asset.
	Member string `json:"member"`
	Asset  string `json:"asset"`
	// Amount to take back, positive.
	Amount decimal.Decimal `json:"amount"`
	// To is the account the value goes back to (the budget that paid the
	// reward, ledger.World for coins that were sold).
	To string `json:"to"`
	// Policy applies to the shortfall.
	Policy RecoveryPolicy `json:"policy"`
	// Reason says why, for the event ("refund", "chargeback", "reversed").
	Reason string `json:"reason,omitempty"`
	// Postings are more postings of the caller's that belong in the same
	// transaction (gifting's price paid back on a chargeback).
	Postings []ledger.Posting `json:"postings,omitempty"`
	// Metadata of the transaction.
	Metadata map[string]string `json:"metadata,omitempty"`
}

// ClawResult is what a clawback did: Amount = Taken + Debt + WrittenOff.
type ClawResult struct {
	Tx     uint64          `json:"tx"`
	Member string          `json:"member"`
	Asset  string          `json:"asset"`
	Amount decimal.Decimal `json:"amount"`
	// Taken from the wallet (held funds included, down to its floor).
	Taken decimal.Decimal `json:"taken"`
	// Debt added to the member's outstanding debt.
	Debt decimal.Decimal `json:"debt"`
	// WrittenOff to the policy's loss account.
	WrittenOff  decimal.Decimal `json:"written_off"`
	LossAccount string          `json:"loss_account,omitempty"`
	// Outstanding is the member's debt in the asset after the clawback.
	Outstanding decimal.Decimal `json:"outstanding"`
	// Replayed: the key was clawed back before; this is that result and
	// nothing was written now.
	Replayed bool `json:"-"`
}

// ClawbackRecorded is the data of the "<program>.clawback.recorded"
// event, emitted for every clawback, whatever it could take: subject the
// member, TxID the clawback's transaction.
type ClawbackRecorded struct {
	ClawResult
	Key    string `json:"key"`
	To     string `json:"to"`
	Reason string `json:"reason,omitempty"`
	Mode   string `json:"mode"`
}

// LossWrittenOff is the data of the "<program>.loss.written_off" event,
// emitted by a clawback that wrote some of its shortfall off: subject the
// member, TxID the clawback's transaction.
type LossWrittenOff struct {
	Key         string          `json:"key"`
	Member      string          `json:"member"`
	Asset       string          `json:"asset"`
	Amount      decimal.Decimal `json:"amount"`
	LossAccount string          `json:"loss_account"`
	Reason      string          `json:"reason,omitempty"`
}

// DebtRecovered is the data of the "<program>.debt.recovered" event,
// emitted by a Credit that repaid some of a member's debt: subject the
// member, TxID the credit's transaction.
type DebtRecovered struct {
	Key         string          `json:"key"`
	Member      string          `json:"member"`
	Asset       string          `json:"asset"`
	Amount      decimal.Decimal `json:"amount"`
	Outstanding decimal.Decimal `json:"outstanding"`
}

// Claw takes req.Amount of req.Asset back from req.Member into req.To,
// inside the caller's unit of work, in one transaction: what the wallet
// can give first (its posted amount down to its floor, funds held for open
// orders included, as a chargeback must reach them), and the shortfall as
// the policy declares (see RecoveryPolicy). It emits
// "<program>.clawback.recorded" every time, and "<program>.loss.written_off"
// when some was written off: a clawback is never silent.
//
// It runs at most once per req.Key (kit.Once under the record kind
// "kit.clawback"): a repeat with the same request returns the first
// result with Replayed set and writes nothing; another request under the
// same key is ledger.ErrIdempotencyConflict. Racing callers claw once.
// Bad input is ErrInvalidRecovery; a shortfall past the bound with no
// loss account is ErrRecoveryBound; both write nothing.
func Claw(w *ledger.Writer, req ClawRequest) (ClawResult, error) {
	if err := checkClaw(w, req); err != nil {
		return ClawResult{}, err
	}
	res, replay, err := Once(w, Event{Kind: kindClaw, ID: req.Key, Op: "claw", Request: req}, func(w *ledger.Writer) (ClawResult, error) {
		return claw(w, req)
	})
	res.Replayed = replay
	return res, err
}

func checkClaw(w *ledger.Writer, req ClawRequest) error {
	if err := req.Policy.Validate(); err != nil {
		return err
	}
	if err := ledger.ValidateEventType(req.Program + ".clawback.recorded"); err != nil {
		return fmt.Errorf("%w: program %q: %w", ErrInvalidRecovery, req.Program, err)
	}
	if err := CheckID(ErrInvalidRecovery, "member", req.Member); err != nil {
		return err
	}
	if req.To == "" {
		return fmt.Errorf("%w: a clawback needs an account to return to", ErrInvalidRecovery)
	}
	if req.To == WalletAccount(req.Member) || req.To == DebtAccount(req.Member) {
		return fmt.Errorf("%w: a clawback returns to the member's own %s", ErrInvalidRecovery, req.To)
	}
	if memberSubAccount(req.To) {
		return fmt.Errorf("%w: a clawback returns to %s, a member's debt or pending account", ErrInvalidRecovery, req.To)
	}
	if req.To == req.Policy.LossAccount {
		// The shortfall would be written off from the account the value
		// returns to: refused whether or not there is a shortfall, so the
		// same request never succeeds one day and fails the next.
		return fmt.Errorf("%w: a clawback returns to its own loss account %s", ErrInvalidRecovery, req.To)
	}
	a, err := w.Asset(req.Asset)
	if err != nil {
		return err
	}
	u, err := a.Units(req.Amount)
	if err != nil {
		return err
	}
	if u <= 0 {
		return fmt.Errorf("%w: clawback of %s %s: the amount must be positive", ErrInvalidRecovery, req.Amount, req.Asset)
	}
	return nil
}

func claw(w *ledger.Writer, req ClawRequest) (ClawResult, error) {
	a, err := w.Asset(req.Asset)
	if err != nil {
		return ClawResult{}, err
	}
	amount, err := a.Units(req.Amount)
	if err != nil {
		return ClawResult{}, err
	}
	wallet := WalletAccount(req.Member)
	room, err := clawRoom(w, wallet, a)
	if err != nil {
		return ClawResult{}, err
	}
	taken := min(amount, room)
	short := amount - taken
	owed, err := outstandingUnits(w, req.Member, a)
	if err != nil {
		return ClawResult{}, err
	}
	var debt, loss int64
	switch req.Policy.Mode {
	case RecoverFromRewards:
		bound, err := a.Units(req.Policy.Max)
		if err != nil {
			return ClawResult{}, fmt.Errorf("%w: recovery max: %w", ErrInvalidRecovery, err)
		}
		debt = min(short, max(0, bound-owed))
		loss = short - debt
		if loss > 0 && req.Policy.LossAccount == "" {
			return ClawResult{}, ledger.Refuse(ErrRecoveryBound, "recovery.max",
				"%s owes %s %s; %s more is past the bound of %s", req.Member, a.Amount(owed), a.Code, a.Amount(short), req.Policy.Max)
		}
	default:
		loss = short
	}
	postings := append([]ledger.Posting(nil), req.Postings...)
	add := func(from string, u int64) {
		if u > 0 {
			postings = append(postings, ledger.Posting{From: from, To: req.To, Asset: a.Code, Amount: a.Amount(u)})
		}
	}
	add(wallet, taken)
	if debt > 0 {
		if err := OpenIfMissing(w, DebtAccount(req.Member), ledger.Overdraft{Unbounded: true}); err != nil {
			return ClawResult{}, err
		}
		if err := w.PutRecord(kindDebtor, req.Member, []byte("{}")); err != nil {
			return ClawResult{}, err
		}
	}
	add(DebtAccount(req.Member), debt)
	if loss > 0 {
		if err := OpenIfMissing(w, req.Policy.LossAccount, ledger.Overdraft{Unbounded: true}); err != nil {
			return ClawResult{}, err
		}
	}
	add(req.Policy.LossAccount, loss)
	t, err := w.Post(ledger.TransferRequest{Key: req.Key, Postings: postings, Metadata: req.Metadata, IncludeHeld: true})
	if err != nil {
		return ClawResult{}, err
	}
	res := ClawResult{Tx: t.ID, Member: req.Member, Asset: a.Code, Amount: a.Amount(amount), Taken: a.Amount(taken),
		Debt: a.Amount(debt), WrittenOff: a.Amount(loss), Outstanding: a.Amount(owed + debt)}
	if loss > 0 {
		res.LossAccount = req.Policy.LossAccount
	}
	if err := w.Emit(req.Program+".clawback.recorded", req.Member, ClawbackRecorded{ClawResult: res, Key: req.Key,
		To: req.To, Reason: req.Reason, Mode: req.Policy.Mode}); err != nil {
		return ClawResult{}, err
	}
	if loss > 0 {
		if err := w.Emit(req.Program+".loss.written_off", req.Member, LossWrittenOff{Key: req.Key, Member: req.Member,
			Asset: a.Code, Amount: res.WrittenOff, LossAccount: res.LossAccount, Reason: req.Reason}); err != nil {
			return ClawResult{}, err
		}
	}
	return res, nil
}

// clawRoom is how much a clawback can take from a wallet: its posted
// amount down to its floor, held funds included; everything for an
// Unbounded account; nothing for a wallet never opened.
func clawRoom(w *ledger.Writer, wallet string, a ledger.Asset) (int64, error) {
	acc, err := w.Account(wallet)
	if errors.Is(err, ledger.ErrUnknownAccount) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if acc.Unbounded {
		return 1<<63 - 1, nil
	}
	b, err := w.Balance(wallet, a.Code)
	if err != nil {
		return 0, err
	}
	posted, err := a.Units(b.Posted)
	if err != nil {
		return 0, err
	}
	room, err := Add("clawback room", posted, acc.Limits[a.Code])
	if err != nil {
		return 1<<63 - 1, nil // more room than any amount
	}
	return max(room, 0), nil
}

// outstandingUnits is the member's debt in the asset, in minor units (0
// for none).
func outstandingUnits(r interface {
	Balance(account, asset string) (ledger.Balance, error)
}, member string, a ledger.Asset) (int64, error) {
	b, err := r.Balance(DebtAccount(member), a.Code)
	if errors.Is(err, ledger.ErrUnknownAccount) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	u, err := a.Units(b.Posted)
	if err != nil {
		return 0, err
	}
	return max(-u, 0), nil
}

// Debt is what a member owes in one asset after clawbacks.
type Debt struct {
	Member string          `json:"member"`
	Asset  string          `json:"asset"`
	Amount decimal.Decimal `json:"amount"`
}

// Outstanding returns what member owes, per asset with a debt (none for a
// member who owes nothing), in asset order.
func Outstanding(r *ledger.Reader, member string) ([]Debt, error) {
	bs, err := r.Balances(DebtAccount(member))
	if errors.Is(err, ledger.ErrUnknownAccount) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Debt
	for _, b := range bs {
		if b.Posted.Sign() < 0 {
			out = append(out, Debt{Member: member, Asset: b.Asset, Amount: b.Posted.Neg()})
		}
	}
	return out, nil
}

// Debts lists, for a report, what each member owes: the members who ever
// had a debt, after the member ID after (in ID order), up to limit of them
// (at most 1,000), with their outstanding debts; next is the cursor for
// the next page ("" when there is none). Members who have repaid in full
// are left out of the list, but count against limit.
func Debts(r *ledger.Reader, after string, limit int) (debts []Debt, next string, err error) {
	limit = min(max(limit, 1), 1000)
	recs, err := r.Records(kindDebtor, after, limit)
	if err != nil {
		return nil, "", err
	}
	for _, rec := range recs {
		ds, err := Outstanding(r, rec.ID)
		if err != nil {
			return nil, "", err
		}
		debts = append(debts, ds...)
	}
	if len(recs) == limit {
		next = recs[len(recs)-1].ID
	}
	return debts, next, nil
}

// CreditRequest asks Credit to grant a member a reward.
type CreditRequest struct {
	// Program names the program that grants: its recovery event is
	// "<program>.debt.recovered".
	Program string `json:"program"`
	// Key is the idempotency key of the credit's transaction.
	Key    string          `json:"key"`
	Member string          `json:"member"`
	Asset  string          `json:"asset"`
	Amount decimal.Decimal `json:"amount"`
	// From is the account the reward is paid from (a budget, a pending
	// account).
	From string `json:"from"`
	// Wallets opens the member's wallet if it is not open.
	Wallets WalletPolicy `json:"-"`
	// Postings are more postings of the caller's that belong in the same
	// transaction (gifting's payment for the coins it credits).
	Postings []ledger.Posting `json:"postings,omitempty"`
	// Metadata of the transaction.
	Metadata map[string]string `json:"metadata,omitempty"`
	// ExpiresAt, if set, makes what reaches the wallet a lot that expires
	// then, its rest moving to Breakage (ledger Posting.ExpiresAt, see the
	// ledger's Lots and expiry). What repays a debt never expires: it is
	// no longer the member's.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// Breakage is the account an expired lot's rest moves to; it is
	// needed with ExpiresAt and refused without it.
	Breakage string `json:"breakage,omitempty"`
}

// CreditResult is what a credit did: Repaid + Credited is the amount.
type CreditResult struct {
	Tx          uint64          `json:"tx"`
	Repaid      decimal.Decimal `json:"repaid"`
	Credited    decimal.Decimal `json:"credited"`
	Outstanding decimal.Decimal `json:"outstanding"`
}

// Credit grants a member a reward inside the caller's unit of work, in one
// transaction: it first repays what the member owes in the asset
// (DebtAccount, from clawbacks under a recover policy) and credits the
// wallet with the rest, so a debt is recovered before any reward becomes
// spendable. A repayment emits "<program>.debt.recovered". Programs grant
// rewards through Credit (or a kit function that calls it, as Pending's
// release does) so that recovery never depends on which program pays.
//
// A second Credit under a key already posted returns that transaction's
// split and writes nothing (the journal keeps the key once).
func Credit(w *ledger.Writer, req CreditRequest) (CreditResult, error) {
	if err := ledger.ValidateEventType(req.Program + ".debt.recovered"); err != nil {
		return CreditResult{}, fmt.Errorf("%w: program %q: %w", ErrInvalidRecovery, req.Program, err)
	}
	if req.Key == "" {
		return CreditResult{}, fmt.Errorf("%w: a credit needs an idempotency key", ErrInvalidRecovery)
	}
	if err := CheckID(ErrInvalidRecovery, "member", req.Member); err != nil {
		return CreditResult{}, err
	}
	if req.From == WalletAccount(req.Member) {
		return CreditResult{}, fmt.Errorf("%w: a credit to %s paid from that wallet", ErrInvalidRecovery, req.From)
	}
	if memberSubAccount(req.From) && req.From != PendingAccount(req.Member) {
		return CreditResult{}, fmt.Errorf("%w: a credit paid from %s, a member's debt or another member's pending account", ErrInvalidRecovery, req.From)
	}
	a, err := w.Asset(req.Asset)
	if err != nil {
		return CreditResult{}, err
	}
	amount, err := a.Units(req.Amount)
	if err != nil {
		return CreditResult{}, err
	}
	if amount <= 0 {
		return CreditResult{}, fmt.Errorf("%w: credit of %s %s: the amount must be positive", ErrInvalidRecovery, req.Amount, req.Asset)
	}
	if t, err := w.TransactionByKey(req.Key); err == nil {
		res, err := creditOf(w, t, a, req.Member)
		if err == nil && !res.Repaid.Add(res.Credited).Equal(a.Amount(amount)) {
			err = fmt.Errorf("%w: credit %q was of another amount", ledger.ErrIdempotencyConflict, req.Key)
		}
		return res, err
	} else if !errors.Is(err, ledger.ErrNotFound) {
		return CreditResult{}, err
	}
	// One step (Writer.Atomic): a credit that fails after opening the
	// wallet or posting (an unknown or empty funding account, an event
	// that cannot be written) leaves nothing behind, even for a caller
	// that ignores the error and commits its unit of work.
	var res CreditResult
	err = w.Atomic(func(w *ledger.Writer) error {
		var err error
		res, err = credit(w, req, a, amount)
		return err
	})
	if err != nil {
		return CreditResult{}, err
	}
	return res, nil
}

func credit(w *ledger.Writer, req CreditRequest, a ledger.Asset, amount int64) (CreditResult, error) {
	wallet, debtAcc := WalletAccount(req.Member), DebtAccount(req.Member)
	if _, err := OpenWallet(w, req.Wallets, req.Member); err != nil {
		return CreditResult{}, err
	}
	owed, err := outstandingUnits(w, req.Member, a)
	if err != nil {
		return CreditResult{}, err
	}
	repaid := min(owed, amount)
	postings := append([]ledger.Posting(nil), req.Postings...)
	if repaid > 0 {
		postings = append(postings, ledger.Posting{From: req.From, To: debtAcc, Asset: a.Code, Amount: a.Amount(repaid)})
	}
	if amount > repaid {
		postings = append(postings, ledger.Posting{From: req.From, To: wallet, Asset: a.Code, Amount: a.Amount(amount - repaid),
			ExpiresAt: req.ExpiresAt, Breakage: req.Breakage})
	} else if !req.ExpiresAt.IsZero() || req.Breakage != "" {
		// Nothing reaches the wallet, so no lot is made; the expiry is
		// still checked, so that a credit is refused the same way
		// whatever the member owes.
		if err := checkExpiry(w, req.ExpiresAt, req.Breakage); err != nil {
			return CreditResult{}, err
		}
	}
	t, err := w.Post(ledger.TransferRequest{Key: req.Key, Postings: postings, Metadata: req.Metadata})
	if err != nil {
		return CreditResult{}, err
	}
	res := CreditResult{Tx: t.ID, Repaid: a.Amount(repaid), Credited: a.Amount(amount - repaid), Outstanding: a.Amount(owed - repaid)}
	if repaid > 0 {
		if err := w.Emit(req.Program+".debt.recovered", req.Member, DebtRecovered{Key: req.Key, Member: req.Member,
			Asset: a.Code, Amount: res.Repaid, Outstanding: res.Outstanding}); err != nil {
			return CreditResult{}, err
		}
	}
	return res, nil
}

// checkExpiry refuses an expiry a ledger posting would refuse: both or
// neither of ExpiresAt and Breakage, an expiry after now, a breakage
// account that is open.
func checkExpiry(w *ledger.Writer, at time.Time, breakage string) error {
	switch {
	case at.IsZero() != (breakage == ""):
		return fmt.Errorf("%w: a credit's expiry needs both expires_at and breakage", ledger.ErrInvalidTransaction)
	case !at.After(w.Now()):
		return fmt.Errorf("%w: a credit's expiry %s is not after now", ledger.ErrInvalidTransaction, at.Format(time.RFC3339))
	}
	if err := ledger.ValidateTime("expires_at", at); err != nil {
		return err
	}
	_, err := w.Account(breakage)
	return err
}

// creditOf reads the split of a credit already posted.
func creditOf(r *ledger.Writer, t ledger.Transaction, a ledger.Asset, member string) (CreditResult, error) {
	res := CreditResult{Tx: t.ID, Repaid: decimal.Zero, Credited: decimal.Zero}
	for _, p := range t.Postings {
		switch {
		case p.Asset != a.Code:
		case p.To == DebtAccount(member):
			res.Repaid = res.Repaid.Add(p.Amount)
		case p.To == WalletAccount(member):
			res.Credited = res.Credited.Add(p.Amount)
		}
	}
	owed, err := outstandingUnits(r, member, a)
	if err != nil {
		return CreditResult{}, err
	}
	res.Outstanding = a.Amount(owed)
	return res, nil
}
