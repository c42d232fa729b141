package subscription

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/shopspring/decimal"
)

// Record kinds and the due-entry kind the program keeps in the store.
const (
	kindOffer = "subscription.offer" // id: creator
	kindSub   = "subscription.sub"   // id: creator "/" member
	kindEvent = "subscription.event" // id: event id
	dueRenew  = "subscription.renew" // id: creator "/" member
)

// PlatformRevenue is the account that receives the platform's part of every
// payment.
const PlatformRevenue = "platform:subscription:revenue"

// maxPeriods bounds the access history kept per subscription.
const maxPeriods = 120

// MemberWallet is the member's wallet, kit.WalletAccount(member), shared
// with the other programs; it pays subscriptions.
func MemberWallet(member string) string { return kit.WalletAccount(member) }

// CreatorEarnings is the account that receives a creator's share.
func CreatorEarnings(creator string) string { return "creator:" + creator + ":subscriptions" }

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
	// ChangeTier) that replays one already done: the subscription is as
	// that event left it, not as it is now.
	Replayed bool `json:"-"`
}

// Program runs the subscription rules over a ledger. It is safe for
// concurrent use.
type Program struct {
	l       *ledger.Ledger
	rules   Rules
	members Members
	wallets kit.WalletPolicy
	roles   kit.Roles

	decoded  sync.Map     // sub id -> *decodedSub, see readSub
	decodedN atomic.Int64 // stores into decoded since it was last cleared
}

// Option configures a Program.
type Option func(*Program)

// WithWallets sets the policy members' wallets are opened with when this
// program is the first to open one: the same kit.WalletPolicy every
// program of the platform is given. A wallet already open is used as it
// is. The default policy allows no overdraft.
func WithWallets(policy kit.WalletPolicy) Option {
	return func(p *Program) { p.wallets = policy }
}

// WithRoles sets the directory the program asks who holds which role.
// Refund, the program's one privileged action, needs kit.RoleRiskOfficer.
// Without a directory nobody may refund.
func WithRoles(roles kit.Roles) Option {
	return func(p *Program) { p.roles = roles }
}

