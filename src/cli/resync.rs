//! `bosun resync <owner>/<repo>`: rebuilds the repository's tasks in SQLite from what GitHub
//! shows, the status labels and the markers in bosun's tracking comments. GitHub is the task's
//! home for people, so it wins. A plan that is waiting comes back too: the planned issue's
//! parts from its sub-issues, and each waiting part's place from the body bosun wrote; a plan
//! check then asks GitHub which parts are done and starts what may start.

use crate::config::server::ServerConfig;
use crate::db::{Db, NewAttempt, Resync};
use crate::github::client::{GitHub, GitHubConfig, Installation};
use crate::reply::read_sub_issue_body;
use bosun_core::ids::{IssueNumber, RepoRef};
use bosun_core::job::Job;
use bosun_core::marker::TrackingMarker;
use bosun_core::model::{ResyncedPart, TaskEvent, TaskKind, TaskStatus, TriggerSource};
use bosun_core::repo_config::REPO_CONFIG_PATH;
use bosun_core::repo_config::{parse_repo_config, RepoConfig};
use std::collections::BTreeMap;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct ResyncReport {
    pub seen: usize,
    pub changed: usize,
}

/// `bosun resync`: the same credentials and database as `serve`, no server.
pub async fn run(
    config: ServerConfig,
    repo: &bosun_core::ids::RepoRef,
) -> anyhow::Result<ResyncReport> {
    let creds = crate::config::credentials::load(&config)?.ok_or_else(|| {
        anyhow::anyhow!(
            "no GitHub App configured: run `bosun serve` and finish /setup, or set GITHUB_APP_ID"
        )
    })?;
    let db = Db::open(&config.data_dir).await?;
    let github = GitHub::new(GitHubConfig::new(
        &config.github_api_url,
        creds.app_id,
        &creds.private_key_pem,
    ))?;
    let report = resync(&db, &github, repo).await;
    db.close().await;
    report
}

pub async fn resync(db: &Db, github: &GitHub, repo: &RepoRef) -> anyhow::Result<ResyncReport> {
    let app = github.app().await?;
    let bot_login = format!("{}[bot]", app.slug);
    let installation = github.repo_installation(repo).await?;
    let client = github.installation(installation);
    let repository = client.repository(repo).await?;
    let prefix = match client.get_file(repo, REPO_CONFIG_PATH).await? {
        Some(file) => {
            parse_repo_config(&file.text)
                .map_err(|e| anyhow::anyhow!("{REPO_CONFIG_PATH}: {e}"))?
                .label_prefix
        }
        None => RepoConfig::default().label_prefix,
    };

    // Issue number → status from its label, and the body. Stopped tasks carry no label and stay
    // as they are.
    let mut labelled = BTreeMap::new();
    for status in TaskStatus::ALL {
        let Some(label) = status.label(&prefix) else {
            continue;
        };
        for issue in client.list_issues_with_label(repo, &label).await? {
            labelled.insert(issue.number, (status, issue.author_login, issue.body));
        }
    }

    let mut report = ResyncReport::default();
    for (issue, (label_status, author, body)) in labelled {
        report.seen += 1;
        let comments = client.list_comments(repo, issue).await?;
        let tracking = comments.iter().rev().find_map(|c| {
            let ours = c.author_login.eq_ignore_ascii_case(&bot_login);
            ours.then(|| TrackingMarker::find(&c.body).map(|m| (c.id, m)))
                .flatten()
        });
        let (status, attempt, comment) = match &tracking {
            // The label is what people see and change by hand; the marker knows the attempt.
            Some((id, marker)) => (label_status, marker.attempt.max(1), Some(*id)),
            None => (label_status, 1, None),
        };
        let mut found = Resync {
            status,
            attempt,
            tracking_comment: comment,
            plan: Vec::new(),
            part_of: None,
            waits_for: Vec::new(),
        };
        // A part tells its plan when something happens to it, whatever its status; what it
        // waits for, and a plan's parts, matter only while it waits. Only what bosun itself
        // wrote counts: a person's issue that reads like a part is not one.
        let by_bosun = author.eq_ignore_ascii_case(&bot_login);
        if let Some(facts) = read_sub_issue_body(&body).filter(|_| by_bosun) {
            found.part_of = Some(facts.parent);
            if status == TaskStatus::Blocked {
                found.waits_for = facts.depends_on;
            }
        }
        if status == TaskStatus::Blocked {
            found.plan = plan_parts(&client, repo, issue, &bot_login).await?;
        }
        let is_plan = !found.plan.is_empty();
        let new = NewAttempt {
            repo_id: repository.id,
            repo: repo.clone(),
            installation,
            issue,
            label_prefix: prefix.clone(),
            event: TaskEvent::Triggered {
                attempt: 0,
                kind: TaskKind::Implement,
                by: String::new(),
                source: TriggerSource::IssueBody,
                instructions: String::new(),
                issue: None,
            },
        };
        if let Some(task) = db.resync_task(new, found).await? {
            report.changed += 1;
            if is_plan {
                db.enqueue(&[Job::PlanCheck { task }.to_new(0)]).await?;
            }
        }
    }
    Ok(report)
}

/// The parts of a planned issue: its sub-issues that bosun opened for a plan of it.
async fn plan_parts(
    client: &Installation,
    repo: &RepoRef,
    issue: IssueNumber,
    bot_login: &str,
) -> anyhow::Result<Vec<ResyncedPart>> {
    Ok(client
        .list_sub_issues(repo, issue)
        .await?
        .into_iter()
        .filter(|sub| sub.author_login.eq_ignore_ascii_case(bot_login))
        .filter_map(|sub| {
            let facts = read_sub_issue_body(&sub.body).filter(|f| f.parent == issue.0)?;
            Some(ResyncedPart {
                key: facts.key,
                issue: sub.number.0,
                title: sub.title,
                depends_on: facts.depends_on,
            })
        })
        .collect())
}
