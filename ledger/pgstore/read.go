package pgstore

import (
	"context"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/rewardkit/rewardkit/ledger/driver"
)

// queryFunc runs one query and calls scan for each row.
type queryFunc func(sql string, args []any, scan func(pgx.Rows) error) error

// directQuery runs queries straight on conn (View).
func directQuery(ctx context.Context, conn *pgx.Conn) queryFunc {
	return func(sql string, args []any, scan func(pgx.Rows) error) error {
		rows, err := conn.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		return scanAll(rows, scan)
	}
}

func scanAll(rows pgx.Rows, scan func(pgx.Rows) error) error {
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// reader implements driver.ReadTx with SQL queries. Inside an Update its
// queries first flush what the unit of work has buffered (see gtx).
type reader struct {
	q      queryFunc
	head   func() (driver.Head, error) // nil: read the head row
	dbErr  error                       // the first database error, which ends the transaction
	closed bool
}

func (r *reader) query(sql string, args []any, scan func(pgx.Rows) error) error {
	if r.closed {
		panic("pgstore: ReadTx used after its View or Update returned")
	}
	if r.dbErr != nil {
		return r.dbErr
	}
	if err := r.q(sql, args, scan); err != nil {
		// A failed statement ends a PostgreSQL transaction, so the first
		// error is also the answer to everything after it.
		r.dbErr = fmt.Errorf("pgstore: %w", mapErr(err))
		return r.dbErr
	}
	return nil
}

// storable reports whether s can be stored in a TEXT column: valid UTF-8
// without NUL. Addresses and asset codes that are not cannot exist, so
// reads answer "not found" without asking the database (whose error would
// end the transaction).
func storable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return false
		}
	}
	return true
}

func (r *reader) Asset(code string) (driver.Asset, error) {
	if !storable(code) {
		return driver.Asset{}, driver.ErrUnknownAsset
	}
	a := driver.Asset{Code: code}
	found := false
	err := r.query(`SELECT precision FROM assets WHERE code = $1`, []any{code}, func(rows pgx.Rows) error {
		found = true
		return rows.Scan(&a.Precision)
	})
	if err != nil {
		return driver.Asset{}, err
	}
	if !found {
		return driver.Asset{}, driver.ErrUnknownAsset
	}
	return a, nil
}

func (r *reader) Assets() ([]driver.Asset, error) {
	var out []driver.Asset
	err := r.query(`SELECT code, precision FROM assets ORDER BY code`, nil, func(rows pgx.Rows) error {
		var a driver.Asset
		if err := rows.Scan(&a.Code, &a.Precision); err != nil {
			return err
		}
		out = append(out, a)
		return nil
	})
	return out, err
}

func (r *reader) Account(addr string) (driver.Account, error) {
	if !storable(addr) {
		return driver.Account{}, driver.ErrUnknownAccount
	}
	var (
		a        driver.Account
		lim, md  []byte
		created  int64
		found    bool
		decodeEr error
	)
	err := r.query(`SELECT unbounded, limits, metadata, created_at FROM accounts WHERE address = $1`, []any{addr},
		func(rows pgx.Rows) error {
			found = true
			if err := rows.Scan(&a.Unbounded, &lim, &md, &created); err != nil {
				return err
			}
			if a.Limits, decodeEr = decodeLimits(lim); decodeEr != nil {
				return decodeEr
			}
			a.Metadata, decodeEr = decodeMap(md)
			return decodeEr
		})
	if err != nil {
		return driver.Account{}, err
	}
	if !found {
		return driver.Account{}, driver.ErrUnknownAccount
	}
	a.Address = addr
	a.CreatedAt = timeOf(created)
	return a, nil
}

