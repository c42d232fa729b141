-- PostgreSQL only (PL/pgSQL triggers, a transition table): the database
-- itself refuses to change or remove posted journal rows, and refuses a
-- transaction without postings. Where these are not available, the
-- ledger's own rules and its hash chain (ledger.Verify) remain, and
-- revoking UPDATE/DELETE on these tables from the application's role gives
-- the same protection.

CREATE OR REPLACE FUNCTION rewardkit_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'rewardkit: % on %.% refused: posted journal rows are immutable',
        TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$;

DROP TRIGGER IF EXISTS transactions_immutable ON transactions;
CREATE TRIGGER transactions_immutable BEFORE UPDATE OR DELETE ON transactions
    FOR EACH ROW EXECUTE FUNCTION rewardkit_refuse_change();
DROP TRIGGER IF EXISTS transactions_no_truncate ON transactions;
CREATE TRIGGER transactions_no_truncate BEFORE TRUNCATE ON transactions
    FOR EACH STATEMENT EXECUTE FUNCTION rewardkit_refuse_change();
DROP TRIGGER IF EXISTS postings_immutable ON postings;
CREATE TRIGGER postings_immutable BEFORE UPDATE OR DELETE ON postings
    FOR EACH ROW EXECUTE FUNCTION rewardkit_refuse_change();
DROP TRIGGER IF EXISTS postings_no_truncate ON postings;
CREATE TRIGGER postings_no_truncate BEFORE TRUNCATE ON postings
    FOR EACH STATEMENT EXECUTE FUNCTION rewardkit_refuse_change();

-- A transaction must have postings: the store inserts a group's postings
-- before its transactions, and this statement-level trigger checks every
-- transaction the statement inserted (a per-row deferred trigger cost
-- more than the inserts themselves). The function
-- keeps the schema it was created in (SET search_path FROM CURRENT), so it
-- reads the right postings table from any session.
CREATE OR REPLACE FUNCTION rewardkit_require_postings() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    t RECORD;
BEGIN
    -- One index probe per new transaction: an anti-join could be planned
    -- as a scan of every posting.
    FOR t IN SELECT id FROM new_transactions LOOP
        IF NOT EXISTS (SELECT 1 FROM postings WHERE tx_id = t.id) THEN
            RAISE EXCEPTION 'rewardkit: transaction % has no postings', t.id
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
    END LOOP;
    RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS transactions_have_postings ON transactions;
CREATE TRIGGER transactions_have_postings AFTER INSERT ON transactions
    REFERENCING NEW TABLE AS new_transactions
    FOR EACH STATEMENT EXECUTE FUNCTION rewardkit_require_postings();
