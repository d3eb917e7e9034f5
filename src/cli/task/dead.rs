//! `bosun task dead` and `bosun task replay`: the jobs the queue gave up on (a trigger GitHub
//! kept failing, a notice that never got through), and running one again. Nothing accepted is
//! dropped without a trace: a dead job keeps its payload until it is replayed.

use crate::db::{Db, JobId};
use crate::reply::text::{dead_job_about, dead_job_json, one_line, utc};

pub async fn list(db: &Db, limit: u32, as_json: bool) -> anyhow::Result<()> {
    let dead = db.dead_jobs(limit).await?;
    if as_json {
        let all: Vec<_> = dead.iter().map(dead_job_json).collect();
        println!("{}", serde_json::to_string_pretty(&all)?);
        return Ok(());
    }
    if dead.is_empty() {
        println!("no dead jobs");
        return Ok(());
    }
    println!(
        "{:<7} {:<20} {:>5}  what / last error",
        "job", "given up", "tries"
    );
    for d in &dead {
        println!(
            "{:<7} {:<20} {:>5}  {}",
            d.id.0,
            utc(d.died_at),
            d.attempts,
            dead_job_about(d)
        );
        if let Some(error) = &d.last_error {
            println!("{:<35}  {}", "", one_line(error, 100));
        }
    }
    println!("\nRun one again with `bosun task replay <job>` (a running server picks it up).");
    Ok(())
}

pub async fn replay(db: &Db, job: i64) -> anyhow::Result<()> {
    if db.replay_job(JobId(job)).await? {
        println!("job {job} is queued again with its tries anew; a running server picks it up");
        Ok(())
    } else {
        anyhow::bail!(
            "job {job} is not a dead job (see `bosun task dead`), or a queued twin will do its work"
        )
    }
}
