//! The environment's nodes as the engine runs them: config.yml's `execution_nodes` (this
//! machine alone without it) and `node_for`'s groups resolved to servers through the inventory.

use super::Environment;
use crate::config::nodes::LOCAL;
use crate::engine::model::Action;
use crate::engine::nodes::NodeSetup;
use crate::engine::remote::fleet::{NodePlan, PayloadSources};
use crate::inventory::Inventory;
use crate::secrets::Secret;
use anyhow::Result;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

impl Environment {
    /// Whether runs may go to this machine: always without `execution_nodes`, else only with
    /// a `local` entry that may take some (no warm runner is started for nothing).
    pub fn runs_here(&self) -> bool {
        let nodes = &self.config.execution_nodes.nodes;
        nodes.is_empty()
            || nodes.iter().any(|node| {
                node.name == LOCAL && node.problem.is_none() && node.capacity != Some(0)
            })
    }

    pub fn node_plan(&self, inventory: &Inventory) -> Result<NodePlan> {
        let config = &self.config.execution_nodes;
        if config.nodes.is_empty() {
            let mut plan = NodePlan::local_only();
            plan.pinned = pinned(inventory, &config.node_for);
            return Ok(plan);
        }
        let setups = config
            .nodes
            .iter()
            .map(|node| NodeSetup {
                name: node.name.clone(),
                remote: node.ssh.is_some() || node.name != LOCAL,
                capacity: node.capacity,
                skipped: node.problem.clone(),
            })
            .collect();
        Ok(NodePlan {
            setups,
            ssh: config.nodes.iter().map(|node| node.ssh.clone()).collect(),
            pinned: pinned(inventory, &config.node_for),
            configured: true,
            sources: Some(PayloadSources {
                root: self.root.clone(),
                playbooks: HashMap::from([
                    (Action::Provision, self.config.playbooks.provision.clone()),
                    (Action::Deploy, self.config.playbooks.deploy.clone()),
                    (Action::Check, self.config.playbooks.check.clone()),
                ]),
                inventory: self.inventory_path.clone(),
                inventory_program: self.inventory_program(),
            }),
            hosts_ssh_key: self.hosts_ssh_key()?,
        })
    }

    /// `hosts_ssh_key`, read once: relative to the environment folder, `~/` the home folder.
    fn hosts_ssh_key(&self) -> Result<Option<Arc<Secret>>> {
        let Some(path) = &self.config.hosts_ssh_key else {
            return Ok(None);
        };
        let path = match (path.strip_prefix("~"), std::env::var_os("HOME")) {
            (Ok(rest), Some(home)) => PathBuf::from(home).join(rest),
            _ => self.dir.join(path),
        };
        let key = std::fs::read(&path)
            .map_err(anyhow::Error::from)
            .and_then(Secret::key)
            .map_err(|err| {
                anyhow::anyhow!(
                    "{}: `hosts_ssh_key` {}: cannot be read: {err}\n  fix: name a private key \
                     file on this machine, e.g. `hosts_ssh_key: ~/.ssh/fleet_ed25519`",
                    self.dir.join("config.yml").display(),
                    path.display()
                )
            })?;
        Ok(Some(Arc::new(key)))
    }
}

/// Server → the nodes it may run on. A server in several pinned groups may run on the nodes
/// of any of them; a group the inventory does not have pins nothing, and is said.
fn pinned(
    inventory: &Inventory,
    node_for: &std::collections::BTreeMap<String, Vec<String>>,
) -> HashMap<String, Vec<String>> {
    let mut pinned: HashMap<String, Vec<String>> = HashMap::new();
    for (group, nodes) in node_for {
        let Some(servers) = inventory.groups.get(group) else {
            log::warn!(target: "engine", "node_for: the inventory has no group {group}; its nodes pin nothing");
            continue;
        };
        for server in servers {
            let allowed = pinned.entry(server.clone()).or_default();
            for node in nodes {
                if !allowed.contains(node) {
                    allowed.push(node.clone());
                }
            }
        }
    }
    pinned
}
