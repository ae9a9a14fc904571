//! What a run's `ansible-playbook` will read of its configuration, read the way ansible-core
//! reads it: the `ANSIBLE_*` variable first, else the one `ansible.cfg` ansible finds
//! (`$ANSIBLE_CONFIG`, `./ansible.cfg` in the run's working directory unless that directory is
//! world-writable, `~/.ansible.cfg`, `/etc/ansible/ansible.cfg`: the first readable one, and
//! only that one), its `[defaults]` section.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The name fleetdeck's events plugin is enabled by.
pub const EVENTS_CALLBACK: &str = "fleetdeck_events";

/// The config file ansible-core would use when started in `cwd`, and its `[defaults]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AnsibleCfg {
    pub path: Option<PathBuf>,
    defaults: Vec<(String, String)>,
}

impl AnsibleCfg {
    pub fn load(cwd: &Path) -> AnsibleCfg {
        let Some(path) = find(cwd) else {
            return AnsibleCfg::default();
        };
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        AnsibleCfg {
            defaults: section(&text, "defaults"),
            path: Some(path),
        }
    }

    /// A `[defaults]` key as the file says it (keys are case-insensitive, as in configparser).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.defaults
            .iter()
            .rev()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    /// A setting: its environment variable when set, else the file's `[defaults]` key.
    /// Returns the value and, for a file value, the file (relative paths are relative to it).
    pub fn setting(&self, env: &str, key: &str) -> Option<(String, Option<&Path>)> {
        if let Some(value) = std::env::var_os(env) {
            return Some((value.to_string_lossy().into_owned(), None));
        }
        self.get(key)
            .map(|value| (value.to_string(), self.path.as_deref()))
    }

    /// A `type: path` setting resolved as ansible does: `~` expanded, a file value relative to
    /// the config file's folder, an environment value relative to the working directory.
    pub fn path_setting(&self, env: &str, key: &str, cwd: &Path) -> Option<PathBuf> {
        let (value, file) = self.setting(env, key)?;
        let value = value.trim();
        if value.is_empty() {
            return None;
        }
        let expanded = match (value.strip_prefix("~/"), std::env::var_os("HOME")) {
            (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
            _ => PathBuf::from(value),
        };
        let base = file
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_else(|| cwd.to_path_buf());
        Some(base.join(expanded))
    }

    /// `callbacks_enabled` as ansible will see it (`ANSIBLE_CALLBACKS_ENABLED`, else the file).
    /// The old `callback_whitelist` is not read: ansible-core 2.19 ignores it too.
    pub fn callbacks_enabled(&self) -> Vec<String> {
        let value = self
            .setting("ANSIBLE_CALLBACKS_ENABLED", "callbacks_enabled")
            .map(|(value, _)| value)
            .unwrap_or_default();
        split_list(&value)
    }
}

/// The project's callbacks with ours added: what fleetdeck sets `ANSIBLE_CALLBACKS_ENABLED` to.
pub fn callbacks_with_ours(cwd: &Path) -> String {
    let mut list = AnsibleCfg::load(cwd).callbacks_enabled();
    if !list.iter().any(|name| name == EVENTS_CALLBACK) {
        list.push(EVENTS_CALLBACK.to_string());
    }
    list.join(",")
}

/// Sets `ANSIBLE_CALLBACKS_ENABLED` in `env` to what runs in `cwd` need: the project's list and
/// ours. Replacing it with ours alone would silently turn the project's callbacks off.
pub fn enable_with_project_callbacks(env: &mut Vec<(String, String)>, cwd: &Path) {
    let value = callbacks_with_ours(cwd);
    env.retain(|(key, _)| key != "ANSIBLE_CALLBACKS_ENABLED");
    env.push(("ANSIBLE_CALLBACKS_ENABLED".into(), value));
}

fn split_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(|name| name.trim().trim_matches(['"', '\'']).trim())
        .filter(|name| !name.is_empty())
        .map(str::to_string)
        .collect()
}

