package kit

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/rewardkit/rewardkit/ledger"
)

// ErrUnknownMember: a Members lookup found no member with the ID. Every
// program's ErrUnknownMember is this error.
var ErrUnknownMember = ledger.NewError(ledger.CodeNotFound, "unknown member")

// ErrMemberFacts: the facts a rule needs are missing or invalid (no birth
// date where an age rule applies, a time zone the system does not know).
// The member is not judged eligible on facts the library cannot read.
var ErrMemberFacts = ledger.NewError(ledger.CodeFailedPrecondition, "member facts missing or invalid")

// Member is what the integrating service knows about a member: one set of
// facts for every program, each of which reads the ones its rules need.
// The zero value of a fact means unknown (or no).
type Member struct {
	ID string `json:"id"`
	// BirthDate is the member's date of birth, a calendar date. Ages are
	// computed from it by AgeAt, in the member's time zone, so an age
	// boundary (the 18th birthday) falls at the member's local midnight.
	BirthDate Date `json:"birth_date,omitzero"`
	// TimeZone is an IANA time zone name ("Europe/Rome"); "" is UTC.
	TimeZone string `json:"time_zone,omitempty"`
	// Country is where the member resides, an ISO 3166-1 alpha-2 code
	// ("IT"): it picks price lists and regional rules.
	Country string `json:"country,omitempty"`
	// Kind is the account kind: "personal", "business", "political", ...
	Kind string `json:"kind,omitempty"`
	// Followers and ViewsLastMonth are the influence measures creator
	// thresholds apply to.
	Followers      int64 `json:"followers,omitempty"`
	ViewsLastMonth int64 `json:"views_last_month,omitempty"`
	// HasProfile: the member has a profile on the platform.
	HasProfile bool `json:"has_profile,omitempty"`
	// PayoutLinked: the member has linked a payout account.
	PayoutLinked bool `json:"payout_linked,omitempty"`
	// Employee: the member has ties to the company.
	Employee bool `json:"employee,omitempty"`
	// PriorAccount: the member (or their device) had an account before.
	PriorAccount bool `json:"prior_account,omitempty"`
	// RegisteredAt is when the member's account was created.
	RegisteredAt time.Time `json:"registered_at,omitzero"`
	// Device and PaymentInstrument are opaque fingerprints ("" = unknown),
	// compared to catch self-referrals and duplicate accounts.
	Device            string `json:"device,omitempty"`
	PaymentInstrument string `json:"payment_instrument,omitempty"`
}

// Location returns the member's time zone; "" is UTC. An unknown name is
// ErrMemberFacts.
func (m Member) Location() (*time.Location, error) {
	if m.TimeZone == "" {
		return time.UTC, nil
	}
	loc, err := loadLocation(m.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("%w: member %q: unknown time zone %q", ErrMemberFacts, m.ID, m.TimeZone)
	}
	return loc, nil
}

// AgeAt returns the member's age in whole years at t, on the calendar of
// the member's time zone: the age goes up at local midnight of the
// birthday. A member born on 29 February comes of age on 1 March in a
// year that has no 29 February. No birth date, or one after t, is
// ErrMemberFacts.
func (m Member) AgeAt(t time.Time) (int, error) {
	if m.BirthDate.IsZero() {
		return 0, fmt.Errorf("%w: member %q has no birth date", ErrMemberFacts, m.ID)
	}
	if err := m.BirthDate.Validate(); err != nil {
		return 0, fmt.Errorf("%w: member %q: %w", ErrMemberFacts, m.ID, err)
	}
	loc, err := m.Location()
	if err != nil {
		return 0, err
	}
	y, mo, d := t.In(loc).Date()
	b := m.BirthDate
	age := y - b.Year
	if mo < b.Month || mo == b.Month && d < b.Day {
		age--
	}
	if age < 0 {
		return 0, fmt.Errorf("%w: member %q born after %s", ErrMemberFacts, m.ID, t.In(loc).Format(time.DateOnly))
	}
	return age, nil
}

