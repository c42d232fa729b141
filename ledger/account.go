package ledger

import (
	"fmt"
	"time"

	"github.com/shopspring/decimal"
)

// World is the conventional issuing account: money enters and leaves the
// ledger through it, so it is opened Unbounded and its balances are the
// negative of everything in circulation.
const World = "world"

// ValidateAddress checks an account address: 1 to 128 characters in
// segments separated by ':' ("member:42", "creator:7:earnings"), each
// segment non-empty and made of letters, digits and "_-.@+".
func ValidateAddress(addr string) error {
	if len(addr) == 0 || len(addr) > 128 {
		return fmt.Errorf("%w: %s must have 1 to 128 characters", ErrInvalidAddress, clip(addr))
	}
	segStart := 0
	for i := 0; i < len(addr); i++ {
		c := addr[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '_' || c == '-' || c == '.' || c == '@' || c == '+':
		case c == ':':
			if i == segStart {
				return fmt.Errorf("%w: %s has an empty segment", ErrInvalidAddress, clip(addr))
			}
			segStart = i + 1
		default:
			return fmt.Errorf("%w: %s may not contain %q", ErrInvalidAddress, clip(addr), c)
		}
	}
	if segStart == len(addr) {
		return fmt.Errorf("%w: %s has an empty segment", ErrInvalidAddress, clip(addr))
	}
	return nil
}

// Overdraft says how far below zero an account may go. The zero value
// allows nothing below zero, the default for every member account.
type Overdraft struct {
	// Unbounded accounts may go below zero without limit: issuing accounts
	// such as World, exchange accounts, revenue sinks that pay refunds.
	Unbounded bool `json:"unbounded,omitempty"`
	// Limits gives, per asset code, how far below zero the account may go
	// (a positive amount). Assets not listed have a limit of zero.
	Limits map[string]decimal.Decimal `json:"limits,omitempty"`
}

// AccountSpec asks for an account to be opened.
type AccountSpec struct {
	Address   string            `json:"address"`
	Overdraft Overdraft         `json:"overdraft"`
	Metadata  map[string]string `json:"metadata,omitempty"`
}

// Account is an opened account. Its policy never changes once opened.
type Account struct {
	Address   string
	Unbounded bool
	// Limits in minor units per asset code, each >= 0.
	Limits    map[string]int64
	Metadata  map[string]string
	CreatedAt time.Time
}

// floor returns the lowest posted-minus-held balance the account may reach
// in the asset, and whether there is any floor at all.
func (a *Account) floor(asset string) (int64, bool) {
	if a.Unbounded {
		return 0, false
	}
	return -a.Limits[asset], true
}

func samePolicy(a, b *Account) bool {
	if a.Unbounded != b.Unbounded || len(a.Limits) != len(b.Limits) {
		return false
	}
	for k, v := range a.Limits {
		if w, ok := b.Limits[k]; !ok || w != v {
			return false
		}
	}
	return true
}
