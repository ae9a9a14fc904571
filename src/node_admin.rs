//! `fleetdeck nodes` (each node's runner, capacity and health, asked over ssh) and
//! `fleetdeck node install|guard` (putting fleetdeck's guard on a node).

use crate::config::nodes::{ExecutionNode, SshNode};
use crate::engine::nodes::NodeHealth;
use crate::engine::remote::{guard, probe, ssh};
use crate::project::Environment;
use anyhow::{Context, Result, bail};
use std::io::Write as _;
use std::process::Stdio;

/// One line per node. Returns whether every node can take runs.
pub async fn list(env: &Environment) -> Result<bool> {
    let config = &env.config.execution_nodes;
    let workers = env.config.max_parallel_workers.max(1);
    if config.nodes.is_empty() {
        println!(
            "local  this machine  capacity {workers} (max_parallel_workers)  ready\n\
             (no execution_nodes in {}: every run is local)",
            env.dir.join("config.yml").display()
        );
        return Ok(true);
    }
    // Every node is asked at once: a slow node does not hold up the others' answers.
    let asked: Vec<_> = config
        .nodes
        .iter()
        .cloned()
        .map(|node| {
            tokio::spawn(async move {
                match (&node.ssh, &node.problem) {
                    (_, Some(problem)) => Row::skipped(&node, problem),
                    (None, None) => Row::local(&node, workers),
                    (Some(ssh), None) => {
                        let probed = probe::probe(&node.name, ssh).await;
                        Row::probed(&node, ssh, probed)
                    }
                }
            })
        })
        .collect();
    let mut rows = Vec::with_capacity(asked.len());
    for answer in asked {
        rows.push(answer.await.context("asking a node")?);
    }
    // Each column as wide as its widest cell, its title included.
    let width = |title: &str, pick: fn(&Row) -> &str| {
        rows.iter()
            .map(|row| pick(row).chars().count())
            .chain([title.len()])
            .max()
            .unwrap_or(0)
    };
    let (name_w, place_w, runner_w, capacity_w) = (
        width("node", |row| &row.name),
        width("reached as", |row| &row.place),
        width("runner", |row| &row.runner),
        width("capacity", |row| &row.capacity),
    );
    println!(
        "{:name_w$}  {:place_w$}  {:runner_w$}  {:capacity_w$}  health",
        "node", "reached as", "runner", "capacity"
    );
    for row in &rows {
        println!(
            "{:name_w$}  {:place_w$}  {:runner_w$}  {:capacity_w$}  {}",
            row.name, row.place, row.runner, row.capacity, row.health
        );
    }
    Ok(rows.iter().all(|row| row.usable))
}

struct Row {
    name: String,
    place: String,
    runner: String,
    capacity: String,
    health: String,
    usable: bool,
}

impl Row {
    fn local(node: &ExecutionNode, workers: u32) -> Row {
        Row {
            name: node.name.clone(),
            place: "this machine".into(),
            runner: "ansible-playbook".into(),
            capacity: node.capacity.unwrap_or(workers).to_string(),
            health: "ready".into(),
            usable: true,
        }
    }

    fn skipped(node: &ExecutionNode, problem: &str) -> Row {
        Row {
            name: node.name.clone(),
            place: node
                .ssh
                .as_ref()
                .map_or("-".into(), |ssh| ssh.destination.clone()),
            runner: "-".into(),
            capacity: "0".into(),
            health: format!("skipped: {problem}"),
            usable: false,
        }
    }

    fn probed(node: &ExecutionNode, ssh: &SshNode, probed: probe::Probed) -> Row {
        let runner = probed
            .runner_version
            .as_ref()
            .map_or("-".into(), |version| format!("ansible-runner {version}"));
        let (capacity, health, usable) = match &probed.health {
            NodeHealth::Ready {
                reported_capacity, ..
            } => {
                // As the engine counts it (config.yml's, else what the node reported).
                let capacity = node
                    .capacity
                    .or(*reported_capacity)
                    .map_or("?".into(), |capacity| capacity.to_string());
                let cleaned = if probed.cleaned.is_empty() {
                    String::new()
                } else {
                    format!(
                        ", removed {} folder(s) of crashed runs",
                        probed.cleaned.len()
                    )
                };
                let health = format!(
                    "ready (answered in {:.1} s{cleaned})",
                    probed.took.as_secs_f64()
                );
                (capacity, health, true)
            }
            NodeHealth::Skipped { reason } => ("0".into(), format!("skipped: {reason}"), false),
            NodeHealth::Lost { reason } => ("0".into(), format!("unreachable: {reason}"), false),
            NodeHealth::Probing => ("0".into(), "no answer".into(), false),
        };
        Row {
            name: node.name.clone(),
            place: ssh.destination.clone(),
            runner,
            capacity,
            health,
            usable,
        }
    }
}

/// Copies the guard to the node over its ssh (the options runs use), through a temp file and
/// a rename, so a run starting meanwhile never finds half a guard; then asks the node.
pub async fn install(env: &Environment, name: &str) -> Result<bool> {
    let config = &env.config.execution_nodes;
    let Some(node) = config.nodes.iter().find(|node| node.name == name) else {
        let names: Vec<&str> = config.nodes.iter().map(|node| node.name.as_str()).collect();
        bail!(
            "{} names no node {name} (nodes: {})",
            env.dir.join("config.yml").display(),
            if names.is_empty() {
                "none".into()
            } else {
                names.join(", ")
            }
        );
    };
    if let Some(problem) = &node.problem {
        bail!(
            "node {name} is skipped, {}: {problem}",
            env.dir.join("config.yml").display()
        );
    }
    let Some(ssh_node) = &node.ssh else {
        bail!("node {name} is this machine: it needs no guard");
    };
    let target = &ssh_node.guard;
    let dir = std::path::Path::new(target)
        .parent()
        .map(|dir| dir.display().to_string())
        .filter(|dir| !dir.is_empty())
        .unwrap_or_else(|| ".".into());
    let staging = format!("{target}.installing");
    let script = format!(
        "umask 077 && mkdir -p {dir} && cat > {staging} && chmod 755 {staging} && mv -f {staging} {target}",
        dir = quote(&dir),
        staging = quote(&staging),
        target = quote(target),
    );
    let argv = ssh::argv(ssh_node, &["sh".into(), "-c".into(), script]);
    let mut child = std::process::Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting ssh")?;
    child
        .stdin
        .take()
        .context("ssh's stdin")?
        .write_all(guard::SOURCE.as_bytes())
        .context("sending the guard")?;
    let output = child.wait_with_output().context("waiting for ssh")?;
    if !output.status.success() {
        bail!(
            "copying the guard to {}:{target} failed ({}): {}",
            ssh_node.destination,
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    println!(
        "installed fleetdeck's guard (protocol {}) at {}:{target}",
        guard::VERSION,
        ssh_node.destination
    );
    let probed = probe::probe(name, ssh_node).await;
    let row = Row::probed(node, ssh_node, probed);
    println!(
        "{name}: {} · capacity {} · {}",
        row.runner, row.capacity, row.health
    );
    Ok(row.usable)
}

fn quote(word: &str) -> String {
    ssh::quote(&[word.to_string()])
}
