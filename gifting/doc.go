// Package gifting is the coins-gifts-diamonds program: viewers buy coins
// with money, send gifts to creators (often during a LIVE), and creators
// earn diamonds in an account of their own, which the integrator cashes
// out (see Cashing out).
//
// # Accounts
//
//   - world (Unbounded): issues coins; by default also where pack money
//     comes from (rule payment_account may name a clearing account instead,
//     opened Unbounded if missing).
//   - platform:coin-sales: the money paid for packs; pays chargebacks back.
//   - member:<id> (kit.WalletAccount, MemberAccount): a viewer's wallet,
//     shared with every other program. It is opened only through
//     kit.OpenWallet with the kit.WalletPolicy given by WithWallets (the
//     one policy all programs share; none by default), and a wallet some
//     other program opened first is used as it is, never refused.
//   - creator:<id>:diamonds (DiamondAccount): a creator's diamonds.
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
// the creator. A share worth less than one diamond (a 1-coin rose at 50%)
// is booked wholly as platform revenue instead of failing the gift: the
// ledger refuses a conversion whose output rounds to zero.
//
// Coins are neither transferable between members nor refundable: no
// function does either. Chargeback, recorded by a risk officer, gives the
// payer's money back and claws the pack's coins back from the viewer's
// wallet down to its floor: zero, or minus the wallet policy's coin
// overdraft (kit.WalletPolicy.Overdraft[coin asset], set with
// WithWallets; this replaces the former rule coin_overdraft). Coins held
// for an open order on the wallet (a shoutout's escrow) are clawed back
// too (ledger.TransferRequest.IncludeHeld): the order's hold is then left
// without coins behind it and can only be voided. What the viewer had
// already spent is recorded as Unrecovered on the purchase. Gifts check
// the viewer's available coins themselves, so an overdraft is only ever
// used by a chargeback.
//
// Every counter the program keeps (gift cost = coins × count, the daily
// spend, LIVE and gifter totals) is checked int64 arithmetic (kit.Add,
// kit.Mul): a sum that would overflow is ledger.ErrOverflow and the event
// writes nothing.
//
// # Cashing out
//
// Diamonds stay in DiamondAccount(id) (creator:<id>:diamonds), never in
// the member's wallet, and gifting never takes them out. The integrator
// cashes them out with payout: payout withdraws from the account you
// name, e.g. DiamondAccount(id), at the value you configure there (rule
// diamond_value is the figure CreatorEarnings reports; give payout the
// same one). Gifting does not import payout.
//
// # Events, retries and staff actions
//
// BuyPack (keyed by payment reference), SendGift (by event id) and
// Chargeback (by payment reference) each run once through kit.Once, in
// the unit of work that moves the money. The retry check comes first,
// before any member, catalogue or rule is looked at: a retry with the same
// arguments returns the first result, as it was then, with Replayed set —
// even if the viewer has since moved region or the creator's account kind
// changed — and other arguments under the same key are
// ErrIdempotencyConflict.
//
// Chargeback is a staff action: its actor must hold kit.RoleRiskOfficer in
// the directory given by WithRoles (none by default: nobody may) and not
// be the viewer; otherwise it is ledger.ErrForbidden and nothing is
// written.
//
// # Rules and defaults
//
// DefaultRules is the preset from the project's PROGRAMS.md (sections
// gifting and currencies; seed 002): the Italian 2022 coin price list (70
// coins 1.09 EUR, 350 5.49, 1,400 21.99, 3,500 54.99, 7,000 109.99; channel
// "app"), a catalogue from a 1-coin rose to gifts of tens of thousands of
// coins (industry figures), 50% creator share and 1 diamond per coin of
// share, 0.005 USD per diamond for cash-out (industry figure), 18+ to buy,
// send and receive, no gifts to political accounts (seed 002) and no daily
// spend limit (option). Rules read from JSON (ParseRules, or
// json.Unmarshal into Rules) are decoded strictly: an unknown or misspelt
// field is ErrInvalidRules naming it. Decimals in rules are bounded (at
// most 18 decimals, exponent at most 18, 38 digits) before any arithmetic.
// The program takes no time from its input: records are dated by the
// ledger's clock, which must be within the ledger's time range
// (ledger.ErrInvalidTime otherwise).
//
// # Records
//
// gifting.event (one per event, kit.Once: the result a retry returns),
// gifting.purchase (by payment reference; a chargeback updates it),
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
//	staff := &kit.RoleDirectory{}
//	staff.Grant("rita", kit.RoleRiskOfficer)
//	p, err := gifting.New(ctx, l, gifting.DefaultRules(), dir,
//		gifting.WithWallets(wallets), // the kit.WalletPolicy every program shares
//		gifting.WithRoles(staff))
//	_, err = p.BuyPack(ctx, "pay-1", "ann", "it-app-350")
//	_, err = p.SendGift(ctx, "gift-1", gifting.GiftRequest{Viewer: "ann", Creator: "cat", Gift: "hand-hearts", Count: 1, Live: "live-1"})
//	e, err := p.CreatorEarnings(ctx, "cat") // 50 diamonds, 0.25 USD
//	top, err := p.TopGifters(ctx, "live-1", 3)
//	_, err = p.Chargeback(ctx, "rita", "pay-1") // the bank reversed pay-1
package gifting
