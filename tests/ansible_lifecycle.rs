//! What happens around runs, for real: a crash and restart, Ctrl-C, unreachable hosts with
//! retries, a missing ansible-playbook, a bad config.

mod common;

use common::{Sandbox, read_until, spawn_with_stdout};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;
use std::time::Duration;

/// How long ansible may take to wind down after its parent died or was interrupted.
const WIND_DOWN: Duration = Duration::from_secs(20);

under_both_runners!(
    kill_9_mid_run_loses_nothing_and_leaves_no_ansible,
    ctrl_c_interrupts_running_runs_and_exits_130,
    unreachable_host_is_retried_with_backoff_then_reported,
);

fn status_json(sandbox: &Sandbox) -> Value {
    sandbox.status_json("demo")
}

/// Items per (server, action) in the status, plus still-queued ones: everything accounted for.
fn accounted(status: &Value) -> (usize, Vec<String>) {
    let mut outcomes = Vec::new();
    for (_, actions) in status["servers"].as_object().unwrap() {
        for (_, last) in actions.as_object().unwrap() {
            outcomes.push(last["outcome"].as_str().unwrap().to_string());
        }
    }
    (
        outcomes.len() + status["queued"].as_u64().unwrap() as usize,
        outcomes,
    )
}

/// The ids of the runs status names interrupted, each checked against its server's row.
fn interrupted_ids(status: &Value) -> Vec<u64> {
    let mut ids = Vec::new();
    for run in status["interrupted"].as_array().unwrap() {
        let last =
            &status["servers"][run["server"].as_str().unwrap()][run["action"].as_str().unwrap()];
        assert_eq!(last["outcome"], "interrupted", "{status}");
        assert_eq!(last["id"], run["id"], "{status}");
        // Null only for a run cut before its child started and opened a log.
        assert_eq!(last["log"], run["log"], "{status}");
        ids.push(run["id"].as_u64().unwrap());
    }
    ids
}

