package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/rewardkit/rewardkit/ledger/memstore"
	"github.com/stretchr/testify/require"
)

func TestRun(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out, memstore.New()))
	require.Contains(t, out.String(), "Verify:")
}
