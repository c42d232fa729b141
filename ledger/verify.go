package ledger

import (
	"context"
	"fmt"
	"math/big"
	"math/bits"
	"sort"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger/driver"
)

// VerifyReport says what Verify checked.
type VerifyReport struct {
	Transactions int
	Holds        int
	Balances     int
	Head         Head
	// Events is how many events the log holds; EventHead is the last
	// one's Seq and chain hash, which an auditor can keep to notice a log
	// rewritten later.
	Events    int
	EventHead EventHead
	// UnchainedEvents and UnchainedHolds count what a store kept from
	// before the event log was chained (pgstore's migration 0005): events
	// with no hash, at the start of the log, and holds created before the
	// first chained event, which are checked against the journal and the
	// balances but have no trail of events. Both are 0 on a ledger that
	// began with the chain.
	UnchainedEvents int
	UnchainedHolds  int
	// Totals is the sum of all posted balances per asset: zero for every
	// asset of a sound ledger.
	Totals map[string]decimal.Decimal
}

// Verify replays the whole journal and the event log on one snapshot and
// checks that: transaction IDs are dense; each hash chains to the one
// before (so an edited or removed transaction is visible); times never go
// back; every posting is positive and its running balances match the
// replay; event Seqs are dense and each event's hash chains to the one
// before, as the journal's do; every hold is what its events say (created
// with its account, asset, amount and expiry; captured, voided or expired
// as they tell, at their times) and has captured what the journal's
// captures of it add up to; every stored balance equals the replay and its
// held amount equals what its pending holds reserve; every asset sums to
// zero; and no account is below its limit. It returns the first break
// found, wrapping ErrVerify.
func (l *Ledger) Verify(ctx context.Context) (VerifyReport, error) {
	var rep VerifyReport
	err := l.View(ctx, func(r *Reader) error {
		var err error
		rep, err = r.Verify(ctx)
		return err
	})
	return rep, err
}

