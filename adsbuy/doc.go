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
// Rules is data (JSON tags, Validate, DefaultRules). Defaults and sources:
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
//     a started day counts as a day), key "adsbuy:budget:<campaign>". The
//     campaign waits for review (pending_review).
//   - Approve / Reject: only an account holding RoleSalesRep (asked through
//     the Roles interface before any write), and never the campaign's own
//     advertiser, even if it holds the role. Rejection voids the hold.
//   - ReportDelivery: the delivery's cost at the bid (CPM: bid × impressions
//     / 1000; CPC: bid × clicks; rounded down to the cent) is captured from
//     the hold into platform:ads:revenue (key "adsbuy:spend:<report>"),
//     capped by the campaign's remaining total and daily budget and the ad
//     group's remaining total (daily × days) and daily budget; a capped
//     report is marked Truncated. Days are 24-hour steps from the start.
//     Deliveries count only while live, inside the schedule. When the
//     whole budget is spent the campaign ends.
//   - Pause / Resume / Cancel: the owner only. A paused campaign refuses
//     deliveries. Cancel voids the hold.
//   - Tick: a campaign whose schedule is over (End <= now) ends and its
//     hold is voided. Then ledger holds past their expiry are released.
//
// In every ending (schedule over, rejection, cancellation, budget spent),
// Released = Budget - Spent goes back to the balance, and Statement shows
// the budget, each delivery's cost and charge, what is held and what was
// released.
//
// Every event takes an id (payment reference, campaign id, review or report
// id): a replay with the same arguments returns the first result and
// changes nothing; with others it is ErrIdempotencyConflict. Wrong role,
// wrong state, wrong region, a budget under the minimum, a short balance:
// typed errors, and nothing changed.
//
// # Usage
//
//	roles := &adsbuy.RoleDirectory{}
//	roles.Grant("rita", adsbuy.RoleSalesRep)
//	p, err := adsbuy.New(ctx, l, adsbuy.DefaultRules(), roles)
//	_, err = p.OpenAdvertiser(ctx, "acme", "GB")
//	_, err = p.TopUp(ctx, "payment-123", "acme", decimal.NewFromInt(500))
//	c, err := p.BuyCampaign(ctx, "spring", "acme", adsbuy.CampaignSpec{
//		Start: start, End: start.AddDate(0, 0, 7), DailyBudget: decimal.NewFromInt(60),
//		AdGroups: []adsbuy.AdGroupSpec{{ID: "video", DailyBudget: decimal.NewFromInt(40), BidType: adsbuy.CPM, Bid: decimal.RequireFromString("2.50")}},
//	})
//	_, err = p.Approve(ctx, "review-1", "rita", "spring")
//	_, err = p.ReportDelivery(ctx, "report-1", "spring", "video", 12000, 85)
//	report, err := p.Tick(ctx) // run periodically: ends campaigns, returns unspent budgets
//	st, err := p.Statement(ctx, "spring")
package adsbuy
