package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/gifting"
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
	"github.com/rewardkit/rewardkit/ledger/memstore"
	"github.com/rewardkit/rewardkit/ledger/teststore"
	"github.com/rewardkit/rewardkit/referral"
)

// whatIfStory runs a small recorded history on a fresh store: ann invites
// bob, cat and dan (20,000 rubies each), completes her profile photo task
// (1,000), and bob is active on five days (the retention reward, 6,000, on
// the fifth); vic buys 350 coins and sends cre a 100-coin gift (50
// diamonds at the 50% share).
func whatIfStory(t *testing.T, open teststore.Opener) (whatIfSource, time.Time) {
	t.Helper()
	ctx := context.Background()
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	clock := ledgertest.NewClock(t0)
	l := ledger.New(open(t), ledger.WithClock(clock))
	require.NoError(t, defineWalletAssets(ctx, l))
	adult := kit.NewDate(1990, time.May, 4)
	refDir := kit.NewDirectory(kit.Member{ID: "ann", BirthDate: adult, Country: "IT", HasProfile: true, PayoutLinked: true,
		RegisteredAt: t0.AddDate(-1, 0, 0), Device: "dev-ann", PaymentInstrument: "card-ann"})
	for i, inv := range []string{"bob", "cat", "dan"} {
		refDir.Put(kit.Member{ID: inv, BirthDate: adult, Country: "IT", HasProfile: true, PayoutLinked: true,
			RegisteredAt: t0.Add(time.Duration(i) * time.Hour), Device: "dev-" + inv, PaymentInstrument: "card-" + inv})
	}
	giftDir := kit.NewDirectory(kit.Member{ID: "vic", BirthDate: adult, Kind: "personal", Country: "IT"},
		kit.Member{ID: "cre", BirthDate: adult, Kind: "creator", Country: "IT"})
	src := whatIfSource{Ledger: l, ReferralRules: referral.DefaultRules(), ReferralMembers: refDir,
		GiftingRules: giftingRules(), GiftingMembers: giftDir, Wallets: platformWallets()}
	var err error
	staff := &kit.RoleDirectory{}
	staff.Grant("rita", kit.RoleRiskOfficer)
	staff.Grant("adam", kit.RoleProgramAdmin)
	src.Referral, err = referral.New(ctx, l, src.ReferralRules, refDir, referral.WithWallets(src.Wallets), referral.WithRoles(staff))
	require.NoError(t, err)
	gp, err := gifting.New(ctx, l, src.GiftingRules, giftDir, gifting.WithWallets(src.Wallets))
	require.NoError(t, err)

	code, err := src.Referral.IssueCode(ctx, referral.IssueCodeRequest{EventID: "code-ann", Member: "ann"})
	require.NoError(t, err)
	clock.Set(t0.Add(30 * time.Minute))
	_, err = gp.BuyPack(ctx, gifting.BuyPackRequest{PaymentRef: "pay-vic", Actor: "vic", Pack: "it-app-350"})
	require.NoError(t, err)
	for i, inv := range []string{"bob", "cat", "dan"} {
		clock.Set(t0.Add(time.Duration(i)*time.Hour + time.Minute))
		_, err := src.Referral.Signup(ctx, referral.SignupRequest{EventID: "signup-" + inv, Invitee: inv, Code: code})
		require.NoError(t, err)
	}
	clock.Set(t0.Add(3 * time.Hour))
	_, err = src.Referral.CompleteTask(ctx, referral.CompleteTaskRequest{EventID: "photo-ann", Member: "ann", Task: "profile_photo"})
	require.NoError(t, err)
	clock.Set(t0.Add(5 * time.Hour))
	_, err = gp.SendGift(ctx, gifting.SendGiftRequest{EventID: "gift-1", Actor: "vic", Creator: "cre", Gift: "hand-hearts", Count: 1})
	require.NoError(t, err)
	for day := 0; day < 5; day++ {
		clock.Set(t0.Add(time.Duration(day)*24*time.Hour + 4*time.Hour))
		res, err := src.Referral.RecordActivity(ctx, referral.RecordActivityRequest{EventID: "active-bob-" + string(rune('0'+day)), Invitee: "bob"})
		require.NoError(t, err)
		require.Equal(t, day == 4, res.Grant != nil, "the retention reward is paid on the fifth day")
	}
	// Staff actions after the grants: a budget top-up, and the program
	// switched off for Italy.
	clock.Set(t0.Add(6 * 24 * time.Hour))
	_, err = src.Referral.Fund(ctx, referral.FundRequest{EventID: "topup-1", Actor: "adam", Amount: decimal.NewFromInt(5000)})
	require.NoError(t, err)
	require.NoError(t, src.Referral.SetKillSwitch(ctx, referral.SetKillSwitchRequest{Actor: "rita", Country: "IT", Disabled: true}))
	clock.Set(t0.Add(9 * 24 * time.Hour))
	return src, t0
}

