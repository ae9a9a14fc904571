//! A generated environment of N local-connection servers in 20 groups, with the stand-in
//! `ansible-playbook` (sleeps, prints like ansible, writes our events) and an `ansible-inventory`
//! stand-in that prints the inventory's `--list` JSON at once: the runs, not the inventory read,
//! are what these figures compare (the inventory read has figures of its own).

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::procstat::own_cpu_seconds;

pub const REPO: &str = env!("CARGO_MANIFEST_DIR");
pub const BINARY: &str = env!("CARGO_BIN_EXE_fleetdeck");
pub const GROUPS: usize = 20;

pub struct Fleet {
    pub root: PathBuf,
    pub env: String,
    pub hosts: Vec<String>,
    pub bin: PathBuf,
}

impl Fleet {
    pub fn new(work: &Path, env: &str, servers: usize, workers: u32) -> Fleet {
        let root = work.join(env);
        let env_dir = root.join("inventory").join(env);
        let bin = root.join("bin");
        std::fs::create_dir_all(&env_dir).unwrap();
        std::fs::create_dir_all(&bin).unwrap();
        let hosts: Vec<String> = (0..servers).map(|n| format!("srv-{n:06}")).collect();
        let mut groups = serde_json::Map::new();
        let mut children = Vec::new();
        for g in 0..GROUPS {
            let name = format!("group{g:02}");
            let members: Vec<&String> = hosts.iter().skip(g).step_by(GROUPS).collect();
            groups.insert(name.clone(), serde_json::json!({ "hosts": members }));
            children.push(name);
        }
        groups.insert("all".into(), serde_json::json!({ "children": children }));
        groups.insert("_meta".into(), serde_json::json!({ "hostvars": {} }));
        std::fs::write(
            root.join("inventory.json"),
            serde_json::to_vec(&serde_json::Value::Object(groups)).unwrap(),
        )
        .unwrap();
        std::fs::write(
            env_dir.join("hosts.yml"),
            "all:\n  vars:\n    ansible_connection: local\n",
        )
        .unwrap();
        std::fs::write(root.join("check.yml"), "- hosts: all\n  tasks: []\n").unwrap();
        let fake = Path::new(REPO).join("tests/fixtures/fake-ansible-playbook");
        std::fs::copy(&fake, bin.join("ansible-playbook")).unwrap();
        write_script(
            &bin.join("ansible-inventory"),
            &format!(
                "#!/bin/sh\nexec cat '{}'\n",
                root.join("inventory.json").display()
            ),
        );
        std::fs::write(
            env_dir.join("config.yml"),
            format!(
                "max_parallel_workers: {workers}\nansible_playbook: {}\nplaybooks: {{check: {}}}\nconfirm_actions: false\nhealth_check_enabled: false\n",
                bin.join("ansible-playbook").display(),
                root.join("check.yml").display(),
            ),
        )
        .unwrap();
        Fleet {
            root,
            env: env.to_string(),
            hosts,
            bin,
        }
    }

    pub fn journal(&self) -> PathBuf {
        self.root
            .join(".fleetdeck")
            .join(&self.env)
            .join("journal.jsonl")
    }

    /// `fleetdeck run check --all`: wall time and fleetdeck's own CPU-seconds (its threads
    /// only, not the runs it started).
    pub fn headless(&self, stand_in_sleep: &str) -> (Duration, f64) {
        let started = Instant::now();
        let mut child = Command::new(BINARY)
            .args(["--root"])
            .arg(&self.root)
            .args(["-e", &self.env, "run", "check", "--all", "--json"])
            .env("FAKE_SLEEP", stand_in_sleep)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id().to_string();
        let mut cpu = 0.0;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                assert!(status.success(), "fleetdeck run failed: {status}");
                break;
            }
            // Its own threads' time, read until it exits (the children's time is not in it).
            cpu = own_cpu_seconds(&pid).unwrap_or(cpu);
            std::thread::sleep(Duration::from_millis(20));
        }
        (started.elapsed(), cpu)
    }

    /// The same stand-in, one process per server, `xargs -P workers`.
    pub fn xargs(&self, workers: u32, stand_in_sleep: &str) -> Duration {
        let started = Instant::now();
        let mut child = Command::new("xargs")
            .args(["-P", &workers.to_string(), "-I{}"])
            .arg(self.bin.join("ansible-playbook"))
            .args(["-i", "hosts.yml", "check.yml", "--limit", "{},"])
            .env("FAKE_SLEEP", stand_in_sleep)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        std::io::Write::write_all(&mut stdin, (self.hosts.join("\n") + "\n").as_bytes()).unwrap();
        drop(stdin);
        assert!(child.wait().unwrap().success());
        started.elapsed()
    }
}

pub fn write_script(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    let mut perms = std::fs::metadata(path).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(path, perms).unwrap();
}

/// Counts `finished` records as the journal grows (another process writes it).
pub struct JournalWatch {
    path: PathBuf,
    offset: u64,
    partial: Vec<u8>,
    pub finished: usize,
}

impl JournalWatch {
    pub fn new(path: PathBuf) -> JournalWatch {
        JournalWatch {
            path,
            offset: 0,
            partial: Vec::new(),
            finished: 0,
        }
    }

    pub fn poll(&mut self) -> usize {
        let Ok(mut file) = std::fs::File::open(&self.path) else {
            return self.finished;
        };
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        if len < self.offset {
            // Rewritten (compacted): count again from the start.
            self.offset = 0;
            self.partial.clear();
            self.finished = 0;
        }
        file.seek(SeekFrom::Start(self.offset)).unwrap();
        let mut fresh = Vec::new();
        file.read_to_end(&mut fresh).unwrap();
        self.offset += fresh.len() as u64;
        self.partial.extend_from_slice(&fresh);
        let complete = match self.partial.iter().rposition(|b| *b == b'\n') {
            Some(end) => end + 1,
            None => return self.finished,
        };
        let lines: Vec<u8> = self.partial.drain(..complete).collect();
        self.finished += lines
            .split(|b| *b == b'\n')
            .filter(|line| line.starts_with(br#"{"kind":"finished""#))
            .count();
        self.finished
    }
}
