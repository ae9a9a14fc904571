//! A rolling deploy without a screen, checked the way an operator would: one server's deploy
//! fails, the rollout stops and the run says so (exit 2, the reason, what to run); `status`
//! shows the stopped rollout and who waits; `--resume-rollout` deploys the rest and nothing
//! runs twice; `--abort-rollout` cancels the rest and nothing more runs.
//!
//! The servers are a stand-in for ansible-playbook (the fault-injection fake behind a small
//! wrapper that records every run and fails h3's deploy): no ansible, no timing.

mod common;

use common::{REPO, Sandbox};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Output;

const ENV: &str = "roll";
const SERVERS: [&str; 6] = ["h1", "h2", "h3", "h4", "h5", "h6"];
/// The server whose deploy fails.
const FAILING: &str = "h3";

/// Runs the fault-injection fake; first appends "HOST PLAYBOOK" to $ROLL_RECORD. h3's deploy
/// fails. With $ROLL_HOLD set, that server's deploy waits until the journal holds the rollout's
/// failed step: it is in the window with h3, and were it to finish first, it would let h4 in
/// before the failure stops the rollout. A condition, polled (bounded), never a fixed time.
const WRAPPER: &str = r#"#!/usr/bin/env bash
host=; playbook=
for ((i = 1; i <= $#; i++)); do
    case ${!i} in
        -i) i=$((i + 1)) ;;
        --limit) i=$((i + 1)); host=${!i%,} ;;
        *.yml) playbook=$(basename "${!i}" .yml) ;;
    esac
done
echo "$host $playbook" >> "$ROLL_RECORD"
if [ "$playbook" = deploy ] && [ "$host" = "${ROLL_HOLD:-}" ]; then
    for _ in $(seq 600); do
        grep -q '"step":"failed"' "$ROLL_JOURNAL" 2>/dev/null && break
        sleep 0.05
    done
fi
if [ "$playbook" = deploy ] && [ "$host" = "$ROLL_FAIL" ]; then
    export FAKE_MODE=fail
fi
exec "$FAKE" "$@"
"#;

struct Lab {
    sandbox: Sandbox,
    record: PathBuf,
}

impl Lab {
    /// Six servers, deployment_strategy: rolling, canary 1, window 2, health checks on.
    fn new() -> Lab {
        let sandbox = Sandbox::demo();
        let hosts: String = SERVERS.map(|h| format!("    {h}: {{}}\n")).concat();
        sandbox.write(
            &format!("inventory/{ENV}/hosts.yml"),
            &format!("all:\n  hosts:\n{hosts}"),
        );
        sandbox.write(
            &format!("inventory/{ENV}/config.yml"),
            "max_parallel_workers: 3\n\
             health_check_enabled: true\n\
             deployment_strategy: rolling\n\
             rolling_max_unavailable: 2\n\
             runner: fresh\n\
             playbooks:\n  \
               provision: assets/playbooks/provision.yml\n  \
               deploy: assets/playbooks/deploy.yml\n  \
               check: assets/playbooks/check.yml\n",
        );
        sandbox.write("bin/ansible-playbook", WRAPPER);
        let program = sandbox.root.join("bin/ansible-playbook");
        let mode = std::os::unix::fs::PermissionsExt::from_mode(0o755);
        std::fs::set_permissions(&program, mode).unwrap();
        let record = sandbox.root.join("runs.txt");
        Lab { sandbox, record }
    }

    /// `fleetdeck run -e roll ARGS` against the stand-in.
    fn run(&self, args: &[&str], hold: Option<&str>) -> Output {
        let path = format!(
            "{REPO}/.venv/bin:{}",
            std::env::var("PATH").unwrap_or_default()
        );
        let journal = self
            .sandbox
            .root
            .join(format!(".fleetdeck/{ENV}/journal.jsonl"));
        self.sandbox
            .fleetdeck()
            .env(
                "FLEETDECK_ANSIBLE_PLAYBOOK",
                self.sandbox.root.join("bin/ansible-playbook"),
            )
            .env("PATH", path)
            .env(
                "FAKE",
                format!("{REPO}/tests/fixtures/fake-ansible-playbook"),
            )
            .env("ROLL_RECORD", &self.record)
            .env("ROLL_JOURNAL", journal)
            .env("ROLL_FAIL", FAILING)
            .env("ROLL_HOLD", hold.unwrap_or(""))
            .args(["run", "-e", ENV])
            .args(args)
            .output()
            .unwrap()
    }

