package ledger_test

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/driver"
	"github.com/rewardkit/rewardkit/ledger/teststore"
)

// The model of lots the property test holds the ledger to, written
// plainly: a member's expiring lots in consumption order, what each
// transaction consumed, the holds.

type mLot struct {
	tx    uint64
	units int64
	at    time.Time
}

type mMember struct {
	addr         string
	posted, held int64
	lots         []mLot
}

func (m *mMember) sortLots() {
	sort.SliceStable(m.lots, func(i, j int) bool {
		if !m.lots[i].at.Equal(m.lots[j].at) {
			return m.lots[i].at.Before(m.lots[j].at)
		}
		return m.lots[i].tx < m.lots[j].tx
	})
}

func (m *mMember) lotSum() int64 {
	s := int64(0)
	for _, l := range m.lots {
		s += l.units
	}
	return s
}

// consume takes n units, first from the lots first picks, then soonest
// expiry first; what is not in lots never expires.
func (m *mMember) consume(n int64, first func(mLot) bool) []mLot {
	var used []mLot
	take := func(i int) {
		u := min(m.lots[i].units, n)
		if u > 0 {
			m.lots[i].units -= u
			n -= u
			used = append(used, mLot{m.lots[i].tx, u, m.lots[i].at})
		}
	}
	if first != nil {
		for i := range m.lots {
			if first(m.lots[i]) {
				take(i)
			}
		}
	}
	for i := range m.lots {
		take(i)
	}
	kept := m.lots[:0]
	for _, l := range m.lots {
		if l.units > 0 {
			kept = append(kept, l)
		}
	}
	m.lots = kept
	return used
}

func (m *mMember) restore(back []mLot) {
	for _, b := range back {
		found := false
		for i := range m.lots {
			if m.lots[i].tx == b.tx {
				m.lots[i].units += b.units
				found = true
			}
		}
		if !found {
			m.lots = append(m.lots, b)
		}
	}
	m.sortLots()
}

type mTx struct {
	id       uint64
	spend    bool // else a grant
	member   int
	units    int64
	used     []mLot
	reversed bool
}

type mHold struct {
	id        uint64
	member    int
	remaining int64
	exp       time.Time
	open      bool
}

