//! Scheduled jobs written in configuration: `jobs:` in the server's run configuration (each
//! names its repository) and in a repository's `.github/bosun.yml` (for that repository). At
//! each tick of its cron expression a job opens an issue and runs a task on it: from a prompt,
//! by a coding agent; or from a command, run in the sandbox in place of an agent. Either way
//! the change goes through the gates and ends as a draft pull request.

use serde::{Deserialize, Serialize};

use crate::schedule::{ScheduleRow, ScheduleSource};

/// One job as written.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JobSpec {
    /// Lowercase letters, digits, `_` and `-`; unique in its file.
    pub name: String,
    /// Five fields (minute hour day month weekday), UTC.
    pub cron: String,
    /// `owner/name`: in the server's configuration only.
    #[serde(default)]
    pub repo: Option<String>,
    /// The opened issue's title; the job's name when left out.
    #[serde(default)]
    pub title: Option<String>,
    /// What the agent is asked to do.
    #[serde(default)]
    pub prompt: Option<String>,
    /// A shell command run in the sandbox on the repository's checkout, instead of an agent.
    #[serde(default)]
    pub run: Option<String>,
    #[serde(default = "on")]
    pub enabled: bool,
}

fn on() -> bool {
    true
}

/// The most jobs one file may hold: more is a mistake, not a schedule.
const MAX_JOBS: usize = 20;

/// Checks a file's jobs; `in_repo` says whether they are a repository's (which may not name
/// another repository). `Err` says what to fix.
pub fn check(jobs: &[JobSpec], in_repo: bool) -> Result<(), String> {
    if jobs.len() > MAX_JOBS {
        return Err(format!("at most {MAX_JOBS} jobs, not {}", jobs.len()));
    }
    let mut seen = std::collections::BTreeSet::new();
    for job in jobs {
        let name = &job.name;
        let good_name = !name.is_empty()
            && name.len() <= 60
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if !good_name {
            return Err(format!(
                "a job's `name` has 1 to 60 lowercase letters, digits, `_` and `-`, not {name:?}"
            ));
        }
        if !seen.insert(name) {
            return Err(format!("two jobs are named `{name}`"));
        }
        crate::schedule::parse(&job.cron).map_err(|why| format!("job `{name}`: {why}"))?;
        let text = |t: &Option<String>| t.as_deref().is_some_and(|t| !t.trim().is_empty());
        if text(&job.prompt) == text(&job.run) {
            return Err(format!(
                "job `{name}` needs either a `prompt` (for an agent) or a `run` (a command), not {}",
                if text(&job.prompt) { "both" } else { "neither" }
            ));
        }
        match (&job.repo, in_repo) {
            (Some(_), true) => {
                return Err(format!(
                    "job `{name}`: a repository's jobs run in that repository; leave `repo` out"
                ))
            }
            (None, false) => {
                return Err(format!(
                    "job `{name}` needs the `repo` (owner/name) it works in"
                ))
            }
            (Some(repo), false) => {
                repo.parse::<crate::ids::RepoRef>()
                    .map_err(|e| format!("job `{name}`: {e}"))?;
            }
            (None, true) => {}
        }
    }
    Ok(())
}

/// The schedules table's rows for these jobs: a repository's are named `owner/name:job`, so
/// they cannot collide with another repository's or the server's.
pub fn rows(jobs: &[JobSpec], source: &ScheduleSource) -> Vec<ScheduleRow> {
    jobs.iter()
        .map(|job| {
            let (name, repo) = match source {
                ScheduleSource::Repo(repo) => (format!("{repo}:{}", job.name), repo.clone()),
                _ => (job.name.clone(), job.repo.clone().unwrap_or_default()),
            };
            ScheduleRow {
                name,
                cron: job.cron.clone(),
                repo,
                title: job.title.clone().unwrap_or_else(|| job.name.clone()),
                prompt: job.prompt.clone().unwrap_or_default(),
                command: job.run.clone().filter(|r| !r.trim().is_empty()),
                enabled: job.enabled,
                last_tick: 0,
                source: source.clone(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jobs(yaml: &str) -> Vec<JobSpec> {
        serde_yaml_ng::from_str(yaml).unwrap()
    }

    #[test]
    fn a_repositorys_jobs_are_named_after_it_and_checked() {
        let js = jobs(
            "- {name: deps, cron: '0 6 * * 1', prompt: Update the dependencies.}\n\
             - {name: fmt, cron: '0 5 * * *', run: cargo fmt, title: Format the code, enabled: false}\n",
        );
        check(&js, true).unwrap();
        let rows = rows(&js, &ScheduleSource::Repo("o/r".into()));
        assert_eq!(rows[0].name, "o/r:deps");
        assert_eq!(rows[0].repo, "o/r");
        assert_eq!(rows[0].title, "deps");
        assert_eq!(rows[0].command, None);
        assert_eq!(rows[1].command.as_deref(), Some("cargo fmt"));
        assert_eq!(rows[1].title, "Format the code");
        assert!(!rows[1].enabled);
    }

    #[test]
    fn mistakes_are_named() {
        let cases = [
            ("- {name: A, cron: '* * * * *', prompt: p}", true, "lowercase"),
            ("- {name: a, cron: 'often', prompt: p}", true, "cron expression"),
            ("- {name: a, cron: '* * * * *'}", true, "neither"),
            ("- {name: a, cron: '* * * * *', prompt: p, run: r}", true, "both"),
            ("- {name: a, cron: '* * * * *', prompt: p, repo: o/r}", true, "leave `repo` out"),
            ("- {name: a, cron: '* * * * *', prompt: p}", false, "needs the `repo`"),
            ("- {name: a, cron: '* * * * *', prompt: p, repo: nope}", false, "job `a`"),
            (
                "- {name: a, cron: '* * * * *', prompt: p}\n- {name: a, cron: '* * * * *', prompt: q}",
                true,
                "two jobs",
            ),
        ];
        for (yaml, in_repo, says) in cases {
            let why = check(&jobs(yaml), in_repo).unwrap_err();
            assert!(why.contains(says), "{yaml}: {why}");
        }
        assert!(serde_yaml_ng::from_str::<Vec<JobSpec>>("- {name: a, cron: x, when: y}").is_err());
    }
}