    /// "HOST PLAYBOOK" per run started, in order.
    fn runs(&self) -> Vec<String> {
        let text = std::fs::read_to_string(&self.record).unwrap_or_default();
        text.lines().map(String::from).collect()
    }

    fn deploys_of(&self, host: &str) -> usize {
        let wanted = format!("{host} deploy");
        self.runs().iter().filter(|run| **run == wanted).count()
    }

    /// The first run: canary h1, then h2 and h3; h3 fails and the rollout stops.
    fn stopped(&self) -> (String, String) {
        let out = self.run(&["deploy", "--all"], Some("h2"));
        let (stdout, stderr) = texts(&out);
        assert_eq!(
            out.status.code(),
            Some(2),
            "a failure happened:\n{stdout}{stderr}"
        );
        (stdout, stderr)
    }
}

fn texts(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn rollout_row(summary: &Value) -> &Value {
    let rollouts = summary["rollouts"].as_array().expect("a rollouts list");
    assert_eq!(rollouts.len(), 1, "{summary:#}");
    &rollouts[0]
}

#[test]
fn a_failed_deploy_stops_the_rollout_and_the_run_says_what_to_run() {
    let lab = Lab::new();
    let (stdout, _) = lab.stopped();
    let reason = "h3 deploy failed (rc 2, task \"Install release\")";
    assert!(
        stdout.contains(&format!("stopped: {reason}")),
        "the summary's rollout row says why:\n{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "Rollout deploy #7 is stopped ({reason}); 3 deploy(s) wait: \
             `fleetdeck run -e {ENV} --resume-rollout` continues it, \
             `fleetdeck run -e {ENV} --abort-rollout` cancels the rest"
        )),
        "{stdout}"
    );
    assert!(
        !stdout.contains("--resume` runs them"),
        "--resume alone would not run a stopped rollout's deploys:\n{stdout}"
    );
    assert!(
        stdout.contains("Rollout deploy #7 stopped"),
        "the log says it too:\n{stdout}"
    );
    for host in ["h1", "h2", "h3"] {
        assert_eq!(lab.deploys_of(host), 1, "{host}: {:?}", lab.runs());
    }
    for host in ["h4", "h5", "h6"] {
        assert_eq!(
            lab.deploys_of(host),
            0,
            "{host} never ran: {:?}",
            lab.runs()
        );
    }

    // The same in JSON, for scripts.
    let status = lab.sandbox.status_json(ENV);
    let live = rollout_row(&status);
    assert_eq!(live["name"], "deploy #7");
    assert_eq!(live["phase"], "stopped");
    assert_eq!(live["reason"], reason);
    assert_eq!(
        live["waiting_servers"],
        serde_json::json!(["h4", "h5", "h6"])
    );
    assert_eq!(
        (live["healthy"].as_u64(), live["failed"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(
        status["queued"], 3,
        "the waiting deploys stay queued: {status:#}"
    );

    let out = lab
        .sandbox
        .fleetdeck()
        .args(["status", "-e", ENV])
        .output()
        .unwrap();
    let (text, _) = texts(&out);
    assert!(out.status.success());
    assert!(
        text.contains(&format!(
            "  deploy #7: stopped: {reason} (2/6 healthy · 1 failed · 3 waiting; canary 1, window 2)\n    waiting: h4, h5, h6\n"
        )),
        "{text}"
    );
    assert!(text.contains("--resume-rollout` continues it"), "{text}");
    assert!(text.contains("deploy on h4 (#"), "{text}");
    assert!(text.contains("), in rollout deploy #7"), "{text}");
    // The held list does not promise that a bare --resume runs a stopped rollout's deploys.
    assert!(
        text.contains("--resume` runs them (a rollout's: `--resume-rollout`)"),
        "{text}"
    );
}

#[test]
fn resume_rollout_deploys_the_rest_and_nothing_runs_twice() {
    let lab = Lab::new();
    lab.stopped();
    let before = lab.runs();

    let out = lab.run(&["--resume-rollout", "--json"], None);
    let (stdout, stderr) = texts(&out);
    // The rest deploys, but the rollout ends with h3 failed: not a success a script may trust.
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    eprintln!("{stderr}");
    let summary: Value = serde_json::from_str(&stdout).unwrap();
    let row = rollout_row(&summary);
    assert_eq!(row["phase"], "done", "{summary:#}");
    assert_eq!(
        (row["healthy"].as_u64(), row["failed"].as_u64()),
        (Some(5), Some(1))
    );
    assert_eq!(row["waiting"], 0);
    assert_eq!(summary["left_queued"], 0);
    assert!(
        stderr.contains("Rollout deploy #7 resumed"),
        "the log, on stderr with --json:\n{stderr}"
    );

    let after = lab.runs();
    assert_eq!(after[..before.len()], before[..], "the record only grew");
    let resumed = &after[before.len()..];
    for host in ["h1", "h2", "h3"] {
        assert!(
            !resumed
                .iter()
                .any(|run| run.starts_with(&format!("{host} "))),
            "{host} had its verdict; nothing ran on it again: {resumed:?}"
        );
    }
    for host in SERVERS {
        assert_eq!(lab.deploys_of(host), 1, "{host}: {after:?}");
    }
    for host in ["h4", "h5", "h6"] {
        assert!(
            resumed.contains(&format!("{host} check")),
            "health checked: {resumed:?}"
        );
    }

    let status = lab.sandbox.status_json(ENV);
    assert_eq!(status["rollouts"], serde_json::json!([]), "{status:#}");
    assert_eq!(status["queued"], 0);
}

#[test]
fn abort_rollout_cancels_the_rest_and_nothing_more_runs() {
    let lab = Lab::new();
    lab.stopped();
    let before = lab.runs();

    let out = lab.run(&["--abort-rollout"], None);
    let (stdout, stderr) = texts(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "cancelling what was asked to be cancelled is no failure:\n{stdout}{stderr}"
    );
    assert!(stdout.contains("deploy #7"), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("deploy #7") && l.ends_with("aborted")),
        "{stdout}"
    );
    let summary = &stdout[stdout.find("Nothing ran.").unwrap()..];
    assert!(
        !summary.contains("--resume"),
        "nothing is left to resume:\n{stdout}"
    );
    assert!(
        stdout.contains("Rollout deploy #7 aborted: 3 deploy(s) cancelled"),
        "{stdout}"
    );
    assert_eq!(lab.runs(), before, "nothing more ran");

    let status = lab.sandbox.status_json(ENV);
    assert_eq!(status["rollouts"], serde_json::json!([]), "{status:#}");
    assert_eq!(status["queued"], 0, "{status:#}");
    // And a later --resume-rollout has nothing to continue, and says so.
    let out = lab.run(&["--resume-rollout"], None);
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains("No rollout is stopped: nothing to resume"),
        "{stdout}"
    );
    assert_eq!(lab.runs(), before);
}

