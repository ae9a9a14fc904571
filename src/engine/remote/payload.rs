//! What a remote run sends to `ansible-runner worker`: the kwargs line, and the private data
//! dir as one zip (deflate) in base64, framed as ansible-runner's transmit stream.
//!
//! The zip is the same for every run of an environment (the run's own choices travel in the
//! kwargs), so it is built once, kept encoded, and shared by every run until the inventory or
//! the playbooks change (the caller builds a new one then). It holds real files only, as
//! runner would send a symlink as a link: `project/` (each playbook's folder with what sits
//! beside it, the root's `ansible.cfg`, `roles/`, `collections/`) and `inventory/` (a static
//! snapshot of the controller's inventory, and the `group_vars/` and `host_vars/` beside it).

mod files;
mod snapshot;

use crate::engine::model::{Action, Item};
use crate::secrets::{Kind, Secret};
use anyhow::{Context, Result};
use base64::Engine as _;
use serde_json::json;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use snapshot::inventory_yaml;

/// Where the node's inventory snapshot sits in the private data dir.
pub const INVENTORY_FILE: &str = "inventory/hosts.yml";
/// How often runner's pexpect loop looks at a cancel (its default is 5 s): a node-side safety
/// net, the guard does the real stopping.
const PEXPECT_TIMEOUT_SECONDS: u64 = 1;

/// What a payload is built from.
#[derive(Clone)]
pub struct Sources {
    /// The project root the playbook paths (and a relative inventory path) are relative to.
    pub root: PathBuf,
    pub playbooks: HashMap<Action, PathBuf>,
    pub inventory: PathBuf,
    /// What `ansible-inventory -i <inventory> --list` printed on the controller.
    pub inventory_list_json: Vec<u8>,
}

/// Without the list's bytes: a vaulted file's vars are in it decrypted.
impl std::fmt::Debug for Sources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sources")
            .field("root", &self.root)
            .field("playbooks", &self.playbooks)
            .field("inventory", &self.inventory)
            .finish_non_exhaustive()
    }
}

/// The private data dir of every run of one environment, zipped once and kept in base64.
#[derive(Clone)]
pub struct Payload {
    zip_len: usize,
    base64: Arc<Vec<u8>>,
    /// Each action's playbook, relative to `project/` (the worker's cwd).
    playbooks: HashMap<Action, String>,
}

/// Sizes and playbooks only: the zip may hold secrets (a vaulted file's vars come out of
/// `ansible-inventory --list` decrypted).
impl std::fmt::Debug for Payload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Payload")
            .field("zip_len", &self.zip_len)
            .field("playbooks", &self.playbooks)
            .finish_non_exhaustive()
    }
}

impl Payload {
    /// The zip's size in bytes (what the `{"zipfile": N}` line announces).
    pub fn zip_len(&self) -> usize {
        self.zip_len
    }

    /// The zip in base64, exactly `4 * ceil(zip_len / 3)` bytes, no newline.
    pub fn base64(&self) -> &[u8] {
        &self.base64
    }

    /// `action`'s playbook as the worker finds it from `project/`.
    pub fn playbook(&self, action: Action) -> Option<&str> {
        self.playbooks.get(&action).map(String::as_str)
    }
}

/// What the payload is made of, as names, sizes and modification times: when it changes (a
/// playbook, a role, a vars file or the inventory was edited), the payload is built again,
/// so that runs on nodes never use other files than runs here. Blocking (walks the folders).
pub fn fingerprint(sources: &Sources) -> Result<u64> {
    use std::hash::{Hash, Hasher};
    let listed = files::listing(sources, Vec::new())?;
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    let stamp = |path: &std::path::Path, hasher: &mut std::collections::hash_map::DefaultHasher| {
        if let Ok(meta) = std::fs::metadata(path) {
            meta.len().hash(hasher);
            meta.modified().ok().hash(hasher);
        }
    };
    for (name, content) in &listed.entries {
        name.hash(&mut hasher);
        if let files::Content::File { path, .. } = content {
            stamp(path, &mut hasher);
        }
    }
    // The inventory's own files: its snapshot is made from what ansible-inventory reads there.
    let inventory = sources.root.join(&sources.inventory);
    let mut todo = vec![inventory];
    while let Some(path) = todo.pop() {
        path.hash(&mut hasher);
        stamp(&path, &mut hasher);
        if let Ok(entries) = std::fs::read_dir(&path) {
            let mut inside: Vec<_> = entries.flatten().map(|entry| entry.path()).collect();
            inside.sort();
            todo.extend(inside.into_iter().filter(|path| !path.ends_with(".git")));
        }
    }
    Ok(hasher.finish())
}

