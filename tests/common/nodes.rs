//! A project whose runs go to execution nodes: the demo (tests/common's `Sandbox`) plus real
//! loopback sshd "nodes" (tests/common/sshd.rs) on which fleetdeck's guard runs the repo's own
//! ansible-runner, each node with a work dir of its own. All nodes are this machine, so the
//! demo's `demo_root` is one literal folder that local and remote runs share (a deploy on
//! exec-b finds what a provision on exec-a laid out).
#![allow(dead_code)]

#[path = "nodes_journal.rs"]
mod journal;

#[allow(unused_imports)] // only some of the test files name it
pub use journal::Ran;

use crate::common::sshd::SshFleet;
use crate::common::{REPO, Sandbox};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The environment every lab runs in (the demo's inventory, copied).
pub const ENV: &str = "demo";

/// One `execution_nodes` entry, written as the operator would.
#[derive(Clone, Debug)]
pub struct NodeEntry {
    pub name: String,
    /// `local` (this machine) has no ssh side.
    pub remote: Option<RemoteEntry>,
    pub capacity: u32,
}

#[derive(Clone, Debug)]
pub struct RemoteEntry {
    pub destination: String,
    pub ssh_options: Vec<String>,
    pub worker: PathBuf,
    pub work_dir: PathBuf,
    pub guard: Option<PathBuf>,
}

impl NodeEntry {
    pub fn local(capacity: u32) -> NodeEntry {
        NodeEntry {
            name: "local".into(),
            remote: None,
            capacity,
        }
    }

    fn yaml(&self) -> String {
        let mut yaml = format!("  - name: {}\n    capacity: {}\n", self.name, self.capacity);
        if let Some(remote) = &self.remote {
            let options: Vec<String> = remote
                .ssh_options
                .iter()
                .map(|option| serde_json::to_string(option).unwrap())
                .collect();
            yaml.push_str(&format!(
                "    ssh: {}\n    ssh_options: [{}]\n    worker: {}\n    work_dir: {}\n",
                remote.destination,
                options.join(", "),
                remote.worker.display(),
                remote.work_dir.display()
            ));
            if let Some(guard) = &remote.guard {
                yaml.push_str(&format!("    guard: {}\n", guard.display()));
            }
        }
        yaml
    }
}

pub struct NodeLab {
    pub sandbox: Sandbox,
    pub fleet: SshFleet,
}

impl NodeLab {
    /// One sshd per name in `nodes`, and the demo project with its `.venv` and a literal
    /// `demo_root`.
    pub fn start(nodes: &[&str]) -> NodeLab {
        let sandbox = Sandbox::demo();
        std::os::unix::fs::symlink(Path::new(REPO).join(".venv"), sandbox.root.join(".venv"))
            .unwrap();
        std::fs::create_dir_all(&sandbox.demo_root).unwrap();
        let hosts = sandbox.root.join("inventory").join(ENV).join("hosts.yml");
        let demo = std::fs::read_to_string(&hosts).unwrap();
        let literal: String = demo
            .lines()
            .map(|line| match line.trim_start().starts_with("demo_root:") {
                true => format!("    demo_root: {}", sandbox.demo_root.display()),
                false => line.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n");
        assert_ne!(demo, literal, "the demo inventory no longer sets demo_root");
        std::fs::write(&hosts, literal + "\n").unwrap();
        NodeLab {
            fleet: SshFleet::start(nodes),
            sandbox,
        }
    }

    /// Adds inventory group `group` holding `hosts` (already in the demo), e.g. for node_for.
    pub fn add_group(&self, group: &str, hosts: &[&str]) {
        let path = self.root().join("inventory").join(ENV).join("hosts.yml");
        let mut inventory = std::fs::read_to_string(&path).unwrap();
        inventory.push_str(&format!("    {group}:\n      hosts:\n"));
        for host in hosts {
            inventory.push_str(&format!("        {host}: {{}}\n"));
        }
        std::fs::write(path, inventory).unwrap();
    }

    /// `inventory/<env>/host_vars/<host>.yml`, which wins over the demo's own host vars.
    pub fn host_vars(&self, host: &str, yaml: &str) {
        self.sandbox
            .write(&format!("inventory/{ENV}/host_vars/{host}.yml"), yaml);
    }

    pub fn root(&self) -> &Path {
        &self.sandbox.root
    }

    /// A node reached at sshd `host` of the fleet, running the repo's ansible-runner in a work
    /// dir of its own (named after the node, so two nodes on one sshd never share it).
    pub fn node(&self, name: &str, host: &str, capacity: u32) -> NodeEntry {
        let sshd = self.fleet.host(host);
        NodeEntry {
            name: name.into(),
            capacity,
            remote: Some(RemoteEntry {
                destination: format!("{}@{}", self.fleet.user, sshd.addr),
                ssh_options: vec![
                    "-p".into(),
                    sshd.port.to_string(),
                    "-i".into(),
                    self.fleet.key().display().to_string(),
                    "-o".into(),
                    "IdentitiesOnly=yes".into(),
                    "-o".into(),
                    format!("UserKnownHostsFile={}", self.fleet.known_hosts().display()),
                    "-o".into(),
                    "StrictHostKeyChecking=yes".into(),
                    "-o".into(),
                    "ConnectTimeout=10".into(),
                    "-o".into(),
                    "LogLevel=ERROR".into(),
                ],
                worker: crate::common::ansible_runner(),
                work_dir: self.work_dir(name),
                guard: None,
            }),
        }
    }

    pub fn work_dir(&self, node: &str) -> PathBuf {
        self.root()
            .parent()
            .unwrap()
            .join(format!("node-{node}/work"))
    }

    /// Run folders (`fd-*`) in the node's work dir now.
    pub fn run_dirs(&self, node: &str) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.work_dir(node)) else {
            return Vec::new();
        };
        let mut dirs: Vec<String> = entries
            .flatten()
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .filter(|name| name.starts_with("fd-"))
            .collect();
        dirs.sort();
        dirs
    }

    /// config.yml: health checks, the pool, the nodes, and `extra` (YAML lines: node_for,
    /// cancel_grace …); the demo's playbooks unless `extra` names its own.
    pub fn configure(&self, workers: u32, nodes: &[NodeEntry], extra: &str) {
        let mut config = format!("max_parallel_workers: {workers}\nhealth_check_enabled: true\n");
        if !extra.lines().any(|line| line.starts_with("playbooks:")) {
            config.push_str(
                "playbooks: {provision: assets/playbooks/provision.yml, deploy: \
                 assets/playbooks/deploy.yml, check: assets/playbooks/check.yml}\n",
            );
        }
        config.push_str("execution_nodes:\n");
        for node in nodes {
            config.push_str(&node.yaml());
        }
        config.push_str(extra);
        self.sandbox
            .write(&format!("inventory/{ENV}/config.yml"), &config);
    }

    /// `fleetdeck --root P -e ENV <args>`.
    pub fn fleetdeck(&self, args: &[&str]) -> Command {
        let mut command = self.sandbox.fleetdeck();
        command.args(["-e", ENV]).args(args);
        command
    }

    /// `fleetdeck node install <node>`, which must put the guard there and find the node usable.
    pub fn install(&self, node: &str) {
        let out = self.fleetdeck(&["node", "install", node]).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("installed fleetdeck's guard"),
            "node install {node}: {}\n{stdout}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `fleetdeck run <args>` to its end (bounded by `limit`).
    pub fn run(&self, args: &[&str], limit: Duration) -> Output {
        let mut command = self.fleetdeck(&[&["run"], args].concat());
        output_within(&mut command, limit)
    }
}

/// Runs `command` to its end, killing it (and failing) after `limit`.
pub fn output_within(command: &mut Command, limit: Duration) -> Output {
    let child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_output(child, limit)
}

/// Reads a started child's output to its end, killing it (and failing) after `limit`.
pub fn wait_output(child: std::process::Child, limit: Duration) -> Output {
    let pid = child.id() as i32;
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let output = child.wait_with_output().unwrap();
        let _ = done_tx.send(());
        output
    });
    if done_rx.recv_timeout(limit).is_err() {
        let _ = KillOnDrop(pid);
        let output = waiter.join().unwrap();
        panic!(
            "fleetdeck did not end within {limit:?}\nstdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    waiter.join().unwrap()
}

/// SIGKILLs the process when dropped: a test that fails midway leaves no fleetdeck running.
/// Once the process was waited for, `defuse` it (its pid may belong to another by then).
pub struct KillOnDrop(pub i32);

impl KillOnDrop {
    pub fn defuse(self) {
        std::mem::forget(self);
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.0),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

/// Polls `check` until it gives a value or `limit` passes.
pub fn wait_for<T>(limit: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check() {
            return Some(value);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// What a finished fleetdeck said, for an assertion's message.
pub fn said_by(out: &std::process::Output) -> String {
    format!(
        "exit {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
