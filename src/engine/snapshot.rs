//! What consumers (the dashboard, the headless runner) see of the engine: a copy, never a lock.

use super::StopMode;
use super::core::RunState;
use super::model::{Action, Item, ItemId, Recap, Slot};
use super::queue::{DispatchView, QueueView, Wait, actions_at_limit};
use super::rollout::Rollout;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    pub at: DateTime<Utc>,
    /// As configured: 0 = sequential.
    pub target_workers: u32,
    pub active: usize,
    /// Runs on slots above the target, finishing before their slot goes away.
    pub draining: usize,
    pub paused: Option<String>,
    /// Nothing more starts: paused, or shutting down.
    pub dispatch_stopped: bool,
    /// Pending items, in dispatch order. Shares its structure with the engine's queue: taking
    /// a snapshot of 100,000 items copies a few pointers, and a face reads only what it draws.
    pub queue: QueueView,
    /// Items that succeeded (chain links wait for them): with the workers, why an item waits.
    pub succeeded: imbl::HashSet<ItemId>,
    pub workers: Vec<WorkerView>,
    /// This session's rollouts and the live ones an earlier session left, oldest first.
    pub rollouts: Vec<Arc<Rollout>>,
    /// provisioning_strategy: sequential.
    pub provisioning_sequential: bool,
    pub finished: u32,
    pub failed: u32,
    /// Where runs go: this machine and the execution nodes, with their load and health.
    pub nodes: crate::engine::nodes::Nodes,
    /// Servers whose run was cut off on a node that may still be ending it: they wait as if
    /// that run were still going.
    pub settling: HashMap<String, (Action, Slot)>,
}

impl Snapshot {
    /// Why queued items are not running yet, worked out for the items a face shows rather
    /// than for the whole queue at every engine batch. What the workers run is gathered once,
    /// here, for every row asked about after.
    pub fn waits(&self) -> Waits<'_> {
        let runs = || {
            self.workers
                .iter()
                .filter_map(|worker| Some((worker.slot, worker.run.as_ref()?)))
        };
        Waits {
            snapshot: self,
            busy: self
                .settling
                .iter()
                .map(|(server, busy)| (server.clone(), *busy))
                .chain(runs().map(|(slot, run)| (run.item.server.clone(), (run.item.action, slot))))
                .collect(),
            running: runs()
                .map(|(_, run)| (run.item.id, run.item.action))
                .collect(),
            at_limit: actions_at_limit(
                self.provisioning_sequential,
                runs().map(|(_, run)| run.item.action),
            ),
            worker_free: self.active < self.target_workers.max(1) as usize,
        }
    }

    pub fn rollout(&self, id: super::rollout::RolloutId) -> Option<&Rollout> {
        self.rollouts
            .iter()
            .find(|r| r.id == id)
            .map(|r| r.as_ref())
    }

    /// Why a rollout has not let `item` in: where the rollout is.
    fn rollout_wait(&self, id: super::rollout::RolloutId, item: &Item) -> String {
        use super::rollout::Phase;
        let Some(rollout) = self.rollout(id) else {
            return String::new();
        };
        if item.held {
            return "held".into();
        }
        match &rollout.phase {
            Phase::Canary => "after the canary".into(),
            Phase::Window => format!(
                "window full ({}/{})",
                rollout.tally().unavailable(),
                rollout.rules.window
            ),
            Phase::Stopped { reason } => format!("stopped: {reason}"),
            Phase::Done | Phase::Aborted => rollout.step_text(),
        }
    }

    /// Why one queued item is not running yet.
    pub fn wait_of(&self, item: &Item) -> Wait {
        self.waits().of(item)
    }
}

pub struct Waits<'a> {
    snapshot: &'a Snapshot,
    busy: HashMap<String, (Action, Slot)>,
    running: HashMap<ItemId, Action>,
    at_limit: [bool; 3],
    /// With a worker free, a ready item that does not run waits for a node.
    worker_free: bool,
}

impl Waits<'_> {
    pub fn of(&self, item: &Item) -> Wait {
        let nodes = &self.snapshot.nodes;
        let workers = self.snapshot.target_workers.max(1);
        let view = DispatchView {
            busy: &self.busy,
            running: &self.running,
            succeeded: &self.snapshot.succeeded,
            now: self.snapshot.at,
            at_limit: self.at_limit,
            nodes: Some((nodes, workers)),
        };
        let wait = self.snapshot.queue.blocker(item, &view);
        match wait {
            Some(Wait::Rollout { id, .. }) => Wait::Rollout {
                id,
                why: self.snapshot.rollout_wait(id, item),
            },
            Some(wait) => wait,
            None if self.snapshot.dispatch_stopped => Wait::Paused,
            None if self.worker_free && !view.has_node_for(&item.server) => Wait::NoNode {
                why: nodes.why_none(&item.server, workers),
            },
            None => Wait::NoFreeWorker,
        }
    }
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
    /// The node it runs on, when config.yml names execution nodes.
    pub node: Option<String>,
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
            node: None,
        }
    }
}
