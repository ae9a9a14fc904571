//! Servers and groups, as `ansible-inventory --list` reports them: every inventory format and
//! plugin works, and nothing is parsed by hand.

pub mod cache;
pub mod fingerprint;

use crate::engine::runner::NOT_FOUND_HINT;
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Serialized as is into the inventory cache (see [`cache`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inventory {
    /// Every host, sorted by name, with the groups it belongs to (directly or through children).
    pub hosts: BTreeMap<String, BTreeSet<String>>,
    /// Every group but `all` and `ungrouped`, with its hosts (through children too).
    pub groups: BTreeMap<String, BTreeSet<String>>,
}

#[derive(Debug, Default, Deserialize)]
struct Group {
    #[serde(default)]
    hosts: Vec<String>,
    #[serde(default)]
    children: Vec<String>,
}

impl Inventory {
    /// Reads the JSON of `ansible-inventory --list`.
    pub fn from_list_json(json: &[u8]) -> Result<Inventory> {
        let mut value: BTreeMap<String, serde_json::Value> = serde_json::from_slice(json)
            .context("ansible-inventory printed something that is not its JSON list")?;
        let meta = value.remove("_meta");
        let mut groups: BTreeMap<String, Group> = BTreeMap::new();
        for (name, body) in value {
            let group: Group =
                serde_json::from_value(body).with_context(|| format!("reading group {name}"))?;
            groups.insert(name, group);
        }
        let mut inventory = Inventory::default();
        for name in groups.keys() {
            let mut members = BTreeSet::new();
            collect_hosts(&groups, name, &mut members, &mut BTreeSet::new());
            for host in &members {
                let entry = inventory.hosts.entry(host.clone()).or_default();
                if name != "all" && name != "ungrouped" {
                    entry.insert(name.clone());
                }
            }
            if name != "all" && name != "ungrouped" {
                inventory.groups.insert(name.clone(), members);
            }
        }
        if let Some(hostvars) = meta
            .and_then(|m| m.get("hostvars").cloned())
            .and_then(|h| h.as_object().cloned())
        {
            for host in hostvars.keys() {
                inventory.hosts.entry(host.clone()).or_default();
            }
        }
        Ok(inventory)
    }

    /// Runs `program -i inventory --list` in `cwd`.
    pub fn load(program: &Path, inventory: &Path, cwd: &Path) -> Result<Inventory> {
        let listed = Inventory::list_json(program, inventory, cwd, &[])?;
        let inventory_found = Inventory::from_list_json(&listed.stdout)?;
        if inventory_found.hosts.is_empty() {
            let stderr = String::from_utf8_lossy(&listed.stderr);
            bail!("{} has no hosts:\n{}", inventory.display(), stderr.trim());
        }
        Ok(inventory_found)
    }

    /// What `program -i inventory --list [extra]` printed in `cwd` (also the execution nodes'
    /// static snapshot of the inventory, with `--export`), or why it failed.
    pub fn list_json(
        program: &Path,
        inventory: &Path,
        cwd: &Path,
        extra: &[&str],
    ) -> Result<std::process::Output> {
        let mut command = std::process::Command::new(program);
        command
            .arg("-i")
            .arg(inventory)
            .arg("--list")
            .args(extra)
            .current_dir(cwd)
            .env("ANSIBLE_NOCOLOR", "1");
        // Vault-encrypted group_vars need the session's vault password here too (a pipe).
        let _vault = crate::secrets::pass_vault(&mut command)?;
        let output = match command.output() {
            Ok(output) => output,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                bail!("{} not found ({NOT_FOUND_HINT})", program.display())
            }
            Err(err) => return Err(err).with_context(|| format!("running {}", program.display())),
        };
        let stderr = String::from_utf8_lossy(&output.stderr);
        if !output.status.success() && stderr.contains("Decryption failed") {
            bail!(
                "the vault password given does not decrypt the inventory's vault content (wrong password?); nothing was run\n  ansible-inventory: {}",
                stderr
                    .lines()
                    .find(|line| line.contains("Decryption failed"))
                    .unwrap_or_default()
                    .trim()
            );
        }
        if !output.status.success() {
            bail!(
                "{} -i {} --list failed ({}):\n{}",
                program.display(),
                inventory.display(),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(output)
    }

    /// The servers a selection names: hosts by name, or every host of a group.
    pub fn resolve(&self, names: &[String]) -> Result<Vec<String>> {
        let mut servers = Vec::new();
        for name in names {
            if self.hosts.contains_key(name) {
                servers.push(name.clone());
            } else if let Some(members) = self.groups.get(name) {
                servers.extend(members.iter().cloned());
            } else {
                bail!(
                    "no server or group named `{name}` in the inventory; servers: {}; groups: {}",
                    self.hosts.keys().cloned().collect::<Vec<_>>().join(", "),
                    self.groups.keys().cloned().collect::<Vec<_>>().join(", ")
                );
            }
        }
        let mut seen = BTreeSet::new();
        servers.retain(|s| seen.insert(s.clone()));
        Ok(servers)
    }
}

fn collect_hosts(
    groups: &BTreeMap<String, Group>,
    name: &str,
    out: &mut BTreeSet<String>,
    seen: &mut BTreeSet<String>,
) {
    if !seen.insert(name.to_string()) {
        return;
    }
    if let Some(group) = groups.get(name) {
        out.extend(group.hosts.iter().cloned());
        for child in &group.children {
            collect_hosts(groups, child, out, seen);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: &str = r#"{
        "_meta": {"hostvars": {"web-01": {"a": 1}, "web-02": {}, "db-01": {}, "solo": {}}},
        "all": {"children": ["ungrouped", "prod"]},
        "prod": {"children": ["web", "db"]},
        "web": {"hosts": ["web-01", "web-02"]},
        "db": {"hosts": ["db-01"]},
        "ungrouped": {"hosts": ["solo"]}
    }"#;

    #[test]
    fn hosts_know_their_groups_through_children() {
        let inv = Inventory::from_list_json(LIST.as_bytes()).unwrap();
        assert_eq!(
            inv.hosts.keys().collect::<Vec<_>>(),
            ["db-01", "solo", "web-01", "web-02"]
        );
        let groups: Vec<&String> = inv.hosts["web-01"].iter().collect();
        assert_eq!(groups, ["prod", "web"]);
        assert!(inv.hosts["solo"].is_empty());
        assert_eq!(inv.groups["prod"].len(), 3);
        assert!(!inv.groups.contains_key("all"));
    }

    #[test]
    fn resolve_expands_groups_and_rejects_unknown_names() {
        let inv = Inventory::from_list_json(LIST.as_bytes()).unwrap();
        assert_eq!(
            inv.resolve(&["db".into(), "web-01".into(), "db-01".into()])
                .unwrap(),
            ["db-01", "web-01"]
        );
        let err = inv.resolve(&["nope".into()]).unwrap_err().to_string();
        assert!(
            err.contains("`nope`") && err.contains("groups: db, prod, web"),
            "{err}"
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(Inventory::from_list_json(b"not json").is_err());
    }
}
