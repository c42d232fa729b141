package ledger

import (
	"fmt"
	"time"
)

// The range of times the ledger keeps. Times are stored as Unix
// nanoseconds in an int64, which only reaches 2262-04-11; the range stops
// well inside it so that a time in range plus any duration a rule allows
// (MaxDuration) still fits. Every time that enters the ledger or a program
// — a hold's expiry, a query's moment, the clock's reading, a time a rule
// computes — is checked against it, and one outside is ErrInvalidTime.
var (
	// MinTime is the earliest time the ledger keeps: the Unix epoch.
	MinTime = time.Unix(0, 0).UTC()
	// MaxTime is the first time the ledger no longer keeps.
	MaxTime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// MaxDuration is the longest duration a rule may set (a hold period, a
// window, a campaign's length): 50 years. A time in range plus MaxDuration
// stays below the int64 nanosecond limit.
const MaxDuration = 50 * 365 * 24 * time.Hour

// ValidateTime reports whether t is within [MinTime, MaxTime); what names
// the time in the error ("hold expiry", "as of").
func ValidateTime(what string, t time.Time) error {
	if t.Before(MinTime) || !t.Before(MaxTime) {
		return fmt.Errorf("%w: %s %s is not between %s and %s", ErrInvalidTime, cut(what),
			t.UTC().Format(time.RFC3339), MinTime.Format(time.RFC3339), MaxTime.Format(time.RFC3339))
	}
	return nil
}

// ValidateDuration reports whether d is between 0 and MaxDuration; what
// names the duration in the error (a rule's JSON name, say).
func ValidateDuration(what string, d time.Duration) error {
	if d < 0 || d > MaxDuration {
		return fmt.Errorf("%w: %s %s is not between 0 and %s", ErrInvalidTime, cut(what), d, MaxDuration)
	}
	return nil
}

// AddDuration returns t+d, or ErrInvalidTime if d is negative, longer than
// MaxDuration, or carries t outside [MinTime, MaxTime). what names the
// result in the error.
func AddDuration(what string, t time.Time, d time.Duration) (time.Time, error) {
	if err := ValidateDuration(what, d); err != nil {
		return time.Time{}, err
	}
	if err := ValidateTime(what, t); err != nil {
		return time.Time{}, err
	}
	out := t.Add(d)
	if err := ValidateTime(what, out); err != nil {
		return time.Time{}, err
	}
	return out, nil
}
