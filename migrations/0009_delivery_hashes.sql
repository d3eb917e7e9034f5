-- The SHA-256 of each delivery's body, as received. X-GitHub-Delivery is not covered by the
-- signature (only the body is), so the id alone lets a captured delivery be replayed under a
-- new id; a body seen within `REPLAY_WINDOW_MS` (src/db/deliveries.rs) is a duplicate too.
-- The hash sits on the delivery's row, not with its payload: `prune_deliveries` drops payloads
-- long before it forgets rows, and the hash must outlive the payload for the whole window.
-- NULL for deliveries stored before this migration: they match nothing.
ALTER TABLE deliveries ADD COLUMN payload_sha256 BLOB;
-- The ingest writer's one lookup per new delivery: this body, received since the window began.
CREATE INDEX deliveries_payload_sha256 ON deliveries (payload_sha256, received_at);
