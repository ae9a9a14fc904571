//! Placement on execution nodes: capacity, least load, pinning, probes, and a node that drops
//! a run before or after anything of it reached the node.

use super::*;
use crate::engine::nodes::{NodeHealth, NodeSetup, Nodes};

fn node(name: &str, remote: bool, capacity: u32) -> NodeSetup {
    NodeSetup {
        name: name.into(),
        remote,
        capacity: Some(capacity),
        skipped: None,
    }
}

fn ready() -> NodeHealth {
    NodeHealth::Ready {
        version: Some("2.4.3".into()),
        reported_capacity: Some(2),
    }
}

/// local (1 run at once) and exec-a (2), exec-a still being probed; 4 workers.
fn two_nodes(pinned: &[(&str, &str)]) -> Core {
    let pinned = pinned
        .iter()
        .map(|(server, node)| (server.to_string(), vec![node.to_string()]))
        .collect();
    let nodes = Nodes::new(
        vec![node("local", false, 1), node("exec-a", true, 2)],
        pinned,
        true,
    );
    Core::new(
        Policy {
            workers: 4,
            ..policy()
        },
        servers(),
    )
    .with_nodes(nodes)
}

fn probed(core: &mut Core, id: usize, health: NodeHealth) -> Vec<Effect> {
    core.update(Input::Node { id, health }, t0())
}

fn spawned_on(fx: &[Effect]) -> Vec<(String, usize)> {
    fx.iter()
        .filter_map(|effect| match effect {
            Effect::Spawn { item, node, .. } => Some((item.server.clone(), *node)),
            _ => None,
        })
        .collect()
}

/// What a run reports when ssh could not reach its node.
fn node_unreachable() -> Outcome {
    Outcome::Error {
        message: "node exec-a could not be reached: ssh: Connection refused".into(),
    }
}

fn node_lost(core: &mut Core, id: ItemId, before_start: bool) {
    core.update(
        Input::Run {
            id,
            event: RunEvent::NodeLost {
                message: "ssh: connect to host 127.0.2.1 port 2222: Connection refused".into(),
                before_start,
                ends_within: Duration::from_secs(35),
            },
        },
        t0(),
    );
}

#[test]
fn runs_wait_for_a_node_being_probed_and_go_to_the_least_loaded_one_with_room() {
    let mut core = two_nodes(&[]);
    let fx = deploy(&mut core, &["web-01", "web-02", "web-03", "web-04"]);
    assert_eq!(
        spawned_on(&fx),
        vec![("web-01".to_string(), 0)],
        "local has room for one; exec-a is not probed yet"
    );
    assert!(
        !core.is_idle(),
        "work waits for exec-a's probe, not for the operator"
    );
    let snapshot = core.snapshot(t0());
    let waiting = snapshot.queue.iter().next().expect("web-02 waits");
    assert_eq!(
        snapshot.wait_of(waiting),
        Wait::NoNode {
            why: "waiting for a node: local full (1/1), exec-a being probed".into()
        }
    );
    let fx = probed(&mut core, 1, ready());
    assert_eq!(
        spawned_on(&fx),
        vec![("web-02".to_string(), 1), ("web-03".to_string(), 1)]
    );
    assert!(
        logs(&fx)
            .iter()
            .any(|line| line.contains("Node exec-a ready (ansible-runner 2.4.3, capacity 2)"))
    );
    // The journal and the log say where each run went.
    assert!(journal(&fx).iter().any(|record| matches!(record,
        Record::Started { node: Some(node), .. } if node == "exec-a")));
    assert!(
        logs(&fx)
            .iter()
            .any(|line| line.contains("deploy for server web-02 on exec-a")),
        "{:?}",
        logs(&fx)
    );
    // Three runs on three nodes' slots, one worker free, web-04 waits for a node.
    let snapshot = core.snapshot(t0());
    let waiting = snapshot.queue.iter().next().expect("web-04 waits");
    assert_eq!(waiting.server, "web-04");
    assert!(matches!(snapshot.wait_of(waiting), Wait::NoNode { .. }));
    let web_02 = core
        .runs
        .values()
        .find(|run| run.item.server == "web-02")
        .unwrap()
        .item
        .id;
    let fx = finish(&mut core, web_02, ok());
    assert_eq!(spawned_on(&fx), vec![("web-04".to_string(), 1)]);
}

#[test]
fn a_pinned_server_runs_only_on_its_nodes() {
    let mut core = two_nodes(&[("web-01", "exec-a")]);
    let fx = deploy(&mut core, &["web-01", "web-02"]);
    assert_eq!(
        spawned_on(&fx),
        vec![("web-02".to_string(), 0)],
        "web-01 may run only on exec-a, which is being probed; web-02 passes it"
    );
    let fx = probed(&mut core, 1, ready());
    assert_eq!(spawned_on(&fx), vec![("web-01".to_string(), 1)]);
}

#[test]
fn a_skipped_node_takes_nothing_and_says_why() {
    let mut core = two_nodes(&[("web-01", "exec-a")]);
    let reason = "ansible-runner 2.2.1 is outside the supported range >=2.4, <2.5".to_string();
    let fx = probed(
        &mut core,
        1,
        NodeHealth::Skipped {
            reason: reason.clone(),
        },
    );
    assert!(logs(&fx)
        .iter()
        .any(|line| line.contains("Node exec-a skipped (capacity 0)") && line.contains(&reason)));
    let fx = deploy(&mut core, &["web-01"]);
    assert!(spawned_on(&fx).is_empty());
    assert!(
        core.is_idle(),
        "nothing will take web-01 without the operator"
    );
    let view = core.snapshot(t0()).nodes.view(4);
    assert_eq!(view[1].capacity, 0);
}

