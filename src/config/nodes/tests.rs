use super::*;
use crate::config::parse as parse_config;
use std::path::Path;

fn load(text: &str) -> anyhow::Result<crate::config::Loaded> {
    parse_config(text, Path::new("inventory/prod/config.yml"))
}

#[test]
fn without_the_key_runs_stay_on_this_machine() {
    let loaded = load("max_parallel_workers: 3\n").unwrap();
    assert_eq!(loaded.config.execution_nodes, ExecutionNodes::default());
}

#[test]
fn nodes_are_read_with_their_defaults() {
    let loaded = load(
        "execution_nodes:\n  - name: local\n    capacity: 2\n  - name: exec-a\n    ssh: deploy@exec-a\n    \
         ssh_options: [\"-p\", \"2222\"]\n    capacity: 8\n    worker: /opt/fd/venv/bin/ansible-runner\n  \
         - name: exec-b\n    ssh: deploy@exec-b\n    work_dir: /srv/fd/\nnode_for: {db: [exec-b], web: exec-a}\n",
    )
    .unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let nodes = &loaded.config.execution_nodes;
    assert_eq!(nodes.nodes.len(), 3);
    assert_eq!(nodes.nodes[0].ssh, None);
    assert_eq!(nodes.nodes[0].capacity, Some(2));
    let a = nodes.nodes[1].ssh.as_ref().unwrap();
    assert_eq!(a.destination, "deploy@exec-a");
    assert_eq!(a.ssh_options, ["-p", "2222"]);
    assert_eq!(a.worker, "/opt/fd/venv/bin/ansible-runner");
    assert_eq!(a.work_dir, DEFAULT_WORK_DIR);
    assert_eq!(a.guard, "/var/tmp/fleetdeck/fleetdeck-guard");
    let b = nodes.nodes[2].ssh.as_ref().unwrap();
    assert_eq!(
        nodes.nodes[2].capacity, None,
        "the node's CPU count, once probed"
    );
    assert_eq!(b.worker, DEFAULT_WORKER);
    assert_eq!(b.guard, "/srv/fd/fleetdeck-guard");
    assert_eq!(nodes.node_for["db"], ["exec-b"]);
    assert_eq!(nodes.node_for["web"], ["exec-a"]);
}

#[test]
fn a_node_with_an_unknown_key_or_no_destination_is_skipped_with_the_reason() {
    let loaded = load(
        "execution_nodes:\n  - name: exec-a\n    ssh: deploy@exec-a\n    capcity: 8\n  \
         - name: exec-b\n    capacity: 4\n  - name: local\n    ssh: me@here\n  - name: exec-c\n    ssh: c\n",
    )
    .unwrap();
    let problems: Vec<_> = loaded
        .config
        .execution_nodes
        .nodes
        .iter()
        .map(|node| (node.name.as_str(), node.problem.clone()))
        .collect();
    let problem = |name: &str| problems.iter().find(|p| p.0 == name).unwrap().1.clone();
    let a = problem("exec-a").expect("skipped");
    assert!(
        a.contains("unknown key `capcity`") && a.contains("did you mean `capacity`?"),
        "{a}"
    );
    assert!(problem("exec-b").unwrap().contains("no `ssh` destination"));
    assert!(
        problem("local")
            .unwrap()
            .contains("takes only name and capacity")
    );
    assert_eq!(problem("exec-c"), None);
    assert_eq!(loaded.warnings.len(), 3);
    assert!(
        loaded.warnings[0].starts_with("inventory/prod/config.yml: execution_nodes: node exec-a is skipped (capacity 0): unknown key `capcity`"),
        "{}",
        loaded.warnings[0]
    );
}

#[test]
fn bad_node_lists_and_unknown_pinned_nodes_are_errors_naming_the_file_key_and_fix() {
    let cases = [
        (
            "execution_nodes: exec-a\n",
            "`execution_nodes` is not a list of nodes",
        ),
        ("execution_nodes:\n  - ssh: a\n", "entry 1 has no name"),
        (
            "execution_nodes:\n  - {name: a, ssh: a}\n  - {name: a, ssh: b}\n",
            "names node a twice",
        ),
        (
            "execution_nodes:\n  - {name: exec-a, ssh: a}\nnode_for: {db: [exec-b]}\n",
            "sends group db to node exec-b, which execution_nodes does not name (nodes: exec-a)",
        ),
        ("node_for: [db]\n", "`node_for` is not a map"),
    ];
    for (text, expected) in cases {
        let err = format!("{:#}", load(text).unwrap_err());
        assert!(err.starts_with("inventory/prod/config.yml:"), "{err}");
        assert!(err.contains(expected), "{text}: {err}");
        assert!(err.contains("fix: "), "{err}");
    }
}
