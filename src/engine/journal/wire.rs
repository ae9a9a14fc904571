//! Reading one journal line fast. `Record` is an internally tagged enum with a flattened
//! outcome, which serde can only decode by first copying the whole object into a generic tree
//! (every key and string allocated); at a million lines that is most of the start time. The
//! four records that make up nearly all of a journal (enqueued, started, log opened, finished
//! with success) are decoded here straight from the line; anything else, or anything this
//! decoder does not know exactly, falls back to `Record`'s own decoding, so the two cannot
//! disagree about what a line says (a test compares them on every kind).

use super::Record;
use crate::engine::model::{Action, Item, ItemId, Outcome, Purpose, Recap, Slot};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::path::PathBuf;

/// Every field the fast kinds have, flat. Unknown fields fail it (and so fall back): a field
/// added to a record must not be dropped silently here.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Flat<'a> {
    kind: &'a str,
    #[serde(deserialize_with = "time")]
    at: DateTime<Utc>,
    #[serde(default, borrow)]
    item: Option<FlatItem<'a>>,
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
    #[serde(default)]
    retried: Option<bool>,
    #[serde(default)]
    node: Option<String>,
}

/// `Item` as written, decoded without `Purpose`'s generic tree and with the fast clock.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FlatItem<'a> {
    id: ItemId,
    server: String,
    action: Action,
    priority: i32,
    tags: Vec<String>,
    check_mode: bool,
    attempt: u32,
    #[serde(deserialize_with = "time")]
    enqueued_at: DateTime<Utc>,
    after: Option<ItemId>,
    #[serde(default, borrow)]
    purpose: Option<FlatPurpose<'a>>,
    #[serde(default)]
    not_before: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FlatPurpose<'a> {
    kind: &'a str,
    #[serde(default)]
    deploy: Option<ItemId>,
}

impl FlatItem<'_> {
    /// The item, or `None` for a purpose this decoder does not know (the fallback decides).
    fn item(self) -> Option<Item> {
        let purpose = match self.purpose {
            None => Purpose::Requested,
            Some(FlatPurpose {
                kind: "requested",
                deploy: None,
            }) => Purpose::Requested,
            Some(FlatPurpose {
                kind: "health_check",
                deploy: Some(deploy),
            }) => Purpose::HealthCheck { deploy },
            Some(_) => return None,
        };
        Some(Item {
            id: self.id,
            server: self.server,
            action: self.action,
            priority: self.priority,
            tags: self.tags,
            check_mode: self.check_mode,
            attempt: self.attempt,
            enqueued_at: self.enqueued_at,
            after: self.after,
            purpose,
            not_before: self.not_before,
            held: false,
        })
    }
}

/// A time as the journal writes them (`2026-01-02T03:04:05.678Z`: UTC, 0 to 9 decimals),
/// read by hand: chrono's general parser was a tenth of a replay. Any other shape goes to it.
fn time<'de, D: serde::Deserializer<'de>>(de: D) -> Result<DateTime<Utc>, D::Error> {
    let text = <std::borrow::Cow<'de, str>>::deserialize(de)?;
    match utc(text.as_bytes()) {
        Some(at) => Ok(at),
        None => text
            .parse::<DateTime<Utc>>()
            .map_err(serde::de::Error::custom),
    }
}

fn utc(b: &[u8]) -> Option<DateTime<Utc>> {
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        let digits = b.get(range)?;
        digits.iter().try_fold(0u32, |n, d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let shape = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if b.len() < 20 || b.last() != Some(&b'Z') || shape.iter().any(|(i, c)| b[*i] != *c) {
        return None;
    }
    let fraction = &b[19..b.len() - 1];
    let nanos = match fraction {
        [] => 0,
        [b'.', digits @ ..] if (1..=9).contains(&digits.len()) => {
            num(20..b.len() - 1)? * 10u32.pow(9 - digits.len() as u32)
        }
        _ => return None,
    };
    let (second, minute, hour) = (num(17..19)?, num(14..16)?, num(11..13)?);
    if second > 59 {
        return None; // a leap second: chrono's to place
    }
    let date = chrono::NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
    let time = chrono::NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)?;
    Some(date.and_time(time).and_utc())
}

