package main

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger/teststore"
)

// TestStory tells the story on every store the module ships (teststore),
// twice on the same ledger: told again, it runs under fresh ids.
func TestStory(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		store := open(t)
		var out bytes.Buffer
		require.NoError(t, run(context.Background(), &out, store), out.String())
		require.Contains(t, out.String(), "the hash chain is intact")
		require.NoError(t, run(context.Background(), io.Discard, store), "told again on the same ledger")
	})
}
