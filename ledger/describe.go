package ledger

import (
	"strconv"
	"strings"

	"github.com/shopspring/decimal"
)

// Error messages name what was refused, but never at any length: a caller
// may pass a 10 MB key or a decimal with an exponent of 2^31, and printing
// it whole would cost more than refusing it. These helpers keep every
// message short.

// maxShown is how many bytes of a caller's string a message shows.
const maxShown = 64

// clip quotes s for a message, cut to maxShown bytes with its length
// noted when longer.
func clip(s string) string {
	if len(s) <= maxShown {
		return strconv.Quote(s)
	}
	return strconv.Quote(s[:maxShown]) + "…(" + strconv.Itoa(len(s)) + " bytes)"
}

// cut shortens a name the caller gives for a message ("hold expiry") to
// maxShown bytes.
func cut(s string) string {
	if len(s) <= maxShown {
		return s
	}
	return s[:maxShown] + "…"
}

// shortCode writes an asset code for a message: as it is when it is a
// valid code, quoted and clipped otherwise.
func shortCode(code string) string {
	if ValidateAssetCode(code) == nil {
		return code
	}
	return clip(code)
}

// describeDecimal writes d for a message: as decimal.String would when
// that is short, in exponent form when the exponent is large, and as a
// digit count when the coefficient itself is long (converting a huge
// coefficient to decimal digits costs more than a refusal should).
func describeDecimal(d decimal.Decimal) string {
	e := d.Exponent()
	if d.Sign() == 0 {
		return "0"
	}
	v := d.Coefficient()
	bits := v.BitLen()
	switch {
	case bits <= 128 && e >= -40 && e <= 40:
		return d.String()
	case bits <= 256:
		return v.String() + "e" + strconv.FormatInt(int64(e), 10)
	}
	sign := ""
	if v.Sign() < 0 {
		sign = "-"
	}
	return sign + "(a " + strconv.Itoa(int(float64(bits)/log2of10)+1) + "-digit number)e" + strconv.FormatInt(int64(e), 10)
}

// wrapped is an error that matches two errors (a sentinel of this package
// and the cause it judged) with one message, so that the package's prefix
// appears once: "ledger: invalid conversion rule: from: code "eur" may
// hold only A-Z, 0-9 and _" rather than "...: from: ledger: invalid asset:
// ...".
type wrapped struct {
	msg  string
	errs [2]error
}

func (e *wrapped) Error() string   { return e.msg }
func (e *wrapped) Unwrap() []error { return e.errs[:] }

// wrapAs returns an error that errors.Is both kind and cause, reading
// "<kind>: <context>: <cause without this package's prefix>".
func wrapAs(kind error, context string, cause error) error {
	msg := strings.TrimPrefix(cause.Error(), "ledger: ")
	if context != "" {
		msg = context + ": " + msg
	}
	return &wrapped{msg: kind.Error() + ": " + msg, errs: [2]error{kind, cause}}
}