func line(t *testing.T, r *whatIfReport, program, asset string) whatIfLine {
	t.Helper()
	for _, ln := range r.Lines {
		if ln.Program == program && ln.Asset == asset {
			return ln
		}
	}
	require.Failf(t, "no line", "%s %s in %+v", program, asset, r.Lines)
	return whatIfLine{}
}

func requireLine(t *testing.T, r *whatIfReport, program, asset string, actual, candidate int64) {
	t.Helper()
	ln := line(t, r, program, asset)
	require.True(t, decimal.NewFromInt(actual).Equal(ln.Actual), "%s %s actual: want %d, got %s", program, asset, actual, ln.Actual)
	require.True(t, decimal.NewFromInt(candidate).Equal(ln.Candidate), "%s %s candidate: want %d, got %s", program, asset, candidate, ln.Candidate)
	require.True(t, decimal.NewFromInt(candidate-actual).Equal(ln.Difference), "%s %s difference", program, asset)
}

// A candidate that halves the signup reward and gives creators 40%
// instead of 50% costs what a hand computation says, the actual cost is
// what happened, and the source ledger is left as it was.
func TestWhatIfReplaysRecordedInputs(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		src, t0 := whatIfStory(t, open)
		before, err := balanceSheet(ctx, src.Ledger)
		require.NoError(t, err)
		head, err := src.Ledger.Events(ctx, 0, 10000)
		require.NoError(t, err)

		refRules, giftRules := referral.DefaultRules(), giftingRules()
		refRules.SignupReward = decimal.NewFromInt(10000)
		giftRules.CreatorShare = decimal.RequireFromString("0.4")
		rep, err := whatIf(ctx, src, whatIfRules{Referral: &refRules, Gifting: &giftRules}, t0, t0.Add(10*24*time.Hour))
		require.NoError(t, err)
		// Actual: 3 × 20,000 + 6,000 + 1,000; candidate: 3 × 10,000 +
		// 6,000 + 1,000 (the retention reward comes from bob's five
		// recorded active days, replayed).
		requireLine(t, rep, "referral", "RUBY", 67000, 37000)
		requireLine(t, rep, "gifting", "COIN", 350, 350)
		requireLine(t, rep, "gifting", "DIAMOND", 50, 40)
		require.Empty(t, rep.Refused)
		// code, 3 signups, 1 task, 5 active days, the top-up and the kill
		// switch (by the staff the log names); a pack and a gift.
		require.Equal(t, map[string]int{"referral": 12, "gifting": 2}, rep.Replayed)

		// Only the period counts: from day 2 on, only the retention reward
		// (the signups before it are replayed so that bob's invite is
		// there). A candidate halving the retention reward halves it.
		refRules = referral.DefaultRules()
		refRules.RetentionReward = decimal.NewFromInt(3000)
		rep, err = whatIf(ctx, src, whatIfRules{Referral: &refRules}, t0.Add(2*24*time.Hour), t0.Add(10*24*time.Hour))
		require.NoError(t, err)
		requireLine(t, rep, "referral", "RUBY", 6000, 3000)
		require.Len(t, rep.Lines, 1, "nothing else was granted in the period")

		// A candidate that refuses more shows it: a minimum age of 60
		// makes ann ineligible to earn.
		refRules = referral.DefaultRules()
		refRules.MinAge = 60
		rep, err = whatIf(ctx, src, whatIfRules{Referral: &refRules}, t0, t0.Add(10*24*time.Hour))
		require.NoError(t, err)
		requireLine(t, rep, "referral", "RUBY", 67000, 0)
		require.NotEmpty(t, rep.Refused["referral"])

		// A campaign of another name is another program: its events are
		// neither replayed nor counted.
		other := referral.DefaultRules()
		other.Campaign = "other"
		src2 := src
		src2.ReferralRules = other
		rep, err = whatIf(ctx, src2, whatIfRules{Referral: &other}, t0, t0.Add(10*24*time.Hour))
		require.NoError(t, err)
		require.Zero(t, rep.Replayed["referral"])
		for _, ln := range rep.Lines {
			require.NotEqual(t, "referral", ln.Program)
		}

		after, err := balanceSheet(ctx, src.Ledger)
		require.NoError(t, err)
		require.Equal(t, before, after, "the replay only reads the source")
		evs, err := src.Ledger.Events(ctx, 0, 10000)
		require.NoError(t, err)
		require.Equal(t, len(head), len(evs))
	})
}

