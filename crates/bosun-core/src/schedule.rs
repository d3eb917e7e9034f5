//! Scheduled work: cron expressions and which tick is due. Pure; the table, the ticker and what
//! a firing does live in the App (its schedules table, its ticker and the scheduled job's
//! handler).
//!
//! A schedule fires at most once per tick, and only for the latest tick that passed: a server
//! that was down for three ticks of an hourly job runs it once when it is back, not three
//! times (the work a prompt asks for is "bring this up to date", not "once per hour missed").

use std::str::FromStr;

use chrono::{DateTime, TimeZone, Utc};
use cron::Schedule;

/// Parses a cron expression in the usual five fields (minute hour day month weekday), or the
/// six or seven of the `cron` crate (with seconds first, and a year last). Times are UTC.
pub fn parse(expr: &str) -> Result<Schedule, String> {
    let fields = expr.split_whitespace().count();
    let full = match fields {
        5 => format!("0 {}", expr.trim()),
        6 | 7 => expr.trim().to_string(),
        _ => {
            return Err(format!(
                "`{expr}` is not a cron expression: it needs 5 fields (minute hour day month \
                 weekday), e.g. `0 6 * * 1` for Mondays at 06:00 UTC"
            ))
        }
    };
    Schedule::from_str(&full).map_err(|e| format!("`{expr}` is not a cron expression: {e}"))
}

/// The latest tick of `schedule` after `after_ms` and at or before `now_ms` (milliseconds
/// since the epoch), if one passed.
pub fn due_tick(schedule: &Schedule, after_ms: i64, now_ms: i64) -> Option<i64> {
    let after = at(after_ms)?;
    schedule
        .after(&after)
        .take_while(|t| t.timestamp_millis() <= now_ms)
        .last()
        .map(|t| t.timestamp_millis())
}

/// A tick as people read it: `2026-11-21 11:00 UTC`.
pub fn utc_minute(ms: i64) -> Option<String> {
    at(ms).map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
}

/// The first tick after `after_ms`.
pub fn next_tick(schedule: &Schedule, after_ms: i64) -> Option<i64> {
    schedule
        .after(&at(after_ms)?)
        .next()
        .map(|t| t.timestamp_millis())
}

fn at(ms: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_millis_opt(ms).single()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleRow {
    pub name: String,
    pub cron: String,
    /// `owner/name`.
    pub repo: String,
    pub title: String,
    pub prompt: String,
    /// Run in the sandbox instead of a coding agent, when set.
    pub command: Option<String>,
    pub enabled: bool,
    /// The latest tick handled (ms since the epoch).
    pub last_tick: i64,
    pub source: ScheduleSource,
}

/// Where a schedule is managed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScheduleSource {
    /// `bosun job add`.
    Cli,
    /// The server configuration's `jobs:`.
    Server,
    /// This repository's `.github/bosun.yml` (`owner/name`).
    Repo(String),
}

impl ScheduleSource {
    /// How the schedules table stores it.
    pub fn stored(&self) -> String {
        match self {
            ScheduleSource::Cli => "cli".into(),
            ScheduleSource::Server => "server".into(),
            ScheduleSource::Repo(repo) => format!("repo:{repo}"),
        }
    }

    /// Reads back what [`ScheduleSource::stored`] wrote.
    pub fn from_stored(s: &str) -> ScheduleSource {
        match s {
            "server" => ScheduleSource::Server,
            _ => match s.strip_prefix("repo:") {
                Some(repo) => ScheduleSource::Repo(repo.to_string()),
                None => ScheduleSource::Cli,
            },
        }
    }

    /// Where a person changes such a job.
    pub fn place(&self) -> String {
        match self {
            ScheduleSource::Cli => "`bosun job`".into(),
            ScheduleSource::Server => "the server configuration's `jobs:`".into(),
            ScheduleSource::Repo(repo) => format!("`.github/bosun.yml` in {repo}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(rfc3339: &str) -> i64 {
        DateTime::parse_from_rfc3339(rfc3339)
            .unwrap()
            .timestamp_millis()
    }

    #[test]
    fn five_fields_are_minutes_first_and_bad_ones_say_how() {
        let hourly = parse("0 * * * *").unwrap();
        assert_eq!(
            next_tick(&hourly, ms("2026-11-21T10:15:00Z")),
            Some(ms("2026-11-21T11:00:00Z"))
        );
        assert!(parse("0 0 * * * *").is_ok(), "six fields: seconds first");
        assert!(parse("every monday").unwrap_err().contains("5 fields"));
        assert!(parse("61 * * * *").is_err());
    }

    #[test]
    fn only_the_latest_passed_tick_is_due() {
        let hourly = parse("0 * * * *").unwrap();
        let after = ms("2026-11-21T10:00:00Z");
        assert_eq!(due_tick(&hourly, after, ms("2026-11-21T10:59:59Z")), None);
        assert_eq!(
            due_tick(&hourly, after, ms("2026-11-21T11:00:00Z")),
            Some(ms("2026-11-21T11:00:00Z"))
        );
        assert_eq!(
            due_tick(&hourly, after, ms("2026-11-21T13:30:00Z")),
            Some(ms("2026-11-21T13:00:00Z")),
            "three missed ticks fire once, for the last"
        );
        // A tick already handled is not due again.
        let handled = ms("2026-11-21T13:00:00Z");
        assert_eq!(due_tick(&hourly, handled, ms("2026-11-21T13:30:00Z")), None);
    }
}
