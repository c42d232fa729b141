package referral_test

import (
	"encoding/json"
	"testing"

	"github.com/rewardkit/rewardkit/ledger/teststore"
	"github.com/rewardkit/rewardkit/referral"
)

// FuzzRulesJSON: rules read from outside never panic; rules that validate
// survive a JSON round trip unchanged and still validate, and a program
// can be set up with them.
func FuzzRulesJSON(f *testing.F) {
	for _, r := range []referral.Rules{referral.DefaultRules(), referral.ShopRules()} {
		b, _ := json.Marshal(r)
		f.Add(b)
	}
	f.Add([]byte(`{"campaign":"x","asset":{"code":"RUBY"},"timezone":"UTC","tiers":[{"invitees":2,"bonus":"1"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var r referral.Rules
		if json.Unmarshal(data, &r) != nil || r.Validate() != nil {
			return
		}
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var back referral.Rules
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("round trip: %v", err)
		}
		if err := back.Validate(); err != nil {
			t.Fatalf("round trip no longer validates: %v", err)
		}
		b2, _ := json.Marshal(back)
		if string(b) != string(b2) {
			t.Fatalf("round trip changed the rules:\n%s\n%s", b, b2)
		}
		if r.Budget.IntPart() < 1<<40 { // keep setup cheap and in range
			newFixture(t, teststore.Memory, r)
		}
	})
}
