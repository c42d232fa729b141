package kit_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/memstore"
	"github.com/rewardkit/rewardkit/ledger/teststore"
)

// errInvalid stands for a program's sentinel in the tests of the helpers
// that wrap one.
var errInvalid = ledger.NewError(ledger.CodeInvalidArgument, "prog: invalid")

func TestSetUpLedgerIsIdempotent(t *testing.T) {
	ctx := context.Background()
	l := ledger.New(memstore.New())
	for i := 0; i < 2; i++ {
		require.NoError(t, kit.SetUpLedger(ctx, l, ledger.USD, "platform:a:revenue", "platform:a:fees"))
	}
	account := func(addr string) error {
		return l.View(ctx, func(r *ledger.Reader) error { _, err := r.Account(addr); return err })
	}
	for _, addr := range []string{ledger.World, "platform:a:revenue", "platform:a:fees"} {
		require.NoError(t, account(addr), addr)
	}
	// World is where money enters from: it may go below zero.
	_, err := l.Transfer(ctx, "", ledger.World, "platform:a:fees", "USD", decimal.NewFromInt(5))
	require.NoError(t, err)
	// Another program's asset of the same code but another precision is
	// the ledger's conflict, and nothing of that setup is kept.
	err = kit.SetUpLedger(ctx, l, ledger.Asset{Code: "USD", Precision: 3}, "platform:b:revenue")
	require.ErrorIs(t, err, ledger.ErrAssetConflict)
	require.ErrorIs(t, account("platform:b:revenue"), ledger.ErrUnknownAccount)
}

func TestCheckEventID(t *testing.T) {
	require.NoError(t, kit.CheckEventID(errInvalid, "e"))
	require.NoError(t, kit.CheckEventID(errInvalid, strings.Repeat("é", 64)), "any bytes, 128 of them")
	for _, bad := range []string{"", strings.Repeat("x", 129)} {
		err := kit.CheckEventID(errInvalid, bad)
		require.ErrorIs(t, err, errInvalid)
		require.Equal(t, 1, strings.Count(err.Error(), "prog: "), "the prefix once")
	}
}

func TestCheckCountryCodes(t *testing.T) {
	require.NoError(t, kit.CheckCountryCodes([]string{"GB", "IT"}))
	for _, bad := range [][]string{nil, {"UK", "uk"}, {"GBR"}, {"IT", "IT"}, {""}} {
		require.Error(t, kit.CheckCountryCodes(bad), bad)
	}
}

func TestCheckRuleAmount(t *testing.T) {
	require.NoError(t, kit.CheckRuleAmount(ledger.USD, decimal.RequireFromString("0.99")))
	require.Error(t, kit.CheckRuleAmount(ledger.USD, decimal.Zero))
	require.Error(t, kit.CheckRuleAmount(ledger.USD, decimal.NewFromInt(-1)))
	require.ErrorIs(t, kit.CheckRuleAmount(ledger.USD, decimal.RequireFromString("0.001")), ledger.ErrPrecision)
	require.ErrorIs(t, kit.CheckRuleAmount(ledger.USD, decimal.New(1, 1<<30)), ledger.ErrInvalidAmount)
}

func TestRuleErrorfNamesTheRuleAndKeepsTheCause(t *testing.T) {
	err := kit.RuleErrorf(errInvalid, "max_tiers", "%d, want 1 to %d", 0, 16)
	require.ErrorIs(t, err, errInvalid)
	require.EqualError(t, err, "prog: invalid: max_tiers: 0, want 1 to 16")
	err = kit.RuleErrorf(errInvalid, "asset", "%w", ledger.ErrInvalidAsset)
	require.ErrorIs(t, err, errInvalid)
	require.ErrorIs(t, err, ledger.ErrInvalidAsset)
}

func TestUnmarshalRulesWrapsTheProgramsSentinel(t *testing.T) {
	type rules struct {
		Limit int `json:"limit"`
	}
	r := rules{Limit: 3}
	require.NoError(t, kit.UnmarshalRules(errInvalid, []byte(`{}`), &r))
	require.Equal(t, 3, r.Limit, "fields left out keep their value")
	err := kit.UnmarshalRules(errInvalid, []byte(`{"limt":4}`), &r)
	require.ErrorIs(t, err, errInvalid)
	require.ErrorContains(t, err, `"limt"`)
}

func TestTickDueReportsWhatEachItemDid(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		l, clock := newLedger(t, open)
		ctx := context.Background()
		const n = 100 // more than one batch
		err := l.Update(ctx, func(w *ledger.Writer) error {
			for i := 0; i < n; i++ {
				if err := w.Schedule("test.due", idOf(i), t0.Add(time.Duration(i)*time.Second)); err != nil {
					return err
				}
			}
			return nil
		})
		require.NoError(t, err)
		clock.Set(t0.Add(time.Hour))
		stuck := errors.New("stuck")
		rep, err := kit.TickDue(ctx, l, "test.due", func(w *ledger.Writer, e ledger.DueEntry) ([]string, error) {
			if err := w.Unschedule("test.due", e.ID); err != nil {
				return nil, err
			}
			switch e.ID {
			case idOf(3):
				return []string{"test.started", "test.ended"}, nil
			case idOf(4):
				return nil, nil // nothing to report
			case idOf(5):
				return []string{"test.done"}, stuck
			}
			return []string{"test.done"}, nil
		})
		require.NoError(t, err)
		require.Equal(t, n-3, rep.Count("test.done"), "every item but the quiet, the failed and the two-step one")
		require.Equal(t, []string{idOf(3)}, rep.IDs("test.started"))
		require.Equal(t, []string{idOf(3)}, rep.IDs("test.ended"))
		require.Equal(t, idOf(0), rep.Done[0].ID, "in the order handled")
		require.NotContains(t, rep.IDs("test.done"), idOf(5), "a failed item did nothing")
		require.Len(t, rep.Failed, 1)
		require.Equal(t, idOf(5), rep.Failed[0].ID)
		require.ErrorIs(t, rep.Err(), stuck)

		// The failed item stays due; the next Tick reports only it.
		rep, err = kit.TickDue(ctx, l, "test.due", func(w *ledger.Writer, e ledger.DueEntry) ([]string, error) {
			return []string{"test.retried"}, w.Unschedule("test.due", e.ID)
		})
		require.NoError(t, err)
		require.Equal(t, kit.TickReport{Done: []kit.Item{{Kind: "test.retried", ID: idOf(5)}}}, rep)
	})
}
