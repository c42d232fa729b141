package subscription

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
)

// Record kinds and the due-entry kind the program keeps in the store.
const (
	kindOffer = "subscription.offer" // id: creator
	kindSub   = "subscription.sub"   // id: creator "/" member
	kindEvent = "subscription.event" // id: event id
	dueRenew  = "subscription.renew" // id: creator "/" member
)

// RevenueAccount is the account that receives the platform's part of every
// payment.
const RevenueAccount = "platform:subscription:revenue"

// maxPeriods bounds the access history kept per subscription.
const maxPeriods = 120

// MemberAccount is the member's wallet, kit.WalletAccount(member), shared
// with the other programs; it pays subscriptions.
func MemberAccount(member string) string { return kit.WalletAccount(member) }

// EarningsAccount is the account that receives a creator's share of the
// payments of their subscribers.
func EarningsAccount(creator string) string { return "creator:" + creator + ":subscriptions" }

// Tier is one subscription level a creator offers.
type Tier struct {
	ID    string          `json:"id"`
	Name  string          `json:"name,omitempty"`
	Price decimal.Decimal `json:"price"` // per billing period
	Perks []Perk          `json:"perks"`
}

// Has reports whether the tier grants perk.
func (t Tier) Has(perk Perk) bool { return slices.Contains(t.Perks, perk) }

// Offer is a creator's published tiers.
type Offer struct {
	Creator   string    `json:"creator"`
	Tiers     []Tier    `json:"tiers"`
	Version   int       `json:"version"` // 1 on first publication, +1 per change
	UpdatedAt time.Time `json:"updated_at"`
	// Replayed is set on a result of PublishTiers that replays an event
	// already done: the offer is as that event published it.
	Replayed bool `json:"-"`
}

// Tier returns the tier with the id.
func (o Offer) Tier(id string) (Tier, bool) {
	for _, t := range o.Tiers {
		if t.ID == id {
			return t, true
		}
	}
	return Tier{}, false
}

// Status is where a subscription is in its life.
type Status string

// Subscription statuses.
const (
	// StatusActive: a paid period runs and renews at PeriodEnd.
	StatusActive Status = "active"
	// StatusCanceled: cancelled; perks last until PeriodEnd, no renewal.
	StatusCanceled Status = "canceled"
	// StatusGrace: a renewal failed for lack of funds; it is retried every
	// RetryEvery until GraceUntil.
	StatusGrace Status = "grace"
	// StatusEnded: over; a new Subscribe starts again.
	StatusEnded Status = "ended"
)

// Period is a stretch of time during which a subscription granted perks:
// a paid period (consecutive ones of the same tier merged), or, with
// Rules.GraceAccess, a grace window that ended unpaid (Grace set).
type Period struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	Tier  string    `json:"tier"`
	Perks []Perk    `json:"perks"`
	Grace bool      `json:"grace,omitempty"`
}

// Subscription is a member's subscription to a creator.
type Subscription struct {
	Member  string `json:"member"`
	Creator string `json:"creator"`
	// Tier is the tier paid for in the current period, as it was when paid.
	Tier Tier `json:"tier"`
	// NextTier, set by ChangeTier, is the tier the next renewal charges and
	// grants.
	NextTier    string    `json:"next_tier,omitempty"`
	Status      Status    `json:"status"`
	StartedAt   time.Time `json:"started_at"`
	PeriodStart time.Time `json:"period_start"`
	PeriodEnd   time.Time `json:"period_end"`
	GraceUntil  time.Time `json:"grace_until,omitzero"`
	// MonthsPaid counts every month paid to this creator, across
	// re-subscriptions; BadgeLevel follows from it (Rules.BadgeMonths).
	MonthsPaid int `json:"months_paid"`
	BadgeLevel int `json:"badge_level"`
	// Charges counts payments; the n-th payment's ledger idempotency key is
	// "subscription:charge:<creator>:<member>:<n>".
	Charges int `json:"charges"`
	// Refunded is the number of the last payment staff refunded (Refund),
	// 0 if none.
	Refunded  int       `json:"refunded,omitempty"`
	EndedAt   time.Time `json:"ended_at,omitzero"`
	EndReason string    `json:"end_reason,omitempty"`
	// Periods is the access history, oldest first (at most 120 entries).
	Periods []Period `json:"periods"`
	// Replayed is set on the result of an event (Subscribe, Cancel,
	// ChangeTier, Refund) that replays one already done: the subscription
	// is as that event left it, not as it is now.
	Replayed bool `json:"-"`
}

// Program runs the subscription rules over a ledger. It is safe for
// concurrent use.
type Program struct {
	l       *ledger.Ledger
	rules   Rules
	members kit.Members
	wallets kit.WalletPolicy
	roles   kit.Roles

	decoded  sync.Map     // sub id -> *decodedSub, see readSub
	decodedN atomic.Int64 // stores into decoded since it was last cleared
}

