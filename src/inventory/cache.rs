//! The inventory as last read, kept in the environment's state folder so a start on an
//! unchanged inventory needs no `ansible-inventory --list` (7.7 s for 10,000 hosts).
//!
//! The cache holds the parsed [`Inventory`] (host and group names), never the `--list` JSON:
//! that JSON carries every host's variables, vault-decrypted ones included, which must not land
//! on disk; and the names alone load faster (see `benches/scale/inventory.rs`).
//!
//! It is keyed by the [`Fingerprint`] of every file ansible-inventory reads, the program's
//! path (and its stamp: an upgraded ansible-core is re-read), the inventory path, the working
//! folder, the `ANSIBLE_*` settings that shape a read, and fleetdeck's version. The fingerprint
//! is taken *before* ansible-inventory runs, so a file written during the read leaves a key
//! that no longer matches: the next start re-reads. Not seen: an edit that keeps a file's size
//! within the file system's timestamp granularity of the previous write (a few ms), and
//! configuration outside the files fingerprinted (e.g. a collection upgraded in place); `R`
//! (a refresh) covers both.
//!
//! Dynamic inventories (a script, a `plugin:` config) may change with no file changing. For
//! those a matching cache is still served — the dashboard's first screen should not wait for a
//! cloud API — but [`Freshness::Cached`] says so (`dynamic`), and the caller must refresh in the
//! background at once. Callers that act on the host list without a refresh to follow (the
//! headless `run`) take [`Use::StaticOnly`], which reads dynamic inventories fresh every time.

use super::Inventory;
use super::fingerprint::{FileStamp, Fingerprint, fingerprint};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The cache file's name in the environment's state folder.
pub const CACHE_FILE: &str = "inventory-cache.json";

/// Bumped whenever the file's layout changes: an old file is then a miss, not an error.
const FORMAT: u32 = 3;

/// Where an inventory came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Freshness {
    /// From the cache: no file of the inventory changed since it was written at `written`.
    /// `dynamic` says why it may be stale anyway (a script or plugin): refresh it at once.
    Cached {
        written: SystemTime,
        dynamic: Option<String>,
    },
    /// `ansible-inventory --list` ran just now, and the cache was rewritten (or a warning
    /// logged if it could not be).
    Fresh,
}

impl Freshness {
    pub fn is_cached(&self) -> bool {
        matches!(self, Freshness::Cached { .. })
    }

    /// Whether a background refresh may find something else although no file changed.
    pub fn may_be_stale(&self) -> bool {
        matches!(
            self,
            Freshness::Cached {
                dynamic: Some(_),
                ..
            }
        )
    }
}

/// Which cached inventories a caller accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Use {
    /// Any whose files are unchanged, dynamic ones too: the caller refreshes after.
    Any,
    /// Only static ones: a dynamic inventory is read fresh.
    StaticOnly,
}

/// What is read, by which program, and where the cache lives. Owned, so a face can hand a
/// clone to a thread of its own for the background refresh.
#[derive(Clone, Debug)]
pub struct Source {
    /// The environment's name, for messages.
    pub env: String,
    pub program: PathBuf,
    pub inventory: PathBuf,
    pub cwd: PathBuf,
    pub cache: PathBuf,
}

#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Key {
    format: u32,
    fleetdeck: String,
    program: PathBuf,
    program_stamp: Option<FileStamp>,
    inventory: PathBuf,
    cwd: PathBuf,
    /// The ansible settings from the environment that change what is read or how.
    settings: Vec<(String, String)>,
    files: Vec<FileStamp>,
}

/// Names of `ANSIBLE_*` variables that shape an inventory read (enabled plugins, ignored
/// names, vars plugins, collections). Only these are kept: other variables may hold secrets,
/// and this file holds none.
fn inventory_settings() -> Vec<(String, String)> {
    let mut settings: Vec<(String, String)> = std::env::vars_os()
        .filter_map(|(name, value)| Some((name.into_string().ok()?, value)))
        .filter(|(name, _)| {
            name.starts_with("ANSIBLE_")
                && ["INVENTORY", "VARS", "CONFIG", "COLLECTIONS", "PLUGIN"]
                    .iter()
                    .any(|part| name.contains(part))
        })
        .map(|(name, value)| (name, value.to_string_lossy().into_owned()))
        .collect();
    settings.sort();
    settings
}

#[derive(Serialize, Deserialize)]
struct CacheFile {
    key: Key,
    written: SystemTime,
    /// Some file had been written just before the read ([`RACY`]): the file is kept but not
    /// trusted, so the next start reads again.
    racy: bool,
    inventory: Inventory,
}

