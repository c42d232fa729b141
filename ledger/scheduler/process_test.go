package scheduler_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/pgstore"
	"github.com/rewardkit/rewardkit/ledger/scheduler"
	"github.com/rewardkit/rewardkit/ledger/teststore"
)

// The child process of TestTwoProcesses reads its part from these.
const (
	envChildDSN    = "REWARDKIT_SCHEDULER_CHILD_DSN"
	envChildSchema = "REWARDKIT_SCHEDULER_CHILD_SCHEMA"
	envChildRole   = "REWARDKIT_SCHEDULER_CHILD_ROLE" // "a" or "b": names the child's records
	envChildMode   = "REWARDKIT_SCHEDULER_CHILD_MODE" // "lease", or "single" for SingleReplica
)

const (
	childRuns    = 12                    // runs each child completes
	childHold    = 25 * time.Millisecond // how long a tick keeps its mark, outside any unit of work
	childTimeout = 90 * time.Second
	markKind     = "schedtest.running" // one record, "mark", while a tick runs
	tickKind     = "schedtest.tick"    // one record per completed tick
	childPrefix  = "CHILD "            // a child's line to the parent, on stdout
)

var errOverlap = errors.New("overlap: another process is ticking")

// overlapDetector is a ticker that proves no other ticker runs at the
// same time: it marks a record at its start (failing with errOverlap if
// another process's mark is there), keeps the mark for a while outside
// any unit of work, then clears it and records the tick.
type overlapDetector struct {
	l    *ledger.Ledger
	role string
	seq  int
}

func (d *overlapDetector) Tick(ctx context.Context) (kit.TickReport, error) {
	var rep kit.TickReport
	err := d.l.Update(ctx, func(w *ledger.Writer) error {
		holder, err := w.Record(markKind, "mark")
		if err == nil {
			return fmt.Errorf("%w (%s)", errOverlap, holder)
		}
		if !errors.Is(err, ledger.ErrNotFound) {
			return err
		}
		return w.PutRecord(markKind, "mark", []byte(d.role))
	})
	if err != nil {
		return rep, err
	}
	time.Sleep(childHold)
	d.seq++
	id := fmt.Sprintf("%s-%03d", d.role, d.seq)
	err = d.l.Update(ctx, func(w *ledger.Writer) error {
		holder, err := w.Record(markKind, "mark")
		if err != nil || string(holder) != d.role {
			return fmt.Errorf("%w: the mark changed hands during the tick", errOverlap)
		}
		if err := w.DeleteRecord(markKind, "mark"); err != nil {
			return err
		}
		return w.PutRecord(tickKind, id, []byte(d.role))
	})
	if err != nil {
		return rep, err
	}
	rep.Add(tickKind, id)
	return rep, nil
}

// childSummary is what a child reports to the parent.
type childSummary struct {
	Role     string `json:"role"`
	Runs     int    `json:"runs"`     // runs that took place
	Skipped  int    `json:"skipped"`  // RunOnce calls that found the lease held
	Overlaps int    `json:"overlaps"` // ticks that saw another's mark
	Ticks    int    `json:"ticks"`    // ticks completed
}

// TestSchedulerChildProcess is one child process of TestTwoProcesses; run
// on its own it has nothing to do. It says READY, waits for GO on stdin
// (so that both children start together), calls RunOnce until it has run
// childRuns times, and prints its summary.
func TestSchedulerChildProcess(t *testing.T) {
	dsn := os.Getenv(envChildDSN)
	if dsn == "" {
		t.Skip("a child process of TestTwoProcesses")
	}
	role, mode := os.Getenv(envChildRole), os.Getenv(envChildMode)
	ctx, cancel := context.WithTimeout(context.Background(), childTimeout)
	defer cancel()
	store, err := pgstore.Open(ctx, dsn, pgstore.WithSchema(os.Getenv(envChildSchema)))
	require.NoError(t, err)
	defer store.Close()
	l := ledger.New(store)
	var opts []scheduler.Option
	if mode == "single" {
		opts = append(opts, scheduler.SingleReplica())
	}
	s, err := scheduler.New(l, opts...)
	require.NoError(t, err)
	require.NoError(t, s.Register("overlap", &overlapDetector{l: l, role: role}))

	fmt.Println(childPrefix + "READY")
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "GO\n", line)

	sum := childSummary{Role: role}
	for sum.Runs < childRuns {
		rep, err := s.RunOnce(ctx)
		require.NoError(t, err)
		if !rep.Ran {
			sum.Skipped++
			time.Sleep(time.Millisecond)
			continue
		}
		sum.Runs++
		res, ok := rep.Result("overlap")
		require.True(t, ok)
		switch {
		case errors.Is(res.Err, errOverlap):
			sum.Overlaps++
		case res.Err != nil:
			require.NoError(t, res.Err)
		default:
			sum.Ticks++
		}
		time.Sleep(2 * time.Millisecond) // the other child's turn, if it waits
	}
	b, err := json.Marshal(sum)
	require.NoError(t, err)
	fmt.Println(childPrefix + string(b))
}

