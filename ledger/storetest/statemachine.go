package storetest

import (
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/driver"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
)

// testStateMachine drives the ledger and a plain model (maps of int64
// minor units) side by side with random operations, valid and invalid, and
// checks after every step that the two agree.
//
// Checks share a store, smChecksPerStore at a time, so the store grows as
// a real one does without each Verify replaying everything ever written:
// each check works in its own namespace (accounts "smN:...", assets
// "..._N_i"), so the model covers everything the check can touch.
func testStateMachine(t *testing.T, first *env) {
	n := 0
	stats := map[string]int{}
	e := first
	t.Cleanup(func() {
		if e != first {
			_ = e.store.Close()
		}
	})
	rapid.Check(t, func(rt *rapid.T) {
		n++
		if n%smChecksPerStore == 0 {
			next := openEnv(t, first.openStore, e.clock)
			if e != first {
				_ = e.store.Close()
			}
			e = next
		}
		m := newMachine(rt, e, n)
		m.stats = stats
		rt.Repeat(map[string]func(*rapid.T){
			"":                m.check,
			"fund":            m.fund,
			"transfer":        m.transfer,
			"invalidTransfer": m.invalidTransfer,
			"replay":          m.replay,
			"conflict":        m.conflict,
			"hold":            m.hold,
			"invalidHold":     m.invalidHold,
			"capture":         m.capture,
			"void":            m.void,
			"holdBatch":       m.holdBatch,
			"advance":         m.advance,
			"reverse":         m.reverse,
			"convert":         m.convert,
		})
	})
	t.Logf("%d checks; outcomes: %v", n, stats)
}

// Bounds of the generated amounts, in minor units, and of the store's size.
const (
	smChecksPerStore = 25
	smFundUnits      = 50_000
	smTransferUnits  = 5_000
	smMaxExpiry      = 120 * time.Minute
)

type modelHold struct {
	id              uint64
	key             string
	account, asset  string
	units, captured int64
	status          ledger.HoldStatus
	expiresAt       time.Time
	replay          func() (ledger.Hold, error)
}

type modelTx struct {
	id       uint64
	kind     ledger.Kind
	postings []driver.Posting // From, To, Asset, Units
	reversed bool
}

type keyedTx struct {
	id     uint64
	replay func() (uint64, error)
}

// machine is the reference model and the ledger it is compared with.
type machine struct {
	e     *env
	ns    string
	steps int

	world, exchange, remainder, fees string
	members                          []string
	accounts                         []string // every account of the namespace
	unbounded                        map[string]bool
	limits                           map[ledger.BalanceKey]int64
	assets                           []ledger.Asset

	posted, held map[ledger.BalanceKey]int64
	holds        []*modelHold
	txs          []*modelTx
	keys         map[string]keyedTx
	holdKeys     map[string]*modelHold
	seq          int
	stats        map[string]int // outcomes by operation, for the log

	// The event log: every event up to evSeen was checked; want lists the
	// events the steps since then must have emitted, in order, as
	// "type/subject".
	evSeen uint64
	want   []string
}

// expect records an event a step must have emitted.
func (m *machine) expect(typ string, subject uint64) {
	m.want = append(m.want, fmt.Sprintf("%s/%d", typ, subject))
}

func newMachine(rt *rapid.T, e *env, n int) *machine {
	ns := fmt.Sprintf("sm%d", n)
	m := &machine{
		e: e, ns: ns,
		world: ns + ":world", exchange: ns + ":exchange", remainder: ns + ":remainder", fees: ns + ":fees",
		unbounded: map[string]bool{}, limits: map[ledger.BalanceKey]int64{},
		posted: map[ledger.BalanceKey]int64{}, held: map[ledger.BalanceKey]int64{},
		keys: map[string]keyedTx{}, holdKeys: map[string]*modelHold{},
	}
	// Let every hold of earlier checks expire, so that Tick releases only
	// this check's holds and the count it returns can be predicted.
	e.clock.Advance(smMaxExpiry + time.Minute)
	_, err := e.l.Tick(e.ctx)
	require.NoError(rt, err)

	// Two or three assets, their codes made unique to the namespace.
	k := rapid.IntRange(2, 3).Draw(rt, "assets")
	for i := 0; i < k; i++ {
		a := ledgertest.Asset().Draw(rt, "asset")
		if len(a.Code) > 5 {
			a.Code = a.Code[:5]
		}
		a.Code = fmt.Sprintf("%s_%d_%d", a.Code, n, i)
		m.assets = append(m.assets, a)
	}
	for i := 0; i < 4; i++ {
		m.members = append(m.members, fmt.Sprintf("%s:m%d", ns, i))
	}
	m.accounts = append([]string{m.world, m.exchange, m.remainder, m.fees}, m.members...)
	// m0 and m1 may not go below zero; m2 has a limit in the first asset,
	// m3 in every asset.
	policies := make([]ledger.Overdraft, len(m.members))
	for i, addr := range m.members {
		if i < 2 {
			continue
		}
		policies[i].Limits = map[string]decimal.Decimal{}
		for j, a := range m.assets {
			if i == 3 || j == 0 {
				u := rapid.Int64Range(1, smTransferUnits).Draw(rt, "limit")
				policies[i].Limits[a.Code] = a.Amount(u)
				m.limits[ledger.BalanceKey{Address: addr, Asset: a.Code}] = u
			}
		}
	}
	require.NoError(rt, e.l.Update(e.ctx, func(w *ledger.Writer) error {
		for _, a := range m.assets {
			if err := w.DefineAsset(a); err != nil {
				return err
			}
		}
		for _, addr := range []string{m.world, m.exchange, m.remainder} {
			if _, err := w.OpenAccount(ledger.AccountSpec{Address: addr, Overdraft: ledger.Overdraft{Unbounded: true}}); err != nil {
				return err
			}
		}
		if _, err := w.OpenAccount(ledger.AccountSpec{Address: m.fees}); err != nil {
			return err
		}
		for i, addr := range m.members {
			if _, err := w.OpenAccount(ledger.AccountSpec{Address: addr, Overdraft: policies[i]}); err != nil {
				return err
			}
		}
		return nil
	}))
	m.unbounded[m.world], m.unbounded[m.exchange], m.unbounded[m.remainder] = true, true, true
	require.NoError(rt, e.store.View(e.ctx, func(r driver.ReadTx) (err error) { h, err := r.EventHead(); m.evSeen = h.Seq; return err }))
	return m
}

