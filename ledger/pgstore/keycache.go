package pgstore

// keyCache is a bounded set of idempotency keys that may be in the
// journal: keys this store committed recently, and keys a failed group
// took for new. It is a hint and never an authority: the journal's unique
// index decides whether a key is taken.
//
// A key in the cache is looked up in the database before a unit of work
// is told anything about it (a retry of a recent transfer finds its
// transaction there). A key not in the cache is reported as new without a
// round trip, which is what keeps group commit cheap; the database then
// checks that answer before the group commits (see gtx.TransactionByKey),
// and a group whose answer was wrong is rolled back whole with
// driver.ErrConflict, after adding its keys here so the retry looks them
// up.
//
// It holds at most max keys, in two generations: when the current one has
// max/2 keys it becomes the previous one, and the previous is dropped.
type keyCache struct {
	max       int
	cur, prev map[string]struct{}
}

func newKeyCache(max int) *keyCache {
	return &keyCache{max: max}
}

// enabled reports whether keys are cached at all. Without a cache every
// key is looked up in the database.
func (c *keyCache) enabled() bool { return c.max > 0 }

// add records that key may be in the journal.
func (c *keyCache) add(key string) {
	if c.max <= 0 {
		return
	}
	if c.cur == nil {
		c.cur = make(map[string]struct{})
	}
	if _, ok := c.cur[key]; ok {
		return
	}
	if len(c.cur) >= max(c.max/2, 1) {
		c.prev, c.cur = c.cur, make(map[string]struct{}, len(c.cur))
		if c.max == 1 {
			c.prev = nil
		}
	}
	c.cur[key] = struct{}{}
}

// has reports whether key may be in the journal.
func (c *keyCache) has(key string) bool {
	if _, ok := c.cur[key]; ok {
		return true
	}
	_, ok := c.prev[key]
	return ok
}

// len returns how many keys the cache holds.
func (c *keyCache) len() int { return len(c.cur) + len(c.prev) }

// clear forgets every key.
func (c *keyCache) clear() { c.cur, c.prev = nil, nil }
