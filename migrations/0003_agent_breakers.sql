-- A circuit breaker per repository and agent: consecutive failed agent runs, and until when
-- new runs of that agent in that repository are refused.
CREATE TABLE agent_breakers (
    repo_id    INTEGER NOT NULL,
    agent      TEXT    NOT NULL,
    failures   INTEGER NOT NULL DEFAULT 0,
    open_until INTEGER,
    PRIMARY KEY (repo_id, agent)
);
