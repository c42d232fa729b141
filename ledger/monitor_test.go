package ledger_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
	"github.com/rewardkit/rewardkit/ledger/memstore"
	"github.com/rewardkit/rewardkit/ledger/teststore"
)

// monitorLedger opens a COIN ledger with world, member:a, member:b and
// campaign:c1, and whatever monitors are given.
func monitorLedger(t *testing.T, open teststore.Opener, ms ...ledger.Monitor) *ledger.Ledger {
	t.Helper()
	ctx := context.Background()
	l := ledger.New(open(t), ledger.WithClock(ledgertest.NewClock(eventEpoch)))
	require.NoError(t, l.DefineAsset(ctx, ledger.COIN))
	_, err := l.OpenAccount(ctx, ledger.AccountSpec{Address: ledger.World, Overdraft: ledger.Overdraft{Unbounded: true}})
	require.NoError(t, err)
	for _, a := range []string{"member:a", "member:b", "campaign:c1"} {
		_, err := l.OpenAccount(ctx, ledger.AccountSpec{Address: a})
		require.NoError(t, err)
	}
	for _, m := range ms {
		require.NoError(t, l.AddMonitor(m))
	}
	return l
}

func move(t *testing.T, l *ledger.Ledger, from, to, amount string) ledger.Transaction {
	t.Helper()
	tr, err := l.Post(context.Background(), ledger.TransferRequest{Postings: []ledger.Posting{{From: from, To: to, Asset: "COIN", Amount: dec(amount)}}})
	require.NoError(t, err)
	return tr
}

// monitorEvents returns the balance events after seq, each as
// "type subject tx=N".
func monitorEvents(t *testing.T, l *ledger.Ledger, after uint64) ([]string, []ledger.Event) {
	t.Helper()
	var out []string
	var evs []ledger.Event
	for _, ev := range allEvents(t, l, after) {
		if ev.Type == ledger.EventBalanceBelow || ev.Type == ledger.EventBalanceRecovered {
			out = append(out, fmt.Sprintf("%s %s tx=%d", ev.Type, ev.Subject, ev.TxID))
			evs = append(evs, ev)
		}
	}
	return out, evs
}

func eventData(t *testing.T, ev ledger.Event) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(ev.Data, &m))
	return m
}

// TestMonitorCrossing: a change that takes a watched balance below the
// threshold emits ledger.balance.below once, changes that stay below emit
// nothing, a change back emits ledger.balance.recovered, each with the
// crossing transaction and its data; a refused transfer and a rolled-back
// unit of work emit nothing. On both stores, with the ledger's own events
// off.
func TestMonitorCrossing(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		l := monitorLedger(t, open, ledger.Monitor{Name: "low-coins", Account: "member:a", Asset: "COIN", Field: ledger.MonitorAvailable, Below: dec("10")})
		fund := move(t, l, ledger.World, "member:a", "50") // 0 -> 50: recovered (a balance starts at zero)
		head := eventHead(t, l)
		move(t, l, "member:a", ledger.World, "30")         // 50 -> 20: above
		down := move(t, l, "member:a", ledger.World, "12") // 20 -> 8: below
		move(t, l, "member:a", ledger.World, "3")          // 8 -> 5: stays below

		_, err := l.Post(ctx, ledger.TransferRequest{Postings: []ledger.Posting{{From: "member:a", To: ledger.World, Asset: "COIN", Amount: dec("6")}}})
		require.ErrorIs(t, err, ledger.ErrInsufficientFunds, "refused: nothing written, nothing emitted")
		boom := errors.New("boom")
		err = l.Update(ctx, func(w *ledger.Writer) error {
			if _, err := w.Post(ledger.TransferRequest{Postings: []ledger.Posting{{From: ledger.World, To: "member:a", Asset: "COIN", Amount: dec("100")}}}); err != nil {
				return err
			}
			return boom
		})
		require.ErrorIs(t, err, boom, "rolled back: the recovery it crossed is not emitted")

		up := move(t, l, ledger.World, "member:a", "5") // 5 -> 10: recovered (at the threshold is not below)
		move(t, l, ledger.World, "member:a", "1")       // 10 -> 11: stays above

		got, evs := monitorEvents(t, l, 0)
		require.Equal(t, []string{
			fmt.Sprintf("ledger.balance.recovered member:a tx=%d", fund.ID),
			fmt.Sprintf("ledger.balance.below member:a tx=%d", down.ID),
			fmt.Sprintf("ledger.balance.recovered member:a tx=%d", up.ID),
		}, got)
		require.Greater(t, evs[1].Seq, head)
		require.Equal(t, map[string]any{"monitor": "low-coins", "account": "member:a", "asset": "COIN", "field": "available",
			"threshold": "10", "before": "20", "after": "8"}, eventData(t, evs[1]))
		require.Equal(t, map[string]any{"monitor": "low-coins", "account": "member:a", "asset": "COIN", "field": "available",
			"threshold": "10", "before": "5", "after": "10"}, eventData(t, evs[2]))
		for _, ev := range allEvents(t, l, 0) {
			require.NotContains(t, ev.Type, "ledger.transaction", "the ledger's own events stay off")
		}
	})
}

