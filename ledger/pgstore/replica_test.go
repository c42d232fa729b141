package pgstore

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
)

// testReplica is a streaming replica of the test database's cluster,
// started by startReplica and stopped and removed when the test ends.
type testReplica struct {
	dsn  string // key=value connection string of the replica
	port int
	data string // its data directory
	bin  string // the PostgreSQL programs' directory
	run  func(name string, args ...string) ([]byte, error)
}

// pgBin returns the directory of pg_basebackup and pg_ctl matching the
// server's major version, or "" when they are not installed.
func pgBin(major int) string {
	var dirs []string
	if d := os.Getenv("REWARDKIT_TEST_PGBIN"); d != "" {
		dirs = append(dirs, d)
	}
	dirs = append(dirs, fmt.Sprintf("/usr/lib/postgresql/%d/bin", major), fmt.Sprintf("/usr/pgsql-%d/bin", major))
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dirs = append(dirs, strings.TrimSpace(string(out)))
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		dirs = append(dirs, filepath.Dir(p))
	}
	for _, d := range dirs {
		ok := true
		for _, prog := range []string{"pg_basebackup", "pg_ctl", "postgres"} {
			out, err := exec.Command(filepath.Join(d, prog), "--version").Output()
			// "pg_ctl (PostgreSQL) 15.10 ..."
			f := strings.Fields(string(out))
			if err != nil || len(f) < 3 || !strings.HasPrefix(f[2], strconv.Itoa(major)+".") {
				ok = false
				break
			}
		}
		if ok {
			return d
		}
	}
	return ""
}

// startReplica starts a streaming replica of the test database's cluster
// (pg_basebackup -R into a directory of its own, then pg_ctl start on a
// free port) and waits until it streams. It skips t, with one line, when
// the PostgreSQL programs are not installed. Anything else that fails
// fails t: in CI (CI set) always, and elsewhere too, except a primary
// that refuses replication connections, which skips with the line to add
// to its pg_hba.conf.
func startReplica(t *testing.T) *testReplica {
	t.Helper()
	dsn := testDSN(t)
	ctx := context.Background()
	pcfg, err := pgx.ParseConfig(dsn)
	require.NoError(t, err)
	conn, err := pgx.ConnectConfig(ctx, pcfg)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var version int
	require.NoError(t, conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&version))
	bin := pgBin(version / 10000)
	if bin == "" {
		t.Skipf("pg_basebackup, pg_ctl and postgres %d not found (set REWARDKIT_TEST_PGBIN): skipping the replica test", version/10000)
	}

	// The server refuses to run as root: run the programs as postgres.
	run := func(name string, args ...string) ([]byte, error) {
		return exec.Command(filepath.Join(bin, name), args...).CombinedOutput()
	}
	var owner *user.User
	if os.Geteuid() == 0 {
		owner, err = user.Lookup("postgres")
		if err != nil {
			t.Skip("running as root without a postgres user to run the replica as: skipping the replica test")
		}
		runuser, err := exec.LookPath("runuser")
		if err != nil {
			t.Skip("running as root without runuser to run the replica as postgres: skipping the replica test")
		}
		run = func(name string, args ...string) ([]byte, error) {
			return exec.Command(runuser, append([]string{"-u", "postgres", "--", filepath.Join(bin, name)}, args...)...).CombinedOutput()
		}
	}
	base, err := os.MkdirTemp("", "rewardkit-replica-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(base) })
	chown := func(path string) {
		if owner != nil {
			uid, _ := strconv.Atoi(owner.Uid)
			gid, _ := strconv.Atoi(owner.Gid)
			require.NoError(t, os.Chown(path, uid, gid))
		}
	}
	chown(base)
	r := &testReplica{port: freePort(t), data: filepath.Join(base, "data"), bin: bin, run: run}

	host := "127.0.0.1"
	if len(pcfg.Host) > 0 && !strings.HasPrefix(pcfg.Host, "/") {
		host = pcfg.Host
	}
	conninfo := fmt.Sprintf("host=%s port=%d user=%s dbname=postgres", host, pcfg.Port, pcfg.User)
	if out, err := run("pg_basebackup", "-d", conninfo, "-D", r.data, "-R", "-X", "stream", "-c", "fast"); err != nil {
		msg := fmt.Sprintf("pg_basebackup: %v: %s", err, out)
		if os.Getenv("CI") == "" && strings.Contains(string(out), "replication connection") {
			t.Skipf("the primary refuses replication (add `host replication all 127.0.0.1/32 trust` to its pg_hba.conf): skipping the replica test")
		}
		t.Fatal(msg)
	}

	// The settings a hot standby needs at least as high as its primary's.
	var conf strings.Builder
	fmt.Fprintf(&conf, "port = %d\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '%s'\n", r.port, base)
	conf.WriteString("hot_standby = on\nfsync = off\nshared_buffers = 16MB\nlogging_collector = off\n")
	for _, name := range []string{"max_connections", "max_worker_processes", "max_wal_senders", "max_prepared_transactions", "max_locks_per_transaction"} {
		var v string
		require.NoError(t, conn.QueryRow(ctx, "SELECT current_setting($1)", name).Scan(&v))
		fmt.Fprintf(&conf, "%s = %s\n", name, v)
	}
	// Debian keeps the configuration files out of the data directory, so
	// pg_basebackup copied none: write them (over any it copied).
	for name, text := range map[string]string{
		"postgresql.conf": conf.String(),
		"pg_hba.conf":     "local all all trust\nhost all all 127.0.0.1/32 trust\n",
		"pg_ident.conf":   "",
	} {
		path := filepath.Join(r.data, name)
		require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
		chown(path)
	}

	// Stopped and removed even if the test fails from here on.
	t.Cleanup(func() {
		if out, err := run("pg_ctl", "-D", r.data, "-m", "immediate", "-w", "stop"); err != nil && !strings.Contains(string(out), "PID file") {
			t.Logf("stop the replica: %v: %s", err, out)
		}
	})
	logFile := filepath.Join(base, "log")
	if out, err := run("pg_ctl", "-D", r.data, "-l", logFile, "-w", "-t", "120", "start"); err != nil {
		log, _ := os.ReadFile(logFile)
		t.Fatalf("start the replica: %v: %s\n%s", err, out, log)
	}
	r.dsn = fmt.Sprintf("host=127.0.0.1 port=%d user=%s dbname=%s sslmode=disable", r.port, pcfg.User, pcfg.Database)
	waitUntil(t, "the replica streams from the primary", func() bool {
		var status string
		err := r.queryRow("SELECT status FROM pg_stat_wal_receiver", &status)
		return err == nil && status == "streaming"
	})
	return r
}

