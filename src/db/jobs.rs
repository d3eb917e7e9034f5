//! The durable work queue: enqueue, claim with a lease and a fencing token, heartbeat, finish,
//! retry with backoff, and reclaim of leases left behind by a crashed process.

use super::{now_ms, Db};
use sqlx::{Row, Sqlite, Transaction};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct JobId(pub i64);

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Proof that the holder owns a job's current lease. Every write a job makes carries it, and
/// the database refuses the write when the lease has since passed to another worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fence {
    pub job: JobId,
    pub token: i64,
}

use bosun_core::job::NewJob;

/// How many task runs may hold a worker at once; 0 means no limit of that kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunLimits {
    pub global: u32,
    pub per_installation: u32,
    pub per_repo: u32,
}

#[derive(Debug, Clone)]
pub struct ClaimedJob {
    pub fence: Fence,
    pub kind: String,
    pub payload: String,
    /// 1 on the first claim; a reclaim after a crash counts as another attempt.
    pub attempt: u32,
    pub max_attempts: u32,
}

/// Enqueues a job: kind, payload, serial key, coalesce key, attempts, due, created, updated.
/// OR IGNORE: a queued twin with the same coalesce key will do this work. (The ingest writer
/// binds the same statement on its own connection.)
pub(super) const INSERT: &str = "INSERT OR IGNORE INTO jobs
    (kind, payload, serial_key, coalesce_key, max_attempts, run_after, created_at, updated_at)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";

