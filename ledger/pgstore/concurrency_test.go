package pgstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
)

// hammer has workers goroutines each try tries transfers of one EUR from
// hot to one of sinks through l, each with a unique key prefixed by name,
// and returns how many succeeded. Every failure must be
// ErrInsufficientFunds: no conflict or deadlock reaches the caller.
func hammer(t *testing.T, l *ledger.Ledger, name, hot string, sinks []string, workers, tries int) int {
	t.Helper()
	ctx := context.Background()
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	var bad []error
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < tries; i++ {
				key := fmt.Sprintf("%s-%d-%d", name, w, i)
				_, err := l.Transfer(ctx, key, hot, sinks[(w+i)%len(sinks)], "EUR", decimal.NewFromInt(1))
				mu.Lock()
				switch {
				case err == nil:
					ok++
				case !errors.Is(err, ledger.ErrInsufficientFunds):
					bad = append(bad, err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	require.Empty(t, bad, "only insufficient funds may refuse a transfer")
	return ok
}

// requireHot checks the hot account's final balance and the whole ledger.
func requireHot(t *testing.T, l *ledger.Ledger, hot string, funds int64, posted int) {
	t.Helper()
	ctx := context.Background()
	b, err := l.Balance(ctx, hot, "EUR")
	require.NoError(t, err)
	require.True(t, b.Posted.Equal(decimal.NewFromInt(funds-int64(posted))), "no lost update: %s left, %d posted", b.Posted, posted)
	require.False(t, b.Posted.IsNegative(), "no overdraft")
	rep, err := l.Verify(ctx)
	require.NoError(t, err)
	require.True(t, rep.Totals["EUR"].IsZero(), "conservation")
}

// TestConcurrentWritersOneHotAccount: many goroutines over two stores (two
// committers, two sets of connections) drain one hot account with more
// attempts than it has funds.
func TestConcurrentWritersOneHotAccount(t *testing.T) {
	schema := newSchema(t)
	s1, s2 := openStore(t, schema), openStore(t, schema)
	sinks := []string{"member:s1", "member:s2", "member:s3"}
	l1 := newLedger(t, s1, 0, sinks...)
	const funds = 150
	l2 := ledger.New(s2, ledger.WithClock(ledgertest.NewClock(epoch)))
	ctx := context.Background()
	_, err := l1.OpenAccount(ctx, ledger.AccountSpec{Address: "member:hot"})
	require.NoError(t, err)
	_, err = l1.Transfer(ctx, "fund", ledger.World, "member:hot", "EUR", decimal.NewFromInt(funds))
	require.NoError(t, err)

	var wg sync.WaitGroup
	var n1, n2 int
	wg.Add(2)
	go func() { defer wg.Done(); n1 = hammer(t, l1, "a", "member:hot", sinks, 8, 12) }()
	go func() { defer wg.Done(); n2 = hammer(t, l2, "b", "member:hot", sinks, 8, 12) }()
	wg.Wait()
	require.Equal(t, funds, n1+n2, "192 attempts on 150 EUR: exactly 150 succeed")
	requireHot(t, l1, "member:hot", funds, n1+n2)
	requireHot(t, l2, "member:hot", funds, n1+n2)
}

// TestRacingIdempotencyKeys: two stores post the same keys at once; each
// key posts once and both callers get the same transaction.
func TestRacingIdempotencyKeys(t *testing.T) {
	schema := newSchema(t)
	s1, s2 := openStore(t, schema), openStore(t, schema)
	l1 := newLedger(t, s1, 1000, "member:a", "member:b")
	l2 := ledger.New(s2, ledger.WithClock(ledgertest.NewClock(epoch)))
	ctx := context.Background()
	const keys = 40
	got := [2][keys]ledger.Transaction{}
	var wg sync.WaitGroup
	for side, l := range []*ledger.Ledger{l1, l2} {
		for k := 0; k < keys; k++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				tr, err := l.Transfer(ctx, fmt.Sprintf("race-%d", k), "member:a", "member:b", "EUR", decimal.NewFromInt(1))
				require.NoError(t, err)
				got[side][k] = tr
			}()
		}
	}
	wg.Wait()
	for k := 0; k < keys; k++ {
		require.Equal(t, got[0][k].ID, got[1][k].ID, "key %d posted once", k)
	}
	requireHot(t, l1, "member:a", 1000, keys)
}

// TestRacingEventsOnce: two stores race the first calls of the same events
// through kit.RunOnce, whose fn posts without an idempotency key, so only
// the event's claim stops a second payment. Every caller must get the one
// result, without error, and each event must pay once.
func TestRacingEventsOnce(t *testing.T) {
	schema := newSchema(t)
	s1, s2 := openStore(t, schema), openStore(t, schema)
	l1 := newLedger(t, s1, 1000, "member:a", "member:b")
	l2 := ledger.New(s2, ledger.WithClock(ledgertest.NewClock(epoch)))
	ctx := context.Background()
	const events = 20
	got := [2][events]uint64{}
	var wg sync.WaitGroup
	for side, l := range []*ledger.Ledger{l1, l2} {
		for e := 0; e < events; e++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				id, _, err := kit.RunOnce(ctx, l, kit.Event{Kind: "test.event", ID: fmt.Sprintf("ev-%d", e), Op: "pay", Request: e},
					func(w *ledger.Writer) (uint64, error) {
						tr, err := w.Post(ledger.TransferRequest{Postings: []ledger.Posting{
							{From: "member:a", To: "member:b", Asset: "EUR", Amount: decimal.NewFromInt(1)}}})
						return tr.ID, err
					})
				require.NoError(t, err)
				got[side][e] = id
			}()
		}
	}
	wg.Wait()
	for e := 0; e < events; e++ {
		require.Equal(t, got[0][e], got[1][e], "event %d paid once", e)
	}
	requireHot(t, l1, "member:a", 1000, events)
}

