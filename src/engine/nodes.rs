//! Where runs go: this control node and the execution nodes of `config.yml`, each with its
//! capacity and health, and the groups pinned to some of them (`node_for`). The engine places
//! each run on the least loaded node with room that may take its server; the per-host lock
//! stays the engine's rule, whichever node runs the action.

use std::collections::HashMap;
use std::sync::Arc;

/// A node's place in the engine's list (the config's order).
pub type NodeId = usize;

/// What the engine knows of a node before it runs anything there.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeSetup {
    pub name: String,
    /// Reached over SSH (an execution node) rather than this machine.
    pub remote: bool,
    /// Runs at once; `None`: as many as the pool has workers (this machine without a
    /// configured capacity) or what the node reports (an execution node).
    pub capacity: Option<u32>,
    /// Why the node is out of use from the start (a bad entry in config.yml).
    pub skipped: Option<String>,
}

impl NodeSetup {
    /// This machine alone: what runs without `execution_nodes`.
    pub fn local_only() -> Vec<NodeSetup> {
        vec![NodeSetup {
            name: "local".into(),
            remote: false,
            capacity: None,
            skipped: None,
        }]
    }
}

/// A node's health as the engine last heard it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeHealth {
    /// Being asked for its runner version (at start, and again after it was lost).
    Probing,
    Ready {
        /// ansible-runner's version on an execution node.
        version: Option<String>,
        /// The capacity the node reported, used when config.yml gives none.
        reported_capacity: Option<u32>,
    },
    /// Out of use until fleetdeck starts again: a bad config entry, an unsupported runner.
    Skipped { reason: String },
    /// Unreachable: probed again after a while.
    Lost { reason: String },
}

#[derive(Clone, Debug, PartialEq)]
pub struct NodeView {
    pub name: String,
    pub remote: bool,
    pub health: NodeHealth,
    pub running: u32,
    /// What it may run now: 0 unless ready.
    pub capacity: u32,
}

#[derive(Clone, Debug, PartialEq)]
struct Node {
    setup: NodeSetup,
    health: NodeHealth,
    running: u32,
    /// Probes in a row that found it unreachable.
    lost_probes: u32,
}

/// A lost node is waited for (work queued for it keeps a headless run going) until this many
/// probes in a row found it unreachable.
pub const PROBES_WAITED_FOR: u32 = 3;

#[derive(Clone, Debug, PartialEq)]
pub struct Nodes {
    nodes: Vec<Node>,
    /// Servers of `node_for`'s groups and the nodes they may run on; others run anywhere.
    pinned: Arc<HashMap<String, Arc<[NodeId]>>>,
    /// Without `execution_nodes`: one node, this machine, and nothing to say about nodes.
    configured: bool,
}

impl Default for Nodes {
    fn default() -> Nodes {
        Nodes::new(NodeSetup::local_only(), HashMap::new(), false)
    }
}

impl Nodes {
    /// `pinned`: server → names of the nodes it may run on (unknown names are ignored: the
    /// config check names them).
    pub fn new(
        setups: Vec<NodeSetup>,
        pinned: HashMap<String, Vec<String>>,
        configured: bool,
    ) -> Nodes {
        let nodes: Vec<Node> = setups
            .into_iter()
            .map(|setup| Node {
                health: match (&setup.skipped, setup.remote) {
                    (Some(reason), _) => NodeHealth::Skipped {
                        reason: reason.clone(),
                    },
                    (None, true) => NodeHealth::Probing,
                    (None, false) => NodeHealth::Ready {
                        version: None,
                        reported_capacity: None,
                    },
                },
                setup,
                running: 0,
                lost_probes: 0,
            })
            .collect();
        let id_of = |name: &str| nodes.iter().position(|node| node.setup.name == name);
        let pinned = pinned
            .into_iter()
            .map(|(server, names)| {
                let ids: Arc<[NodeId]> = names.iter().filter_map(|name| id_of(name)).collect();
                (server, ids)
            })
            .collect();
        Nodes {
            nodes,
            pinned: Arc::new(pinned),
            configured,
        }
    }

    /// Whether config.yml names nodes (so the screens and logs name them too).
    pub fn configured(&self) -> bool {
        self.configured
    }

    pub fn name(&self, id: NodeId) -> &str {
        &self.nodes[id].setup.name
    }

