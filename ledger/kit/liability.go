package kit

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger"
)

// LiabilityQuery says which balances Liability reports and how.
type LiabilityQuery struct {
	// Assets are the reward assets to report ("RUBY", "COIN", "DIAMOND"),
	// in the order the report lists them. At least one.
	Assets []string
	// Holders are the address prefixes of the accounts whose balances the
	// platform owes ("member:", "creator:"); none means "member:".
	Holders []string
	// Buckets are the upper bounds of the age buckets, ascending and
	// positive: {30 days, 90 days} reports ages [0, 30d), [30d, 90d) and
	// 90 days or more. None reports one bucket of every age.
	Buckets []time.Duration
	// At is the time the report stands at: balances and ages as of the
	// transactions whose time is <= At. Zero means the ledger clock's now.
	At time.Time
	// Values prices each asset in money with a conversion rule whose From
	// is the asset (payout's ruby rule, gifting's CashValue, a coin price).
	// The value of an amount is the rule's Quote Gross: its rate and
	// rounding, before any fee (a fee is the payee's, not the platform's
	// saving). An asset without a rule is reported unvalued.
	Values map[string]ledger.ConversionRule
	// Breakage lists the accounts that hold what expired unspent; their
	// balance at At in each reported asset is the breakage to date. An
	// account that was never opened counts as zero.
	Breakage []string
}

// LiabilityReport is what the platform owes in reward assets at one time.
type LiabilityReport struct {
	At      time.Time
	Buckets []time.Duration
	Assets  []AssetLiability
}

// AssetLiability is the liability in one asset.
type AssetLiability struct {
	Asset string
	// Holders counts the accounts with a positive balance.
	Holders int
	// Outstanding is the sum of the positive balances: the sum of Buckets.
	Outstanding decimal.Decimal
	// Buckets splits Outstanding by age (LiabilityQuery.Buckets, plus the
	// open-ended last bucket).
	Buckets []LiabilityBucket
	// Money is the asset Value is in (EUR, USD); its Code is "" when the
	// asset has no value rule.
	Money ledger.Asset
	// Value is the sum of the buckets' values.
	Value decimal.Decimal
	// Receivable is the sum of the negative balances (as a positive
	// amount): what holders owe the platform, not a liability, and in no
	// bucket.
	Receivable decimal.Decimal
	// Breakage is the balance of the breakage accounts: what expired
	// unspent to date.
	Breakage decimal.Decimal
}

// LiabilityBucket is the outstanding amount of one age range: at least
// MinAge old and younger than MaxAge (MaxAge 0: no upper bound).
type LiabilityBucket struct {
	MinAge, MaxAge time.Duration
	Amount         decimal.Decimal
	Value          decimal.Decimal
}

// ErrInvalidQuery is a LiabilityQuery Liability cannot answer (no asset,
// buckets out of order, a value rule for another asset).
var ErrInvalidQuery = errors.New("kit: invalid query")

// liabilityPage is how many balances, and history entries, one read
// takes: the report's memory is bounded by it, whatever the ledger holds.
var liabilityPage = 500