// queryRow runs one query on the replica.
func (r *testReplica) queryRow(sql string, dst ...any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, r.dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	return conn.QueryRow(ctx, sql).Scan(dst...)
}

// pause stops the replica's replay of the primary's WAL (it still
// receives it) until resume.
func (r *testReplica) pause(t *testing.T) {
	t.Helper()
	var ignored any
	require.NoError(t, r.queryRow("SELECT pg_wal_replay_pause()", &ignored))
	waitUntil(t, "the replica's replay is paused", func() bool {
		var state string
		return r.queryRow("SELECT pg_get_wal_replay_pause_state()", &state) == nil && state == "paused"
	})
}

func (r *testReplica) resume(t *testing.T) {
	t.Helper()
	var ignored any
	require.NoError(t, r.queryRow("SELECT pg_wal_replay_resume()", &ignored))
}

// pgConfig parses the test database's connection string.
func pgConfig(t *testing.T) *pgx.ConnConfig {
	t.Helper()
	cfg, err := pgx.ParseConfig(testDSN(t))
	require.NoError(t, err)
	return cfg
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitUntil polls cond until it holds; it fails t after a minute.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute for: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// replicaLedger opens a store on schema with the replica, and a ledger on
// it with the ledger's own events on.
func replicaLedger(t *testing.T, schema, replicaDSN string, maxLag time.Duration, opts ...Option) (*Store, *ledger.Ledger) {
	t.Helper()
	s := openStore(t, schema, append([]Option{WithReplica(replicaDSN, maxLag)}, opts...)...)
	return s, ledger.New(s, ledger.WithClock(ledgertest.NewClock(epoch)), ledger.WithLedgerEvents(true))
}

// posted reads m:1's posted EUR balance with l.Balance on ctx, and
// whether the replica served the read.
func posted(t *testing.T, ctx context.Context, s *Store, l *ledger.Ledger) (string, bool) {
	t.Helper()
	before := s.Stats().ReplicaReads
	b, err := l.Balance(ctx, "m:1", "EUR")
	require.NoError(t, err)
	return b.Posted.String(), s.Stats().ReplicaReads > before
}

// waitProbes waits until s's replica probe has run n more times.
func waitProbes(t *testing.T, s *Store, n uint64) {
	t.Helper()
	from := s.rep.probes.Load()
	waitUntil(t, "the replica probe runs", func() bool { return s.rep.probes.Load() >= from+n })
}

// TestReadsFromReplica runs a real streaming replica of the test cluster
// and shows where each read goes: Views to the replica while it is within
// its bound (stale by what it has not replayed), to the primary with
// ledger.ReadPrimary, inside Update, and whenever the replica is behind
// its bound, unreachable, not a standby, a copy of another database,
// busy past a second or stopped; Follow and a Consumer do not spin on a
// replica behind the events they were woken for.
func TestReadsFromReplica(t *testing.T) {
	rep := startReplica(t)
	ctx := context.Background()
	schema := newSchema(t)

	// A: a bound of an hour, so that what it reads from the paused
	// replica below is stale whatever the machine's speed.
	sA, lA := replicaLedger(t, schema, rep.dsn, time.Hour)
	require.NoError(t, lA.DefineAsset(ctx, ledger.EUR))
	_, err := lA.OpenAccount(ctx, ledger.AccountSpec{Address: ledger.World, Overdraft: ledger.Overdraft{Unbounded: true}})
	require.NoError(t, err)
	_, err = lA.OpenAccount(ctx, ledger.AccountSpec{Address: "m:1"})
	require.NoError(t, err)
	_, err = lA.Transfer(ctx, "t1", ledger.World, "m:1", "EUR", decimal.NewFromInt(10))
	require.NoError(t, err)
	waitUntil(t, "the replica serves the first transfer", func() bool {
		b, fromReplica := posted(t, ctx, sA, lA)
		return fromReplica && b == "10"
	})
	events, err := lA.Events(ctx, 0, 0)
	require.NoError(t, err)
	require.NotEmpty(t, events)
	seen := events[len(events)-1].Seq

	// Replay paused, a second transfer commits on the primary only.
	rep.pause(t)
	_, err = lA.Transfer(ctx, "t2", ledger.World, "m:1", "EUR", decimal.NewFromInt(5))
	require.NoError(t, err)

	b, fromReplica := posted(t, ctx, sA, lA)
	require.True(t, fromReplica, "a View within the bound goes to the replica")
	require.Equal(t, "10", b, "the replica has not replayed the second transfer")
	b, fromReplica = posted(t, ledger.ReadPrimary(ctx), sA, lA)
	require.False(t, fromReplica, "ReadPrimary goes to the primary")
	require.Equal(t, "15", b)
	before := sA.Stats().ReplicaReads
	require.NoError(t, lA.Update(ctx, func(w *ledger.Writer) error {
		bal, err := w.Balance("m:1", "EUR")
		require.NoError(t, err)
		require.Equal(t, "15", bal.Posted.String(), "a Writer reads the primary")
		return nil
	}))
	require.Equal(t, before, sA.Stats().ReplicaReads, "Update never reads the replica")

	stale, err := lA.Events(ctx, seen, 0)
	require.NoError(t, err)
	require.Empty(t, stale, "the replica has none of the second transfer's events")
	fresh, err := lA.Events(ledger.ReadPrimary(ctx), seen, 0)
	require.NoError(t, err)
	require.NotEmpty(t, fresh)
	// Follow reads the replica first (nothing), is woken by the primary's
	// head and then reads the primary, rather than spinning on the replica.
	fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	followed, err := lA.Follow(fctx, seen)
	cancel()
	require.NoError(t, err)
	require.Equal(t, fresh[0].Seq, followed[0].Seq)
	c := lA.Consumer("replica-test")
	require.NoError(t, c.Commit(ctx, fresh[len(fresh)-1].Seq))
	pos, err := c.Position(ledger.ReadPrimary(ctx))
	require.NoError(t, err)
	require.Equal(t, fresh[len(fresh)-1].Seq, pos)
	// The stale replica does not have the position just committed: Next
	// reads it on the primary, so it does not hand out the handled events
	// again; it waits for new ones.
	nctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	again, err := c.Next(nctx, 0)
	cancel()
	require.ErrorIs(t, err, context.DeadlineExceeded, "Next returned %d events already committed", len(again))
	// Verify on the replica checks its consistent, stale snapshot.
	staleReport, err := lA.Verify(ctx)
	require.NoError(t, err)
	freshReport, err := lA.Verify(ledger.ReadPrimary(ctx))
	require.NoError(t, err)
	require.Equal(t, freshReport.Transactions, staleReport.Transactions+1)

	// B: a bound of a second, opened after the second transfer: the
	// replica never catches up with it while paused, so B reads the
	// primary (and counts the reads it could not send to the replica).
	sB, lB := replicaLedger(t, schema, rep.dsn, time.Second)
	waitProbes(t, sB, 3)
	b, fromReplica = posted(t, ctx, sB, lB)
	require.False(t, fromReplica, "a replica behind its bound is not read")
	require.Equal(t, "15", b)
	require.Zero(t, sB.Stats().ReplicaReads)
	require.NotZero(t, sB.Stats().ReplicaSkips)

	// Replay resumed, B reads the replica again, and it is up to date.
	rep.resume(t)
	waitUntil(t, "the replica serves B again", func() bool {
		b, fromReplica := posted(t, ctx, sB, lB)
		return fromReplica && b == "15"
	})

	// C: the "replica" is the primary itself, which is no standby; D: a
	// replica nobody listens for. Both read the primary, without error.
	sC, lC := replicaLedger(t, schema, testDSN(t), time.Second)
	sD, lD := replicaLedger(t, schema, fmt.Sprintf("host=127.0.0.1 port=%d user=postgres connect_timeout=2", freePort(t)), time.Second)
	waitProbes(t, sC, 2)
	waitProbes(t, sD, 2)
	for _, sl := range []struct {
		s *Store
		l *ledger.Ledger
	}{{sC, lC}, {sD, lD}} {
		b, fromReplica := posted(t, ctx, sl.s, sl.l)
		require.False(t, fromReplica)
		require.Equal(t, "15", b)
		require.Zero(t, sl.s.Stats().ReplicaReads)
		require.Error(t, sl.s.Stats().LastHiddenError, "why the replica is unusable")
	}

	// E: a standby of the right cluster, but another database on it: it
	// is not a copy of the store's database and is never read.
	other := strings.Replace(rep.dsn, "dbname="+pgConfig(t).Database, "dbname=postgres", 1)
	require.NotEqual(t, rep.dsn, other)
	sE, lE := replicaLedger(t, schema, other, time.Hour)
	waitProbes(t, sE, 1)
	b, fromReplica = posted(t, ctx, sE, lE)
	require.False(t, fromReplica)
	require.Equal(t, "15", b)
	require.ErrorContains(t, sE.Stats().LastHiddenError, "not a copy of the primary")
	require.Equal(t, uint64(1), sE.rep.probes.Load(), "the probe stops at a replica of another database")

	// F: one replica connection, held by a View that waits; another View
	// does not wait for it past a second: the primary serves it.
	sF, lF := replicaLedger(t, schema, rep.dsn, time.Hour, WithReadConns(1))
	waitUntil(t, "the replica serves F", func() bool {
		b, fromReplica := posted(t, ctx, sF, lF)
		return fromReplica && b == "15"
	})
	held, release, viewErr := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		viewErr <- lF.View(ctx, func(*ledger.Reader) error { close(held); <-release; return nil })
	}()
	<-held
	skips := sF.Stats().ReplicaSkips
	b, fromReplica = posted(t, ctx, sF, lF)
	close(release)
	require.NoError(t, <-viewErr)
	require.False(t, fromReplica, "a View waiting for a replica connection goes to the primary")
	require.Equal(t, "15", b)
	require.Equal(t, skips+1, sF.Stats().ReplicaSkips)
	b, fromReplica = posted(t, ctx, sF, lF)
	require.True(t, fromReplica, "a slow replica is not taken for a dead one")
	require.Equal(t, "15", b)

	// The replica stops: B's next reads go to the primary, without error.
	out, err := rep.run("pg_ctl", "-D", rep.data, "-m", "fast", "-w", "stop")
	require.NoError(t, err, "%s", out)
	for i := 0; i < 3; i++ {
		b, fromReplica = posted(t, ctx, sB, lB)
		require.False(t, fromReplica)
		require.Equal(t, "15", b)
	}
	_, err = lB.Verify(ctx)
	require.NoError(t, err)
}

// TestReplicaOptionErrors: a replica connection string Open cannot parse
// fails Open, before anything is written.
func TestReplicaOptionErrors(t *testing.T) {
	dsn := testDSN(t)
	_, err := Open(context.Background(), dsn, WithSchema(newSchema(t)), WithReplica("postgres://[::1", time.Second))
	require.ErrorContains(t, err, "replica")
	_, err = Open(context.Background(), dsn, WithSchema(newSchema(t)), WithReplica("", time.Second))
	require.Error(t, err)
}