// childEnv names the schema a child process writes to.
const childEnv = "REWARDKIT_PGSTORE_CHILD_SCHEMA"

// childMain is the body of the child processes TestSeveralProcesses
// starts (see TestMain): it drains the hot account like hammer and prints
// how many transfers it posted.
func childMain(schema, name string) int {
	ctx := context.Background()
	s, err := Open(ctx, os.Getenv("REWARDKIT_TEST_POSTGRES"), WithSchema(schema))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer s.Close()
	l := ledger.New(s, ledger.WithClock(ledgertest.NewClock(epoch)))
	var wg sync.WaitGroup
	var mu sync.Mutex
	posted, code := 0, 0
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 15; i++ {
				to := []string{"member:s1", "member:s2"}[i%2]
				_, err := l.Transfer(ctx, fmt.Sprintf("child-%s-%d-%d", name, w, i), "member:hot", to, "EUR", decimal.NewFromInt(1))
				mu.Lock()
				switch {
				case err == nil:
					posted++
				case !errors.Is(err, ledger.ErrInsufficientFunds):
					fmt.Fprintln(os.Stderr, "unexpected error:", err)
					code = 1
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	fmt.Printf("posted=%d\n", posted)
	return code
}

// TestSeveralProcesses: two child processes and this one drain one hot
// account at once.
func TestSeveralProcesses(t *testing.T) {
	schema := newSchema(t)
	s := openStore(t, schema)
	l := newLedger(t, s, 0, "member:s1", "member:s2")
	ctx := context.Background()
	_, err := l.OpenAccount(ctx, ledger.AccountSpec{Address: "member:hot"})
	require.NoError(t, err)
	const funds = 200
	_, err = l.Transfer(ctx, "fund", ledger.World, "member:hot", "EUR", decimal.NewFromInt(funds))
	require.NoError(t, err)

	var wg sync.WaitGroup
	outs := make([][]byte, 2)
	errs := make([]error, 2)
	for i := range outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), childEnv+"="+schema, childEnv+"_NAME="+strconv.Itoa(i))
			outs[i], errs[i] = cmd.CombinedOutput()
		}()
	}
	here := hammer(t, l, "parent", "member:hot", []string{"member:s1", "member:s2"}, 6, 15)
	wg.Wait()
	total := here
	for i := range outs {
		require.NoError(t, errs[i], "child %d:\n%s", i, outs[i])
		var n int
		_, err := fmt.Sscanf(string(outs[i][indexOf(outs[i], "posted=")+len("posted="):]), "%d", &n)
		require.NoError(t, err, "child %d output:\n%s", i, outs[i])
		total += n
	}
	require.Equal(t, funds, total, "270 attempts on 200 EUR across three processes")
	requireHot(t, l, "member:hot", funds, total)
}

func indexOf(b []byte, s string) int {
	for i := 0; i+len(s) <= len(b); i++ {
		if string(b[i:i+len(s)]) == s {
			return i
		}
	}
	return -len(s) // makes the Sscanf fail with the output shown
}
