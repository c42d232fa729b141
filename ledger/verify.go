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
	// Lots is what Verify found of the balances' open lots (see "Lots and
	// expiry" in the package documentation); VerifyFrom leaves it zero.
	Lots LotsReport
	// Totals is the sum of all posted balances per asset: zero for every
	// asset of a sound ledger.
	Totals map[string]decimal.Decimal
}

// Checkpoint returns the point of the ledger's history the report vouches
// for: what an auditor keeps, to check later only what came after it with
// VerifyFrom.
func (rep VerifyReport) Checkpoint() Checkpoint {
	return Checkpoint{Head: rep.Head, EventHead: rep.EventHead}
}

// verifyBatch is how many balances, and how many holds, Verify keeps in
// memory at once. A ledger with more is checked in passes, each reading
// the journal, the event log and the holds again for the next batch of
// each: memory stays bounded whatever the length of the journal and the
// number of balances and holds, and time grows by one read of the journal
// per batch beyond the first.
const verifyBatch = 1 << 17

// verifyPage is how many rows Verify asks the store for at a time.
const verifyPage = 10000

// testHookVerifyFull, set by benchmarks only, runs when a pass of Verify
// holds the most it will: its batches, the journal's captures and the hold
// trails, once the event log is replayed.
var testHookVerifyFull func()

// Verify replays the whole journal and the event log on one snapshot and
// checks that: transaction IDs are dense; each hash chains to the one
// before (so an edited or removed transaction is visible); times never go
// back; every posting is positive and its running balances match the
// replay; every balance a posting moves is stored; event Seqs are dense
// and each event's hash chains to the one before, as the journal's do;
// every hold is what its events say (created with its account, asset,
// amount and expiry; captured, voided or expired as they tell, at their
// times) and has captured what the journal's captures of it add up to;
// every stored balance equals the replay and its held amount equals what
// its pending holds reserve; every asset sums to zero; no account is
// below its limit; and the lots replayed from the journal are the stored
// ones, each balance's adding up to no more than its posted amount (see
// "Lots and expiry" in the package documentation). It returns the first
// break found, wrapping ErrVerify.
//
// Its memory is bounded whatever the ledger's size: it keeps at most
// 131,072 balances and as many holds in hand (about 50 MB), and a ledger
// with more is checked a batch of each at a time, reading the journal once
// per batch. The lots are the exception: their replay keeps the open lots
// of every balance that has some in memory, about 100 bytes a lot. To check only what came after an earlier report, see
// VerifyFrom.
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
	rep, _, err := r.verify(ctx, verifyBatch)
	return rep, err
}

// verify is Verify keeping at most batch balances and batch holds in hand;
// it also says how many passes it made.
func (r *Reader) verify(ctx context.Context, batch int) (VerifyReport, int, error) {
	rep := VerifyReport{Totals: map[string]decimal.Decimal{}}
	// Totals are summed in 128 bits: a sound ledger's partial sums may leave
	// the int64 range (two issuers each at -2^62 ...), and a wrapping sum
	// would call a ledger that sums to 2^64 sound.
	totals := map[string]*int128{}
	var (
		bals  balanceBatch
		holds holdBatch
	)
	lots := newLotReplay(r)
	for pass := 1; ; pass++ {
		if err := bals.next(r.rt, batch); err != nil {
			return rep, pass, err
		}
		if err := holds.next(r.rt, batch); err != nil {
			return rep, pass, err
		}
		if err := r.verifyPass(ctx, pass == 1, &bals, &holds, lots, totals, &rep); err != nil {
			return rep, pass, err
		}
		if bals.last && holds.last {
			if err := r.checkTotals(totals, &rep); err != nil {
				return rep, pass, err
			}
			var err error
			rep.Lots, err = lots.check(ctx)
			return rep, pass, err
		}
	}
}

