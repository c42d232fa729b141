package referral

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
)

// Record kinds the program keeps beside the ledger. Every record id starts
// with the campaign id.
const (
	kindEvent    = "referral.event"    // <c>:<event id>, <c>:fund:<key> -> kit.Once's record
	kindCode     = "referral.code"     // <c>:<code> -> member id
	kindReferrer = "referral.referrer" // <c>:<member> -> referrerState
	kindInvite   = "referral.invite"   // <c>:<invitee> -> Invite
	kindReward   = "referral.reward"   // <c>:<kind>:<member>:<subject> -> claim
	kindSignal   = "referral.signal"   // <c>:device:<fp> / <c>:payment:<fp> -> invitee
	kindPurchase = "referral.purchase" // <c>:<purchase id> -> invitee
	kindCampaign = "referral.campaign" // <c> -> campaignState
	kindKill     = "referral.kill"     // <c>:<country> -> killState
)

// Reward kinds, as they appear in Grant.Kind and in transaction metadata.
const (
	RewardSignup    = "signup"
	RewardRetention = "retention"
	RewardTask      = "task"
	RewardTier      = "tier"
)

// InviteStatus is where an invite is in its life.
type InviteStatus string

// Invite statuses.
const (
	// StatusRewarded: the signup reward was paid at signup.
	StatusRewarded InviteStatus = "rewarded"
	// StatusAwaitingPurchase: signed up; the reward waits for a first purchase.
	StatusAwaitingPurchase InviteStatus = "awaiting_purchase"
	// StatusHeld: the reward is pending (a kit.Pending grant in the
	// referrer's member:<id>:pending account) until the return window
	// ends, and after it while the kill switch or the referrer's
	// eligibility withholds it (see Program.Tick).
	StatusHeld InviteStatus = "held"
	// StatusPaid: the held reward was paid after the return window ended.
	StatusPaid InviteStatus = "paid"
	// StatusCancelled: the purchase was refunded inside the return window.
	StatusCancelled InviteStatus = "cancelled"
	// StatusUnfunded: the hold had expired and the budget could not pay
	// (rewards held before pending grants; no longer set).
	StatusUnfunded InviteStatus = "unfunded"
	// StatusClawedBack: the purchase was refunded after the reward was
	// paid, and rule refund_clawback took it back (kit.Claw).
	StatusClawedBack InviteStatus = "clawed_back"
)

// Invite is one invitee's referral.
type Invite struct {
	Referrer   string       `json:"referrer"`
	Invitee    string       `json:"invitee"`
	Code       string       `json:"code"`
	SignedUpAt time.Time    `json:"signed_up_at"`
	Status     InviteStatus `json:"status"`
	Purchase   string       `json:"purchase,omitempty"`
	HoldID     uint64       `json:"hold_id,omitempty"` // no longer set: see Pending
	// Pending is the kit.Pending grant of the held signup reward.
	Pending   string    `json:"pending,omitempty"`
	ReleaseAt time.Time `json:"release_at,omitempty"`
	// CountedOn is the day (in Rules.Timezone) whose daily earning cap
	// counts the held signup reward; a refund or an unfunded release takes
	// it out of that day's count again.
	CountedOn string `json:"counted_on,omitempty"`
	// CountedIn is the country whose campaign budget (rule
	// country_budgets) counts the held signup reward ("" for none): a
	// refund gives it back there, wherever the referrer lives by then.
	CountedIn     string   `json:"counted_in,omitempty"`
	ActiveDays    []string `json:"active_days,omitempty"`
	RetentionPaid bool     `json:"retention_paid,omitempty"`
}

// Grant is one reward paid from the campaign budget.
type Grant struct {
	Kind        string          `json:"kind"`    // RewardSignup, RewardRetention, RewardTask, RewardTier
	Member      string          `json:"member"`  // who was paid
	Subject     string          `json:"subject"` // the invitee, "<task>@<period>", or the tier's invitee count
	Amount      decimal.Decimal `json:"amount"`
	Transaction uint64          `json:"transaction"`
}

