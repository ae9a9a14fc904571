//! One run on an execution node: `ssh node fleetdeck-guard run … ansible-runner worker`, fed
//! with the run's stream (kwargs, the environment's zip) and read live: runner's events become
//! the same progress, per-host outcome, recap and run log a local run gives. A cancel goes to
//! the guard as INT, then TERM, then KILL; if the channel itself must go, closing it makes the
//! guard end the whole run.

use super::fleet::PayloadCell;
use super::guard::{self, Control};
use super::payload::{self, RunInput};
use super::stream::{Frame, RunnerStatus, StatusLine, StreamReader};
use super::{events, ssh};
use crate::config::nodes::SshNode;
use crate::engine::callback::{CallbackEvent, EndedBy, Exit, Transcript};
use crate::engine::model::{Item, Outcome, Slot};
use crate::engine::runlog::{Header, RunLog};
use crate::engine::runner::{LiveLine, RunHandle, RunnerMsg};
use crate::engine::{RunEvent, RunReport, StopMode};
use chrono::Local;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStdin};
use tokio::sync::mpsc;

/// After ssh is gone, how long the stream's last bytes may take to be read.
const DRAIN_LIMIT: Duration = Duration::from_secs(3);
const STDERR_TAIL_MAX: usize = 4096;
/// ssh's own exit status for its failures (the remote command's status otherwise).
const SSH_FAILED: i32 = 255;

#[derive(Clone, Debug)]
pub struct RemoteSpec {
    pub item: Item,
    pub slot: Slot,
    pub timeout: Duration,
    pub cancel_grace: Duration,
    pub log_dir: PathBuf,
    pub node: String,
    pub ssh: SshNode,
    pub payload: PayloadCell,
    /// config.yml's `hosts_ssh_key`, read at start.
    pub ssh_key: Option<Arc<crate::secrets::Secret>>,
}

pub fn start(spec: RemoteSpec, tx: mpsc::UnboundedSender<RunnerMsg>) -> RunHandle {
    let (stop_tx, stop_rx) = mpsc::unbounded_channel();
    let live = Arc::new(LiveLine::default());
    let id = spec.item.id;
    let task = tokio::spawn({
        let live = live.clone();
        async move {
            let report = run(spec, stop_rx, live, tx.clone()).await;
            let _ = tx.send(RunnerMsg::Event(id, RunEvent::Finished(report)));
        }
    });
    RunHandle {
        stop: stop_tx,
        live,
        task,
    }
}

/// The run's folder on the node: unique per attempt and per controller start, so two
/// fleetdecks (or two starts of one) never share a folder.
fn run_ident(item: &Item) -> String {
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos() % 1_000_000_000);
    format!(
        "fd-{}-{}-{}-{nonce:09}",
        std::process::id(),
        item.id,
        item.attempt
    )
}

