package kit

import (
	"errors"

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
