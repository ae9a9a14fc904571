//! Secrets and the project's own ansible configuration, with real ansible-core under both
//! runners: the project's callbacks keep running beside ours, `no_log` results never reach
//! fleetdeck's logs, journal or events, vault and become passwords travel only through pipes,
//! and what fleetdeck creates is private.

mod common;

use common::Sandbox;
use fleetdeck::engine::model::Action;
use fleetdeck::engine::{Command, Engine, EngineEvent, EnqueueRequest, FinishedRun, Target};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

/// An environment `lab` of local hosts running `play` as its check action.
fn lab(runner: &str, hosts: &[&str], play: &str) -> Sandbox {
    let sandbox = Sandbox::demo();
    let mut inventory = String::from(
        "all:\n  vars:\n    ansible_connection: local\n    ansible_python_interpreter: \"{{ ansible_playbook_python }}\"\n  hosts:\n",
    );
    for host in hosts {
        inventory.push_str(&format!("    {host}: {{}}\n"));
    }
    sandbox.write("inventory/lab/hosts.yml", &inventory);
    sandbox.write(
        "inventory/lab/config.yml",
        &format!(
            "max_parallel_workers: 2\nansible_playbook: {}\nplaybooks: {{check: lab.yml}}\nhealth_check_enabled: false\nrunner: {runner}\n",
            common::ansible_playbook().display()
        ),
    );
    sandbox.write("lab.yml", play);
    sandbox
}

/// `fleetdeck run -e lab check <hosts> --json <extra>`, with stdin not a tty.
fn run_check(sandbox: &Sandbox, hosts: &[&str], extra: &[&str]) -> Output {
    let mut command = sandbox.fleetdeck();
    command.args(["run", "-e", "lab", "check", "--json"]);
    command.args(hosts).args(extra);
    // The test's own environment must not decide the project's configuration.
    for var in [
        "ANSIBLE_CONFIG",
        "ANSIBLE_CALLBACKS_ENABLED",
        "ANSIBLE_VAULT_PASSWORD_FILE",
        "ANSIBLE_BECOME_PASSWORD_FILE",
    ] {
        command.env_remove(var);
    }
    command.output().unwrap()
}

fn summary(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
        panic!(
            "not a JSON summary ({err}); stdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn outcome_kinds(summary: &serde_json::Value) -> Vec<String> {
    summary["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|run| {
            run["outcome"]["outcome"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

fn logs_of(summary: &serde_json::Value) -> Vec<PathBuf> {
    summary["runs"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|run| run["log"].as_str().map(PathBuf::from))
        .collect()
}

/// Every file under `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            found.extend(files_containing(&path, needle));
        } else if kind.is_file()
            && std::fs::read(&path)
                .is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle.as_bytes()))
        {
            found.push(path);
        }
    }
    found
}

const PLAIN_PLAY: &str = "\
- hosts: all
  gather_facts: false
  tasks:
    - name: Say hello
      ansible.builtin.command: echo hello
";

/// The project's ansible.cfg enables a callback of its own (`tree`, shipped with
/// ansible-core): it still runs, and so does ours (the runs have their recap from our events).
fn project_callbacks_run_beside_ours(runner: &str) {
    let sandbox = lab(runner, &["cb-01"], PLAIN_PLAY);
    let tree = sandbox.root.join("tree-out");
    sandbox.write(
        "ansible.cfg",
        &format!(
            "[defaults]\ncallbacks_enabled = ansible.builtin.tree\ndeprecation_warnings = False\n\n[callback_tree]\ndirectory = {}\n",
            tree.display()
        ),
    );
    let output = run_check(&sandbox, &["cb-01"], &[]);
    let summary = summary(&output);
    assert_eq!(outcome_kinds(&summary), ["succeeded"], "{summary:#}");
    let run = &summary["runs"][0];
    assert_eq!(run["recap"]["ok"], 1, "our callback's events: {summary:#}");
    let written = std::fs::read_to_string(tree.join("cb-01"))
        .unwrap_or_else(|_| panic!("the project's tree callback wrote nothing: {summary:#}"));
    assert!(written.contains("hello"), "{written}");
}

/// Bounds waits on real ansible; never a pace.
const SAFETY: Duration = Duration::from_secs(180);