// Option configures a Program.
type Option func(*Program)

// WithWallets gives the program the platform's shared wallet policy, the
// same kit.WalletPolicy every program is given, and New checks it against
// the ledger as every program's New does. Subscription itself opens no
// wallet: it charges only money a member's wallet holds (an overdraft is
// never credit), which a wallet never opened does not; a wallet another
// program opened is used as it is.
func WithWallets(policy kit.WalletPolicy) Option {
	return func(p *Program) { p.wallets = policy }
}

// WithRoles sets the directory the program asks who holds which role.
// Refund, the program's one privileged action, needs kit.RoleRiskOfficer.
// Without a directory nobody may refund.
func WithRoles(roles kit.Roles) Option {
	return func(p *Program) { p.roles = roles }
}

// New validates the rules and sets up the ledger (kit.SetUpLedger: the
// asset, ledger.World and RevenueAccount, idempotently). members gives the
// facts of creators and members (kit.Directory in tests and examples).
func New(ctx context.Context, l *ledger.Ledger, rules Rules, members kit.Members, opts ...Option) (*Program, error) {
	if err := rules.Validate(); err != nil {
		return nil, err
	}
	if l == nil || members == nil {
		return nil, fmt.Errorf("%w: New needs a ledger and a member directory", ErrInvalidRequest)
	}
	rules.Countries = slices.Clone(rules.Countries)
	rules.BadgeMonths = slices.Clone(rules.BadgeMonths)
	if err := kit.SetUpLedger(ctx, l, rules.Asset, RevenueAccount); err != nil {
		return nil, err
	}
	p := &Program{l: l, rules: rules, members: members}
	for _, o := range opts {
		o(p)
	}
	if err := p.wallets.Check(ctx, l); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidRules, err)
	}
	return p, nil
}

// Rules returns the program's rules.
func (p *Program) Rules() Rules { return p.rules }

// bothErr is an error with a message of its own that matches each of errs
// with errors.Is (and takes its code from the first): a refusal and its
// reason, without repeating their package prefix.
type bothErr struct {
	msg  string
	errs []error
}

func (e *bothErr) Error() string   { return e.msg }
func (e *bothErr) Unwrap() []error { return e.errs }

func validatePair(member, creator string) error {
	if err := kit.CheckID(ErrInvalidRequest, "member", member); err != nil {
		return err
	}
	return kit.CheckID(ErrInvalidRequest, "creator", creator)
}

func subID(creator, member string) string { return creator + "/" + member }

// event names an event of this program for kit.Once.
func event(id, op string, req any) kit.Event {
	return kit.Event{Kind: kindEvent, ID: id, Op: op, Request: req}
}

// checkEligible judges a creator against the eligibility rules at now, the
// unit of work's time.
func (p *Program) checkEligible(m kit.Member, now time.Time) error {
	r := p.rules
	if r.MinCreatorAge > 0 {
		old, err := m.AtLeast(r.MinCreatorAge, now)
		if err != nil {
			return ledger.Refuse(err, "min_creator_age", "")
		}
		if !old {
			return ledger.Refuse(ErrIneligible, "min_creator_age", "creator %s is under %d", m.ID, r.MinCreatorAge)
		}
	}
	switch {
	case m.Followers < r.MinFollowers:
		return ledger.Refuse(ErrIneligible, "min_followers", "creator %s has %d followers, needs %d", m.ID, m.Followers, r.MinFollowers)
	case m.ViewsLastMonth < r.MinViewsLastMonth:
		return ledger.Refuse(ErrIneligible, "min_views_last_month", "creator %s had %d views last month, needs %d", m.ID, m.ViewsLastMonth, r.MinViewsLastMonth)
	}
	return p.checkCountry("creator", m)
}

// checkCountry refuses a creator or member who resides outside the
// countries where subscriptions are offered.
func (p *Program) checkCountry(who string, m kit.Member) error {
	if !slices.Contains(p.rules.Countries, m.Country) {
		return ledger.Refuse(ErrCountry, "countries", "%s %s is in %q; subscriptions are offered in %s",
			who, m.ID, m.Country, strings.Join(p.rules.Countries, ", "))
	}
	return nil
}

