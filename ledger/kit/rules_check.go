package kit

import (
	"errors"
	"fmt"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger"
)

// CheckCountryCodes judges the list of countries a rule set names (where a
// program is offered): at least one, each an ISO 3166-1 alpha-2 code in
// upper case ("GB", not "UK" nor "gb"), none twice. The error carries no
// package prefix; the program wraps it with its ErrInvalidRules and the
// rule's name.
func CheckCountryCodes(codes []string) error {
	if len(codes) == 0 {
		return errors.New("at least one country is needed")
	}
	seen := make(map[string]bool, len(codes))
	for _, c := range codes {
		if len(c) != 2 || c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' || c[1] > 'Z' {
			return fmt.Errorf("%q is not an ISO 3166-1 alpha-2 code", c)
		}
		if seen[c] {
			return fmt.Errorf("%q is listed twice", c)
		}
		seen[c] = true
	}
	return nil
}

// CheckRuleAmount judges an amount a rule set fixes (a minimum price, a
// budget floor): a decimal of sane size (CheckDecimal), positive, and
// exact in the asset's minor units. The error wraps the ledger's cause
// (ledger.ErrInvalidAmount, ledger.ErrPrecision) and carries no package
// prefix; the program wraps it with its ErrInvalidRules and the rule's
// name.
func CheckRuleAmount(a ledger.Asset, v decimal.Decimal) error {
	if err := CheckDecimal(v); err != nil {
		return err
	}
	if v.Sign() <= 0 {
		return fmt.Errorf("%s must be positive", v)
	}
	_, err := a.Units(v)
	return err
}

// RuleErrorf returns an error wrapping invalid (the program's
// ErrInvalidRules) that names the rule at fault as its JSON field does:
// "subscription: invalid rules: max_tiers: 0, want 1 to 16". format may
// use %w to keep a cause in the chain.
func RuleErrorf(invalid error, rule, format string, args ...any) error {
	return fmt.Errorf("%w: %s: "+format, append([]any{invalid, rule}, args...)...)
}
