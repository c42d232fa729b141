package adsbuy

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/kit/kittest"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
	"github.com/rewardkit/rewardkit/ledger/memstore"
)

// sentinels are every error the public API may return: this package's and
// the ledger's (issue 10 #2: every refusal is typed).
var sentinels = []error{
	ErrInvalidRules, ErrInvalidRequest, ErrCountry, ErrUnknownAdvertiser, ErrTopUpBounds, ErrBudgetTooLow,
	ErrInvalidCampaign, ErrInsufficientFunds, ErrForbidden, ErrWrongState, ErrUnknownCampaign, ErrUnknownAdGroup,
	ErrIdempotencyConflict,
	ledger.ErrInvalidAmount, ledger.ErrPrecision, ledger.ErrUnknownAsset, ledger.ErrInvalidAsset, ledger.ErrAssetConflict,
	ledger.ErrUnknownAccount, ledger.ErrInvalidAddress, ledger.ErrAccountConflict, ledger.ErrInsufficientFunds,
	ledger.ErrInvalidTransaction, ledger.ErrNotFound, ledger.ErrDuplicate, ledger.ErrHoldClosed, ledger.ErrHoldExpired,
	ledger.ErrCaptureExceedsHold, ledger.ErrOverflow, ledger.ErrInvalidTime,
}

// fuzzDecimal reads a decimal from fuzz input, exponents included
// ("1e2147483647"), falling back to fallback for what is no number.
func fuzzDecimal(s string, fallback decimal.Decimal) decimal.Decimal {
	if d, err := decimal.NewFromString(s); err == nil {
		return d
	}
	return fallback
}

