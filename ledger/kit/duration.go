package kit

import (
	"fmt"
	"time"
)

// Duration is a time.Duration that rule sets write in JSON as a Go
// duration string ("720h", "30m"). Every program's rules use it.
type Duration time.Duration

// MarshalText writes the duration as Go does ("720h0m0s").
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText reads a Go duration string. A bare number is refused: its
// unit would be a guess.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("duration %q: want a Go duration such as \"720h\"", b)
	}
	*d = Duration(v)
	return nil
}

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String writes the duration as Go does.
func (d Duration) String() string { return time.Duration(d).String() }
