package referral_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"pgregory.net/rapid"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
	"github.com/rewardkit/rewardkit/ledger/teststore"
	"github.com/rewardkit/rewardkit/referral"
)

// refusals a random sequence may meet; anything else fails the property.
var expectedRefusals = []error{
	referral.ErrSelfReferral, referral.ErrReferralLoop, referral.ErrNotNew, referral.ErrAlreadyReferred,
	referral.ErrDuplicateSignal, referral.ErrCapReached, referral.ErrBudgetExhausted, referral.ErrCampaignClosed,
	referral.ErrCountryDisabled, referral.ErrAlreadyRewarded, referral.ErrIneligible, referral.ErrNotInvited,
	referral.ErrIdempotencyConflict,
	kit.ErrRecoveryBound, // a refund_clawback past max with no loss account
}

// Accounts of the property test: where members spend their rewards, and
// the loss account of its refund_clawback policies.
const (
	propTill   = "shop:till"
	propLosses = "platform:referral-losses"
)

func expected(err error) bool {
	for _, e := range expectedRefusals {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// TestPropertyRandomSequences drives the program with random signups,
// activity, tasks, purchases, refunds, kill switches, clock moves and
// ticks, on either preset with a small budget and random caps, and checks
// after every step: every asset sums to zero and the journal verifies; no
// member wallet is below zero; the campaign never spends more than it was
// funded (spent + held + available = funded, all >= 0); each reward is
// paid at most once per (member, kind, subject); and the wallets hold
// exactly what the campaign spent.
//
// It also checks that nothing is paid while the kill switch is on (issue
// 10 #15), that an actor without the role cannot pull the switch or record
// a refund (#4), and that a Tick reports no failed item.
//
// On PostgreSQL a sample of a tenth of the sequences runs (each needs a
// schema of its own); the sample is drawn, so a failure reproduces.
func TestPropertyRandomSequences(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		pg := strings.HasSuffix(t.Name(), "pgstore")
		rapid.Check(t, func(rt *rapid.T) { randomSequence(rt, t, open, pg) })
	})
}