async fn run(
    spec: RemoteSpec,
    stop_rx: mpsc::UnboundedReceiver<StopMode>,
    live: Arc<LiveLine>,
    tx: mpsc::UnboundedSender<RunnerMsg>,
) -> RunReport {
    let started = Instant::now();
    let id = spec.item.id;
    let error = |message: String, log: Option<&RunLog>| {
        let outcome = Outcome::Error { message };
        if let Some(log) = log {
            let _ = log.footer(&outcome, None, started.elapsed(), None);
        }
        RunReport {
            outcome,
            recap: None,
            duration: started.elapsed(),
            log_path: log.map(|log| log.path().to_path_buf()),
        }
    };
    let log = match RunLog::create(
        &spec.log_dir,
        &spec.item.server,
        spec.item.action,
        Local::now(),
    ) {
        Ok(log) => log,
        Err(err) => return error(format!("{err:#}"), None),
    };
    let ident = run_ident(&spec.item);
    let run_dir = format!("{}/{ident}", spec.ssh.work_dir.trim_end_matches('/'));
    let remote = guard::run_argv(
        &spec.ssh.guard,
        &spec.ssh.worker,
        &run_dir,
        spec.cancel_grace,
    );
    let argv = ssh::argv(&spec.ssh, &remote);
    let runner = format!(
        "node {}: ansible-runner worker over ssh {}",
        spec.node, spec.ssh.destination
    );
    let header = Header {
        command: &argv,
        runner: &runner,
        tags: &spec.item.tags,
        check_mode: spec.item.check_mode,
        slot: spec.slot,
        attempt: spec.item.attempt,
        started: Local::now(),
    };
    if let Err(err) = log.header(&header) {
        log::warn!(target: "engine", "{err:#}");
    }
    let payload = match spec.payload.get().await {
        Ok(payload) => payload,
        Err(message) => {
            let message = format!("preparing what goes to node {}: {message}", spec.node);
            return error(message, Some(&log));
        }
    };
    if payload.playbook(spec.item.action).is_none() {
        let message = format!("no {} playbook in what goes to the nodes", spec.item.action);
        return error(message, Some(&log));
    }
    // The session's passwords travel in the stream (the node writes them into the run's
    // folder, which the guard removes at the end); nothing of them stays here after the write.
    let input = {
        let secrets = crate::secrets::session().for_run();
        let kwargs = payload::kwargs(&RunInput {
            item: &spec.item,
            ident: &ident,
            payload: &payload,
            timeout: spec.timeout,
            secrets: &secrets,
            ssh_key: spec.ssh_key.as_deref(),
        });
        let body = payload::transmit(&kwargs, &payload);
        let mut input = guard::header(body.len());
        input.extend_from_slice(&body);
        input
    };
    let mut child = match ssh::command(&argv)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(err) => {
            return error(
                format!("starting ssh for node {}: {err}", spec.node),
                Some(&log),
            );
        }
    };
    let _ = tx.send(RunnerMsg::Event(
        id,
        RunEvent::Started {
            log_path: log.path().to_path_buf(),
        },
    ));
    let (Some(stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return error("ssh started without its pipes".into(), Some(&log));
    };
    let (control_tx, control_rx) = mpsc::unbounded_channel();
    let writer = tokio::spawn(feed(stdin, input, control_rx));
    let mut reader = Some(tokio::spawn(read_stream(
        stdout,
        log.clone(),
        live,
        tx.clone(),
        id,
    )));
    let mut stderr_task = Some(tokio::spawn(tail_of(stderr)));

    let (status, ended_by) = supervise(&mut child, &control_tx, stop_rx, &spec).await;
    // The run is over: closing our side now is no hang-up to anything alive.
    drop(control_tx);
    writer.abort();
    let stream = match tokio::time::timeout(DRAIN_LIMIT, join(&mut reader)).await {
        Ok(stream) => stream,
        Err(_) => {
            if let Some(reader) = &reader {
                reader.abort();
            }
            Streamed::default()
        }
    };
    let stderr_tail = match tokio::time::timeout(DRAIN_LIMIT, join(&mut stderr_task)).await {
        Ok(tail) => String::from_utf8_lossy(&tail).trim().to_string(),
        Err(_) => String::new(),
    };
    let verdict = judge(&spec, status, ended_by, &stream, &stderr_tail);
    if let Some((message, before_start)) = verdict.node_lost {
        let _ = tx.send(RunnerMsg::Event(
            id,
            RunEvent::NodeLost {
                message,
                before_start,
            },
        ));
    }
    if let Some(note) = &verdict.note {
        let _ = log.write(format!("\n# fleetdeck: {note}\n").as_bytes());
    }
    let recap = stream.transcript.recap(&spec.item.server);
    let duration = started.elapsed();
    if let Err(err) = log.footer(&verdict.outcome, verdict.rc, duration, recap.as_ref()) {
        log::warn!(target: "engine", "{err:#}");
    }
    RunReport {
        outcome: verdict.outcome,
        recap,
        duration,
        log_path: Some(log.path().to_path_buf()),
    }
}

