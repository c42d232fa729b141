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
// # Events
//
// IssueCode, Signup, RecordActivity, CompleteTask, RecordPurchase,
// RecordRefund and Tick. Each takes an event id and is idempotent on it:
// a replay returns the first result and changes nothing; the same id for
// another event is ErrEventConflict. Member facts come from a Members
// implementation, read before the unit of work. Each refusal wraps a
// sentinel (ErrSelfReferral, ErrReferralLoop, ErrNotNew, ErrIneligible,
// ErrCapReached, ErrBudgetExhausted, ErrCampaignClosed,
// ErrCountryDisabled, ...) and names the rule; a refused event writes
// nothing. Abuse checks at signup: the same member, device or payment
// instrument as the referrer; an invitee who already signed up or had an
// account; a referral loop; a device or payment instrument already used by
// another invitee; an invitee in another country.
//
// Each reward is claimed by a record keyed (campaign, kind, member,
// subject) in the same unit of work as its posting, whose idempotency key
// is derived from the same tuple, so a reward is paid at most once however
// events race or repeat.
//
// # Accounts
//
//   - world: the issuing account (Unbounded) the budget is funded from.
//   - referral:campaign:<campaign>:budget: the campaign budget (no
//     overdraft: its balance limit is what refuses a grant beyond the
//     budget, atomically). Shop rewards are ledger holds on it until the
//     return window ends.
//   - member:<id>: members' wallets, shared with other programs (payout
//     withdraws from them).
//
// # Usage
//
//	members := referral.NewMemberDirectory()
//	p, err := referral.New(ctx, l, referral.DefaultRules(), members)
//	code, err := p.IssueCode(ctx, "code-giulia", "giulia")
//	res, err := p.Signup(ctx, "signup-marco", "marco", code)
//	act, err := p.RecordActivity(ctx, "active-marco-2020-06-05", "marco")
//	task, err := p.CompleteTask(ctx, "photo-giulia", "giulia", "profile_photo")
//	rep, err := p.Tick(ctx) // pays shop rewards whose return window ended
package referral
