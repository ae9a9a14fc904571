//! Secrets and the project's own ansible configuration, with real ansible-core under both
//! runners: the project's callbacks keep running beside ours, `no_log` results never reach
//! fleetdeck's logs, journal or events, vault and become passwords travel only through pipes,
//! and what fleetdeck creates is private.

mod common;

use common::Sandbox;
use std::process::Output;

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

under_both_runners!(project_callbacks_run_beside_ours);
