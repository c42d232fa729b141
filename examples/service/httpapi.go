package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/rewardkit/rewardkit/ledger"
)

// problem is the body of every error response: the code a client branches
// on, the rule that refused (when a rule did), and a message safe to show.
type problem struct {
	Code    ledger.Code `json:"code"`
	Rule    string      `json:"rule,omitempty"`
	Message string      `json:"message"`
}

// writeError answers err with the status its code maps to. This is the
// whole of the service's error mapping: no switch over sentinels.
func writeError(w http.ResponseWriter, log *slog.Logger, err error) {
	code := ledger.ErrorCode(err)
	msg := err.Error()
	if code == ledger.CodeInternal {
		// An unclassified error may carry a database's words: log it,
		// show a generic message.
		log.Error("request failed", "err", err)
		msg = "internal error"
	}
	writeJSON(w, code.HTTPStatus(), problem{Code: code, Rule: ledger.RuleOf(err), Message: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client went away: nothing to do
}

// errBadRequest is a body the service cannot read.
var errBadRequest = ledger.NewError(ledger.CodeInvalidArgument, "service: invalid request body")

// maxBody bounds a request body.
const maxBody = 1 << 16

// readJSON decodes a request body strictly into v.
func readJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		// encoding/json's messages name Go types; say it in the
		// client's words instead.
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) {
			return fmt.Errorf("%w: field %q has the wrong type", errBadRequest, typ.Field)
		}
		return fmt.Errorf("%w: want one JSON object with known fields", errBadRequest)
	}
	return nil
}