// Verify checks the snapshot r reads (see Ledger.Verify).
func (r *Reader) Verify(ctx context.Context) (VerifyReport, error) {
	rep := VerifyReport{Totals: map[string]decimal.Decimal{}}
	posted := map[BalanceKey]int64{}
	captures := map[uint64]int64{} // hold ID: what the journal captured from it
	var prev driver.Head
	var buf []byte
	const page = 10000
	for after := uint64(0); ; {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		ts, err := r.rt.Transactions(after, page)
		if err != nil {
			return rep, err
		}
		for i := range ts {
			t := &ts[i]
			if t.ID != prev.ID+1 {
				return rep, fmt.Errorf("%w: transaction %d follows %d: the journal has a gap", ErrVerify, t.ID, prev.ID)
			}
			var h [32]byte
			h, buf = driver.ChainHash(prev.Hash, t, buf)
			if h != t.Hash {
				return rep, fmt.Errorf("%w: transaction %d: hash does not chain (edited, or an earlier one changed)", ErrVerify, t.ID)
			}
			if t.Time < prev.Time {
				return rep, fmt.Errorf("%w: transaction %d: time goes back", ErrVerify, t.ID)
			}
			if len(t.Postings) == 0 {
				return rep, fmt.Errorf("%w: transaction %d has no postings", ErrVerify, t.ID)
			}
			for j := range t.Postings {
				p := &t.Postings[j]
				if p.Units <= 0 || p.From == p.To {
					return rep, fmt.Errorf("%w: transaction %d posting %d is malformed", ErrVerify, t.ID, j)
				}
				fk, tk := BalanceKey{p.From, p.Asset}, BalanceKey{p.To, p.Asset}
				// Checked: a replay that wraps int64 could match running
				// balances forged to wrap with it.
				from, ok1 := addUnits(posted[fk], -p.Units)
				to, ok2 := addUnits(posted[tk], p.Units)
				if !ok1 || !ok2 {
					return rep, fmt.Errorf("%w: transaction %d posting %d: a balance leaves the int64 range", ErrVerify, t.ID, j)
				}
				posted[fk], posted[tk] = from, to
				if from != p.FromAfter || to != p.ToAfter {
					return rep, fmt.Errorf("%w: transaction %d posting %d: running balances differ from the replay", ErrVerify, t.ID, j)
				}
				if t.Hold != 0 {
					c, ok := addUnits(captures[t.Hold], p.Units)
					if !ok {
						return rep, fmt.Errorf("%w: transaction %d: captures of hold %d leave the int64 range", ErrVerify, t.ID, t.Hold)
					}
					captures[t.Hold] = c
				}
			}
			prev = driver.Head{ID: t.ID, Hash: t.Hash, Time: t.Time}
			rep.Transactions++
		}
		if len(ts) < page {
			break
		}
		after = ts[len(ts)-1].ID
	}
	head, err := r.rt.Head()
	if err != nil {
		return rep, err
	}
	if head != prev {
		return rep, fmt.Errorf("%w: head is transaction %d but the journal ends at %d", ErrVerify, head.ID, prev.ID)
	}
	rep.Head = Head(head)

	audit, err := r.verifyEvents(ctx, head.ID)
	if err != nil {
		return rep, err
	}
	rep.Events, rep.EventHead, rep.UnchainedEvents = audit.events, EventHead(audit.head), audit.unhashed

	held := map[BalanceKey]int64{}
	for after := uint64(0); ; {
		hs, err := r.rt.Holds(after, page)
		if err != nil {
			return rep, err
		}
		for i := range hs {
			h := &hs[i]
			if h.Units <= 0 || h.Captured < 0 || h.Captured > h.Units {
				return rep, fmt.Errorf("%w: hold %d captured %d of %d", ErrVerify, h.ID, h.Captured, h.Units)
			}
			if err := audit.checkHold(h, captures[h.ID], &rep.UnchainedHolds); err != nil {
				return rep, err
			}
			delete(captures, h.ID)
			if h.Status == driver.HoldPending {
				k := BalanceKey{h.Account, h.Asset}
				sum, ok := addUnits(held[k], h.Units-h.Captured)
				if !ok {
					return rep, fmt.Errorf("%w: %s %s: pending holds reserve more than the int64 range", ErrVerify, h.Account, h.Asset)
				}
				held[k] = sum
			}
			rep.Holds++
		}
		if len(hs) < page {
			break
		}
		after = hs[len(hs)-1].ID
	}
	for id := range captures {
		return rep, fmt.Errorf("%w: the journal captures from hold %d, which is not stored", ErrVerify, id)
	}
	for id := range audit.holds {
		return rep, fmt.Errorf("%w: hold %d has events but is not stored", ErrVerify, id)
	}

	// Totals are summed in 128 bits: a sound ledger's partial sums may leave
	// the int64 range (two issuers each at -2^62 ...), and a wrapping sum
	// would call a ledger that sums to 2^64 sound.
	totals := map[string]*int128{}
	seen := map[BalanceKey]bool{}
	for after := (BalanceKey{}); ; {
		bs, err := r.rt.Balances(driver.BalanceKey(after), page)
		if err != nil {
			return rep, err
		}
		for _, b := range bs {
			k := BalanceKey{b.Address, b.Asset}
			seen[k] = true
			if b.Posted != posted[k] {
				return rep, fmt.Errorf("%w: %s %s: stored balance %d, journal says %d", ErrVerify, b.Address, b.Asset, b.Posted, posted[k])
			}
			if b.Held != held[k] {
				return rep, fmt.Errorf("%w: %s %s: held %d, pending holds reserve %d", ErrVerify, b.Address, b.Asset, b.Held, held[k])
			}
			acc, err := r.account(b.Address)
			if err != nil {
				return rep, wrapAs(ErrVerify, "balance of "+b.Address, err)
			}
			// The posted amount never goes below the floor. The available
			// amount (posted - held) may, but only after a transfer that
			// reached held funds (TransferRequest.IncludeHeld), which the
			// journal does not mark; so the posted amount is what is checked.
			if floor, bounded := acc.floor(b.Asset); bounded && b.Posted < floor {
				return rep, fmt.Errorf("%w: %s %s is below its limit", ErrVerify, b.Address, b.Asset)
			}
			tot := totals[b.Asset]
			if tot == nil {
				tot = &int128{}
				totals[b.Asset] = tot
			}
			tot.add(b.Posted)
			rep.Balances++
		}
		if len(bs) < page {
			break
		}
		after = BalanceKey{bs[len(bs)-1].Address, bs[len(bs)-1].Asset}
	}
	for k, v := range posted {
		if v != 0 && !seen[k] {
			return rep, fmt.Errorf("%w: %s %s: journal says %d but no balance is stored", ErrVerify, k.Address, k.Asset, v)
		}
	}
	for k, v := range held {
		if v != 0 && !seen[k] {
			return rep, fmt.Errorf("%w: %s %s: holds reserve %d but no balance is stored", ErrVerify, k.Address, k.Asset, v)
		}
	}
	codes := make([]string, 0, len(totals))
	for c := range totals {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	for _, c := range codes {
		a, err := r.Asset(c)
		if err != nil {
			return rep, wrapAs(ErrVerify, "balance in "+c, err)
		}
		sum := decimal.NewFromBigInt(totals[c].big(), -a.Precision)
		rep.Totals[c] = sum
		if !totals[c].isZero() {
			return rep, fmt.Errorf("%w: %s sums to %s, not zero", ErrVerify, c, sum.StringFixed(a.Precision))
		}
	}
	return rep, nil
}

// int128 is a signed 128-bit accumulator: hi:lo in two's complement. It
// sums up to 2^64 int64 values without overflow.
type int128 struct {
	hi int64
	lo uint64
}

func (x *int128) add(v int64) {
	var carry uint64
	x.lo, carry = bits.Add64(x.lo, uint64(v), 0)
	x.hi += int64(carry) + v>>63 // v>>63 sign-extends v into the high word
}

func (x *int128) isZero() bool { return x.hi == 0 && x.lo == 0 }

func (x *int128) big() *big.Int {
	b := new(big.Int).SetInt64(x.hi)
	b.Lsh(b, 64)
	return b.Add(b, new(big.Int).SetUint64(x.lo))
}
