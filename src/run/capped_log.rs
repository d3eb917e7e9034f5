//! An agent's log file with a size cap: the first `head` bytes are written as they come (so
//! the dashboard's live log shows them), the last `tail` bytes are held in memory and written
//! when the run ends, with one line saying how much was left out between them. An agent that
//! prints without end (a loop, a dump of a binary) so costs at most `head + tail` on disk and
//! `tail` in memory, and its beginning and its end, where the useful lines are, are both kept.

use std::collections::VecDeque;
use std::path::Path;
use tokio::io::AsyncWriteExt;

/// The log's first part, written as it comes.
pub const HEAD_BYTES: usize = 16 << 20;
/// The log's last part, written at the end.
pub const TAIL_BYTES: usize = 4 << 20;

pub struct CappedLog {
    file: tokio::fs::File,
    head_left: usize,
    tail: VecDeque<String>,
    tail_bytes: usize,
    tail_cap: usize,
    left_out_lines: u64,
    left_out_bytes: u64,
}

impl CappedLog {
    pub async fn create(path: &Path) -> std::io::Result<CappedLog> {
        Self::with_caps(path, HEAD_BYTES, TAIL_BYTES).await
    }

    pub async fn with_caps(path: &Path, head: usize, tail: usize) -> std::io::Result<CappedLog> {
        Ok(CappedLog {
            file: tokio::fs::File::create(path).await?,
            head_left: head,
            tail: VecDeque::new(),
            tail_bytes: 0,
            tail_cap: tail,
            left_out_lines: 0,
            left_out_bytes: 0,
        })
    }

    /// Takes one line (without its newline). Write errors are ignored: the log is for people,
    /// and a full disk must not fail the run on top of it.
    pub async fn line(&mut self, line: String) {
        let mut line = line;
        line.push('\n');
        if line.len() <= self.head_left {
            self.head_left -= line.len();
            let _ = self.file.write_all(line.as_bytes()).await;
            return;
        }
        // Past the head: nothing more is written until the end, so the head is whole lines.
        self.head_left = 0;
        self.tail_bytes += line.len();
        self.tail.push_back(line);
        while self.tail_bytes > self.tail_cap {
            let Some(old) = self.tail.pop_front() else {
                break;
            };
            self.tail_bytes -= old.len();
            self.left_out_lines += 1;
            self.left_out_bytes += old.len() as u64;
        }
    }

    /// Writes the marker and the tail, and flushes.
    pub async fn finish(mut self) {
        if self.left_out_lines > 0 {
            let marker = format!(
                "[bosun] {} lines ({} KiB) left out here: an agent log keeps its first {} MiB \
                 and its last {} MiB\n",
                self.left_out_lines,
                self.left_out_bytes.div_ceil(1024),
                HEAD_BYTES >> 20,
                TAIL_BYTES >> 20,
            );
            let _ = self.file.write_all(marker.as_bytes()).await;
        }
        for line in std::mem::take(&mut self.tail) {
            let _ = self.file.write_all(line.as_bytes()).await;
        }
        let _ = self.file.flush().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_log_keeps_its_head_and_its_tail_and_says_what_it_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.log");
        let mut log = CappedLog::with_caps(&path, 100, 50).await.unwrap();
        for i in 0..1000 {
            log.line(format!("line {i:04}")).await;
        }
        // While running, only the head is on disk.
        let during = std::fs::read_to_string(&path).unwrap();
        assert!(during.len() <= 100, "{during}");
        assert!(during.starts_with("line 0000\n"));
        log.finish().await;
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "line 0000");
        assert_eq!(lines.last(), Some(&"line 0999"));
        let marker = lines.iter().find(|l| l.starts_with("[bosun]")).unwrap();
        // 10 lines of 10 bytes in the head, 5 in the tail: 985 left out.
        assert!(marker.contains("985 lines"), "{marker}");
        assert!(text.len() < 100 + 50 + marker.len() + 2, "{}", text.len());
    }

    #[tokio::test]
    async fn a_short_log_is_written_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.log");
        let mut log = CappedLog::with_caps(&path, 100, 50).await.unwrap();
        log.line("one".into()).await;
        log.line("two".into()).await;
        log.finish().await;
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "one\ntwo\n");
    }
}
