-- Where a schedule comes from: `cli` (added with `bosun job add`, managed there), `server`
-- (the server configuration's `jobs:`, made to match it at start-up) or `repo:<owner>/<name>`
-- (a repository's `.github/bosun.yml`, made to match it whenever bosun reads that file).
-- `command`, when set, is what the job runs in the sandbox in place of a coding agent.
ALTER TABLE schedules ADD COLUMN source TEXT NOT NULL DEFAULT 'cli';
ALTER TABLE schedules ADD COLUMN command TEXT;
