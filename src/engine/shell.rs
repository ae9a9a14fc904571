//! The thin shell around `Core`: it owns the channels, the journal and the running children,
//! feeds every input to `Core::update` and carries out the effects it returns.

use super::core::{Core, Effect};
use super::feed::{EVENT_BACKLOG, Feed};
use super::journal::{self, Journal, Record};
use super::model::{Action, Item, ItemId, Outcome};
use super::remote::fleet::{Fleet, NodePlan};
use super::runlog;
use super::runner::{self, RunHandle, RunSpec, RunnerMsg};
use super::warm::{RunnerMode, WarmRunner};
use super::{Command, EngineEvent, Input, Policy, RunEvent, ShutdownMode, Snapshot};
use anyhow::Result;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// At most this many queued inputs are folded before consumers get a new snapshot.
const MAX_BATCH: usize = 512;
/// Runs' news is folded into the state at once, but published at most this often: at
/// thousands of short runs, a state per batch was a tenth of fleetdeck's CPU, for faces that
/// draw a few frames a second. An operator's command, idle and stop publish at once.
const PUBLISH_GAP: Duration = Duration::from_millis(25);

/// Everything the engine needs to know about an environment, resolved to paths and values.
#[derive(Clone, Debug)]
pub struct EngineSetup {
    pub env_name: String,
    /// Where `ansible-playbook` runs (the project root); playbook paths are relative to it.
    pub root: PathBuf,
    pub inventory: PathBuf,
    pub playbooks: HashMap<Action, PathBuf>,
    pub program: PathBuf,
    pub policy: Policy,
    pub cancel_grace: Duration,
    pub servers: Vec<String>,
    pub journal: PathBuf,
    pub log_dir: PathBuf,
    /// Folder holding our callback plugin.
    pub callback_dir: PathBuf,
    /// The environment's warm runner; `None` starts every run fresh.
    pub warm: Option<Arc<WarmRunner>>,
    /// This machine and the execution nodes runs may go to.
    pub nodes: NodePlan,
}

/// How consumers talk to a running engine. Dropping it kills whatever still runs.
#[derive(Clone)]
pub struct EngineHandle {
    commands: mpsc::UnboundedSender<Command>,
}

impl EngineHandle {
    pub fn send(&self, command: Command) {
        // A closed channel means the engine has stopped; there is nobody left to obey.
        let _ = self.commands.send(command);
    }
}

pub struct Engine {
    setup: EngineSetup,
    core: Core,
    journal: Journal,
    runs: HashMap<ItemId, RunHandle>,
    events: mpsc::Sender<EngineEvent>,
    state: watch::Sender<Snapshot>,
    /// Events made while folding a batch, sent (awaiting a slow face) once the batch is done.
    outbox: Vec<EngineEvent>,
    runner_tx: mpsc::UnboundedSender<RunnerMsg>,
    wake_at: Option<DateTime<Utc>>,
    warm: Option<Arc<WarmRunner>>,
    fleet: Arc<Fleet>,
}

/// Where the engine's loop ends up; awaited by whoever started it.
pub type EngineTask = tokio::task::JoinHandle<Result<()>>;

/// A started engine: how to steer it, what it says, its task, and the journal's history as of
/// the start (runs cut by a crash already marked interrupted), which faces draw first.
pub struct Started {
    pub handle: EngineHandle,
    pub events: Feed,
    pub task: EngineTask,
    pub history: journal::Replay,
    /// The state before anything happened, so a face's first frame is already true.
    pub snapshot: Box<super::Snapshot>,
}

