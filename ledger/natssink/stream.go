package natssink

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// DefaultDuplicates is the duplicate window EnsureStream gives a stream
// when none is asked for. It is longer than JetStream's own default (two
// minutes) because it must cover the longest time between a publish and
// its republish: a crash, the restart, and the backoff before it.
const DefaultDuplicates = 30 * time.Minute

// EnsureStream creates the stream of the given name, or updates it when it
// exists, bound to subjects (default: DefaultSubjectPrefix + ".>", every
// subject DefaultSubject makes) with file storage and the given duplicate
// window (0 means DefaultDuplicates). A stream that exists keeps its other
// settings (limits, replicas, retention, storage); JetStream refuses the
// changes it cannot make, and EnsureStream returns that error.
func EnsureStream(ctx context.Context, js jetstream.JetStream, name string, subjects []string, duplicates time.Duration) (jetstream.Stream, error) {
	if len(subjects) == 0 {
		subjects = []string{DefaultSubjectPrefix + ".>"}
	}
	if duplicates <= 0 {
		duplicates = DefaultDuplicates
	}
	cfg := jetstream.StreamConfig{Name: name, Subjects: subjects, Duplicates: duplicates, Storage: jetstream.FileStorage}
	st, err := js.Stream(ctx, name)
	switch {
	case err == nil:
		// Keep what the operator set (limits, replicas, retention): change
		// only the subjects and the window.
		cfg = st.CachedInfo().Config
		cfg.Subjects, cfg.Duplicates = subjects, duplicates
	case !errors.Is(err, jetstream.ErrStreamNotFound):
		// Not knowing whether it exists (a timeout) is no licence to
		// write a default configuration over the operator's.
		return nil, fmt.Errorf("natssink: stream %s: %w", name, err)
	}
	st, err = js.CreateOrUpdateStream(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("natssink: stream %s: %w", name, err)
	}
	return st, nil
}
