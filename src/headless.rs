//! `fleetdeck run`: the engine with no screen. Queue, run to the end, print a summary, exit
//! with a code a script can use. The same engine events as the dashboard, folded differently.

use crate::cli::{ActionArg, RunArgs};
use crate::config::split_tags;
use crate::engine::model::{Action, ItemId};
use crate::engine::rollout::Phase;
use crate::engine::{
    Command, EngineEvent, EnqueueRequest, FinishedRun, ShutdownMode, Snapshot, Target,
};
use crate::engine::{Engine, EngineHandle, Started};
use crate::project::Environment;
use crate::timeline::Window;
use crate::{console_log, report, summary};
use anyhow::{Context, Result, bail};
use std::collections::BTreeMap;
use std::process::ExitCode;

mod start;

/// Nothing ran: a usage error, a bad config, an unknown environment or server.
pub const EXIT_COULD_NOT_START: u8 = 1;
pub const EXIT_FAILED: u8 = 2;
pub const EXIT_INTERRUPTED: u8 = 130;

pub async fn run(env: Environment, args: RunArgs) -> Result<ExitCode> {
    console_log::init(args.json);
    for warning in &env.warnings {
        log::warn!(target: "engine", "{warning}");
    }
    // With work to do, the warm runner's server starts while the inventory is read.
    // A refused run must not start a warm runner or read the inventory first.
    crate::engine::journal::ensure_free(&env.name, &env.journal_path())?;
    // Passwords before anything starts: a run must never wait for one nobody can type.
    // --resume-rollout releases held items like --resume: work may run either way.
    let resume = args.resume || args.resume_rollout;
    if args.action.is_some() || resume {
        crate::secrets::prepare(&env, &args.secrets)?;
    }
    let warm = env.warm_runner()?;
    if let Some(warm) = warm.as_ref().filter(|_| args.action.is_some() || resume) {
        warm.prewarm();
    }
    let inventory = env.load_inventory()?;
    let mut names = args.servers.clone();
    names.extend(args.group.iter().cloned());
    let servers = if args.all {
        inventory.hosts.keys().cloned().collect()
    } else {
        inventory.resolve(&names)?
    };
    if servers.is_empty() && args.action.is_some() {
        bail!("no servers chosen: name servers or groups, or pass --group G or --all");
    }
    if let Some(action) = args.action {
        let problems = env.playbook_problems();
        let needed: &[Action] = match action {
            ActionArg::Provision => &[Action::Provision],
            ActionArg::Deploy => &[Action::Deploy],
            ActionArg::Check => &[Action::Check],
            ActionArg::Chain => &Action::ALL,
        };
        if let Some(why) = needed.iter().find_map(|a| problems.get(a)) {
            bail!("nothing queued: {why}");
        }
    }
    // Refused before anything starts: a run that queues nothing must not look like success.
    for server in &servers {
        if let Some(why) = crate::engine::limit::problem(server) {
            bail!("server {server:?} cannot be run alone: {why}; rename it in the inventory");
        }
    }
    let workers = args.workers.map(|asked| {
        let capped = asked.min(crate::engine::MAX_WORKERS);
        if capped < asked {
            log::warn!(target: "engine", "--workers {asked} is more than fleetdeck runs at once; using {capped}");
        }
        capped
    });
    let setup = env.engine_setup(&inventory, workers, warm)?;
    // One listener for the whole run, made before anything starts: a fresh `ctrl_c()` per loop
    // turn would miss a Ctrl-C that lands while an event is being handled.
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .context("listening for Ctrl-C")?;
    let Started {
        handle: engine,
        mut events,
        task,
        snapshot: first,
        ..
    } = Engine::start(setup)?;
    let enqueue = args.action.map(|action| EnqueueRequest {
        servers,
        target: match action {
            ActionArg::Provision => Target::Action(Action::Provision),
            ActionArg::Deploy => Target::Action(Action::Deploy),
            ActionArg::Check => Target::Action(Action::Check),
            ActionArg::Chain => Target::Chain,
        },
        tags: args.tags.as_deref().map(split_tags),
        check_mode: args.check,
        priority: args.priority,
    });
    let asked = start::Asked {
        enqueue,
        resume_rollout: args.resume_rollout,
        abort_rollout: args.abort_rollout,
        discard_held: args.discard_held,
        release_held: resume,
    };
    // Rollouts are asked for by id (see `start`): the engine's own "nothing to do" words for
    // a request naming none are said here.
    let live = first.rollouts.iter().filter(|r| r.phase.is_live());
    let stopped = live
        .clone()
        .filter(|r| matches!(r.phase, Phase::Stopped { .. }));
    if args.abort_rollout && live.count() == 0 {
        log::info!(target: "engine", "No rollout is under way: nothing to abort");
    }
    if args.resume_rollout && stopped.count() == 0 {
        log::info!(target: "engine", "No rollout is stopped: nothing to resume");
    }
    // One batch: the engine judges whether it is idle only once all of them are in.
    engine.send(Command::Batch(start::commands(asked, &first)));

    let mut finished: Vec<FinishedRun> = Vec::new();
    let mut health: BTreeMap<ItemId, bool> = BTreeMap::new();
    let mut last: Option<Box<Snapshot>> = None;
    let mut interrupts = 0u32;
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Some(EngineEvent::Snapshot(snapshot)) => last = Some(snapshot),
                // Held items of an earlier session dropped on request (--discard-held, or
                // cancelled with their rollout by --abort-rollout) are not this run's
                // failures; the engine's log lines count them.
                Some(EngineEvent::Finished(run))
                    if (args.discard_held || args.abort_rollout)
                        && run.item.held
                        && matches!(run.outcome, crate::engine::model::Outcome::Cancelled { .. }) => {}
                Some(EngineEvent::Finished(run)) => finished.push(run),
                Some(EngineEvent::Health { deploy, healthy, .. }) => { health.insert(deploy, healthy); }
                // The feed hands out the state an Idle describes before the Idle itself.
                Some(EngineEvent::Idle) => wind_down(&engine, last.as_deref().unwrap_or(&first)),
                Some(EngineEvent::Runner(_)) => {}
                Some(EngineEvent::Stopped) | None => break,
            },
            _ = interrupt.recv() => {
                interrupts += 1;
                let mode = if interrupts == 1 { ShutdownMode::Cancel } else { ShutdownMode::Kill };
                log::warn!(target: "engine", "{}", if interrupts == 1 {
                    "Interrupted: stopping dispatch and interrupting running runs (Ctrl-C again to kill)"
                } else {
                    "Killing running runs"
                });
                engine.send(Command::Shutdown(mode));
            }
        }
    }
    drop(engine);
    task.await??;

    let last = last.unwrap_or_default();
    let report = summary::Summary::new(finished, health, &last.queue, &last.rollouts);
    let mut text = if args.json {
        serde_json::to_string_pretty(&report.to_json())? + "\n"
    } else {
        report.table()
    };
    if let Some(note) = report.left_note(&env.name).filter(|_| !args.json) {
        text.push_str(&note);
        text.push('\n');
    }
    // A reader that went away (`| head`) is no failure of the runs: the exit code still tells.
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes());
    let code = if interrupts > 0 {
        EXIT_INTERRUPTED
    } else if report.all_succeeded() {
        0
    } else {
        EXIT_FAILED
    };
    Ok(ExitCode::from(write_reports(&env, &args, code)))
}

