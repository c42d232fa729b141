package pgstore

import (
	"github.com/jackc/pgx/v5"

	"github.com/rewardkit/rewardkit/ledger/driver"
)

// writeLog buffers a group's writes until they are sent. Each kind of
// write is appended in order; when sent, a range of the log becomes at
// most one statement per table (unnest of arrays), the last write of each
// key winning, so a group of a hundred transfers costs a handful of
// statements rather than hundreds.
type writeLog struct {
	assets   []driver.Asset
	accounts []driver.Account
	txs      []*driver.Transaction
	bals     []driver.Balance
	holdIns  []driver.Hold
	holdUpd  []driver.Hold // ID, Captured, Status, ClosedAt
	recs     []recOp
	dues     []dueOp
	events   []driver.Event
}

type recOp struct {
	kind, id string
	data     []byte
	del      bool
}

type dueOp struct {
	kind, id string
	at       int64
	del      bool
}

// logMark is a position in every slice of a writeLog.
type logMark struct {
	assets, accounts, txs, bals, holdIns, holdUpd, recs, dues, events int
}

func (l *writeLog) mark() logMark {
	return logMark{len(l.assets), len(l.accounts), len(l.txs), len(l.bals), len(l.holdIns), len(l.holdUpd), len(l.recs), len(l.dues), len(l.events)}
}

func (l *writeLog) truncate(m logMark) {
	clear(l.txs[m.txs:])
	clear(l.recs[m.recs:])
	l.assets = l.assets[:m.assets]
	l.accounts = l.accounts[:m.accounts]
	l.txs = l.txs[:m.txs]
	l.bals = l.bals[:m.bals]
	l.holdIns = l.holdIns[:m.holdIns]
	l.holdUpd = l.holdUpd[:m.holdUpd]
	l.recs = l.recs[:m.recs]
	l.dues = l.dues[:m.dues]
	clear(l.events[m.events:])
	l.events = l.events[:m.events]
}

// nullable returns nil (SQL NULL) for an empty string.
func nullable(s string) []byte {
	if s == "" {
		return nil
	}
	return []byte(s)
}

func nullID(id uint64) *int64 {
	if id == 0 {
		return nil
	}
	v := int64(id)
	return &v
}

// queue adds statements for the writes in [from, to) to b and returns how
// many it added.
func (l *writeLog) queue(b *pgx.Batch, from, to logMark) int {
	n := 0
	if as := l.assets[from.assets:to.assets]; len(as) > 0 {
		codes, precs := make([]string, len(as)), make([]int32, len(as))
		for i, a := range as {
			codes[i], precs[i] = a.Code, a.Precision
		}
		b.Queue(`INSERT INTO assets (code, precision) SELECT * FROM unnest($1::text[], $2::int[])`, codes, precs)
		n++
	}
	if as := l.accounts[from.accounts:to.accounts]; len(as) > 0 {
		addrs, unb := make([]string, len(as)), make([]bool, len(as))
		lims, mds, created := make([][]byte, len(as)), make([][]byte, len(as)), make([]int64, len(as))
		for i, a := range as {
			addrs[i], unb[i], lims[i], mds[i], created[i] = a.Address, a.Unbounded, encodeLimits(a.Limits), encodeMap(a.Metadata), nanosOf(a.CreatedAt)
		}
		b.Queue(`INSERT INTO accounts (address, unbounded, limits, metadata, created_at)
			SELECT * FROM unnest($1::text[], $2::bool[], $3::bytea[], $4::bytea[], $5::bigint[])`, addrs, unb, lims, mds, created)
		n++
	}
	if ts := l.txs[from.txs:to.txs]; len(ts) > 0 {
		m := len(ts)
		ids, kinds, times := make([]int64, m), make([]int16, m), make([]int64, m)
		keys, mds, hashes := make([][]byte, m), make([][]byte, m), make([][]byte, m)
		revs, holds := make([]*int64, m), make([]*int64, m)
		np := 0
		for _, t := range ts {
			np += len(t.Postings)
		}
		pid, pidx := make([]int64, 0, np), make([]int32, 0, np)
		src, dst, asset := make([]string, 0, np), make([]string, 0, np), make([]string, 0, np)
		amt, sa, da := make([]int64, 0, np), make([]int64, 0, np), make([]int64, 0, np)
		for i, t := range ts {
			ids[i], kinds[i], times[i] = int64(t.ID), int16(t.Kind), t.Time
			keys[i], mds[i], hashes[i] = nullable(t.Key), encodeMap(t.Metadata), t.Hash[:]
			revs[i], holds[i] = nullID(t.Reverses), nullID(t.Hold)
			for j := range t.Postings {
				p := &t.Postings[j]
				pid, pidx = append(pid, int64(t.ID)), append(pidx, int32(j))
				src, dst, asset = append(src, p.From), append(dst, p.To), append(asset, p.Asset)
				amt, sa, da = append(amt, p.Units), append(sa, p.FromAfter), append(da, p.ToAfter)
			}
		}
		// Postings first: the database checks that each transaction has some.
		b.Queue(`INSERT INTO postings (tx_id, idx, src, dst, asset, amount, src_after, dst_after)
			SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[], $8::bigint[])`,
			pid, pidx, src, dst, asset, amt, sa, da)
		b.Queue(`INSERT INTO transactions (id, key, kind, time, metadata, reverses, hold_id, hash)
			SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::smallint[], $4::bigint[], $5::bytea[], $6::bigint[], $7::bigint[], $8::bytea[])`,
			ids, keys, kinds, times, mds, revs, holds, hashes)
		n += 2
	}
	if bs := l.bals[from.bals:to.bals]; len(bs) > 0 {
		last := make(map[driver.BalanceKey]int, len(bs))
		for i, b := range bs {
			last[driver.BalanceKey{Address: b.Address, Asset: b.Asset}] = i
		}
		addrs, assets := make([]string, 0, len(last)), make([]string, 0, len(last))
		posted, held := make([]int64, 0, len(last)), make([]int64, 0, len(last))
		for i, b := range bs {
			if last[driver.BalanceKey{Address: b.Address, Asset: b.Asset}] != i {
				continue
			}
			addrs, assets = append(addrs, b.Address), append(assets, b.Asset)
			posted, held = append(posted, b.Posted), append(held, b.Held)
		}
		b.Queue(`INSERT INTO balances (address, asset, posted, held)
			SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[])
			ON CONFLICT (address, asset) DO UPDATE SET posted = excluded.posted, held = excluded.held`,
			addrs, assets, posted, held)
		n++
	}
	n += l.queueHolds(b, from, to)
	n += l.queueRecords(b, from, to)
	n += l.queueDue(b, from, to)
	n += l.queueEvents(b, from, to)
	return n
}

