package natssink

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
)

// EnsureStream creates a stream, and on an existing one changes the
// subjects and the duplicate window while keeping the operator's limits.
func TestEnsureStreamCreatesAndUpdates(t *testing.T) {
	js := connect(t)
	ctx := context.Background()
	st, _ := testStream(t, js)
	info, err := st.Info(ctx)
	require.NoError(t, err)
	cfg := info.Config
	require.Equal(t, time.Hour, cfg.Duplicates)
	require.Equal(t, jetstream.FileStorage, cfg.Storage)

	cfg.MaxMsgs = 1000
	_, err = js.UpdateStream(ctx, cfg)
	require.NoError(t, err)

	subjects := []string{cfg.Subjects[0], cfg.Name + ".extra.>"}
	st, err = EnsureStream(ctx, js, cfg.Name, subjects, 0)
	require.NoError(t, err)
	info, err = st.Info(ctx)
	require.NoError(t, err)
	require.Equal(t, subjects, info.Config.Subjects)
	require.Equal(t, DefaultDuplicates, info.Config.Duplicates)
	require.EqualValues(t, 1000, info.Config.MaxMsgs, "the operator's limit is kept")
}