// Liability reports the outstanding balances of the holders' accounts per
// asset by age, valued in money, with the breakage to date.
//
// An outstanding balance is aged first in, first out: what a holder spent
// came out of their oldest credits, so what they still hold is their most
// recent credits (the last one in part). A balance B is then older than a
// bucket bound T exactly by max(0, B - credits after At-T), so each
// account's history is read once, forwards, keeping one sum per bucket:
// memory does not grow with the history. Credits are the postings that
// raised the balance (a reversed spend is credited again at its
// reversal's time).
//
// The report reads in pages, one short View per page (so a large ledger
// never holds one read open for the whole scan); it stays consistent
// because it counts only transactions whose time is <= At, and
// transaction times never go back along the journal: once the clock has
// passed At, no later write changes what the report counts. (Reader.History
// pages forwards only, so the history is read forwards; the sums per
// bucket make that as cheap in memory as walking back from the end.)
func Liability(ctx context.Context, l *ledger.Ledger, q LiabilityQuery) (LiabilityReport, error) {
	if err := q.validate(); err != nil {
		return LiabilityReport{}, err
	}
	if q.At.IsZero() {
		q.At = l.Clock().Now()
	}
	holders := q.Holders
	if len(holders) == 0 {
		holders = []string{"member:"}
	}
	rep := LiabilityReport{At: q.At, Buckets: append([]time.Duration(nil), q.Buckets...)}
	assets := make([]ledger.Asset, len(q.Assets))
	index := map[string]int{}
	err := l.View(ctx, func(r *ledger.Reader) error {
		for i, code := range q.Assets {
			a, err := r.Asset(code)
			if err != nil {
				return err
			}
			assets[i] = a
			index[code] = i
		}
		return nil
	})
	if err != nil {
		return LiabilityReport{}, err
	}
	acc := make([]liabilityAcc, len(assets))
	for i := range acc {
		acc[i].buckets = make([]int64, len(q.Buckets)+1)
	}
	for _, prefix := range dedupePrefixes(holders) {
		if err := scanHolders(ctx, l, q, prefix, index, acc); err != nil {
			return LiabilityReport{}, err
		}
	}
	breakage := make([]int64, len(assets))
	err = l.View(ctx, func(r *ledger.Reader) error {
		for _, addr := range q.Breakage {
			for i, a := range assets {
				d, err := r.BalanceAt(addr, a.Code, q.At)
				if errors.Is(err, ledger.ErrUnknownAccount) {
					break
				}
				if err != nil {
					return fmt.Errorf("kit: breakage account %s: %w", addr, err)
				}
				u, err := a.Units(d)
				if err != nil {
					return err
				}
				breakage[i] += u
			}
		}
		return nil
	})
	if err != nil {
		return LiabilityReport{}, err
	}
	for i, a := range assets {
		al, err := acc[i].report(a, q, breakage[i], func(code string) (ledger.Asset, error) {
			var ma ledger.Asset
			err := l.View(ctx, func(r *ledger.Reader) error {
				var err error
				ma, err = r.Asset(code)
				return err
			})
			return ma, err
		})
		if err != nil {
			return LiabilityReport{}, err
		}
		rep.Assets = append(rep.Assets, al)
	}
	return rep, nil
}

func (q LiabilityQuery) validate() error {
	if len(q.Assets) == 0 {
		return fmt.Errorf("%w: no asset to report", ErrInvalidQuery)
	}
	seen := map[string]bool{}
	for _, a := range q.Assets {
		if seen[a] {
			return fmt.Errorf("%w: asset %s listed twice", ErrInvalidQuery, a)
		}
		seen[a] = true
	}
	for i, b := range q.Buckets {
		if b <= 0 || (i > 0 && b <= q.Buckets[i-1]) {
			return fmt.Errorf("%w: bucket bounds must be positive and ascending", ErrInvalidQuery)
		}
	}
	for _, h := range q.Holders {
		if h == "" {
			return fmt.Errorf("%w: empty holder prefix", ErrInvalidQuery)
		}
	}
	for code, rule := range q.Values {
		if rule.From != code {
			return fmt.Errorf("%w: the value rule of %s converts %s", ErrInvalidQuery, code, rule.From)
		}
	}
	if !q.At.IsZero() {
		if err := ledger.ValidateTime("report time", q.At); err != nil {
			return err
		}
	}
	return nil
}

// dedupePrefixes drops a prefix another one covers ("member:vip:" under
// "member:"), so no account is counted twice.
func dedupePrefixes(ps []string) []string {
	ps = append([]string(nil), ps...)
	sort.Strings(ps)
	var out []string
	for _, p := range ps {
		if len(out) > 0 && strings.HasPrefix(p, out[len(out)-1]) {
			continue
		}
		out = append(out, p)
	}
	return out
}

// liabilityAcc sums one asset's balances as the scan goes.
type liabilityAcc struct {
	holders    int
	buckets    []int64 // outstanding units per bucket
	receivable int64
}

// scanHolders reads every balance of the accounts under prefix, a page
// at a time, and ages those in the reported assets.
func scanHolders(ctx context.Context, l *ledger.Ledger, q LiabilityQuery, prefix string, index map[string]int, acc []liabilityAcc) error {
	after := ledger.BalanceKey{Address: prefix}
	for {
		var page []ledger.Balance
		err := l.View(ctx, func(r *ledger.Reader) error {
			var err error
			page, err = r.AllBalances(after, liabilityPage)
			return err
		})
		if err != nil {
			return err
		}
		for _, b := range page {
			if !strings.HasPrefix(b.Account, prefix) {
				return nil // past the prefix: balances are in address order
			}
			i, ok := index[b.Asset]
			if !ok {
				continue
			}
			if err := ageBalance(ctx, l, q, b.Account, b.Asset, &acc[i]); err != nil {
				return err
			}
		}
		if len(page) < liabilityPage {
			return nil
		}
		last := page[len(page)-1]
		after = ledger.BalanceKey{Address: last.Account, Asset: last.Asset}
	}
}

