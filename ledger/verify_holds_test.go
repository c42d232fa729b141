package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/driver"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
	"github.com/rewardkit/rewardkit/ledger/teststore"
)

// auditLedger opens a ledger with EUR, the world and two members, funded.
func auditLedger(t *testing.T, open teststore.Opener, opts ...ledger.Option) (*ledger.Ledger, *ledgertest.Clock) {
	t.Helper()
	ctx := context.Background()
	clock := ledgertest.NewClock(eventEpoch)
	l := ledger.New(open(t), append([]ledger.Option{ledger.WithClock(clock)}, opts...)...)
	require.NoError(t, l.DefineAsset(ctx, ledger.EUR))
	_, err := l.OpenAccount(ctx, ledger.AccountSpec{Address: ledger.World, Overdraft: ledger.Overdraft{Unbounded: true}})
	require.NoError(t, err)
	for _, a := range []string{"member:a", "member:b"} {
		_, err = l.OpenAccount(ctx, ledger.AccountSpec{Address: a})
		require.NoError(t, err)
		_, err = l.Transfer(ctx, "", ledger.World, a, "EUR", decimal.NewFromInt(1000))
		require.NoError(t, err)
	}
	return l, clock
}

// TestVerifyHoldKeyNotUTF8: an idempotency key is any string of at most
// 256 bytes, UTF-8 or not; a hold made with one is sound, and Verify must
// say so.
func TestVerifyHoldKeyNotUTF8(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		l, _ := auditLedger(t, open)
		h, err := l.Hold(ctx, ledger.HoldRequest{Key: "order-\xff\xfe", Account: "member:a", Asset: "EUR",
			Amount: decimal.NewFromInt(10), ExpiresAt: eventEpoch.Add(time.Hour)})
		require.NoError(t, err)
		again, err := l.Hold(ctx, ledger.HoldRequest{Key: "order-\xff\xfe", Account: "member:a", Asset: "EUR",
			Amount: decimal.NewFromInt(10), ExpiresAt: eventEpoch.Add(time.Hour)})
		require.NoError(t, err)
		require.Equal(t, h.ID, again.ID, "the key finds the hold")
		_, err = l.Verify(ctx)
		require.NoError(t, err)
	})
}