// TestMonitorHolds: a hold lowers the available amount and crosses an
// Available monitor (TxID 0, the hold in the data) but not a Posted one; a
// void recovers it; a capture that moves the held money out crosses the
// Posted monitor with the capture's transaction. On both stores.
func TestMonitorHolds(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		l := monitorLedger(t, open,
			ledger.Monitor{Name: "avail", Account: "member:a", Asset: "COIN", Field: ledger.MonitorAvailable, Below: dec("10")},
			ledger.Monitor{Name: "posted", Account: "member:a", Asset: "COIN", Field: ledger.MonitorPosted, Below: dec("10")})
		move(t, l, ledger.World, "member:a", "20")
		head := eventHead(t, l)
		h1, err := l.Hold(ctx, ledger.HoldRequest{Account: "member:a", Asset: "COIN", Amount: dec("15"), ExpiresAt: eventEpoch.Add(time.Hour)})
		require.NoError(t, err)
		_, err = l.Void(ctx, h1.ID)
		require.NoError(t, err)
		h2, err := l.Hold(ctx, ledger.HoldRequest{Account: "member:a", Asset: "COIN", Amount: dec("12"), ExpiresAt: eventEpoch.Add(time.Hour)})
		require.NoError(t, err)
		capture, err := l.Capture(ctx, ledger.CaptureRequest{Hold: h2.ID, Final: true, Destinations: []ledger.Leg{{To: ledger.World, Amount: dec("12")}}})
		require.NoError(t, err)

		got, evs := monitorEvents(t, l, head)
		require.Equal(t, []string{
			"ledger.balance.below member:a tx=0",                           // hold 1: available 20 -> 5
			"ledger.balance.recovered member:a tx=0",                       // void: 5 -> 20
			"ledger.balance.below member:a tx=0",                           // hold 2: 20 -> 8
			fmt.Sprintf("ledger.balance.below member:a tx=%d", capture.ID), // capture: posted 20 -> 8; available stays 8
		}, got)
		require.Equal(t, map[string]any{"monitor": "avail", "account": "member:a", "asset": "COIN", "field": "available",
			"threshold": "10", "before": "20", "after": "5", "hold": float64(h1.ID)}, eventData(t, evs[0]))
		require.Equal(t, float64(h1.ID), eventData(t, evs[1])["hold"])
		require.Equal(t, map[string]any{"monitor": "posted", "account": "member:a", "asset": "COIN", "field": "posted",
			"threshold": "10", "before": "20", "after": "8", "hold": float64(h2.ID)}, eventData(t, evs[3]))
	})
}