func (m *machine) asset(code string) ledger.Asset {
	for _, a := range m.assets {
		if a.Code == code {
			return a
		}
	}
	panic("storetest: unknown model asset " + code)
}

func (m *machine) newKey(rt *rapid.T) string {
	if !rapid.Bool().Draw(rt, "keyed") {
		return ""
	}
	m.seq++
	return fmt.Sprintf("%s-k%d", m.ns, m.seq)
}

// floorOK reports whether a balance may stand at posted - held.
func (m *machine) floorOK(k ledger.BalanceKey, posted, held int64) bool {
	return m.unbounded[k.Address] || posted-held >= -m.limits[k]
}

// wouldApply reports whether postings pass the ledger's limit rule: every
// balance whose net change is a debit must end within its floor.
func (m *machine) wouldApply(ps []driver.Posting) bool {
	net := map[ledger.BalanceKey]int64{}
	for _, p := range ps {
		net[ledger.BalanceKey{Address: p.From, Asset: p.Asset}] -= p.Units
		net[ledger.BalanceKey{Address: p.To, Asset: p.Asset}] += p.Units
	}
	for k, d := range net {
		if d < 0 && !m.floorOK(k, m.posted[k]+d, m.held[k]) {
			return false
		}
	}
	return true
}

func (m *machine) apply(ps []driver.Posting) {
	for _, p := range ps {
		m.posted[ledger.BalanceKey{Address: p.From, Asset: p.Asset}] -= p.Units
		m.posted[ledger.BalanceKey{Address: p.To, Asset: p.Asset}] += p.Units
	}
}

// nsState is what the namespace shows: the head, every non-zero balance
// in minor units (posted, held) and every hold's status and captured
// units. A balance at zero and one never written read alike, so zero ones
// are left out.
type nsState struct {
	head     driver.Head
	balances map[ledger.BalanceKey][2]int64
	holds    map[uint64][2]int64
	evHead   uint64
}

// state reads the namespace in a few calls per snapshot (a store where each
// call is a round trip pays for every one): balances through the public
// Reader, the head and holds through the store.
func (m *machine) state(rt *rapid.T) nsState {
	s := nsState{balances: map[ledger.BalanceKey][2]int64{}, holds: map[uint64][2]int64{}}
	require.NoError(rt, m.e.l.View(m.e.ctx, func(r *ledger.Reader) error {
		for _, addr := range m.accounts {
			bs, err := r.Balances(addr)
			if err != nil {
				return err
			}
			for _, b := range bs {
				a := m.asset(b.Asset)
				posted, err := a.Units(b.Posted)
				require.NoError(rt, err)
				held, err := a.Units(b.Held)
				require.NoError(rt, err)
				requireDecEqual(rt, b.Posted.Sub(b.Held), b.Available, "%s %s available", addr, b.Asset)
				if posted != 0 || held != 0 {
					s.balances[ledger.BalanceKey{Address: addr, Asset: b.Asset}] = [2]int64{posted, held}
				}
			}
		}
		return nil
	}))
	require.NoError(rt, m.e.store.View(m.e.ctx, func(r driver.ReadTx) (err error) {
		h, err := r.EventHead()
		if err != nil {
			return err
		}
		s.evHead = h.Seq
		if s.head, err = r.Head(); err != nil || len(m.holds) == 0 {
			return err
		}
		const page = 500
		for after := m.holds[0].id - 1; ; {
			hs, err := r.Holds(after, page)
			if err != nil {
				return err
			}
			for _, h := range hs {
				s.holds[h.ID] = [2]int64{int64(h.Status), h.Captured}
			}
			if len(hs) < page {
				return nil
			}
			after = hs[len(hs)-1].ID
		}
	}))
	return s
}

func requireDecEqual(t require.TestingT, want, got decimal.Decimal, msgAndArgs ...any) {
	require.True(t, want.Equal(got), append([]any{"want %s, got %s", want, got}, msgAndArgs...)...)
}

// refused checks a refusal: the expected error, and nothing changed.
func (m *machine) refused(rt *rapid.T, before nsState, err, want error, what string) {
	m.stats[what+" refused ("+strings.TrimPrefix(want.Error(), "ledger: ")+")"]++
	require.ErrorIs(rt, err, want, what)
	require.Equal(rt, before, m.state(rt), "%s was refused but changed something", what)
}

