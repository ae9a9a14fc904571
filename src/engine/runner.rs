//! One `ansible-playbook` child per run: argv (never a shell), its own process group, stdout and
//! stderr read to the end in their own tasks, structured events on a pipe of their own, a
//! timeout, and a cancel that interrupts, then terminates, then kills every process group.
//! Whatever of the run outlives its main process (a crash, a kill, a cancel) is killed too, and
//! nothing is written into the log after its footer.

use super::callback::{CallbackEvent, EndedBy, Exit, Transcript};
use super::model::{Item, ItemId, Outcome, Slot};
use super::proctree::{self, Tree};
use super::runlog::{Header, RunLog};
use super::warm::WarmRunner;
use super::{RunEvent, RunReport, StopMode};
use chrono::Local;
use nix::sys::signal::Signal;
use std::collections::BTreeSet;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};
use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinHandle};

/// The live view shows at most this much of one line; the log file gets all of it.
const LIVE_LINE_MAX: usize = 2048;
/// How much of stderr is kept for the error message of a run that failed before any task.
const STDERR_TAIL_MAX: usize = 4096;
const READ_CHUNK: usize = 64 * 1024;
/// After the main process is gone, how long its pipes may stay open before we stop reading.
const DRAIN_LIMIT: Duration = Duration::from_secs(3);
pub const NOT_FOUND_HINT: &str = "install: python3 -m pip install ansible-core";

#[derive(Clone, Debug)]
pub struct RunSpec {
    pub item: Item,
    pub slot: Slot,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub cwd: PathBuf,
    pub env: Vec<(String, String)>,
    pub timeout: Duration,
    pub cancel_grace: Duration,
    pub log_dir: PathBuf,
    /// The environment's warm runner; `None` runs every action fresh.
    pub warm: Option<Arc<WarmRunner>>,
}

/// What a runner says to the engine; output lines are coalesced through `LiveLine`.
#[derive(Debug)]
pub enum RunnerMsg {
    Event(ItemId, RunEvent),
    /// A newer output line waits in the run's `LiveLine`.
    OutputReady(ItemId),
    /// Runs now start this way (the warm runner came up, or fell back to fresh).
    Mode(super::warm::RunnerMode),
    /// What a probe of an execution node found.
    Node(super::nodes::NodeId, super::nodes::NodeHealth),
}

pub struct RunHandle {
    pub stop: mpsc::UnboundedSender<StopMode>,
    pub live: Arc<LiveLine>,
    pub task: JoinHandle<()>,
}

pub fn start(spec: RunSpec, tx: mpsc::UnboundedSender<RunnerMsg>) -> RunHandle {
    let id = spec.item.id;
    spawn_run(id, tx, move |stop_rx, live, tx| {
        run(spec, stop_rx, live, tx)
    })
}

/// A run's task, local or remote: `run` gets the run's stop requests, its live line and the
/// engine's channel, and its report is the run's `Finished`.
pub(crate) fn spawn_run<Run>(
    id: ItemId,
    tx: mpsc::UnboundedSender<RunnerMsg>,
    run: impl FnOnce(
        mpsc::UnboundedReceiver<StopMode>,
        Arc<LiveLine>,
        mpsc::UnboundedSender<RunnerMsg>,
    ) -> Run,
) -> RunHandle
where
    Run: std::future::Future<Output = RunReport> + Send + 'static,
{
    let (stop_tx, stop_rx) = mpsc::unbounded_channel();
    let live = Arc::new(LiveLine::default());
    let running = run(stop_rx, live.clone(), tx.clone());
    let task = tokio::spawn(async move {
        let report = running.await;
        let _ = tx.send(RunnerMsg::Event(id, RunEvent::Finished(report)));
    });
    RunHandle {
        stop: stop_tx,
        live,
        task,
    }
}

