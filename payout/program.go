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
	dueRetry   = "payout.retry:" // + <provider>; id: payout id
)

// maxIDLen bounds member and payout IDs.
const maxIDLen = 64

// maxReasonLen bounds a rejection's reason.
const maxReasonLen = 500

// Status is where a payout is in its life.
type Status string

// Payout statuses. Review, Sending, Held and Unclaimed keep the funds held;
// the others are final and each settled the hold exactly once.
const (
	StatusReview    Status = "review"    // waiting for Approve or Reject
	StatusSending   Status = "sending"   // sent or about to be; outcome not known yet
	StatusHeld      Status = "held"      // the provider holds the payment
	StatusUnclaimed Status = "unclaimed" // sent, not claimed by the receiver yet
	StatusPaid      Status = "paid"      // captured and converted to the settlement account
	StatusFailed    Status = "failed"    // refused by the provider; hold voided
	StatusReturned  Status = "returned"  // unclaimed and returned; hold voided
	StatusRejected  Status = "rejected"  // rejected in review (or never reviewed); hold voided
)

// Final reports whether the payout is settled.
func (s Status) Final() bool {
	switch s {
	case StatusPaid, StatusFailed, StatusReturned, StatusRejected:
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
	Reason    string `json:"reason,omitempty"` // why it was rejected
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
	// reported: the Notification's time for a pushed outcome, the time of
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
	// Replayed is true when Withdraw returned the payout as recorded by an
	// earlier call with the same payout ID (and did nothing else).
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
// shortfall).
func New(ctx context.Context, l *ledger.Ledger, rules Rules, provider Provider, opts ...Option) (*Program, error) {
	if err := rules.Validate(); err != nil {
		return nil, err
	}
	if provider == nil {
		return nil, fmt.Errorf("%w: provider: nil", ErrInvalidRules)
	}
	p := &Program{l: l, rules: rules, provider: provider}
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
		} {
			if _, err := w.OpenAccount(s); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("set up %s: %w", rules.Provider, err)
	}
	if err := p.wallets.Check(ctx, l); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidRules, err)
	}
	return p, nil
}

// Rules returns the program's rules.
func (p *Program) Rules() Rules { return p.rules }

func (p *Program) id(s string) string { return p.rules.Provider + ":" + s }

func checkID(name, v string) error {
	if v == "" || len(v) > maxIDLen {
		return fmt.Errorf("%w: %s must have 1 to %d characters", ErrInvalidRequest, name, maxIDLen)
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == '@' || c == '+') {
			return fmt.Errorf("%w: %s %q may hold only letters, digits and _-.@+", ErrInvalidRequest, name, v)
		}
	}
	return nil
}

// Bounds on decimal input, checked before any arithmetic so that no input
// costs unbounded work (an exponent near 2^31) or reaches a panic.
const (
	maxExponent         = 40
	maxCoefficientBits  = 256
	maxAmountStringSize = 128
)

func boundedDecimal(d decimal.Decimal) error {
	if e := d.Exponent(); e < -maxExponent || e > maxExponent {
		return fmt.Errorf("%w: exponent %d is outside ±%d", ledger.ErrInvalidAmount, e, maxExponent)
	}
	if b := d.Coefficient().BitLen(); b > maxCoefficientBits {
		return fmt.Errorf("%w: %d-bit coefficient is longer than %d bits", ledger.ErrInvalidAmount, b, maxCoefficientBits)
	}
	return nil
}

func checkAmount(amount decimal.Decimal) error {
	if err := boundedDecimal(amount); err != nil {
		return fmt.Errorf("%w: amount: %w", ErrInvalidRequest, err)
	}
	if amount.Sign() <= 0 {
		return fmt.Errorf("%w: amount %s must be positive", ErrInvalidRequest, amount)
	}
	return nil
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

// LinkAccount links (or replaces) a member's payout account, such as a
// PayPal address. Linking the same account again changes nothing.
func (p *Program) LinkAccount(ctx context.Context, memberID, account string) error {
	if err := checkID("member", memberID); err != nil {
		return err
	}
	if account == "" || len(account) > 256 {
		return fmt.Errorf("%w: payout account must have 1 to 256 characters", ErrInvalidRequest)
	}
	return p.l.Update(ctx, func(w *ledger.Writer) error {
		var old Link
		if ok, err := load(w, kindLink, p.id(memberID), &old); err != nil || (ok && old.Account == account) {
			return err
		}
		now, err := clockNow(w)
		if err != nil {
			return err
		}
		return w.SaveJSON(kindLink, p.id(memberID), Link{Account: account, LinkedAt: now})
	})
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
			return fmt.Errorf("%w: %s", ErrNoPayoutAccount, memberID)
		}
		return err
	})
	return l, err
}