// verifyPass reads the journal, the event log and the holds once and
// checks the batch of balances and the batch of holds in hand. The first
// pass also checks the journal's and the event log's chains, which later
// passes (on the same snapshot) read again only to replay them.
func (r *Reader) verifyPass(ctx context.Context, first bool, bals *balanceBatch, holds *holdBatch,
	lots *lotReplay, totals map[string]*int128, rep *VerifyReport) error {
	if err := r.replayJournal(ctx, first, bals, holds, lots, rep); err != nil {
		return err
	}
	audit := eventAudit{holds: map[uint64]*holdTrail{}}
	if first || !holds.done {
		var err error
		if audit, err = r.verifyEvents(ctx, rep.Head.ID, holds.keep); err != nil {
			return err
		}
		if first {
			rep.Events, rep.EventHead, rep.UnchainedEvents = audit.events, EventHead(audit.head), audit.unhashed
		}
	}
	if testHookVerifyFull != nil {
		testHookVerifyFull()
	}
	if err := r.checkHolds(ctx, bals, holds, &audit, rep); err != nil {
		return err
	}
	return r.checkBalances(bals, totals, rep)
}

// replayJournal reads the journal, replaying the postings that move the
// balances in hand and summing the captures of the holds in hand; on the
// first pass it also checks the chain (see checkLink) and counts.
func (r *Reader) replayJournal(ctx context.Context, first bool, bals *balanceBatch, holds *holdBatch, lots *lotReplay, rep *VerifyReport) error {
	var (
		prev driver.Head
		buf  []byte
	)
	for after := uint64(0); ; {
		if err := ctx.Err(); err != nil {
			return err
		}
		ts, err := r.rt.Transactions(after, verifyPage)
		if err != nil {
			return err
		}
		for i := range ts {
			t := &ts[i]
			if first {
				if buf, err = checkLink(prev, t, buf); err != nil {
					return err
				}
				if err := lots.step(t); err != nil {
					return err
				}
				rep.Transactions++
			}
			if !bals.done {
				for j := range t.Postings {
					if err := bals.replay(t, j); err != nil {
						return err
					}
				}
			}
			if t.Hold != 0 && !holds.done {
				if err := holds.capture(t); err != nil {
					return err
				}
			}
			prev = driver.Head{ID: t.ID, Hash: t.Hash, Time: t.Time}
		}
		if len(ts) < verifyPage {
			break
		}
		after = ts[len(ts)-1].ID
	}
	head, err := r.rt.Head()
	if err != nil {
		return err
	}
	switch {
	case head.ID != prev.ID:
		return fmt.Errorf("%w: head is transaction %d but the journal ends at %d", ErrVerify, head.ID, prev.ID)
	case head != prev:
		return fmt.Errorf("%w: the head's hash or time is not transaction %d's (the journal was rewritten)", ErrVerify, head.ID)
	case first:
		rep.Head = Head(head)
	case Head(head) != rep.Head:
		// A snapshot does not change; a store whose reads do cannot be vouched for.
		return fmt.Errorf("%w: the journal changed between two reads of one snapshot", ErrVerify)
	}
	return nil
}

// checkLink checks that t follows prev in the journal: its ID is the next,
// its hash chains to prev's, its time does not go back, and its postings
// are well formed. It returns buf for the next call.
func checkLink(prev driver.Head, t *driver.Transaction, buf []byte) ([]byte, error) {
	if t.ID != prev.ID+1 {
		return buf, fmt.Errorf("%w: transaction %d follows %d: the journal has a gap", ErrVerify, t.ID, prev.ID)
	}
	var h [32]byte
	h, buf = driver.ChainHash(prev.Hash, t, buf)
	if h != t.Hash {
		return buf, fmt.Errorf("%w: transaction %d: hash does not chain (edited, or an earlier one changed)", ErrVerify, t.ID)
	}
	if t.Time < prev.Time {
		return buf, fmt.Errorf("%w: transaction %d: time goes back", ErrVerify, t.ID)
	}
	if len(t.Postings) == 0 {
		return buf, fmt.Errorf("%w: transaction %d has no postings", ErrVerify, t.ID)
	}
	for j := range t.Postings {
		if p := &t.Postings[j]; p.Units <= 0 || p.From == p.To {
			return buf, fmt.Errorf("%w: transaction %d posting %d is malformed", ErrVerify, t.ID, j)
		}
	}
	return buf, nil
}

