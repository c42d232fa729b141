package ledger_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
	"github.com/rewardkit/rewardkit/ledger/memstore"
)

// The fuzz targets below drive the ledger's public API with extreme
// values (issue 10 #2: "no public function of any package panics on any
// input"). Their seed corpora run in every `go test`; run one longer with
//
//	go test -run '^$' -fuzz '^FuzzLedgerPublicAPI$' -fuzztime 120s ./ledger/

// sentinels is every error the ledger package declares.
var sentinels = []error{
	ledger.ErrInvalidAmount, ledger.ErrPrecision, ledger.ErrUnknownAsset, ledger.ErrInvalidAsset,
	ledger.ErrAssetConflict, ledger.ErrUnknownAccount, ledger.ErrInvalidAddress, ledger.ErrAccountConflict,
	ledger.ErrInsufficientFunds, ledger.ErrInvalidTransaction, ledger.ErrIdempotencyConflict, ledger.ErrNotFound,
	ledger.ErrDuplicate, ledger.ErrHoldClosed, ledger.ErrHoldExpired, ledger.ErrCaptureExceedsHold,
	ledger.ErrAlreadyReversed, ledger.ErrInvalidRule, ledger.ErrOverflow, ledger.ErrConflict, ledger.ErrVerify,
	ledger.ErrForbidden, ledger.ErrInvalidTime, ledger.ErrClosed,
}

// maxFuzzMessage bounds an error message in the fuzz targets (a Tick
// may join a few).
const maxFuzzMessage = 2000

// fuzzInput reads the fuzzer's bytes as a stream of choices; past the end
// every read is zero.
type fuzzInput struct{ b []byte }

func (in *fuzzInput) byte() byte {
	if len(in.b) == 0 {
		return 0
	}
	c := in.b[0]
	in.b = in.b[1:]
	return c
}

func (in *fuzzInput) n(k int) int { return int(in.byte()) % k }

func (in *fuzzInput) bytes(k int) []byte {
	k = min(k, len(in.b))
	out := in.b[:k]
	in.b = in.b[k:]
	return out
}

func (in *fuzzInput) uint64() uint64 {
	var b [8]byte
	copy(b[:], in.bytes(8))
	return binary.LittleEndian.Uint64(b[:])
}

func (in *fuzzInput) int32() int32 { return int32(uint32(in.uint64())) }

var fuzzT0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// decimal draws an amount: mostly plausible, often extreme.
func (in *fuzzInput) decimal() decimal.Decimal {
	switch in.n(8) {
	case 0, 1, 2: // plausible: 0..999 at exponent -3..2
		return decimal.New(int64(in.n(250))*int64(1+in.n(4)), int32(in.n(6))-3)
	case 3: // any int64 coefficient, any exponent
		return decimal.New(int64(in.uint64()), in.int32())
	case 4: // any int64 coefficient, a small exponent
		return decimal.New(int64(in.uint64()), int32(in.n(80))-40)
	case 5: // a big coefficient from the input, any or a small exponent
		v := new(big.Int).SetBytes(in.bytes(in.n(48)))
		if in.n(2) == 0 {
			v.Neg(v)
		}
		exp := in.int32()
		if in.n(2) == 0 {
			exp = int32(in.n(120)) - 60
		}
		return decimal.NewFromBigInt(v, exp)
	case 6: // a huge coefficient: up to 2^(8*2^16) with trailing zeros
		v := new(big.Int).Lsh(big.NewInt(int64(in.n(256))+1), uint(in.byte())<<8|uint(in.byte()))
		v.Mul(v, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(in.n(64))), nil))
		return decimal.NewFromBigInt(v, -int32(in.byte())<<8-int32(in.byte()))
	}
	extremes := []decimal.Decimal{
		decimal.New(1, math.MaxInt32), decimal.New(-1, math.MaxInt32), decimal.New(1, math.MinInt32),
		decimal.New(-1, math.MinInt32), decimal.New(math.MaxInt64, 0), decimal.New(math.MinInt64, 0),
		decimal.New(math.MaxInt64, -2), decimal.New(math.MaxInt64, -18), decimal.New(1, 10_000_000),
		decimal.New(1, -10_000_000), decimal.New(0, math.MaxInt32), decimal.Decimal{}, decimal.New(1, -19),
	}
	return extremes[in.n(len(extremes))]
}

