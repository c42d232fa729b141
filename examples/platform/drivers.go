package main

import (
	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
)

// simDrivers returns the drivers of every program the simulation runs, in
// the order they act each day.
func simDrivers() []driver {
	return []driver{&referralDriver{}, &giftingDriver{}, &shoutoutDriver{}, &subscriptionDriver{}, &adsbuyDriver{}, &payoutDriver{}}
}

// platformWallets is the platform's one wallet policy, configured here
// once: the simulation and the story give it to every program that opens
// members' wallets (referral, gifting, shoutout, subscription and both
// payout programs, each through its WithWallets option) and to the
// platform's own code that opens them (topUp, sweepDiamonds). A member's
// wallet, member:<id>, is then the same whichever program meets the member
// first. (adsbuy opens no wallets: advertisers' money is in
// advertiser:<id>.)
//
// Coins may go 500 below zero: room for a gifting chargeback to take back
// coins a viewer already spent. Gifts, shoutouts and payouts never spend
// into it; the other assets (rubies, diamonds, euros) have no overdraft.
// Every asset the policy names must be defined before a program opens a
// wallet with it: here gifting and shoutout define COIN when they are set
// up, before any event.
func platformWallets() kit.WalletPolicy {
	return kit.WalletPolicy{Overdraft: map[string]decimal.Decimal{ledger.COIN.Code: decimal.NewFromInt(500)}}
}
