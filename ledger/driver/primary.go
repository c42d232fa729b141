package driver

import "context"

// primaryKey marks a context whose reads must go to the primary.
type primaryKey struct{}

// WithPrimary returns a copy of ctx that asks Store.View to read from the
// store's primary database, for a store that may serve reads from a
// replica (ledger/pgstore with a replica configured): such a View sees
// every Update that returned before it was called, as a store without a
// replica always does. A store without replicas ignores it. Package
// ledger sets it with ledger.ReadPrimary.
func WithPrimary(ctx context.Context) context.Context {
	if PrimaryRequested(ctx) {
		return ctx
	}
	return context.WithValue(ctx, primaryKey{}, true)
}

// PrimaryRequested reports whether ctx was marked by WithPrimary.
func PrimaryRequested(ctx context.Context) bool {
	v, _ := ctx.Value(primaryKey{}).(bool)
	return v
}
