//! Reading one journal line fast. `Record` is an internally tagged enum with a flattened
//! outcome, which serde can only decode by first copying the whole object into a generic tree
//! (every key and string allocated); at a million lines that is most of the start time. The
//! four records that make up nearly all of a journal (enqueued, started, log opened, finished
//! with success) are decoded here straight from the line; anything else, or anything this
//! decoder does not know exactly, falls back to `Record`'s own decoding, so the two cannot
//! disagree about what a line says (a test compares them on every kind).

use super::Record;
use crate::engine::model::{Action, Item, ItemId, Outcome, Recap, Slot};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::path::PathBuf;

/// Every field the fast kinds have, flat. Unknown fields fail it (and so fall back): a field
/// added to a record must not be dropped silently here.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line<'a> {
    kind: &'a str,
    at: DateTime<Utc>,
    #[serde(default)]
    item: Option<Item>,
    #[serde(default)]
    id: Option<ItemId>,
    #[serde(default)]
    slot: Option<Slot>,
    #[serde(default)]
    server: Option<String>,
    #[serde(default)]
    action: Option<Action>,
    #[serde(default)]
    outcome: Option<&'a str>,
    #[serde(default)]
    recap: Option<Recap>,
    #[serde(default)]
    duration_ms: Option<u64>,
    #[serde(default)]
    log: Option<PathBuf>,
}

/// The record on `line`, or `None` when it is unreadable.
pub(super) fn parse(line: &[u8]) -> Option<Record> {
    fast(line).or_else(|| serde_json::from_slice::<Record>(line).ok())
}

/// The fast kinds only; `None` for anything else (including unreadable lines).
fn fast(line: &[u8]) -> Option<Record> {
    let line: Line = serde_json::from_slice(line).ok()?;
    let at = line.at;
    // A field another kind has, present here, is not something this decoder has seen: the
    // fallback decides.
    let record = match line.kind {
        "enqueued" if line.id.is_none() && line.log.is_none() && line.server.is_none() => {
            Record::Enqueued {
                at,
                item: line.item?,
            }
        }
        "started" if line.item.is_none() && line.log.is_none() && line.server.is_none() => {
            Record::Started {
                at,
                id: line.id?,
                slot: line.slot?,
            }
        }
        "log_opened" if line.item.is_none() && line.slot.is_none() && line.server.is_none() => {
            Record::LogOpened {
                at,
                id: line.id?,
                log: line.log?,
            }
        }
        "finished" if line.outcome == Some("succeeded") && line.item.is_none() => {
            Record::Finished {
                at,
                id: line.id?,
                server: line.server?,
                action: line.action?,
                outcome: Outcome::Succeeded,
                recap: line.recap,
                duration_ms: line.duration_ms,
                log: line.log,
            }
        }
        _ => return None,
    };
    Some(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whatever the fast path reads, it reads as `Record` does, on every kind of a journal.
    #[test]
    fn the_fast_path_reads_what_record_reads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        super::super::synth::write_history(&path, 50, 3_000).unwrap();
        let text = std::fs::read(&path).unwrap();
        let (mut fast_kinds, mut lines) = (0, 0);
        for line in text.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            lines += 1;
            let slow: Record = serde_json::from_slice(line).unwrap();
            if let Some(quick) = fast(line) {
                fast_kinds += 1;
                assert_eq!(quick, slow, "{}", String::from_utf8_lossy(line));
            }
            assert_eq!(parse(line), Some(slow));
        }
        assert!(
            fast_kinds * 10 > lines * 8,
            "{fast_kinds} of {lines} lines fast"
        );
        // What the fast path cannot place falls back instead of guessing.
        let odd = br#"{"kind":"started","at":"2026-01-02T03:04:05Z","id":1,"slot":2,"new":1}"#;
        assert_eq!(fast(odd), None);
        assert!(parse(odd).is_some(), "Record ignores unknown fields");
        assert_eq!(parse(b"{\"kind\":\"enq"), None);
    }
}
