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
		s := out.String()
		require.Contains(t, s, "refused while it is on")
		require.Contains(t, s, "Giulia receives 7.20 EUR")
		require.Contains(t, s, "Verify: ok")
	})
}
