//! The engine's decisions as a plain function: `Core::update(input, now)` folds one input into
//! the state and returns the effects (spawn, stop, journal, log, wake) for the shell to carry out.
//! No runtime, no clock, no I/O: every rule here is tested as a table of cases.

use super::EnqueueRequest;
use super::journal::Record;
use super::model::{Action, Item, ItemId, Outcome, Purpose, Recap, Slot};
use super::nodes::{NodeId, Nodes};
use super::pool::Pool;
use super::queue::Queue;
use super::rollout::{Rollout, RolloutId};
use super::{Command, EngineEvent, FinishedRun, Input, Policy, RunEvent, ShutdownMode, StopMode};
use chrono::{DateTime, Utc};
use log::Level;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// The log target of the engine's own lines (the dashboard's log pane lists it first).
pub const ENGINE_TARGET: &str = "engine";
/// First retry waits this long, doubling per attempt up to `BACKOFF_CAP`.
const BACKOFF_BASE: Duration = Duration::from_secs(2);
const BACKOFF_CAP: Duration = Duration::from_secs(60);
/// `max_fail_percentage` is judged only after this many runs have finished.
const MIN_FINISHED_FOR_FAIL_RATE: u32 = 3;

#[derive(Debug, PartialEq)]
pub enum Effect {
    Spawn {
        item: Item,
        slot: Slot,
        timeout: Duration,
        node: NodeId,
    },
    /// Ask an execution node for its health again after `after` (it was lost).
    ProbeNode {
        node: NodeId,
        after: Duration,
    },
    Stop {
        id: ItemId,
        mode: StopMode,
    },
    Journal(Record),
    Emit(EngineEvent),
    Log {
        target: String,
        level: Level,
        message: String,
    },
    WakeAt(DateTime<Utc>),
}

#[derive(Clone, Debug)]
pub struct RunState {
    pub item: Item,
    pub slot: Slot,
    pub started_at: DateTime<Utc>,
    pub task: Option<String>,
    pub tasks_started: u32,
    pub counts: Recap,
    pub last_line: Option<String>,
    pub last_event_at: DateTime<Utc>,
    pub stopping: Option<StopMode>,
    pub log_path: Option<std::path::PathBuf>,
    pub node: NodeId,
    /// The node dropped this run: why, and whether nothing of it reached the node.
    pub node_lost: Option<(String, bool)>,
    /// How long the node may go on with it after dropping it (see `RunEvent::NodeLost`).
    pub ends_within: Duration,
}

pub struct Core {
    policy: Policy,
    servers: BTreeSet<String>,
    queue: Queue,
    pool: Pool,
    runs: BTreeMap<ItemId, RunState>,
    succeeded: imbl::HashSet<ItemId>,
    paused: Option<String>,
    shutdown: Option<ShutdownMode>,
    next_id: ItemId,
    finished: u32,
    failed: u32,
    /// What the failure-rate brake judges: runs outside rollouts (a rollout judges its own
    /// deploys and health checks against max_fail_percentage, and stops itself).
    braked: (u32, u32),
    /// The latest failed item per (server, action) in this session: what "retry" requeues.
    retryable: BTreeMap<(String, Action), Item>,
    /// This session's rollouts and the live ones an earlier session left, by id.
    rollouts: BTreeMap<RolloutId, Arc<Rollout>>,
    /// Items of live rollout members (deploys; their health checks name them): which rollout
    /// and server they speak for.
    rollout_items: HashMap<ItemId, (RolloutId, String)>,
    /// Something changed that may let a rollout member in.
    rollouts_dirty: bool,
    nodes: Nodes,
    /// Items already moved once to another node because theirs could not be reached.
    moved_off_node: HashSet<ItemId>,
    /// Servers whose run was cut off on a node that may still be ending it: until when, and
    /// what ran (the per-host lock holds until then).
    settling: HashMap<String, (Action, Slot, DateTime<Utc>)>,
}

