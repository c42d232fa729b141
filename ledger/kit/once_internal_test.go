package kit

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestEncodeEventRecord: the event record Once writes by hand is byte for
// byte what json.Marshal writes for it, so records written before and
// after read the same.
func TestEncodeEventRecord(t *testing.T) {
	results := []any{
		map[string]any{"a": 1, "b": []int{1, 2}},
		struct {
			S string  `json:"s"`
			F float64 `json:"f"`
		}{"<x> & \"y\" \u2028", 1.5},
		nil, "", 42,
	}
	for _, op := range []string{"send_gift", "", "a\"b<c>&\u2028\x01"} {
		for _, r := range results {
			rb, err := json.Marshal(r)
			require.NoError(t, err)
			fp, err := fingerprint(op, r)
			require.NoError(t, err)
			want, err := json.Marshal(eventRecord{Op: op, Fingerprint: fp, Result: rb})
			require.NoError(t, err)
			got, err := encodeEventRecord(op, fp, rb)
			require.NoError(t, err)
			require.Equal(t, string(want), string(got))
		}
	}
}