/// Zips what every run of the environment needs. Blocking (reads the project's files).
pub fn build(sources: &Sources) -> Result<Payload> {
    let inventory = inventory_yaml(&sources.inventory_list_json)
        .context("turning the inventory into a snapshot for the nodes")?;
    let listed = files::listing(sources, inventory.into_bytes())?;
    let zip = files::zip(&listed.entries).context("zipping the payload for the nodes")?;
    Ok(Payload {
        zip_len: zip.len(),
        base64: Arc::new(
            base64::engine::general_purpose::STANDARD
                .encode(&zip)
                .into_bytes(),
        ),
        playbooks: listed.playbooks,
    })
}

/// One run's part of the stream.
pub struct RunInput<'a> {
    pub item: &'a Item,
    /// The run's ident on the node (its artifacts folder, and the events' `runner_ident`).
    pub ident: &'a str,
    pub payload: &'a Payload,
    /// The action's timeout: the node stops the run after it too (`job_timeout`).
    pub timeout: Duration,
    pub secrets: &'a [(Kind, Secret)],
    /// The key for ssh to the managed hosts (`hosts_ssh_key`): runner holds it in an
    /// ssh-agent for the run and removes the file.
    pub ssh_key: Option<&'a Secret>,
}

/// The kwargs of `ansible_runner.interface.run()` for one run, and only those it needs: the
/// worker dies with an empty stream on a keyword its version does not know.
pub fn kwargs(run: &RunInput) -> serde_json::Value {
    let item = run.item;
    // A payload built from the environment's configuration has every action's playbook; an
    // empty one makes the worker report the failure as the run's status.
    let playbook = run.payload.playbook(item.action).unwrap_or_default();
    let mut kwargs = json!({
        "ident": run.ident,
        "playbook": playbook,
        "limit": crate::engine::limit::exact(&item.server),
        "settings": {
            "job_timeout": run.timeout.as_secs_f64().ceil().max(1.0) as u64,
            "pexpect_timeout": PEXPECT_TIMEOUT_SECONDS,
        },
        "envvars": {
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_NOCOLOR": "1",
            "PYTHONUNBUFFERED": "1",
        },
    });
    let cmdline = cmdline(item, run.secrets);
    if !cmdline.is_empty() {
        kwargs["cmdline"] = json!(cmdline);
    }
    let passwords = passwords(run.secrets);
    if !passwords.is_empty() {
        kwargs["passwords"] = serde_json::Value::Object(passwords);
    }
    if let Some(key) = run.ssh_key {
        kwargs["ssh_key"] = json!(String::from_utf8_lossy(key.expose()));
    }
    kwargs
}

/// `ansible-playbook`'s options for the run (as a local run gets them), one string that runner
/// splits as a shell would.
fn cmdline(item: &Item, secrets: &[(Kind, Secret)]) -> String {
    let mut args: Vec<String> = Vec::new();
    if !item.tags.is_empty() {
        args.push("--tags".into());
        args.push(item.tags.join(","));
    }
    if item.check_mode {
        args.push("--check".into());
        args.push("--diff".into());
    }
    // The passwords themselves go to ansible's prompts (runner answers them through its pty),
    // never in argv.
    for (kind, _) in secrets {
        args.push(ask_option(*kind).into());
    }
    args.iter()
        .map(|arg| shlex::try_quote(arg).map_or_else(|_| arg.clone(), |q| q.into_owned()))
        .collect::<Vec<_>>()
        .join(" ")
}

fn ask_option(kind: Kind) -> &'static str {
    match kind {
        Kind::Vault => "--ask-vault-pass",
        Kind::Become => "--ask-become-pass",
    }
}

/// The prompt `ansible-playbook` 2.19 shows for each `--ask-…-pass`, as the regex runner
/// matches (multi-line mode) to answer it.
fn prompt_regex(kind: Kind) -> &'static str {
    match kind {
        Kind::Vault => r"Vault password:\s*?$",
        Kind::Become => r"BECOME password.*:\s*?$",
    }
}

/// Runner writes these to `env/passwords` in the node's private data dir for the run's length
/// (measured): the worker must run with `--delete`, and `worker cleanup` after a crash.
fn passwords(secrets: &[(Kind, Secret)]) -> serde_json::Map<String, serde_json::Value> {
    secrets
        .iter()
        .map(|(kind, secret)| {
            // JSON carries text: a password that is not UTF-8 cannot cross as it is.
            let answer = String::from_utf8_lossy(secret.expose()).into_owned();
            (prompt_regex(*kind).to_string(), json!(answer))
        })
        .collect()
}

