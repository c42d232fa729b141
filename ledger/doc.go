// Package ledger is rewardkit's double-entry ledger: every reward program
// (referral, gifting, shoutout, subscription, adsbuy, payout) is a rule set
// over it.
//
// # Model
//
//   - An Asset is a code and a precision (EUR 2, COIN 0). Amounts are
//     decimal.Decimal in the API and int64 minor units inside; an amount
//     with more decimals than its asset allows is refused (ErrPrecision),
//     never rounded.
//   - An Account is an address ("member:42", "platform:revenue", World)
//     holding a balance per asset. Accounts are opened explicitly, so a
//     typo is ErrUnknownAccount rather than a new account. None may go
//     below zero unless opened with an Overdraft: a limit per asset, or
//     Unbounded for issuing and exchange accounts.
//   - A Transaction is an atomic, append-only set of Postings, each moving
//     a positive amount of one asset from one account to another. Because
//     each posting balances itself, every asset sums to zero across all
//     accounts, always: the ledger's conservation law.
//   - Idempotency: a request's Key makes retries safe. The same key with
//     the same request returns the original and posts nothing; with a
//     different request it is ErrIdempotencyConflict.
//   - Holds reserve funds (two-phase transfers): capture part or all to
//     one or more destinations, void, or let them expire. Balances report
//     Posted, Held and Available. An expired hold keeps its funds reserved
//     until the first of Ledger.Tick's sweep or a Void, either of which
//     closes it as HoldExpired and releases what it has left; in between, a
//     Capture on it is ErrHoldExpired and writes nothing. A program that
//     gets ErrHoldExpired calls Void in the same unit of work to have the
//     funds back at once.
//   - Conversions move one asset into another at an exact rational Rate
//     with a declared Rounding through an exchange account; what rounding
//     leaves over is booked to a named remainder account, and a fee to a
//     fee account, so no conversion creates or destroys value.
//   - Reversals undo a transaction with a new, linked one, at most once.
//   - Verify replays the journal: IDs, the SHA-256 hash chain, running
//     balances, stored balances, held amounts, limits and conservation;
//     and the event log: its own hash chain, and every hold against its
//     events and the journal's captures of it. Its memory is bounded
//     (balances and holds are checked in batches). VerifyFrom checks only
//     what came after a Checkpoint kept from an earlier report.
//   - Reads (View and the read methods) see every committed Update, except
//     on a store that serves them from a replica (pgstore.WithReplica),
//     which may miss the Updates of the last moments, within the bound it
//     documents; ReadPrimary(ctx) reads the primary. Reads inside Update
//     always see everything committed, and the unit of work's own writes.
//   - Lots: a credit can carry an expiry; the balance then keeps it as a
//     lot, spends lots soonest-expiring first, and Tick moves what an
//     expired lot still holds to a named breakage account (see Lots and
//     expiry).
//
// # Lots and expiry
//
// A posting (or a capture's Leg) with ExpiresAt set makes its credit a
// lot of the balance it lands on, which expires then; Breakage names the
// opened account an expired lot's rest moves to. The expiry must be after
// now, the receiving account bounded (an unbounded account keeps no lots),
// and the breakage account another account; anything else is
// ErrInvalidTransaction (or ErrInvalidTime, ErrUnknownAccount) and nothing
// is written. Credits without an expiry are no lots: they are the part of
// the balance that never expires.
//
//   - Order: a debit of the balance (a transfer, a capture, a conversion,
//     an expiry) consumes its lots soonest expiry first; among lots of the
//     same expiry, the older grant first (then the lower posting index);
//     the part that never expires is consumed last. A reversal of a grant
//     takes back that grant's own lot first; a reversal of a debit gives
//     back the lots the debit consumed, with their own expiries (a lot
//     past its expiry is settled at the next Tick). A reversal of an
//     expiry transaction undoes the breakage: what it gives back never
//     expires (the lot was settled once).
//   - Lots cover the positive part of a balance: a credit to a balance
//     below zero (an overdraft) first makes up the shortfall, and only
//     what it raises the balance above zero becomes a lot.
//   - Expiry: Ledger.Tick (after releasing expired holds) settles each
//     expired lot in a transaction of its own, from the balance to the
//     lot's breakage account, with metadata "ledger.lot.expired" naming the
//     lot ("<grant transaction>.<posting>") and an EventLotExpired event.
//     Balances are found through the due index (DueLotExpiry), never by a
//     scan. Each balance is settled in a unit of work that holds the
//     journal's head, so racing Ticks, on any number of processes, settle a
//     lot once. Ledger.ExpireLots does the lots alone; ledger/scheduler
//     runs both.
//   - Held funds: a hold reserves the balance's lots in consumption order
//     (its capture consumes them first), so a lot's rest moves only as far
//     as the lots up to it hold more than the held amount, and never
//     beyond what the balance has available (posted less held): money
//     credited while a lot is held is not that lot's to lose. What a hold
//     reserves stays in the lot, which stays due: a capture consumes the
//     expired lot first, and every later Tick moves what has become
//     available (after a Void, at once). Holds never lose their funds to
//     an expiry.
//   - Reading: Reader.Lots lists a balance's open lots in consumption
//     order, with the part that never expires last; Balance.Expiring says
//     what expires when.
//   - Storage and audit: the expiry and breakage account of a grant, and
//     the lots each posting consumed, are kept in the transaction's
//     metadata under "ledger.lot." keys (which callers may not set), so
//     they are hash-chained; a balance's open lots are kept in a record of
//     the ledger's own kind "ledger.lots". Verify replays every lot from
//     the journal and checks that each transaction's consumed lots, and
//     each balance's stored lots, are the replay's, that a balance's lots
//     add up to no more than its positive posted amount (so lots plus the
//     never-expiring part equal what is posted), and that every balance
//     with lots is due. VerifyFrom does not check lots.
//   - Cost: a posting reads the lots of a balance only when it debits a
//     bounded account, credits one with an expiry, or reverses a debit of
//     one: one record read per such balance (on PostgreSQL, one query);
//     credits without an expiry read nothing. Reader.Balance and
//     Reader.Balances read the lots of a bounded account's balances too,
//     for Expiring.
//
// # Bounded inputs
//
// Every input is judged before any work that grows with it, and refused
// with a typed error in a short message; no public function panics on any
// input but MustRate and NewRate, which are for constants.
//
//   - Amounts are int64 minor units inside; every sum the ledger keeps
//     (balances, held amounts, capture totals, conversion arithmetic,
//     Verify's replay and totals) is checked, and one that would leave the
//     int64 range is ErrOverflow and writes nothing.
//   - A decimal is judged from its exponent and the size of its
//     coefficient first (Asset.Units), so 1e2147483647 is ErrOverflow and
//     1e-2147483648 ErrPrecision at once, and a coefficient of millions of
//     digits costs no more than a copy.
//   - Times are kept as Unix nanoseconds, which only reach 2262: every time
//     that enters the ledger (a hold's expiry, BalanceAt's moment, a due
//     time, the clock's own reading in each unit of work) must lie in
//     [MinTime, MaxTime), else ErrInvalidTime and nothing is written.
//   - Strings a caller chooses (addresses, asset codes, keys, rule names)
//     appear in messages cut to a few dozen bytes.
//
// Ledger.Tick releases each expired hold in a unit of work of its own (a
// savepoint), so one hold that cannot be released is reported by ID and
// holds up no other.
//
// # Errors
//
// Every error matches a sentinel of errors.go with errors.Is, and
// ErrorCode gives its Code, which names the HTTP status it maps to
// (Code.HTTPStatus): a service maps any error of the ledger or of a
// program in one line. Programs declare their sentinels with NewError, so
// that a program's refusal decides the code before a ledger sentinel it
// wraps. A refusal by a named rule is a Refusal, and RuleOf returns the
// rule's name as data.
//
// # Events
//
// Every change that matters becomes an event in the store's event log,
// written in the same unit of work as the change: committed with it, or
// not at all, so no event is lost and none reports what did not happen.
// An Event has a gap-free sequence number (Seq, the consumers' cursor), a
// UUIDv7, a type ("gifting.gift.sent"), a subject, the unit of work's
// clock time, the journal transaction it goes with (TxID) and JSON data;
// CloudEvent gives its CloudEvents 1.0 JSON form.
//
// The ledger emits its own: EventHoldCreated, EventHoldCaptured,
// EventHoldVoided, EventHoldExpired and EventLotExpired always, and with
// WithLedgerEvents(true) also EventTransactionPosted for every journal
// transaction, EventTransactionReversed and EventAccountOpened (each
// constant documents its data). Programs emit theirs with Writer.Emit,
// inside the In method that makes the change.
//
// The event log is hash-chained as the journal is: each event's hash
// covers the one before it, so the log is the audit trail of what the
// journal does not hold — holds created, captured, voided and expired,
// and every program's state changes — and Verify checks it: the chain,
// and every stored hold against its events and the journal's captures.
// Events are buffered in the Writer and appended to the store once, when
// the unit of work's function returns; a failed unit of work, batch item
// or Atomic step leaves none.
//
// Balance monitors (Ledger.AddMonitor) watch thresholds: a Monitor names
// an account or an address prefix ("member:*"), an asset, the amount
// watched (MonitorAvailable, which holds lower, or MonitorPosted) and a
// threshold, absolute (Below) or a fraction of a reference amount
// (BelowFraction of Of: 10% of a campaign's funded budget). The change
// that takes a watched balance below the threshold emits
// EventBalanceBelow, the one that brings it back EventBalanceRecovered;
// changes that stay on one side emit nothing. They are emitted where
// balances are written, in the unit of work that made the change and
// with its transaction as TxID, so a refused or rolled-back change emits
// nothing; they do not depend on WithLedgerEvents, and a ledger without
// monitors pays nothing for them.
//
// Readers follow the log by cursor (Reader.Events, Ledger.Events), wait
// for what comes next (Ledger.Follow: woken at once by a store that
// notifies, see driver.EventNotifier, else polling), or through a named
// Consumer whose position is committed in the store: delivery is at least
// once and in order, and resumes after a restart.
//
//	c := l.Consumer("mailer")
//	for {
//		evs, err := c.Next(ctx, 100)
//		if err != nil {
//			return err
//		}
//		for _, ev := range evs {
//			handle(ev) // may run again after a crash: make it idempotent
//		}
//		if err := c.Commit(ctx, evs[len(evs)-1].Seq); err != nil {
//			return err
//		}
//	}
//
// # Observability
//
// The ledger logs through log/slog and traces and measures through the
// OpenTelemetry API, set with WithLogger, WithTracerProvider and
// WithMeterProvider. By default it uses the global providers
// (otel.SetTracerProvider, otel.SetMeterProvider), followed even when they
// are installed after New, and a logger that discards. Until a provider
// is installed nothing is started or measured: no span, no context, no
// allocation (BenchmarkPostDefault: Post allocates as much as before the
// instrumentation existed; BenchmarkPostObserved shows what recording
// costs).
//
// Spans. Each unit of work is one span, a child of the span in the
// caller's context: "ledger.Update", "ledger.UpdateBatch" or
// "ledger.View". The one-call methods (Post, Transfer, Hold, Capture,
// ...) are Updates; Tick runs Views and UpdateBatches. Writer.Context and
// Reader.Context carry the span, so what runs inside a unit of work (a
// program's member lookup, pgstore's queries under a pgx tracer) is
// traced under it, and kit.Once adds a "rewardkit.event" event naming the
// program event that ran (kind, id, op, replay, code). Attributes:
// rewardkit.retries (how many times the unit of work ran again after
// losing a race), rewardkit.batch.size and rewardkit.batch.refused for
// UpdateBatch (with a "rewardkit.batch.item_failed" event per failed
// item: its index, code and rule), and on failure rewardkit.code
// (ErrorCode) and rewardkit.rule (RuleOf, when a named rule refused).
//
// A span's status is Error only for an error of code internal or
// unavailable: the system failed to answer (a database error, a race lost
// more often than WithRetries allows, a closed store, a deadline, a
// function that panicked); the error is then recorded on the span and
// error.type is its code. A
// refusal — too few funds, a rule, a reused key, anything else — leaves
// the status unset: the ledger answered correctly, and an error rate
// computed from span status should measure the system, not its users.
// Refusals are found by their rewardkit.code and rewardkit.rule
// attributes instead.
//
// Metrics (scope "github.com/rewardkit/rewardkit/ledger"), each with the
// attribute rewardkit.op ("update", "update_batch", "view"):
//
//	rewardkit.ledger.wait.duration    histogram, s: from the call until the store first runs fn
//	                                  (waiting for the store's lock, or for pgstore's committer)
//	rewardkit.ledger.commit.duration  histogram, s: from fn's return until the store returned, for
//	                                  units of work that committed (for pgstore, the group's commit)
//	rewardkit.ledger.refusals         counter: units of work and batch items refused, by
//	                                  rewardkit.code and rewardkit.rule (when a named rule refused)
//	rewardkit.ledger.failures         counter: units of work and batch items that ended in an error
//	                                  of code internal or unavailable, by rewardkit.code
//	rewardkit.ledger.retries          counter: runs again after a lost race
//
// pgstore records the size of each group commit (see its Observability).
//
// Logs. The ledger returns every error it meets to its caller, so it logs
// only each retry after a lost race, at Debug; a store logs what it
// handles without telling a caller (pgstore.WithLogger).
//
// # Memory
//
// A Ledger's memory does not grow with the journal or with the accounts
// it has seen. Between units of work it keeps two bounded caches of what
// never changes once committed: accounts (WithAccountCache, 65,536 by
// default; about 150 bytes each plus metadata, so about 10 MB for accounts
// without metadata) and assets (1,024). Each keeps two generations: an
// entry in use stays, one unused for a whole generation is dropped.
// Neither is trusted to be complete: a miss reads the store, so a bound
// trades store reads for memory and never changes an answer. Writers are
// pooled across units of work and keep no map or buffer of a large one.
// The store keeps the data: memstore all of it, in memory, by design;
// pgstore in PostgreSQL, with bounded caches of its own (see its Memory
// section). BenchmarkSoak measures the live heap of a ledger on pgstore
// along transfers between many more accounts than the caches hold.
//
// # Design choices
//
// Transaction IDs are the journal's sequence numbers (1, 2, 3, ...), not
// random UUIDs: the hash chain needs a total order anyway, a sequence is
// what a reader pages by, and it costs 8 bytes instead of 16 plus an index.
// Transaction times come from the injected Clock, read once per unit of
// work, and never go back along the journal (a clock that steps back is
// clamped to the last time), so "balance at time t" is a binary search.
//
// The ledger's rules live here, once; a store (ledger/memstore,
// ledger/pgstore) only keeps data and makes a unit of work atomic. What a
// store implements is in package ledger/driver, apart from this package's
// API, as database/sql/driver is apart from database/sql; every store
// passes the same conformance suite, ledger/storetest. This package's
// ErrNotFound, ErrDuplicate, ErrConflict, ErrOverflow, ErrClosed,
// ErrUnknownAsset and ErrUnknownAccount are the driver's sentinels of the
// same names, so an error a store returns matches them.
//
// Programs change their own records (Writer.PutRecord, Writer.Schedule)
// and move money in the same unit of work (Ledger.Update), so a crash or
// an error between the two leaves neither. Every program event has a form
// that runs inside the caller's unit of work (a method taking the
// *Writer), so a flow across programs is one unit of work; each event runs
// as one step (Writer.Atomic), and a step that fails after writing dooms
// the unit of work even if the caller drops its error, so no caller
// commits half an event. There are no savepoints: a step refused before it
// wrote leaves the unit of work free to go on, which is what a refusal by
// a rule is.
//
// # Usage
//
//	l := ledger.New(memstore.New())
//	_ = l.DefineAsset(ctx, ledger.EUR)
//	_, _ = l.OpenAccount(ctx, ledger.AccountSpec{Address: ledger.World, Overdraft: ledger.Overdraft{Unbounded: true}})
//	_, _ = l.OpenAccount(ctx, ledger.AccountSpec{Address: "member:1"})
//	_, err := l.Transfer(ctx, "topup-1", ledger.World, "member:1", "EUR", decimal.RequireFromString("10.00"))
//
// Several operations in one all-or-nothing unit of work:
//
//	err := l.Update(ctx, func(w *ledger.Writer) error {
//		if _, err := w.Post(req); err != nil {
//			return err // nothing is kept
//		}
//		return w.SaveJSON("order", id, order)
//	})
package ledger