// TestMonitorPrefixAndFraction: a prefix monitor watches every matching
// account and no other; a BelowFraction monitor's threshold is the
// fraction of its reference amount; a batch item that fails emits
// nothing while its neighbours' crossings commit. On both stores.
func TestMonitorPrefixAndFraction(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		ctx := context.Background()
		l := monitorLedger(t, open,
			ledger.Monitor{Name: "members", Account: "member:*", Asset: "COIN", Field: ledger.MonitorAvailable, Below: dec("10")},
			ledger.Monitor{Name: "budget-10pct", Account: "campaign:c1", Asset: "COIN", Field: ledger.MonitorPosted, BelowFraction: dec("0.1"), Of: dec("5000")})
		move(t, l, ledger.World, "campaign:c1", "5000")
		move(t, l, "campaign:c1", "member:a", "4000")
		head := eventHead(t, l)
		pay := move(t, l, "campaign:c1", "member:b", "600") // campaign 1000 -> 400: below 500; b 0 -> 600: recovered
		spend := move(t, l, "member:a", "member:b", "3995") // a 4000 -> 5: below; b stays above

		errs, err := l.UpdateBatch(ctx, []func(w *ledger.Writer) error{
			func(w *ledger.Writer) error {
				_, err := w.Post(ledger.TransferRequest{Postings: []ledger.Posting{{From: "member:b", To: ledger.World, Asset: "COIN", Amount: dec("4590")}}})
				if err != nil {
					return err
				}
				return errors.New("refused after posting") // b would have crossed to 5: dropped with the item
			},
			func(w *ledger.Writer) error {
				_, err := w.Post(ledger.TransferRequest{Postings: []ledger.Posting{{From: ledger.World, To: "campaign:c1", Asset: "COIN", Amount: dec("100")}}})
				return err // campaign 400 -> 500: recovered
			},
		})
		require.NoError(t, err)
		require.Error(t, errs[0])
		require.NoError(t, errs[1])

		got, evs := monitorEvents(t, l, head)
		require.Equal(t, []string{
			fmt.Sprintf("ledger.balance.below campaign:c1 tx=%d", pay.ID),
			fmt.Sprintf("ledger.balance.recovered member:b tx=%d", pay.ID),
			fmt.Sprintf("ledger.balance.below member:a tx=%d", spend.ID),
			fmt.Sprintf("ledger.balance.recovered campaign:c1 tx=%d", evs[len(evs)-1].TxID),
		}, got)
		require.NotZero(t, evs[3].TxID)
		require.Equal(t, map[string]any{"monitor": "budget-10pct", "account": "campaign:c1", "asset": "COIN", "field": "posted",
			"threshold": "500", "before": "1000", "after": "400"}, eventData(t, evs[0]))
		require.Equal(t, "members", eventData(t, evs[2])["monitor"])
	})
}

// TestMonitorAtomicStep: a crossing by an Atomic step that fails before
// writing is never emitted, and one by a step that succeeds is, in the
// same unit of work as the caller's own event.
func TestMonitorAtomicStep(t *testing.T) {
	ctx := context.Background()
	l := monitorLedger(t, teststore.Memory, ledger.Monitor{Name: "low", Account: "member:a", Asset: "COIN", Field: ledger.MonitorAvailable, Below: dec("10")})
	move(t, l, ledger.World, "member:a", "20")
	head := eventHead(t, l)
	require.NoError(t, l.Update(ctx, func(w *ledger.Writer) error {
		err := w.Atomic(func(w *ledger.Writer) error {
			_, err := w.Post(ledger.TransferRequest{Postings: []ledger.Posting{{From: "member:a", To: ledger.World, Asset: "COIN", Amount: dec("25")}}})
			return err
		})
		require.ErrorIs(t, err, ledger.ErrInsufficientFunds)
		if err := w.Atomic(func(w *ledger.Writer) error {
			_, err := w.Post(ledger.TransferRequest{Postings: []ledger.Posting{{From: "member:a", To: ledger.World, Asset: "COIN", Amount: dec("15")}}})
			return err
		}); err != nil {
			return err
		}
		return w.Emit("test.after.spend", "member:a", nil)
	}))
	evs := allEvents(t, l, head)
	require.Len(t, evs, 2)
	require.Equal(t, ledger.EventBalanceBelow, evs[0].Type)
	require.Equal(t, "test.after.spend", evs[1].Type)
	require.Equal(t, evs[0].TxID, evs[1].TxID)
}

