//! One run on an execution node: `ssh node fleetdeck-guard run … ansible-runner worker`, fed
//! with the run's stream (kwargs, the environment's zip) and read live: runner's events become
//! the same progress, per-host outcome, recap and run log a local run gives. A cancel goes to
//! the guard as INT, then TERM, then KILL; if the channel itself must go, closing it makes the
//! guard end the whole run.

use super::fleet::PayloadCell;
use super::guard::{self, Control};
use super::payload::{self, RunInput};
use super::ssh;
use crate::config::nodes::SshNode;
use crate::engine::model::{Item, Outcome, Slot};
use crate::engine::runlog::{Header, RunLog};
use crate::engine::runner::{LiveLine, RunHandle, RunnerMsg};
use crate::engine::{RunEvent, RunReport, StopMode};
use chrono::Local;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::process::ChildStdin;
use tokio::sync::mpsc;

/// After ssh is gone, how long the stream's last bytes may take to be read.
const DRAIN_LIMIT: Duration = Duration::from_secs(3);
const STDERR_TAIL_MAX: usize = 4096;

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
    let id = spec.item.id;
    crate::engine::runner::spawn_run(id, tx, move |stop_rx, live, tx| {
        run(spec, stop_rx, live, tx)
    })
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
        crate::engine::runner::ended_early(Outcome::Error { message }, log, started)
    };
    let log = match crate::engine::runner::open_log(&spec.log_dir, &spec.item, &tx) {
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
    // folder, which the guard removes at the end); the buffer holding them is wiped once
    // written (the kwargs built on the way are freed, not wiped).
    let input = {
        let secrets = crate::secrets::session().for_run();
        let kwargs = payload::kwargs(&RunInput {
            item: &spec.item,
            ident: &ident,
            payload: &payload,
            timeout: node_timeout(&spec),
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
    let said = tokio::time::timeout(DRAIN_LIMIT, join(&mut stderr_task))
        .await
        .unwrap_or_default();
    let stderr_tail = String::from_utf8_lossy(&said.tail).trim().to_string();
    let verdict = judge(
        &spec,
        status,
        ended_by,
        &stream,
        &stderr_tail,
        said.accepted,
    );
    if let Some((message, before_start)) = verdict.node_lost {
        let _ = tx.send(RunnerMsg::Event(
            id,
            RunEvent::NodeLost {
                message,
                before_start,
                // The guard ends the run once it has heard nothing for SILENCE, within the
                // grace; its clock started at our last ping, before we noticed.
                ends_within: guard::SILENCE + spec.cancel_grace + Duration::from_secs(5),
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

/// The node's own limit (`job_timeout`): a safety net past the controller's timeout and its
/// INT → TERM → KILL, never before them (the node starts counting a little later, too).
fn node_timeout(spec: &RemoteSpec) -> Duration {
    spec.timeout + spec.cancel_grace * 3 + Duration::from_secs(30)
}

/// Writes the run's input, then the control lines it is sent, and a ping when there is nothing
/// else to say (the guard hangs up on silence); ends (closing ssh's stdin, a hang-up to the
/// guard) only when the sender is dropped.
async fn feed(
    mut stdin: ChildStdin,
    mut input: Vec<u8>,
    mut control: mpsc::UnboundedReceiver<Control>,
) {
    let written = stdin.write_all(&input).await;
    crate::secrets::wipe(&mut input);
    drop(input);
    if written.is_err() || stdin.flush().await.is_err() {
        return;
    }
    let mut ping = tokio::time::interval(guard::PING_EVERY);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let line = tokio::select! {
            line = control.recv() => match line {
                Some(line) => line,
                None => return,
            },
            _ = ping.tick() => Control::Ping,
        };
        if stdin.write_all(line.line()).await.is_err() || stdin.flush().await.is_err() {
            return;
        }
    }
}

mod reading;
mod supervise;
mod verdict;
use reading::{Streamed, join, read_stream, tail_of};
use supervise::supervise;
use verdict::judge;

#[cfg(test)]
mod tests;
