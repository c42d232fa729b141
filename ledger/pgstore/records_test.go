package pgstore

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
)

// claimRecord is kit.Once's pattern: read the record, and create it if it
// is missing. It returns what the record held, or nil if this call
// created it.
func claimRecord(t *testing.T, l *ledger.Ledger, kind, id string) []byte {
	t.Helper()
	var got []byte
	err := l.Update(context.Background(), func(w *ledger.Writer) error {
		got = nil
		data, err := w.Record(kind, id)
		if err == nil {
			got = data
			return nil
		}
		if !errors.Is(err, ledger.ErrNotFound) {
			return err
		}
		return w.InsertRecord(kind, id, []byte("claimed"))
	})
	require.NoError(t, err)
	return got
}

// TestRecordTakenForMissingIsChecked: once a kind's reads have found
// nothing speculateAfter times in a row, its records missing from the
// caches are taken for missing without a read. A record of that kind
// written by another store (another process) is then still found: the
// group that took it for missing is rolled back with ErrConflict, and
// Ledger's retry reads it. A read-only unit of work is checked the same
// way, and a record written through this store is served from its cache.
func TestRecordTakenForMissingIsChecked(t *testing.T) {
	schema := newSchema(t)
	s1, s2 := openStore(t, schema), openStore(t, schema)
	l1 := ledger.New(s1, ledger.WithClock(ledgertest.NewClock(epoch)))
	l2 := ledger.New(s2, ledger.WithClock(ledgertest.NewClock(epoch)))
	ctx := context.Background()
	for i := range speculateAfter {
		require.Nil(t, claimRecord(t, l2, "ev", fmt.Sprintf("new-%d", i)))
		require.Nil(t, claimRecord(t, l2, "ro", fmt.Sprintf("new-%d", i)))
	}
	require.NoError(t, l1.Update(ctx, func(w *ledger.Writer) error {
		if err := w.PutRecord("ev", "elsewhere", []byte("one")); err != nil {
			return err
		}
		return w.PutRecord("ro", "elsewhere", []byte("two"))
	}))

	require.Equal(t, []byte("one"), claimRecord(t, l2, "ev", "elsewhere"), "the record another store wrote is found")
	require.Equal(t, uint64(1), s2.Stats().KeyRechecks, "found by the check, not a read")

	// The groups after a recheck read every record; forget that.
	onCommitter(t, s2, func(c *committer) { c.lookupGroups = 0 })
	var got []byte
	require.NoError(t, l2.Update(ctx, func(w *ledger.Writer) (err error) { got, err = w.Record("ro", "elsewhere"); return err }))
	require.Equal(t, []byte("two"), got, "a read-only unit of work is checked too")
	require.Equal(t, uint64(2), s2.Stats().KeyRechecks)

	// Written through s2: cached, found without a read or a rollback.
	before := s2.Stats().KeyRechecks
	require.Nil(t, claimRecord(t, l2, "ev", "mine"))
	require.Equal(t, []byte("claimed"), claimRecord(t, l2, "ev", "mine"))
	require.Equal(t, before, s2.Stats().KeyRechecks)
	var data []byte
	require.NoError(t, l1.View(ctx, func(r *ledger.Reader) (err error) { data, err = r.Record("ev", "mine"); return err }))
	require.Equal(t, []byte("claimed"), data, "committed")
}

// TestRecordCacheSeesOtherWriters: a record this store cached and another
// store then changed or deleted is read anew (the head row's version
// tells the committer its cache is stale).
func TestRecordCacheSeesOtherWriters(t *testing.T) {
	schema := newSchema(t)
	s1, s2 := openStore(t, schema), openStore(t, schema)
	l1 := ledger.New(s1, ledger.WithClock(ledgertest.NewClock(epoch)))
	l2 := ledger.New(s2, ledger.WithClock(ledgertest.NewClock(epoch)))
	ctx := context.Background()
	read := func(l *ledger.Ledger) (data []byte, err error) {
		err = l.Update(ctx, func(w *ledger.Writer) error { data, err = w.Record("live", "1"); return err })
		return data, err
	}
	put := func(l *ledger.Ledger, data string) {
		require.NoError(t, l.Update(ctx, func(w *ledger.Writer) error { return w.PutRecord("live", "1", []byte(data)) }))
	}
	put(l1, "a")
	got, err := read(l1)
	require.NoError(t, err)
	require.Equal(t, []byte("a"), got)
	put(l2, "b")
	got, err = read(l1)
	require.NoError(t, err)
	require.Equal(t, []byte("b"), got, "changed by another store")
	require.NoError(t, l2.Update(ctx, func(w *ledger.Writer) error { return w.DeleteRecord("live", "1") }))
	_, err = read(l1)
	require.ErrorIs(t, err, ledger.ErrNotFound, "deleted by another store")
}

// TestRecordViewUndoneWithItem: in one group, a unit of work that writes
// or deletes records and then fails leaves the group's view of them as it
// was, so the next unit of work sees the committed records, and so does
// the cache after the group.
func TestRecordViewUndoneWithItem(t *testing.T) {
	s := newStore(t)
	l := ledger.New(s, ledger.WithClock(ledgertest.NewClock(epoch)))
	ctx := context.Background()
	require.NoError(t, l.Update(ctx, func(w *ledger.Writer) error { return w.PutRecord("k", "kept", []byte("old")) }))
	fail := errors.New("fails")
	seen := map[string]string{}
	look := func(w *ledger.Writer, id string) {
		data, err := w.Record("k", id)
		if err != nil {
			seen[id] = err.Error()
			return
		}
		seen[id] = string(data)
	}
	errs, err := l.UpdateBatch(ctx, []func(*ledger.Writer) error{
		func(w *ledger.Writer) error {
			look(w, "kept")
			look(w, "new")
			if err := w.DeleteRecord("k", "kept"); err != nil {
				return err
			}
			if err := w.InsertRecord("k", "new", []byte("x")); err != nil {
				return err
			}
			look(w, "new")
			return fail
		},
		func(w *ledger.Writer) error {
			look(w, "kept")
			look(w, "new")
			return w.InsertRecord("k", "new", []byte("y"))
		},
	})
	require.NoError(t, err)
	require.ErrorIs(t, errs[0], fail)
	require.NoError(t, errs[1], "the failed unit's insert was undone")
	require.Equal(t, "old", seen["kept"], "the failed unit's delete was undone")
	for id, want := range map[string]string{"kept": "old", "new": "y"} {
		var data []byte
		require.NoError(t, l.Update(ctx, func(w *ledger.Writer) (err error) { data, err = w.Record("k", id); return err }))
		require.Equal(t, want, string(data), id)
	}
}
