package kit

import (
	"context"
	"fmt"

	"github.com/rewardkit/rewardkit/ledger"
)

// SetUpLedger prepares a ledger for a program, idempotently, in one unit
// of work: it defines the program's asset, opens ledger.World (Unbounded,
// where money enters from) and opens each of accounts (the program's own,
// such as its revenue account) with no overdraft. Every program's New
// calls it; running it again, or for another program sharing the ledger,
// changes nothing already there (an asset or account defined differently
// is the ledger's conflict error).
func SetUpLedger(ctx context.Context, l *ledger.Ledger, asset ledger.Asset, accounts ...string) error {
	err := l.Update(ctx, func(w *ledger.Writer) error {
		if err := w.DefineAsset(asset); err != nil {
			return err
		}
		if _, err := w.OpenAccount(ledger.AccountSpec{Address: ledger.World, Overdraft: ledger.Overdraft{Unbounded: true}}); err != nil {
			return err
		}
		for _, a := range accounts {
			if _, err := w.OpenAccount(ledger.AccountSpec{Address: a}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("setting up the ledger: %w", err)
	}
	return nil
}