// Quote computes what withdrawing amount of From from the wallet would
// pay, without writing anything.
func (p *Program) Quote(amount decimal.Decimal) (ledger.Quote, error) {
	if err := checkAmount(amount); err != nil {
		return ledger.Quote{}, err
	}
	r := p.rules
	return p.quote(source{asset: r.From, minimum: r.Minimum, conv: r.Conversion()}, amount)
}

// QuoteFrom computes what withdrawing amount from account (the member's
// wallet or one of the rules' sources) would pay, without writing
// anything.
func (p *Program) QuoteFrom(memberID, account string, amount decimal.Decimal) (ledger.Quote, error) {
	if err := checkID("member", memberID); err != nil {
		return ledger.Quote{}, err
	}
	if err := checkAmount(amount); err != nil {
		return ledger.Quote{}, err
	}
	src, err := p.rules.sourceFor(memberID, account)
	if err != nil {
		return ledger.Quote{}, err
	}
	return p.quote(src, amount)
}

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
		return ledger.Quote{}, fmt.Errorf("%w: rule conversion: %w", ErrBelowMinimum, err)
	}
	return q, nil
}

// withdrawRequest is what a payout ID stands for (kit.Once fingerprints
// it): the same ID with another member, source or amount is a conflict.
type withdrawRequest struct {
	Member  string `json:"member"`
	Account string `json:"account"`
	Amount  string `json:"amount"`
}

// Withdraw asks to pay amount of From out of a member's wallet to their
// linked payout account; it is WithdrawFrom with the wallet as source.
func (p *Program) Withdraw(ctx context.Context, payoutID, memberID string, amount decimal.Decimal) (Payout, error) {
	if err := checkID("member", memberID); err != nil {
		return Payout{}, fmt.Errorf("withdraw %s: %w", payoutID, err)
	}
	return p.WithdrawFrom(ctx, payoutID, memberID, MemberAccount(memberID), amount)
}