/// The report of a run that ended before ansible ran (it could not start, or was stopped
/// first), its log closed with the outcome when it got as far as having one.
pub(crate) fn ended_early(outcome: Outcome, log: Option<&RunLog>, started: Instant) -> RunReport {
    if let Some(log) = log {
        let _ = log.footer(&outcome, None, started.elapsed(), None);
    }
    RunReport {
        outcome,
        recap: None,
        duration: started.elapsed(),
        log_path: log.map(|log| log.path().to_path_buf()),
    }
}

/// Creates the run's log and says so at once, before anything that may take a while (the warm
/// runner's start, the payload and ssh): a crash after this leaves no log the journal does not
/// know.
pub(crate) fn open_log(
    log_dir: &std::path::Path,
    item: &Item,
    tx: &mpsc::UnboundedSender<RunnerMsg>,
) -> anyhow::Result<RunLog> {
    let log = RunLog::create(log_dir, &item.server, item.action, Local::now())?;
    let _ = tx.send(RunnerMsg::Event(
        item.id,
        RunEvent::LogOpened {
            log_path: log.path().to_path_buf(),
        },
    ));
    Ok(log)
}

async fn run(
    spec: RunSpec,
    stop_rx: mpsc::UnboundedReceiver<StopMode>,
    live: Arc<LiveLine>,
    tx: mpsc::UnboundedSender<RunnerMsg>,
) -> RunReport {
    let started = Instant::now();
    let id = spec.item.id;
    let ended_early = |outcome: Outcome, log: Option<&RunLog>| ended_early(outcome, log, started);
    let error =
        |message: String, log: Option<&RunLog>| ended_early(Outcome::Error { message }, log);
    let log = match open_log(&spec.log_dir, &spec.item, &tx) {
        Ok(log) => log,
        Err(err) => return error(format!("{err:#}"), None),
    };
    let (events_read, events_write) = match nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC) {
        Ok(pair) => pair,
        Err(err) => return error(format!("creating the events pipe: {err}"), Some(&log)),
    };
    let mut stop_rx = stop_rx;
    // The session's passwords as they are now (a prompt answered mid-session counts from here).
    let secrets = crate::secrets::session().for_run();
    let launched = tokio::select! {
        launched = launch(&spec, &events_write, &secrets) => Some(launched),
        // Stopped while the warm runner was still starting: nothing of the run goes yet (a
        // request already handed over is interrupted when its connection closes).
        _ = stop_rx.recv() => None,
    };
    drop(secrets);
    let mut argv = vec![spec.program.display().to_string()];
    argv.extend(spec.args.iter().cloned());
    if let Some(Ok(started)) = &launched {
        argv.extend(started.extra_args.iter().cloned());
    }
    let header = Header {
        command: &argv,
        runner: match &launched {
            Some(Ok(started)) => &started.runner,
            Some(Err(_)) => "none",
            None => "none: stopped before the run started",
        },
        tags: &spec.item.tags,
        check_mode: spec.item.check_mode,
        slot: spec.slot,
        attempt: spec.item.attempt,
        started: Local::now(),
    };
    let header_written = log.header(&header);
    let Some(launched) = launched else {
        return ended_early(Outcome::Cancelled { during_task: None }, Some(&log));
    };
    let Launched {
        process: mut child,
        pid,
        stdout,
        stderr,
        pipes,
        ..
    } = match launched {
        Ok(launched) => launched,
        Err(message) => return error(message, Some(&log)),
    };
    if let Err(err) = header_written {
        log::warn!(target: "engine", "{err:#}");
    }
    // Only the run's side may hold the write end now, so EOF means the run is done writing.
    drop(events_write);
    let tree = RunTree::new(pid, pipes);
    let mut guard = TreeGuard {
        tree: tree.clone(),
        armed: true,
    };

    let notify = {
        let tx = tx.clone();
        move || {
            let _ = tx.send(RunnerMsg::OutputReady(id));
        }
    };
    let mut stdout = stdout.map(|out| {
        let pump = pump(out, log.clone(), live.clone(), notify.clone());
        tokio::spawn(pump)
    });
    let mut stderr = stderr.map(|err| {
        let pump = pump(err, log.clone(), live.clone(), notify.clone());
        tokio::spawn(pump)
    });
    let transcript = Arc::new(Mutex::new(Transcript::default()));
    let mut events = Some(tokio::spawn(read_events(
        events_read,
        transcript.clone(),
        tx.clone(),
        id,
        tree.clone(),
    )));
    let aborts: Vec<AbortHandle> = [stdout.as_ref(), stderr.as_ref()]
        .into_iter()
        .flatten()
        .map(JoinHandle::abort_handle)
        .chain(events.as_ref().map(JoinHandle::abort_handle))
        .collect();

    let (waited, ended_by, stopped) = supervise(&mut child, &tree, stop_rx, &spec).await;
    tree.reaped();
    let runner_lost = matches!(waited, Waited::RunnerLost);
    let status = match waited {
        Waited::Exit(status) => Some(status),
        Waited::Unknown | Waited::RunnerLost => None,
    };
    guard.armed = false;
    // The main process is gone, and its workers (each in a session of its own) with it only if
    // it ended them: after a crash, a kill or a cancel, whatever of the run is left is orphaned
    // and may hold our pipes open. End all of it now rather than wait for the drain limit.
    let by_signal = status.is_none_or(|status| status.signal().is_some());
    if by_signal || stopped {
        tree.kill();
    }

    let readers = async {
        let out = join(&mut stdout).await;
        let err = join(&mut stderr).await;
        join(&mut events).await;
        (out, err)
    };
    let stderr_tail = match tokio::time::timeout(DRAIN_LIMIT, readers).await {
        Ok((_, err)) => String::from_utf8_lossy(&err).into_owned(),
        Err(_) => {
            // Something of the run outlived its main process and holds our pipes: end it, and
            // stop reading so that nothing lands in the log after its footer.
            tree.kill();
            for abort in &aborts {
                abort.abort();
            }
            join(&mut stdout).await;
            join(&mut stderr).await;
            join(&mut events).await;
            let _ = log.write(
                format!(
                    "\n# fleetdeck: output pipes stayed open {}s after the run ended; \
                     killed what held them and stopped reading\n",
                    DRAIN_LIMIT.as_secs()
                )
                .as_bytes(),
            );
            String::new()
        }
    };

    let exit = match status {
        Some(status) => match (status.code(), status.signal()) {
            (Some(code), _) => Exit::Code(code),
            (None, Some(signal)) => Exit::Signal(signal),
            (None, None) => Exit::Signal(0),
        },
        None => Exit::Signal(Signal::SIGKILL as i32),
    };
    let transcript = transcript.lock().map(|t| t.clone()).unwrap_or_default();
    let recap = transcript.recap(&spec.item.server);
    let outcome = match (runner_lost, &recap) {
        (true, recap) => {
            let _ = log.write(
                b"\n# fleetdeck: the warm runner stopped during this run; what was left of it was killed\n",
            );
            match recap {
                // The play had ended (its final stats came): its outcome stands.
                Some(recap) => {
                    let code = if recap.unreachable > 0 {
                        4
                    } else if recap.failed > 0 {
                        2
                    } else {
                        0
                    };
                    transcript.outcome(&spec.item.server, Exit::Code(code), ended_by, &stderr_tail)
                }
                None if ended_by == EndedBy::Itself => Outcome::Interrupted,
                None => transcript.outcome(&spec.item.server, exit, ended_by, &stderr_tail),
            }
        }
        (false, _) => transcript.outcome(&spec.item.server, exit, ended_by, &stderr_tail),
    };
    let outcome = explain_become(outcome, &spec.item.server);
    let rc = match exit {
        Exit::Code(code) => Some(code),
        Exit::Signal(_) => None,
    };
    let duration = started.elapsed();
    if let Err(err) = log.footer(&outcome, rc, duration, recap.as_ref()) {
        log::warn!(target: "engine", "{err:#}");
    }
    RunReport {
        outcome,
        recap,
        duration,
        log_path: Some(log.path().to_path_buf()),
    }
}

