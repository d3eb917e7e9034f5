-- bosun's first schema. Migrations are never edited after they land: add a new file instead.
-- Times are unix milliseconds (INTEGER); ids from GitHub are INTEGER; JSON columns hold our own
-- serialized types, never raw GitHub payloads (deliveries.payload excepted: it is the edge).

-- Every webhook delivery that passed signature verification, stored before the 2xx.
-- `delivery_id` is X-GitHub-Delivery: GitHub keeps it across redeliveries, so it dedups them.
-- The payload lives in its own table: intake's state updates then rewrite a small row, not the
-- pages of a 15 KiB blob, and counting by state never reads payloads.
CREATE TABLE deliveries (
    seq          INTEGER PRIMARY KEY,
    delivery_id  TEXT    NOT NULL UNIQUE,
    event        TEXT    NOT NULL,
    received_at  INTEGER NOT NULL,
    -- received | processed | ignored | quarantined
    state        TEXT    NOT NULL DEFAULT 'received',
    outcome      TEXT,
    processed_at INTEGER
);
CREATE INDEX deliveries_state ON deliveries (state, seq);

-- Payloads are stored compressed (JSON shrinks about 4x), which cuts the bytes every commit
-- writes and fsyncs. `encoding`: 'lz4' = an LZ4 block preceded by its size (4 bytes, LE).
CREATE TABLE delivery_payloads (
    seq      INTEGER PRIMARY KEY REFERENCES deliveries (seq) ON DELETE CASCADE,
    encoding TEXT    NOT NULL,
    payload  BLOB    NOT NULL
);

-- The durable work queue. A claim sets a lease and bumps `fence`; every effect a worker records
-- is checked against the fence it claimed with, so a worker whose lease was reclaimed after a
-- stall cannot write over its successor.
CREATE TABLE jobs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT    NOT NULL,
    payload      TEXT    NOT NULL,
    -- jobs with the same serial key never run at the same time (one task's steps stay in order)
    serial_key   TEXT,
    -- while a job is queued, a second enqueue with the same coalesce key is dropped
    coalesce_key TEXT,
    -- queued | running | done | dead
    state        TEXT    NOT NULL DEFAULT 'queued',
    attempts     INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    run_after    INTEGER NOT NULL,
    lease_owner  TEXT,
    lease_until  INTEGER,
    fence        INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX jobs_claimable ON jobs (state, run_after);
CREATE INDEX jobs_serial ON jobs (serial_key, state);
CREATE UNIQUE INDEX jobs_coalesce ON jobs (coalesce_key) WHERE state = 'queued';

-- One task per issue; a new trigger after it ended starts a new attempt of the same task, so the
-- issue keeps one tracking comment. `status` is a projection of task_events, kept in the same
-- transaction as the event that changed it.
CREATE TABLE tasks (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    repo_id             INTEGER NOT NULL,
    repo                TEXT    NOT NULL,
    installation_id     INTEGER NOT NULL,
    issue_number        INTEGER NOT NULL,
    kind                TEXT    NOT NULL,
    -- the label prefix in force when the task was created, so one task never mixes two prefixes
    label_prefix        TEXT    NOT NULL,
    status              TEXT    NOT NULL,
    attempt             INTEGER NOT NULL,
    requested_by        TEXT    NOT NULL,
    tracking_comment_id INTEGER,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    UNIQUE (repo_id, issue_number)
);
CREATE INDEX tasks_status ON tasks (status);

-- Append-only: never updated, never deleted.
CREATE TABLE task_events (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id INTEGER NOT NULL REFERENCES tasks (id),
    at      INTEGER NOT NULL,
    event   TEXT    NOT NULL
);
CREATE INDEX task_events_task ON task_events (task_id, id);

CREATE TRIGGER task_events_append_only_update BEFORE UPDATE ON task_events
BEGIN SELECT RAISE(ABORT, 'task_events is append-only'); END;
CREATE TRIGGER task_events_append_only_delete BEFORE DELETE ON task_events
BEGIN SELECT RAISE(ABORT, 'task_events is append-only'); END;
