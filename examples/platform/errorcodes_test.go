package main

// Error codes (issue 11 #4): every sentinel of every program has a code a
// service maps to an HTTP status, and real refusals map to the status a
// client expects, so a handler needs no switch over sentinels.

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/adsbuy"
	"github.com/rewardkit/rewardkit/gifting"
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/pgstore"
	"github.com/rewardkit/rewardkit/ledger/teststore"
	"github.com/rewardkit/rewardkit/payout"
	"github.com/rewardkit/rewardkit/referral"
	"github.com/rewardkit/rewardkit/shoutout"
	"github.com/rewardkit/rewardkit/subscription"
)

// programSentinels are the exported sentinels of each program (and
// pgstore), by the directory of their errors.go.
var programSentinels = map[string]map[string]error{
	"referral": {
		"ErrInvalidRules": referral.ErrInvalidRules, "ErrInvalidRequest": referral.ErrInvalidRequest,
		"ErrIdempotencyConflict": referral.ErrIdempotencyConflict, "ErrUnknownMember": referral.ErrUnknownMember,
		"ErrUnknownCode": referral.ErrUnknownCode, "ErrUnknownTask": referral.ErrUnknownTask,
		"ErrNotInvited": referral.ErrNotInvited, "ErrIneligible": referral.ErrIneligible,
		"ErrSelfReferral": referral.ErrSelfReferral, "ErrReferralLoop": referral.ErrReferralLoop,
		"ErrNotNew": referral.ErrNotNew, "ErrAlreadyReferred": referral.ErrAlreadyReferred,
		"ErrDuplicateSignal": referral.ErrDuplicateSignal, "ErrCapReached": referral.ErrCapReached,
		"ErrBudgetExhausted": referral.ErrBudgetExhausted, "ErrCampaignClosed": referral.ErrCampaignClosed,
		"ErrCountryDisabled": referral.ErrCountryDisabled, "ErrAlreadyRewarded": referral.ErrAlreadyRewarded,
	},
	"gifting": {
		"ErrInvalidRules": gifting.ErrInvalidRules, "ErrIneligible": gifting.ErrIneligible,
		"ErrUnknownMember": gifting.ErrUnknownMember, "ErrUnknownPack": gifting.ErrUnknownPack,
		"ErrUnknownGift": gifting.ErrUnknownGift, "ErrInvalidRequest": gifting.ErrInvalidRequest,
		"ErrInsufficientCoins": gifting.ErrInsufficientCoins, "ErrDailyLimit": gifting.ErrDailyLimit,
		"ErrIdempotencyConflict": gifting.ErrIdempotencyConflict, "ErrNotFound": gifting.ErrNotFound,
	},
	"shoutout": {
		"ErrInvalidRules": shoutout.ErrInvalidRules, "ErrIneligible": shoutout.ErrIneligible,
		"ErrUnknownMember": shoutout.ErrUnknownMember, "ErrInvalidRequest": shoutout.ErrInvalidRequest,
		"ErrPriceOutOfBounds": shoutout.ErrPriceOutOfBounds, "ErrNoOffer": shoutout.ErrNoOffer,
		"ErrPriceChanged": shoutout.ErrPriceChanged, "ErrInsufficientCoins": shoutout.ErrInsufficientCoins,
		"ErrWrongState": shoutout.ErrWrongState, "ErrDeadlinePassed": shoutout.ErrDeadlinePassed,
		"ErrNotParty": shoutout.ErrNotParty, "ErrNotFound": shoutout.ErrNotFound,
		"ErrIdempotencyConflict": shoutout.ErrIdempotencyConflict,
	},
	"subscription": {
		"ErrInvalidRules": subscription.ErrInvalidRules, "ErrInvalidRequest": subscription.ErrInvalidRequest,
		"ErrInvalidTiers": subscription.ErrInvalidTiers, "ErrIneligible": subscription.ErrIneligible,
		"ErrCountry": subscription.ErrCountry, "ErrUnknownMember": subscription.ErrUnknownMember,
		"ErrNoOffer": subscription.ErrNoOffer, "ErrUnknownTier": subscription.ErrUnknownTier,
		"ErrSelfSubscription": subscription.ErrSelfSubscription, "ErrAlreadySubscribed": subscription.ErrAlreadySubscribed,
		"ErrNotSubscribed": subscription.ErrNotSubscribed, "ErrWrongState": subscription.ErrWrongState,
		"ErrInsufficientFunds": subscription.ErrInsufficientFunds, "ErrIdempotencyConflict": subscription.ErrIdempotencyConflict,
		"ErrForbidden": subscription.ErrForbidden, "ErrNoAccess": subscription.ErrNoAccess,
		"ErrNotCovered": subscription.ErrNotCovered, "ErrPerkNotIncluded": subscription.ErrPerkNotIncluded,
	},
	"adsbuy": {
		"ErrInvalidRules": adsbuy.ErrInvalidRules, "ErrInvalidRequest": adsbuy.ErrInvalidRequest,
		"ErrCountry": adsbuy.ErrCountry, "ErrUnknownAdvertiser": adsbuy.ErrUnknownAdvertiser,
		"ErrTopUpBounds": adsbuy.ErrTopUpBounds, "ErrBudgetTooLow": adsbuy.ErrBudgetTooLow,
		"ErrInvalidCampaign": adsbuy.ErrInvalidCampaign, "ErrInsufficientFunds": adsbuy.ErrInsufficientFunds,
		"ErrForbidden": adsbuy.ErrForbidden, "ErrWrongState": adsbuy.ErrWrongState,
		"ErrUnknownCampaign": adsbuy.ErrUnknownCampaign, "ErrUnknownAdGroup": adsbuy.ErrUnknownAdGroup,
		"ErrIdempotencyConflict": adsbuy.ErrIdempotencyConflict,
	},
	"payout": {
		"ErrInvalidRules": payout.ErrInvalidRules, "ErrInvalidRequest": payout.ErrInvalidRequest,
		"ErrIdempotencyConflict": payout.ErrIdempotencyConflict, "ErrNotFound": payout.ErrNotFound,
		"ErrNoPayoutAccount": payout.ErrNoPayoutAccount, "ErrBelowMinimum": payout.ErrBelowMinimum,
		"ErrTooFrequent": payout.ErrTooFrequent, "ErrDailyMaximum": payout.ErrDailyMaximum,
		"ErrInsufficientFunds": payout.ErrInsufficientFunds, "ErrUnknownSource": payout.ErrUnknownSource,
		"ErrWrongState": payout.ErrWrongState, "ErrProviderTimeout": payout.ErrProviderTimeout,
		"ErrProviderConflict": payout.ErrProviderConflict, "ErrOutcomeContradiction": payout.ErrOutcomeContradiction,
		"ErrReversalUnsupported": payout.ErrReversalUnsupported,
	},
	"ledger/pgstore": {"ErrInvalidSchema": pgstore.ErrInvalidSchema, "ErrStatementTimeout": pgstore.ErrStatementTimeout},
}