// timeOf turns stored nanoseconds into a UTC time; 0 is the zero time.
func timeOf(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// nanosOf is timeOf's inverse.
func nanosOf(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func scanBalance(rows pgx.Rows) (driver.Balance, error) {
	var b driver.Balance
	err := rows.Scan(&b.Address, &b.Asset, &b.Posted, &b.Held)
	return b, err
}

func (r *reader) Balance(k driver.BalanceKey) (driver.Balance, error) {
	out := driver.Balance{Address: k.Address, Asset: k.Asset}
	if !storable(k.Address) || !storable(k.Asset) {
		return out, nil
	}
	err := r.query(`SELECT posted, held FROM balances WHERE address = $1 AND asset = $2`, []any{k.Address, k.Asset},
		func(rows pgx.Rows) error { return rows.Scan(&out.Posted, &out.Held) })
	return out, err
}

func (r *reader) AccountBalances(addr string) ([]driver.Balance, error) {
	if !storable(addr) {
		return nil, nil
	}
	var out []driver.Balance
	err := r.query(`SELECT address, asset, posted, held FROM balances WHERE address = $1 ORDER BY asset`, []any{addr},
		func(rows pgx.Rows) error {
			b, err := scanBalance(rows)
			out = append(out, b)
			return err
		})
	return out, err
}

func (r *reader) Balances(after driver.BalanceKey, limit int) ([]driver.Balance, error) {
	if limit <= 0 {
		return nil, nil
	}
	if !storable(after.Address) || !storable(after.Asset) {
		return nil, fmt.Errorf("pgstore: balance key %q/%q cannot be stored", after.Address, after.Asset)
	}
	var out []driver.Balance
	err := r.query(`SELECT address, asset, posted, held FROM balances
		WHERE (address, asset) > ($1, $2) ORDER BY address, asset LIMIT $3`,
		[]any{after.Address, after.Asset, limit},
		func(rows pgx.Rows) error {
			b, err := scanBalance(rows)
			out = append(out, b)
			return err
		})
	return out, err
}

func (r *reader) Head() (driver.Head, error) {
	if r.head != nil {
		return r.head()
	}
	var h driver.Head
	var hash []byte
	var id int64
	err := r.query(`SELECT tx_id, hash, time FROM ledger_head WHERE id = 1`, nil, func(rows pgx.Rows) error {
		return rows.Scan(&id, &hash, &h.Time)
	})
	if err != nil {
		return driver.Head{}, err
	}
	h.ID = uint64(id)
	copy(h.Hash[:], hash)
	return h, nil
}

const txColumns = `id, key, kind, time, metadata, COALESCE(reverses, 0), COALESCE(hold_id, 0), hash`

// transactions reads the transactions a WHERE clause selects (in ID
// order) with their postings, which come from rows with tx_id between the
// first and last ID read.
func (r *reader) transactions(where string, args []any) ([]driver.Transaction, error) {
	var out []driver.Transaction
	err := r.query(`SELECT `+txColumns+` FROM transactions WHERE `+where+` ORDER BY id`, args, func(rows pgx.Rows) error {
		var (
			t             driver.Transaction
			id, rev, hold int64
			kind          int16
			key, md, hash []byte
		)
		if err := rows.Scan(&id, &key, &kind, &t.Time, &md, &rev, &hold, &hash); err != nil {
			return err
		}
		t.ID, t.Key, t.Kind, t.Reverses, t.Hold = uint64(id), string(key), driver.Kind(kind), uint64(rev), uint64(hold)
		copy(t.Hash[:], hash)
		var err error
		if t.Metadata, err = decodeMap(md); err != nil {
			return err
		}
		out = append(out, t)
		return nil
	})
	if err != nil || len(out) == 0 {
		return out, err
	}
	first, last := out[0].ID, out[len(out)-1].ID
	i := 0
	err = r.query(`SELECT tx_id, src, dst, asset, amount, src_after, dst_after FROM postings
		WHERE tx_id >= $1 AND tx_id <= $2 ORDER BY tx_id, idx`, []any{int64(first), int64(last)},
		func(rows pgx.Rows) error {
			var id int64
			var p driver.Posting
			if err := rows.Scan(&id, &p.From, &p.To, &p.Asset, &p.Units, &p.FromAfter, &p.ToAfter); err != nil {
				return err
			}
			for i < len(out) && out[i].ID < uint64(id) {
				i++
			}
			if i < len(out) && out[i].ID == uint64(id) {
				out[i].Postings = append(out[i].Postings, p)
			}
			return nil
		})
	return out, err
}

func (r *reader) Transaction(id uint64) (driver.Transaction, error) {
	if id == 0 || id > 1<<63-1 {
		return driver.Transaction{}, driver.ErrNotFound
	}
	ts, err := r.transactions(`id = $1`, []any{int64(id)})
	if err != nil {
		return driver.Transaction{}, err
	}
	if len(ts) == 0 {
		return driver.Transaction{}, driver.ErrNotFound
	}
	return ts[0], nil
}

func (r *reader) TransactionByKey(key string) (driver.Transaction, error) {
	if key == "" {
		return driver.Transaction{}, driver.ErrNotFound
	}
	ts, err := r.transactions(`key = $1`, []any{[]byte(key)})
	if err != nil {
		return driver.Transaction{}, err
	}
	if len(ts) == 0 {
		return driver.Transaction{}, driver.ErrNotFound
	}
	return ts[0], nil
}

func (r *reader) Transactions(after uint64, limit int) ([]driver.Transaction, error) {
	if limit <= 0 || after >= 1<<63-1 {
		return nil, nil
	}
	// IDs are dense, so the page is an ID range: one index range scan.
	hi := int64(after) + int64(limit)
	if hi < 0 {
		hi = 1<<63 - 1
	}
	return r.transactions(`id > $1 AND id <= $2`, []any{int64(after), hi})
}

func (r *reader) ReversalOf(id uint64) (uint64, error) {
	if id == 0 || id > 1<<63-1 {
		return 0, driver.ErrNotFound
	}
	var rid int64
	err := r.query(`SELECT id FROM transactions WHERE reverses = $1`, []any{int64(id)},
		func(rows pgx.Rows) error { return rows.Scan(&rid) })
	if err != nil {
		return 0, err
	}
	if rid == 0 {
		return 0, driver.ErrNotFound
	}
	return uint64(rid), nil
}

func (r *reader) History(k driver.BalanceKey, after uint64, limit int) ([]driver.HistoryItem, error) {
	if limit <= 0 || !storable(k.Address) || !storable(k.Asset) || after >= 1<<63-1 {
		return nil, nil
	}
	var out []driver.HistoryItem
	err := r.query(`SELECT h.tx_id, t.time, h.idx, h.delta, h.after FROM (
			(SELECT tx_id, idx, -amount AS delta, src_after AS after FROM postings
			 WHERE src = $1 AND asset = $2 AND tx_id > $3 ORDER BY tx_id, idx LIMIT $4)
			UNION ALL
			(SELECT tx_id, idx, amount, dst_after FROM postings
			 WHERE dst = $1 AND asset = $2 AND tx_id > $3 ORDER BY tx_id, idx LIMIT $4)
		) h JOIN transactions t ON t.id = h.tx_id
		ORDER BY h.tx_id, h.idx LIMIT $4`,
		[]any{k.Address, k.Asset, int64(after), limit},
		func(rows pgx.Rows) error {
			var it driver.HistoryItem
			var id int64
			var idx int32
			if err := rows.Scan(&id, &it.Time, &idx, &it.Delta, &it.After); err != nil {
				return err
			}
			it.ID, it.Posting = uint64(id), int(idx)
			out = append(out, it)
			return nil
		})
	return out, err
}

func (r *reader) PostedAt(k driver.BalanceKey, id uint64) (int64, error) {
	if !storable(k.Address) || !storable(k.Asset) {
		return 0, nil
	}
	if id > 1<<63-1 {
		id = 1<<63 - 1
	}
	var after int64
	err := r.query(`SELECT after FROM (
			(SELECT tx_id, idx, src_after AS after FROM postings
			 WHERE src = $1 AND asset = $2 AND tx_id <= $3 ORDER BY tx_id DESC, idx DESC LIMIT 1)
			UNION ALL
			(SELECT tx_id, idx, dst_after FROM postings
			 WHERE dst = $1 AND asset = $2 AND tx_id <= $3 ORDER BY tx_id DESC, idx DESC LIMIT 1)
		) x ORDER BY tx_id DESC, idx DESC LIMIT 1`,
		[]any{k.Address, k.Asset, int64(id)},
		func(rows pgx.Rows) error { return rows.Scan(&after) })
	return after, err
}

func (r *reader) LastIDAt(t int64) (uint64, error) {
	var id int64
	err := r.query(`SELECT id FROM transactions WHERE time <= $1 ORDER BY time DESC, id DESC LIMIT 1`, []any{t},
		func(rows pgx.Rows) error { return rows.Scan(&id) })
	return uint64(id), err
}

const holdColumns = `id, key, account, asset, units, captured, status, created_at, expires_at, closed_at, metadata`

func (r *reader) holds(where, tail string, args []any) ([]driver.Hold, error) {
	var out []driver.Hold
	err := r.query(`SELECT `+holdColumns+` FROM holds WHERE `+where+` ORDER BY id `+tail, args, func(rows pgx.Rows) error {
		var (
			h       driver.Hold
			id      int64
			status  int16
			key, md []byte
		)
		if err := rows.Scan(&id, &key, &h.Account, &h.Asset, &h.Units, &h.Captured, &status,
			&h.CreatedAt, &h.ExpiresAt, &h.ClosedAt, &md); err != nil {
			return err
		}
		h.ID, h.Key, h.Status = uint64(id), string(key), driver.HoldStatus(status)
		var err error
		if h.Metadata, err = decodeMap(md); err != nil {
			return err
		}
		out = append(out, h)
		return nil
	})
	return out, err
}

func (r *reader) Hold(id uint64) (driver.Hold, error) {
	if id == 0 || id > 1<<63-1 {
		return driver.Hold{}, driver.ErrNotFound
	}
	hs, err := r.holds(`id = $1`, ``, []any{int64(id)})
	if err != nil {
		return driver.Hold{}, err
	}
	if len(hs) == 0 {
		return driver.Hold{}, driver.ErrNotFound
	}
	return hs[0], nil
}

func (r *reader) HoldByKey(key string) (driver.Hold, error) {
	if key == "" {
		return driver.Hold{}, driver.ErrNotFound
	}
	hs, err := r.holds(`key = $1`, ``, []any{[]byte(key)})
	if err != nil {
		return driver.Hold{}, err
	}
	if len(hs) == 0 {
		return driver.Hold{}, driver.ErrNotFound
	}
	return hs[0], nil
}

func (r *reader) Holds(after uint64, limit int) ([]driver.Hold, error) {
	if limit <= 0 || after >= 1<<63-1 {
		return nil, nil
	}
	return r.holds(`id > $1`, `LIMIT $2`, []any{int64(after), limit})
}

func (r *reader) Record(kind, id string) ([]byte, error) {
	var data []byte
	found := false
	err := r.query(`SELECT data FROM records WHERE kind = $1 AND id = $2`, []any{[]byte(kind), []byte(id)},
		func(rows pgx.Rows) error {
			found = true
			return rows.Scan(&data)
		})
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, driver.ErrNotFound
	}
	return append([]byte(nil), data...), nil // empty data reads as nil, like memstore
}

func (r *reader) Records(kind, after string, limit int) ([]driver.Record, error) {
	if limit <= 0 {
		return nil, nil
	}
	var out []driver.Record
	err := r.query(`SELECT id, data FROM records WHERE kind = $1 AND id > $2 ORDER BY id LIMIT $3`,
		[]any{[]byte(kind), []byte(after), limit},
		func(rows pgx.Rows) error {
			var id, data []byte
			if err := rows.Scan(&id, &data); err != nil {
				return err
			}
			out = append(out, driver.Record{Kind: kind, ID: string(id), Data: append([]byte(nil), data...)})
			return nil
		})
	return out, err
}

func (r *reader) Due(kind string, at time.Time, limit int) ([]driver.DueEntry, error) {
	if limit <= 0 {
		return nil, nil
	}
	var out []driver.DueEntry
	err := r.query(`SELECT id, at FROM due WHERE kind = $1 AND at <= $2 ORDER BY at, id LIMIT $3`,
		[]any{[]byte(kind), at.UnixNano(), limit},
		func(rows pgx.Rows) error {
			var id []byte
			var ns int64
			if err := rows.Scan(&id, &ns); err != nil {
				return err
			}
			out = append(out, driver.DueEntry{Kind: kind, ID: string(id), At: time.Unix(0, ns).UTC()})
			return nil
		})
	return out, err
}

func (r *reader) EventHead() (driver.EventHead, error) {
	var (
		seq  int64
		hash []byte
		h    driver.EventHead
	)
	err := r.query(`SELECT event_seq, event_hash FROM ledger_head WHERE id = 1`, nil, func(rows pgx.Rows) error { return rows.Scan(&seq, &hash) })
	h.Seq = uint64(seq)
	copy(h.Hash[:], hash)
	return h, err
}

func (r *reader) Events(after uint64, limit int) ([]driver.Event, error) {
	if limit <= 0 || after >= 1<<63-1 {
		return nil, nil
	}
	// Seqs are dense, so the page is a range: one index range scan.
	hi := int64(after) + int64(limit)
	if hi < 0 {
		hi = 1<<63 - 1
	}
	out := make([]driver.Event, 0, min(limit, 1024))
	err := r.query(`SELECT seq, id, type, subject, time, COALESCE(tx_id, 0), data, hash FROM events
		WHERE seq > $1 AND seq <= $2 ORDER BY seq`, []any{int64(after), hi},
		func(rows pgx.Rows) error {
			var (
				e                 driver.Event
				seq, txID         int64
				id, subject, hash []byte
			)
			if err := rows.Scan(&seq, &id, &e.Type, &subject, &e.Time, &txID, &e.Data, &hash); err != nil {
				return err
			}
			e.Seq, e.TxID, e.Subject = uint64(seq), uint64(txID), string(subject)
			copy(e.ID[:], id)
			copy(e.Hash[:], hash) // NULL (written before the chain): the zero hash
			out = append(out, e)
			return nil
		})
	return out, err
}