func randomSequence(rt *rapid.T, t *testing.T, open teststore.Opener, pg bool) {
	if pg && rapid.IntRange(0, 9).Draw(rt, "sample") != 0 {
		return
	}
	{
		ctx := context.Background()
		shop := rapid.Bool().Draw(rt, "shop")
		rules := referral.DefaultRules()
		if shop {
			rules = referral.ShopRules()
			rules.Budget = d(rapid.SampledFrom([]int64{5000, 180, 75, 0}).Draw(rt, "budget"))
			policies := []*kit.RecoveryPolicy{nil, {Mode: kit.RecoverFromRewards, Max: d(60), LossAccount: propLosses},
				{Mode: kit.RecoverFromRewards, Max: d(20)}, {Mode: kit.WriteOffToLoss, LossAccount: propLosses}}
			rules.RefundClawback = policies[rapid.IntRange(0, len(policies)-1).Draw(rt, "refund_clawback")]
		} else {
			rules.Budget = d(rapid.SampledFrom([]int64{1_000_000, 47000, 21000, 0}).Draw(rt, "budget"))
			rules.DailyEarningCap = d(rapid.SampledFrom([]int64{0, 0, 26000, 41000}).Draw(rt, "cap"))
		}
		rules.InvitesPerDay = rapid.IntRange(0, 3).Draw(rt, "invites_per_day")
		rules.DeviceInvitesPerDay = rapid.IntRange(0, 2).Draw(rt, "device_invites_per_day")
		if !shop {
			rules.WeeklyEarningCap = d(rapid.SampledFrom([]int64{0, 0, 50000}).Draw(rt, "weekly cap"))
		}
		if b := rapid.SampledFrom([]int64{0, 0, 45000, 60}).Draw(rt, "country budget"); b > 0 {
			rules.CountryBudgets = map[string]decimal.Decimal{rules.Country: d(b)}
		}
		rules.MaxRewardedInvitees = rapid.IntRange(0, 4).Draw(rt, "max_rewarded")
		rules.Newness.MaxAccountAge = 0
		clock := ledgertest.NewClock(t0)
		l := ledger.New(open(t), ledger.WithClock(clock))
		dir := kit.NewDirectory()
		roles := &kit.RoleDirectory{}
		roles.Grant(riskOfficer, kit.RoleRiskOfficer)
		p, err := referral.New(ctx, l, rules, dir, referral.WithRoles(roles))
		if err != nil {
			rt.Fatal(err)
		}
		if _, err := l.OpenAccount(ctx, ledger.AccountSpec{Address: propTill}); err != nil {
			rt.Fatal(err)
		}
		people := []string{"a", "b", "c", "d", "e", "f"}
		for _, id := range people {
			dir.Put(kit.Member{ID: id, Country: rules.Country, BirthDate: born(30), HasProfile: true, PayoutLinked: true,
				RegisteredAt: t0, Device: "dev-" + id, PaymentInstrument: "card-" + id})
		}
		codes := map[string]string{}
		killed := false
		event := 0
		next := func(rt *rapid.T) string {
			if event > 0 && rapid.IntRange(0, 9).Draw(rt, "replay") == 0 {
				return fmt.Sprintf("e%d", rapid.IntRange(1, event).Draw(rt, "old event"))
			}
			event++
			return fmt.Sprintf("e%d", event)
		}
		check := func(rt *rapid.T, err error) {
			if err != nil && !expected(err) {
				rt.Fatalf("unexpected error: %v", err)
			}
		}
		rt.Repeat(map[string]func(*rapid.T){
			"code": func(rt *rapid.T) {
				who := rapid.SampledFrom(people).Draw(rt, "who")
				c, err := p.IssueCode(ctx, referral.IssueCodeRequest{EventID: next(rt), Member: who})
				check(rt, err)
				if err == nil {
					codes[who] = c
				}
			},
			"signup": func(rt *rapid.T) {
				if len(codes) == 0 {
					rt.Skip("no codes yet")
				}
				referrer := rapid.SampledFrom(people).Draw(rt, "referrer")
				code, ok := codes[referrer]
				if !ok {
					rt.Skip("no code")
				}
				_, err := p.Signup(ctx, referral.SignupRequest{EventID: next(rt), Invitee: rapid.SampledFrom(people).Draw(rt, "invitee"), Code: code})
				check(rt, err)
			},
			"activity": func(rt *rapid.T) {
				_, err := p.RecordActivity(ctx, referral.RecordActivityRequest{EventID: next(rt), Invitee: rapid.SampledFrom(people).Draw(rt, "who")})
				check(rt, err)
			},
			"task": func(rt *rapid.T) {
				if len(rules.Tasks) == 0 {
					rt.Skip("no tasks")
				}
				task := rapid.SampledFrom(rules.Tasks).Draw(rt, "task")
				_, err := p.CompleteTask(ctx, referral.CompleteTaskRequest{EventID: next(rt), Member: rapid.SampledFrom(people).Draw(rt, "who"), Task: task.ID})
				check(rt, err)
			},
			"purchase": func(rt *rapid.T) {
				who := rapid.SampledFrom(people).Draw(rt, "who")
				_, err := p.RecordPurchase(ctx, referral.RecordPurchaseRequest{EventID: next(rt), Member: who, PurchaseID: fmt.Sprintf("o-%s-%d", who, rapid.IntRange(0, 2).Draw(rt, "order"))})
				check(rt, err)
			},
			"refund": func(rt *rapid.T) {
				who := rapid.SampledFrom(people).Draw(rt, "who")
				actor := rapid.SampledFrom([]string{riskOfficer, riskOfficer, riskOfficer, nobody, "", "a"}).Draw(rt, "actor")
				before := snapshotOf(rt, ctx, l)
				_, err := p.RecordRefund(ctx, referral.RecordRefundRequest{EventID: next(rt), Actor: actor, PurchaseID: fmt.Sprintf("o-%s-%d", who, rapid.IntRange(0, 2).Draw(rt, "order"))})
				if actor != riskOfficer {
					if !errors.Is(err, ledger.ErrForbidden) {
						rt.Fatalf("refund by %q: %v, want ErrForbidden", actor, err)
					}
					if after := snapshotOf(rt, ctx, l); after != before {
						rt.Fatalf("a forbidden refund wrote:\n%s\n%s", before, after)
					}
					return
				}
				check(rt, err)
			},
			"spend": func(rt *rapid.T) {
				// A member spends what they may, so that a clawback can
				// find the wallet short.
				who := rapid.SampledFrom(people).Draw(rt, "who")
				var sp decimal.Decimal
				if err := l.View(ctx, func(r *ledger.Reader) (err error) {
					sp, err = kit.Spendable(r, referral.MemberAccount(who), rules.Asset.Code)
					return err
				}); err != nil {
					rt.Fatal(err)
				}
				if sp.IsZero() {
					rt.Skip("nothing to spend")
				}
				if _, err := l.Transfer(ctx, "", referral.MemberAccount(who), propTill, rules.Asset.Code, sp); err != nil {
					rt.Fatal(err)
				}
			},
			"kill": func(rt *rapid.T) {
				off := rapid.IntRange(0, 5).Draw(rt, "off") == 0
				actor := rapid.SampledFrom([]string{riskOfficer, riskOfficer, nobody}).Draw(rt, "actor")
				err := p.SetKillSwitch(ctx, referral.SetKillSwitchRequest{Actor: actor, Country: rules.Country, Disabled: off})
				if actor != riskOfficer {
					if !errors.Is(err, ledger.ErrForbidden) {
						rt.Fatalf("kill switch by %q: %v, want ErrForbidden", actor, err)
					}
					return
				}
				if err != nil {
					rt.Fatal(err)
				}
				killed = off
			},
			"advance": func(rt *rapid.T) {
				clock.Advance(time.Duration(rapid.IntRange(1, 24*12).Draw(rt, "hours")) * time.Hour)
			},
			"tick": func(rt *rapid.T) {
				rep, err := p.Tick(ctx)
				if err != nil {
					rt.Fatal(err)
				}
				if _, err := l.Tick(ctx); err != nil { // as the scheduler does
					rt.Fatal(err)
				}
				for _, f := range rep.Failed {
					if f.Kind != referral.ItemWithheld || !errors.Is(f.Err, referral.ErrCountryDisabled) {
						rt.Fatalf("tick failed item: %v", f)
					}
				}
				if killed && (rep.Count(referral.ItemReleased) > 0 || rep.Count(referral.ItemTierBonus) > 0) {
					rt.Fatalf("paid %v while the kill switch is on", rep.Done)
				}
			},
			"": func(rt *rapid.T) { checkInvariants(rt, ctx, l, p, people) },
		})
	}
}

