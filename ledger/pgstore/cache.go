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

// recCache is the committer's bounded cache of records as of its last
// commit. Unlike accounts, records change, so like the balance cache it is
// used only while no other writer has committed since (the head row's
// version proves it), and the committer clears it otherwise. It holds
// records known to exist; a miss reads the database.
//
// It holds at most about maxBytes bytes of kinds, IDs and data (plus
// recOverhead an entry), in two generations like genCache; a record
// larger than maxBytes/16 is never cached.
type recCache struct {
	maxBytes  int
	curBytes  int
	cur, prev map[kindID][]byte
}

// recOverhead is what an entry is counted to cost beside its bytes.
const recOverhead = 96

// maxCachedRecordBytes bounds the committer's record cache.
const maxCachedRecordBytes = 8 << 20

func recSize(k kindID, data []byte) int { return len(k.kind) + len(k.id) + len(data) + recOverhead }

// get returns the data of a cached record (nil data for an empty one).
func (c *recCache) get(k kindID) ([]byte, bool) {
	if d, ok := c.cur[k]; ok {
		return d, true
	}
	d, ok := c.prev[k]
	if ok {
		delete(c.prev, k)
		c.put(k, d)
	}
	return d, ok
}

// put caches a record's data, which the cache owns from then on.
func (c *recCache) put(k kindID, data []byte) {
	n := recSize(k, data)
	if c.maxBytes <= 0 || n > c.maxBytes/16 {
		c.del(k)
		return
	}
	c.del(k)
	if c.cur == nil || c.curBytes+n > c.maxBytes/2 {
		c.prev, c.cur, c.curBytes = c.cur, make(map[kindID][]byte), 0
	}
	c.cur[k] = data
	c.curBytes += n
}

// del forgets a record (deleted, or no longer known).
func (c *recCache) del(k kindID) {
	if old, ok := c.cur[k]; ok {
		c.curBytes -= recSize(k, old)
		delete(c.cur, k)
	}
	delete(c.prev, k)
}

// clear forgets every record.
func (c *recCache) clear() { c.cur, c.prev, c.curBytes = nil, nil, 0 }

// len returns how many records the cache holds.
func (c *recCache) len() int { return len(c.cur) + len(c.prev) }
