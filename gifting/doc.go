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
//   - creator:<id>:diamonds (EarningsAccount): a creator's earnings, in
//     diamonds.
//   - platform:revenue: the platform's share of gifts, in coins, and what
//     the coin→diamond conversion's rounding leaves.
//   - gifting:exchange (Unbounded): the coin→diamond exchange; it holds the
//     coins of creators' shares and is short the diamonds issued for them.
//   - platform:chargeback-losses (ChargebackLossAccount, Unbounded, opened
//     at its first write-off): coins a chargeback could not take back,
//     under the default rule chargeback_recovery; below zero by what was
//     lost. member:<id>:debt (kit.DebtAccount): a viewer's coin debt under
//     chargeback_recovery "recover".
//
// # Money and value
//
// BuyPack posts one transaction: the price from the payment account to
// platform:coin-sales, the coins from world to the viewer. The payment
// reference is the idempotency key. A pack is sold to members of its
// country (kit.Member.Country, rule packs).
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
// already spent is recorded as Unrecovered on the purchase and placed by
// rule chargeback_recovery (kit.Claw, kit.RecoveryPolicy), never dropped:
// by default ("write_off") it is written off to ChargebackLossAccount
// (Purchase.WrittenOff); under "recover" it becomes the viewer's debt
// (Purchase.Debt, kit.Outstanding) up to the rule's max coins, the rest
// written off to its loss_account (or, with none, the chargeback is
// refused with kit.ErrRecoveryBound). BuyPack credits coins through
// kit.Credit, so a pack bought later repays the debt first
// (Purchase.Repaid) and only the rest can be spent. Gifts check
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
// Diamonds stay in EarningsAccount(id) (creator:<id>:diamonds), never in
// the member's wallet, and gifting never takes them out. The integrator
// cashes them out with payout, which withdraws straight from the account
// it is told to, in one unit of work with no sweep: a refused withdrawal
// leaves the diamonds where they were. A diamond's cash value is
// configured once, here (rule diamond_value, the figure CreatorEarnings
// reports), and handed to payout as a ledger rule (Rules.CashValue):
//
//	cash, err := payout.New(ctx, l, payout.CreatorRules(giftRules.CashValue()), provider)
//	po, err := cash.Withdraw(ctx, payout.WithdrawRequest{PayoutID: "cashout-1", Actor: "cat",
//		Source: gifting.EarningsAccount("cat"), Amount: diamonds})
//
// Gifting does not import payout, nor payout gifting.
//
// # Events, retries and staff actions
//
// Each event takes a request struct that names its actor and subject
// (BuyPackRequest, SendGiftRequest, ChargebackRequest) and has two forms:
// BuyPackIn, SendGiftIn and ChargebackIn run inside a unit of work the
// caller owns (a *ledger.Writer from ledger.Update), so that a flow
// across programs — a purchase and its referral reward, a gift and a
// subscription — commits whole or not at all; BuyPack, SendGift and
// Chargeback run the same in a unit of work of their own (kit.Run). An In
// form writes only through the Writer and calls nothing outside the
// ledger but the member and role directories, so a unit of work that is
// retried or rolled back leaves nothing behind.
//
// BuyPack (keyed by payment reference), SendGift (by event id) and
// Chargeback (by payment reference) each run once through kit.Once, in
// the unit of work that moves the money. The retry check comes first,
// before any member, catalogue or rule is looked at: a retry with the same
// arguments returns the first result, as it was then, with Replayed set —
// even if the viewer has since moved country or the creator's account kind
// changed — and other arguments under the same key are
// ErrIdempotencyConflict.
//
// Members are kit.Member facts from the kit.Members given to New. Ages
// are computed by the library (kit.Member.AtLeast) from the birth date, on
// the unit of work's date in the member's time zone: a member comes of age
// at local midnight of the birthday. A member whose birth date is unknown
// is refused with kit.ErrMemberFacts wherever an age rule applies, never
// taken to be old enough. A refusal by a rule is a *ledger.Refusal naming
// the rule as the JSON spells it: ledger.RuleOf(err) is "min_age_send".
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
// send and receive, no gifts to political accounts (seed 002),
// chargeback_recovery write_off to platform:chargeback-losses (empty means
// that default) and no daily
// spend limit (option; daily_spend_limit, 0 = off, is a kit cap: coins
// per viewer per calendar day in the viewer's time zone, checked and
// counted by kit.Take in the gift's unit of work, so racing gifts never
// pass it and a refused gift writes nothing; SpendToday reads what is
// left). Rules read from JSON (ParseRules, or
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
// totals, which Live and TopGifters read), gifting.cap (coins spent per
// viewer per local day, when daily_spend_limit is set; counters of the
// former gifting.spend, per UTC day, are not read after an upgrade, so
// the day of the upgrade starts from zero). Each is written in
// the same unit of work as the money it goes with.
//
// # What a gift in a LIVE costs
//
// A gift is one unit of work: the kit.Once lookup and claim of its event
// ID, two ledger transactions (the creator's share converted into
// diamonds, the platform's share), one event, and in a LIVE a read and a
// rewrite of two records, the LIVE's totals and the viewer's totals in it.
// Both stores run writing units of work one at a time (memstore under its
// writer lock, pgstore in its committer), so the whole of a gift is serial:
// a LIVE's totals record is no more a bottleneck than the creator's
// earnings account or platform:revenue, which every gift also changes;
// what it adds is its own cost. That is why the two LIVE records are
// encoded and decoded without reflection (livecodec.go, the same JSON
// encoding/json writes, which still reads any other form). Live reads one
// record; TopGifters reads every gifter record of the LIVE.
//
// Measured on memstore with one caller (CPU per call): a transfer 1.9 µs;
// the two transactions and the event of a gift 12 µs; with kit.Once 24 µs;
// a whole gift 28 µs, 31 µs in a LIVE (35 µs before the LIVE records lost
// encoding/json). On pgstore a gift costs no round trip of its own once
// the store has seen the LIVE: the LIVE and gifter records come from the
// committer's record cache, kit.Once's event ID is taken for missing and
// checked with the group's writes (see pgstore's doc, "Records"), and the
// gift's writes go with its group's COMMIT, about 8 gifts a commit with
// 16 callers; that commit, the database's work on the rows, is most of
// the time. BenchmarkLIVE measures 16 callers sending gifts
// in one LIVE beside a reference taken in the same run (the store's
// transfer rate on memstore, batched raw SQL on PostgreSQL):
//
//	go test -run '^$' -bench LIVE -benchtime 20000x ./gifting/
//
// # Event log
//
// Each change is also an event in the ledger's event log
// (ledger.Writer.Emit), emitted inside the kit.Once body of the call, so
// it commits with the money or not at all, a replay emits nothing, and a
// refusal emits nothing. Subjects are plain member IDs. Data is one
// exported struct per type, amounts and coin counts as decimal strings:
//
//   - gifting.pack.bought (EventPackBought), by BuyPack. Subject: the
//     viewer. Data (PackBought): payment_ref, viewer, pack, coins, price,
//     currency. TxID: the purchase.
//   - gifting.gift.sent (EventGiftSent), by SendGift. Subject: the
//     creator who received the gifts. Data (GiftSent): event_id, viewer,
//     creator, gift, count, live (omitted outside a LIVE), coins (that
//     left the viewer), diamonds (that the creator received). TxID: the
//     gift's last transaction (the platform's share, or the conversion).
//   - gifting.chargeback.recorded (EventChargebackRecorded), by
//     Chargeback. Subject: the viewer who bought the pack. Data
//     (ChargebackRecorded): payment_ref, viewer, actor (the risk officer),
//     price, currency, clawed_back, unrecovered, debt, written_off. TxID:
//     the chargeback. It follows the kit's gifting.clawback.recorded
//     (kit.ClawbackRecorded) and, when coins were written off,
//     gifting.loss.written_off (kit.LossWrittenOff), same transaction.
//   - gifting.debt.recovered (kit.DebtRecovered), by BuyPack when the
//     pack repaid a debt. Subject: the viewer. TxID: the purchase.
//
// # Usage
//
//	dir := kit.NewDirectory(
//		kit.Member{ID: "ann", BirthDate: kit.NewDate(1995, 6, 15), Kind: "personal", Country: "IT"},
//		kit.Member{ID: "cat", BirthDate: kit.NewDate(2000, 5, 2), Kind: "creator", Country: "IT"})
//	staff := &kit.RoleDirectory{}
//	staff.Grant("rita", kit.RoleRiskOfficer)
//	p, err := gifting.New(ctx, l, gifting.DefaultRules(), dir,
//		gifting.WithWallets(wallets), // the kit.WalletPolicy every program shares
//		gifting.WithRoles(staff))
//	_, err = p.BuyPack(ctx, gifting.BuyPackRequest{PaymentRef: "pay-1", Actor: "ann", Pack: "it-app-350"})
//	_, err = p.SendGift(ctx, gifting.SendGiftRequest{EventID: "gift-1", Actor: "ann", Creator: "cat",
//		Gift: "hand-hearts", Count: 1, Live: "live-1"})
//	e, err := p.CreatorEarnings(ctx, "cat") // 50 diamonds, 0.25 USD
//	top, err := p.TopGifters(ctx, "live-1", 3)
//	_, err = p.Chargeback(ctx, gifting.ChargebackRequest{Actor: "rita", PaymentRef: "pay-1"}) // the bank reversed pay-1
//
//	// Inside a unit of work the caller owns, with other programs' events:
//	err = l.Update(ctx, func(w *ledger.Writer) error {
//		if _, err := p.BuyPackIn(w, gifting.BuyPackRequest{PaymentRef: "pay-2", Actor: "ann", Pack: "it-app-70"}); err != nil {
//			return err
//		}
//		_, err := p.SendGiftIn(w, gifting.SendGiftRequest{EventID: "gift-2", Actor: "ann", Creator: "cat", Gift: "perfume", Count: 1})
//		return err
//	})
package gifting
