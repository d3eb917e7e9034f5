//! The proxy benchmark: what bosun's metering proxy adds to a streamed model call. The fake
//! model API and the proxy run in this process on loopback; each of N streamed Anthropic calls
//! is made once straight to the fake and once through the proxy (alternating which goes first),
//! and the time to the last byte of each is recorded. Reported: percentiles of both, and of
//! the added latency paired call by call. Correctness is checked too (every call metered with
//! the fake's token counts); the latency target is printed, never asserted.

use crate::stats::{micros, ms, nearest_rank, Percentiles};
use bosun::github::secret::Secret;
use bosun::meter::{
    MeterProxy, ModelPrice, PriceTable, Provider, RunBudget, Upstream, UpstreamApi,
};
use fake_model::FakeModel;
use std::time::{Duration, Instant};

/// Calls of each kind before measuring: connections open, caches warm.
const WARMUP: u64 = 100;
/// The target from the design: p99 added latency under this.
const TARGET_P99_ADDED_US: i64 = 5_000;
/// Text deltas per streamed answer; with the fixed events around them, 14 SSE events a call.
const DELTAS: usize = 8;
const INPUT: u64 = 1200;
const OUTPUT: u64 = 80;

pub struct ProxyReport {
    calls: u64,
    events: usize,
    body_bytes: usize,
    direct: Percentiles,
    proxied: Percentiles,
    /// proxied - direct per pair, in microseconds (can be negative).
    added: Vec<i64>,
    checks: Vec<(String, bool)>,
}

pub async fn run(calls: u64) -> anyhow::Result<ProxyReport> {
    let fake = FakeModel::start().await;
    fake.set_pieces(DELTAS);
    fake.set_text("The quick brown fox jumps over the lazy dog, streamed in a few deltas.");
    fake.set_usage(INPUT, OUTPUT, 0);
    fake.set_model(Some("claude-sonnet-4-5-20250929"));
    let prices = PriceTable::new().with(
        "claude-sonnet-4-5",
        ModelPrice {
            input: 3.0,
            output: 15.0,
            cache_read: Some(0.3),
            cache_write: Some(3.75),
        },
    )?;
    let upstream = Upstream {
        anthropic: Some(UpstreamApi::new(
            fake.url().parse()?,
            Secret::new("sk-ant-bench-real-key"),
        )),
        openai: None,
        gemini: None,
    };
    let proxy = MeterProxy::bind("127.0.0.1:0".parse()?, upstream, prices).await?;
    let (run, token) = proxy.register_run(RunBudget::default());
    // One client, one keep-alive connection to each side, as an agent has.
    let client = reqwest::Client::builder().no_proxy().build()?;
    let direct_url = format!("{}/v1/messages", fake.url());
    let proxied_url = format!("{}/v1/messages", proxy.base_url(Provider::Anthropic));
    let body = serde_json::json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 1024,
        "stream": true,
        "messages": [{"role": "user", "content": "Say hello"}]
    })
    .to_string();
    let call = |url: &str, key: &str| {
        let request = client
            .post(url)
            .header("x-api-key", key)
            .header("anthropic-version", "2023-06-01")
            .header("content-type", "application/json")
            .body(body.clone());
        async move {
            let started = Instant::now();
            let mut response = request.send().await?;
            anyhow::ensure!(response.status() == 200, "status {}", response.status());
            let mut bytes = 0usize;
            while let Some(chunk) = response.chunk().await? {
                bytes += chunk.len();
            }
            Ok::<(Duration, usize), anyhow::Error>((started.elapsed(), bytes))
        }
    };

    for _ in 0..WARMUP {
        call(&direct_url, "sk-ant-bench-real-key").await?;
        call(&proxied_url, token.expose()).await?;
    }
    fake.clear_calls();
    let mut direct = Vec::with_capacity(calls as usize);
    let mut proxied = Vec::with_capacity(calls as usize);
    let mut added = Vec::with_capacity(calls as usize);
    let mut body_bytes = 0;
    let mut mismatched = 0u64;
    for i in 0..calls {
        // Alternate the order so neither side always runs on a just-warmed path.
        let (d, p) = if i % 2 == 0 {
            let d = call(&direct_url, "sk-ant-bench-real-key").await?;
            (d, call(&proxied_url, token.expose()).await?)
        } else {
            let p = call(&proxied_url, token.expose()).await?;
            (call(&direct_url, "sk-ant-bench-real-key").await?, p)
        };
        if d.1 != p.1 {
            mismatched += 1;
        }
        body_bytes = p.1;
        direct.push(micros(d.0));
        proxied.push(micros(p.0));
        added.push(micros(p.0) as i64 - micros(d.0) as i64);
    }

    let spent = proxy.spent(run).unwrap_or_default();
    let metered_calls = WARMUP + calls;
    let events = fake
        .calls()
        .first()
        .map(|c| {
            String::from_utf8_lossy(&c.response_body)
                .matches("\n\n")
                .count()
        })
        .unwrap_or(0);
    let checks = vec![
        (
            format!("the proxy metered {metered_calls} calls, none refused or unmetered"),
            spent.calls == metered_calls && spent.refused == 0 && spent.unmetered_calls == 0,
        ),
        (
            format!(
                "tokens counted: {} input + {} output per call",
                INPUT, OUTPUT
            ),
            spent.input_tokens == INPUT * metered_calls
                && spent.output_tokens == OUTPUT * metered_calls,
        ),
        (
            "every proxied body was as long as the direct one".to_string(),
            mismatched == 0,
        ),
        (
            format!("the fake saw {} measured calls", 2 * calls),
            fake.call_count() as u64 == 2 * calls,
        ),
    ];
    proxy.shutdown().await;
    fake.shutdown().await;
    Ok(ProxyReport {
        calls,
        events,
        body_bytes,
        direct: Percentiles::of(direct).ok_or_else(|| anyhow::anyhow!("no calls"))?,
        proxied: Percentiles::of(proxied).ok_or_else(|| anyhow::anyhow!("no calls"))?,
        added,
        checks,
    })
}

