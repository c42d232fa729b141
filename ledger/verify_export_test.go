package ledger

import "context"

// VerifyInBatches is Ledger.Verify keeping at most batch balances and
// batch holds in hand (Verify's is verifyBatch); it also returns how many
// passes over the journal it made.
func VerifyInBatches(ctx context.Context, l *Ledger, batch int) (rep VerifyReport, passes int, err error) {
	err = l.View(ctx, func(r *Reader) error {
		rep, passes, err = r.verify(ctx, batch)
		return err
	})
	return rep, passes, err
}

// SetVerifyFullHook makes f run when a pass of Verify holds the most it
// will (see testHookVerifyFull); it returns a func that removes f.
func SetVerifyFullHook(f func()) (restore func()) {
	testHookVerifyFull = f
	return func() { testHookVerifyFull = nil }
}