func (p *Program) validateTiers(tiers []Tier) ([]Tier, error) {
	r := p.rules
	if len(tiers) == 0 || len(tiers) > r.MaxTiers {
		return nil, ledger.Refuse(ErrInvalidTiers, "max_tiers", "%d tiers, want 1 to %d", len(tiers), r.MaxTiers)
	}
	out := make([]Tier, len(tiers))
	ids := map[string]bool{}
	for i, t := range tiers {
		if err := kit.CheckID(ErrInvalidRequest, "tier id", t.ID); err != nil {
			return nil, fmt.Errorf("%w (tier %d)", err, i+1)
		}
		if ids[t.ID] {
			return nil, fmt.Errorf("%w: tier id %q is used twice", ErrInvalidTiers, t.ID)
		}
		ids[t.ID] = true
		if len(t.Name) > 64 {
			return nil, fmt.Errorf("%w: tier %q: name longer than 64 bytes", ErrInvalidTiers, t.ID)
		}
		if t.Price.LessThan(r.MinPrice) {
			return nil, ledger.Refuse(ErrInvalidTiers, "min_price", "tier %q costs %s, at least %s %s", t.ID, t.Price, r.MinPrice, r.Asset.Code)
		}
		if t.Price.GreaterThan(r.MaxPrice) {
			return nil, ledger.Refuse(ErrInvalidTiers, "max_price", "tier %q costs %s, at most %s %s", t.ID, t.Price, r.MaxPrice, r.Asset.Code)
		}
		if _, err := r.Asset.Units(t.Price); err != nil {
			return nil, fmt.Errorf("%w: tier %q: price: %w", ErrInvalidTiers, t.ID, err)
		}
		if len(t.Perks) == 0 || len(t.Perks) > 16 {
			return nil, fmt.Errorf("%w: tier %q: %d perks, want 1 to 16", ErrInvalidTiers, t.ID, len(t.Perks))
		}
		seen := map[Perk]bool{}
		for _, pk := range t.Perks {
			if err := checkPerk(pk); err != nil {
				return nil, fmt.Errorf("%w: tier %q: %w", ErrInvalidTiers, t.ID, err)
			}
			if seen[pk] {
				return nil, fmt.Errorf("%w: tier %q: perk %q listed twice", ErrInvalidTiers, t.ID, pk)
			}
			seen[pk] = true
		}
		t.Perks = slices.Clone(t.Perks)
		out[i] = t
	}
	return out, nil
}

func loadOffer(r *ledger.Reader, creator string) (Offer, error) {
	var off Offer
	if err := r.LoadJSON(kindOffer, creator, &off); err != nil {
		if errors.Is(err, ledger.ErrNotFound) {
			return Offer{}, fmt.Errorf("%w: creator %s", ErrNoOffer, creator)
		}
		return Offer{}, err
	}
	return off, nil
}

func loadSub(r *ledger.Reader, creator, member string) (Subscription, error) {
	var s Subscription
	if err := r.LoadJSON(kindSub, subID(creator, member), &s); err != nil {
		if errors.Is(err, ledger.ErrNotFound) {
			return Subscription{}, fmt.Errorf("%w: member %s to creator %s", ErrNotSubscribed, member, creator)
		}
		return Subscription{}, err
	}
	return s, nil
}

// addPeriod returns the end of a billing period that starts at t, or an
// error wrapping ledger.ErrInvalidTime if it falls outside the ledger's
// time range.
func (p *Program) addPeriod(t time.Time) (time.Time, error) {
	end := t.AddDate(0, p.rules.PeriodMonths, 0)
	if err := ledger.ValidateTime("period end", end); err != nil {
		return time.Time{}, err
	}
	return end, nil
}

// charge takes tier's price from the member's wallet for the period
// [start, end), split between the creator and the platform, and opens the
// creator's earnings account if it is not open yet. The funds are checked
// before anything is written.
func (p *Program) charge(w *ledger.Writer, s *Subscription, tier Tier, reason string, start, end time.Time) error {
	a := p.rules.Asset
	from := MemberAccount(s.Member)
	// The wallet policy's overdraft is room for chargebacks, never credit
	// (kit.WalletPolicy): the member must have the price available. A
	// wallet never opened has nothing available.
	spendable, err := kit.Spendable(&w.Reader, from, a.Code)
	if err != nil {
		return err
	}
	if spendable.LessThan(tier.Price) {
		return &bothErr{
			msg: fmt.Sprintf("%v: member %s has %s %s available, tier %q of %s costs %s", ErrInsufficientFunds,
				s.Member, spendable, a.Code, tier.ID, s.Creator, tier.Price),
			errs: []error{ErrInsufficientFunds, ledger.ErrInsufficientFunds},
		}
	}
	if err := kit.OpenIfMissing(w, EarningsAccount(s.Creator), ledger.Overdraft{}); err != nil {
		return err
	}
	creatorPart := tier.Price.Mul(p.rules.CreatorShare).RoundDown(a.Precision)
	platformPart := tier.Price.Sub(creatorPart)
	var ps []ledger.Posting
	if creatorPart.Sign() > 0 {
		ps = append(ps, ledger.Posting{From: from, To: EarningsAccount(s.Creator), Asset: a.Code, Amount: creatorPart})
	}
	if platformPart.Sign() > 0 {
		ps = append(ps, ledger.Posting{From: from, To: RevenueAccount, Asset: a.Code, Amount: platformPart})
	}
	n := s.Charges + 1
	_, err = w.Post(ledger.TransferRequest{
		Key:      chargeKey(s.Creator, s.Member, n),
		Postings: ps,
		Metadata: map[string]string{
			"program": "subscription", "reason": reason, "creator": s.Creator, "member": s.Member,
			"tier": tier.ID, "period_start": start.Format(time.RFC3339Nano), "period_end": end.Format(time.RFC3339Nano),
		},
	})
	if err != nil {
		if errors.Is(err, ledger.ErrInsufficientFunds) {
			return fmt.Errorf("%w: member %s cannot pay %s %s for tier %q of %s (%w)", ErrInsufficientFunds,
				s.Member, tier.Price, a.Code, tier.ID, s.Creator, err)
		}
		return err
	}
	s.Charges = n
	return nil
}

