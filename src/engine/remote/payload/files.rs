//! Which files go into the payload's zip, under which names, and the zip itself: real files
//! only (a symlink is followed to its content), no `.git` or `__pycache__`, in name order with
//! fixed times, so that the same project always gives the same bytes.

use super::{INVENTORY_FILE, Sources};
use crate::engine::model::Action;
use anyhow::{Context, Result, bail};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

/// Folders never shipped, wherever they are.
const SKIPPED: [&str; 2] = [".git", "__pycache__"];
/// What the project root gives every run besides the playbooks' folders.
const ROOT_FILES: [&str; 1] = ["ansible.cfg"];
const ROOT_FOLDERS: [&str; 2] = ["roles", "collections"];
/// What sits beside a playbook or an inventory file and is read with it.
const VARS_FOLDERS: [&str; 2] = ["group_vars", "host_vars"];

/// One file of the zip.
pub enum Content {
    File { path: PathBuf, executable: bool },
    Bytes(Vec<u8>),
}

/// The zip's files by name (their order in the zip), and each action's playbook in `project/`.
pub struct Listing {
    pub entries: BTreeMap<String, Content>,
    pub playbooks: HashMap<Action, String>,
}

pub fn listing(sources: &Sources, inventory_yaml: Vec<u8>) -> Result<Listing> {
    let root = &sources.root;
    let mut entries = BTreeMap::new();
    let mut playbooks = HashMap::new();
    let mut configured: Vec<(&Action, &PathBuf)> = sources.playbooks.iter().collect();
    configured.sort();
    let mut walked = BTreeSet::new();
    for (action, playbook) in configured {
        let relative = inside(root, playbook)
            .with_context(|| format!("the {action} playbook {}", playbook.display()))?;
        if !root.join(&relative).is_file() {
            bail!("the {action} playbook {} is not a file", playbook.display());
        }
        let name = zip_name(&relative)?;
        playbooks.insert(*action, name.clone());
        let folder = relative.parent().unwrap_or(Path::new(""));
        if !walked.insert(folder.to_path_buf()) && !folder.as_os_str().is_empty() {
            continue;
        }
        if folder.as_os_str().is_empty() {
            // A playbook at the root: the root itself is the whole repository (target/, .venv,
            // …), so only the playbook and the vars folders beside it go.
            add_file(
                &mut entries,
                &root.join(&relative),
                format!("project/{name}"),
            )?;
            for vars in VARS_FOLDERS {
                add_if_present(&mut entries, &root.join(vars), &format!("project/{vars}"))?;
            }
        } else {
            let prefix = format!("project/{}", zip_name(folder)?);
            add_tree(&mut entries, &root.join(folder), &prefix, &mut Vec::new())?;
        }
    }
    for file in ROOT_FILES {
        let path = root.join(file);
        if path.is_file() {
            add_file(&mut entries, &path, format!("project/{file}"))?;
        }
    }
    for folder in ROOT_FOLDERS {
        add_if_present(
            &mut entries,
            &root.join(folder),
            &format!("project/{folder}"),
        )?;
    }
    entries.insert(INVENTORY_FILE.to_string(), Content::Bytes(inventory_yaml));
    let inventory = root.join(&sources.inventory);
    let inventory_folder = if inventory.is_dir() {
        inventory.as_path()
    } else {
        inventory.parent().unwrap_or(root)
    };
    for vars in VARS_FOLDERS {
        add_if_present(
            &mut entries,
            &inventory_folder.join(vars),
            &format!("inventory/{vars}"),
        )?;
    }
    Ok(Listing { entries, playbooks })
}

/// `path` relative to `root`, refused when it leads outside it (the node has only `project/`).
fn inside(root: &Path, path: &Path) -> Result<PathBuf> {
    let relative = if path.is_absolute() {
        path.strip_prefix(root)
            .with_context(|| format!("is outside the project root {}", root.display()))?
            .to_path_buf()
    } else {
        path.to_path_buf()
    };
    let plain = relative
        .components()
        .all(|part| matches!(part, Component::Normal(_) | Component::CurDir));
    if !plain {
        bail!("leads outside the project root {}", root.display());
    }
    Ok(relative
        .components()
        .filter(|part| matches!(part, Component::Normal(_)))
        .collect())
}

