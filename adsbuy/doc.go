// Package adsbuy runs self-service ad buying over the rewardkit ledger:
// advertisers in allowed regions top up a prepaid balance and buy
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
//   - regions GB (the United Kingdom), FR, IT, US (seed 004), checked when
//     an account is opened and again at every top-up and purchase, so
//     withdrawing a region stops new money and campaigns there;
//   - campaign daily budget at least 50 USD, ad group daily budget at least
//     20 USD, bid types CPM and CPC (industry, PROGRAMS.md);
//   - this package's choices: top-ups of 50 to 50,000 USD, campaigns of at
//     most 365 days, and a hold margin of 30 days (the budget hold expires
//     by itself 30 days after the schedule ends, should no Tick end the
//     campaign first).
//
// # Accounts
//
//   - advertiser:<id> — the prepaid balance (USD, no overdraft). Posted is
//     the money, Held the budgets of open campaigns, Available what new
//     campaigns may use;
//   - platform:ads:revenue — every captured spend;
//   - world — where top-ups come from (opened Unbounded by New).
//
// # Money flow
//
//   - TopUp: world → advertiser:<id>, ledger key "adsbuy:topup:<reference>";
//     the payment reference is the idempotency key.
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
//     hold is voided, each campaign in a unit of work of its own: one that
//     fails is reported in TickReport.Failed with its ID and the others go
//     on. Then ledger holds past their expiry are released.
//
// In every ending (schedule over, rejection, cancellation, budget spent),
// Released = Budget - Spent goes back to the balance, and Statement shows
// the budget, each delivery's cost and charge, what is held and what was
// released.
//
// Every event takes an id (payment reference, campaign id, review or report
// id; for OpenAdvertiser the advertiser id) and runs once through
// kit.Once: the replay check comes first, before the rules, the roles or
// any record is read, so a retry of an event that went through succeeds
// however things have changed since. A replay with the same arguments
// returns the result as it was when the event ran, with Replayed set, and
// changes nothing; with others it is ErrIdempotencyConflict. Wrong role,
// wrong state, wrong region, a budget under the minimum, a short balance:
// typed errors, and nothing changed.
//
// # Usage
//
//	roles := &kit.RoleDirectory{} // or the service's own kit.Roles
//	roles.Grant("rita", kit.RoleSalesRep)
//	p, err := adsbuy.New(ctx, l, adsbuy.DefaultRules(), adsbuy.WithRoles(roles))
//	_, err = p.OpenAdvertiser(ctx, "acme", "GB")
//	_, err = p.TopUp(ctx, "payment-123", "acme", decimal.NewFromInt(500))
//	c, err := p.BuyCampaign(ctx, "spring", "acme", adsbuy.CampaignSpec{
//		Start: start, End: start.AddDate(0, 0, 7), DailyBudget: decimal.NewFromInt(60),
//		AdGroups: []adsbuy.AdGroupSpec{{ID: "video", DailyBudget: decimal.NewFromInt(40), BidType: adsbuy.CPM, Bid: decimal.RequireFromString("2.50")}},
//	})
//	_, err = p.Approve(ctx, "review-1", "rita", "spring")
//	_, err = p.ReportDelivery(ctx, "report-1", "spring", "video", 12000, 85)
//	report, err := p.Tick(ctx) // run periodically: ends campaigns, returns unspent budgets; report.Failed lists items that failed
//	st, err := p.Statement(ctx, "spring")
package adsbuy
