package gifting

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// The LIVE records' codec must be encoding/json for these types: the same
// bytes out, the same values in, for any record whatever wrote it.

func drawID(t *rapid.T, label string) string {
	// Mostly IDs as kit.CheckID lets them through, sometimes anything (a
	// record written by hand or by another tool).
	if rapid.IntRange(0, 3).Draw(t, label+"-any") == 0 {
		return rapid.String().Draw(t, label)
	}
	return rapid.StringMatching(`[a-zA-Z0-9_.@+-]{0,12}`).Draw(t, label)
}

func drawInt(t *rapid.T, label string) int64 {
	return rapid.OneOf(rapid.Int64(), rapid.Int64Range(-3, 3), rapid.SampledFrom([]int64{math.MaxInt64, math.MinInt64})).Draw(t, label)
}

func TestLiveCodecIsEncodingJSON(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		ls := LiveStats{Live: drawID(t, "live"), Gifts: drawInt(t, "gifts"), Coins: drawInt(t, "coins"),
			Diamonds: drawInt(t, "diamonds"), Gifters: drawInt(t, "gifters")}
		if rapid.Bool().Draw(t, "by_gift") {
			ls.ByGift = map[string]int64{}
			for range rapid.IntRange(0, 5).Draw(t, "gift kinds") {
				ls.ByGift[drawID(t, "gift")] = drawInt(t, "count")
			}
		}
		want, err := json.Marshal(ls)
		require.NoError(t, err)
		got, err := encodeLive(totalsOf(ls))
		require.NoError(t, err)
		require.Equal(t, string(want), string(got))
		back, err := decodeLive(got)
		require.NoError(t, err)
		require.Equal(t, ls, back.stats())

		g := Gifter{Viewer: drawID(t, "viewer"), Gifts: drawInt(t, "gifter gifts"), Coins: drawInt(t, "gifter coins")}
		want, err = json.Marshal(g)
		require.NoError(t, err)
		got, err = encodeGifter(g)
		require.NoError(t, err)
		require.Equal(t, string(want), string(got))
		gb, err := decodeGifter(got)
		require.NoError(t, err)
		require.Equal(t, g, gb)
	})
}

// FuzzLiveDecode: whatever the bytes, decodeLive and decodeGifter succeed
// or fail as json.Unmarshal into a zero value does, and succeed with what
// it decodes.
func FuzzLiveDecode(f *testing.F) {
	for _, s := range []string{
		`{"live":"live-1","gifts":3,"coins":60,"diamonds":30,"by_gift":{"perfume":3},"gifters":1}`,
		`{"live":"live-1","gifts":3,"coins":60,"diamonds":30,"by_gift":{},"gifters":1}`,
		`{"live":"live-1","gifts":3,"coins":60,"diamonds":30,"by_gift":null,"gifters":1}`,
		`{"live":"l","gifts":0,"coins":-0,"diamonds":0,"by_gift":{"a":1,"b":2},"gifters":0}`,
		`{"live":"l","gifts":0,"coins":0,"diamonds":0,"by_gift":{"b":1,"a":2},"gifters":0}`,
		`{"live":"l","gifts":0,"coins":0,"diamonds":0,"by_gift":{"a":1,"a":2},"gifters":0}`,
		`{"live":"l","gifts":01,"coins":0,"diamonds":0,"by_gift":{},"gifters":0}`,
		`{"live":"l","gifts":1.0,"coins":1e3,"diamonds":0,"by_gift":{},"gifters":0}`,
		`{"live":"l","gifts":9223372036854775807,"coins":-9223372036854775808,"diamonds":0,"by_gift":{},"gifters":0}`,
		`{"live":"l","gifts":9223372036854775808,"coins":0,"diamonds":0,"by_gift":{},"gifters":0}`,
		`{"live":"l\u003c","gifts":1,"coins":0,"diamonds":0,"by_gift":{"\"x":1},"gifters":0}`,
		`{"live":"l","gifts":1,"coins":0,"diamonds":0,"by_gift":{},"gifters":0} `,
		`{"live":"l","gifts":1,"coins":0,"diamonds":0,"by_gift":{},"gifters":0}x`,
		`{"by_gift":{},"coins":9223372036854775797,"live":"live-1"}`,
		`{ "live": "l", "gifts": 1 }`,
		`{"LIVE":"l","Gifts":2}`,
		`{"viewer":"ann","gifts":2,"coins":200}`,
		`{"viewer":"ann","gifts":2,"coins":200,"extra":true}`,
		`{"coins":9223372036854775797,"viewer":"ann"}`,
		`{"viewer":"ann","gifts":2,"coins":200`,
		`null`, `{}`, `[]`, ``, `"x"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var want LiveStats
		werr := json.Unmarshal(data, &want)
		got, err := decodeLive(data)
		require.Equal(t, werr == nil, err == nil, "live %q: %v vs %v", data, err, werr)
		if err == nil {
			require.Equal(t, want, got.stats(), "live %q", data)
			// What a gift writes back is what encoding/json would.
			wb, err := json.Marshal(want)
			require.NoError(t, err)
			gb, err := encodeLive(got)
			require.NoError(t, err)
			require.Equal(t, string(wb), string(gb), "live %q", data)
		}
		var wantG Gifter
		werr = json.Unmarshal(data, &wantG)
		g, err := decodeGifter(data)
		require.Equal(t, werr == nil, err == nil, "gifter %q: %v vs %v", data, err, werr)
		if err == nil {
			require.Equal(t, wantG, g, "gifter %q", data)
		}
	})
}