// TestEverySentinelHasACode: every exported Err* variable of each
// program's errors.go (read from the source, so that a new sentinel
// cannot be forgotten here) has a code other than internal, and keeps it
// when wrapped.
func TestEverySentinelHasACode(t *testing.T) {
	for dir, sentinels := range programSentinels {
		t.Run(dir, func(t *testing.T) {
			require.ElementsMatch(t, declaredSentinels(t, filepath.Join("..", "..", dir, "errors.go")), slices.Collect(maps.Keys(sentinels)),
				"the sentinels listed here are those %s/errors.go declares", dir)
			for name, err := range sentinels {
				code := ledger.ErrorCode(err)
				require.NotEqual(t, ledger.CodeInternal, code, name)
				require.Equal(t, code, ledger.ErrorCode(errors.Join(errors.New("other"), fmt.Errorf("event e-1: %w", err))), name)
				// A program's own message names the program; the shared
				// sentinels of ledger and kit are the same value everywhere.
				shared := errors.Is(err, kit.ErrUnknownMember) || errors.Is(err, kit.ErrMemberFacts)
				require.True(t, shared || strings.HasPrefix(err.Error(), "ledger: ") || strings.HasPrefix(err.Error(), filepath.Base(dir)+": "), name)
			}
		})
	}
}

// declaredSentinels returns the exported Err* package-level variables of
// the Go file at path.
func declaredSentinels(t *testing.T, path string) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	require.NoError(t, err)
	var names []string
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.VAR {
			continue
		}
		for _, s := range g.Specs {
			for _, n := range s.(*ast.ValueSpec).Names {
				if n.IsExported() && strings.HasPrefix(n.Name, "Err") {
					names = append(names, n.Name)
				}
			}
		}
	}
	return names
}

