package payout

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
)

// Record kinds the program keeps beside the ledger; ids start with the
// provider name.
const (
	kindLink   = "payout.link"   // <provider>:<member> -> Link
	kindPayout = "payout.payout" // <provider>:<payout id> -> Payout
	kindMember = "payout.member" // <provider>:<member> -> memberState
	kindEvent  = "payout.event"  // <provider>:<payout id> -> kit.Once record
	kindPush   = "payout.push"   // <provider>:<notification event id> -> kit.Once record
	kindCap    = "payout.cap"    // <provider>:<rule>:<member>:rolling -> kit cap counter
	dueRetry   = "payout.retry:" // + <provider>; id: payout id; the outbox's kind
)

// maxReasonLen bounds a rejection's reason.
const maxReasonLen = 500

// Status is where a payout is in its life.
type Status string

// Payout statuses. Review, Sending, Held and Unclaimed keep the funds held;
// the others are final and each settled the hold exactly once. Paid is
// final for the hold; a reversal reported later moves it to Reversed, once
// (see the package documentation, "Payout states").
const (
	StatusReview    Status = "review"    // waiting for Approve or Reject
	StatusSending   Status = "sending"   // sent or about to be; outcome not known yet
	StatusHeld      Status = "held"      // the provider holds the payment
	StatusUnclaimed Status = "unclaimed" // sent, not claimed by the receiver yet
	StatusPaid      Status = "paid"      // captured and converted to the settlement account
	StatusFailed    Status = "failed"    // refused by the provider; hold voided
	StatusReturned  Status = "returned"  // unclaimed and returned; hold voided
	StatusBlocked   Status = "blocked"   // blocked by the provider; hold voided
	StatusRejected  Status = "rejected"  // rejected in review (or never reviewed); hold voided
	StatusReversed  Status = "reversed"  // paid, then reversed; the amount taken back from the member
)

// Final reports whether the payout is settled.
func (s Status) Final() bool {
	switch s {
	case StatusPaid, StatusFailed, StatusReturned, StatusBlocked, StatusRejected, StatusReversed:
		return true
	}
	return false
}

func (s Status) inFlight() bool {
	return s == StatusSending || s == StatusHeld || s == StatusUnclaimed
}

