//! The append-only journal of one environment: one JSON object per line. Status, history and
//! crash recovery are derived from it; nothing else about the queue is stored.

use super::model::{Action, Item, ItemId, Outcome, Recap, Slot};
use super::rollout::{Rollout, RolloutId, Step};
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
        /// The node it ran on, when config.yml names execution nodes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        node: Option<String>,
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
        /// Another attempt followed (an unreachable host or a health check tried again): not
        /// the item's verdict. Absent in journals written before it was recorded.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        retried: bool,
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
    /// A rollout began: its servers in order, canary, window and gates. Compaction writes a
    /// live rollout as one of these, holding its state at that time.
    RolloutBegan {
        at: DateTime<Utc>,
        rollout: Box<Rollout>,
    },
    /// One step of a rollout (a server let in, deployed, healthy, failed; resumed, aborted).
    RolloutStep {
        at: DateTime<Utc>,
        rollout: RolloutId,
        #[serde(flatten)]
        step: Step,
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
pub use replay::{Latest, Replay, for_each_record, replay};
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
mod tests;
