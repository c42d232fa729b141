package adsbuy

import (
	"testing"
	"time"

	"github.com/rewardkit/rewardkit/ledger/kit/kittest"
	"github.com/rewardkit/rewardkit/ledger/teststore"
	"github.com/stretchr/testify/require"
)

// wantEvent is an event a test expects: its type and subject, the key of
// the journal transaction it goes with ("" for none: TxID 0), and fields
// its data must hold (kittest.WantEvent, written short).
type wantEvent struct {
	typ, subject, txKey string
	data                map[string]any
}

// expect checks that the program's events committed after *seq are
// exactly want, in order, and moves *seq to the end of the log.
func (f *fixture) expect(tb testT, seq *uint64, want ...wantEvent) {
	tb.Helper()
	ws := make([]kittest.WantEvent, len(want))
	for i, w := range want {
		ws[i] = kittest.WantEvent{Type: w.typ, Subject: w.subject, TxKey: w.txKey, Data: w.data}
	}
	kittest.RequireEvents(tb, f.ctx, f.l, "adsbuy.", seq, ws...)
}

// TestEventsOfAFlow takes campaigns through every state and checks the
// events each change emits, in order, with their subjects, transactions
// and data; replays and refusals emit nothing.
func TestEventsOfAFlow(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		f := newFixture(t, open(t), DefaultRules())
		var seq uint64

		f.advertiser(t, "acme", "GB", "500")
		f.expect(t, &seq, wantEvent{EventAdvertiserOpened, "acme", "", map[string]any{"advertiser": "acme", "country": "GB"}},
			wantEvent{EventToppedUp, "acme", "adsbuy:topup:pay-acme-500", map[string]any{
				"advertiser": "acme", "reference": "pay-acme-500", "amount": "500.00", "asset": "USD"}})
		f.advertiser(t, "acme", "GB", "500") // both replayed
		_, err := f.p.OpenAdvertiser(f.ctx, OpenAdvertiserRequest{Actor: "acme", Country: "FR"})
		require.ErrorIs(t, err, ErrIdempotencyConflict)
		_, err = f.p.OpenAdvertiser(f.ctx, OpenAdvertiserRequest{Actor: "hans", Country: "DE"})
		require.ErrorIs(t, err, ErrCountry)
		_, err = f.p.TopUp(f.ctx, TopUpRequest{EventID: "pay-small", Actor: "acme", Amount: dec("10")})
		require.ErrorIs(t, err, ErrTopUpBounds)
		f.expect(t, &seq)

		// c1: bought, approved, charged, paused, resumed, cancelled.
		buy := BuyCampaignRequest{CampaignID: "c1", Actor: "acme", Spec: f.spec(2, "50")}
		c1, err := f.p.BuyCampaign(f.ctx, buy)
		require.NoError(t, err)
		_, err = f.p.BuyCampaign(f.ctx, buy)
		require.NoError(t, err)
		_, err = f.p.BuyCampaign(f.ctx, BuyCampaignRequest{CampaignID: "big", Actor: "acme", Spec: f.spec(10, "50")})
		require.ErrorIs(t, err, ErrInsufficientFunds)
		f.expect(t, &seq, wantEvent{EventCampaignBought, "c1", "", map[string]any{"campaign": "c1", "advertiser": "acme",
			"asset": "USD", "budget": "100.00", "hold": float64(c1.Hold), "start": t0.Format(time.RFC3339),
			"end": t0.Add(2 * day).Format(time.RFC3339)}})

		_, err = f.p.Approve(f.ctx, ApproveRequest{EventID: "rev-x", Actor: "acme", CampaignID: "c1"})
		require.ErrorIs(t, err, ErrForbidden)
		_, err = f.p.ReportDelivery(f.ctx, ReportDeliveryRequest{EventID: "rep-early", CampaignID: "c1", AdGroupID: "video", Impressions: 1000})
		require.ErrorIs(t, err, ErrWrongState)
		_, err = f.p.Approve(f.ctx, ApproveRequest{EventID: "rev-1", Actor: "rita", CampaignID: "c1"})
		require.NoError(t, err)
		report := ReportDeliveryRequest{EventID: "rep-1", CampaignID: "c1", AdGroupID: "video", Impressions: 4000, Clicks: 12}
		_, err = f.p.ReportDelivery(f.ctx, report)
		require.NoError(t, err)
		_, err = f.p.ReportDelivery(f.ctx, report)
		require.NoError(t, err)
		// Under a cent: recorded and carried, not charged, no event.
		_, err = f.p.ReportDelivery(f.ctx, ReportDeliveryRequest{EventID: "rep-2", CampaignID: "c1", AdGroupID: "video", Impressions: 3})
		require.NoError(t, err)
		f.expect(t, &seq, wantEvent{EventCampaignApproved, "c1", "", map[string]any{"actor": "rita"}},
			wantEvent{EventCampaignSpent, "c1", "adsbuy:spend:rep-1", map[string]any{"campaign": "c1", "advertiser": "acme",
				"report": "rep-1", "ad_group": "video", "impressions": 4000.0, "clicks": 12.0, "charged": "10.00", "spent": "10.00"}})

		_, err = f.p.Pause(f.ctx, PauseRequest{EventID: "pause-1", Actor: "acme", CampaignID: "c1"})
		require.NoError(t, err)
		_, err = f.p.Pause(f.ctx, PauseRequest{EventID: "pause-2", Actor: "acme", CampaignID: "c1"})
		require.ErrorIs(t, err, ErrWrongState)
		_, err = f.p.Resume(f.ctx, ResumeRequest{EventID: "resume-1", Actor: "rita", CampaignID: "c1"})
		require.NoError(t, err)
		_, err = f.p.Cancel(f.ctx, CancelRequest{EventID: "cancel-1", Actor: "acme", CampaignID: "c1"})
		require.NoError(t, err)
		f.expect(t, &seq, wantEvent{EventCampaignPaused, "c1", "", map[string]any{"actor": "acme"}},
			wantEvent{EventCampaignResumed, "c1", "", map[string]any{"actor": "rita"}},
			wantEvent{EventCampaignCancelled, "c1", "", map[string]any{"actor": "acme", "reason": "canceled by the advertiser",
				"spent": "10.00", "released": "90.00"}})

		// c2: rejected, its whole budget released.
		_, err = f.p.BuyCampaign(f.ctx, BuyCampaignRequest{CampaignID: "c2", Actor: "acme", Spec: f.spec(2, "50")})
		require.NoError(t, err)
		_, err = f.p.Reject(f.ctx, RejectRequest{EventID: "rev-2", Actor: "rita", CampaignID: "c2", Reason: "misleading"})
		require.NoError(t, err)
		f.expect(t, &seq, wantEvent{EventCampaignBought, "c2", "", nil},
			wantEvent{EventCampaignRejected, "c2", "", map[string]any{"actor": "rita", "reason": "rejected: misleading",
				"spent": "0.00", "released": "100.00"}})

		// c3: its budget spent by a report, which ends it.
		_, err = f.p.BuyCampaign(f.ctx, BuyCampaignRequest{CampaignID: "c3", Actor: "acme", Spec: f.spec(1, "50")})
		require.NoError(t, err)
		_, err = f.p.Approve(f.ctx, ApproveRequest{EventID: "rev-3", Actor: "rita", CampaignID: "c3"})
		require.NoError(t, err)
		_, err = f.p.ReportDelivery(f.ctx, ReportDeliveryRequest{EventID: "rep-3a", CampaignID: "c3", AdGroupID: "video", Impressions: 100000})
		require.NoError(t, err)
		_, err = f.p.ReportDelivery(f.ctx, ReportDeliveryRequest{EventID: "rep-3b", CampaignID: "c3", AdGroupID: "search", Clicks: 100})
		require.NoError(t, err)
		f.expect(t, &seq, wantEvent{EventCampaignBought, "c3", "", nil}, wantEvent{EventCampaignApproved, "c3", "", nil},
			wantEvent{EventCampaignSpent, "c3", "adsbuy:spend:rep-3a", map[string]any{"charged": "40.00", "truncated": true}},
			wantEvent{EventCampaignSpent, "c3", "adsbuy:spend:rep-3b", map[string]any{"charged": "10.00", "spent": "50.00"}},
			wantEvent{EventCampaignEnded, "c3", "adsbuy:spend:rep-3b", map[string]any{"reason": "budget spent", "released": "0.00"}})

		// c4: ended by Tick at the end of its schedule; a second Tick emits
		// nothing.
		_, err = f.p.BuyCampaign(f.ctx, BuyCampaignRequest{CampaignID: "c4", Actor: "acme", Spec: f.spec(1, "50")})
		require.NoError(t, err)
		f.clock.Advance(day)
		rep, err := f.p.Tick(f.ctx)
		require.NoError(t, err)
		require.Equal(t, []string{"c4"}, rep.IDs(TickEnded))
		_, err = f.p.Tick(f.ctx)
		require.NoError(t, err)
		f.expect(t, &seq, wantEvent{EventCampaignBought, "c4", "", nil},
			wantEvent{EventCampaignEnded, "c4", "", map[string]any{"reason": "schedule ended before review", "released": "50.00"}})
	})
}