// TestLotsProperty drives random grants (with and without expiry),
// spends, reversals, holds, captures, voids, clock advances, Ticks and
// racing Ticks against the model, on both stores. After every step each
// member's lots and posted amount are the model's, and the lots add up to
// the posted amount with the part that never expires; at the end of each
// run breakage holds exactly what the lot-expired events say expired (no
// lot expired twice, none lost value) and Verify is clean.
func TestLotsProperty(t *testing.T) {
	teststore.Run(t, func(t *testing.T, open teststore.Opener) {
		// A fresh memstore for each run, so that a failing run replays; on
		// PostgreSQL, one schema whose runs each use accounts of their own
		// (a schema per run would hold a pool of connections per run).
		var shared driver.Store
		if strings.HasSuffix(t.Name(), "pgstore") {
			shared = open(t)
		}
		run := 0
		rapid.Check(t, func(rt *rapid.T) {
			store := shared
			if store == nil {
				store = open(t)
			}
			f := newLotFixture(t, store)
			run++
			prefix := fmt.Sprintf("p%d", run)
			breakage := prefix + ":breakage"
			shop := prefix + ":shop"
			members := make([]*mMember, 3)
			require.NoError(rt, f.l.Update(f.ctx, func(w *ledger.Writer) error {
				for _, a := range []string{breakage, shop} {
					if _, err := w.OpenAccount(ledger.AccountSpec{Address: a}); err != nil {
						return err
					}
				}
				for i := range members {
					members[i] = &mMember{addr: fmt.Sprintf("%s:m%d", prefix, i)}
					if _, err := w.OpenAccount(ledger.AccountSpec{Address: members[i].addr}); err != nil {
						return err
					}
				}
				return nil
			}))
			var firstSeq uint64 // the log's last event before this run
			for after := uint64(0); ; {
				page, err := f.l.Events(f.ctx, after, 1000)
				require.NoError(rt, err)
				if len(page) == 0 {
					break
				}
				after = page[len(page)-1].Seq
				firstSeq = after
			}
			var (
				txs      []*mTx
				holds    []*mHold
				broken   int64
				expiries int
			)
			amount := func(n int64) decimal.Decimal { return decimal.NewFromInt(n) }
			tick := func(rt *rapid.T, racers int) {
				now := f.clock.Now()
				wantN := 0
				for _, h := range holds {
					if h.open && !h.exp.After(now) {
						members[h.member].held -= h.remaining
						h.open = false
						wantN++
					}
				}
				for _, m := range members {
					for i := range m.lots {
						l := &m.lots[i]
						if l.at.After(now) {
							break
						}
						// The held amount reserves the lots in consumption
						// order: only what the lots up to l hold beyond it
						// is free.
						upTo := int64(0)
						for _, o := range m.lots[:i+1] {
							upTo += o.units
						}
						if u := min(l.units, m.posted-m.held, upTo-m.held); u > 0 {
							l.units -= u
							m.posted -= u
							broken += u
							expiries++
							wantN++
						}
					}
					m.consume(0, nil) // drops empty lots
				}
				counts := make([]int, racers)
				errs := make([]error, racers)
				var wg sync.WaitGroup
				for i := 0; i < racers; i++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						counts[i], errs[i] = f.l.Tick(f.ctx)
					}()
				}
				wg.Wait()
				got := 0
				for i := range counts {
					require.NoError(rt, errs[i])
					got += counts[i]
				}
				require.Equal(rt, wantN, got, "holds released and lots settled, once")
			}
			rt.Repeat(map[string]func(*rapid.T){
				"grant": func(rt *rapid.T) {
					mi := rapid.IntRange(0, len(members)-1).Draw(rt, "member")
					n := rapid.Int64Range(1, 50).Draw(rt, "units")
					ttl := time.Duration(rapid.IntRange(0, 5*24).Draw(rt, "ttl hours")) * time.Hour
					m := members[mi]
					p := ledger.Posting{From: ledger.World, To: m.addr, Asset: "RUBY", Amount: amount(n)}
					if ttl > 0 {
						p.ExpiresAt, p.Breakage = f.clock.Now().Add(ttl), breakage
					}
					tr, err := f.l.Post(f.ctx, ledger.TransferRequest{Postings: []ledger.Posting{p}})
					require.NoError(rt, err)
					m.posted += n
					if ttl > 0 {
						m.lots = append(m.lots, mLot{tr.ID, n, p.ExpiresAt})
						m.sortLots()
					}
					txs = append(txs, &mTx{id: tr.ID, member: mi, units: n})
				},
				"spend": func(rt *rapid.T) {
					mi := rapid.IntRange(0, len(members)-1).Draw(rt, "member")
					m := members[mi]
					if m.posted-m.held <= 0 {
						rt.Skip("nothing available")
					}
					n := rapid.Int64Range(1, m.posted-m.held).Draw(rt, "units")
					tr, err := f.l.Transfer(f.ctx, "", m.addr, shop, "RUBY", amount(n))
					require.NoError(rt, err)
					m.posted -= n
					txs = append(txs, &mTx{id: tr.ID, spend: true, member: mi, units: n, used: m.consume(n, nil)})
				},
				"reverse": func(rt *rapid.T) {
					if len(txs) == 0 {
						rt.Skip("nothing to reverse")
					}
					x := txs[rapid.IntRange(0, len(txs)-1).Draw(rt, "tx")]
					m := members[x.member]
					_, err := f.l.Reverse(f.ctx, ledger.ReversalRequest{ID: x.id})
					switch {
					case x.reversed:
						require.ErrorIs(rt, err, ledger.ErrAlreadyReversed)
					case !x.spend && m.posted-m.held < x.units:
						require.ErrorIs(rt, err, ledger.ErrInsufficientFunds)
					case !x.spend:
						require.NoError(rt, err)
						m.posted -= x.units
						m.consume(x.units, func(l mLot) bool { return l.tx == x.id })
						x.reversed = true
					default:
						require.NoError(rt, err)
						m.posted += x.units
						m.restore(x.used)
						x.reversed = true
					}
				},
				"hold": func(rt *rapid.T) {
					mi := rapid.IntRange(0, len(members)-1).Draw(rt, "member")
					m := members[mi]
					if m.posted-m.held <= 0 {
						rt.Skip("nothing available")
					}
					n := rapid.Int64Range(1, m.posted-m.held).Draw(rt, "units")
					exp := f.clock.Now().Add(time.Duration(rapid.IntRange(1, 72).Draw(rt, "ttl hours")) * time.Hour)
					h, err := f.l.Hold(f.ctx, ledger.HoldRequest{Account: m.addr, Asset: "RUBY", Amount: amount(n), ExpiresAt: exp})
					require.NoError(rt, err)
					m.held += n
					holds = append(holds, &mHold{id: h.ID, member: mi, remaining: n, exp: exp, open: true})
				},
				"capture": func(rt *rapid.T) {
					var open []*mHold
					for _, h := range holds {
						if h.open && f.clock.Now().Before(h.exp) {
							open = append(open, h)
						}
					}
					if len(open) == 0 {
						rt.Skip("no hold to capture")
					}
					h := open[rapid.IntRange(0, len(open)-1).Draw(rt, "hold")]
					n := rapid.Int64Range(1, h.remaining).Draw(rt, "units")
					final := rapid.Bool().Draw(rt, "final")
					tr, err := f.l.Capture(f.ctx, ledger.CaptureRequest{Hold: h.id, Final: final,
						Destinations: []ledger.Leg{{To: shop, Amount: amount(n)}}})
					require.NoError(rt, err)
					m := members[h.member]
					m.posted -= n
					m.consume(n, nil)
					release := n
					h.remaining -= n
					if final || h.remaining == 0 {
						release += h.remaining
						h.open = false
					}
					m.held -= release
					require.Equal(rt, ledger.KindCapture, tr.Kind)
				},
				"void": func(rt *rapid.T) {
					var open []*mHold
					for _, h := range holds {
						if h.open {
							open = append(open, h)
						}
					}
					if len(open) == 0 {
						rt.Skip("no hold to void")
					}
					h := open[rapid.IntRange(0, len(open)-1).Draw(rt, "hold")]
					_, err := f.l.Void(f.ctx, h.id)
					require.NoError(rt, err)
					members[h.member].held -= h.remaining
					h.open = false
				},
				"advance": func(rt *rapid.T) {
					f.clock.Advance(time.Duration(rapid.IntRange(0, 72).Draw(rt, "hours")) * time.Hour)
				},
				"tick": func(rt *rapid.T) { tick(rt, 1) },
				"racing ticks": func(rt *rapid.T) {
					f.clock.Advance(time.Duration(rapid.IntRange(0, 48).Draw(rt, "hours")) * time.Hour)
					tick(rt, 3)
				},
				"": func(rt *rapid.T) {
					for _, m := range members {
						ls, err := f.l.Lots(f.ctx, m.addr, "RUBY")
						require.NoError(rt, err)
						var want, got []string
						for _, l := range m.lots {
							want = append(want, fmt.Sprintf("%d@%d:%s", l.units, l.tx, l.at.UTC().Format(time.RFC3339)))
						}
						if rest := m.posted - m.lotSum(); rest > 0 {
							want = append(want, fmt.Sprintf("%d@0:never", rest))
						}
						sum := decimal.Zero
						for _, l := range ls {
							at := "never"
							if !l.ExpiresAt.IsZero() {
								at = l.ExpiresAt.UTC().Format(time.RFC3339)
								require.Equal(rt, breakage, l.Breakage)
							}
							got = append(got, fmt.Sprintf("%s@%d:%s", l.Amount, l.Transaction, at))
							sum = sum.Add(l.Amount)
						}
						require.Equal(rt, want, got, m.addr)
						require.EqualValues(rt, m.posted, sum.IntPart(), "the lots add up to what is posted")
						require.EqualValues(rt, m.posted, f.posted(rt, m.addr))
					}
					require.EqualValues(rt, broken, f.posted(rt, breakage))
				},
			})
			// Settle everything, then hold breakage to the events.
			f.clock.Advance(10 * 24 * time.Hour)
			tick(rt, 2)
			var fromEvents int64
			n := 0
			for after := firstSeq; ; {
				page, err := f.l.Events(f.ctx, after, 1000)
				require.NoError(rt, err)
				if len(page) == 0 {
					break
				}
				for _, e := range page {
					if e.Type != ledger.EventLotExpired {
						continue
					}
					var d struct {
						Breakage string `json:"breakage"`
						Amount   string `json:"amount"`
					}
					require.NoError(rt, json.Unmarshal(e.Data, &d))
					if d.Breakage == breakage {
						fromEvents += decimal.RequireFromString(d.Amount).IntPart()
						n++
					}
				}
				after = page[len(page)-1].Seq
			}
			require.Equal(rt, broken, fromEvents, "breakage is what the events say expired")
			require.Equal(rt, expiries, n, "one event per settlement")
			require.EqualValues(rt, broken, f.posted(rt, breakage))
			for _, m := range members {
				require.Empty(rt, m.lots, "after every expiry, no lot is open")
			}
			rep, err := f.l.Verify(f.ctx)
			require.NoError(rt, err)
			require.True(rt, rep.Totals["RUBY"].IsZero())
		})
	})
}