fn kill_9_mid_run_loses_nothing_and_leaves_no_ansible(runner: &str) {
    let sandbox = Sandbox::demo_with_runner(runner);
    let mut command = sandbox.fleetdeck();
    command.args(["run", "-e", "demo", "chain", "--all", "--workers", "2"]);
    let (mut child, mut stdout) = spawn_with_stdout(command);
    read_until(&mut stdout, "completed:");
    read_until(&mut stdout, "processing:");
    child.kill().unwrap(); // SIGKILL: no handler, no cleanup of our own
    child.wait().unwrap();

    // The parent-death signal makes every ansible process of ours go away.
    let left = sandbox.ansible_left_after(WIND_DOWN);
    assert!(left.is_empty(), "ansible outlived fleetdeck: {left:#?}");

    // Before any restart, status already calls the cut runs interrupted, by name and log.
    let before = status_json(&sandbox);
    let cut = interrupted_ids(&before);
    let in_flight = cut.len();
    assert!(in_flight >= 1, "a run was in flight at the kill: {before}");
    let (count, _) = accounted(&before);
    assert_eq!(
        count, 27,
        "27 items queued, every one accounted for: {before}"
    );

    // Start again: in-flight runs become `interrupted`, never re-run; the rest waits, held.
    let out = sandbox
        .fleetdeck()
        .args(["run", "-e", "demo", "provision", "web-06", "--json"])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{log}");
    assert!(log.contains("marked interrupted, not re-run"), "{log}");
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    let runs = summary["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "only what was asked for ran: {summary}");
    assert_eq!(runs[0]["server"], "web-06");

    // The new provision is new work: the earlier session's own web-06 provision, if it had not
    // run yet, stays held, so one more entry is accounted for.
    let web06_had_run = before["servers"]["web-06"]["provision"].is_object();
    let after = status_json(&sandbox);
    let (count, outcomes) = accounted(&after);
    assert_eq!(count, if web06_had_run { 27 } else { 28 }, "{after}");
    assert_eq!(
        outcomes.iter().filter(|o| *o == "interrupted").count(),
        in_flight,
        "{after}"
    );
    assert_eq!(
        interrupted_ids(&after),
        cut,
        "the restart journaled them interrupted: the same runs, still named"
    );
    let left = sandbox.ansible_processes();
    assert!(left.is_empty(), "fleetdeck exited, and left: {left:?}");
}

fn ctrl_c_interrupts_running_runs_and_exits_130(runner: &str) {
    let sandbox = Sandbox::demo_with_runner(runner);
    let mut command = sandbox.fleetdeck();
    command.args(["run", "-e", "demo", "provision", "--all", "--workers", "3"]);
    let (mut child, mut stdout) = spawn_with_stdout(command);
    read_until(&mut stdout, "(active: 3/3)");
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{rest}");
    assert!(rest.contains("interrupting running runs"), "{rest}");
    assert!(
        rest.contains("cancelled"),
        "the summary shows the cancelled runs:\n{rest}"
    );
    assert!(rest.contains("stay queued for later"), "{rest}");
    let left = sandbox.ansible_left_after(WIND_DOWN);
    assert!(left.is_empty(), "left: {left:#?}");
}

fn unreachable_host_is_retried_with_backoff_then_reported(runner: &str) {
    let sandbox = Sandbox::demo_with_runner(runner);
    sandbox.write(
        "inventory/edge/hosts.yml",
        "all:\n  vars:\n    demo_root: /nonexistent\n  hosts:\n    ghost-01:\n      ansible_host: 127.0.0.1\n      ansible_port: 1\n      ansible_user: root\n      \
         ansible_connection: ssh\n      ansible_ssh_common_args: -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null\n",
    );
    sandbox.write(
        "inventory/edge/config.yml",
        "auto_retry_enabled: true\nmax_retries: 1\nplaybooks:\n  check: assets/playbooks/check.yml\n",
    );
    sandbox.set_runner("edge", runner);
    let out = sandbox
        .fleetdeck()
        .args(["run", "-e", "edge", "check", "ghost-01", "--json"])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{log}");
    assert!(log.contains("Running in SEQUENTIAL mode"), "{log}");
    assert!(
        log.contains("Requeued check for server ghost-01 (attempt 2)"),
        "{log}"
    );
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    let runs = summary["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2, "one try and one retry: {summary}");
    for (run, attempt) in runs.iter().zip([1, 2]) {
        assert_eq!(run["outcome"]["outcome"], "unreachable", "{run}");
        assert_eq!(run["attempt"], attempt);
        assert!(
            run["outcome"]["message"]
                .as_str()
                .unwrap()
                .contains("Connection refused"),
            "{run}"
        );
    }
}

#[test]
fn missing_ansible_playbook_is_an_outcome_and_the_engine_keeps_serving() {
    let sandbox = Sandbox::demo();
    let path = format!(
        "{}/.venv/bin:{}",
        common::REPO,
        std::env::var("PATH").unwrap_or_default()
    );
    let out = sandbox
        .fleetdeck()
        .env(
            "FLEETDECK_ANSIBLE_PLAYBOOK",
            "/nonexistent/ansible-playbook",
        )
        .env("PATH", path)
        .args(["run", "-e", "demo", "check", "web-01", "web-02", "--json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    let runs = summary["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2, "both runs were tried: {summary}");
    for run in runs {
        assert_eq!(run["outcome"]["outcome"], "error");
        let message = run["outcome"]["message"].as_str().unwrap();
        assert!(
            message.contains("not found") && message.contains("pip install ansible-core"),
            "{message}"
        );
    }
}

#[test]
fn bad_config_stops_before_anything_runs_and_says_how_to_fix_it() {
    let sandbox = Sandbox::demo();
    sandbox.write(
        "inventory/demo/config.yml",
        "max_parallel_workers: 3\nhealth_check_timeout: 30\n",
    );
    let out = sandbox
        .fleetdeck()
        .args(["run", "-e", "demo", "check", "web-01"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("inventory/demo/config.yml: line 2:"), "{err}");
    assert!(
        err.contains("`health_check_timeout`") && err.contains("30s"),
        "{err}"
    );
    assert!(sandbox.journal("demo").is_empty(), "nothing was queued");
}