// check compares the ledger with the model; it runs after every step.
func (m *machine) check(rt *rapid.T) {
	m.steps++
	s := m.state(rt)
	totals := map[string]int64{}
	for _, addr := range m.accounts {
		for _, a := range m.assets {
			k := ledger.BalanceKey{Address: addr, Asset: a.Code}
			got := s.balances[k]
			require.Equal(rt, [2]int64{m.posted[k], m.held[k]}, got, "%s %s (posted, held)", addr, a.Code)
			require.True(rt, m.floorOK(k, got[0], got[1]), "%s %s is below its limit: %d-%d", addr, a.Code, got[0], got[1])
			totals[a.Code] += got[0]
		}
	}
	for k := range s.balances {
		_, ok := m.posted[k]
		_, ok2 := m.held[k]
		require.True(rt, ok || ok2, "balance %v the model never touched", k)
	}
	for _, h := range m.holds {
		require.Equal(rt, [2]int64{int64(h.status), h.captured}, s.holds[h.id], "hold %d (status, captured)", h.id)
	}
	for code, total := range totals {
		require.Zero(rt, total, "%s sums to %d", code, total)
	}
	m.checkEvents(rt, s.evHead)
	// Verify replays the whole journal, so only every few steps (and
	// first thing in every check).
	if m.steps%8 == 1 {
		_, err := m.e.l.Verify(m.e.ctx)
		require.NoError(rt, err)
	}
}

// checkEvents reads the events since the last check: their sequence
// numbers follow on with no gap, and they are exactly the ones the steps
// since then emitted, in order.
func (m *machine) checkEvents(rt *rapid.T, head uint64) {
	var got []string
	next := m.evSeen + 1
	// Through the ledger: it renders what a posted event keeps by
	// reference (its subject and data) from the event's transaction.
	require.NoError(rt, m.e.l.View(m.e.ctx, func(r *ledger.Reader) error {
		for after := m.evSeen; after < head; {
			evs, err := r.Events(after, 100)
			if err != nil {
				return err
			}
			require.NotEmpty(rt, evs, "events after %d up to the head %d", after, head)
			for _, ev := range evs {
				require.Equal(rt, next, ev.Seq, "event sequence numbers have no gap")
				next++
				got = append(got, ev.Type+"/"+ev.Subject)
				if ev.Type == ledger.EventTransactionPosted {
					require.Equal(rt, ev.Subject, fmt.Sprint(ev.TxID), "a posted event's TxID")
					require.Contains(rt, string(ev.Data), `"postings":[{"from":`, "a posted event's data")
				}
				after = ev.Seq
			}
		}
		return nil
	}))
	require.Equal(rt, m.want, got, "the events emitted since the last check")
	m.evSeen, m.want = head, nil
}

// post posts req and compares the outcome with want: the postings the
// model expects, or nil when it expects the refusal wantErr.
func (m *machine) post(rt *rapid.T, what string, kind ledger.Kind, expect []driver.Posting, wantErr error, key string,
	do func() (ledger.Transaction, error)) *modelTx {
	before := m.state(rt)
	tr, err := do()
	if wantErr != nil {
		m.refused(rt, before, err, wantErr, what)
		return nil
	}
	require.NoError(rt, err, what)
	m.stats[what]++
	require.Equal(rt, before.head.ID+1, tr.ID, "%s: transaction ID", what)
	require.Equal(rt, kind, tr.Kind)
	require.Len(rt, tr.Postings, len(expect), what)
	for i, p := range expect {
		got := tr.Postings[i]
		require.Equal(rt, [3]string{p.From, p.To, p.Asset}, [3]string{got.From, got.To, got.Asset}, "%s posting %d", what, i)
		require.True(rt, m.asset(p.Asset).Amount(p.Units).Equal(got.Amount), "%s posting %d: %s, model %d", what, i, got.Amount, p.Units)
	}
	m.apply(expect)
	m.expect(ledger.EventTransactionPosted, tr.ID)
	mt := &modelTx{id: tr.ID, kind: kind, postings: expect}
	m.txs = append(m.txs, mt)
	if key != "" {
		m.keys[key] = keyedTx{id: tr.ID, replay: func() (uint64, error) { tr, err := do(); return tr.ID, err }}
	}
	return mt
}

func (m *machine) units(rt *rapid.T, a ledger.Asset, max int64, label string) (int64, decimal.Decimal) {
	d := ledgertest.Amount(a, max).Draw(rt, label)
	u, err := a.Units(d)
	require.NoError(rt, err)
	return u, d
}

func (m *machine) fund(rt *rapid.T) {
	to := rapid.SampledFrom(m.members).Draw(rt, "to")
	a := rapid.SampledFrom(m.assets).Draw(rt, "asset")
	u, d := m.units(rt, a, smFundUnits, "amount")
	key := m.newKey(rt)
	req := ledger.TransferRequest{Key: key, Postings: []ledger.Posting{{From: m.world, To: to, Asset: a.Code, Amount: d}}}
	m.post(rt, "fund", ledger.KindTransfer, []driver.Posting{{From: m.world, To: to, Asset: a.Code, Units: u}}, nil, key,
		func() (ledger.Transaction, error) { return m.e.l.Post(m.e.ctx, req) })
}

