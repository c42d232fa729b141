package adsbuy

import (
	"fmt"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
)

// Option configures a Program.
type Option func(*Program)

// WithRoles sets the directory the program asks who holds which role. The
// privileged actions need kit.RoleSalesRep: reviewing a campaign (Approve,
// Reject), and pausing, resuming or cancelling a campaign one does not
// own. Without a directory only owners act on their campaigns and nobody
// reviews.
func WithRoles(roles kit.Roles) Option {
	return func(p *Program) { p.roles = roles }
}

// authorizeStaff checks that actor may take a privileged action on a
// campaign of advertiser: it holds kit.RoleSalesRep and is not the
// advertiser (kit.Authorize, asked with the unit of work's context).
// Otherwise the error wraps ErrForbidden (ledger.ErrForbidden).
func (p *Program) authorizeStaff(w *ledger.Writer, actor, what string, c *Campaign) error {
	if err := kit.Authorize(w.Context(), p.roles, actor, kit.RoleSalesRep, c.Advertiser); err != nil {
		return fmt.Errorf("%w (%s campaign %s)", err, what, c.ID)
	}
	return nil
}
