package kit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rewardkit/rewardkit/ledger"
)

// ErrInvalidCap: a Cap or a Use a program passed is malformed (no name, a
// negative limit or count, a rolling cap without a window). It is the
// program's bug, never a member's refusal.
var ErrInvalidCap = ledger.NewError(ledger.CodeInvalidArgument, "invalid cap")

// Period is the span over which a cap counts. Calendar periods are read
// on the calendar of the Use's location (the member's time zone): a day
// starts at local midnight, so a member in Tokyo and one in Rome each get
// their own day.
type Period string

// Cap periods.
const (
	// PeriodDay is a calendar day, from local midnight to the next (23 or
	// 25 hours on the days clocks change). Key "2006-01-02".
	PeriodDay Period = "day"
	// PeriodWeek is an ISO 8601 week: Monday 00:00 local to the next
	// Monday; the first week of a year is the one holding its first
	// Thursday, so 29 December may fall in week 1 of the next year. Key
	// "2006-W01".
	PeriodWeek Period = "week"
	// PeriodMonth is a calendar month. Key "2006-01".
	PeriodMonth Period = "month"
	// PeriodCampaign never resets: it counts over the whole life of the
	// cap's Scope (a campaign's budget per country, invitees per
	// referrer). Key "campaign".
	PeriodCampaign Period = "campaign"
	// PeriodRolling counts the uses of the last Cap.Window before each
	// use (a sliding window, "1,000 EUR in any 24 hours"), on no calendar.
	// Each use is kept with its time and Use.Ref until it leaves the
	// window. Key "rolling".
	PeriodRolling Period = "rolling"
)

// PeriodKey returns the key of the period of p that holds t on the
// calendar of loc (nil is UTC): "2026-12-01", "2026-W49", "2026-12",
// "campaign" or "rolling". Programs use it to name what is once per
// period (a task's claim), so they share the caps' calendar.
func PeriodKey(p Period, t time.Time, loc *time.Location) (string, error) {
	if loc == nil {
		loc = time.UTC
	}
	lt := t.In(loc)
	switch p {
	case PeriodDay:
		return lt.Format(time.DateOnly), nil
	case PeriodWeek:
		y, w := lt.ISOWeek()
		return fmt.Sprintf("%04d-W%02d", y, w), nil
	case PeriodMonth:
		return lt.Format("2006-01"), nil
	case PeriodCampaign:
		return string(PeriodCampaign), nil
	case PeriodRolling:
		return string(PeriodRolling), nil
	}
	return "", fmt.Errorf("%w: unknown period %q", ErrInvalidCap, p)
}

// PeriodEnd returns when the calendar period of p holding t ends on loc's
// calendar (the next period's local midnight); the zero time for
// PeriodCampaign and PeriodRolling, which have no calendar end.
func PeriodEnd(p Period, t time.Time, loc *time.Location) time.Time {
	if loc == nil {
		loc = time.UTC
	}
	lt := t.In(loc)
	y, m, d := lt.Date()
	switch p {
	case PeriodDay:
		return time.Date(y, m, d+1, 0, 0, 0, 0, loc)
	case PeriodWeek:
		wd := (int(lt.Weekday()) + 6) % 7 // days since Monday
		return time.Date(y, m, d-wd+7, 0, 0, 0, 0, loc)
	case PeriodMonth:
		return time.Date(y, m+1, 1, 0, 0, 0, 0, loc)
	}
	return time.Time{}
}

// Cap is one limit of a program: at most MaxCount uses and at most
// MaxUnits units per subject per period. A limit of 0 is no limit; a cap
// with neither is off, and Take on it counts and writes nothing.
type Cap struct {
	// Kind is the record kind the counters are kept under, one per
	// program ("referral.cap").
	Kind string
	// Scope is what the counters belong to, the campaign or program
	// instance ("it-2020"): the same cap of two campaigns counts apart.
	// It may be empty (a program with one instance per ledger).
	Scope string
	// Name is the rule's JSON name ("invites_per_day"): a refusal names
	// it (ledger.RuleOf) and it is part of every counter's ID.
	Name string
	// Err is the sentinel a refusal wraps (the program's ErrCapReached).
	Err error
	// Period is the span the cap counts over.
	Period Period
	// Window is how far back a PeriodRolling cap counts; unused otherwise.
	Window time.Duration
	// MaxCount caps the number of uses (signups, payouts) per subject
	// and period; 0 = no limit on the count.
	MaxCount int64
	// MaxUnits caps the sum of the uses' units (minor units of an asset,
	// coins) per subject and period; 0 = no limit on the amount.
	MaxUnits int64
	// Unit names what MaxUnits counts in refusals ("RUBY", "coins");
	// optional.
	Unit string
	// Format writes an amount of units in refusals ("10.00" for 1000
	// cents of EUR); nil writes the integer.
	Format func(units int64) string
}

