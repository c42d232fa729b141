package gifting_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/gifting"
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/teststore"
)

// TestUnknownBirthDateRefusalNamesTheAgeRule: a member whose birth date
// is unknown is refused by the age rule (kit.ErrMemberFacts), and a
// refusal by a rule names the rule (ledger.RuleOf), as referral's
// min_age and shoutout's min_fan_age do. gifting returns the bare
// kit.ErrMemberFacts, so a service cannot tell which rule asked.
func TestUnknownBirthDateRefusalNamesTheAgeRule(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		e := newEnv(t, open, gifting.DefaultRules())
		e.dir.Put(kit.Member{ID: "nodate", Country: "IT"})
		_, err := e.p.BuyPack(e.ctx, gifting.BuyPackRequest{PaymentRef: "pay-nodate", Actor: "nodate", Pack: "it-app-70"})
		require.ErrorIs(t, err, kit.ErrMemberFacts)
		require.Equal(t, "min_age_buy", ledger.RuleOf(err), "%v", err)
	})
}
