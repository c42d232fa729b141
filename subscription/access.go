package subscription

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
)

// MayUse answers the question integrators ask most: may member use perk of
// creator at time t? It is a read: one record in a ledger View, no write,
// no lock beyond the snapshot. It answers (true, nil) when a paid period
// covers t (or, with Rules.GraceAccess, the grace window after the last
// paid period while the renewal is pending or retried) and its tier grants
// the perk. Otherwise it answers false with an error wrapping ErrNoAccess
// and the reason: ErrNotSubscribed, ErrNotCovered or ErrPerkNotIncluded.
// Any other error is a failure to read, not an answer.
//
// t may be in the past (the access history is kept, at most 120 stretches
// per subscription) or the future (the answer is as things stand now: a
// renewal not yet charged covers nothing), within the ledger's time range
// (ledger.ErrInvalidTime otherwise).
func (p *Program) MayUse(ctx context.Context, member, creator string, perk Perk, t time.Time) (bool, error) {
	if err := validatePair(member, creator); err != nil {
		return false, err
	}
	if err := ValidatePerk(perk); err != nil {
		return false, err
	}
	if err := ledger.ValidateTime("time asked about", t); err != nil {
		return false, err
	}
	s, err := p.readSub(ctx, creator, member)
	if err != nil {
		if isNotSubscribed(err) {
			return false, noAccess(err)
		}
		return false, err
	}
	perks, ok := p.perksAt(s, t)
	if !ok {
		return false, noAccess(fmt.Errorf("%w: member %s, creator %s, at %s (%s, paid until %s)", ErrNotCovered,
			member, creator, t.UTC().Format(time.RFC3339), s.Status, s.PeriodEnd.Format(time.RFC3339)))
	}
	if slices.Contains(perks, perk) {
		return true, nil
	}
	return false, noAccess(fmt.Errorf("%w: %q is not in tier %q of %s", ErrPerkNotIncluded, perk, s.Tier.ID, creator))
}

// noAccess is MayUse's no: an error that matches ErrNoAccess (which
// decides its code) and the reason, with the package prefix once.
func noAccess(reason error) error {
	return &bothErr{msg: ErrNoAccess.Error() + ": " + strings.TrimPrefix(reason.Error(), "subscription: "),
		errs: []error{ErrNoAccess, reason}}
}

// decodedSub is a subscription record and the struct decoded from it.
type decodedSub struct {
	raw []byte
	sub *Subscription
}

// maxDecoded bounds the decode cache; past it the cache starts afresh.
const maxDecoded = 100000

// readSub reads a subscription record in a View and decodes it, reusing
// the decoded struct when the record's bytes are the ones decoded last
// time. The cache never answers on its own: the store is read every time,
// so a change by another process sharing the store is seen at once; it only
// saves the JSON decoding, which is most of a MayUse's cost. The returned
// value is shared and must not be changed.
func (p *Program) readSub(ctx context.Context, creator, member string) (*Subscription, error) {
	id := subID(creator, member)
	var raw []byte
	err := p.l.View(ctx, func(r *ledger.Reader) (err error) {
		raw, err = r.Record(kindSub, id)
		return err
	})
	if err != nil {
		if errors.Is(err, ledger.ErrNotFound) {
			return nil, fmt.Errorf("%w: member %s to creator %s", ErrNotSubscribed, member, creator)
		}
		return nil, err
	}
	if v, ok := p.decoded.Load(id); ok {
		if d := v.(*decodedSub); bytes.Equal(d.raw, raw) {
			return d.sub, nil
		}
	}
	s := new(Subscription)
	if err := json.Unmarshal(raw, s); err != nil {
		return nil, err
	}
	if p.decodedN.Add(1) > maxDecoded {
		p.decoded.Clear()
		p.decodedN.Store(0)
	}
	p.decoded.Store(id, &decodedSub{raw: raw, sub: s})
	return s, nil
}

// perksAt returns the perks s grants at t.
func (p *Program) perksAt(s *Subscription, t time.Time) ([]Perk, bool) {
	for i := len(s.Periods) - 1; i >= 0; i-- {
		pd := &s.Periods[i]
		if !t.Before(pd.Start) && t.Before(pd.End) {
			return pd.Perks, true
		}
	}
	if p.rules.GraceAccess && (s.Status == StatusActive || s.Status == StatusGrace) &&
		!t.Before(s.PeriodEnd) && t.Before(p.graceEnd(s)) {
		return s.Tier.Perks, true
	}
	return nil, false
}

func isNotSubscribed(err error) bool { return err != nil && errors.Is(err, ErrNotSubscribed) }

// Subscription returns a member's subscription to a creator, or
// ErrNotSubscribed.
func (p *Program) Subscription(ctx context.Context, member, creator string) (Subscription, error) {
	if err := validatePair(member, creator); err != nil {
		return Subscription{}, err
	}
	var s Subscription
	err := p.l.View(ctx, func(r *ledger.Reader) (err error) {
		s, err = loadSub(r, creator, member)
		return err
	})
	return s, err
}

// Offer returns a creator's published tiers, or ErrNoOffer.
func (p *Program) Offer(ctx context.Context, creator string) (Offer, error) {
	if err := kit.CheckID(ErrInvalidRequest, "creator", creator); err != nil {
		return Offer{}, err
	}
	var o Offer
	err := p.l.View(ctx, func(r *ledger.Reader) (err error) {
		o, err = loadOffer(r, creator)
		return err
	})
	return o, err
}