impl Core {
    pub fn new(policy: Policy, servers: impl IntoIterator<Item = String>) -> Core {
        Core {
            pool: Pool::new(policy.workers),
            policy,
            servers: servers.into_iter().collect(),
            queue: Queue::default(),
            runs: BTreeMap::new(),
            succeeded: imbl::HashSet::new(),
            paused: None,
            shutdown: None,
            next_id: 1,
            finished: 0,
            failed: 0,
            braked: (0, 0),
            retryable: BTreeMap::new(),
            rollouts: BTreeMap::new(),
            rollout_items: HashMap::new(),
            rollouts_dirty: false,
            nodes: Nodes::default(),
            moved_off_node: HashSet::new(),
            settling: HashMap::new(),
        }
    }

    /// Runs go to these nodes (this machine alone without it).
    pub fn with_nodes(mut self, nodes: Nodes) -> Core {
        self.nodes = nodes;
        self
    }

    /// The pool's opening words, as operators know them.
    pub fn start(&mut self) -> Vec<Effect> {
        let mut fx = Vec::new();
        if self.pool.is_sequential() {
            log(
                &mut fx,
                ENGINE_TARGET,
                Level::Info,
                "Running in SEQUENTIAL mode".into(),
            );
        } else {
            let n = self.pool.target();
            log(
                &mut fx,
                ENGINE_TARGET,
                Level::Info,
                format!("Running in PARALLEL mode with {n} workers"),
            );
        }
        for slot in 1..=self.pool.capacity() {
            log(
                &mut fx,
                &worker_target(slot),
                Level::Info,
                format!("Worker {slot} started"),
            );
        }
        fx
    }

    pub fn update(&mut self, input: Input, now: DateTime<Utc>) -> Vec<Effect> {
        let mut fx = Vec::new();
        match input {
            Input::Command(command) => {
                self.rollouts_dirty = true;
                self.command(command, now, &mut fx)
            }
            Input::Run { id, event } => self.run_event(id, event, now, &mut fx),
            Input::Wake => self.rollouts_dirty = true,
            Input::Node { id, health } => self.node_health(id, health, now, &mut fx),
        }
        self.dispatch(now, &mut fx);
        fx
    }

