// Command referral tells the story of seed 000: a member in Italy invites
// three friends with her code, two of them stay active five days, she does
// the engagement tasks (the risk desk pulls Italy's kill switch for a
// while: a task is refused meanwhile) and withdraws her rubies to PayPal,
// converted to euros less PayPal's 4% fee. It prints every balance change
// and ends by verifying the whole ledger.
//
//	go run ./examples/referral
//
//	go run ./examples/referral -postgres 'postgres://user:pass@localhost/rewardkit'
//
// The ledger is in memory (ledger/memstore) unless -postgres names a
// database (ledger/pgstore; use a fresh database: the story's ids are
// fixed, so a second run only replays the first).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/examples/internal/exampledb"
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/driver"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
	"github.com/rewardkit/rewardkit/payout"
	"github.com/rewardkit/rewardkit/referral"
)

func main() { exampledb.Main("referral", run) }

// story keeps what the narration needs: the ledger and the balances
// printed last, so each line shows the change.
type story struct {
	ctx  context.Context
	out  io.Writer
	l    *ledger.Ledger
	last map[string]decimal.Decimal
}

// show prints the change of an account's balance since it was last shown.
func (s *story) show(account, asset, why string) error {
	b, err := s.l.Balance(s.ctx, account, asset)
	if err != nil {
		return err
	}
	var prec int32
	if err := s.l.View(s.ctx, func(r *ledger.Reader) error {
		a, err := r.Asset(asset)
		prec = a.Precision
		return err
	}); err != nil {
		return err
	}
	k := account + "/" + asset
	delta := b.Posted.Sub(s.last[k])
	s.last[k] = b.Posted
	sign := "+"
	if delta.Sign() < 0 {
		sign = ""
	}
	fmt.Fprintf(s.out, "  %-34s %12s %-4s -> %12s  (%s)\n", account, sign+delta.StringFixed(prec), asset, b.Posted.StringFixed(prec), why)
	return nil
}

