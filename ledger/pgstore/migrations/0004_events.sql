-- The event log: what happened, appended in the same transaction as the
-- change it reports. seq is dense from 1 (the consumers' cursor); the head
-- row keeps the last one, so writers take the next under the head lock
-- they already hold. Subjects are chosen by callers: BYTEA, like record
-- ids. data is the JSON object the ledger validated, kept byte for byte.
ALTER TABLE ledger_head ADD COLUMN IF NOT EXISTS event_seq BIGINT NOT NULL DEFAULT 0 CHECK (event_seq >= 0);

CREATE TABLE IF NOT EXISTS events (
    seq     BIGINT PRIMARY KEY CHECK (seq > 0),
    id      BYTEA  NOT NULL CHECK (length(id) = 16),
    type    TEXT COLLATE "C" NOT NULL,
    subject BYTEA  NOT NULL,
    time    BIGINT NOT NULL,
    tx_id   BIGINT CHECK (tx_id > 0),
    data    BYTEA
);