impl Engine {
    /// Opens the journal, brings back what an earlier session left, and starts the loop.
    /// Must be called inside a tokio runtime.
    pub fn start(setup: EngineSetup) -> Result<Started> {
        // Lock first, then read (and compact when worthwhile): nobody else may write meanwhile.
        let (mut journal, mut history) = journal::open_and_replay(&setup.journal)?;
        let now = Utc::now();
        let (damaged, torn): (Vec<usize>, Vec<usize>) = history
            .skipped_lines
            .iter()
            .partition(|line| **line < history.last_line);
        for line in &torn {
            log::warn!(target: "engine", "{} line {line} is unreadable (torn by a crash?); skipped", setup.journal.display());
        }
        if !damaged.is_empty() {
            // Not a crash's torn tail: something damaged the file. What those lines said may
            // be queued work, so the file as it was is kept beside it before anything is added.
            let copy = journal::keep_copy(&setup.journal, now)?;
            let lines: Vec<String> = damaged.iter().map(usize::to_string).collect();
            log::warn!(
                target: "engine",
                "{} line(s) {} are unreadable and were skipped; the journal as it was is kept in {} (look there for work those lines held)",
                setup.journal.display(),
                lines.join(", "),
                copy.display()
            );
        }
        let interrupted = history.interrupted();
        for item in &interrupted {
            let log = history.log_of(item.id).cloned();
            log::warn!(target: "engine", "{} was running when fleetdeck stopped: marked interrupted, not re-run", item.describe());
            if let Some(log) = &log {
                runlog::close_interrupted(log, now);
            }
            let record = super::core::finished_record(
                item,
                &Outcome::Interrupted,
                None,
                None,
                log,
                false,
                now,
            );
            journal.append(&record)?;
            history.apply(&record);
        }
        let mut core = Core::new(setup.policy.clone(), setup.servers.iter().cloned())
            .with_nodes(setup.nodes.nodes());
        let interrupted: Vec<ItemId> = interrupted.iter().map(|item| item.id).collect();
        // The faces draw from `history`: it holds what restore decides (links skipped because
        // their predecessor was cut), or the screen and the next start would disagree.
        let restored = core.restore_from(&mut history, interrupted, now);
        journal.append(&Record::Session {
            at: now,
            pid: std::process::id(),
            workers: setup.policy.workers,
        })?;

        let (commands_tx, commands_rx) = mpsc::unbounded_channel();
        let (events_tx, events_rx) = mpsc::channel(EVENT_BACKLOG);
        let (runner_tx, runner_rx) = mpsc::unbounded_channel();
        let warm = setup.warm.clone();
        let outbox = vec![EngineEvent::Runner(match &warm {
            Some(_) => RunnerMode::WarmIdle,
            None => RunnerMode::Fresh,
        })];
        if let Some(warm) = &warm {
            let modes = runner_tx.clone();
            warm.attach(move |mode| {
                let _ = modes.send(RunnerMsg::Mode(mode));
            });
        }
        let fleet = Fleet::new(&setup.nodes);
        fleet.probe_all(&runner_tx);
        let first_state = core.snapshot(now);
        let mut engine = Engine {
            setup,
            core,
            journal,
            runs: HashMap::new(),
            events: events_tx,
            state: watch::Sender::new(first_state),
            outbox,
            runner_tx,
            wake_at: None,
            warm,
            fleet,
        };
        engine.apply(restored);
        let opening = engine.core.start();
        engine.apply(opening);
        let snapshot = Box::new(engine.core.snapshot(Utc::now()));
        let events = Feed::new(events_rx, engine.state.subscribe());
        let task = tokio::spawn(engine.run(commands_rx, runner_rx));
        Ok(Started {
            handle: EngineHandle {
                commands: commands_tx,
            },
            events,
            task,
            history,
            snapshot,
        })
    }