// TestVerifyHoldsUnderConcurrentFailingUnits: many writers at once (a
// pgstore group commits several together), each creating, capturing,
// voiding holds, some failing after they wrote, some batches with items
// that fail after their hold: what commits is sound, and every event
// reads back rendered.
func TestVerifyHoldsUnderConcurrentFailingUnits(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		l, clock := auditLedger(t, open, ledger.WithLedgerEvents(true))
		errBoom := errors.New("boom")
		for round := 0; round < 3; round++ {
			now := clock.Now()
			var wg sync.WaitGroup
			for g := 0; g < 8; g++ {
				wg.Add(1)
				go func(g int) {
					defer wg.Done()
					acct := []string{"member:a", "member:b"}[g%2]
					other := []string{"member:b", "member:a"}[g%2]
					for i := 0; i < 15; i++ {
						exp := now.Add(time.Duration(1+i%3) * time.Minute)
						switch i % 5 {
						case 0: // a hold and a capture, then the unit fails
							err := l.Update(ctx, func(w *ledger.Writer) error {
								h, err := w.Hold(ledger.HoldRequest{Account: acct, Asset: "EUR", Amount: decimal.NewFromInt(3), ExpiresAt: exp})
								if err != nil {
									return err
								}
								if _, err := w.Capture(ledger.CaptureRequest{Hold: h.ID, Destinations: []ledger.Leg{{To: other, Amount: decimal.NewFromInt(1)}}}); err != nil {
									return err
								}
								return errBoom
							})
							if !errors.Is(err, errBoom) {
								t.Errorf("failing unit: %v", err)
							}
						case 1: // a batch: hold kept, hold undone, hold+capture kept
							errs, err := l.UpdateBatch(ctx, []func(w *ledger.Writer) error{
								func(w *ledger.Writer) error {
									_, err := w.Hold(ledger.HoldRequest{Key: fmt.Sprintf("k-%d-%d-%d", round, g, i), Account: acct, Asset: "EUR", Amount: decimal.NewFromInt(2), ExpiresAt: exp})
									return err
								},
								func(w *ledger.Writer) error {
									if _, err := w.Hold(ledger.HoldRequest{Account: acct, Asset: "EUR", Amount: decimal.NewFromInt(2), ExpiresAt: exp}); err != nil {
										return err
									}
									return errBoom
								},
								func(w *ledger.Writer) error {
									h, err := w.Hold(ledger.HoldRequest{Account: acct, Asset: "EUR", Amount: decimal.NewFromInt(4), ExpiresAt: exp})
									if err != nil {
										return err
									}
									_, err = w.Capture(ledger.CaptureRequest{Hold: h.ID, Final: true, Destinations: []ledger.Leg{{To: other, Amount: decimal.NewFromInt(1)}, {To: ledger.World, Amount: decimal.NewFromInt(1)}}})
									return err
								},
							})
							if err != nil || errs[0] != nil || !errors.Is(errs[1], errBoom) || errs[2] != nil {
								t.Errorf("batch: %v %v", err, errs)
							}
						case 2: // a hold voided, and voided again
							h, err := l.Hold(ctx, ledger.HoldRequest{Account: acct, Asset: "EUR", Amount: decimal.NewFromInt(5), ExpiresAt: exp})
							if err == nil {
								_, err = l.Void(ctx, h.ID)
							}
							if err == nil {
								_, err = l.Void(ctx, h.ID)
							}
							if err != nil {
								t.Errorf("void: %v", err)
							}
						case 3: // the sweep
							if _, err := l.Tick(ctx); err != nil {
								t.Errorf("tick: %v", err)
							}
						case 4: // repeat a keyed hold
							_, err := l.Hold(ctx, ledger.HoldRequest{Key: fmt.Sprintf("k-%d-%d-%d", round, g, i-3), Account: acct, Asset: "EUR", Amount: decimal.NewFromInt(2), ExpiresAt: now.Add(time.Hour)})
							if err != nil && !errors.Is(err, ledger.ErrIdempotencyConflict) {
								t.Errorf("repeat: %v", err)
							}
						}
					}
				}(g)
			}
			wg.Wait()
			clock.Advance(2 * time.Minute)
		}
		clock.Advance(time.Hour)
		_, err := l.Tick(ctx)
		require.NoError(t, err)
		rep, err := l.Verify(ctx)
		require.NoError(t, err)
		require.NotZero(t, rep.Holds)
		for after := uint64(0); ; {
			evs, err := l.Events(ctx, after, 7)
			require.NoError(t, err)
			if len(evs) == 0 {
				break
			}
			for _, e := range evs {
				if e.Type == ledger.EventTransactionPosted {
					require.Equal(t, fmt.Sprint(e.TxID), e.Subject)
					require.Contains(t, string(e.Data), `"postings":[{`)
				}
			}
			after = evs[len(evs)-1].Seq
		}
	})
}

// TestEventsInsideAUnitOfWork: a Writer reads the log (posted events
// rendered from their transactions) on its own unit of work.
func TestEventsInsideAUnitOfWork(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		l, _ := auditLedger(t, open, ledger.WithLedgerEvents(true))
		want, err := l.Events(ctx, 0, 100)
		require.NoError(t, err)
		require.NoError(t, l.Update(ctx, func(w *ledger.Writer) error {
			if _, err := w.Post(ledger.TransferRequest{Postings: []ledger.Posting{{From: "member:a", To: "member:b", Asset: "EUR", Amount: decimal.NewFromInt(1)}}}); err != nil {
				return err
			}
			got, err := w.Events(0, 100)
			if err != nil {
				return err
			}
			require.Equal(t, want, got)
			return nil
		}))
	})
}

