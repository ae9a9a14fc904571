//! The inventory cache with the real `ansible-inventory`: behind a wrapper that counts its calls,
//! so "served from the cache" means ansible-inventory did not run.

#[path = "../benches/scale/inventory.rs"]
mod scale;

use fleetdeck::inventory::cache::Freshness;
use fleetdeck::project::Environment;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

struct Lab {
    _dir: tempfile::TempDir,
    root: PathBuf,
    calls: PathBuf,
    bin: PathBuf,
}

impl Lab {
    /// A project with environment `lab` (`hosts` hosts in 3 groups), its ansible-inventory a
    /// wrapper that counts its calls and runs the real one.
    fn new(hosts: usize) -> Lab {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("project");
        scale::generate(&root, "lab", hosts, 3);
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let calls = dir.path().join("calls");
        executable(
            &bin.join("ansible-inventory"),
            &format!(
                "#!/bin/sh\necho \"$*\" >> '{}'\nexec '{}' \"$@\"\n",
                calls.display(),
                scale::real_ansible_bin()
                    .join("ansible-inventory")
                    .display()
            ),
        );
        Lab {
            _dir: dir,
            root,
            calls,
            bin,
        }
    }

    fn env(&self) -> Environment {
        scale::environment(&self.root, "lab", &self.bin)
    }

    fn calls(&self) -> usize {
        std::fs::read_to_string(&self.calls)
            .unwrap_or_default()
            .lines()
            .count()
    }

    fn inventory_dir(&self) -> PathBuf {
        self.root.join("inventory/lab")
    }
}

fn executable(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn a_second_load_is_served_from_the_cache_and_an_edit_is_read_again() {
    let lab = Lab::new(30);
    let env = lab.env();
    assert!(!env.inventory_cache_path().exists());

    let (first, freshness) = env.load_inventory_cached().unwrap();
    assert_eq!((freshness, lab.calls()), (Freshness::Fresh, 1));
    assert_eq!((first.hosts.len(), first.groups.len()), (30, 3));
    assert!(
        env.inventory_cache_path().exists(),
        "the first load writes the cache"
    );

    let (second, freshness) = env.load_inventory_cached().unwrap();
    assert!(
        freshness.is_cached() && !freshness.may_be_stale(),
        "{freshness:?}"
    );
    assert_eq!(
        (&second, lab.calls()),
        (&first, 1),
        "no ansible-inventory run"
    );
    // The headless run takes a valid cache of a static inventory as well.
    assert_eq!(
        (lab.env().load_inventory().unwrap(), lab.calls()),
        (first.clone(), 1)
    );

    // A host added: read again at once, never the stale list.
    let hosts = lab.inventory_dir().join("hosts.yml");
    let mut yaml = std::fs::read_to_string(&hosts).unwrap();
    yaml.push_str("    late:\n      hosts:\n        host-late: {}\n");
    std::fs::write(&hosts, yaml).unwrap();
    let (third, freshness) = env.load_inventory_cached().unwrap();
    assert_eq!((freshness, lab.calls()), (Freshness::Fresh, 2));
    assert!(third.groups["late"].contains("host-late"));
    // Read right after the edit: not trusted until the file has settled.
    assert_eq!(env.load_inventory_cached().unwrap().1, Freshness::Fresh);
    scale::backdate(&hosts);
    env.load_inventory_cached().unwrap();
    assert!(env.load_inventory_cached().unwrap().1.is_cached());
    assert_eq!(lab.calls(), 4);

    // A group_vars file beside the playbooks (the project root) appears: read again.
    std::fs::create_dir_all(lab.root.join("group_vars")).unwrap();
    std::fs::write(lab.root.join("group_vars/all.yml"), "x: 1\n").unwrap();
    scale::backdate(&lab.root.join("group_vars/all.yml"));
    assert_eq!(env.load_inventory_cached().unwrap().1, Freshness::Fresh);
    assert_eq!(lab.calls(), 5);

    // `R`: always runs ansible-inventory, and the cache it writes serves the next start.
    assert_eq!(env.refresh_inventory().unwrap(), third);
    assert_eq!(lab.calls(), 6);
    assert!(env.load_inventory_cached().unwrap().1.is_cached());
    assert_eq!(lab.calls(), 6);
}

#[test]
fn a_corrupt_cache_is_read_again_and_rewritten() {
    let lab = Lab::new(5);
    let env = lab.env();
    let (first, _) = env.load_inventory_cached().unwrap();
    std::fs::write(
        env.inventory_cache_path(),
        "{\"key\": {\"format\": 1, \"fle",
    )
    .unwrap();
    let (again, freshness) = env.load_inventory_cached().unwrap();
    assert_eq!(
        (again, freshness, lab.calls()),
        (first, Freshness::Fresh, 2)
    );
    assert!(env.load_inventory_cached().unwrap().1.is_cached());
    assert_eq!(lab.calls(), 2);
}

#[test]
fn a_dynamic_inventory_is_cached_for_the_screen_but_never_for_a_headless_run() {
    let lab = Lab::new(1);
    let dir = lab.inventory_dir();
    std::fs::write(dir.join("config.yml"), "inventory: cloud.sh\n").unwrap();
    executable(
        &dir.join("cloud.sh"),
        "#!/bin/sh\necho '{\"_meta\": {\"hostvars\": {}}, \"cloud\": {\"hosts\": [\"vm-1\", \"vm-2\"]}}'\n",
    );
    scale::backdate(&dir.join("cloud.sh"));
    let env = lab.env();
    assert_eq!(env.load_inventory_cached().unwrap().1, Freshness::Fresh);
    let (inventory, freshness) = env.load_inventory_cached().unwrap();
    assert!(freshness.may_be_stale(), "{freshness:?}");
    assert_eq!(inventory.groups["cloud"].len(), 2);
    assert_eq!(lab.calls(), 1);
    // The headless run acts on the list with no refresh to follow: always read fresh.
    env.load_inventory().unwrap();
    assert_eq!(lab.calls(), 2);
}

/// `cargo test --test inventory_cache -- --ignored --nocapture`: the scale bench's figures.
#[test]
#[ignore]
fn figures_at_10000_hosts() {
    let work = tempfile::tempdir().unwrap();
    scale::inventory_start(work.path());
}
