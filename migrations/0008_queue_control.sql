-- Pausing the queue from the dashboard: while `paused`, workers claim no task runs (triggers,
-- comment updates and lifecycle jobs still run). One row; no row means running.
CREATE TABLE queue_state (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    paused     INTEGER NOT NULL,
    changed_by TEXT    NOT NULL,
    changed_at INTEGER NOT NULL
);

-- What people did from the dashboard that is no task's event (pausing and resuming the
-- queue), kept like task_events: appended, never changed.
CREATE TABLE control_events (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    at     INTEGER NOT NULL,
    actor  TEXT    NOT NULL,
    action TEXT    NOT NULL
);
CREATE TRIGGER control_events_append_only_update BEFORE UPDATE ON control_events
BEGIN SELECT RAISE(ABORT, 'control_events is append-only'); END;
CREATE TRIGGER control_events_append_only_delete BEFORE DELETE ON control_events
BEGIN SELECT RAISE(ABORT, 'control_events is append-only'); END;