/// What ansible and the become methods say when a become password is missing, or was refused.
const BECOME_MISSING: [&str; 3] = [
    "a password is required",
    "waiting for become success or become password prompt",
    "become password prompt",
];
const BECOME_REFUSED: [&str; 4] = [
    "Duplicate become password prompt",
    "Sorry, try again.",
    "Authentication failure",
    "Incorrect ",
];

/// A run that failed because become (sudo) wanted a password says so, naming the server and
/// how to give the password, instead of ansible's words alone.
pub(crate) fn explain_become(outcome: Outcome, server: &str) -> Outcome {
    let said = match &outcome {
        Outcome::Failed { message, .. } | Outcome::Unreachable { message } => message,
        _ => return outcome,
    };
    let refused = BECOME_REFUSED.iter().any(|words| said.contains(words))
        && (said.contains("password") || said.contains("Sorry, try again."));
    let missing = BECOME_MISSING.iter().any(|words| said.contains(words))
        || (said.contains("Missing ") && said.contains(" password"));
    let explained = if refused {
        format!(
            "{server} refused the become (sudo) password given; run again with the right one \
             (--ask-become-pass or --become-password-file FILE). ansible: {said}"
        )
    } else if missing {
        format!(
            "{server} needs a become (sudo) password and none was given; run again with \
             --ask-become-pass (or --become-password-file FILE). ansible: {said}"
        )
    } else {
        return outcome;
    };
    match outcome {
        Outcome::Failed { rc, task, .. } => Outcome::Failed {
            rc,
            task,
            message: explained,
        },
        _ => Outcome::Unreachable { message: explained },
    }
}

