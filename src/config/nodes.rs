//! `execution_nodes` and `node_for`: where runs go. A node entry that cannot be used (an
//! unknown key, a missing ssh destination) is kept with its problem, so the node is shown as
//! skipped with capacity 0 and the reason, and the others still run; a `node_for` naming a
//! node that does not exist is an error, since its servers would wait forever.

use serde_yaml_ng::Value;
use std::collections::BTreeMap;

/// The keys of one `execution_nodes` entry.
pub const NODE_KEYS: [&str; 7] = [
    "name",
    "ssh",
    "ssh_options",
    "capacity",
    "worker",
    "work_dir",
    "guard",
];
pub const LOCAL: &str = "local";
pub const DEFAULT_WORKER: &str = "ansible-runner";
pub const DEFAULT_WORK_DIR: &str = "/var/tmp/fleetdeck";
/// The guard's file name in `work_dir`, where `fleetdeck node install` puts it.
pub const GUARD_FILE: &str = "fleetdeck-guard";

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExecutionNodes {
    /// In the config's order; empty: this machine alone, as without the key.
    pub nodes: Vec<ExecutionNode>,
    /// Inventory group → the nodes its servers may run on.
    pub node_for: BTreeMap<String, Vec<String>>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ExecutionNode {
    pub name: String,
    /// Runs at once; `None`: the pool's size (local) or the node's CPU count (remote).
    pub capacity: Option<u32>,
    /// `None`: this machine.
    pub ssh: Option<SshNode>,
    /// Why the node is skipped, already said in the config's warnings.
    pub problem: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SshNode {
    /// `user@host` or a Host of the operator's ssh config.
    pub destination: String,
    pub ssh_options: Vec<String>,
    /// ansible-runner on the node.
    pub worker: String,
    /// Where runs unpack on the node (each in a dir of its own, removed at its end).
    pub work_dir: String,
    /// fleetdeck's guard on the node.
    pub guard: String,
}

/// Reads both keys. `invalid(key, problem)` makes the config's error for a key; `warn` gets
/// the message of each skipped node.
pub fn parse(
    nodes: Option<&Value>,
    node_for: Option<&Value>,
    invalid: &dyn Fn(&str, String) -> anyhow::Error,
    warn: &mut dyn FnMut(String),
) -> anyhow::Result<ExecutionNodes> {
    let entries = match nodes {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Sequence(entries)) => entries.clone(),
        Some(_) => {
            return Err(invalid("execution_nodes", "is not a list of nodes".into()));
        }
    };
    let mut parsed: Vec<ExecutionNode> = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let Value::Mapping(map) = entry else {
            return Err(invalid(
                "execution_nodes",
                format!("entry {} is not a map of node keys", index + 1),
            ));
        };
        let name = match map.get("name") {
            Some(Value::String(name)) if !name.trim().is_empty() => name.trim().to_string(),
            _ => {
                return Err(invalid(
                    "execution_nodes",
                    format!("entry {} has no name", index + 1),
                ));
            }
        };
        if parsed.iter().any(|node| node.name == name) {
            return Err(invalid(
                "execution_nodes",
                format!("names node {name} twice; each node needs a name of its own"),
            ));
        }
        let node = read_node(name, map);
        if let Some(problem) = &node.problem {
            warn(format!(
                "execution_nodes: node {} is skipped (capacity 0): {problem}",
                node.name
            ));
        }
        parsed.push(node);
    }
    let node_for = read_node_for(node_for, &parsed, invalid)?;
    Ok(ExecutionNodes {
        nodes: parsed,
        node_for,
    })
}

fn read_node(name: String, map: &serde_yaml_ng::Mapping) -> ExecutionNode {
    let mut node = ExecutionNode {
        name,
        capacity: None,
        ssh: None,
        problem: None,
    };
    match node_fields(&node.name, map) {
        Ok((capacity, ssh)) => {
            node.capacity = capacity;
            node.ssh = ssh;
        }
        Err(problem) => node.problem = Some(problem),
    }
    node
}

type Fields = (Option<u32>, Option<SshNode>);

