//! Which files make up an inventory as `ansible-inventory --list` reads it, each with its path,
//! size, mtime and ctime: two equal fingerprints mean none of them was added, removed or
//! written in between, so the cached list is still what ansible-inventory would print.
//!
//! What ansible-inventory 2.19 reads (checked with a probe inventory):
//! - the inventory source: a file, or a folder walked recursively (its `group_vars/` and
//!   `host_vars/` too: the vars plugin reads them beside every source);
//! - `group_vars/` and `host_vars/` beside an inventory file;
//! - `group_vars/` and `host_vars/` of its working folder (the project root), which it takes as
//!   the playbook folder when none is given;
//! - its configuration: `$ANSIBLE_CONFIG`, `ansible.cfg` of the working folder, `~/.ansible.cfg`,
//!   `/etc/ansible/ansible.cfg`.
//!
//! Names ansible skips are skipped too (dotfiles, editor backups, `*.retry` and the rest of
//! ansible's default `inventory_ignore_extensions`), so an editor's swap file costs no re-read.

use serde::{Deserialize, Serialize};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// One file as it was seen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStamp {
    pub path: PathBuf,
    pub size: u64,
    pub mtime_ns: i64,
    /// ctime as well: it cannot be set back by `touch -d` or `cp -p`, so a same-size edit
    /// that restores the old mtime is still seen.
    pub ctime_ns: i64,
}

impl FileStamp {
    fn of(path: &Path, meta: &std::fs::Metadata) -> FileStamp {
        FileStamp {
            path: path.to_path_buf(),
            size: meta.len(),
            mtime_ns: meta.mtime().saturating_mul(1_000_000_000) + meta.mtime_nsec(),
            ctime_ns: meta.ctime().saturating_mul(1_000_000_000) + meta.ctime_nsec(),
        }
    }

    /// The stamp of one file (symlinks followed), if it is there.
    pub fn read(path: &Path) -> Option<FileStamp> {
        Some(FileStamp::of(path, &std::fs::metadata(path).ok()?))
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// Every file, sorted by path.
    pub files: Vec<FileStamp>,
    /// Why the inventory may change while none of its files does (an executable inventory
    /// script, a `plugin:` config, a folder that could not be read), if it may.
    pub dynamic: Option<String>,
}

/// Extensions ansible's default `inventory_ignore_extensions` skips (and vars files never
/// have): a change to such a file changes nothing ansible reads.
const IGNORED_EXTENSIONS: &[&str] = &[
    ".pyc", ".pyo", ".swp", ".bak", "~", ".rpm", ".md", ".txt", ".rst", ".orig", ".cfg", ".retry",
];

/// Symlinked folders are followed, as ansible does; this bounds a symlink loop.
const MAX_DEPTH: usize = 32;

fn ignored(name: &str) -> bool {
    name.starts_with('.') || IGNORED_EXTENSIONS.iter().any(|ext| name.ends_with(ext))
}

/// The fingerprint of `inventory` (a file or a folder) as ansible-inventory reads it in `cwd`.
pub fn fingerprint(inventory: &Path, cwd: &Path) -> Fingerprint {
    let mut walk = Walk::default();
    if inventory.is_dir() {
        walk.tree(inventory, true, 0);
    } else {
        walk.source_file(inventory);
        if let Some(dir) = inventory.parent() {
            walk.vars_dirs(dir);
        }
    }
    walk.vars_dirs(cwd);
    // Every place ansible looks for its configuration: a newly created one changes the set.
    let home = std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".ansible.cfg"));
    let configs = [
        std::env::var_os("ANSIBLE_CONFIG")
            .filter(|path| !path.is_empty())
            .map(PathBuf::from),
        Some(cwd.join("ansible.cfg")),
        home,
        Some(PathBuf::from("/etc/ansible/ansible.cfg")),
    ];
    for config in configs.iter().flatten() {
        walk.file(config);
    }
    walk.files.sort_by(|a, b| a.path.cmp(&b.path));
    walk.files.dedup_by(|a, b| a.path == b.path);
    Fingerprint {
        files: walk.files,
        dynamic: walk.dynamic,
    }
}

#[derive(Default)]
struct Walk {
    files: Vec<FileStamp>,
    dynamic: Option<String>,
}

impl Walk {
    fn vars_dirs(&mut self, dir: &Path) {
        for name in ["group_vars", "host_vars"] {
            let path = dir.join(name);
            if path.is_dir() {
                self.tree(&path, false, 0);
            } else {
                // A single `group_vars` file is not read, but its appearance must not go unseen.
                self.file(&path);
            }
        }
    }

