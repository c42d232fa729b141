package referral_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/teststore"
	"github.com/rewardkit/rewardkit/referral"
)

// TestRewardValidityExpiresRewardsToBreakage: with reward_validity set, a
// signup reward is a lot of the referrer's wallet that expires after it,
// and the ledger's Tick moves what is left of it to the campaign's
// breakage account, once.
func TestRewardValidityExpiresRewardsToBreakage(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		rules := referral.DefaultRules()
		rules.RewardValidity = kit.Duration(30 * 24 * time.Hour)
		f := newFixture(t, open, rules)
		f.member("giulia")
		f.member("marco")
		_, err := f.p.Signup(f.ctx, referral.SignupRequest{EventID: "s1", Invitee: "marco", Code: strings.ToLower(f.code(t, "giulia"))})
		require.NoError(t, err)
		wallet := referral.MemberAccount("giulia")
		b, err := f.l.Balance(f.ctx, wallet, rules.Asset.Code)
		require.NoError(t, err)
		require.Len(t, b.Expiring, 1)
		require.True(t, b.Expiring[0].At.Equal(t0.Add(30*24*time.Hour)))
		require.True(t, b.Expiring[0].Amount.Equal(rules.SignupReward))

		f.clock.Advance(30*24*time.Hour - time.Second)
		_, n := f.tick(t)
		require.Zero(t, n)
		require.True(t, f.wallet(t, "giulia").Equal(rules.SignupReward))

		f.clock.Advance(time.Second)
		_, n = f.tick(t)
		require.Equal(t, 1, n)
		require.True(t, f.wallet(t, "giulia").IsZero())
		require.True(t, f.balance(t, referral.BreakageAccount(rules.Campaign)).Equal(rules.SignupReward))
		_, n = f.tick(t)
		require.Zero(t, n, "a reward expires once")
		f.verify(t)
	})
}

// TestRewardValidityDefaultsToNever: the seeds give no expiry, so by
// default a reward is no lot and nothing expires.
func TestRewardValidityDefaultsToNever(t *testing.T) {
	require.Zero(t, referral.DefaultRules().RewardValidity)
	require.Zero(t, referral.ShopRules().RewardValidity)
	f := newFixture(t, teststore.Memory, referral.DefaultRules())
	f.member("giulia")
	f.member("marco")
	_, err := f.p.Signup(f.ctx, referral.SignupRequest{EventID: "s1", Invitee: "marco", Code: f.code(t, "giulia")})
	require.NoError(t, err)
	b, err := f.l.Balance(f.ctx, referral.MemberAccount("giulia"), "RUBY")
	require.NoError(t, err)
	require.Empty(t, b.Expiring)
	f.clock.Advance(10 * 365 * 24 * time.Hour)
	f.tick(t)
	require.True(t, f.wallet(t, "giulia").Equal(referral.DefaultRules().SignupReward))
	err = f.l.View(f.ctx, func(r *ledger.Reader) error {
		_, err := r.Account(referral.BreakageAccount(f.rules.Campaign))
		return err
	})
	require.ErrorIs(t, err, ledger.ErrUnknownAccount, "no breakage account without expiry")
}

// TestRewardValidityShopCapture: the shop variant's held reward, captured
// when the return window ends, expires after reward_validity from then.
func TestRewardValidityShopCapture(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := shopFixture(t, open, func(r *referral.Rules) { r.RewardValidity = kit.Duration(7 * 24 * time.Hour) })
		f.invite(t, "amy")
		_, err := f.p.RecordPurchase(f.ctx, referral.RecordPurchaseRequest{EventID: "p1", Member: "amy", PurchaseID: "order-1"})
		require.NoError(t, err)
		f.clock.Advance(f.rules.ReturnWindow.D())
		f.tick(t)
		require.True(t, f.wallet(t, "ref").Equal(d(50)))
		b, err := f.l.Balance(f.ctx, referral.MemberAccount("ref"), f.rules.Asset.Code)
		require.NoError(t, err)
		require.Len(t, b.Expiring, 1)
		require.True(t, b.Expiring[0].At.Equal(f.clock.Now().Add(7*24*time.Hour)))
		f.clock.Advance(7 * 24 * time.Hour)
		f.tick(t)
		require.True(t, f.wallet(t, "ref").IsZero())
		require.True(t, f.balance(t, referral.BreakageAccount(f.rules.Campaign)).Equal(d(50)))
		f.verify(t)
	})
}

func TestRewardValidityIsValidated(t *testing.T) {
	r := referral.DefaultRules()
	r.RewardValidity = kit.Duration(-time.Hour)
	err := r.Validate()
	require.ErrorIs(t, err, referral.ErrInvalidRules)
	require.Contains(t, err.Error(), "reward_validity")
	r.RewardValidity = kit.Duration(720 * time.Hour)
	b, err := json.Marshal(r)
	require.NoError(t, err)
	require.Contains(t, string(b), `"reward_validity"`)
	var back referral.Rules
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, 720*time.Hour, back.RewardValidity.D())
}
