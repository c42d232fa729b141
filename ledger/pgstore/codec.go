package pgstore

import (
	"encoding/binary"
	"errors"
	"sort"
)

// Metadata and account limits are kept as BYTEA in a small length-prefixed
// encoding (count, then each key and value), not JSON: any Go string,
// valid UTF-8 or not, must round-trip exactly, since the hash chain covers
// metadata. Empty maps are NULL and read back as nil.

var errCorrupt = errors.New("pgstore: corrupt encoded map")

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func appendBytes(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func readBytes(b []byte) (string, []byte, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || uint64(len(b)-k) < n {
		return "", nil, errCorrupt
	}
	return string(b[k : k+int(n)]), b[k+int(n):], nil
}

// encodeMap encodes string metadata; nil when empty.
func encodeMap(m map[string]string) []byte {
	if len(m) == 0 {
		return nil
	}
	b := binary.AppendUvarint(nil, uint64(len(m)))
	for _, k := range sortedKeys(m) {
		b = appendBytes(b, k)
		b = appendBytes(b, m[k])
	}
	return b
}

func decodeMap(b []byte) (map[string]string, error) {
	if len(b) == 0 {
		return nil, nil
	}
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return nil, errCorrupt
	}
	b = b[k:]
	m := make(map[string]string, n)
	for i := uint64(0); i < n; i++ {
		var key, val string
		var err error
		if key, b, err = readBytes(b); err != nil {
			return nil, err
		}
		if val, b, err = readBytes(b); err != nil {
			return nil, err
		}
		m[key] = val
	}
	if len(b) != 0 {
		return nil, errCorrupt
	}
	return m, nil
}

// encodeLimits encodes an account's overdraft limits; nil when empty.
func encodeLimits(m map[string]int64) []byte {
	if len(m) == 0 {
		return nil
	}
	b := binary.AppendUvarint(nil, uint64(len(m)))
	for _, k := range sortedKeys(m) {
		b = appendBytes(b, k)
		b = binary.AppendVarint(b, m[k])
	}
	return b
}

func decodeLimits(b []byte) (map[string]int64, error) {
	if len(b) == 0 {
		return nil, nil
	}
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return nil, errCorrupt
	}
	b = b[k:]
	m := make(map[string]int64, n)
	for i := uint64(0); i < n; i++ {
		key, rest, err := readBytes(b)
		if err != nil {
			return nil, err
		}
		v, k := binary.Varint(rest)
		if k <= 0 {
			return nil, errCorrupt
		}
		m[key] = v
		b = rest[k:]
	}
	if len(b) != 0 {
		return nil, errCorrupt
	}
	return m, nil
}