    async fn run(
        mut self,
        mut commands: mpsc::UnboundedReceiver<Command>,
        mut runners: mpsc::UnboundedReceiver<RunnerMsg>,
    ) -> Result<()> {
        let mut commands_open = true;
        let mut idle_announced = false;
        // Consumers draw the pool before anything happens.
        self.publish().await;
        let mut published_at = tokio::time::Instant::now();
        let mut unpublished = false;
        loop {
            let wake = self.wake_at.map(to_instant);
            let first = tokio::select! {
                _ = tokio::time::sleep_until(published_at + PUBLISH_GAP), if unpublished => {
                    self.publish().await;
                    published_at = tokio::time::Instant::now();
                    unpublished = false;
                    continue;
                }
                command = commands.recv(), if commands_open => match command {
                    Some(command) => Some(Input::Command(command)),
                    None => {
                        // Every handle is gone: nobody can watch or stop the runs, so end them.
                        commands_open = false;
                        Some(Input::Command(Command::Shutdown(ShutdownMode::Kill)))
                    }
                },
                Some(message) = runners.recv() => self.input_from(message),
                _ = tokio::time::sleep_until(wake.unwrap_or_else(tokio::time::Instant::now)), if wake.is_some() => {
                    self.wake_at = None;
                    Some(Input::Wake)
                }
            };
            let mut batch: Vec<Input> = first.into_iter().collect();
            while batch.len() < MAX_BATCH {
                if let Ok(message) = runners.try_recv() {
                    batch.extend(self.input_from(message));
                } else if let Ok(command) = commands.try_recv() {
                    batch.push(Input::Command(command));
                } else {
                    break;
                }
            }
            if batch.is_empty() {
                // Only news for the faces (the runner's mode): no state changed, and an engine
                // that has not been asked for anything yet is not "idle" in any useful sense.
                self.send_outbox().await;
                continue;
            }
            let commanded = batch.iter().any(|input| matches!(input, Input::Command(_)));
            for input in batch {
                let finished = match &input {
                    Input::Run {
                        id,
                        event: RunEvent::Finished(_),
                    } => Some(*id),
                    _ => None,
                };
                if matches!(input, Input::Command(Command::SetServers(_))) {
                    // The inventory was read again: nodes get a new snapshot of it.
                    self.fleet.inventory_changed();
                }
                let effects = self.core.update(input, Utc::now());
                self.apply(effects);
                if let Some(id) = finished {
                    self.runs.remove(&id);
                }
            }
            let idle = self.core.is_idle();
            let stopped = self.core.is_stopped();
            if commanded || idle || stopped || published_at.elapsed() >= PUBLISH_GAP {
                self.publish().await;
                published_at = tokio::time::Instant::now();
                unpublished = false;
            } else {
                // Events must not wait; the state follows within the gap.
                self.send_outbox().await;
                unpublished = true;
            }
            if stopped {
                if let Some(warm) = &self.warm {
                    warm.close().await;
                }
                let _ = self.events.send(EngineEvent::Stopped).await;
                return Ok(());
            }
            if idle && !idle_announced {
                let _ = self.events.send(EngineEvent::Idle).await;
            }
            idle_announced = idle;
        }
    }

    /// The batch's events, then the state they led to.
    async fn publish(&mut self) {
        self.send_outbox().await;
        self.state.send_replace(self.core.snapshot(Utc::now()));
    }

    async fn send_outbox(&mut self) {
        for event in std::mem::take(&mut self.outbox) {
            // A face that went away needs no news; the engine still finishes its runs.
            let _ = self.events.send(event).await;
        }
    }

    /// Output notifications become the line they announce; everything else passes through.
    fn input_from(&mut self, message: RunnerMsg) -> Option<Input> {
        match message {
            RunnerMsg::Event(id, event) => Some(Input::Run { id, event }),
            RunnerMsg::Node(id, health) => Some(Input::Node { id, health }),
            RunnerMsg::Mode(mode) => {
                self.outbox.push(EngineEvent::Runner(mode));
                None
            }
            RunnerMsg::OutputReady(id) => {
                let line = self.runs.get(&id)?.live.take()?;
                Some(Input::Run {
                    id,
                    event: RunEvent::Output { line },
                })
            }
        }
    }