#[test]
fn the_rollout_flags_refuse_what_makes_no_sense_together() {
    let lab = Lab::new();
    for args in [
        ["--resume-rollout", "--abort-rollout"],
        ["--resume-rollout", "--discard-held"],
    ] {
        let out = lab.run(&args, None);
        let (_, stderr) = texts(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains("cannot be used with"), "{stderr}");
    }
    assert!(lab.runs().is_empty());
}

#[test]
fn a_stopped_chain_keeps_its_checks_behind_the_held_deploys_and_resume_runs_them() {
    let lab = Lab::new();
    let out = lab.run(&["chain", "--all"], Some("h2"));
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    for host in SERVERS {
        let provisions = lab
            .runs()
            .iter()
            .filter(|r| **r == format!("{host} provision"))
            .count();
        assert_eq!(
            provisions,
            1,
            "{host}: provisions are not gated: {:?}",
            lab.runs()
        );
    }
    let status = lab.sandbox.status_json(ENV);
    let held: Vec<&str> = status["held"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap())
        .collect();
    for host in ["h4", "h5", "h6"] {
        for action in ["deploy", "check"] {
            assert!(
                held.iter()
                    .any(|h| h.starts_with(&format!("{action} on {host} (#"))),
                "the {action} of {host} stays queued: {held:?}"
            );
        }
    }

    let before = lab.runs();
    let out = lab.run(&["--resume-rollout"], None);
    let (stdout, stderr) = texts(&out);
    assert_eq!(
        out.status.code(),
        Some(2),
        "done, with h3 failed: {stdout}{stderr}"
    );
    let resumed = &lab.runs()[before.len()..];
    for host in ["h4", "h5", "h6"] {
        assert!(resumed.contains(&format!("{host} deploy")), "{resumed:?}");
        assert!(resumed.contains(&format!("{host} check")), "{resumed:?}");
        assert!(
            !resumed.contains(&format!("{host} provision")),
            "{resumed:?}"
        );
    }
    assert_eq!(lab.sandbox.status_json(ENV)["queued"], 0);
}
