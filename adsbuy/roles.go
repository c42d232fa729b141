package adsbuy

import (
	"context"
	"sync"
)

// Role is a permission the integrating service grants to an account.
type Role string

// RoleSalesRep is the sales representative role: only accounts with it
// approve or reject campaigns.
const RoleSalesRep Role = "sales_representative"

// Roles tells which accounts hold which roles. The program asks before it
// writes, never inside a unit of work.
type Roles interface {
	HasRole(ctx context.Context, account string, role Role) (bool, error)
}

// RoleDirectory is an in-memory Roles for tests and examples. The zero
// value is ready; it is safe for concurrent use.
type RoleDirectory struct {
	mu sync.RWMutex
	m  map[string]map[Role]bool
}

// Grant gives account the role.
func (d *RoleDirectory) Grant(account string, role Role) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.m == nil {
		d.m = map[string]map[Role]bool{}
	}
	if d.m[account] == nil {
		d.m[account] = map[Role]bool{}
	}
	d.m[account][role] = true
}

// Revoke takes the role from account.
func (d *RoleDirectory) Revoke(account string, role Role) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.m[account], role)
}

// HasRole reports whether account holds role.
func (d *RoleDirectory) HasRole(_ context.Context, account string, role Role) (bool, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.m[account][role], nil
}