/// A relative path as a zip name: `/`-separated, UTF-8.
fn zip_name(relative: &Path) -> Result<String> {
    let parts: Option<Vec<&str>> = relative.iter().map(|part| part.to_str()).collect();
    match parts {
        Some(parts) => Ok(parts.join("/")),
        None => bail!("{} is not a UTF-8 name", relative.display()),
    }
}

fn add_if_present(
    entries: &mut BTreeMap<String, Content>,
    folder: &Path,
    prefix: &str,
) -> Result<()> {
    if folder.is_dir() {
        add_tree(entries, folder, prefix, &mut Vec::new())?;
    }
    Ok(())
}

fn add_file(entries: &mut BTreeMap<String, Content>, path: &Path, name: String) -> Result<()> {
    let meta = std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
    let executable = meta.permissions().mode() & 0o111 != 0;
    let path = path.to_path_buf();
    entries.insert(name, Content::File { path, executable });
    Ok(())
}

/// Every regular file below `folder`, symlinks followed; `open` holds the folders being walked
/// (resolved), so a link back to one of them ends there instead of looping.
fn add_tree(
    entries: &mut BTreeMap<String, Content>,
    folder: &Path,
    prefix: &str,
    open: &mut Vec<PathBuf>,
) -> Result<()> {
    let resolved =
        std::fs::canonicalize(folder).with_context(|| format!("resolving {}", folder.display()))?;
    if open.contains(&resolved) {
        return Ok(());
    }
    open.push(resolved);
    let mut names: Vec<std::ffi::OsString> = std::fs::read_dir(folder)
        .with_context(|| format!("listing {}", folder.display()))?
        .map(|entry| entry.map(|entry| entry.file_name()))
        .collect::<std::io::Result<_>>()
        .with_context(|| format!("listing {}", folder.display()))?;
    names.sort();
    for name in names {
        let Some(text) = name.to_str() else {
            bail!("{} holds a name that is not UTF-8", folder.display());
        };
        if SKIPPED.contains(&text) {
            continue;
        }
        let path = folder.join(&name);
        // A dangling link, a socket or a fifo is nothing a run can read: left out.
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        let inner = format!("{prefix}/{text}");
        if meta.is_dir() {
            add_tree(entries, &path, &inner, open)?;
        } else if meta.is_file() {
            add_file(entries, &path, inner)?;
        }
    }
    open.pop();
    Ok(())
}

/// The zip: deflate, fixed times (1980-01-01), 0600 or 0700: runner applies the mode, and only
/// the node's run user reads the files (the inventory snapshot may hold decrypted vars).
pub fn zip(entries: &BTreeMap<String, Content>) -> Result<Vec<u8>> {
    use zip::write::SimpleFileOptions;
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default());
    for (name, content) in entries {
        let (bytes, executable) = match content {
            Content::File { path, executable } => (
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
                *executable,
            ),
            Content::Bytes(bytes) => (bytes.clone(), false),
        };
        let mode = if executable { 0o700 } else { 0o600 };
        writer
            .start_file(name.as_str(), options.unix_permissions(mode))
            .with_context(|| format!("adding {name}"))?;
        writer
            .write_all(&bytes)
            .with_context(|| format!("adding {name}"))?;
    }
    Ok(writer.finish()?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_playbook_outside_the_root_is_refused() {
        let root = Path::new("/srv/project");
        assert_eq!(
            inside(root, Path::new("./plays/site.yml")).unwrap(),
            Path::new("plays/site.yml")
        );
        assert_eq!(
            inside(root, Path::new("/srv/project/plays/site.yml")).unwrap(),
            Path::new("plays/site.yml")
        );
        assert!(inside(root, Path::new("../other/site.yml")).is_err());
        assert!(inside(root, Path::new("plays/../../site.yml")).is_err());
        assert!(inside(root, Path::new("/etc/site.yml")).is_err());
    }
}
