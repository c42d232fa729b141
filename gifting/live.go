package gifting

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
)

// LiveStats are the gift totals of one LIVE.
type LiveStats struct {
	Live     string           `json:"live"`
	Gifts    int64            `json:"gifts"`    // gifts sent (counting each of a combo)
	Coins    int64            `json:"coins"`    // coins spent
	Diamonds int64            `json:"diamonds"` // diamonds the recipients received
	ByGift   map[string]int64 `json:"by_gift"`  // gift id -> how many
	Gifters  int64            `json:"gifters"`  // distinct viewers who sent gifts
}

// Gifter is one viewer's gifts in a LIVE.
type Gifter struct {
	Viewer string `json:"viewer"`
	Gifts  int64  `json:"gifts"`
	Coins  int64  `json:"coins"`
}

// addToLive adds a gift to its LIVE's totals and to the viewer's totals in
// that LIVE. Every sum is checked: a total past int64 refuses the gift.
// Both records are read and rewritten by every gift in the LIVE, inside
// its unit of work, so they go through the codec of livecodec.go.
func (p *Program) addToLive(w *ledger.Writer, req SendGiftRequest, gift Gift, res GiftResult) error {
	var ls liveTotals
	if data, err := w.Record(kindLive, req.Live); err == nil {
		if ls, err = decodeLive(data); err != nil {
			return err
		}
	} else if !errors.Is(err, ledger.ErrNotFound) {
		return err
	}
	if ls.byGift == nil {
		ls.live, ls.byGift = req.Live, []giftCount{}
	}
	n := int64(req.Count)
	var err error
	add := func(what string, to *int64, v int64) {
		if err == nil {
			*to, err = kit.Add(what, *to, v)
		}
	}
	at, found := ls.find(gift.ID)
	var byGift int64
	if found {
		byGift = ls.byGift[at].n
	}
	add("live gifts", &ls.gifts, n)
	add("live coins", &ls.coins, res.Coins)
	add("live diamonds", &ls.diamonds, res.Diamonds)
	add("live gifts by gift", &byGift, n)
	gid := req.Live + "/" + req.Actor
	var g Gifter
	if data, lerr := w.Record(kindGifter, gid); lerr == nil {
		if g, lerr = decodeGifter(data); lerr != nil {
			return lerr
		}
	} else {
		if !errors.Is(lerr, ledger.ErrNotFound) {
			return lerr
		}
		g.Viewer = req.Actor
		add("live gifters", &ls.gifters, 1)
	}
	add("gifter gifts", &g.Gifts, n)
	add("gifter coins", &g.Coins, res.Coins)
	if err != nil {
		return err
	}
	if found {
		ls.byGift[at].n = byGift
	} else {
		ls.byGift = slices.Insert(ls.byGift, at, giftCount{gift: gift.ID, n: byGift})
	}
	gb, err := encodeGifter(g)
	if err != nil {
		return err
	}
	if err := w.PutRecord(kindGifter, gid, gb); err != nil {
		return err
	}
	lb, err := encodeLive(ls)
	if err != nil {
		return err
	}
	return w.PutRecord(kindLive, req.Live, lb)
}

// Live returns a LIVE's gift totals, or ErrNotFound if no gift was sent in
// it.
func (p *Program) Live(ctx context.Context, live string) (LiveStats, error) {
	var data []byte
	err := p.l.View(ctx, func(r *ledger.Reader) (err error) { data, err = r.Record(kindLive, live); return err })
	if errors.Is(err, ledger.ErrNotFound) {
		return LiveStats{}, fmt.Errorf("%w: live %q", ErrNotFound, live)
	}
	if err != nil {
		return LiveStats{}, err
	}
	t, err := decodeLive(data)
	if err != nil {
		return LiveStats{}, err
	}
	return t.stats(), nil
}

// TopGifters returns the n viewers who spent most coins in a LIVE, most
// first (ties by viewer id).
func (p *Program) TopGifters(ctx context.Context, live string, n int) ([]Gifter, error) {
	var all []Gifter
	prefix := live + "/"
	err := p.l.View(ctx, func(r *ledger.Reader) error {
		all = all[:0]
		after := prefix
		for {
			recs, err := r.Records(kindGifter, after, 1000)
			if err != nil {
				return err
			}
			for _, rec := range recs {
				if !strings.HasPrefix(rec.ID, prefix) {
					return nil
				}
				g, err := decodeGifter(rec.Data)
				if err != nil {
					return err
				}
				all = append(all, g)
				after = rec.ID
			}
			if len(recs) < 1000 {
				return nil
			}
		}
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].Coins != all[j].Coins {
			return all[i].Coins > all[j].Coins
		}
		return all[i].Viewer < all[j].Viewer
	})
	if n >= 0 && len(all) > n {
		all = all[:n]
	}
	return all, nil
}
