//! The run queue's limits and fairness, against a real SQLite file: the claims a pool of
//! workers would make, one after the other.

use super::jobs::RunLimits;
use super::tasks::{NewAttempt, StartOutcome};
use super::Db;
use bosun_core::ids::{InstallationId, IssueNumber, RepoId, RepoRef};
use bosun_core::job::Job;
use bosun_core::model::{TaskEvent, TaskId, TaskKind, TriggerSource};

/// Starts a task on `repo`'s issue `issue` with its run job queued; returns the task.
async fn queued_run(
    db: &Db,
    (repo, installation): (u64, u64),
    issue: u64,
    kind: TaskKind,
) -> TaskId {
    let new = NewAttempt {
        repo_id: RepoId(repo),
        repo: RepoRef::new("o", format!("r{repo}")),
        installation: InstallationId(installation),
        issue: IssueNumber(issue),
        label_prefix: "bosun".into(),
        event: TaskEvent::Triggered {
            attempt: 0,
            kind,
            by: "alice".into(),
            source: TriggerSource::IssueBody,
            instructions: String::new(),
            issue: None,
        },
    };
    let outcome = db
        .start_attempt(new, |t| {
            vec![Job::Run {
                task: t.id,
                attempt: t.attempt,
            }
            .to_new(0)]
        })
        .await
        .unwrap();
    match outcome {
        StartOutcome::Started(t) => t.id,
        StartOutcome::AlreadyActive(_) => panic!("a new issue"),
    }
}

fn task_of(payload: &str) -> TaskId {
    match Job::from_stored(payload).unwrap() {
        Job::Run { task, .. } => task,
        other => panic!("not a run: {other:?}"),
    }
}

#[tokio::test]
async fn a_busy_repository_does_not_starve_another_within_the_global_limit() {
    let (db, _dir) = crate::db::test_db().await;
    let limits = RunLimits {
        global: 2,
        ..RunLimits::default()
    };
    let mut a = Vec::new();
    for issue in 1..=20 {
        a.push(queued_run(&db, (1, 1), issue, TaskKind::Implement).await);
    }
    let b = vec![
        queued_run(&db, (2, 1), 1, TaskKind::Implement).await,
        queued_run(&db, (2, 1), 2, TaskKind::Implement).await,
    ];
    // Workers claim while there is room and finish the oldest run first, until all ran.
    let mut started = Vec::new();
    let mut running = std::collections::VecDeque::new();
    while started.len() < 22 {
        while let Some(job) = db.claim_job("w", 60_000, limits).await.unwrap() {
            started.push(task_of(&job.payload));
            running.push_back(job.fence);
        }
        assert!(running.len() <= 2, "never more than the global limit");
        let oldest = running.pop_front().expect("something runs");
        assert!(db.complete_job(oldest).await.unwrap());
    }
    let position = |t: &TaskId| started.iter().position(|s| s == t).unwrap();
    let tenth_of_a = position(&a[9]);
    for task in &b {
        assert!(position(task) < tenth_of_a, "{started:?}");
    }
    // Within a repository, runs keep their order.
    let a_order: Vec<usize> = a.iter().map(position).collect();
    assert!(a_order.windows(2).all(|w| w[0] < w[1]), "{a_order:?}");
}

#[tokio::test]
async fn per_repository_and_installation_limits_hold_and_feedback_goes_first() {
    let (db, _dir) = crate::db::test_db().await;
    let limits = RunLimits {
        global: 10,
        per_installation: 3,
        per_repo: 2,
    };
    let first = queued_run(&db, (1, 1), 1, TaskKind::Implement).await;
    queued_run(&db, (1, 1), 2, TaskKind::Implement).await;
    queued_run(&db, (1, 1), 3, TaskKind::Implement).await;
    let other_repo = queued_run(&db, (2, 1), 1, TaskKind::Implement).await;
    queued_run(&db, (2, 1), 2, TaskKind::Implement).await;
    let other_installation = queued_run(&db, (3, 2), 1, TaskKind::Implement).await;
    let follow_up = queued_run(&db, (3, 2), 2, TaskKind::Revise).await;

    let mut claimed = Vec::new();
    while let Some(job) = db.claim_job("w", 60_000, limits).await.unwrap() {
        claimed.push(task_of(&job.payload));
    }
    // Installation 2: the follow-up to review feedback before the older new work.
    assert_eq!(claimed[0], follow_up);
    // Installation 1: three runs at most, two per repository.
    let of_installation_1: Vec<_> = claimed
        .iter()
        .filter(|t| ![follow_up, other_installation].contains(t))
        .collect();
    assert_eq!(of_installation_1.len(), 3, "{claimed:?}");
    assert!(claimed.contains(&first) && claimed.contains(&other_repo));
    assert!(claimed.contains(&other_installation));
    assert_eq!(claimed.len(), 5, "{claimed:?}");
}

#[tokio::test]
async fn quick_jobs_are_claimed_even_when_runs_are_at_their_limit() {
    let (db, _dir) = crate::db::test_db().await;
    let limits = RunLimits {
        global: 1,
        ..RunLimits::default()
    };
    let task = queued_run(&db, (1, 1), 1, TaskKind::Implement).await;
    queued_run(&db, (1, 1), 2, TaskKind::Implement).await;
    let run = db.claim_job("w", 60_000, limits).await.unwrap().unwrap();
    assert_eq!(task_of(&run.payload), task);
    assert!(db.claim_job("w", 60_000, limits).await.unwrap().is_none());
    db.enqueue(&[Job::SyncFace { task }.to_new(0)])
        .await
        .unwrap();
    let quick = db.claim_job("w", 60_000, limits).await.unwrap().unwrap();
    assert_eq!(quick.kind, "sync_face");
}

#[tokio::test]
async fn the_run_shown_first_in_line_is_the_one_claimed_next() {
    let (db, _dir) = crate::db::test_db().await;
    let limits = RunLimits {
        global: 3,
        ..RunLimits::default()
    };
    let mut tasks = Vec::new();
    for issue in 1..=5 {
        tasks.push(queued_run(&db, (1, 1), issue, TaskKind::Implement).await);
    }
    tasks.push(queued_run(&db, (2, 1), 1, TaskKind::Implement).await);
    tasks.push(queued_run(&db, (3, 1), 1, TaskKind::Revise).await);
    let mut running = Vec::new();
    for _ in 0..tasks.len() {
        if running.len() == 3 {
            // At the limit: the oldest run ends, making room.
            let done = running.remove(0);
            assert!(db.complete_job(done).await.unwrap());
        }
        let mut first = Vec::new();
        for t in &tasks {
            if let Some(spot) = db.queue_spot(*t, limits.global).await.unwrap() {
                assert_eq!(spot.running, running.len() as u32);
                assert_eq!(spot.slots, 3);
                if spot.ahead == 0 {
                    first.push(*t);
                }
            }
        }
        assert_eq!(first.len(), 1, "exactly one run is first in line");
        let job = db.claim_job("w", 60_000, limits).await.unwrap().unwrap();
        assert_eq!(task_of(&job.payload), first[0]);
        assert_eq!(db.queue_spot(first[0], 3).await.unwrap(), None);
        running.push(job.fence);
    }
    assert_eq!(db.waiting_runs(10).await.unwrap(), Vec::new());
}
