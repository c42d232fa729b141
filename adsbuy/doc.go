// Package adsbuy runs self-service ad buying over the rewardkit ledger:
// advertisers in allowed countries top up a prepaid balance and buy
// campaigns, whose budget is held until a sales representative approves or
// rejects them; delivery reports spend the held budget at the bid, and
// whatever is not spent goes back to the balance when the campaign ends
// (seed 004: self-service buying, but a representative still approves
// before an ad is published).
//
// # Rules
//
// Rules is data (JSON tags, Validate, DefaultRules). JSON is read strictly
// (Rules.UnmarshalJSON): a misspelt or unknown field is ErrInvalidRules
// naming it. The hold margin is at most ledger.MaxDuration. Defaults and
// sources:
//
//   - countries GB (the United Kingdom), FR, IT, US (seed 004; rule
//     "countries"), checked when an account is opened and again at every
//     top-up and purchase, so withdrawing a country stops new money and
//     campaigns there;
//   - campaign daily budget at least 50 USD, ad group daily budget at least
//     20 USD, bid types CPM and CPC (industry, PROGRAMS.md);
//   - this package's choices: top-ups of 50 to 50,000 USD, campaigns of at
//     most 365 days, and a hold margin of 30 days (the budget hold expires
//     by itself 30 days after the schedule ends, should no Tick end the
//     campaign first).
//
// # Accounts
//
//   - advertiser:<id> — the prepaid balance (AdvertiserAccount; USD, no
//     overdraft). Posted is the money, Held the budgets of open campaigns,
//     Available what new campaigns may use. It is the advertiser's own,
//     apart from any member's wallet;
//   - platform:ads:revenue — every captured spend (RevenueAccount);
//   - world — where top-ups come from (opened Unbounded by New).
//
// # Money flow
//
//   - TopUp: world → advertiser:<id>, ledger key "adsbuy:topup:<reference>";
//     the payment reference (TopUpRequest.EventID) is the idempotency key.
//   - BuyCampaign: a ledger hold of the whole budget (daily budget × days;
//     a started day counts as a day; a checked product, ledger.ErrOverflow
//     beyond int64 minor units), key "adsbuy:budget:<campaign>", expiring
//     HoldMargin after the schedule's end. Start and End must lie in the
//     ledger's time range, and so must the hold's expiry
//     (ledger.ErrInvalidTime). The campaign waits for review
//     (pending_review).
//   - Approve / Reject: only an actor holding kit.RoleSalesRep in the
//     program's role directory (WithRoles), and never the campaign's own
//     advertiser, even if it holds the role (kit.Authorize; ErrForbidden,
//     which is ledger.ErrForbidden). Rejection voids the hold.
//   - ReportDelivery: the delivery's exact cost at the bid (CPM: bid ×
//     impressions / 1000; CPC: bid × clicks) plus the ad group's Carry is
//     captured in whole cents from the hold into platform:ads:revenue (key
//     "adsbuy:spend:<report>"); the sub-cent rest is carried to the ad
//     group's next report, so the total charged does not depend on how
//     deliveries are batched into reports (what an ad group carries at the
//     end, under a cent, is never charged). Charges are capped by the
//     campaign's remaining total and daily budget and the ad group's
//     remaining total (daily × days) and daily budget; a capped report is
//     marked Truncated and what lay beyond the budget is neither charged
//     nor carried. Days are 24-hour steps from the start. Deliveries count
//     only while live, inside the schedule. When the whole budget is spent
//     the campaign ends.
//   - Pause / Resume / Cancel: the owner, or a sales representative (a
//     takedown of a campaign that breaks the ad policy; checked with
//     kit.Authorize like a review). A campaign staff paused is resumed only
//     by staff. A paused campaign refuses deliveries. Cancel voids the hold.
//   - Tick: a campaign whose schedule is over (End <= now) ends and its
//     hold is voided, each campaign in a unit of work of its own and
//     reported in a kit.TickReport as an item of kind TickEnded: one that
//     fails is reported in Failed with its ID and the others go on.
//     Program implements kit.Ticker; ledger/scheduler, which ticks it,
//     ticks the ledger too, which releases holds past their expiry.
//
// In every ending (schedule over, rejection, cancellation, budget spent),
// Released = Budget - Spent goes back to the balance, and Statement shows
// the budget, each delivery's cost and charge, what is held and what was
// released.
//
// Every event takes a request struct (OpenAdvertiserRequest, TopUpRequest,
// BuyCampaignRequest, ApproveRequest, RejectRequest, PauseRequest,
// ResumeRequest, CancelRequest, ReportDeliveryRequest) that names its
// Actor (the advertiser who opens, pays or buys; the reviewer; the owner
// or sales representative who pauses, resumes or cancels) and its subject
// (CampaignID). Each has an In form (BuyCampaignIn and so on) that runs
// inside the caller's unit of work, so that, say, a top-up and the
// campaign it pays for commit or roll back together; the other form runs
// it in a unit of work of its own. An In form that fails may have written
// part of its work: the caller returns the error, which undoes it all.
//
// Every event has an ID (the EventID: a payment reference, a review or
// report ID; for BuyCampaign the CampaignID, for OpenAdvertiser the
// advertiser's ID) and runs once through kit.Once: the replay check comes first, before the rules, the roles or
// any record is read, so a retry of an event that went through succeeds
// however things have changed since. A replay with the same arguments
// returns the result as it was when the event ran, with Replayed set, and
// changes nothing; with others it is ErrIdempotencyConflict. Wrong role,
// wrong state, wrong country, a budget under the minimum, a short balance:
// typed errors, and nothing changed; a refusal by a rule names it
// (ledger.RuleOf).
//
// # Event log
//
// Every change is also an event in the ledger's event log
// (ledger.Writer.Emit), emitted in the unit of work of the change: it
// commits with it or not at all, a replayed event method emits nothing
// again, and a refused one emits nothing. Amounts are decimal strings in
// the asset's precision ("10.00"), times RFC 3339, counts and the hold's
// ID numbers. The subject is the advertiser for adsbuy.advertiser.* and
// adsbuy.balance.*, the campaign's ID for adsbuy.campaign.*, whose data
// always holds "campaign", "advertiser" and "asset". TxID is the journal
// transaction the unit of work posted last before the event (a top-up, a
// charge), 0 if none.
//
//   - adsbuy.advertiser.opened (EventAdvertiserOpened), by OpenAdvertiser
//     the first time. Data: {"advertiser", "country"}.
//   - adsbuy.balance.topped_up (EventToppedUp), by TopUp. TxID: the
//     top-up. Data: {"advertiser", "reference" (the payment's EventID),
//     "amount", "asset"}.
//   - adsbuy.campaign.bought (EventCampaignBought), by BuyCampaign. Data:
//     {"budget" (held), "hold", "start", "end"}.
//   - adsbuy.campaign.approved (EventCampaignApproved), by Approve. Data:
//     {"actor" (the reviewer)}.
//   - adsbuy.campaign.rejected (EventCampaignRejected), by Reject. Data:
//     {"actor", "reason", "spent", "released" (back to the balance)}.
//   - adsbuy.campaign.paused (EventCampaignPaused) and
//     adsbuy.campaign.resumed (EventCampaignResumed), by Pause and Resume.
//     Data: {"actor"}.
//   - adsbuy.campaign.cancelled (EventCampaignCancelled), by Cancel. Data:
//     {"actor", "reason", "spent", "released"}.
//   - adsbuy.campaign.spent (EventCampaignSpent), by ReportDelivery when a
//     report is charged (one charged nothing, under a cent carried, emits
//     nothing). TxID: the capture. Data: {"report", "ad_group",
//     "impressions", "clicks", "charged", "truncated" (true when a budget
//     cut the charge short; absent otherwise), "spent" (the campaign's
//     total)}.
//   - adsbuy.campaign.ended (EventCampaignEnded), by ReportDelivery when
//     the budget is spent (after its EventCampaignSpent, with the same
//     TxID) or by Tick when the schedule is over. Data: {"reason" ("budget
//     spent", "schedule ended", "schedule ended before review"), "spent",
//     "released"}.
//
// # Usage
//
//	roles := &kit.RoleDirectory{} // or the service's own kit.Roles
//	roles.Grant("rita", kit.RoleSalesRep)
//	p, err := adsbuy.New(ctx, l, adsbuy.DefaultRules(), adsbuy.WithRoles(roles))
//	_, err = p.OpenAdvertiser(ctx, adsbuy.OpenAdvertiserRequest{Actor: "acme", Country: "GB"})
//	_, err = p.TopUp(ctx, adsbuy.TopUpRequest{EventID: "payment-123", Actor: "acme", Amount: decimal.NewFromInt(500)})
//	c, err := p.BuyCampaign(ctx, adsbuy.BuyCampaignRequest{CampaignID: "spring", Actor: "acme", Spec: adsbuy.CampaignSpec{
//		Start: start, End: start.AddDate(0, 0, 7), DailyBudget: decimal.NewFromInt(60),
//		AdGroups: []adsbuy.AdGroupSpec{{ID: "video", DailyBudget: decimal.NewFromInt(40), BidType: adsbuy.CPM, Bid: decimal.RequireFromString("2.50")}},
//	}})
//	_, err = p.Approve(ctx, adsbuy.ApproveRequest{EventID: "review-1", Actor: "rita", CampaignID: "spring"})
//	_, err = p.ReportDelivery(ctx, adsbuy.ReportDeliveryRequest{EventID: "report-1", CampaignID: "spring", AdGroupID: "video", Impressions: 12000, Clicks: 85})
//	report, err := p.Tick(ctx) // run by the scheduler: ends campaigns, returns unspent budgets; report.Failed lists items that failed
//	st, err := p.Statement(ctx, "spring")
//
// A payment and the campaign it pays for, in one unit of work of the
// caller's:
//
//	err = l.Update(ctx, func(w *ledger.Writer) error {
//		if _, err := p.TopUpIn(w, adsbuy.TopUpRequest{EventID: "payment-124", Actor: "acme", Amount: decimal.NewFromInt(420)}); err != nil {
//			return err
//		}
//		_, err := p.BuyCampaignIn(w, adsbuy.BuyCampaignRequest{CampaignID: "summer", Actor: "acme", Spec: summer})
//		return err // a refusal undoes the top-up too
//	})
package adsbuy
