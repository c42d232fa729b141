package referral

import (
	"context"
	"time"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
)

// kindCap holds the program's cap counters (kit.Take):
// <c>:<rule>:<subject>:<period> -> counter.
const kindCap = "referral.cap"

// The program's caps, by rule name. Each is off while its rule is 0.
const (
	capInvitesPerDay       = "invites_per_day"
	capDeviceInvitesPerDay = "device_invites_per_day"
	capDailyEarning        = "daily_earning_cap"
	capWeeklyEarning       = "weekly_earning_cap"
	capCountryBudgets      = "country_budgets"
)

// capOf is one of the program's caps over its records. Referral counts
// its calendar periods on the campaign's calendar (Rules.Timezone), as its
// rules say: one day for every member of a campaign run in one country.
func (p *Program) capOf(name string, period kit.Period, count int64, units decimal.Decimal) kit.Cap {
	c := kit.Cap{Kind: kindCap, Scope: p.rules.Campaign, Name: name, Err: ErrCapReached, Period: period,
		MaxCount: count, Unit: p.rules.Asset.Code, Format: p.rules.Asset.Format}
	if units.Sign() > 0 {
		c.MaxUnits = p.units(units)
	}
	return c
}

// countryCap is the campaign budget of a country (rule country_budgets):
// a budget, so its refusal is ErrBudgetExhausted.
func (p *Program) countryCap(country string) kit.Cap {
	c := p.capOf(capCountryBudgets, kit.PeriodCampaign, 0, p.rules.CountryBudgets[country])
	c.Err = ErrBudgetExhausted
	return c
}

func (p *Program) inviteCaps() []kit.Cap {
	return []kit.Cap{
		p.capOf(capInvitesPerDay, kit.PeriodDay, int64(p.rules.InvitesPerDay), decimal.Zero),
		p.capOf(capDeviceInvitesPerDay, kit.PeriodDay, int64(p.rules.DeviceInvitesPerDay), decimal.Zero),
	}
}

func (p *Program) earningCaps() []kit.Cap {
	return []kit.Cap{
		p.capOf(capDailyEarning, kit.PeriodDay, 0, p.rules.DailyEarningCap),
		p.capOf(capWeeklyEarning, kit.PeriodWeek, 0, p.rules.WeeklyEarningCap),
	}
}

// inviteUses are the uses of a signup credited to referrer now: one
// invite of the member, and one of their device when it is known.
func (p *Program) inviteUses(w *ledger.Writer, referrer kit.Member) []kit.Use {
	us := []kit.Use{{Subject: referrer.ID, At: w.Now(), Loc: p.loc, Count: 1}, {}}
	if referrer.Device != "" {
		us[1] = kit.Use{Subject: referrer.Device, At: w.Now(), Loc: p.loc, Count: 1}
	}
	return us
}

// checkInvites refuses, without writing, a signup past invites_per_day or
// device_invites_per_day.
func (p *Program) checkInvites(w *ledger.Writer, referrer kit.Member) error {
	us := p.inviteUses(w, referrer)
	for i, c := range p.inviteCaps() {
		if us[i].Subject == "" {
			continue
		}
		if err := kit.Check(w, c, us[i]); err != nil {
			return err
		}
	}
	return nil
}

// takeInvites counts a signup in the invite caps.
func (p *Program) takeInvites(w *ledger.Writer, referrer kit.Member) error {
	us := p.inviteUses(w, referrer)
	for i, c := range p.inviteCaps() {
		if us[i].Subject == "" {
			continue
		}
		if _, err := kit.Take(w, c, us[i]); err != nil {
			return err
		}
	}
	return nil
}

// countryOf is the country a member resides in, read only when a country
// budget is set ("" when none is, or the member has none).
func (p *Program) countryOf(w *ledger.Writer, member string) (string, error) {
	if len(p.rules.CountryBudgets) == 0 {
		return "", nil
	}
	m, err := p.member(w, member)
	if err != nil {
		return "", err
	}
	if p.rules.CountryBudgets[m.Country].Sign() <= 0 {
		return "", nil
	}
	return m.Country, nil
}

