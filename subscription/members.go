package subscription

import (
	"context"
	"fmt"
	"sync"
)

// Member is what the integrating service knows about a member: the facts
// the eligibility and region rules need.
type Member struct {
	ID             string
	Age            int
	Country        string // ISO 3166-1 alpha-2
	Followers      int64
	ViewsLastMonth int64 // video views in the last month
}

// Members gives member facts. The program reads them inside an event's unit
// of work, after checking that the event is not a replay (a replayed event
// answers as it did, whatever the facts are now), so a lookup should be
// quick. Unknown members are ErrUnknownMember.
type Members interface {
	Member(ctx context.Context, id string) (Member, error)
}

// MemberDirectory is an in-memory Members for tests and examples. The zero
// value is ready; it is safe for concurrent use.
type MemberDirectory struct {
	mu sync.RWMutex
	m  map[string]Member
}

// Put adds or replaces a member.
func (d *MemberDirectory) Put(m Member) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.m == nil {
		d.m = map[string]Member{}
	}
	d.m[m.ID] = m
}

// Member returns a member, or ErrUnknownMember.
func (d *MemberDirectory) Member(_ context.Context, id string) (Member, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	m, ok := d.m[id]
	if !ok {
		return Member{}, fmt.Errorf("%w: %q", ErrUnknownMember, id)
	}
	return m, nil
}