/// The worker's whole stdin for one run:
/// `{"kwargs": …}\n{"zipfile": N}\n<base64, no newline>{"eof": true}\n`.
pub fn transmit(kwargs: &serde_json::Value, payload: &Payload) -> Vec<u8> {
    let head = format!(
        "{}\n{}\n",
        json!({ "kwargs": kwargs }),
        json!({ "zipfile": payload.zip_len })
    );
    let tail = "{\"eof\": true}\n";
    let mut stream = Vec::with_capacity(head.len() + payload.base64.len() + tail.len());
    stream.extend_from_slice(head.as_bytes());
    stream.extend_from_slice(&payload.base64);
    stream.extend_from_slice(tail.as_bytes());
    stream
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload() -> Payload {
        Payload {
            zip_len: 4,
            base64: Arc::new(b"UEsFBg==".to_vec()),
            playbooks: HashMap::from([(Action::Deploy, "plays/deploy.yml".to_string())]),
        }
    }

    fn deploy(server: &str) -> Item {
        Item::requested(7, server, Action::Deploy, chrono::Utc::now())
    }

    fn run<'a>(
        item: &'a Item,
        payload: &'a Payload,
        secrets: &'a [(Kind, Secret)],
    ) -> RunInput<'a> {
        RunInput {
            item,
            ident: "run-7",
            payload,
            timeout: Duration::from_millis(90_500),
            secrets,
            ssh_key: None,
        }
    }

    #[test]
    fn the_hosts_ssh_key_travels_whole_in_the_kwargs() {
        let payload = payload();
        let item = deploy("web-01");
        let key = Secret::key(
            b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbg==\n-----END OPENSSH PRIVATE KEY-----\n"
                .to_vec(),
        )
        .unwrap();
        let mut input = run(&item, &payload, &[]);
        input.ssh_key = Some(&key);
        let sent = kwargs(&input);
        assert_eq!(
            sent["ssh_key"],
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbg==\n-----END OPENSSH PRIVATE KEY-----\n",
            "the final newline is part of the key"
        );
        assert!(kwargs(&run(&item, &payload, &[])).get("ssh_key").is_none());
    }

    #[test]
    fn a_plain_run_sends_only_what_the_worker_knows() {
        let payload = payload();
        let item = deploy("!web");
        let kwargs = kwargs(&run(&item, &payload, &[]));
        assert_eq!(
            kwargs,
            json!({
                "ident": "run-7",
                "playbook": "plays/deploy.yml",
                "limit": crate::engine::limit::exact("!web"),
                "settings": {"job_timeout": 91, "pexpect_timeout": 1},
                "envvars": {"ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_NOCOLOR": "1", "PYTHONUNBUFFERED": "1"},
            })
        );
    }

    #[test]
    fn tags_check_mode_and_secrets_become_options_and_prompt_answers() {
        let payload = payload();
        let mut item = deploy("web-01");
        item.tags = vec!["release".into(), "switch over".into()];
        item.check_mode = true;
        let secrets = [
            (Kind::Vault, Secret::new("v4ult").unwrap()),
            (Kind::Become, Secret::new("b3come").unwrap()),
        ];
        let kwargs = kwargs(&run(&item, &payload, &secrets));
        let cmdline = kwargs["cmdline"].as_str().unwrap();
        assert_eq!(
            shlex::split(cmdline).unwrap(),
            [
                "--tags",
                "release,switch over",
                "--check",
                "--diff",
                "--ask-vault-pass",
                "--ask-become-pass"
            ]
        );
        assert!(!cmdline.contains("v4ult") && !cmdline.contains("b3come"));
        assert_eq!(
            kwargs["passwords"],
            json!({r"Vault password:\s*?$": "v4ult", r"BECOME password.*:\s*?$": "b3come"})
        );
    }

    #[test]
    fn the_stream_frames_kwargs_zip_and_eof() {
        let payload = payload();
        let stream = transmit(&json!({"ident": "x"}), &payload);
        assert_eq!(
            String::from_utf8(stream).unwrap(),
            "{\"kwargs\":{\"ident\":\"x\"}}\n{\"zipfile\":4}\nUEsFBg=={\"eof\": true}\n"
        );
    }
}
