package payout

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger"
)

// Record kinds the program keeps beside the ledger; ids start with the
// provider name.
const (
	kindLink   = "payout.link"   // <provider>:<member> -> Link
	kindPayout = "payout.payout" // <provider>:<payout id> -> Payout
	kindMember = "payout.member" // <provider>:<member> -> memberState
	dueRetry   = "payout.retry:" // + <provider>; id: payout id
)

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
	StatusRejected  Status = "rejected"  // rejected in review; hold voided
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
	// Amount of From withdrawn (held, then captured or released).
	Amount decimal.Decimal `json:"amount"`
	// Gross is Amount converted to To; Fee goes to the provider; Net is
	// what the member receives; Remainder is the From that rounding left
	// unconverted, booked to the remainder account.
	Gross     decimal.Decimal `json:"gross"`
	Fee       decimal.Decimal `json:"fee"`
	Net       decimal.Decimal `json:"net"`
	Remainder decimal.Decimal `json:"remainder"`
	Status    Status          `json:"status"`
	HoldID    uint64          `json:"hold_id"`
	// Attempts counts Send calls whose answer was recorded.
	Attempts     int                   `json:"attempts"`
	Reference    string                `json:"reference,omitempty"`
	LastError    string                `json:"last_error,omitempty"`
	Reason       string                `json:"reason,omitempty"` // why it was rejected
	RequestedAt  time.Time             `json:"requested_at"`
	UpdatedAt    time.Time             `json:"updated_at"`
	SettledAt    time.Time             `json:"settled_at,omitempty"`
	SettlementTx uint64                `json:"settlement_tx,omitempty"` // the conversion of a paid payout
	Rule         ledger.ConversionRule `json:"rule"`
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
	conv     ledger.ConversionRule
}

// New validates the rules, defines From and To, and opens the provider's
// accounts (clearing, exchange, remainder, fees, settlement).
func New(ctx context.Context, l *ledger.Ledger, rules Rules, provider Provider) (*Program, error) {
	if err := rules.Validate(); err != nil {
		return nil, err
	}
	if provider == nil {
		return nil, fmt.Errorf("%w: provider: nil", ErrInvalidRules)
	}
	p := &Program{l: l, rules: rules, provider: provider, conv: rules.Conversion()}
	err := l.Update(ctx, func(w *ledger.Writer) error {
		for _, a := range []ledger.Asset{rules.From, rules.To} {
			if err := w.DefineAsset(a); err != nil {
				return err
			}
		}
		pr := rules.Provider
		specs := []ledger.AccountSpec{
			{Address: ClearingAccount(pr)},
			{Address: ExchangeAccount(pr), Overdraft: ledger.Overdraft{Unbounded: true}},
			{Address: RemainderAccount(pr), Overdraft: ledger.Overdraft{Unbounded: true}},
			{Address: FeeAccount(pr)},
			{Address: SettlementAccount(pr)},
		}
		for _, s := range specs {
			if _, err := w.OpenAccount(s); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("payout: set up %s: %w", rules.Provider, err)
	}
	return p, nil
}

// Rules returns the program's rules.
func (p *Program) Rules() Rules { return p.rules }

func (p *Program) id(s string) string { return p.rules.Provider + ":" + s }

func checkID(name, v string) error {
	if v == "" || len(v) > 64 {
		return fmt.Errorf("%w: %s %q must have 1 to 64 characters", ErrInvalidRequest, name, v)
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == '@' || c == '+') {
			return fmt.Errorf("%w: %s %q may hold only letters, digits and _-.@+", ErrInvalidRequest, name, v)
		}
	}
	return nil
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
		return fmt.Errorf("%w: payout account %q must have 1 to 256 characters", ErrInvalidRequest, account)
	}
	return p.l.Update(ctx, func(w *ledger.Writer) error {
		var old Link
		if ok, err := load(w, kindLink, p.id(memberID), &old); err != nil || (ok && old.Account == account) {
			return err
		}
		return w.SaveJSON(kindLink, p.id(memberID), Link{Account: account, LinkedAt: w.Now()})
	})
}