// On reports whether the cap limits anything.
func (c Cap) On() bool { return c.MaxCount > 0 || c.MaxUnits > 0 }

// Validate checks the cap's shape.
func (c Cap) Validate() error {
	switch {
	case c.Kind == "" || c.Name == "" || c.Err == nil:
		return fmt.Errorf("%w: cap %q needs a record kind, a name and a sentinel", ErrInvalidCap, c.Name)
	case c.MaxCount < 0 || c.MaxUnits < 0:
		return fmt.Errorf("%w: cap %q has a negative limit", ErrInvalidCap, c.Name)
	case strings.Contains(c.Scope, ":") || strings.Contains(c.Name, ":"):
		return fmt.Errorf("%w: cap %q: scope and name may not hold ':'", ErrInvalidCap, c.Name)
	case c.Period == PeriodRolling && c.Window <= 0:
		return fmt.Errorf("%w: rolling cap %q needs a positive window", ErrInvalidCap, c.Name)
	}
	_, err := PeriodKey(c.Period, time.Time{}, nil)
	return err
}

// Use is one use of a cap: Count uses and Units units by Subject at At.
type Use struct {
	// Subject is who or what is counted: a member, a device fingerprint,
	// a country.
	Subject string
	// At is when (the unit of work's time, Writer.Now).
	At time.Time
	// Loc is the calendar the period is read on, the member's time zone
	// (Member.Location); nil is UTC.
	Loc *time.Location
	// Count and Units are what this use adds (each >= 0, not both 0).
	Count int64
	Units int64
	// Ref names the use in a PeriodRolling cap so that Give can return it
	// (a payout ID); required there, unused otherwise.
	Ref string
}

// Taken is what Take counted: everything Give needs to return it. A
// program keeps it (or rebuilds it: the period key is PeriodKey's) when
// the use may be undone later, a refund or a failed payout.
type Taken struct {
	Subject string `json:"subject"`
	Period  string `json:"period"`
	Count   int64  `json:"count"`
	Units   int64  `json:"units"`
	Ref     string `json:"ref,omitempty"`
}

// Usage is how much of a cap a subject has used in the period holding a
// time: what a UI shows ("37 of 100 invites today").
type Usage struct {
	Subject string
	Period  string // the period key
	Count   int64
	Units   int64
	// RemainingCount and RemainingUnits are what the cap still allows,
	// -1 where it sets no such limit.
	RemainingCount int64
	RemainingUnits int64
	// Resets is when the count next falls: the end of a calendar period,
	// for a rolling window the time its oldest use leaves it; zero for
	// PeriodCampaign or when nothing is counted.
	Resets time.Time
}

// counter is a cap's record for one subject and period. A rolling cap
// keeps its uses instead of sums.
type counter struct {
	Count int64        `json:"count,omitempty"`
	Units int64        `json:"units,omitempty"`
	Uses  []rollingUse `json:"uses,omitempty"`
}

type rollingUse struct {
	Ref   string    `json:"ref"`
	At    time.Time `json:"at"`
	Count int64     `json:"count,omitempty"`
	Units int64     `json:"units,omitempty"`
}

// RecordReader reads program records: *ledger.Reader and *ledger.Writer.
type RecordReader interface {
	Record(kind, id string) ([]byte, error)
}

// maxSubject bounds a subject kept as it is in a counter's ID; a longer
// one (a long device fingerprint) is replaced by its SHA-256.
const maxSubject = 128

func (c Cap) recordID(subject, key string) string {
	if len(subject) > maxSubject {
		sum := sha256.Sum256([]byte(subject))
		subject = "sha256-" + hex.EncodeToString(sum[:])
	}
	if c.Scope == "" {
		return c.Name + ":" + subject + ":" + key
	}
	return c.Scope + ":" + c.Name + ":" + subject + ":" + key
}

