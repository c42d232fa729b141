package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/gifting"
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
	"github.com/rewardkit/rewardkit/ledger/memstore"
	"github.com/rewardkit/rewardkit/referral"
)

// whatIfRules is a candidate rule set (the -whatif file): the rules to try
// for each program; a program left out keeps the rules it ran with.
type whatIfRules struct {
	Referral *referral.Rules `json:"referral,omitempty"`
	Gifting  *gifting.Rules  `json:"gifting,omitempty"`
}

// readWhatIfRules reads a candidate rule set from a JSON file:
// {"referral": {...}, "gifting": {...}}, each program's rules as that
// program's ParseRules reads them, except that a field left out keeps the
// value of the rules the platform runs (the top-level fields are laid
// over them), so a file names only what it changes. Each program's rules
// decode strictly (a misspelt field is an error) and are validated.
func readWhatIfRules(path string) (whatIfRules, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return whatIfRules{}, fmt.Errorf("-whatif: %w", err)
	}
	var raw struct {
		Referral json.RawMessage `json:"referral"`
		Gifting  json.RawMessage `json:"gifting"`
	}
	if err := kit.DecodeRules(b, &raw); err != nil {
		return whatIfRules{}, fmt.Errorf("-whatif %s: %w", path, err)
	}
	var c whatIfRules
	if raw.Referral != nil {
		merged, err := overlayJSON(referralRules(), raw.Referral)
		if err != nil {
			return whatIfRules{}, fmt.Errorf("-whatif %s: referral: %w", path, err)
		}
		r, err := referral.ParseRules(merged)
		if err != nil {
			return whatIfRules{}, fmt.Errorf("-whatif %s: %w", path, err)
		}
		c.Referral = &r
	}
	if raw.Gifting != nil {
		merged, err := overlayJSON(simGiftingRules(), raw.Gifting)
		if err != nil {
			return whatIfRules{}, fmt.Errorf("-whatif %s: gifting: %w", path, err)
		}
		r, err := gifting.ParseRules(merged)
		if err != nil {
			return whatIfRules{}, fmt.Errorf("-whatif %s: %w", path, err)
		}
		c.Gifting = &r
	}
	return c, nil
}

// overlayJSON lays the top-level fields of the JSON object patch over
// base's JSON encoding.
func overlayJSON(base any, patch json.RawMessage) ([]byte, error) {
	b, err := json.Marshal(base)
	if err != nil {
		return nil, err
	}
	var fields, over map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(patch, &over); err != nil {
		return nil, fmt.Errorf("rules must be a JSON object: %w", err)
	}
	for k, v := range over {
		fields[k] = v
	}
	return json.Marshal(fields)
}

// whatIfSource is what a replay reads: the ledger a program ran on (only
// read), the rules it ran with, the facts its members had, and the
// referral program itself, whose invites tell on which days each invitee
// was active (an input the event log does not hold).
type whatIfSource struct {
	Ledger          *ledger.Ledger
	Referral        *referral.Program
	ReferralRules   referral.Rules
	ReferralMembers kit.Members
	GiftingRules    gifting.Rules
	GiftingMembers  kit.Members
	Wallets         kit.WalletPolicy
}

// costKey names what a program granted in one asset.
type costKey struct{ Program, Asset string }

// whatIfLine is one program's cost in one asset, as it was and as the
// candidate rules would have made it.
type whatIfLine struct {
	Program, Asset                string
	Actual, Candidate, Difference decimal.Decimal
	// DifferenceValue is Difference in money at the liability report's
	// rules (liabilityQuery), in Money; Money.Code is "" when unvalued.
	DifferenceValue decimal.Decimal
	Money           ledger.Asset
}

// whatIfReport is the outcome of a replay over [From, To).
type whatIfReport struct {
	From, To time.Time
	Lines    []whatIfLine
	// Replayed counts the recorded inputs re-run per program; Refused
	// those the candidate rules refused, by rule (or error).
	Replayed map[string]int
	Refused  map[string]map[string]int
	// Skipped counts recorded events of kinds the replay does not re-run
	// (rule changes by staff, shop purchases), by type.
	Skipped map[string]int
}

