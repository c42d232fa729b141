package referral

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Member is what the integrating service knows about a member and the
// program needs to judge eligibility and abuse.
type Member struct {
	ID string
	// Country is where the member resides (ISO 3166 code, "IT").
	Country string
	// Age in whole years.
	Age int
	// HasProfile: the member has a profile on the platform.
	HasProfile bool
	// PayoutLinked: the member has linked a payout account (PayPal).
	PayoutLinked bool
	// Employee: the member has ties to the company.
	Employee bool
	// PriorAccount: the member (or their device) had an account before.
	PriorAccount bool
	// RegisteredAt is when the member's account was created. With
	// Rules.Newness.MaxAccountAge set, a time outside the ledger's range
	// (the zero time included) makes the invitee not new.
	RegisteredAt time.Time
	// Device and PaymentInstrument are opaque fingerprints ("" = unknown),
	// compared to catch self-referrals and duplicate invitees.
	Device            string
	PaymentInstrument string
}

// Members gives the program member facts. The program calls it inside its
// units of work, after an event's replay check (a retried event is answered
// from what was stored when it ran, whatever the facts are now), so an
// implementation must not use the program's ledger, must be safe for
// concurrent use, and may be called more than once for one event (a unit
// of work that loses a race runs again).
type Members interface {
	// Member returns a member's facts, or an error wrapping
	// ErrUnknownMember.
	Member(ctx context.Context, id string) (Member, error)
}

// MemberDirectory is an in-memory Members for tests and examples. It is
// safe for concurrent use.
type MemberDirectory struct {
	mu sync.RWMutex
	m  map[string]Member
}

// NewMemberDirectory returns an empty directory.
func NewMemberDirectory() *MemberDirectory { return &MemberDirectory{m: map[string]Member{}} }

// Put adds or replaces a member.
func (d *MemberDirectory) Put(m Member) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.m[m.ID] = m
}

// Member returns a member's facts.
func (d *MemberDirectory) Member(_ context.Context, id string) (Member, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	m, ok := d.m[id]
	if !ok {
		return Member{}, fmt.Errorf("%w: %q", ErrUnknownMember, id)
	}
	return m, nil
}