// New validates the rules, defines the asset and opens ledger.World and
// PlatformRevenue (idempotently).
func New(ctx context.Context, l *ledger.Ledger, rules Rules, members Members, opts ...Option) (*Program, error) {
	if err := rules.Validate(); err != nil {
		return nil, err
	}
	if l == nil || members == nil {
		return nil, fmt.Errorf("%w: New needs a ledger and a member directory", ErrInvalidRequest)
	}
	rules.Regions = slices.Clone(rules.Regions)
	rules.BadgeMonths = slices.Clone(rules.BadgeMonths)
	err := l.Update(ctx, func(w *ledger.Writer) error {
		if err := w.DefineAsset(rules.Asset); err != nil {
			return err
		}
		if _, err := w.OpenAccount(ledger.AccountSpec{Address: ledger.World, Overdraft: ledger.Overdraft{Unbounded: true}}); err != nil {
			return err
		}
		_, err := w.OpenAccount(ledger.AccountSpec{Address: PlatformRevenue})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("setting up the ledger: %w", err)
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

func validateID(field, id string) error {
	if len(id) == 0 || len(id) > 64 {
		return fmt.Errorf("%w: %s %q must have 1 to 64 characters", ErrInvalidRequest, field, id)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == '@' || c == '+') {
			return fmt.Errorf("%w: %s %q may hold only letters, digits and _-.@+", ErrInvalidRequest, field, id)
		}
	}
	return nil
}

// maxEventID is the longest event id kit.Once keeps.
const maxEventID = 128

func validateEventID(id string) error {
	if len(id) == 0 || len(id) > maxEventID {
		return fmt.Errorf("%w: event id of %d bytes, want 1 to %d", ErrInvalidRequest, len(id), maxEventID)
	}
	return nil
}

func validatePair(member, creator string) error {
	if err := validateID("member", member); err != nil {
		return err
	}
	return validateID("creator", creator)
}

func subID(creator, member string) string { return creator + "/" + member }

// event names an event of this program for kit.Once.
func event(id, op string, req any) kit.Event {
	return kit.Event{Kind: kindEvent, ID: id, Op: op, Request: req}
}

func (p *Program) checkEligible(m Member) error {
	r := p.rules
	switch {
	case m.Age < r.MinCreatorAge:
		return fmt.Errorf("%w: rule min_creator_age: creator %s is %d, needs %d", ErrIneligible, m.ID, m.Age, r.MinCreatorAge)
	case m.Followers < r.MinFollowers:
		return fmt.Errorf("%w: rule min_followers: creator %s has %d followers, needs %d", ErrIneligible, m.ID, m.Followers, r.MinFollowers)
	case m.ViewsLastMonth < r.MinViewsLastMonth:
		return fmt.Errorf("%w: rule min_views_last_month: creator %s had %d views, needs %d", ErrIneligible, m.ID, m.ViewsLastMonth, r.MinViewsLastMonth)
	case !r.offeredIn(m.Country):
		return fmt.Errorf("%w: rule regions: creator %s is in %q, offered in %v", ErrRegion, m.ID, m.Country, r.Regions)
	}
	return nil
}

func (p *Program) validateTiers(tiers []Tier) ([]Tier, error) {
	r := p.rules
	if len(tiers) == 0 || len(tiers) > r.MaxTiers {
		return nil, fmt.Errorf("%w: rule max_tiers: %d tiers, want 1 to %d", ErrInvalidTiers, len(tiers), r.MaxTiers)
	}
	out := make([]Tier, len(tiers))
	ids := map[string]bool{}
	for i, t := range tiers {
		if err := validateID("tier id", t.ID); err != nil {
			return nil, fmt.Errorf("%w: tier %d: %w", ErrInvalidTiers, i, err)
		}
		if ids[t.ID] {
			return nil, fmt.Errorf("%w: tier id %q is used twice", ErrInvalidTiers, t.ID)
		}
		ids[t.ID] = true
		if len(t.Name) > 64 {
			return nil, fmt.Errorf("%w: tier %q: name longer than 64 bytes", ErrInvalidTiers, t.ID)
		}
		if t.Price.LessThan(r.MinPrice) || t.Price.GreaterThan(r.MaxPrice) {
			return nil, fmt.Errorf("%w: tier %q: rule min_price/max_price: price %s not in %s..%s %s", ErrInvalidTiers,
				t.ID, t.Price, r.MinPrice, r.MaxPrice, r.Asset.Code)
		}
		if _, err := r.Asset.Units(t.Price); err != nil {
			return nil, fmt.Errorf("%w: tier %q: price: %w", ErrInvalidTiers, t.ID, err)
		}
		if len(t.Perks) == 0 || len(t.Perks) > 16 {
			return nil, fmt.Errorf("%w: tier %q: %d perks, want 1 to 16", ErrInvalidTiers, t.ID, len(t.Perks))
		}
		seen := map[Perk]bool{}
		for _, pk := range t.Perks {
			if err := ValidatePerk(pk); err != nil {
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

// PublishTiers publishes or replaces a creator's tiers. The creator must be
// eligible (ErrIneligible naming the rule, ErrRegion) and the tiers valid
// (ErrInvalidTiers). Existing subscribers keep what they paid for until
// their period ends; the new price and perks of their tier apply from their
// next renewal, and a subscription whose tier was removed ends at its
// period end.
func (p *Program) PublishTiers(ctx context.Context, eventID, creator string, tiers []Tier) (Offer, error) {
	if err := validateEventID(eventID); err != nil {
		return Offer{}, err
	}
	if err := validateID("creator", creator); err != nil {
		return Offer{}, err
	}
	if len(tiers) > 16 {
		return Offer{}, fmt.Errorf("%w: %d tiers, at most 16", ErrInvalidTiers, len(tiers))
	}
	for _, t := range tiers {
		if err := kit.CheckDecimal(t.Price); err != nil {
			return Offer{}, fmt.Errorf("%w: tier %q: price: %w", ErrInvalidTiers, t.ID, err)
		}
	}
	req := struct {
		Creator string
		Tiers   []Tier
	}{creator, tiers}
	off, replay, err := kit.RunOnce(ctx, p.l, event(eventID, "publish", req), func(w *ledger.Writer) (Offer, error) {
		// The rules, the creator's facts and the offer are read after the
		// replay check: a replay answers as the event did, whatever they
		// are now.
		tiers, err := p.validateTiers(tiers)
		if err != nil {
			return Offer{}, err
		}
		m, err := p.members.Member(ctx, creator)
		if err != nil {
			return Offer{}, err
		}
		if err := p.checkEligible(m); err != nil {
			return Offer{}, err
		}
		var off Offer
		if err := w.LoadJSON(kindOffer, creator, &off); err != nil && !errors.Is(err, ledger.ErrNotFound) {
			return Offer{}, err
		}
		off.Creator, off.Tiers, off.UpdatedAt = creator, tiers, w.Now()
		off.Version++
		if err := kit.OpenIfMissing(w, CreatorEarnings(creator), ledger.Overdraft{}); err != nil {
			return Offer{}, err
		}
		return off, w.SaveJSON(kindOffer, creator, off)
	})
	off.Replayed = replay
	return off, err
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
// [start, end), split between the creator and the platform. Nothing is
// written when it fails.
func (p *Program) charge(w *ledger.Writer, s *Subscription, tier Tier, reason string, start, end time.Time) error {
	a := p.rules.Asset
	creatorPart := tier.Price.Mul(p.rules.CreatorShare).RoundDown(a.Precision)
	platformPart := tier.Price.Sub(creatorPart)
	from := MemberWallet(s.Member)
	var ps []ledger.Posting
	if creatorPart.Sign() > 0 {
		ps = append(ps, ledger.Posting{From: from, To: CreatorEarnings(s.Creator), Asset: a.Code, Amount: creatorPart})
	}
	if platformPart.Sign() > 0 {
		ps = append(ps, ledger.Posting{From: from, To: PlatformRevenue, Asset: a.Code, Amount: platformPart})
	}
	// The wallet policy's overdraft is room for chargebacks, never credit
	// (kit.WalletPolicy): the member must have the price available.
	spendable, err := kit.Spendable(&w.Reader, from, a.Code)
	if err != nil {
		return err
	}
	if spendable.LessThan(tier.Price) {
		return fmt.Errorf("%w: member %s has %s %s available, tier %q of %s costs %s (%w)", ErrInsufficientFunds,
			s.Member, spendable, a.Code, tier.ID, s.Creator, tier.Price, ledger.ErrInsufficientFunds)
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
			return fmt.Errorf("%w: member %s cannot pay %s %s for tier %q of %s: %w", ErrInsufficientFunds,
				s.Member, tier.Price, a.Code, tier.ID, s.Creator, err)
		}
		return err
	}
	s.Charges = n
	return nil
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
	return s.PeriodEnd.Add(time.Duration(p.rules.GracePeriod))
}

// graceUntil is graceEnd checked against the ledger's time range, for the
// GraceUntil a subscription keeps.
func (p *Program) graceUntil(s *Subscription) (time.Time, error) {
	return ledger.AddDuration("grace end", s.PeriodEnd, time.Duration(p.rules.GracePeriod))
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

// Subscribe starts a member's subscription to a creator's tier: the first
// period is charged at once (creator share to CreatorEarnings, the rest to
// PlatformRevenue) and starts now. The member's wallet is opened with the
// program's wallet policy (WithWallets) if no program has opened it yet.
// Refusals: ErrSelfSubscription, ErrUnknownMember, ErrRegion, ErrNoOffer,
// ErrUnknownTier, ErrAlreadySubscribed, ErrInsufficientFunds.
func (p *Program) Subscribe(ctx context.Context, eventID, member, creator, tierID string) (Subscription, error) {
	if err := validateEventID(eventID); err != nil {
		return Subscription{}, err
	}
	for _, f := range [][2]string{{"member", member}, {"creator", creator}, {"tier id", tierID}} {
		if err := validateID(f[0], f[1]); err != nil {
			return Subscription{}, err
		}
	}
	if member == creator {
		return Subscription{}, fmt.Errorf("%w: %s", ErrSelfSubscription, member)
	}
	req := [3]string{member, creator, tierID}
	s, replay, err := kit.RunOnce(ctx, p.l, event(eventID, "subscribe", req), func(w *ledger.Writer) (Subscription, error) {
		// The member's facts are read after the replay check: a replay
		// answers as the event did, whatever the facts are now.
		m, err := p.members.Member(ctx, member)
		if err != nil {
			return Subscription{}, err
		}
		if !p.rules.offeredIn(m.Country) {
			return Subscription{}, fmt.Errorf("%w: rule regions: member %s is in %q, offered in %v", ErrRegion, member, m.Country, p.rules.Regions)
		}
		off, err := loadOffer(&w.Reader, creator)
		if err != nil {
			return Subscription{}, err
		}
		tier, ok := off.Tier(tierID)
		if !ok {
			return Subscription{}, fmt.Errorf("%w: creator %s has no tier %q", ErrUnknownTier, creator, tierID)
		}
		now := w.Now()
		old, err := loadSub(&w.Reader, creator, member)
		if err != nil && !errors.Is(err, ErrNotSubscribed) {
			return Subscription{}, err
		}
		if err == nil {
			if _, err := p.lapse(w, &old, now); err != nil {
				return Subscription{}, err
			}
			if old.Status != StatusEnded {
				return Subscription{}, fmt.Errorf("%w: member %s to creator %s is %s until %s", ErrAlreadySubscribed,
					member, creator, old.Status, old.PeriodEnd.Format(time.RFC3339))
			}
		}
		if _, err := kit.OpenWallet(w, p.wallets, member); err != nil {
			return Subscription{}, err
		}
		if err := kit.OpenIfMissing(w, CreatorEarnings(creator), ledger.Overdraft{}); err != nil {
			return Subscription{}, err
		}
		s := Subscription{Member: member, Creator: creator, Status: StatusActive, StartedAt: now,
			MonthsPaid: old.MonthsPaid, Charges: old.Charges, Periods: old.Periods}
		end, err := p.addPeriod(now)
		if err != nil {
			return Subscription{}, err
		}
		if err := p.charge(w, &s, tier, "subscribe", now, end); err != nil {
			return Subscription{}, err
		}
		p.paid(&s, tier, now, end)
		if err := w.Schedule(dueRenew, subID(creator, member), end); err != nil {
			return Subscription{}, err
		}
		return s, w.SaveJSON(kindSub, subID(creator, member), s)
	})
	s.Replayed = replay
	return s, err
}

// Cancel cancels a subscription with no refund. An active one keeps its
// perks until the paid period ends and is not renewed; one in grace ends
// at once. Cancelling one already cancelled or ended (or whose grace
// period is over) is ErrWrongState.
func (p *Program) Cancel(ctx context.Context, eventID, member, creator string) (Subscription, error) {
	if err := validateEventID(eventID); err != nil {
		return Subscription{}, err
	}
	if err := validatePair(member, creator); err != nil {
		return Subscription{}, err
	}
	s, replay, err := kit.RunOnce(ctx, p.l, event(eventID, "cancel", [2]string{member, creator}), func(w *ledger.Writer) (Subscription, error) {
		s, err := loadSub(&w.Reader, creator, member)
		if err != nil {
			return Subscription{}, err
		}
		now := w.Now()
		if _, err := p.lapse(w, &s, now); err != nil {
			return Subscription{}, err
		}
		switch s.Status {
		case StatusActive:
			p.recordGrace(&s, now) // a late Tick may have left grace access running
			s.Status, s.NextTier = StatusCanceled, ""
		case StatusGrace:
			p.recordGrace(&s, now)
			if err := p.end(w, &s, now, "canceled in grace"); err != nil {
				return Subscription{}, err
			}
		default:
			return Subscription{}, fmt.Errorf("%w: cannot cancel a %s subscription (member %s, creator %s)", ErrWrongState, s.Status, member, creator)
		}
		return s, w.SaveJSON(kindSub, subID(creator, member), s)
	})
	s.Replayed = replay
	return s, err
}

// ChangeTier moves an active subscription to another of the creator's
// tiers. The change, its price and its perks start at the next renewal;
// until then the member keeps the tier paid for (no proration, no
// refund). Choosing the current tier undoes a pending change; if the
// creator withdraws the chosen tier before the renewal, the current tier
// renews instead.
func (p *Program) ChangeTier(ctx context.Context, eventID, member, creator, tierID string) (Subscription, error) {
	if err := validateEventID(eventID); err != nil {
		return Subscription{}, err
	}
	if err := validatePair(member, creator); err != nil {
		return Subscription{}, err
	}
	s, replay, err := kit.RunOnce(ctx, p.l, event(eventID, "change_tier", [3]string{member, creator, tierID}), func(w *ledger.Writer) (Subscription, error) {
		s, err := loadSub(&w.Reader, creator, member)
		if err != nil {
			return Subscription{}, err
		}
		if s.Status != StatusActive {
			return Subscription{}, fmt.Errorf("%w: cannot change the tier of a %s subscription", ErrWrongState, s.Status)
		}
		off, err := loadOffer(&w.Reader, creator)
		if err != nil {
			return Subscription{}, err
		}
		if _, ok := off.Tier(tierID); !ok {
			return Subscription{}, fmt.Errorf("%w: creator %s has no tier %q", ErrUnknownTier, creator, tierID)
		}
		s.NextTier = tierID
		if tierID == s.Tier.ID {
			s.NextTier = ""
		}
		return s, w.SaveJSON(kindSub, subID(creator, member), s)
	})
	s.Replayed = replay
	return s, err
}

// chargeKey is the ledger idempotency key of a subscription's n-th payment.
func chargeKey(creator, member string, n int) string {
	return fmt.Sprintf("subscription:charge:%s:%s:%d", creator, member, n)
}

// Refund gives a member back the last payment of their subscription to a
// creator, as staff record it (a dispute, a complaint upheld). The actor
// must hold kit.RoleRiskOfficer in the program's role directory
// (WithRoles) and be neither the member nor the creator (kit.Authorize):
// otherwise ErrForbidden and nothing is written. The
// payment is reversed — the creator's and the platform's parts go back to
// the member's wallet — and the subscription ends at once: perks stop now,
// the refunded months no longer count towards the badge, and nothing
// renews. Other refusals: ErrNotSubscribed, ErrWrongState (no payment to
// refund, or the last one refunded already), ErrInsufficientFunds (the
// creator's earnings no longer hold their part).
func (p *Program) Refund(ctx context.Context, eventID, actor, member, creator, reason string) (Subscription, error) {
	if err := validateEventID(eventID); err != nil {
		return Subscription{}, err
	}
	if err := validatePair(member, creator); err != nil {
		return Subscription{}, err
	}
	if len(actor) > 128 || len(reason) > 512 {
		return Subscription{}, fmt.Errorf("%w: actor or reason too long", ErrInvalidRequest)
	}
	req := [4]string{actor, member, creator, reason}
	s, replay, err := kit.RunOnce(ctx, p.l, event(eventID, "refund", req), func(w *ledger.Writer) (Subscription, error) {
		if err := kit.Authorize(ctx, p.roles, actor, kit.RoleRiskOfficer, member, creator); err != nil {
			return Subscription{}, fmt.Errorf("refund of %s's subscription to %s: %w", member, creator, err)
		}
		s, err := loadSub(&w.Reader, creator, member)
		if err != nil {
			return Subscription{}, err
		}
		if s.Charges == 0 || s.Refunded == s.Charges {
			return Subscription{}, fmt.Errorf("%w: member %s has no payment to %s left to refund", ErrWrongState, member, creator)
		}
		charge, err := w.TransactionByKey(chargeKey(creator, member, s.Charges))
		if err != nil {
			return Subscription{}, err
		}
		_, err = w.Reverse(ledger.ReversalRequest{
			Key: fmt.Sprintf("subscription:refund:%s:%s:%d", creator, member, s.Charges), ID: charge.ID,
			Metadata: map[string]string{"program": "subscription", "event": "refund", "creator": creator, "member": member,
				"actor": actor, "reason": reason},
		})
		if err != nil {
			if errors.Is(err, ledger.ErrInsufficientFunds) {
				return Subscription{}, fmt.Errorf("%w: refund of payment %d: %w", ErrInsufficientFunds, s.Charges, err)
			}
			return Subscription{}, err
		}
		now := w.Now()
		if s.Status != StatusEnded {
			p.recordGrace(&s, now)
			if err := p.end(w, &s, now, "refunded by "+actor); err != nil {
				return Subscription{}, err
			}
		}
		s.Refunded = s.Charges
		s.MonthsPaid = max(0, s.MonthsPaid-p.rules.PeriodMonths)
		s.BadgeLevel = p.rules.BadgeLevel(s.MonthsPaid)
		// Perks stop now: the access history ends here.
		kept := s.Periods[:0]
		for _, pd := range s.Periods {
			if pd.Start.Before(now) {
				if pd.End.After(now) {
					pd.End = now
				}
				kept = append(kept, pd)
			}
		}
		s.Periods = kept
		return s, w.SaveJSON(kindSub, subID(creator, member), s)
	})
	s.Replayed = replay
	return s, err
}
