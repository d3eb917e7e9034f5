-- Deliveries GitHub failed to hand to bosun (it was down, or answered 5xx) and that bosun asked
-- GitHub to redeliver: each is asked for once.
CREATE TABLE redelivery_requests (
    delivery_id      TEXT    PRIMARY KEY,
    hook_delivery_id INTEGER NOT NULL,
    requested_at     INTEGER NOT NULL
);