// snapshotOf is the journal's length and every record of the program.
func snapshotOf(rt *rapid.T, ctx context.Context, l *ledger.Ledger) string {
	var s string
	err := l.View(ctx, func(r *ledger.Reader) error {
		txs, _, err := r.Transactions(0, 10000)
		if err != nil {
			return err
		}
		s = fmt.Sprintf("txs=%d\n", len(txs))
		for _, k := range recordKinds {
			recs, err := r.Records(k, "", 10000)
			if err != nil {
				return err
			}
			for _, rec := range recs {
				s += rec.Kind + " " + rec.ID + " " + string(rec.Data) + "\n"
			}
		}
		return nil
	})
	if err != nil {
		rt.Fatal(err)
	}
	return s
}

func checkInvariants(rt *rapid.T, ctx context.Context, l *ledger.Ledger, p *referral.Program, people []string) {
	rules := p.Rules()
	for _, id := range people {
		// No cap is ever exceeded (kit.Take).
		caps, err := p.Caps(ctx, id)
		if err != nil {
			rt.Fatal(err)
		}
		for _, c := range caps {
			switch {
			case c.Rule == "invites_per_day" && c.Count > int64(rules.InvitesPerDay),
				c.Rule == "device_invites_per_day" && c.Count > int64(rules.DeviceInvitesPerDay),
				c.Rule == "daily_earning_cap" && rules.Asset.Amount(c.Units).GreaterThan(rules.DailyEarningCap),
				c.Rule == "weekly_earning_cap" && rules.Asset.Amount(c.Units).GreaterThan(rules.WeeklyEarningCap),
				c.Rule == "country_budgets" && rules.Asset.Amount(c.Units).GreaterThan(rules.CountryBudgets[rules.Country]):
				rt.Fatalf("%s past %s: %+v", id, c.Rule, c)
			}
		}
	}
	rep, err := l.Verify(ctx)
	if err != nil {
		rt.Fatalf("verify: %v", err)
	}
	for asset, total := range rep.Totals {
		if !total.IsZero() {
			rt.Fatalf("%s sums to %s", asset, total)
		}
	}
	wallets := decimal.Zero
	for _, id := range people {
		b, err := l.Balance(ctx, referral.MemberAccount(id), rules.Asset.Code)
		if errors.Is(err, ledger.ErrUnknownAccount) {
			continue
		}
		if err != nil {
			rt.Fatal(err)
		}
		if b.Posted.Sign() < 0 || b.Available.Sign() < 0 {
			rt.Fatalf("member %s below zero: %+v", id, b)
		}
		wallets = wallets.Add(b.Posted)
	}
	b, err := p.Budget(ctx)
	if err != nil {
		rt.Fatal(err)
	}
	if b.Available.Sign() < 0 || b.Held.Sign() < 0 || b.Spent.GreaterThan(b.Funded) ||
		!b.Spent.Add(b.Held).Add(b.Available).Equal(b.Funded) {
		rt.Fatalf("budget broken: %+v", b)
	}
	// What the campaign spent is in the wallets, spent at the till, or
	// owed back (debts and write-offs are negative balances).
	elsewhere := decimal.Zero
	for _, acc := range []string{propTill, propLosses} {
		b, err := l.Balance(ctx, acc, rules.Asset.Code)
		if err == nil {
			elsewhere = elsewhere.Add(b.Posted)
		} else if !errors.Is(err, ledger.ErrUnknownAccount) {
			rt.Fatal(err)
		}
	}
	for _, id := range people {
		b, err := l.Balance(ctx, kit.DebtAccount(id), rules.Asset.Code)
		if err == nil {
			if b.Posted.Sign() > 0 || (rules.RefundClawback != nil && b.Posted.Neg().GreaterThan(rules.RefundClawback.Max)) {
				rt.Fatalf("debt of %s: %s", id, b.Posted)
			}
			elsewhere = elsewhere.Add(b.Posted)
		} else if !errors.Is(err, ledger.ErrUnknownAccount) {
			rt.Fatal(err)
		}
	}
	if !wallets.Add(elsewhere).Equal(b.Spent) {
		rt.Fatalf("wallets hold %s and %s elsewhere, campaign spent %s", wallets, elsewhere, b.Spent)
	}
	seen := map[string]bool{}
	err = l.View(ctx, func(r *ledger.Reader) error {
		for after := uint64(0); ; {
			txs, next, err := r.Transactions(after, 1000)
			if err != nil {
				return err
			}
			for _, tx := range txs {
				m := tx.Metadata
				if m["program"] != "referral" || m["kind"] == "fund" || m["clawback"] != "" || tx.Kind == ledger.KindReversal {
					continue
				}
				if m["pending"] == "grant" || m["pending"] == kit.StateVetoed {
					continue // a pending grant and its veto pay nobody; its release pays
				}
				k := strings.Join([]string{m["member"], m["kind"], m["subject"]}, "|")
				if seen[k] {
					return fmt.Errorf("reward %s paid twice (transaction %d)", k, tx.ID)
				}
				seen[k] = true
			}
			if next == 0 {
				return nil
			}
			after = next
		}
	})
	if err != nil {
		rt.Fatal(err)
	}
}