// child is a running child process.
type child struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string // the child's CHILD lines
	stderr bytes.Buffer
	output bytes.Buffer // everything else it printed, for a failure
}

// startChild runs this test binary as a child process playing role.
func startChild(t *testing.T, dsn, schema, role, mode string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestSchedulerChildProcess$", "-test.count=1", "-test.timeout=2m")
	cmd.Env = append(os.Environ(), envChildDSN+"="+dsn, envChildSchema+"="+schema, envChildRole+"="+role, envChildMode+"="+mode)
	c := &child{cmd: cmd, lines: make(chan string, 4)}
	cmd.Stderr = &c.stderr
	var err error
	c.stdin, err = cmd.StdinPipe()
	require.NoError(t, err)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	go func() {
		defer close(c.lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if line, ok := strings.CutPrefix(sc.Text(), childPrefix); ok {
				c.lines <- line
			} else {
				c.output.WriteString(sc.Text() + "\n")
			}
		}
	}()
	return c
}

// next returns the child's next CHILD line, failing t if the child ends
// or takes too long first.
func (c *child) next(t *testing.T) string {
	t.Helper()
	select {
	case line, ok := <-c.lines:
		if !ok {
			_ = c.cmd.Wait()
			t.Fatalf("child ended early: %v\n%s%s", c.cmd.ProcessState, &c.output, &c.stderr)
		}
		return line
	case <-time.After(childTimeout):
		t.Fatalf("child silent for %s\n%s", childTimeout, &c.stderr)
		return ""
	}
}

// runChildren runs two children on one fresh schema in mode and returns
// their summaries and the ticks recorded in the database.
func runChildren(t *testing.T, mode string) ([]childSummary, []ledger.Record) {
	t.Helper()
	dsn := teststore.PostgresDSN(t)
	store, schema := teststore.PostgresSchema(t)
	children := []*child{startChild(t, dsn, schema, "a", mode), startChild(t, dsn, schema, "b", mode)}
	for _, c := range children {
		require.Equal(t, "READY", c.next(t))
	}
	for _, c := range children {
		_, err := io.WriteString(c.stdin, "GO\n")
		require.NoError(t, err)
	}
	var sums []childSummary
	for _, c := range children {
		var sum childSummary
		line := c.next(t)
		require.NoError(t, json.Unmarshal([]byte(line), &sum), "child's summary %q", line)
		require.NoError(t, c.cmd.Wait(), "child %s\n%s%s", sum.Role, &c.output, &c.stderr)
		sums = append(sums, sum)
	}
	var ticks []ledger.Record
	err := ledger.New(store).View(context.Background(), func(r *ledger.Reader) error {
		var err error
		ticks, err = r.Records(tickKind, "", 1000)
		return err
	})
	require.NoError(t, err)
	return sums, ticks
}

// TestTwoProcesses runs the scheduler in two processes at once on one
// PostgreSQL schema, each ticking a ticker that detects another ticking
// at the same time. With the lease, no tick ever overlaps another, both
// processes tick, and every tick is recorded once. The control runs the
// same children with SingleReplica (no lease): they do overlap, which
// shows the detector sees an overlap when there is one.
func TestTwoProcesses(t *testing.T) {
	t.Run("lease", func(t *testing.T) {
		sums, ticks := runChildren(t, "lease")
		skipped, byRole := 0, map[string]int{}
		for _, sum := range sums {
			require.Zero(t, sum.Overlaps, "child %s saw another tick at the same time", sum.Role)
			require.Equal(t, childRuns, sum.Runs)
			require.Equal(t, childRuns, sum.Ticks, "child %s: every run ticked", sum.Role)
			skipped += sum.Skipped
		}
		require.Positive(t, skipped, "the children contended for the lease")
		for _, r := range ticks {
			byRole[string(r.Data)]++
		}
		require.Equal(t, map[string]int{"a": childRuns, "b": childRuns}, byRole, "each tick recorded once, by both processes")
		t.Logf("lease: %+v", sums)
	})
	t.Run("single replica (control)", func(t *testing.T) {
		sums, _ := runChildren(t, "single")
		overlaps := 0
		for _, sum := range sums {
			require.Zero(t, sum.Skipped, "no lease, nothing skipped")
			overlaps += sum.Overlaps
		}
		require.Positive(t, overlaps, "without the lease the two processes tick at the same time")
		t.Logf("single replica: %+v", sums)
	})
}
