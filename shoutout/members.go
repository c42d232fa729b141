package shoutout

import (
	"context"
	"fmt"
	"sync"
)

// Member is what the program needs to know about a member, supplied by the
// integrating service.
type Member struct {
	ID        string `json:"id"`
	Age       int    `json:"age"`       // whole years
	Followers int64  `json:"followers"` // the "influence" measure the threshold applies to
}

// Members looks members up. The program calls it inside a unit of work,
// after the event's replay check (so a retry of an event already done
// never asks again), and may call it more than once for one event when
// the unit of work is retried: it should be quick and have no effects.
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