/// Waits for the child while enforcing the timeout and stop requests. Graceful: SIGINT to the
/// main process, SIGTERM after the grace, then SIGKILL to every group after another grace.
/// Returns the exit status, who ended the run, and whether it was signalled by us.
async fn supervise(
    child: &mut Process,
    tree: &RunTree,
    stop_rx: mpsc::UnboundedReceiver<StopMode>,
    spec: &RunSpec,
) -> (Waited, EndedBy, bool) {
    let pid = tree.pid;
    let mut stopper = Stopper::new(stop_rx, spec.timeout, spec.cancel_grace, false);
    loop {
        let stage = tokio::select! {
            waited = child.wait() => return (waited, stopper.ended_by(), stopper.stopped()),
            stage = stopper.next_stage() => stage,
        };
        // Workers are listed before any signal: once the main process is gone they are orphans.
        tree.refresh();
        match stage {
            Stage::Interrupted => child.signal(pid, Signal::SIGINT).await,
            Stage::Terminated => child.signal(pid, Signal::SIGTERM).await,
            Stage::Killed => {
                child.signal(pid, Signal::SIGKILL).await;
                tree.kill();
            }
            // A local run's KILL is its last step: the stopper schedules nothing after it.
            Stage::Running | Stage::Abandoned => {}
        }
    }
}

/// Every process seen in a run's tree so far. Ansible's workers call `setsid()`: once the main
/// process is gone they are orphans that no longer descend from it, so the tree is listed while
/// the run lives (on each task start, on its first output, before any signal), not at the end.
#[derive(Clone)]
struct RunTree {
    pid: i32,
    seen: Arc<Mutex<Tree>>,
    /// Set once the main process is reaped: its pid may name someone else's process after that.
    reaped: Arc<AtomicBool>,
    /// The inodes of the run's stdout, stderr and events pipes.
    pipes: Arc<BTreeSet<u64>>,
}

impl RunTree {
    fn new(pid: i32, pipes: BTreeSet<u64>) -> RunTree {
        // Remember at once which process `pid` names; its descendants are listed at each task.
        RunTree {
            pid,
            seen: Arc::new(Mutex::new(Tree::root_only(pid))),
            reaped: Arc::new(AtomicBool::new(pid <= 0)),
            pipes: Arc::new(pipes),
        }
    }

