package payout

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger"
)

// Outcome is what a provider says happened to a payment.
type Outcome string

// Outcomes, as PayPal's Payouts API reports a payout item's
// transaction_status. Succeeded, Failed, Returned, Blocked and Reversed
// are final; Held and Unclaimed are not, and the program asks again later.
const (
	// OutcomeSucceeded: the member received the money.
	OutcomeSucceeded Outcome = "succeeded"
	// OutcomeFailed: the payment was refused; nothing left.
	OutcomeFailed Outcome = "failed"
	// OutcomeHeld: the provider holds the payment (review, risk); the
	// final outcome comes later.
	OutcomeHeld Outcome = "held"
	// OutcomeUnclaimed: sent, but the receiver has not claimed it; it ends
	// succeeded (claimed) or returned.
	OutcomeUnclaimed Outcome = "unclaimed"
	// OutcomeReturned: an unclaimed payment came back (PayPal's
	// RETURNED: not claimed within 30 days, or cancelled).
	OutcomeReturned Outcome = "returned"
	// OutcomeBlocked: the provider blocked the payment (PayPal's BLOCKED:
	// compliance or risk); the money was not paid and comes back.
	OutcomeBlocked Outcome = "blocked"
	// OutcomeReversed: a paid payment was reversed after it succeeded
	// (PayPal's REVERSED). The program recovers what was paid out from
	// the member (see StatusReversed).
	OutcomeReversed Outcome = "reversed"
)

func (o Outcome) final() bool {
	switch o {
	case OutcomeSucceeded, OutcomeFailed, OutcomeReturned, OutcomeBlocked, OutcomeReversed:
		return true
	}
	return false
}

// paid reports whether the outcome says the member was paid (a reversed
// payment was paid first).
func (o Outcome) paid() bool { return o == OutcomeSucceeded || o == OutcomeReversed }

// SendRequest is one payment to a member's payout account.
type SendRequest struct {
	// Key is the idempotency key: the same key always names the same
	// payment, however often it is sent.
	Key      string
	Member   string
	Account  string // the member's linked payout account (a PayPal address)
	Currency string
	Amount   decimal.Decimal // what the member receives, after the fee
}

// Receipt is a provider's answer.
type Receipt struct {
	Outcome   Outcome
	Reference string // the provider's id for the payment
}

// Provider sends money to members. Send must be idempotent on
// SendRequest.Key: a second Send with the same key never pays again and
// reports the payment's current outcome (that is also how the program
// asks about a held or unclaimed payment). An error means the outcome is
// unknown (a timeout): the program keeps the funds held and sends again
// later with the same key. The program never calls Send inside a ledger
// unit of work.
type Provider interface {
	Send(ctx context.Context, req SendRequest) (Receipt, error)
}

// Behaviour tells MemoryProvider how to treat a new payment.
type Behaviour int

// Behaviours of MemoryProvider.
const (
	// Succeed pays at once (the default when nothing is queued).
	Succeed Behaviour = iota
	// Fail refuses the payment.
	Fail
	// HoldPayment holds the payment until Resolve.
	HoldPayment
	// LeaveUnclaimed leaves it unclaimed; it returns after the provider's
	// return period (SetReturnAfter) unless Resolve settles it first.
	LeaveUnclaimed
	// TimeoutAfterPaying pays, but the answer is lost: Send returns
	// ErrProviderTimeout. A retry with the same key reports succeeded.
	TimeoutAfterPaying
	// TimeoutBeforePaying loses the request: nothing is paid and Send
	// returns ErrProviderTimeout. A retry is treated as a new payment.
	TimeoutBeforePaying
	// Block blocks the payment (OutcomeBlocked): nothing is paid.
	Block
)

// Payment is a payment MemoryProvider knows.
type Payment struct {
	Request   SendRequest
	Reference string
	Outcome   Outcome
	ReturnAt  time.Time // for unclaimed payments
	Sends     int       // Send calls with this key
}

// MemoryProvider is an in-memory Provider for tests and examples. It pays
// each key at most once, and can be told to fail, hold, leave a payment
// unclaimed and return it later, or time out. Safe for concurrent use.
type MemoryProvider struct {
	mu          sync.Mutex
	clock       ledger.Clock
	returnAfter time.Duration
	queue       []Behaviour
	payments    map[string]*Payment
	calls       int
}

// NewMemoryProvider returns a provider that reads time from clock and
// returns unclaimed payments after 30 days (PayPal's period).
func NewMemoryProvider(clock ledger.Clock) *MemoryProvider {
	return &MemoryProvider{clock: clock, returnAfter: 30 * 24 * time.Hour, payments: map[string]*Payment{}}
}

