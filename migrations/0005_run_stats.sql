-- What each finished attempt took, for estimates of new tasks and `bosun stats`. One row per
-- attempt that ran (stopped before running: none). `run_stats_text` indexes the issue's title
-- and body by the row's rowid, for "similar tasks" (full-text, bm25).
CREATE TABLE run_stats (
    task_id        INTEGER NOT NULL,
    attempt        INTEGER NOT NULL,
    repo_id        INTEGER NOT NULL,
    kind           TEXT    NOT NULL,
    agent          TEXT    NOT NULL,
    model          TEXT,
    complexity     TEXT    NOT NULL,
    -- the attempt's final status: done | needs-review | failed | stopped
    outcome        TEXT    NOT NULL,
    duration_secs  INTEGER NOT NULL,
    input_tokens   INTEGER NOT NULL,
    output_tokens  INTEGER NOT NULL,
    cost_micro_usd INTEGER,
    files_changed  INTEGER NOT NULL,
    lines_changed  INTEGER NOT NULL,
    finished_at    INTEGER NOT NULL,
    UNIQUE (task_id, attempt)
);
CREATE INDEX run_stats_repo ON run_stats (repo_id, complexity);
CREATE VIRTUAL TABLE run_stats_text USING fts5(title, body, content = '');