// checkEarning refuses, without writing, u more units to member now past
// an earning cap (when capped) or the country budget of their country.
func (p *Program) checkEarning(w *ledger.Writer, member string, u int64, capped bool) error {
	if u <= 0 {
		return nil
	}
	if capped {
		for _, c := range p.earningCaps() {
			if err := kit.Check(w, c, kit.Use{Subject: member, At: w.Now(), Loc: p.loc, Units: u}); err != nil {
				return err
			}
		}
	}
	country, err := p.countryOf(w, member)
	if err != nil || country == "" {
		return err
	}
	return kit.Check(w, p.countryCap(country), kit.Use{Subject: country, At: w.Now(), Units: u})
}

// countEarned counts u > 0 units earned by member now in the earning caps
// (when capped: tier bonuses are neither refused by them nor counted) and
// in the country budget of the member's country, which it returns ("" when
// no country budget counted it) so that a give-back finds the same budget.
func (p *Program) countEarned(w *ledger.Writer, member string, u int64, capped bool) (country string, err error) {
	if u <= 0 {
		return "", nil
	}
	if capped {
		for _, c := range p.earningCaps() {
			if _, err := kit.Take(w, c, kit.Use{Subject: member, At: w.Now(), Loc: p.loc, Units: u}); err != nil {
				return "", err
			}
		}
	}
	country, err = p.countryOf(w, member)
	if err != nil || country == "" {
		return "", err
	}
	_, err = kit.Take(w, p.countryCap(country), kit.Use{Subject: country, At: w.Now(), Units: u})
	return country, err
}

// giveEarned takes u > 0 units of a capped reward counted on day (a held
// reward refunded or never funded) back out of the earning caps and out of
// the budget of the country that counted it (Invite.CountedIn; "" for
// none): the caps count what is kept. It is the country recorded when the
// reward was counted, not the one the directory says now: a referrer who
// moved since must not free another country's budget.
func (p *Program) giveEarned(w *ledger.Writer, member, day, country string, u int64) error {
	if u <= 0 {
		return nil
	}
	at, err := time.ParseInLocation(time.DateOnly, day, p.loc)
	if err != nil {
		return err
	}
	for _, c := range p.earningCaps() {
		key, _ := kit.PeriodKey(c.Period, at, p.loc)
		if err := kit.Give(w, c, kit.Taken{Subject: member, Period: key, Units: u}); err != nil {
			return err
		}
	}
	if country == "" {
		return nil
	}
	return kit.Give(w, p.countryCap(country), kit.Taken{Subject: country, Period: string(kit.PeriodCampaign), Units: u})
}

// CapUsage is how much of one cap rule a subject has used now.
type CapUsage struct {
	// Rule is the cap's JSON rule name ("invites_per_day").
	Rule string
	kit.Usage
}

// Caps reports a member's use of every cap rule that is on, now on the
// campaign's calendar: invites_per_day, device_invites_per_day (of the
// member's device), daily_earning_cap, weekly_earning_cap and the
// country_budgets of the member's country — what a UI shows as "37 of
// 100 invites today".
func (p *Program) Caps(ctx context.Context, memberID string) ([]CapUsage, error) {
	m, err := p.members.Member(ctx, memberID)
	if err != nil {
		return nil, err
	}
	var out []CapUsage
	err = p.l.View(ctx, func(r *ledger.Reader) error {
		now := p.l.Clock().Now()
		type sub struct {
			c       kit.Cap
			subject string
			loc     *time.Location
		}
		subs := []sub{}
		for i, c := range p.inviteCaps() {
			s := memberID
			if i == 1 {
				s = m.Device
			}
			subs = append(subs, sub{c, s, p.loc})
		}
		for _, c := range p.earningCaps() {
			subs = append(subs, sub{c, memberID, p.loc})
		}
		if p.rules.CountryBudgets[m.Country].Sign() > 0 {
			subs = append(subs, sub{p.countryCap(m.Country), m.Country, nil})
		}
		for _, s := range subs {
			if !s.c.On() || s.subject == "" {
				continue
			}
			u, err := kit.UsageOf(r, s.c, s.subject, now, s.loc)
			if err != nil {
				return err
			}
			out = append(out, CapUsage{Rule: s.c.Name, Usage: u})
		}
		return nil
	})
	return out, err
}
