package payout_test

import (
	"encoding/json"
	"testing"

	"github.com/rewardkit/rewardkit/payout"
)

// FuzzRulesJSON: rules read from outside never panic; rules that validate
// survive a JSON round trip and a program can be set up with them and
// quote a withdrawal of the minimum without panicking.
func FuzzRulesJSON(f *testing.F) {
	b, _ := json.Marshal(payout.DefaultRules())
	f.Add(b)
	f.Add([]byte(`{"provider":"bank","from":{"code":"RUBY"},"to":{"code":"USD","precision":2},"rate":"1/200","rounding":"half_even","fixed_fee":"2.90","fee_rounding":"down"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var r payout.Rules
		if json.Unmarshal(data, &r) != nil || r.Validate() != nil {
			return
		}
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var back payout.Rules
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("round trip: %v", err)
		}
		if err := back.Validate(); err != nil {
			t.Fatalf("round trip no longer validates: %v", err)
		}
		fx := newFixture(t, r)
		if r.Minimum.Sign() > 0 {
			_, _ = fx.p.Quote(r.Minimum)
		}
	})
}
