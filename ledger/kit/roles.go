package kit

import (
	"context"
	"fmt"
	"sync"

	"github.com/rewardkit/rewardkit/ledger"
)

// Role is a permission the integrating service grants to an actor (a staff
// member or a service account).
type Role string

// The roles the programs ask for.
const (
	// RoleReviewer reviews content against the community guidelines
	// (shoutout videos).
	RoleReviewer Role = "content_reviewer"
	// RoleSalesRep approves and rejects ad campaigns.
	RoleSalesRep Role = "sales_representative"
	// RolePayoutReviewer decides payouts held for manual review.
	RolePayoutReviewer Role = "payout_reviewer"
	// RoleRiskOfficer records chargebacks and refunds, flags risk and pulls
	// kill switches.
	RoleRiskOfficer Role = "risk_officer"
	// RoleProgramAdmin changes a program's rules and campaigns.
	RoleProgramAdmin Role = "program_admin"
)

// Roles tells which actors hold which roles. The integrating service
// implements it over its own directory; RoleDirectory serves tests and
// examples.
type Roles interface {
	HasRole(ctx context.Context, actor string, role Role) (bool, error)
}

// RoleDirectory is an in-memory Roles. The zero value is ready; it is safe
// for concurrent use.
type RoleDirectory struct {
	mu sync.RWMutex
	m  map[string]map[Role]bool
}

// Grant gives actor the roles.
func (d *RoleDirectory) Grant(actor string, roles ...Role) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.m == nil {
		d.m = map[string]map[Role]bool{}
	}
	if d.m[actor] == nil {
		d.m[actor] = map[Role]bool{}
	}
	for _, r := range roles {
		d.m[actor][r] = true
	}
}

// Revoke takes the roles from actor.
func (d *RoleDirectory) Revoke(actor string, roles ...Role) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, r := range roles {
		delete(d.m[actor], r)
	}
}

// HasRole reports whether actor holds role.
func (d *RoleDirectory) HasRole(_ context.Context, actor string, role Role) (bool, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.m[actor][role], nil
}

// Authorize checks that actor may take a privileged action: actor is not
// empty, holds role in roles, and is none of parties (the members the
// decision is about: a creator may not approve their own video, a buyer
// may not review their own order). Otherwise it returns an error wrapping
// ledger.ErrForbidden that names the actor and the role. A nil roles
// refuses everyone: a program given no directory grants no privilege.
func Authorize(ctx context.Context, roles Roles, actor string, role Role, parties ...string) error {
	if actor == "" {
		return fmt.Errorf("%w: no actor given for an action that needs the %s role", ledger.ErrForbidden, role)
	}
	for _, p := range parties {
		if p != "" && p == actor {
			return fmt.Errorf("%w: %q is a party to this decision", ledger.ErrForbidden, actor)
		}
	}
	if roles == nil {
		return fmt.Errorf("%w: %q does not hold the %s role (no role directory configured)", ledger.ErrForbidden, actor, role)
	}
	ok, err := roles.HasRole(ctx, actor, role)
	if err != nil {
		return fmt.Errorf("role lookup for %q: %w", actor, err)
	}
	if !ok {
		return fmt.Errorf("%w: %q does not hold the %s role", ledger.ErrForbidden, actor, role)
	}
	return nil
}
