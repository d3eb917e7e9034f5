//! Check runs: the stored run, the model operations on it and its JSON shape (`checks/create`,
//! `checks/get`, `checks/update`). All runs are the App's own (only installations create them).

use serde_json::{json, Value};

use crate::render;
use crate::shared::Shared;
use crate::state::{Model, Repo};
use crate::util::node_id;

#[derive(Debug, Clone)]
pub(crate) struct CheckRun {
    pub id: u64,
    pub name: String,
    pub head_sha: String,
    /// "queued" | "in_progress" | "completed".
    pub status: String,
    pub conclusion: Option<String>,
    /// Timestamps as sent by the client (or set by the fake in `util::rfc3339` form).
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
    pub title: Option<String>,
    pub summary: Option<String>,
    pub text: Option<String>,
    /// As sent; `None` renders as the App's homepage, as GitHub does.
    pub details_url: Option<String>,
    pub external_id: String,
    /// Annotations sent so far (only counted).
    pub annotations: usize,
    pub check_suite: u64,
}

impl Model {
    /// Stores a new run in repository `key`, giving it an id and the head sha's check suite.
    pub fn add_check_run(&mut self, key: &str, mut run: CheckRun) -> Option<u64> {
        let id = self.next_check_run;
        let next_suite = self.next_check_suite;
        let repo = self.repo_mut(key)?;
        let suite = *repo
            .check_suites
            .entry(run.head_sha.clone())
            .or_insert(next_suite);
        run.id = id;
        run.check_suite = suite;
        repo.check_runs.insert(id, run);
        self.next_check_run += 1;
        if suite == next_suite {
            self.next_check_suite += 1;
        }
        Some(id)
    }
}

/// The check run shape.
pub(crate) fn render(s: &Shared, r: &Repo, c: &CheckRun) -> Value {
    let full = r.full_name();
    let api = format!("{}/repos/{full}/check-runs/{}", s.base, c.id);
    let mut app = render::app(s, 0);
    if let Some(o) = app.as_object_mut() {
        o.remove("installations_count");
    }
    // Open pull requests of this repository whose head is this commit.
    let pull_requests: Vec<Value> = r
        .issues
        .values()
        .filter(|i| i.state == "open")
        .filter_map(|i| Some((i, i.pull.as_ref()?)))
        .filter(|(_, p)| p.head_sha == c.head_sha)
        .map(|(i, p)| crate::pulls::check_run_ref(s, r, i, p))
        .collect();
    json!({
        "id": c.id,
        "head_sha": c.head_sha,
        "node_id": node_id("CheckRun", c.id),
        "external_id": c.external_id,
        "url": api,
        "html_url": format!("{}/{full}/runs/{}", s.base, c.id),
        "details_url": c.details_url.clone().unwrap_or_else(|| app["external_url"].as_str().unwrap_or_default().to_owned()),
        "status": c.status,
        "conclusion": c.conclusion,
        "started_at": c.started_at,
        "completed_at": c.completed_at,
        "output": {
            "title": c.title,
            "summary": c.summary,
            "text": c.text,
            "annotations_count": c.annotations,
            "annotations_url": format!("{api}/annotations"),
        },
        "name": c.name,
        "check_suite": { "id": c.check_suite },
        "app": app,
        "pull_requests": pull_requests,
    })
}