// AtLeast reports whether the member is at least years old at t (see
// AgeAt); unknown facts are an error, never a yes.
func (m Member) AtLeast(years int, t time.Time) (bool, error) {
	age, err := m.AgeAt(t)
	if err != nil {
		return false, err
	}
	return age >= years, nil
}

// zones caches time zones by name: time.LoadLocation reads the zone
// database each call.
var zones sync.Map // string -> *time.Location

func loadLocation(name string) (*time.Location, error) {
	if loc, ok := zones.Load(name); ok {
		return loc.(*time.Location), nil
	}
	if len(name) > 64 {
		return nil, fmt.Errorf("time zone name too long")
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	zones.Store(name, loc)
	return loc, nil
}

// Date is a calendar date with no time and no zone, written in JSON and
// text as "2006-01-02". The zero Date is unknown.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// NewDate returns the date y-m-d.
func NewDate(y int, m time.Month, d int) Date { return Date{Year: y, Month: m, Day: d} }

// ParseDate reads "2006-01-02".
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, fmt.Errorf("date %q: want YYYY-MM-DD", s)
	}
	return Date{Year: t.Year(), Month: t.Month(), Day: t.Day()}, nil
}

// IsZero reports whether d is the zero (unknown) date.
func (d Date) IsZero() bool { return d == Date{} }

// Validate reports a date that does not exist (31 April) or lies outside
// the years 1800 to 2200.
func (d Date) Validate() error {
	if d.Year < 1800 || d.Year > 2200 {
		return fmt.Errorf("date %s: year out of range", d)
	}
	t := time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC)
	if t.Year() != d.Year || t.Month() != d.Month || t.Day() != d.Day {
		return fmt.Errorf("date %s does not exist", d)
	}
	return nil
}

// String writes the date as "2006-01-02".
func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day) }

// MarshalText writes "2006-01-02"; the zero date writes "".
func (d Date) MarshalText() ([]byte, error) {
	if d.IsZero() {
		return []byte{}, nil
	}
	return []byte(d.String()), nil
}

// UnmarshalText reads "2006-01-02"; "" is the zero date.
func (d *Date) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*d = Date{}
		return nil
	}
	v, err := ParseDate(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// Members gives a program member facts. Programs call it inside their
// units of work, after an event's replay check (a retried event is
// answered from what was stored when it ran, whatever the facts are now),
// so an implementation must not use the ledger, must be safe for
// concurrent use, should answer quickly, and may be called more than once
// for one event (a unit of work that loses a race runs again).
type Members interface {
	// Member returns a member's facts, or an error wrapping
	// ErrUnknownMember.
	Member(ctx context.Context, id string) (Member, error)
}

// Directory is an in-memory Members for tests and examples, safe for
// concurrent use.
type Directory struct {
	mu sync.RWMutex
	m  map[string]Member
}

// NewDirectory returns a directory holding ms.
func NewDirectory(ms ...Member) *Directory {
	d := &Directory{m: map[string]Member{}}
	for _, m := range ms {
		d.Put(m)
	}
	return d
}

// Put adds or replaces a member.
func (d *Directory) Put(m Member) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.m[m.ID] = m
}

// Update changes a member's facts in place with fn (a member not yet in
// the directory starts from Member{ID: id}).
func (d *Directory) Update(id string, fn func(m *Member)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	m, ok := d.m[id]
	if !ok {
		m = Member{ID: id}
	}
	fn(&m)
	m.ID = id
	d.m[id] = m
}

// Member returns a member, or ErrUnknownMember.
func (d *Directory) Member(_ context.Context, id string) (Member, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	m, ok := d.m[id]
	if !ok {
		return Member{}, fmt.Errorf("%w %q", ErrUnknownMember, id)
	}
	return m, nil
}