// Linked returns a member's linked payout account, or ErrNoPayoutAccount.
func (p *Program) Linked(ctx context.Context, memberID string) (Link, error) {
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

// Quote computes what withdrawing amount of From would pay, without
// writing anything.
func (p *Program) Quote(amount decimal.Decimal) (ledger.Quote, error) {
	u, err := p.rules.From.Units(amount)
	if err != nil || u <= 0 {
		return ledger.Quote{}, fmt.Errorf("%w: amount %s %s must be positive with at most %d decimals",
			ErrInvalidRequest, amount, p.rules.From.Code, p.rules.From.Precision)
	}
	q, err := p.conv.Quote(p.rules.From, p.rules.To, u)
	if err != nil {
		return ledger.Quote{}, fmt.Errorf("%w: rule conversion: %v", ErrBelowMinimum, err)
	}
	return q, nil
}

// Withdraw asks to pay amount of From out of a member's wallet to their
// linked payout account. payoutID is the idempotency key: calling again
// with the same id and arguments returns the payout (and moves it on if
// it is in flight); with other arguments it is ErrEventConflict.
//
// The rules are checked first (linked account, minimum, frequency, daily
// maximum, funds); then the amount is held on the member's wallet and the
// payout recorded as "sending" (or "review" above Rules.ReviewAbove). The
// provider is called after that unit of work commits, and its outcome is
// recorded in another: succeeded captures the hold and converts it (fee
// to the fee account, net to the settlement account); failed voids it;
// held and unclaimed keep it for Tick. A timeout leaves the payout
// "sending"; Retry or Tick sends again with the same key.
func (p *Program) Withdraw(ctx context.Context, payoutID, memberID string, amount decimal.Decimal) (Payout, error) {
	if err := checkID("payout id", payoutID); err != nil {
		return Payout{}, err
	}
	if err := checkID("member", memberID); err != nil {
		return Payout{}, err
	}
	q, err := p.Quote(amount)
	if err != nil {
		return Payout{}, err
	}
	r := p.rules
	var po Payout
	err = p.l.Update(ctx, func(w *ledger.Writer) error {
		po = Payout{}
		if ok, err := load(w, kindPayout, p.id(payoutID), &po); err != nil {
			return err
		} else if ok {
			if po.Member != memberID || !po.Amount.Equal(r.From.Amount(q.In)) {
				return fmt.Errorf("%w: %s was %s %s for %s", ErrEventConflict, payoutID, po.Amount, r.From.Code, po.Member)
			}
			return nil
		}
		var link Link
		if ok, err := load(w, kindLink, p.id(memberID), &link); err != nil {
			return err
		} else if !ok {
			return fmt.Errorf("%w: %s", ErrNoPayoutAccount, memberID)
		}
		if amount.LessThan(r.Minimum) {
			return fmt.Errorf("%w: rule minimum: %s %s is under %s", ErrBelowMinimum, amount, r.From.Code, r.Minimum)
		}
		now := w.Now()
		var ms memberState
		if _, err := load(w, kindMember, p.id(memberID), &ms); err != nil {
			return err
		}
		keep := max(time.Duration(r.Period), time.Duration(r.DailyWindow))
		kept := ms.Recent[:0]
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
			if age < time.Duration(r.DailyWindow) {
				inDay += x.Gross
			}
		}
		ms.Recent = kept
		if inPeriod >= r.MaxPerPeriod {
			return fmt.Errorf("%w: rule max_per_period: %s withdrew %d times in the last %s", ErrTooFrequent, memberID, inPeriod, time.Duration(r.Period))
		}
		if r.DailyMaximum.Sign() > 0 {
			maxU, _ := r.To.Units(r.DailyMaximum)
			if inDay+q.Gross > maxU {
				return fmt.Errorf("%w: rule daily_maximum: %s withdrew %s %s in the last %s; %s more exceeds %s", ErrDailyMaximum,
					memberID, r.To.Format(inDay), r.To.Code, time.Duration(r.DailyWindow), r.To.Format(q.Gross), r.DailyMaximum)
			}
		}
		if _, err := w.OpenAccount(ledger.AccountSpec{Address: MemberAccount(memberID)}); err != nil {
			return err
		}
		h, err := w.Hold(ledger.HoldRequest{
			Key: "payout:" + p.id("hold:"+payoutID), Account: MemberAccount(memberID), Asset: r.From.Code,
			Amount: amount, ExpiresAt: now.Add(time.Duration(r.HoldFor)),
			Metadata: map[string]string{"program": "payout", "payout": payoutID},
		})
		if err != nil {
			if errors.Is(err, ledger.ErrInsufficientFunds) {
				return fmt.Errorf("%w: %v", ErrInsufficientFunds, err)
			}
			return err
		}
		po = Payout{
			ID: payoutID, Member: memberID, Account: link.Account, Amount: r.From.Amount(q.In),
			Gross: r.To.Amount(q.Gross), Fee: r.To.Amount(q.Fee), Net: r.To.Amount(q.Net), Remainder: r.From.Amount(q.Remainder),
			Status: StatusSending, HoldID: h.ID, RequestedAt: now, UpdatedAt: now, Rule: p.conv,
		}
		if r.ReviewAbove.Sign() > 0 && po.Gross.GreaterThan(r.ReviewAbove) {
			po.Status = StatusReview
		} else if err := w.Schedule(dueRetry+r.Provider, payoutID, now.Add(time.Duration(r.RetryEvery))); err != nil {
			return err
		}
		ms.Recent = append(ms.Recent, recent{ID: payoutID, At: now, Gross: q.Gross})
		if err := w.SaveJSON(kindMember, p.id(memberID), ms); err != nil {
			return err
		}
		return w.CreateJSON(kindPayout, p.id(payoutID), po)
	})
	if err != nil {
		return Payout{}, fmt.Errorf("payout: withdraw %s for %s: %w", payoutID, memberID, err)
	}
	if po.Status.inFlight() {
		return p.drive(ctx, payoutID)
	}
	return po, nil
}

