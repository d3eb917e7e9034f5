-- Who edited an issue's body, and what it said before (from `issues.edited`). A trigger gives
-- an agent the body only as far back as people who may start work wrote it: an edit by
-- anyone else just before a writer's label is not what the writer vouched for.
CREATE TABLE issue_body_edits (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    repo_id     INTEGER NOT NULL,
    issue       INTEGER NOT NULL,
    editor      TEXT    NOT NULL,
    editor_id   INTEGER NOT NULL,
    editor_bot  INTEGER NOT NULL,
    old_body    TEXT    NOT NULL,
    recorded_at INTEGER NOT NULL
);
CREATE INDEX issue_body_edits_issue ON issue_body_edits (repo_id, issue, seq);
