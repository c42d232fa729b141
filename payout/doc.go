// Package payout cashes members' rewards out through a payment provider:
// a member links a payout account, withdraws an amount of the reward asset
// (RUBY), which is converted to money (EUR) at the rule's rate with a
// declared rounding, less the provider's fee, and sent.
//
// # Rules
//
// Rules is data (JSON tags, Validate names the bad field). DefaultRules is
// seed 000: 10,000 rubies = 1 EUR rounded down to the cent, the rubies
// rounding leaves over booked to the remainder account; at least 8,000
// rubies; one withdrawal a week (Period, MaxPerPeriod); PayPal's 4% fee.
// Industry figures and integrator choices: a daily maximum of 1,000 EUR,
// manual review above 100 EUR, funds held at most 90 days. Other fees are
// the same rules with other values: "1.5% + 0.10" is FeeRate 0.015 and
// FixedFee 0.10; a bank's flat 2.90 is FixedFee alone.
//
// # Money in flight
//
// Withdraw checks the rules, then holds the amount on the member's wallet
// and records the payout as "sending" in one unit of work. Only after that
// commits does it call Provider.Send, with an idempotency key derived from
// the payout id, and it records the answer in a second unit of work:
//
//   - succeeded: the hold is captured to the clearing account and
//     converted in the same unit of work (net to the settlement account,
//     fee to the fee account, rounding leftover to the remainder account);
//   - failed, or unclaimed and later returned: the hold is voided and the
//     week's withdrawal slot freed;
//   - held or unclaimed: the hold stays; Tick asks again;
//   - no answer (timeout, crash): the payout stays "sending" with the
//     funds held; Retry or Tick sends again with the same key, and the
//     provider, idempotent on it, never pays twice.
//
// A payout settles its hold exactly once: a settled payout ignores every
// later answer. Payouts above Rules.ReviewAbove wait in "review", with the
// funds held, for Approve or Reject.
//
// # Accounts
//
//   - member:<id>: the wallet withdrawn from (shared with other programs).
//   - payout:<provider>:clearing: receives a paid payout's capture and
//     converts it away in the same unit of work (always empty after).
//   - payout:<provider>:exchange: the conversion position (Unbounded).
//   - payout:<provider>:remainder: reward units rounding left unconverted.
//   - payout:<provider>:fees: the provider's fees, in money.
//   - payout:<provider>:settlement: money sent to members.
//
// MemoryProvider is an in-memory Provider for tests and examples that can
// be told to fail, hold, leave a payment unclaimed (returned later), or
// time out before or after paying.
//
// # Usage
//
//	paypal := payout.NewMemoryProvider(clock)
//	p, err := payout.New(ctx, l, payout.DefaultRules(), paypal)
//	err = p.LinkAccount(ctx, "giulia", "giulia@example.com")
//	po, err := p.Withdraw(ctx, "withdrawal-1", "giulia", decimal.NewFromInt(75000))
//	// po.Status is "paid"; po.Net is what Giulia received.
//	rep, err := p.Tick(ctx) // retries payouts in flight
package payout
