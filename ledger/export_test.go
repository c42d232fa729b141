package ledger

// CachedAccounts returns how many accounts l caches.
func CachedAccounts(l *Ledger) int { return l.accounts.len() }

// AccountCached reports whether l caches the account at addr, without
// moving it between generations.
func AccountCached(l *Ledger, addr string) bool {
	l.accounts.mu.RLock()
	defer l.accounts.mu.RUnlock()
	_, inCur := l.accounts.cur[addr]
	_, inPrev := l.accounts.prev[addr]
	return inCur || inPrev
}

// CachedAssets returns how many assets l caches.
func CachedAssets(l *Ledger) int { return l.assets.len() }

// SetAssetCache bounds l's asset cache to n (maxCachedAssets is too
// large for a test to define more assets than it).
func SetAssetCache(l *Ledger, n int) { l.assets.max = n }
