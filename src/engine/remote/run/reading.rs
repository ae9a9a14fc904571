//! Reading a remote run's output: runner's stream into events, log and live line, and the
//! tail of ssh's stderr for messages.

use super::STDERR_TAIL_MAX;
use crate::engine::callback::Transcript;
use crate::engine::model::ItemId;
use crate::engine::remote::events;
use crate::engine::remote::guard;
use crate::engine::remote::stream::{Frame, StatusLine, StreamReader};
use crate::engine::runlog::RunLog;
use crate::engine::runner::{LiveLine, RunnerMsg};
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;

/// Unparsable lines read before the rest of the stream is only drained.
const MAX_ERRORS: u32 = 100;

/// What the node's stream said.
#[derive(Default)]
pub(super) struct Streamed {
    pub(super) transcript: Transcript,
    /// A status line came: the node's worker started the run.
    pub(super) saw_status: bool,
    /// The last status line (its end: successful, failed, canceled, timeout, error).
    pub(super) last: Option<StatusLine>,
    pub(super) rc: Option<i32>,
    /// Why reading stopped early (a broken frame).
    pub(super) broken: Option<String>,
    /// The end of ansible's output: runner runs ansible on a pty, so its errors (a playbook
    /// that does not parse, no hosts matched) are only there, not on a stderr of their own.
    pub(super) output_tail: String,
}

pub(super) async fn read_stream(
    stdout: impl AsyncRead + Unpin,
    log: RunLog,
    live: Arc<LiveLine>,
    tx: mpsc::UnboundedSender<RunnerMsg>,
    id: ItemId,
) -> Streamed {
    let mut reader = StreamReader::new(stdout);
    let mut streamed = Streamed::default();
    let mut errors = 0;
    loop {
        let frame = match reader.next().await {
            Ok(Some(frame)) => frame,
            Ok(None) => break,
            // A line that does not parse is skipped, not a reason to stop reading: closing our
            // end would make the guard end a healthy play. The first such error is kept.
            Err(err) => {
                errors += 1;
                streamed.broken.get_or_insert_with(|| format!("{err:#}"));
                if errors > MAX_ERRORS {
                    drain(reader).await;
                    break;
                }
                continue;
            }
        };
        match frame {
            Frame::Status(line) => {
                streamed.saw_status = true;
                if line.rc.is_some() {
                    streamed.rc = line.rc;
                }
                streamed.last = Some(line);
            }
            Frame::Event(event) => {
                if let Some(text) = events::log_text(&event) {
                    write_output(&log, &live, &tx, id, text);
                    keep_tail(&mut streamed.output_tail, text);
                }
                let Some(event) = events::to_callback(&event) else {
                    continue;
                };
                streamed.transcript.record(&event);
                if let Some(progress) = event.progress() {
                    let _ = tx.send(RunnerMsg::Event(id, progress));
                }
            }
            Frame::Artifacts(artifacts) => {
                if artifacts.rc.is_some() {
                    streamed.rc = artifacts.rc;
                }
            }
            Frame::Eof => break,
        }
    }
    streamed
}

/// ansible's human output goes to the log as a local run's would, and its last line to the
/// live view.
fn write_output(
    log: &RunLog,
    live: &LiveLine,
    tx: &mpsc::UnboundedSender<RunnerMsg>,
    id: ItemId,
    text: &str,
) {
    if text.is_empty() {
        return;
    }
    let _ = log.write(text.as_bytes());
    if !text.ends_with('\n') {
        let _ = log.write(b"\n");
    }
    if let Some(line) = text.lines().rev().find(|line| !line.trim().is_empty())
        && live.offer(line.to_string())
    {
        let _ = tx.send(RunnerMsg::OutputReady(id));
    }
}

fn keep_tail(tail: &mut String, text: &str) {
    tail.push_str(text);
    tail.push('\n');
    if tail.len() > STDERR_TAIL_MAX {
        let mut cut = tail.len() - STDERR_TAIL_MAX;
        while !tail.is_char_boundary(cut) {
            cut += 1;
        }
        tail.drain(..cut);
    }
}

/// What ssh's stderr said: its last few KiB (for messages), and whether the guard said it
/// accepted the run (from then on it may have started on the node).
#[derive(Default)]
pub(super) struct Said {
    pub(super) tail: Vec<u8>,
    pub(super) accepted: bool,
}

pub(super) async fn tail_of(mut stderr: impl AsyncRead + Unpin) -> Said {
    let mut said = Said::default();
    let mut chunk = [0u8; 4096];
    while let Ok(n) = stderr.read(&mut chunk).await {
        if n == 0 {
            break;
        }
        // The marker may straddle two reads: look at the end of the tail and the new bytes.
        let overlap = said.tail.len().saturating_sub(guard::ACCEPTED.len());
        said.tail.extend_from_slice(&chunk[..n]);
        said.accepted = said.accepted
            || said.tail[overlap..]
                .windows(guard::ACCEPTED.len())
                .any(|window| window == guard::ACCEPTED.as_bytes());
        if said.tail.len() > STDERR_TAIL_MAX {
            said.tail.drain(..said.tail.len() - STDERR_TAIL_MAX);
        }
    }
    said
}

/// Reads what is left to its end, keeping nothing.
async fn drain(reader: StreamReader<impl AsyncRead + Unpin>) {
    let mut rest = reader.into_inner();
    let _ = tokio::io::copy(&mut rest, &mut tokio::io::sink()).await;
}

pub(super) async fn join<T: Default>(slot: &mut Option<tokio::task::JoinHandle<T>>) -> T {
    let Some(task) = slot.as_mut() else {
        return T::default();
    };
    let value = task.await.unwrap_or_default();
    *slot = None;
    value
}
