package payout

import (
	"time"

	"github.com/rewardkit/rewardkit/ledger/kit"
)

// dailyCap is the rule daily_maximum as a kit cap: the money (To, before
// the fee) one member withdraws in any DailyWindow, a rolling window on
// no calendar (so no time zone): each payout counts from its request
// until DailyWindow later, and one that fails or is rejected is given
// back at once (release). Off when DailyMaximum is 0.
func (p *Program) dailyCap() (kit.Cap, error) {
	r := p.rules
	c := kit.Cap{Kind: kindCap, Scope: r.Provider, Name: "daily_maximum", Err: ErrDailyMaximum, Period: kit.PeriodRolling,
		Window: r.DailyWindow.D(), Unit: r.To.Code, Format: r.To.Format}
	if r.DailyMaximum.Sign() > 0 {
		u, err := r.To.Units(r.DailyMaximum)
		if err != nil {
			return kit.Cap{}, invalidCause("daily_maximum", err)
		}
		c.MaxUnits = u
	}
	return c, nil
}

// dailyUse is a payout's use of the daily maximum: one payout of gross
// units of To, named by its ID so that release can give it back.
func (p *Program) dailyUse(member, payoutID string, at time.Time, gross int64) kit.Use {
	return kit.Use{Subject: member, At: at, Count: 1, Units: gross, Ref: payoutID}
}
