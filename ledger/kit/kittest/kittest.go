// Package kittest holds what the programs' tests share: checks that a
// ledger still balances and that an error is one a program documents,
// the times at the edges of the ledger's range that fuzz targets try, the
// rule of a property test that a refused event changes nothing, and a
// rapid property run on every store the module ships.
//
// # Usage
//
//	func (m *machine) Buy(t *rapid.T) {
//		kittest.RefusedOrDone(t, m.snapshot, func() error { _, err := m.p.Buy(ctx, req); return err },
//			ErrInsufficientFunds, ErrIdempotencyConflict)
//		kittest.RequireBalanced(t, ctx, m.l)
//	}
package kittest

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/driver"
	"github.com/rewardkit/rewardkit/ledger/teststore"
)

// TB is what the helpers need: *testing.T, *testing.B and *rapid.T have it.
type TB interface {
	require.TestingT
	Helper()
}

// RequireBalanced fails tb unless the ledger verifies (ledger.Verify: the
// hash chain and every balance replayed from the journal) and every asset
// sums to zero: no money was made or lost.
func RequireBalanced(tb TB, ctx context.Context, l *ledger.Ledger) {
	tb.Helper()
	rep, err := l.Verify(ctx)
	require.NoError(tb, err)
	for asset, total := range rep.Totals {
		require.Truef(tb, total.IsZero(), "asset %s sums to %s", asset, total)
	}
}

// RequireTyped fails tb unless err is nil or matches one of sentinels
// with errors.Is: every refusal of a public API is one it documents.
func RequireTyped(tb TB, what string, err error, sentinels ...error) {
	tb.Helper()
	if err == nil {
		return
	}
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return
		}
	}
	require.Failf(tb, "untyped error", "%s: %v", what, err)
}

// EdgeTime picks by sel a time a fuzz target tries: an edge of the
// ledger's time range or a time beyond it (ledger.MinTime and a nanosecond
// before it, the last nanosecond before ledger.MaxTime and MaxTime
// itself, 20 days before MaxTime, the zero time, the year 2300), or, for
// two selectors of nine, now moved by offset nanoseconds.
func EdgeTime(sel uint8, now time.Time, offset int64) time.Time {
	switch sel % 9 {
	case 0:
		return ledger.MinTime
	case 1:
		return ledger.MaxTime.Add(-time.Nanosecond)
	case 2:
		return ledger.MaxTime
	case 3:
		return time.Time{}
	case 4:
		return time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)
	case 5:
		return ledger.MinTime.Add(-time.Nanosecond)
	case 6:
		return ledger.MaxTime.AddDate(0, 0, -20)
	default:
		return now.Add(time.Duration(offset))
	}
}

// RefusedOrDone runs an event of a property test and reports whether it
// went through. An error must match one of allowed, and the refused event
// must have changed nothing: snapshot (everything the program and the
// ledger keep) reads the same before and after.
func RefusedOrDone(tb TB, snapshot func() string, call func() error, allowed ...error) bool {
	tb.Helper()
	before := snapshot()
	err := call()
	if err == nil {
		return true
	}
	for _, a := range allowed {
		if errors.Is(err, a) {
			require.Equal(tb, before, snapshot(), "refusal %v changed something", err)
			return false
		}
	}
	require.Failf(tb, "unexpected error", "%v", err)
	return false
}

// CheckOnStores runs a rapid property on every store the module ships
// (teststore.Run), each check on a fresh store: all of rapid's checks on
// memstore, the first pgChecks on PostgreSQL, where each opens a schema of
// its own (the rest pass at once there).
func CheckOnStores(t *testing.T, pgChecks int, prop func(t *rapid.T, store driver.Store)) {
	teststore.Run(t, func(tt *testing.T, open teststore.Opener) {
		checks := 0
		rapid.Check(tt, func(t *rapid.T) {
			if checks++; !strings.HasSuffix(tt.Name(), "/memstore") && checks > pgChecks {
				return
			}
			store := open(tt)
			defer store.Close()
			prop(t, store)
		})
	})
}

// WantEvent is an event a test expects: its type and subject, the
// idempotency key of the journal transaction it goes with ("" for none:
// TxID 0), and fields its data must hold (as encoding/json decodes them).
type WantEvent struct {
	Type, Subject, TxKey string
	Data                 map[string]any
}

// EventsAfter returns the events after seq whose type starts with prefix
// ("payout."), and the last seq of the log: the cursor for the next call.
func EventsAfter(tb TB, ctx context.Context, l *ledger.Ledger, prefix string, after uint64) ([]ledger.Event, uint64) {
	tb.Helper()
	evs, err := l.Events(ctx, after, 10000)
	require.NoError(tb, err)
	var mine []ledger.Event
	for _, e := range evs {
		if strings.HasPrefix(e.Type, prefix) {
			mine = append(mine, e)
		}
		after = e.Seq
	}
	return mine, after
}

// RequireEvents checks that the events of prefix committed after *seq are
// exactly want, in order — types, subjects, transactions and the data
// fields want names — and moves *seq to the end of the log.
func RequireEvents(tb TB, ctx context.Context, l *ledger.Ledger, prefix string, seq *uint64, want ...WantEvent) {
	tb.Helper()
	got, next := EventsAfter(tb, ctx, l, prefix, *seq)
	*seq = next
	var gotTypes, wantTypes []string
	for _, e := range got {
		gotTypes = append(gotTypes, e.Type+" "+e.Subject)
	}
	for _, w := range want {
		wantTypes = append(wantTypes, w.Type+" "+w.Subject)
	}
	require.Equal(tb, wantTypes, gotTypes)
	for i, w := range want {
		e := got[i]
		if w.TxKey == "" {
			require.Zero(tb, e.TxID, "%s: no transaction", w.Type)
		} else {
			tx, err := l.TransactionByKey(ctx, w.TxKey)
			require.NoError(tb, err)
			require.Equal(tb, tx.ID, e.TxID, "%s: TxID", w.Type)
		}
		var data map[string]any
		require.NoError(tb, json.Unmarshal(e.Data, &data))
		for k, v := range w.Data {
			require.Equal(tb, v, data[k], "%s: data %s in %s", w.Type, k, e.Data)
		}
	}
}
