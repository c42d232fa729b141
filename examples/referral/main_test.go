package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger/memstore"
)

func TestRun(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out, memstore.New()))
	s := out.String()
	require.Contains(t, s, "Giulia receives 7.20 EUR")
	require.Contains(t, s, "Verify: ok")
}
