package pgstore

import "hash/maphash"

// keyFilter is a Bloom filter of the idempotency keys of every
// transaction in the database up to some ID. Most requests carry a new
// key, and asking the database whether it is taken would cost each
// request a round trip; the filter answers "certainly not taken" for
// nearly all of them in memory, and sends only the rest (keys it may
// hold, about 1% false positives at capacity) to the database. It never
// answers "not taken" for a key that is: keys are added once committed,
// and each group first reads the keys other writers added since.
type keyFilter struct {
	seed     maphash.Seed
	bits     []uint64
	n        int
	capacity int
}

const keyFilterHashes = 7 // for about 10 bits per key: ~1% false positives

func newKeyFilter(capacity int) *keyFilter {
	words := (capacity*10 + 63) / 64
	return &keyFilter{seed: maphash.MakeSeed(), bits: make([]uint64, words), capacity: capacity}
}

// positions derives the filter's bit positions from one 64-bit hash
// (double hashing).
func (f *keyFilter) positions(key string, fn func(bit uint64) bool) bool {
	h := maphash.String(f.seed, key)
	h1, h2 := h, h>>29|1
	m := uint64(len(f.bits) * 64)
	for i := uint64(0); i < keyFilterHashes; i++ {
		if !fn((h1 + i*h2) % m) {
			return false
		}
	}
	return true
}

// add records a key; on a nil filter (being rebuilt) it does nothing.
func (f *keyFilter) add(key string) {
	if f == nil {
		return
	}
	f.positions(key, func(b uint64) bool { f.bits[b/64] |= 1 << (b % 64); return true })
	f.n++
}

// mayContain reports false only for a key never added. A nil filter
// (being rebuilt) may contain anything.
func (f *keyFilter) mayContain(key string) bool {
	if f == nil {
		return true
	}
	return f.positions(key, func(b uint64) bool { return f.bits[b/64]&(1<<(b%64)) != 0 })
}

// full reports whether the filter holds more keys than it was sized for
// (it stays correct, only less selective).
func (f *keyFilter) full() bool { return f != nil && f.n > f.capacity }
