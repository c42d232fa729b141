package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger/teststore"
)

func TestRun(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		var out bytes.Buffer
		require.NoError(t, run(context.Background(), &out, open(t)))
		require.Contains(t, out.String(), "Verify:")
		require.Contains(t, out.String(), "daria approving her own video is refused")
		require.Contains(t, out.String(), "a replay (delivered)")
	})
}
