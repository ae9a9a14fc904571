//! What a remote run sends, fed to a real `ansible-runner worker` (no ssh): the demo's check
//! runs on one host from the payload alone, an inline vaulted var decrypts with the password
//! given in the kwargs (which never comes back), tags and check mode reach ansible, the zip
//! holds only real files of the places it should, and the inventory snapshot reads back as
//! the controller's inventory.

mod payload_sources;

use fleetdeck::engine::model::{Action, Item};
use fleetdeck::engine::remote::payload::{self, Payload, RunInput, Sources};
use fleetdeck::secrets::{Kind, Secret};
use payload_sources::{REPO, demo_sources, list_json, vault_project, venv};
use serde_json::Value;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The node-side `job_timeout`: a stalled run ends as `timeout` within it.
const TIMEOUT: Duration = Duration::from_secs(60);

/// What the worker printed: its JSON lines (the artifacts' base64 line is not one), and all
/// of it as text.
struct WorkerOutput {
    lines: Vec<Value>,
    raw: String,
    success: bool,
    /// The node's side: the worker's private data dir (deleted with the output).
    work: tempfile::TempDir,
}

impl WorkerOutput {
    fn statuses(&self) -> Vec<&str> {
        self.lines
            .iter()
            .filter_map(|line| line.get("status")?.as_str())
            .collect()
    }

    fn events(&self, kind: &str) -> Vec<&Value> {
        self.lines
            .iter()
            .filter(|line| line.get("event").and_then(Value::as_str) == Some(kind))
            .collect()
    }

    /// The names of the tasks that had a result on `host`.
    fn tasks_done_on(&self, host: &str) -> Vec<String> {
        self.events("runner_on_ok")
            .into_iter()
            .filter(|event| event["event_data"]["host"] == host)
            .map(|event| event["event_data"]["task"].as_str().unwrap().to_string())
            .collect()
    }

    /// The files the run left in its private data dir on the "node" that hold `text`.
    fn files_holding(&self, text: &str) -> Vec<PathBuf> {
        fn walk(dir: &Path, text: &[u8], found: &mut Vec<PathBuf>) {
            for entry in std::fs::read_dir(dir).unwrap().flatten() {
                let path = entry.path();
                let kind = entry.file_type().unwrap();
                if kind.is_dir() {
                    walk(&path, text, found);
                } else if kind.is_file() {
                    let bytes = std::fs::read(&path).unwrap();
                    if bytes.windows(text.len()).any(|window| window == text) {
                        found.push(path);
                    }
                }
            }
        }
        let mut found = Vec::new();
        walk(self.work.path(), text.as_bytes(), &mut found);
        found
    }

    fn debug_messages(&self) -> Vec<String> {
        self.events("runner_on_ok")
            .into_iter()
            .filter_map(|event| Some(event["event_data"]["res"]["msg"].as_str()?.to_string()))
            .collect()
    }
}

/// Runs `ansible-runner worker --delete` on `stream`, as a node would, in a private data dir
/// of its own.
fn worker(stream: &[u8], demo_root: &Path) -> WorkerOutput {
    let work = tempfile::tempdir().unwrap();
    let path = format!(
        "{}:{}",
        Path::new(REPO).join(".venv/bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut child = Command::new(venv("ansible-runner"))
        .arg("worker")
        .arg("--delete")
        .arg("--private-data-dir")
        .arg(work.path().join("pdd"))
        .env("PATH", path)
        .env("FLEETDECK_DEMO_ROOT", demo_root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = stream.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let mut stderr = child.stderr.take().unwrap();
    let stderr_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let mut raw = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut raw)
        .unwrap();
    writer.join().unwrap().unwrap();
    let status = child.wait().unwrap();
    let stderr = stderr_reader.join().unwrap();
    let lines: Vec<Value> = raw
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    assert!(
        !lines.is_empty(),
        "the worker printed nothing (exit {status}):\n{stderr}"
    );
    WorkerOutput {
        lines,
        raw,
        success: status.success(),
        work,
    }
}

fn run_input<'a>(
    item: &'a Item,
    payload: &'a Payload,
    secrets: &'a [(Kind, Secret)],
) -> RunInput<'a> {
    RunInput {
        item,
        ident: "fleetdeck-test-1",
        payload,
        timeout: TIMEOUT,
        secrets,
        ssh_key: None,
    }
}