    /// Walks a folder; `sources` says whether its files are inventory sources (which may be
    /// scripts or plugin configs) rather than vars files.
    fn tree(&mut self, dir: &Path, sources: bool, depth: usize) {
        if depth > MAX_DEPTH {
            self.mark_dynamic(format!("{} nests too deep to be watched", dir.display()));
            return;
        }
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(err) => {
                self.mark_dynamic(format!("{} cannot be read ({err})", dir.display()));
                return;
            }
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            if ignored(&name.to_string_lossy()) {
                continue;
            }
            let path = entry.path();
            if path.is_dir() {
                // group_vars/host_vars inside a source folder are vars, not sources.
                let vars = name == "group_vars" || name == "host_vars";
                self.tree(&path, sources && !vars, depth + 1);
            } else if sources {
                self.source_file(&path);
            } else {
                self.file(&path);
            }
        }
    }

    /// Stamps a file if it is there (a missing one is left out: its appearance changes the set).
    fn file(&mut self, path: &Path) -> Option<std::fs::Metadata> {
        let meta = std::fs::metadata(path).ok()?;
        self.files.push(FileStamp::of(path, &meta));
        Some(meta)
    }

    fn source_file(&mut self, path: &Path) {
        let Some(meta) = self.file(path) else {
            return;
        };
        if meta.mode() & 0o111 != 0 {
            self.mark_dynamic(format!(
                "{} is an executable inventory script",
                path.display()
            ));
        } else if is_plugin_config(path) {
            self.mark_dynamic(format!("{} configures an inventory plugin", path.display()));
        }
    }

    fn mark_dynamic(&mut self, why: String) {
        self.dynamic.get_or_insert(why);
    }
}

/// A `*.yml`/`*.yaml` with a top-level `plugin:` key: ansible's `auto` plugin hands it to that
/// plugin (cloud inventories, `constructed`, …), whose output need not follow its files.
fn is_plugin_config(path: &Path) -> bool {
    let yaml = path
        .extension()
        .is_some_and(|ext| ext == "yml" || ext == "yaml");
    yaml && std::fs::read_to_string(path).is_ok_and(|text| {
        text.lines()
            .any(|line| line.starts_with("plugin:") || line.starts_with("\"plugin\":"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let inv = dir.path().join("inventory/prod");
        std::fs::create_dir_all(inv.join("host_vars")).unwrap();
        std::fs::create_dir_all(inv.join("group_vars/web")).unwrap();
        std::fs::write(inv.join("hosts.yml"), "all:\n  hosts:\n    web-01:\n").unwrap();
        std::fs::write(inv.join("host_vars/web-01.yml"), "a: 1\n").unwrap();
        std::fs::write(inv.join("group_vars/web/main.yml"), "b: 2\n").unwrap();
        (dir, inv)
    }

    #[test]
    fn an_untouched_tree_matches_and_covers_vars_beside_the_file() {
        let (dir, inv) = tree();
        let first = fingerprint(&inv.join("hosts.yml"), dir.path());
        assert_eq!(first, fingerprint(&inv.join("hosts.yml"), dir.path()));
        let names: Vec<_> = first.files.iter().map(|f| f.path.clone()).collect();
        assert_eq!(
            names,
            [
                inv.join("group_vars/web/main.yml"),
                inv.join("host_vars/web-01.yml"),
                inv.join("hosts.yml")
            ]
        );
        assert_eq!(first.dynamic, None);
    }

    #[test]
    fn touching_a_host_vars_file_changes_it() {
        let (dir, inv) = tree();
        let before = fingerprint(&inv, dir.path());
        let file = std::fs::File::options()
            .write(true)
            .open(inv.join("host_vars/web-01.yml"))
            .unwrap();
        // Same size, one second later: only the times differ.
        file.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(1))
            .unwrap();
        assert_ne!(before, fingerprint(&inv, dir.path()));
    }

    #[test]
    fn an_added_file_changes_it_and_ignored_names_do_not() {
        let (dir, inv) = tree();
        let before = fingerprint(&inv, dir.path());
        std::fs::write(inv.join(".hosts.yml.swp"), "x").unwrap();
        std::fs::write(inv.join("site.retry"), "x").unwrap();
        std::fs::write(inv.join("notes~"), "x").unwrap();
        assert_eq!(before, fingerprint(&inv, dir.path()));
        std::fs::write(inv.join("group_vars/web/more.yml"), "c: 3\n").unwrap();
        assert_ne!(before, fingerprint(&inv, dir.path()));
        // ansible reads the working folder's group_vars and ansible.cfg as well.
        let before = fingerprint(&inv, dir.path());
        std::fs::create_dir_all(dir.path().join("group_vars")).unwrap();
        std::fs::write(dir.path().join("group_vars/all.yml"), "d: 4\n").unwrap();
        assert_ne!(before, fingerprint(&inv, dir.path()));
        let before = fingerprint(&inv, dir.path());
        std::fs::write(dir.path().join("ansible.cfg"), "[defaults]\n").unwrap();
        assert_ne!(before, fingerprint(&inv, dir.path()));
    }

    #[test]
    fn scripts_and_plugin_configs_are_dynamic() {
        use std::os::unix::fs::PermissionsExt;
        let (dir, inv) = tree();
        std::fs::write(inv.join("aws_ec2.yml"), "plugin: amazon.aws.aws_ec2\n").unwrap();
        let why = fingerprint(&inv, dir.path()).dynamic.unwrap();
        assert!(why.contains("aws_ec2.yml"), "{why}");
        std::fs::remove_file(inv.join("aws_ec2.yml")).unwrap();
        let script = inv.join("cloud.py");
        std::fs::write(&script, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let why = fingerprint(&inv, dir.path()).dynamic.unwrap();
        assert!(why.contains("executable"), "{why}");
        // An executable vars file is only read, never run.
        std::fs::remove_file(&script).unwrap();
        let vars = inv.join("host_vars/web-01.yml");
        std::fs::set_permissions(&vars, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(fingerprint(&inv, dir.path()).dynamic, None);
    }
}
