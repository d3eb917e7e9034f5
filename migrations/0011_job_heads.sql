-- The head of a serial key: the oldest queued job of its key (every queued job without a key is
-- a head). Only a head can be claimed, so a claim reads the heads alone, in due order, and a
-- backlog of 10,000 jobs behind one busy key costs it nothing. Before this, each claim walked
-- every queued job and asked of each whether an older one of its key was queued (issue 21).
-- A head may still wait: for its key's running job, or, for a task run, for the run limits;
-- there are never more such heads than running jobs and runs.
--
-- Triggers keep `head` right on every way a job enters or leaves `queued` (enqueue, claim,
-- finish, retry, defer, replay), so no statement elsewhere has to remember it. They change
-- `head` only, which is not `state`, so they do not fire one another.
ALTER TABLE jobs ADD COLUMN head INTEGER NOT NULL DEFAULT 0;

UPDATE jobs SET head = 1
WHERE state = 'queued'
  AND (serial_key IS NULL OR NOT EXISTS (
        SELECT 1 FROM jobs o
        WHERE o.serial_key = jobs.serial_key AND o.state = 'queued' AND o.id < jobs.id));

-- The claims read the heads in due order, quick jobs apart from task runs.
CREATE INDEX jobs_heads ON jobs ((kind = 'run'), run_after, id) WHERE head = 1;
-- The oldest queued job of a key, for the triggers.
CREATE INDEX jobs_serial_queued ON jobs (serial_key, id) WHERE state = 'queued';

CREATE TRIGGER jobs_head_on_enqueue AFTER INSERT ON jobs WHEN NEW.state = 'queued'
BEGIN
    UPDATE jobs SET head = 1
    WHERE id = NEW.id
      AND (NEW.serial_key IS NULL OR NOT EXISTS (
            SELECT 1 FROM jobs o
            WHERE o.serial_key = NEW.serial_key AND o.state = 'queued' AND o.id < NEW.id));
END;

CREATE TRIGGER jobs_head_on_leave AFTER UPDATE OF state ON jobs
WHEN OLD.state = 'queued' AND NEW.state != 'queued'
BEGIN
    UPDATE jobs SET head = 0 WHERE id = NEW.id;
    UPDATE jobs SET head = 1
    WHERE NEW.serial_key IS NOT NULL
      AND id = (SELECT MIN(id) FROM jobs
                WHERE serial_key = NEW.serial_key AND state = 'queued');
END;

-- A job back in the queue (a retry, a deferred run, a replay) is older than any job of its key
-- queued meanwhile, so it takes the head back.
CREATE TRIGGER jobs_head_on_return AFTER UPDATE OF state ON jobs
WHEN OLD.state != 'queued' AND NEW.state = 'queued'
BEGIN
    UPDATE jobs SET head = 0
    WHERE NEW.serial_key IS NOT NULL AND serial_key = NEW.serial_key
      AND state = 'queued' AND head = 1 AND id > NEW.id;
    UPDATE jobs SET head = 1
    WHERE id = NEW.id
      AND (NEW.serial_key IS NULL OR NOT EXISTS (
            SELECT 1 FROM jobs o
            WHERE o.serial_key = NEW.serial_key AND o.state = 'queued' AND o.id < NEW.id));
END;