/// Signed microseconds as milliseconds.
fn signed_ms(us: i64) -> String {
    if us < 0 {
        format!("-{}", ms(us.unsigned_abs()))
    } else {
        ms(us as u64)
    }
}

impl ProxyReport {
    fn added_at(&self, p: f64) -> i64 {
        let mut sorted = self.added.clone();
        sorted.sort_unstable();
        // Shift to unsigned for the shared nearest-rank helper, and back.
        let offset = sorted.first().copied().unwrap_or(0).min(0);
        let shifted: Vec<u64> = sorted.iter().map(|v| (v - offset) as u64).collect();
        nearest_rank(&shifted, p) as i64 + offset
    }

    pub fn print(&self) {
        println!(
            "calls     {} measured per side after {WARMUP} warm-up calls; {} SSE events, {} bytes per answer",
            self.calls, self.events, self.body_bytes
        );
        println!("direct    {}", self.direct);
        println!("proxied   {}", self.proxied);
        println!(
            "added     p50 {}  p90 {}  p99 {}  max {} ms (proxied minus direct, paired per call)",
            signed_ms(self.added_at(50.0)),
            signed_ms(self.added_at(90.0)),
            signed_ms(self.added_at(99.0)),
            signed_ms(self.added_at(100.0))
        );
        println!(
            "target    p99 added < {} ms: {}",
            ms(TARGET_P99_ADDED_US as u64),
            if self.added_at(99.0) < TARGET_P99_ADDED_US {
                "met"
            } else {
                "MISSED"
            }
        );
        for (what, ok) in &self.checks {
            println!("check     {what}: {}", if *ok { "ok" } else { "FAILED" });
        }
    }

    pub fn passed(&self) -> bool {
        self.checks.iter().all(|(_, ok)| *ok)
    }

    pub fn summary(&self) -> Vec<String> {
        vec![format!(
            "proxy   {} streamed Anthropic calls, time to last byte: direct p50 {} / p99 {} ms, \
             proxied p50 {} / p99 {} ms, added p50 {} / p99 {} ms",
            self.calls,
            ms(self.direct.p50),
            ms(self.direct.p99),
            ms(self.proxied.p50),
            ms(self.proxied.p99),
            signed_ms(self.added_at(50.0)),
            signed_ms(self.added_at(99.0))
        )]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn added_percentiles_handle_negative_pairs() {
        let report = ProxyReport {
            calls: 4,
            events: 0,
            body_bytes: 0,
            direct: Percentiles::of(vec![1]).unwrap(),
            proxied: Percentiles::of(vec![1]).unwrap(),
            added: vec![30, -20, 10, 50],
            checks: vec![],
        };
        assert_eq!(report.added_at(50.0), 10);
        assert_eq!(report.added_at(99.0), 50);
        assert_eq!(report.added_at(0.0), -20);
        assert_eq!(signed_ms(-1500), "-1.50");
    }
}
