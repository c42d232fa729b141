package pgstore

// genCache is a bounded map from accounts' addresses (or assets' codes)
// to what the committer read or wrote of them. Accounts and assets never
// change once stored, so an entry is always right; none is ever trusted
// to be there: a miss reads the database. Only the committer's goroutine
// uses it.
//
// It holds at most max entries, in two generations like keyCache: new
// entries go into the current one, which becomes the previous one when it
// holds half of max, and the previous one is dropped. A hit in the
// previous generation moves the entry back into the current one, so an
// entry in use (the world account, the one asset) stays.
type genCache[V any] struct {
	max       int
	cur, prev map[string]V
}

// get returns the entry for k, if cached.
func (c *genCache[V]) get(k string) (V, bool) {
	if v, ok := c.cur[k]; ok {
		return v, true
	}
	v, ok := c.prev[k]
	if ok {
		c.put(k, v)
	}
	return v, ok
}

// put caches v for k.
func (c *genCache[V]) put(k string, v V) {
	if c.max <= 0 {
		return
	}
	if _, ok := c.cur[k]; !ok && (c.cur == nil || len(c.cur) >= max(c.max/2, 1)) {
		c.prev, c.cur = c.cur, make(map[string]V)
		if c.max == 1 {
			c.prev = nil
		}
	}
	c.cur[k] = v
}

// len returns how many entries the cache holds.
func (c *genCache[V]) len() int { return len(c.cur) + len(c.prev) }

// maxCachedAssets bounds the committer's asset cache. Assets are few; a
// store with more than this many in use reads the rest from the database.
const maxCachedAssets = 1024
