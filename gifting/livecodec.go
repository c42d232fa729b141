package gifting

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
)

// The two LIVE records, a LIVE's totals (gifting.live) and a viewer's
// totals in it (gifting.gifter), are read and rewritten by every gift sent
// in a LIVE, inside its unit of work: while the store holds its writer
// lock (memstore) or its committer runs the group (pgstore), so that their
// encoding is paid by every gift in a row. Through encoding/json it was a
// fifth of a gift's CPU, most of it reflection and building the by_gift
// map only to change one entry of it. The functions below write the very
// bytes encoding/json writes for these records (the stored format does not
// change) and read that form back without reflection; any other form (a
// record written by an earlier version with other spacing, by hand, by
// another tool) is left to encoding/json, so a record decodes to what it
// always did.

// liveTotals is a LIVE's totals record as a gift updates it: LiveStats with
// by_gift as a slice in gift ID byte order, the order encoding/json writes
// a map's keys in.
type liveTotals struct {
	live                   string
	gifts, coins, diamonds int64
	byGift                 []giftCount // nil: by_gift null or absent; sorted, one entry per gift
	gifters                int64
}

type giftCount struct {
	gift string
	n    int64
}

// find returns where gift's entry is in byGift, or would be inserted, and
// whether it is there.
func (t *liveTotals) find(gift string) (int, bool) {
	return slices.BinarySearchFunc(t.byGift, gift, func(c giftCount, id string) int { return strings.Compare(c.gift, id) })
}

func (t liveTotals) stats() LiveStats {
	ls := LiveStats{Live: t.live, Gifts: t.gifts, Coins: t.coins, Diamonds: t.diamonds, Gifters: t.gifters}
	if t.byGift != nil {
		ls.ByGift = make(map[string]int64, len(t.byGift))
		for _, c := range t.byGift {
			ls.ByGift[c.gift] = c.n
		}
	}
	return ls
}

func totalsOf(ls LiveStats) liveTotals {
	t := liveTotals{live: ls.Live, gifts: ls.Gifts, coins: ls.Coins, diamonds: ls.Diamonds, gifters: ls.Gifters}
	if ls.ByGift != nil {
		t.byGift = make([]giftCount, 0, len(ls.ByGift))
		for g, n := range ls.ByGift {
			t.byGift = append(t.byGift, giftCount{g, n})
		}
		slices.SortFunc(t.byGift, func(a, b giftCount) int { return strings.Compare(a.gift, b.gift) })
	}
	return t
}

// encodeLive is json.Marshal(t.stats()), byte for byte.
func encodeLive(t liveTotals) ([]byte, error) {
	b := make([]byte, 0, 96+24*len(t.byGift))
	b = append(b, `{"live":`...)
	b, ok := appendPlain(b, t.live)
	b = append(b, `,"gifts":`...)
	b = strconv.AppendInt(b, t.gifts, 10)
	b = append(b, `,"coins":`...)
	b = strconv.AppendInt(b, t.coins, 10)
	b = append(b, `,"diamonds":`...)
	b = strconv.AppendInt(b, t.diamonds, 10)
	b = append(b, `,"by_gift":`...)
	if t.byGift == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '{')
		for i, c := range t.byGift {
			if i > 0 {
				b = append(b, ',')
			}
			var plain bool
			b, plain = appendPlain(b, c.gift)
			ok = ok && plain
			b = append(b, ':')
			b = strconv.AppendInt(b, c.n, 10)
		}
		b = append(b, '}')
	}
	b = append(b, `,"gifters":`...)
	b = strconv.AppendInt(b, t.gifters, 10)
	b = append(b, '}')
	if !ok {
		return json.Marshal(t.stats()) // escapes: encoding/json's business
	}
	return b, nil
}

// decodeLive is json.Unmarshal into a zero LiveStats, without reflection
// for the form encodeLive writes.
func decodeLive(data []byte) (liveTotals, error) {
	r := scanner{b: data}
	var t liveTotals
	r.lit(`{"live":`)
	t.live = r.str()
	r.lit(`,"gifts":`)
	t.gifts = r.int()
	r.lit(`,"coins":`)
	t.coins = r.int()
	r.lit(`,"diamonds":`)
	t.diamonds = r.int()
	r.lit(`,"by_gift":`)
	if !r.maybe("null") {
		r.lit("{")
		t.byGift = []giftCount{}
		for !r.bad && !r.maybe("}") {
			if len(t.byGift) > 0 {
				r.lit(",")
			}
			c := giftCount{gift: r.str()}
			r.lit(":")
			c.n = r.int()
			if len(t.byGift) > 0 && c.gift <= t.byGift[len(t.byGift)-1].gift {
				r.bad = true // out of order or repeated: not what encodeLive writes
			}
			t.byGift = append(t.byGift, c)
		}
	}
	r.lit(`,"gifters":`)
	t.gifters = r.int()
	r.lit("}")
	if r.end() {
		return t, nil
	}
	var ls LiveStats
	if err := json.Unmarshal(data, &ls); err != nil {
		return liveTotals{}, err
	}
	return totalsOf(ls), nil
}