/// Writes the run's input, then the control lines it is sent; ends (closing ssh's stdin, a
/// hang-up to the guard) only when the sender is dropped.
async fn feed(
    mut stdin: ChildStdin,
    input: Vec<u8>,
    mut control: mpsc::UnboundedReceiver<Control>,
) {
    if stdin.write_all(&input).await.is_err() {
        return;
    }
    drop(input);
    let _ = stdin.flush().await;
    while let Some(line) = control.recv().await {
        if stdin.write_all(line.line()).await.is_err() || stdin.flush().await.is_err() {
            return;
        }
    }
}

/// What the node's stream said.
#[derive(Default)]
struct Streamed {
    transcript: Transcript,
    /// A status line came: the node received the run and its worker started.
    reached: bool,
    /// The last status line (its end: successful, failed, canceled, timeout, error).
    last: Option<StatusLine>,
    rc: Option<i32>,
    /// `{"eof": true}` came: the worker said everything.
    complete: bool,
    /// Why reading stopped early (a broken frame).
    broken: Option<String>,
    /// The end of ansible's output: runner runs ansible on a pty, so its errors (a playbook
    /// that does not parse, no hosts matched) are only there, not on a stderr of their own.
    output_tail: String,
}

async fn read_stream(
    stdout: impl AsyncRead + Unpin,
    log: RunLog,
    live: Arc<LiveLine>,
    tx: mpsc::UnboundedSender<RunnerMsg>,
    id: crate::engine::model::ItemId,
) -> Streamed {
    let mut reader = StreamReader::new(stdout);
    let mut streamed = Streamed::default();
    loop {
        let frame = match reader.next().await {
            Ok(Some(frame)) => frame,
            Ok(None) => break,
            Err(err) => {
                streamed.broken = Some(format!("{err:#}"));
                break;
            }
        };
        match frame {
            Frame::Status(line) => {
                streamed.reached = true;
                if line.rc.is_some() {
                    streamed.rc = line.rc;
                }
                streamed.last = Some(line);
            }
            Frame::Event(event) => {
                if let Some(text) = events::log_text(&event) {
                    write_output(&log, &live, &tx, id, text);
                    keep_tail(&mut streamed.output_tail, text);
                }
                let Some(event) = events::to_callback(&event) else {
                    continue;
                };
                streamed.transcript.record(&event);
                let progress = match &event {
                    CallbackEvent::TaskStart { task, .. } => {
                        Some(RunEvent::TaskStarted { name: task.clone() })
                    }
                    other => other
                        .host_status()
                        .map(|status| RunEvent::HostResult { status }),
                };
                if let Some(progress) = progress {
                    let _ = tx.send(RunnerMsg::Event(id, progress));
                }
            }
            Frame::Artifacts(artifacts) => {
                if artifacts.rc.is_some() {
                    streamed.rc = artifacts.rc;
                }
            }
            Frame::Eof => {
                streamed.complete = true;
                break;
            }
        }
    }
    streamed
}

/// ansible's human output goes to the log as a local run's would, and its last line to the
/// live view.
fn write_output(
    log: &RunLog,
    live: &LiveLine,
    tx: &mpsc::UnboundedSender<RunnerMsg>,
    id: crate::engine::model::ItemId,
    text: &str,
) {
    if text.is_empty() {
        return;
    }
    let _ = log.write(text.as_bytes());
    if !text.ends_with('\n') {
        let _ = log.write(b"\n");
    }
    if let Some(line) = text.lines().rev().find(|line| !line.trim().is_empty())
        && live.offer(line.to_string())
    {
        let _ = tx.send(RunnerMsg::OutputReady(id));
    }
}

fn keep_tail(tail: &mut String, text: &str) {
    tail.push_str(text);
    tail.push('\n');
    if tail.len() > STDERR_TAIL_MAX {
        let mut cut = tail.len() - STDERR_TAIL_MAX;
        while !tail.is_char_boundary(cut) {
            cut += 1;
        }
        tail.drain(..cut);
    }
}

