//! `bosun resync <owner>/<repo>`: rebuilds the repository's tasks in SQLite from what GitHub
//! shows, the status labels and the markers in bosun's tracking comments. GitHub is the task's
//! home for people, so it wins.

use crate::config::repo::{parse_repo_config, RepoConfig};
use crate::db::{Db, NewAttempt};
use crate::github::client::GitHub;
use crate::github::ids::RepoRef;
use crate::github::marker::TrackingMarker;
use crate::task::model::{TaskEvent, TaskKind, TaskStatus, TriggerSource};
use crate::worker::context::REPO_CONFIG_PATH;
use std::collections::BTreeMap;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct ResyncReport {
    pub seen: usize,
    pub changed: usize,
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

    // Issue number → status from its label. Stopped tasks carry no label and stay as they are.
    let mut labelled = BTreeMap::new();
    for status in TaskStatus::ALL {
        let Some(label) = status.label(&prefix) else {
            continue;
        };
        for issue in client.list_issues_with_label(repo, &label).await? {
            labelled.insert(issue.number, status);
        }
    }

    let mut report = ResyncReport::default();
    for (issue, label_status) in labelled {
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
        if db.resync_task(new, status, attempt, comment).await? {
            report.changed += 1;
        }
    }
    Ok(report)
}