// TestRefusalCodes: real refusals from each program, on both stores, map
// to the code and HTTP status a client expects.
func TestRefusalCodes(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		o := newOneMember(t, open(t), false)
		o.setUpAll()
		ctx := o.ctx
		_, err := o.gift.BuyPack(ctx, gifting.BuyPackRequest{PaymentRef: "pay-m1", Actor: omMember, Pack: "it-app-350"})
		require.NoError(t, err)
		_, err = o.ads.OpenAdvertiser(ctx, adsbuy.OpenAdvertiserRequest{Actor: omMember, Country: "IT"})
		require.NoError(t, err)
		_, err = o.ads.TopUp(ctx, adsbuy.TopUpRequest{EventID: "wire-m1", Actor: omMember, Amount: decimal.NewFromInt(500)})
		require.NoError(t, err)

		tests := []struct {
			name     string
			call     func() error
			sentinel error
			code     ledger.Code
			status   int
		}{
			{"gifting: a gift costing more than the coins", func() error {
				_, err := o.gift.SendGift(ctx, gifting.SendGiftRequest{EventID: "gift-m1", Actor: omMember, Creator: omCreator, Gift: "hand-hearts", Count: 4, Live: "live-cleo-1"})
				return err
			}, gifting.ErrInsufficientCoins, ledger.CodeFailedPrecondition, http.StatusUnprocessableEntity},
			{"gifting: a payment reference reused for another pack", func() error {
				_, err := o.gift.BuyPack(ctx, gifting.BuyPackRequest{PaymentRef: "pay-m1", Actor: omMember, Pack: "it-app-70"})
				return err
			}, gifting.ErrIdempotencyConflict, ledger.CodeConflict, http.StatusConflict},
			{"gifting: an unknown coin pack", func() error {
				_, err := o.gift.BuyPack(ctx, gifting.BuyPackRequest{PaymentRef: "pay-m2", Actor: omMember, Pack: "no-such-pack"})
				return err
			}, gifting.ErrUnknownPack, ledger.CodeNotFound, http.StatusNotFound},
			{"referral: a member pulls a kill switch", func() error {
				return o.ref.SetKillSwitch(ctx, referral.SetKillSwitchRequest{Actor: omMember, Country: "IT", Disabled: true})
			}, ledger.ErrForbidden, ledger.CodePermissionDenied, http.StatusForbidden},
			{"referral: a code for an unknown member", func() error {
				_, err := o.ref.IssueCode(ctx, referral.IssueCodeRequest{EventID: "code-ghost", Member: "ghost"})
				return err
			}, referral.ErrUnknownMember, ledger.CodeNotFound, http.StatusNotFound},
			{"shoutout: the price the fan agreed changed", func() error {
				_, err := o.shout.Request(ctx, shoutout.RequestRequest{OrderID: "so-m1", Fan: omMember, Creator: omCreator, Price: 150, Note: "a video"})
				return err
			}, shoutout.ErrPriceChanged, ledger.CodeFailedPrecondition, http.StatusUnprocessableEntity},
			{"subscription: a creator subscribes to themself", func() error {
				_, err := o.sub.Subscribe(ctx, subscription.SubscribeRequest{EventID: "sub-cleo", Actor: omCreator, Creator: omCreator, TierID: "fan"})
				return err
			}, subscription.ErrSelfSubscription, ledger.CodeFailedPrecondition, http.StatusUnprocessableEntity},
			{"adsbuy: a payment reference reused for another amount", func() error {
				_, err := o.ads.TopUp(ctx, adsbuy.TopUpRequest{EventID: "wire-m1", Actor: omMember, Amount: decimal.NewFromInt(400)})
				return err
			}, adsbuy.ErrIdempotencyConflict, ledger.CodeConflict, http.StatusConflict},
			{"payout: a withdrawal under the minimum", func() error {
				_, err := o.pay.Withdraw(ctx, payout.WithdrawRequest{PayoutID: "cashout-m1", Actor: omMember, Amount: decimal.NewFromInt(1)})
				return err
			}, payout.ErrBelowMinimum, ledger.CodeInvalidArgument, http.StatusBadRequest},
			{"payout: a member approves a payout", func() error {
				_, err := o.pay.Approve(ctx, payout.ApproveRequest{Actor: omMember, PayoutID: "cashout-none"})
				return err
			}, ledger.ErrForbidden, ledger.CodePermissionDenied, http.StatusForbidden},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				before := o.state()
				err := tt.call()
				require.ErrorIs(t, err, tt.sentinel)
				code := ledger.ErrorCode(err)
				require.Equal(t, tt.code, code, "%v", err)
				require.Equal(t, tt.status, code.HTTPStatus())
				require.Equal(t, before, o.state(), "a refusal writes nothing")
			})
		}
	})
}
