package pgstore

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/rewardkit/rewardkit/ledger/driver"
)

// speculateKind makes s take records of kind for missing without a read,
// as speculateAfter reads in a row that found nothing would.
func speculateKind(t *testing.T, s *Store, kind string) {
	t.Helper()
	onCommitter(t, s, func(c *committer) {
		if c.missRuns == nil {
			c.missRuns = map[string]int{}
		}
		c.missRuns[kind] = speculateAfter
		c.lookupGroups = 0
	})
}

// flushRead is a read that sends the group's buffered writes first (a
// listing, which the group's view of records cannot answer).
func flushRead(tx driver.Tx) error {
	_, err := tx.Records("flush", "", 1)
	return err
}

// TestReviewRecordCheckFailingMidItemFailsGroup: the check of records
// taken for missing may be sent mid-item, with a read that flushes the
// group's writes. When it finds one exists, the whole group must fail
// with ErrConflict: a unit of work whose savepoint survives (it had sent
// writes before) must not roll back to it and let later units of work of
// the group believe the record missing, nor their commit stand. Here a
// later unit of work claims a record another store already claimed:
// exactly-once would be broken.
func TestReviewRecordCheckFailingMidItemFailsGroup(t *testing.T) {
	schema := newSchema(t)
	s1, s2 := openStore(t, schema), openStore(t, schema)
	ctx := context.Background()
	require.NoError(t, s1.Update(ctx, func(tx driver.Tx) error {
		return tx.PutRecord(driver.Record{Kind: "ev", ID: "done", Data: []byte("first")})
	}))
	speculateKind(t, s2, "ev")

	errs, err := s2.UpdateBatch(ctx, []func(driver.Tx) error{
		func(tx driver.Tx) error {
			if err := tx.PutRecord(driver.Record{Kind: "x", ID: "a", Data: []byte("a")}); err != nil {
				return err
			}
			if err := flushRead(tx); err != nil { // SAVEPOINT sent: this item's savepoint exists
				return err
			}
			if _, err := tx.Record("ev", "done"); !errors.Is(err, driver.ErrNotFound) {
				return err // taken for missing
			}
			if err := tx.PutRecord(driver.Record{Kind: "x", ID: "b", Data: []byte("b")}); err != nil {
				return err
			}
			return flushRead(tx) // the check goes first and fails
		},
		func(tx driver.Tx) error {
			return tx.InsertRecord(driver.Record{Kind: "ev", ID: "done", Data: []byte("second")})
		},
	})
	t.Logf("errs=%v err=%v", errs, err)
	if err == nil {
		require.Error(t, errs[1], "a record claimed elsewhere was claimed again in the same group")
	} else {
		require.ErrorIs(t, err, driver.ErrConflict)
	}
	var data []byte
	require.NoError(t, s1.Update(ctx, func(tx driver.Tx) (err error) { data, err = tx.Record("ev", "done"); return err }))
	require.Equal(t, "first", string(data), "the record claimed first is kept")
}

// TestReviewRecordCheckFailingMidItemIsConflict: the same check failing
// mid-item in a unit of work that had sent nothing before (no savepoint
// of its own to roll back to) must still be a conflict that Ledger
// retries, not a failed COMMIT of unknown cause.
func TestReviewRecordCheckFailingMidItemIsConflict(t *testing.T) {
	schema := newSchema(t)
	s1, s2 := openStore(t, schema), openStore(t, schema)
	ctx := context.Background()
	require.NoError(t, s1.Update(ctx, func(tx driver.Tx) error {
		return tx.PutRecord(driver.Record{Kind: "ev", ID: "done", Data: []byte("first")})
	}))
	speculateKind(t, s2, "ev")
	err := s2.Update(ctx, func(tx driver.Tx) error {
		if _, err := tx.Record("ev", "done"); !errors.Is(err, driver.ErrNotFound) {
			return err
		}
		if err := tx.PutRecord(driver.Record{Kind: "x", ID: "a", Data: []byte("a")}); err != nil {
			return err
		}
		if err := flushRead(tx); err != nil {
			return nil // swallowed: the group must fail anyway
		}
		return nil
	})
	require.ErrorIs(t, err, driver.ErrConflict)
	var data []byte
	require.NoError(t, s2.Update(ctx, func(tx driver.Tx) (err error) { data, err = tx.Record("ev", "done"); return err }), "the retry reads it")
	require.Equal(t, "first", string(data))
	require.NoError(t, s1.Update(ctx, func(tx driver.Tx) error {
		_, err := tx.Record("x", "a")
		require.ErrorIs(t, err, driver.ErrNotFound, "nothing of the failed group kept")
		return nil
	}))
}

