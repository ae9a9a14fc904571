//! The engine's side of its execution nodes: how to reach each, their probes, and the one
//! payload (playbooks and an inventory snapshot) that every remote run of the environment
//! ships, built once when the first remote run needs it and again after the inventory changed.

use super::payload::{self, Payload, Sources};
use super::probe;
use super::run::{self, RemoteSpec};
use crate::config::nodes::SshNode;
use crate::engine::nodes::{NodeHealth, NodeId, NodeSetup, Nodes};
use crate::engine::runner::{RunHandle, RunSpec, RunnerMsg};
use crate::inventory::Inventory;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// Where runs may go, as the environment's config and inventory say.
#[derive(Clone, Debug)]
pub struct NodePlan {
    pub setups: Vec<NodeSetup>,
    /// How to reach each node, by `NodeId`; `None`: this machine.
    pub ssh: Vec<Option<SshNode>>,
    /// Server → the nodes it may run on (`node_for`, resolved through the inventory's groups).
    pub pinned: HashMap<String, Vec<String>>,
    /// config.yml names execution nodes.
    pub configured: bool,
    /// What the payload is built from: the project, and `ansible-inventory` to list the hosts.
    pub sources: Option<PayloadSources>,
    /// The key each remote run gets for ssh to the managed hosts (`hosts_ssh_key`).
    pub hosts_ssh_key: Option<Arc<crate::secrets::Secret>>,
}

#[derive(Clone, Debug)]
pub struct PayloadSources {
    pub root: PathBuf,
    pub playbooks: HashMap<crate::engine::model::Action, PathBuf>,
    pub inventory: PathBuf,
    pub inventory_program: PathBuf,
}

impl NodePlan {
    pub fn local_only() -> NodePlan {
        NodePlan {
            setups: NodeSetup::local_only(),
            ssh: vec![None],
            pinned: HashMap::new(),
            configured: false,
            sources: None,
            hosts_ssh_key: None,
        }
    }

    pub fn nodes(&self) -> Nodes {
        Nodes::new(self.setups.clone(), self.pinned.clone(), self.configured)
    }

    pub fn has_remote(&self) -> bool {
        self.ssh.iter().any(Option::is_some)
    }
}

/// A payload and the fingerprint of what it was made from.
type Built = (u64, Arc<Payload>);

/// The payload, built by the first run that needs it and again whenever what it is made of
/// changed; runs wait for a build under way. A failed build is not kept: the next run tries again.
#[derive(Clone, Debug, Default)]
pub struct PayloadCell {
    built: Arc<tokio::sync::Mutex<Option<Built>>>,
    sources: Option<Arc<PayloadSources>>,
}

impl PayloadCell {
    pub fn new(sources: PayloadSources) -> PayloadCell {
        PayloadCell {
            built: Arc::default(),
            sources: Some(Arc::new(sources)),
        }
    }

    pub async fn get(&self) -> Result<Arc<Payload>, String> {
        let Some(sources) = self.sources.clone() else {
            return Err("nothing to send to the nodes (no project)".to_string());
        };
        let mut built = self.built.lock().await;
        let print = {
            let sources = sources.clone();
            tokio::task::spawn_blocking(move || {
                payload::fingerprint(&payload_sources(&sources, Vec::new()))
            })
            .await
            .map_err(|err| format!("looking at the project: {err}"))?
            .map_err(|err| format!("{err:#}"))?
        };
        if let Some((seen, payload)) = built.as_ref()
            && *seen == print
        {
            return Ok(payload.clone());
        }
        let payload = tokio::task::spawn_blocking(move || build(&sources))
            .await
            .map_err(|err| format!("building the payload: {err}"))?
            .map_err(|err| format!("{err:#}"))?;
        let payload = Arc::new(payload);
        *built = Some((print, payload.clone()));
        Ok(payload)
    }
}

