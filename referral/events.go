package referral

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
)

// codeAlphabet leaves out I, O, 0 and 1, which read aloud ambiguously.
const codeAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

func (p *Program) makeCode(member string, attempt int) string {
	h := sha256.Sum256([]byte(p.salt + "\x00" + p.rules.Campaign + "\x00" + member + "\x00" + strconv.Itoa(attempt)))
	v := binary.BigEndian.Uint64(h[:8])
	var b [8]byte
	for i := range b {
		b[i] = codeAlphabet[v&31]
		v >>= 5
	}
	return string(b[:])
}

// NormalizeCode turns a code as typed or read aloud ("abcd-2345",
// "ABCD 2345") into its stored form ("ABCD2345").
func NormalizeCode(code string) string {
	var b strings.Builder
	for _, c := range strings.ToUpper(code) {
		if c == '-' || c == ' ' {
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// FormatCode writes a stored code in two groups of four ("ABCD-2345").
func FormatCode(code string) string {
	if len(code) != 8 {
		return code
	}
	return code[:4] + "-" + code[4:]
}

type codeRequest struct {
	Member string `json:"member"`
}

// IssueCodeRequest asks for a member's invite code.
type IssueCodeRequest struct {
	// EventID makes the request idempotent: a retry returns the code it
	// issued, whatever has changed since.
	EventID string `json:"event_id"`
	// Member is who asks for their code (the actor, and the subject).
	Member string `json:"member"`
}

// IssueCode gives a member their invite code: eight characters from an
// alphabet without look-alikes, unique in the campaign. A member has one
// code; issuing again returns it. The member must be eligible to earn. A
// retried event returns the code it issued, whatever has changed since.
func (p *Program) IssueCode(ctx context.Context, req IssueCodeRequest) (string, error) {
	return kit.Run(ctx, p.l, func(w *ledger.Writer) (string, error) { return p.IssueCodeIn(w, req) })
}

// IssueCodeIn is IssueCode inside the caller's unit of work w (see the
// package doc, "Units of work"): the code is issued only if w commits.
func (p *Program) IssueCodeIn(w *ledger.Writer, req IssueCodeRequest) (string, error) {
	if err := checkIDs("event id", req.EventID, "member", req.Member); err != nil {
		return "", err
	}
	memberID := req.Member
	code, _, err := once(w, p, "issue_code", req.EventID, codeRequest{Member: memberID}, func(w *ledger.Writer) (string, error) {
		m, err := p.member(w, memberID)
		if err != nil {
			return "", err
		}
		if err := p.canEarn(w, m, "member"); err != nil {
			return "", err
		}
		var rs referrerState
		if _, err := loadJSON(w, kindReferrer, p.id(memberID), &rs); err != nil {
			return "", err
		}
		if rs.Code == "" {
			for attempt := 0; ; attempt++ {
				if attempt == 64 {
					return "", fmt.Errorf("no free invite code for %s", memberID)
				}
				c := p.makeCode(memberID, attempt)
				err := w.InsertRecord(kindCode, p.id(c), []byte(strconv.Quote(memberID)))
				if errors.Is(err, ledger.ErrDuplicate) {
					continue
				}
				if err != nil {
					return "", err
				}
				rs.Code = c
				break
			}
			if err := w.SaveJSON(kindReferrer, p.id(memberID), rs); err != nil {
				return "", err
			}
			if err := w.Emit(EventCodeIssued, memberID, CodeData{Campaign: p.rules.Campaign, Member: memberID, Code: FormatCode(rs.Code)}); err != nil {
				return "", err
			}
		}
		return FormatCode(rs.Code), nil
	})
	if err != nil {
		return "", fail(err, "issue code to %s", memberID)
	}
	return code, nil
}

// codeOwner returns the member who holds a code.
func (p *Program) codeOwner(w *ledger.Writer, code string) (string, error) {
	b, err := w.Record(kindCode, p.id(code))
	if errors.Is(err, ledger.ErrNotFound) {
		return "", fmt.Errorf("%w: %q", ErrUnknownCode, FormatCode(code))
	}
	if err != nil {
		return "", err
	}
	var owner string
	return owner, json.Unmarshal(b, &owner)
}

// SignupResult is what a signup did.
type SignupResult struct {
	Invite Invite  `json:"invite"`
	Grants []Grant `json:"grants,omitempty"` // the signup reward and tier bonuses it reached, if paid now
	// Replayed: the event was processed before; this is its result as it
	// was then, and nothing changed now.
	Replayed bool `json:"-"`
}

type signupRequest struct {
	Invitee string `json:"invitee"`
	Code    string `json:"code"`
}

// SignupRequest reports that an invitee signed up with an invite code.
type SignupRequest struct {
	// EventID makes the report idempotent: a retry replays the result.
	EventID string `json:"event_id"`
	// Invitee is the member who signed up (the actor).
	Invitee string `json:"invitee"`
	// Code is the invite code as typed ("abcd-2345" and "ABCD2345" are
	// the same code).
	Code string `json:"code"`
}

// Signup records that an invitee signed up with a code. Without
// Rules.RequirePurchase it pays the referrer the signup reward (and any
// tier bonus reached) from the budget at once; with it, the reward waits
// for RecordPurchase. Refusals (self-referral, a member already in the
// campaign's referral graph, not new, other country, ineligible referrer,
// caps, budget, window, kill switch) record nothing.
func (p *Program) Signup(ctx context.Context, req SignupRequest) (SignupResult, error) {
	return kit.Run(ctx, p.l, func(w *ledger.Writer) (SignupResult, error) { return p.SignupIn(w, req) })
}

// SignupIn is Signup inside the caller's unit of work w (see the package
// doc, "Units of work").
func (p *Program) SignupIn(w *ledger.Writer, req SignupRequest) (SignupResult, error) {
	if err := checkIDs("event id", req.EventID, "invitee", req.Invitee); err != nil {
		return SignupResult{}, err
	}
	norm := NormalizeCode(req.Code)
	if len(norm) != 8 {
		return SignupResult{}, fmt.Errorf("%w: a code has 8 characters, %q has %d", ErrUnknownCode, truncate(req.Code), len(norm))
	}
	res, replayed, err := once(w, p, "signup", req.EventID, signupRequest{Invitee: req.Invitee, Code: norm}, func(w *ledger.Writer) (SignupResult, error) {
		return p.signup(w, req.Invitee, norm)
	})
	if err != nil {
		return SignupResult{}, fail(err, "signup of %s with code %s", req.Invitee, FormatCode(norm))
	}
	res.Replayed = replayed
	return res, nil
}

func truncate(s string) string {
	if len(s) > 32 {
		return s[:32] + "..."
	}
	return s
}

func (p *Program) signup(w *ledger.Writer, inviteeID, norm string) (SignupResult, error) {
	var res SignupResult
	referrerID, err := p.codeOwner(w, norm)
	if err != nil {
		return res, err
	}
	referrer, err := p.member(w, referrerID)
	if err != nil {
		return res, err
	}
	invitee, err := p.member(w, inviteeID)
	if err != nil {
		return res, err
	}
	now := w.Now()
	if err := p.inWindow(now); err != nil {
		return res, err
	}
	if err := p.checkKill(w, referrer, "referrer"); err != nil {
		return res, err
	}
	if err := p.checkKill(w, invitee, "invitee"); err != nil {
		return res, err
	}
	switch {
	case inviteeID == referrerID:
		return res, fmt.Errorf("%w: same member: %s used their own code", ErrSelfReferral, inviteeID)
	case invitee.Device != "" && invitee.Device == referrer.Device:
		return res, fmt.Errorf("%w: same device: invitee %s and referrer %s", ErrSelfReferral, inviteeID, referrerID)
	case invitee.PaymentInstrument != "" && invitee.PaymentInstrument == referrer.PaymentInstrument:
		return res, fmt.Errorf("%w: same payment instrument: invitee %s and referrer %s", ErrSelfReferral, inviteeID, referrerID)
	}
	if err := p.eligible(referrer, "referrer", now); err != nil {
		return res, err
	}
	if p.rules.SameCountry && invitee.Country != referrer.Country {
		return res, ledger.Refuse(ErrIneligible, "same_country", "invitee %s resides in %q, referrer %s in %q",
			inviteeID, invitee.Country, referrerID, referrer.Country)
	}
	if p.rules.Newness.RejectPriorAccount && invitee.PriorAccount {
		return res, ledger.Refuse(ErrNotNew, "newness.reject_prior_account", "%s had an account before", inviteeID)
	}
	if max := p.rules.Newness.MaxAccountAge.D(); max > 0 {
		if ledger.ValidateTime("registered_at", invitee.RegisteredAt) != nil {
			return res, ledger.Refuse(ErrNotNew, "newness.max_account_age", "invitee %s has no known registration time", inviteeID)
		}
		if now.Sub(invitee.RegisteredAt) > max {
			return res, ledger.Refuse(ErrNotNew, "newness.max_account_age", "%s registered at %s, more than %s ago",
				inviteeID, invitee.RegisteredAt.UTC().Format(time.RFC3339), max)
		}
	}
	if err := p.checkGraph(w, inviteeID, referrerID); err != nil {
		return res, err
	}
	signals := map[string]string{"device": invitee.Device, "payment": invitee.PaymentInstrument}
	for _, name := range []string{"device", "payment"} {
		if signals[name] == "" {
			continue
		}
		if _, err := w.Record(kindSignal, p.id(name, signals[name])); err == nil {
			return res, fmt.Errorf("%w: %s of invitee %s", ErrDuplicateSignal, name, inviteeID)
		} else if !errors.Is(err, ledger.ErrNotFound) {
			return res, err
		}
	}
	if err := p.checkInvites(w, referrer); err != nil {
		return res, err
	}
	var rs referrerState
	if _, err := loadJSON(w, kindReferrer, p.id(referrerID), &rs); err != nil {
		return res, err
	}
	inv := Invite{Referrer: referrerID, Invitee: inviteeID, Code: FormatCode(norm), SignedUpAt: now, Status: StatusAwaitingPurchase}
	if !p.rules.RequirePurchase {
		inv.Status = StatusRewarded
		if p.rules.MaxRewardedInvitees > 0 && rs.Rewarded >= p.rules.MaxRewardedInvitees {
			return res, ledger.Refuse(ErrCapReached, "max_rewarded_invitees", "%s was rewarded for %d invitees", referrerID, rs.Rewarded)
		}
		rs.Rewarded++
		rs.Paid++
		if err := p.checkBudgetFor(w, referrerID, rs, p.units(p.rules.SignupReward)); err != nil {
			return res, err
		}
		if p.rules.SignupReward.Sign() > 0 {
			g, err := p.grant(w, referrerID, RewardSignup, inviteeID, p.rules.SignupReward, true)
			if err != nil {
				return res, err
			}
			res.Grants = append(res.Grants, g)
		}
		tiers, _, err := p.tierGrants(w, referrerID, &rs, true)
		if err != nil {
			return res, err
		}
		res.Grants = append(res.Grants, tiers...)
	}
	for _, name := range []string{"device", "payment"} {
		if signals[name] != "" {
			if err := w.PutRecord(kindSignal, p.id(name, signals[name]), []byte(strconv.Quote(inviteeID))); err != nil {
				return res, err
			}
		}
	}
	if err := p.takeInvites(w, referrer); err != nil {
		return res, err
	}
	if err := w.SaveJSON(kindReferrer, p.id(referrerID), rs); err != nil {
		return res, err
	}
	if err := w.SaveJSON(kindInvite, p.id(inviteeID), inv); err != nil {
		return res, err
	}
	if len(res.Grants) == 0 || res.Grants[0].Kind != RewardSignup {
		if err := w.Emit(EventSignupRecorded, referrerID, SignupData{Campaign: p.rules.Campaign, Referrer: referrerID,
			Invitee: inviteeID, Code: inv.Code, AwaitingPurchase: inv.Status == StatusAwaitingPurchase}); err != nil {
			return res, err
		}
	}
	res.Invite = inv
	return res, nil
}

// checkGraph refuses an invitee who already belongs to the campaign's
// referral graph: one who signed up with a code before
// (ErrAlreadyReferred), or who holds a code of their own
// (ErrReferralLoop). Only code holders invite, so a code holder is the
// only member an invitee's code could lead back to; refusing every one of
// them refuses every loop, whatever its length, with one read. A member
// who was invited may get a code afterwards and invite others: edges only
// ever point from older members of the graph to newer ones.
func (p *Program) checkGraph(w *ledger.Writer, inviteeID, referrerID string) error {
	var prior Invite
	if ok, err := loadJSON(w, kindInvite, p.id(inviteeID), &prior); err != nil {
		return err
	} else if ok {
		return fmt.Errorf("%w: %s signed up with %s's code", ErrAlreadyReferred, inviteeID, prior.Referrer)
	}
	var up Invite
	if ok, err := loadJSON(w, kindInvite, p.id(referrerID), &up); err != nil {
		return err
	} else if ok && up.Referrer == inviteeID {
		return fmt.Errorf("%w: %s invited %s", ErrReferralLoop, inviteeID, referrerID)
	}
	var rs referrerState
	if ok, err := loadJSON(w, kindReferrer, p.id(inviteeID), &rs); err != nil {
		return err
	} else if ok && rs.Code != "" {
		return fmt.Errorf("%w: %s already holds invite code %s, so their invitees may lead to %s",
			ErrReferralLoop, inviteeID, FormatCode(rs.Code), referrerID)
	}
	return nil
}

// Invite returns an invitee's referral, or ErrNotInvited.
func (p *Program) Invite(ctx context.Context, invitee string) (Invite, error) {
	var inv Invite
	err := p.l.View(ctx, func(r *ledger.Reader) error {
		err := r.LoadJSON(kindInvite, p.id(invitee), &inv)
		if errors.Is(err, ledger.ErrNotFound) {
			return fmt.Errorf("%w: %s", ErrNotInvited, invitee)
		}
		return err
	})
	return inv, err
}

// loadInvite reads an invitee's referral in a unit of work, or
// ErrNotInvited.
func (p *Program) loadInvite(w *ledger.Writer, invitee string) (Invite, error) {
	var inv Invite
	err := w.LoadJSON(kindInvite, p.id(invitee), &inv)
	if errors.Is(err, ledger.ErrNotFound) {
		return inv, fmt.Errorf("%w: %s", ErrNotInvited, invitee)
	}
	return inv, err
}

// ActivityResult is what recording an invitee's activity did.
type ActivityResult struct {
	Invite     Invite `json:"invite"`
	ActiveDays int    `json:"active_days"` // days that count toward retention
	Grant      *Grant `json:"grant,omitempty"`
	// Refused says why a retention reward that is due could not be paid
	// now (a cap, the budget, the kill switch, the referrer's
	// eligibility); the next activity tries again.
	Refused string `json:"refused,omitempty"`
	// Replayed: the event was processed before; this is its result as it
	// was then, and nothing changed now.
	Replayed bool `json:"-"`
}

type activityRequest struct {
	Invitee string `json:"invitee"`
}

// RecordActivityRequest reports that an invitee was active.
type RecordActivityRequest struct {
	// EventID makes the report idempotent: a retry replays the result.
	EventID string `json:"event_id"`
	// Invitee is the member who was active (the actor).
	Invitee string `json:"invitee"`
}

// RecordActivity records that an invitee was active now. Once the invitee
// has been active on Rules.RetentionDays days (counted as the rules say),
// the referrer is paid the retention reward, once. The activity is kept
// even when the reward cannot be paid yet (see ActivityResult.Refused).
func (p *Program) RecordActivity(ctx context.Context, req RecordActivityRequest) (ActivityResult, error) {
	return kit.Run(ctx, p.l, func(w *ledger.Writer) (ActivityResult, error) { return p.RecordActivityIn(w, req) })
}

// RecordActivityIn is RecordActivity inside the caller's unit of work w
// (see the package doc, "Units of work").
func (p *Program) RecordActivityIn(w *ledger.Writer, req RecordActivityRequest) (ActivityResult, error) {
	if err := checkIDs("event id", req.EventID, "invitee", req.Invitee); err != nil {
		return ActivityResult{}, err
	}
	res, replayed, err := once(w, p, "activity", req.EventID, activityRequest{Invitee: req.Invitee}, func(w *ledger.Writer) (ActivityResult, error) {
		return p.activity(w, req.Invitee)
	})
	if err != nil {
		return ActivityResult{}, fail(err, "activity of %s", req.Invitee)
	}
	res.Replayed = replayed
	return res, nil
}

func (p *Program) activity(w *ledger.Writer, inviteeID string) (ActivityResult, error) {
	var res ActivityResult
	inv, err := p.loadInvite(w, inviteeID)
	if err != nil {
		return res, err
	}
	now := w.Now()
	within := true
	if p.rules.RetentionWithin > 0 {
		end, err := ledger.AddDuration("retention window end", inv.SignedUpAt, p.rules.RetentionWithin.D())
		if err != nil {
			return res, err
		}
		within = !now.After(end)
	}
	if within && !inv.RetentionPaid && p.rules.RetentionDays > 0 {
		inv.ActiveDays = p.addDay(inv.ActiveDays, p.day(now))
	}
	res.ActiveDays = len(inv.ActiveDays)
	due := p.rules.RetentionReward.Sign() > 0 && !inv.RetentionPaid && len(inv.ActiveDays) >= p.rules.RetentionDays &&
		(inv.Status == StatusRewarded || inv.Status == StatusHeld || inv.Status == StatusPaid)
	if due {
		err := p.mayPayFor(w, inv, true)
		if err == nil {
			err = p.checkGrant(w, inv.Referrer, RewardRetention, inviteeID, p.rules.RetentionReward, true)
		}
		if err != nil {
			if !refusal(err) {
				return res, err
			}
			res.Refused = fail(err, "retention reward for %s", inviteeID).Error()
		} else {
			g, err := p.applyGrant(w, inv.Referrer, RewardRetention, inviteeID, p.rules.RetentionReward, true)
			if err != nil {
				return res, err
			}
			res.Grant = &g
			inv.RetentionPaid = true
		}
	}
	if err := w.SaveJSON(kindInvite, p.id(inviteeID), inv); err != nil {
		return res, err
	}
	res.Invite = inv
	return res, nil
}

// mayPayFor checks that the referrer of inv may be paid for it now: the
// kill switch is off for the referrer's and the invitee's countries and
// the referrer is eligible to earn; with window, the campaign is open too.
// A member the directory no longer knows is refused (ErrUnknownMember).
func (p *Program) mayPayFor(w *ledger.Writer, inv Invite, window bool) error {
	if window {
		if err := p.inWindow(w.Now()); err != nil {
			return err
		}
	}
	referrer, err := p.member(w, inv.Referrer)
	if err != nil {
		return err
	}
	invitee, err := p.member(w, inv.Invitee)
	if err != nil {
		return err
	}
	if err := p.checkKill(w, referrer, "referrer"); err != nil {
		return err
	}
	if err := p.checkKill(w, invitee, "invitee"); err != nil {
		return err
	}
	return p.eligible(referrer, "referrer", w.Now())
}

// refusal reports whether err is one of the program's rule refusals, which
// leave a reward unpaid for now, rather than a failure of the unit of work.
// Member facts the rules cannot read (kit.ErrMemberFacts) refuse too: the
// member is not judged eligible on them, and may be once they are known.
func refusal(err error) bool {
	for _, e := range []error{ErrCampaignClosed, ErrCountryDisabled, ErrIneligible, ErrUnknownMember,
		kit.ErrMemberFacts, ErrCapReached, ErrBudgetExhausted, ErrAlreadyRewarded} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// addDay adds a calendar day to the days that count: any distinct day, or
// with RetentionConsecutive the current run of consecutive days.
func (p *Program) addDay(days []string, day string) []string {
	for _, d := range days {
		if d == day {
			return days
		}
	}
	if p.rules.RetentionConsecutive && len(days) > 0 {
		last, err1 := time.Parse("2006-01-02", days[len(days)-1])
		cur, err2 := time.Parse("2006-01-02", day)
		if err1 != nil || err2 != nil || !cur.Equal(last.AddDate(0, 0, 1)) {
			return []string{day}
		}
	}
	return append(days, day)
}

// TaskResult is what completing a task did.
type TaskResult struct {
	Grant Grant `json:"grant"`
	// Replayed: the event was processed before; this is its result as it
	// was then, and nothing changed now.
	Replayed bool `json:"-"`
}

type taskRequest struct {
	Member string `json:"member"`
	Task   string `json:"task"`
}

// CompleteTaskRequest reports that a member completed an engagement task.
type CompleteTaskRequest struct {
	// EventID makes the report idempotent: a retry replays the result.
	EventID string `json:"event_id"`
	// Member completed the task (the actor) and is paid for it.
	Member string `json:"member"`
	// Task is the ID of one of Rules.Tasks.
	Task string `json:"task"`
}

// CompleteTask pays a member for an engagement task, once per the task's
// period. The member must be eligible to earn.
func (p *Program) CompleteTask(ctx context.Context, req CompleteTaskRequest) (TaskResult, error) {
	return kit.Run(ctx, p.l, func(w *ledger.Writer) (TaskResult, error) { return p.CompleteTaskIn(w, req) })
}

// CompleteTaskIn is CompleteTask inside the caller's unit of work w (see
// the package doc, "Units of work").
func (p *Program) CompleteTaskIn(w *ledger.Writer, req CompleteTaskRequest) (TaskResult, error) {
	memberID, taskID := req.Member, req.Task
	if err := checkIDs("event id", req.EventID, "member", memberID); err != nil {
		return TaskResult{}, err
	}
	if len(taskID) > 64 {
		return TaskResult{}, fmt.Errorf("%w: a task ID of %d bytes", ErrUnknownTask, len(taskID))
	}
	res, replayed, err := once(w, p, "task", req.EventID, taskRequest{Member: memberID, Task: taskID}, func(w *ledger.Writer) (TaskResult, error) {
		task, ok := p.tasks[taskID]
		if !ok {
			return TaskResult{}, fmt.Errorf("%w: %q", ErrUnknownTask, taskID)
		}
		m, err := p.member(w, memberID)
		if err != nil {
			return TaskResult{}, err
		}
		if err := p.canEarn(w, m, "member"); err != nil {
			return TaskResult{}, err
		}
		g, err := p.grant(w, memberID, RewardTask, taskID+"@"+p.period(task.Period, w.Now()), task.Reward, true)
		if err != nil {
			return TaskResult{}, err
		}
		return TaskResult{Grant: g}, nil
	})
	if err != nil {
		return TaskResult{}, fail(err, "task %s of %s", taskID, memberID)
	}
	res.Replayed = replayed
	return res, nil
}

// period names the period of a task that holds now, on the kit's
// calendar (kit.PeriodKey) in the campaign's time zone: the task's claim
// is "<task>@<period>", so it pays once per period.
func (p *Program) period(per Period, now time.Time) string {
	var kp kit.Period
	switch per {
	case PeriodDaily:
		kp = kit.PeriodDay
	case PeriodWeekly:
		kp = kit.PeriodWeek
	default:
		return "once"
	}
	key, _ := kit.PeriodKey(kp, now, p.loc)
	return key
}
