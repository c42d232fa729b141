package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/rewardkit/rewardkit/ledger/memstore"
)

func TestQuickstart(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), &out, memstore.New()); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	for _, want := range []string{"posted nothing", "net 1.18 EUR", "45 RUBY left over", "RUBY sums to 0", "EUR  sums to 0"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
