//! Turns a byte stream that arrives in arbitrary chunks into output lines.
//!
//! Both backends read chunks that do not respect line boundaries (Docker log frames, pipe
//! reads), so a line may span several chunks and a chunk may hold several lines. The buffer is
//! bounded: a line that grows past [`MAX_LINE_BYTES`] without a newline is emitted in pieces,
//! so a script printing one endless line cannot exhaust the host's memory.

use super::{OutputLine, Stream};
use tokio::sync::mpsc;

/// The longest line handed to the caller, in bytes (before lossy UTF-8 decoding).
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// Splits one stream into lines; keep one per stream.
#[derive(Debug)]
pub(crate) struct LineSplitter {
    stream: Stream,
    pending: Vec<u8>,
}

impl LineSplitter {
    pub(crate) fn new(stream: Stream) -> Self {
        LineSplitter {
            stream,
            pending: Vec::new(),
        }
    }

    /// Appends a chunk and returns the lines it completed.
    pub(crate) fn push(&mut self, mut chunk: &[u8]) -> Vec<OutputLine> {
        let mut out = Vec::new();
        while let Some(&first) = chunk.first() {
            if self.pending.len() >= MAX_LINE_BYTES {
                // Full buffer: a newline right here ends the line normally, anything else
                // means the line goes on and the full buffer leaves as one piece.
                if first == b'\n' {
                    out.push(self.take_line());
                    chunk = &chunk[1..];
                } else {
                    out.push(self.take_piece());
                }
                continue;
            }
            let room = MAX_LINE_BYTES - self.pending.len();
            let window = &chunk[..chunk.len().min(room)];
            if let Some(pos) = window.iter().position(|&b| b == b'\n') {
                self.pending.extend_from_slice(&window[..pos]);
                out.push(self.take_line());
                chunk = &chunk[pos + 1..];
            } else {
                self.pending.extend_from_slice(window);
                chunk = &chunk[window.len()..];
            }
        }
        out
    }

    /// Ends the stream: a last line without a newline is still a line.
    pub(crate) fn finish(&mut self) -> Option<OutputLine> {
        if self.pending.is_empty() {
            None
        } else {
            Some(self.take_line())
        }
    }

    fn take_line(&mut self) -> OutputLine {
        if self.pending.last() == Some(&b'\r') {
            self.pending.pop();
        }
        let bytes = std::mem::take(&mut self.pending);
        self.line(&bytes)
    }

    /// Cuts a full buffer at the last UTF-8 character boundary, so a multi-byte character is not
    /// split into two replacement characters; the remainder starts the next piece.
    fn take_piece(&mut self) -> OutputLine {
        let cut = utf8_cut(&self.pending);
        let rest = self.pending.split_off(cut);
        let bytes = std::mem::replace(&mut self.pending, rest);
        self.line(&bytes)
    }

    fn line(&self, bytes: &[u8]) -> OutputLine {
        OutputLine {
            stream: self.stream,
            text: String::from_utf8_lossy(bytes).into_owned(),
        }
    }
}

/// Two splitters and the channel; a closed receiver is not an error, the run goes on.
pub(crate) struct LineSink {
    stdout: LineSplitter,
    stderr: LineSplitter,
    lines: mpsc::Sender<OutputLine>,
}

impl LineSink {
    pub(crate) fn new(lines: mpsc::Sender<OutputLine>) -> Self {
        LineSink {
            stdout: LineSplitter::new(Stream::Stdout),
            stderr: LineSplitter::new(Stream::Stderr),
            lines,
        }
    }

    pub(crate) async fn push(&mut self, stream: Stream, chunk: &[u8]) {
        let splitter = match stream {
            Stream::Stdout => &mut self.stdout,
            Stream::Stderr => &mut self.stderr,
        };
        for line in splitter.push(chunk) {
            let _ = self.lines.send(line).await;
        }
    }

