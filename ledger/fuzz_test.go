package ledger_test

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
	"github.com/rewardkit/rewardkit/ledger/memstore"
)

// The fuzz targets below cover every parser of outside input in the
// ledger package. Their seed corpora (f.Add) run in every `go test`; run
// one for longer with, for example:
//
//	go test -run='^$' -fuzz='^FuzzParseAmount$' -fuzztime=20s ./ledger/

// isOneOf reports whether err wraps one of targets.
func isOneOf(err error, targets ...error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}

func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{
		"12.50", "12.500", "0", "-0", "-1.25", "0.001", "1500", "1e2", "1E-2", "+1", ".5", "5.", "-.5", "--1",
		"92233720368547758.07", "92233720368547758.08", "-92233720368547758.08", "9223372036854775807",
		"9223372036854775808", "0.000000000000000001", "  7.1  ", "1 000", "1,5", "NaN", "", "-",
		"00000000000000000000000000000000000000000000000000000000000001.5",
	} {
		for _, p := range []uint8{0, 2, 18} {
			f.Add(s, p)
		}
	}
	f.Fuzz(func(t *testing.T, s string, prec uint8) {
		a := ledger.Asset{Code: "X", Precision: int32(prec % (ledger.MaxPrecision + 1))}
		d, err := a.ParseAmount(s)
		if err != nil {
			if !isOneOf(err, ledger.ErrInvalidAmount, ledger.ErrPrecision, ledger.ErrOverflow) {
				t.Fatalf("ParseAmount(%q): untyped error %v", s, err)
			}
			return
		}
		// Only plain decimals get through.
		trimmed := strings.TrimSpace(s)
		if strings.ContainsAny(trimmed, "eE+ ") {
			t.Fatalf("ParseAmount(%q) accepted a non-plain decimal", s)
		}
		want, err := decimal.NewFromString(trimmed)
		if err != nil || !want.Equal(d) {
			t.Fatalf("ParseAmount(%q) = %s, decimal reads %s (%v)", s, d, want, err)
		}
		// No more decimals than the asset allows.
		if !d.Shift(a.Precision).IsInteger() {
			t.Fatalf("ParseAmount(%q) = %s has more than %d decimals", s, d, a.Precision)
		}
		// Units and Amount round-trip exactly.
		u, err := a.Units(d)
		if err != nil {
			t.Fatalf("Units(%s) after ParseAmount: %v", d, err)
		}
		if back := a.Amount(u); !back.Equal(d) {
			t.Fatalf("Amount(Units(%s)) = %s", d, back)
		}
		// The string forms re-parse to the same amount.
		for _, form := range []string{d.String(), a.Format(u)} {
			again, err := a.ParseAmount(form)
			if err != nil || !again.Equal(d) {
				t.Fatalf("ParseAmount(%q) (from %q) = %s, %v; want %s", form, s, again, err, d)
			}
		}
	})
}

var assetCodeSpec = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,15}$`)

func FuzzValidateAssetCode(f *testing.F) {
	for _, s := range []string{"EUR", "RUBY", "A", "GIFT_CARD", "ABCDEFGHIJKLMNOP", "ABCDEFGHIJKLMNOPQ", "", "eur", "9EUR", "_X", "EU R", "ÉUR", "E\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, code string) {
		err := ledger.ValidateAssetCode(code)
		if want := assetCodeSpec.MatchString(code); want != (err == nil) {
			t.Fatalf("ValidateAssetCode(%q) = %v, spec says valid=%v", code, err, want)
		}
		if err != nil && !errors.Is(err, ledger.ErrInvalidAsset) {
			t.Fatalf("ValidateAssetCode(%q): untyped error %v", code, err)
		}
		if verr := (ledger.Asset{Code: code, Precision: 2}).Validate(); (verr == nil) != (err == nil) {
			t.Fatalf("Asset.Validate and ValidateAssetCode disagree on %q: %v vs %v", code, verr, err)
		}
	})
}

var addressSpec = regexp.MustCompile(`^[A-Za-z0-9_.@+\-]+(:[A-Za-z0-9_.@+\-]+)*$`)

func FuzzValidateAddress(f *testing.F) {
	for _, s := range []string{"world", "member:42", "creator:7:earnings", "a@b.c+d-e_f", ":", "a:", ":a", "a::b", "a b", "a/b", "membér", strings.Repeat("a", 128), strings.Repeat("a", 129), ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, addr string) {
		err := ledger.ValidateAddress(addr)
		want := len(addr) <= 128 && addressSpec.MatchString(addr)
		if want != (err == nil) {
			t.Fatalf("ValidateAddress(%q) = %v, spec says valid=%v", addr, err, want)
		}
		if err != nil && !errors.Is(err, ledger.ErrInvalidAddress) {
			t.Fatalf("ValidateAddress(%q): untyped error %v", addr, err)
		}
	})
}

func FuzzParseRate(f *testing.F) {
	for _, s := range []string{"1/10000", "0.0001", "0.00001", "1", "3/2", "1.5/3", "162.35", " 2 ", "0", "1/0", "-1", "1e-4", "1/2/3", "/2", "2/", "1//2", "0.5/0.25", "007/0014"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ledger.ParseRate(s)
		if err != nil {
			if !errors.Is(err, ledger.ErrInvalidRule) {
				t.Fatalf("ParseRate(%q): untyped error %v", s, err)
			}
			if !r.IsZero() {
				t.Fatalf("ParseRate(%q) failed but returned %s", s, r)
			}
			return
		}
		if r.IsZero() || r.Rat().Sign() <= 0 {
			t.Fatalf("ParseRate(%q) = %q is not positive", s, r)
		}
		again, err := ledger.ParseRate(r.String())
		if err != nil || again.Rat().Cmp(r.Rat()) != 0 {
			t.Fatalf("ParseRate(%q).String() = %q re-parses to %s, %v", s, r, again, err)
		}
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("marshal %s: %v", r, err)
		}
		var fromJSON ledger.Rate
		if err := json.Unmarshal(b, &fromJSON); err != nil || fromJSON.Rat().Cmp(r.Rat()) != 0 {
			t.Fatalf("rate %s JSON %s reads back as %s, %v", r, b, fromJSON, err)
		}
	})
}

func FuzzRateJSON(f *testing.F) {
	for _, s := range []string{`"1/10000"`, `"0.0001"`, `0.0001`, `1`, `null`, `""`, `"1/0"`, `{}`, `[]`, `"\u0031/2"`, `"1/2`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var r ledger.Rate
		err := json.Unmarshal(data, &r)
		if err != nil {
			var syntax *json.SyntaxError
			if !errors.Is(err, ledger.ErrInvalidRule) && !errors.As(err, &syntax) {
				t.Fatalf("Unmarshal(%q): untyped error %v", data, err)
			}
			return
		}
		if r.IsZero() || r.Rat().Sign() <= 0 {
			t.Fatalf("Unmarshal(%q) gave rate %q", data, r)
		}
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var back ledger.Rate
		if err := json.Unmarshal(b, &back); err != nil || back.Rat().Cmp(r.Rat()) != 0 {
			t.Fatalf("rate from %q does not round-trip through %s: %v", data, b, err)
		}
	})
}