func (m *machine) transfer(rt *rapid.T) {
	ps := ledgertest.Postings(m.accounts, m.assets, smTransferUnits, 3).Draw(rt, "postings")
	expect := make([]driver.Posting, len(ps))
	for i, p := range ps {
		u, err := m.asset(p.Asset).Units(p.Amount)
		require.NoError(rt, err)
		expect[i] = driver.Posting{From: p.From, To: p.To, Asset: p.Asset, Units: u}
	}
	var wantErr error
	if !m.wouldApply(expect) {
		wantErr = ledger.ErrInsufficientFunds
	}
	key := m.newKey(rt)
	req := ledger.TransferRequest{Key: key, Postings: ps}
	if rapid.Bool().Draw(rt, "metadata") {
		req.Metadata = map[string]string{"step": fmt.Sprint(m.steps)}
	}
	m.post(rt, "transfer", ledger.KindTransfer, expect, wantErr, key,
		func() (ledger.Transaction, error) { return m.e.l.Post(m.e.ctx, req) })
	if wantErr != nil && key != "" {
		// A refused request does not take its key.
		_, err := m.e.l.TransactionByKey(m.e.ctx, key)
		require.ErrorIs(rt, err, ledger.ErrNotFound)
	}
}

// invalidTransfer sends valid postings with one invalid one among them.
func (m *machine) invalidTransfer(rt *rapid.T) {
	ps := ledgertest.Postings(m.accounts, m.assets, smTransferUnits, 3).Draw(rt, "postings")
	bad := ps[0]
	var want error
	switch rapid.IntRange(0, 3).Draw(rt, "how") {
	case 0:
		bad.Amount = ledgertest.InvalidAmount(m.asset(bad.Asset)).Draw(rt, "amount")
		want = ledger.ErrPrecision
		if bad.Amount.Sign() <= 0 {
			want = ledger.ErrInvalidAmount
		}
	case 1:
		bad.To = bad.From
		want = ledger.ErrInvalidTransaction
	case 2:
		if rapid.Bool().Draw(rt, "from") {
			bad.From = m.ns + ":ghost"
		} else {
			bad.To = m.ns + ":ghost"
		}
		want = ledger.ErrUnknownAccount
	case 3:
		bad.Asset = "UNDEFINED"
		want = ledger.ErrUnknownAsset
	}
	i := rapid.IntRange(0, len(ps)).Draw(rt, "at")
	ps = append(ps[:i], append([]ledger.Posting{bad}, ps[i:]...)...)
	key := m.newKey(rt)
	before := m.state(rt)
	_, err := m.e.l.Post(m.e.ctx, ledger.TransferRequest{Key: key, Postings: ps})
	m.refused(rt, before, err, want, "invalid transfer")
}

// replay sends a keyed request again: same answer, nothing posted.
func (m *machine) replay(rt *rapid.T) {
	if len(m.keys)+len(m.holdKeys) == 0 {
		rt.Skip("no keys yet")
	}
	var names []string
	for k := range m.keys {
		names = append(names, k)
	}
	for k := range m.holdKeys {
		// Replayed whether or not the hold has expired since: a retry
		// always gets the original hold back.
		names = append(names, "hold:"+k)
	}
	if len(names) == 0 {
		rt.Skip("no replayable keys")
	}
	sort.Strings(names)
	name := rapid.SampledFrom(names).Draw(rt, "key")
	before := m.state(rt)
	if hk, isHold := strings.CutPrefix(name, "hold:"); isHold {
		h := m.holdKeys[hk]
		got, err := h.replay()
		require.NoError(rt, err, "replayed hold %s", h.key)
		require.Equal(rt, h.id, got.ID)
	} else {
		k := m.keys[name]
		id, err := k.replay()
		require.NoError(rt, err, "replayed %s", name)
		require.Equal(rt, k.id, id, "replayed %s", name)
	}
	require.Equal(rt, before, m.state(rt), "a replay changed something")
	m.stats["replay"]++
}

// conflict reuses a key for a different request.
func (m *machine) conflict(rt *rapid.T) {
	if len(m.keys)+len(m.holdKeys) == 0 {
		rt.Skip("no keys yet")
	}
	before := m.state(rt)
	a := m.assets[0]
	if len(m.holdKeys) > 0 && (len(m.keys) == 0 || rapid.Bool().Draw(rt, "hold")) {
		var names []string
		for k := range m.holdKeys {
			names = append(names, k)
		}
		sort.Strings(names)
		h := m.holdKeys[rapid.SampledFrom(names).Draw(rt, "key")]
		_, err := m.e.l.Hold(m.e.ctx, ledger.HoldRequest{Key: h.key, Account: h.account, Asset: h.asset,
			Amount: m.asset(h.asset).Amount(h.units + 1), ExpiresAt: m.e.clock.Now().Add(time.Hour)})
		m.refused(rt, before, err, ledger.ErrIdempotencyConflict, "conflicting hold")
		return
	}
	var names []string
	for k := range m.keys {
		names = append(names, k)
	}
	sort.Strings(names)
	key := rapid.SampledFrom(names).Draw(rt, "key")
	// No model request carries this metadata, so this request differs
	// from whatever the key was used for.
	_, err := m.e.l.Post(m.e.ctx, ledger.TransferRequest{Key: key, Metadata: map[string]string{"conflict": "yes"},
		Postings: []ledger.Posting{{From: m.world, To: m.members[0], Asset: a.Code, Amount: a.Amount(1)}}})
	m.refused(rt, before, err, ledger.ErrIdempotencyConflict, "conflicting transfer")
}

