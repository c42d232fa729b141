package kit

import "fmt"

// UnmarshalRules decodes a program's rules from JSON strictly (see
// DecodeRules) into v, and wraps a failure with invalid, the program's
// ErrInvalidRules. It is the body of every program's Rules.UnmarshalJSON,
// which passes its rules as a type without methods so that decoding does
// not call it again:
//
//	func (r *Rules) UnmarshalJSON(data []byte) error {
//		type plain Rules
//		return kit.UnmarshalRules(ErrInvalidRules, data, (*plain)(r))
//	}
//
// Fields the JSON leaves out keep the value they had, as with
// encoding/json. It does not validate the rules.
func UnmarshalRules(invalid error, data []byte, v any) error {
	if err := DecodeRules(data, v); err != nil {
		return fmt.Errorf("%w: %w", invalid, err)
	}
	return nil
}
