package kit

import (
	"context"
	"fmt"

	"github.com/rewardkit/rewardkit/ledger"
)

// Run runs fn in a unit of work of its own and returns its result: the
// one-call form of a program's In method, which runs inside a unit of
// work the caller owns.
//
//	func (p *Program) Approve(ctx context.Context, req ApproveRequest) (Order, error) {
//		return kit.Run(ctx, p.l, func(w *ledger.Writer) (Order, error) { return p.ApproveIn(w, req) })
//	}
func Run[T any](ctx context.Context, l *ledger.Ledger, fn func(w *ledger.Writer) (T, error)) (T, error) {
	var out T
	err := l.Update(ctx, func(w *ledger.Writer) error {
		v, err := fn(w)
		if err != nil {
			return err
		}
		out = v
		return nil
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return out, nil
}

// MaxIDLen bounds the IDs callers choose (members, orders, campaigns).
const MaxIDLen = 64

// CheckID judges an ID the caller chooses: 1 to MaxIDLen bytes of letters,
// digits and _-.@+, so that it fits in an account address. A bad ID is an
// error wrapping invalid (the program's ErrInvalidRequest) that names the
// field.
func CheckID(invalid error, field, id string) error {
	if len(id) == 0 || len(id) > MaxIDLen {
		return fmt.Errorf("%w: %s must have 1 to %d characters", invalid, field, MaxIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == '@' || c == '+') {
			return fmt.Errorf("%w: %s may hold only letters, digits and _-.@+", invalid, field)
		}
	}
	return nil
}

// Step runs fn as one all-or-nothing step of the caller's unit of work w
// (ledger.Writer.Atomic) and returns its result: an In method that writes
// more than once runs its body through it, so that a caller who drops its
// error cannot commit half of it. Events run through Once are steps
// already.
func Step[T any](w *ledger.Writer, fn func(w *ledger.Writer) (T, error)) (T, error) {
	var out T
	err := w.Atomic(func(w *ledger.Writer) error {
		v, err := fn(w)
		out = v
		return err
	})
	return out, err
}
