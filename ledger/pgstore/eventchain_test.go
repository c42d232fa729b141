package pgstore

import (
	"context"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
)

// TestDatabaseRefusesEventChanges: committed events are immutable in the
// database itself, as posted journal rows are.
func TestDatabaseRefusesEventChanges(t *testing.T) {
	schema := newSchema(t)
	s := openStore(t, schema)
	l := newLedger(t, s, 0)
	ctx := context.Background()
	require.NoError(t, l.Update(ctx, func(w *ledger.Writer) error { return w.Emit("test.thing.done", "x", nil) }))
	conn := rawConn(t, schema)
	for _, q := range []string{
		`UPDATE events SET subject = 'y'`,
		`UPDATE events SET hash = NULL`,
		`DELETE FROM events`,
		`TRUNCATE events`,
	} {
		_, err := conn.Exec(ctx, q)
		requireSQLState(t, err, "23000", q)
	}
	rep, err := l.Verify(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, rep.Events)
}

// TestVerifyAcceptsEventsFromBeforeTheChain: a log written before
// migration 0005 has events with no hash and holds with no events; Verify
// accepts them as a prefix, counts them, and holds everything after to
// the chain.
func TestVerifyAcceptsEventsFromBeforeTheChain(t *testing.T) {
	schema := newSchema(t)
	s := openStore(t, schema)
	ctx := context.Background()
	clock := ledgertest.NewClock(epoch)
	l := ledger.New(s, ledger.WithClock(clock))
	require.NoError(t, l.DefineAsset(ctx, ledger.EUR))
	_, err := l.OpenAccount(ctx, ledger.AccountSpec{Address: ledger.World, Overdraft: ledger.Overdraft{Unbounded: true}})
	require.NoError(t, err)
	_, err = l.OpenAccount(ctx, ledger.AccountSpec{Address: "member:a"})
	require.NoError(t, err)
	_, err = l.Transfer(ctx, "fund", ledger.World, "member:a", "EUR", decimal.NewFromInt(100))
	require.NoError(t, err)
	require.NoError(t, l.Update(ctx, func(w *ledger.Writer) error {
		if err := w.Emit("test.legacy.one", "x", nil); err != nil {
			return err
		}
		return w.Emit("test.legacy.two", "x", nil)
	}))
	old, err := l.Hold(ctx, ledger.HoldRequest{Account: "member:a", Asset: "EUR", Amount: decimal.NewFromInt(10), ExpiresAt: epoch.Add(48 * time.Hour)})
	require.NoError(t, err)

	// Back to what the store held before the chain: no hashes, and no
	// event for the hold (hold events were not written then).
	conn := rawConn(t, schema)
	for _, q := range []string{
		`ALTER TABLE events DISABLE TRIGGER events_immutable`,
		`DELETE FROM events WHERE seq = 3`,
		`UPDATE events SET hash = NULL`,
		`UPDATE ledger_head SET event_seq = 2, event_hash = '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea`,
		`ALTER TABLE events ENABLE TRIGGER events_immutable`,
	} {
		_, err := conn.Exec(ctx, q)
		require.NoError(t, err, q)
	}
	// A new process after the upgrade.
	s2 := openStore(t, schema)
	clock.Advance(time.Hour)
	l = ledger.New(s2, ledger.WithClock(clock))
	h, err := l.Hold(ctx, ledger.HoldRequest{Account: "member:a", Asset: "EUR", Amount: decimal.NewFromInt(5), ExpiresAt: epoch.Add(48 * time.Hour)})
	require.NoError(t, err)
	_, err = l.Capture(ctx, ledger.CaptureRequest{Hold: old.ID, Destinations: []ledger.Leg{{To: ledger.World, Amount: decimal.NewFromInt(4)}}})
	require.NoError(t, err)
	_, err = l.Capture(ctx, ledger.CaptureRequest{Hold: old.ID, Final: true, Destinations: []ledger.Leg{{To: ledger.World, Amount: decimal.NewFromInt(2)}}})
	require.NoError(t, err)

	rep, err := l.Verify(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, rep.UnchainedEvents)
	require.Equal(t, 1, rep.UnchainedHolds, "hold %d, created before the chain", old.ID)
	require.Equal(t, 2, rep.Holds)
	require.Equal(t, 5, rep.Events, "2 from before, hold %d created, and the two captures of hold %d", h.ID, old.ID)

	// Once the chain has begun, an event with no hash is a break.
	for _, q := range []string{
		`ALTER TABLE events DISABLE TRIGGER events_immutable`,
		`UPDATE events SET hash = NULL WHERE seq = 4`,
		`ALTER TABLE events ENABLE TRIGGER events_immutable`,
	} {
		_, err := conn.Exec(ctx, q)
		require.NoError(t, err, q)
	}
	_, err = l.Verify(ctx)
	require.ErrorIs(t, err, ledger.ErrVerify)
	require.Contains(t, err.Error(), "event 4: hash does not chain")
}
