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
//     a first purchase, held until the purchase's return window ends and
//     cancelled by a refund inside it; tier bonuses for 3, 5 and 10
//     invitees, at most 350 USD in all.
//
// Other markets' numbers are the same rules with other values: a minimum
// age of 19 or 21, 100 invites a day (InvitesPerDay), rewards for the first
// 10 invitees only (MaxRewardedInvitees), a daily earning cap, a campaign
// window (Start, End), a kill switch per country (DisabledCountries and
// Program.SetKillSwitch).
//
// Rewards can expire: reward_validity (RewardValidity; default 0, never,
// since the seeds give no expiry) makes each reward paid to a member a lot
// of the ledger (see "Lots and expiry" in package ledger) that expires
// that long after it is paid, the shop variant's included (from its
// release). The member spends the soonest to expire first, and the
// ledger's Tick (or ledger/scheduler) moves what is left of an expired
// reward to the campaign's BreakageAccount, opened with the first such
// reward.
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
// Tick (kit.Ticker) pays the held rewards whose return window has ended,
// each in a unit of work of its own (kit.EachDue), and returns a
// kit.TickReport: ItemReleased for each reward paid, ItemTierBonus and
// ItemTierUnfunded for the tier bonuses a release reached, ItemUnfunded
// for a late reward the budget could not pay; in Failed, ItemRelease for
// a release that failed (its writes undone; the others go on). Nothing is
// paid to or for a member the kill switch covers, nor to a referrer who
// is not eligible to earn: such a reward is withheld — it stays held and
// due, is in Failed as ItemWithheld with the refusal at every Tick, and
// is paid once the switch is off and the referrer eligible. If the hold
// expires meanwhile, its amount goes back to the budget and the reward is
// paid from the budget then; if the budget cannot pay it, the invite ends
// StatusUnfunded and the Tick reports it as ItemUnfunded, never silently.
// Tick does not tick the ledger: the scheduler that runs the programs
// does that once for all of them. A hold found past its expiry but not
// yet released by the ledger's Tick is voided in the same unit of work
// before paying from the budget, so the order in which the program's and
// the ledger's Ticks run does not matter.
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
//     budget, atomically). Shop rewards are ledger holds on it until the
//     return window ends.
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
//   - referral.reward.held: RecordPurchase held the signup reward on the
//     budget; referral.reward.released: Tick paid it;
//     referral.reward.unfunded: Tick found its hold expired and the
//     budget short; referral.reward.clawed_back: RecordRefund cancelled
//     it inside the return window. Subject: the referrer.
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
// ledger hold's ID) and release_at; actor (the risk officer) on
// clawed_back. TxID is the payment for rewarded, released and funded
// events; held and clawed_back post no journal transaction (a hold, a
// void), so they carry whatever the unit of work posted before them.
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
