package ledger

import (
	"sync"
	"sync/atomic"
)

// The ledger caches committed accounts and assets, which never change once
// committed, so that a transfer between accounts it has seen asks the
// store for neither. Both caches are bounded and neither is an authority:
// a lookup that misses reads the store, so what was evicted (or never
// cached) is answered exactly as if it had been cached.
//
// Each cache keeps two generations: new entries go into the current one,
// and when it holds half the bound it becomes the previous one and the
// previous one is dropped. A hit in the previous generation moves the
// entry back into the current one, so an entry in steady use (the world
// account, the ledger's one asset) is never dropped, while one not used
// for a whole generation is. Both generations together hold at most the
// bound. This costs the hot path nothing over a plain map: a hit in the
// current generation is one map lookup.

// defaultAccountCache is how many accounts a Ledger caches unless
// WithAccountCache says otherwise: about 10 MB for accounts without
// metadata (see WithAccountCache).
const defaultAccountCache = 1 << 16

// maxCachedAssets bounds the asset cache. Assets are few (a ledger with
// more than this many in use reads the rest from the store).
const maxCachedAssets = 1024

// WithAccountCache bounds how many accounts the ledger keeps in memory
// between units of work (default 65,536; 0 keeps none, and every unit of
// work reads the accounts it uses from the store). Accounts never change
// once opened, so a cached one is always right; one not cached is read
// from the store, so the bound trades store reads for memory and never
// changes an answer. A cached account takes about 150 bytes with a short
// address and no limits or metadata: 65,536 take about 10 MB. Metadata
// adds up to about 8 KB an account (64 entries, 4,096 bytes): a cache
// full of accounts that all carry the largest metadata allowed would take
// about 500 MB, so a service whose accounts carry much metadata may want
// a smaller bound.
func WithAccountCache(n int) Option {
	return func(l *Ledger) {
		if n >= 0 {
			l.accounts.max = n
		}
	}
}

// half returns the size at which a generation of a cache bounded by bound
// is full: both generations then hold at most bound entries. (A cache of
// one entry keeps no previous generation.)
func half(bound int) int { return max(bound/2, 1) }

// accountCache is a bounded cache of committed accounts, safe for
// concurrent use. Cached accounts are shared and must not be changed.
type accountCache struct {
	max       int // at most this many entries; 0: none
	mu        sync.RWMutex
	cur, prev map[string]*Account
}

// get returns the cached account at addr, if any.
func (c *accountCache) get(addr string) (*Account, bool) {
	c.mu.RLock()
	a, ok := c.cur[addr]
	if ok {
		c.mu.RUnlock()
		return a, true
	}
	a, ok = c.prev[addr]
	c.mu.RUnlock()
	if ok {
		c.put(a) // in use: keep it in the current generation
	}
	return a, ok
}

// put caches a, a committed account.
func (c *accountCache) put(a *Account) {
	if c.max <= 0 {
		return
	}
	c.mu.Lock()
	if _, ok := c.cur[a.Address]; !ok {
		if c.cur == nil || len(c.cur) >= half(c.max) {
			c.prev, c.cur = c.cur, make(map[string]*Account)
			if c.max == 1 {
				c.prev = nil
			}
		}
		c.cur[a.Address] = a
	}
	c.mu.Unlock()
}

// len returns how many accounts the cache holds.
func (c *accountCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.cur) + len(c.prev)
}

// assetCache is a bounded cache of committed assets, read without a lock:
// assets are few and read by every posting, so both generations live in
// one immutable value replaced whole on each addition.
type assetCache struct {
	max int
	mu  sync.Mutex // serialises additions
	gen atomic.Pointer[assetGen]
}

type assetGen struct {
	cur, prev map[string]Asset
}

// get returns the cached asset code, if any.
func (c *assetCache) get(code string) (Asset, bool) {
	g := c.gen.Load()
	if g == nil {
		return Asset{}, false
	}
	if a, ok := g.cur[code]; ok {
		return a, true
	}
	a, ok := g.prev[code]
	if ok {
		c.put(a) // in use: keep it in the current generation
	}
	return a, ok
}

// put caches a, a committed asset.
func (c *assetCache) put(a Asset) {
	if c.max <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.gen.Load()
	if old == nil {
		old = &assetGen{}
	}
	if _, ok := old.cur[a.Code]; ok {
		return
	}
	g := &assetGen{prev: old.prev}
	if len(old.cur) >= half(c.max) {
		g.prev, g.cur = old.cur, map[string]Asset{a.Code: a}
		if c.max == 1 {
			g.prev = nil
		}
	} else {
		g.cur = make(map[string]Asset, len(old.cur)+1)
		for k, v := range old.cur {
			g.cur[k] = v
		}
		g.cur[a.Code] = a
	}
	c.gen.Store(g)
}

// len returns how many assets the cache holds.
func (c *assetCache) len() int {
	g := c.gen.Load()
	if g == nil {
		return 0
	}
	return len(g.cur) + len(g.prev)
}

// maxPooledEntries bounds what a pooled Writer keeps for reuse: the
// accounts, assets and events of a unit of work larger than this are
// dropped with it rather than kept, at the size of the largest unit of
// work ever run, for the next one. (The rest of a Writer's buffers are
// bounded by the size of one transaction: maxPostings, maxMetadataBytes.)
const maxPooledEntries = 256

// clearPooled empties m for the next unit of work of a pooled Writer, or
// drops it if it grew large: a map does not shrink when cleared.
func clearPooled[V any](m map[string]V) map[string]V {
	if len(m) > maxPooledEntries {
		return nil
	}
	clear(m)
	return m
}
