// Package subscription runs creator subscriptions over the rewardkit
// ledger: eligible creators publish up to three priced tiers of perks,
// members subscribe and are billed each period, and the program answers
// the question integrators ask most — may this member use this perk of
// this creator at time t? (Program.MayUse).
//
// # Rules
//
// Rules is data (JSON tags, Validate, DefaultRules). JSON is read strictly
// (Rules.UnmarshalJSON): a misspelt or unknown field is ErrInvalidRules
// naming it. Durations are at most ledger.MaxDuration. The defaults and
// where they come from:
//
//   - creator eligibility: 18+, at least 10,000 followers and 100,000 video
//     views in the last month (seed 003); the facts come from the
//     integrating service as kit.Member values through kit.Members, read
//     inside the event's unit of work after the replay check. The age is
//     the creator's on their own calendar (birth date and time zone,
//     kit.Member.AtLeast) at the time of the event: the 18th birthday
//     counts from local midnight, and a creator whose birth date is unknown
//     is kit.ErrMemberFacts, never eligible;
//   - countries: US, GB, FR, IT, DE (seed 003 only says "selected
//     regions"); the creator must reside in one to publish, the member to
//     subscribe;
//   - up to three tiers per creator (seed 003), each with a price per
//     period and perks: private chat, direct messages, subscriber-only
//     videos, badges, stickers, performance requests, Discord roles, and
//     creator-named perks ("custom:<name>", CustomPerk);
//   - monthly billing (PeriodMonths 1, calendar months via time.AddDate);
//     prices 0.99 to 99.99;
//   - the creator's revenue share: 50% (industry base, PROGRAMS.md); the
//     creator's part is rounded down to the cent, the platform keeps the
//     rest, so every payment is split exactly;
//   - grace period after a failed renewal: 72 hours, retried every 24 hours;
//   - badge levels at 1, 2, 3, 6, 12 and 24 months subscribed.
//
// Prices are money: Rules.Asset is USD by default (any ISO currency, or
// COIN, works the same way), paid from the member's wallet. Money enters
// that wallet through whatever the integrator uses (a top-up, a payout of
// another program); this package only moves it.
//
// # Accounts
//
//   - member:<id> — the member's wallet (MemberAccount, kit.WalletAccount,
//     shared with the other programs), pays every charge. Money enters it
//     through whatever opened it (a top-up, another program); a charge
//     takes only what it holds, never the overdraft of the platform's
//     wallet policy, so subscription opens no wallet itself;
//   - creator:<id>:subscriptions — the creator's share of each payment
//     (EarningsAccount);
//   - platform:subscription:revenue — the platform's share (RevenueAccount);
//   - world — opened Unbounded by New, as in every program.
//
// Each payment is one ledger transaction with idempotency key
// "subscription:charge:<creator>:<member>:<n>" and metadata naming the
// tier and the period it pays for (period_start, period_end).
//
// # Events and their timing
//
//   - PublishTiers: publish or replace the tiers; refused with ErrIneligible
//     (or ErrCountry) naming the rule (ledger.RuleOf). Price and perk
//     changes reach existing subscribers at their next renewal; a removed
//     tier's subscriptions end at their period end.
//   - Subscribe: the first period is charged at once and starts now.
//   - Tick: renewals fall due at the period end (a due-time index, never a
//     scan) and are charged at the tier's current price. Periods are
//     contiguous; if a Tick comes so late that a whole period has passed,
//     the new period starts at the Tick instead of charging for the past.
//   - A failed renewal (funds short) enters grace: retried every RetryEvery
//     until PeriodEnd+GracePeriod (GraceUntil), then the subscription ends:
//     once GraceUntil has passed it is over, even before a Tick says so —
//     no later Tick charges or reactivates it, whatever the wallet holds,
//     and the member may Subscribe anew. By default
//     there are no perks in grace, and a renewal recovered in grace starts
//     its period when it is paid, so perks are granted exactly while a paid
//     period covers the time. Rules.GraceAccess keeps the perks during
//     grace (the app-store model); a recovered period then starts at the
//     old period end and so pays for the grace days.
//   - Cancel: no refund; perks last until the period end, then it is over
//     (Tick records the end). In grace it ends at once.
//   - ChangeTier: the new tier, its price and its perks start at the next
//     renewal; until then the member keeps the tier paid for. There is no
//     proration.
//   - The badge level grows with MonthsPaid, which counts every month paid
//     to the creator, across re-subscriptions.
//   - Refund (staff only): the last payment is reversed to the member's
//     wallet and the subscription ends at once. The actor must hold
//     kit.RoleRiskOfficer in the role directory given with WithRoles and
//     be neither the member nor the creator (kit.Authorize); otherwise the
//     refund is ErrForbidden and writes nothing. Without a directory nobody
//     refunds.
//
// Every event takes a request struct (PublishTiersRequest,
// SubscribeRequest, ChangeTierRequest, CancelRequest, RefundRequest) that
// names its EventID, its Actor (the creator who publishes, the member who
// subscribes, changes tier or cancels, the staff member who refunds) and
// its subject. Each has an In form (SubscribeIn and so on) that runs
// inside the caller's unit of work, so that a subscription and, say, the
// top-up that pays it commit or roll back together; the other form runs
// it in a unit of work of its own. An In form that fails may have written
// part of its work: the caller returns the error, which undoes it all.
//
// Every event runs once per event ID through kit.Once: the replay check
// comes first, before the rules, the member's facts or any record is
// read, so a retry of an event that went through succeeds however things
// have changed since. A replay with the same arguments returns the result
// as it was when the event ran, with Replayed set, and changes nothing;
// with other arguments it is ErrIdempotencyConflict. A refused event
// writes nothing.
//
// Times are bounded by the ledger's range (ledger.MinTime to
// ledger.MaxTime): a period that would end past it, or a MayUse question
// outside it, is ledger.ErrInvalidTime. Tick handles each due subscription
// in a unit of work of its own and reports each in a kit.TickReport
// (items of kinds TickRenewed, TickGraceStarted, TickRetried, TickEnded);
// one that fails is reported in Failed with its ID, and the others go on.
// Program implements kit.Ticker: ledger/scheduler ticks it, and the
// ledger, once.
//
// # Event log
//
// Every change is also an event in the ledger's event log
// (ledger.Writer.Emit), emitted in the unit of work of the change: it
// commits with it or not at all, a replayed event method emits nothing
// again, and a refused one emits nothing. Amounts are decimal strings in
// the asset's precision ("4.99"), times RFC 3339. The subject is the
// creator for EventTiersPublished and the subscribing member for every
// other type; member and creator are in the data of each
// subscription.subscription.* event. TxID is the charge's (or the
// refund's) journal transaction where money moved, 0 otherwise.
//
//   - subscription.tiers.published (EventTiersPublished), by PublishTiers.
//     Data: {"creator", "version" (a number, from 1), "asset", "tiers":
//     [{"id", "price"}]}.
//   - subscription.subscription.started (EventStarted), by Subscribe.
//     TxID: the first charge. Data: {"member", "creator", "tier", "amount",
//     "asset", "period_start", "period_end"}.
//   - subscription.subscription.renewed (EventRenewed), by Tick when a
//     renewal or a retry in grace is charged. TxID: the charge. Data as
//     EventStarted, with the tier and amount of this period.
//   - subscription.subscription.renewal_failed (EventRenewalFailed), by
//     Tick when a renewal fails for funds and grace starts (a failed retry
//     in grace emits nothing). Data: {"member", "creator", "tier" (the tier
//     that was to renew), "amount", "asset", "grace_until"}.
//   - subscription.subscription.tier_changed (EventTierChanged), by
//     ChangeTier. Data: {"member", "creator", "tier" (paid for now),
//     "next_tier" (charged from the next renewal; equal to tier when a
//     pending change is undone)}.
//   - subscription.subscription.cancelled (EventCancelled), by Cancel.
//     Data: {"member", "creator", "tier", "period_end" (when an active
//     subscription's perks stop; absent in grace, where EventEnded
//     follows at once)}.
//   - subscription.subscription.ended (EventEnded), whenever a
//     subscription ends: by Tick (cancelled and past its period, grace
//     over, tier withdrawn), by Cancel in grace, by Refund, or by a
//     Subscribe or Cancel that finds it lapsed. Data: {"member", "creator",
//     "tier", "ended_at", "reason" ("canceled", "canceled in grace",
//     "renewal failed", "tier withdrawn", "refunded by <actor>")}. TxID:
//     the refund's when Refund ends it, 0 otherwise.
//   - subscription.subscription.refunded (EventRefunded), by Refund,
//     before the EventEnded it causes (if the subscription had not ended).
//     TxID: the reversal. Data: {"member", "creator", "tier", "amount"
//     (given back), "asset", "reason"}.
//
// # MayUse is a read
//
// MayUse reads one record in a ledger View: no write, no ledger lock
// beyond the snapshot. Decoding the record's JSON was most of its cost, so
// the Program keeps a read-through decode cache: the record's bytes are
// read from the store on every call and the decoded struct is reused only
// when they are the bytes decoded last time. The cache therefore never
// answers on its own and never goes stale, even when several processes
// share one PostgreSQL store. About 1.1 µs per call on memstore
// (BenchmarkMayUse, 2 cores), 5 µs without the cache. Each subscription
// keeps its access history (merged paid periods, at most 120 stretches),
// so MayUse answers for past times as well as now.
//
// # Usage
//
//	dir := kit.NewDirectory(
//		kit.Member{ID: "cleo", BirthDate: kit.NewDate(2001, 5, 14), TimeZone: "Europe/Rome", Country: "IT",
//			Followers: 50000, ViewsLastMonth: 400000},
//		kit.Member{ID: "ann", Country: "US"})
//	p, err := subscription.New(ctx, l, subscription.DefaultRules(), dir,
//		subscription.WithWallets(platformWallets)) // the kit.WalletPolicy every program shares
//	_, err = p.PublishTiers(ctx, subscription.PublishTiersRequest{EventID: "publish-1", Actor: "cleo",
//		Tiers: []subscription.Tier{{ID: "fan", Price: decimal.RequireFromString("4.99"), Perks: []subscription.Perk{subscription.PerkBadge}}}})
//	_, err = p.Subscribe(ctx, subscription.SubscribeRequest{EventID: "subscribe-1", Actor: "ann", Creator: "cleo", TierID: "fan"})
//	ok, err := p.MayUse(ctx, "ann", "cleo", subscription.PerkBadge, l.Clock().Now())
//	report, err := p.Tick(ctx) // run by the scheduler: renewals, grace, ends; report.Failed lists items that failed
//
// Inside a unit of work of the caller's, with the card payment that pays
// for it, all or nothing:
//
//	err = l.Update(ctx, func(w *ledger.Writer) error {
//		_, err := w.Post(ledger.TransferRequest{Key: "card-77", Postings: []ledger.Posting{
//			{From: ledger.World, To: subscription.MemberAccount("ann"), Asset: "USD", Amount: price}}})
//		if err != nil {
//			return err
//		}
//		_, err = p.SubscribeIn(w, subscription.SubscribeRequest{EventID: "subscribe-2", Actor: "ann", Creator: "cleo", TierID: "fan"})
//		return err // a refusal undoes the payment too
//	})
package subscription