// ageBalance reads one balance's history up to q.At and adds its
// outstanding amount, split by age, to acc.
func ageBalance(ctx context.Context, l *ledger.Ledger, q LiabilityQuery, account, asset string, acc *liabilityAcc) error {
	var a ledger.Asset
	// newer[k]: units credited after At - Buckets[k].
	newer := make([]int64, len(q.Buckets))
	var balance int64
	var cursor uint64
	for done := false; !done; {
		var page ledger.HistoryPage
		err := l.View(ctx, func(r *ledger.Reader) error {
			var err error
			if a.Code == "" {
				if a, err = r.Asset(asset); err != nil {
					return err
				}
			}
			page, err = r.History(ledger.HistoryQuery{Account: account, Asset: asset, After: cursor, Limit: liabilityPage})
			return err
		})
		if err != nil {
			return err
		}
		for _, e := range page.Entries {
			if e.Time.After(q.At) {
				done = true
				break
			}
			after, err := a.Units(e.Balance)
			if err != nil {
				return err
			}
			balance = after
			if e.Change.Sign() <= 0 {
				continue
			}
			change, err := a.Units(e.Change)
			if err != nil {
				return err
			}
			for k, bound := range q.Buckets {
				if e.Time.After(q.At.Add(-bound)) {
					newer[k] += change
				}
			}
		}
		if page.Next == 0 {
			break
		}
		cursor = page.Next
	}
	switch {
	case balance < 0:
		acc.receivable -= balance
		return nil
	case balance == 0:
		return nil
	}
	acc.holders++
	// older[k]: the part of balance at least Buckets[k] old.
	prev := balance
	for k := range q.Buckets {
		older := balance - min(balance, newer[k])
		acc.buckets[k] += prev - older
		prev = older
	}
	acc.buckets[len(q.Buckets)] += prev
	return nil
}

// report turns the sums into the asset's report, valuing each bucket.
func (acc liabilityAcc) report(a ledger.Asset, q LiabilityQuery, breakage int64, assetOf func(string) (ledger.Asset, error)) (AssetLiability, error) {
	al := AssetLiability{Asset: a.Code, Holders: acc.holders, Receivable: a.Amount(acc.receivable), Breakage: a.Amount(breakage)}
	rule, valued := q.Values[a.Code]
	var money ledger.Asset
	if valued {
		// The fee is the payee's: value at the rate and rounding alone.
		rule.FeeRate, rule.FixedFee, rule.FeeAccount = decimal.Zero, decimal.Zero, ""
		if rule.Exchange == "" {
			rule.Exchange = "liability:exchange" // Quote checks the rule, never the account
		}
		if rule.Remainder == "" {
			rule.Remainder = "liability:remainder"
		}
		var err error
		if money, err = assetOf(rule.To); err != nil {
			return AssetLiability{}, fmt.Errorf("kit: value of %s: %w", a.Code, err)
		}
		al.Money = money
		al.Value = money.Amount(0)
	}
	var total int64
	for k, units := range acc.buckets {
		b := LiabilityBucket{Amount: a.Amount(units)}
		if k > 0 {
			b.MinAge = q.Buckets[k-1]
		}
		if k < len(q.Buckets) {
			b.MaxAge = q.Buckets[k]
		}
		total += units
		if valued {
			b.Value = money.Amount(0)
			if units > 0 {
				qt, err := rule.Quote(a, money, units)
				switch {
				case errors.Is(err, ledger.ErrInvalidAmount):
					// Worth less than one minor unit of money: zero.
				case err != nil:
					return AssetLiability{}, fmt.Errorf("kit: value of %s: %w", a.Code, err)
				default:
					b.Value = money.Amount(qt.Gross)
				}
			}
			al.Value = al.Value.Add(b.Value)
		}
		al.Buckets = append(al.Buckets, b)
	}
	al.Outstanding = a.Amount(total)
	return al, nil
}