// TestAddMonitorValidation: malformed monitors are ErrInvalidMonitor,
// coded invalid_argument, and are not added.
func TestAddMonitorValidation(t *testing.T) {
	l := ledger.New(memstore.New())
	ok := ledger.Monitor{Name: "ok", Account: "member:*", Asset: "COIN", Field: ledger.MonitorAvailable, Below: dec("10")}
	require.NoError(t, l.AddMonitor(ok))
	with := func(f func(m *ledger.Monitor)) ledger.Monitor {
		m := ok
		m.Name = "other"
		f(&m)
		return m
	}
	cases := map[string]ledger.Monitor{
		"name taken":          ok,
		"no name":             with(func(m *ledger.Monitor) { m.Name = "" }),
		"name with a space":   with(func(m *ledger.Monitor) { m.Name = "low coins" }),
		"no account":          with(func(m *ledger.Monitor) { m.Account = "" }),
		"bad address":         with(func(m *ledger.Monitor) { m.Account = "member::a" }),
		"star inside":         with(func(m *ledger.Monitor) { m.Account = "member:*:x*" }),
		"bad asset":           with(func(m *ledger.Monitor) { m.Asset = "coin!" }),
		"no field":            with(func(m *ledger.Monitor) { m.Field = 0 }),
		"unknown field":       with(func(m *ledger.Monitor) { m.Field = 9 }),
		"both thresholds":     with(func(m *ledger.Monitor) { m.BelowFraction, m.Of = dec("0.1"), dec("100") }),
		"fraction above one":  with(func(m *ledger.Monitor) { m.Below, m.BelowFraction, m.Of = dec("0"), dec("1.5"), dec("100") }),
		"negative fraction":   with(func(m *ledger.Monitor) { m.Below, m.BelowFraction, m.Of = dec("0"), dec("-0.1"), dec("100") }),
		"fraction of nothing": with(func(m *ledger.Monitor) { m.Below, m.BelowFraction = dec("0"), dec("0.1") }),
		"reference alone":     with(func(m *ledger.Monitor) { m.Of = dec("100") }),
	}
	for name, m := range cases {
		err := l.AddMonitor(m)
		require.ErrorIs(t, err, ledger.ErrInvalidMonitor, name)
		require.Equal(t, ledger.CodeInvalidArgument, ledger.ErrorCode(err), name)
	}
	require.NoError(t, l.AddMonitor(with(func(m *ledger.Monitor) { m.Account = "*" })), "every account")
	require.NoError(t, l.AddMonitor(with(func(m *ledger.Monitor) { m.Name, m.Account, m.Below = "overdrawn", "world", dec("-0.5") })), "a negative threshold")
}

