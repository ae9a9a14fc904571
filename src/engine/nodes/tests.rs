use super::*;

fn node(name: &str, remote: bool, capacity: Option<u32>) -> NodeSetup {
    NodeSetup {
        name: name.into(),
        remote,
        capacity,
        skipped: None,
    }
}

fn ready(nodes: &mut Nodes, id: NodeId) {
    nodes.set_health(
        id,
        NodeHealth::Ready {
            version: Some("2.4.3".into()),
            reported_capacity: Some(2),
        },
    );
}

fn three() -> Nodes {
    let mut nodes = Nodes::new(
        vec![
            node("local", false, Some(1)),
            node("exec-a", true, Some(4)),
            node("exec-b", true, None),
        ],
        HashMap::from([("db-01".to_string(), vec!["exec-b".to_string()])]),
        true,
    );
    ready(&mut nodes, 1);
    ready(&mut nodes, 2);
    nodes
}

#[test]
fn without_execution_nodes_this_machine_takes_as_many_runs_as_the_pool() {
    let mut nodes = Nodes::default();
    assert!(!nodes.configured());
    for _ in 0..3 {
        assert_eq!(nodes.place("web-01", 3), Some(0));
        nodes.occupy(0);
    }
    assert_eq!(nodes.place("web-01", 3), None);
    assert!(!nodes.any_room(3));
    nodes.release(0);
    assert!(nodes.any_room(3));
    assert_eq!(nodes.place("web-01", 3), Some(0));
}

#[test]
fn a_run_goes_to_the_least_loaded_node_with_room() {
    let mut nodes = three();
    // All empty: the config's order breaks the tie.
    assert_eq!(nodes.place("web-01", 10), Some(0));
    nodes.occupy(0);
    // local is full (1/1); exec-a 0/4 and exec-b 0/2 tie: exec-a comes first.
    assert_eq!(nodes.place("web-01", 10), Some(1));
    nodes.occupy(1);
    // exec-a 1/4 = 25 % against exec-b 0/2.
    assert_eq!(nodes.place("web-01", 10), Some(2));
    nodes.occupy(2);
    // exec-a 1/4 against exec-b 1/2 (50 %).
    assert_eq!(nodes.place("web-01", 10), Some(1));
}

#[test]
fn a_pinned_server_waits_for_its_own_nodes_even_when_others_have_room() {
    let mut nodes = three();
    nodes.occupy(2);
    nodes.occupy(2);
    assert_eq!(
        nodes.place("db-01", 10),
        None,
        "exec-b is full (2 reported)"
    );
    assert_eq!(
        nodes.why_none("db-01", 10),
        "waiting for a node: exec-b full (2/2)"
    );
    assert_eq!(nodes.place("web-01", 10), Some(0));
    nodes.release(2);
    assert_eq!(nodes.place("db-01", 10), Some(2));
}

#[test]
fn a_node_not_ready_has_no_room_and_says_why() {
    let mut nodes = Nodes::new(
        vec![node("exec-a", true, Some(4)), {
            let mut bad = node("exec-b", true, Some(4));
            bad.skipped = Some("unknown key `capcity`".into());
            bad
        }],
        HashMap::new(),
        true,
    );
    assert_eq!(nodes.health(0), &NodeHealth::Probing);
    assert!(nodes.may_come_back());
    assert_eq!(nodes.place("web-01", 8), None);
    assert!(matches!(nodes.health(1), NodeHealth::Skipped { .. }));
    assert_eq!(nodes.capacity(1, 8), 0);
    ready(&mut nodes, 0);
    assert!(!nodes.may_come_back());
    assert_eq!(nodes.place("web-01", 8), Some(0));
    assert!(nodes.set_health(
        0,
        NodeHealth::Lost {
            reason: "ssh: connection refused".into()
        }
    ));
    assert_eq!(nodes.place("web-01", 8), None);
    let view = nodes.view(8);
    assert_eq!(view[0].capacity, 0);
    assert_eq!(view[1].capacity, 0);
}

#[test]
fn a_node_without_a_configured_capacity_takes_what_it_reports() {
    let nodes = three();
    assert_eq!(nodes.capacity(2, 10), 2);
    assert_eq!(nodes.capacity(1, 10), 4, "config.yml's capacity wins");
}
