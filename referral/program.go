package referral

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger"
)

// Record kinds the program keeps beside the ledger. Every record id starts
// with the campaign id.
const (
	kindEvent    = "referral.event"    // <c>:<event id> -> eventRecord
	kindCode     = "referral.code"     // <c>:<code> -> member id
	kindReferrer = "referral.referrer" // <c>:<member> -> referrerState
	kindInvite   = "referral.invite"   // <c>:<invitee> -> Invite
	kindReward   = "referral.reward"   // <c>:<kind>:<member>:<subject> -> claim
	kindDaily    = "referral.daily"    // <c>:<member>:<day> -> dailyState
	kindSignal   = "referral.signal"   // <c>:device:<fp> / <c>:payment:<fp> -> invitee
	kindPurchase = "referral.purchase" // <c>:<purchase id> -> invitee
	kindCampaign = "referral.campaign" // <c> -> campaignState
	kindKill     = "referral.kill"     // <c>:<country> -> killState
	kindFund     = "referral.fund"     // <c>:<key> -> amount in units
	dueRelease   = "referral.release:" // + <c>; id: invitee
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
	// StatusHeld: the reward is held on the budget until the return window ends.
	StatusHeld InviteStatus = "held"
	// StatusPaid: the held reward was paid when the return window ended.
	StatusPaid InviteStatus = "paid"
	// StatusCancelled: the purchase was refunded inside the return window.
	StatusCancelled InviteStatus = "cancelled"
	// StatusUnfunded: the hold had expired and the budget could not pay.
	StatusUnfunded InviteStatus = "unfunded"
)

// Invite is one invitee's referral.
type Invite struct {
	Referrer      string       `json:"referrer"`
	Invitee       string       `json:"invitee"`
	Code          string       `json:"code"`
	SignedUpAt    time.Time    `json:"signed_up_at"`
	Status        InviteStatus `json:"status"`
	Purchase      string       `json:"purchase,omitempty"`
	HoldID        uint64       `json:"hold_id,omitempty"`
	ReleaseAt     time.Time    `json:"release_at,omitempty"`
	ActiveDays    []string     `json:"active_days,omitempty"`
	RetentionPaid bool         `json:"retention_paid,omitempty"`
}

// Grant is one reward paid from the campaign budget.
type Grant struct {
	Kind        string          `json:"kind"`    // RewardSignup, RewardRetention, RewardTask, RewardTier
	Member      string          `json:"member"`  // who was paid
	Subject     string          `json:"subject"` // the invitee, "<task>@<period>", or the tier's invitee count
	Amount      decimal.Decimal `json:"amount"`
	Transaction uint64          `json:"transaction"`
}

type eventRecord struct {
	Fingerprint string          `json:"fp"`
	Result      json.RawMessage `json:"result"`
}

type referrerState struct {
	Code      string `json:"code"`
	Rewarded  int    `json:"rewarded"`   // invitees rewarded or held (for max_rewarded_invitees)
	Paid      int    `json:"paid"`       // invitees whose signup reward was paid (for tiers)
	TierBonus int64  `json:"tier_bonus"` // units paid as tier bonuses
	Tiers     []int  `json:"tiers"`      // tier thresholds settled
}

type dailyState struct {
	Invites int   `json:"invites"`
	Earned  int64 `json:"earned"`
}

type campaignState struct {
	Funded int64 `json:"funded"`
	Spent  int64 `json:"spent"`
}

type killState struct {
	Disabled bool `json:"disabled"`
}

// Program runs one referral campaign over a ledger. It is safe for
// concurrent use.
type Program struct {
	l        *ledger.Ledger
	rules    Rules
	members  Members
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

// MemberAccount is the wallet address of a member, shared by every program.
func MemberAccount(id string) string { return "member:" + id }

// BudgetAccount is the address of a campaign's budget account.
func BudgetAccount(campaign string) string { return "referral:campaign:" + campaign + ":budget" }

// New validates the rules, defines the reward asset, opens World and the
// budget account, and funds the budget from World with Rules.Budget (once:
// setting the program up again with the same budget changes nothing).
func New(ctx context.Context, l *ledger.Ledger, rules Rules, members Members, opts ...Option) (*Program, error) {
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
		if err := w.DefineAsset(rules.Asset); err != nil {
			return err
		}
		if _, err := w.OpenAccount(ledger.AccountSpec{Address: ledger.World, Overdraft: ledger.Overdraft{Unbounded: true}}); err != nil {
			return err
		}
		_, err := w.OpenAccount(ledger.AccountSpec{Address: p.budget})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("referral: set up campaign %s: %w", rules.Campaign, err)
	}
	if rules.Budget.Sign() > 0 {
		if _, err := p.Fund(ctx, "setup", rules.Budget); err != nil {
			return nil, err
		}
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
	u, _ := p.rules.Asset.Units(d) // rules were validated
	return u
}

func (p *Program) amount(u int64) decimal.Decimal { return p.rules.Asset.Amount(u) }

// checkIDs validates event arguments: non-empty, short, usable in addresses.
func checkIDs(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		name, v := pairs[i], pairs[i+1]
		if v == "" || len(v) > 64 {
			return fmt.Errorf("%w: %s %q must have 1 to 64 characters", ErrInvalidEvent, name, v)
		}
		if err := ledger.ValidateAddress("x:" + v); err != nil || containsColon(v) {
			return fmt.Errorf("%w: %s %q may hold only letters, digits and _-.@+", ErrInvalidEvent, name, v)
		}
	}
	return nil
}

