package ledger

import "time"

// Clock tells the ledger and the programs what time it is. Nothing in this
// module reads time.Now but SystemClock, so tests and simulations control
// time completely (see ledgertest.Clock).
type Clock interface {
	Now() time.Time
}

// SystemClock is the wall clock, in UTC.
type SystemClock struct{}

// Now returns the current wall-clock time in UTC.
func (SystemClock) Now() time.Time { return time.Now().UTC() }

// ClockFunc adapts a function to Clock.
type ClockFunc func() time.Time

// Now calls f.
func (f ClockFunc) Now() time.Time { return f() }