pub(super) async fn enqueue_in(
    tx: &mut Transaction<'_, Sqlite>,
    job: &NewJob,
) -> Result<(), sqlx::Error> {
    let now = now_ms();
    sqlx::query(INSERT)
        .bind(job.kind)
        .bind(&job.payload)
        .bind(&job.serial_key)
        .bind(&job.coalesce_key)
        .bind(job.max_attempts)
        .bind(job.run_after)
        .bind(now)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Checks inside a transaction that `fence` still holds its job's lease.
pub(super) async fn fence_holds(
    tx: &mut Transaction<'static, Sqlite>,
    fence: Fence,
) -> Result<bool, sqlx::Error> {
    let row = sqlx::query("SELECT 1 FROM jobs WHERE id = ? AND fence = ? AND state = 'running'")
        .bind(fence.job.0)
        .bind(fence.token)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(row.is_some())
}

impl Db {
    pub async fn enqueue(&self, jobs: &[NewJob]) -> Result<(), sqlx::Error> {
        let mut tx = self.begin_write().await?;
        for job in jobs {
            enqueue_in(&mut tx, job).await?;
        }
        tx.commit().await
    }

    /// Claims the next runnable job: queued and due, or running with an expired lease (its
    /// worker died). A job whose serial key is held by a live lease, or has an older queued
    /// sibling, waits, so one task's steps run one at a time and in order. Quick jobs come
    /// before task runs; a run is claimed only within `limits` (see [`Db::claim_run`]).
    pub async fn claim_job(
        &self,
        owner: &str,
        lease_ms: i64,
        limits: RunLimits,
    ) -> Result<Option<ClaimedJob>, sqlx::Error> {
        let quick = self
            .claim_with(
                owner,
                lease_ms,
                limits,
                // Two picks: a lease that expired (a crashed worker's job) first, then the
                // first due head (migration 0011) whose key has no live lease. Only heads are
                // read, in `jobs_heads` order, so the claim costs the same behind 10,000
                // queued jobs as with none; the heads it skips wait for a running job, and
                // there are never more of those than running jobs (issue 21).
                "SELECT COALESCE(
                   (SELECT j.id FROM jobs j
                    WHERE j.state = 'running' AND j.lease_until < ?2 AND j.kind != 'run'
                      AND (j.serial_key IS NULL OR (
                            NOT EXISTS (SELECT 1 FROM jobs o
                                        WHERE o.serial_key = j.serial_key AND o.id != j.id
                                          AND o.state = 'running' AND o.lease_until >= ?2)
                        AND NOT EXISTS (SELECT 1 FROM jobs o
                                        WHERE o.serial_key = j.serial_key
                                          AND o.state = 'queued' AND o.id < j.id)))
                    ORDER BY j.run_after, j.id LIMIT 1),
                   (SELECT j.id FROM jobs j
                    WHERE j.head = 1 AND (j.kind = 'run') = 0 AND j.run_after <= ?2
                      AND (j.serial_key IS NULL OR NOT EXISTS (
                            SELECT 1 FROM jobs o
                            WHERE o.serial_key = j.serial_key
                              AND o.state = 'running' AND o.lease_until >= ?2))
                    ORDER BY j.run_after, j.id LIMIT 1))",
            )
            .await?;
        match quick {
            Some(job) => Ok(Some(job)),
            None => self.claim_run(owner, lease_ms, limits).await,
        }
    }

    /// Claims the next task run, if the runs holding workers leave room for it: fewer than
    /// `limits.global` in all, and fewer than the per-installation and per-repository limits
    /// for its task. Among the runs that fit, follow-ups to review feedback come before new
    /// work, then the repository with the fewest runs going (so one busy repository cannot
    /// starve the others), then the oldest. Nothing while the queue is paused (the
    /// dashboard's switch, `queue_state`), checked in the same statement as the claim.
    async fn claim_run(
        &self,
        owner: &str,
        lease_ms: i64,
        limits: RunLimits,
    ) -> Result<Option<ClaimedJob>, sqlx::Error> {
        self.claim_with(
            owner,
            lease_ms,
            limits,
            // The candidates are the due heads of kind `run` and the runs whose worker died
            // (an expired lease), so the statement's cost follows the runs waiting for a
            // worker, not the length of the queue.
            "WITH live AS (
               SELECT t.repo_id AS repo_id, t.installation_id AS installation_id
               FROM jobs o JOIN tasks t ON t.id = json_extract(o.payload, '$.Run.task')
               WHERE o.kind = 'run' AND o.state = 'running' AND o.lease_until >= ?2),
             candidates AS (
               SELECT j.id, j.serial_key, j.run_after, j.payload FROM jobs j
               WHERE j.head = 1 AND (j.kind = 'run') = 1 AND j.run_after <= ?2
               UNION ALL
               SELECT j.id, j.serial_key, j.run_after, j.payload FROM jobs j
               WHERE j.state = 'running' AND j.kind = 'run' AND j.lease_until < ?2
                 AND NOT EXISTS (SELECT 1 FROM jobs o
                                 WHERE o.serial_key = j.serial_key
                                   AND o.state = 'queued' AND o.id < j.id))
             SELECT c.id FROM candidates c JOIN tasks t ON t.id = json_extract(c.payload, '$.Run.task')
             WHERE NOT EXISTS (SELECT 1 FROM queue_state WHERE paused = 1)
               AND NOT EXISTS (
                     SELECT 1 FROM jobs o
                     WHERE o.serial_key = c.serial_key AND o.id != c.id
                       AND o.state = 'running' AND o.lease_until >= ?2)
               AND (?4 = 0 OR (SELECT count(*) FROM live) < ?4)
               AND (?5 = 0 OR (SELECT count(*) FROM live l
                                 WHERE l.installation_id = t.installation_id) < ?5)
               AND (?6 = 0 OR (SELECT count(*) FROM live l WHERE l.repo_id = t.repo_id) < ?6)
             ORDER BY t.kind = 'revise' DESC,
                      (SELECT count(*) FROM live l WHERE l.repo_id = t.repo_id),
                      c.run_after, c.id
             LIMIT 1",
        )
        .await
    }

    /// Claims the job `pick` selects (parameters: ?2 now, ?4..?6 the run limits).
    async fn claim_with(
        &self,
        owner: &str,
        lease_ms: i64,
        limits: RunLimits,
        pick: &str,
    ) -> Result<Option<ClaimedJob>, sqlx::Error> {
        let now = now_ms();
        let sql = format!(
            "UPDATE jobs
             SET state = 'running', lease_owner = ?1, lease_until = ?2 + ?3,
                 fence = fence + 1, attempts = attempts + 1, updated_at = ?2
             WHERE id = ({pick})
             RETURNING id, fence, kind, payload, attempts, max_attempts"
        );
        let row = sqlx::query(&sql)
            .bind(owner)
            .bind(now)
            .bind(lease_ms)
            .bind(limits.global)
            .bind(limits.per_installation)
            .bind(limits.per_repo)
            .fetch_optional(&mut *self.writer().await?)
            .await?;
        row.map(|r| {
            Ok(ClaimedJob {
                fence: Fence {
                    job: JobId(r.try_get(0)?),
                    token: r.try_get(1)?,
                },
                kind: r.try_get(2)?,
                payload: r.try_get(3)?,
                attempt: r.try_get(4)?,
                max_attempts: r.try_get(5)?,
            })
        })
        .transpose()
    }

    /// Extends the lease. `false` means it was lost: the worker must stop touching the job.
    pub async fn heartbeat(&self, fence: Fence, lease_ms: i64) -> Result<bool, sqlx::Error> {
        let now = now_ms();
        let done = sqlx::query(
            "UPDATE jobs SET lease_until = ?, updated_at = ?
             WHERE id = ? AND fence = ? AND state = 'running'",
        )
        .bind(now + lease_ms)
        .bind(now)
        .bind(fence.job.0)
        .bind(fence.token)
        .execute(&mut *self.writer().await?)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Marks the job done. `false` when the lease had passed to someone else.
    pub async fn complete_job(&self, fence: Fence) -> Result<bool, sqlx::Error> {
        self.end_job(fence, "done", None).await
    }

    /// Gives up on the job for good (attempts exhausted, or an error retrying cannot fix).
    pub async fn bury_job(&self, fence: Fence, error: &str) -> Result<bool, sqlx::Error> {
        self.end_job(fence, "dead", Some(error)).await
    }

    async fn end_job(
        &self,
        fence: Fence,
        state: &str,
        error: Option<&str>,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE jobs SET state = ?, last_error = COALESCE(?, last_error), lease_owner = NULL,
                    lease_until = NULL, updated_at = ?
             WHERE id = ? AND fence = ? AND state = 'running'",
        )
        .bind(state)
        .bind(error)
        .bind(now_ms())
        .bind(fence.job.0)
        .bind(fence.token)
        .execute(&mut *self.writer().await?)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Puts the job back in the queue for `run_after` without counting this claim as an
    /// attempt: the job could not start because something outside it (the sandbox backend) is
    /// away, and waiting for it must never use up the job's attempts.
    pub async fn defer_job(
        &self,
        fence: Fence,
        error: &str,
        run_after: i64,
    ) -> Result<bool, sqlx::Error> {
        self.requeue(fence, error, run_after, false).await
    }

    /// Puts the job back in the queue to run again at `run_after`. When a coalescing twin is
    /// already queued, the twin will do the work and this job is closed instead.
    pub async fn retry_job(
        &self,
        fence: Fence,
        error: &str,
        run_after: i64,
    ) -> Result<bool, sqlx::Error> {
        self.requeue(fence, error, run_after, true).await
    }

    /// Back to `queued`; `counted: false` hands the claim's attempt back. When a coalescing
    /// twin is already queued, the twin will do the work and this job is closed instead.
    async fn requeue(
        &self,
        fence: Fence,
        error: &str,
        run_after: i64,
        counted: bool,
    ) -> Result<bool, sqlx::Error> {
        let requeued = sqlx::query(
            "UPDATE OR IGNORE jobs SET state = 'queued', last_error = ?, run_after = ?,
                    attempts = CASE WHEN ? THEN attempts ELSE MAX(attempts - 1, 0) END,
                    lease_owner = NULL, lease_until = NULL, updated_at = ?
             WHERE id = ? AND fence = ? AND state = 'running'",
        )
        .bind(error)
        .bind(run_after)
        .bind(counted)
        .bind(now_ms())
        .bind(fence.job.0)
        .bind(fence.token)
        .execute(&mut *self.writer().await?)
        .await?;
        if requeued.rows_affected() == 1 {
            return Ok(true);
        }
        self.end_job(fence, "done", Some("coalesced into a queued twin"))
            .await
    }

    /// The earliest time waiting can end by the clock alone: a head falling due, or a lease
    /// running out. A due head that waits for its key's running job or for the run limits is
    /// not counted: what frees it is a job ending, and the worker that ends a job claims again
    /// at once. Counting such heads made idle workers claim every millisecond while a long run
    /// held their key (issue 21).
    pub async fn next_job_due(&self) -> Result<Option<i64>, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT MIN(t) FROM (
               SELECT MIN(run_after) AS t FROM jobs
               WHERE head = 1 AND (kind = 'run') = 0 AND run_after > ?1
               UNION ALL
               SELECT MIN(run_after) FROM jobs
               WHERE head = 1 AND (kind = 'run') = 1 AND run_after > ?1
               UNION ALL
               SELECT MIN(lease_until) FROM jobs WHERE state = 'running' AND lease_until > ?1)",
        )
        .bind(now_ms())
        .fetch_one(&self.read)
        .await
    }

    /// Jobs by state, for /metrics (queue depth is `queued` + `running`).
    pub async fn job_counts(&self) -> Result<Vec<(String, i64)>, sqlx::Error> {
        self.count_by("SELECT state, COUNT(*) FROM jobs GROUP BY state")
            .await
    }

    /// The dead letters: jobs given up on, most recent first (`bosun task dead`, the
    /// dashboard's queue).
    pub async fn dead_jobs(&self, limit: u32) -> Result<Vec<DeadJob>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT id, kind, payload, attempts, last_error, updated_at FROM jobs
             WHERE state = 'dead' ORDER BY updated_at DESC, id DESC LIMIT ?",
        )
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DeadJob {
                    id: JobId(r.try_get(0)?),
                    kind: r.try_get(1)?,
                    payload: r.try_get(2)?,
                    attempts: r.try_get(3)?,
                    last_error: r.try_get(4)?,
                    died_at: r.try_get(5)?,
                })
            })
            .collect()
    }

    /// Puts a dead job back in the queue with its tries anew, due now. False when the job is
    /// not dead (never was, or replayed already), or a queued twin will do its work.
    pub async fn replay_job(&self, id: JobId) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE OR IGNORE jobs SET state = 'queued', attempts = 0, run_after = ?,
                    last_error = 'replayed: ' || COALESCE(last_error, ''), updated_at = ?
             WHERE id = ? AND state = 'dead'",
        )
        .bind(now_ms())
        .bind(now_ms())
        .bind(id.0)
        .execute(&mut *self.writer().await?)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Every job of one kind, oldest first: (state, attempts, last error). For operators and
    /// tests that need to see why a job waits.
    pub async fn jobs_of_kind(
        &self,
        kind: &str,
    ) -> Result<Vec<(String, u32, Option<String>)>, sqlx::Error> {
        let rows =
            sqlx::query("SELECT state, attempts, last_error FROM jobs WHERE kind = ? ORDER BY id")
                .bind(kind)
                .fetch_all(&self.read)
                .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect()
    }
}

