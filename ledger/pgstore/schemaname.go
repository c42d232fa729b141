package pgstore

import (
	"fmt"
	"strings"
)

// maxIdentifier is the longest identifier PostgreSQL keeps: it truncates
// longer ones to their first 63 bytes (NAMEDATALEN - 1).
const maxIdentifier = 63

// validSchema checks a WithSchema name (see there for the rule). The empty
// name means the connection's default schema.
//
// Every identifier the store derives from the name is the name itself
// (search_path, CREATE SCHEMA): tables, indexes, triggers and functions
// keep fixed names inside the schema, and the migrations' advisory lock
// key is a 64-bit hash of the whole name, whose rare collision would only
// make two schemas' migrations wait for each other.
func validSchema(name string) error {
	if name == "" {
		return nil
	}
	if len(name) > maxIdentifier {
		return fmt.Errorf("%w: %q is %d bytes; PostgreSQL keeps %d", ErrInvalidSchema, name, len(name), maxIdentifier)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c == '_':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return fmt.Errorf("%w: %q: only lower-case letters, digits and underscores, not starting with a digit", ErrInvalidSchema, name)
		}
	}
	if strings.HasPrefix(name, "pg_") || name == "information_schema" {
		return fmt.Errorf("%w: %q is reserved for PostgreSQL's own schemas", ErrInvalidSchema, name)
	}
	return nil
}