// whatIfCosts sums what each program granted, from its events in
// [from, to): referral's rewards paid in the campaign (signup, retention, task, tier,
// released held rewards) in their asset; gifting's coins issued for packs
// and diamonds credited to creators. The same measure reads the actual
// ledger and the replay's, so the difference is the rules'.
func whatIfCosts(ctx context.Context, l *ledger.Ledger, campaign string, from, to time.Time) (map[costKey]decimal.Decimal, error) {
	costs := map[costKey]decimal.Decimal{}
	add := func(program, asset string, d decimal.Decimal) {
		k := costKey{program, asset}
		costs[k] = costs[k].Add(d)
	}
	var after uint64
	for {
		evs, err := l.Events(ctx, after, 1000)
		if err != nil {
			return nil, err
		}
		for _, e := range evs {
			after = e.Seq
			if e.Time.Before(from) || !e.Time.Before(to) {
				continue
			}
			switch e.Type {
			case referral.EventSignupRewarded, referral.EventRetentionRewarded, referral.EventTaskRewarded,
				referral.EventTierRewarded, referral.EventRewardReleased:
				var d referral.RewardData
				if err := json.Unmarshal(e.Data, &d); err != nil {
					return nil, fmt.Errorf("event %d: %w", e.Seq, err)
				}
				if d.Campaign == campaign {
					add("referral", d.Asset, d.Amount)
				}
			case gifting.EventPackBought:
				var d gifting.PackBought
				if err := json.Unmarshal(e.Data, &d); err != nil {
					return nil, fmt.Errorf("event %d: %w", e.Seq, err)
				}
				add("gifting", ledger.COIN.Code, d.Coins)
			case gifting.EventGiftSent:
				var d gifting.GiftSent
				if err := json.Unmarshal(e.Data, &d); err != nil {
					return nil, fmt.Errorf("event %d: %w", e.Seq, err)
				}
				add("gifting", ledger.DIAMOND.Code, d.Diamonds)
			}
		}
		if len(evs) == 0 {
			return costs, nil
		}
	}
}

// replayer re-runs recorded inputs on a scratch ledger.
type replayer struct {
	src      whatIfSource
	l        *ledger.Ledger
	clock    *ledgertest.Clock
	ref      *referral.Program
	gift     *gifting.Program
	officers *kit.RoleDirectory // gifting's risk officers, granted as the log names them
	staff    *kit.RoleDirectory // referral's risk officers and admins, likewise
	codes    map[string]string  // referrer -> code on the scratch ledger
	loc      *time.Location
	// activity is the invitees' active days still to replay, by time.
	activity []activityAt
	rep      *whatIfReport
}

type activityAt struct {
	at      time.Time
	invitee string
}