async fn tail_of(mut stderr: impl AsyncRead + Unpin) -> Vec<u8> {
    let mut tail = Vec::new();
    let mut chunk = [0u8; 4096];
    while let Ok(n) = stderr.read(&mut chunk).await {
        if n == 0 {
            break;
        }
        tail.extend_from_slice(&chunk[..n]);
        if tail.len() > STDERR_TAIL_MAX {
            tail.drain(..tail.len() - STDERR_TAIL_MAX);
        }
    }
    tail
}

async fn join<T: Default>(slot: &mut Option<tokio::task::JoinHandle<T>>) -> T {
    let Some(task) = slot.as_mut() else {
        return T::default();
    };
    let value = task.await.unwrap_or_default();
    *slot = None;
    value
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Trigger {
    Stop(StopMode),
    Timeout,
    Escalate,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Running,
    Interrupted,
    Terminated,
    Killed,
    /// The channel is closed: the guard ends whatever is left.
    HungUp,
}

/// Waits for ssh while enforcing the timeout and stop requests: INT, TERM and KILL to the
/// guard a cancel grace apart, then the channel closed if even that went unanswered.
async fn supervise(
    child: &mut Child,
    control: &mpsc::UnboundedSender<Control>,
    mut stop_rx: mpsc::UnboundedReceiver<StopMode>,
    spec: &RemoteSpec,
) -> (Option<std::process::ExitStatus>, EndedBy) {
    let deadline = tokio::time::Instant::now() + spec.timeout;
    let mut ended_by = EndedBy::Itself;
    let mut stage = Stage::Running;
    let mut next_step: Option<tokio::time::Instant> = None;
    let mut stop_open = true;
    loop {
        let trigger = tokio::select! {
            waited = child.wait() => return (waited.ok(), ended_by),
            request = stop_rx.recv(), if stop_open => match request {
                Some(mode) => Trigger::Stop(mode),
                None => {
                    // The engine is gone: nobody will see this run's end.
                    stop_open = false;
                    Trigger::Stop(StopMode::Kill)
                }
            },
            _ = tokio::time::sleep_until(deadline), if ended_by == EndedBy::Itself => Trigger::Timeout,
            _ = tokio::time::sleep_until(next_step.unwrap_or(deadline)), if next_step.is_some() => Trigger::Escalate,
        };
        if ended_by == EndedBy::Itself {
            ended_by = match trigger {
                Trigger::Timeout => EndedBy::Timeout,
                _ => EndedBy::Cancel,
            };
        }
        let next = match (trigger, stage) {
            (
                Trigger::Stop(StopMode::Kill),
                Stage::Running | Stage::Interrupted | Stage::Terminated,
            ) => Stage::Killed,
            (Trigger::Stop(StopMode::Graceful) | Trigger::Timeout, Stage::Running) => {
                Stage::Interrupted
            }
            (Trigger::Escalate, Stage::Interrupted) => Stage::Terminated,
            (Trigger::Escalate, Stage::Terminated) => Stage::Killed,
            (Trigger::Escalate, Stage::Killed) => Stage::HungUp,
            (_, current) => current,
        };
        if next == stage {
            continue;
        }
        stage = next;
        next_step = match stage {
            Stage::Interrupted => {
                let _ = control.send(Control::Interrupt);
                Some(tokio::time::Instant::now() + spec.cancel_grace)
            }
            Stage::Terminated => {
                let _ = control.send(Control::Terminate);
                Some(tokio::time::Instant::now() + spec.cancel_grace)
            }
            Stage::Killed => {
                let _ = control.send(Control::Kill);
                Some(tokio::time::Instant::now() + spec.cancel_grace)
            }
            Stage::HungUp => {
                // The guard did not answer KILL: closing the channel is its last word.
                let _ = child.start_kill();
                None
            }
            Stage::Running => None,
        };
    }
}

struct Verdict {
    outcome: Outcome,
    rc: Option<i32>,
    /// The node is to be marked lost: why, and whether nothing of the run reached it.
    node_lost: Option<(String, bool)>,
    /// A line for the log on how the run ended, when the stream does not say it.
    note: Option<String>,
}

fn judge(
    spec: &RemoteSpec,
    status: Option<std::process::ExitStatus>,
    ended_by: EndedBy,
    stream: &Streamed,
    stderr_tail: &str,
) -> Verdict {
    let node = &spec.node;
    let code = status.and_then(|status| status.code());
    let said = if stderr_tail.is_empty() {
        String::from("no message")
    } else {
        stderr_tail
            .lines()
            .last()
            .unwrap_or(stderr_tail)
            .to_string()
    };
    if !stream.reached {
        if ended_by != EndedBy::Itself {
            return Verdict {
                outcome: match ended_by {
                    EndedBy::Timeout => Outcome::TimedOut { during_task: None },
                    _ => Outcome::Cancelled { during_task: None },
                },
                rc: code,
                node_lost: None,
                note: Some(format!("stopped before node {node} started the run")),
            };
        }
        if code == Some(SSH_FAILED) {
            let message = format!("node {node} could not be reached: {said}");
            return Verdict {
                outcome: Outcome::Unreachable {
                    message: message.clone(),
                },
                rc: code,
                node_lost: Some((message.clone(), true)),
                note: Some(message),
            };
        }
        let hint = if code == Some(127) || stderr_tail.contains("No such file") {
            format!(" (is the guard installed? fleetdeck node install {node})")
        } else {
            String::new()
        };
        let message = format!(
            "node {node} did not start the run (exit {}): {said}{hint}",
            code.map_or("by a signal".to_string(), |code| code.to_string())
        );
        return Verdict {
            outcome: Outcome::Error {
                message: message.clone(),
            },
            rc: code,
            node_lost: None,
            note: Some(message),
        };
    }
    let last = stream.last.as_ref().map(|line| &line.status);
    let ended = matches!(
        last,
        Some(
            RunnerStatus::Successful
                | RunnerStatus::Failed
                | RunnerStatus::Canceled
                | RunnerStatus::Timeout
                | RunnerStatus::Error
        )
    );
    if !ended && ended_by == EndedBy::Itself {
        // The stream broke while the run went on: what happened on the node is unknown, and
        // running it again could run two actions on one server at once.
        let why = stream.broken.clone().unwrap_or(said);
        let message = format!("the stream from node {node} broke during the run: {why}");
        return Verdict {
            outcome: Outcome::Interrupted,
            rc: code,
            node_lost: Some((message.clone(), false)),
            note: Some(message),
        };
    }
    if let Some(RunnerStatus::Error) = last {
        let explanation = stream
            .last
            .as_ref()
            .and_then(|line| line.job_explanation.clone())
            .unwrap_or_else(|| said.clone());
        let message = format!("ansible-runner on node {node}: {explanation}");
        return Verdict {
            outcome: Outcome::Error {
                message: message.clone(),
            },
            rc: code,
            node_lost: None,
            note: Some(message),
        };
    }
    let rc = stream.rc.or(code);
    let exit = match rc {
        Some(rc) => Exit::Code(rc),
        None => Exit::Signal(9),
    };
    let ended_by = match last {
        // The node's own job_timeout (set to the action's timeout).
        Some(RunnerStatus::Timeout) if ended_by == EndedBy::Itself => EndedBy::Timeout,
        _ => ended_by,
    };
    let said = format!("{}{stderr_tail}", stream.output_tail);
    let outcome = stream
        .transcript
        .outcome(&spec.item.server, exit, ended_by, &said);
    Verdict {
        outcome: crate::engine::runner::explain_become(outcome, &spec.item.server),
        rc,
        node_lost: None,
        note: None,
    }
}

#[cfg(test)]
mod tests;