// load reads a counter; a missing one is zero, and found says which.
func (c Cap) load(r RecordReader, id string) (ctr counter, found bool, err error) {
	b, err := r.Record(c.Kind, id)
	if errors.Is(err, ledger.ErrNotFound) {
		return counter{}, false, nil
	}
	if err != nil {
		return counter{}, false, err
	}
	if err := json.Unmarshal(b, &ctr); err != nil {
		return counter{}, false, fmt.Errorf("cap %s: counter %s: %w", c.Name, id, err)
	}
	return ctr, true, nil
}

// window drops a rolling counter's uses that left the window before at
// and sums the rest into Count and Units.
func (c Cap) window(ctr *counter, at time.Time) error {
	if c.Period != PeriodRolling {
		return nil
	}
	kept := ctr.Uses[:0]
	ctr.Count, ctr.Units = 0, 0
	for _, u := range ctr.Uses {
		if at.Sub(u.At) >= c.Window {
			continue
		}
		kept = append(kept, u)
		var err error
		if ctr.Count, err = Add("cap "+c.Name+" count", ctr.Count, u.Count); err != nil {
			return err
		}
		if ctr.Units, err = Add("cap "+c.Name+" units", ctr.Units, u.Units); err != nil {
			return err
		}
	}
	ctr.Uses = kept
	return nil
}

func (c Cap) checkUse(u Use) error {
	if err := c.Validate(); err != nil {
		return err
	}
	switch {
	case u.Subject == "":
		return fmt.Errorf("%w: cap %s: a use needs a subject", ErrInvalidCap, c.Name)
	case u.Count < 0 || u.Units < 0 || u.Count == 0 && u.Units == 0:
		return fmt.Errorf("%w: cap %s: a use adds a count and units >= 0, not both 0", ErrInvalidCap, c.Name)
	case c.Period == PeriodRolling && u.Ref == "":
		return fmt.Errorf("%w: rolling cap %s: a use needs a ref", ErrInvalidCap, c.Name)
	}
	return nil
}

// Check reports, without writing, whether use u fits in cap c: nil, or a
// refusal wrapping c.Err that names the rule c.Name (ledger.Refuse) and
// says what is used. A program checks every cap before its first write,
// so a refused event writes nothing; Take checks again as it counts.
func Check(r RecordReader, c Cap, u Use) error {
	_, _, _, err := c.fit(r, u)
	return err
}

// fit reads the counter of u and judges u against it: the counter with u
// added, its ID and whether it existed, or the refusal.
func (c Cap) fit(r RecordReader, u Use) (ctr counter, id string, found bool, err error) {
	if !c.On() {
		return counter{}, "", false, nil
	}
	if err := c.checkUse(u); err != nil {
		return counter{}, "", false, err
	}
	key, _ := PeriodKey(c.Period, u.At, u.Loc)
	id = c.recordID(u.Subject, key)
	ctr, found, err = c.load(r, id)
	if err != nil {
		return counter{}, "", false, err
	}
	if err := c.window(&ctr, u.At); err != nil {
		// Uses past the int64 range are past any limit.
		return counter{}, "", false, fmt.Errorf("%w: %w", c.refuse(ctr, u, key, c.MaxUnits == 0), err)
	}
	count, errC := Add("cap "+c.Name+" count", ctr.Count, u.Count)
	units, errU := Add("cap "+c.Name+" units", ctr.Units, u.Units)
	overCount := c.MaxCount > 0 && (errC != nil || count > c.MaxCount)
	overUnits := c.MaxUnits > 0 && (errU != nil || units > c.MaxUnits)
	if overCount || overUnits {
		err := c.refuse(ctr, u, key, overCount)
		if ov := errors.Join(errC, errU); ov != nil {
			// Past the int64 range is past any limit: a refusal by the
			// rule, and ledger.ErrOverflow, which says why.
			err = fmt.Errorf("%w: %w", err, ov)
		}
		return counter{}, "", false, err
	}
	if errC != nil {
		return counter{}, "", false, errC
	}
	if errU != nil {
		return counter{}, "", false, errU
	}
	ctr.Count, ctr.Units = count, units
	if c.Period == PeriodRolling {
		ctr.Uses = append(ctr.Uses, rollingUse{Ref: u.Ref, At: u.At.UTC(), Count: u.Count, Units: u.Units})
	}
	return ctr, id, found, nil
}