// WithdrawFrom asks to pay amount out of account to the member's linked
// payout account. account is the member's wallet (MemberAccount) or one
// of Rules.Sources with the member's ID in place of {member}
// ("creator:giulia:diamonds"); any other account is ErrUnknownSource
// (and ledger.ErrForbidden). The amount is in that source's asset and
// converted by that asset's rule.
//
// payoutID is the event ID (kit.Once): the first call checks the rules
// (linked account, minimum, frequency, daily maximum, funds), holds the
// amount on the source and records the payout as "sending" (or "review"
// above Rules.ReviewAbove) in one unit of work; after that commits it
// calls the provider, and records the outcome in another: succeeded
// captures the hold and converts it (fee to the fee account, net to the
// settlement account); failed voids it; held and unclaimed keep it for
// Tick, or for the provider's webhook (RecordOutcome). A timeout leaves the payout "sending"; Retry or Tick sends again
// with the same key. A later call with the same ID and arguments is a
// replay: it checks nothing that may have changed since (rules, link,
// balances), calls no provider, and returns the payout as recorded by the
// first call, Replayed true (Get shows where it is now). The same ID with
// other arguments is ErrEventConflict.
func (p *Program) WithdrawFrom(ctx context.Context, payoutID, memberID, account string, amount decimal.Decimal) (Payout, error) {
	if err := checkID("payout id", payoutID); err != nil {
		return Payout{}, err
	}
	if err := checkID("member", memberID); err != nil {
		return Payout{}, fmt.Errorf("withdraw %s: %w", payoutID, err)
	}
	if err := ledger.ValidateAddress(account); err != nil {
		return Payout{}, fmt.Errorf("%w: withdraw %s: source account: %w", ErrInvalidRequest, payoutID, err)
	}
	if err := checkAmount(amount); err != nil {
		return Payout{}, fmt.Errorf("withdraw %s: %w", payoutID, err)
	}
	ev := kit.Event{Kind: kindEvent, ID: p.id(payoutID), Op: "withdraw",
		Request: withdrawRequest{Member: memberID, Account: account, Amount: amount.String()}}
	po, replay, err := kit.RunOnce(ctx, p.l, ev, func(w *ledger.Writer) (Payout, error) {
		return p.request(w, payoutID, memberID, account, amount)
	})
	if err != nil {
		if errors.Is(err, ledger.ErrIdempotencyConflict) && !errors.Is(err, ErrEventConflict) {
			err = fmt.Errorf("%w: %w", ErrEventConflict, err)
		}
		return Payout{}, fmt.Errorf("withdraw %s for %s: %w", payoutID, memberID, err)
	}
	if replay {
		po.Replayed = true
		return po, nil
	}
	if po.Status.inFlight() {
		return p.drive(ctx, payoutID)
	}
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
		return Payout{}, fmt.Errorf("%w: %s was %s %s for %s", ErrEventConflict, payoutID, old.Amount, old.Rule.From, old.Member)
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
		return Payout{}, fmt.Errorf("%w: %s", ErrNoPayoutAccount, memberID)
	}
	if amount.LessThan(src.minimum) {
		return Payout{}, fmt.Errorf("%w: rule minimum: %s %s is under %s", ErrBelowMinimum, amount, src.asset.Code, src.minimum)
	}
	now := w.Now()
	deadline, err := ledger.AddDuration("hold_for deadline", now, time.Duration(r.HoldFor))
	if err != nil {
		return Payout{}, fmt.Errorf("rule hold_for: %w", err)
	}
	retryAt, err := ledger.AddDuration("retry time", now, time.Duration(r.RetryEvery))
	if err != nil {
		return Payout{}, fmt.Errorf("rule retry_every: %w", err)
	}
	var ms memberState
	if _, err := load(w, kindMember, p.id(memberID), &ms); err != nil {
		return Payout{}, err
	}
	keep := max(time.Duration(r.Period), time.Duration(r.DailyWindow))
	kept := ms.Recent[:0]
	// inPeriod counts entries of ms.Recent, so it is bounded by its length.
	inPeriod, inDay := 0, int64(0)
	for _, x := range ms.Recent {
		age := now.Sub(x.At)
		if age >= keep {
			continue
		}
		kept = append(kept, x)
		if age < time.Duration(r.Period) {
			inPeriod++
		}
		if age < time.Duration(r.DailyWindow) && r.DailyMaximum.Sign() > 0 {
			if inDay, err = kit.Add("daily withdrawals", inDay, x.Gross); err != nil {
				return Payout{}, fmt.Errorf("%w: rule daily_maximum: %w", ErrDailyMaximum, err)
			}
		}
	}
	ms.Recent = kept
	if inPeriod >= r.MaxPerPeriod {
		return Payout{}, fmt.Errorf("%w: rule max_per_period: %s withdrew %d times in the last %s", ErrTooFrequent, memberID, inPeriod, time.Duration(r.Period))
	}
	if r.DailyMaximum.Sign() > 0 {
		maxU, err := r.To.Units(r.DailyMaximum)
		if err != nil {
			return Payout{}, invalidCause("daily_maximum", err)
		}
		total, err := kit.Add("daily withdrawals", inDay, q.Gross)
		if err != nil {
			return Payout{}, fmt.Errorf("%w: rule daily_maximum: %w", ErrDailyMaximum, err)
		}
		if total > maxU {
			return Payout{}, fmt.Errorf("%w: rule daily_maximum: %s withdrew %s %s in the last %s; %s more exceeds %s", ErrDailyMaximum,
				memberID, r.To.Format(inDay), r.To.Code, time.Duration(r.DailyWindow), r.To.Format(q.Gross), r.DailyMaximum)
		}
	}
	if account == MemberAccount(memberID) {
		if _, err := kit.OpenWallet(w, p.wallets, memberID); err != nil {
			return Payout{}, err
		}
	} else if _, err := w.Account(account); errors.Is(err, ledger.ErrUnknownAccount) {
		return Payout{}, fmt.Errorf("%w: %s holds nothing yet: %w", ErrInsufficientFunds, account, err)
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
	if err := w.Schedule(dueRetry+r.Provider, payoutID, next); err != nil {
		return Payout{}, err
	}
	ms.Recent = append(ms.Recent, recent{ID: payoutID, At: now, Gross: q.Gross})
	if err := w.SaveJSON(kindMember, p.id(memberID), ms); err != nil {
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

// Retry sends an in-flight payout again with the same idempotency key and
// records the answer; for a payout in review or settled (by an earlier
// answer or a pushed outcome, RecordOutcome) it changes nothing.
func (p *Program) Retry(ctx context.Context, payoutID string) (Payout, error) {
	return p.drive(ctx, payoutID)
}

// drive sends an in-flight payout (outside any unit of work) and records
// the provider's answer.
func (p *Program) drive(ctx context.Context, payoutID string) (Payout, error) {
	po, err := p.Get(ctx, payoutID)
	if err != nil {
		return Payout{}, err
	}
	if !po.Status.inFlight() {
		if po.Status.Final() {
			err = p.l.Update(ctx, func(w *ledger.Writer) error { return w.Unschedule(dueRetry+p.rules.Provider, payoutID) })
		}
		return po, err
	}
	rc, sendErr := p.provider.Send(ctx, SendRequest{
		Key: p.KeyFor(payoutID), Member: po.Member, Account: po.Account, Currency: p.rules.To.Code, Amount: po.Net,
	})
	err = p.l.Update(ctx, func(w *ledger.Writer) error {
		var err error
		po, err = p.apply(w, payoutID, rc, sendErr, nil)
		return err
	})
	if err != nil {
		return Payout{}, fmt.Errorf("record outcome of %s: %w", payoutID, err)
	}
	return po, nil
}

// apply records a provider answer: polled (the answer to Send, sendErr
// its error; push nil) or pushed (RecordOutcome; push the notification).
// It is the one place an outcome settles a payout. A settled payout is
// left alone, so every payout settles its hold exactly once however many
// answers arrive, by poll or by push, in any order.
func (p *Program) apply(w *ledger.Writer, payoutID string, rc Receipt, sendErr error, push *Notification) (Payout, error) {
	var po Payout
	if err := w.LoadJSON(kindPayout, p.id(payoutID), &po); err != nil {
		return Payout{}, err
	}
	if !po.Status.inFlight() {
		return po, nil
	}
	now, err := clockNow(w)
	if err != nil {
		return Payout{}, err
	}
	due := dueRetry + p.rules.Provider
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
		at, err := ledger.AddDuration("retry time", now, time.Duration(p.rules.RetryEvery))
		if err != nil {
			return Payout{}, fmt.Errorf("rule retry_every: %w", err)
		}
		if !po.Deadline.IsZero() && !now.Before(po.Deadline) {
			po.Overdue = true
		}
		if err := w.Schedule(due, payoutID, at); err != nil {
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
	switch rc.Outcome {
	case OutcomeSucceeded:
		tx, err := p.settlePaid(w, &po)
		if err != nil {
			return Payout{}, err
		}
		po.Status, po.SettledAt, po.SettlementTx = StatusPaid, now, tx
	case OutcomeFailed, OutcomeReturned:
		if err := p.release(w, &po); err != nil {
			return Payout{}, err
		}
		po.Status, po.SettledAt = StatusFailed, now
		if rc.Outcome == OutcomeReturned {
			po.Status = StatusReturned
		}
	case OutcomeHeld, OutcomeUnclaimed:
		po.Status = StatusHeld
		if rc.Outcome == OutcomeUnclaimed {
			po.Status = StatusUnclaimed
		}
		return later()
	default:
		po.LastError = fmt.Sprintf("provider answered unknown outcome %q", rc.Outcome)
		return later()
	}
	if err := w.Unschedule(due, payoutID); err != nil {
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
	return w.SaveJSON(kindMember, p.id(po.Member), ms)
}

// reviewer checks that actor may decide payouts held for review
// (kit.RolePayoutReviewer); the member is checked as a party once the
// payout is loaded (notParty).
func (p *Program) reviewer(ctx context.Context, actor string) error {
	return kit.Authorize(ctx, p.roles, actor, kit.RolePayoutReviewer)
}

func notParty(actor string, po *Payout) error {
	if actor == po.Member {
		return fmt.Errorf("%w: %q may not decide their own payout", ledger.ErrForbidden, actor)
	}
	return nil
}

// Approve sends a payout waiting in review. actor must hold
// kit.RolePayoutReviewer in the program's roles (WithRoles) and not be
// the payout's member; otherwise it is ledger.ErrForbidden and nothing is
// written. Approving one already approved returns it; approving a
// rejected one is ErrWrongState.
func (p *Program) Approve(ctx context.Context, actor, payoutID string) (Payout, error) {
	if err := checkID("payout id", payoutID); err != nil {
		return Payout{}, err
	}
	if err := p.reviewer(ctx, actor); err != nil {
		return Payout{}, fmt.Errorf("approve %s: %w", payoutID, err)
	}
	var po Payout
	err := p.l.Update(ctx, func(w *ledger.Writer) error {
		po = Payout{}
		if ok, err := load(w, kindPayout, p.id(payoutID), &po); err != nil {
			return err
		} else if !ok {
			return fmt.Errorf("%w: payout %s", ErrNotFound, payoutID)
		}
		if err := notParty(actor, &po); err != nil {
			return err
		}
		switch {
		case po.Status == StatusRejected:
			return fmt.Errorf("%w: payout %s was rejected", ErrWrongState, payoutID)
		case po.Status != StatusReview:
			return nil
		}
		now := w.Now()
		at, err := ledger.AddDuration("retry time", now, time.Duration(p.rules.RetryEvery))
		if err != nil {
			return fmt.Errorf("rule retry_every: %w", err)
		}
		po.Status, po.UpdatedAt, po.DecidedBy = StatusSending, now, actor
		if err := w.Schedule(dueRetry+p.rules.Provider, payoutID, at); err != nil {
			return err
		}
		return w.SaveJSON(kindPayout, p.id(payoutID), po)
	})
	if err != nil {
		return Payout{}, fmt.Errorf("approve %s: %w", payoutID, err)
	}
	if po.Status.inFlight() {
		return p.drive(ctx, payoutID)
	}
	return po, nil
}

// Reject refuses a payout waiting in review and releases its funds. actor
// is checked as for Approve. Rejecting one already rejected returns it;
// rejecting one already approved is ErrWrongState.
func (p *Program) Reject(ctx context.Context, actor, payoutID, reason string) (Payout, error) {
	if err := checkID("payout id", payoutID); err != nil {
		return Payout{}, err
	}
	if len(reason) > maxReasonLen {
		return Payout{}, fmt.Errorf("%w: reason must have at most %d characters", ErrInvalidRequest, maxReasonLen)
	}
	if err := p.reviewer(ctx, actor); err != nil {
		return Payout{}, fmt.Errorf("reject %s: %w", payoutID, err)
	}
	var po Payout
	err := p.l.Update(ctx, func(w *ledger.Writer) error {
		po = Payout{}
		if ok, err := load(w, kindPayout, p.id(payoutID), &po); err != nil {
			return err
		} else if !ok {
			return fmt.Errorf("%w: payout %s", ErrNotFound, payoutID)
		}
		if err := notParty(actor, &po); err != nil {
			return err
		}
		switch po.Status {
		case StatusRejected:
			return nil
		case StatusReview:
		default:
			return fmt.Errorf("%w: payout %s is %s, not in review", ErrWrongState, payoutID, po.Status)
		}
		return p.reject(w, &po, actor, reason)
	})
	if err != nil {
		return Payout{}, fmt.Errorf("reject %s: %w", payoutID, err)
	}
	return po, nil
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
	if err := w.Unschedule(dueRetry+p.rules.Provider, po.ID); err != nil {
		return err
	}
	po.Status, po.Reason, po.DecidedBy, po.UpdatedAt, po.SettledAt = StatusRejected, reason, actor, now, now
	return w.SaveJSON(kindPayout, p.id(po.ID), *po)
}