// encodeGifter is json.Marshal(g), byte for byte.
func encodeGifter(g Gifter) ([]byte, error) {
	b := make([]byte, 0, 48+len(g.Viewer))
	b = append(b, `{"viewer":`...)
	b, ok := appendPlain(b, g.Viewer)
	b = append(b, `,"gifts":`...)
	b = strconv.AppendInt(b, g.Gifts, 10)
	b = append(b, `,"coins":`...)
	b = strconv.AppendInt(b, g.Coins, 10)
	b = append(b, '}')
	if !ok {
		return json.Marshal(g)
	}
	return b, nil
}

// decodeGifter is json.Unmarshal into a zero Gifter, without reflection
// for the form encodeGifter writes.
func decodeGifter(data []byte) (Gifter, error) {
	r := scanner{b: data}
	var g Gifter
	r.lit(`{"viewer":`)
	g.Viewer = r.str()
	r.lit(`,"gifts":`)
	g.Gifts = r.int()
	r.lit(`,"coins":`)
	g.Coins = r.int()
	r.lit("}")
	if r.end() {
		return g, nil
	}
	g = Gifter{}
	err := json.Unmarshal(data, &g)
	return g, err
}

// plainByte reports whether encoding/json writes c, in a string, as it is:
// printable ASCII but for the quote, the backslash and the characters it
// escapes for HTML. IDs checked by kit.CheckID are made of them only.
func plainByte(c byte) bool {
	return c >= 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
}

// appendPlain appends s quoted and reports whether that is how
// encoding/json writes it (every byte plain).
func appendPlain(b []byte, s string) ([]byte, bool) {
	ok := true
	for i := 0; i < len(s); i++ {
		ok = ok && plainByte(s[i])
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"'), ok
}

// scanner reads the exact form the encoders above write. It never guesses:
// at the first byte that is not that form it sets bad, and the caller
// hands the whole record to encoding/json.
type scanner struct {
	b   []byte
	i   int
	bad bool
}

func (r *scanner) lit(s string) {
	if r.bad || len(r.b)-r.i < len(s) || string(r.b[r.i:r.i+len(s)]) != s {
		r.bad = true
		return
	}
	r.i += len(s)
}

// maybe consumes s if it comes next.
func (r *scanner) maybe(s string) bool {
	if r.bad || len(r.b)-r.i < len(s) || string(r.b[r.i:r.i+len(s)]) != s {
		return false
	}
	r.i += len(s)
	return true
}

// str reads a string of plain bytes (no escapes).
func (r *scanner) str() string {
	if r.bad || r.i >= len(r.b) || r.b[r.i] != '"' {
		r.bad = true
		return ""
	}
	j := r.i + 1
	for j < len(r.b) && plainByte(r.b[j]) {
		j++
	}
	if j >= len(r.b) || r.b[j] != '"' {
		r.bad = true
		return ""
	}
	s := string(r.b[r.i+1 : j])
	r.i = j + 1
	return s
}

// int reads a JSON integer, -?(0|[1-9][0-9]*), that fits an int64; a
// fraction, an exponent or a value out of range is encoding/json's to
// judge.
func (r *scanner) int() int64 {
	if r.bad {
		return 0
	}
	j := r.i
	if j < len(r.b) && r.b[j] == '-' {
		j++
	}
	switch {
	case j < len(r.b) && r.b[j] == '0':
		j++
	case j < len(r.b) && r.b[j] >= '1' && r.b[j] <= '9':
		for j < len(r.b) && r.b[j] >= '0' && r.b[j] <= '9' {
			j++
		}
	default:
		r.bad = true
		return 0
	}
	if j < len(r.b) && (r.b[j] == '.' || r.b[j] == 'e' || r.b[j] == 'E' || r.b[j] >= '0' && r.b[j] <= '9') {
		r.bad = true
		return 0
	}
	v, err := strconv.ParseInt(string(r.b[r.i:j]), 10, 64)
	if err != nil {
		r.bad = true
		return 0
	}
	r.i = j
	return v
}

// end reports whether the whole input was read in the expected form.
func (r *scanner) end() bool { return !r.bad && r.i == len(r.b) }