    fn command(&mut self, command: Command, now: DateTime<Utc>, fx: &mut Vec<Effect>) {
        match command {
            Command::Enqueue(request) => self.enqueue(request, now, fx),
            Command::Cancel(id) => self.cancel(id, StopMode::Graceful, now, fx),
            Command::Kill(id) => self.cancel(id, StopMode::Kill, now, fx),
            Command::SetPriority { id, priority } => {
                // A link moved alone would wait for its predecessor anyway: the chain moves.
                for link in self.queue.chain_of(id) {
                    if self.queue.set_priority(link, priority) {
                        fx.push(Effect::Journal(Record::Reprioritized {
                            at: now,
                            id: link,
                            priority,
                        }));
                    }
                }
            }
            Command::SetWorkers(to) => self.resize(to, now, fx),
            Command::Pause => self.pause("paused by the operator".into(), now, fx),
            Command::Resume { release_held } => {
                let released = if release_held {
                    self.queue.release_held()
                } else {
                    0
                };
                if self.paused.take().is_some() || released > 0 {
                    fx.push(Effect::Journal(Record::Resumed { at: now }));
                    log(fx, ENGINE_TARGET, Level::Info, "Dispatching resumed".into());
                }
            }
            Command::Clear => {
                for item in self.queue.drain_all() {
                    self.drop_item(item, Outcome::Cancelled { during_task: None }, now, fx);
                }
            }
            Command::SetServers(servers) => self.set_servers(servers, now, fx),
            Command::ResumeRollout(which) => self.resume_rollouts(which, now, fx),
            Command::Batch(commands) => {
                for command in commands {
                    self.command(command, now, fx);
                }
            }
            Command::AbortRollout(which) => self.abort_rollouts(which, now, fx),
            Command::DiscardHeld => {
                let held = self.queue.drain_held();
                if !held.is_empty() {
                    let msg = format!(
                        "Discarded {} held item(s) from an earlier session",
                        held.len()
                    );
                    log(fx, ENGINE_TARGET, Level::Info, msg);
                }
                for item in held {
                    self.drop_item(item, Outcome::Cancelled { during_task: None }, now, fx);
                }
            }
            Command::RetryFailed { servers } => {
                let chosen: Vec<Item> = std::mem::take(&mut self.retryable)
                    .into_iter()
                    .filter_map(|((server, action), item)| {
                        let wanted = servers.as_ref().is_none_or(|s| s.contains(&server));
                        if wanted {
                            Some(item)
                        } else {
                            self.retryable.insert((server, action), item);
                            None
                        }
                    })
                    .collect();
                for failed in chosen {
                    let mut item = self.new_item(&failed.server, failed.action, now);
                    item.tags = failed.tags.clone();
                    item.check_mode = failed.check_mode;
                    item.priority = failed.priority;
                    item.attempt = failed.attempt + 1;
                    let msg = format!("Retrying {} (attempt {})", item.describe(), item.attempt);
                    log(fx, ENGINE_TARGET, Level::Info, msg);
                    self.push(item, now, fx);
                }
            }
            Command::Shutdown(mode) => {
                self.shutdown = Some(self.shutdown.map_or(mode, |old| old.max(mode)));
                let stop = match mode {
                    ShutdownMode::Wait => None,
                    ShutdownMode::Cancel => Some(StopMode::Graceful),
                    ShutdownMode::Kill => Some(StopMode::Kill),
                };
                if let Some(stop) = stop {
                    let ids: Vec<ItemId> = self.runs.keys().copied().collect();
                    for id in ids {
                        self.stop_run(id, stop, fx);
                    }
                }
            }
        }
    }

    fn set_servers(&mut self, servers: Vec<String>, now: DateTime<Utc>, fx: &mut Vec<Effect>) {
        self.servers = servers.into_iter().collect();
        self.skip_items_of_gone_servers(now, fx);
    }

    /// Queued items of servers no longer in the inventory are skipped, each saying why (taken
    /// out first, so that a chain's later links say the same, not "upstream failed").
    pub(super) fn skip_items_of_gone_servers(&mut self, now: DateTime<Utc>, fx: &mut Vec<Effect>) {
        let gone: Vec<ItemId> = self
            .queue
            .iter()
            .filter(|item| !self.servers.contains(&item.server))
            .map(|item| item.id)
            .collect();
        let items: Vec<Item> = gone
            .into_iter()
            .filter_map(|id| self.queue.remove(id))
            .collect();
        for item in items {
            let reason = rollouts::LEFT_INVENTORY.to_string();
            let msg = format!("Skipped {} ({reason})", item.describe());
            log(fx, ENGINE_TARGET, Level::Warn, msg);
            self.drop_item(item, Outcome::Skipped { reason }, now, fx);
        }
    }

    fn enqueue(&mut self, request: EnqueueRequest, now: DateTime<Utc>, fx: &mut Vec<Effect>) {
        // A dry run changes nothing on the servers: nothing to roll out carefully.
        let rolling = self.policy.rolling.is_some() && !request.check_mode;
        let mut deploys: Vec<(String, ItemId)> = Vec::new();
        for server in &request.servers {
            if !self.servers.contains(server) {
                let msg = format!("Not queued: server {server} is not in the inventory");
                log(fx, ENGINE_TARGET, Level::Error, msg);
                continue;
            }
            if let Some(why) = super::limit::problem(server) {
                let msg = format!(
                    "Not queued: server {server:?} cannot be run alone: {why}; rename it in the inventory"
                );
                log(fx, ENGINE_TARGET, Level::Error, msg);
                continue;
            }
            let mut previous: Option<ItemId> = None;
            for &action in request.target.actions() {
                let mut item = self.new_item(server, action, now);
                item.priority = request.priority;
                item.check_mode = request.check_mode;
                item.tags = match &request.tags {
                    Some(tags) => tags.clone(),
                    None => self.policy.default_tags(action),
                };
                item.after = previous;
                if let (Some(deploy), Action::Check) = (previous, action)
                    && self.policy.health_check_enabled
                    && !request.check_mode
                {
                    item.purpose = Purpose::HealthCheck { deploy };
                }
                let id = self.push(item, now, fx);
                if action == Action::Deploy {
                    deploys.push((server.clone(), id));
                }
                previous = Some(id);
            }
        }
        if rolling {
            self.begin_rollout(deploys, now, fx);
        }
    }