func TestReadWhatIfRules(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"referral": {"signup_reward": "10000"}, "gifting": {"creator_share": "0.4"}}`), 0o600))
	c, err := readWhatIfRules(path)
	require.NoError(t, err)
	require.True(t, c.Referral.SignupReward.Equal(decimal.NewFromInt(10000)))
	require.True(t, c.Referral.RetentionReward.Equal(decimal.NewFromInt(6000)), "fields left out keep the platform's rules")
	require.True(t, c.Gifting.CreatorShare.Equal(decimal.RequireFromString("0.4")))

	require.NoError(t, os.WriteFile(path, []byte(`{"referral": {"signup_rewrd": "10000"}}`), 0o600))
	_, err = readWhatIfRules(path)
	require.ErrorContains(t, err, "signup_rewrd")
}

// Replaying a simulated run with the rules it ran with reproduces what
// happened, cost for cost, with nothing refused: the replay re-runs the
// inputs faithfully. A halved signup reward then halves the signup part.
func TestWhatIfOfSimulationWithSameRulesChangesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "same.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"referral": {}, "gifting": {}}`), 0o600))
	cfg := smallConfig(5)
	cfg.WhatIf = path
	res, err := simulate(context.Background(), io.Discard, memstore.New(), cfg)
	require.NoError(t, err)
	require.NotNil(t, res.WhatIf)
	require.Len(t, res.WhatIf.Lines, 3)
	for _, ln := range res.WhatIf.Lines {
		require.Positive(t, ln.Actual.Sign(), "%s %s", ln.Program, ln.Asset)
		require.True(t, ln.Difference.IsZero(), "%s %s: actual %s, replayed %s", ln.Program, ln.Asset, ln.Actual, ln.Candidate)
		require.NotEmpty(t, ln.Money.Code, "%s is valued", ln.Asset)
		require.True(t, ln.DifferenceValue.IsZero())
	}
	require.Empty(t, res.WhatIf.Refused)
	require.Positive(t, res.WhatIf.Replayed["referral"])
	require.Positive(t, res.WhatIf.Replayed["gifting"])

	var buf bytes.Buffer
	require.NoError(t, writeReport(&buf, res))
	require.Contains(t, buf.String(), "<h2>What-if replay</h2>")
}

// A difference is valued in money at the liability's rules, rounded
// toward zero, with its sign.
func TestWhatIfValuesDifferences(t *testing.T) {
	src, t0 := whatIfStory(t, teststore.Memory)
	q, err := liabilityQuery(t0, nil)
	require.NoError(t, err)
	ctx := context.Background()
	for _, tc := range []struct {
		asset string
		diff  int64
		want  string
		money string
	}{
		{"RUBY", -30000, "-3.00", "EUR"}, // 10,000 rubies = 1 EUR
		{"RUBY", 5, "0.00", "EUR"},       // worth less than a cent
		{"DIAMOND", -2557, "-12.78", "USD"},
		{"DIAMOND", 10, "0.05", "USD"},
		{"COIN", 700, "10.90", "EUR"}, // 70 coins for 1.09 EUR
	} {
		v, m, err := valueOf(ctx, src.Ledger, q.Values, tc.asset, decimal.NewFromInt(tc.diff))
		require.NoError(t, err)
		require.Equal(t, tc.money, m.Code, tc.asset)
		require.Equal(t, tc.want, v.StringFixed(m.Precision), "%s %d", tc.asset, tc.diff)
	}
	v, m, err := valueOf(ctx, src.Ledger, q.Values, "EUR", decimal.NewFromInt(3))
	require.NoError(t, err)
	require.Empty(t, m.Code, "no rule: unvalued")
	require.True(t, v.IsZero())
}