func (c Cap) refuse(ctr counter, u Use, key string, overCount bool) error {
	span := "in " + key
	switch c.Period {
	case PeriodCampaign:
		span = "in all"
	case PeriodRolling:
		span = "in the last " + c.Window.String()
	}
	if overCount {
		return ledger.Refuse(c.Err, c.Name, "%s has %d of %d %s; %d more is over the cap", u.Subject, ctr.Count, c.MaxCount, span, u.Count)
	}
	unit := c.Unit
	if unit == "" {
		unit = "units"
	}
	f := c.Format
	if f == nil {
		f = func(u int64) string { return strconv.FormatInt(u, 10) }
	}
	return ledger.Refuse(c.Err, c.Name, "%s has %s of %s %s %s; %s more is over the cap", u.Subject, f(ctr.Units), f(c.MaxUnits), unit, span, f(u.Units))
}

// Take checks use u against cap c and counts it, in the caller's unit of
// work w: the counter of (c, u.Subject, the period holding u.At on u.Loc's
// calendar) is read, and either the use would go over a limit and Take
// returns the refusal (ledger.Refuse(c.Err, c.Name, ...)) having written
// nothing, or the counter is written with the use added. Since it is
// written in w, a unit of work that fails or is rolled back takes the
// count back with it. A cap that is off (Cap.On) counts nothing.
//
// Race-safe: a counter is a read-modify-write of one record inside w.
// Both shipped stores serialise writing units of work whole (memstore's
// writer lock; pgstore's head lock, taken first by every group), so two
// racing Takes see each other's counts; and the first count of a period
// is created with InsertRecord, so on a store that does not serialise,
// two first Takes collide and the loser fails with ledger.ErrConflict,
// which ledger.Update retries (as Once claims an event).
func Take(w *ledger.Writer, c Cap, u Use) (Taken, error) {
	ctr, id, found, err := c.fit(w, u)
	if err != nil || id == "" {
		return Taken{}, err
	}
	b, err := json.Marshal(ctr)
	if err != nil {
		return Taken{}, err
	}
	if found {
		err = w.PutRecord(c.Kind, id, b)
	} else if err = w.InsertRecord(c.Kind, id, b); errors.Is(err, ledger.ErrDuplicate) {
		err = fmt.Errorf("%w: cap %s: counter %s created by a concurrent unit of work", ledger.ErrConflict, c.Name, id)
	}
	if err != nil {
		return Taken{}, err
	}
	key, _ := PeriodKey(c.Period, u.At, u.Loc)
	return Taken{Subject: u.Subject, Period: key, Count: u.Count, Units: u.Units, Ref: u.Ref}, nil
}

// Give returns a use Take counted (a refunded reward, a failed payout) to
// its period's counter, in w: the count and units fall by t's, never
// below zero; in a rolling cap one use named t.Ref (the one with t's
// count and units, if the ref was taken more than once) leaves the window. A
// zero Taken (from a cap that was off) and a counter already gone give
// nothing back.
func Give(w *ledger.Writer, c Cap, t Taken) error {
	if t.Subject == "" || t.Count == 0 && t.Units == 0 || c.Kind == "" {
		return nil
	}
	id := c.recordID(t.Subject, t.Period)
	ctr, found, err := c.load(w, id)
	if err != nil || !found {
		return err
	}
	if c.Period == PeriodRolling {
		// One use leaves, the one t took: the same ref taken twice (a
		// caller's retry) is two uses, and giving one back must leave
		// the other counted.
		i := slices.IndexFunc(ctr.Uses, func(u rollingUse) bool { return u.Ref == t.Ref && u.Count == t.Count && u.Units == t.Units })
		if i < 0 {
			i = slices.IndexFunc(ctr.Uses, func(u rollingUse) bool { return u.Ref == t.Ref })
		}
		if i < 0 {
			return nil // it left the window: nothing to give back
		}
		ctr.Uses = slices.Delete(ctr.Uses, i, i+1)
	} else {
		ctr.Count = max(ctr.Count-max(t.Count, 0), 0)
		ctr.Units = max(ctr.Units-max(t.Units, 0), 0)
	}
	b, err := json.Marshal(ctr)
	if err != nil {
		return err
	}
	return w.PutRecord(c.Kind, id, b)
}

