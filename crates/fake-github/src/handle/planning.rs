//! Test-side inspection of issues as planning uses them: state and reason, ids (what
//! `sub_issue_id` takes), the whole stored issue, and sub-issue lists.

use super::{key_of, FakeGitHub};
use crate::render::{actor_for, login_of};
use crate::IssueRecord;

impl FakeGitHub {
    /// The sub-issues of `parent`, as numbers in their order. Empty if unknown.
    pub fn sub_issues(&self, full_name: &str, parent: u64) -> Vec<u64> {
        self.s()
            .model()
            .issue(&key_of(full_name), parent)
            .map(|i| i.sub_issues.clone())
            .unwrap_or_default()
    }

    /// Links `child` under `parent`, as `POST …/sub_issues` would (set-up for tests that build
    /// a plan by hand). Panics for an unknown issue or a child that has another parent.
    pub fn link_sub_issue(&self, full_name: &str, parent: u64, child: u64) {
        let key = key_of(full_name);
        self.s()
            .model()
            .add_sub_issue(&key, parent, child, false, std::time::SystemTime::now())
            .unwrap_or_else(|e| {
                panic!("fake-github: cannot link {full_name}#{child} under #{parent}: {e:?}")
            });
    }

    /// (`"open"` | `"closed"`, `state_reason`). Panics for an unknown issue.
    pub fn issue_state(&self, full_name: &str, n: u64) -> (String, Option<String>) {
        let m = self.s().model();
        let i = m
            .issue(&key_of(full_name), n)
            .unwrap_or_else(|| panic!("fake-github: unknown issue {full_name}#{n}"));
        (i.state.clone(), i.state_reason.clone())
    }

    /// The issue's global id (what `POST …/sub_issues` takes as `sub_issue_id`). Panics for an
    /// unknown issue.
    pub fn issue_id(&self, full_name: &str, n: u64) -> u64 {
        self.s()
            .model()
            .issue(&key_of(full_name), n)
            .unwrap_or_else(|| panic!("fake-github: unknown issue {full_name}#{n}"))
            .id
    }

    /// The stored issue (also for a pull request's number), `None` if unknown.
    pub fn issue(&self, full_name: &str, n: u64) -> Option<IssueRecord> {
        let key = key_of(full_name);
        let m = self.s().model();
        let i = m.issue(&key, n)?;
        let labels = m
            .issue_labels(&key, n)
            .unwrap_or_default()
            .into_iter()
            .map(|l| l.name)
            .collect();
        Some(IssueRecord {
            number: i.number,
            id: i.id,
            title: i.title.clone(),
            body: i.body.clone(),
            labels,
            user_login: login_of(self.s(), &actor_for(self.s(), &i.author)),
            state: i.state.clone(),
            state_reason: i.state_reason.clone(),
            parent: i.parent,
            sub_issues: i.sub_issues.clone(),
            is_pull_request: i.pull.is_some(),
        })
    }
}
