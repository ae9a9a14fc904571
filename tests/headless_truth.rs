//! What scripts and operators are told without a screen, checked the way they would check it:
//! the real binary on the demo sandbox. Usage errors exit 1 (2 means a run failed), `run
//! --json` and the text count the same items left queued, `status` names interrupted runs and
//! failing logs, `--exit-code` answers for scripts, and a run another fleetdeck has in flight
//! is "running now", not interrupted.

mod common;

use common::{Sandbox, read_until, spawn_with_stdout};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Output;
use std::time::{Duration, Instant};

/// How long ansible may take to wind down after its parent died.
const WIND_DOWN: Duration = Duration::from_secs(20);
/// How long a started run may take to start ansible and open its log, on a loaded machine.
const JOURNALED: Duration = Duration::from_secs(20);

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn fleetdeck(sandbox: &Sandbox, args: &[&str]) -> Output {
    sandbox.fleetdeck().args(args).output().unwrap()
}

/// Waits (bounded) until the demo journal holds `needle`. A file tells nobody it grew, so this
/// one wait polls, on a condition, never for a fixed time.
fn wait_for_journal(sandbox: &Sandbox, needle: &str) {
    let deadline = Instant::now() + JOURNALED;
    while !sandbox.journal("demo").contains(needle) {
        assert!(
            Instant::now() < deadline,
            "no {needle} in the journal:\n{}",
            sandbox.journal("demo")
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A journal written as an earlier fleetdeck would have: one record per line.
struct History {
    lines: Vec<Value>,
    root: PathBuf,
}

impl History {
    fn new(sandbox: &Sandbox) -> History {
        History {
            lines: Vec::new(),
            root: sandbox.root.clone(),
        }
    }

    fn queue(&mut self, id: u64, server: &str, action: &str, check_mode: bool) {
        self.lines.push(json!({
            "kind": "enqueued", "at": "2026-01-02T03:00:00Z",
            "item": {
                "id": id, "server": server, "action": action, "priority": 0, "tags": [],
                "check_mode": check_mode, "attempt": 1,
                "enqueued_at": "2026-01-02T03:00:00Z", "after": null,
            },
        }));
    }

    /// Queued, started and its log opened (the file exists, as a real run's would); returns
    /// the log's path.
    fn start(&mut self, id: u64, server: &str, action: &str, check_mode: bool) -> String {
        self.queue(id, server, action, check_mode);
        let log = self.root.join(format!(
            "logs/demo/{server}_{action}_20260102_03040{id}.log"
        ));
        std::fs::create_dir_all(log.parent().unwrap()).unwrap();
        std::fs::write(&log, "header\n").unwrap();
        let at = format!("2026-01-02T03:04:0{id}Z");
        self.lines
            .push(json!({"kind": "started", "at": at, "id": id, "slot": 1}));
        self.lines
            .push(json!({"kind": "log_opened", "at": at, "id": id, "log": log}));
        log.display().to_string()
    }

    fn finish(&mut self, id: u64, server: &str, action: &str, outcome: Value) {
        let mut record = json!({
            "kind": "finished", "at": "2026-01-02T03:05:00Z", "id": id,
            "server": server, "action": action, "duration_ms": 3000,
        });
        record
            .as_object_mut()
            .unwrap()
            .extend(outcome.as_object().unwrap().clone());
        self.lines.push(record);
    }

    fn write(&self) {
        let path = self.root.join(".fleetdeck/demo/journal.jsonl");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let body: String = self.lines.iter().map(|l| format!("{l}\n")).collect();
        std::fs::write(path, body).unwrap();
    }
}

#[test]
fn a_usage_error_exits_1_and_names_what_is_missing_while_help_and_version_exit_0() {
    let sandbox = Sandbox::demo();
    let out = fleetdeck(&sandbox, &["run", "-e", "demo"]);
    let err = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "could not start, not a failed run: {err}"
    );
    assert!(
        err.contains("required arguments were not provided") && err.contains("<ACTION>"),
        "clap's own usage error: {err}"
    );
    let out = fleetdeck(&sandbox, &["status", "-e", "demo", "--bogus"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("--bogus"));

    for args in [&["--help"][..], &["run", "--help"], &["--version"]] {
        let out = fleetdeck(&sandbox, args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(!out.stdout.is_empty(), "{args:?} answers on stdout");
    }
    assert!(text(&fleetdeck(&sandbox, &["status", "--help"]).stdout).contains("--exit-code"));
    assert!(sandbox.journal("demo").is_empty(), "nothing ran");
}

#[test]
fn run_json_and_the_text_count_the_same_items_left_queued() {
    let sandbox = Sandbox::demo();
    // An earlier session queued three items that never started: they come back held.
    let mut history = History::new(&sandbox);
    history.queue(1, "db-01", "deploy", false);
    history.queue(2, "db-02", "deploy", false);
    history.queue(3, "web-02", "check", false);
    history.write();

    let out = fleetdeck(
        &sandbox,
        &["run", "-e", "demo", "provision", "web-01", "--json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["left_queued"], 3, "{summary}");
    assert_eq!(summary["left_queued_from_earlier"], 3, "{summary}");

    let out = fleetdeck(&sandbox, &["run", "-e", "demo", "provision", "web-01"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let line = stdout
        .lines()
        .find(|l| l.contains("stay queued for later"))
        .unwrap_or_else(|| panic!("no queued line:\n{stdout}"));
    let count: u64 = line.split_whitespace().next().unwrap().parse().unwrap();
    assert_eq!(Some(count), summary["left_queued"].as_u64(), "{line}");
    assert!(line.contains("(3 from an earlier session)"), "{line}");
}

#[test]
fn status_names_interrupted_runs_and_failing_logs_and_exit_code_says_so() {
    let sandbox = Sandbox::demo();
    let mut history = History::new(&sandbox);
    let cut = history.start(1, "web-03", "provision", false);
    let failed = history.start(2, "db-02", "deploy", false);
    history.finish(
        2,
        "db-02",
        "deploy",
        json!({
            "outcome": "failed", "rc": 2,
            "task": "Verify release checksum", "message": "checksum mismatch",
        }),
    );
    history.write();

    let out = fleetdeck(&sandbox, &["status", "-e", "demo"]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "no --exit-code, exit 0 as ever:\n{stdout}"
    );
    let row = |server: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(server))
            .unwrap_or_default()
    };
    assert!(row("web-03").contains("interrupted"), "{stdout}");
    assert!(row("db-02").contains("failed"), "{stdout}");
    assert!(
        stdout.contains(
            "Interrupted when fleetdeck stopped (they do not re-run by themselves):\n  \
             web-03 provision #1, started "
        ),
        "{stdout}"
    );
    assert!(stdout.contains(&format!("    log: {cut}\n")), "{stdout}");
    assert!(
        stdout.contains(
            "  db-02 deploy #2: failed (rc 2, task \"Verify release checksum\"): checksum mismatch"
        ),
        "{stdout}"
    );
    assert!(stdout.contains(&format!("    log: {failed}\n")), "{stdout}");

    let out = fleetdeck(&sandbox, &["status", "-e", "demo", "--exit-code"]);
    assert_eq!(out.status.code(), Some(2), "a server is failing");

    let out = fleetdeck(&sandbox, &["status", "-e", "demo", "--json"]);
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    let interrupted = &status["interrupted"];
    assert_eq!(interrupted.as_array().unwrap().len(), 1, "{status}");
    assert_eq!(interrupted[0]["server"], "web-03");
    assert_eq!(interrupted[0]["action"], "provision");
    assert_eq!(interrupted[0]["id"], 1);
    assert_eq!(interrupted[0]["log"], cut.as_str());
    assert_eq!(status["servers"]["db-02"]["deploy"]["log"], failed.as_str());
    assert_eq!(status["failing"].as_array().unwrap().len(), 2, "{status}");
}

#[test]
fn status_exit_code_is_0_when_nothing_fails_and_a_check_run_says_check_mode() {
    let sandbox = Sandbox::demo();
    let out = fleetdeck(&sandbox, &["status", "-e", "demo", "--exit-code"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "nothing ran yet: {}",
        text(&out.stderr)
    );

    let mut history = History::new(&sandbox);
    history.start(1, "web-01", "provision", true);
    history.finish(1, "web-01", "provision", json!({"outcome": "succeeded"}));
    history.write();
    let out = fleetdeck(&sandbox, &["status", "-e", "demo", "--exit-code"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("ok (check mode)"), "{stdout}");
}

/// A real `fleetdeck run` in flight holds the environment: status says its run is running now
/// (with its pid), not interrupted, and fails nothing. Once it is killed -9 the same run is
/// interrupted, named with its log, and `--exit-code` says 2.
#[test]
fn a_run_in_flight_elsewhere_is_running_now_and_interrupted_once_its_fleetdeck_is_killed() {
    let sandbox = Sandbox::demo();
    // A slow server, so its provision is still in flight whatever the machine's load.
    sandbox.write(
        "inventory/demo/host_vars/web-01.yml",
        "demo_step_seconds: 120\n",
    );
    let mut command = sandbox.fleetdeck();
    command.args(["run", "-e", "demo", "provision", "web-01"]);
    let (mut child, mut stdout) = spawn_with_stdout(command);
    read_until(&mut stdout, "processing: provision for server web-01");
    // That line is printed just before the run is journaled started, and its log is journaled
    // once ansible started: the journal is what status reads, so wait for it to say both.
    wait_for_journal(&sandbox, "\"kind\":\"log_opened\"");

    let out = fleetdeck(&sandbox, &["status", "-e", "demo", "--exit-code"]);
    let status = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "a run in flight is no failure:\n{status}"
    );
    let running = format!("running now (fleetdeck pid {})", child.id());
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("web-01") && l.contains(&running)),
        "{status}"
    );
    assert!(
        status.contains(&format!(
            "Running now in fleetdeck pid {}:\n  web-01 provision #1",
            child.id()
        )),
        "{status}"
    );
    assert!(!status.contains("nterrupted"), "{status}");
    let json: Value =
        serde_json::from_slice(&fleetdeck(&sandbox, &["status", "-e", "demo", "--json"]).stdout)
            .unwrap();
    assert_eq!(json["in_use_by_pid"], child.id(), "{json}");
    assert_eq!(json["running"][0]["server"], "web-01", "{json}");
    assert!(json["interrupted"].as_array().unwrap().is_empty(), "{json}");

    child.kill().unwrap(); // SIGKILL: the run is cut, nothing journals its end
    child.wait().unwrap();
    let left = sandbox.ansible_left_after(WIND_DOWN);
    assert!(left.is_empty(), "ansible outlived fleetdeck: {left:#?}");

    let out = fleetdeck(&sandbox, &["status", "-e", "demo", "--exit-code"]);
    let status = text(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{status}");
    assert!(!status.contains("running now"), "{status}");
    assert!(
        status.contains(
            "Interrupted when fleetdeck stopped (they do not re-run by themselves):\n  \
             web-01 provision #1, started "
        ),
        "{status}"
    );
    let json: Value =
        serde_json::from_slice(&fleetdeck(&sandbox, &["status", "-e", "demo", "--json"]).stdout)
            .unwrap();
    let log = json["interrupted"][0]["log"].as_str().unwrap_or_default();
    assert!(
        log.contains("logs/demo/web-01_provision_") && std::path::Path::new(log).exists(),
        "the run's own log, on disk: {json}"
    );
    assert!(status.contains(&format!("    log: {log}\n")), "{status}");
}
