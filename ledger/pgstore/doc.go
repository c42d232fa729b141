// Package pgstore is the PostgreSQL store (a ledger/driver.Store): the
// store integrators deploy. It passes the same conformance suite as memstore
// (ledger/storetest) and adds durability, many writers across processes,
// group commit and a schema that refuses bad data by itself.
//
// # Usage
//
//	s, err := pgstore.Open(ctx, "postgres://app@db:5432/rewards?sslmode=disable")
//	if err != nil {
//		return err
//	}
//	defer s.Close()
//	l := ledger.New(s)
//	_, err = l.Transfer(ctx, "order-42", "member:1", "member:2", "EUR", decimal.RequireFromString("5.00"))
//
// Open applies the embedded, numbered migrations (migrations/*.sql) under
// an advisory lock, so several processes may open one database at once;
// WithSchema keeps the tables in a schema of their own. A schema name is
// at most 63 bytes of lower-case letters, digits and underscores (longer
// names would be truncated by PostgreSQL, and two tenants could share a
// journal): Open refuses others with ErrInvalidSchema. Open reads no
// journal data: its cost does not grow with history.
//
// Migration 0005 makes the event log a hash chain (each event's hash
// covers the one before, as the journal's do) and the events immutable.
// Stop every writer running a version from before it before the first
// process opens the database with it: an older writer would append events
// without a hash and holds without events, which Verify reports as a break
// in the chain. Events written before the migration (no hash) are accepted
// as a prefix of the log and counted in VerifyReport.UnchainedEvents.
//
// # Concurrency
//
// Every writing unit of work first locks the single row of ledger_head
// (SELECT ... FOR UPDATE). That one lock, always taken first, serialises
// writers across connections and processes, so there is one lock order
// and no deadlock can arise; balances are then locked with SELECT ... FOR
// UPDATE in (address, asset) order. Transactions run at READ COMMITTED:
// once the head lock is held, nothing another writer changes can move.
// Idempotency keys (transactions and holds) and "reversed at most once"
// are unique in the database as well (partial unique indexes), so even a
// writer that bypassed the head lock could not post one key twice; such a
// race, a serialisation failure or a deadlock is reported as
// ledger.ErrConflict, which ledger.Ledger retries.
//
// # Group commit
//
// A Store has one committer goroutine with its own connection. Update
// calls that arrive while a group is being committed wait in a queue; the
// next group takes all of them (up to WithMaxGroup) into one database
// transaction, runs their functions one after another, and makes them
// durable with one COMMIT. Each function is isolated: its writes are
// buffered in memory and sent in pipelined batches (one statement per
// table, unnest of arrays); a function that fails or panics has its
// buffered writes dropped, and if it had sent some early (a read after a
// write) they are rolled back to the SAVEPOINT taken before them. One
// refused request therefore never fails its neighbours. If the COMMIT
// fails, every caller of the group gets an error, never a success. When
// callers are already waiting, the next group's BEGIN and head lock ride
// in the same round trip as the COMMIT.
//
// Round trips are the cost, so the committer avoids them: balances locked
// by a group are cached, and the cache survives to the next group only if
// the head row's version shows no other writer committed in between
// (balances served from it are not re-locked: under the head lock, with
// no other commit since, they cannot have moved); accounts and assets,
// which never change, are cached too (see Memory for the bounds of every
// cache). UpdateBatch (Ledger.PostBatch)
// runs a caller's many functions in one transaction of their own.
//
// # Idempotency keys
//
// The journal's unique index on keys is the only authority on whether a
// key is taken; no cache is trusted to be complete. Asking the database
// about every key would cost each request a round trip, so the committer
// keeps a bounded cache of keys that may be taken (WithKeyCache, 65536 by
// default: keys it committed recently and keys of groups that failed). A
// key in the cache is looked up, so the retry of a recent request replays
// its transaction. A key not in it, nearly every request's, is answered
// "new" without a round trip, and the database checks that answer before
// the group commits: a key the group appends by the unique index, one it
// only asked about by a check sent with the COMMIT. If the answer was
// wrong (a retry of a request posted by another process, or forgotten by
// the cache), the group is rolled back whole with ledger.ErrConflict and
// its keys join the cache; Ledger retries, and the retry replays. The
// groups right after such a rollback look every key up, so a storm of old
// retries cannot roll groups back again and again. Stats counts these
// rollbacks (KeyRechecks).
//
// # Records
//
// A group keeps a view of every record it read or wrote: under the head
// lock no other writer can change a record, so a record read once (found
// or missing) is answered from memory for the rest of the group, what the
// group wrote is read back without sending its writes, and InsertRecord
// after a read (kit.Once's load, then its claim) asks nothing more. A
// record the group neither read nor wrote is read from the database alone,
// without the group's buffered writes (none of them is to it), so reads
// of records never cost a flush or a SAVEPOINT. Between groups, records
// are cached like balances (about 8 MB; used only while no other writer
// has committed since this store's last group; off with
// WithBalanceCache(0)).
//
// Event records are new nearly every time, so for a record kind whose
// last 256 reads in the database all found nothing, a record missing from
// both caches is taken for missing without a read, as keys are taken for
// new: before the group sends any write or commits, one statement checks
// in the database that none of the records it took for missing exists.
// If one does (another process wrote it, or the cache forgot it), the
// group is rolled back whole with ledger.ErrConflict, which Ledger
// retries; the group's records become hints that are always read, the
// kind is read again until another 256 reads find nothing, and the next
// groups read every record. Stats.KeyRechecks counts these rollbacks with
// the keys'. WithKeyCache(0) turns this off with the key cache.
//
// # Deadlines
//
// A caller's context bounds its wait. What it observes when the context
// ends depends on how far its request got:
//
//   - still queued (waiting for the committer, or in a group whose BEGIN
//     or earlier units of work are running): the request is withdrawn and
//     the caller returns at once with an error wrapping ctx.Err(); its
//     functions never run and nothing of it is committed (a
//     compare-and-swap decides between the caller withdrawing and the
//     committer starting the request, so exactly one of them wins);
//   - its function running: when the function returns, its writes are
//     abandoned (an Update) or the whole batch is (an UpdateBatch), as if
//     the commit had never been sent; the caller waits for that and gets
//     an error wrapping ctx.Err();
//   - its function returned: the group may commit, so the caller waits
//     for the group's outcome and is told the truth about what was kept.
//
// In the last two cases the wait is bounded by the statement timeout
// (WithStatementTimeout, 5 s by default): SET LOCAL statement_timeout in
// every group's transaction bounds each statement, the wait for the head
// lock and for balance locks another process holds included, and a group
// of Updates that has run longer than the timeout runs none of its
// remaining units of work and is rolled back. Either way every caller of
// the group gets an error wrapping ErrStatementTimeout (not
// ledger.ErrConflict, so Ledger does not retry it) and nothing of the
// group is committed. A function blocked in its own code cannot be
// interrupted: it holds its group until it returns, and then the group
// fails. Callers behind it that have a deadline are withdrawn at it.
//
// In the tests (TestConformance/suite/DeadlineWhileWaiting,
// TestStatementTimeoutBoundsStalledGroup, TestStalledUnitOfWorkFailsItsGroup)
// a caller with a 300 ms deadline queued behind a blocked unit of work
// returns within 3 ms past its deadline (0.4 to 2.7 ms measured).
//
// # Tracing
//
// The statements a unit of work sends run on the committer's connection
// with a context that carries its caller's values (a span, for a pgx
// tracer set in the ConnConfig given to OpenConfig) and the group's
// cancellation: a caller giving up cannot cancel a statement its group's
// neighbours depend on. The group's own statements (BEGIN and the head
// lock, and the round trip that sends the last writes with COMMIT, shared
// by every caller of the group) carry the store's context.
//
// # Observability
//
// WithLogger, WithTracerProvider and WithMeterProvider, as in package
// ledger (whose spans and metrics cover each unit of work): by default
// the global OpenTelemetry providers, followed even when installed after
// Open, and a logger that discards.
//
// Each group commit is a span "pgstore.group" (kind client), from the
// committer taking the group to its COMMIT. A group serves many callers, so it is the child of
// none: it carries a link to the span of each caller (ledger.Update or
// ledger.UpdateBatch) and the attributes rewardkit.group.size (units of
// work run) and rewardkit.group.requests, and on failure rewardkit.code
// and an Error status (every caller got the error). Each caller's span
// gets rewardkit.group.size too, so a slow unit of work can be told from
// one that shared a large group.
//
// Metrics (scope "github.com/rewardkit/rewardkit/ledger/pgstore"):
//
//	rewardkit.pgstore.group.size           histogram, {unit}: units of work per durable commit
//	                                       (committed groups only; an UpdateBatch is a group)
//	rewardkit.pgstore.groups               observable counter: Stats.Groups
//	rewardkit.pgstore.key_rechecks         observable counter: Stats.KeyRechecks
//	rewardkit.pgstore.begin_retries        observable counter: Stats.BeginRetries
//	rewardkit.pgstore.read_retries         observable counter: Stats.ReadRetries
//	rewardkit.pgstore.late_begin_failures  observable counter: Stats.LateBeginFailures
//	rewardkit.pgstore.replica.reads        observable counter: Stats.ReplicaReads
//	rewardkit.pgstore.replica.skips        observable counter: Stats.ReplicaSkips
//	rewardkit.pgstore.queue.length         observable gauge, {request}: units of work waiting
//
// Close unregisters the callback that reports them.
//
// Logs: every error the store handles without returning it to a caller is
// logged with its context. At Warn: a connection found dead at BEGIN and
// replaced (a group's, or an idle read connection's), the next group's
// BEGIN sent with a COMMIT that stood and failed (the commit is kept), a
// ROLLBACK that failed (the connection is closed, which rolls back on the
// server), a failed ROLLBACK after a failed migration or a panicking View.
// At Info: a group rolled back because an idempotency key it took for new
// was in the journal, or a record it took for missing existed (its
// callers retry). At Debug: errors that follow
// from one already returned (closing a batch after a failed statement,
// ending a View whose function failed) and connections that failed to
// close while being dropped.
//
// # Connection loss
//
// What provably wrote nothing is retried; what may have written is not:
//
//   - a group whose BEGIN fails because the committer's connection died
//     (an idle connection killed by a server restart or an administrator)
//     begins again on a new connection: no function of it has run;
//   - a View whose BEGIN fails on a dead connection from the idle pool
//     begins again on another: reads are idempotent and nothing ran;
//   - a connection lost while functions run fails the group: the server
//     rolls back a transaction whose connection died before its COMMIT;
//   - a COMMIT whose answer is lost has an unknown outcome and is never
//     sent again: every caller of the group gets an error that is not
//     ledger.ErrConflict, so Ledger does not retry it blindly. Retrying
//     the request with its idempotency key is safe: the key is looked up
//     in the database (a failed group's keys join the key cache), so it
//     replays the transaction if the COMMIT stood and posts it otherwise.
//
// Stats counts what the store handled without telling any caller (BEGINs
// sent again, a BEGIN sent with a COMMIT that failed while the COMMIT
// stood) and keeps the last such error.
//
// # Defence in depth
//
// The schema refuses by itself: a posting amount of zero or less (CHECK),
// a posting from an account to itself, a second transaction or hold with
// one idempotency key (unique index), a second reversal of one
// transaction (unique index), a negative held amount, a capture beyond
// its hold. Every posting moves one amount from one account to another,
// so the schema cannot even express an unbalanced transaction. On
// PostgreSQL, triggers refuse UPDATE, DELETE and TRUNCATE of posted
// journal rows (transactions, postings), and a statement-level trigger
// refuses a transaction without postings (the store inserts postings
// first).
//
// # Memory
//
// Opening a store reads nothing proportional to its data: Open connects,
// applies the migrations the schema lacks (one short transaction each,
// which finds a migration applied by its row in schema_migrations) and
// starts the committer, which connects when the first group begins. No
// key, account or balance is read until a unit of work asks for it, and
// BenchmarkOpen shows opening a journal of millions of transactions takes
// as long as opening an empty one.
//
// What a store keeps in memory is bounded whatever the size of the
// journal: the committer's caches, none of them an authority (a miss
// reads the database), each with a bound and a size at the defaults:
//
//   - balances (WithBalanceCache, 65,536): about 200 bytes each, 13 MB;
//     emptied when full, and used only while no other writer has
//     committed since this store's last group;
//   - accounts (WithAccountCache, 131,072): about 200 bytes each plus
//     limits and metadata, 25 MB for accounts without metadata;
//   - assets: at most 1,024;
//   - idempotency keys (WithKeyCache, 65,536): about 80 bytes each plus
//     the key, 5 MB for keys of 20 bytes, 20 MB at most;
//   - records: about 8 MB of kinds, IDs and data (a record larger than
//     512 KB is never cached), under the balance cache's rule; and up to
//     4,096 record hints and the read counts of up to 1,024 record kinds.
//
// Accounts, assets and keys are kept in two generations: an entry in use
// stays, one unused for a whole generation is dropped. A group's own
// balances, keys and accounts live as long as the group, which
// WithMaxGroup units of work (or one UpdateBatch) bound. Connections are
// one for the committer and up to WithReadConns for reads; each prepares
// statements from the store's fixed set of SQL texts (pgx keeps at most
// 512 per connection). So a store at the defaults holds about 55 MB of
// cached data at most, with typical keys and accounts.
//
// # Portability
//
// The SQL of the store itself keeps to what PostgreSQL, CockroachDB and
// YugabyteDB document in common: BIGINT, BYTEA, TEXT, BOOLEAN; INSERT ...
// ON CONFLICT; SELECT ... FOR UPDATE; row-value comparison; unnest of
// several arrays; partial unique indexes; no sequences (IDs come from the
// head row). It was run against PostgreSQL 15 only. What differs:
//
//   - migrations/0002_immutable_journal.sql uses PL/pgSQL triggers and a
//     transition table: PostgreSQL (and YugabyteDB's PostgreSQL layer)
//     only. Without it, revoke UPDATE and DELETE on transactions and
//     postings from the application's role; the hash chain ledger.Verify
//     checks still exposes any edit;
//   - migrations/0003_balances_fillfactor.sql sets a PostgreSQL storage
//     parameter (room for HOT updates of balances); elsewhere skip it;
//   - migrations take pg_advisory_xact_lock, which CockroachDB lacks:
//     there, run Migrate from one process;
//   - statements are planned per execution (plan_cache_mode =
//     force_custom_plan, set at connect time unless the connection string
//     sets it), so that plans made while the tables were empty do not
//     outlive them; drop it where the setting is unknown;
//   - TEXT COLLATE "C" gives byte-order sorting of addresses and asset
//     codes, which is CockroachDB's default STRING order (whether it
//     accepts the clause was not checked);
//   - CockroachDB runs SERIALIZABLE and may return 40001 more often: it
//     is mapped to ledger.ErrConflict, which ledger.Ledger retries.
//
// # Past one server
//
// One Store is one ledger: one journal and hash chain, one head row that
// every writer locks, one committer. When one PostgreSQL server cannot
// carry it, the way on is several independent ledgers, each in a schema
// (WithSchema) or a database of its own and opened as a Store of its own,
// with its own journal, head row and committer; each can then live on a
// server of its own. They share nothing: no unit of work, transfer or
// Verify spans two of them, and an account lives in one. Split along what
// stays together (a tenant, a region, a program). A flow that moves value
// from one ledger to another is the caller's saga: for instance a
// transfer into a clearing account of the first ledger, then one out of a
// clearing account of the second, each with its own idempotency key, and
// a transfer back into the first if the second is refused.
//
// On one server, BenchmarkTwoLedgers (a 2-core machine running no other
// benchmark): two ledgers in two schemas with 16 callers each posted
// 136–168% of the rate of one ledger with 16 callers, and 101–123% of one
// ledger with 32 callers, the same offered load (one committer with 32
// callers commits groups of 16 transfers, two with 16 each groups of 8).
// With another process taking one of the two cores they posted 97–112%
// and 69–75%: the server's CPU was then the limit. On one server a second
// ledger buys isolation (its writers never wait for the other's head
// lock) more than throughput. Ledgers on servers of their own were not
// measured.
//
// A Store cannot be opened on a read-only standby: Open applies the
// migrations, which write, and a read-only server refuses them (SQLSTATE
// 25006). A standby serves reads of a Store opened on its primary
// instead (next section).
//
// # Reads from a replica
//
// WithReplica(dsn, maxLag) (or WithReplicaConfig) lets a PostgreSQL
// streaming replica of the store's database serve View: every read of
// ledger.Ledger.View and its Reader, ledger.Ledger's read methods
// (Balance, Balances, History, Transactions, BalanceAt, HoldByID,
// Events, Verify, ...) and kit's listings. The primary keeps everything
// else. The replica is any hot standby that streams from the primary
// (pg_basebackup -R, or a managed read replica); the store migrates the
// primary only, and the standby replays the migrations with the rest.
// The replica's connections use the primary's schema (WithSchema) and as
// many connections as WithReadConns (4 by default).
//
// Staleness bound. A probe runs every maxLag/4 (at least 10 ms, at most
// 1 s): it notes the time T, reads the primary's flushed WAL position
// (pg_current_wal_flush_lsn(), at or after every commit that returned
// before T), and reads the position the replica has replayed
// (pg_last_wal_replay_lsn()). Once the replica has replayed the position
// noted at T, it holds every commit that returned before T. A View goes
// to the replica only if that T is at most maxLag old when View is
// called, so a View served by the replica sees every Update that returned
// at least maxLag before View was called, and misses at most the Updates
// of the last maxLag; as any View it is one consistent snapshot, never
// half a unit of work. maxLag 0 means 1 s. The bound is measured on this
// process's monotonic clock, so the servers' clocks do not matter; an
// idle primary costs the probe nothing to prove (no WAL to replay). It
// assumes synchronous_commit is on for the store's sessions (the
// server's default, which the store's durability rests on anyway): with
// it off, a commit returns before its WAL is flushed and may be up to
// wal_writer_delay later than the bound says. (A cluster that must serve
// replica reads that never miss a write can instead make the standby
// synchronous with synchronous_commit = remote_apply: every commit then
// waits for the standby to apply it.)
//
// Fallback. A View goes to the primary instead when the replica is behind
// its bound (a long transaction replaying, replay paused, a network
// partition), not reachable, not a standby (pg_is_in_recovery() false:
// the primary itself, or a promoted standby whose writes are its own),
// not probed yet (right after Open), or when it fails to begin the View's
// transaction, or takes more than a second to (waiting for a free
// connection, connecting, BEGIN: a partition where connecting hangs must
// not hold reads up). A replica connection lost while a View's function
// runs fails that View (its function is not run twice) and sends the next
// ones to the primary until the probe proves the replica fresh again. A
// server whose system identifier or database name differs from the
// primary's (a replica of another cluster, a wrong dsn) is never read,
// and the error is logged. Open does not fail on an unreachable replica,
// only on a dsn it cannot parse. Stats.ReplicaReads counts the Views the
// replica served, Stats.ReplicaSkips those the primary served because the
// replica was not proven fresh or did not begin; the first bad news after
// good is logged at Warn, the recovery at Info.
//
// Reading the primary. A View whose context comes from
// ledger.ReadPrimary(ctx) (driver.WithPrimary) goes to the primary and
// sees every Update that returned before it. There is no automatic
// read-your-writes: a caller that must see what it has just written (a
// balance shown right after a top-up, a check before a decision) reads
// with ledger.ReadPrimary. Successive Views that alternate between the
// replica and the primary may go back in time by up to maxLag.
//
// What never goes to the replica: Update and UpdateBatch, and every read
// a Writer makes inside them (the committer's connection); migrations;
// WaitEvents (LISTEN/NOTIFY on the primary); the scheduler's lease; and
// the ledger's own reads that decide what to write or when to wake:
// Ledger.Tick's due holds, kit.Outbox.Drain's due entries (a stale list
// would make calls to the outside world again), a Consumer's committed
// position (Next), and Follow's reads after a wake-up (the notification
// came from the primary, so a replica behind it would answer nothing,
// again and again). Follow's first read, which catches up, may be served
// by the replica, and so may kit.EachDue's first look at the due entries:
// it reads them again inside its Writer, on the primary, and an entry
// already handled is skipped there.
//
// A read on a hot standby can be cancelled when replay needs the rows it
// reads (SQLSTATE 40001, "conflict with recovery", after the standby's
// max_standby_streaming_delay): View returns it as an error wrapping
// driver.ErrConflict, and the read may be retried.
//
// TestReadsFromReplica starts a real replica of the test cluster
// (pg_basebackup -R into a temporary directory, pg_ctl on a free port; run
// as the postgres user when the test runs as root) and shows each case:
// reads served stale by the paused replica within the bound, ReadPrimary
// and Writer reads from the primary, a replica behind its bound, one not
// a standby, one of another database, one not reachable, one whose only
// connection is busy, one stopped. It skips when
// pg_basebackup, pg_ctl and postgres of the server's major version are
// not found (REWARDKIT_TEST_PGBIN names their directory), and outside CI
// when the primary refuses replication connections; .ci/run adds
//
//	host replication all 127.0.0.1/32 trust
//
// to the primary's pg_hba.conf.
//
// # Benchmarks
//
// With REWARDKIT_TEST_POSTGRES set,
//
//	go test -run '^$' -bench . -benchtime 3s ./ledger/pgstore/
//
// reports transfers per second (durable commits) for 16 concurrent
// callers of Ledger.Transfer on 10,000 accounts, 16 callers all paying
// from one hot account, and one caller of Ledger.PostBatch with 100
// transfers per call; every transfer carries its own idempotency key.
package pgstore
