-- rewardkit ledger schema, version 1. Portable SQL (PostgreSQL, CockroachDB,
-- YugabyteDB) except where marked "PostgreSQL only".
--
-- Money is int64 minor units (BIGINT), times are Unix nanoseconds (BIGINT),
-- hashes are 32 bytes (BYTEA). Free-form strings chosen by callers
-- (idempotency keys, record kinds and ids, metadata) are BYTEA so that any
-- Go string round-trips and sorts byte-wise; account addresses and asset
-- codes, which the ledger validates to ASCII, are TEXT in the "C" collation
-- so they also sort byte-wise.

-- The end of the journal, one row. Every writer locks it first (SELECT ...
-- FOR UPDATE), which serialises writers across connections and processes.
CREATE TABLE IF NOT EXISTS ledger_head (
    id      SMALLINT PRIMARY KEY CHECK (id = 1),
    tx_id   BIGINT   NOT NULL CHECK (tx_id >= 0),
    hash    BYTEA    NOT NULL CHECK (length(hash) = 32),
    time    BIGINT   NOT NULL,
    hold_id BIGINT   NOT NULL CHECK (hold_id >= 0),
    version BIGINT   NOT NULL
);
INSERT INTO ledger_head (id, tx_id, hash, time, hold_id, version)
VALUES (1, 0, decode('0000000000000000000000000000000000000000000000000000000000000000', 'hex'), 0, 0, 0)
ON CONFLICT (id) DO NOTHING;

CREATE TABLE IF NOT EXISTS assets (
    code      TEXT COLLATE "C" PRIMARY KEY,
    precision INT  NOT NULL CHECK (precision BETWEEN 0 AND 18)
);

CREATE TABLE IF NOT EXISTS accounts (
    address    TEXT COLLATE "C" PRIMARY KEY,
    unbounded  BOOLEAN NOT NULL,
    limits     BYTEA,
    metadata   BYTEA,
    created_at BIGINT  NOT NULL
);

CREATE TABLE IF NOT EXISTS balances (
    address TEXT COLLATE "C" NOT NULL,
    asset   TEXT COLLATE "C" NOT NULL,
    posted  BIGINT NOT NULL,
    held    BIGINT NOT NULL CHECK (held >= 0),
    PRIMARY KEY (address, asset)
);

CREATE TABLE IF NOT EXISTS transactions (
    id       BIGINT   PRIMARY KEY CHECK (id > 0),
    key      BYTEA,
    kind     SMALLINT NOT NULL CHECK (kind BETWEEN 1 AND 4),
    time     BIGINT   NOT NULL,
    metadata BYTEA,
    reverses BIGINT   CHECK (reverses > 0),
    hold_id  BIGINT   CHECK (hold_id > 0),
    hash     BYTEA    NOT NULL CHECK (length(hash) = 32)
);
-- Idempotency keys and reversals are unique; partial indexes leave out the
-- NULLs that most transactions have.
CREATE UNIQUE INDEX IF NOT EXISTS transactions_key ON transactions (key) WHERE key IS NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS transactions_reverses ON transactions (reverses) WHERE reverses IS NOT NULL;
CREATE INDEX IF NOT EXISTS transactions_time ON transactions (time, id);

-- A posting moves one positive amount of one asset from src to dst, so every
-- transaction balances by construction: the schema cannot express an
-- unbalanced one.
CREATE TABLE IF NOT EXISTS postings (
    tx_id     BIGINT NOT NULL,
    idx       INT    NOT NULL CHECK (idx >= 0),
    src       TEXT COLLATE "C" NOT NULL,
    dst       TEXT COLLATE "C" NOT NULL,
    asset     TEXT COLLATE "C" NOT NULL,
    amount    BIGINT NOT NULL CHECK (amount > 0),
    src_after BIGINT NOT NULL,
    dst_after BIGINT NOT NULL,
    PRIMARY KEY (tx_id, idx),
    CHECK (src <> dst)
);
CREATE INDEX IF NOT EXISTS postings_src ON postings (src, asset, tx_id, idx);
CREATE INDEX IF NOT EXISTS postings_dst ON postings (dst, asset, tx_id, idx);

CREATE TABLE IF NOT EXISTS holds (
    id         BIGINT PRIMARY KEY CHECK (id > 0),
    key        BYTEA,
    account    TEXT COLLATE "C" NOT NULL,
    asset      TEXT COLLATE "C" NOT NULL,
    units      BIGINT NOT NULL CHECK (units > 0),
    captured   BIGINT NOT NULL CHECK (captured >= 0 AND captured <= units),
    status     SMALLINT NOT NULL CHECK (status BETWEEN 1 AND 4),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    closed_at  BIGINT NOT NULL,
    metadata   BYTEA
);
CREATE UNIQUE INDEX IF NOT EXISTS holds_key ON holds (key) WHERE key IS NOT NULL;

CREATE TABLE IF NOT EXISTS records (
    kind BYTEA NOT NULL,
    id   BYTEA NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (kind, id)
);

CREATE TABLE IF NOT EXISTS due (
    kind BYTEA  NOT NULL,
    id   BYTEA  NOT NULL,
    at   BIGINT NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE INDEX IF NOT EXISTS due_at ON due (kind, at, id);
