package ledger

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rewardkit/rewardkit/ledger/driver"
)

// LotsReport says what Verify checked of the lots: how many balances keep
// open lots and how many lots they are.
type LotsReport struct {
	Balances int
	Lots     int
}

// lotReplay replays every lot from the journal as Verify reads it (the
// expiries grants carry, the lots each posting consumed, what reversals
// gave back), keeping the open lots of the balances that have some in
// memory.
type lotReplay struct {
	r     *Reader
	books map[BalanceKey]*lotBook
}

func newLotReplay(r *Reader) *lotReplay {
	return &lotReplay{r: r, books: map[BalanceKey]*lotBook{}}
}

func (lr *lotReplay) book(addr, asset string, create bool) (*lotBook, error) {
	k := BalanceKey{addr, asset}
	if b, ok := lr.books[k]; ok {
		return b, nil
	}
	if !create {
		return nil, nil
	}
	acc, err := lr.r.account(addr)
	if err != nil {
		return nil, wrapAs(ErrVerify, "lots of "+addr, err)
	}
	if acc.Unbounded {
		return nil, nil
	}
	b := &lotBook{}
	lr.books[k] = b
	return b, nil
}

// step replays transaction t's lots and checks its record of the lots it
// consumed.
func (lr *lotReplay) step(t *driver.Transaction) error {
	if len(lr.books) == 0 && t.Kind != driver.KindReversal && !hasLotMetadata(t.Metadata) {
		return nil // no lot yet, and t makes none
	}
	orig := func(id uint64) (*driver.Transaction, error) {
		o, err := lr.r.rt.Transaction(id)
		if err != nil {
			return nil, wrapAs(ErrVerify, fmt.Sprintf("transaction %d", id), err)
		}
		return &o, nil
	}
	used, err := stepLots(t, lr.book, orig)
	if err != nil {
		return wrapAs(ErrVerify, fmt.Sprintf("lots of transaction %d", t.ID), err)
	}
	n := 0
	for k, v := range t.Metadata {
		if !strings.HasPrefix(k, metaLotUsed) {
			continue
		}
		n++
		j, err := strconv.Atoi(k[len(metaLotUsed):])
		if err != nil || v != encodeUsed(used[j]) {
			return fmt.Errorf("%w: transaction %d: %s records lots the replay did not consume", ErrVerify, t.ID, clip(k))
		}
	}
	if n != len(used) {
		return fmt.Errorf("%w: transaction %d consumed lots it does not record", ErrVerify, t.ID)
	}
	return nil
}

func hasLotMetadata(m map[string]string) bool {
	for k := range m {
		if strings.HasPrefix(k, metaLotPrefix) {
			return true
		}
	}
	return false
}

// check holds the stored lots to the replay's: the stored lots of every
// balance are the replay's, lot for lot; a balance's open lots add up to
// no more than its positive posted amount (the rest never expires), so
// its lots and the part that never expires add up to what is posted; and
// a balance with open lots is due in the index.
func (lr *lotReplay) check(ctx context.Context) (LotsReport, error) {
	var rep LotsReport
	r := lr.r
	due := map[string]bool{}
	for limit := verifyPage; ; limit *= 2 {
		ds, err := r.rt.Due(DueLotExpiry, MaxTime.Add(-time.Nanosecond), limit)
		if err != nil {
			return rep, err
		}
		if len(ds) < limit {
			for _, d := range ds {
				due[d.ID] = true
			}
			break
		}
	}
	seen := map[BalanceKey]bool{}
	for after := ""; ; {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		rs, err := r.rt.Records(lotsRecord, after, verifyPage)
		if err != nil {
			return rep, err
		}
		for i := range rs {
			rec := &rs[i]
			addr, asset, ok := splitLotBalanceID(rec.ID)
			if !ok {
				return rep, fmt.Errorf("%w: lots record %s names no balance", ErrVerify, clip(rec.ID))
			}
			k := BalanceKey{addr, asset}
			var stored lotBook
			if err := json.Unmarshal(rec.Data, &stored); err != nil {
				return rep, wrapAs(ErrVerify, "lots of "+addr+" "+asset, err)
			}
			want := lr.books[k]
			if want == nil {
				want = &lotBook{}
			}
			if err := sameBook(stored, *want); err != nil {
				return rep, wrapAs(ErrVerify, "lots of "+addr+" "+asset, err)
			}
			if len(stored) == 0 {
				continue
			}
			seen[k] = true
			if err := r.checkLotBalance(k, stored, due[rec.ID]); err != nil {
				return rep, err
			}
			rep.Balances++
			rep.Lots += len(stored)
		}
		if len(rs) < verifyPage {
			break
		}
		after = rs[len(rs)-1].ID
	}
	for k, b := range lr.books {
		if len(*b) > 0 && !seen[k] {
			return rep, fmt.Errorf("%w: %s %s has %d open lots in the journal, none stored", ErrVerify, k.Address, k.Asset, len(*b))
		}
	}
	return rep, nil
}

// sameBook compares stored lots with the replay's, lot for lot.
func sameBook(stored, replay lotBook) error {
	if len(stored) != len(replay) {
		return fmt.Errorf("%d lots stored, the journal leaves %d open", len(stored), len(replay))
	}
	for i := range stored {
		if stored[i] != replay[i] {
			return fmt.Errorf("lot %s stored as %d units expiring %d, the journal says lot %s of %d units expiring %d",
				stored[i].id(), stored[i].Units, stored[i].At, replay[i].id(), replay[i].Units, replay[i].At)
		}
	}
	return nil
}

// checkLotBalance holds a balance's open lots to its posted amount and to
// the due index.
func (r *Reader) checkLotBalance(k BalanceKey, b lotBook, isDue bool) error {
	bal, err := r.rt.Balance(driver.BalanceKey(k))
	if err != nil {
		return err
	}
	sum, ok := int64(0), true
	for i := range b {
		if b[i].Units <= 0 {
			return fmt.Errorf("%w: %s %s: lot %s holds %d", ErrVerify, k.Address, k.Asset, b[i].id(), b[i].Units)
		}
		if sum, ok = addUnits(sum, b[i].Units); !ok {
			return fmt.Errorf("%w: %s %s: lots add up beyond the int64 range", ErrVerify, k.Address, k.Asset)
		}
	}
	if sum > pos(bal.Posted) {
		return fmt.Errorf("%w: %s %s: open lots hold %d, more than the %d posted", ErrVerify, k.Address, k.Asset, sum, bal.Posted)
	}
	if !isDue {
		return fmt.Errorf("%w: %s %s has open lots but is not due", ErrVerify, k.Address, k.Asset)
	}
	return nil
}
