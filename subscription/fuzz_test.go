package subscription

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzRulesJSON feeds rule sets from outside (JSON) through Validate: a set
// that validates survives a JSON round trip unchanged and still validates;
// none panics.
func FuzzRulesJSON(f *testing.F) {
	b, err := json.Marshal(DefaultRules())
	require.NoError(f, err)
	f.Add(b)
	f.Add([]byte(`{"asset":{"code":"EUR","precision":2},"regions":["IT"]}`))
	f.Add([]byte(`{"grace_period":"-1h","retry_every":"x"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var r Rules
		if json.Unmarshal(data, &r) != nil || r.Validate() != nil {
			return
		}
		again, err := json.Marshal(r)
		require.NoError(t, err)
		var back Rules
		require.NoError(t, json.Unmarshal(again, &back))
		require.NoError(t, back.Validate())
		twice, err := json.Marshal(back)
		require.NoError(t, err)
		require.JSONEq(t, string(again), string(twice))
	})
}
