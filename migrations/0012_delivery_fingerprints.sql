-- A delivery's body is now remembered by the signature bosun has just verified (its HMAC),
-- not by a second hash of the body: the HMAC identifies the body as well, and costs nothing
-- more. Rows written before hold a SHA-256, which matches no HMAC: for the day after an
-- upgrade, a body received before it is refused again by its delivery id only.
ALTER TABLE deliveries RENAME COLUMN payload_sha256 TO body_fingerprint;

DROP INDEX deliveries_payload_sha256;
-- The ingest writer's one lookup per new delivery: this body, received since the window began.
CREATE INDEX deliveries_body_fingerprint ON deliveries (body_fingerprint, received_at);