// Next queues behaviours for the next new payments, in order.
func (m *MemoryProvider) Next(b ...Behaviour) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.queue = append(m.queue, b...)
}

// SetReturnAfter sets how long an unclaimed payment waits before it returns.
func (m *MemoryProvider) SetReturnAfter(d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.returnAfter = d
}

// Send pays req once per key (see Provider).
func (m *MemoryProvider) Send(ctx context.Context, req SendRequest) (Receipt, error) {
	if err := ctx.Err(); err != nil {
		return Receipt{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	now := m.clock.Now()
	if p, ok := m.payments[req.Key]; ok {
		if p.Request.Member != req.Member || p.Request.Account != req.Account || p.Request.Currency != req.Currency ||
			!p.Request.Amount.Equal(req.Amount) {
			return Receipt{}, fmt.Errorf("%w: %q", ErrProviderConflict, req.Key)
		}
		p.Sends++
		if p.Outcome == OutcomeUnclaimed && !now.Before(p.ReturnAt) {
			p.Outcome = OutcomeReturned
		}
		return Receipt{Outcome: p.Outcome, Reference: p.Reference}, nil
	}
	b := Succeed
	if len(m.queue) > 0 {
		b, m.queue = m.queue[0], m.queue[1:]
	}
	if b == TimeoutBeforePaying {
		return Receipt{}, fmt.Errorf("%w: request %q lost", ErrProviderTimeout, req.Key)
	}
	p := &Payment{Request: req, Reference: fmt.Sprintf("mem-%d", len(m.payments)+1), Sends: 1}
	switch b {
	case Fail:
		p.Outcome = OutcomeFailed
	case HoldPayment:
		p.Outcome = OutcomeHeld
	case LeaveUnclaimed:
		p.Outcome, p.ReturnAt = OutcomeUnclaimed, now.Add(m.returnAfter)
	case Block:
		p.Outcome = OutcomeBlocked
	default:
		p.Outcome = OutcomeSucceeded
	}
	m.payments[req.Key] = p
	if b == TimeoutAfterPaying {
		return Receipt{}, fmt.Errorf("%w: answer for %q lost", ErrProviderTimeout, req.Key)
	}
	return Receipt{Outcome: p.Outcome, Reference: p.Reference}, nil
}

// Resolve settles a held or unclaimed payment with a final outcome (a held
// payment released, refused or blocked, an unclaimed one claimed or
// returned). A reversal is Reverse.
func (m *MemoryProvider) Resolve(key string, o Outcome) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.payments[key]
	if !ok {
		return fmt.Errorf("%w: payment %q", ErrNotFound, key)
	}
	if p.Outcome == OutcomeUnclaimed && !m.clock.Now().Before(p.ReturnAt) {
		p.Outcome = OutcomeReturned
	}
	if p.Outcome.final() || !o.final() || o == OutcomeReversed {
		return fmt.Errorf("%w: payment %q is %s, cannot become %s", ErrWrongState, key, p.Outcome, o)
	}
	p.Outcome = o
	return nil
}

// Reverse reverses a succeeded payment (OutcomeReversed): the provider
// takes it back after it was paid. Anything else is ErrWrongState.
func (m *MemoryProvider) Reverse(key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.payments[key]
	if !ok {
		return fmt.Errorf("%w: payment %q", ErrNotFound, key)
	}
	if p.Outcome != OutcomeSucceeded {
		return fmt.Errorf("%w: payment %q is %s, cannot be reversed", ErrWrongState, key, p.Outcome)
	}
	p.Outcome = OutcomeReversed
	return nil
}

// Payments returns the payments the provider knows, ordered by key.
func (m *MemoryProvider) Payments() []Payment {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Payment, 0, len(m.payments))
	for _, p := range m.payments {
		out = append(out, *p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Request.Key < out[j].Request.Key })
	return out
}

// Paid returns the total paid to members in a currency: succeeded
// payments, and reversed ones, which were paid before the reversal.
func (m *MemoryProvider) Paid(currency string) decimal.Decimal {
	m.mu.Lock()
	defer m.mu.Unlock()
	sum := decimal.Zero
	for _, p := range m.payments {
		if p.Outcome.paid() && p.Request.Currency == currency {
			sum = sum.Add(p.Request.Amount)
		}
	}
	return sum
}

// Calls returns how many times Send was called.
func (m *MemoryProvider) Calls() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls
}
