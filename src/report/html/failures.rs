//! Each run that went wrong (failed, unreachable, timed out, could not start, interrupted):
//! its server, action, task, message, and the last lines of its log, read when the report is
//! made (the page must not need the log folder to be read later).

use super::{clock_time, duration_words, outcome_glyph, outcome_key, outcome_word};
use crate::engine::model::Outcome;
use crate::timeline::{Entry, Timeline};
use chrono::{DateTime, Utc};
use maud::{Markup, html};
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// How many of a log's last lines a failure shows.
const TAIL_LINES: usize = 20;
/// How much of a log's end is read to find them: a runaway log costs no more than this.
const TAIL_BYTES: u64 = 64 * 1024;
/// How many failures are shown in full, log tail included; the rest are one table row each,
/// so that a run where thousands failed still makes a page a browser opens (≤ 5 MB at 10,000
/// runs).
const IN_FULL: usize = 200;
/// A longer line is cut: one minified JSON blob must not fill the page.
const LINE_CHARS: usize = 400;

/// What a failure's log said, as found when the report was made.
pub enum LogTail {
    Lines(Vec<String>),
    NotRecorded,
    Unreadable(String),
    /// Not read: past the failures shown in full.
    LeftOut,
}

pub struct Failure<'a> {
    pub entry: &'a Entry,
    pub tail: LogTail,
}

/// The runs that went wrong, in the order they started, the first `IN_FULL` with their log's
/// tail. An attempt another one followed is not among them: the later one decides.
pub fn collect(timeline: &Timeline) -> Vec<Failure<'_>> {
    timeline
        .entries()
        .iter()
        .filter(|entry| !entry.retried)
        .filter(|entry| entry.outcome.as_ref().is_some_and(Outcome::went_wrong))
        .enumerate()
        .map(|(n, entry)| Failure {
            entry,
            tail: match &entry.log {
                _ if n >= IN_FULL => LogTail::LeftOut,
                None => LogTail::NotRecorded,
                Some(path) => match read_tail(path) {
                    Ok(lines) => LogTail::Lines(lines),
                    Err(err) => LogTail::Unreadable(err.to_string()),
                },
            },
        })
        .collect()
}

/// The last `TAIL_LINES` lines of the file, without terminal colour codes.
fn read_tail(path: &Path) -> std::io::Result<Vec<String>> {
    let mut file = std::fs::File::open(path)?;
    let length = file.metadata()?.len();
    let from = length.saturating_sub(TAIL_BYTES);
    file.seek(SeekFrom::Start(from))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    let text = String::from_utf8_lossy(&bytes);
    let mut lines: Vec<&str> = text.lines().collect();
    // Reading from the middle of the file: the first line is a piece of one.
    if from > 0 && !lines.is_empty() {
        lines.remove(0);
    }
    while lines.last().is_some_and(|line| line.trim().is_empty()) {
        lines.pop();
    }
    let keep = lines.len().saturating_sub(TAIL_LINES);
    Ok(lines[keep..].iter().map(|line| clean(line)).collect())
}

/// Drops ANSI escape sequences and other control characters; cuts very long lines.
fn clean(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
        } else if c == '\t' || !c.is_control() {
            out.push(c);
        }
        if out.len() >= LINE_CHARS {
            out.push('…');
            break;
        }
    }
    out
}

pub fn section(failures: &[Failure<'_>], now: DateTime<Utc>) -> Markup {
    html! {
        section #failures {
            h2 { "Failures " span.dim { "(" (failures.len()) ")" } }
            @if failures.is_empty() {
                p.dim { "Nothing went wrong in this window." }
            }
            @for failure in failures.iter().take(IN_FULL) {
                (one(failure, now))
            }
            @if failures.len() > IN_FULL {
                (the_rest(&failures[IN_FULL..]))
            }
        }
    }
}

fn one(failure: &Failure<'_>, now: DateTime<Utc>) -> Markup {
    let entry = failure.entry;
    let (task, message) = (task_of(entry), message_of(entry));
    html! {
        article class=(format_args!("failure {}", outcome_key(entry))) {
            h3 {
                span.glyph { (outcome_glyph(entry)) }
                " " (entry.server) " · " (entry.action.as_str()) " · " (outcome_word(entry))
            }
            dl {
                @if let Some(task) = task {
                    dt { "task" } dd.task { (task) }
                }
                @if let Some(message) = message {
                    dt { "message" } dd.message { (message) }
                }
                @if let Some(ran) = entry.ran {
                    dt { "ran" }
                    dd {
                        (clock_time(ran.start))
                        @if !entry.lane_lost { " on worker " (ran.lane) }
                        ", "
                        (duration_words(entry.duration(now)))
                        @if let Some(Outcome::Failed { rc: Some(rc), .. }) = &entry.outcome {
                            " (exit code " (rc) ")"
                        }
                    }
                }
                @if let Some(recap) = &entry.recap {
                    dt { "recap" } dd { (recap.to_string()) }
                }
                @if let Some(log) = &entry.log {
                    dt { "log" } dd { code { (log.display().to_string()) } }
                }
            }
            @match &failure.tail {
                LogTail::Lines(lines) if lines.is_empty() => p.dim { "The log is empty." },
                LogTail::Lines(lines) => pre.log {
                    @for line in lines { (line) "\n" }
                },
                LogTail::NotRecorded => p.dim { "No log was recorded for this run." },
                LogTail::Unreadable(why) => p.dim { "The log could not be read: " (why) },
                LogTail::LeftOut => {},
            }
        }
    }
}

/// Past the first `IN_FULL`: one row each, the log named but not read.
fn the_rest(failures: &[Failure<'_>]) -> Markup {
    html! {
        h3 { (failures.len()) " more, without their logs' tails" }
        table.more {
            thead { tr { th { "server" } th { "action" } th { "outcome" } th { "task" } th { "message" } th { "log" } } }
            tbody {
                @for failure in failures {
                    @let entry = failure.entry;
                    @let (task, message) = (task_of(entry), message_of(entry));
                    tr class=(outcome_key(entry)) {
                        td { (entry.server) }
                        td { (entry.action.as_str()) }
                        td { (outcome_glyph(entry)) " " (outcome_word(entry)) }
                        td { (task.unwrap_or_default()) }
                        td { (message.unwrap_or_default()) }
                        td { @if let Some(log) = &entry.log { code { (log.display().to_string()) } } }
                    }
                }
            }
        }
    }
}

fn task_of(entry: &Entry) -> Option<&str> {
    entry.outcome.as_ref().and_then(Outcome::task)
}

fn message_of(entry: &Entry) -> Option<&str> {
    entry.outcome.as_ref().and_then(Outcome::message)
}