/// A job the queue gave up on, kept with its payload so it can be replayed.
#[derive(Debug, Clone)]
pub struct DeadJob {
    pub id: JobId,
    pub kind: String,
    pub payload: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    /// When it was given up on (ms since the epoch).
    pub died_at: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(kind: &'static str, serial: Option<&str>, coalesce: Option<&str>) -> NewJob {
        NewJob {
            kind,
            payload: "{}".into(),
            serial_key: serial.map(str::to_string),
            coalesce_key: coalesce.map(str::to_string),
            max_attempts: 3,
            run_after: 0,
        }
    }

    #[tokio::test]
    async fn a_dead_job_is_listed_and_replayed_once_with_its_tries_anew() {
        let (db, _dir) = crate::db::test_db().await;
        db.enqueue(&[job("a", None, None)]).await.unwrap();
        let claimed = db
            .claim_job("w1", 60_000, RunLimits::default())
            .await
            .unwrap()
            .unwrap();
        assert!(db
            .bury_job(claimed.fence, "GitHub kept failing")
            .await
            .unwrap());
        let dead = db.dead_jobs(10).await.unwrap();
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].id, claimed.fence.job);
        assert_eq!(dead[0].last_error.as_deref(), Some("GitHub kept failing"));

        assert!(db.replay_job(claimed.fence.job).await.unwrap());
        assert!(
            !db.replay_job(claimed.fence.job).await.unwrap(),
            "not dead any more"
        );
        assert!(db.dead_jobs(10).await.unwrap().is_empty());
        let again = db
            .claim_job("w1", 60_000, RunLimits::default())
            .await
            .unwrap()
            .expect("the replayed job is claimable at once");
        assert_eq!(again.fence.job, claimed.fence.job);
        assert_eq!(again.attempt, 1, "its tries start anew");
    }

    #[tokio::test]
    async fn a_crashed_workers_job_is_taken_up_before_new_work_and_keys_stay_in_order() {
        let (db, _dir) = crate::db::test_db().await;
        db.enqueue(&[job("a", Some("k1"), None)]).await.unwrap();
        // Claimed with a lease that is over at once: its worker "crashed".
        let crashed = db
            .claim_job("w1", -1, RunLimits::default())
            .await
            .unwrap()
            .unwrap();
        let mut later: Vec<NewJob> = (0..50).map(|_| job("b", Some("k2"), None)).collect();
        later.push(job("c", Some("k1"), None));
        db.enqueue(&later).await.unwrap();
        let next = db
            .claim_job("w2", 60_000, RunLimits::default())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(next.fence.job, crashed.fence.job, "the expired lease first");
        // k2's head next; k1's second job waits for its first, which runs again now.
        let then = db
            .claim_job("w3", 60_000, RunLimits::default())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(then.kind, "b");
        let more = db
            .claim_job("w4", 60_000, RunLimits::default())
            .await
            .unwrap();
        assert!(more.is_none(), "k1 and k2 are both busy: {more:?}");
    }

    #[tokio::test]
    async fn an_expired_lease_is_reclaimed_and_fences_out_the_old_owner() {
        let (db, _dir) = crate::db::test_db().await;
        db.enqueue(&[job("a", None, None)]).await.unwrap();
        let first = db
            .claim_job("w1", -1, RunLimits::default())
            .await
            .unwrap()
            .unwrap(); // lease already expired
        let second = db
            .claim_job("w2", 60_000, RunLimits::default())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(first.fence.job, second.fence.job);
        assert_eq!(second.attempt, 2);
        assert!(!db.heartbeat(first.fence, 60_000).await.unwrap());
        assert!(!db.complete_job(first.fence).await.unwrap());
        assert!(db.complete_job(second.fence).await.unwrap());
        assert!(db
            .claim_job("w3", 60_000, RunLimits::default())
            .await
            .unwrap()
            .is_none());
    }

    #[tokio::test]
    async fn a_serial_key_runs_one_job_at_a_time_in_order() {
        let (db, _dir) = crate::db::test_db().await;
        db.enqueue(&[
            job("first", Some("task:1"), None),
            job("second", Some("task:1"), None),
        ])
        .await
        .unwrap();
        let a = db
            .claim_job("w1", 60_000, RunLimits::default())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(a.kind, "first");
        assert!(db
            .claim_job("w2", 60_000, RunLimits::default())
            .await
            .unwrap()
            .is_none());
        db.complete_job(a.fence).await.unwrap();
        let b = db
            .claim_job("w2", 60_000, RunLimits::default())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(b.kind, "second");
    }

    #[tokio::test]
    async fn queued_twins_coalesce_and_retry_waits_for_its_time() {
        let (db, _dir) = crate::db::test_db().await;
        db.enqueue(&[
            job("sync", None, Some("face:1")),
            job("sync", None, Some("face:1")),
        ])
        .await
        .unwrap();
        let claimed = db
            .claim_job("w", 60_000, RunLimits::default())
            .await
            .unwrap()
            .unwrap();
        assert!(
            db.claim_job("w", 60_000, RunLimits::default())
                .await
                .unwrap()
                .is_none(),
            "twin dropped"
        );
        db.retry_job(claimed.fence, "boom", now_ms() + 60_000)
            .await
            .unwrap();
        assert!(
            db.claim_job("w", 60_000, RunLimits::default())
                .await
                .unwrap()
                .is_none(),
            "not due yet"
        );
        assert!(db.next_job_due().await.unwrap().unwrap() > now_ms());
    }

    /// Heads as migration 0011 defines them, computed afresh: the oldest queued job of each
    /// key, and every queued job without one.
    async fn heads_by_definition(db: &Db) -> Vec<i64> {
        sqlx::query_scalar(
            "SELECT id FROM jobs j WHERE state = 'queued' AND (serial_key IS NULL OR NOT EXISTS
               (SELECT 1 FROM jobs o WHERE o.serial_key = j.serial_key
                  AND o.state = 'queued' AND o.id < j.id)) ORDER BY id",
        )
        .fetch_all(&db.read)
        .await
        .unwrap()
    }

    async fn heads_marked(db: &Db) -> Vec<i64> {
        sqlx::query_scalar("SELECT id FROM jobs WHERE head = 1 ORDER BY id")
            .fetch_all(&db.read)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn every_way_in_and_out_of_the_queue_keeps_the_heads_right() {
        let (db, _dir) = crate::db::test_db().await;
        let mut held: Vec<Fence> = Vec::new();
        let mut dead: Vec<JobId> = Vec::new();
        // A fixed pseudo-random walk over enqueue, claim, finish, retry, defer, bury and
        // replay, on three keys and none; the heads are compared after every step.
        let mut seed: u64 = 21;
        for step in 0..400 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let pick = (seed >> 33) as usize;
            match pick % 8 {
                0..=2 => {
                    let key = ["k1", "k2", "k3"].get(pick / 8 % 4).copied();
                    db.enqueue(&[job("a", key, None)]).await.unwrap();
                }
                3 => {
                    if let Some(c) = db
                        .claim_job("w", 60_000, RunLimits::default())
                        .await
                        .unwrap()
                    {
                        held.push(c.fence);
                    }
                }
                4 if !held.is_empty() => {
                    db.complete_job(held.remove(pick / 8 % held.len()))
                        .await
                        .unwrap();
                }
                5 if !held.is_empty() => {
                    let fence = held.remove(pick / 8 % held.len());
                    let later = now_ms() + if pick % 2 == 0 { 0 } else { 60_000 };
                    db.retry_job(fence, "again", later).await.unwrap();
                }
                6 if !held.is_empty() => {
                    let fence = held.remove(pick / 8 % held.len());
                    db.defer_job(fence, "away", now_ms()).await.unwrap();
                }
                7 if !held.is_empty() => {
                    let fence = held.remove(pick / 8 % held.len());
                    db.bury_job(fence, "gave up").await.unwrap();
                    dead.push(fence.job);
                }
                _ => {
                    if let Some(id) = dead.pop() {
                        db.replay_job(id).await.unwrap();
                    }
                }
            }
            assert_eq!(
                heads_marked(&db).await,
                heads_by_definition(&db).await,
                "step {step}"
            );
        }
    }

    #[tokio::test]
    async fn a_backlog_behind_a_busy_key_neither_blocks_other_keys_nor_wakes_idle_workers() {
        let (db, _dir) = crate::db::test_db().await;
        let backlog: Vec<NewJob> = (0..2_000).map(|_| job("a", Some("busy"), None)).collect();
        db.enqueue(&backlog).await.unwrap();
        let running = db
            .claim_job("w1", 60_000, RunLimits::default())
            .await
            .unwrap()
            .unwrap();
        assert!(db
            .claim_job("w2", 60_000, RunLimits::default())
            .await
            .unwrap()
            .is_none());
        // Nothing can be claimed until the running job ends or its lease runs out, so an idle
        // worker sleeps until the lease's end, not "due now" for the 1,999 waiting.
        let wake = db
            .next_job_due()
            .await
            .unwrap()
            .expect("a lease is running");
        assert!(
            wake > now_ms() + 30_000,
            "woken at {wake}, now {}",
            now_ms()
        );

        db.enqueue(&[job("b", Some("other"), None)]).await.unwrap();
        let other = db
            .claim_job("w2", 60_000, RunLimits::default())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(other.kind, "b");
        db.complete_job(running.fence).await.unwrap();
        let next = db
            .claim_job("w1", 60_000, RunLimits::default())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            next.fence.job.0,
            running.fence.job.0 + 1,
            "the key's next, in order"
        );
    }

    #[tokio::test]
    async fn a_retry_beside_a_queued_twin_closes_instead() {
        let (db, _dir) = crate::db::test_db().await;
        db.enqueue(&[job("sync", None, Some("face:1"))])
            .await
            .unwrap();
        let claimed = db
            .claim_job("w", 60_000, RunLimits::default())
            .await
            .unwrap()
            .unwrap();
        db.enqueue(&[job("sync", None, Some("face:1"))])
            .await
            .unwrap();
        assert!(db.retry_job(claimed.fence, "boom", 0).await.unwrap());
        let counts = db.job_counts().await.unwrap();
        assert!(counts.contains(&("done".to_string(), 1)), "{counts:?}");
        assert!(counts.contains(&("queued".to_string(), 1)), "{counts:?}");
    }
}