    fn new_item(&mut self, server: &str, action: Action, now: DateTime<Utc>) -> Item {
        let id = self.next_id;
        self.next_id += 1;
        Item::requested(id, server, action, now)
    }

    /// Queues `item` unless the same work is already pending; returns the id that will do it.
    fn push(&mut self, item: Item, now: DateTime<Utc>, fx: &mut Vec<Effect>) -> ItemId {
        let record = Record::Enqueued {
            at: now,
            item: item.clone(),
        };
        let purpose = item.purpose.clone();
        let what = item.describe();
        let (id, added) = self.queue.push(item);
        if added {
            fx.push(Effect::Journal(record));
        } else if matches!(purpose, Purpose::HealthCheck { .. }) {
            // A pending check of the same server now also judges the deploy's health.
            self.queue.promote_to_health_check(id, purpose);
        } else {
            // Asked twice: said, so nobody counts two where one will run.
            let msg = format!("Already queued: {what} (#{id}); not queued twice");
            log(fx, ENGINE_TARGET, Level::Info, msg);
        }
        id
    }

    fn cancel(&mut self, id: ItemId, mode: StopMode, now: DateTime<Utc>, fx: &mut Vec<Effect>) {
        if let Some(item) = self.queue.remove(id) {
            log(
                fx,
                ENGINE_TARGET,
                Level::Info,
                format!("Cancelled queued {}", item.describe()),
            );
            self.drop_item(item, Outcome::Cancelled { during_task: None }, now, fx);
        } else if self.runs.contains_key(&id) {
            self.stop_run(id, mode, fx);
        }
    }

    fn stop_run(&mut self, id: ItemId, mode: StopMode, fx: &mut Vec<Effect>) {
        let Some(run) = self.runs.get_mut(&id) else {
            return;
        };
        // Asking again only ever escalates: a kill after an interrupt, never the reverse.
        if run.stopping.is_some_and(|current| current >= mode) {
            return;
        }
        run.stopping = Some(mode);
        let verb = match mode {
            StopMode::Graceful => "interrupting",
            StopMode::Kill => "killing",
        };
        let msg = format!("Worker {} {verb}: {}", run.slot, run.item.describe());
        log(fx, &worker_target(run.slot), Level::Warn, msg);
        fx.push(Effect::Stop { id, mode });
    }

    /// An item that will never run: journal it and skip what waited for it.
    fn drop_item(
        &mut self,
        item: Item,
        outcome: Outcome,
        now: DateTime<Utc>,
        fx: &mut Vec<Effect>,
    ) {
        fx.push(Effect::Journal(finished_record(
            &item, &outcome, None, None, None, false, now,
        )));
        fx.push(Effect::Emit(EngineEvent::Finished(FinishedRun {
            item: item.clone(),
            ran: None,
            outcome: outcome.clone(),
            recap: None,
            duration: Duration::ZERO,
            log_path: None,
            retried: false,
        })));
        let reason = match outcome {
            Outcome::Cancelled { .. } => rollouts::UPSTREAM_CANCELLED,
            _ => "upstream failed",
        };
        self.rollout_item_ended(&item, &outcome, false, now, fx);
        self.skip_dependents(item.id, reason, now, fx);
    }

