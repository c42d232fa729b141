package scheduler

import "github.com/rewardkit/rewardkit/ledger"

// ErrInvalid: an argument is out of range: a ticker or lease name that is
// not 1 to 64 letters, digits and _-.@+, a nil ticker or ledger, an
// interval that is not positive.
var ErrInvalid = ledger.NewError(ledger.CodeInvalidArgument, "scheduler: invalid argument")

// ErrDuplicate: a ticker is already registered under the name (the
// ledger's own hold expiry holds HoldsName).
var ErrDuplicate = ledger.NewError(ledger.CodeConflict, "scheduler: name already registered")

// ErrNoLease: the ledger's store cannot hold a lease (it does not
// implement Leaser), so New cannot promise that one replica ticks at a
// time. Pass SingleReplica if exactly one process runs the scheduler.
var ErrNoLease = ledger.NewError(ledger.CodeFailedPrecondition, "scheduler: the store offers no lease")

// ErrLeaseLost: the store could no longer promise the lease while a run
// was under way (its connection broke, the store closed). The run stopped:
// the tickers not yet run were skipped, and the one running saw its
// context end. Another replica may take the lease.
var ErrLeaseLost = ledger.NewError(ledger.CodeUnavailable, "scheduler: lease lost")

// ErrPanicked: a ticker panicked. The panic was recovered and reported
// under the ticker's name (with its stack in the log); the other tickers
// ran.
var ErrPanicked = ledger.NewError(ledger.CodeInternal, "scheduler: ticker panicked")