// time draws a time: near now mostly, at the ends of the range often.
func (in *fuzzInput) time(now time.Time) time.Time {
	switch in.n(10) {
	case 0:
		return ledger.MinTime
	case 1:
		return ledger.MinTime.Add(-time.Nanosecond)
	case 2:
		return ledger.MaxTime
	case 3:
		return ledger.MaxTime.Add(-time.Nanosecond)
	case 4:
		return time.Time{}
	case 5:
		return time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)
	case 6:
		return time.Unix(0, int64(in.uint64())).UTC()
	}
	return now.Add(time.Duration(int64(in.n(200))-20) * time.Minute)
}

var fuzzAccounts = []string{ledger.World, "exchange:x", "exchange:rem", "platform:fees", "member:a", "member:b", "member:c", "member:deep"}

// account draws an address: mostly opened ones, sometimes unknown, invalid
// or long.
func (in *fuzzInput) account() string {
	if i := in.n(len(fuzzAccounts) + 5); i < len(fuzzAccounts) {
		return fuzzAccounts[i]
	} else {
		return []string{"member:nobody", "", "a b", strings.Repeat("m", 200), "member:" + string(in.bytes(in.n(16)))}[i-len(fuzzAccounts)]
	}
}

func (in *fuzzInput) asset() string {
	return []string{"EUR", "EUR", "JPY", "JPY", "WEI", "GBP", "eur", "", strings.Repeat("X", 40)}[in.n(9)]
}

// key draws an idempotency key: often one of a few (so retries and
// conflicts happen), sometimes empty, at the limit or beyond it.
func (in *fuzzInput) key() string {
	switch in.n(8) {
	case 0, 1:
		return ""
	case 2:
		return strings.Repeat("k", 256)
	case 3:
		return strings.Repeat("k", 257)
	case 4:
		return string(in.bytes(in.n(12)))
	}
	return "key-" + string(rune('a'+in.n(4)))
}

func (in *fuzzInput) rule() ledger.ConversionRule {
	rates := []string{"1/10000", "0.0001", "162.35", "3/7", "1", strings.Repeat("9", 64), "0." + strings.Repeat("0", 61) + "1",
		strings.Repeat("9", 39) + "/0." + strings.Repeat("0", 37) + "1"}
	c := ledger.ConversionRule{From: []string{"JPY", "EUR", "WEI", "GBP"}[in.n(4)], To: []string{"EUR", "JPY", "WEI"}[in.n(3)],
		Rate: ledger.MustRate(rates[in.n(len(rates))]), Rounding: []ledger.Rounding{ledger.RoundDown, ledger.RoundUp, ledger.RoundHalfUp, ledger.RoundHalfEven, "sideways"}[in.n(5)],
		Exchange: "exchange:x", Remainder: "exchange:rem"}
	if in.n(2) == 0 {
		c.FeeRate, c.FixedFee, c.FeeRounding, c.FeeAccount = in.decimal(), in.decimal(), ledger.RoundHalfUp, "platform:fees"
	}
	if in.n(8) == 0 {
		c.Remainder = in.account()
	}
	return c
}