// TestVerifyInsideAUnitOfWork: Reader.Verify checks the snapshot it
// reads; a Writer's reader reads its unit of work, holds included, whose
// events go to the log when its function returns. A sound unit of work
// verifies.
func TestVerifyInsideAUnitOfWork(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		l, _ := auditLedger(t, open)
		_, err := l.Hold(ctx, ledger.HoldRequest{Account: "member:b", Asset: "EUR", Amount: decimal.NewFromInt(1), ExpiresAt: eventEpoch.Add(time.Hour)})
		require.NoError(t, err)
		require.NoError(t, l.Update(ctx, func(w *ledger.Writer) error {
			h, err := w.Hold(ledger.HoldRequest{Account: "member:a", Asset: "EUR", Amount: decimal.NewFromInt(10), ExpiresAt: eventEpoch.Add(time.Hour)})
			if err != nil {
				return err
			}
			if _, err := w.Capture(ledger.CaptureRequest{Hold: h.ID, Destinations: []ledger.Leg{{To: "member:b", Amount: decimal.NewFromInt(4)}}}); err != nil {
				return err
			}
			rep, err := w.Verify(ctx)
			if err != nil {
				return err
			}
			require.Equal(t, 2, rep.Holds)
			require.Zero(t, rep.UnchainedHolds)
			return nil
		}))
		rep, err := l.Verify(ctx)
		require.NoError(t, err)
		require.Equal(t, 3, rep.Events, "two holds created, one captured")
	})
}

// TestVerifyRefusesAHoldForgedAsFromBeforeTheChain: on a ledger whose log
// was chained from its first event, a hold with no events is a forgery,
// whatever creation time it claims. (Holds are numbered in the order they
// are made, so a hold from before the chain has a lower ID than every
// hold created on it.)
func TestVerifyRefusesAHoldForgedAsFromBeforeTheChain(t *testing.T) {
	f, ts := busyFixture(t)
	rep := f.requireSound(t)
	require.Zero(t, rep.UnchainedHolds)
	ts.holds = func(hs []driver.Hold) []driver.Hold {
		last := hs[len(hs)-1]
		return append(hs, driver.Hold{ID: last.ID + 1, Account: alice, Asset: "EUR", Units: 5000,
			Status: driver.HoldVoided, CreatedAt: t0.UnixNano(), ExpiresAt: t0.Add(time.Hour).UnixNano(), ClosedAt: t0.UnixNano()})
	}
	rep, err := f.l.Verify(f.ctx)
	require.ErrorIs(t, err, ledger.ErrVerify, "report: %d unchained holds", rep.UnchainedHolds)
	require.Contains(t, err.Error(), "hold 3 has no ledger.hold.created event")
}

// TestVerifyHoldsFromTwoProcesses: two stores on the same data (two
// processes on one PostgreSQL schema) make, capture and void holds at the
// same time; each chains its events from the head the other left, and the
// log replays into exactly the holds.
func TestVerifyHoldsFromTwoProcesses(t *testing.T) {
	runReopenable(t, func(t *testing.T, s driver.Store, reopen func() driver.Store) {
		ctx := context.Background()
		l1, clock := auditLedger(t, func(testing.TB) driver.Store { return s }, ledger.WithLedgerEvents(true))
		l2 := ledger.New(reopen(), ledger.WithClock(clock), ledger.WithLedgerEvents(true))
		var wg sync.WaitGroup
		for g, l := range []*ledger.Ledger{l1, l2, l1, l2} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				acct := []string{"member:a", "member:b"}[g%2]
				for i := 0; i < 20; i++ {
					h, err := l.Hold(ctx, ledger.HoldRequest{Key: fmt.Sprintf("p-%d-%d", g, i), Account: acct, Asset: "EUR",
						Amount: decimal.NewFromInt(3), ExpiresAt: eventEpoch.Add(time.Hour)})
					if err != nil {
						t.Errorf("hold: %v", err)
						return
					}
					if i%2 == 0 {
						_, err = l.Capture(ctx, ledger.CaptureRequest{Hold: h.ID, Destinations: []ledger.Leg{{To: ledger.World, Amount: decimal.NewFromInt(1)}}})
					} else {
						_, err = l.Void(ctx, h.ID)
					}
					if err != nil {
						t.Errorf("capture or void: %v", err)
						return
					}
				}
			}()
		}
		wg.Wait()
		for _, l := range []*ledger.Ledger{l1, l2} {
			rep, err := l.Verify(ctx)
			require.NoError(t, err)
			require.Equal(t, 80, rep.Holds)
			require.Zero(t, rep.UnchainedHolds)
		}
	})
}
