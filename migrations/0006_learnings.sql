-- What runs taught about a repository: short notes bosun writes at the end of an attempt (a gate
-- that failed before it passed, a reviewer's request, a peer reviewer's blocker or concern), shown
-- to later tasks of the same repository. One row per distinct note: `norm` is the note reduced to
-- lower-case words (numbers folded), so the same lesson learned again bumps `seen` and
-- `last_seen` instead of adding a row.
CREATE TABLE learnings (
    id              INTEGER PRIMARY KEY,
    repo_id         INTEGER NOT NULL,
    -- owner/name, as last seen (kept current on each write, so the CLI finds renamed ones)
    repo            TEXT    NOT NULL,
    installation_id INTEGER NOT NULL,
    -- review | gate | peer_review
    source          TEXT    NOT NULL,
    -- the task and issue the note was first learned from
    task_id         INTEGER NOT NULL,
    issue           INTEGER NOT NULL,
    note            TEXT    NOT NULL,
    norm            TEXT    NOT NULL,
    seen            INTEGER NOT NULL DEFAULT 1,
    created_at      INTEGER NOT NULL,
    last_seen       INTEGER NOT NULL,
    UNIQUE (repo_id, norm)
);
CREATE INDEX learnings_repo ON learnings (repo COLLATE NOCASE);
-- The note and the issue it came from, for "the learnings most like this new issue" (bm25).
-- Not contentless: its rows are deleted with their notes (`bosun learnings delete`, the cap).
CREATE VIRTUAL TABLE learnings_text USING fts5(note, title, body);
