//! What consumers (the dashboard, the headless runner) see of the engine: a copy, never a lock.

use super::StopMode;
use super::core::RunState;
use super::model::{Item, Recap, Slot};
use super::queue::Wait;
use chrono::{DateTime, Utc};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    pub at: DateTime<Utc>,
    /// As configured: 0 = sequential.
    pub target_workers: u32,
    pub active: usize,
    /// Runs on slots above the target, finishing before their slot goes away.
    pub draining: usize,
    pub paused: Option<String>,
    /// Pending items in dispatch order.
    pub queue: Vec<QueuedView>,
    pub workers: Vec<WorkerView>,
    pub finished: u32,
    pub failed: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct QueuedView {
    pub item: Item,
    pub wait: Option<Wait>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct WorkerView {
    pub slot: Slot,
    pub run: Option<RunView>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RunView {
    pub item: Item,
    pub started_at: DateTime<Utc>,
    pub task: Option<String>,
    pub tasks_started: u32,
    pub counts: Recap,
    pub last_line: Option<String>,
    pub last_event_at: DateTime<Utc>,
    pub stopping: Option<StopMode>,
    pub log_path: Option<std::path::PathBuf>,
}

impl From<&RunState> for RunView {
    fn from(run: &RunState) -> Self {
        RunView {
            item: run.item.clone(),
            started_at: run.started_at,
            task: run.task.clone(),
            tasks_started: run.tasks_started,
            counts: run.counts,
            last_line: run.last_line.clone(),
            last_event_at: run.last_event_at,
            stopping: run.stopping,
            log_path: run.log_path.clone(),
        }
    }
}