// Get returns a payout, or ErrNotFound.
func (p *Program) Get(ctx context.Context, payoutID string) (Payout, error) {
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
// records the answer; for a settled payout it changes nothing.
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
		err := p.l.Update(ctx, func(w *ledger.Writer) error { return w.Unschedule(dueRetry+p.rules.Provider, payoutID) })
		return po, err
	}
	rc, sendErr := p.provider.Send(ctx, SendRequest{
		Key: "payout:" + p.id(payoutID), Member: po.Member, Account: po.Account, Currency: p.rules.To.Code, Amount: po.Net,
	})
	err = p.l.Update(ctx, func(w *ledger.Writer) error {
		var err error
		po, err = p.apply(w, payoutID, rc, sendErr)
		return err
	})
	if err != nil {
		return Payout{}, fmt.Errorf("payout: record outcome of %s: %w", payoutID, err)
	}
	return po, nil
}

// apply records a provider answer. A settled payout is left alone, so
// every payout settles its hold exactly once however many answers arrive.
func (p *Program) apply(w *ledger.Writer, payoutID string, rc Receipt, sendErr error) (Payout, error) {
	var po Payout
	if err := w.LoadJSON(kindPayout, p.id(payoutID), &po); err != nil {
		return Payout{}, err
	}
	if !po.Status.inFlight() {
		return po, nil
	}
	now := w.Now()
	due := dueRetry + p.rules.Provider
	po.Attempts++
	po.UpdatedAt = now
	later := func() error { return w.Schedule(due, payoutID, now.Add(time.Duration(p.rules.RetryEvery))) }
	if sendErr != nil {
		po.LastError = sendErr.Error()
		if err := later(); err != nil {
			return Payout{}, err
		}
		return po, w.SaveJSON(kindPayout, p.id(payoutID), po)
	}
	po.LastError, po.Reference = "", rc.Reference
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
		if err := later(); err != nil {
			return Payout{}, err
		}
		return po, w.SaveJSON(kindPayout, p.id(payoutID), po)
	default:
		po.LastError = fmt.Sprintf("provider answered unknown outcome %q", rc.Outcome)
		if err := later(); err != nil {
			return Payout{}, err
		}
		return po, w.SaveJSON(kindPayout, p.id(payoutID), po)
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
	pr := p.rules.Provider
	meta := map[string]string{"program": "payout", "payout": po.ID, "member": po.Member}
	from := ClearingAccount(pr)
	_, err := w.Capture(ledger.CaptureRequest{Key: "payout:" + p.id("capture:"+po.ID), Hold: po.HoldID, Final: true,
		Destinations: []ledger.Leg{{To: from, Amount: po.Amount}}, Metadata: meta})
	if errors.Is(err, ledger.ErrHoldExpired) || errors.Is(err, ledger.ErrHoldClosed) {
		// The hold outlived Rules.HoldFor and went back to the member
		// before the provider's answer: the money was paid, so convert
		// straight from the wallet.
		from, err = MemberAccount(po.Member), nil
	}
	if err != nil {
		return 0, err
	}
	c, err := w.Convert(ledger.ConversionRequest{Key: "payout:" + p.id("convert:"+po.ID), Rule: po.Rule,
		From: from, To: SettlementAccount(pr), Amount: po.Amount, Metadata: meta})
	if err != nil {
		return 0, err
	}
	if !c.Net.Equal(po.Net) || !c.Fee.Equal(po.Fee) {
		return 0, fmt.Errorf("payout: %s converted to %s net, %s fee; %s net was sent", po.ID, c.Net, c.Fee, po.Net)
	}
	return c.Transaction.ID, nil
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

// Approve sends a payout waiting in review. Approving one already approved
// returns it; approving a rejected one is ErrWrongState.
func (p *Program) Approve(ctx context.Context, payoutID string) (Payout, error) {
	var po Payout
	err := p.l.Update(ctx, func(w *ledger.Writer) error {
		po = Payout{}
		if ok, err := load(w, kindPayout, p.id(payoutID), &po); err != nil {
			return err
		} else if !ok {
			return fmt.Errorf("%w: payout %s", ErrNotFound, payoutID)
		}
		switch {
		case po.Status == StatusRejected:
			return fmt.Errorf("%w: payout %s was rejected", ErrWrongState, payoutID)
		case po.Status != StatusReview:
			return nil
		}
		po.Status, po.UpdatedAt = StatusSending, w.Now()
		if err := w.Schedule(dueRetry+p.rules.Provider, payoutID, w.Now().Add(time.Duration(p.rules.RetryEvery))); err != nil {
			return err
		}
		return w.SaveJSON(kindPayout, p.id(payoutID), po)
	})
	if err != nil {
		return Payout{}, fmt.Errorf("payout: approve %s: %w", payoutID, err)
	}
	if po.Status.inFlight() {
		return p.drive(ctx, payoutID)
	}
	return po, nil
}

// Reject refuses a payout waiting in review and releases its funds.
// Rejecting one already rejected returns it; rejecting one already
// approved is ErrWrongState.
func (p *Program) Reject(ctx context.Context, payoutID, reason string) (Payout, error) {
	var po Payout
	err := p.l.Update(ctx, func(w *ledger.Writer) error {
		po = Payout{}
		if ok, err := load(w, kindPayout, p.id(payoutID), &po); err != nil {
			return err
		} else if !ok {
			return fmt.Errorf("%w: payout %s", ErrNotFound, payoutID)
		}
		switch po.Status {
		case StatusRejected:
			return nil
		case StatusReview:
		default:
			return fmt.Errorf("%w: payout %s is %s, not in review", ErrWrongState, payoutID, po.Status)
		}
		if err := p.release(w, &po); err != nil {
			return err
		}
		now := w.Now()
		po.Status, po.Reason, po.UpdatedAt, po.SettledAt = StatusRejected, reason, now, now
		return w.SaveJSON(kindPayout, p.id(payoutID), po)
	})
	if err != nil {
		return Payout{}, fmt.Errorf("payout: reject %s: %w", payoutID, err)
	}
	return po, nil
}

// TickReport says what Tick did.
type TickReport struct {
	Sent         int // payouts sent or asked about again
	Settled      int // of those, payouts that reached a final status
	HoldsExpired int // holds the ledger released (ledger.Tick)
}

// Tick sends again every in-flight payout whose retry time has come (a
// timeout, a crash between recording "sending" and the answer, a held or
// unclaimed payment) and lets the ledger release expired holds. Running it
// twice at the same time changes nothing the second time.
func (p *Program) Tick(ctx context.Context) (TickReport, error) {
	var rep TickReport
	seen := map[string]bool{}
	for {
		var due []ledger.DueEntry
		err := p.l.View(ctx, func(r *ledger.Reader) (err error) {
			due, err = r.Due(dueRetry+p.rules.Provider, p.l.Clock().Now(), 64)
			return err
		})
		if err != nil {
			return rep, err
		}
		progressed := false
		for _, d := range due {
			if seen[d.ID] {
				continue // rescheduled at or before now by a clock that stands still
			}
			seen[d.ID], progressed = true, true
			po, err := p.drive(ctx, d.ID)
			if err != nil {
				return rep, err
			}
			rep.Sent++
			if po.Status.Final() {
				rep.Settled++
			}
		}
		if !progressed {
			break
		}
	}
	n, err := p.l.Tick(ctx)
	rep.HoldsExpired = n
	return rep, err
}
