package gifting

import (
	"context"
	"fmt"
	"sync"
)

// Member is what the program needs to know about a member, supplied by the
// integrating service.
type Member struct {
	ID     string `json:"id"`
	Age    int    `json:"age"`    // in whole years
	Kind   string `json:"kind"`   // account kind: "personal", "business", "political", ...
	Region string `json:"region"` // ISO 3166 country whose price list applies ("IT")
}

// Members looks members up. It is called inside the event's unit of work,
// after the event was found not to be a retry (a retry never looks a
// member up), and may be called again if the unit of work is retried: it
// must not use the ledger, and should answer quickly.
type Members interface {
	// Member returns the member, or an error wrapping ErrUnknownMember.
	Member(ctx context.Context, id string) (Member, error)
}

// MemberDirectory is an in-memory Members for tests and examples. Safe for
// concurrent use.
type MemberDirectory struct {
	mu sync.RWMutex
	m  map[string]Member
}

// NewMemberDirectory returns a directory holding ms.
func NewMemberDirectory(ms ...Member) *MemberDirectory {
	d := &MemberDirectory{m: map[string]Member{}}
	for _, m := range ms {
		d.Put(m)
	}
	return d
}

// Put adds or replaces a member.
func (d *MemberDirectory) Put(m Member) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.m[m.ID] = m
}

// Member returns a member or ErrUnknownMember.
func (d *MemberDirectory) Member(_ context.Context, id string) (Member, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	m, ok := d.m[id]
	if !ok {
		return Member{}, fmt.Errorf("%w: %q", ErrUnknownMember, id)
	}
	return m, nil
}
