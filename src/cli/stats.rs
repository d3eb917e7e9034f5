//! `bosun stats`: success rate, median time and cost per agent and complexity, from the run
//! statistics in the data directory's database.

use std::path::Path;

use crate::db::{Db, StatsLine};

pub async fn run(data_dir: &Path) -> anyhow::Result<String> {
    let db = Db::open(data_dir).await?;
    let lines = db.run_stats_summary().await;
    db.close().await;
    let snapshots = crate::run::environment::Environments::new(data_dir).list();
    let saved: Vec<u64> = snapshots.iter().map(|e| e.ready.setup_secs).collect();
    Ok(format!("{}\n{}", render(&lines?), snapshot_line(&saved)))
}

/// The environment snapshots and the set-up time each saves a task that starts from it.
pub fn snapshot_line(setup_secs: &[u64]) -> String {
    match setup_secs {
        [] => "environment snapshots: none".to_string(),
        secs => format!(
            "environment snapshots: {}, each saving its set-up ({} s in all; `bosun env list`)",
            secs.len(),
            secs.iter().sum::<u64>()
        ),
    }
}

pub fn render(lines: &[StatsLine]) -> String {
    if lines.is_empty() {
        return "no finished runs yet".into();
    }
    let mut out = format!(
        "{:<16} {:<10} {:>5} {:>8} {:>12} {:>12}\n",
        "agent", "complexity", "runs", "done", "median time", "median cost"
    );
    for l in lines {
        let rate = 100.0 * l.done as f64 / l.runs.max(1) as f64;
        let secs = l.median_secs.round() as u64;
        let time = format!("{}m {:02}s", secs / 60, secs % 60);
        let cost = l
            .median_micro_usd
            .map_or("–".to_string(), |c| format!("${:.2}", c / 1e6));
        out.push_str(&format!(
            "{:<16} {:<10} {:>5} {:>7.0}% {:>12} {:>12}\n",
            l.agent, l.complexity, l.runs, rate, time, cost
        ));
    }
    out.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_agent_and_complexity() {
        let out = render(&[StatsLine {
            agent: "claude".into(),
            complexity: "simple".into(),
            runs: 4,
            done: 3,
            median_secs: 125.0,
            median_micro_usd: Some(420_000.0),
        }]);
        assert_eq!(
            out.lines().nth(1).unwrap(),
            "claude           simple         4      75%       2m 05s        $0.42"
        );
        assert_eq!(render(&[]), "no finished runs yet");
        assert_eq!(snapshot_line(&[]), "environment snapshots: none");
        assert!(snapshot_line(&[14, 20])
            .starts_with("environment snapshots: 2, each saving its set-up (34 s"));
    }
}