func (l *writeLog) queueEvents(b *pgx.Batch, from, to logMark) int {
	evs := l.events[from.events:to.events]
	if len(evs) == 0 {
		return 0
	}
	m := len(evs)
	seqs, ids, types, subjects := make([]int64, m), make([][]byte, m), make([]string, m), make([][]byte, m)
	times, txs, data, hashes := make([]int64, m), make([]*int64, m), make([][]byte, m), make([][]byte, m)
	for i := range evs {
		e := &evs[i]
		// Copies of the ID and hash: the log's entries are cleared once
		// queued, before the batch is encoded.
		seqs[i], ids[i], types[i], subjects[i] = int64(e.Seq), append([]byte(nil), e.ID[:]...), e.Type, []byte(e.Subject)
		times[i], txs[i], data[i], hashes[i] = e.Time, nullID(e.TxID), e.Data, append([]byte(nil), e.Hash[:]...)
	}
	b.Queue(`INSERT INTO events (seq, id, type, subject, time, tx_id, data, hash)
		SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::text[], $4::bytea[], $5::bigint[], $6::bigint[], $7::bytea[], $8::bytea[])`,
		seqs, ids, types, subjects, times, txs, data, hashes)
	return 1
}

func (l *writeLog) queueHolds(b *pgx.Batch, from, to logMark) int {
	ins, upd := l.holdIns[from.holdIns:to.holdIns], l.holdUpd[from.holdUpd:to.holdUpd]
	if len(ins) == 0 && len(upd) == 0 {
		return 0
	}
	// Updates of holds inserted in the same range fold into the insert.
	inserted := make(map[uint64]int, len(ins))
	rows := make([]driver.Hold, len(ins))
	copy(rows, ins)
	for i, h := range rows {
		inserted[h.ID] = i
	}
	lastUpd := map[uint64]driver.Hold{}
	var order []uint64
	for _, u := range upd {
		if i, ok := inserted[u.ID]; ok {
			rows[i].Captured, rows[i].Status, rows[i].ClosedAt = u.Captured, u.Status, u.ClosedAt
			continue
		}
		if _, ok := lastUpd[u.ID]; !ok {
			order = append(order, u.ID)
		}
		lastUpd[u.ID] = u
	}
	n := 0
	if len(rows) > 0 {
		m := len(rows)
		ids, keys, accs, assets := make([]int64, m), make([][]byte, m), make([]string, m), make([]string, m)
		units, capt, status := make([]int64, m), make([]int64, m), make([]int16, m)
		created, expires, closed, mds := make([]int64, m), make([]int64, m), make([]int64, m), make([][]byte, m)
		for i, h := range rows {
			ids[i], keys[i], accs[i], assets[i] = int64(h.ID), nullable(h.Key), h.Account, h.Asset
			units[i], capt[i], status[i] = h.Units, h.Captured, int16(h.Status)
			created[i], expires[i], closed[i], mds[i] = h.CreatedAt, h.ExpiresAt, h.ClosedAt, encodeMap(h.Metadata)
		}
		b.Queue(`INSERT INTO holds (id, key, account, asset, units, captured, status, created_at, expires_at, closed_at, metadata)
			SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::smallint[],
				$8::bigint[], $9::bigint[], $10::bigint[], $11::bytea[])`,
			ids, keys, accs, assets, units, capt, status, created, expires, closed, mds)
		n++
	}
	if len(order) > 0 {
		m := len(order)
		ids, capt, status, closed := make([]int64, m), make([]int64, m), make([]int16, m), make([]int64, m)
		for i, id := range order {
			u := lastUpd[id]
			ids[i], capt[i], status[i], closed[i] = int64(id), u.Captured, int16(u.Status), u.ClosedAt
		}
		b.Queue(`UPDATE holds SET captured = u.captured, status = u.status, closed_at = u.closed_at
			FROM unnest($1::bigint[], $2::bigint[], $3::smallint[], $4::bigint[]) AS u(id, captured, status, closed_at)
			WHERE holds.id = u.id`, ids, capt, status, closed)
		n++
	}
	return n
}