// newFuzzLedger is a memstore ledger at fuzzT0 with EUR, JPY and WEI (18
// decimals), issuers, exchange accounts, members with and without limits
// (member:deep may go 2^63-1 yen below zero), and some money in play.
func newFuzzLedger(tb testing.TB) (*ledger.Ledger, *ledgertest.Clock) {
	tb.Helper()
	ctx := context.Background()
	clock := ledgertest.NewClock(fuzzT0)
	l := ledger.New(memstore.New(), ledger.WithClock(clock))
	wei := ledger.Asset{Code: "WEI", Precision: 18}
	err := l.Update(ctx, func(w *ledger.Writer) error {
		for _, a := range []ledger.Asset{ledger.EUR, ledger.JPY, wei} {
			if err := w.DefineAsset(a); err != nil {
				return err
			}
		}
		unbounded := ledger.Overdraft{Unbounded: true}
		for _, s := range []ledger.AccountSpec{
			{Address: ledger.World, Overdraft: unbounded}, {Address: "exchange:x", Overdraft: unbounded},
			{Address: "exchange:rem", Overdraft: unbounded}, {Address: "platform:fees"}, {Address: "member:a"}, {Address: "member:b"},
			{Address: "member:c", Overdraft: ledger.Overdraft{Limits: map[string]decimal.Decimal{"EUR": decimal.New(50, 0)}}},
			{Address: "member:deep", Overdraft: ledger.Overdraft{Limits: map[string]decimal.Decimal{"JPY": decimal.New(math.MaxInt64, 0)}}},
		} {
			if _, err := w.OpenAccount(s); err != nil {
				return err
			}
		}
		_, err := w.Post(ledger.TransferRequest{Key: "fund", Postings: []ledger.Posting{
			{From: ledger.World, To: "member:a", Asset: "EUR", Amount: decimal.New(1000, 0)},
			{From: ledger.World, To: "member:a", Asset: "JPY", Amount: decimal.New(math.MaxInt64/2, 0)},
			{From: ledger.World, To: "member:b", Asset: "WEI", Amount: decimal.New(5, 0)},
		}})
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return l, clock
}

// FuzzLedgerPublicAPI runs a sequence of operations read from the input —
// transfers, multi-posting requests (some reaching held funds), batches,
// holds, captures, voids, conversions, reversals, accounts with limits,
// queries, clock moves (to the ends of the range and beyond) and ticks —
// with amounts built from arbitrary coefficients and exponents, extreme
// times, long and reused keys, and unknown or malformed accounts and
// assets. After each operation: nothing panicked, every error matches a
// ledger sentinel in a short message, a refused write moved nothing, and
// Verify passes with every asset summing to zero.
func FuzzLedgerPublicAPI(f *testing.F) {
	// Each seed is a short program: an operation byte (mod 14) followed by
	// its choices; they start the fuzzer off on every kind of operation.
	seeds := [][]byte{
		{},
		// A transfer, a hold, a final capture of part of it, a conversion,
		// the clock an hour on, a tick.
		{0, 0, 4, 5, 0, 0, 10, 0, 3, 2, 0, 4, 0, 0, 20, 0, 3, 7, 80, 3, 0, 1, 0, 0, 0, 5, 0, 5, 0, 3,
			5, 0, 0, 0, 0, 0, 1, 1, 4, 4, 0, 200, 0, 3, 8, 7, 140, 9},
		{0, 0, 4, 5, 0, 0, 1, 2},
		{2, 4, 0, 0, 1, 7, 0, 3, 0, 0, 4, 8, 1, 0},
		{8, 0, 5, 9, 9, 9, 2},
		{5, 1, 0, 0, 0, 0, 0, 5, 0, 0, 3},
		{1, 3, 1, 7, 4, 1, 0, 200, 2, 7, 5, 1, 0},
		{3, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9},
		{12, 2, 0, 4, 5, 0, 3, 7, 7, 7, 7, 7, 7, 7, 7},
		{7, 12, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5},
		[]byte(strings.Repeat("\x02\x07\x00\x06\x03\x08", 8)),
		[]byte(strings.Repeat("\x00\x04\x05\x00\x03\xff\xff\xff\xff\xff\xff\xff\x7f\x01", 6)),
		[]byte(strings.Repeat("\x09\x08\x06\x0a\x02", 10)),
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(runPublicAPI)
}

// runPublicAPI is FuzzLedgerPublicAPI's body: one sequence of operations.
func runPublicAPI(t *testing.T, data []byte) {
	{
		ctx := context.Background()
		l, clock := newFuzzLedger(t)
		in := &fuzzInput{b: data}
		var holds []uint64
		var txs []uint64
		pickHold := func() uint64 {
			if len(holds) == 0 || in.n(6) == 0 {
				return in.uint64() % 64
			}
			return holds[in.n(len(holds))]
		}
		posting := func() ledger.Posting {
			p := ledger.Posting{From: in.account(), To: in.account(), Asset: in.asset(), Amount: in.decimal()}
			if in.n(3) == 0 { // a lot, its expiry and breakage account as extreme as the rest
				p.ExpiresAt, p.Breakage = in.time(clock.Now()), in.account()
			}
			return p
		}
		request := func() ledger.TransferRequest {
			req := ledger.TransferRequest{Key: in.key(), IncludeHeld: in.n(3) == 0}
			for n := 1 + in.n(3); len(req.Postings) < n; {
				req.Postings = append(req.Postings, posting())
			}
			if in.n(4) == 0 {
				req.Metadata = map[string]string{"k": string(in.bytes(in.n(32)))}
			}
			return req
		}
		check := func(op string, err error) {
			t.Helper()
			if err == nil {
				return
			}
			matched := false
			for _, s := range sentinels {
				if errors.Is(err, s) {
					matched = true
					break
				}
			}
			msg := err.Error()
			if !matched {
				t.Fatalf("%s: error matches no ledger sentinel: %.500s", op, msg)
			}
			if len(msg) > maxFuzzMessage {
				t.Fatalf("%s: error message of %d bytes: %.300s", op, len(msg), msg)
			}
		}
		for step := 0; step < 24 && len(in.b) > 0; step++ {
			before, err := l.Verify(ctx)
			if err != nil {
				t.Fatalf("step %d: Verify before: %v", step, err)
			}
			var op string
			var opErr error
			write := true // a refused write must move nothing
			switch in.n(14) {
			case 0:
				op = "Transfer"
				var tr ledger.Transaction
				tr, opErr = l.Transfer(ctx, in.key(), in.account(), in.account(), in.asset(), in.decimal())
				if opErr == nil {
					txs = append(txs, tr.ID)
				}
			case 1:
				op = "Post"
				var tr ledger.Transaction
				tr, opErr = l.Post(ctx, request())
				if opErr == nil {
					txs = append(txs, tr.ID)
				}
			case 2:
				op = "Hold"
				var h ledger.Hold
				h, opErr = l.Hold(ctx, ledger.HoldRequest{Key: in.key(), Account: in.account(), Asset: in.asset(), Amount: in.decimal(), ExpiresAt: in.time(clock.Now())})
				if opErr == nil {
					holds = append(holds, h.ID)
				}
			case 3:
				op = "Capture"
				req := ledger.CaptureRequest{Key: in.key(), Hold: pickHold(), Final: in.n(2) == 0}
				for n := 1 + in.n(2); len(req.Destinations) < n; {
					leg := ledger.Leg{To: in.account(), Amount: in.decimal()}
					if in.n(4) == 0 {
						leg.ExpiresAt, leg.Breakage = in.time(clock.Now()), in.account()
					}
					req.Destinations = append(req.Destinations, leg)
				}
				_, opErr = l.Capture(ctx, req)
			case 4:
				op = "Void"
				_, opErr = l.Void(ctx, pickHold())
			case 5:
				op = "Convert"
				_, opErr = l.Convert(ctx, ledger.ConversionRequest{Key: in.key(), Rule: in.rule(), From: in.account(), To: in.account(), Amount: in.decimal()})
			case 6:
				op = "Reverse"
				id := in.uint64() % 32
				if len(txs) > 0 && in.n(3) > 0 {
					id = txs[in.n(len(txs))]
				}
				_, opErr = l.Reverse(ctx, ledger.ReversalRequest{Key: in.key(), ID: id})
			case 7:
				op = "OpenAccount"
				spec := ledger.AccountSpec{Address: in.account(), Overdraft: ledger.Overdraft{Unbounded: in.n(4) == 0}}
				if in.n(2) == 0 {
					spec.Overdraft.Limits = map[string]decimal.Decimal{in.asset(): in.decimal()}
				}
				_, opErr = l.OpenAccount(ctx, spec)
			case 8:
				op, write = "clock", false
				clock.Set(in.time(clock.Now()))
			case 9:
				op, write = "Tick", false
				_, opErr = l.Tick(ctx)
			case 10:
				op, write = "queries", false
				_, err := l.BalanceAt(ctx, in.account(), in.asset(), in.time(clock.Now()))
				check("BalanceAt", err)
				_, err = l.Balance(ctx, in.account(), in.asset())
				check("Balance", err)
				_, err = l.History(ctx, ledger.HistoryQuery{Account: in.account(), Asset: in.asset(), After: in.uint64() % 16, Limit: int(int8(in.byte()))})
				check("History", err)
				_, _, err = l.Transactions(ctx, in.uint64()%16, int(int8(in.byte())))
				check("Transactions", err)
				_, err = l.HoldByID(ctx, pickHold())
				check("HoldByID", err)
				opErr = l.View(ctx, func(r *ledger.Reader) error {
					_, err := r.Due("order", in.time(clock.Now()), int(int8(in.byte())))
					return err
				})
			case 11:
				op, write = "pure functions", false
				a := ledger.Asset{Code: in.asset(), Precision: []int32{0, 2, 18, -1, 19, math.MaxInt32, math.MinInt32}[in.n(7)]}
				_, err := a.Units(in.decimal())
				check("Units", err)
				_ = a.Format(int64(in.uint64()))
				_, err = a.ParseAmount(string(in.bytes(in.n(80))))
				check("ParseAmount", err)
				r, err := ledger.ParseRate(string(in.bytes(in.n(90))))
				check("ParseRate", err)
				var fromJSON ledger.Rate
				var syntax *json.SyntaxError
				if err := json.Unmarshal(in.bytes(in.n(90)), &fromJSON); !errors.As(err, &syntax) {
					check("Rate JSON", err) // malformed JSON is the decoder's to refuse
				}
				_, _ = r.MarshalJSON()
				rule := in.rule()
				_, err = rule.Quote(ledger.Asset{Code: rule.From, Precision: int32(in.n(20))}, ledger.Asset{Code: rule.To, Precision: int32(in.n(20))}, int64(in.uint64()))
				check("Quote", err)
				_, err = ledger.AddDuration("d", in.time(clock.Now()), time.Duration(in.uint64()))
				check("AddDuration", err)
			case 12:
				op = "PostBatch"
				reqs := make([]ledger.TransferRequest, 1+in.n(3))
				for i := range reqs {
					reqs[i] = request()
				}
				var res []ledger.BatchResult
				res, opErr = l.PostBatch(ctx, reqs)
				for i := range res {
					check("PostBatch item", res[i].Err)
				}
				write = false // some items may commit
			case 13:
				op = "Update"
				// Two writes in one unit of work, the second often refused:
				// all or nothing.
				opErr = l.Update(ctx, func(w *ledger.Writer) error {
					if _, err := w.Post(request()); err != nil {
						return err
					}
					_, err := w.Hold(ledger.HoldRequest{Account: in.account(), Asset: in.asset(), Amount: in.decimal(), ExpiresAt: in.time(w.Now())})
					return err
				})
			}
			if testing.Verbose() {
				t.Logf("step %d: %s: %v", step, op, opErr)
			}
			check(op, opErr)
			after, err := l.Verify(ctx)
			if err != nil {
				t.Fatalf("step %d: Verify after %s (err %v): %v", step, op, opErr, err)
			}
			for code, total := range after.Totals {
				if !total.IsZero() {
					t.Fatalf("step %d: after %s, %s sums to %s", step, op, code, total)
				}
			}
			if write && opErr != nil && (after.Head != before.Head || after.Holds != before.Holds || after.Balances != before.Balances) {
				t.Fatalf("step %d: refused %s (%v) wrote something", step, op, opErr)
			}
		}
	}
}

// FuzzUnits checks Asset.Units against exact big-number arithmetic for
// decimals of any coefficient and exponent: the same answer when the
// amount is representable, a typed error otherwise, always quickly and in
// a short message.
func FuzzUnits(f *testing.F) {
	for _, s := range []struct {
		coef []byte
		neg  bool
		exp  int32
		prec int32
	}{
		{[]byte{0x04, 0xe2}, false, -2, 2}, {[]byte{0x04, 0xe2}, true, -3, 2}, {[]byte{1}, false, math.MaxInt32, 2},
		{[]byte{1}, false, math.MinInt32, 0}, {[]byte{0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, false, 0, 0},
		{[]byte{0x80, 0, 0, 0, 0, 0, 0, 0}, true, 0, 0}, {[]byte{0x80, 0, 0, 0, 0, 0, 0, 0}, false, 0, 0},
		{[]byte{0x0d, 0xe0, 0xb6, 0xb3, 0xa7, 0x64, 0, 0}, false, -18, 18}, {[]byte{}, false, 40, 2},
		{[]byte{0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, false, -30, 0}, {[]byte{9}, false, 10_000_000, 18},
		{[]byte{9}, false, -10_000_000, 18}, {[]byte{1}, false, 0, math.MaxInt32}, {[]byte{1}, false, 0, math.MinInt32},
		{[]byte{0x05, 0xf5, 0xe1, 0x00}, false, -8, -3},
	} {
		f.Add(s.coef, s.neg, s.exp, s.prec)
	}
	f.Fuzz(func(t *testing.T, coef []byte, neg bool, exp, prec int32) {
		v := new(big.Int).SetBytes(coef)
		if neg {
			v.Neg(v)
		}
		d := decimal.NewFromBigInt(v, exp)
		a := ledger.Asset{Code: "X", Precision: prec}
		start := time.Now()
		u, err := a.Units(d)
		if took := time.Since(start); took > 5*time.Second {
			t.Fatalf("Units(%de%d) at precision %d took %s", v, exp, prec, took)
		}
		if err != nil {
			if !errors.Is(err, ledger.ErrOverflow) && !errors.Is(err, ledger.ErrPrecision) {
				t.Fatalf("Units: untyped error %v", err)
			}
			if len(err.Error()) > maxMessage {
				t.Fatalf("Units: message of %d bytes", len(err.Error()))
			}
		}
		// The exact answer: v × 10^(exp+prec), when that is cheap to know.
		e := int64(exp) + int64(prec)
		if v.Sign() == 0 {
			if err != nil || u != 0 {
				t.Fatalf("Units(0e%d) = %d, %v", exp, u, err)
			}
			return
		}
		if e > 40 {
			if !errors.Is(err, ledger.ErrOverflow) {
				t.Fatalf("Units(%de%d) at precision %d = %d, %v; want ErrOverflow", v, exp, prec, u, err)
			}
			return
		}
		if e < -int64(len(coef))*3-1 { // |v| < 256^len <= 10^(3·len) <= 10^-e: not a whole number of units
			if err == nil {
				t.Fatalf("Units(%de%d) at precision %d = %d; want an error", v, exp, prec, u)
			}
			return
		}
		exact := new(big.Rat).SetInt(v)
		p := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(abs64(e)), nil))
		if e >= 0 {
			exact.Mul(exact, p)
		} else {
			exact.Quo(exact, p)
		}
		whole := exact.IsInt()
		fits := whole && exact.Num().IsInt64()
		if v.BitLen() > 4096 && whole && errors.Is(err, ledger.ErrPrecision) {
			return // a coefficient of over 1,200 digits is refused unread (see Asset.Units)
		}
		switch {
		case fits:
			if err != nil || u != exact.Num().Int64() {
				t.Fatalf("Units(%de%d) at precision %d = %d, %v; want %s", v, exp, prec, u, err, exact.Num())
			}
		case err == nil:
			t.Fatalf("Units(%de%d) at precision %d = %d; want an error (exact %s)", v, exp, prec, u, exact.RatString())
		case !whole && exact.Cmp(big.NewRat(math.MaxInt64, 1)) < 0 && exact.Cmp(big.NewRat(math.MinInt64, 1)) > 0 && !errors.Is(err, ledger.ErrPrecision):
			t.Fatalf("Units(%de%d) at precision %d: %v; want ErrPrecision", v, exp, prec, err)
		case whole && !errors.Is(err, ledger.ErrOverflow):
			t.Fatalf("Units(%de%d) at precision %d: %v; want ErrOverflow", v, exp, prec, err)
		}
	})
}

func abs64(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}
