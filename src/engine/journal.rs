//! The append-only journal of one environment: one JSON object per line. Status, history and
//! crash recovery are derived from it; nothing else about the queue is stored.

use super::model::{Action, Item, ItemId, Outcome, Recap, Slot};
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Record {
    Session {
        at: DateTime<Utc>,
        pid: u32,
        workers: u32,
    },
    Enqueued {
        at: DateTime<Utc>,
        item: Item,
    },
    Started {
        at: DateTime<Utc>,
        id: ItemId,
        slot: Slot,
    },
    Finished {
        at: DateTime<Utc>,
        id: ItemId,
        server: String,
        action: Action,
        #[serde(flatten)]
        outcome: Outcome,
        #[serde(default)]
        recap: Option<Recap>,
        #[serde(default)]
        duration_ms: Option<u64>,
        #[serde(default)]
        log: Option<PathBuf>,
    },
    /// The run's child started and writes this log (known before it finishes, so a run cut by
    /// a crash still has its log found).
    LogOpened {
        at: DateTime<Utc>,
        id: ItemId,
        log: PathBuf,
    },
    Reprioritized {
        at: DateTime<Utc>,
        id: ItemId,
        priority: i32,
    },
    /// Items waiting for `old` wait for its retry `new`.
    Repointed {
        at: DateTime<Utc>,
        old: ItemId,
        new: ItemId,
    },
    Resized {
        at: DateTime<Utc>,
        from: u32,
        to: u32,
    },
    Paused {
        at: DateTime<Utc>,
        reason: String,
    },
    Resumed {
        at: DateTime<Utc>,
    },
    Health {
        at: DateTime<Utc>,
        deploy: ItemId,
        server: String,
        healthy: bool,
    },
    /// Heads a compacted journal: what the history it replaced said that no run kept in it
    /// says (the next id, successes queued links wait on, the last ETAs).
    Compacted {
        at: DateTime<Utc>,
        /// How many lines the journal had before: for whoever wonders where history went.
        lines: usize,
        next_id: ItemId,
        succeeded: Vec<ItemId>,
        durations: Vec<LastDuration>,
    },
}

/// How long the last successful real run of one (server, action) took.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LastDuration {
    pub server: String,
    pub action: Action,
    pub ms: u64,
}

mod compact;
mod replay;
mod wire;
pub use compact::open_and_replay;
pub use replay::{Latest, Replay, replay};
#[doc(hidden)]
pub mod synth;

/// Appends records; each one is written whole with a single `write` so a crash tears at most the
/// last line, which replay skips.
pub struct Journal {
    path: PathBuf,
    file: File,
    /// Held for the journal's life: one fleetdeck per environment, or two would mark each
    /// other's runs interrupted and run each other's queue.
    _lock: Flock<File>,
}

impl Journal {
    pub fn open(path: &Path) -> Result<Journal> {
        if let Some(dir) = path.parent() {
            crate::secrets::create_private_dir_all(dir)
                .with_context(|| format!("creating the journal folder {}", dir.display()))?;
        }
        let lock = lock_environment(&path.with_extension("lock"))?;
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("opening the journal {}", path.display()))?;
        // A torn last line from a crash must not glue itself to the next record.
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        if len > 0 && !ends_with_newline(path)? {
            file.write_all(b"\n")
                .with_context(|| format!("repairing {}", path.display()))?;
        }
        Ok(Journal {
            path: path.to_path_buf(),
            file,
            _lock: lock,
        })
    }

    pub fn append(&mut self, record: &Record) -> Result<()> {
        let mut line = serde_json::to_vec(record).context("encoding a journal record")?;
        line.push(b'\n');
        self.file
            .write_all(&line)
            .with_context(|| format!("appending to {}", self.path.display()))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends to whatever file is at the path now: after compaction renamed a new one over
    /// it, the old handle writes into the unlinked file. (The lock is a separate file, so it
    /// holds throughout.)
    fn reopen(&mut self) -> Result<()> {
        self.file = OpenOptions::new()
            .append(true)
            .open(&self.path)
            .with_context(|| format!("reopening the journal {}", self.path.display()))?;
        Ok(())
    }
}

/// Takes the environment's lock without waiting, and writes our pid into it for whoever comes
/// second; the kernel releases it when this process ends, however it ends.
fn lock_environment(path: &Path) -> Result<Flock<File>> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(mut locked) => {
            locked
                .set_len(0)
                .with_context(|| format!("writing {}", path.display()))?;
            write!(locked, "{}", std::process::id())
                .with_context(|| format!("writing {}", path.display()))?;
            Ok(locked)
        }
        Err((_, _)) => {
            let holder = std::fs::read_to_string(path).unwrap_or_default();
            let env = path
                .parent()
                .and_then(|p| p.file_name())
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            Err(in_use(&env, holder.trim()))
        }
    }
}

/// The pid of the fleetdeck that holds the environment of `journal` now, or `None` when none
/// does. The pid in the lock file outlives its process, so the lock itself is asked: taken for
/// an instant and let go. Shared, not exclusive: two `status` calls at once must not see each
/// other as the holder.
/// Copies the journal to `journal.jsonl.damaged-<UTC time>` beside it (0600); returns the copy.
pub fn keep_copy(path: &Path, now: DateTime<Utc>) -> Result<PathBuf> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let copy = path.with_file_name(format!("{name}.damaged-{}", now.format("%Y%m%dT%H%M%SZ")));
    std::fs::copy(path, &copy)
        .with_context(|| format!("keeping a copy of {} in {}", path.display(), copy.display()))?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("making {} private", copy.display()))?;
    Ok(copy)
}