#[test]
fn a_run_whose_node_was_unreachable_goes_to_another_node_once_as_the_same_attempt() {
    // Two execution nodes, no local slot.
    let nodes = Nodes::new(
        vec![node("exec-a", true, 1), node("exec-b", true, 1)],
        HashMap::new(),
        true,
    );
    let mut core = Core::new(
        Policy {
            workers: 2,
            ..policy()
        },
        servers(),
    )
    .with_nodes(nodes);
    probed(&mut core, 0, ready());
    deploy(&mut core, &["web-01"]);
    let on_a = core.runs.values().next().unwrap().item.clone();
    node_lost(&mut core, on_a.id, true);
    let fx = finish(&mut core, on_a.id, node_unreachable());
    assert!(
        fx.iter()
            .any(|effect| matches!(effect, Effect::ProbeNode { node: 0, .. }))
    );
    assert!(
        journal(&fx).iter().any(|record| matches!(record,
        Record::Finished { id, retried: true, .. } if *id == on_a.id)),
        "the lost attempt is not a verdict"
    );
    let moved = core.queue.iter().next().expect("requeued").clone();
    assert_eq!(moved.server, on_a.server);
    assert_eq!(moved.attempt, on_a.attempt, "it counts as the same attempt");
    assert_eq!(moved.not_before, None, "no backoff: another node takes it");
    assert_eq!(core.snapshot(t0()).failed, 0);
    // exec-b is still being probed and exec-a may come back: a headless run waits for them.
    assert!(!core.is_idle());
    let fx = probed(&mut core, 1, ready());
    assert_eq!(spawned_on(&fx), vec![(on_a.server.clone(), 1)]);
    // Dropped again before the start: it is not moved a second time.
    node_lost(&mut core, moved.id, true);
    let fx = finish(&mut core, moved.id, node_unreachable());
    assert!(journal(&fx).iter().any(|record| matches!(record,
        Record::Finished { id, retried: false, .. } if *id == moved.id)));
    assert!(core.queue.is_empty());
    assert_eq!(core.snapshot(t0()).failed, 1);
}

#[test]
fn work_waits_for_a_lost_node_a_few_probes_then_for_the_operator() {
    let nodes = Nodes::new(vec![node("exec-a", true, 2)], HashMap::new(), true);
    let mut core = Core::new(policy(), servers()).with_nodes(nodes);
    let lost = || NodeHealth::Lost {
        reason: "ssh: connect to host 127.0.2.1 port 2222: Connection refused".into(),
    };
    probed(&mut core, 0, lost());
    deploy(&mut core, &["web-01"]);
    for _ in 1..crate::engine::nodes::PROBES_WAITED_FOR {
        assert!(!core.is_idle(), "the node may answer its next probe");
        probed(&mut core, 0, NodeHealth::Probing);
        probed(&mut core, 0, lost());
    }
    assert!(
        core.is_idle(),
        "given up on: the work waits for the operator"
    );
    // It answers after all: the work runs.
    let fx = probed(&mut core, 0, ready());
    assert_eq!(spawned_on(&fx), vec![("web-01".to_string(), 0)]);
}

#[test]
fn a_run_whose_stream_broke_after_it_started_is_interrupted_and_never_retried() {
    let mut core = two_nodes(&[]);
    probed(&mut core, 1, ready());
    deploy(&mut core, &["web-01", "web-02"]);
    let on_a = core
        .runs
        .values()
        .find(|run| run.node == 1)
        .unwrap()
        .item
        .clone();
    node_lost(&mut core, on_a.id, false);
    let fx = finish(&mut core, on_a.id, Outcome::Interrupted);
    assert!(journal(&fx).iter().any(|record| matches!(record,
        Record::Finished { id, retried: false, outcome: Outcome::Interrupted, .. } if *id == on_a.id)));
    assert!(
        core.queue.is_empty(),
        "never run twice on one server by itself"
    );
    assert!(
        logs(&fx).iter().any(|line| line.contains(&format!(
            "failed: deploy for server {} (interrupted: ssh: connect to host 127.0.2.1",
            on_a.server
        ))),
        "the worker's line says its node cut it: {:?}",
        logs(&fx)
    );
    assert!(
        fx.iter()
            .any(|effect| matches!(effect, Effect::ProbeNode { node: 1, .. }))
    );
    assert!(
        fx.iter()
            .any(|effect| matches!(effect, Effect::WakeAt(at) if *at == secs(35))),
        "the engine wakes when the cut run has surely ended"
    );
    // Found again by its probe: it takes runs again.
    let fx = probed(&mut core, 1, NodeHealth::Probing);
    assert!(spawned_on(&fx).is_empty());
    probed(&mut core, 1, ready());
    let fx = deploy(&mut core, &["web-03"]);
    assert_eq!(spawned_on(&fx), vec![("web-03".to_string(), 1)]);

    // The cut run may still be ending on exec-a until its guard notices (35 s here): its
    // server takes no other run before then, on any node, and says why it waits.
    let fx = deploy(&mut core, &[on_a.server.as_str()]);
    assert!(spawned_on(&fx).is_empty(), "{:?}", spawned_on(&fx));
    let snapshot = core.snapshot(t0());
    let waiting = snapshot.queue.iter().next().expect("queued");
    assert!(
        matches!(
            snapshot.wait_of(waiting),
            Wait::HostBusy {
                action: Action::Deploy,
                ..
            }
        ),
        "{:?}",
        snapshot.wait_of(waiting)
    );
    assert!(!core.is_idle(), "it will go by itself");
    let fx = core.update(Input::Wake, secs(34));
    assert!(spawned_on(&fx).is_empty());
    let fx = core.update(Input::Wake, secs(36));
    assert_eq!(
        spawned_on(&fx).len(),
        1,
        "once the node has surely ended it"
    );
}
