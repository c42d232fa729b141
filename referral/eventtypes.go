package referral

import (
	"time"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger"
)

// The types of the events referral emits (ledger.Writer.Emit), each in the
// unit of work of the change it reports (for the event methods, inside
// their kit.Once): committed with it, or never. A replayed event, a
// refused one, and a kill switch set to what it already is emit nothing.
// See the package doc, "Event log".
const (
	// EventCodeIssued: IssueCode gave a member their code (not when it
	// returns the code they have). Subject: the member. Data: CodeData.
	EventCodeIssued = "referral.code.issued"
	// EventSignupRewarded: Signup paid the referrer the signup reward.
	// Subject: the referrer. Data: RewardData. TxID: the reward.
	EventSignupRewarded = "referral.signup.rewarded"
	// EventSignupRecorded: Signup recorded an invite that paid no signup
	// reward now: it waits for the invitee's first purchase
	// (Rules.RequirePurchase), or the rules' signup reward is zero.
	// Subject: the referrer. Data: SignupData.
	EventSignupRecorded = "referral.signup.recorded"
	// EventRetentionRewarded: RecordActivity paid the retention reward.
	// Subject: the referrer. Data: RewardData. TxID: the reward.
	EventRetentionRewarded = "referral.retention.rewarded"
	// EventTaskRewarded: CompleteTask paid a task. Subject: the member who
	// did it. Data: RewardData. TxID: the reward.
	EventTaskRewarded = "referral.task.rewarded"
	// EventTierRewarded: a signup (Signup, or Tick's release of a held
	// reward) reached a tier and its bonus was paid. Subject: the
	// referrer. Data: RewardData. TxID: the bonus.
	EventTierRewarded = "referral.tier.rewarded"
	// EventTierUnfunded: Tick's release reached a tier whose bonus the
	// budget could not pay; the tier is settled unpaid. Subject: the
	// referrer. Data: RewardData.
	EventTierUnfunded = "referral.tier.unfunded"
	// EventRewardHeld: RecordPurchase held the signup reward on the
	// budget until the return window ends. Subject: the referrer. Data:
	// RewardData.
	EventRewardHeld = "referral.reward.held"
	// EventRewardReleased: Tick paid a held reward to the referrer.
	// Subject: the referrer. Data: RewardData. TxID: the payment.
	EventRewardReleased = "referral.reward.released"
	// EventRewardUnfunded: Tick found a held reward's hold expired and the
	// budget unable to pay it. Subject: the referrer. Data: RewardData.
	EventRewardUnfunded = "referral.reward.unfunded"
	// EventRewardClawedBack: RecordRefund cancelled a held reward (the
	// purchase was refunded inside the return window). Subject: the
	// referrer. Data: RewardData.
	EventRewardClawedBack = "referral.reward.clawed_back"
	// EventBudgetFunded: Fund (or New, with Rules.Budget) topped up the
	// campaign budget. Subject: the campaign. Data: BudgetData. TxID: the
	// top-up.
	EventBudgetFunded = "referral.budget.funded"
	// EventKillSwitchChanged: SetKillSwitch turned the program off or on
	// again for a country. Subject: the country. Data: KillSwitchData.
	EventKillSwitchChanged = "referral.killswitch.changed"
)

// CodeData is the data of EventCodeIssued.
type CodeData struct {
	Campaign string `json:"campaign"`
	Member   string `json:"member"`
	Code     string `json:"code"` // as FormatCode writes it
}

// SignupData is the data of EventSignupRecorded.
type SignupData struct {
	Campaign string `json:"campaign"`
	Referrer string `json:"referrer"`
	Invitee  string `json:"invitee"`
	Code     string `json:"code"`
	// AwaitingPurchase: the signup reward waits for the invitee's first
	// purchase.
	AwaitingPurchase bool `json:"awaiting_purchase"`
}

// RewardData is the data of every reward event.
type RewardData struct {
	Campaign string `json:"campaign"`
	// Member is whom the reward is for (the referrer; for a task, the
	// member who did it), For what: the invitee (signup, retention and
	// held rewards), "<task>@<period>" (task), the tier's invitee count
	// (tier), as Grant.Subject names it.
	Member string          `json:"member"`
	For    string          `json:"for"`
	Amount decimal.Decimal `json:"amount"`
	Asset  string          `json:"asset"`
	// Held rewards only: the shop's purchase, the ledger hold's ID, and
	// when the return window ends.
	Purchase  string    `json:"purchase,omitempty"`
	Hold      string    `json:"hold,omitempty"`
	ReleaseAt time.Time `json:"release_at,omitzero"`
	// Actor, on clawed_back: the risk officer who recorded the refund.
	Actor string `json:"actor,omitempty"`
}

// BudgetData is the data of EventBudgetFunded.
type BudgetData struct {
	Campaign string          `json:"campaign"`
	EventID  string          `json:"event_id"`        // the top-up's ("setup" for Rules.Budget)
	Actor    string          `json:"actor,omitempty"` // none for Rules.Budget
	Amount   decimal.Decimal `json:"amount"`
	Asset    string          `json:"asset"`
}

// KillSwitchData is the data of EventKillSwitchChanged.
type KillSwitchData struct {
	Campaign string `json:"campaign"`
	Country  string `json:"country"`
	Disabled bool   `json:"disabled"` // true: the program is off there
	Actor    string `json:"actor"`
}

// grantEvents is the event a paid Grant emits, by kind.
var grantEvents = map[string]string{RewardSignup: EventSignupRewarded, RewardRetention: EventRetentionRewarded,
	RewardTask: EventTaskRewarded, RewardTier: EventTierRewarded}

// emitReward emits a reward event for member.
func (p *Program) emitReward(w *ledger.Writer, typ string, d RewardData) error {
	d.Campaign, d.Asset = p.rules.Campaign, p.rules.Asset.Code
	return w.Emit(typ, d.Member, d)
}

// heldReward is the data of an event about inv's held signup reward of
// amount.
func (inv Invite) heldReward(amount decimal.Decimal) RewardData {
	return RewardData{Member: inv.Referrer, For: inv.Invitee, Amount: amount, Purchase: inv.Purchase,
		Hold: inv.Pending, ReleaseAt: inv.ReleaseAt}
}