func FuzzConversionRuleJSON(f *testing.F) {
	seeds := []string{
		`{"from":"RUBY","to":"EUR","rate":"1/10000","rounding":"down","exchange":"exchange:ruby-eur","remainder":"exchange:remainder"}`,
		`{"from":"RUBY","to":"EUR","rate":"0.0001","rounding":"half_even","fee_rate":"0.04","fee_rounding":"half_up","exchange":"x","remainder":"r","fee_account":"f"}`,
		`{"from":"RUBY","to":"EUR","rate":"0.0001","rounding":"up","fee_rate":"0.015","fixed_fee":"0.10","fee_rounding":"down","exchange":"x","remainder":"r","fee_account":"f"}`,
		`{"from":"EUR","to":"JPY","rate":"162.35","rounding":"half_up","exchange":"x","remainder":"r"}`,
		`{"from":"RUBY","to":"EUR","rate":"1/10000","rounding":"down","fee_rate":1e-3,"fee_rounding":"up","exchange":"x","remainder":"r","fee_account":"f"}`,
		`{"from":"RUBY","to":"EUR","rate":"1/10000","rounding":"down","fixed_fee":"0.001","fee_rounding":"up","exchange":"x","remainder":"r","fee_account":"f"}`,
		`{"from":"RUBY","to":"RUBY","rate":"1","rounding":"down","exchange":"x","remainder":"r"}`,
		`{"from":"RUBY","to":"EUR","rate":0.0001}`,
		`{"rate":"99999999999999999999/0.00000000000000000001","from":"A","to":"B","rounding":"up","exchange":"x","remainder":"r"}`,
		`{}`, `null`, `[]`,
	}
	for _, s := range seeds {
		f.Add([]byte(s), int64(20000), uint8(0), uint8(2))
		f.Add([]byte(s), int64(12345), uint8(2), uint8(0))
		f.Add([]byte(s), int64(-1), uint8(18), uint8(18))
		f.Add([]byte(s), int64(9223372036854775807), uint8(0), uint8(18))
	}
	f.Fuzz(func(t *testing.T, data []byte, in int64, fromPrec, toPrec uint8) {
		var c ledger.ConversionRule
		if err := json.Unmarshal(data, &c); err != nil {
			return // malformed JSON is the decoder's business, as long as nothing panics
		}
		verr := c.Validate()
		if verr != nil && !errors.Is(verr, ledger.ErrInvalidRule) {
			t.Fatalf("Validate: untyped error %v", verr)
		}
		from := ledger.Asset{Code: c.From, Precision: int32(fromPrec % (ledger.MaxPrecision + 1))}
		to := ledger.Asset{Code: c.To, Precision: int32(toPrec % (ledger.MaxPrecision + 1))}
		q, err := c.Quote(from, to, in)
		if verr != nil {
			if !errors.Is(err, ledger.ErrInvalidRule) {
				t.Fatalf("Quote of an invalid rule (%v): %v", verr, err)
			}
			return
		}
		if err != nil {
			if !isOneOf(err, ledger.ErrInvalidAmount, ledger.ErrOverflow, ledger.ErrPrecision) {
				t.Fatalf("Quote: untyped error %v", err)
			}
			return
		}
		if q.In != in || q.In != q.Used+q.Remainder || q.Gross != q.Net+q.Fee || q.Fee < 0 || q.Fee >= q.Gross || q.Used <= 0 {
			t.Fatalf("Quote(%d) = %+v breaks an identity", in, q)
		}
		if c.Rounding == ledger.RoundDown && (q.Used > q.In || q.Remainder < 0) {
			t.Fatalf("rounding down used more than given: %+v", q)
		}
		// A rule that survives JSON survives it again.
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		var back ledger.ConversionRule
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("valid rule %s does not read back: %v", b, err)
		}
		if q2, err := back.Quote(from, to, in); err != nil || q2 != q {
			t.Fatalf("rule read back from %s quotes %+v, %v; want %+v", b, q2, err, q)
		}
	})
}

