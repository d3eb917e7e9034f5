//! Sub-issues: a parent lists its children in order; a child has at most one parent. The model
//! operations (children are named by issue *id* on the API, by number in the model) and the
//! `sub_issues_summary` of the issue shape. Children come from the parent's own repository (GitHub
//! also allows other repositories of the same owner; the fake does not).

use std::time::SystemTime;

use serde_json::{json, Value};

use crate::state::{Issue, Model, Repo};

/// Why a sub-issue could not be added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AddError {
    /// The parent or the child does not exist.
    NotFound,
    /// GitHub's 422 reasons (see [`AddError::message`]).
    SameAsParent,
    AlreadyChild,
    HasParent,
}

impl AddError {
    /// GitHub's 422 message: a fixed lead and the validation reasons.
    pub fn message(self) -> String {
        let reason = match self {
            AddError::NotFound => return "Not Found".to_owned(),
            AddError::SameAsParent => "Sub issue cannot be the same as the parent issue",
            AddError::AlreadyChild => {
                "Issue may not contain duplicate sub-issues and Sub issue may only have one parent"
            }
            AddError::HasParent => "Sub issue may only have one parent",
        };
        format!("An error occurred while adding the sub-issue to the parent issue. {reason}")
    }
}

impl Model {
    /// The number of repository `key`'s issue with this (global) id.
    pub fn issue_number_by_id(&self, key: &str, id: u64) -> Option<u64> {
        self.repo(key)?
            .issues
            .values()
            .find(|i| i.id == id)
            .map(|i| i.number)
    }

    /// Makes issue `child` a sub-issue of `parent` (last in its list). `replace_parent` moves a
    /// child that has another parent instead of refusing.
    pub fn add_sub_issue(
        &mut self,
        key: &str,
        parent: u64,
        child: u64,
        replace_parent: bool,
        now: SystemTime,
    ) -> Result<(), AddError> {
        let repo = self.repo_mut(key).ok_or(AddError::NotFound)?;
        if !repo.issues.contains_key(&parent) {
            return Err(AddError::NotFound);
        }
        let old_parent = repo.issues.get(&child).ok_or(AddError::NotFound)?.parent;
        if child == parent {
            return Err(AddError::SameAsParent);
        }
        match old_parent {
            Some(p) if p == parent => return Err(AddError::AlreadyChild),
            Some(_) if !replace_parent => return Err(AddError::HasParent),
            Some(p) => {
                if let Some(old) = repo.issues.get_mut(&p) {
                    old.sub_issues.retain(|&n| n != child);
                    old.updated = now;
                }
            }
            None => {}
        }
        if let Some(c) = repo.issues.get_mut(&child) {
            c.parent = Some(parent);
        }
        if let Some(p) = repo.issues.get_mut(&parent) {
            p.sub_issues.push(child);
            p.updated = now;
        }
        Ok(())
    }

    /// Takes `child` out of `parent`'s sub-issues; `None` if it is not one of them.
    pub fn remove_sub_issue(
        &mut self,
        key: &str,
        parent: u64,
        child: u64,
        now: SystemTime,
    ) -> Option<()> {
        let repo = self.repo_mut(key)?;
        let p = repo.issues.get_mut(&parent)?;
        let before = p.sub_issues.len();
        p.sub_issues.retain(|&n| n != child);
        if p.sub_issues.len() == before {
            return None;
        }
        p.updated = now;
        if let Some(c) = repo.issues.get_mut(&child) {
            c.parent = None;
        }
        Some(())
    }
}

/// `sub_issues_summary`: closed children count as completed; the percentage is rounded down.
pub(crate) fn summary(r: &Repo, i: &Issue) -> Value {
    let total = i.sub_issues.len() as u64;
    let completed = i
        .sub_issues
        .iter()
        .filter(|n| r.issues.get(n).is_some_and(|c| c.state == "closed"))
        .count() as u64;
    let percent = (completed * 100).checked_div(total).unwrap_or(0);
    json!({ "total": total, "completed": completed, "percent_completed": percent })
}