// readRec reads a record through s's committer (its caches), as a unit
// of work does.
func readRec(t *testing.T, s *Store, kind, id string) (string, error) {
	t.Helper()
	var data []byte
	err := s.Update(context.Background(), func(tx driver.Tx) (err error) { data, err = tx.Record(kind, id); return err })
	return string(data), err
}

// TestReviewRecordCacheDroppedWhenCommitFails: a group that wrote a
// record the committer had cached, and whose COMMIT then failed (the
// connection lost before it, or the batch's context cancelled), leaves
// nothing of its view in the cache: the next group reads what the
// database kept.
func TestReviewRecordCacheDroppedWhenCommitFails(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	require.NoError(t, s.Update(ctx, func(tx driver.Tx) error {
		return tx.PutRecord(driver.Record{Kind: "c", ID: "1", Data: []byte("old")})
	}))
	got, err := readRec(t, s, "c", "1")
	require.NoError(t, err)
	require.Equal(t, "old", got)

	err = s.Update(ctx, func(tx driver.Tx) error {
		if err := tx.PutRecord(driver.Record{Kind: "c", ID: "1", Data: []byte("lost")}); err != nil {
			return err
		}
		if err := tx.DeleteRecord("c", "2"); err != nil {
			return err
		}
		terminateWriter(t, s)
		return nil
	})
	require.Error(t, err, "the COMMIT found the connection gone")
	got, err = readRec(t, s, "c", "1")
	require.NoError(t, err)
	require.Equal(t, "old", got, "the failed commit's record is not served from the cache")

	bctx, cancel := context.WithCancel(ctx)
	_, err = s.UpdateBatch(bctx, []func(driver.Tx) error{func(tx driver.Tx) error {
		if err := tx.DeleteRecord("c", "1"); err != nil {
			return err
		}
		cancel() // the batch is abandoned when its functions return
		return nil
	}})
	require.ErrorIs(t, err, context.Canceled)
	got, err = readRec(t, s, "c", "1")
	require.NoError(t, err)
	require.Equal(t, "old", got, "the abandoned batch's delete is not served from the cache")
}

// TestReviewRecordClaimedOnceAcrossStores: two stores on one schema (two
// processes), both taking records of a kind for missing, claim the same
// records concurrently, kit.Once's way (read, then InsertRecord): each
// record is created by exactly one claim, and every other claim sees it.
func TestReviewRecordClaimedOnceAcrossStores(t *testing.T) {
	schema := newSchema(t)
	stores := []*Store{openStore(t, schema), openStore(t, schema)}
	ctx := context.Background()
	claim := func(s *Store, id string) (created bool, err error) {
		for attempt := 0; attempt < 50; attempt++ {
			created = false
			err = s.Update(ctx, func(tx driver.Tx) error {
				if _, err := tx.Record("once", id); err == nil {
					return nil
				} else if !errors.Is(err, driver.ErrNotFound) {
					return err
				}
				created = true
				return tx.InsertRecord(driver.Record{Kind: "once", ID: id, Data: []byte("x")})
			})
			if !errors.Is(err, driver.ErrConflict) {
				return created, err
			}
		}
		return false, err
	}
	const rounds, ids, workers = 6, 8, 3
	for round := range rounds {
		for _, s := range stores {
			speculateKind(t, s, "once")
		}
		type result struct {
			id      string
			created bool
			err     error
		}
		results := make(chan result, len(stores)*workers*ids)
		done := make(chan struct{})
		n := 0
		for _, s := range stores {
			for w := range workers {
				n++
				go func() {
					defer func() { done <- struct{}{} }()
					for i := range ids {
						id := fmt.Sprintf("r%d-%d", round, (i+w)%ids)
						created, err := claim(s, id)
						results <- result{id, created, err}
					}
				}()
			}
		}
		for range n {
			<-done
		}
		close(results)
		creators := map[string]int{}
		for r := range results {
			require.NoError(t, r.err)
			if r.created {
				creators[r.id]++
			}
		}
		for i := range ids {
			id := fmt.Sprintf("r%d-%d", round, i)
			require.Equal(t, 1, creators[id], "record %s created by exactly one claim", id)
		}
	}
	t.Logf("rechecks (groups rolled back for a record taken for missing): %d and %d", stores[0].Stats().KeyRechecks, stores[1].Stats().KeyRechecks)
}