/// The reports asked for with --junit / --html, of this run's session (held work it resumed
/// included), read back from the journal like `fleetdeck report --session last`. They matter
/// most when runs failed or were interrupted, so they are written then too; one that cannot be
/// written turns only a successful run's exit code into 1.
fn write_reports(env: &Environment, args: &RunArgs, code: u8) -> u8 {
    let outputs = report::Outputs {
        junit: args.junit.clone(),
        html: args.html.clone(),
    };
    if outputs.is_empty() {
        return code;
    }
    let written =
        report::Report::load(env, Window::LastSession).and_then(|report| outputs.write(&report));
    match written {
        Ok(()) => code,
        Err(err) => {
            eprintln!("fleetdeck: {err:#}");
            if code == 0 {
                EXIT_COULD_NOT_START
            } else {
                code
            }
        }
    }
}

/// The engine is idle: paused by the failure brake, a rollout stopped, or all done. What has
/// not run will not run in this session, except a stopped rollout's deploys (and the links
/// after them): they stay queued, held next time, so `--resume-rollout` continues it.
fn wind_down(engine: &EngineHandle, snapshot: &Snapshot) {
    let queue = &snapshot.queue;
    let kept = summary::behind_stopped_rollouts(queue, &snapshot.rollouts);
    for item in queue
        .iter()
        .filter(|item| !item.held && !kept.contains(&item.id))
    {
        engine.send(Command::Cancel(item.id));
    }
    engine.send(Command::Shutdown(ShutdownMode::Wait));
}
