//! fleetdeck over real SSH: a fleet of loopback sshd servers of our own (tests/common/sshd.rs),
//! driven through the real binary, headless. The demo chain; ssh connection reuse across runs,
//! a cancel, a timeout and fleetdeck exits; and the SSH rows of the bad-input catalogue: a
//! server going down mid-run, a changed host key, a refused key, a port that never speaks SSH,
//! a host slower than `action_timeout`.

mod common;

use common::Sandbox;
use common::sshd::{HostKeys, SshFleet, Tarpit};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

/// One task that starts, writes `<demo_root>/<host>.started` and sleeps `case_sleep` seconds,
/// only when that file is not there yet (a retry goes straight on), then one more task.
const CASE_PLAYBOOK: &str = r#"- name: SSH case
  hosts: all
  gather_facts: false
  tasks:
    - name: Start work
      ansible.builtin.shell: "touch {{ demo_root }}/{{ inventory_hostname }}.started && sleep {{ case_sleep | default(0) }}"
      args:
        creates: "{{ demo_root }}/{{ inventory_hostname }}.started"
    - name: Finish
      ansible.builtin.command: "true"
      changed_when: false
"#;

/// One quick task.
const QUICK_PLAYBOOK: &str = r#"- name: Quick
  hosts: all
  gather_facts: false
  tasks:
    - name: Answer
      ansible.builtin.command: "true"
      changed_when: false
"#;

/// Long enough for a loaded machine, never waited for when things work.
const LIMIT: Duration = Duration::from_secs(120);

/// The `ssh` environment in `sandbox`: the fleet's inventory (plus `extra_hosts`, YAML lines
/// under `hosts:`) with the demo's variables, `config` for config.yml, the demo playbooks plus
/// the two above, and an `ansible.cfg` (pipelining, ControlPersist sockets in the fleet's dir)
/// that fleetdeck honours as ansible does: it runs ansible in the project root.
fn ssh_env(
    sandbox: &Sandbox,
    fleet: &SshFleet,
    host_vars: &[(&str, &str)],
    extra_hosts: &str,
    config: &str,
) {
    let vars = format!(
        "demo_root: {}\ndemo_step_seconds: 1",
        sandbox.demo_root.display()
    );
    std::fs::create_dir_all(&sandbox.demo_root).unwrap();
    let mut inventory = fleet.inventory(HostKeys::Known, &vars, host_vars);
    inventory.push_str(extra_hosts);
    sandbox.write("inventory/ssh/hosts.yml", &inventory);
    sandbox.write("inventory/ssh/config.yml", config);
    sandbox.write("assets/playbooks/case.yml", CASE_PLAYBOOK);
    sandbox.write("assets/playbooks/quick.yml", QUICK_PLAYBOOK);
    sandbox.write(
        "ansible.cfg",
        &format!(
            "[ssh_connection]\npipelining = True\ncontrol_path_dir = {}\n",
            fleet.control_path_dir().display()
        ),
    );
}

fn run_json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
        panic!(
            "run --json: {err}\nstdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn status_json(sandbox: &Sandbox) -> Value {
    sandbox.status_json("ssh")
}

fn runs_of<'a>(summary: &'a Value, server: &str) -> Vec<&'a Value> {
    summary["runs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|run| run["server"] == server)
        .collect()
}

fn message(run: &Value) -> &str {
    run["outcome"]["message"].as_str().unwrap_or_default()
}