type referrerState struct {
	Code      string `json:"code"`
	Rewarded  int    `json:"rewarded"`   // invitees rewarded or held (for max_rewarded_invitees)
	Paid      int    `json:"paid"`       // invitees whose signup reward was paid (for tiers)
	TierBonus int64  `json:"tier_bonus"` // units paid as tier bonuses
	Tiers     []int  `json:"tiers"`      // tier thresholds settled
}

type campaignState struct {
	Funded int64 `json:"funded"`
	Spent  int64 `json:"spent"`
	// Pending is what the campaign's pending signup rewards hold (they
	// left the budget for the referrers' pending accounts): Budget.Held.
	Pending int64 `json:"pending,omitempty"`
}

// killState is a country's kill switch as last set, and by whom.
type killState struct {
	Disabled bool      `json:"disabled"`
	By       string    `json:"by,omitempty"`
	At       time.Time `json:"at,omitempty"`
}

// Program runs one referral campaign over a ledger. It is safe for
// concurrent use.
type Program struct {
	l        *ledger.Ledger
	rules    Rules
	members  kit.Members
	wallets  kit.WalletPolicy
	roles    kit.Roles
	loc      *time.Location
	salt     string
	budget   string
	tasks    map[string]Task
	disabled map[string]bool
}

// Option configures a Program.
type Option func(*Program)

// WithCodeSalt mixes a secret into invite codes so they cannot be derived
// from member ids.
func WithCodeSalt(salt string) Option { return func(p *Program) { p.salt = salt } }

// WithWallets sets the policy members' wallets are opened with when the
// program pays a member whose wallet is not open yet. Give every program
// the same policy. The default opens wallets with no overdraft.
func WithWallets(policy kit.WalletPolicy) Option { return func(p *Program) { p.wallets = policy } }

// WithRoles sets the directory that says which actors may take the
// program's privileged actions: SetKillSwitch and RecordRefund need
// kit.RoleRiskOfficer, Fund needs kit.RoleProgramAdmin. Without it every
// privileged action is refused (ledger.ErrForbidden).
func WithRoles(roles kit.Roles) Option { return func(p *Program) { p.roles = roles } }

// MemberAccount is the wallet address of a member, shared by every program
// (kit.WalletAccount).
func MemberAccount(id string) string { return kit.WalletAccount(id) }

// BudgetAccount is the address of a campaign's budget account.
func BudgetAccount(campaign string) string { return "referral:campaign:" + campaign + ":budget" }

// The program's due items are Ticker work.
var _ kit.Ticker = (*Program)(nil)

// New validates the rules, defines the reward asset, opens World and the
// budget account, and funds the budget from World with Rules.Budget (once,
// under the fund event id "setup": setting the program up again with the
// same budget changes nothing, with another budget it is
// ErrIdempotencyConflict). members gives the facts the rules read (a
// kit.Directory in tests and examples).
func New(ctx context.Context, l *ledger.Ledger, rules Rules, members kit.Members, opts ...Option) (*Program, error) {
	if err := rules.Validate(); err != nil {
		return nil, err
	}
	if members == nil {
		return nil, fmt.Errorf("%w: members: nil", ErrInvalidRules)
	}
	loc, _ := time.LoadLocation(rules.Timezone)
	p := &Program{l: l, rules: rules, members: members, loc: loc, budget: BudgetAccount(rules.Campaign),
		tasks: map[string]Task{}, disabled: map[string]bool{}}
	for _, t := range rules.Tasks {
		p.tasks[t.ID] = t
	}
	for _, c := range rules.DisabledCountries {
		p.disabled[c] = true
	}
	for _, o := range opts {
		o(p)
	}
	err := l.Update(ctx, func(w *ledger.Writer) error {
		if err := checkNow(w); err != nil {
			return err
		}
		if err := w.DefineAsset(rules.Asset); err != nil {
			return err
		}
		if _, err := w.OpenAccount(ledger.AccountSpec{Address: ledger.World, Overdraft: ledger.Overdraft{Unbounded: true}}); err != nil {
			return err
		}
		// No overdraft: the budget's own limit is what refuses a grant
		// beyond it, atomically.
		_, err := w.OpenAccount(ledger.AccountSpec{Address: p.budget})
		return err
	})
	if err != nil {
		return nil, fail(err, "set up campaign %s", rules.Campaign)
	}
	if rules.Budget.Sign() > 0 {
		_, err := kit.Run(ctx, l, func(w *ledger.Writer) (FundResult, error) { return p.fund(w, "setup", "", rules.Budget) })
		if err != nil {
			return nil, fail(err, "fund campaign %s", rules.Campaign)
		}
	}
	if err := p.wallets.Check(ctx, l); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidRules, err)
	}
	return p, nil
}