// Payout is one withdrawal.
type Payout struct {
	ID      string `json:"id"`
	Member  string `json:"member"`
	Account string `json:"account"` // the linked payout account it goes to
	// Source is the ledger account withdrawn from: the member's wallet or
	// one of the rules' sources.
	Source string `json:"source,omitempty"`
	// Amount of the source asset (Rule.From) withdrawn (held, then
	// captured or released).
	Amount decimal.Decimal `json:"amount"`
	// Gross is Amount converted to To; Fee goes to the provider; Net is
	// what the member receives; Remainder is the source asset that
	// rounding left unconverted, booked to the remainder account.
	Gross     decimal.Decimal `json:"gross"`
	Fee       decimal.Decimal `json:"fee"`
	Net       decimal.Decimal `json:"net"`
	Remainder decimal.Decimal `json:"remainder"`
	Status    Status          `json:"status"`
	HoldID    uint64          `json:"hold_id"`
	// Attempts counts Send calls whose answer was recorded (pushed
	// outcomes, RecordOutcome, are not Send calls and are not counted).
	Attempts  int    `json:"attempts"`
	Reference string `json:"reference,omitempty"`
	LastError string `json:"last_error,omitempty"`
	Reason    string `json:"reason,omitempty"` // why it was rejected, or given back unclaimed
	// DecidedBy is the reviewer who approved or rejected it.
	DecidedBy   string    `json:"decided_by,omitempty"`
	RequestedAt time.Time `json:"requested_at"`
	// Deadline is RequestedAt + Rules.HoldFor: a payout still in review
	// then is rejected; one still in flight is Overdue.
	Deadline time.Time `json:"deadline"`
	// Overdue: the provider had not settled the payout by Deadline. Its
	// funds stay reserved; every Tick that asks about it reports it.
	Overdue   bool      `json:"overdue,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
	// ReportedAt is when the provider's last recorded outcome was
	// reported: the RecordOutcomeRequest's At for a pushed outcome, the time of
	// the answer for a polled one.
	ReportedAt time.Time `json:"reported_at,omitempty"`
	SettledAt  time.Time `json:"settled_at,omitempty"`
	// SettlementTx is the conversion of a paid payout.
	SettlementTx uint64 `json:"settlement_tx,omitempty"`
	// Shortfall is the part of Amount a paid payout could not take from
	// the source because its reservation had lapsed (a hold made by an
	// older version, expired before the provider paid) and the member had
	// spent it since; it came from ShortfallAccount. Zero otherwise.
	Shortfall decimal.Decimal       `json:"shortfall"`
	Rule      ledger.ConversionRule `json:"rule"`
	// UnclaimedAt is when the provider first reported the payment
	// unclaimed; Rules.UnclaimedReturnAfter later the program gives the
	// funds back if the provider has not settled it.
	UnclaimedAt time.Time `json:"unclaimed_at,omitzero"`
	// ReversedAt is when a reversal of the paid payout was recorded. Of
	// Amount, Recovered was taken back from the member then (source, then
	// wallet), Debt became their debt (kit.DebtAccount, repaid from their
	// next rewards) and WrittenOff went to the recovery policy's loss
	// account (Rules.ReversalRecovery); the three add up to Amount.
	ReversedAt time.Time       `json:"reversed_at,omitzero"`
	Recovered  decimal.Decimal `json:"recovered,omitzero"`
	Debt       decimal.Decimal `json:"debt,omitzero"`
	WrittenOff decimal.Decimal `json:"written_off,omitzero"`
	// Replayed is true when the call returned the payout as recorded by an
	// earlier call with the same ID (Withdraw's payout ID, RecordOutcome's
	// event ID) and did nothing else.
	Replayed bool `json:"-"`
}

// source is the account the payout draws on (older records kept none:
// the wallet).
func (po *Payout) source() string {
	if po.Source == "" {
		return MemberAccount(po.Member)
	}
	return po.Source
}

// Link is a member's linked payout account.
type Link struct {
	Account  string    `json:"account"`
	LinkedAt time.Time `json:"linked_at"`
}

type recent struct {
	ID    string    `json:"id"`
	At    time.Time `json:"at"`
	Gross int64     `json:"gross"` // To units
}

type memberState struct {
	Recent []recent `json:"recent"`
}

// Program pays members out through one provider. Safe for concurrent use.
type Program struct {
	l        *ledger.Ledger
	rules    Rules
	provider Provider
	roles    kit.Roles
	wallets  kit.WalletPolicy
	// sends is the outbox of payouts to send or ask about again, and of
	// payouts in review, due at their Deadline; by payout ID.
	sends kit.Outbox[Payout]
}

// Option configures a Program.
type Option func(*Program)

// WithRoles sets the directory that says who may decide payouts held for
// review (kit.RolePayoutReviewer). Without it nobody may: Approve and
// Reject are ledger.ErrForbidden.
func WithRoles(r kit.Roles) Option { return func(p *Program) { p.roles = r } }

// WithWallets sets the policy members' wallets are opened with when
// payout is the first program to meet them; give every program the same
// one. The zero policy (no overdraft) is the default.
func WithWallets(w kit.WalletPolicy) Option { return func(p *Program) { p.wallets = w } }

// New validates the rules, defines the assets they name, and opens the
// provider's accounts (clearing, exchange, remainder, fees, settlement,
// shortfall, reversals).
func New(ctx context.Context, l *ledger.Ledger, rules Rules, provider Provider, opts ...Option) (*Program, error) {
	if err := rules.Validate(); err != nil {
		return nil, err
	}
	if provider == nil {
		return nil, fmt.Errorf("%w: provider: nil", ErrInvalidRules)
	}
	p := &Program{l: l, rules: rules, provider: provider}
	p.sends = kit.Outbox[Payout]{Ledger: l, Due: dueRetry + rules.Provider, Failed: tickItem, Send: p.deliver}
	for _, o := range opts {
		o(p)
	}
	err := l.Update(ctx, func(w *ledger.Writer) error {
		for _, a := range rules.assets() {
			if err := w.DefineAsset(a); err != nil {
				return err
			}
		}
		pr := rules.Provider
		unbounded := ledger.Overdraft{Unbounded: true}
		for _, s := range []ledger.AccountSpec{
			{Address: ClearingAccount(pr)},
			{Address: ExchangeAccount(pr), Overdraft: unbounded},
			{Address: RemainderAccount(pr), Overdraft: unbounded},
			{Address: FeeAccount(pr)},
			{Address: SettlementAccount(pr)},
			{Address: ShortfallAccount(pr), Overdraft: unbounded},
			{Address: ReversalAccount(pr)},
		} {
			if _, err := w.OpenAccount(s); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("payout: %w (set up %s)", err, rules.Provider)
	}
	if err := p.wallets.Check(ctx, l); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidRules, err)
	}
	return p, nil
}

// Rules returns the program's rules.
func (p *Program) Rules() Rules { return p.rules }

func (p *Program) id(s string) string { return p.rules.Provider + ":" + s }

// checkID judges an ID a request names (kit.CheckID).
func checkID(field, id string) error { return kit.CheckID(ErrInvalidRequest, field, id) }

// checkAmount judges an amount a request names: bounded (kit.CheckDecimal)
// before any arithmetic, and positive.
func checkAmount(amount decimal.Decimal) error {
	if err := kit.CheckDecimal(amount); err != nil {
		return fmt.Errorf("%w: amount: %w", ErrInvalidRequest, err)
	}
	if amount.Sign() <= 0 {
		return fmt.Errorf("%w: amount %s must be positive", ErrInvalidRequest, amount)
	}
	return nil
}

// eventError adds what the event was to the error of an event method,
// after the cause: "payout: no linked payout account (withdraw po-1 for
// cat)". An ID reused with other arguments also matches
// ErrIdempotencyConflict. The package prefix appears once: the program's
// sentinels carry it, other causes (the ledger's, a store's) get it here.
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
	return fmt.Errorf("payout: %w (%s)", err, what)
}

// clockNow is the unit of work's time, checked against the ledger's range
// before the program records it or computes with it.
func clockNow(w *ledger.Writer) (time.Time, error) {
	t := w.Now()
	if err := ledger.ValidateTime("clock", t); err != nil {
		return time.Time{}, err
	}
	return t, nil
}

func load(r *ledger.Writer, kind, id string, v any) (bool, error) {
	err := r.LoadJSON(kind, id, v)
	if errors.Is(err, ledger.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// LinkAccountRequest is a member linking their payout account.
type LinkAccountRequest struct {
	// Actor is the member who links the account.
	Actor string `json:"actor"`
	// Account is the payout account at the provider (a PayPal address),
	// 1 to 256 characters.
	Account string `json:"account"`
}

// LinkAccount links a payout account: LinkAccountIn in a unit of work of
// its own.
func (p *Program) LinkAccount(ctx context.Context, req LinkAccountRequest) (Link, error) {
	return kit.Run(ctx, p.l, func(w *ledger.Writer) (Link, error) { return p.LinkAccountIn(w, req) })
}

// LinkAccountIn links (or replaces) the actor's payout account inside the
// caller's unit of work w, and returns the link as it now is. Linking the
// same account again changes nothing.
func (p *Program) LinkAccountIn(w *ledger.Writer, req LinkAccountRequest) (Link, error) {
	return kit.Step(w, func(w *ledger.Writer) (Link, error) { return p.linkAccountIn(w, req) })
}

// linkAccountIn is the body of LinkAccountIn, run as one step.
func (p *Program) linkAccountIn(w *ledger.Writer, req LinkAccountRequest) (Link, error) {
	link, err := p.linkAccount(w, req)
	if err != nil {
		return Link{}, eventError(err, "link account for %s", req.Actor)
	}
	return link, nil
}

func (p *Program) linkAccount(w *ledger.Writer, req LinkAccountRequest) (Link, error) {
	if err := checkID("actor", req.Actor); err != nil {
		return Link{}, err
	}
	if req.Account == "" || len(req.Account) > 256 {
		return Link{}, fmt.Errorf("%w: payout account must have 1 to 256 characters", ErrInvalidRequest)
	}
	var old Link
	if ok, err := load(w, kindLink, p.id(req.Actor), &old); err != nil || (ok && old.Account == req.Account) {
		return old, err
	}
	now, err := clockNow(w)
	if err != nil {
		return Link{}, err
	}
	link := Link{Account: req.Account, LinkedAt: now}
	if err := w.Emit(EventAccountLinked, req.Actor, linkData{Member: req.Actor, Provider: p.rules.Provider, Account: req.Account}); err != nil {
		return Link{}, err
	}
	return link, w.SaveJSON(kindLink, p.id(req.Actor), link)
}

// Linked returns a member's linked payout account, or ErrNoPayoutAccount.
func (p *Program) Linked(ctx context.Context, memberID string) (Link, error) {
	if err := checkID("member", memberID); err != nil {
		return Link{}, err
	}
	var l Link
	err := p.l.View(ctx, func(r *ledger.Reader) error {
		err := r.LoadJSON(kindLink, p.id(memberID), &l)
		if errors.Is(err, ledger.ErrNotFound) {
			return fmt.Errorf("%w (member %s)", ErrNoPayoutAccount, memberID)
		}
		return err
	})
	return l, err
}

// WithdrawRequest is a member cashing out.
type WithdrawRequest struct {
	// PayoutID is the caller's ID of the payout: its idempotency key
	// (kit.Once) and its ID for Get, Approve, Reject and Retry.
	PayoutID string `json:"payout_id"`
	// Actor is the member who withdraws; the money goes to the payout
	// account they linked.
	Actor string `json:"actor"`
	// Source is the ledger account withdrawn from: the actor's wallet
	// (MemberAccount; "" means the wallet) or one of Rules.Sources with the
	// actor's ID in place of {member}, such as a creator's gifting earnings
	// (gifting.EarningsAccount(id)). Any other account is
	// ErrUnknownSource.
	Source string `json:"source,omitempty"`
	// Amount is in the source's asset (From for the wallet) and converted
	// at that asset's value.
	Amount decimal.Decimal `json:"amount"`
}

// source returns the account withdrawn from, the wallet for "".
func (req WithdrawRequest) source() string {
	if req.Source == "" {
		return MemberAccount(req.Actor)
	}
	return req.Source
}

// Quote computes what a withdrawal would pay, without writing anything:
// the source's conversion of the amount, less the fee. PayoutID is not
// needed; Actor is needed for a source other than the wallet.
func (p *Program) Quote(req WithdrawRequest) (ledger.Quote, error) {
	if err := checkAmount(req.Amount); err != nil {
		return ledger.Quote{}, err
	}
	if req.Source == "" {
		return p.quote(p.rules.wallet(""), req.Amount)
	}
	if err := checkID("actor", req.Actor); err != nil {
		return ledger.Quote{}, err
	}
	src, err := p.rules.sourceFor(req.Actor, req.Source)
	if err != nil {
		return ledger.Quote{}, err
	}
	return p.quote(src, req.Amount)
}

// quote converts amount by the source's rule. An amount the conversion
// leaves nothing of is refused by the rule to blame: the fee if the
// conversion alone pays something, else the rate.
func (p *Program) quote(src source, amount decimal.Decimal) (ledger.Quote, error) {
	a := src.asset
	u, err := a.Units(amount)
	if err != nil || u <= 0 {
		return ledger.Quote{}, errors.Join(fmt.Errorf("%w: amount %s %s must be positive with at most %d decimals",
			ErrInvalidRequest, amount, a.Code, a.Precision), err)
	}
	q, err := src.conv.Quote(a, p.rules.To, u)
	if errors.Is(err, ledger.ErrOverflow) {
		return ledger.Quote{}, fmt.Errorf("%w: amount %s %s is too large to convert: %w", ErrInvalidRequest, amount, a.Code, err)
	}
	if err != nil {
		rule := src.rateRule
		noFee := src.conv
		noFee.FeeRate, noFee.FixedFee = decimal.Zero, decimal.Zero
		if _, ferr := noFee.Quote(a, p.rules.To, u); ferr == nil {
			rule = "fee_rate"
			if p.rules.FixedFee.Sign() > 0 {
				rule = "fixed_fee"
			}
		}
		return ledger.Quote{}, fmt.Errorf("%w: %w", ledger.Refuse(ErrBelowMinimum, rule,
			"the conversion leaves nothing of %s %s to pay", amount, a.Code), err)
	}
	return q, nil
}

// withdrawRequest is what a payout ID stands for (kit.Once fingerprints
// it; its JSON is that of earlier versions, so their events still
// replay): the same ID with another member, source or amount is a
// conflict.
type withdrawRequest struct {
	Member  string `json:"member"`
	Account string `json:"account"`
	Amount  string `json:"amount"`
}

// Withdraw asks to pay a member out: WithdrawIn in a unit of work of its
// own and, once that has committed, the provider asked at once (Retry)
// unless the payout waits for review. This is the one call that cashes a
// creator's gifting diamonds out — Source: gifting.EarningsAccount(id) —
// all or nothing: a refused withdrawal leaves them where they were.
//
// A replay (same PayoutID and request) returns the payout as recorded by
// the first call, Replayed true, and calls no provider (Get shows where it
// is now). If the payout was recorded but the provider could not be asked
// or answered (a timeout, a cancelled context), it stays "sending" with
// its funds reserved and Tick asks again; the error says so.
func (p *Program) Withdraw(ctx context.Context, req WithdrawRequest) (Payout, error) {
	po, err := kit.Run(ctx, p.l, func(w *ledger.Writer) (Payout, error) { return p.WithdrawIn(w, req) })
	if err != nil || po.Replayed || !po.Status.inFlight() {
		return po, err
	}
	return p.sends.Deliver(ctx, po.ID)
}

// WithdrawIn records a withdrawal inside the caller's unit of work w,
// without asking the provider. The first call with a PayoutID checks the
// rules (linked account, minimum, frequency, daily maximum, the source's
// available funds), reserves the amount with a hold on the source, and
// records the payout "sending" (or "review" above Rules.ReviewAbove); a
// later call with the same PayoutID and request is a replay that checks
// nothing that may have changed since (rules, link, balances) and returns
// the payout as first recorded, Replayed true; with another request it is
// ErrIdempotencyConflict.
//
// It sends nothing: the provider is never called inside a unit of work,
// which may still be rolled back or run again, so a rolled-back unit of
// work leaves neither a payment nor a hold behind, and a committed one
// leaves the funds reserved until the provider's final answer. Once w has
// committed, call Retry with the PayoutID to send a "sending" payout at
// once; otherwise Tick sends it after Rules.RetryEvery. Cashing out a
// creator's gifting diamonds inside a larger unit of work is WithdrawIn
// with Source gifting.EarningsAccount(id), then Retry after the commit.
func (p *Program) WithdrawIn(w *ledger.Writer, req WithdrawRequest) (Payout, error) {
	what := func() string { return fmt.Sprintf("withdraw %s for %s", req.PayoutID, req.Actor) }
	if err := checkID("payout id", req.PayoutID); err != nil {
		return Payout{}, eventError(err, "%s", what())
	}
	if err := checkID("actor", req.Actor); err != nil {
		return Payout{}, eventError(err, "%s", what())
	}
	account := req.source()
	if err := ledger.ValidateAddress(account); err != nil {
		return Payout{}, eventError(fmt.Errorf("%w: source account: %w", ErrInvalidRequest, err), "%s", what())
	}
	if err := checkAmount(req.Amount); err != nil {
		return Payout{}, eventError(err, "%s", what())
	}
	ev := kit.Event{Kind: kindEvent, ID: p.id(req.PayoutID), Op: "withdraw",
		Request: withdrawRequest{Member: req.Actor, Account: account, Amount: req.Amount.String()}}
	po, replay, err := kit.Once(w, ev, func(w *ledger.Writer) (Payout, error) {
		return p.request(w, req.PayoutID, req.Actor, account, req.Amount)
	})
	if err != nil {
		return Payout{}, eventError(err, "%s", what())
	}
	po.Replayed = replay
	return po, nil
}

// reserveUntil is when a payout's hold would expire by itself: as far as
// the ledger allows (ledger.MaxDuration after now, or the end of its time
// range if sooner), far beyond any provider's answer, so that money in
// flight never becomes spendable by time alone. The program closes the
// hold itself: captured when the provider pays, voided when it refuses.
func reserveUntil(now time.Time) time.Time {
	end := ledger.MaxTime.Add(-time.Nanosecond)
	if t := now.Add(ledger.MaxDuration); t.Before(end) {
		return t
	}
	return end
}

// request is the first run of a withdrawal event, inside its unit of work.
func (p *Program) request(w *ledger.Writer, payoutID, memberID, account string, amount decimal.Decimal) (Payout, error) {
	r := p.rules
	var old Payout
	if ok, err := load(w, kindPayout, p.id(payoutID), &old); err != nil {
		return Payout{}, err
	} else if ok {
		// Recorded by a version that kept no event records.
		if old.Member == memberID && old.source() == account && old.Amount.Equal(amount) {
			return old, nil
		}
		return Payout{}, fmt.Errorf("%w: %s was %s %s for %s", ErrIdempotencyConflict, payoutID, old.Amount, old.Rule.From, old.Member)
	}
	src, err := r.sourceFor(memberID, account)
	if err != nil {
		return Payout{}, err
	}
	q, err := p.quote(src, amount)
	if err != nil {
		return Payout{}, err
	}
	var link Link
	if ok, err := load(w, kindLink, p.id(memberID), &link); err != nil {
		return Payout{}, err
	} else if !ok {
		return Payout{}, ErrNoPayoutAccount
	}
	if amount.LessThan(src.minimum) {
		return Payout{}, ledger.Refuse(ErrBelowMinimum, src.minimumRule, "%s %s is under %s", amount, src.asset.Code, src.minimum)
	}
	now := w.Now()
	deadline, err := ledger.AddDuration("hold_for deadline", now, r.HoldFor.D())
	if err != nil {
		return Payout{}, fmt.Errorf("rule hold_for: %w", err)
	}
	retryAt, err := ledger.AddDuration("retry time", now, r.RetryEvery.D())
	if err != nil {
		return Payout{}, fmt.Errorf("rule retry_every: %w", err)
	}
	var ms memberState
	if _, err := load(w, kindMember, p.id(memberID), &ms); err != nil {
		return Payout{}, err
	}
	kept := ms.Recent[:0]
	// inPeriod counts entries of ms.Recent, so it is bounded by its length.
	inPeriod := 0
	for _, x := range ms.Recent {
		if now.Sub(x.At) >= r.Period.D() {
			continue
		}
		kept = append(kept, x)
		inPeriod++
	}
	ms.Recent = kept
	if inPeriod >= r.MaxPerPeriod {
		return Payout{}, ledger.Refuse(ErrTooFrequent, "max_per_period", "%s withdrew %d times in the last %s", memberID, inPeriod, r.Period)
	}
	daily, err := p.dailyCap()
	if err != nil {
		return Payout{}, err
	}
	use := p.dailyUse(memberID, payoutID, now, q.Gross)
	if err := kit.Check(w, daily, use); err != nil {
		return Payout{}, err
	}
	if account == MemberAccount(memberID) {
		if _, err := kit.OpenWallet(w, p.wallets, memberID); err != nil {
			return Payout{}, err
		}
	} else if _, err := w.Account(account); errors.Is(err, ledger.ErrUnknownAccount) {
		return Payout{}, fmt.Errorf("%w: %s holds nothing yet", ErrInsufficientFunds, account)
	} else if err != nil {
		return Payout{}, err
	}
	held := src.asset.Amount(q.In)
	// A payout pays out only what the member has: never into an overdraft
	// the shared wallet policy may allow for other programs' reasons
	// (a chargeback's coins).
	b, err := w.Balance(account, src.asset.Code)
	if err != nil {
		return Payout{}, err
	}
	if b.Available.LessThan(held) {
		return Payout{}, fmt.Errorf("%w: %w: %s has %s %s available, %s asked (an overdraft is never paid out)",
			ErrInsufficientFunds, ledger.ErrInsufficientFunds, account, b.Available, src.asset.Code, held)
	}
	h, err := w.Hold(ledger.HoldRequest{
		Key: "payout:" + p.id("hold:"+payoutID), Account: account, Asset: src.asset.Code,
		Amount: held, ExpiresAt: reserveUntil(now),
		Metadata: map[string]string{"program": "payout", "payout": payoutID},
	})
	if errors.Is(err, ledger.ErrInsufficientFunds) {
		return Payout{}, fmt.Errorf("%w: %w", ErrInsufficientFunds, err)
	}
	if err != nil {
		return Payout{}, err
	}
	po := Payout{
		ID: payoutID, Member: memberID, Account: link.Account, Source: account, Amount: held,
		Gross: r.To.Amount(q.Gross), Fee: r.To.Amount(q.Fee), Net: r.To.Amount(q.Net), Remainder: src.asset.Amount(q.Remainder),
		Status: StatusSending, HoldID: h.ID, RequestedAt: now, Deadline: deadline, UpdatedAt: now, Rule: src.conv,
		Shortfall: decimal.Zero,
	}
	next := retryAt
	if r.ReviewAbove.Sign() > 0 && po.Gross.GreaterThan(r.ReviewAbove) {
		po.Status, next = StatusReview, deadline
	}
	if err := p.sends.Put(w, payoutID, next); err != nil {
		return Payout{}, err
	}
	if _, err := kit.Take(w, daily, use); err != nil {
		return Payout{}, err
	}
	ms.Recent = append(ms.Recent, recent{ID: payoutID, At: now, Gross: q.Gross})
	if err := w.SaveJSON(kindMember, p.id(memberID), ms); err != nil {
		return Payout{}, err
	}
	if err := p.emitPayout(w, EventRequested, &po, true, payoutData{}); err != nil {
		return Payout{}, err
	}
	return po, w.CreateJSON(kindPayout, p.id(payoutID), po)
}

// Get returns a payout as it is now, or ErrNotFound.
func (p *Program) Get(ctx context.Context, payoutID string) (Payout, error) {
	if err := checkID("payout id", payoutID); err != nil {
		return Payout{}, err
	}
	var po Payout
	err := p.l.View(ctx, func(r *ledger.Reader) error {
		err := r.LoadJSON(kindPayout, p.id(payoutID), &po)
		if errors.Is(err, ledger.ErrNotFound) {
			return fmt.Errorf("%w: payout %s", ErrNotFound, payoutID)
		}
		return err
	})
	return po, err
}

// RetryRequest asks the provider again about a payout.
type RetryRequest struct {
	// PayoutID is the payout to send (again).
	PayoutID string `json:"payout_id"`
}

// Retry sends a payout in flight to the provider with its idempotency key
// (KeyFor) — for the first time after WithdrawIn or ApproveIn committed,
// or again after a timeout — and records the answer in a unit of work of
// its own: the delivery the program's outbox (kit.Outbox) makes for it,
// at once. For a payout in review or settled (by an earlier answer or a
// pushed outcome, RecordOutcome) it changes nothing: a payout in review
// is Tick's, even past its Deadline. Retry has no In form: calling the
// provider is what it does, and the program never calls a provider inside
// a unit of work (see Provider).
func (p *Program) Retry(ctx context.Context, req RetryRequest) (Payout, error) {
	po, err := p.Get(ctx, req.PayoutID)
	if err != nil {
		return Payout{}, err
	}
	return p.drive(ctx, po)
}

// drive sends a payout in flight (outside any unit of work) and records
// the provider's answer; a settled payout leaves the outbox.
func (p *Program) drive(ctx context.Context, po Payout) (Payout, error) {
	if !po.Status.inFlight() {
		var err error
		if po.Status.Final() {
			err = p.l.Update(ctx, func(w *ledger.Writer) error { return p.sends.Done(w, po.ID) })
		}
		return po, err
	}
	rc, sendErr := p.provider.Send(ctx, SendRequest{
		Key: p.KeyFor(po.ID), Member: po.Member, Account: po.Account, Currency: p.rules.To.Code, Amount: po.Net,
	})
	po, err := kit.Run(ctx, p.l, func(w *ledger.Writer) (Payout, error) { return p.apply(w, po.ID, rc, sendErr, nil) })
	if err != nil {
		return Payout{}, eventError(err, "record the provider's answer for %s; the payout stays reserved and Tick asks again", po.ID)
	}
	return po, nil
}

// apply records a provider answer: polled (the answer to Send, sendErr
// its error; push nil) or pushed (RecordOutcome; push the notification).
// It is the one place an outcome settles a payout. A settled payout is
// left alone, so every payout settles its hold exactly once however many
// answers arrive, by poll or by push, in any order.
func (p *Program) apply(w *ledger.Writer, payoutID string, rc Receipt, sendErr error, push *RecordOutcomeRequest) (Payout, error) {
	var po Payout
	if err := w.LoadJSON(kindPayout, p.id(payoutID), &po); err != nil {
		return Payout{}, err
	}
	if !po.Status.inFlight() {
		return po, nil
	}
	was := po.Status
	now, err := clockNow(w)
	if err != nil {
		return Payout{}, err
	}
	reported := now
	if push != nil {
		if !push.At.IsZero() {
			reported = push.At
		}
		if !rc.Outcome.final() && reported.Before(po.ReportedAt) {
			// A pushed non-final outcome older than the one recorded
			// (unclaimed reported before held, delivered after): stale.
			return po, nil
		}
	} else {
		po.Attempts++
	}
	po.UpdatedAt = now
	later := func() (Payout, error) {
		at, err := ledger.AddDuration("retry time", now, p.rules.RetryEvery.D())
		if err != nil {
			return Payout{}, fmt.Errorf("rule retry_every: %w", err)
		}
		if back, ok, err := p.unclaimedReturnAt(&po); err != nil {
			return Payout{}, err
		} else if ok && !now.Before(back) {
			return p.returnUnclaimed(w, &po, now)
		} else if ok && back.Before(at) {
			at = back
		}
		if !po.Deadline.IsZero() && !now.Before(po.Deadline) {
			po.Overdue = true
		}
		if err := p.sends.Put(w, payoutID, at); err != nil {
			return Payout{}, err
		}
		return po, w.SaveJSON(kindPayout, p.id(payoutID), po)
	}
	if sendErr != nil {
		po.LastError = sendErr.Error()
		return later()
	}
	po.LastError, po.ReportedAt = "", reported
	if rc.Reference != "" || push == nil {
		po.Reference = rc.Reference
	}
	if push == nil && was == StatusSending && (rc.Outcome.final() || rc.Outcome == OutcomeHeld || rc.Outcome == OutcomeUnclaimed) {
		// The first answer to Send: the provider has the payment. The
		// outcome the answer carries follows.
		if err := p.emitPayout(w, EventSent, &po, false, payoutData{Reference: po.Reference}); err != nil {
			return Payout{}, err
		}
	}
	switch rc.Outcome {
	case OutcomeSucceeded, OutcomeReversed:
		tx, err := p.settlePaid(w, &po)
		if err != nil {
			return Payout{}, err
		}
		po.Status, po.SettledAt, po.SettlementTx = StatusPaid, now, tx
		if err := p.emitPayout(w, EventPaid, &po, true, payoutData{Reference: po.Reference}); err != nil {
			return Payout{}, err
		}
		if rc.Outcome == OutcomeReversed { // paid, then reversed, before we heard of either
			if err := p.reverse(w, &po, now); err != nil {
				return Payout{}, err
			}
		}
	case OutcomeFailed, OutcomeReturned, OutcomeBlocked:
		if err := p.settleReleased(w, &po, rc.Outcome, now, ""); err != nil {
			return Payout{}, err
		}
	case OutcomeHeld, OutcomeUnclaimed:
		po.Status = StatusHeld
		typ := EventHeld
		if rc.Outcome == OutcomeUnclaimed {
			po.Status, typ = StatusUnclaimed, EventUnclaimed
			if po.UnclaimedAt.IsZero() {
				po.UnclaimedAt = reported
			}
		}
		if po.Status != was {
			if err := p.emitPayout(w, typ, &po, false, payoutData{Reference: po.Reference}); err != nil {
				return Payout{}, err
			}
		}
		return later()
	default:
		po.LastError = fmt.Sprintf("provider answered unknown outcome %q", rc.Outcome)
		return later()
	}
	if err := p.sends.Done(w, payoutID); err != nil {
		return Payout{}, err
	}
	return po, w.SaveJSON(kindPayout, p.id(payoutID), po)
}

// settlePaid captures the hold to the clearing account and converts it:
// net to the settlement account, fee to the fee account, rounding leftover
// to the remainder account, all in this unit of work.
func (p *Program) settlePaid(w *ledger.Writer, po *Payout) (uint64, error) {
	meta := map[string]string{"program": "payout", "payout": po.ID, "member": po.Member}
	_, err := w.Capture(ledger.CaptureRequest{Key: "payout:" + p.id("capture:"+po.ID), Hold: po.HoldID, Final: true,
		Destinations: []ledger.Leg{{To: ClearingAccount(p.rules.Provider), Amount: po.Amount}}, Metadata: meta})
	if errors.Is(err, ledger.ErrHoldExpired) || errors.Is(err, ledger.ErrHoldClosed) || errors.Is(err, ledger.ErrInsufficientFunds) {
		// The reservation is no longer there to capture; the provider paid.
		err = p.takeLapsed(w, po, meta)
	}
	if err != nil {
		return 0, err
	}
	c, err := w.Convert(ledger.ConversionRequest{Key: "payout:" + p.id("convert:"+po.ID), Rule: po.Rule,
		From: ClearingAccount(p.rules.Provider), To: SettlementAccount(p.rules.Provider), Amount: po.Amount, Metadata: meta})
	if err != nil {
		return 0, err
	}
	if !c.Net.Equal(po.Net) || !c.Fee.Equal(po.Fee) {
		return 0, fmt.Errorf("%s converted to %s net, %s fee; %s net was sent", po.ID, c.Net, c.Fee, po.Net)
	}
	return c.Transaction.ID, nil
}

// takeLapsed settles a paid payout whose reservation can no longer be
// captured: its hold lapsed before the provider's answer (a hold made by
// an older version with a shorter expiry), or a posting allowed to reach
// held funds (a chargeback) took what it reserved. The ledger's answer to
// an expired hold is Void: it gives the funds back (at once if the sweep
// has not run yet). Then the payout takes its amount
// from the source as far as the source has it available, and the rest
// from ShortfallAccount, recorded in po.Shortfall: the provider paid, so
// the payout settles, and what is missing is booked, never dropped.
func (p *Program) takeLapsed(w *ledger.Writer, po *Payout, meta map[string]string) error {
	if _, err := w.Void(po.HoldID); err != nil {
		return err
	}
	code := po.Rule.From
	a, err := w.Asset(code)
	if err != nil {
		return err
	}
	want, err := a.Units(po.Amount)
	if err != nil {
		return err
	}
	b, err := w.Balance(po.source(), code)
	if err != nil {
		return err
	}
	avail, err := a.Units(b.Available)
	if err != nil {
		return err
	}
	take := min(max(avail, 0), want)
	clearing := ClearingAccount(p.rules.Provider)
	var ps []ledger.Posting
	if take > 0 {
		ps = append(ps, ledger.Posting{From: po.source(), To: clearing, Asset: code, Amount: a.Amount(take)})
	}
	if short := want - take; short > 0 {
		ps = append(ps, ledger.Posting{From: ShortfallAccount(p.rules.Provider), To: clearing, Asset: code, Amount: a.Amount(short)})
		po.Shortfall = a.Amount(short)
		po.LastError = fmt.Sprintf("reservation lapsed before the provider paid; %s %s taken from %s, %s %s short",
			a.Format(take), code, po.source(), a.Format(short), code)
	}
	_, err = w.Post(ledger.TransferRequest{Key: "payout:" + p.id("take:"+po.ID), Postings: ps, Metadata: meta})
	return err
}

// release voids the hold and frees the member's frequency and daily slot.
func (p *Program) release(w *ledger.Writer, po *Payout) error {
	if _, err := w.Void(po.HoldID); err != nil {
		return err
	}
	var ms memberState
	if _, err := load(w, kindMember, p.id(po.Member), &ms); err != nil {
		return err
	}
	kept := ms.Recent[:0]
	for _, x := range ms.Recent {
		if x.ID != po.ID {
			kept = append(kept, x)
		}
	}
	ms.Recent = kept
	if err := w.SaveJSON(kindMember, p.id(po.Member), ms); err != nil {
		return err
	}
	daily, err := p.dailyCap()
	if err != nil {
		return err
	}
	gross, err := p.rules.To.Units(po.Gross)
	if err != nil {
		return err
	}
	return kit.Give(w, daily, kit.Taken{Subject: po.Member, Period: string(kit.PeriodRolling), Count: 1, Units: gross, Ref: po.ID})
}

// notParty refuses a reviewer who is the payout's member.
func notParty(actor string, po *Payout) error {
	if actor == po.Member {
		return fmt.Errorf("%w: %q may not decide their own payout", ledger.ErrForbidden, actor)
	}
	return nil
}

// ApproveRequest is a payout reviewer approving a payout held for review.
type ApproveRequest struct {
	// Actor is the reviewer: they must hold kit.RolePayoutReviewer
	// (WithRoles) and not be the payout's member.
	Actor string `json:"actor"`
	// PayoutID is the payout approved.
	PayoutID string `json:"payout_id"`
}

// Approve approves a payout: ApproveIn in a unit of work of its own and,
// once that has committed, the provider asked at once (Retry).
func (p *Program) Approve(ctx context.Context, req ApproveRequest) (Payout, error) {
	po, err := kit.Run(ctx, p.l, func(w *ledger.Writer) (Payout, error) { return p.ApproveIn(w, req) })
	if err != nil || !po.Status.inFlight() {
		return po, err
	}
	return p.sends.Deliver(ctx, req.PayoutID)
}

// ApproveIn approves a payout waiting in review inside the caller's unit
// of work w: it becomes "sending", its funds still reserved. The actor
// must hold kit.RolePayoutReviewer in the program's roles (WithRoles) and
// not be the payout's member; otherwise it is ledger.ErrForbidden and
// nothing is written. Approving one already approved returns it;
// approving a rejected one is ErrWrongState. Like WithdrawIn it sends
// nothing: after w commits, Retry sends it at once, or Tick after
// Rules.RetryEvery.
func (p *Program) ApproveIn(w *ledger.Writer, req ApproveRequest) (Payout, error) {
	return kit.Step(w, func(w *ledger.Writer) (Payout, error) { return p.approveIn(w, req) })
}

// approveIn is the body of ApproveIn, run as one step.
func (p *Program) approveIn(w *ledger.Writer, req ApproveRequest) (Payout, error) {
	po, err := p.approve(w, req)
	if err != nil {
		return Payout{}, eventError(err, "approve %s", req.PayoutID)
	}
	return po, nil
}

func (p *Program) approve(w *ledger.Writer, req ApproveRequest) (Payout, error) {
	if err := checkID("payout id", req.PayoutID); err != nil {
		return Payout{}, err
	}
	if err := kit.Authorize(w.Context(), p.roles, req.Actor, kit.RolePayoutReviewer); err != nil {
		return Payout{}, err
	}
	var po Payout
	if ok, err := load(w, kindPayout, p.id(req.PayoutID), &po); err != nil {
		return Payout{}, err
	} else if !ok {
		return Payout{}, fmt.Errorf("%w: payout %s", ErrNotFound, req.PayoutID)
	}
	if err := notParty(req.Actor, &po); err != nil {
		return Payout{}, err
	}
	switch {
	case po.Status == StatusRejected:
		return Payout{}, fmt.Errorf("%w: payout %s was rejected", ErrWrongState, req.PayoutID)
	case po.Status != StatusReview:
		return po, nil
	}
	now, err := clockNow(w)
	if err != nil {
		return Payout{}, err
	}
	at, err := ledger.AddDuration("retry time", now, p.rules.RetryEvery.D())
	if err != nil {
		return Payout{}, fmt.Errorf("rule retry_every: %w", err)
	}
	po.Status, po.UpdatedAt, po.DecidedBy = StatusSending, now, req.Actor
	if err := p.sends.Put(w, req.PayoutID, at); err != nil {
		return Payout{}, err
	}
	if err := p.emitPayout(w, EventApproved, &po, false, payoutData{Actor: req.Actor}); err != nil {
		return Payout{}, err
	}
	return po, w.SaveJSON(kindPayout, p.id(req.PayoutID), po)
}

// RejectRequest is a payout reviewer rejecting a payout held for review.
type RejectRequest struct {
	// Actor is the reviewer, checked as for Approve.
	Actor string `json:"actor"`
	// PayoutID is the payout rejected.
	PayoutID string `json:"payout_id"`
	// Reason is why, at most 500 characters; it is recorded on the payout.
	Reason string `json:"reason,omitempty"`
}

// Reject rejects a payout: RejectIn in a unit of work of its own.
func (p *Program) Reject(ctx context.Context, req RejectRequest) (Payout, error) {
	return kit.Run(ctx, p.l, func(w *ledger.Writer) (Payout, error) { return p.RejectIn(w, req) })
}

// RejectIn refuses a payout waiting in review inside the caller's unit of
// work w and releases its funds. The actor is checked as for ApproveIn.
// Rejecting one already rejected returns it; rejecting one already
// approved is ErrWrongState.
func (p *Program) RejectIn(w *ledger.Writer, req RejectRequest) (Payout, error) {
	return kit.Step(w, func(w *ledger.Writer) (Payout, error) { return p.rejectStep(w, req) })
}

// rejectStep is the body of RejectIn, run as one step.
func (p *Program) rejectStep(w *ledger.Writer, req RejectRequest) (Payout, error) {
	po, err := p.rejectIn(w, req)
	if err != nil {
		return Payout{}, eventError(err, "reject %s", req.PayoutID)
	}
	return po, nil
}

func (p *Program) rejectIn(w *ledger.Writer, req RejectRequest) (Payout, error) {
	if err := checkID("payout id", req.PayoutID); err != nil {
		return Payout{}, err
	}
	if len(req.Reason) > maxReasonLen {
		return Payout{}, fmt.Errorf("%w: reason must have at most %d characters", ErrInvalidRequest, maxReasonLen)
	}
	if err := kit.Authorize(w.Context(), p.roles, req.Actor, kit.RolePayoutReviewer); err != nil {
		return Payout{}, err
	}
	var po Payout
	if ok, err := load(w, kindPayout, p.id(req.PayoutID), &po); err != nil {
		return Payout{}, err
	} else if !ok {
		return Payout{}, fmt.Errorf("%w: payout %s", ErrNotFound, req.PayoutID)
	}
	if err := notParty(req.Actor, &po); err != nil {
		return Payout{}, err
	}
	switch po.Status {
	case StatusRejected:
		return po, nil
	case StatusReview:
	default:
		return Payout{}, fmt.Errorf("%w: payout %s is %s, not in review", ErrWrongState, req.PayoutID, po.Status)
	}
	return po, p.reject(w, &po, req.Actor, req.Reason)
}

// reject releases a payout in review and records it rejected.
func (p *Program) reject(w *ledger.Writer, po *Payout, actor, reason string) error {
	now, err := clockNow(w)
	if err != nil {
		return err
	}
	if err := p.release(w, po); err != nil {
		return err
	}
	if err := p.sends.Done(w, po.ID); err != nil {
		return err
	}
	po.Status, po.Reason, po.DecidedBy, po.UpdatedAt, po.SettledAt = StatusRejected, reason, actor, now, now
	typ := EventRejected
	if actor == "" { // Tick: nobody reviewed it in time
		typ = EventLapsed
	}
	if err := p.emitPayout(w, typ, po, false, payoutData{Actor: actor, Reason: reason}); err != nil {
		return err
	}
	return w.SaveJSON(kindPayout, p.id(po.ID), *po)
}
