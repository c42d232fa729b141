package ledger_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/driver"
)

// TestErrorChainsKeepCauses: errors that judged a cause wrapped it with
// %v, so errors.Is could not see it (a rule refused for its asset code did
// not match ErrInvalidAsset). Each now matches both its own sentinel and
// its cause, and names the package once. Issue 10 #11.
func TestErrorChainsKeepCauses(t *testing.T) {
	rule := func(mut func(*ledger.ConversionRule)) error { c := rubyRule(); mut(&c); return c.Validate() }
	var rate ledger.Rate
	f, ts := busyFixture(t)
	ts.balances = func(bs []driver.Balance) []driver.Balance {
		return append(bs, driver.Balance{Address: "zz:ghost", Asset: "EUR"})
	}
	_, verr := f.l.Verify(f.ctx)
	tests := []struct {
		name        string
		err         error
		kind, cause error
	}{
		{"rule from", rule(func(c *ledger.ConversionRule) { c.From = "eur" }), ledger.ErrInvalidRule, ledger.ErrInvalidAsset},
		{"rule to", rule(func(c *ledger.ConversionRule) { c.To = "" }), ledger.ErrInvalidRule, ledger.ErrInvalidAsset},
		{"exchange account", rule(func(c *ledger.ConversionRule) { c.Exchange = "a b" }), ledger.ErrInvalidRule, ledger.ErrInvalidAddress},
		{"fee account", rule(func(c *ledger.ConversionRule) {
			c.FeeRate, c.FeeRounding, c.FeeAccount = dec("0.01"), ledger.RoundDown, "fees:"
		}), ledger.ErrInvalidRule, ledger.ErrInvalidAddress},
		{"verify of a balance without an account", verr, ledger.ErrVerify, ledger.ErrUnknownAccount},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.ErrorIs(t, tt.err, tt.kind)
			require.ErrorIs(t, tt.err, tt.cause)
			require.Equal(t, 1, strings.Count(tt.err.Error(), "ledger:"), "%v", tt.err)
		})
	}

	err := json.Unmarshal([]byte(`5`), &rate)
	require.ErrorIs(t, err, ledger.ErrInvalidRule)
	var typeErr *json.UnmarshalTypeError
	require.True(t, errors.As(err, &typeErr), "the decoder's error is kept: %v", err)
}
