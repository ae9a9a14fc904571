//! The engine: a queue, a resizable pool of workers and one `ansible-playbook` run per
//! (action, server). It knows nothing of terminals; the dashboard and `fleetdeck run` are two
//! consumers of the same `EngineEvent`s.

pub mod callback;
pub mod core;
pub mod feed;
pub mod journal;
pub mod limit;
pub mod model;
pub mod nodes;
pub mod pool;
pub mod proctree;
pub mod queue;
pub mod remote;
pub mod rollout;
pub mod runlog;
pub mod runner;
pub mod shell;
pub mod snapshot;
pub mod warm;

use model::{Action, Item, ItemId, Outcome, Recap, Slot};
use std::path::PathBuf;
use std::time::Duration;

pub use shell::{Engine, EngineHandle, Started};
pub use snapshot::Snapshot;

/// The most runs at once: each is an ansible process tree (~0.1–0.5 GB with its forks, a few
/// file descriptors and pipes), so thousands would exhaust the control node long before the
/// fleet. Asking for more (config, `--workers`, the dashboard) gets this, with a warning.
pub const MAX_WORKERS: u32 = 256;

/// The scheduling rules taken from `config.yml`.
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    pub workers: u32,
    pub action_timeout: Duration,
    pub health_check_enabled: bool,
    pub health_check_timeout: Duration,
    pub health_check_retries: u32,
    pub auto_retry_enabled: bool,
    pub max_retries: u32,
    pub max_fail_percentage: Option<f64>,
    pub provisioning_tags: Vec<String>,
    pub deployment_tags: Vec<String>,
    /// provisioning_strategy: sequential: one provision at a time, whatever the pool size.
    pub provisioning_sequential: bool,
    /// deployment_strategy: rolling: a deploy queued on several servers at once goes as a
    /// rollout (`None`: all at once).
    pub rolling: Option<rollout::Rolling>,
}