    fn apply(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Spawn {
                    item,
                    slot,
                    timeout,
                    node,
                } => {
                    let spec = self.spec_for(item, slot, timeout);
                    let id = spec.item.id;
                    let tx = self.runner_tx.clone();
                    let handle = match self.fleet.remote(node) {
                        Some(ssh) => self.fleet.start_run(node, ssh, spec, tx),
                        None => runner::start(spec, tx),
                    };
                    self.runs.insert(id, handle);
                }
                Effect::Stop { id, mode } => {
                    if let Some(run) = self.runs.get(&id) {
                        let _ = run.stop.send(mode);
                    }
                }
                Effect::Journal(record) => {
                    if let Err(err) = self.journal.append(&record) {
                        log::error!(target: "engine", "{err:#}");
                    }
                }
                Effect::Emit(event) => self.outbox.push(event),
                Effect::Log {
                    target,
                    level,
                    message,
                } => log::log!(target: &target, level, "{message}"),
                Effect::ProbeNode { node, after } => {
                    self.fleet.probe_after(node, after, &self.runner_tx)
                }
                Effect::WakeAt(at) => {
                    self.wake_at = Some(self.wake_at.map_or(at, |current| current.min(at)))
                }
            }
        }
    }

    fn spec_for(&self, item: Item, slot: u32, timeout: Duration) -> RunSpec {
        let setup = &self.setup;
        let args = playbook_args(setup, &item);
        let mut env = ansible_env(&setup.callback_dir);
        runner::ansible_cfg::enable_with_project_callbacks(&mut env, &setup.root);
        RunSpec {
            item,
            slot,
            program: setup.program.clone(),
            args,
            cwd: setup.root.clone(),
            env,
            timeout,
            cancel_grace: setup.cancel_grace,
            log_dir: setup.log_dir.clone(),
            warm: self.warm.clone(),
        }
    }
}

/// `-i <inventory> <playbook> --limit <server> [--tags a,b] [--check --diff]`
pub fn playbook_args(setup: &EngineSetup, item: &Item) -> Vec<String> {
    let playbook = setup
        .playbooks
        .get(&item.action)
        .cloned()
        .unwrap_or_default();
    let mut args = vec![
        "-i".to_string(),
        setup.inventory.display().to_string(),
        playbook.display().to_string(),
        "--limit".to_string(),
        super::limit::exact(&item.server),
    ];
    if !item.tags.is_empty() {
        args.push("--tags".to_string());
        args.push(item.tags.join(","));
    }
    if item.check_mode {
        args.push("--check".to_string());
        args.push("--diff".to_string());
    }
    args
}

/// Plain output for the log, unbuffered so lines arrive as they happen, and our events plugin
/// enabled beside whatever the operator enabled.
pub fn ansible_env(callback_dir: &Path) -> Vec<(String, String)> {
    let joined = |name: &str, ours: String, sep: &str| match std::env::var(name) {
        Ok(theirs) if !theirs.is_empty() => format!("{ours}{sep}{theirs}"),
        _ => ours,
    };
    vec![
        ("ANSIBLE_FORCE_COLOR".into(), "0".into()),
        ("ANSIBLE_NOCOLOR".into(), "1".into()),
        ("PYTHONUNBUFFERED".into(), "1".into()),
        (
            "ANSIBLE_CALLBACK_PLUGINS".into(),
            joined(
                "ANSIBLE_CALLBACK_PLUGINS",
                callback_dir.display().to_string(),
                ":",
            ),
        ),
        (
            "ANSIBLE_CALLBACKS_ENABLED".into(),
            joined("ANSIBLE_CALLBACKS_ENABLED", "fleetdeck_events".into(), ","),
        ),
    ]
}

fn to_instant(at: DateTime<Utc>) -> tokio::time::Instant {
    let wait = (at - Utc::now()).to_std().unwrap_or(Duration::ZERO);
    tokio::time::Instant::now() + wait
}
