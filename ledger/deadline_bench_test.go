package ledger_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/teststore"
)

// BenchmarkDeadlineOvershoot measures how late past its deadline a caller
// returns when it waits behind a unit of work that does not finish: each
// iteration stalls the store with an Update that blocks, then makes a
// Transfer with a 50 ms deadline and records how long after the deadline
// it returned. It reports the median and the worst overshoot in
// milliseconds (the target is 50 ms or less; the figures are in the
// README). Run with:
//
//	REWARDKIT_TEST_POSTGRES=... go test -run xxx -bench DeadlineOvershoot -benchtime 40x ./ledger/
func BenchmarkDeadlineOvershoot(b *testing.B) {
	b.Run("memstore", func(b *testing.B) { benchDeadlineOvershoot(b, ledger.New(teststore.Memory(b))) })
	b.Run("pgstore", func(b *testing.B) { benchDeadlineOvershoot(b, ledger.New(teststore.Postgres(b))) })
}

func benchDeadlineOvershoot(b *testing.B, l *ledger.Ledger) {
	ctx := context.Background()
	if err := l.DefineAsset(ctx, ledger.EUR); err != nil {
		b.Fatal(err)
	}
	for _, spec := range []ledger.AccountSpec{{Address: ledger.World, Overdraft: ledger.Overdraft{Unbounded: true}}, {Address: "member:w"}} {
		if _, err := l.OpenAccount(ctx, spec); err != nil {
			b.Fatal(err)
		}
	}
	const deadline = 50 * time.Millisecond
	past := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		started, release := make(chan struct{}), make(chan struct{})
		held := make(chan error, 1)
		go func() {
			held <- l.Update(ctx, func(w *ledger.Writer) error {
				// Writes, so that it holds what the waiter needs on
				// every store.
				if _, err := w.Post(ledger.TransferRequest{Postings: []ledger.Posting{{From: ledger.World, To: "member:w", Asset: "EUR", Amount: dec("1")}}}); err != nil {
					return err
				}
				close(started)
				<-release
				return nil
			})
		}()
		<-started
		cctx, cancel := context.WithTimeout(ctx, deadline)
		end, _ := cctx.Deadline()
		_, err := l.Transfer(cctx, "", ledger.World, "member:w", "EUR", dec("1"))
		past = append(past, time.Since(end))
		cancel()
		close(release)
		if herr := <-held; herr != nil {
			b.Fatal(herr)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			b.Fatalf("the waiter returned %v, want the deadline", err)
		}
	}
	b.StopTimer()
	slices.Sort(past)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(past[len(past)/2]), "ms-past-deadline-p50")
	b.ReportMetric(ms(past[len(past)-1]), "ms-past-deadline-max")
	b.ReportMetric(0, "ns/op")
}