// loadJSON reads a record into v and reports whether it existed.
func loadJSON(r *ledger.Writer, kind, id string, v any) (bool, error) {
	err := r.LoadJSON(kind, id, v)
	if errors.Is(err, ledger.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// replay returns the stored result of an event already processed. done is
// false when the event id is new.
func (p *Program) replay(w *ledger.Writer, eventID, fp string, out any) (done bool, err error) {
	var ev eventRecord
	ok, err := loadJSON(w, kindEvent, p.id(eventID), &ev)
	if err != nil || !ok {
		return false, err
	}
	if ev.Fingerprint != fp {
		return true, fmt.Errorf("%w: %q was %s", ErrEventConflict, eventID, ev.Fingerprint)
	}
	return true, json.Unmarshal(ev.Result, out)
}

func (p *Program) saveEvent(w *ledger.Writer, eventID, fp string, result any) error {
	b, err := json.Marshal(result)
	if err != nil {
		return err
	}
	return w.CreateJSON(kindEvent, p.id(eventID), eventRecord{Fingerprint: fp, Result: b})
}

// inWindow refuses events outside the campaign window.
func (p *Program) inWindow(now time.Time) error {
	if !p.rules.Start.IsZero() && now.Before(p.rules.Start) {
		return fmt.Errorf("%w: rule start: campaign %s opens at %s", ErrCampaignClosed, p.rules.Campaign, p.rules.Start.Format(time.RFC3339))
	}
	if !p.rules.End.IsZero() && !now.Before(p.rules.End) {
		return fmt.Errorf("%w: rule end: campaign %s ended at %s", ErrCampaignClosed, p.rules.Campaign, p.rules.End.Format(time.RFC3339))
	}
	return nil
}

func (p *Program) killed(w *ledger.Writer, country string) (bool, error) {
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

func (p *Program) checkKill(w *ledger.Writer, m Member, role string) error {
	off, err := p.killed(w, m.Country)
	if err != nil {
		return err
	}
	if off {
		return fmt.Errorf("%w: kill switch: %s %s resides in %q", ErrCountryDisabled, role, m.ID, m.Country)
	}
	return nil
}

// eligible applies the earning rules to a member's facts.
func (p *Program) eligible(m Member, role string) error {
	r := p.rules
	switch {
	case r.Country != "" && m.Country != r.Country:
		return fmt.Errorf("%w: rule country: %s %s resides in %q, not %q", ErrIneligible, role, m.ID, m.Country, r.Country)
	case m.Age < r.MinAge:
		return fmt.Errorf("%w: rule min_age: %s %s is %d, under %d", ErrIneligible, role, m.ID, m.Age, r.MinAge)
	case r.RequireProfile && !m.HasProfile:
		return fmt.Errorf("%w: rule require_profile: %s %s has no profile", ErrIneligible, role, m.ID)
	case r.RequirePayoutLinked && !m.PayoutLinked:
		return fmt.Errorf("%w: rule require_payout_linked: %s %s has no linked payout account", ErrIneligible, role, m.ID)
	case r.ExcludeEmployees && m.Employee:
		return fmt.Errorf("%w: rule exclude_employees: %s %s has ties to the company", ErrIneligible, role, m.ID)
	}
	return nil
}

// canEarn is everything that must hold for a member to be paid now.
func (p *Program) canEarn(w *ledger.Writer, m Member, role string) error {
	if err := p.inWindow(w.Now()); err != nil {
		return err
	}
	if err := p.checkKill(w, m, role); err != nil {
		return err
	}
	return p.eligible(m, role)
}

// checkGrant checks, without writing, that a reward can be paid: not paid
// before, within the daily cap (when capped), within the budget.
func (p *Program) checkGrant(w *ledger.Writer, member, kind, subject string, amount decimal.Decimal, capped bool) error {
	if _, err := w.Record(kindReward, p.id(kind, member, subject)); err == nil {
		return fmt.Errorf("%w: %s reward to %s for %s", ErrAlreadyRewarded, kind, member, subject)
	} else if !errors.Is(err, ledger.ErrNotFound) {
		return err
	}
	u := p.units(amount)
	if capped && p.rules.DailyEarningCap.Sign() > 0 {
		var d dailyState
		if _, err := loadJSON(w, kindDaily, p.id(member, p.day(w.Now())), &d); err != nil {
			return err
		}
		if d.Earned+u > p.units(p.rules.DailyEarningCap) {
			return fmt.Errorf("%w: rule daily_earning_cap: %s has earned %s %s today, cap %s", ErrCapReached,
				member, p.amount(d.Earned), p.rules.Asset.Code, p.rules.DailyEarningCap)
		}
	}
	b, err := w.Balance(p.budget, p.rules.Asset.Code)
	if err != nil {
		return err
	}
	if b.Available.LessThan(amount) {
		return fmt.Errorf("%w: %s %s %s reward needs %s, %s has %s available", ErrBudgetExhausted,
			kind, amount, p.rules.Asset.Code, amount, p.budget, b.Available)
	}
	return nil
}

// applyGrant pays a reward checked by checkGrant.
func (p *Program) applyGrant(w *ledger.Writer, member, kind, subject string, amount decimal.Decimal) (Grant, error) {
	rid := p.id(kind, member, subject)
	if err := w.InsertRecord(kindReward, rid, []byte("{}")); err != nil {
		if errors.Is(err, ledger.ErrDuplicate) {
			return Grant{}, fmt.Errorf("%w: %s reward to %s for %s", ErrAlreadyRewarded, kind, member, subject)
		}
		return Grant{}, err
	}
	if _, err := w.OpenAccount(ledger.AccountSpec{Address: MemberAccount(member)}); err != nil {
		return Grant{}, err
	}
	t, err := w.Post(ledger.TransferRequest{
		Key:      "referral:" + rid,
		Postings: []ledger.Posting{{From: p.budget, To: MemberAccount(member), Asset: p.rules.Asset.Code, Amount: amount}},
		Metadata: map[string]string{"program": "referral", "campaign": p.rules.Campaign, "kind": kind, "member": member, "subject": subject},
	})
	if err != nil {
		if errors.Is(err, ledger.ErrInsufficientFunds) {
			return Grant{}, fmt.Errorf("%w: %v", ErrBudgetExhausted, err)
		}
		return Grant{}, err
	}
	if err := p.addEarned(w, member, p.units(amount)); err != nil {
		return Grant{}, err
	}
	if err := p.addSpent(w, p.units(amount)); err != nil {
		return Grant{}, err
	}
	return Grant{Kind: kind, Member: member, Subject: subject, Amount: amount, Transaction: t.ID}, nil
}

func (p *Program) grant(w *ledger.Writer, member, kind, subject string, amount decimal.Decimal, capped bool) (Grant, error) {
	if err := p.checkGrant(w, member, kind, subject, amount, capped); err != nil {
		return Grant{}, err
	}
	return p.applyGrant(w, member, kind, subject, amount)
}

func (p *Program) addEarned(w *ledger.Writer, member string, u int64) error {
	id := p.id(member, p.day(w.Now()))
	var d dailyState
	if _, err := loadJSON(w, kindDaily, id, &d); err != nil {
		return err
	}
	d.Earned += u
	return w.SaveJSON(kindDaily, id, d)
}

func (p *Program) addSpent(w *ledger.Writer, u int64) error {
	var c campaignState
	if _, err := loadJSON(w, kindCampaign, p.rules.Campaign, &c); err != nil {
		return err
	}
	c.Spent += u
	return w.SaveJSON(kindCampaign, p.rules.Campaign, c)
}

// tierGrants pays the tier bonuses a referrer has reached. With strict, a
// bonus the budget cannot pay fails the unit of work; otherwise the tier is
// settled unpaid and the reason returned in refused.
func (p *Program) tierGrants(w *ledger.Writer, referrer string, rs *referrerState, strict bool) (grants []Grant, refused []string, err error) {
	for _, t := range p.rules.Tiers {
		if t.Invitees > rs.Paid || containsInt(rs.Tiers, t.Invitees) {
			continue
		}
		u := p.units(t.Bonus)
		if p.rules.MaxTierBonus.Sign() > 0 {
			u = min(u, p.units(p.rules.MaxTierBonus)-rs.TierBonus)
		}
		rs.Tiers = append(rs.Tiers, t.Invitees)
		if u <= 0 {
			continue
		}
		g, err := p.grant(w, referrer, RewardTier, strconv.Itoa(t.Invitees), p.amount(u), false)
		if err != nil {
			if strict || !errors.Is(err, ErrBudgetExhausted) {
				return nil, nil, err
			}
			refused = append(refused, err.Error())
			continue
		}
		rs.TierBonus += u
		grants = append(grants, g)
	}
	return grants, refused, nil
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// codeAlphabet leaves out I, O, 0 and 1, which read aloud ambiguously.
const codeAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

func (p *Program) makeCode(member string, attempt int) string {
	h := sha256.Sum256([]byte(p.salt + "\x00" + p.rules.Campaign + "\x00" + member + "\x00" + strconv.Itoa(attempt)))
	v := binary.BigEndian.Uint64(h[:8])
	var b [8]byte
	for i := range b {
		b[i] = codeAlphabet[v&31]
		v >>= 5
	}
	return string(b[:])
}

// NormalizeCode turns a code as typed or read aloud ("abcd-2345",
// "ABCD 2345") into its stored form ("ABCD2345").
func NormalizeCode(code string) string {
	var b strings.Builder
	for _, c := range strings.ToUpper(code) {
		if c == '-' || c == ' ' {
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// FormatCode writes a stored code in two groups of four ("ABCD-2345").
func FormatCode(code string) string {
	if len(code) != 8 {
		return code
	}
	return code[:4] + "-" + code[4:]
}

// IssueCode gives a member their invite code: eight characters from an
// alphabet without look-alikes, unique in the campaign. A member has one
// code; issuing again returns it. The member must be eligible to earn.
func (p *Program) IssueCode(ctx context.Context, eventID, memberID string) (string, error) {
	if err := checkIDs("event id", eventID, "member", memberID); err != nil {
		return "", err
	}
	m, err := p.members.Member(ctx, memberID)
	if err != nil {
		return "", err
	}
	fp := "code|" + memberID
	var code string
	err = p.l.Update(ctx, func(w *ledger.Writer) error {
		code = ""
		if done, err := p.replay(w, eventID, fp, &code); done || err != nil {
			return err
		}
		if err := p.canEarn(w, m, "member"); err != nil {
			return err
		}
		var rs referrerState
		if _, err := loadJSON(w, kindReferrer, p.id(memberID), &rs); err != nil {
			return err
		}
		if rs.Code == "" {
			for attempt := 0; ; attempt++ {
				if attempt == 64 {
					return fmt.Errorf("referral: no free invite code for %s", memberID)
				}
				c := p.makeCode(memberID, attempt)
				err := w.InsertRecord(kindCode, p.id(c), []byte(strconv.Quote(memberID)))
				if errors.Is(err, ledger.ErrDuplicate) {
					continue
				}
				if err != nil {
					return err
				}
				rs.Code = c
				break
			}
			if err := w.SaveJSON(kindReferrer, p.id(memberID), rs); err != nil {
				return err
			}
		}
		code = FormatCode(rs.Code)
		return p.saveEvent(w, eventID, fp, code)
	})
	if err != nil {
		return "", fmt.Errorf("referral: issue code to %s: %w", memberID, err)
	}
	return code, nil
}

func (p *Program) codeOwner(ctx context.Context, code string) (string, error) {
	var owner string
	err := p.l.View(ctx, func(r *ledger.Reader) error {
		b, err := r.Record(kindCode, p.id(code))
		if errors.Is(err, ledger.ErrNotFound) {
			return fmt.Errorf("%w: %q", ErrUnknownCode, FormatCode(code))
		}
		if err != nil {
			return err
		}
		return json.Unmarshal(b, &owner)
	})
	return owner, err
}

// SignupResult is what a signup did.
type SignupResult struct {
	Invite Invite  `json:"invite"`
	Grants []Grant `json:"grants,omitempty"` // the signup reward and tier bonuses it reached, if paid now
}

// Signup records that invitee signed up with code. Without
// Rules.RequirePurchase it pays the referrer the signup reward (and any
// tier bonus reached) from the budget at once; with it, the reward waits
// for RecordPurchase. Refusals (self-referral, loop, not new, other
// country, ineligible referrer, caps, budget, window, kill switch) record
// nothing.
func (p *Program) Signup(ctx context.Context, eventID, inviteeID, code string) (SignupResult, error) {
	if err := checkIDs("event id", eventID, "invitee", inviteeID); err != nil {
		return SignupResult{}, err
	}
	norm := NormalizeCode(code)
	if len(norm) != 8 {
		return SignupResult{}, fmt.Errorf("%w: %q", ErrUnknownCode, code)
	}
	referrerID, err := p.codeOwner(ctx, norm)
	if err != nil {
		return SignupResult{}, err
	}
	referrer, err := p.members.Member(ctx, referrerID)
	if err != nil {
		return SignupResult{}, err
	}
	invitee, err := p.members.Member(ctx, inviteeID)
	if err != nil {
		return SignupResult{}, err
	}
	fp := "signup|" + inviteeID + "|" + norm
	var res SignupResult
	err = p.l.Update(ctx, func(w *ledger.Writer) error {
		res = SignupResult{}
		if done, err := p.replay(w, eventID, fp, &res); done || err != nil {
			return err
		}
		now := w.Now()
		if err := p.inWindow(now); err != nil {
			return err
		}
		if err := p.checkKill(w, referrer, "referrer"); err != nil {
			return err
		}
		if err := p.checkKill(w, invitee, "invitee"); err != nil {
			return err
		}
		switch {
		case inviteeID == referrerID:
			return fmt.Errorf("%w: same member: %s used their own code", ErrSelfReferral, inviteeID)
		case invitee.Device != "" && invitee.Device == referrer.Device:
			return fmt.Errorf("%w: same device: invitee %s and referrer %s", ErrSelfReferral, inviteeID, referrerID)
		case invitee.PaymentInstrument != "" && invitee.PaymentInstrument == referrer.PaymentInstrument:
			return fmt.Errorf("%w: same payment instrument: invitee %s and referrer %s", ErrSelfReferral, inviteeID, referrerID)
		}
		if err := p.eligible(referrer, "referrer"); err != nil {
			return err
		}
		if p.rules.SameCountry && invitee.Country != referrer.Country {
			return fmt.Errorf("%w: rule same_country: invitee %s resides in %q, referrer %s in %q", ErrIneligible,
				inviteeID, invitee.Country, referrerID, referrer.Country)
		}
		if p.rules.Newness.RejectPriorAccount && invitee.PriorAccount {
			return fmt.Errorf("%w: rule newness.reject_prior_account: %s had an account before", ErrNotNew, inviteeID)
		}
		if max := time.Duration(p.rules.Newness.MaxAccountAge); max > 0 && now.Sub(invitee.RegisteredAt) > max {
			return fmt.Errorf("%w: rule newness.max_account_age: %s registered at %s, more than %s ago", ErrNotNew,
				inviteeID, invitee.RegisteredAt.Format(time.RFC3339), max)
		}
		var prior Invite
		if ok, err := loadJSON(w, kindInvite, p.id(inviteeID), &prior); err != nil {
			return err
		} else if ok {
			return fmt.Errorf("%w: %s signed up with %s's code", ErrAlreadyReferred, inviteeID, prior.Referrer)
		}
		var up Invite
		if ok, err := loadJSON(w, kindInvite, p.id(referrerID), &up); err != nil {
			return err
		} else if ok && up.Referrer == inviteeID {
			return fmt.Errorf("%w: %s invited %s", ErrReferralLoop, inviteeID, referrerID)
		}
		signals := map[string]string{"device": invitee.Device, "payment": invitee.PaymentInstrument}
		for _, name := range []string{"device", "payment"} {
			if signals[name] == "" {
				continue
			}
			if _, err := w.Record(kindSignal, p.id(name, signals[name])); err == nil {
				return fmt.Errorf("%w: %s of invitee %s", ErrDuplicateSignal, name, inviteeID)
			} else if !errors.Is(err, ledger.ErrNotFound) {
				return err
			}
		}
		day := p.day(now)
		var d dailyState
		if _, err := loadJSON(w, kindDaily, p.id(referrerID, day), &d); err != nil {
			return err
		}
		if p.rules.InvitesPerDay > 0 && d.Invites >= p.rules.InvitesPerDay {
			return fmt.Errorf("%w: rule invites_per_day: %s already has %d signups today", ErrCapReached, referrerID, d.Invites)
		}
		var rs referrerState
		if _, err := loadJSON(w, kindReferrer, p.id(referrerID), &rs); err != nil {
			return err
		}
		inv := Invite{Referrer: referrerID, Invitee: inviteeID, Code: FormatCode(norm), SignedUpAt: now, Status: StatusAwaitingPurchase}
		if !p.rules.RequirePurchase {
			inv.Status = StatusRewarded
			if p.rules.MaxRewardedInvitees > 0 && rs.Rewarded >= p.rules.MaxRewardedInvitees {
				return fmt.Errorf("%w: rule max_rewarded_invitees: %s was rewarded for %d invitees", ErrCapReached, referrerID, rs.Rewarded)
			}
			rs.Rewarded++
			rs.Paid++
			if p.rules.SignupReward.Sign() > 0 {
				g, err := p.grant(w, referrerID, RewardSignup, inviteeID, p.rules.SignupReward, true)
				if err != nil {
					return err
				}
				res.Grants = append(res.Grants, g)
			}
			tiers, _, err := p.tierGrants(w, referrerID, &rs, true)
			if err != nil {
				return err
			}
			res.Grants = append(res.Grants, tiers...)
		}
		for _, name := range []string{"device", "payment"} {
			if signals[name] != "" {
				if err := w.PutRecord(kindSignal, p.id(name, signals[name]), []byte(strconv.Quote(inviteeID))); err != nil {
					return err
				}
			}
		}
		if _, err := loadJSON(w, kindDaily, p.id(referrerID, day), &d); err != nil { // grants changed it
			return err
		}
		d.Invites++
		if err := w.SaveJSON(kindDaily, p.id(referrerID, day), d); err != nil {
			return err
		}
		if err := w.SaveJSON(kindReferrer, p.id(referrerID), rs); err != nil {
			return err
		}
		if err := w.SaveJSON(kindInvite, p.id(inviteeID), inv); err != nil {
			return err
		}
		res.Invite = inv
		return p.saveEvent(w, eventID, fp, res)
	})
	if err != nil {
		return SignupResult{}, fmt.Errorf("referral: signup of %s with code %s: %w", inviteeID, FormatCode(norm), err)
	}
	return res, nil
}

func (p *Program) invite(ctx context.Context, invitee string) (Invite, error) {
	var inv Invite
	err := p.l.View(ctx, func(r *ledger.Reader) error {
		err := r.LoadJSON(kindInvite, p.id(invitee), &inv)
		if errors.Is(err, ledger.ErrNotFound) {
			return fmt.Errorf("%w: %s", ErrNotInvited, invitee)
		}
		return err
	})
	return inv, err
}

// Invite returns an invitee's referral, or ErrNotInvited.
func (p *Program) Invite(ctx context.Context, invitee string) (Invite, error) {
	return p.invite(ctx, invitee)
}

// ActivityResult is what recording an invitee's activity did.
type ActivityResult struct {
	Invite     Invite `json:"invite"`
	ActiveDays int    `json:"active_days"` // days that count toward retention
	Grant      *Grant `json:"grant,omitempty"`
	// Refused says why a retention reward that is due could not be paid
	// now (a cap, the budget, the referrer's eligibility); the next
	// activity tries again.
	Refused string `json:"refused,omitempty"`
}

// RecordActivity records that an invitee was active now. Once the invitee
// has been active on Rules.RetentionDays days (counted as the rules say),
// the referrer is paid the retention reward, once. The activity is kept
// even when the reward cannot be paid yet (see ActivityResult.Refused).
func (p *Program) RecordActivity(ctx context.Context, eventID, inviteeID string) (ActivityResult, error) {
	if err := checkIDs("event id", eventID, "invitee", inviteeID); err != nil {
		return ActivityResult{}, err
	}
	inv, err := p.invite(ctx, inviteeID)
	if err != nil {
		return ActivityResult{}, err
	}
	referrer, err := p.members.Member(ctx, inv.Referrer)
	if err != nil {
		return ActivityResult{}, err
	}
	fp := "activity|" + inviteeID
	var res ActivityResult
	err = p.l.Update(ctx, func(w *ledger.Writer) error {
		res = ActivityResult{}
		if done, err := p.replay(w, eventID, fp, &res); done || err != nil {
			return err
		}
		var inv Invite
		if err := w.LoadJSON(kindInvite, p.id(inviteeID), &inv); err != nil {
			return err
		}
		now := w.Now()
		within := p.rules.RetentionWithin <= 0 || now.Sub(inv.SignedUpAt) <= time.Duration(p.rules.RetentionWithin)
		if within && !inv.RetentionPaid && p.rules.RetentionDays > 0 {
			inv.ActiveDays = p.addDay(inv.ActiveDays, p.day(now))
		}
		res.ActiveDays = len(inv.ActiveDays)
		due := p.rules.RetentionReward.Sign() > 0 && !inv.RetentionPaid && len(inv.ActiveDays) >= p.rules.RetentionDays &&
			(inv.Status == StatusRewarded || inv.Status == StatusHeld || inv.Status == StatusPaid)
		if due {
			err := p.canEarn(w, referrer, "referrer")
			if err == nil {
				err = p.checkGrant(w, inv.Referrer, RewardRetention, inviteeID, p.rules.RetentionReward, true)
			}
			if err != nil {
				res.Refused = err.Error()
			} else {
				g, err := p.applyGrant(w, inv.Referrer, RewardRetention, inviteeID, p.rules.RetentionReward)
				if err != nil {
					return err
				}
				res.Grant = &g
				inv.RetentionPaid = true
			}
		}
		if err := w.SaveJSON(kindInvite, p.id(inviteeID), inv); err != nil {
			return err
		}
		res.Invite = inv
		return p.saveEvent(w, eventID, fp, res)
	})
	if err != nil {
		return ActivityResult{}, fmt.Errorf("referral: activity of %s: %w", inviteeID, err)
	}
	return res, nil
}

// addDay adds a calendar day to the days that count: any distinct day, or
// with RetentionConsecutive the current run of consecutive days.
func (p *Program) addDay(days []string, day string) []string {
	for _, d := range days {
		if d == day {
			return days
		}
	}
	if p.rules.RetentionConsecutive && len(days) > 0 {
		last, err1 := time.Parse("2006-01-02", days[len(days)-1])
		cur, err2 := time.Parse("2006-01-02", day)
		if err1 != nil || err2 != nil || !cur.Equal(last.AddDate(0, 0, 1)) {
			return []string{day}
		}
	}
	return append(days, day)
}

// TaskResult is what completing a task did.
type TaskResult struct {
	Grant Grant `json:"grant"`
}

// CompleteTask pays a member for an engagement task, once per the task's
// period. The member must be eligible to earn.
func (p *Program) CompleteTask(ctx context.Context, eventID, memberID, taskID string) (TaskResult, error) {
	if err := checkIDs("event id", eventID, "member", memberID); err != nil {
		return TaskResult{}, err
	}
	task, ok := p.tasks[taskID]
	if !ok {
		return TaskResult{}, fmt.Errorf("%w: %q", ErrUnknownTask, taskID)
	}
	m, err := p.members.Member(ctx, memberID)
	if err != nil {
		return TaskResult{}, err
	}
	fp := "task|" + memberID + "|" + taskID
	var res TaskResult
	err = p.l.Update(ctx, func(w *ledger.Writer) error {
		res = TaskResult{}
		if done, err := p.replay(w, eventID, fp, &res); done || err != nil {
			return err
		}
		if err := p.canEarn(w, m, "member"); err != nil {
			return err
		}
		g, err := p.grant(w, memberID, RewardTask, taskID+"@"+p.period(task.Period, w.Now()), task.Reward, true)
		if err != nil {
			return err
		}
		res.Grant = g
		return p.saveEvent(w, eventID, fp, res)
	})
	if err != nil {
		return TaskResult{}, fmt.Errorf("referral: task %s of %s: %w", taskID, memberID, err)
	}
	return res, nil
}

func (p *Program) period(per Period, now time.Time) string {
	switch per {
	case PeriodDaily:
		return p.day(now)
	case PeriodWeekly:
		y, wk := now.In(p.loc).ISOWeek()
		return fmt.Sprintf("%04d-W%02d", y, wk)
	}
	return "once"
}

// PurchaseResult is what recording a purchase did.
type PurchaseResult struct {
	// Qualifying: this was the invitee's first purchase and the reward is
	// now held until ReleaseAt.
	Qualifying bool      `json:"qualifying"`
	HoldID     uint64    `json:"hold_id,omitempty"`
	ReleaseAt  time.Time `json:"release_at,omitempty"`
	Invite     *Invite   `json:"invite,omitempty"`
}

// RecordPurchase records a member's purchase. With Rules.RequirePurchase,
// an invitee's first purchase earns the referrer the signup reward: it is
// held on the campaign budget until the return window ends (Tick pays it)
// and a refund inside the window cancels it. Other purchases change
// nothing.
func (p *Program) RecordPurchase(ctx context.Context, eventID, memberID, purchaseID string) (PurchaseResult, error) {
	if err := checkIDs("event id", eventID, "member", memberID, "purchase", purchaseID); err != nil {
		return PurchaseResult{}, err
	}
	if !p.rules.RequirePurchase {
		return PurchaseResult{}, nil
	}
	inv, err := p.invite(ctx, memberID)
	if errors.Is(err, ErrNotInvited) {
		return PurchaseResult{}, nil
	}
	if err != nil {
		return PurchaseResult{}, err
	}
	referrer, err := p.members.Member(ctx, inv.Referrer)
	if err != nil {
		return PurchaseResult{}, err
	}
	fp := "purchase|" + memberID + "|" + purchaseID
	var res PurchaseResult
	err = p.l.Update(ctx, func(w *ledger.Writer) error {
		res = PurchaseResult{}
		if done, err := p.replay(w, eventID, fp, &res); done || err != nil {
			return err
		}
		var inv Invite
		if err := w.LoadJSON(kindInvite, p.id(memberID), &inv); err != nil {
			return err
		}
		if inv.Status != StatusAwaitingPurchase {
			return p.saveEvent(w, eventID, fp, res)
		}
		if err := p.canEarn(w, referrer, "referrer"); err != nil {
			return err
		}
		var rs referrerState
		if _, err := loadJSON(w, kindReferrer, p.id(inv.Referrer), &rs); err != nil {
			return err
		}
		if p.rules.MaxRewardedInvitees > 0 && rs.Rewarded >= p.rules.MaxRewardedInvitees {
			return fmt.Errorf("%w: rule max_rewarded_invitees: %s was rewarded for %d invitees", ErrCapReached, inv.Referrer, rs.Rewarded)
		}
		if err := p.checkGrant(w, inv.Referrer, RewardSignup, memberID, p.rules.SignupReward, true); err != nil {
			return err
		}
		if err := w.InsertRecord(kindPurchase, p.id(purchaseID), []byte(strconv.Quote(memberID))); err != nil {
			if errors.Is(err, ledger.ErrDuplicate) {
				return fmt.Errorf("%w: purchase %s was recorded by another event", ErrEventConflict, purchaseID)
			}
			return err
		}
		if err := w.InsertRecord(kindReward, p.id(RewardSignup, inv.Referrer, memberID), []byte("{}")); err != nil {
			return err
		}
		now := w.Now()
		release := now.Add(time.Duration(p.rules.ReturnWindow))
		h, err := w.Hold(ledger.HoldRequest{
			Key: "referral:" + p.id("hold", memberID), Account: p.budget, Asset: p.rules.Asset.Code,
			Amount: p.rules.SignupReward, ExpiresAt: release.Add(time.Duration(p.rules.HoldMargin)),
			Metadata: map[string]string{"program": "referral", "campaign": p.rules.Campaign, "kind": RewardSignup, "member": inv.Referrer, "subject": memberID},
		})
		if err != nil {
			if errors.Is(err, ledger.ErrInsufficientFunds) {
				return fmt.Errorf("%w: %v", ErrBudgetExhausted, err)
			}
			return err
		}
		if err := p.addEarned(w, inv.Referrer, p.units(p.rules.SignupReward)); err != nil {
			return err
		}
		rs.Rewarded++
		if err := w.SaveJSON(kindReferrer, p.id(inv.Referrer), rs); err != nil {
			return err
		}
		inv.Status, inv.Purchase, inv.HoldID, inv.ReleaseAt = StatusHeld, purchaseID, h.ID, release
		if err := w.SaveJSON(kindInvite, p.id(memberID), inv); err != nil {
			return err
		}
		if err := w.Schedule(dueRelease+p.rules.Campaign, memberID, release); err != nil {
			return err
		}
		res = PurchaseResult{Qualifying: true, HoldID: h.ID, ReleaseAt: release, Invite: &inv}
		return p.saveEvent(w, eventID, fp, res)
	})
	if err != nil {
		return PurchaseResult{}, fmt.Errorf("referral: purchase %s of %s: %w", purchaseID, memberID, err)
	}
	return res, nil
}

// RefundResult is what recording a refund did.
type RefundResult struct {
	// Cancelled: the refund fell inside the return window of the purchase
	// that earned a held reward, and the reward is cancelled.
	Cancelled bool    `json:"cancelled"`
	Reason    string  `json:"reason,omitempty"` // why nothing was cancelled
	Invite    *Invite `json:"invite,omitempty"`
}

// RecordRefund records a refund of a purchase. A refund inside the return
// window of the purchase that earned a held reward voids the hold and
// cancels the reward; after the window the reward stands.
func (p *Program) RecordRefund(ctx context.Context, eventID, purchaseID string) (RefundResult, error) {
	if err := checkIDs("event id", eventID, "purchase", purchaseID); err != nil {
		return RefundResult{}, err
	}
	fp := "refund|" + purchaseID
	var res RefundResult
	err := p.l.Update(ctx, func(w *ledger.Writer) error {
		res = RefundResult{}
		if done, err := p.replay(w, eventID, fp, &res); done || err != nil {
			return err
		}
		var invitee string
		if ok, err := loadJSON(w, kindPurchase, p.id(purchaseID), &invitee); err != nil {
			return err
		} else if !ok {
			res.Reason = "purchase earned no reward"
			return p.saveEvent(w, eventID, fp, res)
		}
		var inv Invite
		if err := w.LoadJSON(kindInvite, p.id(invitee), &inv); err != nil {
			return err
		}
		switch {
		case inv.Status != StatusHeld:
			res.Reason = "reward already " + string(inv.Status)
		case !w.Now().Before(inv.ReleaseAt):
			res.Reason = "return window over"
		default:
			if _, err := w.Void(inv.HoldID); err != nil {
				return err
			}
			if err := w.Unschedule(dueRelease+p.rules.Campaign, invitee); err != nil {
				return err
			}
			var rs referrerState
			if err := w.LoadJSON(kindReferrer, p.id(inv.Referrer), &rs); err != nil {
				return err
			}
			rs.Rewarded--
			if err := w.SaveJSON(kindReferrer, p.id(inv.Referrer), rs); err != nil {
				return err
			}
			inv.Status = StatusCancelled
			if err := w.SaveJSON(kindInvite, p.id(invitee), inv); err != nil {
				return err
			}
			res.Cancelled = true
		}
		res.Invite = &inv
		return p.saveEvent(w, eventID, fp, res)
	})
	if err != nil {
		return RefundResult{}, fmt.Errorf("referral: refund of %s: %w", purchaseID, err)
	}
	return res, nil
}

// TickReport says what Tick did.
type TickReport struct {
	Released     int      // held rewards paid because their return window ended
	Grants       []Grant  // rewards and tier bonuses paid
	Refused      []string // tier bonuses or late rewards the budget could not pay
	HoldsExpired int      // holds the ledger released (ledger.Tick)
}

// Tick pays the held rewards whose return window has ended (with the tier
// bonuses they reach) and lets the ledger release expired holds. Running
// it twice at the same time changes nothing the second time.
func (p *Program) Tick(ctx context.Context) (TickReport, error) {
	var rep TickReport
	for {
		var due []ledger.DueEntry
		err := p.l.View(ctx, func(r *ledger.Reader) (err error) {
			due, err = r.Due(dueRelease+p.rules.Campaign, p.l.Clock().Now(), 64)
			return err
		})
		if err != nil {
			return rep, err
		}
		if len(due) == 0 {
			break
		}
		for _, d := range due {
			var grants []Grant
			var refused []string
			released := false
			err := p.l.Update(ctx, func(w *ledger.Writer) (err error) {
				grants, refused, released = nil, nil, false
				grants, refused, released, err = p.release(w, d.ID)
				return err
			})
			if err != nil {
				return rep, fmt.Errorf("referral: release reward for %s: %w", d.ID, err)
			}
			if released {
				rep.Released++
			}
			rep.Grants = append(rep.Grants, grants...)
			rep.Refused = append(rep.Refused, refused...)
		}
	}
	n, err := p.l.Tick(ctx)
	rep.HoldsExpired = n
	return rep, err
}

func (p *Program) release(w *ledger.Writer, invitee string) (grants []Grant, refused []string, released bool, err error) {
	var inv Invite
	if err := w.LoadJSON(kindInvite, p.id(invitee), &inv); err != nil {
		return nil, nil, false, err
	}
	if inv.Status != StatusHeld {
		return nil, nil, false, w.Unschedule(dueRelease+p.rules.Campaign, invitee)
	}
	if w.Now().Before(inv.ReleaseAt) {
		return nil, nil, false, nil // the clock stepped back; the entry stays due
	}
	amount := p.rules.SignupReward
	to := MemberAccount(inv.Referrer)
	if _, err := w.OpenAccount(ledger.AccountSpec{Address: to}); err != nil {
		return nil, nil, false, err
	}
	rid := p.id(RewardSignup, inv.Referrer, invitee)
	meta := map[string]string{"program": "referral", "campaign": p.rules.Campaign, "kind": RewardSignup, "member": inv.Referrer, "subject": invitee}
	t, err := w.Capture(ledger.CaptureRequest{Key: "referral:" + rid, Hold: inv.HoldID, Final: true,
		Destinations: []ledger.Leg{{To: to, Amount: amount}}, Metadata: meta})
	if errors.Is(err, ledger.ErrHoldExpired) || errors.Is(err, ledger.ErrHoldClosed) {
		// Tick ran after the hold's margin: the hold went back to the
		// budget, so pay from the budget if it still can.
		b, berr := w.Balance(p.budget, p.rules.Asset.Code)
		if berr != nil {
			return nil, nil, false, berr
		}
		if b.Available.LessThan(amount) {
			inv.Status = StatusUnfunded
			refused = append(refused, fmt.Sprintf("%v: late release of %s's reward for %s", ErrBudgetExhausted, inv.Referrer, invitee))
			if err := w.SaveJSON(kindInvite, p.id(invitee), inv); err != nil {
				return nil, nil, false, err
			}
			return nil, refused, false, w.Unschedule(dueRelease+p.rules.Campaign, invitee)
		}
		t, err = w.Post(ledger.TransferRequest{Key: "referral:" + rid,
			Postings: []ledger.Posting{{From: p.budget, To: to, Asset: p.rules.Asset.Code, Amount: amount}}, Metadata: meta})
	}
	if err != nil {
		return nil, nil, false, err
	}
	if err := p.addSpent(w, p.units(amount)); err != nil {
		return nil, nil, false, err
	}
	grants = append(grants, Grant{Kind: RewardSignup, Member: inv.Referrer, Subject: invitee, Amount: amount, Transaction: t.ID})
	var rs referrerState
	if err := w.LoadJSON(kindReferrer, p.id(inv.Referrer), &rs); err != nil {
		return nil, nil, false, err
	}
	rs.Paid++
	tiers, refused, err := p.tierGrants(w, inv.Referrer, &rs, false)
	if err != nil {
		return nil, nil, false, err
	}
	grants = append(grants, tiers...)
	if err := w.SaveJSON(kindReferrer, p.id(inv.Referrer), rs); err != nil {
		return nil, nil, false, err
	}
	inv.Status = StatusPaid
	if err := w.SaveJSON(kindInvite, p.id(invitee), inv); err != nil {
		return nil, nil, false, err
	}
	return grants, refused, true, w.Unschedule(dueRelease+p.rules.Campaign, invitee)
}

// SetKillSwitch turns the program off (disabled) or on again for members
// residing in a country. While off, nothing is paid to or for them and
// their signups are refused (ErrCountryDisabled).
func (p *Program) SetKillSwitch(ctx context.Context, country string, disabled bool) error {
	if country == "" || len(country) > 16 {
		return fmt.Errorf("%w: country %q", ErrInvalidEvent, country)
	}
	return p.l.Update(ctx, func(w *ledger.Writer) error {
		return w.SaveJSON(kindKill, p.id(country), killState{Disabled: disabled})
	})
}

// Budget is a campaign budget's state.
type Budget struct {
	Account   string
	Funded    decimal.Decimal // put into the budget in all
	Spent     decimal.Decimal // paid out as rewards
	Held      decimal.Decimal // reserved for rewards waiting for a return window
	Available decimal.Decimal // what new rewards may still use
}

// Fund tops up the campaign budget from ledger.World. key makes it
// idempotent: the same key with the same amount funds once.
func (p *Program) Fund(ctx context.Context, key string, amount decimal.Decimal) (Budget, error) {
	if err := checkIDs("fund key", key); err != nil {
		return Budget{}, err
	}
	u, err := p.rules.Asset.Units(amount)
	if err != nil || u <= 0 {
		return Budget{}, fmt.Errorf("%w: fund amount %s %s must be positive with at most %d decimals",
			ErrInvalidEvent, amount, p.rules.Asset.Code, p.rules.Asset.Precision)
	}
	err = p.l.Update(ctx, func(w *ledger.Writer) error {
		var old int64
		if ok, err := loadJSON(w, kindFund, p.id(key), &old); err != nil {
			return err
		} else if ok {
			if old != u {
				return fmt.Errorf("%w: fund key %q funded %s, not %s", ErrEventConflict, key, p.amount(old), amount)
			}
			return nil
		}
		if _, err := w.Post(ledger.TransferRequest{Key: "referral:" + p.id("fund", key),
			Postings: []ledger.Posting{{From: ledger.World, To: p.budget, Asset: p.rules.Asset.Code, Amount: amount}},
			Metadata: map[string]string{"program": "referral", "campaign": p.rules.Campaign, "kind": "fund"}}); err != nil {
			return err
		}
		if err := w.SaveJSON(kindFund, p.id(key), u); err != nil {
			return err
		}
		var c campaignState
		if _, err := loadJSON(w, kindCampaign, p.rules.Campaign, &c); err != nil {
			return err
		}
		c.Funded += u
		return w.SaveJSON(kindCampaign, p.rules.Campaign, c)
	})
	if err != nil {
		return Budget{}, fmt.Errorf("referral: fund campaign %s: %w", p.rules.Campaign, err)
	}
	return p.Budget(ctx)
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
		out = Budget{Account: p.budget, Funded: p.amount(c.Funded), Spent: p.amount(c.Spent), Held: b.Held, Available: b.Available}
		return nil
	})
	return out, err
}
