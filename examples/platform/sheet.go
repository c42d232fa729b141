package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/rewardkit/rewardkit/ledger"
	storedriver "github.com/rewardkit/rewardkit/ledger/driver"
)

// sheetLine is one account's posted balance in an asset.
type sheetLine struct {
	Address string
	Units   int64
	Held    int64
}

// assetSheet is every non-zero balance of one asset and their total,
// which a sound ledger keeps at zero.
type assetSheet struct {
	Asset ledger.Asset
	Lines []sheetLine
	Total int64
}

func (a assetSheet) amount(units int64) string { return groupDigits(a.Asset.Format(units)) }

// groupDigits puts thousands separators in the integer part of a formatted
// amount: "-1234567.50" → "-1,234,567.50".
func groupDigits(s string) string {
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	frac := ""
	if i := strings.IndexByte(s, '.'); i >= 0 {
		s, frac = s[:i], s[i:]
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return sign + b.String() + frac
}

// balanceSheet reads every stored balance on one snapshot and groups them
// by asset.
func balanceSheet(ctx context.Context, l *ledger.Ledger) ([]assetSheet, error) {
	byAsset := map[string]*assetSheet{}
	err := l.Store().View(ctx, func(tx storedriver.ReadTx) error {
		assets, err := tx.Assets()
		if err != nil {
			return err
		}
		for _, a := range assets {
			byAsset[a.Code] = &assetSheet{Asset: ledger.Asset(a)}
		}
		var after storedriver.BalanceKey
		for {
			bs, err := tx.Balances(after, 10000)
			if err != nil {
				return err
			}
			if len(bs) == 0 {
				return nil
			}
			for _, b := range bs {
				s, ok := byAsset[b.Asset]
				if !ok {
					return fmt.Errorf("balance of %s in undefined asset %s", b.Address, b.Asset)
				}
				s.Total += b.Posted
				if b.Posted != 0 || b.Held != 0 {
					s.Lines = append(s.Lines, sheetLine{Address: b.Address, Units: b.Posted, Held: b.Held})
				}
			}
			last := bs[len(bs)-1]
			after = storedriver.BalanceKey{Address: last.Address, Asset: last.Asset}
			if err := ctx.Err(); err != nil {
				return err
			}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("balance sheet: %w", err)
	}
	codes := make([]string, 0, len(byAsset))
	for c := range byAsset {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	out := make([]assetSheet, 0, len(codes))
	for _, c := range codes {
		out = append(out, *byAsset[c])
	}
	return out, nil
}

// printSheet prints every account's balance per asset, and the total.
func printSheet(w io.Writer, sheets []assetSheet) {
	for _, a := range sheets {
		if len(a.Lines) == 0 {
			continue
		}
		fmt.Fprintf(w, "  %s\n", a.Asset.Code)
		for _, ln := range a.Lines {
			held := ""
			if ln.Held != 0 {
				held = fmt.Sprintf("  (%s held)", a.amount(ln.Held))
			}
			fmt.Fprintf(w, "    %-40s %14s%s\n", ln.Address, a.amount(ln.Units), held)
		}
		fmt.Fprintf(w, "    %-40s %14s\n", "sum", a.amount(a.Total))
	}
}

// printSheetByHolder prints each asset's balances summed per kind of
// holder (member, creator, platform, world, ...), and the total.
func printSheetByHolder(w io.Writer, sheets []assetSheet) {
	fmt.Fprintln(w, "balance sheet (posted balances summed per kind of holder):")
	for _, a := range sheets {
		if len(a.Lines) == 0 {
			continue
		}
		sums := map[string]int64{}
		counts := map[string]int{}
		for _, ln := range a.Lines {
			h := holderOf(ln.Address)
			sums[h] += ln.Units
			counts[h]++
		}
		fmt.Fprintf(w, "  %s\n", a.Asset.Code)
		for _, h := range sortedKeys(sums) {
			fmt.Fprintf(w, "    %-14s %8s accounts %20s\n", h, thousands(int64(counts[h])), a.amount(sums[h]))
		}
		fmt.Fprintf(w, "    %-14s %8s          %20s\n", "sum", "", a.amount(a.Total))
	}
}
