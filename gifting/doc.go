// Package gifting is the coins-gifts-diamonds program: viewers buy coins
// with money, send gifts to creators (often during a LIVE), and creators
// earn diamonds, which payout later turns into money.
//
// # Accounts
//
//   - world (Unbounded): issues coins; by default also where pack money
//     comes from (rule payment_account may name a clearing account instead,
//     opened Unbounded if missing).
//   - platform:coin-sales: the money paid for packs; pays chargebacks back.
//   - member:<id>: a viewer's wallet (shared with other programs). Opened
//     with no overdraft, or with a COIN overdraft of coin_overdraft when
//     that rule is set and this program opens it first.
//   - creator:<id>:diamonds: a creator's diamonds.
//   - platform:revenue: the platform's share of gifts, in coins, and what
//     the coin→diamond conversion's rounding leaves.
//   - gifting:exchange (Unbounded): the coin→diamond exchange; it holds the
//     coins of creators' shares and is short the diamonds issued for them.
//
// # Money and value
//
// BuyPack posts one transaction: the price from the payment account to
// platform:coin-sales, the coins from world to the viewer. The payment
// reference is the idempotency key.
//
// SendGift moves cost = gift coins × count out of the viewer's wallet in
// one unit of work: share = round(cost × creator_share, share_rounding) is
// converted with Writer.Convert (rule diamonds_per_coin, rounding
// conversion_rounding, exchange gifting:exchange, remainder
// platform:revenue) into diamonds for the creator; cost − share goes to
// platform:revenue. Each asset is conserved on its own: coins only ever go
// from the viewer to platform accounts, diamonds only from the exchange to
// the creator. A share worth less than one diamond (a 1-coin rose at 50%
// rounds to 0) is booked wholly as platform revenue instead of failing the
// gift: the ledger refuses a conversion whose output rounds to zero.
//
// Coins are neither transferable between members nor refundable: no
// function does either. Chargeback gives the payer's money back and claws
// the coins back from the viewer as far as the account's overdraft allows;
// what was already spent is recorded as Unrecovered on the purchase.
// Gifts check the viewer's available coins themselves, so an overdraft is
// only ever used by a chargeback.
//
// # Rules and defaults
//
// DefaultRules is the preset from the project's PROGRAMS.md (sections
// gifting and currencies; seed 002): the Italian 2022 coin price list (70
// coins 1.09 EUR, 350 5.49, 1,400 21.99, 3,500 54.99, 7,000 109.99; channel
// "app"), a catalogue from a 1-coin rose to gifts of tens of thousands of
// coins (industry figures), 50% creator share and 1 diamond per coin of
// share, 0.005 USD per diamond for cash-out (industry figure), 18+ to buy,
// send and receive, no gifts to political accounts (seed 002), no daily
// spend limit and no coin overdraft (options).
//
// # Records
//
// gifting.purchase (by payment reference), gifting.gift (by event id),
// gifting.live and gifting.gifter (per LIVE totals and per LIVE viewer
// totals, which Live and TopGifters read), gifting.spend (coins spent per
// viewer per UTC day, when daily_spend_limit is set). Each is written in
// the same unit of work as the money it goes with.
//
// # Usage
//
//	dir := gifting.NewMemberDirectory(
//		gifting.Member{ID: "ann", Age: 30, Kind: "personal", Region: "IT"},
//		gifting.Member{ID: "cat", Age: 25, Kind: "creator", Region: "IT"})
//	p, err := gifting.New(ctx, l, gifting.DefaultRules(), dir)
//	_, err = p.BuyPack(ctx, "pay-1", "ann", "it-app-350")
//	_, err = p.SendGift(ctx, "gift-1", gifting.GiftRequest{Viewer: "ann", Creator: "cat", Gift: "hand-hearts", Count: 1, Live: "live-1"})
//	e, err := p.CreatorEarnings(ctx, "cat") // 50 diamonds, 0.25 USD
//	top, err := p.TopGifters(ctx, "live-1", 3)
package gifting