// A monitor on every member's spendable COIN: spending from 50 to 8
// crosses below 10 once, spending on to 3 stays below and emits nothing,
// and a top-up back over 10 recovers.
func ExampleLedger_AddMonitor() {
	ctx := context.Background()
	l, _ := exampleLedger(ctx, []ledger.Asset{ledger.COIN}, []string{"member:42"}, map[string]string{"COIN": "50"})
	err := l.AddMonitor(ledger.Monitor{Name: "low-coins", Account: "member:*", Asset: "COIN",
		Field: ledger.MonitorAvailable, Below: decimal.NewFromInt(10)})
	if err != nil {
		panic(err)
	}
	for _, p := range []ledger.Posting{
		{From: "member:42", To: ledger.World, Asset: "COIN", Amount: decimal.NewFromInt(42)},
		{From: "member:42", To: ledger.World, Asset: "COIN", Amount: decimal.NewFromInt(5)},
		{From: ledger.World, To: "member:42", Asset: "COIN", Amount: decimal.NewFromInt(20)},
	} {
		if _, err := l.Post(ctx, ledger.TransferRequest{Postings: []ledger.Posting{p}}); err != nil {
			panic(err)
		}
	}
	evs, err := l.Events(ctx, 0, 0)
	if err != nil {
		panic(err)
	}
	for _, ev := range evs {
		fmt.Println(ev.Type, ev.Subject, string(ev.Data))
	}
	// Output:
	// ledger.balance.below member:42 {"monitor":"low-coins","account":"member:42","asset":"COIN","field":"available","threshold":"10","before":"50","after":"8"}
	// ledger.balance.recovered member:42 {"monitor":"low-coins","account":"member:42","asset":"COIN","field":"available","threshold":"10","before":"3","after":"23"}
}

// TestMonitorThresholdPrecision: a threshold with more decimals than the
// asset is compared exactly (10 COIN is below 10.5, 11 is not) and written
// as given; thresholds beyond the int64 range of minor units compare
// exactly too (nothing is ever above 10^30, nothing below -10^30).
func TestMonitorThresholdPrecision(t *testing.T) {
	l := monitorLedger(t, teststore.Memory,
		ledger.Monitor{Name: "half", Account: "member:a", Asset: "COIN", Field: ledger.MonitorPosted, Below: dec("10.5")},
		ledger.Monitor{Name: "huge", Account: "member:*", Asset: "COIN", Field: ledger.MonitorAvailable, Below: dec("1e30")},
		ledger.Monitor{Name: "tiny", Account: "*", Asset: "COIN", Field: ledger.MonitorAvailable, Below: dec("-1e30")})
	move(t, l, ledger.World, "member:a", "10")
	up := move(t, l, ledger.World, "member:a", "1")
	down := move(t, l, "member:a", "member:b", "1")
	got, evs := monitorEvents(t, l, 0)
	require.Equal(t, []string{
		fmt.Sprintf("ledger.balance.recovered member:a tx=%d", up.ID),
		fmt.Sprintf("ledger.balance.below member:a tx=%d", down.ID),
	}, got)
	require.Equal(t, map[string]any{"monitor": "half", "account": "member:a", "asset": "COIN", "field": "posted",
		"threshold": "10.5", "before": "11", "after": "10"}, eventData(t, evs[1]))
}

// BenchmarkTransferMonitored: BenchmarkTransfer with a monitor that
// matches every member's COIN (and never crosses), to measure what
// checking one costs a transfer.
func BenchmarkTransferMonitored(b *testing.B) {
	l, addrs := benchLedger(b)
	if err := l.AddMonitor(ledger.Monitor{Name: "low", Account: "m:*", Asset: "COIN", Field: ledger.MonitorAvailable, Below: dec("10")}); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	one := decimal.NewFromInt(1)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		from, to := addrs[i%benchAccounts], addrs[(i*7+1)%benchAccounts]
		if from == to {
			to = addrs[(i+1)%benchAccounts]
		}
		if _, err := l.Transfer(ctx, "t"+strconv.Itoa(i), from, to, "COIN", one); err != nil {
			b.Fatal(err)
		}
	}
}

// TestAddMonitorMessage: an invalid monitor's message names the monitor
// and carries the package prefix once.
func TestAddMonitorMessage(t *testing.T) {
	err := ledger.New(memstore.New()).AddMonitor(ledger.Monitor{Name: "low", Account: "member::a", Asset: "COIN", Field: ledger.MonitorPosted})
	require.ErrorIs(t, err, ledger.ErrInvalidMonitor)
	require.Equal(t, "ledger: invalid balance monitor: monitor low: invalid account address: \"member::a\" has an empty segment", err.Error())
}
