package webhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rewardkit/rewardkit/ledger"
)

// Headers of every delivery (see the package doc for the scheme).
const (
	// HeaderID holds the event's ID (a UUID): the same on every attempt
	// and every redelivery of an event, so a receiver dedupes on it.
	HeaderID = "Webhook-Id"
	// HeaderTimestamp holds the attempt's time in Unix seconds; it is
	// signed, so a receiver can refuse old (replayed) requests.
	HeaderTimestamp = "Webhook-Timestamp"
	// HeaderSignature holds "v1=" and the hex HMAC-SHA256 of
	// timestamp + "." + body under the endpoint's secret.
	HeaderSignature = "Webhook-Signature"
	// ContentType is the body's type: a CloudEvents 1.0 structured JSON
	// event (ledger.Event.CloudEvent).
	ContentType = "application/cloudevents+json"
)

// DefaultTolerance is a sensible window for Verify: five minutes, as
// Stripe and Standard Webhooks use.
const DefaultTolerance = 5 * time.Minute

// Errors of Verify, coded for a receiver that maps errors to statuses.
var (
	// ErrBadSignature: no "v1=" signature in the request matches the body
	// and timestamp under the secret (a tampered body, a wrong secret, a
	// forged request), or the header is missing or malformed.
	ErrBadSignature = ledger.NewError(ledger.CodePermissionDenied, "webhooks: bad signature")
	// ErrTimestamp: the timestamp is missing, malformed, or outside the
	// tolerance around now (a replayed or badly delayed request).
	ErrTimestamp = ledger.NewError(ledger.CodeInvalidArgument, "webhooks: timestamp outside the tolerance")
)

// Sign returns the value of HeaderSignature for a body sent at the Unix
// time ts: "v1=" + hex(HMAC-SHA256(secret, ts + "." + body)).
func Sign(secret []byte, ts int64, body []byte) string {
	return "v1=" + hex.EncodeToString(mac(secret, strconv.FormatInt(ts, 10), body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(ts))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Verify checks a delivery on the receiver's side: the timestamp must be
// within tolerance of now (either way, for clock skew), else ErrTimestamp;
// one of the space-separated "v1=" signatures must be the HMAC of
// timestamp + "." + body under secret, compared in constant time, else
// ErrBadSignature. Several signatures let a sender rotate secrets. body
// must be the raw bytes received, before any JSON decoding. An empty
// secret verifies nothing (ErrBadSignature).
func Verify(secret []byte, header http.Header, body []byte, tolerance time.Duration, now time.Time) error {
	if len(secret) == 0 {
		// A secret that failed to load must not make every request valid:
		// anyone can sign with the empty key.
		return fmt.Errorf("%w: the receiver's secret is empty", ErrBadSignature)
	}
	tsText := header.Get(HeaderTimestamp)
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %s %q is not Unix seconds", ErrTimestamp, HeaderTimestamp, clip(tsText))
	}
	if age := now.Sub(time.Unix(ts, 0)); age > tolerance || age < -tolerance {
		return fmt.Errorf("%w: sent at %d, %s from now (tolerance %s)", ErrTimestamp, ts, age.Round(time.Second), tolerance)
	}
	want := mac(secret, tsText, body)
	found := false
	for _, f := range strings.Fields(strings.Join(header.Values(HeaderSignature), " ")) {
		sig, ok := strings.CutPrefix(f, "v1=")
		if !ok {
			continue
		}
		found = true
		got, err := hex.DecodeString(sig)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	if !found {
		return fmt.Errorf("%w: no v1 signature in %s", ErrBadSignature, HeaderSignature)
	}
	return ErrBadSignature
}

// clip shortens untrusted text quoted in an error.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