// FuzzPostJSON posts a transfer request read from JSON on a small ledger:
// whatever the input, the ledger either posts it or refuses it with a
// typed error and no change, and always verifies.
func FuzzPostJSON(f *testing.F) {
	seeds := []string{
		`{"key":"k1","postings":[{"from":"member:a","to":"member:b","asset":"EUR","amount":"12.50"}]}`,
		`{"postings":[{"from":"member:a","to":"member:b","asset":"EUR","amount":"100.01"}]}`,
		`{"postings":[{"from":"member:a","to":"member:b","asset":"EUR","amount":1.5e1}]}`,
		`{"postings":[{"from":"member:a","to":"member:b","asset":"EUR","amount":"0.001"}]}`,
		`{"postings":[{"from":"world","to":"member:b","asset":"JPY","amount":"9223372036854775807"}]}`,
		`{"postings":[{"from":"world","to":"member:b","asset":"EUR","amount":"1e9999"}]}`,
		`{"postings":[{"from":"member:a","to":"member:a","asset":"RUBY","amount":"1"}]}`,
		`{"postings":[{"from":"member:a","to":"member:b","asset":"RUBY","amount":"-5"}],"metadata":{"":"x"}}`,
		`{"postings":[{"from":"member:a","to":"member:b","asset":"GBP","amount":"1"}]}`,
		`{"postings":[]}`,
		`{"key":"k1","postings":[{"from":"member:a","to":"member:b","asset":"EUR","amount":"12.5"}]}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var req ledger.TransferRequest
		if err := json.Unmarshal(data, &req); err != nil {
			return
		}
		ctx := context.Background()
		l := ledger.New(memstore.New(), ledger.WithClock(ledgertest.NewClock(time.Unix(1_700_000_000, 0))))
		err := l.Update(ctx, func(w *ledger.Writer) error {
			for _, a := range []ledger.Asset{ledger.EUR, ledger.JPY, ledger.RUBY} {
				if err := w.DefineAsset(a); err != nil {
					return err
				}
			}
			for _, s := range []ledger.AccountSpec{{Address: ledger.World, Overdraft: ledger.Overdraft{Unbounded: true}}, {Address: "member:a"}, {Address: "member:b"}} {
				if _, err := w.OpenAccount(s); err != nil {
					return err
				}
			}
			_, err := w.Post(ledger.TransferRequest{Key: "k1", Postings: []ledger.Posting{{From: ledger.World, To: "member:a", Asset: "EUR", Amount: decimal.RequireFromString("100")}}})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		before, err := l.Verify(ctx)
		if err != nil {
			t.Fatal(err)
		}
		tr, err := l.Post(ctx, req)
		after, verr := l.Verify(ctx)
		if verr != nil {
			t.Fatalf("Verify after Post(%s) = %v: %v", data, err, verr)
		}
		if err != nil {
			if !isOneOf(err, ledger.ErrInvalidAmount, ledger.ErrPrecision, ledger.ErrUnknownAsset, ledger.ErrUnknownAccount,
				ledger.ErrInvalidTransaction, ledger.ErrInsufficientFunds, ledger.ErrIdempotencyConflict, ledger.ErrOverflow) {
				t.Fatalf("Post(%s): untyped error %v", data, err)
			}
			if after.Head != before.Head {
				t.Fatalf("refused Post(%s) moved the head: %v", data, err)
			}
			return
		}
		if tr.Key == "k1" && tr.ID == before.Head.ID {
			return // an idempotent replay of the funding
		}
		if tr.ID != before.Head.ID+1 || after.Head.ID != tr.ID {
			t.Fatalf("Post(%s) = transaction %d; head before %d, after %d", data, tr.ID, before.Head.ID, after.Head.ID)
		}
		if len(tr.Postings) != len(req.Postings) {
			t.Fatalf("posted %d postings of %d", len(tr.Postings), len(req.Postings))
		}
		for i, p := range tr.Postings {
			if !p.Amount.Equal(req.Postings[i].Amount) || p.Amount.Sign() <= 0 {
				t.Fatalf("posting %d: posted %s, asked %s", i, p.Amount, req.Postings[i].Amount)
			}
		}
	})
}
