package kit

import (
	"context"
	"errors"
	"fmt"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger"
)

// WalletAccount is the address of a member's wallet, the one account in
// which every program pays a member and from which every program charges
// one: "member:<id>".
func WalletAccount(member string) string { return "member:" + member }

// WalletPolicy is how members' wallets are opened: the overdraft each asset
// may take a wallet to (below zero), none by default. Every program that
// opens wallets is given the same policy (each program's WithWallets
// option), so a member who first met the platform through one program is
// never refused by another.
//
// An overdraft is room for the platform to take back what it is owed (a
// chargeback of coins already spent, a clawback), never credit: every
// program checks that a member has a charge available (Spendable) before
// it charges. The assets it names must be defined before the first wallet
// opens (a program's New checks this with Check), since a wallet's policy
// is fixed when it opens.
type WalletPolicy struct {
	// Overdraft maps an asset code to how far below zero a wallet may go
	// in it (for example COIN 500, so that a chargeback can take back
	// coins already spent). Assets not listed may not go below zero.
	Overdraft map[string]decimal.Decimal `json:"overdraft,omitempty"`
}

// Spec returns the account spec of member's wallet under the policy.
func (p WalletPolicy) Spec(member string) ledger.AccountSpec {
	spec := ledger.AccountSpec{Address: WalletAccount(member)}
	if len(p.Overdraft) > 0 {
		spec.Overdraft.Limits = make(map[string]decimal.Decimal, len(p.Overdraft))
		for k, v := range p.Overdraft {
			spec.Overdraft.Limits[k] = v
		}
	}
	return spec
}

// Check reports whether the policy can open wallets on the ledger: every
// asset it names is defined, and every overdraft is a non-negative amount
// of that asset. Programs call it from New, so a policy that would fail
// (or silently not apply) at a member's first wallet fails at start-up.
func (p WalletPolicy) Check(ctx context.Context, l *ledger.Ledger) error {
	return l.View(ctx, func(r *ledger.Reader) error {
		for code, od := range p.Overdraft {
			a, err := r.Asset(code)
			if err != nil {
				return fmt.Errorf("wallet policy: overdraft of %s: %w (define the policy's assets before the programs start)", code, err)
			}
			u, err := a.Units(od)
			if err != nil {
				return fmt.Errorf("wallet policy: overdraft of %s: %w", code, err)
			}
			if u < 0 {
				return fmt.Errorf("wallet policy: overdraft of %s: %w: %s is negative", code, ledger.ErrInvalidAmount, od)
			}
		}
		return nil
	})
}

// Spendable returns what a member may spend of an asset from a wallet:
// its available amount (posted less held), never the overdraft the policy
// leaves below zero for chargebacks. It is zero when the wallet is below
// zero, and for a wallet never opened.
func Spendable(r *ledger.Reader, wallet, asset string) (decimal.Decimal, error) {
	b, err := r.Balance(wallet, asset)
	if errors.Is(err, ledger.ErrUnknownAccount) {
		return decimal.Zero, nil
	}
	if err != nil {
		return decimal.Decimal{}, err
	}
	if b.Available.Sign() < 0 {
		return decimal.Zero, nil
	}
	return b.Available, nil
}

// HoldsFunded reports whether every hold on a wallet's balance still has
// posted funds behind it: posted is at least what is held. A transfer that
// reached held funds (ledger.TransferRequest.IncludeHeld, a chargeback)
// can leave a hold with nothing behind it; capturing such a hold would pay
// out of the wallet's overdraft, which is room for chargebacks, never
// credit, so a program checks this before it captures a member's hold.
// Programs never place a hold on overdraft room (they check Spendable
// first), so a posted amount below the held one can only come from such a
// transfer.
func HoldsFunded(r *ledger.Reader, wallet, asset string) (bool, error) {
	b, err := r.Balance(wallet, asset)
	if err != nil {
		return false, err
	}
	return b.Available.Sign() >= 0, nil
}

// OpenWallet opens member's wallet with the policy if it is not open yet,
// and returns its address. A wallet already open is used as it is, whatever
// policy it was opened with: a wallet's policy is fixed when it opens (see
// ledger.Writer.OpenAccount), and a program must not refuse a member
// because another program, or an older configuration, opened the wallet.
func OpenWallet(w *ledger.Writer, p WalletPolicy, member string) (string, error) {
	addr := WalletAccount(member)
	if _, err := w.Account(addr); err == nil {
		return addr, nil
	} else if !errors.Is(err, ledger.ErrUnknownAccount) {
		return "", err
	}
	if _, err := w.OpenAccount(p.Spec(member)); err != nil {
		return "", err
	}
	return addr, nil
}

// OpenIfMissing opens an account with the given overdraft unless it is
// already open, in which case it is used as it is.
func OpenIfMissing(w *ledger.Writer, addr string, od ledger.Overdraft) error {
	if _, err := w.Account(addr); err == nil {
		return nil
	} else if !errors.Is(err, ledger.ErrUnknownAccount) {
		return err
	}
	_, err := w.OpenAccount(ledger.AccountSpec{Address: addr, Overdraft: od})
	return err
}
