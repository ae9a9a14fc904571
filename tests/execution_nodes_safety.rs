//! Execution nodes, what must not be left behind or let through, as an operator checks it with
//! real loopback sshd nodes and the real binary: a cancelled remote run leaves no process and
//! no run folder on its node; a node with an ansible-runner fleetdeck does not speak is skipped
//! with the reason; the worker's environment and the vault password never reach a log, the
//! journal or fleetdeck's output. (Placement and lost nodes: tests/execution_nodes.rs.)

mod common;
#[path = "common/nodes.rs"]
mod nodes;

use common::sshd::{descendants, processes};
use nodes::{KillOnDrop, NodeEntry, NodeLab, said_by};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(240);
const CANCEL_GRACE: Duration = Duration::from_secs(5);
/// What a loaded 2-core machine may add to the grace before the node is clean.
const SETTLE: Duration = Duration::from_secs(5);

/// Something no run could print by chance.
fn unique(word: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{word}-{:x}-{nanos:x}", std::process::id())
}

#[test]
fn a_cancelled_remote_run_leaves_no_process_and_no_run_folder_on_its_node() {
    let lab = NodeLab::start(&["exec-a"]);
    lab.add_group("slow", &["db-01"]);
    lab.host_vars("db-01", "demo_step_seconds: 120\n");
    lab.configure(
        2,
        &[NodeEntry::local(1), lab.node("exec-a", "exec-a", 1)],
        &format!(
            "cancel_grace: {}s\nnode_for: {{slow: [exec-a]}}\n",
            CANCEL_GRACE.as_secs()
        ),
    );
    lab.install("exec-a");
    let listener = lab.fleet.host("exec-a").pid().unwrap();
    let child = lab
        .fleetdeck(&["run", "provision", "db-01"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    let guard = KillOnDrop(pid);
    lab.wait_for_log("db-01", "provision", "TASK [Install base packages", LIMIT);
    // The task's module is at work on the node, under its sshd, and the run has its folder.
    // The node's sshd sessions themselves are the connection, not the run: fleetdeck keeps
    // one shared connection per node open for a while after its last run (ControlPersist).
    let under_node = || -> Vec<(i32, String)> {
        let tree = descendants(listener);
        processes()
            .into_iter()
            .filter(|(pid, cmdline)| tree.contains(pid) && !cmdline.starts_with("sshd: "))
            .collect()
    };
    let run_tree = nodes::wait_for(LIMIT, || {
        let tree = under_node();
        let sleeping = tree
            .iter()
            .any(|(_, cmdline)| cmdline.starts_with("sleep 120"));
        sleeping.then_some(tree)
    })
    .expect("no `sleep 120` under exec-a's sshd");
    assert_eq!(lab.run_dirs("exec-a").len(), 2, "fd-<run> and its lock");

    let cancelled_at = Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = nodes::wait_output(child, LIMIT);
    guard.defuse();
    let said = said_by(&out);
    assert_eq!(out.status.code(), Some(130), "{said}");

    // Gone from under the listener, and not merely moved away from it (an orphan left by
    // the run would be adopted by init): none of the run's processes lives on.
    let survivors = || -> Vec<(i32, String)> {
        let now = processes();
        let mut left = under_node();
        left.extend(run_tree.iter().filter(|run| now.contains(run)).cloned());
        left
    };
    let clean = nodes::wait_for(CANCEL_GRACE + SETTLE, || {
        survivors().is_empty().then_some(())
    });
    assert!(
        clean.is_some(),
        "{:?} after the cancel, left of the run on exec-a: {:#?}\n{said}",
        cancelled_at.elapsed(),
        survivors()
    );
    eprintln!(
        "exec-a clean {:?} after SIGINT (the run had {} processes there)",
        cancelled_at.elapsed(),
        run_tree.len()
    );
    assert_eq!(lab.run_dirs("exec-a"), Vec::<String>::new());

    let runs = lab.runs();
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!(runs[0].on(), "exec-a");
    assert_eq!(runs[0].outcome.as_deref(), Some("cancelled"), "{said}");
}

#[test]
fn a_node_with_an_unsupported_ansible_runner_is_skipped_and_the_others_run() {
    let lab = NodeLab::start(&["exec-a"]);
    // An ansible-runner that answers --worker-info as 2.2.1 does.
    let old_runner = lab
        .root()
        .parent()
        .unwrap()
        .join("old-venv/bin/ansible-runner");
    std::fs::create_dir_all(old_runner.parent().unwrap()).unwrap();
    std::fs::write(
        &old_runner,
        "#!/bin/sh\n\
         if [ \"$1 $2\" = \"worker --worker-info\" ]; then\n\
         \x20 echo '{cpu_count: 2, runner_version: 2.2.1, uuid: x}'\n\
         \x20 exit 0\n\
         fi\n\
         echo \"old ansible-runner: $*\" >&2\n\
         exit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(
        &old_runner,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let mut old = lab.node("exec-old", "exec-a", 2);
    old.remote.as_mut().unwrap().worker = old_runner.clone();
    lab.configure(
        3,
        &[NodeEntry::local(1), lab.node("exec-a", "exec-a", 1), old],
        "",
    );
    lab.install("exec-a");
    let install = lab
        .fleetdeck(&["node", "install", "exec-old"])
        .output()
        .unwrap();
    let said = said_by(&install);
    assert_eq!(
        install.status.code(),
        Some(2),
        "installed, not usable: {said}"
    );
    assert!(said.contains("installed fleetdeck's guard"), "{said}");

    let listed = lab.fleetdeck(&["nodes"]).output().unwrap();
    let said = said_by(&listed);
    assert_eq!(listed.status.code(), Some(2), "{said}");
    let stdout = String::from_utf8_lossy(&listed.stdout);
    let line = |node: &str| {
        stdout
            .lines()
            .find(|line| line.starts_with(&format!("{node} ")))
            .unwrap_or_else(|| panic!("no line for {node}: {said}"))
            .to_string()
    };
    let skipped = line("exec-old");
    for expected in ["skipped", "ansible-runner 2.2.1", ">=2.4, <2.5"] {
        assert!(
            skipped.contains(expected),
            "{expected:?} not in {skipped:?}"
        );
    }
    assert!(line("exec-a").contains("ready"), "{said}");
    assert!(line("local").contains("ready"), "{said}");

    let out = lab.run(&["provision", "web-01", "web-02", "web-03"], LIMIT);
    let said = said_by(&out);
    assert_eq!(out.status.code(), Some(0), "{said}");
    let runs = lab.runs();
    assert_eq!(runs.len(), 3, "{runs:#?}");
    assert!(
        runs.iter()
            .all(|ran| ran.on() != "exec-old" && ran.outcome.as_deref() == Some("succeeded")),
        "{runs:#?}"
    );
    let skipped = said
        .lines()
        .find(|line| line.contains("Node exec-old skipped (capacity 0)"))
        .unwrap_or_else(|| panic!("fleetdeck's log names the skipped node: {said}"));
    assert!(
        skipped.contains("2.2.1") && skipped.contains(">=2.4, <2.5"),
        "{skipped}"
    );
}

#[test]
fn the_workers_environment_and_the_vault_password_reach_no_log_journal_or_output() {
    let lab = NodeLab::start(&["exec-a"]);
    let canary = unique("canary");
    let password = unique("vault-password");
    let greeting = unique("vaulted-greeting");
    let password_file = lab.root().parent().unwrap().join("vault-pass");
    std::fs::write(&password_file, &password).unwrap();
    let vaulted = std::process::Command::new(lab.root().join(".venv/bin/ansible-vault"))
        .args(["encrypt_string", "--vault-password-file"])
        .arg(&password_file)
        .args([greeting.as_str(), "--name", "greeting"])
        .output()
        .unwrap();
    assert!(vaulted.status.success(), "{vaulted:?}");
    let vaulted: String = String::from_utf8(vaulted.stdout)
        .unwrap()
        .lines()
        .map(|line| format!("    {line}\n"))
        .collect();
    // The canary is in the node's session environment (sshd AcceptEnv FD_*, ssh SendEnv),
    // so in the worker's, which ansible-runner sends back in its first status line. The play
    // keeps it in a file, without printing it, to show that it got there.
    lab.sandbox.write(
        "assets/playbooks/secrets.yml",
        &format!(
            "- name: Secrets on the node\n  hosts: all\n  gather_facts: false\n  vars:\n{vaulted}  \
             tasks:\n    - name: Keep the session's canary\n      ansible.builtin.copy:\n        \
             dest: \"{{{{ demo_root }}}}/{{{{ inventory_hostname }}}}.canary\"\n        \
             content: \"{{{{ lookup('env', 'FD_CANARY') }}}}\"\n      no_log: true\n    \
             - name: Show the vaulted greeting\n      ansible.builtin.debug:\n        \
             msg: \"greeting={{{{ greeting }}}}\"\n"
        ),
    );
    let mut node = lab.node("exec-a", "exec-a", 1);
    let remote = node.remote.as_mut().unwrap();
    remote
        .ssh_options
        .extend(["-o".to_string(), "SendEnv=FD_CANARY".to_string()]);
    lab.configure(
        1,
        &[node],
        "playbooks: {provision: assets/playbooks/provision.yml, deploy: \
         assets/playbooks/deploy.yml, check: assets/playbooks/secrets.yml}\n",
    );
    lab.install("exec-a");

    let mut command = lab.fleetdeck(&["run", "check", "web-01", "--vault-password-file"]);
    command.arg(&password_file).env("FD_CANARY", &canary);
    let out = nodes::output_within(&mut command, LIMIT);
    let said = said_by(&out);
    assert_eq!(out.status.code(), Some(0), "{said}");
    let runs = lab.runs();
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!(runs[0].on(), "exec-a");

    let seen = lab.sandbox.demo_root.join("web-01.canary");
    assert_eq!(
        std::fs::read_to_string(&seen).unwrap_or_default(),
        canary,
        "the worker's environment held the canary"
    );
    let log = lab.log_of(&runs[0]);
    assert!(
        log.contains(&format!("greeting={greeting}")),
        "decrypted on the node:\n{log}"
    );

    let mut places: Vec<(String, String)> = lab
        .logs()
        .into_iter()
        .map(|(path, text)| (path.display().to_string(), text))
        .collect();
    assert!(!places.is_empty());
    places.push(("the journal".into(), lab.sandbox.journal(nodes::ENV)));
    places.push(("fleetdeck's output".into(), said.clone()));
    for (place, text) in &places {
        assert!(!text.contains(&canary), "the canary is in {place}:\n{text}");
        assert!(
            !text.contains(&password),
            "the vault password is in {place}:\n{text}"
        );
    }
    assert_eq!(lab.run_dirs("exec-a"), Vec::<String>::new());
}