// UsageOf reports how much of cap c subject has used in the period
// holding at, on loc's calendar (nil is UTC), and what is left: for a UI
// or a member's "remaining today". A cap that is off reports nothing used
// and no limit.
func UsageOf(r RecordReader, c Cap, subject string, at time.Time, loc *time.Location) (Usage, error) {
	out := Usage{Subject: subject, RemainingCount: -1, RemainingUnits: -1}
	if !c.On() {
		return out, nil
	}
	if err := c.Validate(); err != nil {
		return Usage{}, err
	}
	key, _ := PeriodKey(c.Period, at, loc)
	out.Period = key
	ctr, _, err := c.load(r, c.recordID(subject, key))
	if err != nil {
		return Usage{}, err
	}
	if err := c.window(&ctr, at); err != nil {
		return Usage{}, err
	}
	out.Count, out.Units = ctr.Count, ctr.Units
	if c.MaxCount > 0 {
		out.RemainingCount = max(c.MaxCount-ctr.Count, 0)
	}
	if c.MaxUnits > 0 {
		out.RemainingUnits = max(c.MaxUnits-ctr.Units, 0)
	}
	switch {
	case c.Period == PeriodRolling && len(ctr.Uses) > 0:
		oldest := ctr.Uses[0].At
		for _, u := range ctr.Uses[1:] {
			if u.At.Before(oldest) {
				oldest = u.At
			}
		}
		out.Resets = oldest.Add(c.Window)
	case c.Period != PeriodRolling && c.Period != PeriodCampaign:
		out.Resets = PeriodEnd(c.Period, at, loc)
	}
	return out, nil
}

// pruneMargin is how long after a calendar period's end in UTC its
// counters are kept: a local period ends up to 12 hours after its UTC end
// (UTC-12), and a day more leaves room for late gives.
const pruneMargin = 24 * time.Hour

// Prune deletes, in w, counters of cap c whose period is over: a calendar
// period (day, week, month) whose end in UTC lies a day or more before t,
// so that it is over on every calendar; a rolling counter whose every use
// left the window before t. PeriodCampaign counters are never pruned. It
// reads at most limit counters after the cursor after ("" to start) and
// returns the cursor to go on from, "" when all were read. A use given
// back after its counter was pruned gives nothing back (Give): its period
// is over. Run it from a maintenance job, a page per unit of work; a
// cap's counters are one small record per subject and period until then.
func Prune(w *ledger.Writer, c Cap, t time.Time, after string, limit int) (next string, deleted int, err error) {
	if err := c.Validate(); err != nil {
		return "", 0, err
	}
	if c.Period == PeriodCampaign {
		return "", 0, nil
	}
	prefix := c.recordID("", "")
	prefix = prefix[:len(prefix)-1] // scope:name:
	if after < prefix {
		after = prefix
	}
	recs, err := w.Records(c.Kind, after, limit)
	if err != nil {
		return "", 0, err
	}
	for _, r := range recs {
		if !strings.HasPrefix(r.ID, prefix) {
			return "", deleted, nil
		}
		over, err := c.over(r, t)
		if err != nil {
			return "", deleted, err
		}
		if over {
			if err := w.DeleteRecord(c.Kind, r.ID); err != nil {
				return "", deleted, err
			}
			deleted++
		}
		next = r.ID
	}
	if len(recs) < limit {
		next = ""
	}
	return next, deleted, nil
}

// over reports whether counter r of c is over at t (see Prune).
func (c Cap) over(r ledger.Record, t time.Time) (bool, error) {
	key := r.ID[strings.LastIndexByte(r.ID, ':')+1:]
	var start time.Time
	var err error
	switch c.Period {
	case PeriodRolling:
		var ctr counter
		if err := json.Unmarshal(r.Data, &ctr); err != nil {
			return false, fmt.Errorf("cap %s: counter %s: %w", c.Name, r.ID, err)
		}
		for _, u := range ctr.Uses {
			if t.Sub(u.At) < c.Window {
				return false, nil
			}
		}
		return true, nil
	case PeriodDay:
		start, err = time.Parse(time.DateOnly, key)
	case PeriodMonth:
		start, err = time.Parse("2006-01", key)
	case PeriodWeek:
		var y, wk int
		if _, err = fmt.Sscanf(key, "%04d-W%02d", &y, &wk); err == nil {
			// Monday of ISO week 1 is the Monday on or before 4 January.
			jan4 := time.Date(y, time.January, 4, 0, 0, 0, 0, time.UTC)
			start = jan4.AddDate(0, 0, -((int(jan4.Weekday())+6)%7)+7*(wk-1))
		}
	}
	if err != nil {
		return false, fmt.Errorf("cap %s: counter %s: period key %q: %w", c.Name, r.ID, key, err)
	}
	end := PeriodEnd(c.Period, start, time.UTC)
	return !t.Before(end.Add(pruneMargin)), nil
}