fn item(server: &str, action: Action) -> Item {
    Item::requested(1, server, action, chrono::Utc::now())
}

/// A deployed release on `host`, as the demo's deploy leaves it: what the check looks for.
fn deployed(demo_root: &Path, host: &str, version: &str) {
    let release = demo_root.join(host).join("releases").join(version);
    std::fs::create_dir_all(&release).unwrap();
    std::fs::write(release.join("VERSION"), format!("{version}\n")).unwrap();
    std::os::unix::fs::symlink(&release, demo_root.join(host).join("current")).unwrap();
}

#[test]
fn the_demo_check_runs_on_one_host_from_the_payload_alone() {
    let sources = demo_sources();
    let started = std::time::Instant::now();
    let payload = payload::build(&sources).unwrap();
    let built_in = started.elapsed();
    let demo_root = tempfile::tempdir().unwrap();
    deployed(demo_root.path(), "web-02", "4.2.0");
    let check = item("web-02", Action::Check);
    let kwargs = payload::kwargs(&run_input(&check, &payload, &[]));
    let stream = payload::transmit(&kwargs, &payload);
    eprintln!(
        "demo payload: zip {} bytes, base64 {} bytes, built in {built_in:?}; one run's stream {} bytes",
        payload.zip_len(),
        payload.base64().len(),
        stream.len()
    );
    let out = worker(&stream, demo_root.path());

    assert_eq!(out.statuses().last(), Some(&"successful"), "{}", out.raw);
    assert!(out.success);
    let tasks = out.tasks_done_on("web-02");
    assert!(tasks.contains(&"Report version".to_string()), "{tasks:?}");
    assert!(
        out.debug_messages()
            .contains(&"web-02 runs release 4.2.0".to_string()),
        "{:?}",
        out.debug_messages()
    );
    let stats = &out.events("playbook_on_stats")[0]["event_data"];
    let hosts: Vec<&String> = stats["processed"].as_object().unwrap().keys().collect();
    assert_eq!(hosts, ["web-02"], "only the limited host ran");
    assert_eq!(stats["failures"].as_object().map(|f| f.len()), Some(0));
}

#[test]
fn an_inline_vaulted_var_decrypts_on_the_node_and_the_passwords_never_come_back() {
    let project = vault_project();
    let payload = payload::build(&project.sources).unwrap();
    let become_password = "sudo-only-7f3a";
    // Both prompts come before the play: one left unanswered would stall the run until its
    // timeout.
    let secrets = [
        (Kind::Vault, Secret::new(project.password).unwrap()),
        (Kind::Become, Secret::new(become_password).unwrap()),
    ];
    let deploy = item("app-01", Action::Deploy);
    let kwargs = payload::kwargs(&run_input(&deploy, &payload, &secrets));
    let out = worker(
        &payload::transmit(&kwargs, &payload),
        Path::new("/nonexistent"),
    );

    assert_eq!(out.statuses().last(), Some(&"successful"), "{}", out.raw);
    assert!(
        out.debug_messages()
            .contains(&"play=from-play inventory=from-inventory".to_string()),
        "{:?}",
        out.debug_messages()
    );
    assert!(!out.raw.contains(project.password), "{}", out.raw);
    assert!(!out.raw.contains(become_password), "{}", out.raw);
    // Runner writes the kwargs' passwords to env/passwords for the run's length: `--delete`
    // leaves nothing on the node's disk that holds them.
    assert_eq!(out.files_holding(project.password), Vec::<PathBuf>::new());
    assert_eq!(out.files_holding(become_password), Vec::<PathBuf>::new());
}

