// Package referral runs invite-and-earn campaigns over the rewardkit
// ledger: a member shares a code, the referrer is rewarded when an invitee
// signs up with it (or, in the shop variant, signs up and makes a first
// purchase), again when the invitee stays active, and any eligible member
// is rewarded for engagement tasks. Every reward is paid from the
// campaign's budget account, so the budget spent is always visible and a
// grant beyond it is refused.
//
// # Rules
//
// Rules is data (JSON tags, Validate names the bad field). Two presets:
//
//   - DefaultRules, seed 000 (the Italian TikTok programme): RUBY rewards;
//     20,000 per invitee who signs up with the code; 6,000 more once the
//     invitee has been active on 5 days; tasks: profile photo 1,000 (once),
//     10 minutes of watching 500 (per day), publish a video 900, follow 2
//     recommended profiles 100; earners reside in Italy, are 18+, have a
//     profile and a linked PayPal, and no tie to the company; no limit on
//     invites. What the seed leaves open (budget, how days count, how new
//     an invitee must be) is an integrator choice documented on the preset.
//   - ShopRules, seed 001: about 50 USD per invitee who signs up and makes
//     a first purchase, pending (kit.Pending) until the purchase's return
//     window ends and vetoed by a refund inside it; tier bonuses for 3, 5
//     and 10 invitees, at most 350 USD in all. Rule refund_clawback
//     (default unset: after the window the reward stands) vetoes a reward
//     refunded after the window but not paid yet, and claws back one
//     refunded after it was paid, under a
//     kit.RecoveryPolicy: what the referrer's wallet cannot give becomes
//     their debt up to max, repaid from their next reward, and the rest is
//     written off to its loss_account (kit.Claw; none: the refund is
//     refused with kit.ErrRecoveryBound). hold_margin is no longer used.
//
// Other markets' numbers are the same rules with other values: a minimum
// age of 19 or 21, 100 invites a day (InvitesPerDay), rewards for the first
// 10 invitees only (MaxRewardedInvitees), daily and weekly earning caps,
// per-device invites and per-country budgets (see Caps), a campaign
// window (Start, End), a kill switch per country (DisabledCountries and
// Program.SetKillSwitch).
//
// Rules read from JSON (json.Unmarshal into Rules, or ParseRules, which
// also validates) are decoded strictly: an unknown or misspelt field, at
// any depth, is ErrInvalidRules naming it. Durations are at most
// ledger.MaxDuration and Start and End lie in the ledger's time range
// (ledger.ErrInvalidTime inside ErrInvalidRules otherwise); amounts are
// bounded in digits and exponent before any arithmetic.
//
// # Events
//
// IssueCode, Signup, RecordActivity, CompleteTask, RecordPurchase,
// RecordRefund and Fund each take a request struct (IssueCodeRequest,
// SignupRequest, ...) with an EventID, the member who acts or the Actor
// of a privileged action, and the subject, and run through kit.Once: the
// replay check comes first, before any member fact, rule or state is
// read, so a retry returns the result stored when the event ran (the
// result's Replayed field says so) whatever has changed since; the same
// id for another event is ErrIdempotencyConflict (wrapping
// ledger.ErrIdempotencyConflict). Member facts are kit.Member values from
// a kit.Members implementation (kit.Directory in tests and examples),
// called inside the unit of work after the replay check; ages come from
// the birth date at the unit of work's time, in the member's time zone
// (kit.Member.AtLeast), and a member whose birth date is unknown is
// refused with kit.ErrMemberFacts, never taken as old enough.
//
// Each refusal wraps a sentinel (ErrSelfReferral, ErrReferralLoop,
// ErrNotNew, ErrIneligible, ErrCapReached, ErrBudgetExhausted,
// ErrCampaignClosed, ErrCountryDisabled, ...); a refusal by a rule of the
// rule set is a *ledger.Refusal that carries the rule's JSON name
// (ledger.RuleOf(err) is "min_age", "daily_earning_cap",
// "newness.max_account_age", ..., and "disabled_countries" for the kill
// switch), and ledger.ErrorCode(err) gives the code a service maps to an
// HTTP status. Messages begin with "referral: " once and are safe to show
// a member. A refused event writes nothing. Abuse checks at signup: the same member, device or
// payment instrument as the referrer; an invitee who already belongs to
// the campaign's referral graph (signed up with a code before:
// ErrAlreadyReferred; holds a code of their own, so may be upstream of the
// referrer: ErrReferralLoop — this refuses loops of any length); a device
// or payment instrument already used by another invitee; an invitee who is
// not new; an invitee in another country.
//
// Each reward is claimed by a record keyed (campaign, kind, member,
// subject) in the same unit of work as its posting, whose idempotency key
// is derived from the same tuple, so a reward is paid at most once however
// events race or repeat. Counters the program keeps (funded, spent, daily
// earnings, tier bonuses) are summed with kit.Add: a sum past the int64
// range is ledger.ErrOverflow and writes nothing.
//
// The daily earning cap counts what a member keeps, on the day it was
// earned: a shop reward counts on the day of the purchase that earned it
// (it is held from then), and leaves that day's count again if a refund
// cancels it or the budget cannot fund it.
//
// # Caps
//
// Every cap is a kit.Cap, checked before the event's first write and
// counted by kit.Take in the event's unit of work (records of kind
// "referral.cap"), so a refused event writes nothing, a rolled-back one
// counts nothing, and racing events never pass a cap. Days and ISO weeks
// are the campaign's (Rules.Timezone): a day starts at midnight there.
// Program.Caps reports a member's use of each cap that is on. The rules,
// each off at 0 (the default in both presets):
//
//	invites_per_day         signups per referrer per day
//	device_invites_per_day  signups per day credited to referrers on one device
//	daily_earning_cap       rewards earned per member per day (not tier bonuses)
//	weekly_earning_cap      the same per ISO week
//	country_budgets         what the campaign pays, in all, to residents of a
//	                        country (tier bonuses too; ErrBudgetExhausted)
//
// max_rewarded_invitees (invitees a referrer is rewarded for, in all; off
// at 0) is still counted in the referrer's state, which the shop variant's
// purchases and refunds change too, not by a kit cap. Tier bonuses are
// neither refused by the earning caps nor counted in them (before the kit
// caps they were counted, not refused).
//
// A task pays once per its period (once, daily, weekly), the period named
// by kit.PeriodKey on the campaign's calendar. Counters kept by versions
// before the kit's caps (kind "referral.daily") are not read: on the day
// of an upgrade, invites and earnings start from zero.
//
// # Units of work
//
// Every event method has an In form (SignupIn, RecordPurchaseIn, ...)
// that runs inside a unit of work the caller owns, a *ledger.Writer of
// the caller's ledger.Update; the plain form is the In form in a unit of
// work of its own (kit.Run). A shop that records a purchase and the
// referral reward it earns does both in one unit, all or nothing:
//
//	err := l.Update(ctx, func(w *ledger.Writer) error {
//		if _, err := w.Post(payment); err != nil {
//			return err
//		}
//		_, err := p.RecordPurchaseIn(w, referral.RecordPurchaseRequest{EventID: "purchase-o1", Member: "amy", PurchaseID: "o1"})
//		return err // a refused reward keeps nothing of the payment
//	})
//
// An In method writes only through w and keeps nothing outside it, so it
// is safe when the caller's unit of work is run again (ledger.Update
// retries a lost race) or rolled back: its event is recorded, and its
// money moves, only if w commits. It reads the time from w.Now() and
// member facts with w.Context(). An In method that returns an error may
// have written part of its event to w: the caller must then end the unit
// of work with an error (return it), never commit it.
//
// # Shop rewards, Tick and the kill switch
//
// A shop reward is a kit.Pending grant (one mechanism for every program's
// maturing rewards): RecordPurchase moves it from the budget into the
// referrer's member:<id>:pending account, where it is visible but not
// spendable; a refund inside the return window vetoes it back to the
// budget; Tick (kit.Ticker) releases it to the referrer's wallet through
// kit.Credit, which first repays any debt the referrer owes from a
// clawback. Each grant settles exactly once, whoever races.
//
// Tick pays the pending rewards whose return window has ended, each in a
// unit of work of its own (kit.EachDue), and returns a kit.TickReport:
// ItemReleased for each reward paid, ItemTierBonus and ItemTierUnfunded
// for the tier bonuses a release reached; in Failed, ItemRelease for a
// release that failed (its writes undone; the others go on). Nothing is
// paid to or for a member the kill switch covers, nor to a referrer who
// is not eligible to earn: such a reward is withheld — it stays pending
// and due, is in Failed as ItemWithheld with the refusal at every Tick,
// and is paid once the switch is off and the referrer eligible. Its
// amount left the budget when it was earned, so it is never found
// unfunded (ItemUnfunded and StatusUnfunded are no longer produced). Tick
// does not tick the ledger, and nothing of a shop reward is a ledger hold,
// so the order of the two Ticks does not matter.
//
// Every reward reaches a wallet through kit.Credit: a referrer who owes a
// clawback's debt repays it from the next reward, whichever kind, before
// any of it is spendable (referral.debt.recovered).
//
// # Privileged actions
//
// Actions taken by staff rather than reported by the service check their
// actor with kit.Authorize against the kit.Roles given with WithRoles
// (none: everyone is refused); a refusal is ledger.ErrForbidden and writes
// nothing:
//
//   - SetKillSwitch: kit.RoleRiskOfficer. The switch records who set it.
//   - RecordRefund: kit.RoleRiskOfficer, and the actor may be neither the
//     referrer nor the invitee (a refund cancels a held reward).
//   - Fund: kit.RoleProgramAdmin (a change of the campaign's budget). The
//     budget New funds from Rules.Budget is the integrator's setup and
//     takes no actor.
//
// Rules themselves change only by setting the program up with new rules
// (New); there is no run-time rule change to authorize. The role is
// checked on every call, replays included.
//
// # Accounts
//
//   - world: the issuing account (Unbounded) the budget is funded from.
//   - referral:campaign:<campaign>:budget: the campaign budget (no
//     overdraft: its balance limit is what refuses a grant beyond the
//     budget, atomically). Shop rewards leave it for the referrer's pending
//     account when earned; Budget.Held reports what they hold.
//   - member:<id>:pending (kit.PendingAccount): shop rewards waiting for
//     their return window; member:<id>:debt (kit.DebtAccount): what a
//     member owes from a clawback under refund_clawback.
//   - member:<id> (kit.WalletAccount): members' wallets, shared with other
//     programs (payout withdraws from them). A wallet already open is used
//     as it is; one the program opens gets the kit.WalletPolicy given with
//     WithWallets (the same policy every program is given).
//
// # Event log
//
// Each change is also an event in the ledger's event log
// (ledger.Writer.Emit), emitted in the unit of work of the change (for
// the event methods, inside their kit.Once): committed with it or never.
// A replay, a refusal, a code asked for again and a kill switch set to
// what it already is emit nothing; a reward refused inside a unit of work
// that goes on (a retention reward over a cap) emits nothing either. Data
// is one exported struct per shape, amounts and ledger IDs as decimal
// strings. Subjects are plain member IDs unless said otherwise.
//
//   - referral.code.issued (EventCodeIssued): IssueCode made a member's
//     code. Subject: the member. Data (CodeData): campaign, member, code.
//   - referral.signup.rewarded (EventSignupRewarded): Signup paid the
//     signup reward. Subject: the referrer. Data (RewardData, below).
//   - referral.signup.recorded (EventSignupRecorded): Signup recorded an
//     invite that pays no signup reward now (it waits for a purchase, or
//     the reward is zero). Subject: the referrer. Data (SignupData):
//     campaign, referrer, invitee, code, awaiting_purchase.
//   - referral.retention.rewarded, referral.task.rewarded,
//     referral.tier.rewarded: RecordActivity, CompleteTask, and a signup
//     or a release reaching a tier paid a reward. Subject: the member
//     paid (for a task, the member who did it).
//   - referral.tier.unfunded: a release reached a tier the budget could
//     not pay; the tier is settled unpaid. Subject: the referrer.
//   - referral.reward.held: RecordPurchase made the signup reward a
//     pending grant; referral.reward.released: Tick paid it;
//     referral.reward.clawed_back: RecordRefund vetoed it inside the
//     return window, or (refund_clawback) clawed it back after it was
//     paid; referral.reward.unfunded is no longer emitted. Subject: the
//     referrer.
//   - referral.clawback.recorded (kit.ClawbackRecorded), and
//     referral.loss.written_off (kit.LossWrittenOff) when some was written
//     off: a refund_clawback, before its reward.clawed_back, same
//     transaction. referral.debt.recovered (kit.DebtRecovered): a reward
//     repaid a debt. Subject: the referrer.
//   - referral.budget.funded (EventBudgetFunded): Fund, or New funding
//     Rules.Budget (event_id "setup", no actor). Subject: the campaign.
//     Data (BudgetData): campaign, event_id, actor, amount, asset.
//   - referral.killswitch.changed (EventKillSwitchChanged): SetKillSwitch
//     turned the program off or on for a country. Subject: the country.
//     Data (KillSwitchData): campaign, country, disabled, actor.
//
// Every reward event's data is RewardData: campaign, member (paid), for
// (the invitee; "<task>@<period>" for a task; the tier's invitee count
// for a tier), amount, asset, and for held rewards purchase, hold (the
// kit.Pending grant's ID) and release_at; actor (the risk officer) on
// clawed_back. TxID is the payment for rewarded, released and funded
// events, the grant for held, the veto or the clawback for clawed_back.
//
// # Usage
//
//	members := kit.NewDirectory(kit.Member{ID: "giulia", BirthDate: kit.NewDate(1996, time.March, 2),
//		TimeZone: "Europe/Rome", Country: "IT", HasProfile: true, PayoutLinked: true})
//	roles := &kit.RoleDirectory{}
//	roles.Grant("risk-desk", kit.RoleRiskOfficer)
//	p, err := referral.New(ctx, l, referral.DefaultRules(), members, referral.WithRoles(roles))
//	code, err := p.IssueCode(ctx, referral.IssueCodeRequest{EventID: "code-giulia", Member: "giulia"})
//	res, err := p.Signup(ctx, referral.SignupRequest{EventID: "signup-marco", Invitee: "marco", Code: code})
//	act, err := p.RecordActivity(ctx, referral.RecordActivityRequest{EventID: "active-marco-2020-06-05", Invitee: "marco"})
//	task, err := p.CompleteTask(ctx, referral.CompleteTaskRequest{EventID: "photo-giulia", Member: "giulia", Task: "profile_photo"})
//	err = p.SetKillSwitch(ctx, referral.SetKillSwitchRequest{Actor: "risk-desk", Country: "IT", Disabled: true}) // emergency stop
//	rep, err := p.Tick(ctx) // pays shop rewards whose return window ended; or register p with the scheduler
package referral