    /// Flushes the last unterminated line of each stream.
    pub(crate) async fn finish(&mut self) {
        for line in [self.stdout.finish(), self.stderr.finish()]
            .into_iter()
            .flatten()
        {
            let _ = self.lines.send(line).await;
        }
    }
}

/// The index where `buf` can be cut without splitting a UTF-8 sequence: before a trailing,
/// incomplete sequence of at most 3 bytes, or at the end.
fn utf8_cut(buf: &[u8]) -> usize {
    let len = buf.len();
    for back in 1..=3.min(len) {
        let b = buf[len - back];
        if b & 0xC0 == 0x80 {
            continue; // continuation byte: look further back for the lead byte
        }
        let needed = if b & 0xE0 == 0xC0 {
            2
        } else if b & 0xF0 == 0xE0 {
            3
        } else if b & 0xF8 == 0xF0 {
            4
        } else {
            1
        };
        return if needed > back { len - back } else { len };
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(lines: &[OutputLine]) -> Vec<&str> {
        lines.iter().map(|l| l.text.as_str()).collect()
    }

    #[test]
    fn splits_across_chunks() {
        let mut s = LineSplitter::new(Stream::Stdout);
        assert!(s.push(b"hel").is_empty());
        let got = s.push(b"lo\nwor");
        assert_eq!(texts(&got), ["hello"]);
        let got = s.push(b"ld\n\nx\r\n");
        assert_eq!(texts(&got), ["world", "", "x"]);
        assert_eq!(s.finish(), None);
    }

    #[test]
    fn last_line_without_newline() {
        let mut s = LineSplitter::new(Stream::Stderr);
        assert!(s.push(b"tail").is_empty());
        let last = s.finish().expect("a line");
        assert_eq!(last.text, "tail");
        assert_eq!(last.stream, Stream::Stderr);
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        let mut s = LineSplitter::new(Stream::Stdout);
        let got = s.push(b"a\xffb\n");
        assert_eq!(texts(&got), ["a\u{fffd}b"]);
    }

    #[test]
    fn long_line_comes_in_capped_pieces() {
        let mut s = LineSplitter::new(Stream::Stdout);
        let mut got = Vec::new();
        let chunk = vec![b'x'; 10_000];
        for _ in 0..20 {
            got.extend(s.push(&chunk));
        }
        got.extend(s.push(b"\n"));
        assert!(got.iter().all(|l| l.text.len() <= MAX_LINE_BYTES));
        assert_eq!(got.iter().map(|l| l.text.len()).sum::<usize>(), 200_000);
        assert_eq!(got.len(), 4);
    }

    #[test]
    fn piece_boundary_keeps_multibyte_characters_whole() {
        let mut s = LineSplitter::new(Stream::Stdout);
        let mut input = vec![b'a'; MAX_LINE_BYTES - 1];
        input.extend_from_slice("é".as_bytes()); // 2 bytes straddling the cap
        input.extend_from_slice(b"z\n");
        let got = s.push(&input);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].text.len(), MAX_LINE_BYTES - 1);
        assert_eq!(got[1].text, "éz");
    }

    #[test]
    fn line_of_exactly_the_cap_is_one_line() {
        let mut s = LineSplitter::new(Stream::Stdout);
        let mut input = vec![b'a'; MAX_LINE_BYTES];
        input.push(b'\n');
        let got = s.push(&input);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].text.len(), MAX_LINE_BYTES);
    }

    #[test]
    fn utf8_cut_points() {
        assert_eq!(utf8_cut(b"abc"), 3);
        assert_eq!(utf8_cut("aé".as_bytes()), 3);
        assert_eq!(utf8_cut(&"aé".as_bytes()[..2]), 1);
        assert_eq!(utf8_cut(&"a€".as_bytes()[..3]), 1);
        assert_eq!(utf8_cut(&"a😀".as_bytes()[..4]), 1);
        assert_eq!(utf8_cut(b"\x80\x80\x80\x80"), 4);
    }
}