/// Runs `check` on `servers` with the engine in this process, as the dashboard does; returns
/// the finished runs and every event the engine published (snapshots hold the live lines).
fn engine_check(sandbox: &Sandbox, servers: &[&str]) -> (Vec<FinishedRun>, String) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let project = fleetdeck::project::Project::open(&sandbox.root).unwrap();
        let env = project.env("lab").unwrap();
        let inventory = env.load_inventory().unwrap();
        let setup = env
            .engine_setup(&inventory, None, env.warm_runner().unwrap())
            .unwrap();
        let fleetdeck::engine::Started {
            handle,
            mut events,
            task,
            ..
        } = Engine::start(setup).unwrap();
        handle.send(Command::Enqueue(EnqueueRequest {
            servers: servers.iter().map(|s| s.to_string()).collect(),
            target: Target::Action(Action::Check),
            tags: None,
            check_mode: false,
            priority: 0,
        }));
        let mut seen = String::new();
        let mut finished = Vec::new();
        let read = async {
            while let Some(event) = events.recv().await {
                seen.push_str(&format!("{event:?}\n"));
                if let EngineEvent::Finished(run) = &event {
                    finished.push(run.clone());
                    if finished.len() == servers.len() {
                        return;
                    }
                }
            }
            panic!("the engine stopped");
        };
        tokio::time::timeout(SAFETY, read).await.expect("runs end");
        drop(handle);
        task.await.unwrap().unwrap();
        (finished, seen)
    })
}

const NO_LOG_SECRET: &str = "nolog-Secret-4711";

