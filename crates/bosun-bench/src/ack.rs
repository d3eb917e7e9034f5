//! The ack benchmark: from sending a signed `issues.labeled` (label `bosun`, by a writer) to the
//! 👀 reaction landing on the fake GitHub. The reaction's time is the fake's own `Instant` of
//! the request, in this process, so polling speed does not enter the number. Issues go one at a
//! time with a gap, so this is latency through intake, the queue and the GitHub calls, not
//! queueing behind other issues.

use crate::payloads::{self, sign, Target};
use crate::server::Server;
use crate::stats::{micros, ms, Percentiles};
use fake_github::FakeGitHub;
use std::time::{Duration, Instant};

/// Between one issue's reaction and the next issue's webhook.
const GAP: Duration = Duration::from_millis(20);
/// How long one issue may wait for its reaction before it counts as missing.
const REACTION_TIMEOUT: Duration = Duration::from_secs(10);
/// How long all issues together may take to reach `bosun:done` after the last reaction.
const DONE_TIMEOUT: Duration = Duration::from_secs(30);

pub struct AckReport {
    issues: u64,
    latency: Option<Percentiles>,
    /// The first issue pays for cold caches (installation token, repo config, permission).
    first_us: Option<u64>,
    missing: u64,
    done: u64,
}

pub async fn run(
    fake: &FakeGitHub,
    server: &Server,
    target: &Target,
    secret: &str,
    issues: u64,
) -> anyhow::Result<AckReport> {
    let http = reqwest::Client::new();
    let template = payloads::labeled_template()?;
    let bot = fake.bot_login();
    let mut latencies = Vec::with_capacity(issues as usize);
    let mut first_us = None;
    let mut numbers = Vec::with_capacity(issues as usize);
    for i in 1..=issues {
        let n = fake.add_issue(
            &target.full_name,
            &format!("bench issue {i}"),
            "Labelled `bosun` by bosun-bench.",
            &target.sender_login,
        );
        // As on GitHub: the label is on the issue by the time the webhook arrives.
        fake.label_issue(&target.full_name, n, "bosun");
        numbers.push(n);
        let body = payloads::labeled(&template, target, n, "bosun");
        let signature = sign(secret, &body);

        let sent = Instant::now();
        server
            .send_signed_issues_event(&http, &signature, &format!("bench-ack-{i}"), body)
            .await?;
        match eyes_at(fake, &target.full_name, n, &bot, sent).await {
            Some(at) => {
                let took = micros(at.saturating_duration_since(sent));
                first_us.get_or_insert(took);
                latencies.push(took);
            }
            None => eprintln!("issue {n}: no 👀 within {REACTION_TIMEOUT:?}"),
        }
        tokio::time::sleep(GAP).await;
    }

    let all_done = |f: &FakeGitHub| numbers.iter().all(|&n| is_done(f, &target.full_name, n));
    fake.wait_until(all_done, DONE_TIMEOUT).await;
    let done = numbers
        .iter()
        .filter(|&&n| is_done(fake, &target.full_name, n))
        .count() as u64;
    Ok(AckReport {
        issues,
        missing: issues - latencies.len() as u64,
        latency: Percentiles::of(latencies),
        first_us,
        done,
    })
}

/// When the bot's 👀 reached the fake, polled every millisecond.
async fn eyes_at(
    fake: &FakeGitHub,
    repo: &str,
    issue: u64,
    bot: &str,
    sent: Instant,
) -> Option<Instant> {
    loop {
        let eyes = fake
            .issue_reactions(repo, issue)
            .into_iter()
            .find(|r| r.content == "eyes" && r.user_login == bot);
        if let Some(r) = eyes {
            return Some(r.at);
        }
        if sent.elapsed() > REACTION_TIMEOUT {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

fn is_done(fake: &FakeGitHub, repo: &str, issue: u64) -> bool {
    fake.issue_labels(repo, issue)
        .iter()
        .any(|l| l == "bosun:done")
}

impl AckReport {
    pub fn passed(&self) -> bool {
        self.missing == 0 && self.done == self.issues
    }

    pub fn print(&self) {
        println!(
            "issues           {} labelled `bosun` by a writer, one at a time, {} ms apart",
            self.issues,
            GAP.as_millis()
        );
        match &self.latency {
            Some(p) => println!("webhook -> 👀    {p}"),
            None => println!("webhook -> 👀    no reaction at all"),
        }
        if let Some(first) = self.first_us {
            println!(
                "first issue      {} ms (cold: installation token, repo config, permission)",
                ms(first)
            );
        }
        println!(
            "no 👀 in {} s    {}",
            REACTION_TIMEOUT.as_secs(),
            self.missing
        );
        println!("bosun:done       {} of {} issues", self.done, self.issues);
    }

    /// Lines for the README.
    pub fn summary(&self) -> Vec<String> {
        let latency = self
            .latency
            .map(|p| p.slashed())
            .unwrap_or_else(|| "n/a".into());
        vec![format!(
            "ack     webhook -> 👀 {latency} ({} issues one at a time; {} of them reached bosun:done)",
            self.issues, self.done
        )]
    }
}
