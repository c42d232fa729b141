// Package ledgertest holds helpers for testing code built on the ledger: a
// manual Clock, and rapid generators for assets, amounts and postings.
//
// The generators keep to what the ledger accepts: Asset makes valid codes
// and precisions, Amount valid positive amounts of an asset (spelled with
// or without trailing zeros), InvalidAmount amounts the ledger must refuse
// (zero, negative, too many decimals), and Posting and Postings valid
// postings between given accounts. ledger/storetest drives its state
// machine with them.
//
// # Usage
//
//	clock := ledgertest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
//	l := ledger.New(memstore.New(), ledger.WithClock(clock))
//	clock.Advance(72 * time.Hour)
//
// In a property test:
//
//	rapid.Check(t, func(t *rapid.T) {
//		ps := ledgertest.Postings(accounts, []ledger.Asset{ledger.EUR}, 10_000, 3).Draw(t, "postings")
//		_, err := l.Post(ctx, ledger.TransferRequest{Postings: ps})
//		// ...
//	})
package ledgertest