    /// Adds what descends from the main process, from the scan shared by every run (at each
    /// task start: workers must be seen while they still descend from the run).
    async fn note_workers(&self) {
        if self.reaped.load(Ordering::SeqCst) {
            return;
        }
        let now = proctree::descendants_soon(self.pid).await;
        if let Ok(mut seen) = self.seen.lock() {
            seen.merge(now);
        }
    }

    /// Adds what descends from the main process now to what was seen before: a scan of its own,
    /// before a signal, where a shared scan's few milliseconds of delay would matter.
    fn refresh(&self) {
        if self.reaped.load(Ordering::SeqCst) {
            return;
        }
        let now = Tree::of(self.pid);
        if let Ok(mut seen) = self.seen.lock() {
            seen.merge(now);
        }
    }

    fn reaped(&self) {
        self.reaped.store(true, Ordering::SeqCst);
    }

    /// SIGKILL to the main group, and to every group and process ever seen in the tree or now
    /// holding the run's pipes for writing (orphans are found that way even if no scan saw them).
    fn kill(&self) {
        self.refresh();
        let mut tree = self
            .seen
            .lock()
            .map(|seen| seen.clone())
            .unwrap_or_default();
        tree.merge(Tree::holding_pipes(&self.pipes));
        proctree::kill_all(self.pid, &tree);
    }
}

/// The inode of a pipe end, to know who else holds the pipe (pipe inodes come from a counter:
/// not soon reused, even once the pipe is gone).
fn inode(fd: std::os::fd::BorrowedFd<'_>) -> Option<u64> {
    nix::sys::stat::fstat(fd).ok().map(|stat| stat.st_ino)
}

/// The value of a reader task once it ends; the slot is emptied then, so that a reader cut off
/// by the drain limit can still be aborted and joined.
async fn join<T: Default>(slot: &mut Option<JoinHandle<T>>) -> T {
    let Some(task) = slot.as_mut() else {
        return T::default();
    };
    let value = task.await.unwrap_or_default();
    *slot = None;
    value
}

/// Kills the run's whole tree if the runner is dropped before the child was reaped (engine
/// shutdown, a panic): closing means done.
struct TreeGuard {
    tree: RunTree,
    armed: bool,
}

impl Drop for TreeGuard {
    fn drop(&mut self) {
        if self.armed && self.tree.pid > 0 {
            self.tree.kill();
        }
    }
}

pub mod ansible_cfg;
pub(crate) mod escalation;
use escalation::{Stage, Stopper};
mod launch;
mod readers;
mod vfork;
use launch::{Launched, Process, Waited, launch};
pub use readers::LiveLine;
use readers::{pump, read_events};

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(message: &str) -> Outcome {
        Outcome::Failed {
            rc: Some(2),
            task: Some("Install".into()),
            message: message.into(),
        }
    }

    #[test]
    fn a_become_password_missing_or_refused_is_said_with_the_way_out() {
        let cases = [
            (
                "Task failed: Premature end of stream waiting for become success.\n>>> Standard Error\nsudo: a password is required",
                "web-01 needs a become (sudo) password",
            ),
            ("Missing sudo password", "needs a become (sudo) password"),
            (
                "Task failed: Duplicate become password prompt encountered waiting for become success.",
                "web-01 refused the become (sudo) password given",
            ),
            ("Incorrect sudo password", "refused the become"),
        ];
        for (said, expected) in cases {
            let Outcome::Failed { message, task, .. } = explain_become(failed(said), "web-01")
            else {
                panic!("still failed");
            };
            assert!(message.contains(expected), "{message}");
            assert!(message.contains("--ask-become-pass"), "{message}");
            assert!(message.ends_with(said), "{message}");
            assert_eq!(task.as_deref(), Some("Install"));
        }
        let other = failed("release archive is corrupt");
        assert_eq!(explain_become(other.clone(), "web-01"), other);
        assert_eq!(
            explain_become(Outcome::Succeeded, "web-01"),
            Outcome::Succeeded
        );
    }
}