// checkHolds reads every hold: each must be well formed; each hold in hand
// must be what its trail of events says and have captured what the
// journal's captures of it add up to; and each pending hold on a balance
// in hand adds what it reserves to that balance's held amount. Then no
// hold in hand's range may be missing that the journal or the events name.
func (r *Reader) checkHolds(ctx context.Context, bals *balanceBatch, holds *holdBatch, audit *eventAudit, rep *VerifyReport) error {
	if bals.done && holds.done {
		return nil
	}
	for after := uint64(0); ; {
		if err := ctx.Err(); err != nil {
			return err
		}
		hs, err := r.rt.Holds(after, verifyPage)
		if err != nil {
			return err
		}
		for i := range hs {
			h := &hs[i]
			if h.Units <= 0 || h.Captured < 0 || h.Captured > h.Units {
				return fmt.Errorf("%w: hold %d captured %d of %d", ErrVerify, h.ID, h.Captured, h.Units)
			}
			if j, ok := holds.at[h.ID]; ok {
				if err := audit.checkHold(h, holds.captured[j], &rep.UnchainedHolds); err != nil {
					return err
				}
				rep.Holds++
			}
			if h.Status != driver.HoldPending {
				continue
			}
			k := BalanceKey{h.Account, h.Asset}
			j, ok := bals.at[k]
			if !ok {
				if bals.in(k) {
					return fmt.Errorf("%w: hold %d reserves from %s %s, which has no stored balance", ErrVerify, h.ID, h.Account, h.Asset)
				}
				continue
			}
			sum, ok := addUnits(bals.held[j], h.Units-h.Captured)
			if !ok {
				return fmt.Errorf("%w: %s %s: pending holds reserve more than the int64 range", ErrVerify, h.Account, h.Asset)
			}
			bals.held[j] = sum
		}
		if len(hs) < verifyPage {
			break
		}
		after = hs[len(hs)-1].ID
	}
	if id, ok := holds.capturedUnstored.get(); ok {
		return fmt.Errorf("%w: the journal captures from hold %d, which is not stored", ErrVerify, id)
	}
	if id, ok := holds.eventsUnstored.get(); ok {
		return fmt.Errorf("%w: hold %d has events but is not stored", ErrVerify, id)
	}
	for id := range audit.holds { // kept for a hold in hand that the second read of the holds lacked
		return fmt.Errorf("%w: hold %d has events but is not stored", ErrVerify, id)
	}
	return nil
}

// checkBalances holds each balance in hand to the replay and to its
// pending holds, checks its limit and adds it to the totals.
func (r *Reader) checkBalances(bals *balanceBatch, totals map[string]*int128, rep *VerifyReport) error {
	for i := range bals.stored {
		b := &bals.stored[i]
		if b.Posted != bals.posted[i] {
			return fmt.Errorf("%w: %s %s: stored balance %d, journal says %d", ErrVerify, b.Address, b.Asset, b.Posted, bals.posted[i])
		}
		if b.Held != bals.held[i] {
			return fmt.Errorf("%w: %s %s: held %d, pending holds reserve %d", ErrVerify, b.Address, b.Asset, b.Held, bals.held[i])
		}
		if err := r.checkBalance(b, totals); err != nil {
			return err
		}
		rep.Balances++
	}
	return nil
}

// checkBalance checks that a stored balance is not below its account's
// limit and adds it to the totals.
func (r *Reader) checkBalance(b *driver.Balance, totals map[string]*int128) error {
	acc, err := r.account(b.Address)
	if err != nil {
		return wrapAs(ErrVerify, "balance of "+b.Address, err)
	}
	// The posted amount never goes below the floor. The available amount
	// (posted - held) may, but only after a transfer that reached held
	// funds (TransferRequest.IncludeHeld), which the journal does not mark;
	// so the posted amount is what is checked.
	if floor, bounded := acc.floor(b.Asset); bounded && b.Posted < floor {
		return fmt.Errorf("%w: %s %s is below its limit", ErrVerify, b.Address, b.Asset)
	}
	tot := totals[b.Asset]
	if tot == nil {
		tot = &int128{}
		totals[b.Asset] = tot
	}
	tot.add(b.Posted)
	return nil
}

// checkTotals reports the totals and checks that each is zero.
func (r *Reader) checkTotals(totals map[string]*int128, rep *VerifyReport) error {
	codes := make([]string, 0, len(totals))
	for c := range totals {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	for _, c := range codes {
		a, err := r.Asset(c)
		if err != nil {
			return wrapAs(ErrVerify, "balance in "+c, err)
		}
		sum := decimal.NewFromBigInt(totals[c].big(), -a.Precision)
		rep.Totals[c] = sum
		if !totals[c].isZero() {
			return fmt.Errorf("%w: %s sums to %s, not zero", ErrVerify, c, sum.StringFixed(a.Precision))
		}
	}
	return nil
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