/// The secret is in the playbook's vars (a file of the project); what ansible's no_log hides must
/// never reach fleetdeck's own files or events.
const NO_LOG_PLAY: &str = "\
- hosts: all
  gather_facts: false
  vars:
    hidden: \"nolog-Secret-{{ 4700 + 11 }}\"
  tasks:
    - name: Echo the hidden value
      ansible.builtin.command: \"echo {{ hidden }}\"
      register: echoed
      no_log: true
    - name: Show it per item
      ansible.builtin.debug:
        msg: \"{{ item }}\"
      loop: [\"{{ hidden }}\", \"{{ echoed.stdout }}\"]
      no_log: true
    - name: Retry with it
      ansible.builtin.command: \"echo {{ hidden }}\"
      register: retried
      until: retried.stdout == 'never'
      retries: 1
      delay: 0
      ignore_errors: true
      no_log: true
    - name: Fail with it
      ansible.builtin.shell: \"echo {{ hidden }}; echo {{ hidden }} >&2; exit 3\"
      no_log: true
";

/// A `no_log` task that prints a secret, one that loops over it, one that retries and one that
/// fails with it: the secret is in none of the run logs, the journal, fleetdeck's state folder,
/// the events and live lines the engine published; the run fails at the right task.
fn no_log_results_stay_hidden(runner: &str) {
    let sandbox = lab(runner, &["nl-01"], NO_LOG_PLAY);
    let (finished, events) = engine_check(&sandbox, &["nl-01"]);
    let outcome = format!("{:?}", finished[0].outcome);
    assert!(
        outcome.contains("Failed")
            && outcome.contains("Fail with it")
            && outcome.contains("output hidden by no_log"),
        "{outcome}"
    );
    let log = std::fs::read_to_string(finished[0].log_path.as_ref().unwrap()).unwrap();
    assert!(log.contains("Echo the hidden value"), "{log}");
    assert!(
        !log.contains(NO_LOG_SECRET),
        "the run log shows the secret:\n{log}"
    );
    assert!(
        !events.contains(NO_LOG_SECRET),
        "the events carry the secret"
    );
    for dir in ["logs", ".fleetdeck"] {
        let leaks = files_containing(&sandbox.root.join(dir), NO_LOG_SECRET);
        assert!(leaks.is_empty(), "the secret is in {leaks:?}");
    }
}

const VAULT_PASSWORD: &str = "vaultPw-7723-q";
const VAULT_VALUE: &str = "vault-Secret-9931";

/// Each host says it has started, then waits for the test's go (so that the test can look at
/// the running processes), then proves the vault value was decrypted without printing it.
const VAULT_PLAY: &str = "\
- hosts: all
  gather_facts: false
  tasks:
    - name: Say started
      ansible.builtin.file:
        path: \"{{ gate }}/started-{{ inventory_hostname }}\"
        state: touch
    - name: Wait for the go
      ansible.builtin.wait_for:
        path: \"{{ gate }}/go\"
        timeout: 120
    - name: Use the vault value
      ansible.builtin.assert:
        that:
          - vault_token is match('^vault-Secret-')
          - vault_token | length == 17
        quiet: true
";

/// The `lab` environment with a vault-encrypted group_vars file (encrypted now, by
/// ansible-vault, with a password file outside the project) and a gate folder.
fn vault_lab(runner: &str, hosts: &[&str]) -> (Sandbox, tempfile::TempDir) {
    let sandbox = lab(runner, hosts, VAULT_PLAY);
    let outside = tempfile::tempdir().unwrap();
    let password_file = outside.path().join("vault-pass");
    std::fs::write(&password_file, format!("{VAULT_PASSWORD}\n")).unwrap();
    let gate = outside.path().join("gate");
    std::fs::create_dir(&gate).unwrap();
    let vars = sandbox.root.join("inventory/lab/group_vars/all/vault.yml");
    std::fs::create_dir_all(vars.parent().unwrap()).unwrap();
    std::fs::write(&vars, format!("vault_token: \"{VAULT_VALUE}\"\n")).unwrap();
    let vault = common::ansible_playbook().with_file_name("ansible-vault");
    let status = std::process::Command::new(vault)
        .arg("encrypt")
        .arg("--vault-password-file")
        .arg(&password_file)
        .arg(&vars)
        .output()
        .unwrap();
    assert!(status.status.success(), "{status:?}");
    assert!(
        std::fs::read_to_string(&vars)
            .unwrap()
            .starts_with("$ANSIBLE_VAULT;")
    );
    sandbox.write(
        "inventory/lab/group_vars/all/gate.yml",
        &format!("gate: \"{}\"\n", gate.display()),
    );
    (sandbox, outside)
}

/// Waits (bounded) until `done` says yes; the condition is a file or a process appearing.
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + SAFETY;
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "waited too long for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `--vault-password-file` is read once and handed to each run through a pipe: the runs
/// decrypt the group_vars file and succeed, and neither the password nor the decrypted value
/// is in any running ansible process's argv or environment, the run logs, the journal, or any
/// other file of the project.
fn vault_password_reaches_runs_through_a_pipe_only(runner: &str) {
    let hosts = ["v-01", "v-02"];
    let (sandbox, outside) = vault_lab(runner, &hosts);
    let password_file = outside.path().join("vault-pass");
    let gate = outside.path().join("gate");
    let mut command = sandbox.fleetdeck();
    command.args([
        "run",
        "-e",
        "lab",
        "check",
        "--json",
        "--vault-password-file",
    ]);
    command.arg(&password_file).args(hosts);
    command.stdout(std::process::Stdio::piped());
    command.stderr(std::process::Stdio::piped());
    let mut child = command.spawn().unwrap();
    let mut ended = None;
    wait_for("both hosts to start", || {
        ended = child.try_wait().unwrap();
        ended.is_some()
            || hosts
                .iter()
                .all(|host| gate.join(format!("started-{host}")).exists())
    });
    if ended.is_some() {
        let output = child.wait_with_output().unwrap();
        panic!(
            "fleetdeck ended before the runs started: {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let processes = sandbox.ansible_processes();
    assert!(!processes.is_empty());
    for (pid, cmdline) in &processes {
        let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        let environ = String::from_utf8_lossy(&environ);
        for secret in [VAULT_PASSWORD, VAULT_VALUE] {
            assert!(!cmdline.contains(secret), "argv of {pid}: {cmdline}");
            assert!(!environ.contains(secret), "environment of {pid}");
        }
    }
    // The warm runner's socket folder: whoever reaches the socket can run playbooks as us.
    for (_, cmdline) in processes.iter().filter(|(_, c)| c.contains("--socket ")) {
        let socket = cmdline.split("--socket ").nth(1).unwrap();
        let socket = Path::new(socket.split(' ').next().unwrap());
        assert_eq!(mode_of(socket.parent().unwrap()), 0o700, "{cmdline}");
    }
    let mains = processes
        .iter()
        .filter(|(_, cmdline)| cmdline.contains("--vault-password-file /dev/fd/"))
        .count();
    if runner == "fresh" {
        assert!(mains >= hosts.len(), "{processes:#?}");
    }
    std::fs::write(gate.join("go"), "").unwrap();
    let output = child.wait_with_output().unwrap();
    let summary = summary(&output);
    assert_eq!(
        outcome_kinds(&summary),
        ["succeeded", "succeeded"],
        "{summary:#}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let logs = logs_of(&summary);
    assert_eq!(logs.len(), 2);
    for log in &logs {
        let text = std::fs::read_to_string(log).unwrap();
        assert!(text.contains("--vault-password-file /dev/fd/"), "{text}");
        if runner == "warm" {
            // Forked by the server, which put the pipe at the protocol's number.
            assert!(text.contains("# runner: warm"), "{text}");
            assert!(text.contains("--vault-password-file /dev/fd/4"), "{text}");
        }
    }
    for secret in [VAULT_PASSWORD, VAULT_VALUE] {
        let leaks = files_containing(&sandbox.root, secret);
        assert!(leaks.is_empty(), "{secret} is in {leaks:?}");
        for stream in [&output.stdout, &output.stderr] {
            assert!(!String::from_utf8_lossy(stream).contains(secret));
        }
    }
}

/// Without a password, with stdin not a terminal: a clear error naming the vault file, exit 1,
/// and nothing queued or run.
fn a_missing_vault_password_stops_before_anything_runs(runner: &str) {
    let (sandbox, _outside) = vault_lab(runner, &["v-01"]);
    let output = run_check(&sandbox, &["v-01"], &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("inventory/lab/group_vars/all/vault.yml is vault-encrypted")
            && stderr.contains("--vault-password-file"),
        "{stderr}"
    );
    assert!(
        !sandbox.journal("lab").contains("\"queued\""),
        "{}",
        sandbox.journal("lab")
    );
    assert!(!sandbox.root.join("logs").exists());
    // Asking at a terminal is refused too when there is none.
    let output = run_check(&sandbox, &["v-01"], &["--ask-vault-pass"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("stdin is not a terminal"), "{stderr}");
}

/// `vault_password_file` in the project's ansible.cfg is ansible's to use: fleetdeck does not
/// ask, and the runs decrypt.
fn a_vault_password_file_in_ansible_cfg_is_honoured(runner: &str) {
    let (sandbox, outside) = vault_lab(runner, &["v-01"]);
    std::fs::write(outside.path().join("gate/go"), "").unwrap();
    sandbox.write(
        "ansible.cfg",
        &format!(
            "[defaults]\nvault_password_file = {}\n",
            outside.path().join("vault-pass").display()
        ),
    );
    let output = run_check(&sandbox, &["v-01"], &[]);
    let summary = summary(&output);
    assert_eq!(outcome_kinds(&summary), ["succeeded"], "{summary:#}");
}

const BECOME_PASSWORD: &str = "becomePw-5521-z";

/// A stand-in for sudo that wants a password, as a real sudo for a user without NOPASSWD does
/// (it knows only the password's sha256): `-n` fails at once, a wrong password is asked again.
fn fake_sudo(hash: &str) -> String {
    format!(
        r#"#!/bin/bash
prompt=""; nonint=0
while [ $# -gt 0 ]; do
  case "$1" in
    -p) prompt=$2; shift 2 ;;
    -u) shift 2 ;;
    -n|--non-interactive) nonint=1; shift ;;
    -*) shift ;;
    *) break ;;
  esac
done
if [ $nonint = 1 ]; then echo "sudo: a password is required" >&2; exit 1; fi
printf '%s' "$prompt"
IFS= read -r typed
if [ "$(printf '%s' "$typed" | sha256sum | cut -d' ' -f1)" != "{hash}" ]; then
  printf 'Sorry, try again.\n%s' "$prompt"
  IFS= read -r typed
  exit 1
fi
exec "$@"
"#
    )
}

/// A host whose become needs a password: without one the run ends failed (never a hang),
/// naming the server and `--ask-become-pass`; with `--become-password-file` it succeeds and the
/// password is nowhere in the project; a wrong one is said to be refused.
fn a_become_password_is_asked_for_by_name_and_travels_by_pipe(runner: &str) {
    let sandbox = lab(runner, &[], PLAIN_PLAY);
    let outside = tempfile::tempdir().unwrap();
    let hash_of = |text: &str| {
        let path = outside.path().join("to-hash");
        std::fs::write(&path, text).unwrap();
        let out = std::process::Command::new("sha256sum")
            .arg(&path)
            .output()
            .unwrap();
        let hash = String::from_utf8_lossy(&out.stdout).to_string();
        hash.split_whitespace().next().unwrap().to_string()
    };
    let sudo = sandbox.root.join("fake-sudo");
    std::fs::write(&sudo, fake_sudo(&hash_of(BECOME_PASSWORD))).unwrap();
    std::fs::remove_file(outside.path().join("to-hash")).unwrap();
    std::fs::set_permissions(&sudo, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    sandbox.write(
        "inventory/lab/hosts.yml",
        &format!(
            "all:\n  vars:\n    ansible_connection: local\n    ansible_python_interpreter: \"{{{{ ansible_playbook_python }}}}\"\n    ansible_become: true\n    ansible_become_user: nobody\n    ansible_become_exe: {}\n  hosts:\n    b-01: {{}}\n",
            sudo.display()
        ),
    );

    let output = run_check(&sandbox, &["b-01"], &[]);
    let summary_none = summary(&output);
    let message = summary_none["runs"][0]["outcome"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(outcome_kinds(&summary_none), ["failed"], "{summary_none:#}");
    assert!(
        message.contains("b-01 needs a become (sudo) password")
            && message.contains("--ask-become-pass"),
        "{message}"
    );

    let right = outside.path().join("become-pass");
    std::fs::write(&right, format!("{BECOME_PASSWORD}\n")).unwrap();
    let output = run_check(
        &sandbox,
        &["b-01"],
        &["--become-password-file", right.to_str().unwrap()],
    );
    let summary_right = summary(&output);
    assert_eq!(
        outcome_kinds(&summary_right),
        ["succeeded"],
        "{summary_right:#}"
    );
    let log = std::fs::read_to_string(&logs_of(&summary_right)[0]).unwrap();
    assert!(log.contains("--become-password-file -"), "{log}");

    let wrong = outside.path().join("wrong-pass");
    std::fs::write(&wrong, "not-it\n").unwrap();
    let output = run_check(
        &sandbox,
        &["b-01"],
        &["--become-password-file", wrong.to_str().unwrap()],
    );
    let summary_wrong = summary(&output);
    let message = summary_wrong["runs"][0]["outcome"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        message.contains("b-01 refused the become (sudo) password"),
        "{message}"
    );

    let leaks = files_containing(&sandbox.root, BECOME_PASSWORD);
    assert!(leaks.is_empty(), "the become password is in {leaks:?}");
    // Asking at a terminal is refused when there is none.
    let output = run_check(&sandbox, &["b-01"], &["--ask-become-pass"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("--ask-become-pass") && stderr.contains("not a terminal"),
        "{stderr}"
    );
}

fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o7777
}

/// Every folder and file under `dir` whose mode lets the group or others in.
fn not_private(dir: &Path) -> Vec<(PathBuf, u32)> {
    let mut found = Vec::new();
    let mode = mode_of(dir);
    if mode & 0o077 != 0 {
        found.push((dir.to_path_buf(), mode));
    }
    if std::fs::symlink_metadata(dir).unwrap().is_dir() {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            found.extend(not_private(&entry.path()));
        }
    }
    found
}

/// What fleetdeck creates (run logs and their folders, the journal, its lock and folder, the
/// warm runner's log, the copies of the plugin and the server script) is its user's alone, even
/// under a permissive umask.
fn what_fleetdeck_creates_is_private(runner: &str) {
    let sandbox = lab(runner, &["p-01"], PLAIN_PLAY);
    let output = run_check(&sandbox, &["p-01"], &[]);
    assert_eq!(outcome_kinds(&summary(&output)), ["succeeded"]);
    for dir in ["logs", ".fleetdeck"] {
        let dir = sandbox.root.join(dir);
        assert!(dir.is_dir(), "{} was made", dir.display());
        let loose = not_private(&dir);
        assert!(loose.is_empty(), "{loose:#?}");
    }
    let state = sandbox.root.join(".fleetdeck");
    assert!(state.join("lab/journal.jsonl").is_file());
    assert!(state.join("callback_plugins/fleetdeck_events.py").is_file());
}

under_both_runners!(
    project_callbacks_run_beside_ours,
    no_log_results_stay_hidden,
    vault_password_reaches_runs_through_a_pipe_only,
    a_missing_vault_password_stops_before_anything_runs,
    a_vault_password_file_in_ansible_cfg_is_honoured,
    a_become_password_is_asked_for_by_name_and_travels_by_pipe,
    what_fleetdeck_creates_is_private,
);