// chargeKey is the ledger idempotency key of a subscription's n-th payment.
func chargeKey(creator, member string, n int) string {
	return fmt.Sprintf("subscription:charge:%s:%s:%d", creator, member, n)
}

// paid records a paid period [start, end) of tier.
func (p *Program) paid(s *Subscription, tier Tier, start, end time.Time) {
	s.Tier, s.NextTier = tier, ""
	s.PeriodStart, s.PeriodEnd = start, end
	s.MonthsPaid += p.rules.PeriodMonths // at most 12 a period: bounded by the time range
	s.BadgeLevel = p.rules.BadgeLevel(s.MonthsPaid)
	s.appendPeriod(Period{Start: start, End: end, Tier: tier.ID, Perks: slices.Clone(tier.Perks)})
}

func (s *Subscription) appendPeriod(pd Period) {
	if n := len(s.Periods); n > 0 {
		last := &s.Periods[n-1]
		if !pd.Grace && !last.Grace && last.End.Equal(pd.Start) && last.Tier == pd.Tier && slices.Equal(last.Perks, pd.Perks) {
			last.End = pd.End
			return
		}
	}
	s.Periods = append(s.Periods, pd)
	if len(s.Periods) > maxPeriods {
		s.Periods = slices.Delete(s.Periods, 0, len(s.Periods)-maxPeriods)
	}
}

// graceEnd is when the grace window after the current period closes. The
// sum cannot wrap: PeriodEnd is before ledger.MaxTime and GracePeriod at
// most ledger.MaxDuration (Validate), and their sum stays far inside the
// int64 nanosecond range; graceUntil checks the range for a time that is
// kept.
func (p *Program) graceEnd(s *Subscription) time.Time {
	return s.PeriodEnd.Add(p.rules.GracePeriod.D())
}

// graceUntil is graceEnd checked against the ledger's time range, for the
// GraceUntil a subscription keeps.
func (p *Program) graceUntil(s *Subscription) (time.Time, error) {
	return ledger.AddDuration("grace end", s.PeriodEnd, p.rules.GracePeriod.D())
}

// recordGrace keeps, with GraceAccess, the grace access an unpaid
// subscription had from PeriodEnd until `until` in its history.
func (p *Program) recordGrace(s *Subscription, until time.Time) {
	if !p.rules.GraceAccess {
		return
	}
	if ge := p.graceEnd(s); until.After(ge) {
		until = ge
	}
	if until.After(s.PeriodEnd) {
		s.appendPeriod(Period{Start: s.PeriodEnd, End: until, Tier: s.Tier.ID, Perks: slices.Clone(s.Tier.Perks), Grace: true})
	}
}

func (p *Program) end(w *ledger.Writer, s *Subscription, at time.Time, reason string) error {
	s.Status, s.EndedAt, s.EndReason, s.GraceUntil = StatusEnded, at, reason, time.Time{}
	if err := emitSub(w, EventEnded, s, subData{Tier: s.Tier.ID, EndedAt: &at, Reason: reason}); err != nil {
		return err
	}
	return w.Unschedule(dueRenew, subID(s.Creator, s.Member))
}

// lapse ends a subscription that time has already ended though no Tick has
// yet: a cancelled one whose paid period is over, or one in grace whose
// grace period is over. Such a subscription is ended whatever happens
// next: it is never charged nor made active again (a member who wants it
// back subscribes anew). It reports whether it ended s.
func (p *Program) lapse(w *ledger.Writer, s *Subscription, now time.Time) (bool, error) {
	switch {
	case s.Status == StatusCanceled && !now.Before(s.PeriodEnd):
		return true, p.end(w, s, s.PeriodEnd, "canceled")
	case s.Status == StatusGrace && !now.Before(s.GraceUntil):
		p.recordGrace(s, s.GraceUntil)
		return true, p.end(w, s, s.GraceUntil, "renewal failed")
	}
	return false, nil
}
