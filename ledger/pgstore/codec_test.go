package pgstore

import (
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// anyString draws arbitrary bytes: invalid UTF-8 and NUL included.
func anyString() *rapid.Generator[string] {
	return rapid.Map(rapid.SliceOf(rapid.Byte()), func(b []byte) string { return string(b) })
}

// TestMapEncodingRoundTrips: any metadata reads back exactly (the hash
// chain covers it); empty maps are NULL and read back as nil.
func TestMapEncodingRoundTrips(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m := rapid.MapOf(anyString(), anyString()).Draw(t, "m")
		b := encodeMap(m)
		got, err := decodeMap(b)
		require.NoError(t, err)
		if len(m) == 0 {
			require.Nil(t, b)
			require.Nil(t, got)
			return
		}
		require.Equal(t, m, got)
	})
}

// TestLimitsEncodingRoundTrips does the same for overdraft limits.
func TestLimitsEncodingRoundTrips(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m := rapid.MapOf(anyString(), rapid.Int64()).Draw(t, "m")
		got, err := decodeLimits(encodeLimits(m))
		require.NoError(t, err)
		if len(m) == 0 {
			require.Nil(t, got)
			return
		}
		require.Equal(t, m, got)
	})
}

// TestCorruptEncodingIsAnError: truncated or padded bytes never decode
// silently.
func TestCorruptEncodingIsAnError(t *testing.T) {
	b := encodeMap(map[string]string{"a": "b", "c": "d"})
	for i := 1; i < len(b); i++ {
		_, err := decodeMap(b[:i])
		require.ErrorIs(t, err, errCorrupt, "truncated to %d", i)
	}
	_, err := decodeMap(append(append([]byte(nil), b...), 0))
	require.ErrorIs(t, err, errCorrupt, "padded")
	l := encodeLimits(map[string]int64{"EUR": 100})
	_, err = decodeLimits(l[:len(l)-1])
	require.ErrorIs(t, err, errCorrupt)
}