fn node_fields(name: &str, map: &serde_yaml_ng::Mapping) -> Result<Fields, String> {
    for key in map.keys() {
        let key = key.as_str().unwrap_or("?");
        if !NODE_KEYS.contains(&key) {
            let hint = super::closest(key, NODE_KEYS)
                .map(|known| format!("did you mean `{known}`? "))
                .unwrap_or_default();
            return Err(format!(
                "unknown key `{key}`; {hint}a node takes {}",
                NODE_KEYS.join(", ")
            ));
        }
    }
    let text = |key: &str| -> Result<Option<String>, String> {
        match map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) if !text.trim().is_empty() => Ok(Some(text.clone())),
            Some(_) => Err(format!(
                "`{key}` is not a text, e.g. `{key}: {}`",
                example(key)
            )),
        }
    };
    let capacity = match map.get("capacity") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) if n.as_u64().is_some_and(|n| n <= 1024) => {
            n.as_u64().map(|n| n as u32)
        }
        Some(_) => {
            return Err(
                "`capacity` is not a whole number from 0 to 1024, e.g. `capacity: 8`".into(),
            );
        }
    };
    let ssh_options = match map.get("ssh_options") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Sequence(items)) if items.iter().all(Value::is_string) => items
            .iter()
            .filter_map(|item| item.as_str().map(str::to_string))
            .collect(),
        Some(_) => {
            return Err(
                "`ssh_options` is not a list of texts, e.g. `ssh_options: [\"-p\", \"2222\"]`"
                    .into(),
            );
        }
    };
    let destination = text("ssh")?;
    let (worker, work_dir, guard) = (text("worker")?, text("work_dir")?, text("guard")?);
    if name == LOCAL {
        let remote_keys: Vec<&str> = ["ssh", "ssh_options", "worker", "work_dir", "guard"]
            .into_iter()
            .filter(|key| map.contains_key(*key))
            .collect();
        if !remote_keys.is_empty() {
            return Err(format!(
                "`local` is this machine and takes only name and capacity, not {}; give the \
                 node another name to run over ssh",
                remote_keys.join(", ")
            ));
        }
        return Ok((capacity, None));
    }
    let Some(destination) = destination else {
        return Err(format!(
            "it has no `ssh` destination, e.g. `ssh: deploy@{name}` (only `local` runs on this \
             machine)"
        ));
    };
    let work_dir = work_dir.unwrap_or_else(|| DEFAULT_WORK_DIR.to_string());
    let guard = guard.unwrap_or_else(|| format!("{}/{GUARD_FILE}", work_dir.trim_end_matches('/')));
    Ok((
        capacity,
        Some(SshNode {
            destination,
            ssh_options,
            worker: worker.unwrap_or_else(|| DEFAULT_WORKER.to_string()),
            work_dir,
            guard,
        }),
    ))
}

fn example(key: &str) -> &'static str {
    match key {
        "ssh" => "deploy@exec-a",
        "worker" => "/opt/fleetdeck/venv/bin/ansible-runner",
        "work_dir" => DEFAULT_WORK_DIR,
        _ => "/var/tmp/fleetdeck/fleetdeck-guard",
    }
}

fn read_node_for(
    value: Option<&Value>,
    nodes: &[ExecutionNode],
    invalid: &dyn Fn(&str, String) -> anyhow::Error,
) -> anyhow::Result<BTreeMap<String, Vec<String>>> {
    let map = match value {
        None | Some(Value::Null) => return Ok(BTreeMap::new()),
        Some(Value::Mapping(map)) => map,
        Some(_) => {
            return Err(invalid(
                "node_for",
                "is not a map of inventory groups to node names".into(),
            ));
        }
    };
    let known: Vec<&str> = if nodes.is_empty() {
        vec![LOCAL]
    } else {
        nodes.iter().map(|node| node.name.as_str()).collect()
    };
    let mut node_for = BTreeMap::new();
    for (group, names) in map {
        let Some(group) = group.as_str() else {
            return Err(invalid("node_for", "has a group that is not a name".into()));
        };
        let names: Vec<String> = match names {
            Value::String(name) => vec![name.clone()],
            Value::Sequence(items) if !items.is_empty() && items.iter().all(Value::is_string) => {
                items
                    .iter()
                    .filter_map(|item| item.as_str().map(str::to_string))
                    .collect()
            }
            _ => {
                return Err(invalid(
                    "node_for",
                    format!("`{group}` is not a list of node names"),
                ));
            }
        };
        if let Some(unknown) = names.iter().find(|name| !known.contains(&name.as_str())) {
            return Err(invalid(
                "node_for",
                format!(
                    "sends group {group} to node {unknown}, which execution_nodes does not \
                     name (nodes: {})",
                    known.join(", ")
                ),
            ));
        }
        node_for.insert(group.to_string(), names);
    }
    Ok(node_for)
}

#[cfg(test)]
mod tests;
