package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
)

// TestErrorCode: every ledger sentinel has its code, bare and wrapped
// (%w, errors.Join, several %w), and a coded error decides before any
// ledger sentinel it wraps.
func TestErrorCode(t *testing.T) {
	sentinels := []struct {
		err  error
		code ledger.Code
	}{
		{ledger.ErrInvalidAmount, ledger.CodeInvalidArgument},
		{ledger.ErrPrecision, ledger.CodeInvalidArgument},
		{ledger.ErrInvalidAsset, ledger.CodeInvalidArgument},
		{ledger.ErrInvalidAddress, ledger.CodeInvalidArgument},
		{ledger.ErrInvalidTransaction, ledger.CodeInvalidArgument},
		{ledger.ErrInvalidRule, ledger.CodeInvalidArgument},
		{ledger.ErrInvalidTime, ledger.CodeInvalidArgument},
		{ledger.ErrInvalidMonitor, ledger.CodeInvalidArgument},
		{ledger.ErrOverflow, ledger.CodeInvalidArgument},
		{ledger.ErrUnknownAsset, ledger.CodeNotFound},
		{ledger.ErrUnknownAccount, ledger.CodeNotFound},
		{ledger.ErrNotFound, ledger.CodeNotFound},
		{ledger.ErrIdempotencyConflict, ledger.CodeConflict},
		{ledger.ErrDuplicate, ledger.CodeConflict},
		{ledger.ErrAssetConflict, ledger.CodeConflict},
		{ledger.ErrAccountConflict, ledger.CodeConflict},
		{ledger.ErrAlreadyReversed, ledger.CodeConflict},
		{ledger.ErrInsufficientFunds, ledger.CodeFailedPrecondition},
		{ledger.ErrHoldClosed, ledger.CodeFailedPrecondition},
		{ledger.ErrHoldExpired, ledger.CodeFailedPrecondition},
		{ledger.ErrCaptureExceedsHold, ledger.CodeFailedPrecondition},
		{ledger.ErrForbidden, ledger.CodePermissionDenied},
		{ledger.ErrConflict, ledger.CodeUnavailable},
		{ledger.ErrClosed, ledger.CodeUnavailable},
		{ledger.ErrVerify, ledger.CodeInternal},
		{context.Canceled, ledger.CodeUnavailable},
		{context.DeadlineExceeded, ledger.CodeUnavailable},
	}
	other := errors.New("something else")
	for _, s := range sentinels {
		forms := map[string]error{
			"bare":            s.err,
			"%w":              fmt.Errorf("transfer t-1: %w", s.err),
			"%w twice":        fmt.Errorf("outer: %w", fmt.Errorf("inner: %w", s.err)),
			"join":            errors.Join(other, s.err),
			"join of wrapped": errors.Join(fmt.Errorf("a: %w", other), fmt.Errorf("b: %w", s.err)),
			"several %w":      fmt.Errorf("%w: %w", s.err, other),
			"several %w late": fmt.Errorf("%w: %w", other, s.err),
		}
		for form, err := range forms {
			t.Run(s.err.Error()+"/"+form, func(t *testing.T) {
				require.Equal(t, s.code, ledger.ErrorCode(err))
			})
		}
	}

	coded := ledger.NewError(ledger.CodeResourceExhausted, "program: cap reached")
	tests := []struct {
		name string
		err  error
		code ledger.Code
	}{
		{"nil", nil, ledger.CodeOK},
		{"unknown", other, ledger.CodeInternal},
		{"unknown wrapped", fmt.Errorf("x: %w", other), ledger.CodeInternal},
		{"coded", coded, ledger.CodeResourceExhausted},
		{"coded wrapped", fmt.Errorf("gift g-1: %w", coded), ledger.CodeResourceExhausted},
		{"coded wraps a ledger sentinel", fmt.Errorf("%w: %w", coded, ledger.ErrInsufficientFunds), ledger.CodeResourceExhausted},
		{"coded after a ledger sentinel", fmt.Errorf("%w: %w", ledger.ErrInsufficientFunds, coded), ledger.CodeResourceExhausted},
		{"coded in a join", errors.Join(ledger.ErrForbidden, coded), ledger.CodeResourceExhausted},
		{"first ledger sentinel decides", fmt.Errorf("%w: %w", ledger.ErrConflict, ledger.ErrOverflow), ledger.CodeUnavailable},
		{"first ledger sentinel in a join decides", errors.Join(ledger.ErrNotFound, ledger.ErrForbidden), ledger.CodeNotFound},
		{"Is method", isError{ledger.ErrHoldExpired}, ledger.CodeFailedPrecondition},
		{"not comparable", uncomparable{nil}, ledger.CodeInternal},
		{"not comparable wrapping a sentinel", uncomparable{[]error{other, ledger.ErrNotFound}}, ledger.CodeNotFound},
		{"deadline of a context", deadlineErr(), ledger.CodeUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.code, ledger.ErrorCode(tt.err))
		})
	}
}

// TestNewError: a coded sentinel keeps its message, is its own identity
// and matches through wrapping.
func TestNewError(t *testing.T) {
	a := ledger.NewError(ledger.CodeNotFound, "program: unknown thing")
	b := ledger.NewError(ledger.CodeNotFound, "program: unknown thing")
	require.Equal(t, "program: unknown thing", a.Error())
	require.NotErrorIs(t, a, b)
	require.ErrorIs(t, fmt.Errorf("thing t-1: %w", a), a)
}

func TestCodeHTTPStatus(t *testing.T) {
	for code, status := range map[ledger.Code]int{
		ledger.CodeOK:                 200,
		ledger.CodeInvalidArgument:    400,
		ledger.CodeNotFound:           404,
		ledger.CodeConflict:           409,
		ledger.CodeFailedPrecondition: 422,
		ledger.CodePermissionDenied:   403,
		ledger.CodeResourceExhausted:  429,
		ledger.CodeUnavailable:        503,
		ledger.CodeInternal:           500,
		ledger.Code("bogus"):          500,
	} {
		require.Equal(t, status, code.HTTPStatus(), code)
	}
}

// isError is an error that says it is target without wrapping it.
type isError struct{ target error }

func (e isError) Error() string        { return "is " + e.target.Error() }
func (e isError) Is(target error) bool { return target == e.target }

// uncomparable is an error whose type == cannot compare.
type uncomparable struct{ errs []error }

func (uncomparable) Error() string     { return "uncomparable" }
func (u uncomparable) Unwrap() []error { return u.errs }

func deadlineErr() error {
	ctx, cancel := context.WithTimeout(context.Background(), 0)
	defer cancel()
	<-ctx.Done()
	return fmt.Errorf("wait: %w", ctx.Err())
}

// ExampleErrorCode: an HTTP handler maps any error of the library to a
// status in two lines.
func ExampleErrorCode() {
	handler := func(w http.ResponseWriter, r *http.Request) {
		err := fmt.Errorf("withdraw po-1: %w", ledger.ErrInsufficientFunds) // from any call of the library
		if err != nil {
			code := ledger.ErrorCode(err)
			http.Error(w, err.Error(), code.HTTPStatus())
			return
		}
	}
	rec := httptest.NewRecorder()
	handler(rec, httptest.NewRequest(http.MethodPost, "/withdrawals", nil))
	fmt.Println(rec.Code, ledger.ErrorCode(ledger.ErrForbidden), ledger.ErrorCode(nil))
	// Output: 422 permission_denied ok
}