func run(ctx context.Context, out io.Writer, store driver.Store) error {
	rome, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		return err
	}
	clock := ledgertest.NewClock(time.Date(2020, 6, 1, 9, 0, 0, 0, rome))
	l := ledger.New(store, ledger.WithClock(clock))
	s := &story{ctx: ctx, out: out, l: l, last: map[string]decimal.Decimal{}}

	members := kit.NewDirectory()
	roles := &kit.RoleDirectory{}
	roles.Grant("risk-desk", kit.RoleRiskOfficer) // staff who may pull the kill switch
	rules := referral.DefaultRules()
	ref, err := referral.New(ctx, l, rules, members, referral.WithRoles(roles))
	if err != nil {
		return err
	}
	paypal := payout.NewMemoryProvider(clock)
	pay, err := payout.New(ctx, l, payout.DefaultRules(), paypal)
	if err != nil {
		return err
	}
	budget := referral.BudgetAccount(rules.Campaign)
	fmt.Fprintf(out, "Campaign %s: rewards in %s, budget funded from %s\n", rules.Campaign, rules.Asset.Code, ledger.World)
	if err := s.show(budget, "RUBY", "budget funded"); err != nil {
		return err
	}

	now := clock.Now()
	giulia := kit.Member{ID: "giulia", BirthDate: kit.NewDate(1996, time.March, 2), TimeZone: "Europe/Rome", Country: "IT",
		HasProfile: true, RegisteredAt: now.AddDate(-1, 0, 0), Device: "dev-giulia", PaymentInstrument: "card-giulia"}
	members.Put(giulia)
	fmt.Fprintln(out, "\nGiulia, 24, lives in Italy and links her PayPal account.")
	if err := pay.LinkAccount(ctx, "giulia", "giulia@example.com"); err != nil {
		return err
	}
	giulia.PayoutLinked = true
	members.Put(giulia)
	code, err := ref.IssueCode(ctx, referral.IssueCodeRequest{EventID: "code-giulia", Member: "giulia"})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Her invite code is %s.\n", code)

	wallet := referral.MemberAccount("giulia")
	fmt.Fprintln(out, "\nThree friends sign up with her code:")
	for i, friend := range []string{"marco", "sara", "luca"} {
		members.Put(kit.Member{ID: friend, BirthDate: kit.NewDate(2000-i, time.January, 15), TimeZone: "Europe/Rome", Country: "IT",
			HasProfile: true, RegisteredAt: clock.Now(), Device: "dev-" + friend, PaymentInstrument: "card-" + friend})
		if _, err := ref.Signup(ctx, referral.SignupRequest{EventID: "signup-" + friend, Invitee: friend, Code: code}); err != nil {
			return err
		}
		if err := s.show(wallet, "RUBY", "signup reward for "+friend); err != nil {
			return err
		}
	}
	fmt.Fprintln(out, "\nGiulia tries to sign up a second account from her own phone:")
	members.Put(kit.Member{ID: "giulia2", BirthDate: giulia.BirthDate, TimeZone: "Europe/Rome", Country: "IT",
		RegisteredAt: clock.Now(), Device: "dev-giulia"})
	if _, err := ref.Signup(ctx, referral.SignupRequest{EventID: "signup-giulia2", Invitee: "giulia2", Code: code}); !errors.Is(err, referral.ErrSelfReferral) {
		return fmt.Errorf("self-referral was not refused: %v", err)
	} else {
		fmt.Fprintf(out, "  refused: %v\n", err)
	}

	fmt.Fprintln(out, "\nMarco and Sara use the app five days in a row; Luca gives up after two:")
	for day := 1; day <= 5; day++ {
		clock.Advance(24 * time.Hour)
		for _, friend := range []string{"marco", "sara", "luca"} {
			if friend == "luca" && day > 2 {
				continue
			}
			res, err := ref.RecordActivity(ctx, referral.RecordActivityRequest{EventID: fmt.Sprintf("active-%s-%d", friend, day), Invitee: friend})
			if err != nil {
				return err
			}
			if res.Grant != nil {
				if err := s.show(wallet, "RUBY", fmt.Sprintf("%s active %d days", friend, res.ActiveDays)); err != nil {
					return err
				}
			}
		}
	}

	luca, err := ref.Invite(ctx, "luca")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "  luca was active %d days: no retention bonus\n", len(luca.ActiveDays))

	fmt.Fprintln(out, "\nGiulia does the engagement tasks:")
	tasks := []struct{ event, task string }{
		{"task-photo", "profile_photo"},
		{"task-watch-1", "watch_10_minutes"},
		{"task-video", "publish_video"},
		{"task-follow", "follow_2_profiles"},
	}
	for _, t := range tasks {
		if _, err := ref.CompleteTask(ctx, referral.CompleteTaskRequest{EventID: t.event, Member: "giulia", Task: t.task}); err != nil {
			return err
		}
		if err := s.show(wallet, "RUBY", "task "+t.task); err != nil {
			return err
		}
	}
	if _, err := ref.CompleteTask(ctx, referral.CompleteTaskRequest{EventID: "task-watch-again", Member: "giulia", Task: "watch_10_minutes"}); errors.Is(err, referral.ErrAlreadyRewarded) {
		fmt.Fprintln(out, "  watching again the same day pays nothing more (once per day)")
	} else {
		return fmt.Errorf("second watch task the same day: %v", err)
	}
	clock.Advance(24 * time.Hour)

	fmt.Fprintln(out, "\nAn emergency stop: the risk desk pulls Italy's kill switch.")
	if err := ref.SetKillSwitch(ctx, referral.SetKillSwitchRequest{Actor: "giulia", Country: "IT", Disabled: false}); !errors.Is(err, ledger.ErrForbidden) {
		return fmt.Errorf("a member set the kill switch: %v", err)
	} else {
		fmt.Fprintf(out, "  giulia may not touch it: %v\n", err)
	}
	if err := ref.SetKillSwitch(ctx, referral.SetKillSwitchRequest{Actor: "risk-desk", Country: "IT", Disabled: true}); err != nil {
		return err
	}
	if _, err := ref.CompleteTask(ctx, referral.CompleteTaskRequest{EventID: "task-watch-stopped", Member: "giulia", Task: "watch_10_minutes"}); errors.Is(err, referral.ErrCountryDisabled) {
		fmt.Fprintf(out, "  refused while it is on: %v\n", err)
	} else {
		return fmt.Errorf("task during the emergency stop: %v", err)
	}
	if err := ref.SetKillSwitch(ctx, referral.SetKillSwitchRequest{Actor: "risk-desk", Country: "IT", Disabled: false}); err != nil {
		return err
	}
	fmt.Fprintln(out, "The risk desk releases the switch.")
	if _, err := ref.CompleteTask(ctx, referral.CompleteTaskRequest{EventID: "task-watch-2", Member: "giulia", Task: "watch_10_minutes"}); err != nil {
		return err
	}
	if err := s.show(wallet, "RUBY", "task watch_10_minutes, next day"); err != nil {
		return err
	}

	bal, err := l.Balance(ctx, wallet, "RUBY")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\nGiulia withdraws all %s rubies to PayPal:\n", bal.Available)
	po, err := pay.Withdraw(ctx, "withdraw-1", "giulia", bal.Available)
	if err != nil {
		return err
	}
	if po.Status != payout.StatusPaid {
		return fmt.Errorf("payout ended %s: %s", po.Status, po.LastError)
	}
	if err := s.show(wallet, "RUBY", "withdrawn"); err != nil {
		return err
	}
	fmt.Fprintf(out, "  %s RUBY at 10,000 per euro = %s EUR; PayPal fee 4%% = %s EUR\n", po.Amount, po.Gross.StringFixed(2), po.Fee.StringFixed(2))
	fmt.Fprintf(out, "  Giulia receives %s EUR at %s\n", po.Net.StringFixed(2), po.Account)
	for _, acc := range []string{payout.SettlementAccount("paypal"), payout.FeeAccount("paypal")} {
		if err := s.show(acc, "EUR", "payout "+po.ID); err != nil {
			return err
		}
	}
	if _, err := pay.Withdraw(ctx, "withdraw-2", "giulia", decimal.NewFromInt(8000)); errors.Is(err, payout.ErrTooFrequent) {
		fmt.Fprintf(out, "  a second withdrawal the same week is refused: %v\n", err)
	} else {
		return fmt.Errorf("second withdrawal in a week: %v", err)
	}

	b, err := ref.Budget(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\nCampaign budget: funded %s, spent %s, available %s RUBY\n", b.Funded, b.Spent, b.Available)
	rep, err := l.Verify(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Verify: ok, %d transactions, every asset sums to zero (RUBY %s, EUR %s).\n",
		rep.Transactions, rep.Totals["RUBY"], rep.Totals["EUR"])
	return nil
}