type kindID struct{ kind, id string }

func (l *writeLog) queueRecords(b *pgx.Batch, from, to logMark) int {
	ops := l.recs[from.recs:to.recs]
	if len(ops) == 0 {
		return 0
	}
	last := make(map[kindID]int, len(ops))
	for i, o := range ops {
		last[kindID{o.kind, o.id}] = i
	}
	var pk, pi, pd, dk, di [][]byte
	for i, o := range ops {
		if last[kindID{o.kind, o.id}] != i {
			continue
		}
		if o.del {
			dk, di = append(dk, []byte(o.kind)), append(di, []byte(o.id))
			continue
		}
		data := o.data
		if data == nil {
			data = []byte{}
		}
		pk, pi, pd = append(pk, []byte(o.kind)), append(pi, []byte(o.id)), append(pd, data)
	}
	n := 0
	if len(pk) > 0 {
		b.Queue(`INSERT INTO records (kind, id, data) SELECT * FROM unnest($1::bytea[], $2::bytea[], $3::bytea[])
			ON CONFLICT (kind, id) DO UPDATE SET data = excluded.data`, pk, pi, pd)
		n++
	}
	if len(dk) > 0 {
		b.Queue(`DELETE FROM records WHERE (kind, id) IN (SELECT * FROM unnest($1::bytea[], $2::bytea[]))`, dk, di)
		n++
	}
	return n
}

func (l *writeLog) queueDue(b *pgx.Batch, from, to logMark) int {
	ops := l.dues[from.dues:to.dues]
	if len(ops) == 0 {
		return 0
	}
	last := make(map[kindID]int, len(ops))
	for i, o := range ops {
		last[kindID{o.kind, o.id}] = i
	}
	var pk, pi, dk, di [][]byte
	var at []int64
	for i, o := range ops {
		if last[kindID{o.kind, o.id}] != i {
			continue
		}
		if o.del {
			dk, di = append(dk, []byte(o.kind)), append(di, []byte(o.id))
			continue
		}
		pk, pi, at = append(pk, []byte(o.kind)), append(pi, []byte(o.id)), append(at, o.at)
	}
	n := 0
	if len(pk) > 0 {
		b.Queue(`INSERT INTO due (kind, id, at) SELECT * FROM unnest($1::bytea[], $2::bytea[], $3::bigint[])
			ON CONFLICT (kind, id) DO UPDATE SET at = excluded.at`, pk, pi, at)
		n++
	}
	if len(dk) > 0 {
		b.Queue(`DELETE FROM due WHERE (kind, id) IN (SELECT * FROM unnest($1::bytea[], $2::bytea[]))`, dk, di)
		n++
	}
	return n
}
