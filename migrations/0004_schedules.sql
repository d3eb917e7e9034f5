-- Scheduled work: each schedule opens an issue with its prompt in `repo` and starts a task on
-- it at every tick of `cron` (UTC). `last_tick` is the latest tick handled: a tick at or before
-- it never fires again, which is what keeps a tick from firing twice (across restarts too).
CREATE TABLE schedules (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT    NOT NULL UNIQUE,
    cron       TEXT    NOT NULL,
    repo       TEXT    NOT NULL,
    title      TEXT    NOT NULL,
    prompt     TEXT    NOT NULL,
    enabled    INTEGER NOT NULL DEFAULT 1,
    last_tick  INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
