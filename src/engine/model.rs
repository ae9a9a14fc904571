//! Plain data shared by the queue, the scheduler, the runner and the journal.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// One id per queued item; a run takes the id of the item it runs (a retry is a new item).
pub type ItemId = u64;

/// Worker slots are numbered 1..=W and keep their number while they live.
pub type Slot = u32;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Provision,
    Deploy,
    Check,
}

impl Action {
    pub const ALL: [Action; 3] = [Action::Provision, Action::Deploy, Action::Check];

    /// 0, 1, 2 in `ALL`'s order: for per-action arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Provision => "provision",
            Action::Deploy => "deploy",
            Action::Check => "check",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad` honours widths like `{:<9}`, so tables line up.
        f.pad(self.as_str())
    }
}

/// Why an item is in the queue beyond "the operator asked for it".
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Purpose {
    #[default]
    Requested,
    /// A check that decides whether the deploy `deploy` is healthy.
    HealthCheck { deploy: ItemId },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub id: ItemId,
    pub server: String,
    pub action: Action,
    /// Higher runs first; FIFO within one priority.
    pub priority: i32,
    pub tags: Vec<String>,
    pub check_mode: bool,
    /// 1 for the first try, 2 for the first retry, ...
    pub attempt: u32,
    pub enqueued_at: DateTime<Utc>,
    /// The item this one must follow (a chain link); it runs only after that one succeeded.
    pub after: Option<ItemId>,
    #[serde(default)]
    pub purpose: Purpose,
    /// Backoff: not dispatched before this time.
    #[serde(default)]
    pub not_before: Option<DateTime<Utc>>,
    /// Came back from an earlier session: waits until the operator releases it.
    #[serde(skip)]
    pub held: bool,
}

impl Item {
    /// A first try the operator asked for, with no tags, link or backoff: what tests, benches
    /// and fixtures start from.
    pub fn requested(id: ItemId, server: &str, action: Action, at: DateTime<Utc>) -> Item {
        Item {
            id,
            server: server.to_string(),
            action,
            priority: 0,
            tags: Vec::new(),
            check_mode: false,
            attempt: 1,
            enqueued_at: at,
            after: None,
            purpose: Purpose::Requested,
            not_before: None,
            held: false,
        }
    }

    /// Two pending items doing the same thing to the same server, after the same link, are one.
    /// (A chain's check is not the same work as a check queued on its own: it must follow the
    /// chain's deploy.)
    pub fn same_work(&self, other: &Item) -> bool {
        self.server == other.server
            && self.action == other.action
            && self.tags == other.tags
            && self.check_mode == other.check_mode
            && self.after == other.after
    }

    pub fn describe(&self) -> String {
        format!("{} for server {}", self.action, self.server)
    }
}

/// Per-host counts from ansible's final stats.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recap {
    pub ok: u32,
    pub changed: u32,
    pub failed: u32,
    pub unreachable: u32,
    pub skipped: u32,
    pub rescued: u32,
    pub ignored: u32,
}

impl fmt::Display for Recap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ok={} changed={} failed={} unreachable={} skipped={} rescued={} ignored={}",
            self.ok,
            self.changed,
            self.failed,
            self.unreachable,
            self.skipped,
            self.rescued,
            self.ignored
        )
    }
}

/// How an item ended. A failed playbook is an outcome, not an error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum Outcome {
    Succeeded,
    Failed {
        rc: Option<i32>,
        task: Option<String>,
        message: String,
    },
    Unreachable {
        message: String,
    },
    TimedOut {
        during_task: Option<String>,
    },
    Cancelled {
        during_task: Option<String>,
    },
    /// The run could not start (missing program, unwritable log, ...).
    Error {
        message: String,
    },
    /// Never ran: an item it depended on did not succeed.
    Skipped {
        reason: String,
    },
    /// Was running when fleetdeck (or the warm runner that forked it) died; never re-run
    /// silently.
    Interrupted,
}

impl Outcome {
    pub fn is_success(&self) -> bool {
        matches!(self, Outcome::Succeeded)
    }

    /// Failures count toward `max_fail_percentage` and the headless exit code.
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            Outcome::Failed { .. }
                | Outcome::Unreachable { .. }
                | Outcome::TimedOut { .. }
                | Outcome::Error { .. }
        )
    }

    /// A failure, or a run cut short by a crash: what "retry" requeues and what a skipped
    /// chain link must not hide.
    pub fn went_wrong(&self) -> bool {
        self.is_failure() || matches!(self, Outcome::Interrupted)
    }

    /// A short word for tables and status lines.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Succeeded => "ok",
            Outcome::Failed { .. } => "failed",
            Outcome::Unreachable { .. } => "unreachable",
            Outcome::TimedOut { .. } => "timed out",
            Outcome::Cancelled { .. } => "cancelled",
            Outcome::Error { .. } => "error",
            Outcome::Skipped { .. } => "skipped",
            Outcome::Interrupted => "interrupted",
        }
    }

    /// One narrow symbol per outcome, the same in the terminal and the HTML report;
    /// `healthy: Some(false)` marks an unhealthy deploy.
    pub fn symbol(&self, healthy: Option<bool>) -> &'static str {
        match self {
            Outcome::Succeeded if healthy == Some(false) => "✓!",
            Outcome::Succeeded => "✓",
            Outcome::Failed { .. } => "✗",
            Outcome::Unreachable { .. } => "!",
            Outcome::TimedOut { .. } => "T",
            Outcome::Error { .. } => "E",
            Outcome::Interrupted => "↯",
            Outcome::Cancelled { .. } | Outcome::Skipped { .. } => "⊘",
        }
    }

    /// The task it ended in, where the outcome names one.
    pub fn task(&self) -> Option<&str> {
        match self {
            Outcome::Failed { task, .. } => task.as_deref(),
            Outcome::TimedOut { during_task } | Outcome::Cancelled { during_task } => {
                during_task.as_deref()
            }
            _ => None,
        }
    }

    /// What there is to say of it beyond its label (what went wrong, why it never ran), in
    /// the words the dashboard and the reports share; `None` when the label says it all.
    pub fn message(&self) -> Option<&str> {
        match self {
            Outcome::Failed { message, .. }
            | Outcome::Unreachable { message }
            | Outcome::Error { message }
            | Outcome::Skipped { reason: message } => {
                Some(message.as_str()).filter(|m| !m.is_empty())
            }
            Outcome::Interrupted => Some(INTERRUPTED),
            _ => None,
        }
    }
}

/// The symbol of a run that has no outcome yet, beside those of `Outcome::symbol`.
pub const RUNNING_SYMBOL: &str = "▶";

/// Why a run was interrupted: what ran it died (the run log says which).
const INTERRUPTED: &str = "fleetdeck, its warm runner or its node stopped while it ran";

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Succeeded => f.write_str("succeeded"),
            Outcome::Failed { rc, task, message } => {
                write!(f, "failed")?;
                if let Some(rc) = rc {
                    write!(f, " (rc {rc}")?;
                    if let Some(task) = task {
                        write!(f, ", task \"{task}\"")?;
                    }
                    write!(f, ")")?;
                } else if let Some(task) = task {
                    write!(f, " (task \"{task}\")")?;
                }
                if !message.is_empty() {
                    write!(f, ": {message}")?;
                }
                Ok(())
            }
            Outcome::Unreachable { message } => write!(f, "unreachable: {message}"),
            Outcome::TimedOut { during_task } => match during_task {
                Some(task) => write!(f, "timed out during \"{task}\""),
                None => f.write_str("timed out"),
            },
            Outcome::Cancelled { during_task } => match during_task {
                Some(task) => write!(f, "cancelled during \"{task}\""),
                None => f.write_str("cancelled"),
            },
            Outcome::Error { message } => write!(f, "error: {message}"),
            Outcome::Skipped { reason } => write!(f, "skipped ({reason})"),
            Outcome::Interrupted => write!(f, "interrupted ({INTERRUPTED})"),
        }
    }
}