/// Polls for `path` until `limit`.
fn wait_for_file(path: &Path, limit: Duration) {
    let deadline = Instant::now() + limit;
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Polls `alive` until it says false, up to `limit`; returns whether it did.
fn gone_within(limit: Duration, mut alive: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while alive() {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

/// Accepted logins in a host's sshd log: each is a new SSH connection.
fn logins(fleet: &SshFleet, host: &str) -> usize {
    fleet
        .host(host)
        .log_text()
        .matches("Accepted publickey for ")
        .count()
}

#[test]
fn demo_chain_over_ssh_fails_db02_deploy_and_skips_its_check() {
    let fleet = SshFleet::start(&["web-01", "db-02"]);
    let sandbox = Sandbox::demo();
    ssh_env(
        &sandbox,
        &fleet,
        &[("db-02", "demo_fail_deploy: true")],
        "",
        "max_parallel_workers: 2\nhealth_check_enabled: true\nplaybooks:\n  \
         provision: assets/playbooks/provision.yml\n  deploy: assets/playbooks/deploy.yml\n  \
         check: assets/playbooks/check.yml\n",
    );
    let out = sandbox
        .fleetdeck()
        .args(["run", "-e", "ssh", "chain", "--all", "--json"])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "db-02 fails its deploy:\n{log}");
    let summary = run_json(&out);
    let runs = summary["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 6, "2 servers × 3 links: {summary}");
    for run in runs {
        let (server, action) = (
            run["server"].as_str().unwrap(),
            run["action"].as_str().unwrap(),
        );
        let expected = match (server, action) {
            ("db-02", "deploy") => "failed",
            ("db-02", "check") => "skipped",
            _ => "succeeded",
        };
        assert_eq!(
            run["outcome"]["outcome"], expected,
            "{server} {action}: {run}"
        );
        if expected != "skipped" {
            assert_eq!(run["recap"]["unreachable"], 0, "{run}");
        }
    }
    let failed = &runs_of(&summary, "db-02")
        .into_iter()
        .find(|run| run["action"] == "deploy")
        .unwrap()["outcome"];
    assert_eq!(failed["task"], "Verify release checksum", "{failed}");

    // The status the journal gives: the same outcomes.
    let status = status_json(&sandbox);
    let servers = &status["servers"];
    for action in ["provision", "deploy", "check"] {
        assert_eq!(
            servers["web-01"][action]["outcome"], "succeeded",
            "{status}"
        );
    }
    assert_eq!(servers["web-01"]["deploy"]["healthy"], true, "{status}");
    assert_eq!(
        servers["db-02"]["provision"]["outcome"], "succeeded",
        "{status}"
    );
    assert_eq!(servers["db-02"]["deploy"]["outcome"], "failed", "{status}");
    assert_eq!(servers["db-02"]["check"]["outcome"], "skipped", "{status}");

    // The playbooks wrote through sshd, under each host's own folder.
    let web = sandbox.demo_root.join("web-01");
    assert_eq!(
        std::fs::read_to_string(web.join("current/VERSION")).unwrap(),
        "1.4.2\n"
    );
    assert!(
        std::fs::read_to_string(web.join("etc/app.conf"))
            .unwrap()
            .contains("host = web-01")
    );
    let db = sandbox.demo_root.join("db-02");
    assert!(
        db.join("releases/1.4.2/VERSION").exists(),
        "unpacked before the failing check"
    );
    assert!(
        std::fs::read_link(db.join("current")).is_err(),
        "db-02 never switched"
    );
    // Really over SSH: each sshd let our key in, once for all three links (ControlPersist).
    for host in ["web-01", "db-02"] {
        assert_eq!(
            logins(&fleet, host),
            1,
            "{host}:\n{}",
            fleet.host(host).log_text()
        );
    }
    let left = sandbox.ansible_left_after(Duration::from_secs(10));
    assert!(left.is_empty(), "left: {left:#?}");
}

#[test]
fn ssh_masters_are_reused_across_runs_a_cancel_a_timeout_and_fleetdeck_exits() {
    let mut fleet = SshFleet::start(&["solo"]);
    let sandbox = Sandbox::demo();
    ssh_env(
        &sandbox,
        &fleet,
        &[("solo", "case_sleep: 600")],
        // Another inventory name for the same server: same address, port and user, so ssh
        // gives both the same ControlPath and they share one master.
        &format!(
            "    alias: {{ansible_host: {}, case_sleep: 20}}\n",
            fleet.host("solo").addr
        ),
        "action_timeout: 10s\ncancel_grace: 5s\nplaybooks:\n  check: assets/playbooks/quick.yml\n  \
         deploy: assets/playbooks/case.yml\n",
    );
    let check = || {
        let started = Instant::now();
        let out = sandbox
            .fleetdeck()
            .args(["run", "-e", "ssh", "check", "solo", "--json"])
            .output()
            .unwrap();
        let wall = started.elapsed();
        let summary = run_json(&out);
        assert_eq!(out.status.code(), Some(0), "{summary}");
        let run = summary["runs"][0].clone();
        assert_eq!(run["outcome"]["outcome"], "succeeded", "{run}");
        (wall, run["duration_s"].as_f64().unwrap())
    };

    // Run 1 logs in and leaves a ControlPersist master; run 2 (another fleetdeck) uses it.
    let (wall_1, run_1) = check();
    let masters = fleet.masters();
    assert_eq!(masters.len(), 1, "one master for the one host: {masters:?}");
    let master = masters[0].0;
    assert_eq!(
        fleet.control_sockets().len(),
        1,
        "{:?}",
        fleet.control_sockets()
    );
    assert_eq!(logins(&fleet, "solo"), 1);
    let sessions_1 = fleet.sessions("solo");
    let (wall_2, run_2) = check();
    println!(
        "ssh reuse on one host: run 1 (new master) {wall_1:.2?} wall, {run_1:.2} s in ansible; \
         run 2 (master reused) {wall_2:.2?} wall, {run_2:.2} s in ansible"
    );
    assert_eq!(fleet.masters(), masters, "run 2 kept the master of run 1");
    assert_eq!(
        logins(&fleet, "solo"),
        1,
        "run 2 made no new SSH connection"
    );
    assert_eq!(fleet.sessions("solo"), sessions_1, "no new sshd session");

    // A cancel (Ctrl-C: ansible is interrupted) ends the run and leaves the master alone.
    let child = sandbox
        .fleetdeck()
        .args(["run", "-e", "ssh", "deploy", "solo", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_file(&sandbox.demo_root.join("solo.started"), LIMIT);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = run_json(&out);
    assert_eq!(
        summary["runs"][0]["outcome"]["outcome"], "cancelled",
        "{summary}"
    );
    let left = sandbox.ansible_left_after(Duration::from_secs(20));
    assert!(left.is_empty(), "left: {left:#?}");
    let clients: Vec<_> = fleet
        .ssh_clients()
        .into_iter()
        .filter(|(pid, _)| *pid != master)
        .collect();
    assert!(clients.is_empty(), "only the master is left: {clients:#?}");
    assert_eq!(fleet.masters(), masters, "the cancel left the master alone");

    // A run that times out (interrupted, its process groups killed) while another run, of
    // another fleetdeck (environment `ssh2`, no short timeout), goes through the same master:
    // the other run finishes, and the master is still the first one.
    sandbox.write(
        "inventory/ssh2/hosts.yml",
        &std::fs::read_to_string(sandbox.root.join("inventory/ssh/hosts.yml")).unwrap(),
    );
    sandbox.write(
        "inventory/ssh2/config.yml",
        "playbooks:\n  deploy: assets/playbooks/case.yml\n",
    );
    std::fs::remove_file(sandbox.demo_root.join("solo.started")).unwrap();
    let other = sandbox
        .fleetdeck()
        .args(["run", "-e", "ssh2", "deploy", "alias", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_file(&sandbox.demo_root.join("alias.started"), LIMIT);
    let out = sandbox
        .fleetdeck()
        .args(["run", "-e", "ssh", "deploy", "solo", "--json"])
        .output()
        .unwrap();
    let summary = run_json(&out);
    assert_eq!(
        summary["runs"][0]["outcome"]["outcome"], "timed_out",
        "{summary}"
    );
    let out = other.wait_with_output().unwrap();
    let summary = run_json(&out);
    assert_eq!(
        summary["runs"][0]["outcome"]["outcome"], "succeeded",
        "{summary}"
    );
    assert_eq!(fleet.masters(), masters, "one master all along");
    assert_eq!(logins(&fleet, "solo"), 1, "one connection all along");
    let left = sandbox.ansible_left_after(Duration::from_secs(20));
    assert!(left.is_empty(), "left: {left:#?}");

    // fleetdeck has exited four times: the master stays, for ssh's ControlPersist (ansible's
    // 60 s of idle), and the next fleetdeck's run uses it.
    check();
    assert_eq!(fleet.masters(), masters, "still the first master");
    assert_eq!(logins(&fleet, "solo"), 1, "still the first connection");

    // The server going away ends the master (the helper stops the host's connections).
    fleet.stop("solo");
    assert!(
        gone_within(LIMIT, || fleet
            .masters()
            .iter()
            .any(|(pid, _)| *pid == master)),
        "the master outlived its connection"
    );
}

#[test]
fn ssh_failures_each_end_in_a_clear_outcome_and_leave_nothing_running() {
    let mut fleet = SshFleet::start(&["gone-01", "rekeyed-01", "badkey-01", "slow-01"]);
    let tarpit = Tarpit::start();
    let sandbox = Sandbox::demo();
    let wrong_key = format!(
        "ansible_ssh_private_key_file: {}",
        fleet.wrong_key().display()
    );
    ssh_env(
        &sandbox,
        &fleet,
        &[
            ("gone-01", "case_sleep: 60"),
            ("slow-01", "case_sleep: 600"),
            ("badkey-01", &wrong_key),
        ],
        &format!("    tarpit-01: {{ansible_host: {}}}\n", tarpit.addr),
        "max_parallel_workers: 5\naction_timeout: 20s\ncancel_grace: 5s\n\
         auto_retry_enabled: true\nmax_retries: 2\nplaybooks:\n  deploy: assets/playbooks/case.yml\n",
    );
    // A reinstalled server: same address, new host key, known_hosts still has the old one.
    fleet.new_host_key("rekeyed-01");
    let known_hosts = std::fs::read(fleet.known_hosts()).unwrap();

    let mut child = sandbox
        .fleetdeck()
        .args(["run", "-e", "ssh", "deploy", "--all", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let log_lines =
        std::thread::spawn(move || stderr.lines().map_while(Result::ok).collect::<Vec<_>>());
    // gone-01's sshd goes down (with its connections) while its task runs, and comes back:
    // the run in flight is unreachable, its automatic retry finds the server again.
    wait_for_file(&sandbox.demo_root.join("gone-01.started"), LIMIT);
    fleet.stop("gone-01");
    fleet.restart("gone-01");
    let out = child.wait_with_output().unwrap();
    let log = log_lines.join().unwrap().join("\n");
    assert_eq!(out.status.code(), Some(2), "{log}");
    let summary = run_json(&out);
    for run in summary["runs"].as_array().unwrap() {
        println!(
            "{} attempt {}: {} {:.1} s {}",
            run["server"],
            run["attempt"],
            run["outcome"]["outcome"],
            run["duration_s"].as_f64().unwrap(),
            message(run)
        );
    }

    // Server going down mid-run: unreachable, then retried with backoff, and back.
    let gone = runs_of(&summary, "gone-01");
    assert!((2..=3).contains(&gone.len()), "{summary}");
    assert_eq!(gone[0]["outcome"]["outcome"], "unreachable", "{}", gone[0]);
    // A ControlPersist client whose master lost the connection exits 255 without a word, so
    // the reason is ansible's: the host, and that it could not be reached over ssh.
    let addr = fleet.host("gone-01").addr.to_string();
    assert!(
        message(gone[0]).contains(&format!("remote host \"{addr}\""))
            && message(gone[0]).contains("reached over ssh"),
        "{}",
        gone[0]
    );
    // (A second retry is allowed for a machine so loaded that sshd took seconds to restart.)
    let last = gone.last().unwrap();
    assert_eq!(last["outcome"]["outcome"], "succeeded", "{last}");
    assert_eq!(last["attempt"], gone.len());
    assert!(
        log.contains("Requeued deploy for server gone-01 (attempt 2)"),
        "{log}"
    );

    // Changed host key: refused by ssh with its warning, never accepted for the user.
    let rekeyed = runs_of(&summary, "rekeyed-01");
    assert_eq!(
        rekeyed.len(),
        3,
        "an unreachable host is retried twice: {summary}"
    );
    for run in &rekeyed {
        assert_eq!(run["outcome"]["outcome"], "unreachable", "{run}");
        assert!(
            message(run).contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
                && message(run).contains("Host key verification failed"),
            "the reason keeps ssh's first and last words: {run}"
        );
        // The whole of ssh's words (with the known_hosts line to fix) are in the run log.
        let text = std::fs::read_to_string(run["log"].as_str().unwrap()).unwrap();
        assert!(
            text.contains("Host key verification failed")
                && text.contains(&format!(
                    "Offending ED25519 key in {}",
                    fleet.known_hosts().display()
                )),
            "{text}"
        );
    }
    assert_eq!(
        std::fs::read(fleet.known_hosts()).unwrap(),
        known_hosts,
        "known_hosts is untouched: the new key was not accepted"
    );
    assert_eq!(logins(&fleet, "rekeyed-01"), 0);

    // Wrong key: "Permission denied", at once (no password prompt to hang on).
    for run in runs_of(&summary, "badkey-01") {
        assert_eq!(run["outcome"]["outcome"], "unreachable", "{run}");
        assert!(message(run).contains("Permission denied"), "{run}");
        assert!(
            run["duration_s"].as_f64().unwrap() < 20.0,
            "not by the timeout: {run}"
        );
    }

    // A port that accepts and never speaks SSH: ssh's own timeout (ansible_ssh_timeout 5 s).
    assert!(tarpit.connections() >= 1, "ssh reached the tarpit");
    for run in runs_of(&summary, "tarpit-01") {
        assert_eq!(run["outcome"]["outcome"], "unreachable", "{run}");
        assert!(message(run).contains("banner exchange"), "{run}");
    }

    // Slower than action_timeout: timed out in its task, interrupted, not retried.
    let slow = runs_of(&summary, "slow-01");
    assert_eq!(slow.len(), 1, "a timeout is not retried: {summary}");
    assert_eq!(slow[0]["outcome"]["outcome"], "timed_out", "{}", slow[0]);
    assert_eq!(
        slow[0]["outcome"]["during_task"], "Start work",
        "{}",
        slow[0]
    );

    // The same in the run logs and in `status`.
    for run in summary["runs"].as_array().unwrap() {
        let text = std::fs::read_to_string(run["log"].as_str().unwrap()).unwrap();
        assert!(text.contains("# outcome: "), "{text}");
        if run["outcome"]["outcome"] == "unreachable" {
            assert!(text.contains("UNREACHABLE!"), "{text}");
        }
    }
    let status = status_json(&sandbox);
    let latest = |server: &str| status["servers"][server]["deploy"]["outcome"].clone();
    assert_eq!(latest("gone-01"), "succeeded", "{status}");
    for server in ["rekeyed-01", "badkey-01", "tarpit-01"] {
        assert_eq!(latest(server), "unreachable", "{status}");
    }
    assert_eq!(latest("slow-01"), "timed_out", "{status}");
    let failing: Vec<&str> = status["failing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|run| run["server"].as_str().unwrap())
        .collect();
    assert_eq!(failing.len(), 4, "{status}");

    // Nothing is left on the control node: no ansible, no ssh client but the masters of the
    // hosts that were reached (ControlPersist; gone-01's second one and slow-01's).
    let left = sandbox.ansible_left_after(Duration::from_secs(20));
    assert!(left.is_empty(), "left: {left:#?}");
    let clients: Vec<_> = fleet
        .ssh_clients()
        .into_iter()
        .filter(|(_, cmdline)| !cmdline.contains("[mux]"))
        .collect();
    assert!(clients.is_empty(), "ssh clients left: {clients:#?}");
    // The far side is another matter: with pipelining, slow-01's task is not tied to a tty,
    // and keeps running on the server after the timeout (until it ends, or the server stops it).
    let remote: Vec<String> = common::sshd::descendants(fleet.host("slow-01").pid().unwrap())
        .into_iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/cmdline")).ok())
        .collect();
    assert!(
        remote.iter().any(|cmdline| cmdline == "sleep\x00600\x00"),
        "slow-01's remote task: {remote:?}"
    );
    assert!(
        fleet.masters().len() <= 2,
        "masters only for gone-01 and slow-01: {:#?}",
        fleet.masters()
    );
}