func (m *machine) hold(rt *rapid.T) {
	acct := rapid.SampledFrom(append([]string{m.world}, m.members...)).Draw(rt, "account")
	a := rapid.SampledFrom(m.assets).Draw(rt, "asset")
	u, d := m.units(rt, a, smTransferUnits, "amount")
	exp := m.e.clock.Now().Add(time.Duration(rapid.Int64Range(1, int64(smMaxExpiry/time.Minute)).Draw(rt, "minutes")) * time.Minute)
	key := m.newKey(rt)
	req := ledger.HoldRequest{Key: key, Account: acct, Asset: a.Code, Amount: d, ExpiresAt: exp}
	k := ledger.BalanceKey{Address: acct, Asset: a.Code}
	before := m.state(rt)
	h, err := m.e.l.Hold(m.e.ctx, req)
	if !m.floorOK(k, m.posted[k], m.held[k]+u) {
		m.refused(rt, before, err, ledger.ErrInsufficientFunds, "hold")
		return
	}
	require.NoError(rt, err, "hold")
	m.stats["hold"]++
	require.Equal(rt, ledger.HoldPending, h.Status)
	require.True(rt, h.ExpiresAt.Equal(exp))
	m.held[k] += u
	m.expect(ledger.EventHoldCreated, h.ID)
	mh := &modelHold{id: h.ID, key: key, account: acct, asset: a.Code, units: u, status: ledger.HoldPending, expiresAt: exp,
		replay: func() (ledger.Hold, error) { return m.e.l.Hold(m.e.ctx, req) }}
	m.holds = append(m.holds, mh)
	if key != "" {
		m.holdKeys[key] = mh
	}
}

func (m *machine) invalidHold(rt *rapid.T) {
	acct := rapid.SampledFrom(m.members).Draw(rt, "account")
	a := rapid.SampledFrom(m.assets).Draw(rt, "asset")
	req := ledger.HoldRequest{Account: acct, Asset: a.Code, Amount: ledgertest.Amount(a, smTransferUnits).Draw(rt, "amount"),
		ExpiresAt: m.e.clock.Now().Add(time.Hour)}
	var want error
	switch rapid.IntRange(0, 2).Draw(rt, "how") {
	case 0:
		req.Amount = ledgertest.InvalidAmount(a).Draw(rt, "invalid")
		want = ledger.ErrPrecision
		if req.Amount.Sign() <= 0 {
			want = ledger.ErrInvalidAmount
		}
	case 1:
		req.ExpiresAt = m.e.clock.Now().Add(-time.Duration(rapid.Int64Range(0, 1000).Draw(rt, "ago")) * time.Second)
		want = ledger.ErrInvalidTransaction
	case 2:
		req.Account = m.ns + ":ghost"
		want = ledger.ErrUnknownAccount
	}
	before := m.state(rt)
	_, err := m.e.l.Hold(m.e.ctx, req)
	m.refused(rt, before, err, want, "invalid hold")
}

// pickHold picks a hold, a pending one three times out of four if any.
func (m *machine) pickHold(rt *rapid.T) *modelHold {
	if len(m.holds) == 0 {
		rt.Skip("no holds yet")
	}
	var pending []*modelHold
	for _, h := range m.holds {
		if h.status == ledger.HoldPending {
			pending = append(pending, h)
		}
	}
	if len(pending) > 0 && rapid.IntRange(0, 3).Draw(rt, "pending") > 0 {
		return rapid.SampledFrom(pending).Draw(rt, "hold")
	}
	return rapid.SampledFrom(m.holds).Draw(rt, "hold")
}

func (m *machine) capture(rt *rapid.T) {
	h := m.pickHold(rt)
	a := m.asset(h.asset)
	var others []string
	for _, addr := range m.accounts {
		if addr != h.account {
			others = append(others, addr)
		}
	}
	remaining := h.units - h.captured
	legs := rapid.IntRange(1, 2).Draw(rt, "legs")
	var dests []ledger.Leg
	var expect []driver.Posting
	var total int64
	for i := 0; i < legs; i++ {
		to := rapid.SampledFrom(others).Draw(rt, "to")
		// Mostly within what remains, sometimes beyond it.
		u, d := m.units(rt, a, max(remaining/int64(legs), 1)+rapid.Int64Range(0, 2).Draw(rt, "beyond"), "amount")
		dests = append(dests, ledger.Leg{To: to, Amount: d})
		expect = append(expect, driver.Posting{From: h.account, To: to, Asset: h.asset, Units: u})
		total += u
	}
	final := rapid.Bool().Draw(rt, "final")
	var wantErr error
	switch {
	case h.status != ledger.HoldPending:
		wantErr = ledger.ErrHoldClosed
	case !m.e.clock.Now().Before(h.expiresAt):
		wantErr = ledger.ErrHoldExpired
	case total > remaining:
		wantErr = ledger.ErrCaptureExceedsHold
	}
	key := m.newKey(rt)
	req := ledger.CaptureRequest{Key: key, Hold: h.id, Destinations: dests, Final: final}
	mt := m.post(rt, "capture", ledger.KindCapture, expect, wantErr, key,
		func() (ledger.Transaction, error) { return m.e.l.Capture(m.e.ctx, req) })
	if mt == nil {
		return
	}
	m.expect(ledger.EventHoldCaptured, h.id)
	k := ledger.BalanceKey{Address: h.account, Asset: h.asset}
	h.captured += total
	release := total
	if final || h.captured == h.units {
		release = remaining
		h.status = ledger.HoldCaptured
	}
	m.held[k] -= release
}

