package webhooks

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
)

func signedHeader(secret []byte, ts int64, body []byte) http.Header {
	h := http.Header{}
	h.Set(HeaderID, "0190a8a5-7d1e-7000-8000-000000000001")
	h.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	h.Set(HeaderSignature, Sign(secret, ts, body))
	return h
}

func TestVerify(t *testing.T) {
	now := time.Unix(1_780_000_000, 0)
	body := []byte(`{"specversion":"1.0","id":"x","type":"payout.payout.paid"}`)
	h := signedHeader(testSecret, now.Unix(), body)
	require.NoError(t, Verify(testSecret, h, body, DefaultTolerance, now))
	require.NoError(t, Verify(testSecret, h, body, DefaultTolerance, now.Add(-4*time.Minute)), "skew either way")

	// The scheme, spelled out: hex HMAC-SHA256 of "<ts>.<body>".
	require.Equal(t, "v1=", h.Get(HeaderSignature)[:3])
	require.Len(t, h.Get(HeaderSignature), 3+64)

	tampered := append([]byte(nil), body...)
	tampered[len(tampered)-3] = 'X'
	require.ErrorIs(t, Verify(testSecret, h, tampered, DefaultTolerance, now), ErrBadSignature)
	require.ErrorIs(t, Verify([]byte("another-secret-0123456"), h, body, DefaultTolerance, now), ErrBadSignature)

	// A replay: the signature is right, the timestamp too old.
	old := signedHeader(testSecret, now.Add(-6*time.Minute).Unix(), body)
	require.ErrorIs(t, Verify(testSecret, old, body, DefaultTolerance, now), ErrTimestamp)
	// A timestamp changed to look fresh breaks the signature.
	moved := old.Clone()
	moved.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	require.ErrorIs(t, Verify(testSecret, moved, body, DefaultTolerance, now), ErrBadSignature)

	missing := h.Clone()
	missing.Del(HeaderTimestamp)
	require.ErrorIs(t, Verify(testSecret, missing, body, DefaultTolerance, now), ErrTimestamp)
	nosig := h.Clone()
	nosig.Del(HeaderSignature)
	require.ErrorIs(t, Verify(testSecret, nosig, body, DefaultTolerance, now), ErrBadSignature)
	garbage := h.Clone()
	garbage.Set(HeaderSignature, "v1=zz")
	require.ErrorIs(t, Verify(testSecret, garbage, body, DefaultTolerance, now), ErrBadSignature)

	// Rotation: any one of several signatures may match.
	rotated := h.Clone()
	rotated.Set(HeaderSignature, Sign([]byte("old-secret-0123456789"), now.Unix(), body)+" "+h.Get(HeaderSignature))
	require.NoError(t, Verify(testSecret, rotated, body, DefaultTolerance, now))

	require.Equal(t, ledger.CodePermissionDenied, ledger.ErrorCode(ErrBadSignature))
	require.Equal(t, ledger.CodeInvalidArgument, ledger.ErrorCode(ErrTimestamp))
}
