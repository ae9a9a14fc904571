//! Compaction: a journal that grew far beyond what it says now is rewritten as that (pending
//! work, runs in flight, each (server, action)'s latest run, the successes queued links wait
//! on, the ETAs, the next id), so its size and the time to start follow the live state, not
//! the whole history.

use super::{Journal, LastDuration, Record, Replay, replay};
use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use std::collections::BTreeSet;
#[cfg(test)]
use std::collections::{BTreeMap, HashMap};
use std::fs::OpenOptions;
use std::io::{BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Below this many lines a journal is read in a blink: rewriting it gains nothing.
pub const MIN_LINES: usize = 10_000;
/// Compact only when the journal has this many times the lines its compacted form would: a
/// journal that is mostly live state would otherwise be rewritten at every start.
pub const MIN_RATIO: usize = 4;

/// Locks the environment, replays its journal once and, when worthwhile, compacts it; what
/// `Engine::start` needs. A compaction that fails leaves the journal as it was (and says so):
/// it is an optimisation, never a reason not to start.
pub fn open_and_replay(path: &Path) -> Result<(Journal, Replay)> {
    // Lock first, then read: nobody else may write while we replay or rewrite.
    let mut journal = Journal::open(path)?;
    let replay = replay(path)?;
    match compact_if_worthwhile(&journal, &replay, Utc::now()) {
        // Past the rename, appends must reach the new file or they are lost: no soft failing.
        Ok(Some(_)) => journal.reopen()?,
        Ok(None) => {}
        Err(err) => {
            log::warn!(target: "engine", "{} was not compacted: {err:#}", path.display());
        }
    }
    Ok((journal, replay))
}

/// Rewrites the journal as `replay`'s live state when it is big, mostly history, and
/// undamaged. Returns the compacted line count when it did; then `journal` still appends to
/// the file that was replaced, and must be reopened. An error means nothing was replaced.
pub(super) fn compact_if_worthwhile(
    journal: &Journal,
    replay: &Replay,
    now: DateTime<Utc>,
) -> Result<Option<usize>> {
    // A damaged line before the last one is not a crash's torn tail: the engine keeps a copy
    // of the journal as it is for whoever wants to recover those lines, so it must not be
    // rewritten before; the next start compacts it. (A torn last line is lost either way.)
    let damaged = replay.skipped_lines.iter().any(|l| *l < replay.last_line);
    if damaged || replay.last_line <= MIN_LINES {
        return Ok(None);
    }
    // Counted before anything is built: most starts stop here.
    if replay.last_line <= MIN_RATIO * live_line_count(replay) {
        return Ok(None);
    }
    let records = live_records(replay, now);
    let path = journal.path().to_path_buf();
    let tmp = tmp_path(&path);
    write_synced(&tmp, &records)?;
    // Read back what was written before it replaces anything: a rewrite that would change
    // what the journal says is a bug, and the original stays.
    let again = replay_file(&tmp)?;
    if !says_the_same(&again, replay) {
        let _ = std::fs::remove_file(&tmp);
        bail!("its compacted form would say something else; kept as it is");
    }
    // The rename is the commit point: before it the original is whole and authoritative (a
    // leftover .tmp is never read, and the next compaction truncates it), after it the new
    // file is. The lock is on `journal.lock`, not on this file, so it holds across.
    std::fs::rename(&tmp, &path)
        .with_context(|| format!("replacing {} by {}", path.display(), tmp.display()))?;
    if let Some(dir) = path.parent() {
        // The rename itself must reach the disk, or a power cut could bring back the old file
        // after new records went to the new one. Failing that is said, not an error: the
        // rename is done and the new file is the journal now.
        let synced = std::fs::File::open(dir).and_then(|d| d.sync_all());
        if let Err(err) = synced {
            log::warn!(target: "engine", "syncing {} after compaction: {err}", dir.display());
        }
    }
    log::info!(
        target: "engine",
        "{} compacted: {} lines of history became {} lines of live state",
        path.display(),
        replay.last_line,
        records.len()
    );
    Ok(Some(records.len()))
}

/// `journal.jsonl.tmp`, beside the journal: a rename is atomic only within one file system.
pub(super) fn tmp_path(path: &Path) -> PathBuf {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    path.with_file_name(format!("{name}.tmp"))
}

fn replay_file(path: &Path) -> Result<Replay> {
    let replay = replay(path)?;
    if !replay.skipped_lines.is_empty() {
        bail!("{} has unreadable lines", path.display());
    }
    Ok(replay)
}

fn write_synced(path: &Path, records: &[Record]) -> Result<()> {
    let file = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    for record in records {
        serde_json::to_writer(&mut out, record).context("encoding a journal record")?;
        out.write_all(b"\n")
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let file = out
        .into_inner()
        .map_err(|err| err.into_error())
        .with_context(|| format!("writing {}", path.display()))?;
    file.sync_all()
        .with_context(|| format!("syncing {}", path.display()))
}

/// The ids queued or running items wait on: the only successes anything still asks about
/// (retries and new work never wait on an earlier session's items).
fn awaited(replay: &Replay) -> BTreeSet<u64> {
    let items = replay.queued.values().chain(replay.running.values());
    items.filter_map(|item| item.after).collect()
}

fn is_skip(latest: &super::Latest) -> bool {
    matches!(
        latest.outcome,
        crate::engine::model::Outcome::Skipped { .. }
    )
}

/// How many records `live_records` gives, without building them.
pub(super) fn live_line_count(replay: &Replay) -> usize {
    let latest: usize = (replay.latest.values())
        .map(|l| 2 + usize::from(!is_skip(l)) + usize::from(l.healthy.is_some()))
        .sum();
    let rollouts = replay
        .rollouts
        .values()
        .filter(|r| r.phase.is_live())
        .count();
    1 + latest + replay.queued.len() + 2 * replay.running.len() + replay.logs.len() + rollouts
}

/// Whether `compacted` says what `original` said to every reader (`view`, without copying
/// it: this runs at start, on the whole live state).
fn says_the_same(compacted: &Replay, original: &Replay) -> bool {
    let asked = awaited(original)
        .into_iter()
        .chain(original.latest.values().map(|l| l.item.id));
    compacted.queued == original.queued
        && compacted.running == original.running
        && compacted.latest == original.latest
        && compacted.next_id == original.next_id
        && compacted.durations == original.durations
        && compacted.logs == original.logs
        && compacted.started == original.started
        && compacted.live_rollouts() == original.live_rollouts()
        && asked
            .into_iter()
            .all(|id| compacted.succeeded.contains(&id) == original.succeeded.contains(&id))
}

/// The records whose replay gives `replay` back, as far as anyone reads it.
pub(super) fn live_records(replay: &Replay, now: DateTime<Utc>) -> Vec<Record> {
    let mut durations: Vec<LastDuration> = replay
        .durations
        .iter()
        .map(|((server, action), ms)| LastDuration {
            server: server.clone(),
            action: *action,
            ms: *ms,
        })
        .collect();
    durations.sort_by(|a, b| (&a.server, a.action).cmp(&(&b.server, b.action)));
    let awaited = awaited(replay);
    let succeeded = awaited
        .into_iter()
        .filter(|id| replay.succeeded.contains(id));
    let mut records = vec![Record::Compacted {
        at: now,
        lines: replay.last_line,
        next_id: replay.next_id,
        succeeded: succeeded.collect(),
        durations,
    }];
    // In the order they ran: a timeline reads each worker's runs in time order.
    let mut kept: Vec<&super::Latest> = replay.latest.values().collect();
    kept.sort_by_key(|latest| {
        (
            latest.started.map_or(latest.at, |(start, _)| start),
            latest.item.id,
        )
    });
    for latest in kept {
        let (item, at) = (&latest.item, latest.at);
        records.push(Record::Enqueued {
            at: item.enqueued_at,
            item: item.clone(),
        });
        // A skipped link never ran, and shows as latest all the same where nothing ran
        // before: no start for it. Anything else ran, where and when it started (a journal
        // compacted before that was kept gives slot 0 and its finish time).
        if !is_skip(latest) {
            let (start, slot) = latest.started.unwrap_or((at, 0));
            records.push(Record::Started {
                at: start,
                id: item.id,
                slot,
                node: latest.node.clone(),
            });
        }
        records.push(Record::Finished {
            at,
            id: item.id,
            server: item.server.clone(),
            action: item.action,
            outcome: latest.outcome.clone(),
            recap: latest.recap,
            duration_ms: latest.duration_ms,
            log: latest.log.clone(),
            retried: latest.retried,
        });
        if let Some(healthy) = latest.healthy {
            records.push(Record::Health {
                at,
                deploy: item.id,
                server: item.server.clone(),
                healthy,
            });
        }
    }
    for item in replay.queued.values() {
        records.push(Record::Enqueued {
            at: item.enqueued_at,
            item: item.clone(),
        });
    }
    for item in replay.running.values() {
        records.push(Record::Enqueued {
            at: item.enqueued_at,
            item: item.clone(),
        });
        let (at, slot) = replay.started.get(&item.id).copied().unwrap_or((now, 0));
        records.push(Record::Started {
            at,
            id: item.id,
            slot,
            node: replay.nodes.get(&item.id).cloned(),
        });
    }
    // A live rollout as it stands: one record holds its state (done ones are history).
    for rollout in replay.live_rollouts() {
        records.push(Record::RolloutBegan {
            at: rollout.began_at,
            rollout: Box::new(rollout),
        });
    }
    // Logs of runs in flight (and any whose start the journal lost): `log_of` finds them.
    let mut logs: Vec<_> = replay.logs.iter().collect();
    logs.sort();
    for (id, log) in logs {
        let at = replay.started.get(id).map_or(now, |(at, _)| *at);
        records.push(Record::LogOpened {
            at,
            id: *id,
            log: log.clone(),
        });
    }
    records
}

/// What every reader of a replay can see: equal views are the same journal to them. Successes
/// are compared where anything asks about them (`awaited` by `reference`, and latest runs).
/// (Tests compare these, for the diff a failure prints.)
#[cfg(test)]
#[derive(Debug, PartialEq)]
pub(super) struct View {
    pending: Vec<crate::engine::model::Item>,
    interrupted: Vec<crate::engine::model::Item>,
    latest: Vec<super::Latest>,
    succeeded: Vec<bool>,
    next_id: u64,
    durations: BTreeMap<(String, crate::engine::model::Action), u64>,
    logs: BTreeMap<u64, PathBuf>,
    started: HashMap<u64, (DateTime<Utc>, crate::engine::model::Slot)>,
}

#[cfg(test)]
pub(super) fn view(replay: &Replay, reference: &Replay) -> View {
    let asked = awaited(reference)
        .into_iter()
        .chain(reference.latest.values().map(|l| l.item.id));
    View {
        pending: replay.pending(),
        interrupted: replay.interrupted(),
        latest: replay.latest.values().cloned().collect(),
        succeeded: asked.map(|id| replay.succeeded.contains(&id)).collect(),
        next_id: replay.next_id,
        durations: replay.durations.clone().into_iter().collect(),
        logs: replay.logs.clone().into_iter().collect(),
        started: replay.started.clone(),
    }
}

#[cfg(test)]
#[path = "compact_tests.rs"]
mod tests;