// whatIf replays what referral and gifting recorded on the source ledger
// before to with the candidate rules, on a scratch in-memory ledger, and
// reports each program's cost in [from, to), actual against candidate.
//
// Every recorded input is re-run in the order of the event log, each at
// its recorded time (a fake clock set to it), through the programs'
// public API: referral's codes, signups, tasks, kill switches and budget
// top-ups (of the actual rules' campaign), each invitee's active days
// (read from the source's invite) as activity at noon of that day in the
// campaign's time zone, and gifting's pack purchases, gifts and
// chargebacks. The staff the log names as actors are granted their roles
// on the scratch ledger. Inputs before from are replayed too, so that the
// state the period builds on (an invite whose retention falls in the
// period, coins bought before) is there; only the period's grants are
// counted. The shop variant's purchases and refunds, whose rewards a Tick
// releases, are not replayed: their events are counted in Skipped.
//
// The event log holds what the programs accepted, not what they refused:
// a candidate that would accept more (a lower minimum age, a higher cap)
// is credited with nothing more, so its cost is a lower bound; a candidate
// that refuses more shows it in Refused. Activity after the retention
// reward was paid is not kept, so a candidate asking more active days
// than the actual rules sees none of it.
func whatIf(ctx context.Context, src whatIfSource, cand whatIfRules, from, to time.Time) (*whatIfReport, error) {
	if !from.Before(to) {
		return nil, fmt.Errorf("what-if: the period [%s, %s) is empty", from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	refRules, giftRules := src.ReferralRules, src.GiftingRules
	if cand.Referral != nil {
		refRules = *cand.Referral
	}
	if cand.Gifting != nil {
		giftRules = *cand.Gifting
	}
	first, err := src.Ledger.Events(ctx, 0, 1)
	if err != nil {
		return nil, err
	}
	start := from
	if len(first) > 0 && first[0].Time.Before(start) {
		start = first[0].Time
	}
	rp := &replayer{src: src, clock: ledgertest.NewClock(start), codes: map[string]string{}, officers: &kit.RoleDirectory{}, staff: &kit.RoleDirectory{},
		rep: &whatIfReport{From: from, To: to, Replayed: map[string]int{}, Refused: map[string]map[string]int{}, Skipped: map[string]int{}}}
	rp.l = ledger.New(memstore.New(), ledger.WithClock(rp.clock))
	if rp.loc, err = time.LoadLocation(src.ReferralRules.Timezone); err != nil {
		rp.loc = time.UTC
	}
	if err := defineWalletAssets(ctx, rp.l); err != nil {
		return nil, err
	}
	if rp.ref, err = referral.New(ctx, rp.l, refRules, src.ReferralMembers, referral.WithWallets(src.Wallets), referral.WithRoles(rp.staff)); err != nil {
		return nil, fmt.Errorf("what-if: referral: %w", err)
	}
	if rp.gift, err = gifting.New(ctx, rp.l, giftRules, src.GiftingMembers, gifting.WithWallets(src.Wallets), gifting.WithRoles(rp.officers)); err != nil {
		return nil, fmt.Errorf("what-if: gifting: %w", err)
	}
	var after uint64
	for {
		evs, err := src.Ledger.Events(ctx, after, 1000)
		if err != nil {
			return nil, err
		}
		if len(evs) == 0 {
			break
		}
		for _, e := range evs {
			after = e.Seq
			if !e.Time.Before(to) {
				continue
			}
			if err := rp.flushActivity(ctx, e.Time); err != nil {
				return nil, err
			}
			rp.clock.Set(e.Time)
			if err := rp.replay(ctx, e); err != nil {
				return nil, fmt.Errorf("what-if: event %d (%s): %w", e.Seq, e.Type, err)
			}
		}
	}
	if err := rp.flushActivity(ctx, to.Add(-time.Nanosecond)); err != nil {
		return nil, err
	}
	if _, err := rp.l.Verify(ctx); err != nil {
		return nil, fmt.Errorf("what-if: the scratch ledger: %w", err)
	}
	actual, err := whatIfCosts(ctx, src.Ledger, src.ReferralRules.Campaign, from, to)
	if err != nil {
		return nil, err
	}
	candidate, err := whatIfCosts(ctx, rp.l, refRules.Campaign, from, to)
	if err != nil {
		return nil, err
	}
	keys := map[costKey]bool{}
	for k := range actual {
		keys[k] = true
	}
	for k := range candidate {
		keys[k] = true
	}
	for k := range keys {
		rp.rep.Lines = append(rp.rep.Lines, whatIfLine{Program: k.Program, Asset: k.Asset, Actual: actual[k], Candidate: candidate[k],
			Difference: candidate[k].Sub(actual[k])})
	}
	sort.Slice(rp.rep.Lines, func(i, j int) bool {
		a, b := rp.rep.Lines[i], rp.rep.Lines[j]
		if a.Program != b.Program {
			return a.Program < b.Program
		}
		return a.Asset < b.Asset
	})
	return rp.rep, nil
}

// replay re-runs the input one recorded event stands for.
func (rp *replayer) replay(ctx context.Context, e ledger.Event) error {
	decode := func(v any) error { return json.Unmarshal(e.Data, v) }
	id := fmt.Sprintf("whatif-%d", e.Seq)
	if strings.HasPrefix(e.Type, "referral.") {
		// Another campaign's events are another program's inputs.
		var c struct {
			Campaign string `json:"campaign"`
		}
		if err := decode(&c); err != nil {
			return err
		}
		if c.Campaign != rp.src.ReferralRules.Campaign {
			return nil
		}
	}
	switch e.Type {
	case referral.EventCodeIssued:
		var d referral.CodeData
		if err := decode(&d); err != nil {
			return err
		}
		code, err := rp.ref.IssueCode(ctx, referral.IssueCodeRequest{EventID: id, Member: d.Member})
		if rp.outcome("referral", err) == nil {
			rp.codes[d.Member] = code
		}
	case referral.EventSignupRewarded, referral.EventSignupRecorded:
		var referrer, invitee string
		if e.Type == referral.EventSignupRewarded {
			var d referral.RewardData
			if err := decode(&d); err != nil {
				return err
			}
			referrer, invitee = d.Member, d.For
		} else {
			var d referral.SignupData
			if err := decode(&d); err != nil {
				return err
			}
			referrer, invitee = d.Referrer, d.Invitee
		}
		code, ok := rp.codes[referrer]
		if !ok {
			rp.refused("referral", "referrer has no code")
			return nil
		}
		_, err := rp.ref.Signup(ctx, referral.SignupRequest{EventID: id, Invitee: invitee, Code: code})
		if rp.outcome("referral", err) != nil {
			return nil
		}
		return rp.scheduleActivity(ctx, invitee, e.Time)
	case referral.EventTaskRewarded:
		var d referral.RewardData
		if err := decode(&d); err != nil {
			return err
		}
		task, _, _ := strings.Cut(d.For, "@")
		_, err := rp.ref.CompleteTask(ctx, referral.CompleteTaskRequest{EventID: id, Member: d.Member, Task: task})
		rp.outcome("referral", err)
	case referral.EventKillSwitchChanged:
		var d referral.KillSwitchData
		if err := decode(&d); err != nil {
			return err
		}
		rp.staff.Grant(d.Actor, kit.RoleRiskOfficer)
		rp.outcome("referral", rp.ref.SetKillSwitch(ctx, referral.SetKillSwitchRequest{Actor: d.Actor, Country: d.Country, Disabled: d.Disabled}))
	case referral.EventBudgetFunded:
		var d referral.BudgetData
		if err := decode(&d); err != nil {
			return err
		}
		if d.EventID == "setup" {
			return nil // the candidate's own Rules.Budget funds its setup
		}
		rp.staff.Grant(d.Actor, kit.RoleProgramAdmin)
		_, err := rp.ref.Fund(ctx, referral.FundRequest{EventID: d.EventID, Actor: d.Actor, Amount: d.Amount})
		rp.outcome("referral", err)
	case referral.EventRetentionRewarded, referral.EventTierRewarded, referral.EventTierUnfunded:
		// Outcomes of other inputs (activity, signups), which the replay
		// makes happen itself.
	case gifting.EventPackBought:
		var d gifting.PackBought
		if err := decode(&d); err != nil {
			return err
		}
		_, err := rp.gift.BuyPack(ctx, gifting.BuyPackRequest{PaymentRef: d.PaymentRef, Actor: d.Viewer, Pack: d.Pack})
		rp.outcome("gifting", err)
	case gifting.EventGiftSent:
		var d gifting.GiftSent
		if err := decode(&d); err != nil {
			return err
		}
		_, err := rp.gift.SendGift(ctx, gifting.SendGiftRequest{EventID: d.EventID, Actor: d.Viewer, Creator: d.Creator,
			Gift: d.Gift, Count: d.Count, Live: d.Live})
		rp.outcome("gifting", err)
	case gifting.EventChargebackRecorded:
		var d gifting.ChargebackRecorded
		if err := decode(&d); err != nil {
			return err
		}
		rp.officers.Grant(d.Actor, kit.RoleRiskOfficer)
		_, err := rp.gift.Chargeback(ctx, gifting.ChargebackRequest{Actor: d.Actor, PaymentRef: d.PaymentRef})
		rp.outcome("gifting", err)
	default:
		if strings.HasPrefix(e.Type, "referral.") || strings.HasPrefix(e.Type, "gifting.") {
			rp.rep.Skipped[e.Type]++
		}
	}
	return nil
}

// outcome counts a replayed input, and a refusal by the rule that refused
// it; it returns err.
func (rp *replayer) outcome(program string, err error) error {
	rp.rep.Replayed[program]++
	if err != nil {
		why := ledger.RuleOf(err)
		if why == "" {
			why = err.Error()
		}
		rp.refused(program, why)
	}
	return err
}

func (rp *replayer) refused(program, why string) {
	if rp.rep.Refused[program] == nil {
		rp.rep.Refused[program] = map[string]int{}
	}
	rp.rep.Refused[program][why]++
}

// scheduleActivity queues an invitee's recorded active days: noon of each
// day in the campaign's time zone, or the signup's time on its own day.
func (rp *replayer) scheduleActivity(ctx context.Context, invitee string, signup time.Time) error {
	if rp.src.Referral == nil {
		return nil
	}
	inv, err := rp.src.Referral.Invite(ctx, invitee)
	if err != nil {
		return fmt.Errorf("invite of %s: %w", invitee, err)
	}
	for _, day := range inv.ActiveDays {
		d, err := time.ParseInLocation("2006-01-02", day, rp.loc)
		if err != nil {
			return fmt.Errorf("active day of %s: %w", invitee, err)
		}
		at := d.Add(12 * time.Hour)
		if at.Before(signup) {
			at = signup
		}
		i := sort.Search(len(rp.activity), func(i int) bool { return rp.activity[i].at.After(at) })
		rp.activity = append(rp.activity, activityAt{})
		copy(rp.activity[i+1:], rp.activity[i:])
		rp.activity[i] = activityAt{at: at, invitee: invitee}
	}
	return nil
}

// flushActivity replays the queued activity due at or before t.
func (rp *replayer) flushActivity(ctx context.Context, t time.Time) error {
	for len(rp.activity) > 0 && !rp.activity[0].at.After(t) {
		a := rp.activity[0]
		rp.activity = rp.activity[1:]
		rp.clock.Set(a.at)
		_, err := rp.ref.RecordActivity(ctx, referral.RecordActivityRequest{EventID: "whatif-active-" + a.invitee + "-" + a.at.Format("20060102"),
			Invitee: a.invitee})
		if err != nil && !errors.Is(err, referral.ErrNotInvited) {
			rp.outcome("referral", err)
			continue
		}
		rp.rep.Replayed["referral"]++
	}
	return nil
}

// printWhatIf writes the replay's outcome as text.
func printWhatIf(out io.Writer, r *whatIfReport) {
	if r == nil {
		return
	}
	fmt.Fprintf(out, "what-if: the candidate rules replayed over %s to %s (recorded inputs re-run on a scratch in-memory ledger):\n",
		r.From.Format(time.RFC3339), r.To.Format(time.RFC3339))
	fmt.Fprintf(out, "  %-10s %-8s %16s %16s %16s %16s\n", "program", "asset", "actual", "candidate", "difference", "in money")
	for _, ln := range r.Lines {
		fmt.Fprintf(out, "  %-10s %-8s %16s %16s %16s %16s\n", ln.Program, ln.Asset, groupDigits(ln.Actual.String()),
			groupDigits(ln.Candidate.String()), signed(ln.Difference), ln.moneyDifference())
	}
	for _, p := range sortedKeys(r.Replayed) {
		fmt.Fprintf(out, "  %s: %s inputs replayed, refused by the candidate: %s\n", p, thousands(int64(r.Replayed[p])), formatRefusals(r.Refused[p]))
	}
	if len(r.Skipped) > 0 {
		fmt.Fprintf(out, "  not replayed: %s\n", formatRefusals(r.Skipped))
	}
}

// signed formats a difference with its sign: "+1,000", "-30,000", "0".
func signed(d decimal.Decimal) string {
	if d.Sign() > 0 {
		return "+" + groupDigits(d.String())
	}
	return groupDigits(d.String())
}

func formatRefusals(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s %s", k, thousands(int64(m[k]))))
	}
	return strings.Join(parts, ", ")
}

// whatIf replays the whole simulated period with the candidate rules in
// the file at path. The source is read through observer (the store
// itself, not the faulty one the programs ran on).
func (s *sim) whatIf(ctx context.Context, observer *ledger.Ledger, path string) (*whatIfReport, error) {
	cand, err := readWhatIfRules(path)
	if err != nil {
		return nil, err
	}
	src := whatIfSource{Ledger: observer, ReferralRules: referralRules(), GiftingRules: simGiftingRules(), Wallets: s.wallets}
	giftDir := kit.NewDirectory()
	for _, p := range s.pop.people {
		giftDir.Put(giftingMember(p))
	}
	src.GiftingMembers = giftDir
	for _, d := range s.drivers {
		if rd, ok := d.(*referralDriver); ok {
			src.Referral, src.ReferralMembers = rd.p, rd.dir
		}
	}
	if src.Referral == nil {
		return nil, errors.New("what-if: the simulation runs no referral program")
	}
	rep, err := whatIf(ctx, src, cand, simStart, s.clock.Now().Add(time.Second))
	if err != nil {
		return nil, err
	}
	q, err := liabilityQuery(s.clock.Now(), nil)
	if err != nil {
		return nil, err
	}
	for i, ln := range rep.Lines {
		if rep.Lines[i].DifferenceValue, rep.Lines[i].Money, err = valueOf(ctx, observer, q.Values, ln.Asset, ln.Difference); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

// valueOf values a signed amount of asset in money with the asset's rule
// in rules (the rule's rate and rounding, before any fee, applied to the
// amount's size); no rule gives a zero money asset.
func valueOf(ctx context.Context, l *ledger.Ledger, rules map[string]ledger.ConversionRule, asset string, d decimal.Decimal) (decimal.Decimal, ledger.Asset, error) {
	rule, ok := rules[asset]
	if !ok {
		return decimal.Zero, ledger.Asset{}, nil
	}
	rule.FeeRate, rule.FixedFee, rule.FeeAccount = decimal.Zero, decimal.Zero, ""
	if rule.Exchange == "" {
		rule.Exchange, rule.Remainder = "whatif:exchange", "whatif:remainder" // Quote checks the rule, never the accounts
	}
	var from, to ledger.Asset
	err := l.View(ctx, func(r *ledger.Reader) error {
		var err error
		if from, err = r.Asset(asset); err != nil {
			return err
		}
		to, err = r.Asset(rule.To)
		return err
	})
	if err != nil {
		return decimal.Zero, ledger.Asset{}, err
	}
	units, err := from.Units(d.Abs())
	if err != nil || units == 0 {
		return to.Amount(0), to, err
	}
	qt, err := rule.Quote(from, to, units)
	if errors.Is(err, ledger.ErrInvalidAmount) {
		return to.Amount(0), to, nil // worth less than one minor unit
	}
	if err != nil {
		return decimal.Zero, ledger.Asset{}, err
	}
	v := to.Amount(qt.Gross)
	if d.Sign() < 0 {
		v = v.Neg()
	}
	return v, to, nil
}

// moneyDifference formats DifferenceValue: "-1,194.00 EUR", or "" when
// the asset is unvalued.
func (ln whatIfLine) moneyDifference() string {
	if ln.Money.Code == "" {
		return ""
	}
	if ln.DifferenceValue.Sign() > 0 {
		return "+" + money(ln.Money, ln.DifferenceValue)
	}
	return money(ln.Money, ln.DifferenceValue)
}