    fn skip_dependents(
        &mut self,
        id: ItemId,
        reason: &str,
        now: DateTime<Utc>,
        fx: &mut Vec<Effect>,
    ) {
        for child in self.queue.remove_dependents(id) {
            let outcome = Outcome::Skipped {
                reason: reason.to_string(),
            };
            let msg = format!("Skipped {} ({reason})", child.describe());
            log(fx, ENGINE_TARGET, Level::Info, msg);
            fx.push(Effect::Journal(finished_record(
                &child, &outcome, None, None, None, false, now,
            )));
            self.rollout_item_ended(&child, &outcome, false, now, fx);
            fx.push(Effect::Emit(EngineEvent::Finished(FinishedRun {
                item: child,
                ran: None,
                outcome,
                recap: None,
                duration: Duration::ZERO,
                log_path: None,
                retried: false,
            })));
        }
    }

    fn resize(&mut self, to: u32, now: DateTime<Utc>, fx: &mut Vec<Effect>) {
        let to = to.min(super::MAX_WORKERS);
        let from = self.pool.set_target(to);
        if from == to {
            return;
        }
        fx.push(Effect::Journal(Record::Resized { at: now, from, to }));
        log(
            fx,
            ENGINE_TARGET,
            Level::Info,
            format!("Workers resized: {from} → {to}"),
        );
        for slot in from.max(1) + 1..=to.max(1) {
            log(
                fx,
                &worker_target(slot),
                Level::Info,
                format!("Worker {slot} started"),
            );
        }
        let draining = self.pool.draining();
        if draining > 0 {
            log(
                fx,
                ENGINE_TARGET,
                Level::Info,
                format!("{draining} worker(s) draining: they finish their run, then stop"),
            );
        }
    }

    fn pause(&mut self, reason: String, now: DateTime<Utc>, fx: &mut Vec<Effect>) {
        if self.paused.is_none() {
            fx.push(Effect::Journal(Record::Paused {
                at: now,
                reason: reason.clone(),
            }));
            log(
                fx,
                ENGINE_TARGET,
                Level::Warn,
                format!("Dispatching paused: {reason}"),
            );
            self.paused = Some(reason);
        }
    }

    fn run_event(&mut self, id: ItemId, event: RunEvent, now: DateTime<Utc>, fx: &mut Vec<Effect>) {
        if let RunEvent::Finished(report) = event {
            self.finish(id, report, now, fx);
            return;
        }
        let Some(run) = self.runs.get_mut(&id) else {
            return;
        };
        run.last_event_at = now;
        match event {
            RunEvent::TaskStarted { name } => {
                run.task = Some(name);
                run.tasks_started += 1;
            }
            RunEvent::HostResult { status } => status.count_into(&mut run.counts),
            RunEvent::Output { line } => run.last_line = Some(line),
            RunEvent::NodeLost {
                message,
                before_start,
                ends_within,
            } => {
                run.node_lost = Some((message, before_start));
                run.ends_within = ends_within;
            }
            RunEvent::LogOpened { log_path } => {
                fx.push(Effect::Journal(Record::LogOpened {
                    at: now,
                    id,
                    log: log_path.clone(),
                }));
                run.log_path = Some(log_path);
            }
            RunEvent::Finished(_) => unreachable!("handled above"),
        }
    }
}

mod dispatch;
mod finish;
mod placement;
mod restore;
mod rollouts;
pub(crate) use finish::finished_record;
pub use restore::Restore;
#[cfg(test)]
mod tests;

/// The log target of a worker's lines: one per slot in the log pane.
pub fn worker_target(slot: Slot) -> String {
    format!("worker-{slot}")
}

fn log(fx: &mut Vec<Effect>, target: &str, level: Level, message: String) {
    fx.push(Effect::Log {
        target: target.to_string(),
        level,
        message,
    });
}

fn backoff(attempt: u32) -> Duration {
    let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(16));
    BACKOFF_BASE.saturating_mul(factor).min(BACKOFF_CAP)
}
