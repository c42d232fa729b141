package gifting_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/rewardkit/rewardkit/gifting"
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/teststore"
	"github.com/stretchr/testify/require"
)

// events returns gifting's committed events after seq (the ledger's own
// are left out) and the log's last seq.
func (e *env) events(tb testingT, after uint64) ([]ledger.Event, uint64) {
	tb.Helper()
	all, err := e.l.Events(e.ctx, after, 10000)
	require.NoError(tb, err)
	var out []ledger.Event
	for _, ev := range all {
		after = ev.Seq
		if strings.HasPrefix(ev.Type, "gifting.") {
			out = append(out, ev)
		}
	}
	return out, after
}

func TestEvents(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		e := newEnv(t, open, gifting.DefaultRules())
		pu := e.buy(t, "pay-1", "ann", "it-app-70")
		gift, err := e.p.SendGift(e.ctx, gifting.SendGiftRequest{EventID: "g-1", Actor: "ann", Creator: "cat", Gift: "doughnut", Count: 1, Live: "live-1"})
		require.NoError(t, err)
		cb, err := e.p.Chargeback(e.ctx, gifting.ChargebackRequest{Actor: officer, PaymentRef: "pay-1"})
		require.NoError(t, err)

		evs, seq := e.events(t, 0)
		require.Len(t, evs, 5)
		want := []struct {
			typ, subject string
			tx           uint64
		}{
			{gifting.EventPackBought, "ann", pu.Transaction},
			{gifting.EventGiftSent, "cat", gift.Transactions[len(gift.Transactions)-1]},
			// The clawback is never silent: kit.Claw reports it, and the 30
			// coins ann had spent are written off (the default rule).
			{"gifting.clawback.recorded", "ann", cb.ChargebackTx},
			{"gifting.loss.written_off", "ann", cb.ChargebackTx},
			{gifting.EventChargebackRecorded, "ann", cb.ChargebackTx},
		}
		for i, w := range want {
			require.Equal(t, w.typ, evs[i].Type)
			require.Equal(t, w.subject, evs[i].Subject)
			require.NotZero(t, evs[i].TxID)
			require.Equal(t, w.tx, evs[i].TxID, w.typ)
		}
		var bought gifting.PackBought
		require.NoError(t, json.Unmarshal(evs[0].Data, &bought))
		require.Equal(t, "pay-1", bought.PaymentRef)
		require.Equal(t, "70", bought.Coins.String())
		require.Equal(t, "1.09", bought.Price.String())
		require.Contains(t, string(evs[0].Data), `"price":"1.09"`, "amounts are decimal strings")
		var sent gifting.GiftSent
		require.NoError(t, json.Unmarshal(evs[1].Data, &sent))
		require.Equal(t, gifting.GiftSent{EventID: "g-1", Viewer: "ann", Creator: "cat", Gift: "doughnut", Count: 1, Live: "live-1",
			Coins: sent.Coins, Diamonds: sent.Diamonds}, sent)
		require.Equal(t, "30", sent.Coins.String())
		require.Equal(t, "15", sent.Diamonds.String())
		var charged gifting.ChargebackRecorded
		require.NoError(t, json.Unmarshal(evs[4].Data, &charged))
		require.Equal(t, officer, charged.Actor)
		require.Equal(t, "40", charged.ClawedBack.String())
		require.Equal(t, "30", charged.Unrecovered.String())
		require.Equal(t, "30", charged.WrittenOff.String())
		require.Equal(t, "0", charged.Debt.String())
		var lost kit.LossWrittenOff
		require.NoError(t, json.Unmarshal(evs[3].Data, &lost))
		require.Equal(t, kit.LossWrittenOff{Key: "gifting:chargeback:pay-1", Member: "ann", Asset: "COIN", Amount: lost.Amount,
			LossAccount: gifting.ChargebackLossAccount, Reason: "chargeback"}, lost)
		require.Equal(t, "30", lost.Amount.String())

		// Replays emit nothing new.
		_, err = e.p.BuyPack(e.ctx, gifting.BuyPackRequest{PaymentRef: "pay-1", Actor: "ann", Pack: "it-app-70"})
		require.NoError(t, err)
		_, err = e.p.SendGift(e.ctx, gifting.SendGiftRequest{EventID: "g-1", Actor: "ann", Creator: "cat", Gift: "doughnut", Count: 1, Live: "live-1"})
		require.NoError(t, err)
		_, err = e.p.Chargeback(e.ctx, gifting.ChargebackRequest{Actor: officer, PaymentRef: "pay-1"})
		require.NoError(t, err)
		// Refusals emit nothing either.
		_, err = e.p.BuyPack(e.ctx, gifting.BuyPackRequest{PaymentRef: "pay-2", Actor: "joe", Pack: "it-app-70"})
		require.ErrorIs(t, err, gifting.ErrIneligible)
		_, err = e.p.SendGift(e.ctx, gifting.SendGiftRequest{EventID: "g-2", Actor: "ann", Creator: "cat", Gift: "rose", Count: 1})
		require.ErrorIs(t, err, gifting.ErrInsufficientCoins)
		_, err = e.p.Chargeback(e.ctx, gifting.ChargebackRequest{Actor: "ann", PaymentRef: "pay-1"})
		require.ErrorIs(t, err, ledger.ErrForbidden)
		all, err := e.l.Events(e.ctx, seq, 100)
		require.NoError(t, err)
		require.Empty(t, all, "replays and refusals emit nothing, not even the ledger's own events")

		// A gift refused inside a caller's unit of work that went on
		// leaves the purchase's event alone.
		err = e.l.Update(e.ctx, func(w *ledger.Writer) error {
			if _, err := e.p.BuyPackIn(w, gifting.BuyPackRequest{PaymentRef: "pay-3", Actor: "bob", Pack: "it-app-70"}); err != nil {
				return err
			}
			_, err := e.p.SendGiftIn(w, gifting.SendGiftRequest{EventID: "g-3", Actor: "bob", Creator: "pol", Gift: "rose", Count: 1})
			require.ErrorIs(t, err, gifting.ErrIneligible)
			return nil
		})
		require.NoError(t, err)
		evs, _ = e.events(t, seq)
		require.Len(t, evs, 1)
		require.Equal(t, gifting.EventPackBought, evs[0].Type)
		require.Equal(t, "bob", evs[0].Subject)
	})
}
