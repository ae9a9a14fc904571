//! The runner against `tests/fixtures/fake-ansible-playbook`: timeouts, stop requests, crashes,
//! odd output and floods, checked the way an operator would check them (outcome, log file, what
//! is left running). Runs are followed through their channel messages, never by sleeping.

use fleetdeck::engine::model::{Action, Item, Outcome, Recap};
use fleetdeck::engine::proctree::Tree;
use fleetdeck::engine::runner::{self, RunHandle, RunSpec, RunnerMsg};
use fleetdeck::engine::{RunEvent, RunReport, StopMode};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

const SERVER: &str = "web-01";
/// A safety net only: every wait ends on a channel message long before this.
const SAFETY: Duration = Duration::from_secs(90);
/// How long SIGKILLed processes may take to disappear from /proc.
const GONE_LIMIT: Duration = Duration::from_secs(5);

fn fake() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fake-ansible-playbook")
}

/// A run in progress and everything its channel said so far.
struct Watch {
    handle: RunHandle,
    rx: mpsc::UnboundedReceiver<RunnerMsg>,
    events: Vec<RunEvent>,
    notifications: usize,
    /// Every live line taken after an `OutputReady`, as the engine would.
    live: Vec<String>,
    /// Whether `OutputReady` is answered with a `take()` (the engine always does).
    answer_output: bool,
    started: Instant,
    _dir: tempfile::TempDir,
}

fn start(mode: &str, timeout: Duration, cancel_grace: Duration) -> Watch {
    start_program(fake(), mode, timeout, cancel_grace)
}

fn start_program(program: PathBuf, mode: &str, timeout: Duration, cancel_grace: Duration) -> Watch {
    let dir = tempfile::tempdir().expect("tempdir");
    let item = Item {
        id: 7,
        server: SERVER.to_string(),
        action: Action::Deploy,
        priority: 0,
        tags: vec!["app".to_string()],
        check_mode: false,
        attempt: 1,
        enqueued_at: chrono::Utc::now(),
        after: None,
        purpose: Default::default(),
        not_before: None,
        held: false,
    };
    let spec = RunSpec {
        item,
        slot: 3,
        program,
        args: [
            "-i",
            "inventory/demo/hosts.yml",
            "assets/playbooks/deploy.yml",
            "--limit",
            SERVER,
            "--tags",
            "app",
        ]
        .map(String::from)
        .to_vec(),
        cwd: dir.path().to_path_buf(),
        env: vec![("FAKE_MODE".to_string(), mode.to_string())],
        timeout,
        cancel_grace,
        log_dir: dir.path().join("logs"),
        // The stand-in is not ansible: every fault here is a fresh process's.
        warm: None,
    };
    let (tx, rx) = mpsc::unbounded_channel();
    let handle = runner::start(spec, tx);
    Watch {
        handle,
        rx,
        events: Vec::new(),
        notifications: 0,
        live: Vec::new(),
        answer_output: true,
        started: Instant::now(),
        _dir: dir,
    }
}

impl Watch {
    /// Reads messages until one event matches; output notifications are answered on the way.
    async fn until(&mut self, wanted: impl Fn(&RunEvent) -> bool) -> RunEvent {
        let wait = async {
            loop {
                match self.rx.recv().await {
                    Some(RunnerMsg::OutputReady(id)) => {
                        assert_eq!(id, 7);
                        self.notifications += 1;
                        if self.answer_output
                            && let Some(line) = self.handle.live.take()
                        {
                            self.live.push(line);
                        }
                    }
                    Some(RunnerMsg::Event(id, event)) => {
                        assert_eq!(id, 7);
                        self.events.push(event.clone());
                        if wanted(&event) {
                            return event;
                        }
                        // Ended before what we wait for: say how, not just that the channel
                        // closed (seen once under load in CI, not reproduced).
                        if let RunEvent::Finished(report) = &event {
                            panic!(
                                "the run finished before the awaited event: {report:?}; events: {:?}",
                                self.events
                            );
                        }
                    }
                    Some(RunnerMsg::Mode(_) | RunnerMsg::Node(..)) => {}
                    None => panic!("the runner closed its channel without finishing"),
                }
            }
        };
        tokio::time::timeout(SAFETY, wait)
            .await
            .unwrap_or_else(|_| panic!("no matching event within {SAFETY:?}: {:?}", self.events))
    }