    pub fn is_remote(&self, id: NodeId) -> bool {
        self.nodes[id].setup.remote
    }

    pub fn health(&self, id: NodeId) -> &NodeHealth {
        &self.nodes[id].health
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Runs the node may hold now; `workers` stands for "as many as the pool".
    pub fn capacity(&self, id: NodeId, workers: u32) -> u32 {
        let node = &self.nodes[id];
        match &node.health {
            NodeHealth::Ready {
                reported_capacity, ..
            } => node
                .setup
                .capacity
                .or(*reported_capacity)
                .unwrap_or(workers.max(1)),
            _ => 0,
        }
    }

    /// The nodes `server` may run on.
    fn allowed<'a>(&'a self, server: &str) -> Box<dyn Iterator<Item = NodeId> + 'a> {
        match self.pinned.get(server) {
            Some(ids) => Box::new(ids.iter().copied()),
            None => Box::new(0..self.nodes.len()),
        }
    }

    /// The least loaded node with room that may run `server` (the config's order breaks ties).
    pub fn place(&self, server: &str, workers: u32) -> Option<NodeId> {
        let mut best: Option<(NodeId, u32, u32)> = None;
        for id in self.allowed(server) {
            let capacity = self.capacity(id, workers);
            let running = self.nodes[id].running;
            if running >= capacity {
                continue;
            }
            // running / capacity, compared without division.
            let lighter = best.is_none_or(|(_, best_running, best_capacity)| {
                u64::from(running) * u64::from(best_capacity)
                    < u64::from(best_running) * u64::from(capacity)
            });
            if lighter {
                best = Some((id, running, capacity));
            }
        }
        best.map(|(id, _, _)| id)
    }

    /// Why `server` has no node now, for "why it waits": each node it may run on and its state.
    pub fn why_none(&self, server: &str, workers: u32) -> String {
        let states: Vec<String> = self
            .allowed(server)
            .map(|id| {
                let name = self.name(id);
                match self.health(id) {
                    NodeHealth::Probing => format!("{name} being probed"),
                    NodeHealth::Skipped { .. } => format!("{name} skipped"),
                    NodeHealth::Lost { .. } => format!("{name} unreachable"),
                    NodeHealth::Ready { .. } => format!(
                        "{name} full ({}/{})",
                        self.nodes[id].running,
                        self.capacity(id, workers)
                    ),
                }
            })
            .collect();
        if states.is_empty() {
            return "no node may run it (node_for names none that exists)".into();
        }
        format!("waiting for a node: {}", states.join(", "))
    }

    /// Whether any node could take a run now: when none can, nothing in the queue is looked at.
    pub fn any_room(&self, workers: u32) -> bool {
        (0..self.nodes.len()).any(|id| self.nodes[id].running < self.capacity(id, workers))
    }

    /// Whether a node not ready now may soon be (being probed, or lost and not yet given up
    /// on): work waiting for nodes is then not waiting for the operator.
    pub fn may_come_back(&self) -> bool {
        self.nodes.iter().any(|node| match node.health {
            NodeHealth::Probing => true,
            NodeHealth::Lost { .. } => node.lost_probes < PROBES_WAITED_FOR,
            _ => false,
        })
    }

    pub fn occupy(&mut self, id: NodeId) {
        self.nodes[id].running += 1;
    }

    pub fn release(&mut self, id: NodeId) {
        let node = &mut self.nodes[id];
        node.running = node.running.saturating_sub(1);
    }

    /// Returns whether the health changed.
    pub fn set_health(&mut self, id: NodeId, health: NodeHealth) -> bool {
        let Some(node) = self.nodes.get_mut(id) else {
            return false;
        };
        match &health {
            NodeHealth::Lost { .. } => node.lost_probes += 1,
            NodeHealth::Ready { .. } => node.lost_probes = 0,
            _ => {}
        }
        if node.health == health {
            return false;
        }
        node.health = health;
        true
    }

    pub fn view(&self, workers: u32) -> Vec<NodeView> {
        (0..self.nodes.len())
            .map(|id| NodeView {
                name: self.name(id).to_string(),
                remote: self.is_remote(id),
                health: self.health(id).clone(),
                running: self.nodes[id].running,
                capacity: self.capacity(id, workers),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