func (m *machine) void(rt *rapid.T) {
	h := m.pickHold(rt)
	before := m.state(rt)
	got, err := m.e.l.Void(m.e.ctx, h.id)
	switch h.status {
	case ledger.HoldCaptured:
		m.refused(rt, before, err, ledger.ErrHoldClosed, "void of a captured hold")
		return
	case ledger.HoldVoided, ledger.HoldExpired:
		require.NoError(rt, err)
		require.Equal(rt, h.status, got.Status)
		require.Equal(rt, before, m.state(rt), "voiding a closed hold changed something")
		return
	}
	require.NoError(rt, err)
	// A pending hold past its expiry is released as expired (the sweep
	// has not run yet); one still in time as voided.
	want := ledger.HoldVoided
	if !m.e.clock.Now().Before(h.expiresAt) {
		want = ledger.HoldExpired
	}
	require.Equal(rt, want, got.Status)
	m.held[ledger.BalanceKey{Address: h.account, Asset: h.asset}] -= h.units - h.captured
	h.status = want
	if want == ledger.HoldVoided {
		m.expect(ledger.EventHoldVoided, h.id)
	} else {
		m.expect(ledger.EventHoldExpired, h.id)
	}
	m.stats["void"]++
}

// advance moves the clock and, mostly, lets Tick expire what is due. A
// hold past its expiry but not yet released is still held, and refuses
// captures.
func (m *machine) advance(rt *rapid.T) {
	now := m.e.clock.Advance(time.Duration(rapid.Int64Range(1, 90).Draw(rt, "minutes")) * time.Minute)
	if rapid.IntRange(0, 3).Draw(rt, "tick") == 0 {
		return
	}
	var due []*modelHold
	for _, h := range m.holds {
		if h.status == ledger.HoldPending && !h.expiresAt.After(now) {
			m.held[ledger.BalanceKey{Address: h.account, Asset: h.asset}] -= h.units - h.captured
			h.status = ledger.HoldExpired
			due = append(due, h)
		}
	}
	want := len(due)
	// Tick releases holds in the order they fall due: by expiry, then ID.
	sort.Slice(due, func(i, j int) bool {
		if !due[i].expiresAt.Equal(due[j].expiresAt) {
			return due[i].expiresAt.Before(due[j].expiresAt)
		}
		return due[i].id < due[j].id
	})
	for _, h := range due {
		m.expect(ledger.EventHoldExpired, h.id)
	}
	n, err := m.e.l.Tick(m.e.ctx)
	require.NoError(rt, err)
	require.Equal(rt, want, n, "holds released by Tick")
	m.stats["expired by Tick"] += n
}

func (m *machine) reverse(rt *rapid.T) {
	key := m.newKey(rt)
	if len(m.txs) == 0 || rapid.IntRange(0, 9).Draw(rt, "unknown") == 0 {
		before := m.state(rt)
		_, err := m.e.l.Reverse(m.e.ctx, ledger.ReversalRequest{Key: key, ID: 1 << 62})
		m.refused(rt, before, err, ledger.ErrNotFound, "reversal of an unknown transaction")
		return
	}
	orig := rapid.SampledFrom(m.txs).Draw(rt, "tx")
	expect := make([]driver.Posting, 0, len(orig.postings))
	for i := len(orig.postings) - 1; i >= 0; i-- {
		p := orig.postings[i]
		expect = append(expect, driver.Posting{From: p.To, To: p.From, Asset: p.Asset, Units: p.Units})
	}
	var wantErr error
	switch {
	case orig.kind == ledger.KindReversal:
		wantErr = ledger.ErrInvalidTransaction
	case orig.reversed:
		wantErr = ledger.ErrAlreadyReversed
	case !m.wouldApply(expect):
		wantErr = ledger.ErrInsufficientFunds
	}
	req := ledger.ReversalRequest{Key: key, ID: orig.id}
	if m.post(rt, "reversal", ledger.KindReversal, expect, wantErr, key,
		func() (ledger.Transaction, error) { return m.e.l.Reverse(m.e.ctx, req) }) != nil {
		orig.reversed = true
		m.expect(ledger.EventTransactionReversed, orig.id)
	}
}

var roundings = []ledger.Rounding{ledger.RoundDown, ledger.RoundUp, ledger.RoundHalfUp, ledger.RoundHalfEven}

// roundRat rounds a non-negative rational to an integer by mode.
func roundRat(r *big.Rat, mode ledger.Rounding) *big.Int {
	q, rem := new(big.Int).QuoRem(r.Num(), r.Denom(), new(big.Int))
	if rem.Sign() == 0 {
		return q
	}
	twice := new(big.Int).Lsh(rem, 1).Cmp(r.Denom()) // against one half
	up := false
	switch mode {
	case ledger.RoundUp:
		up = true
	case ledger.RoundHalfUp:
		up = twice >= 0
	case ledger.RoundHalfEven:
		up = twice > 0 || (twice == 0 && q.Bit(0) == 1)
	}
	if up {
		q.Add(q, big.NewInt(1))
	}
	return q
}

