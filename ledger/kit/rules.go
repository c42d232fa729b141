package kit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// DecodeRules decodes a program's rules from JSON into v strictly: a field
// v does not have (a typo such as "review_abve") is an error naming the
// field, and so is anything after the one JSON value. The error carries no
// package prefix; the caller wraps it with its own ErrInvalidRules.
//
// Nested types with an UnmarshalJSON of their own must decode strictly
// themselves (with DecodeRules), since encoding/json does not pass the
// setting down to them.
func DecodeRules(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return cleanJSONError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("unexpected data after the rules")
	}
	return nil
}

// cleanJSONError drops encoding/json's "json: " prefix and names the
// field a type error is about. An error a nested UnmarshalJSON returned is
// kept as it is, so errors.Is still sees its sentinel.
func cleanJSONError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return fmt.Errorf("field %q: cannot hold a JSON %s", te.Field, te.Value)
	}
	if msg, ok := strings.CutPrefix(err.Error(), "json: "); ok {
		return errors.New(msg)
	}
	return err
}
