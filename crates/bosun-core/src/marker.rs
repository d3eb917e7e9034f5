//! The hidden marker at the end of every tracking comment: `<!-- bosun:task {json} -->`.
//! It lets `bosun resync` rebuild tasks from GitHub alone, and lets a retried creation find the
//! comment a lost reply already created.

use crate::model::{TaskId, TaskStatus};
use serde::{Deserialize, Serialize};

const OPEN: &str = "<!-- bosun:task ";
const CLOSE: &str = " -->";

/// What the marker records. Field order matters: `task` comes first so that
/// [`TrackingMarker::search_key`] is a stable prefix of the rendered marker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackingMarker {
    pub task: TaskId,
    pub status: TaskStatus,
    pub attempt: u32,
    pub branch: Option<String>,
    pub pr: Option<u64>,
}

impl TrackingMarker {
    pub fn render(&self) -> String {
        // serde_json escapes `<` and `>` nowhere, so a branch name cannot close the comment early
        // only because we also refuse `-->` below.
        let json = serde_json::to_string(self)
            .unwrap_or_default()
            .replace("-->", "--\\u003e");
        format!("{OPEN}{json}{CLOSE}")
    }

    /// A prefix every marker of this task starts with, whatever its status. The comma keeps
    /// task 7's key from matching task 70's marker.
    pub fn search_key(task: TaskId) -> String {
        format!("{OPEN}{{\"task\":{},", task.0)
    }

    /// The last well-formed marker in a comment body, if any.
    pub fn find(body: &str) -> Option<TrackingMarker> {
        body.rmatch_indices(OPEN).find_map(|(start, _)| {
            let rest = &body[start + OPEN.len()..];
            let end = rest.find(CLOSE)?;
            serde_json::from_str(&rest[..end]).ok()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marker_round_trips_and_starts_with_its_search_key() {
        let m = TrackingMarker {
            task: TaskId(12),
            status: TaskStatus::InProgress,
            attempt: 2,
            branch: Some("bosun/3-fix--> <b>".into()),
            pr: None,
        };
        let body = format!("Working on it.\n\n{}", m.render());
        assert!(m
            .render()
            .starts_with(&TrackingMarker::search_key(TaskId(12))));
        assert!(!m
            .render()
            .starts_with(&TrackingMarker::search_key(TaskId(1))));
        assert_eq!(body.matches("-->").count(), 1, "{body}");
        assert_eq!(TrackingMarker::find(&body), Some(m));
    }

    #[test]
    fn broken_or_absent_markers_are_none() {
        assert_eq!(TrackingMarker::find("no marker"), None);
        assert_eq!(TrackingMarker::find("<!-- bosun:task {oops} -->"), None);
        assert_eq!(TrackingMarker::find("<!-- bosun:task {\"task\":1"), None);
    }
}