// FuzzAdsbuyPublicAPI drives the program's public API with extreme values
// (rules from JSON, huge, negative, zero and many-decimal amounts and
// bids, exponents near the int32 limits, times at and beyond the ledger's
// range, empty and very long ids, unknown actors) and asserts that no call
// panics, that every error is one of the sentinels, and that the ledger
// still verifies with every asset summing to zero after each call
// (issue 10 #2).
func FuzzAdsbuyPublicAPI(f *testing.F) {
	f.Add([]byte(`{}`), "acme", "GB", "500", "60", "2.50", int64(3000), int64(12), uint8(7), int64(0), int64(3), "rita", uint8(7), int64(int64(day)))
	f.Add([]byte(`{"hold_margn":"1h"}`), "acme", "FR", "1e2147483647", "1e-2147483647", "25e-2147483600", int64(1e12), int64(-1), uint8(4), int64(0), int64(1), "", uint8(2), int64(0))
	f.Add([]byte(`{"max_campaign_days":18250,"hold_margin":"438000h"}`), strings.Repeat("a", 200), "US", "0.001", "-5", "0", int64(-5), int64(1e12+1), uint8(1), int64(-1), int64(18250), "acme", uint8(0), int64(-1))
	f.Add([]byte(`{"max_top_up":"92233720368547758.07","min_campaign_daily_budget":"50"}`), "b", "IT", "92233720368547758.07", "46116860184273879.04", "9223372036854775807", int64(1e12), int64(1e12), uint8(7), int64(1), int64(2), "mallory", uint8(7), int64(1<<62))
	f.Add([]byte(`[]`), "acme", "DE", "50.00000000000000000000000001", "60.5", "0.001", int64(1), int64(1), uint8(3), int64(0), int64(0), "rita", uint8(5), int64(-1<<62))
	f.Fuzz(func(t *testing.T, rulesJSON []byte, adv, country, topUp, daily, bid string,
		impressions, clicks int64, startSel uint8, startOffset, days int64, actor string, tickSel uint8, tickOffset int64) {
		ctx := context.Background()
		clock := ledgertest.NewClock(t0)
		l := ledger.New(memstore.New(), ledger.WithClock(clock))
		check := func(what string, err error) {
			t.Helper()
			kittest.RequireTyped(t, what, err, sentinels...)
			kittest.RequireBalanced(t, ctx, l)
		}

		rules := DefaultRules()
		if err := rules.UnmarshalJSON(rulesJSON); err != nil {
			if !errors.Is(err, ErrInvalidRules) {
				t.Fatalf("rules: %v", err)
			}
			rules = DefaultRules()
		} else if err := rules.Validate(); err != nil {
			check("validate", err)
			rules = DefaultRules()
		}
		roles := &kit.RoleDirectory{}
		roles.Grant("rita", kit.RoleSalesRep)
		p, err := New(ctx, l, rules, WithRoles(roles))
		if err != nil {
			t.Fatalf("New with valid rules: %v", err)
		}

		_, err = p.OpenAdvertiser(ctx, OpenAdvertiserRequest{Actor: adv, Country: country})
		check("open", err)
		_, err = p.TopUp(ctx, TopUpRequest{EventID: "pay-1", Actor: adv, Amount: fuzzDecimal(topUp, decimal.NewFromInt(500))})
		check("top-up", err)
		_, err = p.TopUp(ctx, TopUpRequest{EventID: "pay-2", Actor: adv, Amount: rules.MaxTopUp})
		check("top-up max", err)

		start := kittest.EdgeTime(startSel, clock.Now(), startOffset)
		end := start.Add(time.Duration(days) * day)
		spec := CampaignSpec{Name: actor, Start: start, End: end, DailyBudget: fuzzDecimal(daily, decimal.NewFromInt(60)),
			AdGroups: []AdGroupSpec{
				{ID: "video", DailyBudget: fuzzDecimal(daily, decimal.NewFromInt(40)), BidType: CPM, Bid: fuzzDecimal(bid, decimal.RequireFromString("2.50"))},
				{ID: "search", DailyBudget: decimal.NewFromInt(20), BidType: CPC, Bid: fuzzDecimal(bid, decimal.RequireFromString("0.35"))},
			}}
		_, err = p.BuyCampaign(ctx, BuyCampaignRequest{CampaignID: "c1", Actor: adv, Spec: spec})
		check("buy", err)
		_, err = p.Approve(ctx, ApproveRequest{EventID: "rev-0", Actor: actor, CampaignID: "c1"})
		check("approve by actor", err)
		_, err = p.Approve(ctx, ApproveRequest{EventID: "rev-1", Actor: "rita", CampaignID: "c1"})
		check("approve", err)
		clock.Set(kittest.EdgeTime(startSel, start, 1))
		for i, g := range []string{"video", "search", actor} {
			_, err = p.ReportDelivery(ctx, ReportDeliveryRequest{EventID: "rep-" + string(rune('a'+i)), CampaignID: "c1", AdGroupID: g, Impressions: impressions, Clicks: clicks})
			check("report", err)
		}
		_, err = p.ReportDelivery(ctx, ReportDeliveryRequest{EventID: "rep-a", CampaignID: "c1", AdGroupID: "video", Impressions: impressions, Clicks: clicks})
		check("report replay", err)
		_, err = p.Pause(ctx, PauseRequest{EventID: "pause-1", Actor: actor, CampaignID: "c1"})
		check("pause", err)
		_, err = p.Resume(ctx, ResumeRequest{EventID: "resume-1", Actor: adv, CampaignID: "c1"})
		check("resume", err)
		_, err = p.Statement(ctx, "c1")
		check("statement", err)
		_, err = p.Balance(ctx, adv)
		check("balance", err)

		clock.Set(kittest.EdgeTime(tickSel, clock.Now(), tickOffset))
		_, err = p.Tick(ctx)
		check("tick", err)
		_, err = p.Cancel(ctx, CancelRequest{EventID: "cancel-1", Actor: actor, CampaignID: "c1"})
		check("cancel", err)
		clock.Set(ledger.MaxTime.Add(-time.Nanosecond))
		_, err = p.Tick(ctx)
		check("last tick", err)
	})
}
