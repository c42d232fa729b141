// Package kit is the programs' shared kit: what every reward program of
// rewardkit (referral, gifting, shoutout, subscription, adsbuy, payout)
// needs in the same shape, written once. It imports ledger and knows no
// program; programs import it and never each other.
//
// # Usage
//
//   - Once runs a program event at most once per event ID inside the
//     caller's unit of work: the replay check comes first, before any
//     member fact or catalogue is read, and a replay returns the result as
//     it was when the event ran, marked as a replay.
//   - OpenWallet opens a member's wallet (WalletAccount) with the one
//     WalletPolicy every program shares, so that two programs never open
//     the same member's wallet with different policies.
//   - DecodeRules decodes a program's JSON rules strictly: an unknown or
//     misspelt field is an error that names it, never silently ignored.
//   - Authorize checks that the actor of a privileged action (a review, an
//     approval, a kill switch, a chargeback, a rule change) holds the role
//     it needs and is no party to what it decides; otherwise the action is
//     ledger.ErrForbidden and writes nothing.
//   - EachDue runs what time makes happen, one due item at a time in its
//     own isolated unit of work: one item that fails is reported with its
//     ID and the others go on.
//   - Outbox is the one way a program calls the world outside the ledger
//     (shoutout's direct messages, payout's provider): an entry Put in the
//     caller's unit of work, so it commits with the money or not at all,
//     and the call made after the commit, outside any unit of work, at
//     least once and idempotent by the entry's ID — by Deliver at once,
//     and by Drain from the program's Tick until it goes through.
//   - Liability reports what the platform owes in reward assets: the
//     holders' outstanding balances per asset by age (first in, first
//     out: what is left is the most recent credits), valued in money at
//     the conversion rules given, and the breakage accounts' balances.
//     It reads in pages, so its memory does not grow with the ledger.
//   - Take is the one cap mechanism of every program: at most Cap.MaxCount
//     uses and Cap.MaxUnits units per subject (a member, a device, a
//     country) per period — a calendar day, ISO week or month on the
//     member's calendar (Use.Loc, from Member.Location: a day starts at
//     local midnight), the whole campaign, or a rolling window. It checks
//     and counts in the caller's unit of work, so a refused use writes
//     nothing (ledger.Refuse with the cap's rule name) and a unit of work
//     that fails takes its count back; Check judges without writing, Give
//     returns a use that was undone (a refund, a failed payout), UsageOf
//     reads what is used and left for a UI. A limit of 0 is no limit, so
//     every cap rule is off by default. Counters are records of the
//     program's kind, one per (scope, cap, subject, period); Prune deletes
//     those of periods over on every calendar, a page per unit of work,
//     from a maintenance job (the programs do not call it themselves).
//   - Pending is maturation with a veto: a reward granted now that becomes
//     the member's at a time unless a veto (a refund, a risk flag, a
//     failed retention check) comes first. The amount waits in
//     PendingAccount ("member:<id>:pending": visible, not spendable); a
//     grant settles exactly once, released (Release, or Tick once due,
//     with an optional gate that keeps it pending) or vetoed back to its
//     funding account (Veto); a settled grant is ErrSettled, and undoing
//     a released one is a clawback. referral's shop rewards use it.
//   - Claw takes value back from a member; what the wallet cannot give
//     (spent, paid out) follows a declared RecoveryPolicy, never dropped:
//     "recover" makes it the member's debt (DebtAccount,
//     "member:<id>:debt"), bounded by Max, the rest written off to
//     LossAccount or, with none, the clawback refused (ErrRecoveryBound);
//     "write_off" books it to LossAccount. There is no default policy: a
//     program declares one in its rules (gifting's chargeback_recovery
//     defaults to write_off, referral's refund_clawback is off unless
//     set). Every clawback is an event ("<program>.clawback.recorded",
//     and "<program>.loss.written_off" for a write-off). Credit is how
//     a reward reaches a wallet: it repays the member's debt first
//     ("<program>.debt.recovered"), so a debt is recovered from the next
//     rewards before they become spendable. Outstanding and Debts list
//     what members owe, for reports.
package kit