/// The refusal a second fleetdeck on one environment gets.
pub fn in_use(env: &str, pid: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "environment {env} is in use by another fleetdeck (pid {pid}); one fleetdeck per environment at a time"
    )
}

/// Refuses early, before anything is started, when another fleetdeck holds the environment.
/// (`Journal::open` still takes the lock for real: this only spares the work before it.)
pub fn ensure_free(env: &str, journal: &Path) -> Result<()> {
    match holder(journal) {
        Some(pid) => Err(in_use(env, &pid.to_string())),
        None => Ok(()),
    }
}

pub fn holder(journal: &Path) -> Option<u32> {
    let path = journal.with_extension("lock");
    // No lock file: no fleetdeck ever opened this environment.
    let file = File::open(&path).ok()?;
    match Flock::lock(file, FlockArg::LockSharedNonblock) {
        Ok(_free) => None,
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => {
            std::fs::read_to_string(&path).ok()?.trim().parse().ok()
        }
        Err(_) => None,
    }
}

fn ends_with_newline(path: &Path) -> Result<bool> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = File::open(path).with_context(|| format!("reading {}", path.display()))?;
    file.seek(SeekFrom::End(-1))?;
    let mut last = [0u8; 1];
    file.read_exact(&mut last)?;
    Ok(last[0] == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::model::Purpose;
    use chrono::TimeZone;

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap()
    }

    fn item(id: ItemId, server: &str) -> Item {
        Item {
            id,
            server: server.into(),
            action: Action::Deploy,
            priority: 0,
            tags: vec!["release".into()],
            check_mode: false,
            attempt: 1,
            enqueued_at: at(),
            after: None,
            purpose: Purpose::Requested,
            not_before: None,
            held: false,
        }
    }

    fn finished(id: ItemId, server: &str, outcome: Outcome) -> Record {
        Record::Finished {
            at: at(),
            id,
            server: server.into(),
            action: Action::Deploy,
            outcome,
            recap: None,
            duration_ms: Some(10),
            log: None,
        }
    }

    #[test]
    fn replay_sorts_items_into_pending_interrupted_and_finished() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let mut journal = Journal::open(&path).unwrap();
        for id in 1..=4 {
            journal
                .append(&Record::Enqueued {
                    at: at(),
                    item: item(id, &format!("web-0{id}")),
                })
                .unwrap();
        }
        journal
            .append(&Record::Started {
                at: at(),
                id: 1,
                slot: 1,
            })
            .unwrap();
        journal
            .append(&finished(1, "web-01", Outcome::Succeeded))
            .unwrap();
        journal
            .append(&Record::Started {
                at: at(),
                id: 2,
                slot: 2,
            })
            .unwrap();
        journal
            .append(&Record::Reprioritized {
                at: at(),
                id: 4,
                priority: 7,
            })
            .unwrap();
        let replay = replay(&path).unwrap();
        assert_eq!(
            replay.pending().iter().map(|i| i.id).collect::<Vec<_>>(),
            [3, 4]
        );
        assert_eq!(
            replay.pending()[1].priority,
            7,
            "reprioritised while queued"
        );
        assert_eq!(
            replay
                .interrupted()
                .iter()
                .map(|i| i.id)
                .collect::<Vec<_>>(),
            [2]
        );
        assert!(replay.succeeded.contains(&1));
        assert_eq!(replay.next_id, 5);
        assert!(replay.skipped_lines.is_empty());
    }

    #[test]
    fn a_torn_last_line_is_skipped_and_the_next_record_starts_clean() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let mut journal = Journal::open(&path).unwrap();
        journal
            .append(&Record::Enqueued {
                at: at(),
                item: item(1, "web-01"),
            })
            .unwrap();
        drop(journal);
        // A crash in the middle of a write leaves half a record and no newline.
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(br#"{"kind":"enqueued","at":"2026-01-02T03:04:05Z","item":{"id":2,"serv"#)
            .unwrap();
        drop(file);
        let torn = replay(&path).unwrap();
        assert_eq!(torn.skipped_lines, [2]);
        assert_eq!(torn.pending().len(), 1);

        let mut journal = Journal::open(&path).unwrap();
        journal
            .append(&Record::Enqueued {
                at: at(),
                item: item(3, "web-03"),
            })
            .unwrap();
        let repaired = replay(&path).unwrap();
        assert_eq!(repaired.skipped_lines, [2], "only the torn line is lost");
        assert_eq!(
            repaired.pending().iter().map(|i| i.id).collect::<Vec<_>>(),
            [1, 3]
        );
    }

    #[test]
    fn the_journal_is_private_and_a_missing_one_is_empty() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("demo").join("journal.jsonl");
        let empty = replay(&path).unwrap();
        assert!(empty.pending().is_empty() && empty.latest.is_empty());
        assert_eq!(empty.next_id, 1);
        Journal::open(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "mode {mode:o}");
    }

    #[test]
    fn one_fleetdeck_per_environment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("demo").join("journal.jsonl");
        let first = Journal::open(&path).unwrap();
        let err = Journal::open(&path)
            .err()
            .expect("a second owner is refused")
            .to_string();
        assert!(
            err.contains("environment demo is in use by another fleetdeck"),
            "{err}"
        );
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        drop(first);
        Journal::open(&path).expect("free again once the first one is gone");
    }
}