func pow10(n int32) *big.Int { return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil) }

func (m *machine) convert(rt *rapid.T) {
	from := rapid.SampledFrom(m.assets).Draw(rt, "from")
	to := rapid.SampledFrom(m.assets).Filter(func(a ledger.Asset) bool { return a.Code != from.Code }).Draw(rt, "to")
	p, q := rapid.Int64Range(1, 20).Draw(rt, "p"), rapid.Int64Range(1, 20).Draw(rt, "q")
	rule := ledger.ConversionRule{From: from.Code, To: to.Code, Rate: ledger.NewRate(p, q),
		Rounding: rapid.SampledFrom(roundings).Draw(rt, "rounding"), Exchange: m.exchange, Remainder: m.remainder}
	var fixed int64
	if rapid.Bool().Draw(rt, "fee") {
		rule.FeeRate = rapid.SampledFrom([]decimal.Decimal{decimal.Zero, dec("0.01"), dec("0.05"), dec("0.25")}).Draw(rt, "feeRate")
		fixed = rapid.Int64Range(0, 3).Draw(rt, "fixedFee")
		rule.FixedFee = to.Amount(fixed)
		rule.FeeRounding = rapid.SampledFrom(roundings).Draw(rt, "feeRounding")
		rule.FeeAccount = m.fees
	}
	payer := rapid.SampledFrom(append([]string{m.world}, m.members...)).Draw(rt, "payer")
	payee := rapid.SampledFrom(m.members).Draw(rt, "payee")
	in, amount := m.units(rt, from, smTransferUnits, "amount")

	// The reference arithmetic: value = in × rate in target minor units.
	value := new(big.Rat).SetFrac(new(big.Int).Mul(big.NewInt(in*p), pow10(to.Precision)), new(big.Int).Mul(big.NewInt(q), pow10(from.Precision)))
	gross := roundRat(value, rule.Rounding)
	// used: the fewest source units worth at least gross.
	perUnit := new(big.Rat).Quo(value, new(big.Rat).SetInt64(in)) // target units per source unit
	used := roundRat(new(big.Rat).Quo(new(big.Rat).SetInt(gross), perUnit), ledger.RoundUp)
	fee := big.NewInt(0)
	if rule.FeeRate.Sign() > 0 || fixed > 0 {
		fee = roundRat(new(big.Rat).Mul(new(big.Rat).SetInt(gross), rule.FeeRate.Rat()), rule.FeeRounding)
		fee.Add(fee, big.NewInt(fixed))
	}
	g, u, f := gross.Int64(), used.Int64(), fee.Int64()
	var expect []driver.Posting
	add := func(a, b, code string, n int64) {
		if n > 0 {
			expect = append(expect, driver.Posting{From: a, To: b, Asset: code, Units: n})
		}
	}
	add(payer, m.exchange, from.Code, min(u, in))
	add(payer, m.remainder, from.Code, in-u)
	add(m.remainder, m.exchange, from.Code, u-in)
	add(m.exchange, payee, to.Code, g-f)
	add(m.exchange, m.fees, to.Code, f)

	var wantErr error
	switch {
	case g == 0, f >= g:
		wantErr = ledger.ErrInvalidAmount
	case !m.wouldApply(expect):
		wantErr = ledger.ErrInsufficientFunds
	}
	if wantErr == nil {
		// What the model itself promises: rounding moves less than one
		// target unit, and used is the fewest source units worth gross.
		diff := new(big.Rat).Sub(new(big.Rat).SetInt(gross), value)
		require.Less(rt, new(big.Rat).Abs(diff).Cmp(big.NewRat(1, 1)), 0)
		worth := func(n int64) *big.Rat { return new(big.Rat).Mul(new(big.Rat).SetInt64(n), perUnit) }
		require.GreaterOrEqual(rt, worth(u).Cmp(new(big.Rat).SetInt(gross)), 0)
		require.Less(rt, worth(u-1).Cmp(new(big.Rat).SetInt(gross)), 0)
		if rule.Rounding == ledger.RoundDown {
			require.LessOrEqual(rt, u, in, "rounding down never takes more than given")
		}
	}
	key := m.newKey(rt)
	req := ledger.ConversionRequest{Key: key, Rule: rule, From: payer, To: payee, Amount: amount}
	var conv ledger.Conversion
	mt := m.post(rt, "conversion", ledger.KindConversion, expect, wantErr, key, func() (ledger.Transaction, error) {
		c, err := m.e.l.Convert(m.e.ctx, req)
		conv = c
		return c.Transaction, err
	})
	if mt == nil {
		return
	}
	q1, err := rule.Quote(from, to, in)
	require.NoError(rt, err)
	require.Equal(rt, ledger.Quote{In: in, Used: u, Remainder: in - u, Gross: g, Fee: f, Net: g - f}, q1)
	require.True(rt, to.Amount(g-f).Equal(conv.Net))
	require.True(rt, to.Amount(f).Equal(conv.Fee))
	require.True(rt, from.Amount(in-u).Equal(conv.Remainder))
}

