//! Fault-injection rules: which request gets which fault, and path-glob matching.

use crate::Fault;

/// One `inject(...)` call: fires on the next `remaining` matching requests.
#[derive(Debug, Clone)]
struct Rule {
    method: String,
    glob: Vec<String>,
    fault: Fault,
    remaining: usize,
}

/// The pending rules, oldest first. The first matching rule wins.
#[derive(Debug, Default)]
pub(crate) struct FaultQueue {
    rules: Vec<Rule>,
}

impl FaultQueue {
    pub(crate) fn push(&mut self, method: &str, path_glob: &str, fault: Fault, times: usize) {
        if times == 0 {
            return;
        }
        self.rules.push(Rule {
            method: method.to_ascii_uppercase(),
            glob: segments(path_glob),
            fault,
            remaining: times,
        });
    }

    /// Consumes one firing of the first rule matching this request, if any.
    pub(crate) fn take(&mut self, method: &str, path: &str) -> Option<Fault> {
        let path = segments(path);
        let idx = self
            .rules
            .iter()
            .position(|r| r.method.eq_ignore_ascii_case(method) && glob_match(&r.glob, &path))?;
        let rule = &mut self.rules[idx];
        let fault = rule.fault.clone();
        rule.remaining -= 1;
        if rule.remaining == 0 {
            self.rules.remove(idx);
        }
        Some(fault)
    }

    /// Firings still pending over all rules.
    pub(crate) fn pending(&self) -> usize {
        self.rules.iter().map(|r| r.remaining).sum()
    }
}

/// Splits a path (query string ignored) into its non-empty segments.
fn segments(path: &str) -> Vec<String> {
    let path = path.split('?').next().unwrap_or_default();
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `*` matches exactly one segment, `**` any number of segments (including none); other segments
/// must be equal.
fn glob_match(glob: &[String], path: &[String]) -> bool {
    match glob.split_first() {
        None => path.is_empty(),
        Some((g, rest)) if g == "**" => {
            (0..=path.len()).any(|skip| glob_match(rest, &path[skip..]))
        }
        Some((g, rest)) => match path.split_first() {
            Some((p, path_rest)) => (g == "*" || g == p) && glob_match(rest, path_rest),
            None => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn m(glob: &str, path: &str) -> bool {
        glob_match(&segments(glob), &segments(path))
    }

    #[test]
    fn globs() {
        assert!(m(
            "/repos/*/*/issues/*/comments",
            "/repos/o/r/issues/1/comments"
        ));
        assert!(m(
            "/repos/*/*/issues/*/comments",
            "/repos/o/r/issues/1/comments?per_page=1"
        ));
        assert!(!m(
            "/repos/*/*/issues/*/comments",
            "/repos/o/r/issues/comments/5"
        ));
        assert!(!m("/repos/*/*/issues/*", "/repos/o/r/issues/1/comments"));
        assert!(m("/repos/**", "/repos/o/r/issues/1/comments"));
        assert!(m("/repos/o/r/**", "/repos/o/r"));
        assert!(m("/**/reactions", "/repos/o/r/issues/comments/9/reactions"));
        assert!(m("/app", "/app"));
        assert!(!m("/app", "/app/installations/1/access_tokens"));
    }

    #[test]
    fn first_matching_rule_fires_times() {
        let mut q = FaultQueue::default();
        q.push("post", "/a/*", Fault::Status(500), 2);
        q.push("POST", "/a/b", Fault::Delay(Duration::from_millis(1)), 1);
        assert_eq!(q.take("GET", "/a/b"), None);
        assert_eq!(q.take("POST", "/a/b"), Some(Fault::Status(500)));
        assert_eq!(q.pending(), 2);
        assert_eq!(q.take("POST", "/a/c"), Some(Fault::Status(500)));
        assert_eq!(
            q.take("POST", "/a/b"),
            Some(Fault::Delay(Duration::from_millis(1)))
        );
        assert_eq!(q.take("POST", "/a/b"), None);
        assert_eq!(q.pending(), 0);
    }
}
