//! (6) The inventory read and its cache: a 10,000-host inventory in 20 groups, read by the real
//! `ansible-inventory --list` (the project's `.venv`), then served from
//! `.fleetdeck/<env>/inventory-cache.json`. Also prints why the cache holds the parsed names
//! rather than the `--list` JSON: what each costs to load.
//!
//! Also compiled into tests/inventory_cache.rs, which generates its inventories here.
#![allow(dead_code)]

use fleetdeck::inventory::Inventory;
use fleetdeck::inventory::cache::Freshness;
use fleetdeck::project::{Environment, Project};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub const HOSTS: usize = 10_000;
pub const GROUPS: usize = 20;
const ENV: &str = "scale";

/// The project's ansible-core, installed by `.ci/setup`.
pub fn real_ansible_bin() -> PathBuf {
    let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin");
    assert!(
        bin.join("ansible-inventory").exists(),
        "ansible-core is not installed: run .ci/setup first"
    );
    bin
}

/// Writes a project under `root` whose environment `env` has `hosts` hosts spread over
/// `groups` groups (`g00`…), in one YAML file with a host_vars file for the first host.
pub fn generate(root: &Path, env: &str, hosts: usize, groups: usize) {
    let dir = root.join("inventory").join(env);
    std::fs::create_dir_all(dir.join("host_vars")).unwrap();
    std::fs::write(dir.join("config.yml"), "inventory: hosts.yml\n").unwrap();
    let mut yaml = String::from("all:\n  vars:\n    ansible_connection: local\n  children:\n");
    for group in 0..groups {
        writeln!(yaml, "    g{group:02}:\n      hosts:").unwrap();
        for host in (group..hosts).step_by(groups) {
            writeln!(yaml, "        host-{host:05}: {{rack: {}}}", host % 40).unwrap();
        }
    }
    std::fs::write(dir.join("hosts.yml"), yaml).unwrap();
    std::fs::write(dir.join("host_vars/host-00000.yml"), "role: first\n").unwrap();
    for file in ["config.yml", "hosts.yml", "host_vars/host-00000.yml"] {
        backdate(&dir.join(file));
    }
}

/// Sets a file's mtime a minute back, as an inventory not edited just now: the cache does not
/// trust a read of files written within the last 2 s (see `inventory::cache`).
pub fn backdate(path: &Path) {
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(std::time::SystemTime::now() - Duration::from_secs(60))
        .unwrap();
}

/// The environment `env` of `root`, its ansible-inventory being the one in `bin`.
pub fn environment(root: &Path, env: &str, bin: &Path) -> Environment {
    let mut environment = Project::open(root).unwrap().env(env).unwrap();
    // inventory_program() takes the ansible-inventory beside the ansible-playbook in use.
    environment.program = bin.join("ansible-playbook");
    environment
}

fn timed<T>(what: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let value = what();
    (value, start.elapsed())
}

pub fn inventory_start(work: &Path) {
    let root = work.join("project");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    generate(&root, ENV, HOSTS, GROUPS);
    let bin = real_ansible_bin();
    let env = environment(&root, ENV, &bin);

    let ((inventory, first), fresh) = timed(|| env.load_inventory_cached().unwrap());
    assert_eq!(first, Freshness::Fresh);
    assert_eq!(
        (inventory.hosts.len(), inventory.groups.len()),
        (HOSTS, GROUPS)
    );
    let ((again, second), cached) = timed(|| env.load_inventory_cached().unwrap());
    assert!(second.is_cached(), "{second:?}");
    assert_eq!(again, inventory);
    let cache_size = std::fs::metadata(env.inventory_cache_path()).unwrap().len();
    println!(
        "inventory, {HOSTS} hosts in {GROUPS} groups: first load (ansible-inventory --list) {:.2} s, cached load {:.1} ms ({} KB cache)",
        fresh.as_secs_f64(),
        cached.as_secs_f64() * 1000.0,
        cache_size / 1024
    );

    // Why the parsed names are cached rather than the --list JSON (which also carries every
    // host's variables, vault-decrypted ones included).
    let list = std::process::Command::new(bin.join("ansible-inventory"))
        .args(["-i", "inventory/scale/hosts.yml", "--list"])
        .current_dir(&root)
        .output()
        .unwrap()
        .stdout;
    let (parsed, from_json) = timed(|| Inventory::from_list_json(&list).unwrap());
    assert_eq!(parsed, inventory);
    println!(
        "  loading the --list JSON instead ({} KB): {:.1} ms to parse",
        list.len() / 1024,
        from_json.as_secs_f64() * 1000.0
    );
}