#[test]
fn without_the_vault_password_the_run_fails_instead_of_hanging() {
    let project = vault_project();
    let payload = payload::build(&project.sources).unwrap();
    let deploy = item("app-01", Action::Deploy);
    let kwargs = payload::kwargs(&run_input(&deploy, &payload, &[]));
    let out = worker(
        &payload::transmit(&kwargs, &payload),
        Path::new("/nonexistent"),
    );
    assert_eq!(out.statuses().last(), Some(&"failed"), "{}", out.raw);
}

#[test]
fn tags_and_check_mode_reach_ansible() {
    let project = vault_project();
    let payload = payload::build(&project.sources).unwrap();
    let mut deploy = item("app-02", Action::Deploy);
    deploy.tags = vec!["modes".to_string()];
    deploy.check_mode = true;
    let kwargs = payload::kwargs(&run_input(&deploy, &payload, &[]));
    let out = worker(
        &payload::transmit(&kwargs, &payload),
        Path::new("/nonexistent"),
    );

    assert_eq!(out.statuses().last(), Some(&"successful"), "{}", out.raw);
    // Only the tagged task ran: the other one, with the vaulted vars, would have failed
    // without a password.
    assert_eq!(out.tasks_done_on("app-02"), ["Modes"]);
    assert_eq!(out.debug_messages(), ["check=True diff=True"]);
}

fn unzip(payload: &Payload) -> zip::ZipArchive<std::io::Cursor<Vec<u8>>> {
    use base64::Engine as _;
    let encoded = payload.base64();
    assert_eq!(encoded.len(), payload.zip_len().div_ceil(3) * 4);
    let zip = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap();
    assert_eq!(zip.len(), payload.zip_len());
    zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap()
}

/// Every file's name, and whether it is a regular file (not a link, not a folder) that only
/// its owner on the node may read.
fn entries(payload: &Payload) -> Vec<(String, bool)> {
    let mut archive = unzip(payload);
    (0..archive.len())
        .map(|index| {
            let file = archive.by_index(index).unwrap();
            let mode = file.unix_mode().unwrap_or(0);
            (
                file.name().unwrap().to_string(),
                mode & 0o170000 == 0o100000 && mode & 0o077 == 0,
            )
        })
        .collect()
}

#[test]
fn the_demo_zip_holds_real_files_of_the_listed_places_only_and_is_the_same_each_time() {
    let sources = demo_sources();
    let first = payload::build(&sources).unwrap();
    let names: Vec<String> = entries(&first)
        .into_iter()
        .map(|(name, regular)| {
            assert!(regular, "{name} is not a private regular file");
            name
        })
        .collect();
    assert_eq!(
        names,
        [
            "inventory/hosts.yml",
            "project/assets/playbooks/check.yml",
            "project/assets/playbooks/deploy.yml",
            "project/assets/playbooks/provision.yml",
        ]
    );
    assert_eq!(
        first.playbook(Action::Check),
        Some("assets/playbooks/check.yml")
    );
    let second = payload::build(&sources).unwrap();
    assert_eq!(first.base64(), second.base64(), "two builds differ");
}

