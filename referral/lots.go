package referral

import (
	"time"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
)

// BreakageAccount is the address of the account a campaign's expired
// rewards go to (Rules.RewardValidity): what members earned and let
// expire.
func BreakageAccount(campaign string) string {
	return "referral:campaign:" + campaign + ":breakage"
}

// expiry returns when a reward paid now expires and the account its rest
// then goes to, or zero values when rewards never expire (RewardValidity
// 0, the default); it is kit.Pending's Expiry for the shop's rewards. The
// breakage account is opened the first time it is needed (opening an
// account is no write a refusal must undo: see ledger.Writer.Atomic).
func (p *Program) expiry(w *ledger.Writer) (time.Time, string, error) {
	if p.rules.RewardValidity <= 0 {
		return time.Time{}, "", nil
	}
	brk := BreakageAccount(p.rules.Campaign)
	if err := kit.OpenIfMissing(w, brk, ledger.Overdraft{}); err != nil {
		return time.Time{}, "", err
	}
	at, err := ledger.AddDuration("reward expiry", w.Now(), p.rules.RewardValidity.D())
	return at, brk, err
}
