package referral

import (
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
)

// BreakageAccount is the address of the account a campaign's expired
// rewards go to (Rules.RewardValidity): what members earned and let
// expire.
func BreakageAccount(campaign string) string {
	return "referral:campaign:" + campaign + ":breakage"
}

// expiry returns when a reward paid now expires and where it then goes,
// or zero values when rewards never expire (RewardValidity 0, the
// default). The breakage account is opened the first time it is needed
// (opening an account is no write a refusal must undo: see
// ledger.Writer.Atomic).
func (p *Program) expiry(w *ledger.Writer) (at ledger.Leg, err error) {
	if p.rules.RewardValidity <= 0 {
		return ledger.Leg{}, nil
	}
	brk := BreakageAccount(p.rules.Campaign)
	if err := kit.OpenIfMissing(w, brk, ledger.Overdraft{}); err != nil {
		return ledger.Leg{}, err
	}
	return ledger.Leg{ExpiresAt: w.Now().Add(p.rules.RewardValidity.D()), Breakage: brk}, nil
}

// expiring makes a reward's posting to a member a lot of the ledger that
// expires after RewardValidity, when that rule is set.
func (p *Program) expiring(w *ledger.Writer, ps ledger.Posting) (ledger.Posting, error) {
	e, err := p.expiry(w)
	ps.ExpiresAt, ps.Breakage = e.ExpiresAt, e.Breakage
	return ps, err
}

// expiringLeg is expiring for a capture's destination.
func (p *Program) expiringLeg(w *ledger.Writer, leg ledger.Leg) (ledger.Leg, error) {
	e, err := p.expiry(w)
	leg.ExpiresAt, leg.Breakage = e.ExpiresAt, e.Breakage
	return leg, err
}