/// A file written this shortly before the fingerprint was taken may be written again within
/// the same timestamp tick (coarse kernel clocks: ms; FAT, some NFS: up to 2 s) with the same
/// size, which no fingerprint would see. A cache of such a read is not trusted (as git treats
/// "racily clean" entries), which costs one more read only after an edit made within 2 s of a
/// start.
const RACY: std::time::Duration = std::time::Duration::from_secs(2);

impl Key {
    fn new(source: &Source, fingerprint: Fingerprint) -> Key {
        // The program's own file, when it is a path (a bare name is looked up on $PATH).
        let program_stamp = FileStamp::read(&source.program);
        Key {
            format: FORMAT,
            fleetdeck: env!("CARGO_PKG_VERSION").to_string(),
            program: source.program.clone(),
            program_stamp,
            inventory: source.inventory.clone(),
            cwd: source.cwd.clone(),
            settings: inventory_settings(),
            files: fingerprint.files,
        }
    }
}

impl Source {
    /// The cached inventory if its key matches; the inventory read fresh (and cached) else.
    pub fn load_cached(&self, accept: Use) -> Result<(Inventory, Freshness)> {
        let print = fingerprint(&self.inventory, &self.cwd);
        let dynamic = print.dynamic.clone();
        let key = Key::new(self, print);
        let usable = dynamic.is_none() || accept == Use::Any;
        if usable && let Some(cached) = read(&self.cache, &key) {
            let freshness = Freshness::Cached {
                written: cached.written,
                dynamic,
            };
            return Ok((cached.inventory, freshness));
        }
        Ok((read_fresh(self, key)?, Freshness::Fresh))
    }

    /// Runs ansible-inventory whatever the cache holds, and rewrites the cache. Blocking.
    pub fn refresh(&self) -> Result<Inventory> {
        read_fresh(
            self,
            Key::new(self, fingerprint(&self.inventory, &self.cwd)),
        )
    }
}

fn read_fresh(source: &Source, key: Key) -> Result<Inventory> {
    let since_epoch = |time: SystemTime| {
        let since = time
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        i64::try_from(since.as_nanos()).unwrap_or(i64::MAX)
    };
    let settled_before = since_epoch(SystemTime::now() - RACY);
    let racy = key.files.iter().any(|file| file.mtime_ns >= settled_before);
    let inventory = Inventory::load(&source.program, &source.inventory, &source.cwd)
        .with_context(|| format!("reading the inventory of environment {}", source.env))?;
    let file = CacheFile {
        key,
        written: SystemTime::now(),
        racy,
        inventory,
    };
    // A cache that cannot be written costs the next start time, never this one.
    if let Err(err) = write(&source.cache, &file) {
        log::warn!(target: "inventory", "could not write the inventory cache: {err:#}");
    }
    Ok(file.inventory)
}

/// The cache file if it is there, readable, whole and keyed by `key`; `None` (a miss) else.
fn read(path: &Path, key: &Key) -> Option<CacheFile> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return None,
        Err(err) => {
            log::warn!(
                target: "inventory",
                "ignoring the inventory cache {}: {err}; reading the inventory again",
                path.display()
            );
            return None;
        }
    };
    match serde_json::from_slice::<CacheFile>(&bytes) {
        Ok(file) if file.key == *key && !file.racy => Some(file),
        Ok(file) if file.key == *key => {
            log::debug!(
                "{} was written right after an edit: reading again",
                path.display()
            );
            None
        }
        Ok(_) => {
            log::debug!("the inventory changed since {} was written", path.display());
            None
        }
        Err(err) => {
            log::warn!(
                target: "inventory",
                "ignoring the inventory cache {}: it is not whole ({err}); reading the inventory again",
                path.display()
            );
            None
        }
    }
}

