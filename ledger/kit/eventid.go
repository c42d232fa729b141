package kit

import "fmt"

// CheckEventID judges an event ID a caller gives an event method: 1 to
// 128 bytes, the bound Once keeps. A bad one is an error wrapping invalid
// (the program's ErrInvalidRequest), so that a program refuses it with its
// own sentinel before anything else runs.
func CheckEventID(invalid error, id string) error {
	if len(id) == 0 || len(id) > maxEventID {
		return fmt.Errorf("%w: event id of %d bytes, want 1 to %d", invalid, len(id), maxEventID)
	}
	return nil
}