/// The file ansible-core would read when started in `cwd`.
pub fn find(cwd: &Path) -> Option<PathBuf> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let mut candidates = Vec::new();
    if let Some(from_env) = std::env::var_os("ANSIBLE_CONFIG") {
        let mut path = PathBuf::from(from_env);
        if let (Ok(rest), Some(home)) = (path.strip_prefix("~"), &home) {
            path = home.join(rest);
        }
        let path = cwd.join(path);
        candidates.push(if path.is_dir() {
            path.join("ansible.cfg")
        } else {
            path
        });
    }
    // A world-writable working directory is skipped (anyone could plant a config there).
    let world_writable = std::fs::metadata(cwd)
        .map(|meta| meta.permissions().mode() & 0o002 != 0)
        .unwrap_or(true);
    if !world_writable {
        candidates.push(cwd.join("ansible.cfg"));
    }
    if let Some(home) = home {
        candidates.push(home.join(".ansible.cfg"));
    }
    candidates.push(PathBuf::from("/etc/ansible/ansible.cfg"));
    candidates
        .into_iter()
        .find(|path| path.is_file() && std::fs::File::open(path).is_ok())
}

/// The keys and values of one section, as Python's configparser reads them (`=` or `:`,
/// whole-line `#`/`;` comments, inline `;` comments after a space, indented continuation lines).
fn section(text: &str, wanted: &str) -> Vec<(String, String)> {
    let mut values: Vec<(String, String)> = Vec::new();
    let mut inside = false;
    let mut last_key_here = false;
    for raw in text.lines() {
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        let continuation = raw.starts_with([' ', '\t']);
        if continuation && last_key_here {
            if let Some((_, value)) = values.last_mut() {
                value.push('\n');
                value.push_str(strip_inline_comment(trimmed));
            }
            continue;
        }
        if let Some(name) = trimmed
            .strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'))
        {
            inside = name.trim() == wanted;
            last_key_here = false;
            continue;
        }
        last_key_here = false;
        if !inside {
            continue;
        }
        let split = trimmed.find(['=', ':']);
        let (key, value) = match split {
            Some(at) => (&trimmed[..at], &trimmed[at + 1..]),
            None => (trimmed, ""),
        };
        values.push((
            key.trim().to_ascii_lowercase(),
            strip_inline_comment(value.trim()).to_string(),
        ));
        last_key_here = true;
    }
    values
}

fn strip_inline_comment(value: &str) -> &str {
    let cut = value
        .char_indices()
        .find(|&(at, c)| c == ';' && at > 0 && value[..at].ends_with([' ', '\t']))
        .map(|(at, _)| at);
    match cut {
        Some(at) => value[..at].trim_end(),
        None => value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_section_reads_as_configparser_does() {
        let text = "\
# a comment
[defaults]
inventory = hosts ; inline
Callbacks_Enabled: profile_tasks,
  timer
vault_password_file = ~/.vault_pass
[callback_tree]
directory = out
";
        let values = section(text, "defaults");
        assert_eq!(
            values,
            vec![
                ("inventory".to_string(), "hosts".to_string()),
                (
                    "callbacks_enabled".to_string(),
                    "profile_tasks,\ntimer".to_string()
                ),
                (
                    "vault_password_file".to_string(),
                    "~/.vault_pass".to_string()
                ),
            ]
        );
        assert_eq!(
            split_list("profile_tasks,\ntimer"),
            vec!["profile_tasks", "timer"]
        );
        assert_eq!(section(text, "callback_tree").len(), 1);
    }

    #[test]
    fn the_project_config_is_found_in_the_working_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(
            dir.path().join("ansible.cfg"),
            "[defaults]\ncallbacks_enabled = ansible.builtin.tree, timer\n",
        )
        .unwrap();
        // Only when neither ANSIBLE_CONFIG nor ANSIBLE_CALLBACKS_ENABLED decides instead.
        if std::env::var_os("ANSIBLE_CONFIG").is_none()
            && std::env::var_os("ANSIBLE_CALLBACKS_ENABLED").is_none()
        {
            assert_eq!(find(dir.path()), Some(dir.path().join("ansible.cfg")));
            assert_eq!(
                callbacks_with_ours(dir.path()),
                "ansible.builtin.tree,timer,fleetdeck_events"
            );
            // A world-writable folder's config is skipped, as ansible does.
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
            assert_ne!(find(dir.path()), Some(dir.path().join("ansible.cfg")));
        }
    }
}