impl Policy {
    pub fn default_tags(&self, action: Action) -> Vec<String> {
        match action {
            Action::Provision => self.provisioning_tags.clone(),
            Action::Deploy => self.deployment_tags.clone(),
            Action::Check => Vec::new(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Action(Action),
    /// provision → deploy → check, each link waiting for the previous.
    Chain,
}

impl Target {
    /// The actions it queues on each server, in order (a chain's links).
    pub fn actions(&self) -> &[Action] {
        match self {
            Target::Action(action) => std::slice::from_ref(action),
            Target::Chain => &Action::ALL,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct EnqueueRequest {
    pub servers: Vec<String>,
    pub target: Target,
    /// `None`: the action's default tags from the config.
    pub tags: Option<Vec<String>>,
    pub check_mode: bool,
    pub priority: i32,
}

/// Graceful interrupts, then escalates; Kill goes straight to SIGKILL of every process group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum StopMode {
    Graceful,
    Kill,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ShutdownMode {
    /// Start nothing more; let running runs finish.
    Wait,
    /// Interrupt running runs.
    Cancel,
    Kill,
}

/// What an operator (or a script) asks of the engine.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    Enqueue(EnqueueRequest),
    /// A queued item is removed; a running one is interrupted gracefully.
    Cancel(ItemId),
    Kill(ItemId),
    SetPriority {
        id: ItemId,
        priority: i32,
    },
    SetWorkers(u32),
    Pause,
    /// `release_held` also lets items from an earlier session run.
    Resume {
        release_held: bool,
    },
    Clear,
    /// Drop the items an earlier session left held: they will not run.
    DiscardHeld,
    /// The inventory was read again: these are the servers now. Queued items of servers that
    /// left it are skipped (nothing runs on a server the operator cannot see); runs in flight
    /// finish.
    SetServers(Vec<String>),
    /// Let a stopped rollout go on (`None`: every stopped one).
    ResumeRollout(Option<rollout::RolloutId>),
    /// Cancel what a rollout has not started (`None`: every live one); its running deploys
    /// finish.
    AbortRollout(Option<rollout::RolloutId>),
    /// Requeue the latest failed or interrupted run of each (server, action) the journal
    /// knows (this session's and earlier ones'), of these servers or of all.
    RetryFailed {
        servers: Option<Vec<String>>,
    },
    Shutdown(ShutdownMode),
    /// Several commands applied as one: the engine says nothing (no Idle) between them, so a
    /// script's opening commands (queue this, resume that, release the held) are judged
    /// together.
    Batch(Vec<Command>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostStatus {
    Ok,
    Changed,
    Failed,
    Ignored,
    Skipped,
    Unreachable,
}

impl HostStatus {
    pub fn count_into(self, recap: &mut Recap) {
        match self {
            HostStatus::Ok => recap.ok += 1,
            HostStatus::Changed => {
                recap.ok += 1;
                recap.changed += 1;
            }
            HostStatus::Failed => recap.failed += 1,
            HostStatus::Ignored => recap.ignored += 1,
            HostStatus::Skipped => recap.skipped += 1,
            HostStatus::Unreachable => recap.unreachable += 1,
        }
    }
}

/// What a runner reports about its run.
#[derive(Clone, Debug, PartialEq)]
pub enum RunEvent {
    /// The run's log file exists (its child may still be starting): journaled at once, so a
    /// crash from here on leaves the log findable.
    LogOpened {
        log_path: PathBuf,
    },
    TaskStarted {
        name: String,
    },
    HostResult {
        status: HostStatus,
    },
    /// The latest output line (the live view coalesces; the log file has every byte).
    Output {
        line: String,
    },
    /// The execution node could not be reached or dropped the connection: the node is out of
    /// use until probed again. `before_start`: nothing of the run reached the node's guard, so
    /// it may go to another node. Otherwise the run may still be going there for up to
    /// `ends_within` (until the guard notices and ends it): its server takes no other run
    /// until then.
    NodeLost {
        message: String,
        before_start: bool,
        ends_within: std::time::Duration,
    },
    Finished(RunReport),
}

#[derive(Clone, Debug, PartialEq)]
pub struct RunReport {
    pub outcome: Outcome,
    pub recap: Option<Recap>,
    pub duration: Duration,
    pub log_path: Option<PathBuf>,
}

/// Everything that flows into the engine's single owner of state.
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    Command(Command),
    Run {
        id: ItemId,
        event: RunEvent,
    },
    /// A backoff ran out.
    Wake,
    /// What a probe of an execution node found.
    Node {
        id: nodes::NodeId,
        health: nodes::NodeHealth,
    },
}

/// The worker a run had and when it started (as journaled): with the item's id it names the
/// attempt, so whoever follows the events can tell a run they saw from a new one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RanOn {
    pub slot: Slot,
    pub started_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct FinishedRun {
    pub item: Item,
    /// Where and when this attempt ran; `None` for items that never ran (skipped, cancelled
    /// while queued).
    pub ran: Option<RanOn>,
    pub outcome: Outcome,
    pub recap: Option<Recap>,
    pub duration: Duration,
    pub log_path: Option<PathBuf>,
    /// Another attempt follows (a health check or an unreachable host is retried): this one
    /// does not decide the item's fate.
    pub retried: bool,
}

/// What consumers receive. Each event is moved once, from the engine to its one consumer, so
/// the size difference between variants costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum EngineEvent {
    /// The state changed; this is how it looks now.
    Snapshot(Box<Snapshot>),
    Finished(FinishedRun),
    Health {
        deploy: ItemId,
        server: String,
        healthy: bool,
    },
    /// Nothing runs and nothing more will start without the operator.
    Idle,
    /// Shutdown is complete: no run is left.
    Stopped,
    /// How runs start: fresh processes or the warm runner (and why not, after a fallback).
    Runner(warm::RunnerMode),
}
