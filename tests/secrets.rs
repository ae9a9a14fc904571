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

under_both_runners!(
    project_callbacks_run_beside_ours,
    no_log_results_stay_hidden
);
