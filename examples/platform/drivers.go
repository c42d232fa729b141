package main

import (
	"context"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
)

// simDrivers returns the drivers of every program the simulation runs, in
// the order they act each day.
func simDrivers() []driver {
	return []driver{&referralDriver{}, &giftingDriver{}, &shoutoutDriver{}, &subscriptionDriver{}, &adsbuyDriver{}, &payoutDriver{}, &shopDriver{}}
}

// platformWallets is the platform's one wallet policy, configured here
// once: the simulation and the story give it to every program that opens
// members' wallets (referral, gifting, shoutout, subscription and both
// payout programs, each through its WithWallets option) and to the
// platform's own code that opens them (topUp). A member's
// wallet, member:<id>, is then the same whichever program meets the member
// first. (adsbuy opens no wallets: advertisers' money is in
// advertiser:<id>.)
//
// Coins may go 500 below zero: room for a gifting chargeback to take back
// coins a viewer already spent. Gifts, shoutouts and payouts never spend
// into it; the other assets (rubies, diamonds, euros) have no overdraft.
// Every asset the policy names must be defined before the programs start
// (each program's New checks the policy): defineWalletAssets does that.
func platformWallets() kit.WalletPolicy {
	return kit.WalletPolicy{Overdraft: map[string]decimal.Decimal{ledger.COIN.Code: decimal.NewFromInt(500)}}
}

// defineWalletAssets defines the assets platformWallets names, before any
// program is set up.
func defineWalletAssets(ctx context.Context, l *ledger.Ledger) error {
	return l.DefineAsset(ctx, ledger.COIN)
}