// holdBatch runs holds, captures and voids as the items of one
// UpdateBatch, each item its own unit of work: some fail after they wrote
// (a hold or a capture, then an error), which must leave nothing, not even
// their events, and some first try a step that is refused before writing
// (Atomic), which must not stop them. Verify runs right after: the hold
// events of the items that committed replay into exactly the holds.
func (m *machine) holdBatch(rt *rapid.T) {
	type item struct {
		kind  string
		h     *modelHold // capture, void
		a     ledger.Asset
		units int64
		exp   time.Time
		final bool
		// Set by the item's run (the batch may run again whole).
		id   uint64 // the hold made, or the capture's transaction
		gone ledger.HoldStatus
	}
	now := m.e.clock.Now()
	used := map[uint64]bool{}
	pending := func() *modelHold {
		var ps []*modelHold
		for _, h := range m.holds {
			if h.status == ledger.HoldPending && !used[h.id] && now.Before(h.expiresAt) {
				ps = append(ps, h)
			}
		}
		if len(ps) == 0 {
			return nil
		}
		h := rapid.SampledFrom(ps).Draw(rt, "hold")
		used[h.id] = true
		return h
	}
	var items []*item
	for n := rapid.IntRange(1, 4).Draw(rt, "items"); len(items) < n; {
		it := &item{kind: rapid.SampledFrom([]string{"hold", "hold then fail", "refused then hold", "capture", "capture then fail", "void"}).Draw(rt, "item")}
		switch it.kind {
		case "capture", "capture then fail", "void":
			if it.h = pending(); it.h == nil {
				it.kind = "hold"
			}
		}
		it.a = rapid.SampledFrom(m.assets).Draw(rt, "asset")
		if it.h != nil {
			it.a = m.asset(it.h.asset)
		}
		it.units, _ = m.units(rt, it.a, smTransferUnits, "amount")
		if it.h != nil {
			it.units = 1 // a hold has at least one unit left
		}
		it.exp = now.Add(time.Duration(rapid.Int64Range(1, int64(smMaxExpiry/time.Minute)).Draw(rt, "minutes")) * time.Minute)
		it.final = rapid.Bool().Draw(rt, "final")
		items = append(items, it)
	}
	fns := make([]func(*ledger.Writer) error, len(items))
	for i, it := range items {
		fns[i] = func(w *ledger.Writer) error {
			it.id, it.gone = 0, 0
			hold := func() error {
				h, err := w.Hold(ledger.HoldRequest{Account: m.world, Asset: it.a.Code, Amount: it.a.Amount(it.units), ExpiresAt: it.exp})
				it.id = h.ID
				return err
			}
			switch it.kind {
			case "hold":
				return hold()
			case "hold then fail":
				if err := hold(); err != nil {
					return err
				}
				return errBoom
			case "refused then hold":
				err := w.Atomic(func(w *ledger.Writer) error {
					_, err := w.Capture(ledger.CaptureRequest{Hold: 1 << 62, Destinations: []ledger.Leg{{To: m.exchange, Amount: it.a.Amount(1)}}})
					return err
				})
				if !errors.Is(err, ledger.ErrNotFound) {
					return fmt.Errorf("a capture of no hold: %w", err)
				}
				return hold()
			case "void":
				h, err := w.Void(it.h.id)
				it.gone = h.Status
				return err
			}
			tr, err := w.Capture(ledger.CaptureRequest{Hold: it.h.id, Final: it.final,
				Destinations: []ledger.Leg{{To: m.exchange, Amount: it.a.Amount(it.units)}}})
			it.id = tr.ID
			if err == nil && it.kind == "capture then fail" {
				return errBoom
			}
			return err
		}
	}
	errs, err := m.e.l.UpdateBatch(m.e.ctx, fns)
	require.NoError(rt, err)
	for i, it := range items {
		m.stats["batch item: "+it.kind]++
		switch it.kind {
		case "hold then fail", "capture then fail":
			require.ErrorIs(rt, errs[i], errBoom, it.kind)
			continue
		}
		require.NoError(rt, errs[i], it.kind)
		switch it.kind {
		case "hold", "refused then hold":
			m.held[ledger.BalanceKey{Address: m.world, Asset: it.a.Code}] += it.units
			m.expect(ledger.EventHoldCreated, it.id)
			m.holds = append(m.holds, &modelHold{id: it.id, account: m.world, asset: it.a.Code, units: it.units,
				status: ledger.HoldPending, expiresAt: it.exp})
		case "void":
			require.Equal(rt, ledger.HoldVoided, it.gone)
			m.held[ledger.BalanceKey{Address: it.h.account, Asset: it.h.asset}] -= it.h.units - it.h.captured
			it.h.status = ledger.HoldVoided
			m.expect(ledger.EventHoldVoided, it.h.id)
		case "capture":
			h := it.h
			ps := []driver.Posting{{From: h.account, To: m.exchange, Asset: h.asset, Units: it.units}}
			m.apply(ps)
			m.txs = append(m.txs, &modelTx{id: it.id, kind: ledger.KindCapture, postings: ps})
			m.expect(ledger.EventTransactionPosted, it.id)
			m.expect(ledger.EventHoldCaptured, h.id)
			release := it.units
			remaining := h.units - h.captured
			h.captured += it.units
			if it.final || h.captured == h.units {
				release, h.status = remaining, ledger.HoldCaptured
			}
			m.held[ledger.BalanceKey{Address: h.account, Asset: h.asset}] -= release
		}
	}
	_, err = m.e.l.Verify(m.e.ctx)
	require.NoError(rt, err, "Verify after a batch of holds")
}