fn payload_sources(sources: &PayloadSources, inventory_list_json: Vec<u8>) -> Sources {
    Sources {
        root: sources.root.clone(),
        playbooks: sources.playbooks.clone(),
        inventory: sources.inventory.clone(),
        inventory_list_json,
    }
}

fn build(sources: &PayloadSources) -> anyhow::Result<Payload> {
    // --export keeps group vars on their groups, so they rank on the node as they do here
    // (plain --list folds them into each host's vars, above a playbook's group_vars).
    let listed = Inventory::list_json(
        &sources.inventory_program,
        &sources.inventory,
        &sources.root,
        &["--export"],
    )?;
    payload::build(&payload_sources(sources, listed.stdout))
}

pub struct Fleet {
    names: Vec<String>,
    ssh: Vec<Option<SshNode>>,
    sources: Option<Arc<PayloadSources>>,
    payload: Mutex<PayloadCell>,
    hosts_ssh_key: Option<Arc<crate::secrets::Secret>>,
}

impl Fleet {
    pub fn new(plan: &NodePlan) -> Arc<Fleet> {
        let sources = plan.sources.clone().map(Arc::new);
        Arc::new(Fleet {
            names: plan.setups.iter().map(|setup| setup.name.clone()).collect(),
            ssh: plan.ssh.clone(),
            payload: Mutex::new(PayloadCell {
                built: Arc::default(),
                sources: sources.clone(),
            }),
            sources,
            hosts_ssh_key: plan.hosts_ssh_key.clone(),
        })
    }

    /// The node's ssh side; `None`: the run is local.
    pub fn remote(&self, id: NodeId) -> Option<&SshNode> {
        self.ssh.get(id).and_then(Option::as_ref)
    }

    /// Probes every execution node now (the engine's start). A node config.yml skipped has no
    /// ssh side to probe.
    pub fn probe_all(self: &Arc<Self>, tx: &mpsc::UnboundedSender<RunnerMsg>) {
        for id in 0..self.ssh.len() {
            if self.remote(id).is_some() {
                self.probe_after(id, Duration::ZERO, tx);
            }
        }
    }

    /// Probes `id` after `after` (a lost node rests first), telling the engine what it found.
    pub fn probe_after(
        self: &Arc<Self>,
        id: NodeId,
        after: Duration,
        tx: &mpsc::UnboundedSender<RunnerMsg>,
    ) {
        let fleet = self.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            let Some(node) = fleet.remote(id) else {
                return;
            };
            if !after.is_zero() {
                tokio::time::sleep(after).await;
                let _ = tx.send(RunnerMsg::Node(id, NodeHealth::Probing));
            }
            let name = &fleet.names[id];
            let probed = probe::probe(name, node).await;
            if !probed.cleaned.is_empty() {
                log::info!(
                    target: "engine",
                    "Node {name}: removed {} folder(s) that crashed runs left: {}",
                    probed.cleaned.len(),
                    probed.cleaned.join(", ")
                );
            }
            let _ = tx.send(RunnerMsg::Node(id, probed.health));
        });
    }

    /// The inventory was read again: the next remote run ships a new snapshot of it.
    pub fn inventory_changed(&self) {
        if let Ok(mut payload) = self.payload.lock() {
            *payload = PayloadCell {
                built: Arc::default(),
                sources: self.sources.clone(),
            };
        }
    }

    pub fn start_run(
        &self,
        id: NodeId,
        node: &SshNode,
        spec: RunSpec,
        tx: mpsc::UnboundedSender<RunnerMsg>,
    ) -> RunHandle {
        let payload = self
            .payload
            .lock()
            .map(|payload| payload.clone())
            .unwrap_or_default();
        run::start(
            RemoteSpec {
                item: spec.item,
                slot: spec.slot,
                timeout: spec.timeout,
                cancel_grace: spec.cancel_grace,
                log_dir: spec.log_dir,
                node: self.names[id].clone(),
                ssh: node.clone(),
                payload,
                ssh_key: self.hosts_ssh_key.clone(),
            },
            tx,
        )
    }
}
