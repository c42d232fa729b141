package subscription

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/teststore"
)

// TestUnknownBirthDateRefusalNamesTheAgeRule: a creator whose birth date
// is unknown is refused by min_creator_age (kit.ErrMemberFacts), and a
// refusal by a rule names the rule (ledger.RuleOf), as referral and
// shoutout do. subscription returns the bare kit.ErrMemberFacts.
func TestUnknownBirthDateRefusalNamesTheAgeRule(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open(t), DefaultRules())
		f.dir.Put(kit.Member{ID: "nodate", Country: "IT", Followers: 50000, ViewsLastMonth: 400000})
		_, err := f.p.PublishTiers(f.ctx, PublishTiersRequest{EventID: "pub-1", Actor: "nodate", Tiers: []Tier{basic}})
		require.ErrorIs(t, err, kit.ErrMemberFacts)
		require.Equal(t, "min_creator_age", ledger.RuleOf(err), "%v", err)
	})
}
