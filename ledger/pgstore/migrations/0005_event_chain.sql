-- The event log becomes a hash chain, as the journal is: each event's hash
-- covers the one before, and the head row keeps the last, so holds and
-- program state enter the audit trail (ledger.Verify checks both). Events
-- written before this migration have no hash (NULL); Verify accepts them
-- only as a prefix of the log, before the first chained event.
ALTER TABLE events ADD COLUMN IF NOT EXISTS hash BYTEA CHECK (hash IS NULL OR length(hash) = 32);
ALTER TABLE ledger_head ADD COLUMN IF NOT EXISTS event_hash BYTEA NOT NULL
    DEFAULT '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea
    CHECK (length(event_hash) = 32);
-- Carried on from a log written before the chain: its head has no hash.

-- Events are immutable once committed, like posted journal rows
-- (0002_immutable_journal.sql).
DROP TRIGGER IF EXISTS events_immutable ON events;
CREATE TRIGGER events_immutable BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION rewardkit_refuse_change();
DROP TRIGGER IF EXISTS events_no_truncate ON events;
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION rewardkit_refuse_change();