#[test]
fn links_travel_as_their_content_and_git_and_pycache_stay_home() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("project");
    let outside = dir.path().join("shared");
    let write = |path: &Path, text: &str| {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write(&root.join("plays/site.yml"), "- hosts: all\n  tasks: []\n");
    write(&root.join("plays/.git/config"), "[core]\n");
    write(&root.join("plays/library/__pycache__/x.pyc"), "x");
    write(&root.join("plays/library/mod.py"), "print()\n");
    write(&outside.join("templates/motd.j2"), "hello\n");
    write(&outside.join("vars.yml"), "a: 1\n");
    write(&root.join("roles/web/tasks/main.yml"), "[]\n");
    write(&root.join("ansible.cfg"), "[defaults]\n");
    write(&root.join("README.md"), "not shipped\n");
    write(&root.join("inv/hosts.yml"), "all:\n  hosts:\n    h1:\n");
    write(&root.join("inv/group_vars/all.yml"), "b: 2\n");
    write(&root.join("inv/host_vars/h1.yml"), "c: 3\n");
    write(&root.join("inv/notes.txt"), "not shipped\n");
    std::os::unix::fs::symlink(outside.join("vars.yml"), root.join("plays/vars.yml")).unwrap();
    std::os::unix::fs::symlink(outside.join("templates"), root.join("plays/templates")).unwrap();
    std::os::unix::fs::symlink(".", root.join("plays/loop")).unwrap();
    std::os::unix::fs::symlink("/nonexistent", root.join("plays/dangling")).unwrap();
    let inventory = PathBuf::from("inv/hosts.yml");
    let sources = Sources {
        playbooks: HashMap::from([(Action::Check, PathBuf::from("plays/site.yml"))]),
        inventory_list_json: list_json(&root, &inventory),
        inventory,
        root,
    };
    let payload = payload::build(&sources).unwrap();
    let found = entries(&payload);
    let names: Vec<&str> = found.iter().map(|(name, _)| name.as_str()).collect();
    assert!(found.iter().all(|(_, regular)| *regular), "{found:?}");
    assert_eq!(
        names,
        [
            "inventory/group_vars/all.yml",
            "inventory/host_vars/h1.yml",
            "inventory/hosts.yml",
            "project/ansible.cfg",
            "project/plays/library/mod.py",
            "project/plays/site.yml",
            "project/plays/templates/motd.j2",
            "project/plays/vars.yml",
            "project/roles/web/tasks/main.yml",
        ]
    );
    let mut archive = unzip(&payload);
    let mut vars = String::new();
    archive
        .by_name("project/plays/vars.yml")
        .unwrap()
        .read_to_string(&mut vars)
        .unwrap();
    assert_eq!(vars, "a: 1\n");
}

/// The payload's `inventory/` read by ansible-inventory on the node gives what the
/// controller's inventory gave: same hosts, groups (in their order) and vars, vaulted and
/// unsafe values still marked, group and host vars files included.
#[test]
fn the_payloads_inventory_reads_back_as_the_controllers_inventory() {
    let project = vault_project();
    let tricky = tempfile::tempdir().unwrap();
    std::fs::write(
        tricky.path().join("hosts.yml"),
        "all:\n  vars: {top: 1}\n  children:\n    eu:\n      vars: {region: eu}\n      children:\n        web:\n          hosts:\n            w1: {yes_text: \"yes\", octal: \"0755\", sexagesimal: \"1:20\", tilde: \"~\", none: null, big: 1.0e+300, small: 2.5, multi: \"a\\nb\", unsafe: !unsafe '{{ x }}', list: [1, \"on\"], \"odd key\": {\"10.0.0.1\": \"\"}}\n        db:\n          hosts:\n            d1:\n    web:\n      hosts:\n        w2:\n",
    )
    .unwrap();
    let inventory = PathBuf::from("hosts.yml");
    let tricky_sources = Sources {
        root: tricky.path().to_path_buf(),
        playbooks: HashMap::new(),
        inventory_list_json: list_json(tricky.path(), &inventory),
        inventory,
    };
    for (name, sources) in [
        ("vault", &project.sources),
        ("demo", &demo_sources()),
        ("tricky", &tricky_sources),
    ] {
        let node = tempfile::tempdir().unwrap();
        unzip(&payload::build(sources).unwrap())
            .extract(node.path())
            .unwrap();
        let again = list_json(node.path(), Path::new("inventory"));
        let before: Value = serde_json::from_slice(&sources.inventory_list_json).unwrap();
        let after: Value = serde_json::from_slice(&again).unwrap();
        let yaml = std::fs::read_to_string(node.path().join(payload::INVENTORY_FILE)).unwrap();
        assert_eq!(before, after, "{name}:\n{yaml}");
    }
}