/// Writes through a temp file and a rename: a concurrent start (or the background refresh)
/// reads the old file or the new one, never half of one.
fn write(path: &Path, file: &CacheFile) -> Result<()> {
    let dir = path.parent().context("the cache path has a folder")?;
    crate::secrets::create_private_dir_all(dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    // NamedTempFile is created 0600 in `dir`, with a name no other writer takes.
    let mut temp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating a temp file in {}", dir.display()))?;
    let mut out = std::io::BufWriter::new(&mut temp);
    // Flushed here: BufWriter's drop would swallow a full disk's error.
    serde_json::to_writer(&mut out, file)
        .map_err(std::io::Error::from)
        .and_then(|()| std::io::Write::flush(&mut out))
        .with_context(|| format!("writing a temp file in {}", dir.display()))?;
    drop(out);
    temp.persist(path)
        .with_context(|| format!("renaming into {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A source whose program is a script printing a fixed list and counting its calls.
    fn setup(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
        use std::os::unix::fs::PermissionsExt;
        let inv = dir.join("inv");
        std::fs::create_dir_all(&inv).unwrap();
        std::fs::write(inv.join("hosts.ini"), "web-01\n").unwrap();
        backdate(&inv.join("hosts.ini"), 60);
        let program = dir.join("fake-inventory");
        let list = r#"{"_meta":{"hostvars":{"web-01":{}}},"all":{"children":["web"]},"web":{"hosts":["web-01"]}}"#;
        std::fs::write(
            &program,
            format!(
                "#!/bin/sh\necho x >> {}/calls\necho '{list}'\n",
                dir.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
        (program, inv, dir.join("state").join(CACHE_FILE))
    }

    /// Sets a file's mtime `secs` seconds back: an inventory not edited just now.
    fn backdate(path: &Path, secs: u64) {
        let file = std::fs::File::options().write(true).open(path).unwrap();
        let then = SystemTime::now() - std::time::Duration::from_secs(secs);
        file.set_modified(then).unwrap();
    }

    fn calls(dir: &Path) -> usize {
        std::fs::read_to_string(dir.join("calls"))
            .unwrap_or_default()
            .lines()
            .count()
    }

    #[test]
    fn a_second_load_is_cached_and_a_corrupt_cache_is_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        let (program, inv, cache) = setup(dir.path());
        let source = Source {
            env: "lab".into(),
            program,
            inventory: inv.clone(),
            cwd: dir.path().to_path_buf(),
            cache: cache.clone(),
        };
        let (first, freshness) = source.load_cached(Use::Any).unwrap();
        assert_eq!(freshness, Freshness::Fresh);
        assert!(first.groups["web"].contains("web-01"));
        let (second, freshness) = source.load_cached(Use::StaticOnly).unwrap();
        assert!(freshness.is_cached() && !freshness.may_be_stale());
        assert_eq!((first.clone(), calls(dir.path())), (second, 1));

        for garbage in ["", "{\"key\": 1", "not json at all"] {
            std::fs::write(&cache, garbage).unwrap();
            let (again, freshness) = source.load_cached(Use::Any).unwrap();
            assert_eq!((again, freshness), (first.clone(), Freshness::Fresh));
            // …and the rewritten cache serves the next load.
            assert!(source.load_cached(Use::Any).unwrap().1.is_cached());
        }
        assert_eq!(calls(dir.path()), 4);
        assert_eq!(source.refresh().unwrap(), first);
        assert_eq!(calls(dir.path()), 5);
    }

    #[test]
    fn a_read_right_after_an_edit_is_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let (program, inv, cache) = setup(dir.path());
        let source = Source {
            env: "lab".into(),
            program,
            inventory: inv.clone(),
            cwd: dir.path().to_path_buf(),
            cache: cache.clone(),
        };
        // Just written: a same-size rewrite in the same timestamp tick would go unseen.
        std::fs::write(inv.join("hosts.ini"), "web-02\n").unwrap();
        for _ in 0..2 {
            assert_eq!(source.load_cached(Use::Any).unwrap().1, Freshness::Fresh);
        }
        backdate(&inv.join("hosts.ini"), 10);
        assert_eq!(source.load_cached(Use::Any).unwrap().1, Freshness::Fresh);
        assert!(source.load_cached(Use::Any).unwrap().1.is_cached());
        assert_eq!(calls(dir.path()), 3);
    }

    #[test]
    fn an_unwritable_cache_costs_nothing_but_time() {
        let dir = tempfile::tempdir().unwrap();
        let (program, inv, _) = setup(dir.path());
        // Its folder is a file: it can be neither read nor written.
        std::fs::write(dir.path().join("blocked"), "").unwrap();
        let cache = dir.path().join("blocked").join(CACHE_FILE);
        let source = Source {
            env: "lab".into(),
            program,
            inventory: inv.clone(),
            cwd: dir.path().to_path_buf(),
            cache: cache.clone(),
        };
        for _ in 0..2 {
            let (inventory, freshness) = source.load_cached(Use::Any).unwrap();
            assert_eq!(freshness, Freshness::Fresh);
            assert_eq!(inventory.hosts.len(), 1);
        }
    }
}