// TestReviewRecCacheNeverStaleAndBounded: whatever sequence of puts,
// deletes and gets, the record cache answers a get only with the last
// data put for that record (never an older one, never a deleted one), and
// holds at most maxBytes of records counted by recSize.
func TestReviewRecCacheNeverStaleAndBounded(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		c := recCache{maxBytes: rapid.IntRange(0, 4096).Draw(rt, "maxBytes")}
		model := map[kindID][]byte{} // the last state put; absent: deleted or never put
		for range rapid.IntRange(0, 300).Draw(rt, "ops") {
			k := kindID{"k", fmt.Sprint(rapid.IntRange(0, 40).Draw(rt, "id"))}
			switch rapid.IntRange(0, 2).Draw(rt, "op") {
			case 0:
				data := []byte(fmt.Sprint(rapid.IntRange(0, 1<<20).Draw(rt, "data")))
				if rapid.Bool().Draw(rt, "big") {
					data = make([]byte, rapid.IntRange(0, 600).Draw(rt, "size"))
				}
				c.put(k, data)
				model[k] = data
			case 1:
				c.del(k)
				delete(model, k)
			case 2:
				if d, ok := c.get(k); ok {
					want, in := model[k]
					if !in || string(d) != string(want) {
						rt.Fatalf("get %v = %q, last put %q (present %v)", k, d, want, in)
					}
				}
			}
			total := 0
			for k, d := range c.cur {
				total += recSize(k, d)
			}
			for k, d := range c.prev {
				total += recSize(k, d)
				if _, dup := c.cur[k]; dup {
					rt.Fatalf("%v in both generations", k)
				}
			}
			if total > c.maxBytes {
				rt.Fatalf("cache holds %d bytes, bound %d", total, c.maxBytes)
			}
		}
	})
}

// TestReviewRecordOnlyWritesElsewhereSeen: units of work that only write
// records (no transaction posted) in another store move the head row's
// version, so this store's cached records are not trusted: an
// InsertRecord after another store deleted the record succeeds, a read
// after another store re-created it finds it, and a read-only batch that
// took a record for missing is rolled back with ErrConflict when it exists.
func TestReviewRecordOnlyWritesElsewhereSeen(t *testing.T) {
	schema := newSchema(t)
	s1, s2 := openStore(t, schema), openStore(t, schema)
	ctx := context.Background()
	put := func(s *Store, id, data string) {
		require.NoError(t, s.Update(ctx, func(tx driver.Tx) error {
			return tx.PutRecord(driver.Record{Kind: "r", ID: id, Data: []byte(data)})
		}))
	}
	put(s2, "x", "mine")
	got, err := readRec(t, s2, "r", "x")
	require.NoError(t, err)
	require.Equal(t, "mine", got) // cached by s2
	require.NoError(t, s1.Update(ctx, func(tx driver.Tx) error { return tx.DeleteRecord("r", "x") }))
	require.NoError(t, s2.Update(ctx, func(tx driver.Tx) error {
		return tx.InsertRecord(driver.Record{Kind: "r", ID: "x", Data: []byte("again")})
	}), "deleted by another store: not a duplicate")
	got, err = readRec(t, s2, "r", "x")
	require.NoError(t, err)
	require.Equal(t, "again", got)
	put(s1, "x", "theirs")
	got, err = readRec(t, s2, "r", "x")
	require.NoError(t, err)
	require.Equal(t, "theirs", got, "re-written by another store")

	speculateKind(t, s2, "r")
	put(s1, "y", "theirs")
	_, err = s2.UpdateBatch(ctx, []func(driver.Tx) error{func(tx driver.Tx) error {
		if _, err := tx.Record("r", "y"); !errors.Is(err, driver.ErrNotFound) {
			return fmt.Errorf("not taken for missing: %v", err) // no FailNow on the committer's goroutine
		}
		return nil
	}})
	require.ErrorIs(t, err, driver.ErrConflict, "a read-only batch is checked too")
	got, err = readRec(t, s2, "r", "y")
	require.NoError(t, err)
	require.Equal(t, "theirs", got, "the retry reads it")
}
