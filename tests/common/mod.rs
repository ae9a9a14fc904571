//! A throwaway project root per test: the demo environment and playbooks copied into a temp
//! folder, so runs, logs and journals of parallel tests never meet.
#![allow(dead_code)]

mod procfs;
pub mod sshd;
pub use procfs::{all_pids, stat_of};

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const REPO: &str = env!("CARGO_MANIFEST_DIR");

pub struct Sandbox {
    _dir: tempfile::TempDir,
    pub root: PathBuf,
    /// Where the demo playbooks write their per-host folders.
    pub demo_root: PathBuf,
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

impl Sandbox {
    pub fn demo() -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("project");
        copy_tree(
            &Path::new(REPO).join("inventory/demo"),
            &root.join("inventory/demo"),
        );
        copy_tree(
            &Path::new(REPO).join("assets/playbooks"),
            &root.join("assets/playbooks"),
        );
        let demo_root = dir.path().join("hosts");
        Sandbox {
            _dir: dir,
            root,
            demo_root,
        }
    }

    pub fn write(&self, relative: &str, content: &str) {
        let path = self.root.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }

    /// The real binary, pointed at this sandbox and at the project's ansible-core.
    pub fn fleetdeck(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_fleetdeck"));
        command
            .arg("--root")
            .arg(&self.root)
            .env("FLEETDECK_ANSIBLE_PLAYBOOK", ansible_playbook())
            .env("FLEETDECK_DEMO_ROOT", &self.demo_root)
            .stdin(Stdio::null());
        command
    }

    /// `fleetdeck status -e <env> --json`, which must succeed.
    pub fn status_json(&self, env: &str) -> serde_json::Value {
        let out = self
            .fleetdeck()
            .args(["status", "-e", env, "--json"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    pub fn journal(&self, env: &str) -> String {
        std::fs::read_to_string(self.root.join(".fleetdeck").join(env).join("journal.jsonl"))
            .unwrap_or_default()
    }

    /// ansible processes working for this sandbox (their argv names its inventory).
    pub fn ansible_processes(&self) -> Vec<(i32, String)> {
        let needle = self.root.display().to_string();
        let mut found = Vec::new();
        for pid in all_pids() {
            let Ok(raw) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
                continue;
            };
            let cmdline = String::from_utf8_lossy(&raw).replace('\0', " ");
            let zombie = stat_of(pid).is_some_and(|stat| stat.zombie);
            if !zombie && cmdline.contains("ansible") && cmdline.contains(&needle) {
                found.push((pid, cmdline));
            }
        }
        found
    }

    /// Waits (bounded) for every ansible process of this sandbox to be gone; returns the rest.
    pub fn ansible_left_after(&self, limit: Duration) -> Vec<(i32, String)> {
        let deadline = Instant::now() + limit;
        loop {
            let left = self.ansible_processes();
            if left.is_empty() || Instant::now() > deadline {
                return left;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

pub fn ansible_playbook() -> PathBuf {
    let path = Path::new(REPO).join(".venv/bin/ansible-playbook");
    assert!(
        path.exists(),
        "ansible-core is not installed: run .ci/setup first"
    );
    path
}

/// The repo's own ansible-runner, which the execution-node tests run as a node's worker.
pub fn ansible_runner() -> PathBuf {
    let path = Path::new(REPO).join(".venv/bin/ansible-runner");
    assert!(
        path.exists(),
        "ansible-runner is not installed in .venv: run .ci/setup first"
    );
    path
}

/// The node guard as fleetdeck ships it.
pub fn guard_script() -> PathBuf {
    Path::new(REPO).join("assets/node/fleetdeck-guard.py")
}

/// Reads a child's output line by line until `wanted` appears; returns every line read.
pub fn read_until(reader: &mut impl BufRead, wanted: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap() == 0 {
            panic!("output ended before `{wanted}`; read:\n{}", lines.join(""));
        }
        lines.push(line.clone());
        if line.contains(wanted) {
            return lines;
        }
    }
}

pub fn spawn_with_stdout(mut command: Command) -> (Child, BufReader<std::process::ChildStdout>) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    (child, stdout)
}

/// Which way runs start; every test with real ansible-core runs under both.
pub const RUNNERS: [&str; 2] = ["warm", "fresh"];

impl Sandbox {
    /// The demo, its runs started by `runner` (`warm` or `fresh`).
    pub fn demo_with_runner(runner: &str) -> Sandbox {
        let sandbox = Sandbox::demo();
        sandbox.set_runner("demo", runner);
        sandbox
    }

    pub fn set_runner(&self, env: &str, runner: &str) {
        let path = self.root.join("inventory").join(env).join("config.yml");
        let mut config = std::fs::read_to_string(&path).unwrap_or_default();
        config.push_str(&format!("\nrunner: {runner}\n"));
        std::fs::write(path, config).unwrap();
    }
}

/// `#[test] fn name()` under `warm::` and `fresh::` for each `fn name(runner: &str)` listed.
#[macro_export]
macro_rules! under_both_runners {
    ($($name:ident),* $(,)?) => {
        mod warm {
            $(#[test]
            fn $name() {
                super::$name("warm")
            })*
        }
        mod fresh {
            $(#[test]
            fn $name() {
                super::$name("fresh")
            })*
        }
    };
}
