package webhooks

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestVerifyRefusesEmptySecret: a receiver whose secret failed to load
// (an unset environment variable) must refuse every request, not accept
// any request an attacker signed with the empty key. The sender refuses
// secrets under 16 bytes (New); the receiver's check must not be weaker.
func TestVerifyRefusesEmptySecret(t *testing.T) {
	now := time.Unix(1_780_000_000, 0)
	body := []byte(`{"specversion":"1.0","id":"forged","type":"payout.payout.paid"}`)
	for _, secret := range [][]byte{nil, {}} {
		forged := signedHeader(secret, now.Unix(), body)
		require.Error(t, Verify(secret, forged, body, DefaultTolerance, now), "a request signed with the empty key is accepted under an empty secret")
	}
}
