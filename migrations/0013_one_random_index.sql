-- A delivery is now known by its body's fingerprint alone: one index whose keys come in random
-- order instead of two. Every key added in random order rewrites a leaf page of its index in
-- each commit, and the commit that stores a group of webhooks is what GitHub's answers wait for
-- (architecture.md, "Ingest performance", step 12). A GitHub redelivery carries the same body as
-- the first copy, so the fingerprint refuses it as well as the id did; the delivery id stays on
-- the row, indexed by time for the redelivery sweep, which looks ids up around when GitHub sent
-- them.
--
-- SQLite cannot drop a UNIQUE constraint, so the table is rebuilt. bosun runs its migrations on
-- a connection with foreign keys off (`Db::open`): with them on, dropping `deliveries` would
-- delete every row of `delivery_payloads` (ON DELETE CASCADE) first.
CREATE TABLE deliveries_rebuilt (
    seq              INTEGER PRIMARY KEY,
    delivery_id      TEXT    NOT NULL,
    event            TEXT    NOT NULL,
    received_at      INTEGER NOT NULL,
    -- received | processed | ignored | quarantined
    state            TEXT    NOT NULL DEFAULT 'received',
    outcome          TEXT,
    processed_at     INTEGER,
    -- The verified HMAC of the body (NULL for rows older than migration 0009).
    body_fingerprint BLOB
);

-- Until now a body was refused for 24 hours only, so one replayed later was stored again: the
-- first row keeps the fingerprint, the later copies lose theirs (NULLs do not collide).
INSERT INTO deliveries_rebuilt
    (seq, delivery_id, event, received_at, state, outcome, processed_at, body_fingerprint)
SELECT d.seq, d.delivery_id, d.event, d.received_at, d.state, d.outcome, d.processed_at,
       CASE WHEN EXISTS (SELECT 1 FROM deliveries e
                         WHERE e.body_fingerprint = d.body_fingerprint AND e.seq < d.seq)
            THEN NULL ELSE d.body_fingerprint END
FROM deliveries d;

DROP TABLE deliveries;
ALTER TABLE deliveries_rebuilt RENAME TO deliveries;

CREATE INDEX deliveries_state ON deliveries (state, seq);
-- The writer's duplicate check: `INSERT OR IGNORE` meets this index.
CREATE UNIQUE INDEX deliveries_body_fingerprint ON deliveries (body_fingerprint);
-- Grows at its end (times come in order): the redelivery sweep's lookups and the pruning.
CREATE INDEX deliveries_received_at ON deliveries (received_at, delivery_id);