/// Journals smaller than this are read on the calling thread: threads would cost more than
/// they save (and `status` reads small ones often).
const PARALLEL_FROM: usize = 4 << 20;
/// Lines are decoded in blocks of about this many bytes, each block by whichever thread is
/// free, and handed back in order.
const BLOCK: usize = 1 << 20;

/// Decoding threads for a big journal, beside the caller's, which folds: one core fewer than
/// there are. More threads than cores was measured slower than one thread on a busy machine
/// (the block awaited in order sits on a descheduled thread while the others wait).
pub(super) fn threads() -> usize {
    std::thread::available_parallelism().map_or(0, |n| n.get().saturating_sub(1).min(8))
}

/// What one line held.
pub(super) enum Line {
    Blank,
    Unreadable,
    Read(Record),
}

/// Calls `each` with every line of `text`, in order. Decoding is most of a replay's work and
/// lines decode independently, so big journals are decoded on `threads` other threads while
/// the caller folds what is ready (0: all on the caller's); `each` still sees the lines in
/// file order, on the calling thread.
pub(super) fn for_each_line(text: &[u8], threads: usize, mut each: impl FnMut(Line)) {
    if text.len() < PARALLEL_FROM || threads == 0 {
        text.split(|b| *b == b'\n')
            .for_each(|line| each(decode(line)));
        return;
    }
    let blocks = blocks(text);
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        // Bounded: decoders never run far ahead of the folding (memory stays a few blocks).
        let (tx, rx) = std::sync::mpsc::sync_channel::<(usize, Vec<Line>)>(threads * 2);
        for _ in 0..threads {
            let (tx, next, blocks) = (tx.clone(), &next, &blocks);
            scope.spawn(move || {
                loop {
                    let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(block) = blocks.get(index) else {
                        break;
                    };
                    let lines = block.split(|b| *b == b'\n').map(decode).collect();
                    if tx.send((index, lines)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut early = std::collections::BTreeMap::new();
        let mut wanted = 0;
        for (index, lines) in rx {
            early.insert(index, lines);
            while let Some(lines) = early.remove(&wanted) {
                lines.into_iter().for_each(&mut each);
                wanted += 1;
            }
        }
    });
}

/// `text` cut into blocks of about `BLOCK` bytes at line ends; a block holds whole lines
/// without the last newline, so splitting each on newlines gives the file's lines exactly.
fn blocks(text: &[u8]) -> Vec<&[u8]> {
    let mut blocks = Vec::with_capacity(text.len() / BLOCK + 1);
    let mut rest = text;
    while rest.len() > BLOCK {
        let Some(end) = rest[BLOCK..].iter().position(|b| *b == b'\n') else {
            break;
        };
        blocks.push(&rest[..BLOCK + end]);
        rest = &rest[BLOCK + end + 1..];
    }
    blocks.push(rest);
    blocks
}

fn decode(line: &[u8]) -> Line {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Line::Blank;
    }
    parse(line).map_or(Line::Unreadable, Line::Read)
}

/// The record on `line`, or `None` when it is unreadable.
pub(super) fn parse(line: &[u8]) -> Option<Record> {
    fast(line).or_else(|| serde_json::from_slice::<Record>(line).ok())
}

/// The fast kinds only; `None` for anything else (including unreadable lines).
fn fast(line: &[u8]) -> Option<Record> {
    let line: Flat = serde_json::from_slice(line).ok()?;
    let at = line.at;
    // A field another kind has, present here, is not something this decoder has seen: the
    // fallback decides.
    let record = match line.kind {
        "enqueued"
            if line.id.is_none()
                && line.log.is_none()
                && line.server.is_none()
                && line.node.is_none() =>
        {
            Record::Enqueued {
                at,
                item: line.item?.item()?,
            }
        }
        "started" if line.item.is_none() && line.log.is_none() && line.server.is_none() => {
            Record::Started {
                at,
                id: line.id?,
                slot: line.slot?,
                node: line.node,
            }
        }
        "log_opened"
            if line.item.is_none()
                && line.slot.is_none()
                && line.server.is_none()
                && line.node.is_none() =>
        {
            Record::LogOpened {
                at,
                id: line.id?,
                log: line.log?,
            }
        }
        "finished"
            if line.outcome == Some("succeeded") && line.item.is_none() && line.node.is_none() =>
        {
            Record::Finished {
                at,
                id: line.id?,
                server: line.server?,
                action: line.action?,
                outcome: Outcome::Succeeded,
                recap: line.recap,
                duration_ms: line.duration_ms,
                log: line.log,
                retried: line.retried.unwrap_or(false),
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
        let health = br#"{"kind":"enqueued","at":"2026-01-02T03:04:05Z","item":{"id":7,"server":"a","action":"check","priority":0,"tags":[],"check_mode":false,"attempt":1,"enqueued_at":"2026-01-02T03:04:05Z","after":null,"purpose":{"kind":"health_check","deploy":6},"not_before":"2026-01-02T03:05:05Z"}}"#;
        let slow: Record = serde_json::from_slice(health).unwrap();
        assert_eq!(
            fast(health),
            Some(slow),
            "a health check's purpose and backoff"
        );
        let on_node =
            br#"{"kind":"started","at":"2026-01-02T03:04:05Z","id":1,"slot":2,"node":"exec-a"}"#;
        let slow: Record = serde_json::from_slice(on_node).unwrap();
        assert!(matches!(&slow, Record::Started { node: Some(node), .. } if node == "exec-a"));
        assert_eq!(fast(on_node), Some(slow), "a run's execution node");
        // What the fast path cannot place falls back instead of guessing.
        let odd = br#"{"kind":"started","at":"2026-01-02T03:04:05Z","id":1,"slot":2,"new":1}"#;
        assert_eq!(fast(odd), None);
        assert!(parse(odd).is_some(), "Record ignores unknown fields");
        assert_eq!(parse(b"{\"kind\":\"enq"), None);
    }

    /// The hand-read clock reads what chrono reads, and leaves it what it does not know.
    #[test]
    fn times_read_as_chrono_reads_them() {
        for text in [
            "2026-01-02T03:04:05Z",
            "2026-01-02T03:04:05.6Z",
            "2026-01-02T03:04:05.678Z",
            "2026-12-31T23:59:59.123456Z",
            "2024-02-29T00:00:00.123456789Z",
        ] {
            let chrono: DateTime<Utc> = text.parse().unwrap();
            assert_eq!(utc(text.as_bytes()), Some(chrono), "{text}");
            let json = serde_json::to_string(&chrono).unwrap();
            assert_eq!(
                utc(json.trim_matches('"').as_bytes()),
                Some(chrono),
                "{json}"
            );
        }
        for other in [
            "2026-01-02T03:04:05+00:00",
            "2026-02-30T03:04:05Z",
            "2026-01-02T03:04:60Z",
            "2026-01-02 03:04:05Z",
            "2026-01-02T03:04:05.Z",
            "2026-01-02T03:04:05.1234567890Z",
            "2026-01-02T03:04Z",
        ] {
            assert_eq!(utc(other.as_bytes()), None, "{other}");
        }
        let line = br#"{"kind":"started","at":"2026-01-02T03:04:05+02:00","id":1,"slot":2}"#;
        let record = fast(line).expect("another shape still reads, through chrono");
        assert_eq!(Some(record), serde_json::from_slice(line).ok());
    }

    /// Decoded on several threads, a journal reads line for line as on one: same records,
    /// same line numbers (blank and unreadable lines included), in the same order.
    #[test]
    fn decoding_on_threads_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        super::super::synth::write_history(&path, 300, 40_000).unwrap();
        let mut text = std::fs::read(&path).unwrap();
        assert!(text.len() > PARALLEL_FROM + 2 * BLOCK);
        text.splice(BLOCK..BLOCK, b"\n\n{\"kind\":".iter().copied());
        let lines = |threads| {
            let mut seen = Vec::new();
            for_each_line(&text, threads, |line| {
                seen.push(match line {
                    Line::Blank => None,
                    Line::Unreadable => Some(None),
                    Line::Read(record) => Some(Some(record)),
                })
            });
            seen
        };
        let here = lines(0);
        assert_eq!(here.len(), text.split(|b| *b == b'\n').count());
        assert!(here.contains(&None) && here.contains(&Some(None)));
        assert!(lines(1) == here && lines(3) == here);
    }
}