    async fn task_started(&mut self) {
        self.until(|e| matches!(e, RunEvent::TaskStarted { .. }))
            .await;
    }

    async fn finished(&mut self) -> RunReport {
        let RunEvent::Finished(report) = self.until(|e| matches!(e, RunEvent::Finished(_))).await
        else {
            unreachable!()
        };
        // Whatever the last notification left behind.
        if let Some(line) = self.handle.live.take() {
            self.live.push(line);
        }
        report
    }

    fn stop(&self, mode: StopMode) {
        self.handle.stop.send(mode).expect("runner listens");
    }
}

fn read_log(report: &RunReport) -> Vec<u8> {
    let path = report.log_path.as_ref().expect("a log path");
    std::fs::read(path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

fn log_text(report: &RunReport) -> String {
    String::from_utf8_lossy(&read_log(report)).into_owned()
}

fn assert_header_and_footer(text: &str) {
    for needle in [
        "# command: ",
        "fake-ansible-playbook -i inventory/demo/hosts.yml",
        "--limit web-01",
        "# tags: app",
        "# worker: 3",
        "# attempt: 1",
        "# started: ",
        "# outcome: ",
        "# rc: ",
        "# duration: ",
        "# recap: ",
    ] {
        assert!(text.contains(needle), "log lacks {needle:?}:\n{text}");
    }
}

/// The pids the fake printed as "pids: A B" (its own, and the one that called setsid).
fn printed_pids(log: &str) -> Vec<i32> {
    let line = log
        .lines()
        .find_map(|line| line.strip_prefix("pids: "))
        .unwrap_or_else(|| panic!("no pids line in the log:\n{log}"));
    let pids: Vec<i32> = line
        .split_whitespace()
        .map(|pid| pid.parse().expect("a pid"))
        .collect();
    assert_eq!(pids.len(), 2, "{line}");
    pids
}

/// The log ends with its footer: nothing of the run was written after it.
fn assert_footer_last(log: &str) {
    let at = log
        .rfind("\n#\n# outcome: ")
        .unwrap_or_else(|| panic!("no footer:\n{log}"));
    let footer = &log[at + 1..];
    assert!(
        footer.ends_with('\n') && footer.lines().all(|line| line.starts_with('#')),
        "text after the footer:\n{footer}"
    );
    assert!(
        footer
            .lines()
            .last()
            .is_some_and(|l| l.starts_with("# recap: ")),
        "{footer}"
    );
}

/// No process of these pids or of their process groups is alive (zombies count as gone).
async fn assert_nothing_left(pids: &[i32]) {
    let mut tree = Tree::default();
    tree.pids.extend(pids);
    tree.groups.extend(pids);
    let left = tokio::task::spawn_blocking(move || tree.wait_gone(GONE_LIMIT))
        .await
        .unwrap();
    assert!(
        left.is_empty(),
        "still alive after {GONE_LIMIT:?}: {left:?}"
    );
    for pid in pids {
        if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            let state = stat[stat.rfind(')').unwrap() + 1..]
                .split_whitespace()
                .next();
            assert_eq!(state, Some("Z"), "pid {pid} lives: {stat}");
        }
    }
}

fn recap(ok: u32, failed: u32, unreachable: u32) -> Recap {
    Recap {
        ok,
        failed,
        unreachable,
        ..Recap::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ok_run_succeeds_with_recap_header_and_footer() {
    let mut run = start("ok", Duration::from_secs(30), Duration::from_millis(300));
    let report = run.finished().await;
    assert_eq!(report.outcome, Outcome::Succeeded);
    assert_eq!(report.recap, Some(recap(1, 0, 0)));
    assert!(run.events.contains(&RunEvent::TaskStarted {
        name: "Fake task".to_string()
    }));
    assert!(run.events.iter().any(|e| matches!(
        e,
        RunEvent::HostResult {
            status: fleetdeck::engine::HostStatus::Ok
        }
    )));
    let log = log_text(&report);
    assert_header_and_footer(&log);
    assert!(log.contains("TASK [Fake task] ***"), "{log}");
    assert!(log.contains("# outcome: succeeded\n# rc: 0\n"), "{log}");
    assert!(
        log.contains("# recap: ok=1 changed=0 failed=0 unreachable=0"),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_task_is_reported_with_rc_task_and_message() {
    let mut run = start("fail", Duration::from_secs(30), Duration::from_millis(300));
    let report = run.finished().await;
    assert_eq!(
        report.outcome,
        Outcome::Failed {
            rc: Some(2),
            task: Some("Install release".to_string()),
            message: "release archive is corrupt".to_string(),
        }
    );
    assert_eq!(report.recap, Some(recap(0, 1, 0)));
    let log = log_text(&report);
    assert_header_and_footer(&log);
    assert!(
        log.contains("# outcome: failed (rc 2, task \"Install release\")"),
        "{log}"
    );
    assert!(log.contains("# rc: 2\n"), "{log}");
    assert!(log.contains("failed=1"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_host_is_unreachable_not_failed() {
    let mut run = start(
        "unreachable",
        Duration::from_secs(30),
        Duration::from_millis(300),
    );
    let report = run.finished().await;
    match &report.outcome {
        Outcome::Unreachable { message } => {
            assert!(message.contains("Connection refused"), "{message}")
        }
        other => panic!("expected unreachable, got {other:?}"),
    }
    assert_eq!(report.recap, Some(recap(0, 0, 1)));
    let log = log_text(&report);
    assert_header_and_footer(&log);
    assert!(log.contains("# outcome: unreachable: "), "{log}");
    assert!(log.contains("# rc: 4\n"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hang_times_out_and_leaves_no_process_of_any_group() {
    let mut run = start("hang", Duration::from_secs(1), Duration::from_millis(300));
    let report = run.finished().await;
    assert_eq!(
        report.outcome,
        Outcome::TimedOut {
            during_task: Some("Fake task".to_string())
        }
    );
    assert_eq!(report.recap, None, "a killed run has no stats");
    let log = log_text(&report);
    assert_header_and_footer(&log);
    assert!(log.contains("# outcome: timed out"), "{log}");
    assert!(log.contains("# rc: none"), "{log}");
    assert!(log.contains("# recap: none"), "{log}");
    // The fake ignores SIGINT and SIGTERM: only the final SIGKILL of every group ended it.
    assert!(
        report.duration >= Duration::from_millis(1600),
        "{:?}",
        report.duration
    );
    assert_nothing_left(&printed_pids(&log)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_stop_interrupts_and_ansible_exits_99() {
    let mut run = start(
        "sigint_ok",
        Duration::from_secs(60),
        Duration::from_secs(10),
    );
    run.task_started().await;
    run.stop(StopMode::Graceful);
    let report = run.finished().await;
    assert_eq!(
        report.outcome,
        Outcome::Cancelled {
            during_task: Some("Fake task".to_string())
        }
    );
    let log = log_text(&report);
    assert_header_and_footer(&log);
    assert!(log.contains("# outcome: cancelled"), "{log}");
    assert!(log.contains("# rc: 99\n"), "{log}");
    assert!(log.contains("User interrupted execution"), "{log}");
    // SIGINT was enough: no escalation to SIGTERM after the (long) grace.
    assert!(
        report.duration < Duration::from_secs(10),
        "{:?}",
        report.duration
    );
}

/// A script that starts fleetdeck in the background (`fleetdeck run … &`) hands it SIGINT
/// ignored, and an ignored signal stays ignored across exec: ansible would never hear the
/// graceful stop, and every cancel would wait out the grace for SIGTERM. Runs get SIGINT back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_stop_works_when_fleetdeck_was_started_with_sigint_ignored() {
    use nix::sys::signal::{SigHandler, Signal, signal};
    // SAFETY: only swaps the disposition of SIGINT, which this test binary does not handle.
    let before = unsafe { signal(Signal::SIGINT, SigHandler::SigIgn) }.unwrap();
    let mut run = start(
        "sigint_ok",
        Duration::from_secs(60),
        Duration::from_secs(10),
    );
    run.task_started().await;
    // SAFETY: as above, back as it was.
    unsafe { signal(Signal::SIGINT, before) }.unwrap();
    run.stop(StopMode::Graceful);
    let report = run.finished().await;
    let log = log_text(&report);
    assert!(
        log.contains("# rc: 99\n"),
        "ansible heard the interrupt: {log}"
    );
    assert!(
        report.duration < Duration::from_secs(10),
        "no escalation after the grace: {:?}",
        report.duration
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_stop_ends_every_group_at_once() {
    let mut run = start("hang", Duration::from_secs(60), Duration::from_secs(10));
    run.task_started().await;
    run.stop(StopMode::Kill);
    let report = run.finished().await;
    assert_eq!(
        report.outcome,
        Outcome::Cancelled {
            during_task: Some("Fake task".to_string())
        }
    );
    let log = log_text(&report);
    assert!(log.contains("# outcome: cancelled"), "{log}");
    assert!(log.contains("# rc: none"), "{log}");
    // Straight to SIGKILL: no grace period waited.
    assert!(
        report.duration < Duration::from_secs(10),
        "{:?}",
        report.duration
    );
    assert_nothing_left(&printed_pids(&log)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_is_a_failure_naming_the_signal() {
    let mut run = start("crash", Duration::from_secs(30), Duration::from_millis(300));
    let report = run.finished().await;
    match &report.outcome {
        Outcome::Failed { rc, task, message } => {
            assert_eq!(*rc, None);
            assert_eq!(task.as_deref(), Some("Fake task"));
            assert!(message.contains("SIGSEGV"), "{message}");
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    let log = log_text(&report);
    assert_header_and_footer(&log);
    assert!(log.contains("about to crash"), "{log}");
    assert!(log.contains("SIGSEGV"), "{log}");
    assert!(log.contains("# rc: none"), "{log}");
}

/// A run whose main process dies on its own ends at once, killed-by-signal, and whatever it left
/// (here a worker holding the run's pipes) is killed instead of holding the run open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn main_killed_by_itself_leaves_no_orphan_and_no_open_pipes() {
    let mut run = start("orphan", Duration::from_secs(60), Duration::from_secs(10));
    let report = run.finished().await;
    let took = run.started.elapsed();
    assert_eq!(
        report.outcome,
        Outcome::Failed {
            rc: None,
            task: Some("Fake task".to_string()),
            message: "killed by SIGKILL".to_string(),
        }
    );
    let log = log_text(&report);
    assert_header_and_footer(&log);
    assert!(log.contains("# rc: none"), "{log}");
    // The orphan was killed right away: the pipes closed, no drain limit was waited out (how
    // long that took is the machine's business; the log says which way it ended).
    assert!(!log.contains("stopped reading"), "took {took:?}: {log}");
    assert_footer_last(&log);
    assert_nothing_left(&printed_pids(&log)).await;
    assert_eq!(log_text(&report), log, "written to after the footer");
}

/// A worker that holds none of the run's pipes is found only through the tree listed while the
/// run lived: an external `kill -9` of the main process must not orphan it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_kill_of_main_kills_workers_seen_while_running() {
    let mut run = start("detach", Duration::from_secs(60), Duration::from_secs(10));
    let RunEvent::TaskStarted { name } = run
        .until(|e| matches!(e, RunEvent::TaskStarted { .. }))
        .await
    else {
        unreachable!()
    };
    let pids: Vec<i32> = name
        .strip_prefix("pids ")
        .unwrap_or_else(|| panic!("task {name:?}"))
        .split_whitespace()
        .map(|pid| pid.parse().expect("a pid"))
        .collect();
    assert_eq!(pids.len(), 2, "{name}");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pids[0]),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill the main process");
    let report = run.finished().await;
    match &report.outcome {
        Outcome::Failed { rc, message, .. } => {
            assert_eq!(*rc, None);
            assert_eq!(message, "killed by SIGKILL");
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    assert_nothing_left(&pids).await;
    assert_footer_last(&log_text(&report));
}

/// A run that succeeds but leaves a process writing into its output: after the drain limit the
/// writer is killed, reading stops, the log says so once, and its footer stays its last text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_held_open_after_exit_is_cut_at_the_drain_limit() {
    let mut run = start("linger", Duration::from_secs(60), Duration::from_secs(10));
    let report = run.finished().await;
    let took = run.started.elapsed();
    assert_eq!(report.outcome, Outcome::Succeeded);
    assert!(took >= Duration::from_secs(3), "took {took:?}");
    assert!(took < Duration::from_secs(20), "took {took:?}");
    let log = log_text(&report);
    assert_header_and_footer(&log);
    assert!(log.contains("still here"), "{log}");
    assert_eq!(
        log.matches("# fleetdeck: output pipes stayed open").count(),
        1,
        "{log}"
    );
    assert_footer_last(&log);
    assert_nothing_left(&printed_pids(&log)).await;
    assert_eq!(log_text(&report), log, "written to after the footer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_utf8_output_is_logged_raw_and_shown_lossy() {
    let mut run = start(
        "nonutf8",
        Duration::from_secs(30),
        Duration::from_millis(300),
    );
    let report = run.finished().await;
    assert_eq!(report.outcome, Outcome::Succeeded);
    let raw = read_log(&report);
    let bad: &[u8] = b"\xff\xfe bad \xc3\x28\n";
    assert!(
        raw.windows(bad.len()).any(|w| w == bad),
        "the log lost the raw bytes"
    );
    assert!(
        run.live
            .iter()
            .any(|line| line == "\u{FFFD}\u{FFFD} bad \u{FFFD}("),
        "live lines: {:?}",
        run.live
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_line_is_logged_whole_and_shown_capped() {
    let mut run = start(
        "longline",
        Duration::from_secs(30),
        Duration::from_millis(300),
    );
    let report = run.finished().await;
    assert_eq!(report.outcome, Outcome::Succeeded);
    let raw = read_log(&report);
    let longest_x_run = raw
        .split(|b| *b != b'x')
        .map(<[u8]>::len)
        .max()
        .unwrap_or(0);
    assert_eq!(longest_x_run, 1 << 20, "the log holds all of the 1 MB line");
    assert!(
        raw.split(|b| *b == b'\n')
            .any(|line| line.len() == 40_000 && line.iter().all(|b| *b == b'y')),
        "the log holds the whole 40 000-byte line"
    );
    assert!(!run.live.is_empty());
    for line in &run.live {
        assert!(line.len() <= 2048, "a live line of {} bytes", line.len());
    }
    assert!(
        run.live.iter().any(|line| line.starts_with("xxxx")),
        "the long line was offered (capped): {:?}",
        run.live.iter().map(String::len).collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flood_is_logged_whole_and_coalesced_live() {
    const FLOOD: usize = 50 * 1024 * 1024;
    const LINE: &[u8] = b"line of output ........";
    let mut run = start("flood", Duration::from_secs(60), Duration::from_millis(300));
    let report = run.finished().await;
    let took = run.started.elapsed();
    assert_eq!(report.outcome, Outcome::Succeeded);
    let raw = read_log(&report);
    assert!(raw.len() > FLOOD, "log of {} bytes", raw.len());
    let full_lines = FLOOD / (LINE.len() + 1);
    let logged_lines = raw.split(|b| *b == b'\n').filter(|l| *l == LINE).count();
    assert_eq!(logged_lines, full_lines, "every flood line is in the log");
    assert!(
        run.notifications * 50 < full_lines,
        "{} notifications for {full_lines} lines",
        run.notifications
    );
    eprintln!(
        "flood: {} MB in {took:?}, {} notifications for {full_lines} lines",
        raw.len() >> 20,
        run.notifications
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unanswered_output_is_notified_once() {
    // An engine that is busy elsewhere gets one OutputReady however much the run prints, and
    // the latest line is there when it gets round to it.
    let mut run = start("flood", Duration::from_secs(60), Duration::from_millis(300));
    run.answer_output = false;
    let report = run.finished().await;
    assert_eq!(report.outcome, Outcome::Succeeded);
    assert_eq!(run.notifications, 1);
    // The flood ends with an unterminated "line of " (50 MiB is not a multiple of the line).
    let last = run.live.last().expect("the latest line is waiting");
    assert!(last.starts_with("line of"), "{last:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_ansible_is_an_error_with_an_install_hint() {
    let mut run = start_program(
        PathBuf::from("/nonexistent/ansible-playbook"),
        "ok",
        Duration::from_secs(30),
        Duration::from_millis(300),
    );
    let report = run.finished().await;
    match &report.outcome {
        Outcome::Error { message } => {
            assert!(message.contains("not found"), "{message}");
            assert!(message.contains("pip install ansible-core"), "{message}");
        }
        other => panic!("expected an error, got {other:?}"),
    }
    let log = log_text(&report);
    assert!(log.contains("# outcome: error: "), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_log_is_private_to_its_owner() {
    use std::os::unix::fs::PermissionsExt;
    let mut run = start("ok", Duration::from_secs(30), Duration::from_millis(300));
    let report = run.finished().await;
    let path = report.log_path.expect("a log path");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "{}: mode {mode:o}", path.display());
    let name = path.file_name().unwrap().to_string_lossy();
    assert!(name.starts_with("web-01_deploy_"), "{name}");
}
