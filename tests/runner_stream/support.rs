//! Reading the fixtures, and a transport that hands out a few bytes at a time.

use crate::cases::Case;
use fleetdeck::engine::callback::{CallbackEvent, Transcript};
use fleetdeck::engine::remote::events::{JobEvent, log_text};
use fleetdeck::engine::remote::stream::{Frame, StreamReader};
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, ReadBuf};

pub fn fixture(file: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/runner")
        .join(file);
    std::fs::read(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

pub fn fixture_text(file: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/runner")
        .join(file);
    if !path.exists() {
        return String::new();
    }
    String::from_utf8(fixture(file)).expect("UTF-8")
}

/// Hands out the input 1..=7 bytes at a time (the sizes cycling), so frames, lines and the
/// base64 zip are cut at arbitrary places.
pub struct Dribble<'a> {
    data: &'a [u8],
    sizes: std::iter::Cycle<std::ops::RangeInclusive<usize>>,
}

impl<'a> Dribble<'a> {
    pub fn new(data: &'a [u8], largest: usize) -> Dribble<'a> {
        Dribble {
            data,
            sizes: (1..=largest).cycle(),
        }
    }
}

impl AsyncRead for Dribble<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let size = self.sizes.next().unwrap_or(1);
        let n = size.min(self.data.len()).min(buf.remaining());
        let (head, rest) = self.data.split_at(n);
        buf.put_slice(head);
        self.data = rest;
        Poll::Ready(Ok(()))
    }
}

pub async fn read_all<R: AsyncRead + Unpin>(input: R) -> anyhow::Result<(Vec<Frame>, u64)> {
    let mut reader = StreamReader::new(input);
    let mut frames = Vec::new();
    while let Some(frame) = reader.next().await? {
        frames.push(frame);
    }
    Ok((frames, reader.bytes_read()))
}

pub fn events(frames: &[Frame]) -> Vec<&JobEvent> {
    frames
        .iter()
        .filter_map(|frame| match frame {
            Frame::Event(event) => Some(&**event),
            _ => None,
        })
        .collect()
}

/// runner's log of the run: each event's text, a newline after each.
pub fn remote_log(frames: &[Frame]) -> String {
    events(frames)
        .into_iter()
        .filter_map(log_text)
        .map(|text| format!("{text}\n"))
        .collect()
}

pub fn local_events(case: &Case) -> Vec<CallbackEvent> {
    let stream = fixture(&format!("{}.local.jsonl", case.name));
    stream
        .split(|b| *b == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| CallbackEvent::parse(line).expect("a plugin event"))
        .collect()
}

pub fn fold(events: &[CallbackEvent]) -> Transcript {
    let mut transcript = Transcript::default();
    for event in events {
        transcript.record(event);
    }
    transcript
}

/// The two runs happened at different times: a failed command's printed result says when.
pub fn without_times(text: &str) -> String {
    let mut text = text.to_string();
    for key in ["\"start\": \"", "\"end\": \"", "\"delta\": \""] {
        let mut from = 0;
        while let Some(at) = text[from..].find(key) {
            let value = from + at + key.len();
            let end = value + text[value..].find('"').unwrap_or(0);
            text.replace_range(value..end, "…");
            from = value;
        }
    }
    text
}

pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