// Rules returns the program's rules.
func (p *Program) Rules() Rules { return p.rules }

// Ledger returns the ledger the program writes to.
func (p *Program) Ledger() *ledger.Ledger { return p.l }

func (p *Program) id(parts ...string) string {
	return p.rules.Campaign + ":" + strings.Join(parts, ":")
}

func (p *Program) day(t time.Time) string { return t.In(p.loc).Format("2006-01-02") }

func (p *Program) units(d decimal.Decimal) int64 {
	u, _ := units(p.rules.Asset, d) // rules were validated
	return u
}

func (p *Program) amount(u int64) decimal.Decimal { return p.rules.Asset.Amount(u) }

// checkIDs judges a request's IDs (kit.CheckID): each pair is a field's
// name and its value.
func checkIDs(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if err := kit.CheckID(ErrInvalidRequest, pairs[i], pairs[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// prefix begins every message of the package's errors.
const prefix = "referral: "

// fail gives an error the package prefix once. The program's own errors
// (a sentinel of errors.go with its detail, a *ledger.Refusal of one)
// already begin with it and name the members and IDs involved, so they
// come back as they are; any other error (the ledger's, the kit's, a
// store's) is wrapped with the prefix and what was being done.
func fail(err error, format string, args ...any) error {
	if err == nil || strings.HasPrefix(err.Error(), prefix) {
		return err
	}
	return fmt.Errorf("%s%s: %w", prefix, fmt.Sprintf(format, args...), err)
}

// loadJSON reads a record into v and reports whether it existed.
func loadJSON(r *ledger.Writer, kind, id string, v any) (bool, error) {
	err := r.LoadJSON(kind, id, v)
	if errors.Is(err, ledger.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// checkNow refuses to run at a clock reading outside the ledger's time
// range (ledger.ErrInvalidTime): every time the program stores or computes
// starts from it.
func checkNow(w *ledger.Writer) error {
	return ledger.ValidateTime("clock", w.Now())
}

// fnError marks an error returned by an event's own work, so that run can
// tell it from kit.Once's refusal of a reused event id.
type fnError struct{ err error }

func (e fnError) Error() string { return e.err.Error() }
func (e fnError) Unwrap() error { return e.err }

// once runs one event of the program through kit.Once, inside the unit of
// work w: the replay check comes first, before fn reads any member fact,
// rule or state, and a replay returns the stored result with replayed
// true. An event id used before for another event is
// ErrIdempotencyConflict (wrapping ledger.ErrIdempotencyConflict).
func once[T any](w *ledger.Writer, p *Program, op, id string, req any, fn func(w *ledger.Writer) (T, error)) (T, bool, error) {
	ev := kit.Event{Kind: kindEvent, ID: p.id(id), Op: op, Request: req}
	res, replayed, err := kit.Once(w, ev, func(w *ledger.Writer) (T, error) {
		var zero T
		if err := checkNow(w); err != nil {
			return zero, fnError{err}
		}
		r, err := fn(w)
		if err != nil {
			return zero, fnError{err}
		}
		return r, nil
	})
	var fe fnError
	switch {
	case errors.As(err, &fe):
		err = fe.err
	case errors.Is(err, ledger.ErrIdempotencyConflict):
		err = fmt.Errorf("%w: %w", ErrIdempotencyConflict, err)
	}
	return res, replayed, err
}

// inWindow refuses events outside the campaign window.
func (p *Program) inWindow(now time.Time) error {
	if !p.rules.Start.IsZero() && now.Before(p.rules.Start) {
		return ledger.Refuse(ErrCampaignClosed, "start", "campaign %s opens at %s", p.rules.Campaign, p.rules.Start.Format(time.RFC3339))
	}
	if !p.rules.End.IsZero() && !now.Before(p.rules.End) {
		return ledger.Refuse(ErrCampaignClosed, "end", "campaign %s ended at %s", p.rules.Campaign, p.rules.End.Format(time.RFC3339))
	}
	return nil
}

func (p *Program) killed(w *ledger.Writer, country string) (bool, error) {
	if country == "" || len(country) > 16 {
		return p.disabled[country], nil // no switch can be stored for it
	}
	var k killState
	ok, err := loadJSON(w, kindKill, p.id(country), &k)
	if err != nil {
		return false, err
	}
	if ok {
		return k.Disabled, nil
	}
	return p.disabled[country], nil
}

// checkKill refuses a member residing in a country the kill switch is on
// for. The switch is the run-time form of the disabled_countries rule,
// and refuses under that rule's name.
func (p *Program) checkKill(w *ledger.Writer, m kit.Member, role string) error {
	off, err := p.killed(w, m.Country)
	if err != nil {
		return err
	}
	if off {
		return ledger.Refuse(ErrCountryDisabled, "disabled_countries", "kill switch: %s %s resides in %q", role, m.ID, m.Country)
	}
	return nil
}

// member looks a member up in the directory, with the unit of work's
// context.
func (p *Program) member(w *ledger.Writer, id string) (kit.Member, error) {
	return p.members.Member(w.Context(), id)
}

// eligible applies the earning rules to a member's facts at now, the unit
// of work's time. A min_age rule the member's facts cannot answer (no
// birth date) is kit.ErrMemberFacts: never a yes.
func (p *Program) eligible(m kit.Member, role string, now time.Time) error {
	r := p.rules
	if r.Country != "" && m.Country != r.Country {
		return ledger.Refuse(ErrIneligible, "country", "%s %s resides in %q, not %q", role, m.ID, m.Country, r.Country)
	}
	if r.MinAge > 0 {
		old, err := m.AtLeast(r.MinAge, now)
		if err != nil {
			return ledger.Refuse(err, "min_age", "")
		}
		if !old {
			return ledger.Refuse(ErrIneligible, "min_age", "%s %s is under %d", role, m.ID, r.MinAge)
		}
	}
	switch {
	case r.RequireProfile && !m.HasProfile:
		return ledger.Refuse(ErrIneligible, "require_profile", "%s %s has no profile", role, m.ID)
	case r.RequirePayoutLinked && !m.PayoutLinked:
		return ledger.Refuse(ErrIneligible, "require_payout_linked", "%s %s has no linked payout account", role, m.ID)
	case r.ExcludeEmployees && m.Employee:
		return ledger.Refuse(ErrIneligible, "exclude_employees", "%s %s has ties to the company", role, m.ID)
	}
	return nil
}

// canEarn is everything that must hold for a member to be paid now.
func (p *Program) canEarn(w *ledger.Writer, m kit.Member, role string) error {
	if err := p.inWindow(w.Now()); err != nil {
		return err
	}
	if err := p.checkKill(w, m, role); err != nil {
		return err
	}
	return p.eligible(m, role, w.Now())
}

// checkGrant checks, without writing, that a reward can be paid: not paid
// before, within the earning caps (when capped) and the country budget,
// within the budget.
func (p *Program) checkGrant(w *ledger.Writer, member, kind, subject string, amount decimal.Decimal, capped bool) error {
	if _, err := w.Record(kindReward, p.id(kind, member, subject)); err == nil {
		return fmt.Errorf("%w: %s reward to %s for %s", ErrAlreadyRewarded, kind, member, subject)
	} else if !errors.Is(err, ledger.ErrNotFound) {
		return err
	}
	if err := p.checkEarning(w, member, p.units(amount), capped); err != nil {
		return err
	}
	b, err := w.Balance(p.budget, p.rules.Asset.Code)
	if err != nil {
		return err
	}
	if b.Available.LessThan(amount) {
		return ledger.Refuse(ErrBudgetExhausted, "budget", "%s reward of %s %s: campaign %s has %s available",
			kind, amount, p.rules.Asset.Code, p.rules.Campaign, b.Available)
	}
	return nil
}

// meta is the metadata of a reward's transactions and holds.
func (p *Program) meta(kind, member, subject string) map[string]string {
	return map[string]string{"program": "referral", "campaign": p.rules.Campaign, "kind": kind, "member": member, "subject": subject}
}

// applyGrant pays a reward checked by checkGrant, with the same capped.
func (p *Program) applyGrant(w *ledger.Writer, member, kind, subject string, amount decimal.Decimal, capped bool) (Grant, error) {
	rid := p.id(kind, member, subject)
	// Every refusal comes before the first write (the reward's claim), so
	// a refused grant leaves a caller's unit of work free to go on
	// (ledger.Writer.Atomic): the claim is read first, the budget is
	// judged by the posting itself, which writes nothing when refused.
	if _, err := w.Record(kindReward, rid); err == nil {
		return Grant{}, fmt.Errorf("%w: %s reward to %s for %s", ErrAlreadyRewarded, kind, member, subject)
	} else if !errors.Is(err, ledger.ErrNotFound) {
		return Grant{}, err
	}
	// Through kit.Credit: a debt the member owes from a clawback is repaid
	// first, and only the rest reaches the wallet, as a lot that expires
	// after RewardValidity when that rule is set.
	expires, breakage, err := p.expiry(w)
	if err != nil {
		return Grant{}, err
	}
	t, err := kit.Credit(w, kit.CreditRequest{Program: "referral", Key: "referral:" + rid, Member: member,
		Asset: p.rules.Asset.Code, Amount: amount, From: p.budget, Wallets: p.wallets, Metadata: p.meta(kind, member, subject),
		ExpiresAt: expires, Breakage: breakage})
	if err != nil {
		if errors.Is(err, ledger.ErrInsufficientFunds) {
			return Grant{}, fmt.Errorf("%w: %w", ErrBudgetExhausted, err)
		}
		return Grant{}, err
	}
	if err := w.InsertRecord(kindReward, rid, []byte("{}")); err != nil {
		if errors.Is(err, ledger.ErrDuplicate) {
			// A concurrent unit of work claimed it between the read and
			// here: lose the race, and the retry finds the claim.
			return Grant{}, fmt.Errorf("%w: %s reward to %s for %s claimed concurrently", ledger.ErrConflict, kind, member, subject)
		}
		return Grant{}, err
	}
	if _, err := p.countEarned(w, member, p.units(amount), capped); err != nil {
		return Grant{}, err
	}
	if err := p.addSpent(w, p.units(amount)); err != nil {
		return Grant{}, err
	}
	if err := p.emitReward(w, grantEvents[kind], RewardData{Member: member, For: subject, Amount: amount}); err != nil {
		return Grant{}, err
	}
	return Grant{Kind: kind, Member: member, Subject: subject, Amount: amount, Transaction: t.Tx}, nil
}

func (p *Program) grant(w *ledger.Writer, member, kind, subject string, amount decimal.Decimal, capped bool) (Grant, error) {
	if err := p.checkGrant(w, member, kind, subject, amount, capped); err != nil {
		return Grant{}, err
	}
	return p.applyGrant(w, member, kind, subject, amount, capped)
}

func (p *Program) addSpent(w *ledger.Writer, u int64) error {
	var c campaignState
	if _, err := loadJSON(w, kindCampaign, p.rules.Campaign, &c); err != nil {
		return err
	}
	spent, err := kit.Add("campaign spent", c.Spent, u)
	if err != nil {
		return err
	}
	c.Spent = spent
	return w.SaveJSON(kindCampaign, p.rules.Campaign, c)
}

// tiersReached returns the tiers rs reaches that are not settled yet,
// without writing anything, so that a caller can judge the budget for all
// of them before the first is paid.
func (p *Program) tiersReached(rs referrerState) []Tier {
	var out []Tier
	for _, t := range p.rules.Tiers {
		if t.Invitees <= rs.Paid && !containsInt(rs.Tiers, t.Invitees) {
			out = append(out, t)
		}
	}
	return out
}

// tierUnits is tier t's bonus in minor units for a referrer already paid
// paid in tier bonuses: capped by MaxTierBonus, never negative.
func (p *Program) tierUnits(t Tier, paid int64) int64 {
	u := p.units(t.Bonus)
	if p.rules.MaxTierBonus.Sign() > 0 {
		// 0 <= paid <= MaxTierBonus: the difference cannot overflow.
		u = min(u, p.units(p.rules.MaxTierBonus)-paid)
	}
	return max(u, 0)
}

// tierGrants pays the tier bonuses a referrer has reached. With strict, a
// bonus the budget cannot pay fails the unit of work; otherwise the tier is
// settled unpaid and listed in refused (by its invitee count, as a grant's
// Subject names it).
func (p *Program) tierGrants(w *ledger.Writer, referrer string, rs *referrerState, strict bool) (grants []Grant, refused []string, err error) {
	for _, t := range p.tiersReached(*rs) {
		rs.Tiers = append(rs.Tiers, t.Invitees)
		u := p.tierUnits(t, rs.TierBonus)
		if u == 0 {
			continue
		}
		g, err := p.grant(w, referrer, RewardTier, fmt.Sprint(t.Invitees), p.amount(u), false)
		if err != nil {
			if strict || !errors.Is(err, ErrBudgetExhausted) {
				return nil, nil, err
			}
			refused = append(refused, fmt.Sprint(t.Invitees))
			if err := p.emitReward(w, EventTierUnfunded, RewardData{Member: referrer, For: fmt.Sprint(t.Invitees), Amount: p.amount(u)}); err != nil {
				return nil, nil, err
			}
			continue
		}
		if rs.TierBonus, err = kit.Add("tier bonuses", rs.TierBonus, u); err != nil {
			return nil, nil, err
		}
		grants = append(grants, g)
	}
	return grants, refused, nil
}

// checkBudgetFor refuses, before anything is written, a signup whose
// reward and the tier bonuses it reaches the budget cannot pay together:
// each grant checks the budget too, but a tier bonus refused after the
// signup reward was paid would leave the event half done. The country
// budget of the referrer's country is judged for all of them the same way.
func (p *Program) checkBudgetFor(w *ledger.Writer, referrer string, rs referrerState, reward int64) error {
	total, paid := reward, rs.TierBonus
	for _, t := range p.tiersReached(rs) {
		u := p.tierUnits(t, paid)
		var err error
		if paid, err = kit.Add("tier bonuses", paid, u); err != nil {
			return err
		}
		if total, err = kit.Add("rewards of one signup", total, u); err != nil {
			return err
		}
	}
	if err := p.checkEarning(w, referrer, total, false); err != nil {
		return err
	}
	b, err := w.Balance(p.budget, p.rules.Asset.Code)
	if err != nil {
		return err
	}
	if b.Available.LessThan(p.amount(total)) {
		return ledger.Refuse(ErrBudgetExhausted, "budget", "signup reward and tier bonuses of %s %s: campaign %s has %s available",
			p.amount(total), p.rules.Asset.Code, p.rules.Campaign, b.Available)
	}
	return nil
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// SetKillSwitchRequest turns the program off or on again for a country.
type SetKillSwitchRequest struct {
	// Actor sets the switch; they must hold kit.RoleRiskOfficer.
	Actor string `json:"actor"`
	// Country is an ISO 3166 code ("IT"), 1 to 16 bytes.
	Country string `json:"country"`
	// Disabled turns the program off for members residing in Country;
	// false turns it on again.
	Disabled bool `json:"disabled"`
}

// SetKillSwitch turns the program off (Disabled) or on again for members
// residing in a country. While off, nothing is paid to or for them: their
// signups, purchases, tasks and retention bonuses are refused
// (ErrCountryDisabled, rule disabled_countries), and held shop rewards
// whose return window ends are withheld by Tick until the switch is off
// again (see Tick). The actor must hold kit.RoleRiskOfficer; otherwise the
// call is ledger.ErrForbidden and changes nothing. The switch records who
// set it and when. It runs in a unit of work of its own; SetKillSwitchIn
// runs it in the caller's.
func (p *Program) SetKillSwitch(ctx context.Context, req SetKillSwitchRequest) error {
	return p.l.Update(ctx, func(w *ledger.Writer) error { return p.SetKillSwitchIn(w, req) })
}

// SetKillSwitchIn is SetKillSwitch inside the caller's unit of work w, as
// one step (ledger.Writer.Atomic): refused, it wrote nothing and the
// caller may go on.
func (p *Program) SetKillSwitchIn(w *ledger.Writer, req SetKillSwitchRequest) error {
	return w.Atomic(func(w *ledger.Writer) error { return p.setKillSwitchIn(w, req) })
}

// setKillSwitchIn is the body of SetKillSwitchIn, run as one step.
func (p *Program) setKillSwitchIn(w *ledger.Writer, req SetKillSwitchRequest) error {
	if req.Country == "" || len(req.Country) > 16 {
		return fmt.Errorf("%w: country must have 1 to 16 bytes", ErrInvalidRequest)
	}
	what := fmt.Sprintf("kill switch for %q", req.Country)
	if err := kit.Authorize(w.Context(), p.roles, req.Actor, kit.RoleRiskOfficer); err != nil {
		return fail(err, "%s", what)
	}
	if err := checkNow(w); err != nil {
		return fail(err, "%s", what)
	}
	was, err := p.killed(w, req.Country)
	if err != nil {
		return fail(err, "%s", what)
	}
	if err := w.SaveJSON(kindKill, p.id(req.Country), killState{Disabled: req.Disabled, By: req.Actor, At: w.Now()}); err != nil {
		return fail(err, "%s", what)
	}
	if was == req.Disabled {
		return nil
	}
	err = w.Emit(EventKillSwitchChanged, req.Country, KillSwitchData{Campaign: p.rules.Campaign, Country: req.Country,
		Disabled: req.Disabled, Actor: req.Actor})
	return fail(err, "%s", what)
}

// Budget is a campaign budget's state.
type Budget struct {
	Account   string
	Funded    decimal.Decimal // put into the budget in all
	Spent     decimal.Decimal // paid out as rewards
	Held      decimal.Decimal // pending rewards waiting for a return window (kit.Pending)
	Available decimal.Decimal // what new rewards may still use
}

// FundRequest tops up the campaign budget.
type FundRequest struct {
	// EventID makes the top-up idempotent: the same ID with the same
	// amount funds once.
	EventID string `json:"event_id"`
	// Actor funds the budget; they must hold kit.RoleProgramAdmin.
	Actor string `json:"actor"`
	// Amount is a positive amount of the rules' asset.
	Amount decimal.Decimal `json:"amount"`
}

// FundResult is what a top-up of the budget did.
type FundResult struct {
	// EventID is the request's event ID (stored results name it "key").
	EventID     string          `json:"key"`
	Amount      decimal.Decimal `json:"amount"`
	Transaction uint64          `json:"transaction"`
	// Replayed: the event ID was funded before with the same amount;
	// nothing moved this time.
	Replayed bool `json:"-"`
}

type fundRequest struct {
	Amount string `json:"amount"`
}

// Fund tops up the campaign budget from ledger.World. The event ID makes
// it idempotent: the same ID with the same amount funds once (a retry is
// Replayed), with another amount it is ErrIdempotencyConflict. The actor
// must hold kit.RoleProgramAdmin, checked on every call; otherwise the
// call is ledger.ErrForbidden and changes nothing.
func (p *Program) Fund(ctx context.Context, req FundRequest) (FundResult, error) {
	return kit.Run(ctx, p.l, func(w *ledger.Writer) (FundResult, error) { return p.FundIn(w, req) })
}

// FundIn is Fund inside the caller's unit of work w, as one step (kit.Once
// runs it through ledger.Writer.Atomic): refused before it wrote, the
// caller may go on; failed after, the unit of work cannot commit.
func (p *Program) FundIn(w *ledger.Writer, req FundRequest) (FundResult, error) {
	if err := checkIDs("event id", req.EventID); err != nil {
		return FundResult{}, err
	}
	if err := kit.Authorize(w.Context(), p.roles, req.Actor, kit.RoleProgramAdmin); err != nil {
		return FundResult{}, fail(err, "fund campaign %s", p.rules.Campaign)
	}
	res, err := p.fund(w, req.EventID, req.Actor, req.Amount)
	return res, fail(err, "fund campaign %s", p.rules.Campaign)
}

// fund funds the budget once per event ID, in w.
func (p *Program) fund(w *ledger.Writer, eventID, actor string, amount decimal.Decimal) (FundResult, error) {
	u, err := units(p.rules.Asset, amount)
	if err != nil || u <= 0 {
		if err == nil {
			err = ledger.ErrInvalidAmount
		}
		return FundResult{}, fmt.Errorf("%w: fund amount must be a positive amount of %s with at most %d decimals: %w",
			ErrInvalidRequest, p.rules.Asset.Code, p.rules.Asset.Precision, err)
	}
	amount = p.amount(u)
	res, replayed, err := once(w, p, "fund", "fund:"+eventID, fundRequest{Amount: amount.String()}, func(w *ledger.Writer) (FundResult, error) {
		var c campaignState
		if _, err := loadJSON(w, kindCampaign, p.rules.Campaign, &c); err != nil {
			return FundResult{}, err
		}
		funded, err := kit.Add("campaign funded", c.Funded, u)
		if err != nil {
			return FundResult{}, err
		}
		t, err := w.Post(ledger.TransferRequest{Key: "referral:" + p.id("fund", eventID),
			Postings: []ledger.Posting{{From: ledger.World, To: p.budget, Asset: p.rules.Asset.Code, Amount: amount}},
			Metadata: map[string]string{"program": "referral", "campaign": p.rules.Campaign, "kind": "fund"}})
		if err != nil {
			return FundResult{}, err
		}
		c.Funded = funded
		if err := w.SaveJSON(kindCampaign, p.rules.Campaign, c); err != nil {
			return FundResult{}, err
		}
		if err := w.Emit(EventBudgetFunded, p.rules.Campaign, BudgetData{Campaign: p.rules.Campaign, EventID: eventID,
			Actor: actor, Amount: amount, Asset: p.rules.Asset.Code}); err != nil {
			return FundResult{}, err
		}
		return FundResult{EventID: eventID, Amount: amount, Transaction: t.ID}, nil
	})
	if err != nil {
		return FundResult{}, err
	}
	res.Replayed = replayed
	return res, nil
}

// Budget reports the campaign budget: funded, spent, held and available.
func (p *Program) Budget(ctx context.Context) (Budget, error) {
	var out Budget
	err := p.l.View(ctx, func(r *ledger.Reader) error {
		var c campaignState
		if err := r.LoadJSON(kindCampaign, p.rules.Campaign, &c); err != nil && !errors.Is(err, ledger.ErrNotFound) {
			return err
		}
		b, err := r.Balance(p.budget, p.rules.Asset.Code)
		if err != nil {
			return err
		}
		out = Budget{Account: p.budget, Funded: p.amount(c.Funded), Spent: p.amount(c.Spent), Held: b.Held.Add(p.amount(c.Pending)), Available: b.Available}
		return nil
	})
	return out, err
}
