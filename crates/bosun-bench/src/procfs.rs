//! What the kernel says about the machine and the processes: memory from
//! `/proc/<pid>/status`, CPU time from `/proc/<pid>/stat` and its threads'. Linux only, which is
//! where bosun is deployed.

use anyhow::Context;
use std::collections::BTreeMap;
use std::time::Duration;

/// `/proc` reports CPU time in USER_HZ ticks, which the kernel ABI fixes at 100 on x86 and
/// ARM (it is not the kernel's internal HZ).
const USER_HZ: f64 = 100.0;

pub struct Machine {
    pub cpus: usize,
    pub model: String,
    pub kernel: String,
}

pub fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name")?.split_once(':'))
        .map(|(_, m)| m.trim().to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    Machine {
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        model,
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|k| k.trim().to_string())
            .unwrap_or_default(),
    }
}

/// Resident memory in KiB: now (`VmRSS`) and the peak so far (`VmHWM`).
#[derive(Debug, Clone, Copy)]
pub struct Memory {
    pub rss_kib: u64,
    pub peak_kib: u64,
}

pub fn memory(pid: u32) -> anyhow::Result<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    let field = |name: &str| -> anyhow::Result<u64> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .with_context(|| format!("no {name} in /proc/{pid}/status"))
    };
    Ok(Memory {
        rss_kib: field("VmRSS:")?,
        peak_kib: field("VmHWM:")?,
    })
}

pub fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// CPU ticks of a process (all threads, dead ones included) and of each live thread.
#[derive(Debug, Clone, Default)]
pub struct CpuSample {
    total: u64,
    /// tid → (thread name, ticks).
    threads: BTreeMap<u32, (String, u64)>,
}

/// utime + stime, and the thread name, from a `stat` line. The name is in parentheses and may
/// itself hold spaces or parentheses, so fields are counted from the last `)`.
fn parse_stat(stat: &str) -> Option<(String, u64)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat.get(open + 1..close)?.to_string();
    let fields: Vec<&str> = stat.get(close + 1..)?.split_whitespace().collect();
    // After the name: state is field 3 of proc(5), so utime (14) and stime (15) are at 11, 12.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((name, utime + stime))
}

/// `pid` None means this process.
pub fn cpu(pid: Option<u32>) -> anyhow::Result<CpuSample> {
    let base = match pid {
        Some(pid) => format!("/proc/{pid}"),
        None => "/proc/self".into(),
    };
    let stat = std::fs::read_to_string(format!("{base}/stat"))?;
    let (_, total) = parse_stat(&stat).context("unreadable stat")?;
    let mut threads = BTreeMap::new();
    for entry in std::fs::read_dir(format!("{base}/task"))?.flatten() {
        let Some(tid) = entry.file_name().to_str().and_then(|t| t.parse().ok()) else {
            continue;
        };
        // A thread may end between listing and reading: skip it.
        if let Some(t) = std::fs::read_to_string(entry.path().join("stat"))
            .ok()
            .as_deref()
            .and_then(parse_stat)
        {
            threads.insert(tid, t);
        }
    }
    Ok(CpuSample { total, threads })
}

/// CPU used between two samples, in cores (CPU seconds per wall second), with the live
/// threads grouped by name (`tokio-runtime-w`, `sqlx-sqlite-wor`: numbered siblings merge).
pub struct CpuUse {
    pub cores: f64,
    pub by_thread: Vec<(String, f64)>,
}

pub fn cpu_use(before: &CpuSample, after: &CpuSample, wall: Duration) -> CpuUse {
    let secs = wall.as_secs_f64().max(1e-9);
    let cores = |ticks: u64| ticks as f64 / USER_HZ / secs;
    let mut groups: BTreeMap<String, u64> = BTreeMap::new();
    for (tid, (name, ticks)) in &after.threads {
        let earlier = before.threads.get(tid).map_or(0, |(_, t)| *t);
        let group = name
            .trim_end_matches(|c: char| c.is_ascii_digit() || c == '-' || c == '#')
            .to_string();
        *groups.entry(group).or_default() += ticks.saturating_sub(earlier);
    }
    let mut by_thread: Vec<_> = groups
        .into_iter()
        .filter(|(_, t)| *t > 0)
        .map(|(g, t)| (g, cores(t)))
        .collect();
    by_thread.sort_by(|a, b| b.1.total_cmp(&a.1));
    CpuUse {
        cores: cores(after.total.saturating_sub(before.total)),
        by_thread,
    }
}

impl std::fmt::Display for CpuUse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.2} cores", self.cores)?;
        let parts: Vec<_> = self
            .by_thread
            .iter()
            .take(4)
            .map(|(g, c)| format!("{g} {c:.2}"))
            .collect();
        if !parts.is_empty() {
            write!(f, " ({})", parts.join(", "))?;
        }
        Ok(())
    }
}

/// The whole machine's CPU time (the `cpu` line of `/proc/stat`), in ticks: whether the cores
/// were saturated, by whom (user or kernel), or waiting for the disk.
#[derive(Debug, Clone, Copy, Default)]
pub struct MachineSample {
    user: u64,
    system: u64,
    idle: u64,
    iowait: u64,
    other: u64,
}

pub fn machine_cpu() -> anyhow::Result<MachineSample> {
    let stat = std::fs::read_to_string("/proc/stat")?;
    let line = stat.lines().next().context("empty /proc/stat")?;
    let f: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|v| v.parse().unwrap_or(0))
        .collect();
    let at = |i: usize| f.get(i).copied().unwrap_or(0);
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    Ok(MachineSample {
        user: at(0) + at(1),
        system: at(2),
        idle: at(3),
        iowait: at(4),
        other: at(5) + at(6) + at(7),
    })
}

/// Machine CPU between two samples, in cores.
pub struct MachineUse {
    pub busy: f64,
    user: f64,
    system: f64,
    other: f64,
    pub iowait: f64,
    pub idle: f64,
}

pub fn machine_use(before: &MachineSample, after: &MachineSample, wall: Duration) -> MachineUse {
    let secs = wall.as_secs_f64().max(1e-9);
    let cores = |a: u64, b: u64| b.saturating_sub(a) as f64 / USER_HZ / secs;
    let user = cores(before.user, after.user);
    let system = cores(before.system, after.system);
    let other = cores(before.other, after.other);
    MachineUse {
        busy: user + system + other,
        user,
        system,
        other,
        iowait: cores(before.iowait, after.iowait),
        idle: cores(before.idle, after.idle),
    }
}

impl std::fmt::Display for MachineUse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.2} cores busy (user {:.2}, kernel {:.2}, irq/steal {:.2}), iowait {:.2}, idle {:.2}",
            self.busy, self.user, self.system, self.other, self.iowait, self.idle
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_with_odd_thread_names_parse() {
        let line = "4242 (tokio (w) 1) S 1 2 3 4 5 6 7 8 9 10 150 25 0 0 20 0 1 0";
        assert_eq!(parse_stat(line), Some(("tokio (w) 1".into(), 175)));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn this_process_is_readable() {
        assert!(cpu(None).is_ok());
        assert!(machine_cpu().is_ok());
        assert!(memory(std::process::id()).unwrap().peak_kib > 0);
    }
}
