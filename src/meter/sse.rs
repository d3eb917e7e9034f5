//! Splits a server-sent-events byte stream into the `data` of each event, incrementally.
//!
//! Only `data` fields matter for metering, and their content is handed on in pieces as it
//! arrives, so no line is ever buffered whole: a 5 MiB `data:` line costs no memory here. What
//! is kept is the name of the current field (a few bytes). Line ends are `\n`, `\r\n` or `\r`,
//! as the SSE format allows; several `data` lines of one event are joined with `\n`.

/// Field names longer than this are not `data` and are skipped.
const MAX_FIELD: usize = 16;

/// What the splitter reports, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SsePiece<'a> {
    /// More of the current event's data.
    Data(&'a [u8]),
    /// The current event is complete (a blank line, or the end of the stream after data).
    EventEnd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a field name; an empty name at a line end means a blank line.
    Field,
    /// Just after `data:`; one optional space is skipped.
    AfterColon,
    /// Inside the value of a `data` field.
    Data,
    /// Inside a comment or a field that is not `data`.
    Skip,
}

#[derive(Debug)]
pub(crate) struct SseSplitter {
    state: State,
    field: Vec<u8>,
    /// The previous byte was `\r`, so a `\n` now is part of the same line end.
    after_cr: bool,
    /// The current event has had a `data` line.
    event_has_data: bool,
}

impl Default for SseSplitter {
    fn default() -> Self {
        SseSplitter {
            state: State::Field,
            field: Vec::with_capacity(MAX_FIELD),
            after_cr: false,
            event_has_data: false,
        }
    }
}

impl SseSplitter {
    pub(crate) fn feed(&mut self, input: &[u8], sink: &mut impl FnMut(SsePiece<'_>)) {
        let mut i = 0;
        while i < input.len() {
            let b = input[i];
            if std::mem::take(&mut self.after_cr) && b == b'\n' {
                i += 1;
                continue;
            }
            if b == b'\n' || b == b'\r' {
                self.line_end(sink);
                self.after_cr = b == b'\r';
                i += 1;
                continue;
            }
            match self.state {
                State::Field => {
                    i += 1;
                    if b == b':' {
                        self.state = if self.field == b"data" {
                            State::AfterColon
                        } else {
                            // A comment (empty name) or another field.
                            State::Skip
                        };
                    } else if self.field.len() < MAX_FIELD {
                        self.field.push(b);
                    } else {
                        self.state = State::Skip;
                    }
                }
                State::AfterColon => {
                    if b == b' ' {
                        i += 1;
                    }
                    self.data_line_starts(sink);
                }
                State::Data | State::Skip => {
                    let rest = &input[i..];
                    let len = rest
                        .iter()
                        .position(|&c| c == b'\n' || c == b'\r')
                        .unwrap_or(rest.len());
                    if self.state == State::Data && len > 0 {
                        sink(SsePiece::Data(&rest[..len]));
                    }
                    i += len;
                }
            }
        }
    }

    /// The stream ended: an event that had data but no closing blank line still counts, so a
    /// response cut off mid-event is metered as far as it went.
    pub(crate) fn finish(&mut self, sink: &mut impl FnMut(SsePiece<'_>)) {
        if self.state == State::Field && self.field == b"data" || self.state == State::AfterColon {
            self.data_line_starts(sink);
        }
        if self.event_has_data {
            sink(SsePiece::EventEnd);
        }
        *self = SseSplitter::default();
    }

    fn data_line_starts(&mut self, sink: &mut impl FnMut(SsePiece<'_>)) {
        if self.event_has_data {
            sink(SsePiece::Data(b"\n"));
        }
        self.event_has_data = true;
        self.state = State::Data;
    }

    fn line_end(&mut self, sink: &mut impl FnMut(SsePiece<'_>)) {
        match self.state {
            State::Field if self.field.is_empty() => {
                if std::mem::take(&mut self.event_has_data) {
                    sink(SsePiece::EventEnd);
                }
            }
            // `data` with no colon, or `data:` with nothing after it: an empty data line.
            State::Field if self.field == b"data" => self.data_line_starts(sink),
            State::AfterColon => self.data_line_starts(sink),
            State::Field | State::Data | State::Skip => {}
        }
        self.state = State::Field;
        self.field.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `chunks` and returns the data of each completed event.
    fn events(chunks: &[&[u8]]) -> Vec<String> {
        let mut s = SseSplitter::default();
        let mut out = Vec::new();
        let mut current = Vec::new();
        let mut sink = |p: SsePiece<'_>| match p {
            SsePiece::Data(d) => current.extend_from_slice(d),
            SsePiece::EventEnd => {
                out.push(String::from_utf8(std::mem::take(&mut current)).unwrap())
            }
        };
        for c in chunks {
            s.feed(c, &mut sink);
        }
        s.finish(&mut sink);
        out
    }

    #[test]
    fn splits_events_and_ignores_other_fields_and_comments() {
        let stream = b"event: message_start\ndata: {\"a\":1}\n\n: keep-alive\n\nid: 7\nretry: 10\ndata:{\"b\":2}\n\n";
        assert_eq!(events(&[stream]), vec!["{\"a\":1}", "{\"b\":2}"]);
    }

    #[test]
    fn crlf_cr_multiline_and_empty_data() {
        let stream = b"data: one\r\ndata:  two\r\n\r\ndata: three\rdata\r\rdata:\n\n";
        // Only one space after the colon is removed; `data` alone is an empty line.
        assert_eq!(events(&[stream]), vec!["one\n two", "three\n", ""]);
    }

    #[test]
    fn a_stream_cut_mid_event_still_yields_what_it_had() {
        assert_eq!(
            events(&[b"data: {\"x\":1}\n\ndata: {\"y\""]),
            vec!["{\"x\":1}", "{\"y\""]
        );
        assert_eq!(events(&[b"event: ping\n"]), Vec::<String>::new());
    }

    #[test]
    fn every_split_point_gives_the_same_events() {
        let stream: &[u8] =
            b"event: a\r\ndata: {\"k\": \"v\"}\r\n\r\n:c\ndata: 1\ndata: 2\n\ndata: [DONE]\n\n";
        let whole = events(&[stream]);
        assert_eq!(whole, vec!["{\"k\": \"v\"}", "1\n2", "[DONE]"]);
        for cut in 0..=stream.len() {
            assert_eq!(
                events(&[&stream[..cut], &stream[cut..]]),
                whole,
                "cut at {cut}"
            );
        }
        let bytes: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(events(&bytes), whole);
    }

    #[test]
    fn long_field_names_and_long_lines_are_skipped_not_held() {
        let long_name = format!("{}: x\ndata: ok\n\n", "f".repeat(100));
        assert_eq!(events(&[long_name.as_bytes()]), vec!["ok"]);
        let long_comment = format!(":{}\ndata: ok\n\n", "c".repeat(2 << 20));
        assert_eq!(events(&[long_comment.as_bytes()]), vec!["ok"]);
    }
}
