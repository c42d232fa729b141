package kit

// SetLiabilityPage sets how many balances and history entries one read of
// Liability takes, so tests cross page ends with little data; it returns
// a function that restores the default.
func SetLiabilityPage(n int) (restore func()) {
	old := liabilityPage
	liabilityPage = n
	return func() { liabilityPage = old }
}
